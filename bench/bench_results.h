/* ecrup-bench's results.json: the host, and per workload every series with every run kept
 * (median, min, max, runs), the bounds and the targets. Main thread only. */
#ifndef ECRUP_BENCH_RESULTS_H
#define ECRUP_BENCH_RESULTS_H

#include <stddef.h>

#include "bench_harness.h"

/* Write OUT/results.json. Returns 0, or -1 after saying on stderr that it could not. */
int bench_write_results(const struct bench_opts *o, const struct bench_host *h,
                        const struct bench_result *res, size_t n);

#endif
