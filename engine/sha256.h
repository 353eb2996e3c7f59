/* SHA-256 for the prepare stage: a running hash the payload code can advance together with a
 * second one and with the base64 encoder, in one loop.
 *
 * Why not only OpenSSL: with the SHA extensions (SHA-NI) one message keeps the CPU's SHA unit
 * busy only part of the time, because every pair of rounds waits for the one before it
 * (sha256rnds2 has a latency of several cycles and a throughput of one every two or so). The
 * layer digest and the body hash are independent messages, so interleaving their rounds fills
 * the gaps; and the encoder's few vector operations per block fit in the gaps as well. OpenSSL
 * hashes one message per call and has no such interface. docs/payload.md has the figures.
 *
 * On CPUs without SHA-NI, SSSE3 and SSE4.1 (and wherever ECRUP_SHA256=openssl is set) a
 * stream is a thin wrapper around OpenSSL's EVP_sha256() and the payload code takes its
 * OpenSSL path. The native code is checked against OpenSSL in tests/unit/payload.
 *
 * Thread safety: a stream belongs to one thread at a time; the functions are reentrant. */
#ifndef ECRUP_ENGINE_SHA256_H
#define ECRUP_ENGINE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* The environment variable that picks the implementation: "native" (the default where the
 * CPU has SHA-NI) or "openssl". Read once per process. */
#define SHA256_ENV "ECRUP_SHA256"

struct sha256_stream {
    EVP_MD_CTX *evp;       /* the OpenSSL path: everything goes here; NULL when native */
    uint32_t h[8];         /* native: the chaining value */
    uint64_t len;          /* native: bytes absorbed so far, buffered ones included */
    size_t buf_len;        /* native: bytes waiting in buf (0..63) */
    unsigned char buf[64]; /* native: the partial block */
};

/* True when this process uses the native code: the CPU and OS run it and the environment
 * does not ask for OpenSSL. */
bool sha256_native(void);

/* True when the CPU could run the native code, whatever the environment says. */
bool sha256_native_available(void);

/* Start a stream: native when `native` is true and sha256_native_available(), else OpenSSL.
 * Returns 0, or -1 when OpenSSL cannot allocate (nothing to free then). */
int sha256_stream_init(struct sha256_stream *s, bool native);

/* Absorb `n` bytes. Returns 0, or -1 when OpenSSL failed (the stream is then unusable). */
int sha256_stream_update(struct sha256_stream *s, const void *data, size_t n);

/* Absorb into two streams at once, side by side through the two-lane SHA-NI loop (about 3/4
 * of the CPU of two updates): the longest run of whole blocks both have, min(na, nb) rounded
 * down to 64 bytes, from `pa` into `a` and from `pb` into `b`. Only when both streams are
 * native and neither holds a partial block; otherwise nothing. Returns the bytes absorbed
 * into each (0: none); the caller feeds the rest of each with sha256_stream_update(). */
size_t sha256_stream_update_pair(struct sha256_stream *a, const void *pa, size_t na,
                                 struct sha256_stream *b, const void *pb, size_t nb);

/* Finish into `md` (32 bytes). The stream may only be freed afterwards. 0 or -1. */
int sha256_stream_final(struct sha256_stream *s, unsigned char md[32]);

/* Release what init took. Safe on a zeroed or already-freed stream. */
void sha256_stream_free(struct sha256_stream *s);

/* The native kernels (engine/sha256_ni.c), x86-64 only, callable only when
 * sha256_native_available(). Chaining words are in FIPS 180-4 order.
 *
 * One lane of the fused loop: iteration j hashes the 64-byte block at data + 64 j into `h`
 * and then, when `enc_dst` is not NULL, base64-encodes the 48 bytes at enc_src + 48 j into the
 * 64 characters at enc_dst + 64 j. Within an iteration every lane's block is loaded before
 * any lane writes text, so a lane's `data` may be text an earlier iteration wrote (that is
 * how a body is hashed as it is written). */
struct sha256_ni_lane {
    uint32_t *h;
    const unsigned char *data;
    const unsigned char *enc_src;
    char *enc_dst;
};

/* `n` blocks of one message. */
void sha256_ni_blocks(uint32_t h[8], const unsigned char *data, size_t n);

/* `n` iterations of lane `a` and, when `b` is not NULL, of lane `b` interleaved with it. */
void sha256_ni_fused(const struct sha256_ni_lane *a, const struct sha256_ni_lane *b, size_t n);

#endif
