/* The request handler of `ecrup serve` (server/api.h), without sockets: the dispatch, the
 * JSON of every operation and the streaming UploadLayerPart parser.
 *
 * Input: byte 0 picks the operation by its index in the server's table (srv_operation_name;
 * one past the last is an unknown one) and bit 7 the sink mode, byte 1 seeds the chunking of
 * the body, the rest is the body. The literal upload id 00000000-0000-4000-8000-000000000000
 * in the body is replaced by a live upload's id so parts reach the upload logic. The
 * registry keeps its state in memory (no data directory) across inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api.h"
#include "server/registry.h"

/* The server's own operation table, then one name it does not have. */
static size_t n_ops(void)
{
    size_t n = 0;
    while (srv_operation_name(n))
        n++;
    return n + 1;
}

static const char *op_at(size_t i)
{
    const char *name = srv_operation_name(i);
    return name ? name : "Unknown";
}

static struct registry *regs[2];
static char upload_ids[2][37];

static void setup(int i)
{
    struct registry_config cfg = {
        .sink = i == 1, .part_size = 64 * 1024, .base_url = "http://127.0.0.1:1"};
    struct ebuf err = EBUF_INIT;
    regs[i] = registry_open(&cfg, &err);
    ebuf_free(&err);
    if (!regs[i])
        abort();
    struct srv_reply r = {0, EBUF_INIT, NULL};
    registry_create_repository(regs[i], "repo", NULL, NULL, NULL, &r);
    ebuf_reset(&r.body);
    registry_initiate_upload(regs[i], "repo", &r);
    const char *p = strstr(ebuf_str(&r.body), "\"uploadId\":\"");
    if (!p)
        abort();
    memcpy(upload_ids[i], p + 12, 36);
    upload_ids[i][36] = '\0';
    ebuf_free(&r.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int mode = data[0] >> 7;
    if (!regs[mode])
        setup(mode);
    const char *op = op_at((data[0] & 0x7f) % n_ops());
    unsigned seed = data[1];
    size_t n = size - 2;
    char *body = malloc(n + 1);
    if (!body)
        return 0;
    memcpy(body, data + 2, n);
    static const char placeholder[] = "00000000-0000-4000-8000-000000000000";
    for (char *p = body; (p = memmem(p, n - (size_t)(p - body), placeholder, 36)) != NULL; p += 36)
        memcpy(p, upload_ids[mode], 36);

    char target[128];
    snprintf(target, sizeof target, "%s%s", SRV_TARGET_PREFIX, op);
    struct srv_call *c = srv_call_begin(regs[mode], target);
    if (!c)
        abort();
    size_t off = 0;
    while (off < n) {
        size_t chunk = seed ? 1 + (seed * 7919u + off) % (seed * 4u) : n - off;
        if (chunk > n - off)
            chunk = n - off;
        srv_call_feed(c, body + off, chunk);
        off += chunk;
    }
    struct srv_reply r = {0, EBUF_INIT, NULL};
    if (seed != 255)
        srv_call_finish(c, &r);
    /* Every reply is JSON with a status the HTTP layer can send. */
    if (seed != 255 &&
        (r.status < 200 || r.status > 599 || r.body.len == 0 || r.body.data[0] != '{'))
        abort();
    srv_call_free(c);
    ebuf_free(&r.body);
    free(body);
    return 0;
}
