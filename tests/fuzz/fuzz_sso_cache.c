/* libFuzzer target over the SSO token cache file reader (signer/sso_cache.c), from memory.
 * Beyond "no crash, no over-read": a parse either succeeds with an access token and the
 * expiry of a valid time, or fails with ECRUP_E_CONFIG (or out of memory) naming the file and
 * leaving the token empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signer/sso_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ebuf err = EBUF_INIT;
    struct sso_token t;
    ecrup_status st = sso_token_parse((const char *)data, size, "fuzz.json", &t, &err);
    if (st == ECRUP_OK) {
        if (!t.access_token || !*t.access_token || err.len)
            abort();
        (void)sso_token_refreshable(&t, 0);
    } else {
        if (st != ECRUP_E_CONFIG && st != ECRUP_E_NOMEM)
            abort();
        if (t.access_token || t.refresh_token || t.client_secret)
            abort();
        if (st == ECRUP_E_CONFIG && !strstr(ebuf_str(&err), "fuzz.json"))
            abort();
    }
    sso_token_cleanup(&t);
    ebuf_free(&err);
    return 0;
}
