/* ecrup-bench: runs every workload in bench/workloads/ against a local `ecrup serve --sink`
 * it starts itself, measures libecrup in-process (in a forked child, for clean getrusage and
 * peak RSS), the SHA-256 floor on the same bytes and the boto3 baseline, and writes a table,
 * a JSON results file and a gnuplot chart. Run `ecrup-bench --help`. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_measure.h"
#include "bench_proc.h"
#include "bench_workload.h"

#define MAX_RUNS      50
#define MAX_WORKLOADS 64
#define PART_SIZE     (10u << 20) /* the partSize ecrup serve returns by default */

static const char usage[] =
    "Usage: ecrup-bench [--workloads DIR] [--runs N] [--out DIR] [--only NAME]... [--quick]\n"
    "                   [--no-boto3] [--ecrup PATH] [--python PATH] [--boto3-script PATH]\n"
    "\n"
    "Measures libecrup pushing layers to a local 'ecrup serve --sink' that the harness starts\n"
    "for every measurement (plain HTTP, HTTPS with a private CA made by the openssl CLI, or\n"
    "with --faults delay and bandwidth for WAN emulation, as each workload says), and puts\n"
    "next to it, in the same run and on the same bytes:\n"
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

struct series {
    double v[MAX_RUNS];
    unsigned n;
};

static void add(struct series *s, double v)
{
    if (s->n < MAX_RUNS)
        s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const struct series *s)
{
    if (!s->n)
        return NAN;
    double t[MAX_RUNS];
    memcpy(t, s->v, s->n * sizeof t[0]);
    qsort(t, s->n, sizeof t[0], cmp_double);
    return s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}

static double smin(const struct series *s)
{
    double m = INFINITY;
    for (unsigned i = 0; i < s->n; i++)
        m = fmin(m, s->v[i]);
    return s->n ? m : NAN;
}

static double smax(const struct series *s)
{
    double m = -INFINITY;
    for (unsigned i = 0; i < s->n; i++)
        m = fmax(m, s->v[i]);
    return s->n ? m : NAN;
}

/* Everything measured for one workload. */
struct result {
    struct bench_workload w;
    unsigned layers;
    uint64_t bytes;
    double ideal_s; /* WAN link model; 0 without faults */
    double quota_s; /* the least time ECR's request quotas allow */
    double loadavg;
    struct series wall, mbps, cpu_gb, rss, requests, retries, server_cpu_gb;
    struct series floor_gb, ceiling, multiple;
    struct series b_wall, b_mbps, b_cpu_gb, ratio;
    struct series duty;
    int failures;
    char error[800];
};

struct opts {
    const char *workloads;
    unsigned runs;
    const char *out;
    const char *only[MAX_WORKLOADS];
    unsigned n_only;
    int quick;
    int no_boto3;
    char ecrup[PATH_MAX + 8];
    const char *python;
    const char *boto3_script;
    char server_log[PATH_MAX + 16];
    char self_dir[PATH_MAX];
};

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

/* The emulated link: every reply waits `delay`, every connection carries `bandwidth` body
 * bytes/s, the parts of one layer go one after the other on one connection (the server
 * refuses overlapping parts of an upload), layers run in parallel up to the engine's
 * concurrency. Ideal = one availability check + the longest layer's chain, or the total over
 * the connections when that is longer. */
static double wan_ideal(const struct bench_workload *w, unsigned concurrency)
{
    double d = w->delay_ms / 1000.0;
    double longest = 0, total = 0;
    for (size_t g = 0; g < w->n_groups; g++) {
        uint64_t size = w->groups[g].size;
        uint64_t parts = (size + PART_SIZE - 1) / PART_SIZE;
        double body = 4.0 * (double)((size + 2) / 3) + 200.0 * (double)parts;
        double chain = (double)(parts + 2) * d + (w->bandwidth ? body / (double)w->bandwidth : 0);
        longest = fmax(longest, chain);
        total += chain * w->groups[g].count;
    }
    unsigned layers = bench_workload_layers(w);
    unsigned c = layers < concurrency ? layers : concurrency;
    return d + fmax(longest, total / c);
}

/* ECR's API quotas, which the engine keeps to on its side (InitiateLayerUpload and
 * CompleteLayerUpload 100/s, UploadLayerPart 500/s): the least time the request rate allows. */
static double quota_bound(const struct bench_workload *w)
{
    double layers = bench_workload_layers(w), parts = 0;
    for (size_t g = 0; g < w->n_groups; g++)
        parts +=
            (double)w->groups[g].count * (double)((w->groups[g].size + PART_SIZE - 1) / PART_SIZE);
    return fmax(layers / 100.0, parts / 500.0);
}

static int run_boto3(const struct opts *o, const char *url, const char *ca,
                     const struct bench_layer_file *files, size_t n, bool digest_known,
                     double *wall, double *cpu, char *err, size_t err_len)
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
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    cJSON_Delete(j);
    return 0;
}

static void measure(const struct opts *o, struct result *res, struct bench_layer_file *files,
                    const char *ca, const char *cert, const char *key)
{
    const struct bench_workload *w = &res->w;
    double gb = (double)res->bytes / 1e9;
    struct bench_server_config sc = {
        .ecrup = o->ecrup,
        .tls_cert = w->tls ? cert : NULL,
        .tls_key = w->tls ? key : NULL,
        .delay_ms = w->faults ? w->delay_ms : 0,
        .bandwidth = w->faults ? w->bandwidth : 0,
        .log = o->server_log,
    };
    res->loadavg = load_average();
    for (unsigned run = 0; run < o->runs; run++) {
        fprintf(stderr, "  %s: run %u/%u: floor", w->name, run + 1, o->runs);
        double floor_cpu = bench_floor(files, res->layers, w->digest_known, PART_SIZE);
        if (floor_cpu <= 0) {
            snprintf(res->error, sizeof res->error, "could not read the layers for the floor");
            res->failures++;
            return;
        }
        add(&res->floor_gb, floor_cpu / gb);
        add(&res->ceiling, (double)online_cores() / (floor_cpu / gb) * 1000.0);

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
        add(&res->wall, er.wall_s);
        add(&res->mbps, (double)res->bytes / 1e6 / er.wall_s);
        add(&res->cpu_gb, cpu_gb);
        add(&res->multiple, cpu_gb / (floor_cpu / gb));
        add(&res->rss, er.peak_rss_mib);
        add(&res->requests, er.requests);
        add(&res->retries, er.retries);
        if (server_cpu >= 0)
            add(&res->server_cpu_gb, server_cpu / gb);
        if (w->faults)
            add(&res->duty, res->ideal_s / er.wall_s);
        fprintf(stderr, " %.2f s", er.wall_s);

        if (w->boto3 && !o->no_boto3) {
            fprintf(stderr, ", boto3");
            if (bench_server_start(&sc, &srv, err, sizeof err)) {
                snprintf(res->error, sizeof res->error, "%s", err);
                res->failures++;
                fprintf(stderr, "\n");
                return;
            }
            double bw = 0, bcpu = 0;
            int rc = run_boto3(o, srv.url, w->tls ? ca : NULL, files, res->layers, w->digest_known,
                               &bw, &bcpu, err, sizeof err);
            char bdied[128];
            bench_server_stop(&srv, bdied, sizeof bdied);
            if (rc) {
                snprintf(res->error, sizeof res->error, "%s%s%s", err, bdied[0] ? "; " : "", bdied);
                res->failures++;
                fprintf(stderr, ": %s\n", err);
                return;
            }
            add(&res->b_wall, bw);
            add(&res->b_mbps, (double)res->bytes / 1e6 / bw);
            add(&res->b_cpu_gb, bcpu / gb);
            add(&res->ratio, bw / er.wall_s);
            fprintf(stderr, " %.2f s", bw);
        }
        fprintf(stderr, "\n");
    }
}

/* ---- output ---- */

static cJSON *series_json(const struct series *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!s->n)
        return o;
    cJSON_AddNumberToObject(o, "median", median(s));
    cJSON_AddNumberToObject(o, "min", smin(s));
    cJSON_AddNumberToObject(o, "max", smax(s));
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    for (unsigned i = 0; i < s->n; i++)
        cJSON_AddItemToArray(runs, cJSON_CreateNumber(s->v[i]));
    return o;
}

struct target_eval {
    const char *name;
    const char *op;
    double want, got;
    int met;
};

static size_t evaluate_targets(const struct result *r, struct target_eval *t)
{
    const struct bench_targets *tg = &r->w.targets;
    size_t n = 0;
    if (tg->boto3_ratio_min > 0 && r->ratio.n)
        t[n++] = (struct target_eval){"boto3 wall / ecrup wall", ">=", tg->boto3_ratio_min,
                                      median(&r->ratio), median(&r->ratio) >= tg->boto3_ratio_min};
    if (tg->floor_multiple_max > 0 && r->multiple.n)
        t[n++] = (struct target_eval){"client CPU / floor", "<=", tg->floor_multiple_max,
                                      median(&r->multiple),
                                      median(&r->multiple) <= tg->floor_multiple_max};
    if (tg->mbps_min > 0 && r->mbps.n)
        t[n++] = (struct target_eval){"MB/s", ">=", tg->mbps_min, median(&r->mbps),
                                      median(&r->mbps) >= tg->mbps_min};
    if (tg->duty_cycle_min > 0 && r->duty.n)
        t[n++] = (struct target_eval){"duty cycle", ">=", tg->duty_cycle_min, median(&r->duty),
                                      median(&r->duty) >= tg->duty_cycle_min};
    if (tg->rss_mib_max > 0 && r->rss.n)
        t[n++] = (struct target_eval){"peak RSS MiB", "<=", tg->rss_mib_max, smax(&r->rss),
                                      smax(&r->rss) <= tg->rss_mib_max};
    return n;
}

static int write_json(const struct opts *o, struct result *res, size_t n, double load0,
                      double load1, const char *started)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "format", 1);
    cJSON_AddStringToObject(root, "started", started);
    cJSON_AddNumberToObject(root, "runs", o->runs);
    cJSON_AddBoolToObject(root, "quick", o->quick);
    cJSON *host = cJSON_AddObjectToObject(root, "host");
    cJSON_AddNumberToObject(host, "cores", online_cores());
    cJSON_AddNumberToObject(host, "loadavg_start", load0);
    cJSON_AddNumberToObject(host, "loadavg_end", load1);
    struct utsname u;
    if (uname(&u) == 0)
        cJSON_AddStringToObject(host, "kernel", u.release);
    cJSON_AddNumberToObject(root, "part_size", PART_SIZE);
    cJSON *arr = cJSON_AddArrayToObject(root, "workloads");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        cJSON *w = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, w);
        cJSON_AddStringToObject(w, "name", r->w.name);
        cJSON_AddStringToObject(w, "description", r->w.description);
        cJSON_AddNumberToObject(w, "layers", r->layers);
        cJSON_AddNumberToObject(w, "bytes", (double)r->bytes);
        cJSON_AddStringToObject(w, "digest", r->w.digest_known ? "known" : "computed");
        cJSON_AddStringToObject(w, "transport", r->w.tls ? "https" : "http");
        cJSON_AddNumberToObject(w, "loadavg", r->loadavg);
        cJSON_AddNumberToObject(w, "quota_bound_s", r->quota_s);
        cJSON_AddBoolToObject(w, "ok", r->failures == 0);
        if (r->error[0])
            cJSON_AddStringToObject(w, "error", r->error);
        cJSON *e = cJSON_AddObjectToObject(w, "ecrup");
        cJSON_AddItemToObject(e, "wall_s", series_json(&r->wall));
        cJSON_AddItemToObject(e, "mbps", series_json(&r->mbps));
        cJSON_AddItemToObject(e, "cpu_s_per_gb", series_json(&r->cpu_gb));
        cJSON_AddItemToObject(e, "peak_rss_mib", series_json(&r->rss));
        cJSON_AddItemToObject(e, "requests", series_json(&r->requests));
        cJSON_AddItemToObject(e, "retries", series_json(&r->retries));
        cJSON_AddItemToObject(e, "server_cpu_s_per_gb", series_json(&r->server_cpu_gb));
        cJSON *f = cJSON_AddObjectToObject(w, "floor");
        cJSON_AddItemToObject(f, "cpu_s_per_gb", series_json(&r->floor_gb));
        cJSON_AddItemToObject(f, "ceiling_mbps", series_json(&r->ceiling));
        cJSON_AddItemToObject(f, "ecrup_multiple", series_json(&r->multiple));
        if (r->w.boto3 && !o->no_boto3) {
            cJSON *b = cJSON_AddObjectToObject(w, "boto3");
            cJSON_AddItemToObject(b, "wall_s", series_json(&r->b_wall));
            cJSON_AddItemToObject(b, "mbps", series_json(&r->b_mbps));
            cJSON_AddItemToObject(b, "cpu_s_per_gb", series_json(&r->b_cpu_gb));
            cJSON_AddItemToObject(b, "ratio", series_json(&r->ratio));
        }
        if (r->w.faults) {
            cJSON *x = cJSON_AddObjectToObject(w, "wan");
            cJSON_AddNumberToObject(x, "delay_ms", r->w.delay_ms);
            cJSON_AddNumberToObject(x, "bandwidth", (double)r->w.bandwidth);
            cJSON_AddNumberToObject(x, "ideal_s", r->ideal_s);
            cJSON_AddItemToObject(x, "duty_cycle", series_json(&r->duty));
        }
        struct target_eval t[8];
        size_t nt = evaluate_targets(r, t);
        cJSON *ta = cJSON_AddArrayToObject(w, "targets");
        for (size_t k = 0; k < nt; k++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "what", t[k].name);
            cJSON_AddStringToObject(x, "op", t[k].op);
            cJSON_AddNumberToObject(x, "target", t[k].want);
            cJSON_AddNumberToObject(x, "measured", t[k].got);
            cJSON_AddBoolToObject(x, "met", t[k].met);
            cJSON_AddItemToArray(ta, x);
        }
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/results.json", o->out);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    FILE *f = fopen(path, "w");
    int rc = text && f && fputs(text, f) >= 0 ? 0 : -1;
    if (f && fclose(f))
        rc = -1;
    free(text);
    if (rc)
        fprintf(stderr, "ecrup-bench: could not write %s\n", path);
    return rc;
}

static void print_table(const struct opts *o, const struct result *res, size_t n)
{
    printf("\n%-20s %6s %7s %20s %7s %8s %7s %7s %6s %7s %8s %7s %6s %5s %5s\n", "workload",
           "layers", "MB", "ecrup wall s", "MB/s", "boto3 s", "x boto3", "CPU/GB", "floor",
           "x floor", "ceil MB/s", "RSS MiB", "req", "retry", "duty");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        char wall[32] = "-", duty[16] = "-", boto[16] = "-", ratio[16] = "-";
        if (r->wall.n)
            snprintf(wall, sizeof wall, "%.3f (%.3f-%.3f)", median(&r->wall), smin(&r->wall),
                     smax(&r->wall));
        if (r->duty.n)
            snprintf(duty, sizeof duty, "%.2f", median(&r->duty));
        if (r->b_wall.n) {
            snprintf(boto, sizeof boto, "%.2f", median(&r->b_wall));
            snprintf(ratio, sizeof ratio, "%.1f", median(&r->ratio));
        }
        if (r->failures) {
            printf("%-20s FAILED: %s\n", r->w.name, r->error);
            continue;
        }
        printf("%-20s %6u %7.0f %20s %7.0f %8s %7s %7.3f %6.3f %7.2f %8.0f %7.0f %6.0f %5.0f "
               "%5s\n",
               r->w.name, r->layers, (double)r->bytes / 1e6, wall, median(&r->mbps), boto, ratio,
               median(&r->cpu_gb), median(&r->floor_gb), median(&r->multiple), median(&r->ceiling),
               smax(&r->rss), median(&r->requests), median(&r->retries), duty);
    }
    printf("\n(median of %u run%s; wall spread min-max; RSS is the largest of the runs)\n", o->runs,
           o->runs == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        struct target_eval t[8];
        size_t nt = evaluate_targets(&res[i], t);
        for (size_t k = 0; k < nt; k++)
            printf("target %-20s %-24s %s %-7g measured %-9.3f %s\n", res[i].w.name, t[k].name,
                   t[k].op, t[k].want, t[k].got, t[k].met ? "met" : "MISSED");
    }
}

static void print_notes(const struct result *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        if (r->wall.n && r->quota_s > 0.25 * median(&r->wall))
            printf("note %s: ECR's request quotas (100 initiates/s, 100 completes/s, 500 parts/s),"
                   " which the engine keeps to, allow no less than %.2f s; ecrup took %.2f s\n",
                   r->w.name, r->quota_s, median(&r->wall));
        if (r->w.faults && r->wall.n)
            printf("note %s: the link model (%u ms per reply, %.0f MB/s per connection) allows "
                   "%.2f s; ecrup took %.2f s\n",
                   r->w.name, r->w.delay_ms, (double)r->w.bandwidth / 1e6, r->ideal_s,
                   median(&r->wall));
    }
}

static void write_chart(const struct opts *o, const struct result *res, size_t n)
{
    char dat[PATH_MAX], gp[PATH_MAX], png[PATH_MAX];
    snprintf(dat, sizeof dat, "%s/bench.dat", o->out);
    snprintf(gp, sizeof gp, "%s/bench.gp", o->out);
    snprintf(png, sizeof png, "%s/bench.png", o->out);
    FILE *f = fopen(dat, "w");
    if (!f)
        return;
    fprintf(f, "# workload ecrup_mbps boto3_mbps ceiling_mbps ecrup_cpu_gb floor_cpu_gb "
               "ecrup_mbps_min ecrup_mbps_max\n");
    size_t rows = 0;
    bool any_boto3 = false;
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        if (!r->mbps.n)
            continue;
        fprintf(f, "\"%s\" %.3f %.3f %.3f %.4f %.4f %.3f %.3f\n", r->w.name, median(&r->mbps),
                r->b_mbps.n ? median(&r->b_mbps) : 0.0, median(&r->ceiling), median(&r->cpu_gb),
                median(&r->floor_gb), smin(&r->mbps), smax(&r->mbps));
        rows++;
        any_boto3 = any_boto3 || r->b_mbps.n;
    }
    fclose(f);
    if (!rows)
        return;
    f = fopen(gp, "w");
    if (!f)
        return;
    fprintf(f,
            "set terminal pngcairo size 1200,900 font 'DejaVu Sans,10'\n"
            "set output '%s'\n"
            "set multiplot layout 2,1 title 'ecrup-bench: %u core(s), median of %u run(s), "
            "local ecrup serve --sink' font ',12'\n"
            "set style data histograms\n"
            "set style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\n"
            "set boxwidth 0.9\n"
            "set grid ytics\n"
            "set key top right\n"
            "set xtics rotate by -20 nomirror\n"
            "set title 'Throughput of layer data (MB/s, log scale)'\n"
            "set ylabel 'MB/s'\n"
            "set logscale y\n"
            "set yrange [1:*]\n"
            "plot '%s' using 2:xtic(1) title 'ecrup' lc rgb '#1f77b4', "
            "%s"
            "'' using 4 title 'ceiling (floor on every core)' lc rgb '#999999'\n"
            "set yrange [0.1:*]\n"
            "set title 'Client CPU-seconds per GB (user+sys) against the SHA-256 floor (log "
            "scale)'\n"
            "set ylabel 'CPU-s/GB'\n"
            "plot '%s' using 5:xtic(1) title 'ecrup' lc rgb '#1f77b4', "
            "'' using 6 title 'floor: SHA-256 raw + SHA-256 of base64 body' lc rgb '#999999'\n"
            "unset multiplot\n",
            png, online_cores(), o->runs, dat,
            any_boto3 ? "'' using ($3>0?$3:1/0) title 'boto3' lc rgb '#d62728', " : "", dat);
    fclose(f);
    const char *argv[] = {"gnuplot", gp, NULL};
    char out[256];
    if (bench_run(argv, out, sizeof out, NULL) != 0)
        fprintf(stderr, "ecrup-bench: gnuplot failed or is missing: no chart (%s)\n", gp);
    else
        printf("chart: %s\n", png);
}

/* ---- setup ---- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t load_workloads(const struct opts *o, struct result *res)
{
    DIR *d = opendir(o->workloads);
    if (!d) {
        fprintf(stderr, "ecrup-bench: %s: %s\n", o->workloads, strerror(errno));
        return 0;
    }
    char *names[MAX_WORKLOADS];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < MAX_WORKLOADS) {
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
        struct result *r = &res[n];
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
        r->quota_s = quota_bound(&r->w);
        if (r->w.faults)
            r->ideal_s = wan_ideal(&r->w, online_cores() * 4 > 4 ? online_cores() * 4 : 4);
        n++;
    }
    return n;
}

static void default_paths(struct opts *o)
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

int main(int argc, char **argv)
{
    struct opts o = {.runs = 0, .python = "python3"};
    default_paths(&o);
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
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            o.workloads = optarg;
            break;
        case 'r': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 1 || v > MAX_RUNS) {
                fprintf(stderr, "ecrup-bench: --runs takes 1..%d\n", MAX_RUNS);
                return 2;
            }
            o.runs = (unsigned)v;
            break;
        }
        case 'o':
            o.out = optarg;
            break;
        case 'n':
            if (o.n_only < MAX_WORKLOADS)
                o.only[o.n_only++] = optarg;
            break;
        case 'q':
            o.quick = 1;
            break;
        case 'B':
            o.no_boto3 = 1;
            break;
        case 'e':
            snprintf(o.ecrup, sizeof o.ecrup, "%s", optarg);
            break;
        case 'p':
            o.python = optarg;
            break;
        case 'b':
            o.boto3_script = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (!o.runs)
        o.runs = o.quick ? 1 : 3;
    static char wdefault[PATH_MAX];
    if (!o.workloads) {
#ifdef ECRUP_BENCH_SOURCE_DIR
        snprintf(wdefault, sizeof wdefault, "%s/bench/workloads", ECRUP_BENCH_SOURCE_DIR);
#else
        snprintf(wdefault, sizeof wdefault, "bench/workloads");
#endif
        o.workloads = wdefault;
    }
    static char sdefault[PATH_MAX];
    if (!o.boto3_script) {
#ifdef ECRUP_BENCH_SOURCE_DIR
        snprintf(sdefault, sizeof sdefault, "%s/bench/boto3_baseline.py", ECRUP_BENCH_SOURCE_DIR);
#else
        snprintf(sdefault, sizeof sdefault, "bench/boto3_baseline.py");
#endif
        o.boto3_script = sdefault;
    }
    if (!o.out)
        o.out = "build/bench-results";
    if (access(o.ecrup, X_OK)) {
        fprintf(stderr, "ecrup-bench: %s is not executable (use --ecrup PATH)\n", o.ecrup);
        return 2;
    }
    static struct result res[MAX_WORKLOADS];
    size_t n = load_workloads(&o, res);
    if (!n) {
        fprintf(stderr, "ecrup-bench: no workload selected in %s\n", o.workloads);
        return 2;
    }
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "%s", o.out);
    for (char *p = cmd + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(cmd, 0755);
            *p = '/';
        }
    mkdir(o.out, 0755);

    /* One key pair for the server, the engine and boto3; nothing else from the caller's AWS
       configuration may leak in. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDECRUPBENCH000001", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ecrup-bench-local-secret-not-a-real-key", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    char empty[PATH_MAX + 16];
    snprintf(empty, sizeof empty, "%s/aws-config-empty", o.out);
    FILE *ef = fopen(empty, "w");
    if (ef)
        fclose(ef);
    setenv("AWS_CONFIG_FILE", empty, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", empty, 1);
    snprintf(o.server_log, sizeof o.server_log, "%s/serve.log", o.out);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);

    char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    ca[0] = cert[0] = key[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].w.tls) {
            char dir[PATH_MAX], err[256];
            snprintf(dir, sizeof dir, "%s/tls", o.out);
            if (bench_make_tls(dir, ca, cert, key, sizeof ca, err, sizeof err)) {
                fprintf(stderr, "ecrup-bench: %s\n", err);
                return 1;
            }
            break;
        }
    }

    time_t now = time(NULL);
    char started[64];
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    double load0 = load_average();
    fprintf(stderr, "ecrup-bench: %zu workload(s), %u run(s) each, %u core(s), load %.2f\n", n,
            o.runs, online_cores(), load0);
    int failed = 0;
    char layer_dir[PATH_MAX];
    snprintf(layer_dir, sizeof layer_dir, "%s/layers", o.out);
    for (size_t i = 0; i < n; i++) {
        struct result *r = &res[i];
        struct bench_layer_file *files = calloc(r->layers, sizeof *files);
        if (!files)
            return 1;
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
            measure(&o, r, files, ca, cert, key);
        }
        failed += r->failures != 0;
        free(files);
    }
    double load1 = load_average();
    print_table(&o, res, n);
    print_notes(res, n);
    int rc = write_json(&o, res, n, load0, load1, started);
    printf("results: %s/results.json\n", o.out);
    write_chart(&o, res, n);
    for (size_t i = 0; i < n; i++)
        bench_workload_cleanup(&res[i].w);
    return failed || rc ? 1 : 0;
}
