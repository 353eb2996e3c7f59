/* libFuzzer target over the `aws login` token cache reader (signer/login_cache.c) and the
 * DPoP pieces that take outside bytes (signer/dpop.c), from memory. Beyond "no crash, no
 * over-read": a parse either succeeds with every field non-empty, and then a refresh written
 * into it and serialised parses again to the new values with the same number of keys (the
 * unknown ones kept), or fails with ECRUP_E_CONFIG (or out of memory) naming the file and
 * leaving the token empty. The input is also a dpopKey and a DER signature. */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signer/cred_provider.h"
#include "signer/dpop.h"
#include "signer/login_cache.h"

static void round_trip(struct login_token *t)
{
    struct login_refresh r = {.access_key_id = "ASIANEW",
                              .secret_access_key = "s",
                              .session_token = "t",
                              .refresh_token = "r",
                              .expires_at = 1767225600};
    int keys = cJSON_GetArraySize(t->doc);
    if (login_token_update(t, &r) != ECRUP_OK)
        return; /* out of memory */
    char *text = login_token_json(t);
    if (!text)
        return;
    struct login_token again;
    struct ebuf err = EBUF_INIT;
    ecrup_status st = login_token_parse(text, strlen(text), "again.json", &again, &err);
    if (st == ECRUP_OK) {
        if (strcmp(again.access_key_id, "ASIANEW") != 0 || strcmp(again.refresh_token, "r") != 0 ||
            again.expires_at != 1767225600 || strcmp(again.account_id, t->account_id) != 0 ||
            cJSON_GetArraySize(again.doc) != keys)
            abort();
    } else if (st != ECRUP_E_NOMEM) {
        abort(); /* what was written must read back */
    }
    login_token_cleanup(&again);
    ebuf_free(&err);
    cred_wipe_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ebuf err = EBUF_INIT;
    struct login_token t;
    ecrup_status st = login_token_parse((const char *)data, size, "fuzz.json", &t, &err);
    if (st == ECRUP_OK) {
        if (!*t.access_key_id || !*t.secret_access_key || !*t.session_token || !*t.account_id ||
            !*t.refresh_token || !*t.client_id || !*t.dpop_key || err.len)
            abort();
        EVP_PKEY_free(dpop_key_load(t.dpop_key));
        round_trip(&t);
    } else {
        if (st != ECRUP_E_CONFIG && st != ECRUP_E_NOMEM)
            abort();
        if (t.doc || t.access_key_id || t.refresh_token || t.dpop_key)
            abort();
        if (st == ECRUP_E_CONFIG && !strstr(ebuf_str(&err), "fuzz.json"))
            abort();
    }
    login_token_cleanup(&t);
    ebuf_free(&err);

    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = 0;
        EVP_PKEY_free(dpop_key_load(text));
        free(text);
    }
    unsigned char raw[64];
    (void)dpop_der_to_jws(data, size, raw);
    return 0;
}
