/* Lowercase hex, and the SHA-256-as-hex that SigV4 and digests are made of. */
#ifndef ECRUP_UTIL_HEX_H
#define ECRUP_UTIL_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* `n` bytes as 2n lowercase hex digits plus a NUL at out[2n]. */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* SHA-256 of `len` bytes as 64 lowercase hex digits plus a NUL (OpenSSL EVP). False only
 * when OpenSSL fails. */
bool sha256_hex(const void *data, size_t len, char out[65]);

/* "sha256:" and the SHA-256 of `len` bytes as 64 lowercase hex digits plus a NUL: a digest as
 * ECR and OCI name blobs and manifests. False only when OpenSSL fails. */
bool sha256_digest(const void *data, size_t len, char out[72]);

/* True for "sha256:" followed by exactly 64 lowercase hex digits, the only digest form ECR's
 * layer APIs take. */
bool sha256_digest_valid(const char *digest);

/* A random (version 4) UUID, lowercase, NUL-terminated. False when the random source fails
 * (out then holds all zeros, still well formed). */
bool uuid4(char out[37]);

#endif
