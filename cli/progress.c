#include "cli/progress.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_INTERVAL 0.1 /* seconds: at most ten redraws a second */
#define LABEL_MAX       24  /* columns of a layer's name; longer names keep their end */
#define RATE_WINDOW     2.0 /* seconds of samples the rate is taken over */
#define RATE_SAMPLES    16  /* one every RATE_WINDOW / RATE_SAMPLES seconds at most */

struct rate_sample {
    double t;
    uint64_t bytes;
};

struct layer_line {
    char *label;
    uint64_t size;
    ecrup_phase phase;
    uint64_t sent;         /* bytes on the wire (ecrup_progress.bytes_sent): what is shown */
    uint64_t resumed_from; /* an earlier run's upload continued from this byte; 0: none */
    /* The last RATE_WINDOW seconds of `sent`, oldest first at `first`: the rate is the link's
     * now, not the average since the start. */
    struct rate_sample samples[RATE_SAMPLES];
    unsigned first, count;
    enum progress_final final;
    char *reason;
};

struct progress_view {
    pthread_mutex_t lock; /* guards everything below and every write to `tty` */
    FILE *tty;            /* borrowed; NULL: no block */
    struct layer_line *lines;
    size_t n;
    int label_width;
    int drawn;        /* lines of the block on screen, the cursor is just below them */
    double last_draw; /* monotonic seconds; 0: never */
    bool interrupted;
    struct ebuf frame; /* reused for every redraw */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Terminal size; a conventional 80x24 when the stream is not a terminal. */
static void term_size(FILE *f, int *cols, int *rows)
{
    struct winsize ws;
    *cols = 80;
    *rows = 24;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    }
}

/* Columns taken by UTF-8 text: one per code point (continuation bytes take none). */
static int utf8_cols(const char *s, size_t len)
{
    int c = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

/* Byte length of the first `cols` columns of `s`. */
static size_t utf8_prefix(const char *s, size_t len, int cols)
{
    size_t i = 0;
    int c = 0;
    while (i < len) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (c == cols)
                break;
            c++;
        }
        i++;
    }
    return i;
}

void progress_format_bytes(char *out, size_t out_size, uint64_t bytes)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1000.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(out, out_size, "%lluB", (unsigned long long)bytes);
    else if (v < 10.0)
        snprintf(out, out_size, "%.2f%s", v, units[u]);
    else if (v < 100.0)
        snprintf(out, out_size, "%.1f%s", v, units[u]);
    else
        snprintf(out, out_size, "%.0f%s", v, units[u]);
}

static void append_bar(struct ebuf *b, uint64_t done, uint64_t total, int width)
{
    int filled =
        total ? (int)((double)width * (double)(done > total ? total : done) / (double)total) : 0;
    ebuf_putc(b, '[');
    for (int i = 0; i < width; i++)
        ebuf_putc(b, i < filled ? '=' : i == filled ? '>' : ' ');
    ebuf_putc(b, ']');
}

void progress_format_line(struct ebuf *b, const char *label, int label_width, ecrup_phase phase,
                          enum progress_final final, const char *reason, uint64_t done,
                          uint64_t total, uint64_t resumed_from, double rate, int cols)
{
    size_t start = b->len;
    ebuf_printf(b, "%s:", label);
    for (int pad = utf8_cols(label, strlen(label)); pad < label_width; pad++)
        ebuf_putc(b, ' ');
    ebuf_putc(b, ' ');
    char d[16], t[16], r[16];
    switch (final) {
    case PROGRESS_PUSHED:
        ebuf_puts(b, "Pushed");
        break;
    case PROGRESS_EXISTS:
        ebuf_puts(b, "Layer already exists");
        break;
    case PROGRESS_FAILED:
        /* the reason comes from the result record once the run is over */
        ebuf_printf(b, "Failed%s%s", reason ? ": " : "", reason ? reason : "");
        break;
    case PROGRESS_NONE:
        switch (phase) {
        case ECRUP_PHASE_WAITING:
            ebuf_puts(b, "Waiting");
            break;
        case ECRUP_PHASE_HASHING:
            ebuf_puts(b, "Hashing");
            break;
        case ECRUP_PHASE_CHECKING:
            ebuf_puts(b, "Checking");
            break;
        case ECRUP_PHASE_PUSHING: {
            progress_format_bytes(d, sizeof d, done);
            progress_format_bytes(t, sizeof t, total);
            char tail[64];
            if (!total) /* a stream: its size is known at its end */
                snprintf(t, sizeof t, "?");
            if (rate > 0) {
                progress_format_bytes(r, sizeof r, (uint64_t)rate);
                /* "310MB" -> "310 MB/s": a rate reads better with a space */
                size_t k = strcspn(r, "kMGTB");
                snprintf(tail, sizeof tail, " %s/%s  %.*s %s/s", d, t, (int)k, r, r + k);
            } else {
                snprintf(tail, sizeof tail, " %s/%s", d, t);
            }
            /* "Resuming at 90MB": the upload an earlier run left goes on from there. */
            char verb[48] = "Pushing ";
            if (resumed_from) {
                char at[16];
                progress_format_bytes(at, sizeof at, resumed_from);
                snprintf(verb, sizeof verb, "Resuming at %s ", at);
            }
            int used = utf8_cols(b->data + start, b->len - start) + (int)strlen(verb) +
                       (int)strlen(tail) + 2;
            int width = cols - 1 - used;
            if (width > 50)
                width = 50;
            ebuf_puts(b, verb);
            if (width >= 10 && total)
                append_bar(b, done, total, width);
            ebuf_puts(b, tail);
            break;
        }
        case ECRUP_PHASE_COMPLETING:
            ebuf_puts(b, "Completing");
            break;
        case ECRUP_PHASE_DONE:
            ebuf_puts(b, "Done");
            break;
        }
        break;
    }
    /* Never wrap: a wrapped line would break the cursor arithmetic of the redraw. */
    if (cols > 1) {
        size_t keep = utf8_prefix(b->data + start, b->len - start, cols - 1);
        b->len = start + keep;
        b->data[b->len] = '\0';
    }
}

struct progress_view *progress_view_new(FILE *tty, size_t n)
{
    struct progress_view *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->lines = calloc(n ? n : 1, sizeof *v->lines);
    if (!v->lines) {
        free(v);
        return NULL;
    }
    pthread_mutex_init(&v->lock, NULL);
    v->tty = tty;
    v->n = n;
    ebuf_init(&v->frame);
    return v;
}

void progress_view_free(struct progress_view *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        free(v->lines[i].label);
        free(v->lines[i].reason);
    }
    free(v->lines);
    ebuf_free(&v->frame);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

bool progress_view_add(struct progress_view *v, size_t n)
{
    if (!v || n <= v->n)
        return v != NULL;
    pthread_mutex_lock(&v->lock);
    struct layer_line *lines = realloc(v->lines, n * sizeof *lines);
    if (lines) {
        memset(lines + v->n, 0, (n - v->n) * sizeof *lines);
        v->lines = lines;
        v->n = n;
    }
    pthread_mutex_unlock(&v->lock);
    return lines != NULL;
}

void progress_view_set_layer(struct progress_view *v, size_t i, const char *label, uint64_t size)
{
    if (!v || i >= v->n)
        return;
    struct layer_line *l = &v->lines[i];
    size_t len = strlen(label);
    int cols = utf8_cols(label, len);
    if (cols > LABEL_MAX) {
        /* keep the end: that is where names differ ("...layer-0017.tar.gz") */
        size_t skip = utf8_prefix(label, len, cols - (LABEL_MAX - 3));
        size_t rest = len - skip;
        free(l->label);
        l->label = malloc(3 + rest + 1);
        if (l->label) {
            memcpy(l->label, "...", 3);
            memcpy(l->label + 3, label + skip, rest + 1);
        }
        cols = LABEL_MAX;
    } else {
        free(l->label);
        l->label = strdup(label);
    }
    if (cols > v->label_width)
        v->label_width = cols;
    l->size = size;
}

/* Bytes per second over the window's samples; 0 until they span a fifth of a second. The
 * last sample stands until `now`: a stalled link's rate falls as the window passes it. */
static double line_rate(const struct layer_line *l, double now)
{
    if (l->count < 2 || l->phase != ECRUP_PHASE_PUSHING || l->final != PROGRESS_NONE)
        return 0;
    const struct rate_sample *a = &l->samples[l->first];
    const struct rate_sample *z = &l->samples[(l->first + l->count - 1) % RATE_SAMPLES];
    double dt = (now - z->t > RATE_WINDOW / RATE_SAMPLES ? now : z->t) - a->t;
    if (dt < 0.2 || z->bytes <= a->bytes)
        return 0;
    return (double)(z->bytes - a->bytes) / dt;
}

/* Add a sample of `sent`; a count that went back (a part sent again) starts the window
 * over, so the rate never counts bytes twice. */
static void rate_add(struct layer_line *l, double now, uint64_t sent)
{
    if (l->count && sent < l->samples[(l->first + l->count - 1) % RATE_SAMPLES].bytes)
        l->count = 0;
    if (!l->count)
        l->first = 0;
    while (l->count && now - l->samples[l->first].t > RATE_WINDOW) {
        l->first = (l->first + 1) % RATE_SAMPLES;
        l->count--;
    }
    struct rate_sample *last =
        l->count ? &l->samples[(l->first + l->count - 1) % RATE_SAMPLES] : NULL;
    if (last && l->count > 1 && now - last->t < RATE_WINDOW / RATE_SAMPLES) {
        *last = (struct rate_sample){now, sent}; /* too close to the one before: replace it */
        return;
    }
    if (l->count == RATE_SAMPLES) {
        l->first = (l->first + 1) % RATE_SAMPLES;
        l->count--;
    }
    l->samples[(l->first + l->count) % RATE_SAMPLES] = (struct rate_sample){now, sent};
    l->count++;
}

/* Build the block into v->frame and write it; v->lock held. */
static void draw_locked(struct progress_view *v, double now)
{
    if (!v->tty)
        return;
    int cols, rows;
    term_size(v->tty, &cols, &rows);
    struct ebuf *b = &v->frame;
    ebuf_reset(b);
    if (v->drawn > 0)
        ebuf_printf(b, "\033[%dA", v->drawn);
    int lines = 0;
    size_t wanted = v->n + (v->interrupted ? 1 : 0);
    if (wanted + 1 < (size_t)rows) {
        for (size_t i = 0; i < v->n; i++) {
            const struct layer_line *l = &v->lines[i];
            ebuf_puts(b, "\r\033[2K");
            progress_format_line(b, l->label ? l->label : "?", v->label_width, l->phase, l->final,
                                 l->reason, l->sent, l->size, l->resumed_from, line_rate(l, now),
                                 cols);
            ebuf_putc(b, '\n');
            lines++;
        }
    } else {
        /* More layers than the screen holds: one line for them all. */
        uint64_t done = 0, total = 0;
        size_t finished = 0, failed = 0, pushing = 0;
        double rate = 0;
        for (size_t i = 0; i < v->n; i++) {
            const struct layer_line *l = &v->lines[i];
            total += l->size;
            done += l->final == PROGRESS_EXISTS ? l->size : l->sent;
            finished += l->final != PROGRESS_NONE || l->phase == ECRUP_PHASE_DONE;
            failed += l->final == PROGRESS_FAILED;
            if (l->phase == ECRUP_PHASE_PUSHING && l->final == PROGRESS_NONE) {
                pushing++;
                rate += line_rate(l, now);
            }
        }
        char label[64];
        snprintf(label, sizeof label, "%zu layers (%zu done, %zu failed)", v->n, finished, failed);
        ebuf_puts(b, "\r\033[2K");
        progress_format_line(b, label, 0, pushing ? ECRUP_PHASE_PUSHING : ECRUP_PHASE_WAITING,
                             PROGRESS_NONE, NULL, done, total, 0, rate, cols);
        ebuf_putc(b, '\n');
        lines++;
    }
    if (v->interrupted) {
        ebuf_puts(b, "\r\033[2KInterrupted: stopping (Ctrl-C again to quit at once)\n");
        lines++;
    }
    /* Clear whatever a previous, taller block left below. */
    ebuf_puts(b, "\033[J");
    fwrite(b->data, 1, b->len, v->tty);
    fflush(v->tty);
    v->drawn = lines;
    v->last_draw = now;
}

void progress_view_event(struct progress_view *v, size_t i, const struct ecrup_progress *ev)
{
    if (!v || i >= v->n)
        return;
    double now = now_s();
    pthread_mutex_lock(&v->lock);
    struct layer_line *l = &v->lines[i];
    uint64_t sent = ev->bytes_sent > ev->bytes_done ? ev->bytes_sent : ev->bytes_done;
    if (ev->phase == ECRUP_PHASE_PUSHING && l->phase != ECRUP_PHASE_PUSHING)
        l->count = 0;
    if (ev->phase == ECRUP_PHASE_PUSHING)
        rate_add(l, now, sent);
    l->phase = ev->phase;
    l->sent = sent;
    l->resumed_from = ev->resumed_from;
    if (ev->bytes_total)
        l->size = ev->bytes_total;
    /* The final word at once, so the line never says "Done" and then "Pushed". */
    if (ev->phase == ECRUP_PHASE_DONE && l->final == PROGRESS_NONE)
        l->final = ev->outcome == ECRUP_OUTCOME_UPLOADED ? PROGRESS_PUSHED
                   : ev->outcome == ECRUP_OUTCOME_EXISTS ? PROGRESS_EXISTS
                   : ev->outcome == ECRUP_OUTCOME_FAILED ? PROGRESS_FAILED
                                                         : PROGRESS_NONE;
    if (l->final == PROGRESS_PUSHED)
        l->sent = l->size;
    if (now - v->last_draw >= REDRAW_INTERVAL)
        draw_locked(v, now);
    pthread_mutex_unlock(&v->lock);
}

void progress_view_print(struct progress_view *v, FILE *f, const char *text)
{
    if (!v) {
        fputs(text, f);
        fflush(f);
        return;
    }
    pthread_mutex_lock(&v->lock);
    if (v->tty && v->drawn > 0) {
        /* Wipe the block, print the line where it was, draw the block again below. */
        fprintf(v->tty, "\033[%dA\r\033[J", v->drawn);
        fflush(v->tty);
        v->drawn = 0;
    }
    fputs(text, f);
    fflush(f);
    if (v->tty && v->last_draw > 0)
        draw_locked(v, now_s());
    pthread_mutex_unlock(&v->lock);
}

void progress_view_final(struct progress_view *v, size_t i, enum progress_final final,
                         const char *reason)
{
    if (!v || i >= v->n)
        return;
    pthread_mutex_lock(&v->lock);
    struct layer_line *l = &v->lines[i];
    l->final = final;
    free(l->reason);
    l->reason = reason ? strdup(reason) : NULL;
    if (final == PROGRESS_PUSHED)
        l->sent = l->size;
    pthread_mutex_unlock(&v->lock);
}

void progress_view_interrupted(struct progress_view *v, bool on)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->lock);
    v->interrupted = on;
    pthread_mutex_unlock(&v->lock);
}

void progress_view_draw(struct progress_view *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->lock);
    draw_locked(v, now_s());
    pthread_mutex_unlock(&v->lock);
}
