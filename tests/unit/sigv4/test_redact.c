/* The redaction helper: a table of texts as they would appear in logs and what may be shown
 * of them, plus secrets registered at run time. */
#include "test.h"

#include <pthread.h>

#include "util/redact.h"

static const struct {
    const char *in, *want;
} table[] = {
    /* Authorization: keep the credential scope, mask the signature */
    {"Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/"
     "aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8"
     "372ff2a2260956d9b8aae1d763fbf31",
     "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/"
     "aws4_request, SignedHeaders=host;x-amz-date, Signature=***"},
    {"authorization:AWS4-HMAC-SHA256 Credential=AKID/20150830/r/s/aws4_request,Signature=abc12,"
     "SignedHeaders=host",
     "authorization:AWS4-HMAC-SHA256 Credential=AKID/20150830/r/s/aws4_request,Signature=***,"
     "SignedHeaders=host"},
    {"> Authorization: Basic QVdTOmV5SnBZWFFpT2pFMk1EQjk=\r\n> Host: x",
     "> Authorization: Basic ***\r\n> Host: x"},
    {"Authorization: Bearer eyJhbGciOi.J9.abc", "Authorization: Bearer ***"},
    {"Authorization: containertoken123", "Authorization: ***"},
    {"Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: Basic ***"},
    {"{\"Authorization\":\"Basic dXNlcjpwYXNz\",\"x\":1}",
     "{\"Authorization\":\"Basic ***\",\"x\":1}"},
    /* presigned URL */
    {"GET /?X-Amz-Credential=AKID%2F20150830&X-Amz-Signature=e93c787ed7f3&X-Amz-Security-Token="
     "FQoG%2Fabc&X-Amz-Expires=3600",
     "GET /?X-Amz-Credential=AKID%2F20150830&X-Amz-Signature=***&X-Amz-Security-Token=***"
     "&X-Amz-Expires=3600"},
    /* botocore's debug log puts the signature on the next line */
    {"Signature:\n5fa00fa31553b73ebf19\nnext", "Signature:\n***\nnext"},
    /* session token headers */
    {"X-Amz-Security-Token: AQoDYXdzEPT//////////wEXAMPLE+x==", "X-Amz-Security-Token: ***"},
    {"x-amz-security-token:FQoGZXIvYXdz\nx-amz-date:20150830T123600Z",
     "x-amz-security-token:***\nx-amz-date:20150830T123600Z"},
    {"X-aws-ec2-metadata-token: AQAEAJ3v_example==", "X-aws-ec2-metadata-token: ***"},
    {"X-aws-ec2-metadata-token-ttl-seconds: 21600", "X-aws-ec2-metadata-token-ttl-seconds: 21600"},
    /* shared files and environment */
    {"[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG+b"
     "PxRfiCYEXAMPLEKEY\naws_session_token=FwoGZXIvYXdzE+/x==\nregion = us-east-1\n",
     "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = ***\n"
     "aws_session_token=***\nregion = us-east-1\n"},
    {"AWS_SECRET_ACCESS_KEY=abc/def+ghi AWS_REGION=us-east-1",
     "AWS_SECRET_ACCESS_KEY=*** AWS_REGION=us-east-1"},
    {"aws_security_token = legacytoken123", "aws_security_token = ***"},
    {"AWS_CONTAINER_AUTHORIZATION_TOKEN=Basic-abc", "AWS_CONTAINER_AUTHORIZATION_TOKEN=***"},
    {"export AWS_SESSION_TOKEN='quoted token value'", "export AWS_SESSION_TOKEN='***'"},
    /* JSON from credential_process, container credentials, IMDS, ECR */
    {"{\"Version\": 1, \"AccessKeyId\": \"ASIAEXAMPLE\", \"SecretAccessKey\": \"wJalr/XUtn+FE\", "
     "\"SessionToken\": \"AQoD\\\"escaped\\\"tail\", \"Expiration\": \"2026-11-27T00:00:00Z\"}",
     "{\"Version\": 1, \"AccessKeyId\": \"ASIAEXAMPLE\", \"SecretAccessKey\": \"***\", "
     "\"SessionToken\": \"***\", \"Expiration\": \"2026-11-27T00:00:00Z\"}"},
    {"{\"AccessKeyId\":\"ASIA\",\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok\",\"Code\":"
     "\"Success\"}",
     "{\"AccessKeyId\":\"ASIA\",\"SecretAccessKey\":\"***\",\"Token\":\"***\",\"Code\":"
     "\"Success\"}"},
    {"{\"credentials\":{\"secretAccessKey\":\"a/b+c\",\"sessionToken\":\"t0k\"}}",
     "{\"credentials\":{\"secretAccessKey\":\"***\",\"sessionToken\":\"***\"}}"},
    {"{\"authorizationData\":[{\"authorizationToken\":\"QVdTOmV5SnBZ\",\"proxyEndpoint\":"
     "\"https://x\"}]}",
     "{\"authorizationData\":[{\"authorizationToken\":\"***\",\"proxyEndpoint\":"
     "\"https://x\"}]}"},
    /* ambiguous values are masked too */
    {"{\"SecretAccessKey\": null}", "{\"SecretAccessKey\": ***}"},
    {"{\"password\":\"hunter2hunter2\"}", "{\"password\":\"***\"}"},
    /* STS XML */
    {"<Credentials><AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>wJal/r+x</SecretAccessKey>"
     "<SessionToken>FQoG+/==</SessionToken></Credentials>",
     "<Credentials><AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>***</SecretAccessKey>"
     "<SessionToken>***</SessionToken></Credentials>"},
    /* left alone: no secret here */
    {"The request signature we calculated does not match the signature you provided.",
     "The request signature we calculated does not match the signature you provided."},
    {"Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z",
     "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z"},
    {"SignedHeaders=host;x-amz-date", "SignedHeaders=host;x-amz-date"},
    {"aws_access_key_id = AKIDEXAMPLE", "aws_access_key_id = AKIDEXAMPLE"},
    {"{\"AccessToken\":\"visible\",\"tokens\":2,\"mytoken\":\"v\"}",
     "{\"AccessToken\":\"visible\",\"tokens\":2,\"mytoken\":\"v\"}"},
    {"token", "token"},
    {"Signature=", "Signature="},
    {"", ""},
};

static void check_one(const char *in, const char *want)
{
    struct ebuf out = EBUF_INIT;
    redact_puts(&out, in);
    if (strcmp(ebuf_str(&out), want) != 0)
        fprintf(stderr, "input: %s\n", in);
    CHECK_STR(ebuf_str(&out), want);
    ebuf_free(&out);
}

static void test_table(void)
{
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        check_one(table[i].in, table[i].want);
    /* The helper appends; it never reads past `len`. */
    struct ebuf out = EBUF_INIT;
    ebuf_puts(&out, "prefix ");
    const char *text = "x-amz-security-token: abcdefgh";
    size_t n = strlen(text);
    char *g = test_guarded_copy(text, n);
    redact_append(&out, g, n);
    test_guarded_free(g, n);
    CHECK_STR(ebuf_str(&out), "prefix x-amz-security-token: ***");
    /* every prefix of every table entry, through a guard page */
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        size_t len = strlen(table[i].in);
        for (size_t k = 0; k <= len; k++) {
            char *gp = test_guarded_copy(table[i].in, k);
            ebuf_reset(&out);
            redact_append(&out, gp, k);
            test_guarded_free(gp, k);
        }
    }
    redact_puts(&out, NULL);
    ebuf_free(&out);
}

static void test_registered(void)
{
    const char *secret = "Zx9/secret+from/a/provider";
    check_one("id=1 value Zx9/secret+from/a/provider end",
              "id=1 value Zx9/secret+from/a/provider end");
    CHECK_EQ_INT(redact_register_secret(secret), 0);
    check_one("id=1 value Zx9/secret+from/a/provider end", "id=1 value *** end");
    check_one("twice:Zx9/secret+from/a/providerZx9/secret+from/a/provider.", "twice:***.");
    check_one("partial Zx9/secret+from only", "partial Zx9/secret+from only");
    /* short strings are not registered */
    CHECK_EQ_INT(redact_register_secret("abc"), 0);
    check_one("abc abc", "abc abc");
    /* overlapping registrations */
    CHECK_EQ_INT(redact_register_secret("providerXYZ-12345"), 0);
    check_one("[Zx9/secret+from/a/providerXYZ-12345]", "[***]");
    /* reference counted */
    CHECK_EQ_INT(redact_register_secret(secret), 0);
    redact_unregister_secret(secret);
    check_one("Zx9/secret+from/a/provider", "***");
    redact_unregister_secret(secret);
    check_one("Zx9/secret+from/a/provider", "Zx9/secret+from/a/provider");
    redact_unregister_secret("never-registered-string");
    redact_clear_secrets();
    check_one("providerXYZ-12345", "providerXYZ-12345");
    CHECK_EQ_INT(redact_register_secret(NULL), 0);
}

/* Registering and redacting from several threads at once (for TSan and ASan). */
static void *churn(void *arg)
{
    int id = (int)(intptr_t)arg;
    char secret[64], line[128];
    int bad = 0;
    for (int i = 0; i < 500; i++) {
        snprintf(secret, sizeof secret, "thread-%d-secret-%d", id, i);
        redact_register_secret(secret);
        snprintf(line, sizeof line, "before %s after", secret);
        struct ebuf out = EBUF_INIT;
        redact_puts(&out, line);
        if (strcmp(ebuf_str(&out), "before *** after") != 0)
            bad++;
        ebuf_free(&out);
        redact_unregister_secret(secret);
    }
    return (void *)(intptr_t)bad;
}

static void test_threads(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        REQUIRE(pthread_create(&t[i], NULL, churn, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        CHECK_EQ_INT((intptr_t)bad, 0);
    }
    redact_clear_secrets();
}

int main(void)
{
    test_table();
    test_registered();
    test_threads();
    return test_finish("test_redact");
}
