/* The journal of uploads in flight; see journal.h for the format and the guarantees. */
#include "engine/journal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/hex.h"
#include "util/json.h"

#define CHECK_LEN   16 /* hex digits of the record's SHA-256 */
#define MAX_RECORD  8192
#define MAX_JOURNAL (1u << 20) /* a header and 4,200 progress records fit many times over */
#define SUFFIX      ".journal"

struct journal {
    char *dir; /* STATE_DIR/uploads */
};

struct journal_entry {
    int fd; /* open, flock'ed */
    char *path;
    bool begun;
};

void journal_record_free(struct journal_record *r)
{
    free(r->endpoint);
    free(r->registry);
    free(r->repository);
    free(r->path);
    free(r->upload_id);
    *r = (struct journal_record){0};
}

/* ---- records ---- */

static bool check_of(const char *json, size_t len, char out[CHECK_LEN + 1])
{
    char hex[65];
    if (!sha256_hex(json, len, hex))
        return false;
    memcpy(out, hex, CHECK_LEN);
    out[CHECK_LEN] = '\0';
    return true;
}

/* Decimal digits only, no sign, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 20)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

/* 64-bit numbers are strings: a JSON number is a double, exact only to 2^53. */
static bool get_u64(const cJSON *o, const char *name, uint64_t *out)
{
    return parse_u64(json_string(o, name), out);
}

static bool get_i64(const cJSON *o, const char *name, int64_t *out)
{
    const char *s = json_string(o, name);
    bool neg = s && *s == '-';
    uint64_t v;
    if (!parse_u64(neg ? s + 1 : s, &v) || v > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static bool get_str(const cJSON *o, const char *name, char **out)
{
    const char *s = json_string(o, name);
    if (!s)
        return false;
    *out = strdup(s);
    return *out != NULL;
}

static int parse_header(const cJSON *o, struct journal_record *r, struct ebuf *why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "v");
    if (!cJSON_IsNumber(v) || v->valuedouble != JOURNAL_VERSION) {
        ebuf_puts(why, "an unknown journal version");
        return -1;
    }
    if (!get_str(o, "endpoint", &r->endpoint) || !get_str(o, "registry", &r->registry) ||
        !get_str(o, "repository", &r->repository) || !get_str(o, "path", &r->path) ||
        !get_str(o, "upload_id", &r->upload_id) || !get_u64(o, "dev", &r->dev) ||
        !get_u64(o, "ino", &r->ino) || !get_u64(o, "size", &r->size) ||
        !get_i64(o, "mtime_ns", &r->mtime_ns) || !get_i64(o, "ctime_ns", &r->ctime_ns) ||
        !get_u64(o, "offset", &r->offset) || !get_u64(o, "length", &r->length) ||
        !get_u64(o, "part_size", &r->part_size) || !get_i64(o, "created", &r->created) ||
        !*r->upload_id || r->part_size == 0 || r->length == 0) {
        ebuf_puts(why, "a header with a field missing or malformed");
        return -1;
    }
    return 0;
}

int journal_parse(const char *buf, size_t len, struct journal_record *out, struct ebuf *why)
{
    *out = (struct journal_record){0};
    size_t pos = 0, line = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) {
            ebuf_printf(why, "record %zu is cut short", line + 1);
            goto bad;
        }
        size_t n = (size_t)(nl - (buf + pos));
        const char *rec = buf + pos;
        pos += n + 1;
        line++;
        char want[CHECK_LEN + 1];
        if (n < CHECK_LEN + 3 || n > MAX_RECORD || rec[CHECK_LEN] != ' ' ||
            !check_of(rec + CHECK_LEN + 1, n - CHECK_LEN - 1, want) ||
            memcmp(rec, want, CHECK_LEN) != 0) {
            ebuf_printf(why, "record %zu fails its check", line);
            goto bad;
        }
        cJSON *o = cJSON_ParseWithLength(rec + CHECK_LEN + 1, n - CHECK_LEN - 1);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            ebuf_printf(why, "record %zu is not a JSON object", line);
            goto bad;
        }
        int rc = 0;
        if (line == 1) {
            rc = parse_header(o, out, why);
        } else {
            uint64_t c;
            if (!get_u64(o, "confirmed", &c) || c < out->confirmed || c > out->length) {
                ebuf_printf(why, "record %zu holds no valid byte count", line);
                rc = -1;
            } else {
                out->confirmed = c;
            }
        }
        cJSON_Delete(o);
        if (rc != 0)
            goto bad;
    }
    if (line == 0) {
        ebuf_puts(why, "the journal is empty");
        goto bad;
    }
    return 0;
bad:
    journal_record_free(out);
    return -1;
}

bool journal_matches(const struct journal_record *r, const struct journal_key *k)
{
    return !strcmp(r->endpoint, k->endpoint) && !strcmp(r->registry, k->registry) &&
           !strcmp(r->repository, k->repository) && !strcmp(r->path, k->path) && r->dev == k->dev &&
           r->ino == k->ino && r->size == k->size && r->mtime_ns == k->mtime_ns &&
           r->ctime_ns == k->ctime_ns && r->offset == k->offset && r->length == k->length;
}

/* One record line, written with a single write(2). */
static int append(int fd, cJSON *o)
{
    char *json = cJSON_PrintUnformatted(o);
    if (!json)
        return -ENOMEM;
    size_t n = strlen(json);
    char check[CHECK_LEN + 1];
    struct ebuf line = EBUF_INIT;
    int rc = 0;
    if (!check_of(json, n, check)) {
        rc = -EIO;
    } else {
        ebuf_printf(&line, "%s %s\n", check, json);
        if (!ebuf_ok(&line)) {
            rc = -ENOMEM;
        } else {
            ssize_t w = write(fd, line.data, line.len);
            rc = w < 0 ? -errno : (size_t)w != line.len ? -EIO : 0;
        }
    }
    ebuf_free(&line);
    free(json);
    return rc;
}

static bool put_u64(cJSON *o, const char *name, uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, v);
    return cJSON_AddStringToObject(o, name, s) != NULL;
}

static bool put_i64(cJSON *o, const char *name, int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRId64, v);
    return cJSON_AddStringToObject(o, name, s) != NULL;
}

/* ---- the directory ---- */

/* mkdir -p, every directory it makes 0700 (the XDG base directory rule for state). */
static int mkdir_private(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -errno;
    char *parent = strdup(path);
    if (!parent)
        return -ENOMEM;
    char *slash = strrchr(parent, '/');
    int rc = -ENOENT;
    if (slash && slash != parent) {
        *slash = '\0';
        rc = mkdir_private(parent);
    }
    free(parent);
    if (rc != 0)
        return rc;
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

static bool is_entry_name(const char *name)
{
    size_t n = strlen(name);
    return n == 64 + strlen(SUFFIX) && !strcmp(name + 64, SUFFIX);
}

/* Remove entries nobody holds whose last record is older than the limit. */
static void prune(struct journal *j, time_t now)
{
    DIR *d = opendir(j->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_entry_name(de->d_name))
            continue;
        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && now - st.st_mtime > (time_t)JOURNAL_MAX_AGE_DAYS * 86400 &&
            flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlinkat(dirfd(d), de->d_name, 0);
        close(fd);
    }
    closedir(d);
}

int journal_open(const char *state_dir, time_t now, struct journal **out, struct ebuf *msg)
{
    *out = NULL;
    struct journal *j = calloc(1, sizeof *j);
    struct ebuf dir = EBUF_INIT;
    ebuf_printf(&dir, "%s/uploads", state_dir);
    if (!j || !ebuf_ok(&dir)) {
        free(j);
        ebuf_free(&dir);
        ebuf_puts(msg, "out of memory");
        return -ENOMEM;
    }
    int rc = mkdir_private(state_dir);
    if (rc == 0)
        rc = mkdir_private(ebuf_str(&dir));
    if (rc == 0 && access(ebuf_str(&dir), W_OK | X_OK) != 0)
        rc = -errno;
    if (rc != 0) {
        ebuf_printf(msg, "state directory %s: %s", ebuf_str(&dir), strerror(-rc));
        free(j);
        ebuf_free(&dir);
        return rc;
    }
    j->dir = ebuf_take(&dir);
    prune(j, now);
    *out = j;
    return 0;
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    free(j->dir);
    free(j);
}

const char *journal_dir(const struct journal *j)
{
    return j->dir;
}

static char *entry_path(const struct journal *j, const struct journal_key *k)
{
    struct ebuf id = EBUF_INIT, path = EBUF_INIT;
    ebuf_printf(&id, "%s\n%s\n%s\n%" PRIu64 "\n%" PRIu64 "\n%" PRIu64 "\n%" PRIu64, k->endpoint,
                k->registry, k->repository, k->dev, k->ino, k->offset, k->length);
    char hex[65];
    if (ebuf_ok(&id) && sha256_hex(id.data, id.len, hex))
        ebuf_printf(&path, "%s/%s%s", j->dir, hex, SUFFIX);
    ebuf_free(&id);
    return ebuf_ok(&path) && path.len ? ebuf_take(&path) : (ebuf_free(&path), NULL);
}

/* Open and lock the entry file, making sure the file locked is the one at `path` (a holder may
 * have removed it between our open and our lock). 0, -EWOULDBLOCK when held, or -errno. */
static int open_locked(const char *path, int *fd_out)
{
    for (int tries = 0; tries < 8; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            *fd_out = fd;
            return 0;
        }
        close(fd);
    }
    return -EAGAIN;
}

static int read_all(int fd, struct ebuf *out)
{
    char chunk[8192];
    off_t at = 0;
    for (;;) {
        ssize_t n = pread(fd, chunk, sizeof chunk, at);
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        if (out->len + (size_t)n > MAX_JOURNAL)
            return -EFBIG;
        ebuf_append(out, chunk, (size_t)n);
        if (!ebuf_ok(out))
            return -ENOMEM;
        at += n;
    }
}

int journal_acquire(struct journal *j, const struct journal_key *k, struct journal_entry **entry,
                    enum journal_found *found, struct journal_record *record, struct ebuf *why)
{
    *entry = NULL;
    *record = (struct journal_record){0};
    char *path = entry_path(j, k);
    if (!path) {
        ebuf_puts(why, "out of memory");
        return -ENOMEM;
    }
    int fd = -1;
    int rc = open_locked(path, &fd);
    if (rc == -EWOULDBLOCK) {
        *found = JOURNAL_BUSY;
        free(path);
        return 0;
    }
    if (rc != 0) {
        ebuf_printf(why, "journal entry %s: %s", path, strerror(-rc));
        free(path);
        return rc;
    }
    struct journal_entry *e = calloc(1, sizeof *e);
    if (!e) {
        close(fd);
        free(path);
        ebuf_puts(why, "out of memory");
        return -ENOMEM;
    }
    *e = (struct journal_entry){.fd = fd, .path = path};
    struct ebuf bytes = EBUF_INIT;
    rc = read_all(fd, &bytes);
    *found = JOURNAL_NONE;
    if (rc != 0) {
        ebuf_printf(why, "journal entry %s is unreadable (%s)", path, strerror(-rc));
        *found = JOURNAL_DROPPED;
    } else if (bytes.len) {
        struct ebuf bad = EBUF_INIT;
        if (journal_parse(bytes.data, bytes.len, record, &bad) != 0) {
            ebuf_printf(why, "journal entry %s is damaged (%s)", path, ebuf_str(&bad));
            *found = JOURNAL_DROPPED;
        } else if (!journal_matches(record, k)) {
            ebuf_printf(why, "journal entry %s is of the file as it was before a change", path);
            journal_record_free(record);
            *found = JOURNAL_DROPPED;
        } else {
            *found = JOURNAL_RESUME;
            e->begun = true;
        }
        ebuf_free(&bad);
    }
    ebuf_free(&bytes);
    if (*found == JOURNAL_DROPPED && ftruncate(fd, 0) != 0) {
        rc = -errno;
        journal_release(e);
        return rc;
    }
    *entry = e;
    return 0;
}

int journal_begin(struct journal_entry *e, const struct journal_key *k, const char *upload_id,
                  uint64_t part_size, time_t now)
{
    if (ftruncate(e->fd, 0) != 0)
        return -errno;
    e->begun = false;
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddNumberToObject(o, "v", JOURNAL_VERSION) &&
              cJSON_AddStringToObject(o, "endpoint", k->endpoint) &&
              cJSON_AddStringToObject(o, "registry", k->registry) &&
              cJSON_AddStringToObject(o, "repository", k->repository) &&
              cJSON_AddStringToObject(o, "path", k->path) &&
              cJSON_AddStringToObject(o, "upload_id", upload_id) && put_u64(o, "dev", k->dev) &&
              put_u64(o, "ino", k->ino) && put_u64(o, "size", k->size) &&
              put_i64(o, "mtime_ns", k->mtime_ns) && put_i64(o, "ctime_ns", k->ctime_ns) &&
              put_u64(o, "offset", k->offset) && put_u64(o, "length", k->length) &&
              put_u64(o, "part_size", part_size) && put_i64(o, "created", (int64_t)now);
    int rc = ok ? append(e->fd, o) : -ENOMEM;
    cJSON_Delete(o);
    e->begun = rc == 0;
    return rc;
}

int journal_confirm(struct journal_entry *e, uint64_t confirmed)
{
    if (!e->begun)
        return 0;
    cJSON *o = cJSON_CreateObject();
    int rc = o && put_u64(o, "confirmed", confirmed) ? append(e->fd, o) : -ENOMEM;
    cJSON_Delete(o);
    return rc;
}

void journal_remove(struct journal_entry *e)
{
    if (!e)
        return;
    unlink(e->path); /* while still locked: nobody resumes what is being removed */
    journal_release(e);
}

void journal_release(struct journal_entry *e)
{
    if (!e)
        return;
    close(e->fd); /* drops the lock */
    free(e->path);
    free(e);
}
