/* Child processes of ecrup-bench: the local endpoint (`ecrup serve`) and the boto3 baseline.
 * Everything here runs on the harness's main thread, before and after the measured sections. */
#ifndef ECRUP_BENCH_PROC_H
#define ECRUP_BENCH_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

struct bench_server_config {
    const char *ecrup;    /* path of the ecrup CLI */
    const char *tls_cert; /* NULL: HTTP */
    const char *tls_key;
    unsigned delay_ms;  /* --faults delay=MS, 0: none */
    uint64_t bandwidth; /* --faults bandwidth=N, 0: none */
    bool quotas;        /* --quotas ecr */
    const char *log;    /* the server's stderr is appended here; NULL: inherited */
};

/* A running `ecrup serve --sink` child. */
struct bench_server {
    pid_t pid;
    char url[256];
};

/* Start the server and wait for its listening line. Returns 0, or -1 with a message. */
int bench_server_start(const struct bench_server_config *cfg, struct bench_server *srv, char *err,
                       size_t err_len);
/* SIGTERM, wait, and return the child's CPU seconds (user+sys), or a negative value. When the
 * server had already ended by itself (it must not), says how in `died` (else "" ). */
double bench_server_stop(struct bench_server *srv, char *died, size_t died_len);

/* Run argv (argv[0] looked up in PATH), capture up to `out_len - 1` bytes of its stdout,
 * and its resource usage. Returns the exit status (0..255), or -1 when it did not exit. */
int bench_run(const char *const argv[], char *out, size_t out_len, struct rusage *usage);

/* Make a private CA and a certificate for 127.0.0.1 signed by it under `dir` with the openssl
 * CLI (once per harness invocation). Paths go to the three buffers. */
int bench_make_tls(const char *dir, char *ca, char *cert, char *key, size_t len, char *err,
                   size_t err_len);

double bench_now(void); /* CLOCK_MONOTONIC seconds */

#endif
