/* What a failed ECR request means: the status a reply maps to, and the one clock-skew rule
 * (names, or an auth refusal whose Date is far from the signing time; never the message). */
#include "engine/request.h"

#include "test.h"

#define SIGNED_AT 1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */

static struct ecr_request reply(long http, const char *exception, const char *date)
{
    struct ecr_request r;
    memset(&r, 0, sizeof r);
    r.signed_at = SIGNED_AT;
    r.http_status = http;
    r.curl_result = CURLE_OK;
    snprintf(r.error.exception, sizeof r.error.exception, "%s", exception ? exception : "");
    snprintf(r.date_header, sizeof r.date_header, "%s", date ? date : "");
    return r;
}

static void test_skew(void)
{
    /* By name, whatever the Date says. */
    const char *names[] = {"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"};
    for (size_t i = 0; i < 3; i++) {
        struct ecr_request r = reply(400, names[i], NULL);
        CHECK(ecr_request_clock_skewed(&r));
        CHECK_EQ_INT(ecr_request_reply_status(&r), ECRUP_E_CLOCK_SKEW);
    }
    /* A refused signature: skew only when the service's clock is more than 4 minutes off. */
    struct ecr_request r = reply(403, "InvalidSignatureException", "Tue, 14 Nov 2023 23:13:20 GMT");
    snprintf(r.error.message, sizeof r.error.message, "Signature expired: whatever it says");
    CHECK(ecr_request_clock_skewed(&r));
    CHECK_EQ_INT(ecr_request_reply_status(&r), ECRUP_E_CLOCK_SKEW);
    r = reply(403, "InvalidSignatureException", "Tue, 14 Nov 2023 22:17:21 GMT"); /* +241 s */
    CHECK(ecr_request_clock_skewed(&r));
    r = reply(403, "InvalidSignatureException", "Tue, 14 Nov 2023 22:09:19 GMT"); /* -241 s */
    CHECK(ecr_request_clock_skewed(&r));
    r = reply(403, "InvalidSignatureException", "Tue, 14 Nov 2023 22:17:20 GMT"); /* +240 s */
    CHECK(!ecr_request_clock_skewed(&r));
    CHECK_EQ_INT(ecr_request_reply_status(&r), ECRUP_E_AUTH);
    /* The message alone decides nothing: the same words with the clocks in step. */
    snprintf(r.error.message, sizeof r.error.message, "Signature expired: 2023... is now earlier");
    CHECK(!ecr_request_clock_skewed(&r));
    /* No Date, or one that does not parse: not skew. */
    r = reply(403, "InvalidSignatureException", NULL);
    CHECK(!ecr_request_clock_skewed(&r));
    r = reply(403, "InvalidSignatureException", "yesterday");
    CHECK(!ecr_request_clock_skewed(&r));
    /* An auth refusal by status without an exception name counts; other refusals do not. */
    r = reply(401, NULL, "Wed, 15 Nov 2023 22:13:20 GMT");
    CHECK(ecr_request_clock_skewed(&r));
    r = reply(400, "InvalidParameterException", "Wed, 15 Nov 2023 22:13:20 GMT");
    CHECK(!ecr_request_clock_skewed(&r));
    CHECK_EQ_INT(ecr_request_reply_status(&r), ECRUP_E_REMOTE);
}

static void test_status(void)
{
    struct {
        long http;
        const char *exception;
        ecrup_status want;
    } cases[] = {
        {400, "ThrottlingException", ECRUP_E_THROTTLED},
        {400, "RepositoryNotFoundException", ECRUP_E_NOT_FOUND},
        {400, "InvalidLayerException", ECRUP_E_DIGEST_MISMATCH},
        {400, "UnrecognizedClientException", ECRUP_E_AUTH},
        {400, "ExpiredTokenException", ECRUP_E_AUTH},
        {403, "AccessDeniedException", ECRUP_E_AUTH},
        {403, NULL, ECRUP_E_AUTH},
        {500, NULL, ECRUP_E_SERVER},
        {503, "ServerException", ECRUP_E_SERVER},
        {400, "LayerPartTooSmallException", ECRUP_E_REMOTE},
        {404, NULL, ECRUP_E_PROTOCOL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ecr_request r = reply(cases[i].http, cases[i].exception, NULL);
        CHECK_EQ_INT(ecr_request_reply_status(&r), cases[i].want);
    }
    struct {
        CURLcode c;
        ecrup_status want;
    } transport[] = {
        {CURLE_OPERATION_TIMEDOUT, ECRUP_E_TIMEOUT}, {CURLE_PEER_FAILED_VERIFICATION, ECRUP_E_TLS},
        {CURLE_SSL_CONNECT_ERROR, ECRUP_E_TLS},      {CURLE_COULDNT_CONNECT, ECRUP_E_NETWORK},
        {CURLE_RECV_ERROR, ECRUP_E_NETWORK},
    };
    for (size_t i = 0; i < sizeof transport / sizeof transport[0]; i++) {
        struct ecr_request r = reply(0, NULL, NULL);
        r.curl_result = transport[i].c;
        CHECK_EQ_INT(ecr_request_reply_status(&r), transport[i].want);
    }
}

/* A request that ended before any reply says why in its own words, not as "HTTP 0". */
static void test_local_failure(void)
{
    struct ecr_request r;
    ecr_request_init(&r);
    ecr_request_fail(&r, ECRUP_E_CREDENTIALS, "credential_process exited with status %d", 3);
    CHECK_EQ_INT(r.status, ECRUP_E_CREDENTIALS);
    CHECK_STR(r.error.exception, "");
    struct ebuf d = EBUF_INIT;
    ecr_request_describe(&r, &d);
    CHECK_STR(ebuf_str(&d), "credential_process exited with status 3");
    ebuf_free(&d);
    ecr_request_cleanup(&r);
}

/* A host that did not resolve names the unlisted region it was built from; any other
 * libcurl failure, or a listed region, keeps libcurl's words. */
static void test_unresolved(void)
{
    struct ecr_target t = {.host = "api.ecr.eu-wst-1.amazonaws.com", .region = "eu-wst-1"};
    struct ecr_request r = reply(0, NULL, NULL);
    r.target = &t;
    r.curl_result = CURLE_COULDNT_RESOLVE_HOST;
    snprintf(r.curl_error, sizeof r.curl_error,
             "Could not resolve host: api.ecr.eu-wst-1.amazonaws.com");
    struct ebuf d = EBUF_INIT;
    ecr_request_describe(&r, &d);
    CHECK_STR(ebuf_str(&d), "cannot resolve api.ecr.eu-wst-1.amazonaws.com: the region "
                            "'eu-wst-1' is not one AWS lists (did you mean eu-west-1?) (curl "
                            "error 6)");
    CHECK_EQ_INT(ecr_request_reply_status(&r), ECRUP_E_NETWORK);

    ebuf_reset(&d);
    r.curl_result = CURLE_COULDNT_CONNECT;
    snprintf(r.curl_error, sizeof r.curl_error, "Failed to connect");
    ecr_request_describe(&r, &d);
    CHECK_STR(ebuf_str(&d), "Failed to connect (curl error 7)");

    ebuf_reset(&d);
    struct ecr_target listed = {.host = "api.ecr.eu-west-1.amazonaws.com", .region = "eu-west-1"};
    r.target = &listed;
    r.curl_result = CURLE_COULDNT_RESOLVE_HOST;
    snprintf(r.curl_error, sizeof r.curl_error,
             "Could not resolve host: api.ecr.eu-west-1.amazonaws.com");
    ecr_request_describe(&r, &d);
    CHECK_STR(ebuf_str(&d),
              "Could not resolve host: api.ecr.eu-west-1.amazonaws.com (curl error 6)");

    ebuf_reset(&d);
    r.target = NULL; /* a request never prepared: libcurl's words */
    ecr_request_describe(&r, &d);
    CHECK_STR(ebuf_str(&d),
              "Could not resolve host: api.ecr.eu-west-1.amazonaws.com (curl error 6)");
    ebuf_free(&d);
}

int main(void)
{
    test_unresolved();
    test_skew();
    test_status();
    test_local_failure();
    return test_finish("test_request_status");
}
