/* Medians, spreads and targets of ecrup-bench's series. See bench_stats.h. */
#include "bench_stats.h"

#include "bench_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bench_series_add(struct bench_series *s, double v)
{
    if (s->n < BENCH_MAX_RUNS)
        s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(const struct bench_series *s)
{
    if (!s->n)
        return NAN;
    double t[BENCH_MAX_RUNS];
    memcpy(t, s->v, s->n * sizeof t[0]);
    qsort(t, s->n, sizeof t[0], cmp_double);
    return s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}

double bench_min(const struct bench_series *s)
{
    double m = INFINITY;
    for (unsigned i = 0; i < s->n; i++)
        m = fmin(m, s->v[i]);
    return s->n ? m : NAN;
}

double bench_max(const struct bench_series *s)
{
    double m = -INFINITY;
    for (unsigned i = 0; i < s->n; i++)
        m = fmax(m, s->v[i]);
    return s->n ? m : NAN;
}

size_t bench_evaluate_targets(const struct bench_result *r, struct bench_target_eval *t)
{
    const struct bench_targets *tg = &r->w.targets;
    size_t n = 0;
    if (tg->boto3_ratio_min > 0 && r->ratio.n)
        t[n++] = (struct bench_target_eval){"boto3 wall / ecrup wall", ">=", tg->boto3_ratio_min,
                                            bench_median(&r->ratio),
                                            bench_median(&r->ratio) >= tg->boto3_ratio_min};
    if (tg->floor_multiple_max > 0 && r->multiple.n)
        t[n++] = (struct bench_target_eval){"client CPU / floor", "<=", tg->floor_multiple_max,
                                            bench_median(&r->multiple),
                                            bench_median(&r->multiple) <= tg->floor_multiple_max};
    if (tg->mbps_min > 0 && r->mbps.n)
        t[n++] = (struct bench_target_eval){"MB/s", ">=", tg->mbps_min, bench_median(&r->mbps),
                                            bench_median(&r->mbps) >= tg->mbps_min};
    if (tg->duty_cycle_min > 0 && r->duty.n)
        t[n++] = (struct bench_target_eval){"duty cycle", ">=", tg->duty_cycle_min,
                                            bench_median(&r->duty),
                                            bench_median(&r->duty) >= tg->duty_cycle_min};
    if (tg->rss_mib_max > 0 && r->rss.n)
        t[n++] =
            (struct bench_target_eval){"peak RSS MiB", "<=", tg->rss_mib_max, bench_max(&r->rss),
                                       bench_max(&r->rss) <= tg->rss_mib_max};
    return n;
}
