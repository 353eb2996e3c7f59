/* ecrup-bench's chart: throughput and CPU per GB of every workload against boto3 and the
 * floor, as OUT/bench.dat and OUT/bench.gp rendered to OUT/bench.png by gnuplot (when it is
 * installed). Main thread only. */
#ifndef ECRUP_BENCH_CHART_H
#define ECRUP_BENCH_CHART_H

#include <stddef.h>

#include "bench_harness.h"

/* Write the data and script and run gnuplot; prints the chart's path, or on stderr why there
 * is none. Nothing is written when no workload has a run. */
void bench_write_chart(const struct bench_opts *o, const struct bench_host *h,
                       const struct bench_result *res, size_t n);

#endif
