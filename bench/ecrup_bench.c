/* ecrup-bench: runs every workload in bench/workloads/ against a local `ecrup serve --sink`
 * it starts itself, measures libecrup in-process (in a forked child, for clean getrusage and
 * peak RSS), the SHA-256 floor on the same bytes and the boto3 baseline, and writes a table
 * (bench_report.c), a JSON results file (bench_results.c) and a gnuplot chart (bench_chart.c).
 * Run `ecrup-bench --help`. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_chart.h"
#include "bench_harness.h"
#include "bench_measure.h"
#include "bench_proc.h"
#include "bench_report.h"
#include "bench_results.h"
#include "bench_workload.h"
#include "util/suggest.h"

static const char usage[] =
    "Usage: ecrup-bench [--workloads DIR] [--runs N] [--out DIR] [--only NAME]... [--quick]\n"
    "                   [--no-boto3] [--ecrup PATH] [--python PATH] [--boto3-script PATH]\n"
    "\n"
    "Measures libecrup pushing layers to a local 'ecrup serve --sink' that the harness starts\n"
    "for every measurement (plain HTTP, HTTPS with a private CA made by the openssl CLI,\n"
    "--faults delay and bandwidth for WAN emulation, --quotas ecr for ECR's request quotas,\n"
    "as each workload says), and puts next to it, in the same run and on the same bytes:\n"
    "  floor    SHA-256 of the raw layer (when the digest is computed) + SHA-256 of every\n"
    "           base64 part body (the SigV4 payload hash), OpenSSL, one thread: the work no\n"
    "           client can avoid, as CPU-s/GB; 'ceiling' is the throughput that floor allows\n"
    "           on every online core;\n"
    "  boto3    bench/boto3_baseline.py: what a user writes with boto3 (initiate,\n"
    "           upload_layer_part in order, complete; a thread pool across layers).\n"
    "Each measurement is repeated --runs times; the table shows the median, and the spread\n"
    "(min-max) for wall time; the JSON file keeps every run.\n"
    "\n"
    "Options:\n"
    "  --workloads DIR  workload files, *.json (default: bench/workloads next to the source,\n"
    "                   or ./bench/workloads). See bench/README.md for the format\n"
    "  --runs N         repetitions of every measurement (default 3; 1 with --quick)\n"
    "  --out DIR        results.json, bench.png, bench.dat/gp, and the generated layers\n"
    "                   under DIR/layers, reused when present (default build/bench-results)\n"
    "  --only NAME      run only this workload (repeatable)\n"
    "  --quick          run only the small workloads marked \"quick\" (the CI smoke run)\n"
    "  --no-boto3       skip the boto3 baseline\n"
    "  --ecrup PATH     the ecrup CLI that serves (default: 'ecrup' next to this program)\n"
    "  --python PATH    python with boto3 (default python3)\n"
    "  --boto3-script P the baseline (default: bench/boto3_baseline.py in the source tree)\n"
    "  -h, --help       this help\n"
    "\n"
    "Columns: wall s = ecrup's wall time from engine creation to the end of the run;\n"
    "MB/s = layer bytes (10^6) per second; x boto3 = boto3 wall / ecrup wall; CPU/GB =\n"
    "client CPU-seconds (user+sys, the server excluded) per 10^9 layer bytes; floor and\n"
    "x floor as above; RSS = the client's peak resident set; req/retry = HTTP requests\n"
    "and retried attempts counted from the engine's INFO log; duty = the WAN link model's\n"
    "ideal time / ecrup's wall time.\n";

static double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static unsigned online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static int run_boto3(const struct bench_opts *o, const char *url, const char *ca,
                     const struct bench_layer_file *files, size_t n, bool digest_known,
                     double *wall, double *cpu, double *retries, char *err, size_t err_len)
{
    const char *script = o->boto3_script;
    size_t argc = 0, cap = n + 10;
    const char **argv = calloc(cap, sizeof *argv);
    char **owned = calloc(n, sizeof *owned);
    if (!argv || !owned) {
        free((void *)argv);
        free(owned);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    argv[argc++] = o->python;
    argv[argc++] = script;
    argv[argc++] = "--endpoint";
    argv[argc++] = url;
    if (ca) {
        argv[argc++] = "--ca-bundle";
        argv[argc++] = ca;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(files[i].path) + 80;
        owned[i] = malloc(len);
        if (!owned[i])
            break;
        if (digest_known)
            snprintf(owned[i], len, "%s=%s", files[i].path, files[i].digest);
        else
            snprintf(owned[i], len, "%s", files[i].path);
        argv[argc++] = owned[i];
    }
    argv[argc] = NULL;
    char out[4096];
    struct rusage ru;
    int rc = bench_run(argv, out, sizeof out, &ru);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free((void *)argv);
    cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
    const cJSON *wj = cJSON_GetObjectItemCaseSensitive(j, "wall_s");
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(j, "layers");
    if (!cJSON_IsNumber(wj) || !cJSON_IsNumber(lj) || (size_t)lj->valuedouble != n) {
        snprintf(err, err_len, "the boto3 baseline failed (exit %d)", rc);
        cJSON_Delete(j);
        return -1;
    }
    *wall = wj->valuedouble;
    const cJSON *rj = cJSON_GetObjectItemCaseSensitive(j, "retries");
    *retries = cJSON_IsNumber(rj) ? rj->valuedouble : 0;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    cJSON_Delete(j);
    return 0;
}

static void measure(const struct bench_opts *o, struct bench_result *res,
                    struct bench_layer_file *files, const char *ca, const char *cert,
                    const char *key)
{
    const struct bench_workload *w = &res->w;
    double gb = (double)res->bytes / 1e9;
    struct bench_server_config sc = {
        .ecrup = o->ecrup,
        .tls_cert = w->tls ? cert : NULL,
        .tls_key = w->tls ? key : NULL,
        .delay_ms = w->faults ? w->delay_ms : 0,
        .bandwidth = w->faults ? w->bandwidth : 0,
        .quotas = w->quotas,
        .log = o->server_log,
    };
    res->loadavg = load_average();
    for (unsigned run = 0; run < o->runs; run++) {
        fprintf(stderr, "  %s: run %u/%u: floor", w->name, run + 1, o->runs);
        double floor_cpu = bench_floor(files, res->layers, w->digest_known, BENCH_PART_SIZE);
        if (floor_cpu <= 0) {
            snprintf(res->error, sizeof res->error, "could not read the layers for the floor");
            res->failures++;
            return;
        }
        bench_series_add(&res->floor_gb, floor_cpu / gb);
        bench_series_add(&res->ceiling, (double)online_cores() / (floor_cpu / gb) * 1000.0);

        fprintf(stderr, ", ecrup");
        struct bench_server srv;
        char err[256];
        if (bench_server_start(&sc, &srv, err, sizeof err)) {
            snprintf(res->error, sizeof res->error, "%s", err);
            res->failures++;
            return;
        }
        struct bench_ecrup_config ec = {
            .endpoint_url = srv.url,
            .ca_bundle = w->tls ? ca : NULL,
            .digest_known = w->digest_known,
        };
        struct bench_ecrup_run er;
        bench_ecrup(&ec, files, res->layers, &er);
        char died[128];
        double server_cpu = bench_server_stop(&srv, died, sizeof died);
        if (er.status != 0 || er.layers_uploaded != res->layers) {
            snprintf(res->error, sizeof res->error, "ecrup run failed (status %d): %s%s%s",
                     er.status, er.message, died[0] ? "; " : "", died);
            res->failures++;
            fprintf(stderr, ": %s\n", res->error);
            return;
        }
        double cpu_gb = (er.user_s + er.sys_s) / gb;
        bench_series_add(&res->wall, er.wall_s);
        bench_series_add(&res->mbps, (double)res->bytes / 1e6 / er.wall_s);
        bench_series_add(&res->cpu_gb, cpu_gb);
        bench_series_add(&res->multiple, cpu_gb / (floor_cpu / gb));
        bench_series_add(&res->rss, er.peak_rss_mib);
        bench_series_add(&res->requests, er.requests);
        bench_series_add(&res->retries, er.retries);
        if (server_cpu >= 0)
            bench_series_add(&res->server_cpu_gb, server_cpu / gb);
        if (w->faults)
            bench_series_add(&res->duty, res->ideal_s / er.wall_s);
        fprintf(stderr, " %.2f s", er.wall_s);

        if (w->boto3 && !o->no_boto3) {
            fprintf(stderr, ", boto3");
            if (bench_server_start(&sc, &srv, err, sizeof err)) {
                snprintf(res->error, sizeof res->error, "%s", err);
                res->failures++;
                fprintf(stderr, "\n");
                return;
            }
            double bw = 0, bcpu = 0, bretries = 0;
            int rc = run_boto3(o, srv.url, w->tls ? ca : NULL, files, res->layers, w->digest_known,
                               &bw, &bcpu, &bretries, err, sizeof err);
            char bdied[128];
            bench_server_stop(&srv, bdied, sizeof bdied);
            if (rc) {
                snprintf(res->error, sizeof res->error, "%s%s%s", err, bdied[0] ? "; " : "", bdied);
                res->failures++;
                fprintf(stderr, ": %s\n", err);
                return;
            }
            bench_series_add(&res->b_wall, bw);
            bench_series_add(&res->b_mbps, (double)res->bytes / 1e6 / bw);
            bench_series_add(&res->b_cpu_gb, bcpu / gb);
            bench_series_add(&res->b_retries, bretries);
            bench_series_add(&res->ratio, bw / er.wall_s);
            fprintf(stderr, " %.2f s", bw);
        }
        fprintf(stderr, "\n");
    }
}

/* ---- setup ---- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t load_workloads(const struct bench_opts *o, struct bench_result *res)
{
    DIR *d = opendir(o->workloads);
    if (!d) {
        fprintf(stderr, "ecrup-bench: %s: %s\n", o->workloads, strerror(errno));
        return 0;
    }
    char *names[BENCH_MAX_WORKLOADS];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < BENCH_MAX_WORKLOADS) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0)
            names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof names[0], name_cmp);
    size_t n = 0;
    for (size_t i = 0; i < nn; i++) {
        char path[PATH_MAX], err[512];
        snprintf(path, sizeof path, "%s/%s", o->workloads, names[i]);
        free(names[i]);
        struct bench_result *r = &res[n];
        memset(r, 0, sizeof *r);
        if (bench_workload_load(path, &r->w, err, sizeof err)) {
            fprintf(stderr, "ecrup-bench: %s\n", err);
            exit(2);
        }
        bool wanted = o->n_only ? false : r->w.quick == (o->quick != 0);
        for (unsigned k = 0; k < o->n_only; k++)
            if (strcmp(o->only[k], r->w.name) == 0)
                wanted = true;
        if (!wanted) {
            bench_workload_cleanup(&r->w);
            continue;
        }
        r->layers = bench_workload_layers(&r->w);
        r->bytes = bench_workload_bytes(&r->w);
        r->quota_s = bench_workload_quota_bound(&r->w, BENCH_PART_SIZE);
        if (r->w.faults)
            r->ideal_s = bench_workload_wan_ideal(
                &r->w, online_cores() * 4 > 4 ? online_cores() * 4 : 4, BENCH_PART_SIZE);
        n++;
    }
    return n;
}

static void default_paths(struct bench_opts *o)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = 0;
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = 0;
        snprintf(o->self_dir, sizeof o->self_dir, "%s", self);
    } else {
        snprintf(o->self_dir, sizeof o->self_dir, ".");
    }
    snprintf(o->ecrup, sizeof o->ecrup, "%s/ecrup", o->self_dir);
}

/* The command line into `o`, with the defaults. Returns -1 to go on, else the exit status
 * (after --help, or a usage error said on stderr). */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    static const struct option longopts[] = {{"workloads", required_argument, NULL, 'w'},
                                             {"runs", required_argument, NULL, 'r'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"only", required_argument, NULL, 'n'},
                                             {"quick", no_argument, NULL, 'q'},
                                             {"no-boto3", no_argument, NULL, 'B'},
                                             {"ecrup", required_argument, NULL, 'e'},
                                             {"python", required_argument, NULL, 'p'},
                                             {"boto3-script", required_argument, NULL, 'b'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    opterr = 0; /* the errors below say what to do instead */
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            o->workloads = optarg;
            break;
        case 'r': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 1 || v > BENCH_MAX_RUNS) {
                fprintf(stderr, "ecrup-bench: --runs takes 1..%d\n", BENCH_MAX_RUNS);
                return 2;
            }
            o->runs = (unsigned)v;
            break;
        }
        case 'o':
            o->out = optarg;
            break;
        case 'n':
            if (o->n_only < BENCH_MAX_WORKLOADS)
                o->only[o->n_only++] = optarg;
            break;
        case 'q':
            o->quick = 1;
            break;
        case 'B':
            o->no_boto3 = 1;
            break;
        case 'e':
            snprintf(o->ecrup, sizeof o->ecrup, "%s", optarg);
            break;
        case 'p':
            o->python = optarg;
            break;
        case 'b':
            o->boto3_script = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "ecrup-bench: option %s needs a value; see 'ecrup-bench --help'\n",
                    argv[optind - 1]);
            return 2;
        default: {
            const char *arg = argv[optind - 1];
            const char *names[sizeof longopts / sizeof longopts[0]];
            char spelt[sizeof longopts / sizeof longopts[0]][24];
            size_t n = 0;
            for (const struct option *lo = longopts; lo->name; lo++, n++) {
                snprintf(spelt[n], sizeof spelt[n], "--%s", lo->name);
                names[n] = spelt[n];
            }
            names[n] = NULL;
            struct suggest s;
            suggest_init(&s, arg, strcspn(arg, "="));
            suggest_consider(&s, names);
            if (suggest_result(&s))
                fprintf(stderr,
                        "ecrup-bench: unknown option '%s'; did you mean '%s'? see 'ecrup-bench "
                        "--help'\n",
                        arg, suggest_result(&s));
            else
                fprintf(stderr, "ecrup-bench: unknown option '%s'; see 'ecrup-bench --help'\n",
                        arg);
            return 2;
        }
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (!o->runs)
        o->runs = o->quick ? 1 : 3;
    static char wdefault[PATH_MAX];
    if (!o->workloads) {
#ifdef ECRUP_BENCH_SOURCE_DIR
        snprintf(wdefault, sizeof wdefault, "%s/bench/workloads", ECRUP_BENCH_SOURCE_DIR);
#else
        snprintf(wdefault, sizeof wdefault, "bench/workloads");
#endif
        o->workloads = wdefault;
    }
    static char sdefault[PATH_MAX];
    if (!o->boto3_script) {
#ifdef ECRUP_BENCH_SOURCE_DIR
        snprintf(sdefault, sizeof sdefault, "%s/bench/boto3_baseline.py", ECRUP_BENCH_SOURCE_DIR);
#else
        snprintf(sdefault, sizeof sdefault, "bench/boto3_baseline.py");
#endif
        o->boto3_script = sdefault;
    }
    if (!o->out)
        o->out = "build/bench-results";
    if (access(o->ecrup, X_OK)) {
        fprintf(stderr, "ecrup-bench: %s is not executable (use --ecrup PATH)\n", o->ecrup);
        return 2;
    }
    return -1;
}

/* `dir` and the directories above it. */
static void make_dirs(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);
}

/* One key pair for the server, the engine and boto3; nothing else from the caller's AWS
 * configuration may leak in. */
static void isolate_aws_env(struct bench_opts *o)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIDECRUPBENCH000001", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ecrup-bench-local-secret-not-a-real-key", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    char empty[PATH_MAX + 16];
    snprintf(empty, sizeof empty, "%s/aws-config-empty", o->out);
    FILE *ef = fopen(empty, "w");
    if (ef)
        fclose(ef);
    setenv("AWS_CONFIG_FILE", empty, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", empty, 1);
    snprintf(o->server_log, sizeof o->server_log, "%s/serve.log", o->out);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

/* The private CA and the server's certificate (PATH_MAX buffers, left "" when no workload
 * is HTTPS), made once. Returns 0, or -1 after saying why on stderr. */
static int make_tls(const struct bench_opts *o, const struct bench_result *res, size_t n, char *ca,
                    char *cert, char *key)
{
    ca[0] = cert[0] = key[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].w.tls) {
            char dir[PATH_MAX], err[256];
            snprintf(dir, sizeof dir, "%s/tls", o->out);
            if (bench_make_tls(dir, ca, cert, key, PATH_MAX, err, sizeof err)) {
                fprintf(stderr, "ecrup-bench: %s\n", err);
                return -1;
            }
            break;
        }
    }
    return 0;
}

/* Make (or reuse) the layers of one workload under `layer_dir` and measure it; a failure is
 * recorded in `r`. Returns -1 only when out of memory. */
static int run_workload(const struct bench_opts *o, struct bench_result *r, const char *layer_dir,
                        const char *ca, const char *cert, const char *key)
{
    struct bench_layer_file *files = calloc(r->layers, sizeof *files);
    if (!files)
        return -1;
    char err[512] = "";
    unsigned k = 0;
    int bad = 0;
    for (size_t g = 0; !bad && g < r->w.n_groups; g++)
        for (unsigned j = 0; !bad && j < r->w.groups[g].count; j++, k++)
            bad = bench_layer_prepare(layer_dir, r->w.groups[g].size, j, &files[k], err,
                                      sizeof err) ||
                  (r->w.digest_known && bench_layer_digest(&files[k], err, sizeof err));
    if (bad) {
        snprintf(r->error, sizeof r->error, "%s", err);
        r->failures++;
    } else {
        fprintf(stderr, "%s: %u layer(s), %.1f MB%s\n", r->w.name, r->layers,
                (double)r->bytes / 1e6, r->w.faults ? " (WAN emulation)" : "");
        measure(o, r, files, ca, cert, key);
    }
    free(files);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_opts o = {.runs = 0, .python = "python3"};
    default_paths(&o);
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    static struct bench_result res[BENCH_MAX_WORKLOADS];
    size_t n = load_workloads(&o, res);
    if (!n) {
        fprintf(stderr, "ecrup-bench: no workload selected in %s\n", o.workloads);
        return 2;
    }
    make_dirs(o.out);
    isolate_aws_env(&o);
    char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    if (make_tls(&o, res, n, ca, cert, key) != 0)
        return 1;

    struct bench_host host = {.cores = online_cores()};
    time_t now = time(NULL);
    strftime(host.started, sizeof host.started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    host.load_start = load_average();
    fprintf(stderr, "ecrup-bench: %zu workload(s), %u run(s) each, %u core(s), load %.2f\n", n,
            o.runs, host.cores, host.load_start);
    int failed = 0;
    char layer_dir[PATH_MAX];
    snprintf(layer_dir, sizeof layer_dir, "%s/layers", o.out);
    for (size_t i = 0; i < n; i++) {
        if (run_workload(&o, &res[i], layer_dir, ca, cert, key) != 0)
            return 1;
        failed += res[i].failures != 0;
    }
    host.load_end = load_average();
    bench_print_table(&o, res, n);
    bench_print_notes(res, n);
    rc = bench_write_results(&o, &host, res, n);
    printf("results: %s/results.json\n", o.out);
    bench_write_chart(&o, &host, res, n);
    for (size_t i = 0; i < n; i++)
        bench_workload_cleanup(&res[i].w);
    return failed || rc ? 1 : 0;
}
