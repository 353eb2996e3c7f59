/* cli/tar_stream.c over tarballs GNU tar and Python's tarfile wrote (tests/support/
 * tar_fixtures.py: gnu and pax formats, long names and link targets, hard and symbolic links),
 * plain, gzip and as two gzip members, fed through a pipe by a child that writes in odd-sized
 * chunks so reads come back short. Every member's name, type, link and size is compared with
 * what tarfile read, and every data byte through its SHA-256, reading in pieces of 1, 511,
 * 512, 4097 and 1 MiB + 3 bytes, skipping members, and from another thread. Then inputs cut
 * short (in a header, an extended header, data, padding, gzip data, the gzip trailer), a
 * damaged gzip stream, trailing garbage, empty input and the compressions refused. */
#include "cli/tar_stream.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/test_tar_stream.XXXXXX";

struct expect {
    char type; /* F, H, S */
    char *name, *link;
    uint64_t size, off, off_data;
    char sha[65];
};

struct fixture {
    const char *name;
    unsigned char *tar, *gz, *gz2;
    size_t tar_len, gz_len, gz2_len;
    struct expect *e;
    size_t n;
};

static unsigned char *load(const char *name, const char *suffix, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    unsigned char *d = (unsigned char *)test_read_file(path, len);
    REQUIRE(d != NULL);
    return d;
}

static void load_fixture(struct fixture *f, const char *name)
{
    f->name = name;
    f->tar = load(name, ".tar", &f->tar_len);
    f->gz = load(name, ".tar.gz", &f->gz_len);
    f->gz2 = load(name, ".tar.2gz", &f->gz2_len);
    size_t len;
    char *text = (char *)load(name, ".members", &len), *save = NULL;
    f->e = calloc(64, sizeof *f->e);
    f->n = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        REQUIRE(f->n < 64);
        struct expect *e = &f->e[f->n++];
        char *fields[7], *fs = NULL, *p = line;
        for (int i = 0; i < 7; i++, p = NULL)
            REQUIRE((fields[i] = strtok_r(p, "\t", &fs)) != NULL);
        e->type = fields[0][0];
        e->name = strdup(fields[1]);
        e->link = strcmp(fields[2], "-") ? strdup(fields[2]) : NULL;
        e->size = strtoull(fields[3], NULL, 10);
        snprintf(e->sha, sizeof e->sha, "%s", fields[4]);
        e->off = strtoull(fields[5], NULL, 10);
        e->off_data = strtoull(fields[6], NULL, 10);
    }
    free(text);
    REQUIRE(f->n > 0);
}

static void free_fixture(struct fixture *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->e[i].name);
        free(f->e[i].link);
    }
    free(f->e);
    free(f->tar);
    free(f->gz);
    free(f->gz2);
}

/* A child writing `len` bytes of `data` into a pipe in chunks of 1..7919 bytes; *fd: its end. */
static pid_t feed(const unsigned char *data, size_t len, uint64_t seed, int *fd)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        signal(SIGPIPE, SIG_IGN); /* a reader that stops early is not the writer's failure */
        for (size_t off = 0; off < len;) {
            size_t n = 1 + test_rand(&seed) % 7919;
            ssize_t w = write(p[1], data + off, n < len - off ? n : len - off);
            if (w < 0 && errno != EINTR)
                _exit(0);
            off += w > 0 ? (size_t)w : 0;
        }
        _exit(0);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

static void reap(pid_t pid, int fd)
{
    close(fd);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

enum mode { READ_ALL, SKIP_ODD, READ_SOME };

/* Read one member's data in pieces of `piece` bytes (at most `limit`), checking each count;
 * the SHA-256 of what was read in `hex`. Returns the bytes read, -1 on an error. */
struct reader {
    struct tar_stream *ts;
    const struct tar_stream_member *m;
    size_t piece;
    uint64_t limit;
    char hex[65];
    int64_t got;
    struct ebuf err;
};

static void *read_member(void *arg)
{
    struct reader *r = arg;
    unsigned char *buf = malloc(r->piece);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    uint64_t total = 0;
    ptrdiff_t n = 0;
    int short_reads = 0;
    while (total < r->limit) {
        uint64_t want = r->limit - total < r->piece ? r->limit - total : r->piece;
        if ((n = tar_stream_read(r->ts, buf, want, &r->err)) <= 0)
            break;
        /* short only at the member's end, whatever the pipe gave */
        if ((uint64_t)n != (want < r->m->size - total ? want : r->m->size - total))
            short_reads++;
        EVP_DigestUpdate(md, buf, (size_t)n);
        total += (uint64_t)n;
    }
    CHECK_EQ_INT(short_reads, 0);
    unsigned char d[32];
    EVP_DigestFinal_ex(md, d, NULL);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(r->hex + 2 * i, 3, "%02x", d[i]);
    free(buf);
    r->got = n < 0 ? -1 : (int64_t)total;
    return NULL;
}

static int runs;

/* Read `data` (`len` bytes, a tarball of `f` compressed as `compression`) through a pipe and
 * compare every member with what tarfile saw. */
static void run(const struct fixture *f, const unsigned char *data, size_t len,
                const char *compression, size_t piece, enum mode mode, bool threaded)
{
    runs++;
    int fd;
    pid_t pid = feed(data, len, (uint64_t)runs * 7919 + piece, &fd);
    struct tar_stream *ts;
    struct ebuf err = EBUF_INIT;
    if (tar_stream_open(fd, "-", &ts, &err) != 0) {
        fprintf(stderr, "%s (%s): %s\n", f->name, compression, ebuf_str(&err));
        exit(1);
    }
    CHECK_STR(tar_stream_compression(ts), compression);
    struct tar_stream_member m;
    size_t i = 0;
    int rc;
    while ((rc = tar_stream_next(ts, &m, &err)) == 1 && i < f->n) {
        const struct expect *e = &f->e[i];
        CHECK_STR(m.name, e->name);
        CHECK_EQ_INT(m.type, e->type == 'F'   ? TAR_FILE
                             : e->type == 'H' ? TAR_HARDLINK
                                              : TAR_SYMLINK);
        CHECK((m.link == NULL) == (e->link == NULL));
        if (e->link)
            CHECK_STR(m.link, e->link);
        CHECK_EQ_INT(m.size, e->size);
        if (mode == SKIP_ODD && i % 2) {
            i++;
            continue;
        }
        struct reader r = {ts, &m, piece, mode == READ_SOME ? 1000 : UINT64_MAX, "", 0, EBUF_INIT};
        if (threaded) {
            pthread_t t;
            REQUIRE(pthread_create(&t, NULL, read_member, &r) == 0);
            pthread_join(t, NULL);
        } else {
            read_member(&r);
        }
        if (r.got < 0)
            fprintf(stderr, "%s: %s\n", e->name, ebuf_str(&r.err));
        CHECK_EQ_INT(r.got, r.limit < e->size ? r.limit : e->size);
        if (e->type == 'F' && mode == READ_ALL)
            CHECK_STR(r.hex, e->sha);
        ebuf_free(&r.err);
        i++;
    }
    if (rc < 0)
        fprintf(stderr, "%s (%s, pieces of %zu): %s\n", f->name, compression, piece,
                ebuf_str(&err));
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(i, f->n);
    CHECK_EQ_INT(tar_stream_next(ts, &m, &err), 0); /* the end stays the end */
    CHECK_EQ_INT(tar_stream_offset(ts), f->tar_len);
    CHECK_EQ_INT(tar_stream_input_offset(ts), len);
    tar_stream_free(ts);
    reap(pid, fd);
    ebuf_free(&err);
}

static void test_fixtures(void)
{
    static const char *names[] = {"gnu", "pax", "py-pax", "py-gnu", "bzname", "paxsize"};
    static const size_t pieces[] = {1, 511, 512, 4097, (1u << 20) + 3};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        struct fixture f;
        load_fixture(&f, names[k]);
        for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
            /* byte at a time only on two tarballs: it is the slow one */
            if (pieces[p] == 1 && k > 1)
                continue;
            run(&f, f.tar, f.tar_len, "none", pieces[p], READ_ALL, false);
            run(&f, f.gz, f.gz_len, "gzip", pieces[p], READ_ALL, false);
            run(&f, f.gz2, f.gz2_len, "gzip", pieces[p], READ_ALL, false);
        }
        run(&f, f.tar, f.tar_len, "none", 4097, SKIP_ODD, false);
        run(&f, f.gz2, f.gz2_len, "gzip", 4097, SKIP_ODD, false);
        run(&f, f.tar, f.tar_len, "none", 511, READ_SOME, false);
        run(&f, f.gz, f.gz_len, "gzip", 511, READ_SOME, false);
        run(&f, f.tar, f.tar_len, "none", 4097, READ_ALL, true);
        run(&f, f.gz, f.gz_len, "gzip", (1u << 20) + 3, READ_ALL, true);
        free_fixture(&f);
    }
}

/* Read all of `data` through a pipe; returns what the last call returned, its message in
 * `err`, and in *members how many members next gave. */
static int read_through(const unsigned char *data, size_t len, const char *name, bool read_data,
                        size_t *members, struct ebuf *err)
{
    int fd;
    pid_t pid = feed(data, len, len, &fd);
    struct tar_stream *ts;
    ebuf_reset(err);
    *members = 0;
    int rc = tar_stream_open(fd, name, &ts, err);
    if (rc == 0) {
        static unsigned char buf[65536];
        struct tar_stream_member m;
        while ((rc = tar_stream_next(ts, &m, err)) == 1) {
            ++*members;
            ptrdiff_t n = 0;
            while (read_data && (n = tar_stream_read(ts, buf, sizeof buf, err)) > 0) {
            }
            if (n < 0) {
                rc = -1;
                break;
            }
        }
        tar_stream_free(ts);
    }
    reap(pid, fd);
    return rc;
}

static bool contains(const struct ebuf *b, const char *s)
{
    if (strstr(ebuf_str(b), s))
        return true;
    fprintf(stderr, "message \"%s\" lacks \"%s\"\n", ebuf_str(b), s);
    return false;
}

static const struct expect *find(const struct fixture *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->e[i].name, name))
            return &f->e[i];
    REQUIRE(false); /* every member looked for is in the fixture */
    return NULL;
}

static void test_cut_plain(void)
{
    struct fixture f;
    load_fixture(&f, "gnu");
    struct ebuf err = EBUF_INIT, want = EBUF_INIT;
    size_t n;

    /* the first header, which is the root directory's */
    CHECK_EQ_INT(read_through(f.tar, 100, "-", true, &n, &err), -1);
    CHECK_STR(ebuf_str(&err), "standard input ended inside a header at tar byte 0");

    /* inside a member's data, read or skipped */
    const struct expect *big1 = find(&f, "big1");
    for (int read_data = 0; read_data < 2; read_data++) {
        CHECK_EQ_INT(read_through(f.tar, big1->off_data + 1000, "-", read_data, &n, &err), -1);
        CHECK_STR(ebuf_str(&err),
                  "standard input ended inside member big1 at byte 1000 of 1048579");
    }
    CHECK_EQ_INT(read_through(f.tar, big1->off_data + 300000, "img.tar", true, &n, &err), -1);
    CHECK_STR(ebuf_str(&err), "img.tar ended inside member big1 at byte 300000 of 1048579");

    /* inside the header after big1, which names it */
    const struct expect *big2 = find(&f, "big2");
    CHECK_EQ_INT(read_through(f.tar, big2->off + 200, "-", true, &n, &err), -1);
    ebuf_reset(&want);
    ebuf_printf(&want,
                "standard input ended inside a header at tar byte %" PRIu64 " (after member big1)",
                big2->off);
    CHECK_STR(ebuf_str(&err), ebuf_str(&want));

    /* in the padding after b511's data */
    const struct expect *b511 = find(&f, "b511");
    CHECK_EQ_INT(read_through(f.tar, b511->off_data + 511, "-", true, &n, &err), -1);
    CHECK(contains(&err, "ended inside the padding of a member"));
    CHECK(contains(&err, "(after member b511)"));

    /* a clean end right after a member's padding: what is there is whole */
    CHECK_EQ_INT(read_through(f.tar, big2->off, "-", true, &n, &err), 0);
    CHECK_EQ_INT(n, (size_t)(big2 - f.e));

    /* trailing bytes after the end blocks are not read as a tar */
    size_t glen = f.tar_len + 5000;
    unsigned char *g = malloc(glen);
    memcpy(g, f.tar, f.tar_len);
    memset(g + f.tar_len, 0xa5, 5000);
    CHECK_EQ_INT(read_through(g, glen, "-", true, &n, &err), 0);
    CHECK_EQ_INT(n, f.n);
    free(g);
    free_fixture(&f);

    /* pax and GNU extended headers cut inside their records */
    const char *ext[] = {"py-pax", "py-gnu"};
    for (int k = 0; k < 2; k++) {
        load_fixture(&f, ext[k]);
        const struct expect *lng = NULL;
        for (size_t i = 0; i < f.n; i++)
            if (strstr(f.e[i].name, "nnnnn"))
                lng = &f.e[i];
        REQUIRE(lng && lng->off_data > lng->off + TAR_BLOCK);
        CHECK_EQ_INT(read_through(f.tar, lng->off + TAR_BLOCK + 10, "-", true, &n, &err), -1);
        CHECK(contains(&err, "standard input ended inside an extended header"));
        /* the extended header whole, its member's header missing */
        CHECK_EQ_INT(read_through(f.tar, lng->off_data - TAR_BLOCK, "-", true, &n, &err), -1);
        CHECK(contains(&err, "ended before the member an extended header names"));
        free_fixture(&f);
    }
    ebuf_free(&err);
    ebuf_free(&want);
}

static void test_gzip_damage(void)
{
    struct fixture f;
    load_fixture(&f, "gnu");
    struct ebuf err = EBUF_INIT;
    size_t n;

    /* cut inside the compressed data: the message says where in the tar, and why */
    for (int k = 1; k <= 3; k++) {
        CHECK_EQ_INT(read_through(f.gz, f.gz_len * (size_t)k / 4, "-", true, &n, &err), -1);
        CHECK(contains(&err, "standard input ended inside"));
        CHECK(contains(&err, "(the gzip stream is cut short)"));
    }
    /* in the middle of big1, when the cut falls there */
    CHECK_EQ_INT(read_through(f.gz, f.gz_len / 8, "-", true, &n, &err), -1);
    CHECK(contains(&err, "ended inside member big1 at byte"));
    /* in the trailer: the whole tar was read, its checksum never came */
    CHECK_EQ_INT(read_through(f.gz, f.gz_len - 4, "-", true, &n, &err), -1);
    CHECK(contains(&err, "the gzip stream is cut short after the end of the archive"));
    CHECK_EQ_INT(n, f.n);
    unsigned char *d = malloc(f.gz_len);
    memcpy(d, f.gz, f.gz_len);
    d[10] = 0x07; /* the first deflate block: final, of type 3, which does not exist */
    CHECK_EQ_INT(read_through(d, f.gz_len, "-", true, &n, &err), -1);
    CHECK(contains(&err, "standard input: gzip data error at tar byte 0"));
    CHECK(contains(&err, "invalid block type"));
    memcpy(d, f.gz, f.gz_len);
    d[f.gz_len - 8] ^= 0xff; /* the CRC-32 of the trailer */
    CHECK_EQ_INT(read_through(d, f.gz_len, "-", true, &n, &err), -1);
    CHECK(contains(&err, "gzip data error"));
    CHECK(contains(&err, "incorrect data check"));
    CHECK(n > 0); /* found when inflate reaches the trailer, which may be ahead of the reader */
    free(d);

    /* garbage after the gzip stream is not read */
    size_t glen = f.gz2_len + 3000;
    unsigned char *g = malloc(glen);
    memcpy(g, f.gz2, f.gz2_len);
    memset(g + f.gz2_len, 0x5a, 3000);
    CHECK_EQ_INT(read_through(g, glen, "-", true, &n, &err), 0);
    CHECK_EQ_INT(n, f.n);
    free(g);
    free_fixture(&f);
    ebuf_free(&err);
}

static void test_refused(void)
{
    struct ebuf err = EBUF_INIT;
    size_t n;
    static const struct {
        const char *tool;
        unsigned char magic[16];
    } cases[] = {
        {"zstd", {0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 1, 2, 3, 4, 5, 6}},
        {"xz", {0xfd, '7', 'z', 'X', 'Z', 0, 0, 4, 0xe6, 0xd6, 0xb4, 0x46}},
        {"bzip2", {'B', 'Z', 'h', '9', 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 7, 7}},
        {"lz4", {0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ebuf want = EBUF_INIT;
        CHECK_EQ_INT(read_through(cases[i].magic, 16, "-", true, &n, &err), -1);
        ebuf_printf(&want, "standard input is %s-compressed", cases[i].tool);
        CHECK(contains(&err, ebuf_str(&want)));
        ebuf_reset(&want);
        ebuf_printf(&want, "| %s -dc | ecrup push ... -", cases[i].tool);
        CHECK(contains(&err, ebuf_str(&want)));
        ebuf_free(&want);
    }
    /* a file by name: the hint names it */
    CHECK_EQ_INT(read_through(cases[0].magic, 16, "image.tar.zst", true, &n, &err), -1);
    CHECK_STR(ebuf_str(&err), "image.tar.zst is zstd-compressed; ecrup reads plain and "
                              "gzip-compressed tarballs: decompress it first (zstd -dc "
                              "image.tar.zst | ecrup push ... -)");
    /* the real thing, from zstd itself when it is there */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "zstd -q -c %s/gnu.tar > %s/gnu.tar.zst 2>/dev/null", dir, dir);
    if (system(cmd) == 0) {
        size_t len;
        unsigned char *z = load("gnu", ".tar.zst", &len);
        CHECK_EQ_INT(read_through(z, len, "-", true, &n, &err), -1);
        CHECK(contains(&err, "zstd -dc"));
        free(z);
    }
    /* empty input, and one that is not a tar at all */
    CHECK_EQ_INT(read_through((const unsigned char *)"", 0, "-", true, &n, &err), -1);
    CHECK_STR(ebuf_str(&err), "standard input is empty: there is no tar file to read");
    static unsigned char junk[2048];
    memset(junk, 'j', sizeof junk);
    CHECK_EQ_INT(read_through(junk, sizeof junk, "-", true, &n, &err), -1);
    CHECK_STR(ebuf_str(&err), "standard input is not a tar file (bad header at byte 0)");
    ebuf_free(&err);
}

/* From a regular file rather than a pipe: the same reader, reads as large as asked. */
static void test_file(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/gnu.tar.gz", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    struct tar_stream *ts;
    struct ebuf err = EBUF_INIT;
    REQUIRE(tar_stream_open(fd, path, &ts, &err) == 0);
    struct tar_stream_member m;
    size_t members = 0;
    int rc;
    while ((rc = tar_stream_next(ts, &m, &err)) == 1)
        members++;
    CHECK_EQ_INT(rc, 0);
    CHECK(members > 5);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && tar_stream_input_offset(ts) == (uint64_t)st.st_size);
    tar_stream_free(ts);
    tar_stream_free(NULL);
    close(fd);
    ebuf_free(&err);
}

int main(void)
{
    REQUIRE(mkdtemp(dir) != NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 %s/tests/support/tar_fixtures.py %s", ECRUP_SOURCE_DIR, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_tar_stream: cannot build the tarballs (python3, tar, gzip)\n");
        return TEST_SKIP;
    }
    test_fixtures();
    test_cut_plain();
    test_gzip_damage();
    test_refused();
    test_file();
    printf("test_tar_stream: %d runs over pipes\n", runs);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return test_finish("test_tar_stream");
}
