/* The output of an upload run and its exit status, from the outcomes the engine reported.
 * See cli/upload_output.h. */
#include "cli/upload_output.h"

#include "cli/progress.h"
#include "util/redact.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int upload_terminal_columns(FILE *f)
{
    struct winsize ws;
    if (!isatty(fileno(f)) || ioctl(fileno(f), TIOCGWINSZ, &ws) != 0)
        return 0;
    return ws.ws_col;
}

void upload_print_fitted(FILE *f, const char *text)
{
    int cols = upload_terminal_columns(f);
    if (cols < 20) {
        fputs(text, f);
        return;
    }
    /* Each line cut at its last space before the last column, the rest indented: the terminal
     * never wraps it mid-word, and a digest stays whole on one line. */
    size_t width = (size_t)cols - 1;
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        const char *p = line;
        size_t indent = 0, lead = strspn(line, " ");
        if (lead > width / 2)
            lead = 0;
        while (len + indent > width) {
            size_t room = width - indent, cut = room;
            while (cut > lead && p[cut] != ' ')
                cut--; /* never at the line's own leading spaces */
            if (cut <= lead)
                cut = room; /* one word wider than the line: cut it */
            fprintf(f, "%*s%.*s\n", (int)indent, "", (int)cut, p);
            p += cut;
            len -= cut;
            while (len && *p == ' ') {
                p++;
                len--;
            }
            indent = (indent ? indent - 2 : lead) + 2; /* the line's own indent, and two more */
            lead = 0;
        }
        fprintf(f, "%*s%.*s\n", (int)indent, "", (int)len, p);
        line = p + len + (p[len] == '\n');
    }
}

/* printf, then upload_print_fitted. */
static void print_fitted(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void print_fitted(FILE *f, const char *fmt, ...)
{
    struct ebuf b = EBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ebuf_vprintf(&b, fmt, ap);
    va_end(ap);
    upload_print_fitted(f, ebuf_ok(&b) ? ebuf_str(&b) : "(out of memory)\n");
    ebuf_free(&b);
}

void upload_outcome_from_result(struct upload_outcome *o, const struct upload_item *f,
                                const struct ecrup_result *r)
{
    memset(o, 0, sizeof *o);
    o->file = f->name;
    o->size = f->size;
    o->digest = f->digest;
    o->outcome = ECRUP_OUTCOME_FAILED;
    o->error = "InternalError";
    o->message = "the engine returned no result for this layer";
    if (!r)
        return;
    if (r->digest)
        o->digest = r->digest;
    if (r->size)
        o->size = r->size;
    o->parts = r->parts;
    o->attempts = r->attempts;
    o->requests = r->requests;
    o->retries = r->retries;
    o->resumed_from = r->resumed_from;
    o->outcome = r->outcome == ECRUP_OUTCOME_PENDING ? ECRUP_OUTCOME_FAILED : r->outcome;
    if (o->outcome == ECRUP_OUTCOME_FAILED) {
        o->error = r->exception && *r->exception ? r->exception : ecrup_status_name(r->status);
        o->message = r->message && *r->message ? r->message : ecrup_strerror(r->status);
        if (r->outcome == ECRUP_OUTCOME_PENDING)
            o->message = "the layer did not finish";
    } else {
        o->error = o->message = NULL;
    }
}

void upload_tally_add(struct upload_tally *t, const struct upload_outcome *o)
{
    if (o->outcome == ECRUP_OUTCOME_UPLOADED) {
        t->pushed++;
        t->bytes += o->size;
    } else if (o->outcome == ECRUP_OUTCOME_EXISTS) {
        t->existed++;
    } else {
        t->failed++;
    }
}

const char *upload_redacted(struct ebuf *b, const char *s)
{
    ebuf_reset(b);
    redact_puts(b, s ? s : "");
    return ebuf_ok(b) ? ebuf_str(b) : REDACT_MASK;
}

void upload_json_line(const char *cmd, cJSON *j, const char *what)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        cli_error(cmd, "out of memory printing the result of %s", what);
        return;
    }
    printf("%s\n", text);
    fflush(stdout);
    cJSON_free(text);
}

static void print_json_line(const char *cmd, const struct upload_outcome *o)
{
    cJSON *j = cJSON_CreateObject();
    char num[24];
    struct ebuf msg = EBUF_INIT;
    bool ok = j && cJSON_AddStringToObject(j, "file", o->file) != NULL;
    ok = ok && (o->digest ? cJSON_AddStringToObject(j, "digest", o->digest)
                          : cJSON_AddNullToObject(j, "digest")) != NULL;
    snprintf(num, sizeof num, "%" PRIu64, o->size);
    ok = ok && cJSON_AddRawToObject(j, "size", num) != NULL;
    const char *status = o->outcome == ECRUP_OUTCOME_UPLOADED ? "uploaded"
                         : o->outcome == ECRUP_OUTCOME_EXISTS ? "exists"
                                                              : "failed";
    ok = ok && cJSON_AddStringToObject(j, "status", status) != NULL;
    snprintf(num, sizeof num, "%u", o->parts);
    ok = ok && cJSON_AddRawToObject(j, "parts", num) != NULL;
    snprintf(num, sizeof num, "%u", o->attempts);
    ok = ok && cJSON_AddRawToObject(j, "attempts", num) != NULL;
    snprintf(num, sizeof num, "%" PRIu64, o->resumed_from);
    ok = ok && cJSON_AddRawToObject(j, "resumed_from", num) != NULL;
    snprintf(num, sizeof num, "%u", o->requests);
    ok = ok && cJSON_AddRawToObject(j, "requests", num) != NULL;
    snprintf(num, sizeof num, "%u", o->retries);
    ok = ok && cJSON_AddRawToObject(j, "retries", num) != NULL;
    if (o->outcome == ECRUP_OUTCOME_FAILED) {
        ok = ok && cJSON_AddStringToObject(j, "error", o->error) != NULL;
        ok = ok && cJSON_AddStringToObject(j, "message", upload_redacted(&msg, o->message)) != NULL;
    }
    ebuf_free(&msg);
    if (!ok) {
        cJSON_Delete(j);
        j = NULL;
    }
    upload_json_line(cmd, j, o->file);
}

const char *upload_failure_text(struct ebuf *b, const char *error, const char *message)
{
    ebuf_reset(b);
    if (error && *error && !(message && strstr(message, error)))
        ebuf_printf(b, "%s: ", error);
    redact_puts(b, message ? message : "");
    return ebuf_ok(b) ? ebuf_str(b) : REDACT_MASK;
}

bool upload_outcome_no_repository(const struct upload_outcome *o)
{
    return o->outcome == ECRUP_OUTCOME_FAILED && o->error &&
           !strcmp(o->error, "RepositoryNotFoundException");
}

/* Plain lines: successes on `out`, failures on stderr. */
static void print_plain_line(FILE *out, const struct upload_outcome *o)
{
    struct ebuf msg = EBUF_INIT, line = EBUF_INIT;
    FILE *f = o->outcome == ECRUP_OUTCOME_FAILED ? stderr : out;
    switch (o->outcome) {
    case ECRUP_OUTCOME_UPLOADED:
        ebuf_printf(&line, "%s: pushed %s (%" PRIu64 " bytes, %u part%s, %u request%s", o->file,
                    o->digest ? o->digest : "-", o->size, o->parts, o->parts == 1 ? "" : "s",
                    o->requests, o->requests == 1 ? "" : "s");
        if (o->retries)
            ebuf_printf(&line, ", %u retr%s", o->retries, o->retries == 1 ? "y" : "ies");
        if (o->resumed_from)
            ebuf_printf(&line, ", resumed at byte %" PRIu64, o->resumed_from);
        ebuf_puts(&line, ")\n");
        break;
    case ECRUP_OUTCOME_EXISTS:
        ebuf_printf(&line, "%s: already exists %s (%" PRIu64 " bytes)\n", o->file,
                    o->digest ? o->digest : "-", o->size);
        break;
    default:
        fflush(out);
        ebuf_printf(&line, "%s: failed: %s\n", o->file,
                    upload_failure_text(&msg, o->error, o->message));
        break;
    }
    upload_print_fitted(f, ebuf_ok(&line) ? ebuf_str(&line) : "(out of memory)\n");
    ebuf_free(&line);
    ebuf_free(&msg);
}

/* One message for every blob that failed because the repository does not exist. */
static void print_no_repository(const struct upload_settings *s, const char *cmd,
                                const struct upload_outcome *outs, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += upload_outcome_no_repository(&outs[i]);
    if (!k)
        return;
    fflush(stdout);
    print_fitted(stderr,
                 "ecrup %s: RepositoryNotFoundException: the repository '%s' does not exist%s%s; "
                 "%zu blob%s not pushed\n",
                 cmd, s->repository, s->registry_id ? " in registry " : "",
                 s->registry_id ? s->registry_id : "", k, k == 1 ? "" : "s");
    if (s->create_repository) {
        fprintf(stderr, "  (--create-repository could not create it: see above)\n");
        return;
    }
    print_fitted(stderr,
                 "  create it with 'aws ecr create-repository --repository-name %s%s%s', or run "
                 "again with --create-repository\n",
                 s->repository, s->registry_id ? " --registry-id " : "",
                 s->registry_id ? s->registry_id : "");
}

int upload_report_not_run(const struct upload_settings *s, const char *cmd,
                          const struct upload_item *items, size_t n, ecrup_status st,
                          const char *message, struct upload_outcome *outs)
{
    struct ebuf m = EBUF_INIT;
    cli_error(cmd, "%s", upload_redacted(&m, message));
    ebuf_free(&m);
    for (size_t i = 0; i < n; i++) {
        outs[i] = (struct upload_outcome){.file = items[i].name,
                                          .digest = items[i].digest,
                                          .size = items[i].size,
                                          .outcome = ECRUP_OUTCOME_FAILED,
                                          .error = ecrup_status_name(st),
                                          .message = message};
        if (s->json)
            print_json_line(cmd, &outs[i]);
    }
    return CLI_EXIT_FAILED;
}

void upload_print_results(const struct upload_settings *s, const char *cmd,
                          const struct upload_outcome *outs, size_t n, bool interrupted, bool terse)
{
    if (s->json) {
        for (size_t i = 0; i < n; i++)
            print_json_line(cmd, &outs[i]);
    } else {
        for (size_t i = 0; i < n; i++) {
            bool failed = outs[i].outcome == ECRUP_OUTCOME_FAILED;
            /* After Ctrl-C the report says which blobs were not pushed: once. */
            if (upload_outcome_no_repository(&outs[i]) || (failed && interrupted) ||
                (!failed && (s->common.quiet || terse)))
                continue;
            print_plain_line(stdout, &outs[i]);
        }
    }
    print_no_repository(s, cmd, outs, n);
}

static void print_summary(FILE *f, const struct upload_tally *t, double seconds, const char *what,
                          const char *tail)
{
    char b[16];
    progress_format_bytes(b, sizeof b, t->bytes);
    struct ebuf line = EBUF_INIT;
    ebuf_printf(&line, "%s%zu pushed, %zu existed, %zu failed; %s pushed in %.2f s", what,
                t->pushed, t->existed, t->failed, b, seconds);
    if (t->bytes && seconds > 0)
        ebuf_printf(&line, " (%.1f MB/s)", (double)t->bytes / seconds / 1e6);
    if (tail && *tail)
        ebuf_printf(&line, "; %s", tail);
    ebuf_putc(&line, '\n');
    upload_print_fitted(f, ebuf_ok(&line) ? ebuf_str(&line) : "(out of memory)\n");
    ebuf_free(&line);
    fflush(f);
}

static void report_interrupt(const char *cmd, const struct upload_outcome *outs, size_t n)
{
    size_t landed = 0;
    for (size_t i = 0; i < n; i++)
        landed += outs[i].outcome != ECRUP_OUTCOME_FAILED;
    print_fitted(stderr, "ecrup %s: interrupted: %zu of %zu layer%s pushed or already there%s\n",
                 cmd, landed, n, n == 1 ? "" : "s", landed ? ":" : "");
    for (size_t i = 0; i < n; i++) {
        const char *d = outs[i].digest;
        if (outs[i].outcome == ECRUP_OUTCOME_FAILED)
            continue;
        /* a blob of a layout is named by its digest already: once is enough */
        if (d && strlen(d) > 7 && strstr(outs[i].file, d + 7))
            d = NULL;
        print_fitted(stderr, "  %s %s%s%s\n",
                     outs[i].outcome == ECRUP_OUTCOME_UPLOADED ? "pushed        "
                                                               : "already there ",
                     outs[i].file, d ? " " : "", d ? d : "");
    }
    if (landed < n)
        fprintf(stderr, "not pushed (run the same command again to finish):\n");
    for (size_t i = 0; i < n; i++)
        if (outs[i].outcome == ECRUP_OUTCOME_FAILED)
            print_fitted(stderr, "  %s\n", outs[i].file); /* the heading says what they are */
}

int upload_finish(const struct upload_settings *s, const char *cmd,
                  const struct upload_outcome *outs, size_t n, const struct upload_tally *t,
                  double seconds, bool interrupted, int then_status, const char *what,
                  const char *tail)
{
    if (!s->json && !s->common.quiet)
        print_summary(stdout, t, seconds, what, tail);
    if (interrupted) {
        report_interrupt(cmd, outs, n);
        return CLI_EXIT_SIGINT;
    }
    if (t->failed || then_status != CLI_EXIT_OK)
        return CLI_EXIT_FAILED;
    return CLI_EXIT_OK;
}
