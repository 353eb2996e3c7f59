/* DPoP proofs (RFC 9449) for the sign-in service's CreateOAuth2Token, as botocore's
 * _build_dpop_header makes them: an ES256 JWT whose header carries the public half of the key
 * `aws login` generated (typ "dpop+jwt", alg "ES256", jwk {kty, x, y, crv}) and whose claims
 * bind it to one request (htm "POST", htu the URL, iat, jti a random UUID). The refresh token
 * is bound to that key, so a stolen refresh token is useless without the key.
 *
 * OpenSSL 3 EVP only. Thread safety: reentrant; the key is read-only once loaded. */
#ifndef ECRUP_SIGNER_DPOP_H
#define ECRUP_SIGNER_DPOP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <ecrup.h>

#include "util/buf.h"

typedef struct evp_pkey_st EVP_PKEY;

/* The cache's dpopKey: an EC P-256 private key as PEM ("EC PRIVATE KEY" or "PRIVATE KEY"), or
 * the same base64 DER without the armour lines, which botocore also takes (it drops every line
 * starting with "-----" and decodes the rest). NULL when it is not one; no message, since the
 * caller names the file and nothing here may quote the key. Free with EVP_PKEY_free(). */
EVP_PKEY *dpop_key_load(const char *text);

/* `n` bytes as unpadded base64url (RFC 4648 section 5), appended to `out`. */
void dpop_base64url(const unsigned char *in, size_t n, struct ebuf *out);

/* A DER ECDSA-Sig-Value (SEQUENCE of INTEGER r, INTEGER s), as EVP_DigestSign gives it, as the
 * 64 bytes r || s (each left-padded to 32) that JWS ES256 wants. False when `der` is not one,
 * has trailing bytes, or r or s does not fit 32 bytes. Pure. */
bool dpop_der_to_jws(const unsigned char *der, size_t len, unsigned char out[64]);

/* The proof for a POST to `url` at `iat` with `jti` (NULL: a random version 4 UUID), appended
 * to `out`: base64url(header) "." base64url(claims) "." base64url(r || s). ECRUP_OK;
 * ECRUP_E_CREDENTIALS when the key is not EC P-256 or OpenSSL refuses to sign; ECRUP_E_NOMEM.
 * The proof is a credential for one request: never log it. */
ecrup_status dpop_proof(EVP_PKEY *key, const char *url, time_t iat, const char *jti,
                        struct ebuf *out);

#endif
