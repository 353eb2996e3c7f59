/* ecrup-bench's statistics and bounds on known values: medians of odd and even runs in any
 * order, the spread, a full series, targets held to the median (RSS to the largest run), and
 * the least times ECR's quotas and the link model allow a workload. */
#include "bench/bench_harness.h"
#include "bench/bench_stats.h"
#include "bench/bench_workload.h"
#include "test.h"

#include <math.h>

#define CHECK_NEAR(a, b) CHECK(fabs((a) - (b)) < 1e-9)

static struct bench_series series(const double *v, unsigned n)
{
    struct bench_series s = {0};
    for (unsigned i = 0; i < n; i++)
        bench_series_add(&s, v[i]);
    return s;
}

static void test_series(void)
{
    struct bench_series s = {0};
    CHECK(isnan(bench_median(&s)) && isnan(bench_min(&s)) && isnan(bench_max(&s)));

    s = series((const double[]){5}, 1);
    CHECK_NEAR(bench_median(&s), 5);
    CHECK_NEAR(bench_min(&s), 5);
    CHECK_NEAR(bench_max(&s), 5);

    s = series((const double[]){3, 1, 2}, 3);
    CHECK_NEAR(bench_median(&s), 2);
    CHECK_NEAR(bench_min(&s), 1);
    CHECK_NEAR(bench_max(&s), 3);
    /* The series keeps run order: results.json lists the runs as they came. */
    CHECK(s.v[0] == 3 && s.v[1] == 1 && s.v[2] == 2);

    s = series((const double[]){4, 1, 3, 2}, 4); /* even: the mean of the middle two */
    CHECK_NEAR(bench_median(&s), 2.5);
    s = series((const double[]){0.25, -1, 0.25, 7, 0.25, 100}, 6);
    CHECK_NEAR(bench_median(&s), 0.25);
    CHECK_NEAR(bench_min(&s), -1);
    CHECK_NEAR(bench_max(&s), 100);

    /* Past BENCH_MAX_RUNS a value is dropped, not written past the end. */
    struct bench_series full = {0};
    for (unsigned i = 0; i < BENCH_MAX_RUNS + 5; i++)
        bench_series_add(&full, i < BENCH_MAX_RUNS ? 1.0 : 1000.0);
    CHECK_EQ_INT(full.n, BENCH_MAX_RUNS);
    CHECK_NEAR(bench_max(&full), 1);
}

static void test_targets(void)
{
    static struct bench_result r;
    memset(&r, 0, sizeof r);
    struct bench_target_eval t[BENCH_MAX_TARGETS];
    CHECK_EQ_INT(bench_evaluate_targets(&r, t), 0);

    r.w.targets = (struct bench_targets){.boto3_ratio_min = 10,
                                         .floor_multiple_max = 1.25,
                                         .mbps_min = 900,
                                         .duty_cycle_min = 0.95,
                                         .rss_mib_max = 500};
    r.ratio = series((const double[]){12, 8, 11}, 3);
    r.multiple = series((const double[]){1.3}, 1);
    r.duty = series((const double[]){0.97, 0.93}, 2);
    r.rss = series((const double[]){400, 600, 450}, 3);
    /* No MB/s runs: that target is left out rather than reported as missed. */
    size_t n = bench_evaluate_targets(&r, t);
    REQUIRE(n == 4);
    CHECK_STR(t[0].name, "boto3 wall / ecrup wall");
    CHECK_STR(t[0].op, ">=");
    CHECK_NEAR(t[0].want, 10);
    CHECK_NEAR(t[0].got, 11);
    CHECK(t[0].met);
    CHECK_STR(t[1].name, "client CPU / floor");
    CHECK_STR(t[1].op, "<=");
    CHECK_NEAR(t[1].got, 1.3);
    CHECK(!t[1].met);
    CHECK_STR(t[2].name, "duty cycle");
    CHECK_NEAR(t[2].got, 0.95); /* the median of 0.97 and 0.93: exactly the target, met */
    CHECK(t[2].met);
    CHECK_STR(t[3].name, "peak RSS MiB");
    CHECK_NEAR(t[3].got, 600); /* the largest run, not the median (450) */
    CHECK(!t[3].met);

    r.mbps = series((const double[]){950, 850, 1000}, 3);
    n = bench_evaluate_targets(&r, t);
    REQUIRE(n == 5);
    CHECK_STR(t[2].name, "MB/s");
    CHECK_NEAR(t[2].got, 950);
    CHECK(t[2].met);
}

static void test_bounds(void)
{
    const uint64_t part = 10u << 20;
    struct bench_layer_group small = {2000, 64 << 10};
    struct bench_workload w = {.groups = &small, .n_groups = 1};
    /* 2000 initiates at 100/s after a full bucket of 100; 2000 one-part layers at 500
     * parts/s would take 3 s. */
    CHECK_NEAR(bench_workload_quota_bound(&w, part), 19);

    struct bench_layer_group big = {1, 1u << 30};
    w.groups = &big;
    /* 103 parts of 10 MiB (102.4 rounded up): the bucket's 500 take them at once. */
    CHECK_NEAR(bench_workload_quota_bound(&w, part), 0);
    struct bench_layer_group many = {2, 25u * (10u << 20)};
    w.groups = &many;
    /* 50 initiates and 500 parts: both within the buckets' first second. */
    CHECK_NEAR(bench_workload_quota_bound(&w, part), 0);

    /* 4 x 64 MiB over 50 ms replies and 100 MB/s per connection: each layer is 7 parts,
     * 9 replies (initiate, parts, complete) and 4 * ceil(64 MiB / 3) + 200 bytes per part of
     * base64 body; plus one availability check. */
    struct bench_layer_group wan = {4, 64u << 20};
    w = (struct bench_workload){
        .groups = &wan, .n_groups = 1, .faults = true, .delay_ms = 50, .bandwidth = 100000000};
    double chain = 9 * 0.05 + (4.0 * 22369622 + 200.0 * 7) / 1e8;
    CHECK_NEAR(bench_workload_wan_ideal(&w, 16, part), 0.05 + chain);
    CHECK_NEAR(bench_workload_wan_ideal(&w, 4, part), 0.05 + chain);
    /* Two connections for four layers: the total over them is the longer. */
    CHECK_NEAR(bench_workload_wan_ideal(&w, 2, part), 0.05 + 2 * chain);
    /* Without a bandwidth cap only the replies count. */
    w.bandwidth = 0;
    CHECK_NEAR(bench_workload_wan_ideal(&w, 16, part), 0.05 + 9 * 0.05);
}

int main(void)
{
    test_series();
    test_targets();
    test_bounds();
    return test_finish("test_bench_stats");
}
