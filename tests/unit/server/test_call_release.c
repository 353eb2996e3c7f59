/* An UploadLayerPart holds its upload busy from the blob's start. A call answered without
 * being finished (refused signature, injected fault) or refused by its own checks must give
 * the upload back before the reply goes out: the client may send its next request on another
 * connection before the server frees the call. */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/api.h"
#include "server/registry.h"
#include "test.h"

static struct registry *reg;

/* One whole call; returns the reply (caller frees its body). */
static struct srv_reply call(const char *op, const char *body)
{
    char target[128];
    snprintf(target, sizeof target, "%s%s", SRV_TARGET_PREFIX, op);
    struct srv_call *c = srv_call_begin(reg, target);
    struct srv_reply r = {0, EBUF_INIT, NULL};
    if (!c)
        abort();
    srv_call_feed(c, body, strlen(body));
    srv_call_finish(c, &r);
    srv_call_free(c);
    return r;
}

/* The error type of CompleteLayerUpload for `uid` in `repo` with the digest of "abc" ("" on
 * success). */
static const char *complete_in(const char *repo, const char *uid)
{
    static char type[64];
    char body[512];
    snprintf(body, sizeof body,
             "{\"repositoryName\":\"%s\",\"uploadId\":\"%s\",\"layerDigests\":[\"sha256:"
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"]}",
             repo, uid);
    struct srv_reply r = call("CompleteLayerUpload", body);
    snprintf(type, sizeof type, "%s", r.error_type ? r.error_type : "");
    ebuf_free(&r.body);
    return type;
}

static const char *complete(const char *uid)
{
    return complete_in("rr", uid);
}

static void part_body(char *out, size_t n, const char *repo, const char *uid,
                      const char *registry_id, const char *blob_b64)
{
    snprintf(out, n,
             "{\"registryId\":\"%s\",\"repositoryName\":\"%s\",\"uploadId\":\"%s\","
             "\"partFirstByte\":0,\"partLastByte\":2,\"layerPartBlob\":\"%s\"}",
             registry_id, repo, uid, blob_b64);
}

/* A new repository `repo` and an upload in it; its id into uid[64]. */
static void initiate(const char *repo, char *uid)
{
    char body[128];
    snprintf(body, sizeof body, "{\"repositoryName\":\"%s\"}", repo);
    struct srv_reply r = call("CreateRepository", body);
    ebuf_free(&r.body);
    r = call("InitiateLayerUpload", body);
    REQUIRE(r.status == 200);
    cJSON *o = cJSON_ParseWithLength(r.body.data, r.body.len);
    REQUIRE(o && cJSON_IsString(cJSON_GetObjectItem(o, "uploadId")));
    snprintf(uid, 64, "%s", cJSON_GetObjectItem(o, "uploadId")->valuestring);
    cJSON_Delete(o);
    ebuf_free(&r.body);
}

/* A part whose connection died mid-body holds its upload; a retry of the same part takes it
 * over, and what the first one still sends is discarded and refused. */
static void test_takeover(const char *acct)
{
    char uid[64], body[512];
    const char *repo = "taken";
    initiate(repo, uid);
    snprintf(body, sizeof body,
             "{\"registryId\":\"%s\",\"repositoryName\":\"%s\",\"uploadId\":\"%s\","
             "\"partFirstByte\":0,\"partLastByte\":5,\"layerPartBlob\":\"YWJkYWJk\"}",
             acct, repo, uid); /* "abdabd" */
    size_t half = strlen(body) - 6;
    struct srv_call *stalled = srv_call_begin(reg, SRV_TARGET_PREFIX "UploadLayerPart");
    REQUIRE(stalled);
    srv_call_feed(stalled, body, half);
    char retry[512];
    part_body(retry, sizeof retry, repo, uid, acct, "YWJj"); /* "abc" */
    struct srv_reply r = call("UploadLayerPart", retry);
    CHECK_EQ_INT(r.status, 200);
    ebuf_free(&r.body);
    /* The stalled one's body ends after all: its bytes must not land over the retry's. */
    srv_call_feed(stalled, body + half, strlen(body) - half);
    r = (struct srv_reply){0, EBUF_INIT, NULL};
    srv_call_finish(stalled, &r);
    CHECK_STR(r.error_type ? r.error_type : "", "InvalidLayerPartException");
    CHECK(r.body.data && strstr(r.body.data, "took it over"));
    ebuf_free(&r.body);
    srv_call_free(stalled);
    CHECK_STR(complete_in(repo, uid), "");

    /* A part at another offset does not take over: it is refused while the first holds on. */
    repo = "pinned";
    initiate(repo, uid);
    snprintf(body, sizeof body,
             "{\"registryId\":\"%s\",\"repositoryName\":\"%s\",\"uploadId\":\"%s\","
             "\"partFirstByte\":0,\"partLastByte\":2,\"layerPartBlob\":\"YWJj\"}",
             acct, repo, uid);
    stalled = srv_call_begin(reg, SRV_TARGET_PREFIX "UploadLayerPart");
    REQUIRE(stalled);
    srv_call_feed(stalled, body, strlen(body) - 4);
    snprintf(retry, sizeof retry,
             "{\"registryId\":\"%s\",\"repositoryName\":\"%s\",\"uploadId\":\"%s\","
             "\"partFirstByte\":3,\"partLastByte\":5,\"layerPartBlob\":\"YWJj\"}",
             acct, repo, uid);
    r = call("UploadLayerPart", retry);
    CHECK_STR(r.error_type ? r.error_type : "", "InvalidLayerPartException");
    CHECK(r.body.data && strstr(r.body.data, "is being received"));
    ebuf_free(&r.body);
    /* Nor does a pinned one (the hold fault) yield to the same offset. */
    srv_call_pin(stalled);
    part_body(retry, sizeof retry, repo, uid, acct, "YWJj");
    r = call("UploadLayerPart", retry);
    CHECK_STR(r.error_type ? r.error_type : "", "InvalidLayerPartException");
    ebuf_free(&r.body);
    srv_call_feed(stalled, body + strlen(body) - 4, 4);
    r = (struct srv_reply){0, EBUF_INIT, NULL};
    srv_call_finish(stalled, &r);
    CHECK_EQ_INT(r.status, 200);
    ebuf_free(&r.body);
    srv_call_free(stalled);
    CHECK_STR(complete_in(repo, uid), "");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    char dir[] = "/tmp/ecrup-call-release-XXXXXX";
    REQUIRE(mkdtemp(dir));
    struct ebuf err = EBUF_INIT;
    struct registry_config cfg = {.data_dir = dir, .base_url = "http://127.0.0.1:1"};
    reg = registry_open(&cfg, &err);
    REQUIRE(reg);
    struct srv_reply r = call("CreateRepository", "{\"repositoryName\":\"rr\"}");
    if (r.status != 200)
        fprintf(stderr, "%.*s\n", (int)r.body.len, r.body.data);
    CHECK_EQ_INT(r.status, 200);
    ebuf_free(&r.body);
    r = call("InitiateLayerUpload", "{\"repositoryName\":\"rr\"}");
    REQUIRE(r.status == 200);
    cJSON *o = cJSON_ParseWithLength(r.body.data, r.body.len);
    REQUIRE(o && cJSON_IsString(cJSON_GetObjectItem(o, "uploadId")));
    char uid[64];
    snprintf(uid, sizeof uid, "%s", cJSON_GetObjectItem(o, "uploadId")->valuestring);
    cJSON_Delete(o);
    ebuf_free(&r.body);
    const char *acct = registry_account(reg);

    /* A part whose body was read but which is answered without being run (its signature is
     * refused): busy while the call holds it, free and empty once dropped, before the free. */
    char body[512];
    part_body(body, sizeof body, "rr", uid, acct, "YWJk"); /* "abd" */
    struct srv_call *c = srv_call_begin(reg, SRV_TARGET_PREFIX "UploadLayerPart");
    REQUIRE(c);
    srv_call_feed(c, body, strlen(body));
    CHECK_STR(complete(uid), "InvalidLayerException"); /* still receiving a part */
    srv_call_drop(c);
    CHECK_STR(complete(uid), "EmptyUploadException");
    srv_call_drop(c); /* idempotent */
    srv_call_free(c);

    /* A part refused by the call's own checks (another registry) after its blob started: free
     * as soon as srv_call_finish returns. */
    part_body(body, sizeof body, "rr", uid, "000000000000", "YWJj");
    c = srv_call_begin(reg, SRV_TARGET_PREFIX "UploadLayerPart");
    REQUIRE(c);
    srv_call_feed(c, body, strlen(body));
    r = (struct srv_reply){0, EBUF_INIT, NULL};
    srv_call_finish(c, &r);
    CHECK_STR(r.error_type ? r.error_type : "", "InvalidParameterException");
    ebuf_free(&r.body);
    CHECK_STR(complete(uid), "EmptyUploadException");
    srv_call_free(c);

    /* The refused bytes are gone: the real part completes with its own digest. */
    part_body(body, sizeof body, "rr", uid, acct, "YWJj"); /* "abc" */
    r = call("UploadLayerPart", body);
    CHECK_EQ_INT(r.status, 200);
    ebuf_free(&r.body);
    CHECK_STR(complete(uid), "");

    test_takeover(acct);
    registry_free(reg);
    ebuf_free(&err);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_finish("test_call_release");
}
