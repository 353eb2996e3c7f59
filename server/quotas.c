/* Token buckets per operation for `ecrup serve --quotas` (quotas.h). */
#include "server/quotas.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/api.h"

struct quota {
    char operation[48];
    double rate, burst;
    pthread_mutex_t lock;
    /* Guarded by lock. */
    double tokens, last; /* held at `last` */
    unsigned long admitted, throttled;
    long second; /* the one-second window (from the object's start) being counted */
    unsigned long in_second, busiest;
};

struct quotas {
    struct quota *q;
    size_t n;
    double start;
};

/* ECR's default quotas per account and region (its "Service quotas" page). */
static const struct {
    const char *operation;
    double rate;
} ecr_defaults[] = {
    {"UploadLayerPart", 500}, {"InitiateLayerUpload", 100},          {"CompleteLayerUpload", 100},
    {"PutImage", 10},         {"BatchCheckLayerAvailability", 1000}, {"GetAuthorizationToken", 500},
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool known_operation(const char *name)
{
    for (size_t i = 0; srv_operation_name(i); i++)
        if (!strcmp(srv_operation_name(i), name))
            return true;
    return false;
}

static struct quota *find(struct quotas *qs, const char *operation)
{
    for (size_t i = 0; i < qs->n; i++)
        if (!strcmp(qs->q[i].operation, operation))
            return &qs->q[i];
    return NULL;
}

/* Append a quota; the caller has checked the name. -1 when out of memory. */
static int add(struct quotas *qs, const char *operation, double rate, double burst)
{
    struct quota *p = realloc(qs->q, (qs->n + 1) * sizeof *p);
    if (!p)
        return -1;
    qs->q = p;
    struct quota *q = &qs->q[qs->n];
    memset(q, 0, sizeof *q);
    if (pthread_mutex_init(&q->lock, NULL) != 0)
        return -1;
    snprintf(q->operation, sizeof q->operation, "%s", operation);
    q->rate = rate;
    q->burst = burst > 0 ? burst : (rate < 1 ? 1 : rate);
    q->tokens = q->burst;
    q->last = qs->start;
    q->second = -1;
    qs->n++;
    return 0;
}

/* One `OPERATION RATE [BURST]` line (comments and blank lines already skipped). */
static int parse_line(struct quotas *qs, char *line, const char *path, unsigned lineno,
                      struct ebuf *err)
{
    char *save = NULL;
    char *op = strtok_r(line, " \t", &save);
    char *rate_s = strtok_r(NULL, " \t", &save);
    char *burst_s = strtok_r(NULL, " \t", &save);
    char *extra = strtok_r(NULL, " \t", &save);
    char *end = NULL;
    double rate = rate_s ? strtod(rate_s, &end) : 0;
    bool rate_ok = rate_s && end != rate_s && !*end && rate > 0 && rate <= 1e6;
    double burst = 0;
    bool burst_ok = true;
    if (burst_s) {
        burst = strtod(burst_s, &end);
        burst_ok = end != burst_s && !*end && burst >= 1 && burst <= 1e7;
    }
    if (!rate_s || extra || !rate_ok || !burst_ok) {
        ebuf_printf(err,
                    "--quotas %s, line %u: expected 'OPERATION RATE [BURST]' with RATE a number "
                    "of requests per second above 0 (up to 1000000) and BURST at least 1",
                    path, lineno);
        return -1;
    }
    if (!known_operation(op)) {
        ebuf_printf(err, "--quotas %s, line %u: '%.64s' is not an operation this server has", path,
                    lineno, op);
        return -1;
    }
    if (find(qs, op)) {
        ebuf_printf(err, "--quotas %s, line %u: %s has a quota already", path, lineno, op);
        return -1;
    }
    if (add(qs, op, rate, burst)) {
        ebuf_printf(err, "--quotas: out of memory");
        return -1;
    }
    return 0;
}

static int load_file(struct quotas *qs, const char *path, struct ebuf *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        ebuf_printf(err, "--quotas %s: %s (expected ecr, off or a file of quotas)", path,
                    strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line + strspn(line, " \t");
        if (!*p || *p == '#')
            continue;
        rc = parse_line(qs, p, path, lineno, err);
    }
    if (rc == 0 && ferror(f)) {
        ebuf_printf(err, "--quotas %s: cannot read it", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

int quotas_load(const char *spec, struct quotas **out, struct ebuf *err)
{
    *out = NULL;
    if (!strcmp(spec, "off"))
        return 0;
    struct quotas *qs = calloc(1, sizeof *qs);
    if (!qs) {
        ebuf_printf(err, "--quotas: out of memory");
        return -1;
    }
    qs->start = mono_now();
    int rc = 0;
    if (!strcmp(spec, "ecr")) {
        for (size_t i = 0; rc == 0 && i < sizeof ecr_defaults / sizeof *ecr_defaults; i++)
            if (known_operation(ecr_defaults[i].operation) &&
                add(qs, ecr_defaults[i].operation, ecr_defaults[i].rate, 0)) {
                ebuf_printf(err, "--quotas: out of memory");
                rc = -1;
            }
    } else {
        rc = load_file(qs, spec, err);
    }
    if (rc) {
        quotas_free(qs);
        return -1;
    }
    *out = qs;
    return 0;
}

bool quotas_take_at(struct quotas *qs, const char *operation, double now)
{
    struct quota *q = qs ? find(qs, operation) : NULL;
    if (!q)
        return true;
    pthread_mutex_lock(&q->lock);
    /* Requests on other threads may read the clock a moment before this one took the lock. */
    if (now > q->last) {
        q->tokens += (now - q->last) * q->rate;
        if (q->tokens > q->burst)
            q->tokens = q->burst;
        q->last = now;
    }
    bool ok = q->tokens >= 1;
    if (ok) {
        q->tokens -= 1;
        q->admitted++;
        long second = (long)floor(now - qs->start);
        if (second != q->second) {
            q->second = second;
            q->in_second = 0;
        }
        if (++q->in_second > q->busiest)
            q->busiest = q->in_second;
    } else {
        q->throttled++;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

bool quotas_take(struct quotas *q, const char *operation)
{
    return !q || quotas_take_at(q, operation, mono_now());
}

void quotas_describe(struct quotas *qs, struct ebuf *out)
{
    for (size_t i = 0; qs && i < qs->n; i++) {
        struct quota *q = &qs->q[i];
        pthread_mutex_lock(&q->lock);
        if (q->admitted || q->throttled)
            ebuf_printf(out,
                        "%s: %lu admitted, %lu throttled, busiest second %lu admitted (quota "
                        "%g/s, burst %g)\n",
                        q->operation, q->admitted, q->throttled, q->busiest, q->rate, q->burst);
        pthread_mutex_unlock(&q->lock);
    }
}

void quotas_free(struct quotas *qs)
{
    if (!qs)
        return;
    for (size_t i = 0; i < qs->n; i++)
        pthread_mutex_destroy(&qs->q[i].lock);
    free(qs->q);
    free(qs);
}
