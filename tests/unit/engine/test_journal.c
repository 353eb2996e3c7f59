/* The journal of uploads in flight: a round trip (begin, confirm, acquire again), what makes
 * an entry unusable (another file identity, a damaged or truncated file, an unknown version,
 * a byte count going backwards), the lock another holder has, removal, pruning by age, and
 * the modes of what is created. */
#include "engine/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/hex.h"

#include "test.h"

static char state[128];

static struct journal_key key(void)
{
    return (struct journal_key){.endpoint = "http://127.0.0.1:5000",
                                .registry = "",
                                .repository = "app/base",
                                .path = "/tmp/layer.tar.gz",
                                .dev = 2049,
                                .ino = 123456789012345ull,
                                .size = 200u << 20,
                                .mtime_ns = 1765000000123456789ll,
                                .ctime_ns = 1765000000987654321ll,
                                .offset = 0,
                                .length = 200u << 20};
}

/* The single entry file in the uploads directory. */
static void entry_file(struct journal *j, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/*.journal", journal_dir(j));
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    REQUIRE(fgets(out, (int)cap, p) != NULL);
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static size_t count_entries(struct journal *j)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c 'journal$'", journal_dir(j));
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    size_t n = 0;
    if (fscanf(p, "%zu", &n) != 1)
        n = 0;
    pclose(p);
    return n;
}

static enum journal_found acquire(struct journal *j, const struct journal_key *k,
                                  struct journal_entry **e, struct journal_record *r,
                                  struct ebuf *why)
{
    enum journal_found f;
    ebuf_reset(why);
    REQUIRE(journal_acquire(j, k, e, &f, r, why) == 0);
    return f;
}

static void test_round_trip(struct journal *j)
{
    struct journal_key k = key();
    struct journal_entry *e;
    struct journal_record r;
    struct ebuf why = EBUF_INIT;
    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_NONE);
    REQUIRE(e);
    CHECK_EQ_INT(journal_confirm(e, 5), 0); /* before begin: nothing written */
    CHECK_EQ_INT(journal_begin(e, &k, "upload-id-1", 10485760, 1765000000), 0);
    for (uint64_t c = 1; c <= 9; c++)
        CHECK_EQ_INT(journal_confirm(e, c * 10485760), 0);

    /* Held: a second acquire, even in this process, finds it busy. */
    struct journal_entry *e2;
    struct journal_record r2;
    CHECK_EQ_INT(acquire(j, &k, &e2, &r2, &why), JOURNAL_BUSY);
    CHECK(e2 == NULL);
    /* And another process too. */
    pid_t pid = fork();
    if (pid == 0) {
        struct journal_entry *e3;
        struct journal_record r3;
        enum journal_found f;
        struct ebuf w = EBUF_INIT;
        int rc = journal_acquire(j, &k, &e3, &f, &r3, &w);
        _exit(rc == 0 && f == JOURNAL_BUSY ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    char path[512];
    entry_file(j, path, sizeof path);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    size_t len;
    char *text = test_read_file(path, &len);
    REQUIRE(text);
    CHECK(strstr(text, "upload-id-1") != NULL);
    free(text);
    journal_release(e);

    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_RESUME);
    CHECK_STR(r.upload_id, "upload-id-1");
    CHECK_EQ_INT(r.part_size, 10485760);
    CHECK_EQ_INT(r.confirmed, 9ull * 10485760);
    CHECK(r.ino == k.ino && r.mtime_ns == k.mtime_ns && r.ctime_ns == k.ctime_ns);
    journal_record_free(&r);

    /* Removed when the layer is done: the next acquire finds nothing. */
    journal_remove(e);
    CHECK_EQ_INT(count_entries(j), 0);
    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_NONE);
    journal_remove(e);
    ebuf_free(&why);
}

/* A changed identity field: dropped (never stitched onto the old upload). */
static void test_changed_file(struct journal *j)
{
    struct journal_key k = key();
    struct journal_entry *e;
    struct journal_record r;
    struct ebuf why = EBUF_INIT;
    for (int field = 0; field < 3; field++) {
        k = key();
        CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_NONE);
        CHECK_EQ_INT(journal_begin(e, &k, "upload-id-2", 5242880, 1765000000), 0);
        CHECK_EQ_INT(journal_confirm(e, 5242880), 0);
        journal_release(e);
        if (field == 0)
            k.mtime_ns++;
        else if (field == 1)
            k.ctime_ns++; /* utime(2) can put mtime back, never ctime */
        else
            k.size--;
        CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_DROPPED);
        CHECK(strstr(ebuf_str(&why), "before a change") != NULL);
        journal_release(e);
        /* Dropped means emptied: the same key now finds nothing either. */
        CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_NONE);
        journal_remove(e);
    }
    ebuf_free(&why);
}

/* Write `text` as the entry's whole content and acquire it. */
static enum journal_found with_content(struct journal *j, const char *text, struct ebuf *why)
{
    struct journal_key k = key();
    struct journal_entry *e;
    struct journal_record r;
    CHECK_EQ_INT(acquire(j, &k, &e, &r, why), JOURNAL_NONE);
    journal_release(e);
    char path[512];
    entry_file(j, path, sizeof path);
    test_write_file(path, text);
    enum journal_found f = acquire(j, &k, &e, &r, why);
    journal_record_free(&r);
    journal_remove(e);
    return f;
}

static void test_damage(struct journal *j)
{
    struct journal_key k = key();
    struct journal_entry *e;
    struct journal_record r;
    struct ebuf why = EBUF_INIT;
    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_NONE);
    CHECK_EQ_INT(journal_begin(e, &k, "upload-id-3", 5242880, 1765000000), 0);
    CHECK_EQ_INT(journal_confirm(e, 5242880), 0);
    journal_release(e);
    char path[512];
    entry_file(j, path, sizeof path);
    size_t len;
    char *good = test_read_file(path, &len);
    REQUIRE(good && len > 40);
    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_RESUME);
    journal_record_free(&r);
    journal_remove(e);

    /* Truncated anywhere: never trusted. */
    for (size_t cut = 1; cut < len; cut += 7) {
        char *t = strndup(good, cut);
        REQUIRE(t);
        enum journal_found f = with_content(j, t, &why);
        bool whole_header = cut == (size_t)(strchr(good, '\n') - good) + 1;
        CHECK(f == (whole_header ? JOURNAL_RESUME : JOURNAL_DROPPED));
        free(t);
    }
    /* One flipped byte anywhere: the check catches it. */
    for (size_t at = 0; at < len; at += 5) {
        char *t = strdup(good);
        REQUIRE(t);
        if (t[at] == '\n')
            continue;
        t[at] = t[at] == 'a' ? 'b' : 'a';
        CHECK_EQ_INT(with_content(j, t, &why), JOURNAL_DROPPED);
        free(t);
    }
    CHECK_EQ_INT(with_content(j, "garbage\n", &why), JOURNAL_DROPPED);
    CHECK(strstr(ebuf_str(&why), "fails its check") != NULL);
    free(good);

    /* A valid check over an unknown version, or a count going backwards. */
    struct journal_record rec;
    struct ebuf bad = EBUF_INIT;
    const char *v2 = "{\"v\":2}";
    char line[128];
    char hex[65];
    REQUIRE(sha256_hex(v2, strlen(v2), hex));
    snprintf(line, sizeof line, "%.16s %s\n", hex, v2);
    CHECK_EQ_INT(journal_parse(line, strlen(line), &rec, &bad), -1);
    CHECK(strstr(ebuf_str(&bad), "unknown journal version") != NULL);
    CHECK_EQ_INT(journal_parse("", 0, &rec, &bad), -1);
    ebuf_free(&bad);
    ebuf_free(&why);
}

static void test_backwards(struct journal *j)
{
    struct journal_key k = key();
    struct journal_entry *e;
    struct journal_record r;
    struct ebuf why = EBUF_INIT;
    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_NONE);
    CHECK_EQ_INT(journal_begin(e, &k, "upload-id-4", 5242880, 1765000000), 0);
    CHECK_EQ_INT(journal_confirm(e, 10485760), 0);
    CHECK_EQ_INT(journal_confirm(e, 5242880), 0);
    journal_release(e);
    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_DROPPED);
    CHECK(strstr(ebuf_str(&why), "no valid byte count") != NULL);
    journal_remove(e);
    /* Beyond the layer's length. */
    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_NONE);
    CHECK_EQ_INT(journal_begin(e, &k, "upload-id-5", 5242880, 1765000000), 0);
    CHECK_EQ_INT(journal_confirm(e, k.length + 1), 0);
    journal_release(e);
    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_DROPPED);
    journal_remove(e);
    ebuf_free(&why);
}

static void test_prune(void)
{
    struct journal *j;
    struct ebuf msg = EBUF_INIT;
    REQUIRE(journal_open(state, time(NULL), &j, &msg) == 0);
    struct journal_key k = key(), held = key();
    held.ino++;
    struct journal_entry *e, *h;
    struct journal_record r;
    struct ebuf why = EBUF_INIT;
    CHECK_EQ_INT(acquire(j, &k, &e, &r, &why), JOURNAL_NONE);
    CHECK_EQ_INT(journal_begin(e, &k, "old", 5242880, 1), 0);
    journal_release(e);
    CHECK_EQ_INT(acquire(j, &held, &h, &r, &why), JOURNAL_NONE);
    CHECK_EQ_INT(journal_begin(h, &held, "old-but-held", 5242880, 1), 0);
    CHECK_EQ_INT(count_entries(j), 2);
    /* A run 8 days later: the entry nobody holds goes, the held one stays. */
    struct journal *later;
    REQUIRE(journal_open(state, time(NULL) + 8 * 86400, &later, &msg) == 0);
    CHECK_EQ_INT(count_entries(j), 1);
    /* 6 days later: nothing goes. */
    journal_release(h);
    struct journal *sooner;
    REQUIRE(journal_open(state, time(NULL) + 6 * 86400, &sooner, &msg) == 0);
    CHECK_EQ_INT(count_entries(j), 1);
    CHECK_EQ_INT(acquire(j, &held, &h, &r, &why), JOURNAL_RESUME);
    journal_record_free(&r);
    journal_remove(h);
    journal_close(sooner);
    journal_close(later);
    journal_close(j);
    ebuf_free(&why);
    ebuf_free(&msg);
}

int main(void)
{
    snprintf(state, sizeof state, "/tmp/ecrup-journal-%d/.local/state/ecrup", (int)getpid());
    struct journal *j;
    struct ebuf msg = EBUF_INIT;
    REQUIRE(journal_open(state, time(NULL), &j, &msg) == 0);
    struct stat st;
    REQUIRE(stat(state, &st) == 0); /* made with its parents, as ~/.local/state/ecrup is */
    CHECK_EQ_INT(st.st_mode & 0777, 0700);
    REQUIRE(stat(journal_dir(j), &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0700);
    test_round_trip(j);
    test_changed_file(j);
    test_damage(j);
    test_backwards(j);
    journal_close(j);
    test_prune();

    /* A directory that cannot be made: an error naming it. */
    CHECK(journal_open("/proc/ecrup-no-such-dir", time(NULL), &j, &msg) < 0);
    CHECK(strstr(ebuf_str(&msg), "/proc/ecrup-no-such-dir") != NULL);
    ebuf_free(&msg);

    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/ecrup-journal-%d", (int)getpid());
    CHECK(system(cmd) == 0);
    return test_finish("test_journal");
}
