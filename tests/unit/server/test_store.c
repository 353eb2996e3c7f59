/* The registry's durable store at the length limits of its paths: a data directory as long as
 * the store takes holds the longest repository name and an upload across a restart, with every
 * file where the layout says; one character longer is refused at open, as is an upload state
 * whose repository name is not one (it would be cut to another repository's). Names too long
 * to be a file name themselves are stored too. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/registry.h"
#include "server/registry_impl.h"
#include "test.h"
#include "util/hex.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Under `base`, make directories so that base/... plus a last component not made here is
 * exactly `len` characters; the path goes into out (cap STORE_PATH_CAP). */
static void long_dir(const char *base, size_t len, char *out)
{
    snprintf(out, STORE_PATH_CAP, "%s", base);
    for (;;) {
        size_t have = strlen(out);
        size_t left = len - have - 1; /* the component after the next '/' */
        size_t take = left > 200 ? 200 : left;
        out[have] = '/';
        memset(out + have + 1, 'd', take);
        out[have + 1 + take] = '\0';
        if (take == left)
            return;
        REQUIRE(mkdir(out, 0755) == 0 || errno == EEXIST);
    }
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The uploadId of an InitiateLayerUpload reply into uid[37]. */
static void upload_id(const struct srv_reply *r, char uid[37])
{
    cJSON *o = cJSON_ParseWithLength(r->body.data, r->body.len);
    const cJSON *id = cJSON_GetObjectItem(o, "uploadId");
    REQUIRE(cJSON_IsString(id) && strlen(id->valuestring) == 36);
    memcpy(uid, id->valuestring, 37);
    cJSON_Delete(o);
}

static void longest_paths(const char *base)
{
    static char dir[STORE_PATH_CAP], path[STORE_PATH_CAP * 2], name[257];
    long_dir(base, STORE_DIR_MAX, dir);
    CHECK_EQ_INT(strlen(dir), STORE_DIR_MAX);
    /* The longest name: 256 characters with a '/' in it. */
    memset(name, 'n', 256);
    name[128] = '/';
    name[256] = '\0';
    struct ebuf err = EBUF_INIT;
    struct registry_config cfg = {.data_dir = dir, .base_url = "http://127.0.0.1:1"};
    struct registry *reg = registry_open(&cfg, &err);
    if (!reg)
        fprintf(stderr, "registry_open: %s\n", ebuf_str(&err));
    REQUIRE(reg);
    struct srv_reply r = {0, EBUF_INIT, NULL};
    registry_create_repository(reg, name, NULL, NULL, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    registry_initiate_upload(reg, name, &r);
    CHECK_EQ_INT(r.status, 200);
    char uid[37] = "";
    if (r.status == 200)
        upload_id(&r, uid);
    registry_free(reg);

    /* Every file is where the layout says, and nothing was made beside the data directory. */
    char file_name[65];
    REQUIRE(sha256_hex(name, strlen(name), file_name));
    snprintf(path, sizeof path, "%s/repos/%s.json", dir, file_name);
    CHECK(exists(path));
    snprintf(path, sizeof path, "%s/uploads/%s.json", dir, uid);
    CHECK(exists(path));
    snprintf(path, sizeof path, "%s/uploads/%s.data", dir, uid);
    CHECK(exists(path));
    snprintf(path, sizeof path, "%s/blobs/sha256", dir);
    CHECK(exists(path));
    snprintf(path, sizeof path, "%s/manifests", dir);
    CHECK(exists(path));
    int entries = 0;
    snprintf(path, sizeof path, "%s", dir);
    *strrchr(path, '/') = '\0';
    char cmd[STORE_PATH_CAP * 2 + 64];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", path);
    FILE *p = popen(cmd, "r");
    REQUIRE(p && fscanf(p, "%d", &entries) == 1);
    pclose(p);
    CHECK_EQ_INT(entries, 1);

    /* A restart finds the repository and the upload (empty, so completing it says so). */
    reg = registry_open(&cfg, &err);
    REQUIRE(reg);
    CHECK(registry_has_repository(reg, name));
    registry_complete_upload(
        reg, name, uid, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        &r);
    CHECK_STR(r.error_type ? r.error_type : "", "EmptyUploadException");
    registry_free(reg);
    ebuf_free(&r.body);

    /* One character longer is refused, naming the limit. */
    long_dir(base, STORE_DIR_MAX + 1, dir);
    ebuf_reset(&err);
    cfg.data_dir = dir;
    reg = registry_open(&cfg, &err);
    CHECK(reg == NULL);
    registry_free(reg);
    CHECK(strstr(ebuf_str(&err), "too long") != NULL);
    CHECK(!exists(dir));
    ebuf_free(&err);
}

/* A name of `len` characters, with a '/' in the middle when `slash`, into name[257]. */
static const char *long_name(char *name, size_t len, int slash)
{
    memset(name, slash ? 's' : 'p', len);
    if (slash)
        name[len / 2] = '/';
    name[len] = '\0';
    return name;
}

/* Names of every length from 240 to 256, where a file name of the name itself would pass
 * NAME_MAX: each is stored and comes back after a restart. */
static void long_names(const char *base)
{
    static char dir[STORE_PATH_CAP];
    snprintf(dir, sizeof dir, "%s/names", base);
    struct ebuf err = EBUF_INIT;
    struct registry_config cfg = {.data_dir = dir, .base_url = "http://127.0.0.1:1"};
    struct registry *reg = registry_open(&cfg, &err);
    REQUIRE(reg);
    struct srv_reply r = {0, EBUF_INIT, NULL};
    char name[257];
    for (size_t len = 240; len <= 256; len++) {
        for (int slash = 0; slash < 2; slash++) {
            registry_create_repository(reg, long_name(name, len, slash), NULL, NULL, NULL, &r);
            if (r.status != 200)
                fprintf(stderr, "%zu: %s\n", len, ebuf_str(&r.body));
            CHECK_EQ_INT(r.status, 200);
        }
    }
    registry_free(reg);
    reg = registry_open(&cfg, &err);
    REQUIRE(reg);
    for (size_t len = 240; len <= 256; len++) {
        for (int slash = 0; slash < 2; slash++)
            CHECK(registry_has_repository(reg, long_name(name, len, slash)));
    }
    registry_free(reg);
    ebuf_free(&r.body);
    ebuf_free(&err);
}

static void upload_state_names(const char *base)
{
    static char dir[STORE_PATH_CAP], path[STORE_PATH_CAP * 2];
    snprintf(dir, sizeof dir, "%s/state", base);
    struct ebuf err = EBUF_INIT;
    struct registry_config cfg = {.data_dir = dir, .base_url = "http://127.0.0.1:1"};
    struct registry *reg = registry_open(&cfg, &err);
    REQUIRE(reg);
    registry_free(reg);
    /* An upload of a 300-character "repository": the first 256 would name a real one. */
    static const char id[] = "0a1b2c3d-0000-4000-8000-0000000000af";
    char repo[301];
    memset(repo, 'r', 300);
    repo[300] = '\0';
    snprintf(path, sizeof path, "%s/uploads/%s.json", dir, id);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f,
            "{\"repositoryName\":\"%s\",\"length\":0,\"parts\":0,\"lastPart\":0,"
            "\"smallNonLast\":false}",
            repo);
    fclose(f);
    snprintf(path, sizeof path, "%s/uploads/%s.data", dir, id);
    f = fopen(path, "w");
    REQUIRE(f);
    fclose(f);
    reg = registry_open(&cfg, &err);
    CHECK(reg == NULL);
    registry_free(reg);
    CHECK(strstr(ebuf_str(&err), "unreadable upload state") != NULL);
    ebuf_free(&err);
}

int main(void)
{
    char base[] = "/tmp/ecrup-store-XXXXXX";
    REQUIRE(mkdtemp(base));
    longest_paths(base);
    long_names(base);
    upload_state_names(base);
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_finish("test_store");
}
