/* `ecrup upload-layer`: the command line mapped onto struct ecrup_options and struct
 * ecrup_layer, the engine run, and its results printed as DESIGN.md's contract says
 * (--json lines, a progress view on a terminal, plain lines otherwise, exit status). */
#include "cli/upload_layer.h"

#include "cli/cli.h"
#include "cli/progress.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/redact.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CMD "upload-layer"

static const char help_text[] =
    "Usage: ecrup upload-layer --repository NAME [--registry-id ID] [--digest sha256:HEX]\n"
    "                          [--json] [--no-check | --check-first] [--insecure]\n"
    "                          [COMMON OPTIONS] FILE...\n"
    "\n"
    "Upload layer blobs (files already compressed as they will be stored, such as the\n"
    "blobs/sha256/* of an OCI layout) to an Amazon ECR repository through the ECR API:\n"
    "BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload.\n"
    "Layers go up in parallel, largest first; each one's parts go in order. A layer the\n"
    "repository already has is not sent again.\n"
    "\n"
    "Options:\n"
    "  --repository NAME    the ECR repository (required), e.g. team/app\n"
    "  --registry-id ID     the 12-digit account that owns the registry (default: the\n"
    "                       credentials' account)\n"
    "  --digest sha256:HEX  the layer's digest when you already know it (one FILE only):\n"
    "                       saves reading the file twice; the service checks it at the end\n"
    "  --json               print one JSON line per layer on stdout, nothing else there:\n"
    "                         {\"file\":\"...\",\"digest\":\"sha256:...\",\"size\":N,\n"
    "                          \"status\":\"uploaded\"|\"exists\",\"parts\":N,\"attempts\":N}\n"
    "                       a failure has \"status\":\"failed\" and two more keys,\n"
    "                         \"error\":\"<ECR exception or local code>\",\"message\":\"...\"\n"
    "  --no-check           upload even when the repository already has the layer\n"
    "  --check-first        hash and check a layer before sending any of it; by default a\n"
    "                       layer without --digest starts uploading while it is hashed\n"
    "                       (the link is not idle meanwhile) and stops once the check finds\n"
    "                       the repository has it, having sent what went out before\n"
    "  --max-rate OP=N      at most N requests per second of operation OP, for accounts\n"
    "                       whose ECR quotas differ from the defaults (repeatable; OP is\n"
    "                       UploadLayerPart 500, InitiateLayerUpload 100,\n"
    "                       CompleteLayerUpload 100 or BatchCheckLayerAvailability 1000)\n"
    "  --insecure           do not verify the endpoint's TLS certificate (a warning says so);\n"
    "                       prefer --ca-bundle for a private CA\n"
    "  -h, --help           show this help\n"
    "\n"
    "%s"
    "\n"
    "Output: on a terminal, one line per layer in the manner of docker push (Waiting,\n"
    "Hashing, Pushing with a bar, bytes and rate, Layer already exists, Pushed, Failed) and a\n"
    "summary; otherwise one line per layer and the summary once the upload ends. --quiet\n"
    "prints errors only; -v adds one line per request (operation, attempt, HTTP status,\n"
    "duration) on stderr, -vv more. Secrets are never printed.\n"
    "\n"
    "Environment, as the AWS SDKs read it (flags win): AWS_ACCESS_KEY_ID,\n"
    "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE,\n"
    "AWS_CONFIG_FILE, AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL,\n"
    "AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, AWS_CONTAINER_CREDENTIALS_FULL_URI,\n"
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE),\n"
    "AWS_EC2_METADATA_SERVICE_ENDPOINT, HTTPS_PROXY, NO_PROXY.\n"
    "\n"
    "Exit status:\n"
    "  0    every layer was uploaded or was already there\n"
    "  1    a layer failed, or region, endpoint or credentials could not be resolved\n"
    "  2    the command line is wrong (nothing was sent)\n"
    "  130  interrupted by Ctrl-C (a second Ctrl-C quits at once)\n"
    "\n"
    "Examples:\n"
    "  ecrup upload-layer --repository team/app --region eu-west-1 layer1.tar.gz layer2.tar.gz\n"
    "  ecrup upload-layer --repository team/app --json oci/blobs/sha256/* > results.jsonl\n"
    "  ecrup upload-layer --repository app --digest sha256:9f86d0...0a08 layer.tar.gz\n"
    "  ecrup serve --listen 127.0.0.1:5000 --repository demo &  # a local endpoint; it\n"
    "                                       # prints a key pair to export when none is set\n"
    "  ecrup upload-layer --endpoint-url http://127.0.0.1:5000 --region us-east-1 \\\n"
    "                     --repository demo layer.tar.gz\n";

/* What the command line asked for. Strings are borrowed from argv. */
struct args {
    struct cli_common common;
    const char *repository;
    const char *registry_id;
    const char *digest;
    bool json;
    bool no_check;
    bool check_first;
    double rates[4]; /* --max-rate, in the order of rate_ops[]; 0: ECR's default */
    bool insecure;
    char **files;
    size_t n_files;
};

/* One FILE and what the CLI knows of it beyond the engine's result. */
struct file_entry {
    const char *path;
    uint64_t size; /* from stat, up front */
    size_t index;  /* position on the command line == progress view line */
};

/* Ctrl-C: the handler only touches these lock-free atomics and async-signal-safe calls. */
static atomic_int sigint_count;
static _Atomic(struct ecrup_engine *) running_engine;
static atomic_bool handler_quiet; /* true while a progress block owns the terminal */

static void on_sigint(int sig)
{
    (void)sig;
    int saved_errno = errno;
    if (atomic_fetch_add(&sigint_count, 1) > 0) {
        static const char again[] = "\necrup upload-layer: interrupted again; quitting now\n";
        ssize_t w = write(STDERR_FILENO, again, sizeof again - 1);
        (void)w;
        _exit(CLI_EXIT_SIGINT);
    }
    struct ecrup_engine *e = atomic_load(&running_engine);
    if (e)
        ecrup_engine_cancel(e);
    if (!atomic_load(&handler_quiet)) {
        static const char msg[] = "\necrup upload-layer: interrupted; stopping (Ctrl-C again to "
                                  "quit at once)\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
    }
    errno = saved_errno;
}

/* ---- command line ----------------------------------------------------------------------- */

static const char *const rate_ops[] = {"UploadLayerPart", "InitiateLayerUpload",
                                       "CompleteLayerUpload", "BatchCheckLayerAvailability"};

/* "OPERATION=N" for --max-rate. */
static bool parse_max_rate(struct args *a, const char *v)
{
    const char *eq = strchr(v, '=');
    char *end = NULL;
    double n = eq ? strtod(eq + 1, &end) : 0;
    for (size_t k = 0; eq && k < sizeof rate_ops / sizeof *rate_ops; k++) {
        if (strlen(rate_ops[k]) == (size_t)(eq - v) && !strncmp(v, rate_ops[k], (size_t)(eq - v))) {
            if (end == eq + 1 || *end || !(n > 0) || n > 1e6) {
                cli_error(CMD,
                          "--max-rate %s: '%s' is not a positive number of requests per "
                          "second",
                          rate_ops[k], eq + 1);
                return false;
            }
            a->rates[k] = n;
            return true;
        }
    }
    cli_error(CMD,
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

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* ECR's RepositoryName: 2..256 characters of
 * (?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)* */
static bool valid_repository(const char *name)
{
    size_t len = strlen(name);
    if (len < 2 || len > 256)
        return false;
    char prev = '/'; /* as if a component had just ended */
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (lower_alnum(c)) {
            prev = 'a';
        } else if (c == '.' || c == '_' || c == '-' || c == '/') {
            if (prev != 'a' || !lower_alnum(p[1]))
                return false;
            prev = c;
        } else {
            return false;
        }
    }
    return prev == 'a';
}

/* Returns -1 when parsing went fine, else the exit status (help printed or usage error). */
static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->files = calloc((size_t)argc, sizeof *a->files);
    if (!a->files) {
        cli_error(CMD, "out of memory");
        return CLI_EXIT_FAILED;
    }
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (only_files || s[0] != '-' || !strcmp(s, "-")) {
            a->files[a->n_files++] = argv[i];
            continue;
        }
        if (!strcmp(s, "--")) {
            only_files = true;
        } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            printf(help_text, cli_common_help);
            return CLI_EXIT_OK;
        } else if (!strcmp(s, "--json")) {
            a->json = true;
        } else if (!strcmp(s, "--no-check")) {
            a->no_check = true;
        } else if (!strcmp(s, "--check-first")) {
            a->check_first = true;
        } else if (cli_opt_is(s, "--max-rate")) {
            const char *v = cli_take_value(CMD, argc, argv, &i);
            if (!v || !parse_max_rate(a, v))
                return CLI_EXIT_USAGE;
        } else if (!strcmp(s, "--insecure")) {
            a->insecure = true;
        } else if (cli_opt_is(s, "--repository") || cli_opt_is(s, "--registry-id") ||
                   cli_opt_is(s, "--digest")) {
            const char *v = cli_take_value(CMD, argc, argv, &i);
            if (!v)
                return CLI_EXIT_USAGE;
            if (cli_opt_is(s, "--repository")) {
                if (!valid_repository(v)) {
                    cli_error(CMD,
                              "--repository: '%s' is not a repository name (2 to 256 "
                              "characters: lowercase letters and digits, separated by one of "
                              "'.', '_', '-' or '/', e.g. team/app)",
                              v);
                    return CLI_EXIT_USAGE;
                }
                a->repository = v;
            } else if (cli_opt_is(s, "--registry-id")) {
                if (!valid_registry_id(v)) {
                    cli_error(CMD, "--registry-id: '%s' is not a 12-digit AWS account id", v);
                    return CLI_EXIT_USAGE;
                }
                a->registry_id = v;
            } else {
                if (!sha256_digest_valid(v)) {
                    cli_error(CMD,
                              "--digest: '%s' is not a layer digest ('sha256:' and 64 lowercase "
                              "hex digits)",
                              v);
                    return CLI_EXIT_USAGE;
                }
                a->digest = v;
            }
        } else {
            int r = cli_common_option(&a->common, CMD, argc, argv, &i);
            if (r < 0)
                return CLI_EXIT_USAGE;
            if (r == 0) {
                cli_error(CMD, "unknown option '%s'; run 'ecrup upload-layer --help'", s);
                return CLI_EXIT_USAGE;
            }
        }
    }
    if (!a->repository) {
        cli_error(CMD, "--repository NAME is required; run 'ecrup upload-layer --help'");
        return CLI_EXIT_USAGE;
    }
    if (a->no_check && a->check_first) {
        cli_error(CMD, "--no-check and --check-first contradict each other: --no-check sends "
                       "every layer without asking, --check-first asks before sending");
        return CLI_EXIT_USAGE;
    }
    if (a->n_files == 0) {
        cli_error(CMD, "no layer FILE given; run 'ecrup upload-layer --help'");
        return CLI_EXIT_USAGE;
    }
    if (a->digest && a->n_files != 1) {
        cli_error(CMD, "--digest names one layer, but %zu files were given", a->n_files);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Every FILE must be a readable regular file: checked before anything is sent. */
static int check_files(const struct args *a, struct file_entry *files)
{
    for (size_t i = 0; i < a->n_files; i++) {
        const char *p = a->files[i];
        struct stat st;
        if (stat(p, &st) != 0) {
            cli_error(CMD, "%s: %s", p, errno == ENOENT ? "no such file" : strerror(errno));
            return CLI_EXIT_USAGE;
        }
        if (S_ISDIR(st.st_mode)) {
            cli_error(CMD, "%s is a directory; give the layer files themselves", p);
            return CLI_EXIT_USAGE;
        }
        if (!S_ISREG(st.st_mode)) {
            cli_error(CMD, "%s is not a regular file", p);
            return CLI_EXIT_USAGE;
        }
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            cli_error(CMD, "%s: cannot be read: %s", p, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        close(fd);
        files[i].path = p;
        files[i].size = (uint64_t)st.st_size;
        files[i].index = i;
    }
    return -1;
}

/* ---- output ----------------------------------------------------------------------------- */

/* A failure's "error" when the engine gave no exception name: a stable local code. */
static const char *status_code(ecrup_status st)
{
    static const char *const codes[] = {
        [ECRUP_OK] = "OK",
        [ECRUP_E_INVALID_ARGUMENT] = "InvalidArgument",
        [ECRUP_E_NOMEM] = "OutOfMemory",
        [ECRUP_E_IO] = "IOError",
        [ECRUP_E_FILE_CHANGED] = "FileChanged",
        [ECRUP_E_NO_CREDENTIALS] = "NoCredentials",
        [ECRUP_E_CREDENTIALS] = "CredentialsError",
        [ECRUP_E_CONFIG] = "ConfigError",
        [ECRUP_E_NO_REGION] = "NoRegion",
        [ECRUP_E_ENDPOINT] = "InvalidEndpoint",
        [ECRUP_E_TLS] = "TLSError",
        [ECRUP_E_NETWORK] = "NetworkError",
        [ECRUP_E_TIMEOUT] = "Timeout",
        [ECRUP_E_THROTTLED] = "Throttled",
        [ECRUP_E_SERVER] = "ServerError",
        [ECRUP_E_AUTH] = "AuthError",
        [ECRUP_E_PROTOCOL] = "ProtocolError",
        [ECRUP_E_REMOTE] = "RemoteError",
        [ECRUP_E_DIGEST_MISMATCH] = "DigestMismatch",
        [ECRUP_E_TOO_LARGE] = "LayerTooLarge",
        [ECRUP_E_EMPTY_LAYER] = "EmptyLayer",
        [ECRUP_E_CANCELLED] = "Cancelled",
        [ECRUP_E_UNSUPPORTED] = "Unsupported",
        [ECRUP_E_INTERNAL] = "InternalError",
        [ECRUP_E_CLOCK_SKEW] = "ClockSkew",
        [ECRUP_E_NOT_FOUND] = "NotFound",
    };
    if ((unsigned)st < sizeof codes / sizeof codes[0] && codes[st])
        return codes[st];
    return "InternalError";
}

/* What the CLI reports for one layer: the engine's record, or (engine never ran) a failure
 * of the whole run. Strings borrowed. */
struct outcome {
    const char *file;
    const char *digest; /* NULL: unknown */
    uint64_t size;
    ecrup_outcome outcome;
    const char *error;
    const char *message;
    unsigned parts, attempts;
};

static void outcome_from_result(struct outcome *o, const struct file_entry *f,
                                const struct ecrup_result *r, const char *given_digest)
{
    memset(o, 0, sizeof *o);
    o->file = f->path;
    o->size = f->size;
    o->digest = given_digest;
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
        o->error = r->exception && *r->exception ? r->exception : status_code(r->status);
        o->message = r->message && *r->message ? r->message : ecrup_strerror(r->status);
        if (r->outcome == ECRUP_OUTCOME_PENDING)
            o->message = "the layer did not finish";
    } else {
        o->error = o->message = NULL;
    }
}

/* Redacted copy of `s` as a NUL-terminated string in `b` (reset first). */
static const char *redacted(struct ebuf *b, const char *s)
{
    ebuf_reset(b);
    redact_puts(b, s ? s : "");
    return ebuf_ok(b) ? ebuf_str(b) : REDACT_MASK;
}

static void print_json_line(const struct outcome *o)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        goto oom;
    char num[24];
    struct ebuf msg = EBUF_INIT;
    bool ok = cJSON_AddStringToObject(j, "file", o->file) != NULL;
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
        ok = ok && cJSON_AddStringToObject(j, "message", redacted(&msg, o->message)) != NULL;
    }
    char *text = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    ebuf_free(&msg);
    if (!text)
        goto oom;
    printf("%s\n", text);
    fflush(stdout);
    cJSON_free(text);
    return;
oom:
    cli_error(CMD, "out of memory printing the result of %s", o->file);
}

static void print_plain_line(FILE *f, const struct outcome *o)
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
        fprintf(f, "%s: failed: %s: %s\n", o->file, o->error, redacted(&msg, o->message));
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
    const struct file_entry *f = ev->layer_user;
    if (!ui->view || !f)
        return;
    if (!ui->marked_interrupt && atomic_load(&sigint_count) > 0) {
        ui->marked_interrupt = true;
        progress_view_interrupted(ui->view, true);
    }
    progress_view_event(ui->view, f->index, ev->phase, ev->bytes_done, ev->bytes_total);
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
static FILE *pick_tty(const struct args *a)
{
    if (a->json || a->common.quiet)
        return NULL;
    if (isatty(STDOUT_FILENO))
        return stdout;
    if (isatty(STDERR_FILENO))
        return stderr;
    return NULL;
}

static void report_interrupt(const struct outcome *outs, size_t n)
{
    size_t landed = 0;
    for (size_t i = 0; i < n; i++)
        landed += outs[i].outcome != ECRUP_OUTCOME_FAILED;
    fprintf(stderr, "ecrup upload-layer: interrupted: %zu of %zu layer%s pushed or already there",
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

static int run(const struct args *a, struct file_entry *files)
{
    size_t n = a->n_files;
    FILE *tty = pick_tty(a);
    struct run_ui ui = {
        .view = NULL,
        /* Without -v only errors: the engine's warnings about failed layers would repeat
         * what the result lines say. */
        .log_level = a->common.verbose >= 2   ? ECRUP_LOG_DEBUG
                     : a->common.verbose == 1 ? ECRUP_LOG_INFO
                                              : ECRUP_LOG_ERROR,
    };
    struct outcome *outs = calloc(n, sizeof *outs);
    ui.view = progress_view_new(tty, n);
    if (!outs || !ui.view) {
        free(outs);
        progress_view_free(ui.view);
        cli_error(CMD, "out of memory");
        return CLI_EXIT_FAILED;
    }
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(files[i].path, '/');
        const char *label = base && base[1] ? base + 1 : files[i].path;
        char shortd[13];
        if (a->digest) { /* docker's short id, when known before the upload */
            memcpy(shortd, a->digest + 7, 12);
            shortd[12] = '\0';
            label = shortd;
        }
        progress_view_set_layer(ui.view, i, label, files[i].size);
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
                .path = files[i].path,
                .repository = a->repository,
                .registry_id = a->registry_id,
                .digest = a->digest,
                .user = &files[i],
            };
            st = ecrup_engine_add_layer(engine, &l, NULL);
            if (st != ECRUP_OK) {
                err.status = st;
                snprintf(err.message, sizeof err.message, "%s: cannot queue the layer: %s",
                         files[i].path, ecrup_strerror(st));
            }
        }
    }
    int exit_status = CLI_EXIT_OK;
    if (st != ECRUP_OK) {
        /* Nothing ran: the same failure stands for every layer. */
        struct ebuf m = EBUF_INIT;
        cli_error(CMD, "%s", redacted(&m, err.message[0] ? err.message : ecrup_strerror(st)));
        ebuf_free(&m);
        for (size_t i = 0; i < n; i++) {
            outs[i] =
                (struct outcome){.file = files[i].path,
                                 .digest = a->digest,
                                 .size = files[i].size,
                                 .outcome = ECRUP_OUTCOME_FAILED,
                                 .error = status_code(st),
                                 .message = err.message[0] ? err.message : ecrup_strerror(st)};
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
    atomic_store(&running_engine, NULL);
    double seconds = now_s() - t0;

    size_t pushed = 0, existed = 0, failed = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        outcome_from_result(&outs[i], &files[i], ecrup_engine_result(engine, i), a->digest);
        struct outcome *oc = &outs[i];
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
        print_summary(stdout, pushed, existed, failed, bytes, seconds);
    }
    if (interrupted) {
        report_interrupt(outs, n);
        exit_status = CLI_EXIT_SIGINT;
    } else if (failed) {
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

int upload_layer_main(int argc, char **argv)
{
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        struct file_entry *files = calloc(a.n_files, sizeof *files);
        if (!files) {
            cli_error(CMD, "out of memory");
            rc = CLI_EXIT_FAILED;
        } else {
            rc = check_files(&a, files);
            if (rc < 0) {
                if (a.insecure && !a.common.quiet)
                    cli_error(CMD, "warning: --insecure: the endpoint's TLS certificate is not "
                                   "verified; anyone on the path can read and change what is "
                                   "sent");
                register_env_secrets();
                rc = run(&a, files);
            }
            free(files);
        }
    }
    free(a.files);
    return rc;
}
