/* Incremental parser for the body of UploadLayerPart, the one request too big to buffer.
 *
 * The body is a JSON object of a few small fields plus `layerPartBlob`, a base64 string of up
 * to 20 MiB (a ~27 MB body). The parser takes the body in whatever chunks the HTTP layer
 * hands it, keeps the small fields, and decodes the blob as it streams, passing decoded bytes
 * to a callback; memory stays a few KiB whatever the part size. Members may come in any order
 * (botocore keeps the caller's order), so the blob may arrive before the uploadId.
 *
 * Count-only mode (the server's --sink) does no per-byte work on the blob beyond memchr for
 * its closing quote: it counts characters and derives the decoded size from the padding. It
 * therefore does not validate the base64 alphabet, and a blob written with JSON escapes
 * ("\/") counts wrong, which the caller sees as a size mismatch.
 *
 * Owned by one request; touched by the thread that runs that request's callbacks. */
#ifndef ECRUP_SERVER_PARTBODY_H
#define ECRUP_SERVER_PARTBODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct partbody;

struct partbody_hooks {
    /* The blob starts; the fields seen so far are in the parser. Return 0 or -1 to refuse
     * (the parser then fails with the message the hook set with partbody_fail()). May be NULL. */
    int (*blob_start)(void *user, struct partbody *p);
    /* Decoded blob bytes, in order; `data` lives only during the call. Return 0 or -1 (as
     * above). NULL in count-only mode. */
    int (*blob_data)(void *user, struct partbody *p, const uint8_t *data, size_t n);
    void *user;
};

struct partbody {
    /* Results, valid once partbody_finish() returned 0 (the strings are NUL-terminated). */
    char registry_id[16];
    char repository_name[260];
    char upload_id[40];
    int64_t part_first_byte;
    int64_t part_last_byte;
    uint64_t blob_size; /* decoded bytes */
    bool has_registry_id, has_repository_name, has_upload_id, has_first, has_last, has_blob;

    /* The first error, "" when none. `error_type` is the ECR exception name. */
    const char *error_type;
    char error[200];

    /* Parser state (private). */
    struct partbody_hooks hooks;
    bool count_only;
    int state;
    int field; /* which member the value belongs to */
    char key[24];
    size_t key_len;
    bool key_long;
    bool esc;
    char sval[300];
    size_t sval_len;
    bool sval_long;
    char num[24];
    size_t num_len;
    int skip_depth;
    bool skip_in_str, skip_esc;
    uint32_t quad;
    int nq, pad;
    uint64_t blob_chars;
    char tail[2];
    uint8_t out[65536];
    size_t out_len;
};

/* Start parsing. `hooks` is copied. */
void partbody_init(struct partbody *p, bool count_only, const struct partbody_hooks *hooks);
/* Feed the next chunk. Returns 0, or -1 once the body is known bad (further calls are no-ops
 * returning -1, so the caller may keep draining the connection). */
int partbody_feed(struct partbody *p, const void *data, size_t n);
/* The body ended. Returns 0 when it was one complete object with every required member and
 * well-formed values, -1 otherwise (error_type/error say why). */
int partbody_finish(struct partbody *p);
/* Record a failure from a hook (the first one wins). */
void partbody_fail(struct partbody *p, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
