/* The UploadLayerPart body writer over arbitrary names, offsets, bytes, block sizes and
 * encoders. Invariants: the size function is exact, the body is JSON with exactly the
 * members written, the blob decodes to the input, both hashes are OpenSSL's.
 *
 * Input: flags (bit 0 registry id, bits 1-3 encoder, bits 4-6 block size, bit 7 small
 * offset), 8 bytes of partFirstByte, 3 name lengths (low 6 bits each; the top bits of the
 * first choose a native layer stream and the OpenSSL path, those of the other two how many
 * bytes the layer stream had taken before), the names, then the part's bytes. */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base64.h"
#include "engine/payload.h"
#include "engine/sha256.h"

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static char *take_name(const uint8_t **p, size_t *left, size_t want)
{
    size_t n = want < *left ? want : *left;
    char *s = malloc(n + 1);
    ASSERT(s);
    memcpy(s, *p, n);
    s[n] = '\0'; /* an embedded NUL just ends the name early */
    *p += n;
    *left -= n;
    return s;
}

static uint64_t number_after(const char *body, size_t len, const char *key)
{
    const char *at = memmem(body, len, key, strlen(key));
    ASSERT(at);
    return strtoull(at + strlen(key), NULL, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 12)
        return 0;
    static const size_t blocks[8] = {0, 3, 4, 5, 48, 49, 1000, SIZE_MAX};
    uint8_t flags = data[0];
    uint64_t first;
    memcpy(&first, data + 1, 8);
    if (flags & 0x80)
        first &= 0xffffff;
    const uint8_t *p = data + 12;
    size_t left = size - 12;
    char *registry = take_name(&p, &left, data[9] % 64);
    char *repo = take_name(&p, &left, data[10] % 64);
    char *upload = take_name(&p, &left, data[11] % 64);
    /* An exact-size heap copy of the bytes, so any over-read is caught. */
    uint8_t *bytes = malloc(left ? left : 1);
    ASSERT(bytes);
    memcpy(bytes, p, left);

    struct payload_part part = {.data = bytes,
                                .len = left,
                                .first_byte = first,
                                .repository_name = repo,
                                .registry_id = (flags & 1) ? registry : NULL,
                                .upload_id = upload};
    /* The layer stream has taken `pre` bytes (the part's own, again) before this part; its
     * implementation and the payload path vary with the flags. */
    struct sha256_stream stream, *layer = &stream;
    size_t pre = (size_t)(data[10] >> 6) * 16 + (size_t)(data[11] >> 6) * 5;
    pre = pre < left ? pre : left;
    ASSERT(sha256_stream_init(layer, data[9] & 64) == 0);
    ASSERT(sha256_stream_update(layer, bytes, pre) == 0);
    struct payload_options opts = {.backend = (ecrup_base64_backend)((flags >> 1) & 7) % 5,
                                   .layer_sha256 = layer,
                                   .block = blocks[(flags >> 4) & 7],
                                   .sha256 = (data[9] & 128) ? PAYLOAD_SHA256_OPENSSL
                                                             : PAYLOAD_SHA256_AUTO};
    struct payload_result res;
    size_t body_size = payload_body_size(&part);
    int valid = left > 0 && first <= INT64_MAX && left - 1 <= INT64_MAX - first;
    ASSERT(valid == (body_size != 0));
    if (!valid) {
        char tiny[8];
        ASSERT(payload_write(&part, &opts, tiny, sizeof tiny, &res) == ECRUP_E_INVALID_ARGUMENT);
        goto done;
    }
    char *body = malloc(body_size);
    ASSERT(body);
    ASSERT(payload_write(&part, &opts, body, body_size - 1, &res) == ECRUP_E_INVALID_ARGUMENT);
    ASSERT(payload_write(&part, &opts, body, body_size, &res) == ECRUP_OK);
    ASSERT(res.body_len == body_size);

    unsigned char md[32], want[32];
    char hex[65];
    ASSERT(EVP_Digest(body, body_size, want, NULL, EVP_sha256(), NULL) == 1);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = "0123456789abcdef"[want[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[want[i] & 15];
    }
    hex[64] = '\0';
    ASSERT(strcmp(hex, res.body_sha256_hex) == 0);
    ASSERT(sha256_stream_final(layer, md) == 0);
    EVP_MD_CTX *both = EVP_MD_CTX_new();
    ASSERT(both && EVP_DigestInit_ex(both, EVP_sha256(), NULL) == 1);
    ASSERT(EVP_DigestUpdate(both, bytes, pre) == 1 && EVP_DigestUpdate(both, bytes, left) == 1);
    ASSERT(EVP_DigestFinal_ex(both, want, NULL) == 1);
    EVP_MD_CTX_free(both);
    ASSERT(memcmp(md, want, 32) == 0);

    cJSON *json = cJSON_ParseWithLength(body, body_size);
    ASSERT(json);
    ASSERT(cJSON_GetArraySize(json) == ((flags & 1) ? 6 : 5));
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "registryId");
    ASSERT((flags & 1) ? cJSON_IsString(item) && strcmp(item->valuestring, registry) == 0
                       : item == NULL);
    item = cJSON_GetObjectItemCaseSensitive(json, "repositoryName");
    ASSERT(cJSON_IsString(item) && strcmp(item->valuestring, repo) == 0);
    item = cJSON_GetObjectItemCaseSensitive(json, "uploadId");
    ASSERT(cJSON_IsString(item) && strcmp(item->valuestring, upload) == 0);
    ASSERT(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(json, "partFirstByte")));
    ASSERT(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(json, "partLastByte")));
    /* cJSON holds numbers as doubles; the exact values are read from the text. */
    ASSERT(number_after(body, body_size, ",\"partFirstByte\":") == first);
    ASSERT(number_after(body, body_size, ",\"partLastByte\":") == first + left - 1);
    item = cJSON_GetObjectItemCaseSensitive(json, "layerPartBlob");
    ASSERT(cJSON_IsString(item));
    size_t tlen = strlen(item->valuestring);
    ASSERT(tlen == b64_encoded_len(left));
    uint8_t *dec = malloc(tlen / 4 * 3);
    ASSERT(dec);
    int n = EVP_DecodeBlock(dec, (const unsigned char *)item->valuestring, (int)tlen);
    size_t pad =
        (size_t)(item->valuestring[tlen - 1] == '=') + (size_t)(item->valuestring[tlen - 2] == '=');
    ASSERT(n >= 0 && (size_t)n - pad == left && memcmp(dec, bytes, left) == 0);
    free(dec);
    cJSON_Delete(json);
    free(body);
done:
    sha256_stream_free(layer);
    free(bytes);
    free(registry);
    free(repo);
    free(upload);
    return 0;
}
