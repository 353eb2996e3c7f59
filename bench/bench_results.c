/* results.json, the machine-readable record of a harness run. See bench_results.h. */
#include "bench_results.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>

static cJSON *series_json(const struct bench_series *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!s->n)
        return o;
    cJSON_AddNumberToObject(o, "median", bench_median(s));
    cJSON_AddNumberToObject(o, "min", bench_min(s));
    cJSON_AddNumberToObject(o, "max", bench_max(s));
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    for (unsigned i = 0; i < s->n; i++)
        cJSON_AddItemToArray(runs, cJSON_CreateNumber(s->v[i]));
    return o;
}

int bench_write_results(const struct bench_opts *o, const struct bench_host *h,
                        const struct bench_result *res, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "format", 1);
    cJSON_AddStringToObject(root, "started", h->started);
    cJSON_AddNumberToObject(root, "runs", o->runs);
    cJSON_AddBoolToObject(root, "quick", o->quick);
    cJSON *host = cJSON_AddObjectToObject(root, "host");
    cJSON_AddNumberToObject(host, "cores", h->cores);
    cJSON_AddNumberToObject(host, "loadavg_start", h->load_start);
    cJSON_AddNumberToObject(host, "loadavg_end", h->load_end);
    struct utsname u;
    if (uname(&u) == 0)
        cJSON_AddStringToObject(host, "kernel", u.release);
    cJSON_AddNumberToObject(root, "part_size", BENCH_PART_SIZE);
    cJSON *arr = cJSON_AddArrayToObject(root, "workloads");
    for (size_t i = 0; i < n; i++) {
        const struct bench_result *r = &res[i];
        cJSON *w = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, w);
        cJSON_AddStringToObject(w, "name", r->w.name);
        cJSON_AddStringToObject(w, "description", r->w.description);
        cJSON_AddNumberToObject(w, "layers", r->layers);
        cJSON_AddNumberToObject(w, "bytes", (double)r->bytes);
        cJSON_AddStringToObject(w, "digest", r->w.digest_known ? "known" : "computed");
        cJSON_AddStringToObject(w, "transport", r->w.tls ? "https" : "http");
        cJSON_AddStringToObject(w, "quotas", r->w.quotas ? "ecr" : "off");
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
            cJSON_AddItemToObject(b, "retries", series_json(&r->b_retries));
        }
        if (r->w.faults) {
            cJSON *x = cJSON_AddObjectToObject(w, "wan");
            cJSON_AddNumberToObject(x, "delay_ms", r->w.delay_ms);
            cJSON_AddNumberToObject(x, "bandwidth", (double)r->w.bandwidth);
            cJSON_AddNumberToObject(x, "ideal_s", r->ideal_s);
            cJSON_AddItemToObject(x, "duty_cycle", series_json(&r->duty));
        }
        struct bench_target_eval t[BENCH_MAX_TARGETS];
        size_t nt = bench_evaluate_targets(r, t);
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
