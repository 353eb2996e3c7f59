/* Test tool: make one signed ECR call with engine/request.c and print what came back.
 * Usage: ecr_call URL HOST_HEADER REGION OPERATION BODY [CA_BUNDLE|-insecure]
 * (BODY "-" reads the body from standard input.)
 * Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
 * Prints: "status=<http> ok=<0|1> exception=<name> retry=<class> date=<Date>" then the reply. */
#include "engine/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s URL HOST REGION OPERATION BODY [CA|-insecure]\n", argv[0]);
        return 2;
    }
    struct ecr_target target = {.url = argv[1], .host_header = argv[2], .region = argv[3]};
    if (argc > 6) {
        if (!strcmp(argv[6], "-insecure"))
            target.insecure = true;
        else
            target.ca_bundle = argv[6];
    }
    struct sigv4_credentials creds = {getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"),
                                      getenv("AWS_SESSION_TOKEN")};
    if (!creds.access_key_id || !creds.secret_access_key)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *easy = curl_easy_init();
    struct sigv4_key_cache *keys = sigv4_key_cache_new();
    struct ecr_request r;
    ecr_request_init(&r);
    struct ebuf body = EBUF_INIT;
    if (!strcmp(argv[5], "-")) {
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
            ebuf_append(&body, chunk, n);
    } else {
        ebuf_puts(&body, argv[5]);
    }
    struct ecr_call call = {.operation = argv[4], .body = ebuf_str(&body), .body_len = body.len};
    int rc = 1;
    if (ecr_request_prepare(&r, easy, &target, &call, &creds, time(NULL), keys) == 0) {
        CURLcode res = curl_easy_perform(easy);
        struct retry_outcome out;
        bool ok = ecr_request_finish(&r, easy, res, &out);
        struct ebuf desc = EBUF_INIT;
        if (!ok)
            ecr_request_describe(&r, &desc);
        printf("status=%ld ok=%d exception=%s retry=%d date=%s\n", r.http_status, ok,
               r.error.exception[0] ? r.error.exception : "-", (int)retry_classify(&out),
               r.date_header[0] ? r.date_header : "-");
        printf("describe=%s\n", ok ? "-" : ebuf_str(&desc));
        printf("%s\n", ebuf_str(&r.reply));
        ebuf_free(&desc);
        rc = 0;
    }
    ecr_request_cleanup(&r);
    ebuf_free(&body);
    sigv4_key_cache_free(keys);
    curl_easy_cleanup(easy);
    curl_global_cleanup();
    return rc;
}
