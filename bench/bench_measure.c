/* Measured sections. See bench_measure.h. */
#include "bench_measure.h"

#include <ecrup.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

int bench_layer_prepare(const char *dir, uint64_t size, unsigned index, struct bench_layer_file *f,
                        char *err, size_t err_len)
{
    mkdir(dir, 0755);
    snprintf(f->path, sizeof f->path, "%s/%llu-%u.bin", dir, (unsigned long long)size, index);
    f->size = size;
    f->digest[0] = 0;
    struct stat st;
    if (stat(f->path, &st) == 0 && (uint64_t)st.st_size == size)
        return 0;
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    /* Different bytes for every (size, index), so no two layers share a digest. */
    uint64_t x = size * 0x100000001b3u ^ index;
    enum { CHUNK = 1 << 20 };
    uint64_t *buf = malloc(CHUNK);
    int rc = buf ? 0 : -1;
    for (uint64_t done = 0; rc == 0 && done < size;) {
        for (size_t i = 0; i < CHUNK / 8; i++)
            buf[i] = splitmix64(&x);
        size_t n = size - done < CHUNK ? (size_t)(size - done) : CHUNK;
        if (write(fd, buf, n) != (ssize_t)n)
            rc = -1;
        done += n;
    }
    free(buf);
    if (close(fd) || rc || rename(tmp, f->path)) {
        snprintf(err, err_len, "%s: could not write the layer: %s", f->path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    char side[PATH_MAX + 8];
    snprintf(side, sizeof side, "%s.sha256", f->path);
    unlink(side);
    return 0;
}

int bench_layer_digest(struct bench_layer_file *f, char *err, size_t err_len)
{
    char side[PATH_MAX + 8];
    snprintf(side, sizeof side, "%s.sha256", f->path);
    FILE *s = fopen(side, "r");
    if (s) {
        char line[80] = "";
        if (fgets(line, sizeof line, s) && strlen(line) >= 71 && strncmp(line, "sha256:", 7) == 0) {
            memcpy(f->digest, line, 71);
            f->digest[71] = 0;
            fclose(s);
            return 0;
        }
        fclose(s);
    }
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    enum { CHUNK = 4 << 20 };
    unsigned char *buf = malloc(CHUNK);
    int ok = fd >= 0 && ctx && buf && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    ssize_t r;
    while (ok && (r = read(fd, buf, CHUNK)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, (size_t)r);
    unsigned char md[32];
    ok = ok && r == 0 && EVP_DigestFinal_ex(ctx, md, NULL);
    free(buf);
    EVP_MD_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        snprintf(err, err_len, "%s: could not hash the layer", f->path);
        return -1;
    }
    char *p = f->digest + sprintf(f->digest, "sha256:");
    for (int i = 0; i < 32; i++)
        p += sprintf(p, "%02x", md[i]);
    s = fopen(side, "w");
    if (s) {
        fprintf(s, "%s\n", f->digest);
        fclose(s);
    }
    return 0;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_floor(const struct bench_layer_file *files, size_t n, bool digest_known,
                   uint64_t part_size)
{
    size_t ps = (size_t)part_size;
    unsigned char *raw = malloc(ps);
    unsigned char *b64 = malloc(4 * ((ps + 2) / 3) + 1);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    double cpu = 0;
    int ok = raw && b64 && ctx;
    for (size_t i = 0; ok && i < n; i++) {
        int fd = open(files[i].path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ok = 0;
            break;
        }
        double t0 = thread_cpu();
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        cpu += thread_cpu() - t0;
        for (uint64_t off = 0; ok && off < files[i].size;) {
            size_t want = files[i].size - off < ps ? (size_t)(files[i].size - off) : ps;
            ssize_t r = pread(fd, raw, want, (off_t)off);
            if (r != (ssize_t)want) {
                ok = 0;
                break;
            }
            int len = EVP_EncodeBlock(b64, raw, (int)want);
            unsigned char md[32];
            t0 = thread_cpu();
            if (!digest_known)
                ok = EVP_DigestUpdate(ctx, raw, want);
            ok = ok && EVP_Digest(b64, (size_t)len, md, NULL, EVP_sha256(), NULL);
            cpu += thread_cpu() - t0;
            off += want;
        }
        unsigned char md[32];
        t0 = thread_cpu();
        ok = ok && EVP_DigestFinal_ex(ctx, md, NULL);
        cpu += thread_cpu() - t0;
        close(fd);
    }
    EVP_MD_CTX_free(ctx);
    free(raw);
    free(b64);
    return ok ? cpu : -1;
}

/* ---- one ecrup run, in a child ---- */

static atomic_uint n_requests, n_retries, n_failed;

/* One INFO line per request: "<Operation> attempt <N>: HTTP <code> (...)". */
static void on_log(ecrup_log_level level, const char *line, void *user)
{
    (void)user;
    (void)level;
    char op[64], what[16];
    unsigned attempt = 0;
    long code = 0;
    int got = sscanf(line, "%63s attempt %u: %15s %ld", op, &attempt, what, &code);
    if (got < 3)
        return;
    atomic_fetch_add(&n_requests, 1);
    if (attempt > 1)
        atomic_fetch_add(&n_retries, 1);
    if (got < 4 || strcmp(what, "HTTP") != 0 || code < 200 || code > 299)
        atomic_fetch_add(&n_failed, 1);
}

static double tv_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

/* VmHWM after resetting it at the start of the child, so the parent's pages do not count. */
static void reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1) {
            /* older kernels: ru_maxrss is used instead */
        }
        close(fd);
    }
}

static double peak_rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return (double)kb / 1024.0;
}

static void child_run(const struct bench_ecrup_config *cfg, const struct bench_layer_file *files,
                      size_t n, struct bench_ecrup_run *out)
{
    reset_peak_rss();
    if (ecrup_global_init() != ECRUP_OK) {
        snprintf(out->message, sizeof out->message, "ecrup_global_init failed");
        return;
    }
    struct ecrup_options o;
    ecrup_options_init(&o);
    o.region = "us-east-1";
    o.endpoint_url = cfg->endpoint_url;
    o.access_key_id = getenv("AWS_ACCESS_KEY_ID");
    o.secret_access_key = getenv("AWS_SECRET_ACCESS_KEY");
    o.ca_bundle = cfg->ca_bundle;
    o.log = on_log;
    o.log_level = ECRUP_LOG_INFO;
    out->memory_limit_mib = 512;
    out->layers = (unsigned)n;

    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = bench_now();
    struct ecrup_error e = {0};
    struct ecrup_engine *engine = NULL;
    ecrup_status st = ecrup_engine_new(&o, &engine, &e);
    for (size_t i = 0; st == ECRUP_OK && i < n; i++) {
        struct ecrup_layer l = {
            .path = files[i].path,
            .repository = "bench",
            .digest = cfg->digest_known ? files[i].digest : NULL,
        };
        st = ecrup_engine_add_layer(engine, &l, NULL);
    }
    if (st == ECRUP_OK)
        st = ecrup_engine_run(engine);
    out->wall_s = bench_now() - t0;
    getrusage(RUSAGE_SELF, &r1);
    out->user_s = tv_seconds(r1.ru_utime) - tv_seconds(r0.ru_utime);
    out->sys_s = tv_seconds(r1.ru_stime) - tv_seconds(r0.ru_stime);
    out->peak_rss_mib = peak_rss_mib();
    out->status = (int)st;
    out->requests = atomic_load(&n_requests);
    out->retries = atomic_load(&n_retries);
    out->failed_requests = atomic_load(&n_failed);
    if (st != ECRUP_OK && e.message[0])
        snprintf(out->message, sizeof out->message, "%s", e.message);
    size_t count = engine ? ecrup_engine_result_count(engine) : 0;
    for (size_t i = 0; i < count; i++) {
        const struct ecrup_result *r = ecrup_engine_result(engine, i);
        if (r->outcome == ECRUP_OUTCOME_UPLOADED)
            out->layers_uploaded++;
        out->parts += r->parts;
        if (r->outcome == ECRUP_OUTCOME_FAILED && !out->message[0])
            snprintf(out->message, sizeof out->message, "%s: %s %s", r->path,
                     r->exception ? r->exception : ecrup_strerror(r->status),
                     r->message ? r->message : "");
    }
    if (st != ECRUP_OK && !out->message[0])
        snprintf(out->message, sizeof out->message, "%s", ecrup_strerror(st));
    ecrup_engine_free(engine);
    ecrup_global_cleanup();
}

void bench_ecrup(const struct bench_ecrup_config *cfg, const struct bench_layer_file *files,
                 size_t n, struct bench_ecrup_run *out)
{
    memset(out, 0, sizeof *out);
    out->status = -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC)) {
        snprintf(out->message, sizeof out->message, "pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(out->message, sizeof out->message, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return;
    }
    if (pid == 0) {
        close(p[0]);
        struct bench_ecrup_run r;
        memset(&r, 0, sizeof r);
        r.status = -1;
        child_run(cfg, files, n, &r);
        int ok = write(p[1], &r, sizeof r) == (ssize_t)sizeof r;
        close(p[1]);
        exit(ok ? 0 : 1);
    }
    close(p[1]);
    size_t got = 0;
    while (got < sizeof *out) {
        ssize_t r = read(p[0], (char *)out + got, sizeof *out - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got != sizeof *out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        memset(out, 0, sizeof *out);
        out->status = -1;
        snprintf(out->message, sizeof out->message, "the measuring child failed (status %#x)",
                 (unsigned)status);
    }
}
