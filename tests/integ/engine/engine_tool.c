/* Drives libecrup through its public header only, for test_engine.py: queues the files given,
 * runs the engine, and prints one JSON line per result record, then a summary line with the
 * run's status, progress-callback checks and the peak RSS.
 *
 *   engine_tool --endpoint URL --repository NAME [--region R] [--no-check] [--check-first]
 *               [--part-size N] [--memory-limit N] [--concurrency N]
 *               [--cancel-after-bytes N] [--verbose] [--run-each]
 *               [--stream-chunk N] [--stream-fail-at N]
 *               [stream:]FILE[@OFFSET+LENGTH][=sha256:HEX]...
 *
 * stream:FILE is a stream layer (ecrup_layer.read): FILE read forward through the callback, in
 * pieces of 1 to --stream-chunk bytes (default 65536, drawn at random, so the engine sees
 * short reads), failing with EIO once --stream-fail-at bytes were handed over; its result line
 * says how many bytes the callback handed over ("read"). --run-each runs the engine once per
 * layer, each added after the previous run (ecrup_engine_run() called again), and prints every
 * result record at the end.
 *
 * FILE@OFFSET+LENGTH is the byte range of FILE that starts OFFSET bytes in and is LENGTH bytes
 * long (ecrup_layer.offset and .length, decimal); LENGTH 0 runs to the end of the file. The
 * last '@' followed by a digit starts the range; other paths are taken as they are.
 *
 * Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). */
#include <ecrup.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_LAYERS 256

/* A stream layer's source: a file read forward in pieces of random size. */
struct stream_src {
    int fd;
    unsigned seed;
    uint64_t handed; /* bytes returned so far */
};
static size_t stream_chunk = 65536;
static uint64_t stream_fail_at = UINT64_MAX;

static ptrdiff_t stream_read(void *user, void *buf, size_t len)
{
    struct stream_src *src = user;
    if (src->handed >= stream_fail_at)
        return -EIO;
    size_t n = 1 + (size_t)rand_r(&src->seed) % stream_chunk;
    if (n > len)
        n = len;
    if (stream_fail_at - src->handed < n)
        n = (size_t)(stream_fail_at - src->handed);
    ssize_t got;
    do
        got = read(src->fd, buf, n);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return -errno;
    src->handed += (uint64_t)got;
    return got;
}

static atomic_int in_progress;        /* re-entrancy detector */
static atomic_uint progress_overlaps; /* callbacks that ran concurrently */
static atomic_uint progress_events;
static atomic_uint progress_backwards; /* bytes_done decreased for a layer */
/* bytes_sent: below bytes_done (never allowed); below the layer's previous bytes_done, so
 * falling back by more than the part sent again (allowed only after a restart or a resume);
 * ahead of bytes_done (a part counted while on the wire) */
static atomic_uint sent_below_done, sent_back_past_done, sent_ahead;
static _Atomic uint64_t acked_total;
static uint64_t last_bytes[MAX_LAYERS];
static unsigned phases_seen;

static void on_progress(const struct ecrup_progress *ev, void *user)
{
    (void)user;
    if (atomic_fetch_add(&in_progress, 1) != 0)
        atomic_fetch_add(&progress_overlaps, 1);
    atomic_fetch_add(&progress_events, 1);
    phases_seen |= 1u << ev->phase;
    if (ev->bytes_sent < ev->bytes_done)
        atomic_fetch_add(&sent_below_done, 1);
    if (ev->bytes_sent > ev->bytes_done)
        atomic_fetch_add(&sent_ahead, 1);
    if (ev->layer_id < MAX_LAYERS) {
        if (ev->bytes_done < last_bytes[ev->layer_id] && ev->phase == ECRUP_PHASE_PUSHING)
            atomic_fetch_add(&progress_backwards, 1);
        if (ev->bytes_sent < last_bytes[ev->layer_id] && ev->phase == ECRUP_PHASE_PUSHING)
            atomic_fetch_add(&sent_back_past_done, 1);
        if (ev->bytes_done > last_bytes[ev->layer_id])
            atomic_fetch_add(&acked_total, ev->bytes_done - last_bytes[ev->layer_id]);
        last_bytes[ev->layer_id] = ev->bytes_done;
    }
    atomic_fetch_sub(&in_progress, 1);
}

static bool verbose;
static atomic_uint log_resumes, log_restarts, log_rehashes, log_secrets;

/* Counts the recoveries the engine logs, so the test knows which paths a run took. */
static void on_log(ecrup_log_level level, const char *line, void *user)
{
    (void)user;
    if (strstr(line, "resuming at byte"))
        atomic_fetch_add(&log_resumes, 1);
    if (strstr(line, "starting the upload over"))
        atomic_fetch_add(&log_restarts, 1);
    if (strstr(line, "hashing again"))
        atomic_fetch_add(&log_rehashes, 1);
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (secret && *secret && strstr(line, secret))
        atomic_fetch_add(&log_secrets, 1);
    if (verbose)
        fprintf(stderr, "[%d] %s\n", (int)level, line);
}

struct canceller {
    struct ecrup_engine *engine;
    uint64_t after;
    atomic_bool stop;
};

static void *cancel_main(void *arg)
{
    struct canceller *c = arg;
    while (!atomic_load(&c->stop)) {
        if (atomic_load(&acked_total) >= c->after) {
            ecrup_engine_cancel(c->engine);
            break;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void json_str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* Split a trailing "@OFFSET+LENGTH" off `p` (in place) into the layer's range. False when an
 * '@' is followed by digits but the rest is malformed. */
static bool parse_range(char *p, struct ecrup_layer *layer)
{
    char *at = strrchr(p, '@');
    if (!at || at[1] < '0' || at[1] > '9')
        return true; /* a plain path */
    char *end;
    errno = 0;
    unsigned long long off = strtoull(at + 1, &end, 10);
    if (errno || *end != '+' || end[1] < '0' || end[1] > '9')
        return false;
    unsigned long long len = strtoull(end + 1, &end, 10);
    if (errno || *end)
        return false;
    *at = '\0';
    layer->offset = off;
    layer->length = len;
    return true;
}

int main(int argc, char **argv)
{
    struct ecrup_options o;
    ecrup_options_init(&o);
    o.region = "us-east-1";
    const char *repository = NULL;
    uint64_t cancel_after = 0;
    bool cancel = false;
    struct ecrup_layer layers[MAX_LAYERS];
    static struct stream_src streams[MAX_LAYERS];
    bool run_each = false;
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--endpoint") && v)
            o.endpoint_url = argv[++i];
        else if (!strcmp(a, "--repository") && v)
            repository = argv[++i];
        else if (!strcmp(a, "--region") && v)
            o.region = argv[++i];
        else if (!strcmp(a, "--no-check"))
            o.no_check = 1;
        else if (!strcmp(a, "--check-first"))
            o.check_first = 1;
        else if (!strcmp(a, "--part-size") && v)
            o.part_size = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--memory-limit") && v)
            o.memory_limit = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--concurrency") && v)
            o.concurrency = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--cancel-after-bytes") && v) {
            cancel_after = strtoull(argv[++i], NULL, 10);
            cancel = true;
        } else if (!strcmp(a, "--verbose")) {
            verbose = true;
        } else if (!strcmp(a, "--run-each")) {
            run_each = true;
        } else if (!strcmp(a, "--stream-chunk") && v) {
            stream_chunk = strtoull(argv[++i], NULL, 10);
            if (!stream_chunk)
                stream_chunk = 1;
        } else if (!strcmp(a, "--stream-fail-at") && v) {
            stream_fail_at = strtoull(argv[++i], NULL, 10);
        } else if (a[0] == '-') {
            fprintf(stderr, "engine_tool: unknown option %s\n", a);
            return 2;
        } else if (n < MAX_LAYERS) {
            char *p = strdup(a);
            char *eq = strstr(p, "=sha256:");
            if (eq)
                *eq = '\0';
            layers[n] = (struct ecrup_layer){.path = p, .digest = eq ? eq + 1 : NULL};
            streams[n].fd = -1;
            if (!strncmp(p, "stream:", 7)) {
                streams[n].fd = open(p + 7, O_RDONLY | O_CLOEXEC);
                streams[n].seed = (unsigned)n * 7919u + 1u;
                if (streams[n].fd < 0) {
                    fprintf(stderr, "engine_tool: %s: %s\n", p + 7, strerror(errno));
                    return 2;
                }
                layers[n].read = stream_read;
                layers[n].read_user = &streams[n];
            } else if (!parse_range(p, &layers[n])) {
                fprintf(stderr, "engine_tool: bad range in %s (want FILE@OFFSET+LENGTH)\n", a);
                return 2;
            }
            n++;
        }
    }
    if (!repository) {
        fprintf(stderr, "engine_tool: --repository is required\n");
        return 2;
    }
    o.progress = on_progress;
    o.log = on_log;
    o.log_level = ECRUP_LOG_DEBUG;
    if (ecrup_global_init() != ECRUP_OK)
        return 1;
    struct ecrup_error err;
    struct ecrup_engine *engine = NULL;
    ecrup_status st = ecrup_engine_new(&o, &engine, &err);
    if (st != ECRUP_OK) {
        printf("{\"error\":");
        json_str(err.message);
        printf(",\"status\":%d}\n", (int)st);
        return 1;
    }
    size_t added = 0;
    for (size_t i = 0; i < n && (!run_each || i < 1); i++, added++) {
        layers[i].repository = repository;
        uint64_t id;
        if (ecrup_engine_add_layer(engine, &layers[i], &id) != ECRUP_OK || id != i) {
            fprintf(stderr, "engine_tool: add_layer failed\n");
            return 1;
        }
    }
    struct canceller c = {.engine = engine, .after = cancel_after};
    atomic_init(&c.stop, false);
    pthread_t th;
    if (cancel)
        pthread_create(&th, NULL, cancel_main, &c);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = ecrup_engine_run(engine);
    /* --run-each: the rest one by one, each in a run of its own on the same engine; the
     * first failure is the status, as a single run reports it */
    for (; added < n; added++) {
        layers[added].repository = repository;
        uint64_t id;
        if (ecrup_engine_add_layer(engine, &layers[added], &id) != ECRUP_OK || id != added) {
            fprintf(stderr, "engine_tool: add_layer after a run failed\n");
            return 1;
        }
        ecrup_status rst = ecrup_engine_run(engine);
        if (st == ECRUP_OK)
            st = rst;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (cancel) {
        atomic_store(&c.stop, true);
        pthread_join(th, NULL);
    }
    static const char *outcomes[] = {"PENDING", "UPLOADED", "EXISTS", "FAILED"};
    for (size_t i = 0; i < ecrup_engine_result_count(engine); i++) {
        const struct ecrup_result *r = ecrup_engine_result(engine, i);
        printf("{\"path\":");
        json_str(r->path);
        printf(",\"digest\":");
        json_str(r->digest);
        printf(",\"size\":%llu,\"outcome\":\"%s\",\"status\":%d,\"parts\":%u,\"attempts\":%u,"
               "\"requests\":%u,\"retries\":%u,\"http_status\":%ld,\"exception\":",
               (unsigned long long)r->size, outcomes[r->outcome & 3], (int)r->status, r->parts,
               r->attempts, r->requests, r->retries, r->http_status);
        json_str(r->exception);
        printf(",\"message\":");
        json_str(r->message);
        if (i < n && streams[i].fd >= 0)
            printf(",\"read\":%llu", (unsigned long long)streams[i].handed);
        printf("}\n");
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("{\"summary\":true,\"status\":%d,\"seconds\":%.3f,\"maxrss_kb\":%ld,"
           "\"progress_events\":%u,\"progress_overlaps\":%u,\"progress_backwards\":%u,"
           "\"phases_seen\":%u,\"resumes\":%u,\"restarts\":%u,\"rehashes\":%u,"
           "\"secrets_logged\":%u,\"sent_below_done\":%u,\"sent_back_past_done\":%u,"
           "\"sent_ahead\":%u}\n",
           (int)st, secs, ru.ru_maxrss, atomic_load(&progress_events),
           atomic_load(&progress_overlaps), atomic_load(&progress_backwards), phases_seen,
           atomic_load(&log_resumes), atomic_load(&log_restarts), atomic_load(&log_rehashes),
           atomic_load(&log_secrets), atomic_load(&sent_below_done),
           atomic_load(&sent_back_past_done), atomic_load(&sent_ahead));
    ecrup_engine_free(engine);
    ecrup_global_cleanup();
    for (size_t i = 0; i < n; i++) {
        free((void *)(uintptr_t)layers[i].path);
        if (streams[i].fd >= 0)
            close(streams[i].fd);
    }
    return st == ECRUP_OK ? 0 : 3;
}
