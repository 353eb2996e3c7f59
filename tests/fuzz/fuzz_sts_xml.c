/* libFuzzer target over the STS XML reply parser (signer/sts_xml.c), for both actions. Beyond
 * "no crash, no over-read": a failure always explains itself and leaves no value behind; a
 * success is either an error with a code or credentials with every required field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signer/sts.h"

static void one(const uint8_t *data, size_t size, const char *action)
{
    struct sts_reply r;
    struct ebuf err = EBUF_INIT;
    ecrup_status st = sts_parse_reply((const char *)data, size, action, &r, &err);
    if (st == ECRUP_OK) {
        if (r.error ? !r.code || !*r.code
                    : !r.access_key_id || !*r.access_key_id || !r.secret_access_key ||
                          !*r.secret_access_key || !r.session_token || !r.expiration)
            abort();
    } else if (err.len == 0 || r.access_key_id || r.secret_access_key || r.code) {
        abort();
    }
    sts_reply_free(&r);
    ebuf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, "AssumeRoleWithWebIdentity");
    one(data, size, "AssumeRole");
    return 0;
}
