/* The table and notes ecrup-bench prints. See bench_report.h. */
#include "bench_report.h"

#include <stdio.h>

void bench_print_table(const struct bench_opts *o, const struct bench_result *res, size_t n)
{
    printf("\n%-20s %6s %7s %20s %7s %8s %7s %7s %6s %7s %8s %7s %6s %5s %7s %5s\n", "workload",
           "layers", "MB", "ecrup wall s", "MB/s", "boto3 s", "x boto3", "CPU/GB", "floor",
           "x floor", "ceil MB/s", "RSS MiB", "req", "retry", "b.retry", "duty");
    for (size_t i = 0; i < n; i++) {
        const struct bench_result *r = &res[i];
        char wall[32] = "-", duty[16] = "-", boto[16] = "-", ratio[16] = "-", bretry[16] = "-";
        if (r->wall.n)
            snprintf(wall, sizeof wall, "%.3f (%.3f-%.3f)", bench_median(&r->wall),
                     bench_min(&r->wall), bench_max(&r->wall));
        if (r->duty.n)
            snprintf(duty, sizeof duty, "%.2f", bench_median(&r->duty));
        if (r->b_wall.n) {
            snprintf(boto, sizeof boto, "%.2f", bench_median(&r->b_wall));
            snprintf(ratio, sizeof ratio, "%.1f", bench_median(&r->ratio));
            snprintf(bretry, sizeof bretry, "%.0f", bench_median(&r->b_retries));
        }
        if (r->failures) {
            printf("%-20s FAILED: %s\n", r->w.name, r->error);
            continue;
        }
        printf("%-20s %6u %7.0f %20s %7.0f %8s %7s %7.3f %6.3f %7.2f %8.0f %7.0f %6.0f %5.0f "
               "%7s %5s\n",
               r->w.name, r->layers, (double)r->bytes / 1e6, wall, bench_median(&r->mbps), boto,
               ratio, bench_median(&r->cpu_gb), bench_median(&r->floor_gb),
               bench_median(&r->multiple), bench_median(&r->ceiling), bench_max(&r->rss),
               bench_median(&r->requests), bench_median(&r->retries), bretry, duty);
    }
    printf("\n(median of %u run%s; wall spread min-max; RSS is the largest of the runs)\n", o->runs,
           o->runs == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        struct bench_target_eval t[BENCH_MAX_TARGETS];
        size_t nt = bench_evaluate_targets(&res[i], t);
        for (size_t k = 0; k < nt; k++)
            printf("target %-20s %-24s %s %-7g measured %-9.3f %s\n", res[i].w.name, t[k].name,
                   t[k].op, t[k].want, t[k].got, t[k].met ? "met" : "MISSED");
    }
}

void bench_print_notes(const struct bench_result *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct bench_result *r = &res[i];
        if (r->wall.n && r->quota_s > 0.25 * bench_median(&r->wall))
            printf("note %s: ECR's request quotas (100 initiates/s, 100 completes/s, 500 parts/s)"
                   "%s allow no less than %.2f s; ecrup took %.2f s\n",
                   r->w.name, r->w.quotas ? ", which the server enforces (--quotas ecr)," : "",
                   r->quota_s, bench_median(&r->wall));
        if (r->w.faults && r->wall.n)
            printf("note %s: the link model (%u ms per reply, %.0f MB/s per connection) allows "
                   "%.2f s; ecrup took %.2f s\n",
                   r->w.name, r->w.delay_ms, (double)r->w.bandwidth / 1e6, r->ideal_s,
                   bench_median(&r->wall));
    }
}
