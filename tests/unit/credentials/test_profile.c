/* The shared-file parser: botocore's rules, precedence between the files, errors that name
 * the file and the line. (tests/unit/credentials/profile_vs_botocore.py compares it with
 * botocore itself over generated files.) */
#include "signer/profile.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct profile_set *parse2(const char *config, const char *creds, struct ebuf *err)
{
    ebuf_reset(err);
    return profile_parse(config, config ? strlen(config) : 0, "cfg", creds,
                         creds ? strlen(creds) : 0, "cred", err);
}

static void test_sections_and_keys(void)
{
    struct ebuf err = EBUF_INIT;
    const char *config = "# leading comment\n"
                         "; another\n"
                         "[default]\n"
                         "region = us-west-2\n"
                         "Output=json\n"
                         "\n"
                         "[profile dev]\n"
                         "  region   :   eu-west-1   \n"
                         "endpoint_url = http://127.0.0.1:9000 ; kept, as botocore keeps it\n"
                         "s3 =\n"
                         "  addressing_style = path\n"
                         "\n"
                         "  # a comment inside the block\n"
                         "  signature_version=s3v4\n"
                         "multi = first\n"
                         "   second\n"
                         "[ignored]\n"
                         "region = nowhere\n"
                         "[profile \"spaced name\"]\n"
                         "region = ap-south-1\n"
                         "[profile a b]\n"
                         "region = never\n"
                         "[sso-session corp]\n"
                         "sso_region = us-east-1\n";
    struct profile_set *set = parse2(config, NULL, &err);
    REQUIRE(set);
    CHECK_STR(profile_get(set, "default", "region"), "us-west-2");
    CHECK_STR(profile_get(set, "default", "output"), "json");
    CHECK_STR(profile_get(set, "default", "OUTPUT"), "json");
    CHECK_STR(profile_get(set, "dev", "region"), "eu-west-1");
    CHECK_STR(profile_get(set, "dev", "endpoint_url"),
              "http://127.0.0.1:9000 ; kept, as botocore keeps it");
    CHECK_STR(profile_get(set, "dev", "s3"), "");
    CHECK_STR(profile_get_nested(set, "dev", "s3", "addressing_style"), "path");
    CHECK_STR(profile_get_nested(set, "dev", "s3", "signature_version"), "s3v4");
    CHECK(profile_get_nested(set, "dev", "s3", "nope") == NULL);
    CHECK_STR(profile_get(set, "dev", "multi"), "first\nsecond");
    CHECK(!profile_exists(set, "ignored"));
    CHECK(!profile_exists(set, "a b"));
    CHECK(!profile_exists(set, "corp"));
    CHECK(profile_exists(set, "spaced name"));
    CHECK_STR(profile_get(set, "spaced name", "region"), "ap-south-1");
    CHECK(profile_get(set, "dev", "missing") == NULL);
    CHECK(profile_get(set, "nobody", "region") == NULL);
    CHECK(!profile_exists(set, "Dev")); /* profile names are case-sensitive */
    profile_set_free(set);
    ebuf_free(&err);
}

static void test_precedence(void)
{
    struct ebuf err = EBUF_INIT;
    const char *config = "[default]\n"
                         "aws_access_key_id = FROMCONFIG\n"
                         "region = us-east-2\n"
                         "[profile x]\n"
                         "region = eu-north-1\n"
                         "[x]\n"
                         "aws_access_key_id = bare-section-in-config-is-not-a-profile\n";
    const char *creds = "[default]\n"
                        "aws_access_key_id = FROMCREDS\n"
                        "aws_secret_access_key = s\n"
                        "[profile x]\n"
                        "aws_access_key_id = literal-profile-x\n"
                        "[onlycreds]\n"
                        "region = sa-east-1\n";
    struct profile_set *set = parse2(config, creds, &err);
    REQUIRE(set);
    CHECK_STR(profile_get(set, "default", "aws_access_key_id"), "FROMCREDS");
    CHECK_STR(profile_get(set, "default", "region"), "us-east-2");
    CHECK_STR(profile_get(set, "x", "region"), "eu-north-1");
    CHECK(profile_get(set, "x", "aws_access_key_id") == NULL);
    CHECK_STR(profile_get(set, "profile x", "aws_access_key_id"), "literal-profile-x");
    CHECK(profile_exists(set, "onlycreds"));
    CHECK_STR(profile_get(set, "onlycreds", "region"), "sa-east-1");
    profile_set_free(set);

    /* [profile default] and [default] name one profile; the later section wins whole. */
    set =
        parse2("[default]\nregion = a\noutput = text\n[profile default]\nregion = b\n", NULL, &err);
    REQUIRE(set);
    CHECK_STR(profile_get(set, "default", "region"), "b");
    CHECK(profile_get(set, "default", "output") == NULL);
    profile_set_free(set);

    /* [DEFAULT] (configparser's defaults section) is inherited by every section. */
    set = parse2("[DEFAULT]\nregion = inherited\n[profile p]\noutput = json\n[profile q]\n"
                 "region = own\n",
                 NULL, &err);
    REQUIRE(set);
    CHECK_STR(profile_get(set, "p", "region"), "inherited");
    CHECK_STR(profile_get(set, "q", "region"), "own");
    CHECK(!profile_exists(set, "DEFAULT"));
    profile_set_free(set);
    ebuf_free(&err);
}

static void test_line_endings_and_long_values(void)
{
    struct ebuf err = EBUF_INIT;
    /* CRLF, a lone CR, a BOM, and a session token far over inih's 200-byte line limit. */
    struct ebuf text = EBUF_INIT;
    ebuf_puts(&text, "\xEF\xBB\xBF[default]\r\nregion = r1\rformat = f\r\naws_session_token = ");
    for (int i = 0; i < 3000; i++)
        ebuf_putc(&text, (char)('A' + i % 26));
    ebuf_puts(&text, "\r\n");
    struct profile_set *set = profile_parse(NULL, 0, NULL, text.data, text.len, "c", &err);
    REQUIRE(set);
    CHECK_STR(profile_get(set, "default", "region"), "r1");
    CHECK_STR(profile_get(set, "default", "format"), "f");
    const char *tok = profile_get(set, "default", "aws_session_token");
    CHECK(tok && strlen(tok) == 3000);
    profile_set_free(set);
    ebuf_free(&text);
    ebuf_free(&err);
}

/* Each malformed input fails with "NAME:LINE: ..." naming the line at fault. */
static void test_errors(void)
{
    static const struct {
        const char *text;
        const char *expect; /* prefix of the message */
        const char *detail; /* a word it must contain */
    } cases[] = {
        {"region = x\n[default]\n", "cfg:1: ", "before the first"},
        {"[default]\nregion = x\njust words\n", "cfg:3: ", "name = value"},
        {"[default]\n\n = novalue\n", "cfg:3: ", "no name"},
        {"[default]\na=1\n[profile b]\n[default]\n", "cfg:4: ", "duplicate section"},
        {"[default]\nregion=1\nREGION=2\n", "cfg:3: ", "duplicate setting"},
        {"[default]\ns3 =\n  no equals here\n", "cfg:2: ", "nested"},
        {"[default\nregion=1\n", "cfg:1: ", "before the first"},
        {"[default]\nregion=1\n[oops\n", "cfg:3: ", "name = value"},
    };
    struct ebuf err = EBUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct profile_set *set = parse2(cases[i].text, NULL, &err);
        CHECK(set == NULL);
        profile_set_free(set);
        if (strncmp(ebuf_str(&err), cases[i].expect, strlen(cases[i].expect)) != 0 ||
            !strstr(ebuf_str(&err), cases[i].detail)) {
            fprintf(stderr, "case %zu: got \"%s\"\n", i, ebuf_str(&err));
            CHECK(0 && "error message names the file and line");
        }
    }
    /* A NUL byte is refused, not silently truncated. */
    static const char nul[] = "[default]\nregion = a\0b\n";
    CHECK(profile_parse(nul, sizeof nul - 1, "n", NULL, 0, NULL, &err) == NULL);
    ebuf_free(&err);
}

static void test_files_and_paths(void)
{
    char dir[] = "/tmp/ecrup-profile-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char aws[300], cfg[300], cred[300], bad[300];
    snprintf(aws, sizeof aws, "%s/.aws", dir);
    snprintf(cfg, sizeof cfg, "%s/.aws/config", dir);
    snprintf(cred, sizeof cred, "%s/.aws/credentials", dir);
    snprintf(bad, sizeof bad, "%s/bad.ini", dir);
    REQUIRE(mkdir(aws, 0700) == 0);

    /* Default paths come from HOME; the variables override them, with ~ expanded. */
    const char *env1[] = {"HOME", dir, NULL};
    struct env_reader r1 = {test_env_pairs, env1};
    char *p = profile_config_path(&r1);
    CHECK_STR(p, cfg);
    free(p);
    p = profile_credentials_path(&r1);
    CHECK_STR(p, cred);
    free(p);
    const char *env2[] = {"HOME",
                          dir,
                          "AWS_CONFIG_FILE",
                          "~/x/c",
                          "AWS_PROFILE",
                          "fromenv",
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "/abs/creds",
                          NULL};
    struct env_reader r2 = {test_env_pairs, env2};
    char want[400];
    snprintf(want, sizeof want, "%s/x/c", dir);
    p = profile_config_path(&r2);
    CHECK_STR(p, want);
    free(p);
    p = profile_credentials_path(&r2);
    CHECK_STR(p, "/abs/creds");
    free(p);
    CHECK_STR(profile_name(&r2, NULL), "fromenv");
    CHECK_STR(profile_name(&r2, "flag"), "flag");
    CHECK_STR(profile_name(&r1, NULL), "default");
    const char *env3[] = {NULL};
    struct env_reader r3 = {test_env_pairs, env3};
    CHECK(profile_config_path(&r3) == NULL); /* no HOME: no default path */

    /* Missing files are no error; present ones are read. */
    struct ebuf err = EBUF_INIT;
    struct profile_set *set = profile_load(cfg, cred, &err);
    REQUIRE(set);
    CHECK(!profile_exists(set, "default"));
    profile_set_free(set);
    test_write_file(cfg, "[profile p]\nregion = eu-central-1\n");
    test_write_file(cred, "[p]\naws_access_key_id = AKIDFILE\n");
    set = profile_load(cfg, cred, &err);
    REQUIRE(set);
    CHECK_STR(profile_get(set, "p", "region"), "eu-central-1");
    CHECK_STR(profile_get(set, "p", "aws_access_key_id"), "AKIDFILE");
    profile_set_free(set);
    set = profile_load_env(&r1, &err); /* the same files, found through HOME */
    REQUIRE(set);
    CHECK_STR(profile_get(set, "p", "region"), "eu-central-1");
    profile_set_free(set);

    /* A malformed file: the message names the path and the line. */
    test_write_file(bad, "[default]\nregion = x\n\n[oops\n");
    ebuf_reset(&err);
    CHECK(profile_load(cfg, bad, &err) == NULL);
    snprintf(want, sizeof want, "%s:4: ", bad);
    CHECK(strncmp(ebuf_str(&err), want, strlen(want)) == 0);

    /* A directory where a file should be is an error, not "missing". */
    ebuf_reset(&err);
    CHECK(profile_load(aws, NULL, &err) == NULL);
    CHECK(strstr(ebuf_str(&err), aws) != NULL);

    /* Unreadable (skipped as root, who reads everything). */
    if (geteuid() != 0) {
        chmod(cred, 0);
        ebuf_reset(&err);
        CHECK(profile_load(NULL, cred, &err) == NULL);
        CHECK(strstr(ebuf_str(&err), "cannot open") != NULL);
    }
    ebuf_free(&err);
    unlink(cfg);
    unlink(cred);
    unlink(bad);
    rmdir(aws);
    rmdir(dir);
}

static void test_guarded(void)
{
    /* The parser never reads past `len`: input ending at an unreadable page, no newline. */
    static const char text[] = "[default]\nregion = us-east-1\ns3 =\n  a = b";
    void *g = test_guarded_copy(text, sizeof text - 1);
    struct ebuf err = EBUF_INIT;
    struct profile_set *set = profile_parse(NULL, 0, NULL, g, sizeof text - 1, "g", &err);
    REQUIRE(set);
    CHECK_STR(profile_get_nested(set, "default", "s3", "a"), "b");
    profile_set_free(set);
    test_guarded_free(g, sizeof text - 1);
    static const char partial[] = "[default";
    g = test_guarded_copy(partial, sizeof partial - 1);
    CHECK(profile_parse(NULL, 0, NULL, g, sizeof partial - 1, "g", &err) == NULL);
    test_guarded_free(g, sizeof partial - 1);
    ebuf_free(&err);
}

/* [sso-session NAME] sections: botocore's shlex rule, config file only, later one wins whole,
 * never a profile. */
static void test_sso_sessions(void)
{
    struct ebuf err = EBUF_INIT;
    const char *config = "[sso-session corp]\n"
                         "sso_start_url = https://corp.awsapps.com/start\n"
                         "SSO_Region = eu-west-1\n"
                         "[sso-session \"two words\"]\n"
                         "sso_region = us-east-2\n"
                         "[sso-session a b]\n"
                         "sso_region = never\n"
                         "[sso-session dup]\n"
                         "sso_region = first\n"
                         "sso_start_url = gone\n"
                         "[profile dup]\n"
                         "sso_session = dup\n"
                         "[sso-session  dup ]\n"
                         "sso_region = second\n";
    const char *creds = "[sso-session corp]\n"
                        "sso_region = from-credentials\n";
    struct profile_set *set = parse2(config, creds, &err);
    REQUIRE(set);
    CHECK(profile_sso_session_exists(set, "corp"));
    CHECK_STR(profile_sso_session_get(set, "corp", "sso_start_url"),
              "https://corp.awsapps.com/start");
    CHECK_STR(profile_sso_session_get(set, "corp", "sso_region"), "eu-west-1");
    CHECK(!profile_exists(set, "corp"));
    CHECK_STR(profile_sso_session_get(set, "two words", "sso_region"), "us-east-2");
    CHECK(!profile_sso_session_exists(set, "a"));
    CHECK(!profile_sso_session_exists(set, "a b"));
    CHECK_STR(profile_sso_session_get(set, "dup", "sso_region"), "second");
    CHECK(profile_sso_session_get(set, "dup", "sso_start_url") == NULL);
    CHECK_STR(profile_get(set, "dup", "sso_session"), "dup");
    CHECK(!profile_sso_session_exists(set, "Corp"));
    CHECK(profile_sso_session_get(set, "nobody", "sso_region") == NULL);
    CHECK(profile_sso_session_get(NULL, "corp", "sso_region") == NULL);
    profile_set_free(set);
    ebuf_free(&err);
}

/* [services NAME] sections, as botocore's configloader collects them: the same header rule
 * as sso-session sections, nested blocks per service, members kept as written, [DEFAULT]
 * inherited, only from the config file. */
static void test_services(void)
{
    struct ebuf err = EBUF_INIT;
    const char *config = "[DEFAULT]\n"
                         "output = json\n"
                         "[profile dev]\n"
                         "services = local\n"
                         "[services local]\n"
                         "STS =\n"
                         "  endpoint_url = http://127.0.0.1:4566\n"
                         "  Endpoint_URL = kept apart\n"
                         "sso_oidc =\n"
                         "  endpoint_url = http://127.0.0.1:4567/\n"
                         "ecr = not nested\n"
                         "[services \"two words\"]\n"
                         "sts =\n"
                         "  endpoint_url = http://[::1]:1\n"
                         "[services a b]\n"
                         "sts = never\n"
                         "[servicesx y]\n"
                         "sts =\n"
                         "  endpoint_url = prefix only\n";
    const char *creds = "[services local]\n"
                        "sts = from-credentials\n";
    struct profile_set *set = parse2(config, creds, &err);
    REQUIRE(set);
    CHECK(profile_services_exists(set, "local"));
    CHECK_STR(profile_services_get(set, "local", "sts", NULL), "");
    CHECK_STR(profile_services_get(set, "local", "sts", "endpoint_url"), "http://127.0.0.1:4566");
    CHECK_STR(profile_services_get(set, "local", "STS", "Endpoint_URL"), "kept apart");
    CHECK_STR(profile_services_get(set, "local", "sso_oidc", "endpoint_url"),
              "http://127.0.0.1:4567/");
    CHECK_STR(profile_services_get(set, "local", "ecr", NULL), "not nested");
    CHECK(profile_services_get(set, "local", "ecr", "endpoint_url") == NULL);
    CHECK_STR(profile_services_get(set, "local", "output", NULL), "json");
    CHECK_STR(profile_services_get(set, "two words", "sts", "endpoint_url"), "http://[::1]:1");
    CHECK(!profile_services_exists(set, "a"));
    CHECK(!profile_services_exists(set, "a b"));
    CHECK_STR(profile_services_get(set, "y", "sts", "endpoint_url"), "prefix only");
    CHECK(!profile_exists(set, "local"));
    CHECK(!profile_sso_session_exists(set, "local"));
    CHECK(profile_exists(set, "services local")); /* the credentials file's, a profile there */
    CHECK(profile_services_get(NULL, "local", "sts", NULL) == NULL);
    profile_set_free(set);

    /* An empty section is as good as none: botocore's endpoint lookup refuses both. */
    set = parse2("[services empty]\n[services full]\nsts =\n  endpoint_url = x\n", NULL, &err);
    REQUIRE(set);
    CHECK(!profile_services_exists(set, "empty"));
    CHECK(profile_services_exists(set, "full"));
    profile_set_free(set);

    /* A malformed nested block fails the file, as in botocore. */
    CHECK(parse2("[services local]\nsts =\n  no equals sign\n", NULL, &err) == NULL);
    CHECK(strstr(ebuf_str(&err), "cfg:2:") != NULL);
    ebuf_free(&err);
}

int main(void)
{
    test_sections_and_keys();
    test_sso_sessions();
    test_services();
    test_precedence();
    test_line_endings_and_long_values();
    test_errors();
    test_files_and_paths();
    test_guarded();
    return test_finish("test_profile");
}
