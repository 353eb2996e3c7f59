/* Signs requests described as JSON lines on stdin and prints one JSON line per request:
 *   in:  {"method","url","path","query","headers":[[name,value]...],"body","access_key_id",
 *         "secret_access_key","session_token"?,"region","service","time"}
 *   out: {"amz_date","host","authorization"} or {"error":"..."}
 * The Host header is derived from the URL with sigv4_host_from_url(), as the engine does.
 * Used by test_sigv4_botocore.py; the secrets it handles are random test values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "signer/sigv4.h"

#define MAX_HEADERS 32

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void emit(cJSON *out)
{
    char *s = cJSON_PrintUnformatted(out);
    if (s) {
        puts(s);
        free(s);
    }
    cJSON_Delete(out);
}

static void sign_line(const char *line, struct sigv4_key_cache *cache)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *in = cJSON_Parse(line);
    const char *err = NULL;
    struct ebuf host = EBUF_INIT;
    struct sigv4_signature sig = {.authorization = EBUF_INIT};
    if (!in) {
        err = "bad json";
        goto done;
    }
    const char *body = str(in, "body");
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(in, "headers");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(in, "time");
    if (!body || !cJSON_IsArray(hs) || !cJSON_IsNumber(t) || !str(in, "url")) {
        err = "missing field";
        goto done;
    }
    if (sigv4_host_from_url(str(in, "url"), &host) != 0) {
        err = "bad url";
        goto done;
    }
    struct sigv4_header h[MAX_HEADERS];
    size_t n = 0;
    h[n++] = (struct sigv4_header){"Host", ebuf_str(&host)};
    const cJSON *pair;
    cJSON_ArrayForEach(pair, hs)
    {
        if (n == MAX_HEADERS || cJSON_GetArraySize(pair) != 2) {
            err = "bad headers";
            goto done;
        }
        h[n++] = (struct sigv4_header){cJSON_GetStringValue(cJSON_GetArrayItem(pair, 0)),
                                       cJSON_GetStringValue(cJSON_GetArrayItem(pair, 1))};
    }
    unsigned char md[32];
    char hex[65];
    unsigned int mdlen = 0;
    if (!EVP_Digest(body, strlen(body), md, &mdlen, EVP_sha256(), NULL)) {
        err = "sha256";
        goto done;
    }
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    struct sigv4_request req = {
        str(in, "method"), str(in, "path"), str(in, "query"), h, n, hex, true};
    struct sigv4_credentials c = {str(in, "access_key_id"), str(in, "secret_access_key"),
                                  str(in, "session_token")};
    if (sigv4_sign(&req, &c, str(in, "region"), str(in, "service"), (time_t)t->valuedouble, cache,
                   &sig) != 0) {
        err = "sign failed";
        goto done;
    }
    cJSON_AddStringToObject(out, "amz_date", sig.amz_date);
    cJSON_AddStringToObject(out, "host", ebuf_str(&host));
    cJSON_AddStringToObject(out, "authorization", ebuf_str(&sig.authorization));
done:
    if (err)
        cJSON_AddStringToObject(out, "error", err);
    emit(out);
    sigv4_signature_free(&sig);
    ebuf_free(&host);
    cJSON_Delete(in);
}

int main(int argc, char **argv)
{
    (void)argv;
    /* With an argument the key cache is off, so both paths get exercised by the test. */
    struct sigv4_key_cache *cache = argc > 1 ? NULL : sigv4_key_cache_new();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (*line)
            sign_line(line, cache);
    }
    free(line);
    sigv4_key_cache_free(cache);
    return 0;
}
