/* The measured sections of ecrup-bench: layer files, the SHA-256 floor, and one ecrup run.
 * Main thread only; the ecrup run happens in a forked child so its getrusage and peak RSS
 * belong to that run alone. */
#ifndef ECRUP_BENCH_MEASURE_H
#define ECRUP_BENCH_MEASURE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_layer_file {
    char path[PATH_MAX];
    uint64_t size;
    char digest[72]; /* "sha256:<hex>", filled by bench_layer_digest() */
};

/* Make (or reuse, when present with the right size) the random layer `index` of `size` bytes
 * under `dir`; fills `f->path` and `f->size`. Returns 0, or -1 with a message. */
int bench_layer_prepare(const char *dir, uint64_t size, unsigned index, struct bench_layer_file *f,
                        char *err, size_t err_len);
/* Fill `f->digest`, from the `.sha256` file next to the layer or by hashing it once. */
int bench_layer_digest(struct bench_layer_file *f, char *err, size_t err_len);

/* The floor on the same bytes: per part of `part_size`, the SHA-256 of the base64 body (the
 * SigV4 payload hash), plus the layer's own SHA-256 when the digest is computed. Only the
 * hashing is timed (thread CPU time); reading and encoding are not. Returns CPU seconds, or a
 * negative value on a read error. */
double bench_floor(const struct bench_layer_file *files, size_t n, bool digest_known,
                   uint64_t part_size);

struct bench_ecrup_config {
    const char *endpoint_url;
    const char *ca_bundle; /* NULL: HTTP */
    bool digest_known;
};

struct bench_ecrup_run {
    int status; /* ecrup_status of ecrup_engine_run, or -1 when the child failed */
    double wall_s;
    double user_s, sys_s;
    double peak_rss_mib;
    double memory_limit_mib; /* the engine's part buffer budget (its default) */
    unsigned requests, retries, failed_requests;
    unsigned layers, layers_uploaded;
    unsigned parts;
    char message[600];
};

/* Upload `files` with libecrup in a forked child and report what it measured. */
void bench_ecrup(const struct bench_ecrup_config *cfg, const struct bench_layer_file *files,
                 size_t n, struct bench_ecrup_run *out);

#endif
