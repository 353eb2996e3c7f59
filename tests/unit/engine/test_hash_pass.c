/* The whole-file hash pass, run in the test's thread: digests of whole files and ranges
 * against OpenSSL, one file and two side by side, a file that changed or is shorter than
 * expected, a cancelled pass, passes sliced on real workers; and the two-lane stream update
 * it uses. */
#include "engine/hash_pass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

#include "engine/sha256.h"
#include "util/hex.h"

#include "test.h"

static int done_calls;
static void on_done(struct hash_task *t)
{
    CHECK(t->user == &done_calls);
    done_calls++;
}

struct tfile {
    char path[64];
    int fd;
    unsigned char *data;
    size_t len;
    struct file_id id;
};

static void make_file(struct tfile *f, size_t len, uint64_t seed)
{
    snprintf(f->path, sizeof f->path, "/tmp/ecrup-hash-pass-XXXXXX");
    f->fd = mkstemp(f->path);
    REQUIRE(f->fd >= 0);
    f->data = malloc(len ? len : 1);
    REQUIRE(f->data);
    test_rand_bytes(&seed, f->data, len);
    f->len = len;
    REQUIRE(write(f->fd, f->data, len) == (ssize_t)len);
    struct stat st;
    REQUIRE(fstat(f->fd, &st) == 0);
    f->id = file_id_of(&st);
}

static void drop_file(struct tfile *f)
{
    close(f->fd);
    unlink(f->path);
    free(f->data);
}

static atomic_bool not_cancelled;

static void task_for(struct hash_task *t, struct tfile *f, uint64_t base, uint64_t size)
{
    hash_task_init(t, on_done, &done_calls);
    t->fd = f->fd;
    t->base = base;
    t->size = size;
    t->path = f->path;
    t->id = &f->id;
    t->cancelled = &not_cancelled;
}

static void expect_digest(const struct hash_task *t, const struct tfile *f, size_t base,
                          size_t size)
{
    char want[65];
    REQUIRE(sha256_hex(f->data + base, size, want));
    CHECK_EQ_INT(t->err, 0);
    CHECK_STR(t->hex, want);
}

static void test_one(void)
{
    struct tfile f;
    make_file(&f, (1u << 20) + 77, 1); /* several reads, a partial block at the end */
    struct hash_task t;
    task_for(&t, &f, 0, f.len);
    done_calls = 0;
    t.w.run(&t.w);
    CHECK_EQ_INT(done_calls, 1);
    expect_digest(&t, &f, 0, f.len);
    task_for(&t, &f, 1000, 300001); /* a range */
    t.w.run(&t.w);
    expect_digest(&t, &f, 1000, 300001);
    drop_file(&f);
}

static void test_pair(void)
{
    if (!sha256_native()) {
        fprintf(stderr, "no SHA-NI here: the pair path is not tested\n");
        return;
    }
    struct tfile a, b;
    make_file(&a, (700u << 10) + 5, 2);
    make_file(&b, (300u << 10) + 64 * 3 + 1, 3);
    struct hash_task ta, tb;
    task_for(&ta, &a, 0, a.len);
    task_for(&tb, &b, 17, b.len - 17); /* out of step with a from the first block */
    REQUIRE(ta.w.run_pair != NULL);
    done_calls = 0;
    ta.w.run_pair(&ta.w, &tb.w);
    CHECK_EQ_INT(done_calls, 2);
    expect_digest(&ta, &a, 0, a.len);
    expect_digest(&tb, &b, 17, b.len - 17);
    drop_file(&a);
    drop_file(&b);
}

static atomic_int slice_done;
static void on_slice_done(struct hash_task *t)
{
    (void)t;
    atomic_fetch_add(&slice_done, 1);
}

/* Passes longer than a slice, queued on real workers: each slice queues the next, alone or
 * side by side, and the digests come out whole. */
static void test_slices(void)
{
    struct workers *w = workers_new(2);
    REQUIRE(w);
    enum { N = 3 };
    struct tfile f[N];
    struct hash_task t[N];
    const size_t lens[N] = {2 * HASH_SLICE + 77, HASH_SLICE, 3 * HASH_SLICE - 1};
    atomic_store(&slice_done, 0);
    for (int i = 0; i < N; i++) {
        make_file(&f[i], lens[i], 40 + (uint64_t)i);
        task_for(&t[i], &f[i], 0, f[i].len);
        t[i].done = on_slice_done;
        t[i].workers = w;
        hash_task_start(&t[i], i == 1);
    }
    for (int k = 0; k < 2000 && atomic_load(&slice_done) < N; k++)
        usleep(5000);
    workers_free(w); /* runs what is queued to the end */
    CHECK_EQ_INT(atomic_load(&slice_done), N);
    for (int i = 0; i < N; i++) {
        expect_digest(&t[i], &f[i], 0, f[i].len);
        drop_file(&f[i]);
    }
}

static void test_changed(void)
{
    struct tfile f;
    make_file(&f, 100000, 4);
    struct hash_task t;
    /* an identity taken before a write: the pass ends stale, without a digest */
    task_for(&t, &f, 0, f.len);
    struct file_id old = f.id;
    old.mtime.tv_nsec ^= 1;
    t.id = &old;
    t.w.run(&t.w);
    CHECK_EQ_INT(t.err, -ESTALE);
    /* a write whose mtime was put back: only the ctime tells */
    task_for(&t, &f, 0, f.len);
    old = f.id;
    old.ctime.tv_nsec ^= 1;
    t.id = &old;
    t.w.run(&t.w);
    CHECK_EQ_INT(t.err, -ESTALE);
    /* the path now names another file */
    task_for(&t, &f, 0, f.len);
    struct tfile g;
    make_file(&g, 100000, 4);
    REQUIRE(rename(g.path, f.path) == 0);
    t.w.run(&t.w);
    CHECK_EQ_INT(t.err, -ESTALE);
    close(g.fd);
    free(g.data);
    /* shorter than the size it was asked for */
    struct tfile h;
    make_file(&h, 5000, 5);
    task_for(&t, &h, 0, h.len + 1);
    t.w.run(&t.w);
    CHECK_EQ_INT(t.err, -ESTALE);
    drop_file(&h);
    drop_file(&f);
}

static void test_cancelled(void)
{
    struct tfile f;
    make_file(&f, 1u << 20, 6);
    struct hash_task t;
    task_for(&t, &f, 0, f.len);
    atomic_bool cancelled;
    atomic_init(&cancelled, true);
    t.cancelled = &cancelled;
    done_calls = 0;
    t.w.run(&t.w);
    CHECK_EQ_INT(t.err, -ECANCELED);
    CHECK_EQ_INT(done_calls, 1);
    drop_file(&f);
}

static void test_update_pair(void)
{
    if (!sha256_native())
        return;
    unsigned char buf[1000];
    uint64_t seed = 7;
    test_rand_bytes(&seed, buf, sizeof buf);
    struct sha256_stream a, b;
    REQUIRE(sha256_stream_init(&a, true) == 0 && sha256_stream_init(&b, true) == 0);
    CHECK_EQ_INT(sha256_stream_update_pair(&a, buf, 63, &b, buf, 500), 0); /* under a block */
    size_t n = sha256_stream_update_pair(&a, buf, 500, &b, buf + 1, 300);
    CHECK_EQ_INT(n, 256);
    sha256_stream_update(&a, buf + n, 500 - n);
    sha256_stream_update(&b, buf + 1 + n, 300 - n);
    /* a partial block buffered: nothing side by side */
    CHECK_EQ_INT(sha256_stream_update_pair(&a, buf, 200, &b, buf, 200), 0);
    unsigned char d[32];
    char got[65], want[65];
    REQUIRE(sha256_stream_final(&a, d) == 0);
    hex_encode(d, 32, got);
    REQUIRE(sha256_hex(buf, 500, want));
    CHECK_STR(got, want);
    REQUIRE(sha256_stream_final(&b, d) == 0);
    hex_encode(d, 32, got);
    REQUIRE(sha256_hex(buf + 1, 300, want));
    CHECK_STR(got, want);
    sha256_stream_free(&a);
    sha256_stream_free(&b);
    /* an OpenSSL stream never goes through the lanes */
    REQUIRE(sha256_stream_init(&a, false) == 0 && sha256_stream_init(&b, true) == 0);
    CHECK_EQ_INT(sha256_stream_update_pair(&a, buf, 512, &b, buf, 512), 0);
    sha256_stream_free(&a);
    sha256_stream_free(&b);
}

int main(void)
{
    atomic_init(&not_cancelled, false);
    test_one();
    test_pair();
    test_slices();
    test_changed();
    test_cancelled();
    test_update_pair();
    return test_finish("test_hash_pass");
}
