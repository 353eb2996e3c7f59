/* ECR's JSON replies and request bodies, with the guard-page trick so an over-read faults. */
#include "engine/ecr_json.h"

#include <cjson/cJSON.h>

#include "test.h"

static int parse_error(const char *s, struct ecr_error *e)
{
    size_t n = strlen(s);
    char *g = test_guarded_copy(s, n);
    int rc = ecr_parse_error(g, n, e);
    test_guarded_free(g, n);
    return rc;
}

struct seen {
    int n;
    char digests[4][80];
    bool avail[4];
};

static void on_layer(const char *digest, bool available, void *user)
{
    struct seen *s = user;
    if (s->n < 4) {
        snprintf(s->digests[s->n], sizeof s->digests[0], "%s", digest);
        s->avail[s->n] = available;
    }
    s->n++;
}

int main(void)
{
    struct ecr_error e;
    CHECK_EQ_INT(parse_error("{\"__type\":\"InvalidLayerPartException\",\"message\":\"bad part\","
                             "\"registryId\":\"123\",\"repositoryName\":\"r\",\"uploadId\":\"u\","
                             "\"lastValidByteReceived\":10485759}",
                             &e),
                 0);
    CHECK_STR(e.exception, "InvalidLayerPartException");
    CHECK_STR(e.message, "bad part");
    CHECK(e.has_last_valid_byte);
    CHECK_EQ_INT(e.last_valid_byte, 10485759);

    /* A namespaced __type is cut to its name; "Message" is accepted too. */
    CHECK_EQ_INT(parse_error("{\"__type\":\"com.amazonaws.ecr#ThrottlingException\","
                             "\"Message\":\"Rate exceeded\"}",
                             &e),
                 0);
    CHECK_STR(e.exception, "ThrottlingException");
    CHECK_STR(e.message, "Rate exceeded");
    CHECK(!e.has_last_valid_byte);

    /* Offsets beyond 4 GiB survive; negative or fractional ones are refused. */
    CHECK_EQ_INT(parse_error("{\"__type\":\"X\",\"lastValidByteReceived\":54525952000}", &e), 0);
    CHECK(e.has_last_valid_byte);
    CHECK(e.last_valid_byte == 54525952000ull);
    CHECK_EQ_INT(parse_error("{\"__type\":\"X\",\"lastValidByteReceived\":-1}", &e), 0);
    CHECK(!e.has_last_valid_byte);
    CHECK_EQ_INT(parse_error("{\"__type\":\"X\",\"lastValidByteReceived\":1.5}", &e), 0);
    CHECK(!e.has_last_valid_byte);

    /* Not JSON (a proxy's HTML page): -1, the start of the body kept printable. */
    CHECK_EQ_INT(parse_error("<html>\n502 Bad Gateway</html>", &e), -1);
    CHECK_STR(e.exception, "");
    CHECK(strstr(e.message, "502 Bad Gateway") != NULL);
    CHECK(strchr(e.message, '\n') == NULL);
    CHECK_EQ_INT(parse_error("[1,2]", &e), -1);
    CHECK_EQ_INT(ecr_parse_error(NULL, 0, &e), -1);

    char upload_id[64];
    uint64_t part_size = 0;
    const char *init = "{\"uploadId\":\"0b6e4f0a-1\",\"partSize\":10485760}";
    CHECK_EQ_INT(ecr_parse_initiate(init, strlen(init), upload_id, sizeof upload_id, &part_size),
                 0);
    CHECK_STR(upload_id, "0b6e4f0a-1");
    CHECK_EQ_INT(part_size, 10485760);
    CHECK_EQ_INT(ecr_parse_initiate(init, strlen(init), upload_id, 5, &part_size), -1);
    const char *init_bad = "{\"uploadId\":7,\"partSize\":10485760}";
    CHECK_EQ_INT(
        ecr_parse_initiate(init_bad, strlen(init_bad), upload_id, sizeof upload_id, &part_size),
        -1);

    uint64_t last = 0;
    const char *up = "{\"registryId\":\"1\",\"repositoryName\":\"r\",\"uploadId\":\"u\","
                     "\"lastByteReceived\":20971519}";
    CHECK_EQ_INT(ecr_parse_upload_part(up, strlen(up), &last), 0);
    CHECK_EQ_INT(last, 20971519);
    CHECK_EQ_INT(ecr_parse_upload_part("{}", 2, &last), -1);

    char digest[80];
    const char *done = "{\"layerDigest\":\"sha256:abcd\"}";
    CHECK_EQ_INT(ecr_parse_complete(done, strlen(done), digest, sizeof digest), 0);
    CHECK_STR(digest, "sha256:abcd");
    CHECK_EQ_INT(ecr_parse_complete("{\"layerDigest\":\"\"}", 18, digest, sizeof digest), -1);

    /* CreateRepository's reply as the service (and `ecrup serve`) writes it. */
    char uri[128];
    const char *created = "{\"repository\":{\"repositoryArn\":\"arn:aws:ecr:us-east-1:"
                          "123456789012:repository/team/app\",\"registryId\":\"123456789012\","
                          "\"repositoryName\":\"team/app\",\"repositoryUri\":\"123456789012."
                          "dkr.ecr.us-east-1.amazonaws.com/team/app\",\"createdAt\":1.7e9}}";
    CHECK_EQ_INT(ecr_parse_create_repository(created, strlen(created), uri, sizeof uri), 0);
    CHECK_STR(uri, "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app");
    CHECK_EQ_INT(ecr_parse_create_repository(created, strlen(created), uri, 20), -1);
    CHECK_EQ_INT(ecr_parse_create_repository("{\"repository\":{}}", 17, uri, sizeof uri), -1);
    CHECK_EQ_INT(ecr_parse_create_repository("[]", 2, uri, sizeof uri), -1);

    struct seen s = {0};
    const char *check = "{\"layers\":[{\"layerDigest\":\"sha256:aa\",\"layerAvailability\":"
                        "\"AVAILABLE\",\"layerSize\":3},{\"layerDigest\":\"sha256:bb\","
                        "\"layerAvailability\":\"UNAVAILABLE\"}],\"failures\":[{\"layerDigest\":"
                        "\"sha256:cc\",\"failureCode\":\"MissingLayerDigest\"}]}";
    CHECK_EQ_INT(ecr_parse_batch_check(check, strlen(check), on_layer, &s), 3);
    CHECK_STR(s.digests[0], "sha256:aa");
    CHECK(s.avail[0]);
    CHECK(!s.avail[1]);
    CHECK_STR(s.digests[2], "sha256:cc");
    CHECK(!s.avail[2]);
    CHECK_EQ_INT(ecr_parse_batch_check("{\"layers\":{}}", 13, on_layer, &s), -1);

    /* Request bodies round-trip through a JSON parser with the right fields. */
    char *body = ecr_build_complete("team/app \"x\"", "123456789012", "up-1", "sha256:0123");
    REQUIRE(body);
    cJSON *doc = cJSON_Parse(body);
    REQUIRE(doc);
    CHECK_STR(cJSON_GetObjectItem(doc, "repositoryName")->valuestring, "team/app \"x\"");
    CHECK_STR(cJSON_GetObjectItem(doc, "registryId")->valuestring, "123456789012");
    CHECK_STR(cJSON_GetObjectItem(doc, "uploadId")->valuestring, "up-1");
    CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "layerDigests"), 0)->valuestring,
              "sha256:0123");
    cJSON_Delete(doc);
    free(body);
    body = ecr_build_initiate("repo", NULL);
    CHECK_STR(body, "{\"repositoryName\":\"repo\"}");
    free(body);
    body = ecr_build_create_repository("team/app", "123456789012");
    CHECK_STR(body, "{\"registryId\":\"123456789012\",\"repositoryName\":\"team/app\"}");
    free(body);
    const char *ds[] = {"sha256:1", "sha256:2"};
    body = ecr_build_batch_check("repo", NULL, ds, 2);
    CHECK_STR(body, "{\"repositoryName\":\"repo\",\"layerDigests\":[\"sha256:1\",\"sha256:2\"]}");
    free(body);
    return test_finish("test_ecr_json");
}
