/* libFuzzer target over a repository's change journal (server/repolog.c): the record reader
 * over arbitrary bytes, and the same bytes replayed as a repository's journal at start. Beyond
 * "no crash, no over-read": every record read lies inside the input, follows the one before,
 * carries its CRC, and framing its JSON again gives its bytes back; a start either loads the
 * repository or refuses with a message. The data directory is made at the first input (one
 * repository holding one image, whose manifest a putImage record may name) and removed at
 * exit. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/registry.h"
#include "server/repolog.h"

static char dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct registry *open_dir(struct ebuf *err)
{
    struct registry_config cfg = {.data_dir = dir, .base_url = "http://127.0.0.1:1"};
    return registry_open(&cfg, err);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/ecrup-fuzz-repolog-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    struct ebuf err = EBUF_INIT;
    struct registry *reg = open_dir(&err);
    if (!reg)
        abort();
    struct srv_reply r = {0, EBUF_INIT, NULL};
    registry_create_repository(reg, "r", NULL, NULL, NULL, &r);
    ebuf_reset(&r.body);
    /* sha256:dff9de10919148711140d349bf03f1a99eb06f94b03e51715ccebfa7cdc518e2 */
    registry_put_image(reg, "r",
                       "{\"schemaVersion\":2,\"mediaType\":"
                       "\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}",
                       NULL, "t", NULL, &r);
    if (r.status != 200)
        abort();
    ebuf_free(&r.body);
    ebuf_free(&err);
    registry_free(reg);
}

static void read_records(const char *data, size_t size)
{
    size_t off = 0, n;
    const char *json;
    struct ebuf again = EBUF_INIT;
    for (;;) {
        size_t at = off;
        if (!repolog_next(data, size, &off, &json, &n)) {
            if (off != at)
                abort();
            break;
        }
        if (json != data + at + REPOLOG_HEADER || off > size || off != at + REPOLOG_HEADER + n + 1)
            abort();
        ebuf_reset(&again);
        repolog_frame(&again, json, n);
        if (again.len != off - at || memcmp(again.data, data + at, again.len) != 0)
            abort();
    }
    ebuf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_records((const char *)data, size);
    if (!dir[0])
        setup();
    char path[128];
    snprintf(path, sizeof path, "%s/repos/r.log", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    struct ebuf err = EBUF_INIT;
    struct registry *reg = open_dir(&err);
    if (!reg) {
        if (!err.len)
            abort();
    } else if (!registry_has_repository(reg, "r")) {
        abort();
    }
    registry_free(reg);
    ebuf_free(&err);
    return 0;
}
