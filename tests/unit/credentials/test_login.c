/* The login provider's pieces without a network: DPoP proofs (signer/dpop.c: base64url, the
 * DER ECDSA signature as the JWS r || s, the proof's exact header and claims and a signature
 * OpenSSL verifies with the public key, the key forms dpopKey comes in), the login token cache
 * (signer/login_cache.c: the file name botocore derives, the directory, the reader's
 * refusals, the rewrite that keeps unknown keys, 0600) and the sign-in endpoint ruleset. */
#include "signer/cred_provider.h"
#include "signer/dpop.h"
#include "signer/login_cache.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>
#include <unistd.h>

static void check_b64url(const char *in, size_t n, const char *want)
{
    struct ebuf b = EBUF_INIT;
    dpop_base64url((const unsigned char *)in, n, &b);
    CHECK_STR(ebuf_str(&b), want);
    ebuf_free(&b);
}

static void test_base64url(void)
{
    /* RFC 4648's vectors, unpadded, and the two characters base64url changes. */
    check_b64url("", 0, "");
    check_b64url("f", 1, "Zg");
    check_b64url("fo", 2, "Zm8");
    check_b64url("foo", 3, "Zm9v");
    check_b64url("foob", 4, "Zm9vYg");
    check_b64url("fooba", 5, "Zm9vYmE");
    check_b64url("foobar", 6, "Zm9vYmFy");
    check_b64url("\xfb\xff\xbf", 3, "-_-_");
}

static void test_der_to_jws(void)
{
    unsigned char out[64];
    /* r with a sign byte (33 bytes, the first 0x00), s short (2 bytes): r kept whole without
     * its sign byte, s left-padded. */
    unsigned char der[2 + 2 + 33 + 2 + 2];
    size_t n = 0;
    der[n++] = 0x30;
    der[n++] = 2 + 33 + 2 + 2;
    der[n++] = 0x02;
    der[n++] = 33;
    der[n++] = 0x00;
    for (int i = 0; i < 32; i++)
        der[n++] = (unsigned char)(0x80 + i);
    der[n++] = 0x02;
    der[n++] = 2;
    der[n++] = 0x01;
    der[n++] = 0x02;
    REQUIRE(dpop_der_to_jws(der, n, out));
    CHECK(out[0] == 0x80 && out[31] == 0x80 + 31);
    unsigned char zeros[30] = {0};
    CHECK(memcmp(out + 32, zeros, 30) == 0 && out[62] == 0x01 && out[63] == 0x02);
    CHECK(!dpop_der_to_jws(der, n - 1, out)); /* truncated */
    unsigned char longer[sizeof der + 1];
    memcpy(longer, der, n);
    longer[n] = 0;
    CHECK(!dpop_der_to_jws(longer, n + 1, out)); /* trailing byte */
    /* r of 33 significant bytes does not fit ES256. */
    der[4] = 0x01;
    CHECK(!dpop_der_to_jws(der, n, out));
    CHECK(!dpop_der_to_jws((const unsigned char *)"\x30\x00", 2, out));
    CHECK(!dpop_der_to_jws((const unsigned char *)"", 0, out));
}

static char *pem_of(EVP_PKEY *key, bool traditional)
{
    BIO *b = BIO_new(BIO_s_mem());
    REQUIRE(b);
    REQUIRE(traditional ? PEM_write_bio_PrivateKey_traditional(b, key, NULL, NULL, 0, NULL, NULL)
                        : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);
    char *text = strndup(data, (size_t)len);
    BIO_free(b);
    return text;
}

static bool same_key(EVP_PKEY *a, EVP_PKEY *b)
{
    return a && b && EVP_PKEY_eq(a, b) == 1;
}

static void test_key_forms(EVP_PKEY *key)
{
    char *sec1 = pem_of(key, true), *pkcs8 = pem_of(key, false);
    CHECK(strstr(sec1, "BEGIN EC PRIVATE KEY") && strstr(pkcs8, "BEGIN PRIVATE KEY"));
    EVP_PKEY *k = dpop_key_load(sec1);
    CHECK(same_key(k, key));
    EVP_PKEY_free(k);
    k = dpop_key_load(pkcs8);
    CHECK(same_key(k, key));
    EVP_PKEY_free(k);
    /* The armour lines dropped, as botocore does: the base64 DER alone. */
    struct ebuf bare = EBUF_INIT;
    for (const char *line = sec1; *line;) {
        size_t len = strcspn(line, "\n");
        if (strncmp(line, "-----", 5) != 0)
            ebuf_append(&bare, line, len);
        line += len + (line[len] == '\n');
    }
    k = dpop_key_load(ebuf_str(&bare));
    CHECK(same_key(k, key));
    EVP_PKEY_free(k);
    ebuf_free(&bare);

    CHECK(dpop_key_load("") == NULL);
    CHECK(dpop_key_load("-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5\n-----END EC PRIVATE "
                        "KEY-----\n") == NULL);
    CHECK(dpop_key_load("!!!! not base64 !!!!") == NULL);
    /* A valid key of the wrong curve, and an RSA key, are refused. */
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    char *p384_pem = pem_of(p384, true);
    CHECK(dpop_key_load(p384_pem) == NULL);
    EVP_PKEY *rsa = EVP_RSA_gen(1024);
    char *rsa_pem = pem_of(rsa, false);
    CHECK(dpop_key_load(rsa_pem) == NULL);
    free(p384_pem);
    free(rsa_pem);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(rsa);
    free(sec1);
    free(pkcs8);
}

/* base64url back to bytes, for taking a proof apart. */
static size_t unb64url(const char *s, size_t n, unsigned char *out)
{
    char buf[1024];
    REQUIRE(n + 4 < sizeof buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    size_t m = n;
    while (m % 4)
        buf[m++] = '=';
    int len = EVP_DecodeBlock(out, (const unsigned char *)buf, (int)m);
    REQUIRE(len >= 0);
    return (size_t)len - (m - n);
}

static bool verify(EVP_PKEY *key, const char *input, size_t input_len, const unsigned char raw[64])
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    ECDSA_SIG_set0(sig, r, s);
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok =
        der_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return ok;
}

static void test_proof(EVP_PKEY *key)
{
    struct ebuf proof = EBUF_INIT;
    const char *url = "https://us-east-1.signin.aws.amazon.com/v1/token";
    REQUIRE(dpop_proof(key, url, 1765000000, "0b8e4a4c-1f2d-4c9e-9a1b-2c3d4e5f6a7b", &proof) ==
            ECRUP_OK);
    const char *p = ebuf_str(&proof);
    const char *dot1 = strchr(p, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    REQUIRE(dot1 && dot2 && !strchr(dot2 + 1, '.'));
    CHECK(strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
          proof.len);

    /* The header: botocore's json.dumps(..., separators=(',', ':')) of its dict, in order. */
    unsigned char x[32], y[32], part[512];
    BIGNUM *bx = NULL, *by = NULL;
    REQUIRE(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) &&
            EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by));
    BN_bn2binpad(bx, x, 32);
    BN_bn2binpad(by, y, 32);
    BN_free(bx);
    BN_free(by);
    struct ebuf want = EBUF_INIT;
    ebuf_puts(&want, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\",\"x\":\"");
    dpop_base64url(x, 32, &want);
    ebuf_puts(&want, "\",\"y\":\"");
    dpop_base64url(y, 32, &want);
    ebuf_puts(&want, "\",\"crv\":\"P-256\"}}");
    size_t n = unb64url(p, (size_t)(dot1 - p), part);
    part[n] = 0;
    CHECK_STR((const char *)part, ebuf_str(&want));
    n = unb64url(dot1 + 1, (size_t)(dot2 - dot1 - 1), part);
    part[n] = 0;
    CHECK_STR((const char *)part, "{\"htm\":\"POST\",\"htu\":\"https://us-east-1.signin.aws.amazon."
                                  "com/v1/token\",\"iat\":1765000000,\"jti\":\"0b8e4a4c-1f2d-4c9e-"
                                  "9a1b-2c3d4e5f6a7b\"}");

    /* The signature: 64 bytes r || s that verify over "header.claims", and only over it. */
    unsigned char raw[64];
    CHECK_EQ_INT(unb64url(dot2 + 1, strlen(dot2 + 1), raw), 64);
    CHECK(verify(key, p, (size_t)(dot2 - p), raw));
    char *tampered = strndup(p, (size_t)(dot2 - p));
    tampered[dot1 - p + 3] ^= 1;
    CHECK(!verify(key, tampered, strlen(tampered), raw));
    free(tampered);
    EVP_PKEY *other = EVP_EC_gen("P-256");
    CHECK(!verify(other, p, (size_t)(dot2 - p), raw));
    EVP_PKEY_free(other);

    /* Without a jti, a random version 4 UUID, different each time. */
    struct ebuf a = EBUF_INIT, b = EBUF_INIT;
    REQUIRE(dpop_proof(key, url, 1, NULL, &a) == ECRUP_OK);
    REQUIRE(dpop_proof(key, url, 1, NULL, &b) == ECRUP_OK);
    const char *ca = strchr(ebuf_str(&a), '.') + 1, *cb = strchr(ebuf_str(&b), '.') + 1;
    n = unb64url(ca, (size_t)(strchr(ca, '.') - ca), part);
    part[n] = 0;
    const char *jti = strstr((const char *)part, "\"jti\":\"");
    CHECK(jti && strlen(jti) == 7 + 36 + 2 && jti[7 + 14] == '4' && jti[7 + 8] == '-');
    CHECK(strncmp(ca, cb, (size_t)(strchr(ca, '.') - ca)) != 0);

    ebuf_free(&a);
    ebuf_free(&b);
    ebuf_free(&want);
    ebuf_free(&proof);
}

static void test_names(void)
{
    char name[70];
    /* hashlib.sha256(b"arn:aws:iam::111122223333:user/dev").hexdigest() */
    const char *arn = "arn:aws:iam::111122223333:user/dev";
    const char *hex = "11fc4cc919a5a20db9df757c8a1b149bd4c42115ef36c7152c0d33f1e05a9027";
    REQUIRE(login_cache_file_name(arn, name));
    CHECK(strncmp(name, hex, 64) == 0 && strcmp(name + 64, ".json") == 0);

    const char *home[] = {"HOME", "/home/u/", NULL};
    struct env_reader env = {.get = test_env_pairs, .user = home};
    char *path = login_cache_path(&env, arn);
    CHECK(path && strncmp(path, "/home/u/.aws/login/cache/", 25) == 0 &&
          strncmp(path + 25, hex, 64) == 0);
    free(path);
    const char *moved[] = {"HOME", "/home/u", "AWS_LOGIN_CACHE_DIRECTORY", "~/c", NULL};
    env.user = moved;
    path = login_cache_path(&env, arn);
    CHECK(path && strncmp(path, "/home/u/c/", 10) == 0 && strncmp(path + 10, hex, 64) == 0);
    free(path);
    const char *absolute[] = {"AWS_LOGIN_CACHE_DIRECTORY", "/var/c/", NULL};
    env.user = absolute;
    path = login_cache_path(&env, arn);
    CHECK(path && strncmp(path, "/var/c/", 7) == 0 && strncmp(path + 7, hex, 64) == 0);
    free(path);
    const char *none[] = {NULL};
    env.user = none;
    CHECK(login_cache_path(&env, arn) == NULL);
}

#define GOOD_ACCESS                                                                                \
    "\"accessToken\":{\"accessKeyId\":\"ASIAX\",\"secretAccessKey\":\"s3cr3t\","                   \
    "\"sessionToken\":\"t0k3n\",\"accountId\":\"111122223333\",\"expiresAt\":\"2026-01-01T00:00:"  \
    "00Z\"}"
#define GOOD_REST "\"refreshToken\":\"r3fr3sh\",\"clientId\":\"cid\",\"dpopKey\":\"k3y\""

static ecrup_status parse(const char *text, struct login_token *t, struct ebuf *err)
{
    ebuf_reset(err);
    size_t len = strlen(text);
    char *g = test_guarded_copy(text, len);
    ecrup_status st = login_token_parse(g, len, "/c/x.json", t, err);
    test_guarded_free(g, len);
    return st;
}

static void test_reader(void)
{
    struct login_token t;
    struct ebuf err = EBUF_INIT;
    REQUIRE(parse("{" GOOD_ACCESS "," GOOD_REST ",\"later\":{\"a\":1}}", &t, &err) == ECRUP_OK);
    CHECK_STR(t.access_key_id, "ASIAX");
    CHECK_STR(t.secret_access_key, "s3cr3t");
    CHECK_STR(t.session_token, "t0k3n");
    CHECK_STR(t.account_id, "111122223333");
    CHECK_STR(t.refresh_token, "r3fr3sh");
    CHECK_STR(t.client_id, "cid");
    CHECK_STR(t.dpop_key, "k3y");
    CHECK_EQ_INT(t.expires_at, 1767225600);
    login_token_cleanup(&t);

    static const struct {
        const char *text, *named;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"accessToken\":", "not a JSON object"},
        {"{" GOOD_REST "}", "lacks accessToken "},
        {"{\"accessToken\":\"x\"," GOOD_REST "}", "lacks accessToken "},
        {"{\"accessToken\":{\"accessKeyId\":\"A\"}," GOOD_REST "}",
         "lacks accessToken.secretAccessKey"},
        {"{\"accessToken\":{\"accessKeyId\":\"A\",\"secretAccessKey\":\"s\",\"sessionToken\":"
         "\"t\",\"expiresAt\":\"2026-01-01T00:00:00Z\"}," GOOD_REST "}",
         "lacks accessToken.accountId"},
        {"{\"accessToken\":{\"accessKeyId\":\"A\",\"secretAccessKey\":\"s\",\"sessionToken\":"
         "\"t\",\"accountId\":\"1\",\"expiresAt\":\"soon\"}," GOOD_REST "}",
         "accessToken.expiresAt is not"},
        {"{" GOOD_ACCESS ",\"clientId\":\"cid\",\"dpopKey\":\"k3y\"}", "lacks refreshToken"},
        {"{" GOOD_ACCESS ",\"refreshToken\":\"r3fr3sh\",\"dpopKey\":\"k3y\"}", "lacks clientId"},
        {"{" GOOD_ACCESS ",\"refreshToken\":\"r3fr3sh\",\"clientId\":\"c\",\"dpopKey\":7}",
         "lacks dpopKey"},
        {"{" GOOD_ACCESS ",\"refreshToken\":\"\",\"clientId\":\"c\",\"dpopKey\":\"k\"}",
         "lacks refreshToken"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(parse(bad[i].text, &t, &err), ECRUP_E_CONFIG);
        CHECK(strstr(ebuf_str(&err), "/c/x.json") && strstr(ebuf_str(&err), bad[i].named));
        CHECK(!strstr(ebuf_str(&err), "s3cr3t") && !strstr(ebuf_str(&err), "r3fr3sh"));
        CHECK(t.doc == NULL && t.access_key_id == NULL);
    }
    ebuf_free(&err);
}

static void test_update_and_save(void)
{
    char dir[] = "/tmp/ecrup-login-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/x.json", dir);
    test_write_file(path, "{\"first\":true," GOOD_ACCESS "," GOOD_REST
                          ",\"accessToken2\":1,\"later\":{\"a\":[1,2]}}");
    chmod(path, 0644);
    struct login_token t;
    struct ebuf err = EBUF_INIT;
    REQUIRE(login_token_load(path, &t, &err) == ECRUP_OK);
    struct login_refresh r = {.access_key_id = "ASIANEW",
                              .secret_access_key = "new-secret",
                              .session_token = "new-token",
                              .refresh_token = "new-refresh",
                              .expires_at = 1767229200};
    REQUIRE(login_token_update(&t, &r) == ECRUP_OK);
    CHECK_STR(t.access_key_id, "ASIANEW");
    CHECK_STR(t.refresh_token, "new-refresh");
    CHECK_STR(t.account_id, "111122223333");
    REQUIRE(login_token_save(path, &t, &err) == ECRUP_OK);
    login_token_cleanup(&t);

    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        entries += e->d_name[0] != '.';
    closedir(d);
    CHECK_EQ_INT(entries, 1);

    char *text = test_read_file(path, NULL);
    cJSON *doc = cJSON_Parse(text);
    REQUIRE(doc);
    /* Every key in its place; accessToken replaced whole with accountId kept. */
    const char *order[] = {"first",   "accessToken",  "refreshToken", "clientId",
                           "dpopKey", "accessToken2", "later"};
    size_t i = 0;
    for (cJSON *e = doc->child; e; e = e->next, i++)
        CHECK(i < 7 && strcmp(e->string, order[i]) == 0);
    CHECK_EQ_INT(i, 7);
    cJSON *access = cJSON_GetObjectItemCaseSensitive(doc, "accessToken");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(access, "expiresAt")->valuestring,
              "2026-01-01T01:00:00Z");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(access, "sessionToken")->valuestring, "new-token");
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                     cJSON_GetObjectItemCaseSensitive(doc, "later"), "a")),
                 2);
    CHECK(!strstr(text, "s3cr3t") && !strstr(text, "r3fr3sh"));
    cJSON_Delete(doc);
    free(text);

    /* Readable again; a missing file is ECRUP_E_NOT_FOUND. */
    CHECK_EQ_INT(login_token_load(path, &t, &err), ECRUP_OK);
    login_token_cleanup(&t);
    unlink(path);
    CHECK_EQ_INT(login_token_load(path, &t, &err), ECRUP_E_NOT_FOUND);
    /* A directory that is gone: the write fails naming the file. */
    rmdir(dir);
    REQUIRE(parse("{" GOOD_ACCESS "," GOOD_REST "}", &t, &err) == ECRUP_OK);
    ebuf_reset(&err);
    CHECK_EQ_INT(login_token_save(path, &t, &err), ECRUP_E_IO);
    CHECK(strstr(ebuf_str(&err), path) != NULL);
    login_token_cleanup(&t);
    ebuf_free(&err);
}

static void check_endpoint(const char *region, bool fips, bool dual, const char *want)
{
    struct ebuf url = EBUF_INIT, msg = EBUF_INIT;
    ecrup_status st = cred_login_endpoint_for(region, fips, dual, &url, &msg);
    if (want) {
        CHECK_EQ_INT(st, ECRUP_OK);
        CHECK_STR(ebuf_str(&url), want);
    } else {
        CHECK(st != ECRUP_OK && msg.len > 0);
    }
    ebuf_free(&url);
    ebuf_free(&msg);
}

static void test_endpoints(void)
{
    /* botocore's data/signin/2023-01-01/endpoint-rule-set-1.json */
    check_endpoint("us-east-1", false, false, "https://us-east-1.signin.aws.amazon.com");
    check_endpoint("eu-west-1", false, false, "https://eu-west-1.signin.aws.amazon.com");
    check_endpoint("cn-north-1", false, false, "https://cn-north-1.signin.amazonaws.cn");
    check_endpoint("us-gov-west-1", false, false,
                   "https://us-gov-west-1.signin.amazonaws-us-gov.com");
    check_endpoint("us-east-1", true, false, "https://signin-fips.us-east-1.amazonaws.com");
    check_endpoint("us-east-1", false, true, "https://signin.us-east-1.api.aws");
    check_endpoint("us-east-1", true, true, "https://signin-fips.us-east-1.api.aws");
    check_endpoint("us-gov-west-1", true, false, "https://signin-fips.us-gov-west-1.amazonaws.com");
    check_endpoint("us-iso-east-1", false, false, "https://signin.us-iso-east-1.c2s.ic.gov");
    check_endpoint(NULL, false, false, NULL);
    check_endpoint("not a region!", false, false, NULL);
}

int main(void)
{
    test_base64url();
    test_der_to_jws();
    EVP_PKEY *key = EVP_EC_gen("P-256");
    REQUIRE(key);
    test_key_forms(key);
    test_proof(key);
    EVP_PKEY_free(key);
    test_names();
    test_reader();
    test_update_and_save();
    test_endpoints();
    return test_finish("test_login");
}
