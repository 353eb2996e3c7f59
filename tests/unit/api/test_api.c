/* The public API's contracts that hold before any network is involved. */
#include <ecrup.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

static void test_status_table(void)
{
    /* Every status up to the last has a description and a real category. */
    for (int s = ECRUP_OK; s <= ECRUP_E_STREAM_REWIND; s++) {
        const char *text = ecrup_strerror((ecrup_status)s);
        CHECK(text && *text && strcmp(text, "unknown status") != 0);
        ecrup_category c = ecrup_status_category((ecrup_status)s);
        CHECK((s == ECRUP_OK) == (c == ECRUP_CATEGORY_OK));
        CHECK(strcmp(ecrup_category_name(c), "unknown") != 0);
    }
    CHECK_STR(ecrup_strerror((ecrup_status)9999), "unknown status");
    CHECK_EQ_INT(ecrup_status_category((ecrup_status)9999), ECRUP_CATEGORY_INTERNAL);
    CHECK_STR(ecrup_strerror((ecrup_status)-1), "unknown status");
    /* The numbers are part of the ABI. */
    CHECK_EQ_INT(ECRUP_E_THROTTLED, 13);
    CHECK_EQ_INT(ECRUP_E_NOT_FOUND, 25);
    CHECK_EQ_INT(ecrup_status_category(ECRUP_E_THROTTLED), ECRUP_CATEGORY_RETRYABLE);
    CHECK_EQ_INT(ecrup_status_category(ECRUP_E_SERVER), ECRUP_CATEGORY_RETRYABLE);
    CHECK_EQ_INT(ecrup_status_category(ECRUP_E_IO), ECRUP_CATEGORY_IO);
    CHECK_EQ_INT(ecrup_status_category(ECRUP_E_NO_CREDENTIALS), ECRUP_CATEGORY_AUTH);
    CHECK_EQ_INT(ecrup_status_category(ECRUP_E_INVALID_ARGUMENT), ECRUP_CATEGORY_USAGE);
    CHECK_EQ_INT(ecrup_status_category(ECRUP_E_PROTOCOL), ECRUP_CATEGORY_PROTOCOL);
    CHECK_EQ_INT(ecrup_status_category(ECRUP_E_NOMEM), ECRUP_CATEGORY_INTERNAL);
    CHECK_STR(ecrup_category_name(ECRUP_CATEGORY_RETRYABLE), "retryable");
}

/* Each status has one name of its own, and docs/engine.md's table gives the same name for
 * every failing status: the --json "error" field is a contract. */
static void test_status_names(void)
{
    char *doc = test_read_file(ECRUP_SOURCE_DIR "/docs/engine.md", NULL);
    REQUIRE(doc);
    for (int s = ECRUP_OK; s <= ECRUP_E_STREAM_REWIND; s++) {
        const char *name = ecrup_status_name((ecrup_status)s);
        CHECK(name && *name);
        for (const char *c = name; *c; c++)
            CHECK((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z'));
        for (int t = ECRUP_OK; t < s; t++)
            CHECK(strcmp(name, ecrup_status_name((ecrup_status)t)) != 0);
        if (s == ECRUP_OK)
            continue;
        /* The row is "| `ENUM` | `Name` |"; the enum's spelling comes from the row itself. */
        char want[96];
        snprintf(want, sizeof want, "` | `%s` |", name);
        const char *row = strstr(doc, want);
        CHECK(row != NULL);
        if (!row)
            fprintf(stderr, "docs/engine.md has no row naming %s (status %d)\n", name, s);
    }
    /* And no row in the doc names something the library does not. */
    int rows = 0;
    for (const char *p = strstr(doc, "| `ECRUP_E_"); p; p = strstr(p + 1, "| `ECRUP_E_")) {
        const char *n = strstr(p, "` | `");
        REQUIRE(n);
        n += 5;
        size_t len = strcspn(n, "`");
        bool known = false;
        for (int s = ECRUP_E_INVALID_ARGUMENT; s <= ECRUP_E_STREAM_REWIND; s++) {
            const char *name = ecrup_status_name((ecrup_status)s);
            known |= strlen(name) == len && !strncmp(name, n, len);
        }
        CHECK(known);
        rows++;
    }
    CHECK_EQ_INT(rows, ECRUP_E_STREAM_REWIND);
    free(doc);
    CHECK_STR(ecrup_status_name(ECRUP_E_FILE_CHANGED), "FileChanged");
    CHECK_STR(ecrup_status_name(ECRUP_E_NO_CREDENTIALS), "NoCredentials");
    CHECK_STR(ecrup_status_name(ECRUP_E_INVALID_RANGE), "InvalidRange");
    CHECK_STR(ecrup_status_name((ecrup_status)9999), "InternalError");
    CHECK_STR(ecrup_status_name((ecrup_status)-1), "InternalError");
}

/* Descriptor 0 is a descriptor like any other: an engine made while stdin is closed gets its
 * wake-up eventfd there and must still close it. */
static void test_engine_closes_fd_zero(void)
{
    int saved = dup(0);
    REQUIRE(saved >= 0);
    close(0);
    struct ecrup_options o;
    ecrup_options_init(&o);
    o.region = "eu-west-1";
    o.access_key_id = "AKIDEXAMPLE";
    o.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    o.endpoint_url = "http://127.0.0.1:9";
    struct ecrup_engine *e = NULL;
    struct ecrup_error err;
    REQUIRE(ecrup_engine_new(&o, &e, &err) == ECRUP_OK);
    bool engine_holds_zero = fcntl(0, F_GETFD) != -1;
    ecrup_engine_free(e);
    errno = 0;
    bool closed = fcntl(0, F_GETFD) == -1 && errno == EBADF;
    CHECK(engine_holds_zero); /* else this test shows nothing */
    CHECK(closed);
    REQUIRE(dup2(saved, 0) == 0);
    close(saved);
}

static void test_options_default_zero(void)
{
    struct ecrup_options o;
    memset(&o, 0xA5, sizeof o);
    ecrup_options_init(&o);
    const unsigned char *p = (const unsigned char *)&o;
    int nonzero = 0;
    for (size_t i = 0; i < sizeof o; i++)
        nonzero += p[i] != 0;
    CHECK_EQ_INT(nonzero, 0);
}

/* A stream callback no test run reaches. */
static ptrdiff_t stream_never(void *user, void *buf, size_t len)
{
    (void)user;
    (void)buf;
    (void)len;
    return 0;
}

static void test_engine_lifecycle(void)
{
    ecrup_engine_free(NULL); /* must do nothing */

    struct ecrup_options o;
    ecrup_options_init(&o);
    char region[] = "eu-west-1";
    o.region = region;
    o.access_key_id = "AKIDEXAMPLE";
    struct ecrup_engine *e = (struct ecrup_engine *)(uintptr_t)1;
    struct ecrup_error err;
    /* A key id without its secret is a usage error, with a message naming both. */
    CHECK_EQ_INT(ecrup_engine_new(&o, &e, &err), ECRUP_E_INVALID_ARGUMENT);
    CHECK(e == NULL);
    CHECK(strstr(err.message, "secret_access_key") != NULL);

    o.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    REQUIRE(ecrup_engine_new(&o, &e, &err) == ECRUP_OK);
    region[0] = 'X'; /* the engine copied it */

    int tag = 7;
    struct ecrup_layer l = {.path = "/nonexistent/layer", .repository = "repo", .user = &tag};
    uint64_t id = 99;
    CHECK_EQ_INT(ecrup_engine_add_layer(e, &l, &id), ECRUP_OK);
    CHECK_EQ_INT(id, 0);
    l.digest = "sha256:xyz";
    CHECK_EQ_INT(ecrup_engine_add_layer(e, &l, NULL), ECRUP_E_INVALID_ARGUMENT);
    l.digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    CHECK_EQ_INT(ecrup_engine_add_layer(e, &l, &id), ECRUP_OK);
    CHECK_EQ_INT(id, 1);
    l.repository = NULL;
    CHECK_EQ_INT(ecrup_engine_add_layer(e, &l, NULL), ECRUP_E_INVALID_ARGUMENT);

    CHECK_EQ_INT(ecrup_engine_result_count(e), 2);
    const struct ecrup_result *r = ecrup_engine_result(e, 1);
    REQUIRE(r != NULL);
    CHECK(r->layer_user == &tag);
    CHECK_STR(r->digest, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    CHECK_EQ_INT(r->outcome, ECRUP_OUTCOME_PENDING);
    CHECK(ecrup_engine_result(e, 2) == NULL);

    /* Cancelled before running: every layer fails with ECRUP_E_CANCELLED, none is lost. */
    ecrup_engine_cancel(e);
    CHECK_EQ_INT(ecrup_engine_run(e), ECRUP_E_CANCELLED);
    for (size_t i = 0; i < ecrup_engine_result_count(e); i++) {
        r = ecrup_engine_result(e, i);
        CHECK_EQ_INT(r->outcome, ECRUP_OUTCOME_FAILED);
        CHECK_EQ_INT(r->status, ECRUP_E_CANCELLED);
        CHECK(r->message && *r->message);
    }
    /* Layers may be added after a run, for the next one; a cancelled engine ends them at
     * once, and the earlier results stay as they were. */
    l.repository = "repo";
    r = ecrup_engine_result(e, 0);
    CHECK_EQ_INT(ecrup_engine_add_layer(e, &l, &id), ECRUP_OK);
    CHECK_EQ_INT(id, 2);
    CHECK(ecrup_engine_result(e, 0) == r);
    CHECK_EQ_INT(ecrup_engine_run(e), ECRUP_E_CANCELLED);
    CHECK_EQ_INT(ecrup_engine_result(e, 2)->status, ECRUP_E_CANCELLED);
    CHECK_EQ_INT(ecrup_engine_result_count(e), 3);
    /* A stream layer takes no range: there is no file to take one of. */
    struct ecrup_layer sl = {.path = "-", .repository = "repo", .read = stream_never};
    sl.offset = 1;
    CHECK_EQ_INT(ecrup_engine_add_layer(e, &sl, NULL), ECRUP_E_INVALID_ARGUMENT);
    sl.offset = 0;
    sl.length = 5;
    CHECK_EQ_INT(ecrup_engine_add_layer(e, &sl, NULL), ECRUP_E_INVALID_ARGUMENT);

    /* PutImage: arguments checked before anything is sent; a cancelled engine sends nothing
     * either, and says so in the result. */
    static const char manifest[] = "{\"schemaVersion\":2}";
    struct ecrup_image im = {
        .repository = "repo", .manifest = manifest, .manifest_length = sizeof manifest - 1};
    struct ecrup_image_result ir;
    CHECK_EQ_INT(ecrup_engine_put_image(e, &im, NULL), ECRUP_E_INVALID_ARGUMENT);
    CHECK_EQ_INT(ecrup_engine_put_image(NULL, &im, &ir), ECRUP_E_INVALID_ARGUMENT);
    CHECK_EQ_INT(ir.outcome, ECRUP_OUTCOME_FAILED);
    CHECK(ir.message[0] != '\0');
    im.manifest_length = 0;
    CHECK_EQ_INT(ecrup_engine_put_image(e, &im, &ir), ECRUP_E_INVALID_ARGUMENT);
    im.manifest_length = sizeof manifest - 1;
    CHECK_EQ_INT(ecrup_engine_put_image(e, &im, &ir), ECRUP_E_CANCELLED);
    CHECK_STR(ir.exception, "Cancelled");

    /* CreateRepository: the same checks before anything is sent. */
    struct ecrup_repository_result rr;
    CHECK_EQ_INT(ecrup_engine_create_repository(e, "team/app", NULL, NULL),
                 ECRUP_E_INVALID_ARGUMENT);
    CHECK_EQ_INT(ecrup_engine_create_repository(NULL, "team/app", NULL, &rr),
                 ECRUP_E_INVALID_ARGUMENT);
    CHECK_EQ_INT(rr.outcome, ECRUP_OUTCOME_FAILED);
    CHECK_EQ_INT(ecrup_engine_create_repository(e, "Team/App", NULL, &rr),
                 ECRUP_E_INVALID_ARGUMENT);
    CHECK(strstr(rr.message, "lowercase") != NULL);
    CHECK_EQ_INT(ecrup_engine_create_repository(e, "team/app", NULL, &rr), ECRUP_E_CANCELLED);
    CHECK_STR(rr.exception, "Cancelled");
    CHECK_EQ_INT(rr.attempts, 0);
    ecrup_engine_free(e);

    /* A manifest holding a NUL byte is not JSON text: refused before anything is sent. */
    REQUIRE(ecrup_engine_new(&o, &e, &err) == ECRUP_OK);
    im.manifest_length = sizeof manifest;
    CHECK_EQ_INT(ecrup_engine_put_image(e, &im, &ir), ECRUP_E_INVALID_ARGUMENT);
    CHECK(strstr(ir.message, "NUL") != NULL);
    ecrup_engine_free(e);
}

/* Configuration problems surface at engine creation, each with a message naming the cause.
 * The process environment is the input here, so the test owns it (single-threaded). */
static void test_engine_configuration_errors(void)
{
    static const char *const cleared[] = {"AWS_REGION",
                                          "AWS_DEFAULT_REGION",
                                          "AWS_PROFILE",
                                          "AWS_ACCESS_KEY_ID",
                                          "AWS_SECRET_ACCESS_KEY",
                                          "AWS_SESSION_TOKEN",
                                          "AWS_ENDPOINT_URL",
                                          "AWS_ENDPOINT_URL_ECR",
                                          "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                          "AWS_CA_BUNDLE"};
    for (size_t i = 0; i < sizeof cleared / sizeof *cleared; i++)
        unsetenv(cleared[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1); /* never ask a real instance endpoint */
    char dir[] = "/tmp/ecrup-test-api-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char config[256], creds[256];
    snprintf(config, sizeof config, "%s/config", dir);
    snprintf(creds, sizeof creds, "%s/credentials", dir);
    setenv("AWS_CONFIG_FILE", config, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);

    struct ecrup_options o;
    ecrup_options_init(&o);
    struct ecrup_engine *e = NULL;
    struct ecrup_error err;
    CHECK_EQ_INT(ecrup_engine_new(&o, &e, &err), ECRUP_E_NO_REGION);
    CHECK(e == NULL);
    CHECK(strstr(err.message, "AWS_REGION") != NULL);

    o.region = "us-east-1";
    CHECK_EQ_INT(ecrup_engine_new(&o, &e, &err), ECRUP_E_NO_CREDENTIALS);
    CHECK(strstr(err.message, "tried") != NULL);
    if (!strstr(err.message, "tried"))
        fprintf(stderr, "message: %s\n", err.message);

    test_write_file(config, "[default]\nregion = eu-west-1\nthis line is not a setting\n");
    CHECK_EQ_INT(ecrup_engine_new(&o, &e, &err), ECRUP_E_CONFIG);
    CHECK(strstr(err.message, config) != NULL && strstr(err.message, ":3") != NULL);

    test_write_file(config, "[default]\nregion = eu-west-1\n");
    test_write_file(creds, "[default]\naws_access_key_id = AKIDFROMFILE\n"
                           "aws_secret_access_key = c2VjcmV0/from+file\n");
    o.region = NULL;
    REQUIRE(ecrup_engine_new(&o, &e, &err) == ECRUP_OK);
    ecrup_engine_free(e);

    o.profile = "nosuchprofile";
    CHECK_EQ_INT(ecrup_engine_new(&o, &e, &err), ECRUP_E_NOT_FOUND);
    CHECK(strstr(err.message, "nosuchprofile") != NULL);

    o.profile = NULL;
    o.endpoint_url = "ftp://example.com";
    CHECK_EQ_INT(ecrup_engine_new(&o, &e, &err), ECRUP_E_ENDPOINT);
    CHECK(strstr(err.message, "ftp") != NULL);

    unlink(config);
    unlink(creds);
    rmdir(dir);
}

int main(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", ECRUP_VERSION_MAJOR, ECRUP_VERSION_MINOR,
             ECRUP_VERSION_PATCH);
    CHECK_STR(ecrup_version(), want);
    test_status_table();
    test_status_names();
    test_options_default_zero();
    test_engine_configuration_errors();
    test_engine_lifecycle();
    test_engine_closes_fd_zero();
    return test_finish("test_api");
}
