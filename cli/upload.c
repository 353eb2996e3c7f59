/* The upload both `ecrup upload-layer` and `ecrup push` run: options mapped onto struct
 * ecrup_options, the engine run over a list of blobs with a progress view on a terminal and
 * Ctrl-C handled; cli/upload_output.c prints the results and decides the exit status. */
#include "cli/upload.h"

#include "cli/progress.h"
#include "cli/repo_uri.h"
#include "cli/upload_output.h"
#include "util/buf.h"
#include "util/ecr_name.h"
#include "util/redact.h"

#include <cjson/cJSON.h>
#include <errno.h>
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
    "                          \"status\":\"uploaded\"|\"exists\",\"parts\":N,\"attempts\":N,\n"
    "                          \"resumed_from\":N,\"requests\":N,\"retries\":N}\n"
    "                       resumed_from: bytes an earlier run had sent; requests: requests\n"
    "                       made, each counted once; retries: sends beyond the first;\n"
    "                       attempts: every send (requests + retries)\n"
    "                       a failure has \"status\":\"failed\" and two more keys,\n"
    "                         \"error\":\"<ECR exception or local code>\",\"message\":\"...\"\n"
    "  --create-repository  create the repository (CreateRepository, the service's defaults)\n"
    "                       before uploading, when it does not exist\n"
    "  --no-check           upload even when the repository already has the blob\n"
    "  --check-first        hash and check a blob before sending any of it; by default a\n"
    "                       blob of unknown digest starts uploading while it is hashed\n"
    "                       (the link is not idle meanwhile) and stops once the check finds\n"
    "                       the repository has it, having sent what went out before\n"
    "  --max-rate OP=N      at most N requests per second of operation OP (repeatable; OP is\n"
    "                       UploadLayerPart, InitiateLayerUpload, CompleteLayerUpload or\n"
    "                       BatchCheckLayerAvailability). Without it the engine starts at\n"
    "                       ECR's default quotas (500, 100, 100, 1000) and paces faster\n"
    "                       while no ThrottlingException comes, for raised quotas\n"
    "  --state-dir DIR      where the journal of uploads in flight lives, so that a run that\n"
    "                       was killed or failed is continued, not started over, by the same\n"
    "                       command (else ECRUP_STATE_DIR, $XDG_STATE_HOME/ecrup,\n"
    "                       ~/.local/state/ecrup; docs/engine.md, \"Resume\")\n"
    "  --no-resume          keep no journal: every blob uploads from byte 0\n"
    "  --insecure           do not verify the endpoint's TLS certificate (a warning says so);\n"
    "                       prefer --ca-bundle for a private CA\n";

const char *const upload_option_names[] = {
    "--repository",  "--registry-id",       "--json",      "--no-check",
    "--check-first", "--max-rate",          "--state-dir", "--no-resume",
    "--insecure",    "--create-repository", NULL,
};

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
    } else if (!strcmp(a, "--create-repository")) {
        s->create_repository = true;
    } else if (!strcmp(a, "--no-resume")) {
        s->no_resume = true;
    } else if (cli_opt_is(a, "--state-dir")) {
        const char *v = cli_take_value(cmd, argc, argv, i);
        if (!v)
            return -1;
        if (!*v) {
            cli_error(cmd, "--state-dir must not be empty (--no-resume turns the journal off)");
            return -1;
        }
        s->state_dir = v;
    } else if (cli_opt_is(a, "--max-rate")) {
        const char *v = cli_take_value(cmd, argc, argv, i);
        if (!v || !parse_max_rate(s, cmd, v))
            return -1;
    } else if (cli_opt_is(a, "--repository")) {
        const char *v = cli_take_value(cmd, argc, argv, i);
        if (!v)
            return -1;
        s->repository_arg = v;
        struct repo_uri u;
        enum repo_uri_kind kind = repo_uri_parse(v, &u);
        if (kind == REPO_URI_OTHER) {
            cli_error(cmd,
                      "--repository: '%s' starts with a host that is not an ECR registry's "
                      "(ACCOUNT.dkr.ecr.REGION.amazonaws.com); pass the repository name alone, "
                      "with --registry-id and --region for another registry",
                      v);
            return -1;
        }
        if (kind == REPO_URI_REGISTRY) {
            if (u.region_len >= sizeof s->uri_region) {
                cli_error(cmd, "--repository: the region in '%s' is too long", v);
                return -1;
            }
            memcpy(s->uri_account, u.account, u.account_len);
            s->uri_account[u.account_len] = '\0';
            memcpy(s->uri_region, u.region, u.region_len);
            s->uri_region[u.region_len] = '\0';
            v = u.name;
        }
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

bool upload_settings_check(struct upload_settings *s, const char *cmd)
{
    if (s->uri_account[0]) {
        /* The registry host of --repository says where; a flag that says otherwise is a
         * contradiction, not a preference. */
        if (s->registry_id && strcmp(s->registry_id, s->uri_account) != 0) {
            cli_error(cmd, "--registry-id %s contradicts the registry %s in --repository",
                      s->registry_id, s->uri_account);
            return false;
        }
        if (s->common.region && strcmp(s->common.region, s->uri_region) != 0) {
            cli_error(cmd, "--region %s contradicts the region %s in --repository",
                      s->common.region, s->uri_region);
            return false;
        }
        s->registry_id = s->uri_account;
        s->common.region = s->uri_region;
    }
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

void upload_print_json(cJSON *j, const char *what)
{
    upload_json_line(cmd_name, j, what);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
    progress_view_event(ui->view, k - 1, ev);
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

bool upload_on_terminal(const struct upload_settings *s)
{
    return pick_tty(s) != NULL;
}

/* Ctrl-C goes to on_sigint() until the caller puts `old` back; `quiet` while a progress
 * view owns the terminal. */
static void sigint_install(bool quiet, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    atomic_store(&handler_quiet, quiet);
    sigaction(SIGINT, &sa, old);
}

/* Without -v only errors: the engine's warnings about failed layers would repeat what the
 * result lines say. */
/* Warnings by default (a lowered part size, a failed credential refresh, a journal entry that
 * could not be used): each says something the user may act on, and failures are in the
 * results already. --quiet: errors only. */
static int log_level_of(const struct upload_settings *a)
{
    return a->common.verbose >= 2   ? ECRUP_LOG_DEBUG
           : a->common.verbose == 1 ? ECRUP_LOG_INFO
           : a->common.quiet        ? ECRUP_LOG_ERROR
                                    : ECRUP_LOG_WARN;
}

/* Each layer's name in the live view: docker's short id when the digest is known before the
 * upload, else the file's name. Items [from, n). */
static void label_layers(struct progress_view *view, const struct upload_item *items, size_t from,
                         size_t n)
{
    for (size_t i = from; i < n; i++) {
        const char *base = strrchr(items[i].path, '/');
        const char *label = base && base[1] ? base + 1 : items[i].path;
        char shortd[13];
        if (items[i].digest) {
            memcpy(shortd, items[i].digest + 7, 12);
            shortd[12] = '\0';
            label = shortd;
        }
        progress_view_set_layer(view, i, label, items[i].size);
    }
}

/* The journal's directory: --state-dir, else ECRUP_STATE_DIR, else $XDG_STATE_HOME/ecrup, else
 * ~/.local/state/ecrup (the XDG base directory default); NULL with --no-resume or without HOME.
 * Built in `buf` when it is a default. */
static const char *state_dir(const struct upload_settings *a, struct ebuf *buf)
{
    if (a->no_resume)
        return NULL;
    if (a->state_dir)
        return a->state_dir;
    const char *v = getenv("ECRUP_STATE_DIR");
    if (v && *v)
        return v;
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg == '/')
        ebuf_printf(buf, "%s/ecrup", xdg);
    else if (home && *home)
        ebuf_printf(buf, "%s/.local/state/ecrup", home);
    return ebuf_ok(buf) && buf->len ? ebuf_str(buf) : NULL;
}

static void engine_options(const struct upload_settings *a, struct run_ui *ui,
                           struct ecrup_options *o, struct ebuf *state)
{
    ecrup_options_init(o);
    o->region = a->common.region;
    o->endpoint_url = a->common.endpoint_url;
    o->profile = a->common.profile;
    o->ca_bundle = a->common.ca_bundle;
    o->insecure_skip_tls_verify = a->insecure;
    o->mfa_code = cli_mfa_prompt;
    o->concurrency = a->common.concurrency;
    o->memory_limit = a->common.memory_limit;
    o->part_size = a->common.part_size;
    o->no_check = a->no_check;
    o->check_first = a->check_first;
    o->rate_upload_layer_part = a->rates[0];
    o->rate_initiate_layer_upload = a->rates[1];
    o->rate_complete_layer_upload = a->rates[2];
    o->rate_batch_check_layer_availability = a->rates[3];
    o->progress = on_progress;
    o->progress_user = ui;
    o->log = on_log;
    o->log_user = ui;
    o->log_level = (ecrup_log_level)ui->log_level;
    o->state_dir = state_dir(a, state);
}

/* Queue items [from, n), or the status and message of why not. */
static ecrup_status engine_add(struct ecrup_engine *engine, const struct upload_settings *a,
                               const struct upload_item *items, size_t from, size_t n,
                               struct ecrup_error *err)
{
    ecrup_status st = ECRUP_OK;
    for (size_t i = from; i < n && st == ECRUP_OK; i++) {
        struct ecrup_layer l = {
            .path = items[i].path,
            .repository = a->repository,
            .registry_id = a->registry_id,
            .digest = items[i].digest,
            .user = (void *)(uintptr_t)(i + 1),
            .offset = items[i].offset,
            .length = items[i].length,
            .read = items[i].read,
            .read_user = items[i].read_user,
        };
        st = ecrup_engine_add_layer(engine, &l, NULL);
        if (st != ECRUP_OK) {
            err->status = st;
            snprintf(err->message, sizeof err->message, "%s: cannot queue it: %s", items[i].name,
                     ecrup_strerror(st));
        }
    }
    return st;
}

/* --create-repository: make the repository before the run, so that a missing one is made and
 * an existing one left alone. A failure is said and the run goes on: the repository may exist
 * all the same (a role allowed to push but not to create), and if not, the blobs say so. */
static void create_repository(struct ecrup_engine *engine, const struct upload_settings *a)
{
    struct ecrup_repository_result r;
    ecrup_engine_create_repository(engine, a->repository, a->registry_id, &r);
    struct ebuf m = EBUF_INIT;
    if (r.outcome == ECRUP_OUTCOME_FAILED)
        cli_error(cmd_name, "--create-repository: CreateRepository failed: %s",
                  upload_failure_text(&m, r.exception, r.message));
    else if (r.outcome == ECRUP_OUTCOME_UPLOADED && !a->common.quiet)
        cli_error(cmd_name, "created repository %s (%s)", a->repository,
                  upload_redacted(&m, r.repository_uri));
    ebuf_free(&m);
}

/* The engine's results of items [from, n) as outcomes, counted in `t`, and each layer's final
 * state in the view. */
static void collect_results(struct ecrup_engine *engine, const struct upload_item *items,
                            size_t from, size_t n, struct upload_outcome *outs,
                            struct progress_view *view, struct upload_tally *t)
{
    for (size_t i = from; i < n; i++) {
        const struct ecrup_result *r = ecrup_engine_result(engine, i);
        upload_outcome_from_result(&outs[i], &items[i], r);
        upload_tally_add(t, &outs[i]);
        if (outs[i].outcome == ECRUP_OUTCOME_UPLOADED) {
            progress_view_final(view, i, PROGRESS_PUSHED, NULL);
        } else if (outs[i].outcome == ECRUP_OUTCOME_EXISTS) {
            progress_view_final(view, i, PROGRESS_EXISTS, NULL);
        } else {
            struct ebuf m = EBUF_INIT;
            if (r && r->status == ECRUP_E_CANCELLED)
                ebuf_puts(&m, "interrupted");
            else if (upload_outcome_no_repository(&outs[i]))
                ebuf_puts(&m, "no such repository"); /* the run's note below says the rest */
            else
                upload_failure_text(&m, outs[i].error, outs[i].message);
            progress_view_final(view, i, PROGRESS_FAILED, ebuf_ok(&m) ? ebuf_str(&m) : NULL);
            ebuf_free(&m);
        }
    }
}

/* upload_run's feed: the caller's items, all at once. */
struct fixed_items {
    const struct upload_item *items;
    size_t n;
    bool given;
};

static int fixed_next(void *user, const struct upload_outcome *outs, size_t done,
                      const struct upload_item **items, size_t *n)
{
    (void)outs;
    (void)done;
    struct fixed_items *f = user;
    if (f->given)
        return 0;
    f->given = true;
    *items = f->items;
    *n = f->n;
    return f->n ? 1 : 0;
}

int upload_run(const struct upload_settings *a, const char *cmd, const struct upload_item *items,
               size_t n, upload_then_fn then, void *then_user)
{
    struct fixed_items f = {.items = items, .n = n};
    return upload_run_feed(a, cmd, fixed_next, &f, then, then_user);
}

/* Room for `n` outcomes and view lines. False: out of memory. */
static bool grow(struct upload_outcome **outs, size_t *cap, struct progress_view *view, size_t n)
{
    if (n > *cap) {
        size_t c = *cap ? *cap : 8;
        while (c < n)
            c *= 2;
        struct upload_outcome *o = realloc(*outs, c * sizeof *o);
        if (!o)
            return false;
        memset(o + *cap, 0, (c - *cap) * sizeof *o);
        *outs = o;
        *cap = c;
    }
    return progress_view_add(view, n);
}

/* Queue items [from, n): room for their outcomes and view lines, the lines named, the layers
 * added to the engine; the status and message of why not. */
static ecrup_status queue_items(struct ecrup_engine *engine, const struct upload_settings *a,
                                const struct upload_item *items, size_t from, size_t n,
                                struct upload_outcome **outs, size_t *cap,
                                struct progress_view *view, struct ecrup_error *err)
{
    if (!grow(outs, cap, view, n)) {
        err->status = ECRUP_E_NOMEM;
        snprintf(err->message, sizeof err->message, "out of memory");
        return ECRUP_E_NOMEM;
    }
    label_layers(view, items, from, n);
    return engine_add(engine, a, items, from, n, err);
}

int upload_run_feed(const struct upload_settings *a, const char *cmd, upload_feed_fn next,
                    void *next_user, upload_then_fn then, void *then_user)
{
    cmd_name = cmd;
    register_env_secrets();
    if (a->insecure && !a->common.quiet)
        cli_error(cmd, "warning: --insecure: the endpoint's TLS certificate is not verified; "
                       "anyone on the path can read and change what is sent");
    FILE *tty = pick_tty(a);
    struct run_ui ui = {.log_level = log_level_of(a)};
    struct upload_outcome *outs = NULL;
    size_t cap = 0, n = 0;
    ui.view = progress_view_new(tty, 0);
    if (!ui.view) {
        cli_error(cmd_name, "out of memory");
        return CLI_EXIT_FAILED;
    }
    struct ecrup_options o;
    struct ebuf state = EBUF_INIT;
    engine_options(a, &ui, &o, &state);

    struct sigaction old_sa;
    sigint_install(tty != NULL, &old_sa);

    double t0 = now_s();
    struct ecrup_engine *engine = NULL;
    struct ecrup_error err = {0};
    const struct upload_item *items = NULL;
    int more = next(next_user, NULL, 0, &items, &n);
    ecrup_status st = more < 0 ? ECRUP_OK : ecrup_engine_new(&o, &engine, &err);
    if (st == ECRUP_OK && more > 0)
        st = queue_items(engine, a, items, 0, n, &outs, &cap, ui.view, &err);
    int exit_status;
    struct ebuf tail = EBUF_INIT;
    if (st != ECRUP_OK || more < 0) {
        /* Nothing ran: the same failure stands for every layer. */
        if (!grow(&outs, &cap, ui.view, n ? n : 1)) {
            cli_error(cmd_name, "out of memory");
            exit_status = CLI_EXIT_FAILED;
        } else if (more < 0) {
            exit_status = CLI_EXIT_FAILED; /* the feed said why */
        } else {
            exit_status = upload_report_not_run(
                a, cmd, items, n, st, err.message[0] ? err.message : ecrup_strerror(st), outs);
        }
        if (then)
            then(NULL, a, outs, n, false, &tail, then_user);
    } else {
        atomic_store(&running_engine, engine);
        if (atomic_load(&sigint_count) > 0) /* Ctrl-C while the engine was being created */
            ecrup_engine_cancel(engine);
        if (a->create_repository && atomic_load(&sigint_count) == 0)
            create_repository(engine, a);
        if (tty)
            progress_view_draw(ui.view); /* every layer "Waiting" from the start */
        struct upload_tally tally = {0};
        int feed_status = CLI_EXIT_OK;
        /* A run for what the feed has given, then the next, until it has no more: a stream's
         * blobs each as it passes. */
        for (size_t from = 0; more > 0;) {
            ecrup_engine_run(engine);
            collect_results(engine, items, from, n, outs, ui.view, &tally);
            if (atomic_load(&sigint_count) > 0)
                break;
            from = n;
            more = next(next_user, outs, n, &items, &n);
            if (more < 0)
                feed_status = CLI_EXIT_FAILED; /* the feed said why */
            if (more <= 0)
                break;
            if (queue_items(engine, a, items, from, n, &outs, &cap, ui.view, &err) != ECRUP_OK) {
                cli_error(cmd_name, "%s", err.message);
                feed_status = CLI_EXIT_FAILED;
                n = from;
                break;
            }
            if (tty)
                progress_view_draw(ui.view);
        }
        double seconds = now_s() - t0;
        bool interrupted = atomic_load(&sigint_count) > 0;
        if (tty) {
            progress_view_interrupted(ui.view, false); /* the report below says it */
            progress_view_draw(ui.view);
        }
        upload_print_results(a, cmd, outs, n, interrupted, tty && a->view_is_report);
        int then_status = feed_status;
        if (then && feed_status == CLI_EXIT_OK)
            then_status = then(engine, a, outs, n, interrupted, &tail, then_user);
        atomic_store(&running_engine, NULL);
        exit_status = upload_finish(a, cmd, outs, n, &tally, seconds,
                                    atomic_load(&sigint_count) > 0, then_status,
                                    then ? "blobs: " : "", ebuf_ok(&tail) ? ebuf_str(&tail) : "");
    }
    ebuf_free(&tail);

    /* The engine is freed before the handler goes, so a late Ctrl-C cannot reach a freed
     * engine: running_engine is already NULL. */
    ecrup_engine_free(engine);
    sigaction(SIGINT, &old_sa, NULL);
    progress_view_free(ui.view);
    ebuf_free(&state);
    free(outs);
    return exit_status;
}
