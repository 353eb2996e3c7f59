/* Read throughput and CPU cost of the io/ reader, every backend and read mode, next to
 * `cat FILE >/dev/null` measured in the same run. Not a test: numbers go to docs/io.md.
 *
 *   bench_io [--size BYTES] [--file PATH] [--part BYTES] [--memory BYTES] [--runs N]
 *            [--depth N] [--file-depth N] [--direct-file-depth N] [--read-size BYTES] [--threads N]
 * [--no-cold]
 *            [--no-warm] [--keep] [--only MODE[,MODE...]]
 *
 * Modes: cat; uring and pread in the default direct mode (auto: O_DIRECT when the page cache
 * does not hold the part); uring-buf and pread-buf (always through the page cache);
 * uring-direct and pread-direct (always O_DIRECT); uring-plain (buffered into unregistered
 * memory, plain READ instead of READ_FIXED); uring-dplain (O_DIRECT into unregistered memory).
 * The file (default $TMPDIR/ecrup-bench-io.dat, 1 GiB) is created, read warm and, unless
 * --no-cold, cold (buffered modes first, then the direct ones: see main) (its pages dropped with
 * posix_fadvise(DONTNEED); the bench also tries /proc/sys/vm/drop_caches and says whether it
 * could), then deleted unless --keep. The reader is driven as the engine drives it: parts requested
 * in order into every free slot of a pool, completions collected from io_reader_wait, slots
 * released. The pool is faulted in before the clock starts; what a fresh pool and reader cost is
 * measured apart ("setup"). CPU is user + system time from getrusage (RUSAGE_SELF: pread workers
 * and io_uring's io-wq threads are threads of this process; RUSAGE_CHILDREN for cat). GB = 10^9
 * bytes. The load average is printed before and after: the machine may be shared. */
#include "io/reader.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct cfg {
    const char *file;
    uint64_t size;
    size_t part;
    uint64_t memory;
    int runs;
    unsigned depth;
    unsigned file_depth;
    unsigned direct_file_depth;
    size_t read_size;
    unsigned threads;
    int cold;
    int keep;
    unsigned only; /* bit mask of modes to run; 0: all */
    int no_warm;   /* cold runs only */
};

struct sample {
    double wall, cpu;
    double direct; /* fraction of bytes read with O_DIRECT */
    int cached;    /* percent of the file cached when the run started, -1 unknown */
};

struct mode {
    const char *name;
    bool cat;
    ecrup_io_backend backend;
    enum io_direct_mode direct;
    int plain_buffers;
};

static const struct mode modes[] = {
    {"cat", true, 0, 0, 0},
    {"uring", false, ECRUP_IO_URING, IO_DIRECT_AUTO, 0},
    {"uring-buf", false, ECRUP_IO_URING, IO_DIRECT_OFF, 0},
    {"uring-plain", false, ECRUP_IO_URING, IO_DIRECT_OFF, 1},
    {"uring-direct", false, ECRUP_IO_URING, IO_DIRECT_ON, 0},
    {"uring-dplain", false, ECRUP_IO_URING, IO_DIRECT_ON, 1},
    {"pread", false, ECRUP_IO_PREAD, IO_DIRECT_AUTO, 0},
    {"pread-buf", false, ECRUP_IO_PREAD, IO_DIRECT_OFF, 0},
    {"pread-direct", false, ECRUP_IO_PREAD, IO_DIRECT_ON, 0},
};
#define M_COUNT (int)(sizeof(modes) / sizeof(modes[0]))

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu_of(int who)
{
    struct rusage u;
    getrusage(who, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec * 1e-6;
}

static uint64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    switch (*end) {
    case 'k':
    case 'K':
        v *= 1024;
        break;
    case 'm':
    case 'M':
        v *= 1024 * 1024;
        break;
    case 'g':
    case 'G':
        v *= 1024.0 * 1024 * 1024;
        break;
    default:
        break;
    }
    return (uint64_t)v;
}

static int make_file(const struct cfg *c)
{
    struct stat st;
    if (stat(c->file, &st) == 0 && (uint64_t)st.st_size == c->size)
        return 0;
    int fd = open(c->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t chunk = 1 << 20;
    unsigned char *buf = malloc(chunk);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < chunk; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(buf + i, &x, 8);
    }
    for (uint64_t done = 0; done < c->size;) {
        size_t n = c->size - done < chunk ? (size_t)(c->size - done) : chunk;
        memcpy(buf, &done, sizeof(done)); /* no two chunks alike */
        if (write(fd, buf, n) != (ssize_t)n) {
            free(buf);
            close(fd);
            return -EIO;
        }
        done += n;
    }
    free(buf);
    fsync(fd);
    close(fd);
    return 0;
}

static void drop_file_cache(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

/* Percent of the file in the page cache (cachestat(2), Linux 6.5), or -1 where unknown. */
static int cached_percent(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return -1;
    uint64_t cached, dirty;
    int rc = io_cache_pages(fd, 0, 0, &cached, &dirty);
    int ok = fstat(fd, &st) == 0 && st.st_size > 0;
    close(fd);
    if (rc != 0 || !ok)
        return -1;
    return (int)(100 * cached * 4096 / (uint64_t)st.st_size);
}

static int try_drop_caches(void)
{
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = write(fd, "3", 1) == 1 ? 0 : -errno;
    close(fd);
    return rc;
}

static int run_cat(const struct cfg *c, struct sample *s)
{
    double cpu0 = cpu_of(RUSAGE_CHILDREN), t0 = now();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, 1) < 0)
            _exit(126);
        execlp("cat", "cat", c->file, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    s->wall = now() - t0;
    s->cpu = cpu_of(RUSAGE_CHILDREN) - cpu0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int run_reader(const struct cfg *c, const struct mode *m, struct sample *s, char *desc,
                      size_t desc_cap)
{
    struct io_bufpool *pool;
    struct io_bufpool_options po = {.part_size = c->part, .memory_limit = c->memory};
    int rc = io_bufpool_new(&po, &pool);
    if (rc)
        return rc;
    /* Fault the pool in first: the engine pays that once per process, not per layer. */
    for (unsigned i = 0; i < io_bufpool_count(pool); i++)
        memset(io_bufpool_slot(pool, i)->raw, 0, c->part);
    struct io_reader *r;
    struct io_reader_options ro = {.backend = m->backend,
                                   .direct = m->direct,
                                   .plain_buffers = m->plain_buffers,
                                   .queue_depth = c->depth,
                                   .file_depth = c->file_depth,
                                   .direct_file_depth = c->direct_file_depth,
                                   .read_size = c->read_size,
                                   .threads = c->threads};
    rc = io_reader_new(&ro, pool, &r);
    if (rc) {
        io_bufpool_free(pool);
        return rc;
    }
    io_reader_describe(r, desc, desc_cap);
    double cpu0 = cpu_of(RUSAGE_SELF), t0 = now();
    struct io_file *f;
    rc = io_reader_open(r, c->file, &f);
    uint64_t size = rc ? 0 : io_file_size(f), next = 0, got = 0, direct = 0;
    while (!rc && got < size) {
        struct io_slot *slot;
        while (next < size && io_bufpool_acquire(pool, &slot) == 0) {
            size_t len = size - next < c->part ? (size_t)(size - next) : c->part;
            rc = io_reader_submit(r, f, next, len, slot, NULL);
            if (rc)
                break;
            next += len;
        }
        struct io_completion done[64];
        int n = io_reader_wait(r, done, 64, -1);
        for (int i = 0; i < n; i++) {
            if (done[i].error && !rc)
                rc = done[i].error;
            got += done[i].bytes;
            direct += done[i].direct_bytes;
            io_bufpool_release(pool, done[i].slot);
        }
        if (n < 0)
            rc = n;
    }
    if (!rc)
        io_reader_close(r, f);
    s->wall = now() - t0;
    s->cpu = cpu_of(RUSAGE_SELF) - cpu0;
    s->direct = got ? (double)direct / (double)got : 0;
    io_reader_describe(r, desc, desc_cap); /* after: it counts registered slots */
    io_reader_free(r);
    io_bufpool_free(pool);
    return rc;
}

static void report(const char *what, const char *mode, const struct cfg *c, const struct sample *s)
{
    double gb = (double)c->size / 1e9;
    printf("%-5s %-12s %6.2f GB/s  %6.3f CPU-s/GB  (%.3f s wall, %.3f s CPU, %3.0f%% direct, %d%% "
           "cached before)\n",
           mode, what, gb / s->wall, s->cpu / gb, s->wall, s->cpu, 100 * s->direct, s->cached);
    fflush(stdout);
}

#define MAX_RUNS 20

struct series {
    struct sample s[MAX_RUNS];
    int n;
    char desc[200];
};

/* One round: every mode once, interleaved so that load from other work on the machine spreads
 * over all of them. */
static bool buffered_mode(const struct mode *m)
{
    return m->cat || m->direct == IO_DIRECT_OFF;
}

/* group: -1 every mode; 0 the buffered ones (cat included); 1 the others (O_DIRECT, or auto,
 * which reads a cold file with O_DIRECT). */
static void round_of(const struct cfg *c, int cold, int group, struct series *out)
{
    const char *when = cold ? "cold" : "warm";
    for (int m = 0; m < M_COUNT; m++) {
        struct sample s = {0};
        char desc[200] = "";
        if (c->only && !(c->only & (1u << m)))
            continue;
        if (group >= 0 && buffered_mode(&modes[m]) != (group == 0))
            continue;
        if (cold)
            drop_file_cache(c->file);
        s.cached = cached_percent(c->file);
        int rc = modes[m].cat ? run_cat(c, &s) : run_reader(c, &modes[m], &s, desc, sizeof(desc));
        if (rc) {
            printf("%-5s %-12s failed: %s\n", when, modes[m].name, strerror(-rc));
            continue;
        }
        report(modes[m].name, when, c, &s);
        out[m].s[out[m].n++] = s;
        if (desc[0])
            snprintf(out[m].desc, sizeof(out[m].desc), "%s", desc);
    }
}

/* What a fresh pool on the engine's default 512 MiB limit and a reader over it cost before and
 * after reading one part: creation, registration, first faults, teardown. */
static void setup_cost(const struct cfg *c)
{
    for (int m = 0; m < M_COUNT; m++) {
        if (modes[m].cat || (c->only && !(c->only & (1u << m))))
            continue;
        double cpu0 = cpu_of(RUSAGE_SELF), t0 = now();
        struct io_bufpool *pool;
        struct io_bufpool_options po = {.part_size = c->part};
        if (io_bufpool_new(&po, &pool))
            return;
        struct io_reader *r;
        struct io_reader_options ro = {.backend = modes[m].backend,
                                       .direct = modes[m].direct,
                                       .plain_buffers = modes[m].plain_buffers};
        if (io_reader_new(&ro, pool, &r)) {
            io_bufpool_free(pool);
            return;
        }
        double cpu1 = cpu_of(RUSAGE_SELF);
        struct io_file *f;
        struct io_slot *slot;
        int rc = io_reader_open(r, c->file, &f);
        if (!rc && io_bufpool_acquire(pool, &slot) == 0) {
            size_t len = io_file_size(f) < c->part ? (size_t)io_file_size(f) : c->part;
            struct io_completion done;
            if (io_reader_submit(r, f, 0, len, slot, NULL) == 0)
                io_reader_wait(r, &done, 1, -1);
            io_bufpool_release(pool, slot);
            io_reader_close(r, f);
        }
        unsigned n = io_bufpool_count(pool);
        io_reader_free(r);
        io_bufpool_free(pool);
        printf("setup %-12s pool of %u slots (512 MiB limit) + reader: %.3f CPU-s to create, "
               "%.3f CPU-s with one part read and freed, %.3f s wall\n",
               modes[m].name, n, cpu1 - cpu0, cpu_of(RUSAGE_SELF) - cpu0, now() - t0);
    }
}

static int by_cpu(const void *a, const void *b)
{
    double x = ((const struct sample *)a)->cpu, y = ((const struct sample *)b)->cpu;
    return (x > y) - (x < y);
}

static int by_wall(const void *a, const void *b)
{
    double x = ((const struct sample *)a)->wall, y = ((const struct sample *)b)->wall;
    return (x > y) - (x < y);
}

/* Medians of wall time and of CPU time, taken separately; the machine is shared, so single runs
 * mislead. */
static void summary(const struct cfg *c, const char *mode, struct series *ser)
{
    double gb = (double)c->size / 1e9;
    for (int m = 0; m < M_COUNT; m++) {
        struct series *x = &ser[m];
        if (!x->n)
            continue;
        qsort(x->s, (size_t)x->n, sizeof(x->s[0]), by_wall);
        double wall_med = x->s[x->n / 2].wall, wall_min = x->s[0].wall;
        qsort(x->s, (size_t)x->n, sizeof(x->s[0]), by_cpu);
        double cpu_med = x->s[x->n / 2].cpu, cpu_min = x->s[0].cpu;
        printf("SUMMARY %-4s %-12s median %6.2f GB/s %6.3f CPU-s/GB | best %6.2f GB/s %6.3f "
               "CPU-s/GB (n=%d, %3.0f%% direct)%s%s\n",
               mode, modes[m].name, gb / wall_med, cpu_med / gb, gb / wall_min, cpu_min / gb, x->n,
               100 * x->s[0].direct, x->desc[0] ? "  " : "", x->desc);
    }
}

static int parse_only(const char *v, unsigned *mask)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", v);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int m = 0;
        while (m < M_COUNT && strcmp(modes[m].name, t))
            m++;
        if (m == M_COUNT)
            return -1;
        *mask |= 1u << m;
    }
    return 0;
}

static void print_load(const char *when)
{
    double l[3];
    if (getloadavg(l, 3) == 3)
        printf("load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

int main(int argc, char **argv)
{
    static char defpath[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(defpath, sizeof(defpath), "%s/ecrup-bench-io.dat", tmp && *tmp ? tmp : "/tmp");
    struct cfg c = {.file = defpath,
                    .size = 1ull << 30,
                    .part = 10u << 20,
                    .memory = 256u << 20,
                    .runs = 5,
                    .cold = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-cold"))
            c.cold = 0;
        else if (!strcmp(a, "--keep"))
            c.keep = 1;
        else if (!strcmp(a, "--no-warm"))
            c.no_warm = 1;
        else if (v && !strcmp(a, "--only")) {
            i++;
            if (parse_only(v, &c.only)) {
                fprintf(stderr, "bench_io: unknown mode in %s\n", v);
                return 2;
            }
        } else if (v && !strcmp(a, "--file"))
            c.file = v, i++;
        else if (v && !strcmp(a, "--size"))
            c.size = parse_size(v), i++;
        else if (v && !strcmp(a, "--part"))
            c.part = (size_t)parse_size(v), i++;
        else if (v && !strcmp(a, "--memory"))
            c.memory = parse_size(v), i++;
        else if (v && !strcmp(a, "--runs"))
            c.runs = atoi(v), i++;
        else if (v && !strcmp(a, "--depth"))
            c.depth = (unsigned)atoi(v), i++;
        else if (v && !strcmp(a, "--direct-file-depth"))
            c.direct_file_depth = (unsigned)atoi(v), i++;
        else if (v && !strcmp(a, "--file-depth"))
            c.file_depth = (unsigned)atoi(v), i++;
        else if (v && !strcmp(a, "--read-size"))
            c.read_size = (size_t)parse_size(v), i++;
        else if (v && !strcmp(a, "--threads"))
            c.threads = (unsigned)atoi(v), i++;
        else {
            fprintf(
                stderr,
                "usage: bench_io [--size B] [--file PATH] [--part B] [--memory B] [--runs N]\n"
                "                [--depth N] [--file-depth N] [--direct-file-depth N] "
                "[--read-size B] "
                "[--threads N] "
                "[--no-cold] "
                "[--no-warm] [--keep] [--only MODE,...]\n"
                "modes: cat uring uring-buf uring-plain uring-direct uring-dplain pread pread-buf "
                "pread-direct\n");
            return 2;
        }
    }
    if (c.runs < 1 || c.runs > MAX_RUNS) {
        fprintf(stderr, "bench_io: --runs must be 1..%d\n", MAX_RUNS);
        return 2;
    }
    if (!c.size || !c.part) {
        fprintf(stderr, "bench_io: --size and --part must be > 0\n");
        return 2;
    }
    int rc = make_file(&c);
    if (rc) {
        fprintf(stderr, "bench_io: cannot create %s: %s\n", c.file, strerror(-rc));
        return 1;
    }
    printf("file %s, %.3f GB; part %zu MiB; pool %llu MiB; %d runs\n", c.file, (double)c.size / 1e9,
           c.part >> 20, (unsigned long long)(c.memory >> 20), c.runs);
    print_load("at start");
    setup_cost(&c);
    struct sample warmup;
    run_cat(&c, &warmup); /* page cache warm */
    static struct series warm[M_COUNT], cold[M_COUNT];
    for (int i = 0; i < c.runs && !c.no_warm; i++)
        round_of(&c, 0, -1, warm);
    if (c.cold) {
        int d = try_drop_caches();
        printf("drop_caches: %s; cold runs drop the file's pages with "
               "posix_fadvise(DONTNEED)\n",
               d ? strerror(-d) : "allowed");
        /* The first buffered read of a cold file after an O_DIRECT read of it costs 2-4x the
         * CPU of the next one here (reproduced with plain pread, no io/ code involved), so cold
         * runs do every buffered mode first, after one unrecorded buffered cold read, then the
         * direct ones. */
        struct sample settle;
        drop_file_cache(c.file);
        run_cat(&c, &settle);
        for (int i = 0; i < c.runs; i++)
            round_of(&c, 1, 0, cold);
        for (int i = 0; i < c.runs; i++)
            round_of(&c, 1, 1, cold);
    }
    print_load("at end");
    if (!c.no_warm)
        summary(&c, "warm", warm);
    if (c.cold)
        summary(&c, "cold", cold);
    if (!c.keep)
        unlink(c.file);
    return 0;
}
