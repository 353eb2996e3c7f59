/* ecrup-bench's report on stdout: one table row per workload (medians, the wall-time spread),
 * each target met or missed, and notes where a bound (ECR's quotas, the link model) explains
 * the time. Main thread only. */
#ifndef ECRUP_BENCH_REPORT_H
#define ECRUP_BENCH_REPORT_H

#include <stddef.h>

#include "bench_harness.h"

/* The table, the line under it, and the targets. */
void bench_print_table(const struct bench_opts *o, const struct bench_result *res, size_t n);

/* A note for each workload whose time a bound explains. */
void bench_print_notes(const struct bench_result *res, size_t n);

#endif
