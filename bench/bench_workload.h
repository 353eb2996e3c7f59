/* Declarative workloads for ecrup-bench: one JSON file per workload in bench/workloads/.
 *
 *   {
 *     "name": "http-4x256MiB",                 file-name-safe, unique
 *     "description": "...",
 *     "layers": [{"count": 4, "size": "256MiB"}, ...],   sizes: bytes or KiB/MiB/GiB/KB/MB/GB
 *     "digest": "computed" | "known",           known: the digest is passed to the engine
 *     "tls": false,                             true: HTTPS with a CA made at run time
 *     "faults": {"delay_ms": 50, "bandwidth": "100MB"},   optional: WAN emulation
 *     "quotas": "ecr",                          the server's --quotas: "ecr" or "off" (default)
 *     "boto3": true,                            run the boto3 baseline too (default true)
 *     "quick": false,                           true: a smoke workload, run only by --quick
 *     "targets": {"boto3_ratio_min": 12, "floor_multiple_max": 1.25, "mbps_min": 900,
 *                 "duty_cycle_min": 0.95, "rss_mib_max": 576}   all optional
 *   }
 *
 * Owned by the caller; parsed once on the main thread. */
#ifndef ECRUP_BENCH_WORKLOAD_H
#define ECRUP_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_layer_group {
    unsigned count;
    uint64_t size;
};

struct bench_targets {
    double boto3_ratio_min;    /* 0: no target */
    double floor_multiple_max; /* 0: no target */
    double mbps_min;           /* 0: no target */
    double duty_cycle_min;     /* 0: no target */
    double rss_mib_max;        /* 0: no target */
};

struct bench_workload {
    char name[64];
    char description[256];
    struct bench_layer_group *groups;
    size_t n_groups;
    bool digest_known;
    bool tls;
    bool faults;
    unsigned delay_ms;
    uint64_t bandwidth; /* bytes/s per connection; 0: uncapped */
    bool quotas;        /* the server throttles at ECR's default quotas (--quotas ecr) */
    bool boto3;
    bool quick;
    struct bench_targets targets;
};

/* Parse one workload file. Returns 0, or -1 with a message in `err`. */
int bench_workload_load(const char *path, struct bench_workload *w, char *err, size_t err_len);
void bench_workload_cleanup(struct bench_workload *w);

/* Layers and bytes in a workload. */
unsigned bench_workload_layers(const struct bench_workload *w);
uint64_t bench_workload_bytes(const struct bench_workload *w);

/* The least time the workload can take over its emulated link (faults' delay and bandwidth)
 * with `concurrency` layers in flight and parts of `part_size`. */
double bench_workload_wan_ideal(const struct bench_workload *w, unsigned concurrency,
                                uint64_t part_size);
/* The least time ECR's request quotas allow it with parts of `part_size`, buckets that start
 * with a second's worth (as `ecrup serve --quotas ecr` has them) included. */
double bench_workload_quota_bound(const struct bench_workload *w, uint64_t part_size);

/* "256MiB", "100MB", "65536" -> bytes; -1 when malformed. */
int bench_parse_size(const char *s, uint64_t *out);

#endif
