/* Test driver for tests/integ/sts: the STS client as the script reaches it.
 *
 *   sts_tool endpoint [REGION]                 the STS target for the environment and profile,
 *                                              with REGION as the caller's (the CLI's --region)
 *   sts_tool assume-role ROLE SESSION [EXTERNAL_ID [DURATION [SERIAL CODE]]]
 *                                              AssumeRole signed with STS_SOURCE_AKID,
 *                                              STS_SOURCE_SECRET (and STS_SOURCE_TOKEN)
 *
 * Prints `url=U region=R source=S`, or credentials as cred_tool does (the secret and the token
 * only as SHA-256), or `error=STATUS message`; exits 0 on success, 1 otherwise. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signer/profile.h"
#include "signer/sts.h"
#include "util/hex.h"

static ecrup_status target(const char *region, struct sts_target *t, struct ebuf *err)
{
    struct profile_set *set = profile_load_env(NULL, err);
    if (!set)
        return ECRUP_E_CONFIG;
    struct cred_config cfg = {.region = region};
    ecrup_status st = sts_resolve_for(&cfg, set, profile_name(NULL, NULL), t, err);
    profile_set_free(set);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "assume-role") == 0 && argc < 4)) {
        fprintf(stderr, "usage: sts_tool endpoint [REGION] | assume-role ROLE SESSION [...]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct sts_target t;
    struct ebuf err = EBUF_INIT;
    bool endpoint = strcmp(argv[1], "endpoint") == 0;
    ecrup_status st = target(endpoint && argc > 2 ? argv[2] : NULL, &t, &err);
    if (st == ECRUP_OK && endpoint) {
        printf("url=%s region=%s source=%s\n", t.url, t.region, t.source);
    } else if (st == ECRUP_OK) {
        const char *token = getenv("STS_SOURCE_TOKEN");
        struct sigv4_credentials src = {.access_key_id = getenv("STS_SOURCE_AKID"),
                                        .secret_access_key = getenv("STS_SOURCE_SECRET"),
                                        .session_token = token && *token ? token : NULL};
        struct sts_assume_role_params p = {
            .role_arn = argv[2],
            .session_name = argv[3],
            .external_id = argc > 4 && *argv[4] ? argv[4] : NULL,
            .duration_seconds = argc > 5 ? atoi(argv[5]) : 0,
            .serial_number = argc > 7 ? argv[6] : NULL,
            .token_code = argc > 7 ? argv[7] : NULL,
            .source = &src,
            .source_name = "profile \"base\"",
        };
        struct sts_call_options o = {
            .connect_ms = 2000, .timeout_ms = 5000, .provider = "assume-role", .backoff_ms = 10};
        struct cred_snapshot *s = NULL;
        st = sts_assume_role(&t, &p, &o, &s, &err);
        if (st == ECRUP_OK) {
            char sh[65], th[65] = "none";
            sha256_hex(s->secret_access_key, strlen(s->secret_access_key), sh);
            if (s->session_token)
                sha256_hex(s->session_token, strlen(s->session_token), th);
            printf("provider=%s akid=%s secret_sha256=%s token_sha256=%s expiration=%lld\n",
                   s->provider, s->access_key_id, sh, th, (long long)s->expiration);
            cred_snapshot_release(s);
        }
    }
    if (st != ECRUP_OK)
        printf("error=%s %s\n", ecrup_status_name(st), ebuf_str(&err));
    sts_target_free(&t);
    ebuf_free(&err);
    curl_global_cleanup();
    return st == ECRUP_OK ? 0 : 1;
}
