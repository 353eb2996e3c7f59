/* The upload both `ecrup upload-layer` and `ecrup push` run: options mapped onto struct
 * ecrup_options, the engine run over a list of blobs, and its results printed as DESIGN.md's
 * contract says (--json lines, a progress view on a terminal, plain lines otherwise, exit
 * status). */
#include "cli/upload.h"

#include "cli/progress.h"
#include "util/buf.h"
#include "util/ecr_name.h"
#include "util/redact.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The command running, for messages (one per process). */
static const char *cmd_name = "upload-layer";

/* Ctrl-C: the handler only touches these lock-free atomics and async-signal-safe calls. */
static atomic_int sigint_count;
static _Atomic(struct ecrup_engine *) running_engine;
static atomic_bool handler_quiet; /* true while a progress block owns the terminal */

static void say(const char *a, const char *b)
{
    static const char head[] = "\necrup ";
    ssize_t w = write(STDERR_FILENO, head, sizeof head - 1);
    w = write(STDERR_FILENO, cmd_name, strlen(cmd_name));
    w = write(STDERR_FILENO, a, strlen(a));
    if (b)
        w = write(STDERR_FILENO, b, strlen(b));
    (void)w;
}

static void on_sigint(int sig)
{
    (void)sig;
    int saved_errno = errno;
    if (atomic_fetch_add(&sigint_count, 1) > 0) {
        say(": interrupted again; quitting now\n", NULL);
        _exit(CLI_EXIT_SIGINT);
    }
    struct ecrup_engine *e = atomic_load(&running_engine);
    if (e)
        ecrup_engine_cancel(e);
    if (!atomic_load(&handler_quiet)) {
        say(": interrupted; stopping ", "(Ctrl-C again to quit at once)\n");
    }
    errno = saved_errno;
}

/* ---- command line ----------------------------------------------------------------------- */

const char upload_options_help[] =
    "  --json               print one JSON line per blob on stdout, nothing else there:\n"
    "                         {\"file\":\"...\",\"digest\":\"sha256:...\",\"size\":N,\n"
    "                          \"status\":\"uploaded\"|\"exists\",\"parts\":N,\"attempts\":N}\n"
    "                       a failure has \"status\":\"failed\" and two more keys,\n"
    "                         \"error\":\"<ECR exception or local code>\",\"message\":\"...\"\n"
    "  --no-check           upload even when the repository already has the blob\n"
    "  --check-first        hash and check a blob before sending any of it; by default a\n"
    "                       blob of unknown digest starts uploading while it is hashed\n"
    "                       (the link is not idle meanwhile) and stops once the check finds\n"
    "                       the repository has it, having sent what went out before\n"
    "  --max-rate OP=N      at most N requests per second of operation OP, for accounts\n"
    "                       whose ECR quotas differ from the defaults (repeatable; OP is\n"
    "                       UploadLayerPart 500, InitiateLayerUpload 100,\n"
    "                       CompleteLayerUpload 100 or BatchCheckLayerAvailability 1000)\n"
    "  --insecure           do not verify the endpoint's TLS certificate (a warning says so);\n"
    "                       prefer --ca-bundle for a private CA\n";

static const char *const rate_ops[] = {"UploadLayerPart", "InitiateLayerUpload",
                                       "CompleteLayerUpload", "BatchCheckLayerAvailability"};

/* "OPERATION=N" for --max-rate. */
static bool parse_max_rate(struct upload_settings *a, const char *cmd, const char *v)
{
    const char *eq = strchr(v, '=');
    char *end = NULL;
    double n = eq ? strtod(eq + 1, &end) : 0;
    for (size_t k = 0; eq && k < sizeof rate_ops / sizeof *rate_ops; k++) {
        if (strlen(rate_ops[k]) == (size_t)(eq - v) && !strncmp(v, rate_ops[k], (size_t)(eq - v))) {
            if (end == eq + 1 || *end || !(n > 0) || n > 1e6) {
                cli_error(cmd,
                          "--max-rate %s: '%s' is not a positive number of requests per "
                          "second",
                          rate_ops[k], eq + 1);
                return false;
            }
            a->rates[k] = n;
            return true;
        }
    }
    cli_error(cmd,
              "--max-rate: '%s' is not OPERATION=N with OPERATION one of UploadLayerPart, "
              "InitiateLayerUpload, CompleteLayerUpload, BatchCheckLayerAvailability",
              v);
    return false;
}

static bool valid_registry_id(const char *id)
{
    if (strlen(id) != 12)
        return false;
    for (const char *p = id; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Returns -1 when parsing went fine, else the exit status (help printed or usage error). */
int upload_option(struct upload_settings *s, const char *cmd, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--json")) {
        s->json = true;
    } else if (!strcmp(a, "--no-check")) {
        s->no_check = true;
    } else if (!strcmp(a, "--check-first")) {
        s->check_first = true;
    } else if (!strcmp(a, "--insecure")) {
        s->insecure = true;
    } else if (cli_opt_is(a, "--max-rate")) {
        const char *v = cli_take_value(cmd, argc, argv, i);
        if (!v || !parse_max_rate(s, cmd, v))
            return -1;
    } else if (cli_opt_is(a, "--repository")) {
        const char *v = cli_take_value(cmd, argc, argv, i);
        if (!v)
            return -1;
        if (!ecr_repository_name_valid(v)) {
            cli_error(cmd,
                      "--repository: '%s' is not a repository name (" ECR_REPOSITORY_NAME_RULE ")",
                      v);
            return -1;
        }
        s->repository = v;
    } else if (cli_opt_is(a, "--registry-id")) {
        const char *v = cli_take_value(cmd, argc, argv, i);
        if (!v)
            return -1;
        if (!valid_registry_id(v)) {
            cli_error(cmd, "--registry-id: '%s' is not a 12-digit AWS account id", v);
            return -1;
        }
        s->registry_id = v;
    } else {
        return cli_common_option(&s->common, cmd, argc, argv, i);
    }
    return 1;
}

bool upload_settings_check(const struct upload_settings *s, const char *cmd)
{
    if (!s->repository) {
        cli_error(cmd, "--repository NAME is required; run 'ecrup %s --help'", cmd);
        return false;
    }
    if (s->no_check && s->check_first) {
        cli_error(cmd, "--no-check and --check-first contradict each other: --no-check sends "
                       "every blob without asking, --check-first asks before sending");
        return false;
    }
    return true;
}

/* ---- output ----------------------------------------------------------------------------- */

/* What was reported of one blob. Strings borrowed (from the items or the engine). */
struct upload_outcome {
    const char *file;
    const char *digest; /* NULL: unknown */
    uint64_t size;
    ecrup_outcome outcome;
    const char *error;
    const char *message;
    unsigned parts, attempts;
};

static void outcome_from_result(struct upload_outcome *o, const struct upload_item *f,
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

const char *upload_redacted(struct ebuf *b, const char *s)
{
    ebuf_reset(b);
    redact_puts(b, s ? s : "");
    return ebuf_ok(b) ? ebuf_str(b) : REDACT_MASK;
}

void upload_print_json(cJSON *j, const char *what)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        cli_error(cmd_name, "out of memory printing the result of %s", what);
        return;
    }
    printf("%s\n", text);
    fflush(stdout);
    cJSON_free(text);
}

static void print_json_line(const struct upload_outcome *o)
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
    if (o->outcome == ECRUP_OUTCOME_FAILED) {
        ok = ok && cJSON_AddStringToObject(j, "error", o->error) != NULL;
        ok = ok && cJSON_AddStringToObject(j, "message", upload_redacted(&msg, o->message)) != NULL;
    }
    ebuf_free(&msg);
    if (!ok) {
        cJSON_Delete(j);
        j = NULL;
    }
    upload_print_json(j, o->file);
}

static void print_plain_line(FILE *f, const struct upload_outcome *o)
{
    struct ebuf msg = EBUF_INIT;
    switch (o->outcome) {
    case ECRUP_OUTCOME_UPLOADED:
        fprintf(f, "%s: pushed %s (%" PRIu64 " bytes, %u part%s, %u request%s)\n", o->file,
                o->digest ? o->digest : "-", o->size, o->parts, o->parts == 1 ? "" : "s",
                o->attempts, o->attempts == 1 ? "" : "s");
        break;
    case ECRUP_OUTCOME_EXISTS:
        fprintf(f, "%s: already exists %s (%" PRIu64 " bytes)\n", o->file,
                o->digest ? o->digest : "-", o->size);
        break;
    default:
        fprintf(f, "%s: failed: %s: %s\n", o->file, o->error, upload_redacted(&msg, o->message));
        break;
    }
    ebuf_free(&msg);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_summary(FILE *f, size_t pushed, size_t existed, size_t failed, uint64_t bytes,
                          double seconds)
{
    char b[16];
    progress_format_bytes(b, sizeof b, bytes);
    fprintf(f, "%zu pushed, %zu existed, %zu failed; %s pushed in %.2f s", pushed, existed, failed,
            b, seconds);
    if (bytes && seconds > 0)
        fprintf(f, " (%.1f MB/s)", (double)bytes / seconds / 1e6);
    fputc('\n', f);
    fflush(f);
}

/* ---- engine callbacks ------------------------------------------------------------------- */

struct run_ui {
    struct progress_view *view; /* never NULL; draws only on a terminal */
    int log_level;              /* highest level printed */
    bool marked_interrupt;      /* progress callback thread only */
};

static void on_progress(const struct ecrup_progress *ev, void *user)
{
    struct run_ui *ui = user;
    uintptr_t k = (uintptr_t)ev->layer_user; /* the item's index + 1 */
    if (!ui->view || !k)
        return;
    if (!ui->marked_interrupt && atomic_load(&sigint_count) > 0) {
        ui->marked_interrupt = true;
        progress_view_interrupted(ui->view, true);
    }
    progress_view_event(ui->view, k - 1, ev->phase, ev->bytes_done, ev->bytes_total);
}

static void on_log(ecrup_log_level level, const char *line, void *user)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    struct run_ui *ui = user;
    if ((int)level > ui->log_level)
        return;
    struct ebuf b = EBUF_INIT;
    ebuf_printf(&b, "ecrup: %s: ", (unsigned)level < 4 ? names[level] : "log");
    redact_puts(&b, line); /* the engine redacts too: this is the belt to its braces */
    ebuf_putc(&b, '\n');
    progress_view_print(ui->view, stderr,
                        ebuf_ok(&b) ? ebuf_str(&b) : "ecrup: (log line lost: out of memory)\n");
    ebuf_free(&b);
}

/* ---- the command ------------------------------------------------------------------------ */

static void register_env_secrets(void)
{
    redact_register_secret(getenv("AWS_SECRET_ACCESS_KEY"));
    redact_register_secret(getenv("AWS_SESSION_TOKEN"));
    redact_register_secret(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
}

/* Where the live view goes: the terminal among stdout and stderr, else nowhere. */
static FILE *pick_tty(const struct upload_settings *a)
{
    if (a->json || a->common.quiet)
        return NULL;
    if (isatty(STDOUT_FILENO))
        return stdout;
    if (isatty(STDERR_FILENO))
        return stderr;
    return NULL;
}

static void report_interrupt(const struct upload_outcome *outs, size_t n)
{
    size_t landed = 0;
    for (size_t i = 0; i < n; i++)
        landed += outs[i].outcome != ECRUP_OUTCOME_FAILED;
    fprintf(stderr, "ecrup %s: interrupted: %zu of %zu layer%s pushed or already there", cmd_name,
            landed, n, n == 1 ? "" : "s");
    fputs(landed ? ":\n" : "\n", stderr);
    for (size_t i = 0; i < n; i++)
        if (outs[i].outcome != ECRUP_OUTCOME_FAILED)
            fprintf(stderr, "  %s %s %s\n",
                    outs[i].outcome == ECRUP_OUTCOME_UPLOADED ? "pushed        " : "already there ",
                    outs[i].file, outs[i].digest ? outs[i].digest : "");
    if (landed < n)
        fprintf(stderr, "not pushed (run the same command again to finish):\n");
    for (size_t i = 0; i < n; i++)
        if (outs[i].outcome == ECRUP_OUTCOME_FAILED)
            fprintf(stderr, "  not pushed     %s\n", outs[i].file);
}

int upload_run(const struct upload_settings *a, const char *cmd, const struct upload_item *items,
               size_t n, upload_then_fn then, void *then_user)
{
    cmd_name = cmd;
    register_env_secrets();
    if (a->insecure && !a->common.quiet)
        cli_error(cmd, "warning: --insecure: the endpoint's TLS certificate is not verified; "
                       "anyone on the path can read and change what is sent");
    FILE *tty = pick_tty(a);
    struct run_ui ui = {
        .view = NULL,
        /* Without -v only errors: the engine's warnings about failed layers would repeat
         * what the result lines say. */
        .log_level = a->common.verbose >= 2   ? ECRUP_LOG_DEBUG
                     : a->common.verbose == 1 ? ECRUP_LOG_INFO
                                              : ECRUP_LOG_ERROR,
    };
    struct upload_outcome *outs = calloc(n ? n : 1, sizeof *outs);
    ui.view = progress_view_new(tty, n);
    if (!outs || !ui.view) {
        free(outs);
        progress_view_free(ui.view);
        cli_error(cmd_name, "out of memory");
        return CLI_EXIT_FAILED;
    }
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(items[i].path, '/');
        const char *label = base && base[1] ? base + 1 : items[i].path;
        char shortd[13];
        if (items[i].digest) { /* docker's short id, when known before the upload */
            memcpy(shortd, items[i].digest + 7, 12);
            shortd[12] = '\0';
            label = shortd;
        }
        progress_view_set_layer(ui.view, i, label, items[i].size);
    }

    struct ecrup_options o;
    ecrup_options_init(&o);
    o.region = a->common.region;
    o.endpoint_url = a->common.endpoint_url;
    o.profile = a->common.profile;
    o.ca_bundle = a->common.ca_bundle;
    o.insecure_skip_tls_verify = a->insecure;
    o.concurrency = a->common.concurrency;
    o.memory_limit = a->common.memory_limit;
    o.part_size = a->common.part_size;
    o.no_check = a->no_check;
    o.check_first = a->check_first;
    o.rate_upload_layer_part = a->rates[0];
    o.rate_initiate_layer_upload = a->rates[1];
    o.rate_complete_layer_upload = a->rates[2];
    o.rate_batch_check_layer_availability = a->rates[3];
    o.progress = on_progress;
    o.progress_user = &ui;
    o.log = on_log;
    o.log_user = &ui;
    o.log_level = (ecrup_log_level)ui.log_level;

    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    atomic_store(&handler_quiet, tty != NULL);
    sigaction(SIGINT, &sa, &old_sa);

    double t0 = now_s();
    struct ecrup_engine *engine = NULL;
    struct ecrup_error err = {0};
    ecrup_status st = ecrup_engine_new(&o, &engine, &err);
    if (st == ECRUP_OK) {
        for (size_t i = 0; i < n && st == ECRUP_OK; i++) {
            struct ecrup_layer l = {
                .path = items[i].path,
                .repository = a->repository,
                .registry_id = a->registry_id,
                .digest = items[i].digest,
                .user = (void *)(uintptr_t)(i + 1),
                .offset = items[i].offset,
                .length = items[i].length,
            };
            st = ecrup_engine_add_layer(engine, &l, NULL);
            if (st != ECRUP_OK) {
                err.status = st;
                snprintf(err.message, sizeof err.message, "%s: cannot queue it: %s", items[i].name,
                         ecrup_strerror(st));
            }
        }
    }
    int exit_status = CLI_EXIT_OK;
    if (st != ECRUP_OK) {
        /* Nothing ran: the same failure stands for every layer. */
        struct ebuf m = EBUF_INIT;
        cli_error(cmd_name, "%s",
                  upload_redacted(&m, err.message[0] ? err.message : ecrup_strerror(st)));
        ebuf_free(&m);
        for (size_t i = 0; i < n; i++) {
            outs[i] = (struct upload_outcome){.file = items[i].name,
                                              .digest = items[i].digest,
                                              .size = items[i].size,
                                              .outcome = ECRUP_OUTCOME_FAILED,
                                              .error = ecrup_status_name(st),
                                              .message = err.message[0] ? err.message
                                                                        : ecrup_strerror(st)};
            if (a->json)
                print_json_line(&outs[i]);
        }
        exit_status = CLI_EXIT_FAILED;
        goto out;
    }

    atomic_store(&running_engine, engine);
    if (atomic_load(&sigint_count) > 0) /* Ctrl-C while the engine was being created */
        ecrup_engine_cancel(engine);
    if (tty)
        progress_view_draw(ui.view); /* every layer "Waiting" from the start */
    ecrup_engine_run(engine);
    double seconds = now_s() - t0;

    size_t pushed = 0, existed = 0, failed = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        outcome_from_result(&outs[i], &items[i], ecrup_engine_result(engine, i));
        struct upload_outcome *oc = &outs[i];
        if (oc->outcome == ECRUP_OUTCOME_UPLOADED) {
            pushed++;
            bytes += oc->size;
            progress_view_final(ui.view, i, PROGRESS_PUSHED, NULL);
        } else if (oc->outcome == ECRUP_OUTCOME_EXISTS) {
            existed++;
            progress_view_final(ui.view, i, PROGRESS_EXISTS, NULL);
        } else {
            failed++;
            struct ebuf m = EBUF_INIT;
            const struct ecrup_result *r = ecrup_engine_result(engine, i);
            if (r && r->status == ECRUP_E_CANCELLED) {
                ebuf_puts(&m, "interrupted");
            } else {
                ebuf_printf(&m, "%s: ", oc->error);
                redact_puts(&m, oc->message);
            }
            progress_view_final(ui.view, i, PROGRESS_FAILED, ebuf_ok(&m) ? ebuf_str(&m) : NULL);
            ebuf_free(&m);
        }
    }
    bool interrupted = atomic_load(&sigint_count) > 0;
    if (tty) {
        progress_view_interrupted(ui.view, false); /* the report below says it */
        progress_view_draw(ui.view);
    }
    if (a->json) {
        for (size_t i = 0; i < n; i++)
            print_json_line(&outs[i]);
    } else if (a->common.quiet) {
        for (size_t i = 0; i < n; i++)
            if (outs[i].outcome == ECRUP_OUTCOME_FAILED && !interrupted)
                print_plain_line(stderr, &outs[i]);
    } else {
        for (size_t i = 0; i < n; i++)
            print_plain_line(stdout, &outs[i]);
    }
    int then_status = CLI_EXIT_OK;
    if (then && !failed && !interrupted)
        then_status = then(engine, a, then_user);
    atomic_store(&running_engine, NULL);
    interrupted = atomic_load(&sigint_count) > 0;
    if (!a->json && !a->common.quiet)
        print_summary(stdout, pushed, existed, failed, bytes, seconds);
    if (interrupted) {
        report_interrupt(outs, n);
        exit_status = CLI_EXIT_SIGINT;
    } else if (failed || then_status != CLI_EXIT_OK) {
        exit_status = CLI_EXIT_FAILED;
    }

out:
    /* The engine is freed before the handler goes, so a late Ctrl-C cannot reach a freed
     * engine: running_engine is already NULL. */
    ecrup_engine_free(engine);
    sigaction(SIGINT, &old_sa, NULL);
    progress_view_free(ui.view);
    free(outs);
    return exit_status;
}
