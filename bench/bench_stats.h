/* The statistics of ecrup-bench: a series of one figure over the runs of a measurement, its
 * median and spread, and the workload's targets checked against them. Pure functions over
 * caller-owned values; main thread only. */
#ifndef ECRUP_BENCH_STATS_H
#define ECRUP_BENCH_STATS_H

#include <stddef.h>

#define BENCH_MAX_RUNS 50

/* One figure over the runs, in run order. */
struct bench_series {
    double v[BENCH_MAX_RUNS];
    unsigned n;
};

/* Append `v`; beyond BENCH_MAX_RUNS values it is dropped. */
void bench_series_add(struct bench_series *s, double v);

/* The median, smallest and largest value; NaN for an empty series. */
double bench_median(const struct bench_series *s);
double bench_min(const struct bench_series *s);
double bench_max(const struct bench_series *s);

struct bench_result;

/* One target of a workload against what was measured. Strings are literals. */
struct bench_target_eval {
    const char *name;
    const char *op; /* ">=" or "<=" */
    double want, got;
    int met;
};

#define BENCH_MAX_TARGETS 8

/* The targets the workload of `r` sets and for which there are runs, each with the figure it
 * is held to (the median, the largest RSS), in `t` (room for BENCH_MAX_TARGETS). Returns how
 * many. */
size_t bench_evaluate_targets(const struct bench_result *r, struct bench_target_eval *t);

#endif
