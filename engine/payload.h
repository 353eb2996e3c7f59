/* The UploadLayerPart request body, made from a part's bytes:
 *
 *   {"registryId":"R","repositoryName":"N","uploadId":"U","partFirstByte":F,
 *    "partLastByte":L,"layerPartBlob":"<base64>"}
 *
 * (one line, no spaces; registryId only when given; the member order botocore uses).
 *
 * The engine never holds a whole body: payload_hash() encodes the part in cache-sized blocks
 * through a small window, feeding the raw bytes to the layer's running SHA-256 and the text to
 * the body's own (the SigV4 payload hash) while each is still in cache, then drops the text;
 * a payload_stream then writes the same body again, straight from the raw bytes, into
 * whatever buffer the transport offers (libcurl's upload buffer). Encoding is cheap next to
 * hashing (docs/payload.md has the measurements), so the second encode costs far less than
 * the memory, page faults and copies of a body 4/3 the size of the part. payload_write()
 * materializes the body in one buffer, for tests and tools.
 *
 * Thread safety: reentrant. One part at a time per layer digest context, in order. */
#ifndef ECRUP_ENGINE_PAYLOAD_H
#define ECRUP_ENGINE_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ecrup.h>

#include "engine/sha256.h"

/* Raw bytes per block when payload_options.block is 0: 12 KiB in, 16 KiB of text out, so a
 * block and its text fit in a 32 KiB L1 data cache together (docs/payload.md). */
#define PAYLOAD_DEFAULT_BLOCK (12u * 1024u)

/* One part of one layer upload. Every pointer is borrowed for the duration of the call. */
struct payload_part {
    const uint8_t *data;         /* the part's bytes; at least 1 */
    size_t len;                  /* partLastByte = first_byte + len - 1 */
    uint64_t first_byte;         /* partFirstByte: offset of data[0] in the layer */
    const char *repository_name; /* NUL-terminated; any bytes, JSON-escaped as needed */
    const char *registry_id;     /* NULL: the member is omitted (the caller's account) */
    const char *upload_id;       /* from InitiateLayerUpload */
};

struct payload_options {
    /* Base64 encoder; AUTO (0) means the best this CPU runs (resolve the environment with
     * b64_resolve() once, up front). */
    ecrup_base64_backend backend;
    /* The layer's running SHA-256, owned by the caller (sha256_stream_init); the part's raw
     * bytes are added to it. NULL when the layer digest is known already. */
    struct sha256_stream *layer_sha256;
    /* The OpenSSL path only: raw bytes per block, rounded down to a multiple of 3 (at least
     * 3); 0 means PAYLOAD_DEFAULT_BLOCK. SIZE_MAX: no blocking, three passes over the part. */
    size_t block;
    /* AUTO: the native SHA-256 path (raw hash, body hash and encoding in one loop) wherever
     * payload_native() allows it; OPENSSL: OpenSSL's SHA-256 and the chosen encoder. */
    enum payload_sha256_path { PAYLOAD_SHA256_AUTO, PAYLOAD_SHA256_OPENSSL } sha256;
};

struct payload_result {
    size_t body_len;          /* bytes written to the body; no NUL */
    char body_sha256_hex[65]; /* lowercase hex SHA-256 of the body, NUL-terminated */
};

/* The exact length of the body for `part`; 0 when the part is invalid (no data, NULL
 * strings, partLastByte beyond 2^63 - 1) or the length does not fit in size_t. */
size_t payload_body_size(const struct payload_part *part);

/* Write the body for `part` into `body` (`cap` bytes, at least payload_body_size()), hash it
 * and, when options->layer_sha256 is set, add the raw bytes to the layer digest.
 * `options` may be NULL (all defaults). Returns ECRUP_OK; ECRUP_E_INVALID_ARGUMENT when the
 * part is invalid or `cap` too small (nothing written, nothing hashed); ECRUP_E_NOMEM or
 * ECRUP_E_INTERNAL when OpenSSL fails (the layer digest is then unusable). */
ecrup_status payload_write(const struct payload_part *part, const struct payload_options *options,
                           char *body, size_t cap, struct payload_result *result);

/* The body's length and SHA-256 for `part`, and the raw bytes added to options->layer_sha256
 * when set, as payload_write() gives them, without writing the body anywhere but a small
 * window it allocates (a few tens of KiB; freed before returning). Errors as payload_write(). */
ecrup_status payload_hash(const struct payload_part *part, const struct payload_options *options,
                          struct payload_result *result);

/* Two bodies at once, as two payload_write() calls would write them, with the same options.
 * On the native path without a layer digest (options->layer_sha256 NULL) the two body hashes
 * run interleaved in one loop, each with its encoding (the pair costs about 3/4 of two
 * calls); otherwise it is exactly two calls. Returns the first error; on the native path
 * ECRUP_E_INVALID_ARGUMENT comes before anything is written. */
ecrup_status payload_write_pair(const struct payload_part *parts[2],
                                const struct payload_options *options, char *bodies[2],
                                const size_t caps[2], struct payload_result *results[2]);

/* payload_write_pair() for payload_hash(): two bodies hashed, none written. */
ecrup_status payload_hash_pair(const struct payload_part *parts[2],
                               const struct payload_options *options,
                               struct payload_result *results[2]);

/* The body as a stream: read it in pieces of any size, from the raw bytes the part borrows
 * (which must stay put while the stream is read), byte for byte the body payload_write()
 * writes. Rewind to send it again. No allocation; not thread-safe (one reader at a time). */
#define PAYLOAD_MEMBERS_MAX 4096 /* the JSON before the blob, names escaped at worst */
struct payload_stream {
    const uint8_t *raw;
    size_t len;                /* raw bytes */
    size_t members_len;        /* bytes of members[] */
    size_t blob_len, body_len; /* base64 text; the whole body */
    size_t pos;                /* the next body byte to read */
    ecrup_base64_backend backend;
    char members[PAYLOAD_MEMBERS_MAX];
};

/* Start a stream of `part`'s body encoded with `backend` (AUTO, or one this CPU cannot run:
 * the best one; every encoder writes the same text). ECRUP_E_INVALID_ARGUMENT when the part
 * is invalid or its members exceed PAYLOAD_MEMBERS_MAX. */
ecrup_status payload_stream_init(struct payload_stream *s, const struct payload_part *part,
                                 ecrup_base64_backend backend);

/* Up to `cap` more bytes of the body into `dst`; 0 at the end. */
size_t payload_stream_read(struct payload_stream *s, char *dst, size_t cap);

/* Back to the body's first byte. */
void payload_stream_rewind(struct payload_stream *s);

/* True when payload_write() takes the native path for these options: sha256_native(), not
 * forced to OpenSSL, a native layer stream (or none) and an encoder other than scalar (the
 * native loop encodes with SSSE3 steps; a forced scalar encoder keeps the OpenSSL path, so
 * every encoder stays testable through the writer). */
bool payload_native(const struct payload_options *options);

#endif
