/* Every parser of ECR replies over arbitrary bytes: no crash, no over-read, sane outputs. */
#include "engine/ecr_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_layer(const char *digest, bool available, void *user)
{
    (void)available;
    if (strlen(digest) > 1u << 20)
        abort();
    (*(int *)user)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct ecr_error e;
    ecr_parse_error(s, size, &e);
    if (memchr(e.exception, '\0', sizeof e.exception) == NULL ||
        memchr(e.message, '\0', sizeof e.message) == NULL)
        abort();
    char id[64];
    uint64_t n;
    ecr_parse_initiate(s, size, id, sizeof id, &n);
    ecr_parse_upload_part(s, size, &n);
    char digest[80];
    ecr_parse_complete(s, size, digest, sizeof digest);
    if (ecr_parse_put_image(s, size, digest, sizeof digest) == 0 &&
        !memchr(digest, '\0', sizeof digest))
        abort();
    char uri[64];
    if (ecr_parse_create_repository(s, size, uri, sizeof uri) == 0 &&
        !memchr(uri, '\0', sizeof uri))
        abort();
    int count = 0;
    int rc = ecr_parse_batch_check(s, size, on_layer, &count);
    if (rc >= 0 && rc != count)
        abort();
    return 0;
}
