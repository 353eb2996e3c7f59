/* The gnuplot chart of a harness run. See bench_chart.h. */
#include "bench_chart.h"

#include "bench_proc.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

void bench_write_chart(const struct bench_opts *o, const struct bench_host *h,
                       const struct bench_result *res, size_t n)
{
    char dat[PATH_MAX], gp[PATH_MAX], png[PATH_MAX];
    snprintf(dat, sizeof dat, "%s/bench.dat", o->out);
    snprintf(gp, sizeof gp, "%s/bench.gp", o->out);
    snprintf(png, sizeof png, "%s/bench.png", o->out);
    FILE *f = fopen(dat, "w");
    if (!f)
        return;
    fprintf(f, "# workload ecrup_mbps boto3_mbps ceiling_mbps ecrup_cpu_gb floor_cpu_gb "
               "ecrup_mbps_min ecrup_mbps_max\n");
    size_t rows = 0;
    bool any_boto3 = false;
    for (size_t i = 0; i < n; i++) {
        const struct bench_result *r = &res[i];
        if (!r->mbps.n)
            continue;
        fprintf(f, "\"%s\" %.3f %.3f %.3f %.4f %.4f %.3f %.3f\n", r->w.name, bench_median(&r->mbps),
                r->b_mbps.n ? bench_median(&r->b_mbps) : 0.0, bench_median(&r->ceiling),
                bench_median(&r->cpu_gb), bench_median(&r->floor_gb), bench_min(&r->mbps),
                bench_max(&r->mbps));
        rows++;
        any_boto3 = any_boto3 || r->b_mbps.n;
    }
    fclose(f);
    if (!rows)
        return;
    f = fopen(gp, "w");
    if (!f)
        return;
    fprintf(f,
            "set terminal pngcairo size 1200,900 font 'DejaVu Sans,10'\n"
            "set output '%s'\n"
            "set multiplot layout 2,1 title 'ecrup-bench: %u core(s), median of %u run(s), "
            "local ecrup serve --sink' font ',12'\n"
            "set style data histograms\n"
            "set style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\n"
            "set boxwidth 0.9\n"
            "set grid ytics\n"
            "set key top right\n"
            "set xtics rotate by -20 nomirror\n"
            "set title 'Throughput of layer data (MB/s, log scale)'\n"
            "set ylabel 'MB/s'\n"
            "set logscale y\n"
            "set yrange [1:*]\n"
            "plot '%s' using 2:xtic(1) title 'ecrup' lc rgb '#1f77b4', "
            "%s"
            "'' using 4 title 'ceiling (floor on every core)' lc rgb '#999999'\n"
            "set yrange [0.1:*]\n"
            "set title 'Client CPU-seconds per GB (user+sys) against the SHA-256 floor (log "
            "scale)'\n"
            "set ylabel 'CPU-s/GB'\n"
            "plot '%s' using 5:xtic(1) title 'ecrup' lc rgb '#1f77b4', "
            "'' using 6 title 'floor: SHA-256 raw + SHA-256 of base64 body' lc rgb '#999999'\n"
            "unset multiplot\n",
            png, h->cores, o->runs, dat,
            any_boto3 ? "'' using ($3>0?$3:1/0) title 'boto3' lc rgb '#d62728', " : "", dat);
    fclose(f);
    const char *argv[] = {"gnuplot", gp, NULL};
    char out[256];
    if (bench_run(argv, out, sizeof out, NULL) != 0)
        fprintf(stderr, "ecrup-bench: gnuplot failed or is missing: no chart (%s)\n", gp);
    else
        printf("chart: %s\n", png);
}
