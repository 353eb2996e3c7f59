/* A repository's change journal (server/repolog.h): records framed and read back from
 * guard-paged copies, cut at every byte (only whole records read) and damaged at every byte
 * (reading stops at the damaged record); and through the registry: each kind of change
 * appended without rewriting the state file and replayed at start to the same state, a journal
 * torn at every byte offset of its last record (that change dropped whole, the next one kept),
 * a bad CRC, folding into the state file past its bound, records a crash left after a rewrite
 * of the state file, an append the disk refuses (cut back, a put or a delete undone), journals
 * whose repository is gone. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/registry.h"
#include "server/registry_impl.h"
#include "server/repolog.h"
#include "test.h"
#include "util/hex.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- the format ---- */

static const char *const RECS[] = {"{\"seq\":1,\"op\":\"addLayer\"}", "{}",
                                   "{\"seq\":3,\"op\":\"putImage\",\"tag\":\"v\\u00e9\"}"};
#define N_RECS 3

/* The records read from `len` bytes at `data` (a guarded copy), checked against RECS; the
 * count, and the offset reading stopped at in *stop. */
static int read_all(const char *data, size_t len, size_t *stop)
{
    char *g = test_guarded_copy(data, len);
    size_t off = 0, n;
    const char *json;
    int count = 0;
    while (repolog_next(g, len, &off, &json, &n)) {
        CHECK(count < N_RECS && n == strlen(RECS[count]) && !memcmp(json, RECS[count], n));
        count++;
    }
    test_guarded_free(g, len);
    *stop = off;
    return count;
}

static void format(void)
{
    CHECK_EQ_INT(repolog_crc32("123456789", 9), 0xcbf43926u);
    struct ebuf b = EBUF_INIT;
    size_t ends[N_RECS];
    for (int i = 0; i < N_RECS; i++) {
        repolog_frame(&b, RECS[i], strlen(RECS[i]));
        ends[i] = b.len;
    }
    CHECK(!memcmp(b.data, "00000019 ", 9) && b.data[b.len - 1] == '\n');
    size_t stop;
    CHECK_EQ_INT(read_all(b.data, b.len, &stop), N_RECS);
    CHECK_EQ_INT(stop, b.len);
    /* Cut anywhere: only the records whole before the cut. */
    for (size_t cut = 0; cut <= b.len; cut++) {
        int whole = 0;
        while (whole < N_RECS && ends[whole] <= cut)
            whole++;
        CHECK_EQ_INT(read_all(b.data, cut, &stop), whole);
        CHECK_EQ_INT(stop, whole ? ends[whole - 1] : 0);
    }
    /* One byte changed anywhere: reading stops before the record that holds it. */
    char *bad = malloc(b.len);
    REQUIRE(bad);
    for (size_t at = 0; at < b.len; at++) {
        memcpy(bad, b.data, b.len);
        bad[at] ^= 0x20;
        int before = 0;
        while (ends[before] <= at)
            before++;
        CHECK_EQ_INT(read_all(bad, b.len, &stop), before);
    }
    /* A length past the largest record is damage, whatever follows. */
    memcpy(bad, b.data, b.len);
    memcpy(bad, "ffffffff", 8);
    CHECK_EQ_INT(read_all(bad, b.len, &stop), 0);
    free(bad);
    ebuf_free(&b);
}

/* ---- through the registry ---- */

static char dir[512];
static struct registry *reg;

static struct registry *open_reg(void)
{
    struct ebuf err = EBUF_INIT;
    struct registry_config cfg = {.data_dir = dir, .base_url = "http://127.0.0.1:1"};
    struct registry *r = registry_open(&cfg, &err);
    if (!r)
        fprintf(stderr, "registry_open: %s\n", ebuf_str(&err));
    ebuf_free(&err);
    REQUIRE(r);
    return r;
}

static void reopen(void)
{
    registry_free(reg);
    reg = open_reg();
}

static char *path_of(const char *repo, const char *suffix)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/repos/%s%s", dir, repo, suffix);
    return p;
}

static long size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void write_bytes(const char *path, const char *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0 && write(fd, data, n) == (ssize_t)n && close(fd) == 0);
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything a client can see of the repository, one sorted line per fact. */
static char *snapshot(const char *name)
{
    struct repo *r = reg_find_repo(reg, name);
    if (!r)
        return strdup("(none)");
    size_t n = r->n_images + r->n_tags + r->n_layers + 1, k = 0;
    char **lines = calloc(n, sizeof *lines);
    REQUIRE(lines);
    struct ebuf b = EBUF_INIT;
    for (size_t i = 0; i < r->n_images; i++) {
        char sum[65];
        REQUIRE(sha256_hex(r->images[i].manifest, strlen(r->images[i].manifest), sum));
        ebuf_printf(&b, "image %s %s %.3f %s", r->images[i].digest, r->images[i].media_type,
                    r->images[i].pushed_at, sum);
        lines[k++] = ebuf_take(&b);
    }
    for (size_t i = 0; i < r->n_tags; i++) {
        ebuf_printf(&b, "tag %s %s", r->tags[i].name, r->tags[i].digest);
        lines[k++] = ebuf_take(&b);
    }
    for (size_t i = 0; i < r->n_layers; i++) {
        ebuf_printf(&b, "layer %s %llu", r->layers[i].digest,
                    (unsigned long long)r->layers[i].size);
        lines[k++] = ebuf_take(&b);
    }
    ebuf_printf(&b, "setting %s", r->mutability);
    for (int i = 0; i < r->n_exclusions; i++)
        ebuf_printf(&b, " %s", r->exclusions[i]);
    lines[k++] = ebuf_take(&b);
    qsort(lines, k, sizeof *lines, line_cmp);
    for (size_t i = 0; i < k; i++) {
        ebuf_printf(&b, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    return ebuf_take(&b);
}

static void same(const char *name, const char *want, int line)
{
    char *got = snapshot(name);
    test_checks++;
    if (strcmp(got, want) != 0) {
        test_failures++;
        fprintf(stderr, "%s:%d: state of %s\n  got:\n%s  expected:\n%s", __FILE__, line, name, got,
                want);
    }
    free(got);
}
#define SAME(name, want) same(name, want, __LINE__)

static int status;

static void create(const char *name)
{
    struct srv_reply r = {0, EBUF_INIT, NULL};
    registry_create_repository(reg, name, NULL, NULL, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    ebuf_free(&r.body);
}

/* An image index naming nothing, so that it needs no layer; `n` makes it unique. */
static void put(const char *repo, int n, const char *tag)
{
    char manifest[200];
    snprintf(manifest, sizeof manifest,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
             "\"manifests\":[],\"annotations\":{\"n\":\"%d\"}}",
             n);
    struct srv_reply r = {0, EBUF_INIT, NULL};
    registry_put_image(reg, repo, manifest, NULL, tag, NULL, &r);
    status = r.status;
    ebuf_free(&r.body);
}

static void delete_ids(const char *repo, const char *ids_json)
{
    cJSON *ids = cJSON_Parse(ids_json);
    struct srv_reply r = {0, EBUF_INIT, NULL};
    registry_delete_images(reg, repo, ids, &r);
    status = r.status;
    cJSON_Delete(ids);
    ebuf_free(&r.body);
}

static const char *digest_of(const char *repo, const char *tag)
{
    struct tag *t = reg_find_tag(reg_find_repo(reg, repo), tag);
    return t ? t->digest : "";
}

static void upload_layer(const char *repo, const char *bytes)
{
    struct srv_reply r = {0, EBUF_INIT, NULL};
    registry_initiate_upload(reg, repo, &r);
    CHECK_EQ_INT(r.status, 200);
    cJSON *o = cJSON_ParseWithLength(r.body.data, r.body.len);
    char uid[37];
    snprintf(uid, sizeof uid, "%s", cJSON_GetObjectItem(o, "uploadId")->valuestring);
    cJSON_Delete(o);
    size_t n = strlen(bytes);
    struct registry_part *p = registry_part_begin(reg, uid, 0);
    REQUIRE(p && registry_part_write(p, (const uint8_t *)bytes, n) == 0);
    ebuf_reset(&r.body);
    registry_part_finish(reg, p, repo, uid, 0, (int64_t)n - 1, n, &r);
    CHECK_EQ_INT(r.status, 200);
    char d[72];
    sha256_digest(bytes, n, d);
    ebuf_reset(&r.body);
    registry_complete_upload(reg, repo, uid, d, &r);
    CHECK_EQ_INT(r.status, 200);
    ebuf_free(&r.body);
}

/* Every kind of change appended, the state file untouched, the same state after a restart. */
static void each_change(void)
{
    create("app");
    long base = size_of(path_of("app", ".json"));
    CHECK(base > 0);
    upload_layer("app", "the bytes of a layer");
    put("app", 1, "v1");
    CHECK_EQ_INT(status, 200);
    put("app", 2, "v1"); /* moves v1 */
    put("app", 3, NULL);
    put("app", 2, "v2");
    put("app", 4, "gone");
    char ids[400];
    snprintf(ids, sizeof ids, "[{\"imageTag\":\"v2\"},{\"imageTag\":\"gone\"}]");
    delete_ids("app", ids);
    CHECK_EQ_INT(status, 200);
    cJSON *ex = cJSON_Parse("[{\"filterType\":\"WILDCARD\",\"filter\":\"dev-*\"}]");
    struct srv_reply r = {0, EBUF_INIT, NULL};
    registry_put_tag_mutability(reg, "app", "IMMUTABLE_WITH_EXCLUSION", ex, &r);
    CHECK_EQ_INT(r.status, 200);
    cJSON_Delete(ex);
    ebuf_free(&r.body);
    struct repo *rp = reg_find_repo(reg, "app");
    CHECK_EQ_INT(rp->n_images, 3);
    CHECK_EQ_INT(rp->n_tags, 1);
    CHECK_EQ_INT(rp->seq, 8);
    CHECK_EQ_INT(size_of(path_of("app", ".json")), base);
    CHECK_EQ_INT(size_of(path_of("app", ".log")), rp->log_bytes);
    char *want = snapshot("app");
    reopen();
    SAME("app", want);
    CHECK_EQ_INT(reg_find_repo(reg, "app")->seq, 8);
    CHECK(!reg_find_repo(reg, "app")->log_damaged);
    free(want);
}

/* The journal cut at every byte of its last record: that change is there whole or not at all,
 * and a change made after a torn tail survives the next restart. */
static void torn_tail(void)
{
    char *before = snapshot("app");
    long start = size_of(path_of("app", ".log"));
    put("app", 5, "dev-1");
    CHECK_EQ_INT(status, 200);
    char *after = snapshot("app");
    registry_free(reg);
    reg = NULL;
    size_t len;
    char *log = test_read_file(path_of("app", ".log"), &len);
    REQUIRE(log && (long)len > start);
    for (size_t cut = (size_t)start; cut <= len; cut++) {
        write_bytes(path_of("app", ".log"), log, cut);
        reg = open_reg();
        SAME("app", cut == len ? after : before);
        CHECK(reg_find_repo(reg, "app")->log_damaged == (cut != (size_t)start && cut != len));
        registry_free(reg);
    }
    write_bytes(path_of("app", ".log"), log, (size_t)start + 30);
    reg = open_reg();
    put("app", 6, "dev-2");
    CHECK_EQ_INT(status, 200);
    char *next = snapshot("app");
    CHECK_EQ_INT(size_of(path_of("app", ".log")), 0); /* folded in instead of appended */
    reopen();
    SAME("app", next);
    CHECK(strstr(next, "tag dev-2 ") && !strstr(next, "tag dev-1 "));
    free(log);
    free(before);
    free(after);
    free(next);
}

/* A damaged record in the middle: it and everything after it are dropped. */
static void bad_crc(void)
{
    create("crc");
    put("crc", 10, "a");
    char *first = snapshot("crc");
    long one = size_of(path_of("crc", ".log"));
    put("crc", 11, "b");
    put("crc", 12, "c");
    registry_free(reg);
    size_t len;
    char *log = test_read_file(path_of("crc", ".log"), &len);
    REQUIRE(log && (long)len > one + 40);
    log[one + 30] ^= 1;
    write_bytes(path_of("crc", ".log"), log, len);
    reg = open_reg();
    SAME("crc", first);
    free(first);
    free(log);
}

/* Past its bound the journal is folded into the state file by the change that crosses it; the
 * state is the same after a restart either way. */
static void compaction(void)
{
    create("fold");
    struct repo *r = reg_find_repo(reg, "fold");
    reg->compact_at = 2000;
    int folds = 0;
    long base0 = size_of(path_of("fold", ".json"));
    for (int i = 0; i < 60; i++) {
        uint64_t was = r->log_bytes;
        put("fold", 100 + i, i % 3 ? NULL : "t");
        CHECK_EQ_INT(status, 200);
        uint64_t bound = reg->compact_at > r->base_bytes ? reg->compact_at : r->base_bytes;
        CHECK(r->log_bytes <= bound);
        if (r->log_bytes < was) {
            folds++;
            CHECK_EQ_INT(r->log_bytes, 0);
            CHECK_EQ_INT(size_of(path_of("fold", ".log")), 0);
            char *text = test_read_file(path_of("fold", ".json"), NULL);
            cJSON *o = cJSON_Parse(text);
            CHECK_EQ_INT(cJSON_GetObjectItem(o, "journalSeq")->valuedouble, r->seq);
            cJSON_Delete(o);
            free(text);
        }
    }
    CHECK(folds >= 2);
    CHECK(size_of(path_of("fold", ".json")) > base0);
    char *want = snapshot("fold");
    reopen();
    SAME("fold", want);
    free(want);
}

/* A crash between the state file's rewrite and the journal's truncation leaves records the
 * state file already holds: skipped at start, and later records still follow them. */
static void stale_records(void)
{
    create("stale");
    put("stale", 20, "a");
    put("stale", 21, "b");
    size_t len;
    char *log = test_read_file(path_of("stale", ".log"), &len);
    REQUIRE(log);
    struct repo *r = reg_find_repo(reg, "stale");
    CHECK_EQ_INT(store_persist_repo(reg, r), 0);
    CHECK_EQ_INT(size_of(path_of("stale", ".log")), 0);
    write_bytes(path_of("stale", ".log"), log, len);
    char *want = snapshot("stale");
    reopen();
    SAME("stale", want);
    put("stale", 22, "a");
    free(want);
    want = snapshot("stale");
    reopen();
    SAME("stale", want);
    CHECK(strstr(want, digest_of("stale", "a")) != NULL);
    free(want);
    free(log);
}

/* An append the disk refuses (a file size limit, as a full disk): the change is undone and the
 * journal cut back to where it was, so the next change is read after a restart. */
static void refused_append(void)
{
    create("full");
    put("full", 30, "a");
    char *want = snapshot("full");
    long was = size_of(path_of("full", ".log"));
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = (rlim_t)was + 20;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    put("full", 31, "a");
    CHECK_EQ_INT(status, 500);
    put("full", 32, NULL);
    CHECK_EQ_INT(status, 500);
    /* A delete puts back what it took: the image, its tag, its manifest. */
    delete_ids("full", "[{\"imageTag\":\"a\"}]");
    CHECK_EQ_INT(status, 500);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
    SAME("full", want);
    CHECK_EQ_INT(size_of(path_of("full", ".log")), was);
    put("full", 31, "a");
    CHECK_EQ_INT(status, 200);
    put("full", 33, "b");
    delete_ids("full", "[{\"imageTag\":\"b\"}]");
    CHECK_EQ_INT(status, 200);
    free(want);
    want = snapshot("full");
    CHECK(strstr(want, "tag b ") == NULL);
    reopen();
    SAME("full", want);
    free(want);
}

/* A journal whose state file is gone (DeleteRepository stopped between the two) is removed at
 * start; a repository made again under a deleted one's name starts empty. */
static void gone(void)
{
    static const char ghost[] = "00000002 00000000 {}\n";
    write_bytes(path_of("ghost", ".log"), ghost, strlen(ghost));
    size_t old_len;
    char *old_log = test_read_file(path_of("crc", ".log"), &old_len);
    REQUIRE(old_log && old_len > 0);
    struct srv_reply r = {0, EBUF_INIT, NULL};
    registry_delete_repository(reg, "crc", true, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    ebuf_free(&r.body);
    CHECK_EQ_INT(size_of(path_of("crc", ".log")), -1);
    reopen();
    CHECK_EQ_INT(size_of(path_of("ghost", ".log")), -1);
    CHECK(!registry_has_repository(reg, "crc"));
    /* A journal of the old one that its delete could not remove would name its images. */
    write_bytes(path_of("crc", ".log"), old_log, old_len);
    free(old_log);
    create("crc");
    char *want = snapshot("crc");
    reopen();
    SAME("crc", want);
    CHECK(strstr(want, "image") == NULL);
    free(want);
    /* State written before the journal (no journalSeq, no journal) loads and takes changes. */
    static const char old[] = "{\"name\":\"old\",\"createdAt\":1,\"imageTagMutability\":"
                              "\"MUTABLE\",\"layers\":[],\"images\":[],\"tags\":[]}";
    write_bytes(path_of("old", ".json"), old, strlen(old));
    reopen();
    put("old", 40, "x");
    CHECK_EQ_INT(status, 200);
    want = snapshot("old");
    reopen();
    SAME("old", want);
    free(want);
}

int main(void)
{
    format();
    char base[] = "/tmp/ecrup-repolog-XXXXXX";
    REQUIRE(mkdtemp(base));
    snprintf(dir, sizeof dir, "%s/data", base);
    reg = open_reg();
    each_change();
    torn_tail();
    bad_crc();
    compaction();
    stale_records();
    refused_append();
    gone();
    registry_free(reg);
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_finish("test_repolog");
}
