/* The provider chain without a network: explicit values, the environment (a fake one, through
 * the injectable reader), shared files, credential_process; and the cache: reuse, refresh
 * ahead of expiry, a failed refresh keeping valid credentials, and several threads reading
 * while one refreshes. The HTTP providers are in test_credentials_http.py. */
#include "engine/context.h"
#include "signer/credentials.h"
#include "test.h"

#include <curl/curl.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static char home_aws[128], cfg_path[160], cred_path[160], counter_path[160], lock_path[160];

static ecrup_status resolve(const char *const *envv, const char *akid, const char *secret,
                            const char *profile, struct cred_snapshot **out, struct ebuf *err)
{
    struct env_reader r = {test_env_pairs, (void *)(uintptr_t)envv};
    struct cred_config cfg = {
        .access_key_id = akid, .secret_access_key = secret, .profile = profile, .env = &r};
    ebuf_reset(err);
    return cred_resolve(&cfg, out, err);
}

/* The base environment every case extends: HOME at the temp dir, IMDS off (never leave the
 * machine). */
#define BASE "HOME", dir, "AWS_EC2_METADATA_DISABLED", "true"

static void test_time(void)
{
    time_t t;
    CHECK(cred_parse_time("1970-01-01T00:00:00Z", &t) && t == 0);
    CHECK(cred_parse_time("2026-11-26T23:59:59Z", &t) && t == 1795737599);
    CHECK(cred_parse_time("2026-11-26T23:59:59.123456Z", &t) && t == 1795737599);
    CHECK(cred_parse_time("2026-11-27T01:59:59+02:00", &t) && t == 1795737599);
    CHECK(cred_parse_time("2026-11-26T22:59:59-01:00", &t) && t == 1795737599);
    CHECK(!cred_parse_time("2026-11-26 23:59", &t));
    CHECK(!cred_parse_time("2026-13-26T23:59:59Z", &t));
    CHECK(!cred_parse_time("2026-11-26T23:59:59", &t));
    CHECK(!cred_parse_time("2026-11-26T23:59:59Zjunk", &t));
    CHECK(!cred_parse_time("2026-11-26T23:59:59.Z", &t));
    CHECK(!cred_parse_time(NULL, &t));
}

static void test_precedence(void)
{
    struct ebuf err = EBUF_INIT;
    struct cred_snapshot *s = NULL;
    test_write_file(cred_path, "[default]\naws_access_key_id = AKIDPROFILE\n"
                               "aws_secret_access_key = secret-profile\n"
                               "[proc]\ncredential_process = printf '{\"Version\": 1, "
                               "\"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"sp\"}'\n");
    const char *full[] = {BASE,         "AWS_ACCESS_KEY_ID", "AKIDENV",   "AWS_SECRET_ACCESS_KEY",
                          "secret-env", "AWS_SESSION_TOKEN", "token-env", NULL};

    CHECK(resolve(full, "AKIDEXPLICIT", "secret-explicit", NULL, &s, &err) == 0);
    REQUIRE(s);
    CHECK_STR(s->provider, "explicit");
    CHECK_STR(s->access_key_id, "AKIDEXPLICIT");
    CHECK(s->session_token == NULL);
    cred_snapshot_release(s);

    CHECK(resolve(full, NULL, NULL, NULL, &s, &err) == 0);
    REQUIRE(s);
    CHECK_STR(s->provider, "env");
    CHECK_STR(s->access_key_id, "AKIDENV");
    CHECK_STR(s->secret_access_key, "secret-env");
    CHECK_STR(s->session_token, "token-env");
    CHECK(s->expiration == 0);
    struct sigv4_credentials sc = cred_snapshot_sigv4(s);
    CHECK(sc.access_key_id == s->access_key_id && sc.session_token == s->session_token);
    cred_snapshot_release(s);

    const char *files[] = {BASE, NULL};
    CHECK(resolve(files, NULL, NULL, NULL, &s, &err) == 0);
    REQUIRE(s);
    CHECK_STR(s->provider, "profile");
    CHECK_STR(s->access_key_id, "AKIDPROFILE");
    cred_snapshot_release(s);

    /* AWS_PROFILE picks the profile; the explicit profile name beats it. */
    const char *proc_env[] = {BASE, "AWS_PROFILE", "proc", NULL};
    CHECK(resolve(proc_env, NULL, NULL, NULL, &s, &err) == 0);
    REQUIRE(s);
    CHECK_STR(s->provider, "process");
    CHECK_STR(s->access_key_id, "AKIDPROC");
    CHECK(s->expiration == 0);
    cred_snapshot_release(s);
    CHECK(resolve(proc_env, NULL, NULL, "default", &s, &err) == 0);
    REQUIRE(s);
    CHECK_STR(s->access_key_id, "AKIDPROFILE");
    cred_snapshot_release(s);

    /* Static keys beat credential_process within one profile. */
    test_write_file(cred_path, "[both]\naws_access_key_id = AKIDSTATIC\naws_secret_access_key = x\n"
                               "credential_process = false\n");
    CHECK(resolve(files, NULL, NULL, "both", &s, &err) == 0);
    REQUIRE(s);
    CHECK_STR(s->provider, "profile");
    cred_snapshot_release(s);
    unlink(cred_path);
    ebuf_free(&err);
}

static void test_errors(void)
{
    struct ebuf err = EBUF_INIT;
    struct cred_snapshot *s = NULL;
    const char *none[] = {BASE, NULL};

    CHECK_EQ_INT(resolve(none, NULL, NULL, NULL, &s, &err), ECRUP_E_NO_CREDENTIALS);
    CHECK(s == NULL);
    CHECK(strstr(ebuf_str(&err), "no credentials found") != NULL);
    CHECK(strstr(ebuf_str(&err), "environment") != NULL);
    CHECK(strstr(ebuf_str(&err), "profile \"default\"") != NULL);
    CHECK(strstr(ebuf_str(&err), "container") != NULL);
    CHECK(strstr(ebuf_str(&err), "AWS_EC2_METADATA_DISABLED") != NULL);

    CHECK_EQ_INT(resolve(none, "AKIDONLY", NULL, NULL, &s, &err), ECRUP_E_CREDENTIALS);
    CHECK(strstr(ebuf_str(&err), "explicit") != NULL);

    const char *partial[] = {BASE, "AWS_ACCESS_KEY_ID", "AKID", NULL};
    CHECK_EQ_INT(resolve(partial, NULL, NULL, NULL, &s, &err), ECRUP_E_CREDENTIALS);
    CHECK(strstr(ebuf_str(&err), "AWS_SECRET_ACCESS_KEY") != NULL);

    const char *named[] = {BASE, "AWS_PROFILE", "ghost", NULL};
    CHECK_EQ_INT(resolve(named, NULL, NULL, NULL, &s, &err), ECRUP_E_NOT_FOUND);
    CHECK(strstr(ebuf_str(&err), "profile \"ghost\" is not defined") != NULL);

    test_write_file(cfg_path,
                    "[profile half]\naws_secret_access_key = only-the-secret\n"
                    "[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = x\n");
    CHECK_EQ_INT(resolve(none, NULL, NULL, "half", &s, &err), ECRUP_E_CREDENTIALS);
    CHECK(strstr(ebuf_str(&err), "aws_access_key_id") != NULL);
    CHECK(strstr(ebuf_str(&err), "only-the-secret") == NULL);
    CHECK_EQ_INT(resolve(none, NULL, NULL, "role", &s, &err), ECRUP_E_CONFIG);
    CHECK(strstr(ebuf_str(&err), "source_profile \"x\" named in profile \"role\" does not exist"));

    /* A malformed file stops the chain with the file and line. */
    test_write_file(cfg_path, "[default]\nregion = x\nbroken line\n");
    CHECK_EQ_INT(resolve(none, NULL, NULL, NULL, &s, &err), ECRUP_E_CONFIG);
    char want[200];
    snprintf(want, sizeof want, "%s:3: ", cfg_path);
    CHECK(strncmp(ebuf_str(&err), want, strlen(want)) == 0);
    unlink(cfg_path);
    ebuf_free(&err);
}

static ecrup_status resolve_report(const char *const *envv, struct cred_report *r, struct ebuf *err)
{
    struct env_reader rd = {test_env_pairs, (void *)(uintptr_t)envv};
    struct cred_config cfg = {.env = &rd};
    struct cred_snapshot *s = NULL;
    ebuf_reset(err);
    ecrup_status st = cred_resolve_report(&cfg, &s, err, r);
    cred_snapshot_release(s);
    return st;
}

/* The step named `name`, NULL when the report has none. */
static const struct cred_step *step_named(const struct cred_report *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->steps[i].name && strcmp(r->steps[i].name, name) == 0)
            return &r->steps[i];
    return NULL;
}

/* The providers this test knows are all there, in this order; others (added to the chain
 * later) may come between them. */
static void check_known_order(const struct cred_report *r)
{
    static const char *const known[] = {"explicit", "env", "profile", "container", "imds"};
    const struct cred_step *prev = NULL;
    for (size_t k = 0; k < sizeof known / sizeof *known; k++) {
        const struct cred_step *s = step_named(r, known[k]);
        CHECK(s != NULL && s > prev);
        prev = s;
    }
}

/* Every step after `s` was not tried. */
static void check_rest_not_tried(const struct cred_report *r, const struct cred_step *s)
{
    for (const struct cred_step *t = s + 1; s && t < r->steps + r->n; t++) {
        CHECK_EQ_INT(t->outcome, CRED_NOT_TRIED);
        CHECK(t->detail == NULL);
    }
}

/* The walk's report: every provider in order, what it did, in success and failure alike. */
static void test_report(void)
{
    struct ebuf err = EBUF_INIT;
    struct cred_report r;
    const char *none[] = {BASE, NULL};

    CHECK_EQ_INT(resolve_report(none, &r, &err), ECRUP_E_NO_CREDENTIALS);
    REQUIRE(r.n >= 5);
    check_known_order(&r);
    for (size_t i = 0; i < r.n; i++) {
        CHECK(r.steps[i].name && !strchr(r.steps[i].name, ' '));
        CHECK_EQ_INT(r.steps[i].outcome, CRED_SKIPPED);
        CHECK_EQ_INT(r.steps[i].status, ECRUP_E_NO_CREDENTIALS);
        /* Each reason is in the error's "tried" list: whole, or, when the list would not fit
         * in an ecrup_error's message, its start and "...". */
        const char *d = r.steps[i].detail;
        const char *at = d ? strstr(ebuf_str(&err), d) : NULL;
        if (!at && d && err.len <= 511 && strlen(d) > 16) {
            char start[17];
            memcpy(start, d, 16);
            start[16] = '\0';
            at = strstr(ebuf_str(&err), start);
            CHECK(at && strstr(at, "...") && strcspn(at, ";") > strcspn(at, "."));
        }
        CHECK(at != NULL);
    }
    CHECK(err.len <= 511);
    CHECK_STR(r.steps[0].detail, "explicit: none given");
    const struct cred_step *s = step_named(&r, "env");
    CHECK(s && strcmp(s->detail, "environment: AWS_ACCESS_KEY_ID unset") == 0);
    s = step_named(&r, "imds");
    CHECK(s && strcmp(s->detail, "IMDS: disabled by AWS_EC2_METADATA_DISABLED") == 0);
    cred_report_free(&r);
    CHECK(r.n == 0 && r.steps == NULL);

    /* A failure in the middle: those before it are still listed, those after not tried. */
    const char *partial[] = {BASE, "AWS_ACCESS_KEY_ID", "AKID", NULL};
    CHECK_EQ_INT(resolve_report(partial, &r, &err), ECRUP_E_CREDENTIALS);
    REQUIRE(r.n >= 5);
    check_known_order(&r);
    CHECK_EQ_INT(r.steps[0].outcome, CRED_SKIPPED);
    s = step_named(&r, "env");
    REQUIRE(s);
    CHECK_EQ_INT(s->outcome, CRED_FAILED);
    CHECK_EQ_INT(s->status, ECRUP_E_CREDENTIALS);
    CHECK_STR(s->detail, ebuf_str(&err));
    check_rest_not_tried(&r, s);
    cred_report_free(&r);

    /* The profile's credential_process answers as "profile", the snapshot saying "process". */
    test_write_file(cfg_path, "[default]\ncredential_process = printf '{\"Version\": 1, "
                              "\"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"sp\"}'\n");
    CHECK_EQ_INT(resolve_report(none, &r, &err), ECRUP_OK);
    REQUIRE(r.n >= 5);
    check_known_order(&r);
    s = step_named(&r, "profile");
    REQUIRE(s);
    CHECK_EQ_INT(s->outcome, CRED_ANSWERED);
    CHECK_EQ_INT(s->status, ECRUP_OK);
    CHECK_STR(s->detail, "process");
    for (const struct cred_step *t = r.steps; t < s; t++)
        CHECK_EQ_INT(t->outcome, CRED_SKIPPED);
    check_rest_not_tried(&r, s);
    cred_report_free(&r);
    unlink(cfg_path);
    ebuf_free(&err);
}

/* credential_process outcomes, each checked for a clear message without secrets. */
static void test_process(void)
{
    struct ebuf err = EBUF_INIT;
    struct cred_snapshot *s = NULL;
    const char *env[] = {BASE, "AWS_PROFILE", "p", NULL};

    test_write_file(cfg_path,
                    "[profile p]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":"
                    "\"AKIDP\",\"SecretAccessKey\":\"sek\",\"SessionToken\":\"tok\","
                    "\"Expiration\":\"2030-01-02T03:04:05Z\"}'\n");
    CHECK(resolve(env, NULL, NULL, NULL, &s, &err) == 0);
    REQUIRE(s);
    CHECK_STR(s->provider, "process");
    CHECK_STR(s->secret_access_key, "sek");
    CHECK_STR(s->session_token, "tok");
    CHECK(s->expiration == 1893553445);
    cred_snapshot_release(s);

    /* Non-zero exit: status and stderr in the message, never the stdout that may hold keys. */
    test_write_file(cfg_path, "[profile p]\ncredential_process = printf '{\"SecretAccessKey\":"
                              "\"LEAKED\"}'; echo 'sso session expired' >&2; exit 3\n");
    CHECK_EQ_INT(resolve(env, NULL, NULL, NULL, &s, &err), ECRUP_E_CREDENTIALS);
    CHECK(strstr(ebuf_str(&err), "profile \"p\"") != NULL);
    CHECK(strstr(ebuf_str(&err), "status 3") != NULL);
    CHECK(strstr(ebuf_str(&err), "sso session expired") != NULL);
    CHECK(strstr(ebuf_str(&err), "LEAKED") == NULL);

    static const struct {
        const char *output;
        const char *expect;
    } bad[] = {
        {"not json LEAKED", "not a JSON object"},
        {"{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"LEAKED\"}", "Version"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"LEAKED\"}", "Version"},
        {"{\"Version\":1,\"AccessKeyId\":\"A\"}", "SecretAccessKey"},
        {"{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"LEAKED\","
         "\"Expiration\":\"tomorrow\"}",
         "Expiration"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[400];
        snprintf(text, sizeof text, "[profile p]\ncredential_process = printf '%%s' '%s'\n",
                 bad[i].output);
        test_write_file(cfg_path, text);
        CHECK_EQ_INT(resolve(env, NULL, NULL, NULL, &s, &err), ECRUP_E_CREDENTIALS);
        if (!strstr(ebuf_str(&err), bad[i].expect) || strstr(ebuf_str(&err), "LEAKED") ||
            !strstr(ebuf_str(&err), "profile \"p\"")) {
            fprintf(stderr, "bad output %zu: %s\n", i, ebuf_str(&err));
            CHECK(0 && "credential_process error is clear and secret-free");
        }
    }
    unlink(cfg_path);
    ebuf_free(&err);
}

/* The engine takes its status from the chain's, not from the words of the message: a process
 * whose own error text says "no credentials" is still a provider that failed. */
static void test_context_status(void)
{
    struct ebuf msg = EBUF_INIT;
    struct ecrup_options o;
    ecrup_options_init(&o);
    struct ecr_context ctx;
    const char *env[] = {BASE, "AWS_REGION", "us-east-1", "AWS_ENDPOINT_URL", "http://127.0.0.1:9",
                         NULL};
    struct env_reader r = {test_env_pairs, (void *)(uintptr_t)env};
    unlink(cfg_path);
    unlink(cred_path);

    CHECK_EQ_INT(ecr_context_init(&ctx, &o, &r, &msg), ECRUP_E_NO_CREDENTIALS);
    CHECK(strstr(ebuf_str(&msg), "no credentials found") != NULL);
    ecr_context_cleanup(&ctx);

    test_write_file(cfg_path, "[default]\ncredential_process = echo 'no credentials in the "
                              "keychain' >&2; exit 2\n");
    ebuf_reset(&msg);
    CHECK_EQ_INT(ecr_context_init(&ctx, &o, &r, &msg), ECRUP_E_CREDENTIALS);
    CHECK(strstr(ebuf_str(&msg), "status 2: no credentials in the keychain") != NULL);
    ecr_context_cleanup(&ctx);
    unlink(cfg_path);
    ebuf_free(&msg);
}

/* A request libcurl refuses to set up is not sent and says which option: a URL over libcurl's
 * 8 MB input limit makes CURLOPT_URL fail (nothing is contacted either way). */
static void test_http_setup_refused(void)
{
    size_t n = 9u * 1000 * 1000;
    char *rel = malloc(n + 1);
    REQUIRE(rel);
    memset(rel, 'a', n);
    rel[0] = '/';
    rel[n] = '\0';
    const char *env[] = {BASE, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", rel, NULL};
    struct ebuf err = EBUF_INIT;
    struct cred_snapshot *s = NULL;
    CHECK_EQ_INT(resolve(env, NULL, NULL, NULL, &s, &err), ECRUP_E_CREDENTIALS);
    CHECK(s == NULL);
    CHECK(strstr(ebuf_str(&err), "container credentials") != NULL);
    CHECK(strstr(ebuf_str(&err), "libcurl refused CURLOPT_URL") != NULL);
    CHECK(err.len < 400);
    ebuf_free(&err);
    free(rel);
}

/* A credential_process that hands out AKID<n> (secret "secret-AKID<n>") expiring `ttl`
 * seconds from now, counts its runs, and records whether two runs ever overlapped. With
 * `fail_after` > 0 it exits 1 from that run on. */
static void write_counting_process(int ttl, int fail_after)
{
    char text[1400];
    snprintf(text, sizeof text,
             "[default]\ncredential_process = sh -c '"
             "mkdir %s 2>/dev/null || echo overlap >> %s.overlap; "
             "n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s; "
             "e=$(date -u -d @$(($(date +%%s)+%d)) +%%Y-%%m-%%dT%%H:%%M:%%SZ); "
             "rmdir %s; "
             "if [ %d -gt 0 ] && [ $n -ge %d ]; then echo refresh failed >&2; exit 1; fi; "
             "printf \"{\\\"Version\\\":1,\\\"AccessKeyId\\\":\\\"AKID%%d\\\","
             "\\\"SecretAccessKey\\\":\\\"secret-AKID%%d\\\",\\\"Expiration\\\":\\\"%%s\\\"}\" "
             "$n $n $e'\n",
             lock_path, lock_path, counter_path, counter_path, ttl, lock_path, fail_after,
             fail_after);
    test_write_file(cfg_path, text);
    unlink(counter_path);
}

static int process_runs(void)
{
    char *t = test_read_file(counter_path, NULL);
    int n = t ? atoi(t) : 0;
    free(t);
    return n;
}

static void test_cache_refresh(void)
{
    struct ebuf err = EBUF_INIT;
    const char *env[] = {BASE, NULL};
    struct env_reader r = {test_env_pairs, (void *)(uintptr_t)env};

    /* Static credentials are resolved once and shared. */
    struct cred_config cfg = {.access_key_id = "AKIDX", .secret_access_key = "sx", .env = &r};
    struct cred_cache *cache = cred_cache_new(&cfg);
    REQUIRE(cache);
    struct cred_snapshot *a = NULL, *b = NULL;
    CHECK(cred_cache_get(cache, time(NULL), &a, &err) == 0);
    CHECK(cred_cache_get(cache, time(NULL) + 86400 * 365, &b, &err) == 0);
    CHECK(a && a == b);
    cred_snapshot_release(a);
    cred_snapshot_release(b);
    cred_cache_free(cache);

    /* Expiring credentials: reused while fresh, replaced once they are about to expire. */
    write_counting_process(2, 0);
    cfg = (struct cred_config){
        .env = &r, .advisory_refresh_seconds = 1, .mandatory_refresh_seconds = 1};
    cache = cred_cache_new(&cfg);
    REQUIRE(cache);
    time_t t0 = time(NULL);
    CHECK(cred_cache_get(cache, t0, &a, &err) == 0);
    CHECK(cred_cache_get(cache, t0, &b, &err) == 0);
    REQUIRE(a && b);
    CHECK(a == b);
    CHECK_STR(a->provider, "process");
    CHECK(a->expiration >= t0 + 1);
    sleep(3);
    struct cred_snapshot *c = NULL;
    CHECK(cred_cache_get(cache, time(NULL), &c, &err) == 0);
    REQUIRE(c);
    CHECK(strcmp(c->access_key_id, a->access_key_id) != 0);
    CHECK_STR(a->secret_access_key, "secret-AKID1"); /* old snapshot still intact */
    cred_snapshot_release(a);
    cred_snapshot_release(b);
    cred_snapshot_release(c);
    cred_cache_free(cache);

    /* A failed refresh keeps credentials that are still valid, and is not retried at once;
     * once they have expired, the failure is reported. */
    write_counting_process(100, 2);
    cfg =
        (struct cred_config){.env = &r}; /* mandatory refresh 10 minutes ahead: always "due" here */
    cache = cred_cache_new(&cfg);
    REQUIRE(cache);
    t0 = time(NULL);
    CHECK(cred_cache_get(cache, t0, &a, &err) == 0);
    REQUIRE(a);
    CHECK(cred_cache_get(cache, t0, &b, &err) == 0);
    CHECK(b == a);
    CHECK_EQ_INT(process_runs(), 2);
    CHECK(cred_cache_get(cache, t0 + 1, &c, &err) == 0);
    CHECK(c == a);
    CHECK_EQ_INT(process_runs(), 2); /* held off after the failure */
    cred_snapshot_release(b);
    cred_snapshot_release(c);
    ebuf_reset(&err);
    CHECK_EQ_INT(cred_cache_get(cache, a->expiration + 1, &c, &err), ECRUP_E_CREDENTIALS);
    CHECK(c == NULL);
    CHECK(strstr(ebuf_str(&err), "refresh failed") != NULL);
    cred_snapshot_release(a);
    cred_cache_free(cache);
    ebuf_free(&err);
}

struct reader {
    struct cred_cache *cache;
    time_t until;
    int gets, bad;
    int max_key;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    struct ebuf err = EBUF_INIT;
    time_t now;
    while ((now = time(NULL)) < rd->until) {
        struct cred_snapshot *s = NULL;
        if (cred_cache_get(rd->cache, now, &s, &err) != 0 || !s) {
            rd->bad++;
            continue;
        }
        char want[64];
        snprintf(want, sizeof want, "secret-%s", s->access_key_id);
        /* A torn or freed snapshot would show here (and to ASan/TSan). */
        if (strcmp(s->secret_access_key, want) != 0 || s->expiration <= now ||
            strcmp(s->provider, "process") != 0)
            rd->bad++;
        int k = atoi(s->access_key_id + 4);
        if (k > rd->max_key)
            rd->max_key = k;
        rd->gets++;
        cred_snapshot_release(s);
        usleep(2000);
    }
    ebuf_free(&err);
    return NULL;
}

static void test_concurrent_readers(void)
{
    const char *env[] = {BASE, NULL};
    struct env_reader r = {test_env_pairs, (void *)(uintptr_t)env};
    write_counting_process(2, 0);
    char overlap[200];
    snprintf(overlap, sizeof overlap, "%s.overlap", lock_path);
    unlink(overlap);
    struct cred_config cfg = {
        .env = &r, .advisory_refresh_seconds = 1, .mandatory_refresh_seconds = 1};
    struct cred_cache *cache = cred_cache_new(&cfg);
    REQUIRE(cache);
    enum { N = 4 };
    struct reader rd[N];
    pthread_t th[N];
    time_t until = time(NULL) + 4;
    for (int i = 0; i < N; i++) {
        rd[i] = (struct reader){.cache = cache, .until = until};
        REQUIRE(pthread_create(&th[i], NULL, reader_main, &rd[i]) == 0);
    }
    int gets = 0, bad = 0, max_key = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        gets += rd[i].gets;
        bad += rd[i].bad;
        if (rd[i].max_key > max_key)
            max_key = rd[i].max_key;
    }
    CHECK(gets > 0);
    CHECK_EQ_INT(bad, 0);
    CHECK(max_key >= 2);                   /* refreshed at least once while readers ran */
    CHECK_EQ_INT(process_runs(), max_key); /* every run's key was served, none wasted */
    CHECK(access(overlap, F_OK) != 0);     /* single flight: never two runs at once */
    printf("concurrent readers: %d gets, %d refreshes\n", gets, max_key);
    cred_cache_free(cache);
    unlink(overlap);
}

static int warnings;
static char last_warning[512];

/* The thread refreshing credentials (here the test's own). */
static void capture_log(ecrup_log_level level, const char *line, void *user)
{
    (void)user;
    if (level == ECRUP_LOG_WARN) {
        warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", line);
    }
}

/* A failed refresh that valid credentials outlive reaches the engine's log as a warning. */
static void test_context_refresh_logged(void)
{
    struct ebuf msg = EBUF_INIT;
    struct ecrup_options o;
    ecrup_options_init(&o);
    o.log = capture_log;
    o.log_level = ECRUP_LOG_WARN;
    const char *env[] = {BASE, "AWS_REGION", "us-east-1", "AWS_ENDPOINT_URL", "http://127.0.0.1:9",
                         NULL};
    struct env_reader r = {test_env_pairs, (void *)(uintptr_t)env};
    write_counting_process(100, 2); /* 100 s left: inside the mandatory window at once */
    struct ecr_context ctx;
    REQUIRE(ecr_context_init(&ctx, &o, &r, &msg) == ECRUP_OK);
    CHECK_EQ_INT(warnings, 0);
    struct xfer_credentials xc = ecr_context_credentials(&ctx);
    struct sigv4_credentials creds;
    void *token = NULL;
    CHECK_EQ_INT(xc.acquire(xc.user, time(NULL), &creds, &token, &msg), ECRUP_OK);
    CHECK_STR(creds.access_key_id, "AKID1"); /* the refresh failed: the first ones, still valid */
    CHECK_EQ_INT(process_runs(), 2);
    CHECK_EQ_INT(warnings, 1);
    CHECK(strstr(last_warning, "mandatory refresh failed (CredentialsError") != NULL);
    CHECK(strstr(last_warning, "refresh failed") != NULL);
    CHECK(strstr(last_warning, "secret-AKID1") == NULL);
    xc.release(xc.user, token);
    ecr_context_cleanup(&ctx);
    unlink(cfg_path);
    ebuf_free(&msg);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ecrup-creds-XXXXXX");
    REQUIRE(mkdtemp(dir));
    snprintf(home_aws, sizeof home_aws, "%s/.aws", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/config", home_aws);
    snprintf(cred_path, sizeof cred_path, "%s/credentials", home_aws);
    snprintf(counter_path, sizeof counter_path, "%s/count", dir);
    snprintf(lock_path, sizeof lock_path, "%s/lock", dir);
    REQUIRE(mkdir(home_aws, 0700) == 0);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_time();
    test_precedence();
    test_errors();
    test_report();
    test_process();
    test_cache_refresh();
    test_concurrent_readers();
    test_context_status();
    test_context_refresh_logged();
    test_http_setup_refused();
    curl_global_cleanup();

    unlink(cfg_path);
    unlink(cred_path);
    unlink(counter_path);
    rmdir(home_aws);
    rmdir(dir);
    return test_finish("test_credentials");
}
