/* Parsing `ecrup serve --faults SPEC` and drawing a fault per request (faults.h). */
#include "server/faults.h"

#include <stdlib.h>
#include <string.h>

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return false;
    uint64_t mult = 1;
    switch (*end) {
    case 'K':
    case 'k':
        mult = 1ull << 10;
        end++;
        break;
    case 'M':
    case 'm':
        mult = 1ull << 20;
        end++;
        break;
    case 'G':
    case 'g':
        mult = 1ull << 30;
        end++;
        break;
    default:
        break;
    }
    if (*end != '\0')
        return false;
    *out = v * mult;
    return true;
}

/* "N" or "N-M" (1 <= N <= M): the requests a counted fault picks. */
static bool parse_nth(const char *s, unsigned *from, unsigned *to)
{
    char *end;
    unsigned long a = strtoul(s, &end, 10), b = a;
    if (end == s || *s == '-' || *s == '+')
        return false;
    if (*end == '-') {
        const char *t = end + 1;
        if (*t < '0' || *t > '9')
            return false;
        b = strtoul(t, &end, 10);
    }
    if (*end || a < 1 || b < a || b > 1000000000ul)
        return false;
    *from = (unsigned)a;
    *to = (unsigned)b;
    return true;
}

static int parse_rule(char *item, struct faults *f, struct ebuf *err)
{
    char *colon = strchr(item, ':');
    *colon = '\0';
    if (f->n_rules == (int)(sizeof f->rules / sizeof f->rules[0])) {
        ebuf_printf(err, "too many fault rules");
        return -1;
    }
    struct fault_rule *r = &f->rules[f->n_rules++];
    memset(r, 0, sizeof *r);
    size_t len = strlen(item);
    if (len == 0) {
        ebuf_printf(err, "fault rule ':%s' names no operation (OP:KIND=P, OP may be *)", colon + 1);
        return -1;
    }
    if (len >= sizeof r->op) {
        /* A cut name would match no operation, or a different one. */
        ebuf_printf(err, "fault rule operation '%s' is too long (at most %zu characters)", item,
                    sizeof r->op - 1);
        return -1;
    }
    memcpy(r->op, item, len + 1);
    char *save = NULL;
    double total = 0;
    for (char *kv = strtok_r(colon + 1, ":", &save); kv; kv = strtok_r(NULL, ":", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            ebuf_printf(err, "fault '%s' has no probability (KIND=P)", kv);
            return -1;
        }
        *eq = '\0';
        static const char *kinds[FAULT_KINDS] = {"",      "throttle", "500",   "503",
                                                 "reset", "lost",     "stall", "hold"};
        int k = 0;
        for (int i = 1; i < FAULT_KINDS; i++)
            if (!strcmp(kv, kinds[i]))
                k = i;
        if (k && eq[1] == '#') {
            if (!parse_nth(eq + 2, &r->nth[k].from, &r->nth[k].to)) {
                ebuf_printf(err, "bad fault count '%s=%s' (#N or #N-M, N from 1, N <= M)", kv,
                            eq + 1);
                return -1;
            }
            continue;
        }
        char *end;
        double p = strtod(eq + 1, &end);
        if (!k || end == eq + 1 || *end || p < 0 || p > 1) {
            ebuf_printf(err,
                        "bad fault '%s=%s' (kinds: throttle 500 503 reset lost stall hold; P in "
                        "0..1, or #N or #N-M)",
                        kv, eq + 1);
            return -1;
        }
        r->p[k] = p;
        total += p;
    }
    if (total > 1.0) {
        ebuf_printf(err, "fault probabilities for %s add up to more than 1", r->op);
        return -1;
    }
    return 0;
}

int faults_parse(const char *spec, struct faults *f, struct ebuf *err)
{
    memset(f, 0, sizeof *f);
    f->seed = 1;
    f->hold_ms = 10000;
    char *copy = strdup(spec);
    if (!copy) {
        ebuf_printf(err, "out of memory");
        return -1;
    }
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        if (strchr(item, ':')) {
            rc = parse_rule(item, f, err);
            continue;
        }
        char *eq = strchr(item, '=');
        char *end = NULL;
        if (eq && !strncmp(item, "seed=", 5)) {
            f->seed = strtoull(eq + 1, &end, 10);
        } else if (eq && !strncmp(item, "delay=", 6)) {
            unsigned long ms = strtoul(eq + 1, &end, 10);
            if (end && !strcmp(end, "ms"))
                end += 2;
            f->delay_ms = (unsigned)(ms > 600000 ? 600000 : ms);
        } else if (eq && !strncmp(item, "hold=", 5)) {
            unsigned long ms = strtoul(eq + 1, &end, 10);
            if (end && !strcmp(end, "ms"))
                end += 2;
            f->hold_ms = (unsigned)(ms > 600000 ? 600000 : ms);
        } else if (eq && !strncmp(item, "bandwidth=", 10)) {
            if (parse_size(eq + 1, &f->bandwidth))
                end = eq + strlen(eq);
        }
        if (!end || end == eq + 1 || *end) {
            ebuf_printf(err, "bad fault item '%s'", item);
            rc = -1;
        }
    }
    free(copy);
    f->rng = f->seed * 0x9E3779B97F4A7C15ull + 1;
    /* Last, so that a refused SPEC leaves nothing to clean up. */
    if (rc == 0 && pthread_mutex_init(&f->mu, NULL) != 0) {
        ebuf_printf(err, "cannot initialise the fault lock");
        rc = -1;
    }
    return rc;
}

void faults_cleanup(struct faults *f)
{
    pthread_mutex_destroy(&f->mu);
}

enum fault faults_draw(struct faults *f, const char *op)
{
    struct fault_rule *r = NULL;
    for (int i = 0; i < f->n_rules; i++) {
        if (!strcmp(f->rules[i].op, op))
            r = &f->rules[i];
        else if (!r && !strcmp(f->rules[i].op, "*"))
            r = &f->rules[i];
    }
    if (!r)
        return FAULT_NONE;
    pthread_mutex_lock(&f->mu);
    unsigned n = ++r->seen;
    /* xorshift64*: repeatable for a seed and a request order. */
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    uint64_t x = f->rng * 0x2545F4914F6CDD1Dull;
    pthread_mutex_unlock(&f->mu);
    for (int k = FAULT_THROTTLE; k < FAULT_KINDS; k++)
        if (r->nth[k].from && n >= r->nth[k].from && n <= r->nth[k].to)
            return (enum fault)k;
    double u = (double)(x >> 11) / 9007199254740992.0;
    double acc = 0;
    for (int k = FAULT_THROTTLE; k < FAULT_KINDS; k++) {
        acc += r->p[k];
        if (u < acc)
            return (enum fault)k;
    }
    return FAULT_NONE;
}
