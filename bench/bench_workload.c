/* Workload files: parsed with cJSON, every member checked, unknown members refused so a typo
 * does not silently measure something else; and what a workload adds up to (layers, bytes,
 * the least time its link model and ECR's quotas allow). */
#include "bench_workload.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bench_parse_size(const char *s, uint64_t *out)
{
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -1;
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"", 1},           {"B", 1},        {"KiB", 1024},     {"MiB", 1048576},
                 {"GiB", 1u << 30}, {"K", 1024},     {"M", 1048576},    {"G", 1u << 30},
                 {"KB", 1000},      {"MB", 1000000}, {"GB", 1000000000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return -1;
            *out = (uint64_t)v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

static int size_member(const cJSON *item, uint64_t *out)
{
    if (cJSON_IsNumber(item) && item->valuedouble >= 0 && item->valuedouble < 1e18) {
        *out = (uint64_t)item->valuedouble;
        return 0;
    }
    if (cJSON_IsString(item))
        return bench_parse_size(item->valuestring, out);
    return -1;
}

static int fail(char *err, size_t err_len, const char *path, const char *what)
{
    snprintf(err, err_len, "%s: %s", path, what);
    return -1;
}

static int load_targets(const cJSON *t, struct bench_targets *out, char *err, size_t err_len,
                        const char *path)
{
    const struct {
        const char *key;
        double *field;
    } keys[] = {{"boto3_ratio_min", &out->boto3_ratio_min},
                {"floor_multiple_max", &out->floor_multiple_max},
                {"mbps_min", &out->mbps_min},
                {"duty_cycle_min", &out->duty_cycle_min},
                {"rss_mib_max", &out->rss_mib_max}};
    const cJSON *m;
    cJSON_ArrayForEach(m, t)
    {
        size_t i = 0;
        for (; i < sizeof keys / sizeof keys[0]; i++)
            if (strcmp(m->string, keys[i].key) == 0)
                break;
        if (i == sizeof keys / sizeof keys[0] || !cJSON_IsNumber(m) || m->valuedouble <= 0)
            return fail(err, err_len, path, "targets: unknown member or not a positive number");
        *keys[i].field = m->valuedouble;
    }
    return 0;
}

int bench_workload_load(const char *path, struct bench_workload *w, char *err, size_t err_len)
{
    memset(w, 0, sizeof *w);
    w->boto3 = true;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, err_len, path, strerror(errno));
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *root = cJSON_Parse(buf);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(err, err_len, path, "not a JSON object");
    }
    int rc = -1;
    const cJSON *m;
    cJSON_ArrayForEach(m, root)
    {
        const char *k = m->string;
        if (strcmp(k, "name") == 0 && cJSON_IsString(m) && m->valuestring[0] &&
            strlen(m->valuestring) < sizeof w->name &&
            strspn(m->valuestring, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789-_.") == strlen(m->valuestring)) {
            snprintf(w->name, sizeof w->name, "%s", m->valuestring);
        } else if (strcmp(k, "description") == 0 && cJSON_IsString(m)) {
            snprintf(w->description, sizeof w->description, "%s", m->valuestring);
        } else if (strcmp(k, "digest") == 0 && cJSON_IsString(m) &&
                   (strcmp(m->valuestring, "known") == 0 ||
                    strcmp(m->valuestring, "computed") == 0)) {
            w->digest_known = strcmp(m->valuestring, "known") == 0;
        } else if (strcmp(k, "tls") == 0 && cJSON_IsBool(m)) {
            w->tls = cJSON_IsTrue(m);
        } else if (strcmp(k, "boto3") == 0 && cJSON_IsBool(m)) {
            w->boto3 = cJSON_IsTrue(m);
        } else if (strcmp(k, "quotas") == 0 && cJSON_IsString(m) &&
                   (strcmp(m->valuestring, "ecr") == 0 || strcmp(m->valuestring, "off") == 0)) {
            w->quotas = strcmp(m->valuestring, "ecr") == 0;
        } else if (strcmp(k, "quick") == 0 && cJSON_IsBool(m)) {
            w->quick = cJSON_IsTrue(m);
        } else if (strcmp(k, "faults") == 0 && cJSON_IsObject(m)) {
            w->faults = true;
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "delay_ms");
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "bandwidth");
            if (cJSON_GetArraySize(m) != (d != NULL) + (b != NULL))
                goto bad_faults;
            if (d) {
                if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 60000)
                    goto bad_faults;
                w->delay_ms = (unsigned)d->valuedouble;
            }
            if (b && size_member(b, &w->bandwidth))
                goto bad_faults;
        } else if (strcmp(k, "layers") == 0 && cJSON_IsArray(m) && cJSON_GetArraySize(m) > 0) {
            w->n_groups = (size_t)cJSON_GetArraySize(m);
            w->groups = calloc(w->n_groups, sizeof *w->groups);
            if (!w->groups)
                goto out;
            size_t i = 0;
            const cJSON *g;
            cJSON_ArrayForEach(g, m)
            {
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(g, "count");
                const cJSON *s = cJSON_GetObjectItemCaseSensitive(g, "size");
                uint64_t size = 0;
                if (!cJSON_IsNumber(c) || c->valuedouble < 1 || c->valuedouble > 100000 || !s ||
                    size_member(s, &size) || size == 0 || cJSON_GetArraySize(g) != 2) {
                    fail(err, err_len, path, "layers: each entry is {\"count\": N, \"size\": S}");
                    goto out;
                }
                w->groups[i].count = (unsigned)c->valuedouble;
                w->groups[i].size = size;
                i++;
            }
        } else if (strcmp(k, "targets") == 0 && cJSON_IsObject(m)) {
            if (load_targets(m, &w->targets, err, err_len, path))
                goto out;
        } else {
            snprintf(err, err_len, "%s: member '%s' is unknown or has the wrong type", path, k);
            goto out;
        }
    }
    if (!w->name[0] || !w->groups) {
        fail(err, err_len, path, "'name' and 'layers' are required");
        goto out;
    }
    rc = 0;
    goto out;
bad_faults:
    fail(err, err_len, path, "faults: {\"delay_ms\": MS, \"bandwidth\": SIZE per second}");
out:
    cJSON_Delete(root);
    if (rc)
        bench_workload_cleanup(w);
    return rc;
}

void bench_workload_cleanup(struct bench_workload *w)
{
    free(w->groups);
    w->groups = NULL;
    w->n_groups = 0;
}

unsigned bench_workload_layers(const struct bench_workload *w)
{
    unsigned n = 0;
    for (size_t i = 0; i < w->n_groups; i++)
        n += w->groups[i].count;
    return n;
}

uint64_t bench_workload_bytes(const struct bench_workload *w)
{
    uint64_t n = 0;
    for (size_t i = 0; i < w->n_groups; i++)
        n += (uint64_t)w->groups[i].count * w->groups[i].size;
    return n;
}

/* The emulated link: every reply waits `delay`, every connection carries `bandwidth` body
 * bytes/s, the parts of one layer go one after the other on one connection (the server
 * refuses overlapping parts of an upload), layers run in parallel up to the engine's
 * concurrency. Ideal = one availability check + the longest layer's chain, or the total over
 * the connections when that is longer. */
double bench_workload_wan_ideal(const struct bench_workload *w, unsigned concurrency,
                                uint64_t part_size)
{
    double d = w->delay_ms / 1000.0;
    double longest = 0, total = 0;
    for (size_t g = 0; g < w->n_groups; g++) {
        uint64_t size = w->groups[g].size;
        uint64_t parts = (size + part_size - 1) / part_size;
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
double bench_workload_quota_bound(const struct bench_workload *w, uint64_t part_size)
{
    double layers = bench_workload_layers(w), parts = 0;
    for (size_t g = 0; g < w->n_groups; g++)
        parts +=
            (double)w->groups[g].count * (double)((w->groups[g].size + part_size - 1) / part_size);
    /* A full bucket of one second's worth (ecrup serve --quotas, docs/server.md) goes first. */
    return fmax(fmax(layers / 100.0 - 1, parts / 500.0 - 1), 0);
}
