/* The SSO token cache files (signer/sso_cache.c): the file names botocore's SSOTokenLoader
 * computes (SHA-1 of the session name, or of the start URL for the legacy form), the reader
 * over good, expired, incomplete and malformed files, the expiresAt forms, the refresh
 * precondition, and the atomic write-back (mode 0600, no temporary file left, readable
 * again). */
#include "signer/sso_cache.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_names(void)
{
    char name[46];
    /* hashlib.sha1(b"corp").hexdigest() and of the legacy start URL */
    REQUIRE(sso_cache_file_name("corp", name));
    CHECK_STR(name, "ee0bfd2552fbd840c02cc48b6e823320543c450f.json");
    REQUIRE(sso_cache_file_name("https://corp.awsapps.com/start", name));
    CHECK_STR(name, "a51746d4aa793ae07b25e90c3a5db96fc7832bd7.json");

    const char *env_pairs[] = {"HOME", "/home/u/", NULL};
    struct env_reader env = {.get = test_env_pairs, .user = env_pairs};
    char *path = sso_cache_path(&env, "corp");
    CHECK_STR(path, "/home/u/.aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json");
    free(path);
    const char *no_home[] = {NULL};
    struct env_reader none = {.get = test_env_pairs, .user = no_home};
    CHECK(sso_cache_path(&none, "corp") == NULL);
}

static void test_times(void)
{
    time_t t = 0;
    CHECK(sso_parse_time("2024-01-01T00:00:00Z", &t) && t == 1704067200);
    CHECK(sso_parse_time("2024-01-01T00:00:00UTC", &t) && t == 1704067200);
    CHECK(sso_parse_time("2024-01-01T01:00:00+01:00", &t) && t == 1704067200);
    CHECK(sso_parse_time("2024-01-01T01:00:00+0100", &t) && t == 1704067200);
    CHECK(sso_parse_time("2023-12-31T23:00:00-0100", &t) && t == 1704067200);
    CHECK(sso_parse_time("2024-01-01T00:00:00.123Z", &t) && t == 1704067200);
    CHECK(!sso_parse_time("2024-01-01T00:00:00", &t));
    CHECK(!sso_parse_time("2024-01-01", &t));
    CHECK(!sso_parse_time("yesterday", &t));
    CHECK(!sso_parse_time(NULL, &t));
}

static ecrup_status parse(const char *text, struct sso_token *t, struct ebuf *err)
{
    ebuf_reset(err);
    /* Guarded: the reader must not look past the bytes it is given. */
    size_t len = strlen(text);
    char *g = test_guarded_copy(text, len);
    ecrup_status st = sso_token_parse(g, len, "/c/x.json", t, err);
    test_guarded_free(g, len);
    return st;
}

static void test_reader(void)
{
    struct ebuf err = EBUF_INIT;
    struct sso_token t;
    CHECK_EQ_INT(parse("{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": "
                       "\"eu-west-1\", \"accessToken\": \"tok-SECRET\", \"expiresAt\": "
                       "\"2024-01-01T00:00:00Z\", \"clientId\": \"cid\", \"clientSecret\": "
                       "\"csec-SECRET\", \"registrationExpiresAt\": \"2030-01-01T00:00:00Z\", "
                       "\"refreshToken\": \"ref-SECRET\"}",
                       &t, &err),
                 ECRUP_OK);
    CHECK_STR(t.access_token, "tok-SECRET");
    CHECK(t.expires_at == 1704067200);
    CHECK_STR(t.refresh_token, "ref-SECRET");
    CHECK_STR(t.client_id, "cid");
    CHECK_STR(t.client_secret, "csec-SECRET");
    CHECK_STR(t.registration_expires_at, "2030-01-01T00:00:00Z");
    CHECK_STR(t.region, "eu-west-1");
    CHECK(sso_token_refreshable(&t, 1704067200));
    CHECK(!sso_token_refreshable(&t, 1893456000)); /* the registration's own expiry */
    sso_token_cleanup(&t);
    CHECK(t.access_token == NULL);

    /* Expired is still a well-formed file: the provider decides; no refresh fields. */
    CHECK_EQ_INT(
        parse("{\"accessToken\": \"t\", \"expiresAt\": \"2001-01-01T00:00:00UTC\"}", &t, &err),
        ECRUP_OK);
    CHECK(t.expires_at == 978307200);
    CHECK(t.refresh_token == NULL && t.client_id == NULL);
    CHECK(!sso_token_refreshable(&t, 0));
    sso_token_cleanup(&t);

    /* Missing fields and malformed documents: ECRUP_E_CONFIG naming the file, no value. */
    const char *bad[] = {
        "{\"expiresAt\": \"2024-01-01T00:00:00Z\"}",
        "{\"accessToken\": \"tok-SECRET\"}",
        "{\"accessToken\": \"\", \"expiresAt\": \"2024-01-01T00:00:00Z\"}",
        "{\"accessToken\": 5, \"expiresAt\": \"2024-01-01T00:00:00Z\"}",
        "{\"accessToken\": \"tok-SECRET\", \"expiresAt\": \"soon\"}",
        "{\"accessToken\": \"tok-SECRET\", \"expiresAt\": \"2024-01-01T00:00:00Z\"",
        "[\"accessToken\"]",
        "",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(parse(bad[i], &t, &err), ECRUP_E_CONFIG);
        CHECK(strstr(ebuf_str(&err), "/c/x.json") != NULL);
        CHECK(strstr(ebuf_str(&err), "SECRET") == NULL);
        CHECK(t.access_token == NULL);
    }
    ebuf_free(&err);
}

static void test_load_and_save(void)
{
    char dir[] = "/tmp/test_sso_cache.XXXXXX";
    REQUIRE(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/x.json", dir);
    struct ebuf err = EBUF_INIT;
    struct sso_token t;
    CHECK_EQ_INT(sso_token_load(path, &t, &err), ECRUP_E_NOT_FOUND);

    test_write_file(path, "{\"accessToken\": \"old\", \"expiresAt\": \"2024-01-01T00:00:00Z\", "
                          "\"clientId\": \"cid\", \"clientSecret\": \"cs\", "
                          "\"registrationExpiresAt\": \"2030-01-01T00:00:00UTC\", "
                          "\"refreshToken\": \"r1\"}");
    chmod(path, 0644);
    REQUIRE(sso_token_load(path, &t, &err) == ECRUP_OK);
    free(t.access_token);
    t.access_token = strdup("new");
    t.expires_at = 1704070800;
    CHECK_EQ_INT(sso_token_save(path, &t, &err), ECRUP_OK);
    sso_token_cleanup(&t);

    struct stat sb;
    REQUIRE(stat(path, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    REQUIRE(sso_token_load(path, &t, &err) == ECRUP_OK);
    CHECK_STR(t.access_token, "new");
    CHECK(t.expires_at == 1704070800);
    CHECK_STR(t.refresh_token, "r1");
    CHECK_STR(t.registration_expires_at, "2030-01-01T00:00:00UTC");
    sso_token_cleanup(&t);
    char *text = test_read_file(path, NULL);
    CHECK(text && strstr(text, "\"expiresAt\":\t\"2024-01-01T01:00:00Z\"") != NULL);
    free(text);

    /* Only x.json is left: the temporary file was renamed, not copied. */
    DIR *d = opendir(dir);
    REQUIRE(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            entries++;
    closedir(d);
    CHECK_EQ_INT(entries, 1);

    /* A directory that is not there: ECRUP_E_IO naming the file. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope/x.json", dir);
    t.access_token = strdup("a");
    ebuf_reset(&err);
    CHECK_EQ_INT(sso_token_save(missing, &t, &err), ECRUP_E_IO);
    CHECK(strstr(ebuf_str(&err), missing) != NULL);
    sso_token_cleanup(&t);

    /* A directory where the file should be: ECRUP_E_CONFIG naming it. */
    snprintf(missing, sizeof missing, "%s/d.json", dir);
    REQUIRE(mkdir(missing, 0700) == 0);
    ebuf_reset(&err);
    CHECK_EQ_INT(sso_token_load(missing, &t, &err), ECRUP_E_CONFIG);
    CHECK(strstr(ebuf_str(&err), missing) != NULL);
    rmdir(missing);
    unlink(path);
    rmdir(dir);
    ebuf_free(&err);
}

int main(void)
{
    test_names();
    test_times();
    test_reader();
    test_load_and_save();
    return test_finish("test_sso_cache");
}
