/* What ecrup-bench's parts share: its settings, the host it ran on, and everything measured
 * for one workload. ecrup_bench.c fills them (main thread); bench_stats.c and the writers of
 * the table (bench_report.c), results.json (bench_results.c) and the chart (bench_chart.c)
 * read them. */
#ifndef ECRUP_BENCH_HARNESS_H
#define ECRUP_BENCH_HARNESS_H

#include <limits.h>
#include <stdint.h>

#include "bench_stats.h"
#include "bench_workload.h"

#define BENCH_MAX_WORKLOADS 64
#define BENCH_PART_SIZE     (10u << 20) /* the partSize ecrup serve returns by default */

/* The command line, with defaults filled in. Strings borrowed from argv or static. */
struct bench_opts {
    const char *workloads;
    unsigned runs;
    const char *out;
    const char *only[BENCH_MAX_WORKLOADS];
    unsigned n_only;
    int quick;
    int no_boto3;
    char ecrup[PATH_MAX + 8];
    const char *python;
    const char *boto3_script;
    char server_log[PATH_MAX + 16];
    char self_dir[PATH_MAX];
};

/* The machine a harness run measured on. */
struct bench_host {
    unsigned cores;
    double load_start, load_end; /* 1-minute load average; -1: unknown */
    char started[64];            /* ISO 8601, UTC */
};

/* Everything measured for one workload. */
struct bench_result {
    struct bench_workload w;
    unsigned layers;
    uint64_t bytes;
    double ideal_s; /* WAN link model; 0 without faults */
    double quota_s; /* the least time ECR's request quotas allow */
    double loadavg;
    struct bench_series wall, mbps, cpu_gb, rss, requests, retries, server_cpu_gb;
    struct bench_series floor_gb, ceiling, multiple;
    struct bench_series b_wall, b_mbps, b_cpu_gb, b_retries, ratio;
    struct bench_series duty;
    int failures;
    char error[800];
};

#endif
