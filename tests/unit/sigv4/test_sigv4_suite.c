/* The AWS SigV4 test suite (aws-c-auth's v4 cases), kept under tests/data/sigv4-test-suite:
 * every header-canonical-request, header-string-to-sign and header-signature must match byte
 * for byte, and each signed request must pass sigv4_verify() while one-byte changes fail
 * with the verdict ECR would give. */
#include "test.h"

#include <dirent.h>
#include <stdbool.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "signer/sigv4_verify.h"

#define EXPECTED_CASES 38
#define MAX_HEADERS    32

struct raw_request {
    char *buf; /* owns every string below */
    char *method, *path, *query;
    struct sigv4_header headers[MAX_HEADERS];
    size_t n_headers;
    const char *body;
    size_t body_len;
};

/* request line, header lines (a line starting with blanks continues the previous value),
 * blank line, body. The request target may hold spaces ("GET /example space/ HTTP/1.1"). */
static bool parse_request(char *text, size_t len, struct raw_request *r)
{
    memset(r, 0, sizeof *r);
    r->buf = text;
    char *end = text + len;
    char *eol = memchr(text, '\n', len);
    if (!eol)
        eol = end;
    *eol = '\0';
    if (eol > text && eol[-1] == '\r')
        eol[-1] = '\0';
    char *sp1 = strchr(text, ' '), *sp2 = strrchr(text, ' ');
    if (!sp1 || sp2 == sp1)
        return false;
    *sp1 = '\0';
    *sp2 = '\0';
    r->method = text;
    r->path = sp1 + 1;
    char *q = strchr(r->path, '?');
    if (q) {
        *q = '\0';
        r->query = q + 1;
    }
    char *p = eol < end ? eol + 1 : end;
    char *last_value = NULL;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        size_t ll = (size_t)(line_end - p);
        if (ll && p[ll - 1] == '\r')
            ll--;
        if (ll == 0) { /* blank line: the body follows */
            r->body = nl ? nl + 1 : end;
            r->body_len = (size_t)(end - r->body);
            break;
        }
        if ((p[0] == ' ' || p[0] == '\t') && last_value) {
            /* continuation: keep the line break so the signer's folding is what is tested */
            p[ll] = '\0';
            last_value[strlen(last_value)] = '\n';
        } else {
            p[ll] = '\0';
            char *colon = strchr(p, ':');
            if (!colon || r->n_headers == MAX_HEADERS)
                return false;
            *colon = '\0';
            r->headers[r->n_headers++] = (struct sigv4_header){p, colon + 1};
            last_value = colon + 1;
        }
        p = nl ? nl + 1 : end;
    }
    if (!r->body) {
        r->body = end;
        r->body_len = 0;
    }
    return true;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    REQUIRE(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) == 1);
    for (size_t i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static char *join(const char *a, const char *b)
{
    char *p = NULL;
    REQUIRE(asprintf(&p, "%s/%s", a, b) > 0);
    return p;
}

static char *read_case_file(const char *dir, const char *name)
{
    char *path = join(dir, name);
    char *s = test_read_file(path, NULL);
    if (!s)
        fprintf(stderr, "cannot read %s\n", path);
    free(path);
    return s;
}

static time_t parse_iso(const char *ts)
{
    struct tm tm = {0};
    REQUIRE(strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm) != NULL);
    return timegm(&tm);
}

/* The lookup the verify checks use: one key, its secret and token come from the case. */
struct keyring {
    const char *akid, *secret, *token;
};

static bool lookup(const char *akid, const char **secret, const char **token, void *user)
{
    const struct keyring *k = user;
    if (strcmp(akid, k->akid) != 0)
        return false;
    *secret = k->secret;
    *token = k->token;
    return true;
}

struct received {
    struct sigv4_header h[MAX_HEADERS + 4];
    size_t n;
};

static enum sigv4_verdict verify(const struct raw_request *r, const struct received *rx,
                                 const char *payload, bool normalize, time_t now,
                                 const struct keyring *k, const char *region, struct ebuf *msg)
{
    struct sigv4_request req = {r->method, r->path, r->query, rx->h, rx->n, payload, normalize};
    ebuf_reset(msg);
    return sigv4_verify(&req, region, "service", now, 300, lookup, (void *)(uintptr_t)k, msg);
}

/* One byte of `s` changed to another non-blank byte, so folding cannot hide the change. */
static void change_one_byte(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n') {
            s[i] = s[i] == 'x' ? 'y' : 'x';
            return;
        }
    }
}

static int run_case(const char *suite, const char *name, struct sigv4_key_cache *cache)
{
    int before = test_failures;
    char *dir = join(suite, name);
    char *ctx_text = read_case_file(dir, "context.json");
    size_t req_len = 0;
    char *path = join(dir, "request.txt");
    char *req_text = test_read_file(path, &req_len);
    free(path);
    char *want_creq = read_case_file(dir, "header-canonical-request.txt");
    char *want_sts = read_case_file(dir, "header-string-to-sign.txt");
    char *want_sig = read_case_file(dir, "header-signature.txt");
    char *signed_req = read_case_file(dir, "header-signed-request.txt");
    REQUIRE(ctx_text && req_text && want_creq && want_sts && want_sig && signed_req);

    cJSON *ctx = cJSON_Parse(ctx_text);
    REQUIRE(ctx);
    cJSON *creds = cJSON_GetObjectItemCaseSensitive(ctx, "credentials");
    const char *akid =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(creds, "access_key_id"));
    const char *secret =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(creds, "secret_access_key"));
    const char *token = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(creds, "token"));
    const char *region = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ctx, "region"));
    const char *service = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ctx, "service"));
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ctx, "timestamp"));
    bool normalize = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ctx, "normalize"));
    bool sign_body = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ctx, "sign_body"));
    bool omit_token = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ctx, "omit_session_token"));
    REQUIRE(akid && secret && region && service && ts);
    time_t now = parse_iso(ts);

    struct raw_request r;
    REQUIRE(parse_request(req_text, req_len, &r));
    char payload[65];
    sha256_hex(r.body, sign_body ? r.body_len : 0, payload);
    if (sign_body) {
        REQUIRE(r.n_headers < MAX_HEADERS);
        r.headers[r.n_headers++] = (struct sigv4_header){"x-amz-content-sha256", payload};
    }
    const char *signed_token = omit_token ? NULL : token;

    /* 1. the canonical request and string to sign, from the pure functions */
    char amz_date[17];
    sigv4_format_amz_date(now, amz_date);
    struct sigv4_header all[MAX_HEADERS + 2];
    memcpy(all, r.headers, r.n_headers * sizeof *all);
    size_t n_all = r.n_headers;
    all[n_all++] = (struct sigv4_header){"X-Amz-Date", amz_date};
    if (signed_token)
        all[n_all++] = (struct sigv4_header){"X-Amz-Security-Token", signed_token};
    struct sigv4_request req = {r.method, r.path, r.query, all, n_all, payload, normalize};
    struct ebuf creq = EBUF_INIT, sts = EBUF_INIT, sh = EBUF_INIT, msg = EBUF_INIT;
    CHECK_EQ_INT(sigv4_canonical_request(&req, &creq, &sh), 0);
    if (strcmp(ebuf_str(&creq), want_creq) != 0)
        fprintf(stderr, "%s: canonical request differs\n", name);
    CHECK_STR(ebuf_str(&creq), want_creq);
    sigv4_string_to_sign(creq.data, creq.len, amz_date, region, service, &sts);
    CHECK_STR(ebuf_str(&sts), want_sts);

    /* 2. the signer proper (it adds x-amz-date and the token itself) */
    struct sigv4_credentials c = {akid, secret, signed_token};
    struct sigv4_request to_sign = {r.method,    r.path,  r.query,  r.headers,
                                    r.n_headers, payload, normalize};
    struct sigv4_signature sig;
    CHECK_EQ_INT(sigv4_sign(&to_sign, &c, region, service, now, cache, &sig), 0);
    CHECK_STR(sig.signature, want_sig);
    CHECK_STR(sig.amz_date, amz_date);
    char *auth_line = strstr(signed_req, "Authorization:");
    REQUIRE(auth_line);
    auth_line += strlen("Authorization:");
    auth_line[strcspn(auth_line, "\r\n")] = '\0';
    CHECK_STR(ebuf_str(&sig.authorization), auth_line);
    /* A second signature through the warm cache is the same. */
    struct sigv4_signature again;
    CHECK_EQ_INT(sigv4_sign(&to_sign, &c, region, service, now, cache, &again), 0);
    CHECK_STR(again.signature, want_sig);
    sigv4_signature_free(&again);

    /* 3. the verifier accepts the request as sent ... */
    struct received rx = {.n = 0};
    for (size_t i = 0; i < r.n_headers; i++)
        rx.h[rx.n++] = r.headers[i];
    rx.h[rx.n++] = (struct sigv4_header){"X-Amz-Date", sig.amz_date};
    if (token) /* sent even when not signed (post-sts-header-after) */
        rx.h[rx.n++] = (struct sigv4_header){"X-Amz-Security-Token", token};
    rx.h[rx.n++] = (struct sigv4_header){"Authorization", ebuf_str(&sig.authorization)};
    struct keyring k = {akid, secret, token};
    enum sigv4_verdict v = verify(&r, &rx, payload, normalize, now, &k, region, &msg);
    if (v != SIGV4_OK)
        fprintf(stderr, "%s: verify: %s\n", name, ebuf_str(&msg));
    CHECK_EQ_INT(v, SIGV4_OK);
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now + 299, &k, region, &msg), SIGV4_OK);
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now - 299, &k, NULL, &msg), SIGV4_OK);

    /* ... and rejects a one-byte change in any signed request header */
    for (size_t i = 0; i < r.n_headers; i++) {
        char *orig = (char *)(uintptr_t)rx.h[i].value;
        char *copy = strdup(orig);
        REQUIRE(copy);
        change_one_byte(copy);
        rx.h[i].value = copy;
        v = verify(&r, &rx, payload, normalize, now, &k, region, &msg);
        CHECK_EQ_INT(v, SIGV4_BAD_SIGNATURE);
        CHECK(strstr(ebuf_str(&msg), "The request signature we calculated does not match") ==
              ebuf_str(&msg));
        CHECK(strstr(ebuf_str(&msg), secret) == NULL);
        rx.h[i].value = orig;
        free(copy);
    }
    /* the body hash */
    char bad_payload[65];
    memcpy(bad_payload, payload, 65);
    bad_payload[10] = bad_payload[10] == '0' ? '1' : '0';
    CHECK_EQ_INT(verify(&r, &rx, bad_payload, normalize, now, &k, region, &msg),
                 SIGV4_BAD_SIGNATURE);
    /* the date: stale either way, or altered within the skew */
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now + 301, &k, region, &msg), SIGV4_STALE);
    char want_msg[160];
    snprintf(want_msg, sizeof want_msg, "Signature expired: %s is now earlier than ", amz_date);
    CHECK(strncmp(ebuf_str(&msg), want_msg, strlen(want_msg)) == 0);
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now - 301, &k, region, &msg), SIGV4_STALE);
    CHECK(strncmp(ebuf_str(&msg), "Signature not yet current: ", 27) == 0);
    char other_date[17];
    sigv4_format_amz_date(now + 1, other_date);
    size_t date_at = r.n_headers;
    rx.h[date_at].value = other_date;
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_BAD_SIGNATURE);
    sigv4_format_amz_date(now - 86400, other_date); /* scope date no longer matches */
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now - 86400, &k, region, &msg),
                 SIGV4_WRONG_SCOPE);
    rx.h[date_at].value = "2015-08-30T12:36:00Z";
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_MALFORMED_AUTH);
    rx.h[date_at].name = "X-Amz-Dat";
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_MISSING_DATE);
    rx.h[date_at] = (struct sigv4_header){"X-Amz-Date", sig.amz_date};
    /* the key: another secret, an unknown id */
    char *bad_secret = strdup(secret);
    REQUIRE(bad_secret);
    change_one_byte(bad_secret);
    struct keyring k2 = {akid, bad_secret, token};
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k2, region, &msg), SIGV4_BAD_SIGNATURE);
    CHECK(strstr(ebuf_str(&msg), bad_secret) == NULL && strstr(ebuf_str(&msg), secret) == NULL);
    struct keyring k3 = {"AKIDOTHER", secret, token};
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k3, region, &msg), SIGV4_UNKNOWN_KEY);
    free(bad_secret);
    /* the session token: changed, missing, or present for a key without one */
    if (token) {
        size_t tok_at = r.n_headers + 1;
        char *bad_token = strdup(token);
        REQUIRE(bad_token);
        change_one_byte(bad_token);
        rx.h[tok_at].value = bad_token;
        CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_BAD_TOKEN);
        CHECK(strstr(ebuf_str(&msg), token) == NULL);
        rx.h[tok_at].name = "X-Amz-Security-Tokens";
        CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_BAD_TOKEN);
        rx.h[tok_at] = (struct sigv4_header){"X-Amz-Security-Token", token};
        free(bad_token);
        struct keyring k4 = {akid, secret, NULL};
        CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k4, region, &msg), SIGV4_BAD_TOKEN);
    } else {
        struct keyring k4 = {akid, secret, "a-token-the-request-lacks"};
        CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k4, region, &msg), SIGV4_BAD_TOKEN);
    }
    /* the scope, the Authorization header itself */
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, "us-west-2", &msg),
                 SIGV4_WRONG_SCOPE);
    struct ebuf bad_auth = EBUF_INIT;
    ebuf_puts(&bad_auth, ebuf_str(&sig.authorization));
    size_t auth_at = rx.n - 1;
    rx.h[auth_at].value = ebuf_str(&bad_auth);
    bad_auth.data[bad_auth.len - 1] = bad_auth.data[bad_auth.len - 1] == '0' ? '1' : '0';
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_BAD_SIGNATURE);
    bad_auth.data[bad_auth.len - 1] = '\0'; /* 63 hex digits */
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_BAD_SIGNATURE);
    ebuf_reset(&bad_auth);
    ebuf_puts(&bad_auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, "
                         "SignedHeaders=host;x-amz-date, Signature=00");
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_MALFORMED_AUTH);
    ebuf_reset(&bad_auth);
    ebuf_puts(&bad_auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                         "aws4_request, SignedHeaders=x-amz-date, Signature=00");
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_MALFORMED_AUTH);
    ebuf_reset(&bad_auth);
    ebuf_puts(&bad_auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                         "aws4_request/x, SignedHeaders=host;x-amz-date, Signature=00");
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_MALFORMED_AUTH);
    ebuf_reset(&bad_auth);
    ebuf_puts(&bad_auth, "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date");
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_MALFORMED_AUTH);
    CHECK_STR(ebuf_str(&msg), "Authorization header requires 'Credential' parameter. "
                              "Authorization header requires 'Signature' parameter.");
    rx.h[auth_at].name = "X-Authorization";
    CHECK_EQ_INT(verify(&r, &rx, payload, normalize, now, &k, region, &msg), SIGV4_MISSING_AUTH);
    CHECK_STR(ebuf_str(&msg), "Missing Authentication Token");
    ebuf_free(&bad_auth);

    sigv4_signature_free(&sig);
    ebuf_free(&creq);
    ebuf_free(&sts);
    ebuf_free(&sh);
    ebuf_free(&msg);
    cJSON_Delete(ctx);
    free(ctx_text);
    free(req_text);
    free(want_creq);
    free(want_sts);
    free(want_sig);
    free(signed_req);
    free(dir);
    if (test_failures != before)
        fprintf(stderr, "case %s failed\n", name);
    return test_failures == before;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    char *suite = strdup(ECRUP_SOURCE_DIR "/tests/data/sigv4-test-suite/v4");
    DIR *d = opendir(suite);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", suite);
        free(suite);
        return 1;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    REQUIRE(n == EXPECTED_CASES);

    struct sigv4_key_cache *cache = sigv4_key_cache_new();
    REQUIRE(cache);
    int passed = 0;
    for (size_t i = 0; i < n; i++) {
        passed += run_case(suite, names[i], cache);
        free(names[i]);
    }
    sigv4_key_cache_free(cache);
    free(suite);
    printf("sigv4 suite: %d of %zu cases passed\n", passed, n);
    CHECK_EQ_INT(passed, EXPECTED_CASES);
    return test_finish("test_sigv4_suite");
}
