/* Base64 (RFC 4648, standard alphabet, '=' padding, no line breaks) for UploadLayerPart bodies.
 *
 * Several encoders behind one small table, chosen once at run time from CPUID and XGETBV:
 * AVX-512 VBMI, AVX2, SSSE3 (x86-64 only, each file built with its own target flags so the
 * library runs on any x86-64) and a portable table-driven one. Every SIMD encoder clears the
 * upper vector state (vzeroupper) before it returns: left dirty, it slows the SSE code OpenSSL
 * runs next (SHA-NI) on some CPUs.
 *
 * Encoding is position independent in groups of 3 bytes, so a buffer encoded in chunks whose
 * lengths are multiples of 3 (the last excepted) gives exactly the text of one call, whatever
 * encoder each chunk used.
 *
 * Thread safety: every function is reentrant. The CPU probe runs once and is cached. */
#ifndef ECRUP_ENGINE_BASE64_H
#define ECRUP_ENGINE_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ecrup.h>

/* The environment variable that forces an encoder when ECRUP_BASE64_AUTO is asked for:
 * "scalar", "ssse3", "avx2" or "avx512". */
#define B64_ENV "ECRUP_BASE64_BACKEND"

/* Characters of the encoding of `len` bytes, padding included: 4 * ceil(len / 3).
 * SIZE_MAX when that does not fit in size_t. */
size_t b64_encoded_len(size_t len);

/* True when this build contains `backend` and this CPU and OS can run it (AUTO: true). */
bool b64_backend_available(ecrup_base64_backend backend);

/* The best backend this CPU runs, ignoring the environment. */
ecrup_base64_backend b64_backend_best(void);

/* "scalar", "ssse3", "avx2", "avx512" ("auto" for AUTO, "?" for anything else). */
const char *b64_backend_name(ecrup_base64_backend backend);

/* Parse a name as b64_backend_name() spells it (case-insensitive). 0, or -1 when unknown. */
int b64_backend_from_name(const char *name, ecrup_base64_backend *out);

/* The backend to use when `want` is asked for: AUTO means $ECRUP_BASE64_BACKEND when set
 * (non-empty), else b64_backend_best(). Returns 0 and a concrete backend in *out, or -1 when
 * the forced backend (by argument or environment) is unknown or cannot run here. */
int b64_resolve(ecrup_base64_backend want, ecrup_base64_backend *out);

/* Encode `len` bytes of `src` into `dst` (room for b64_encoded_len(len) characters; no NUL
 * is written) with `backend`. AUTO, or a backend that cannot run here, falls back to
 * b64_backend_best() so a bad value never executes an illegal instruction. `dst` and `src`
 * must not overlap. Returns the number of characters written. */
size_t b64_encode(ecrup_base64_backend backend, char *dst, const void *src, size_t len);

/* The encoders themselves, for the dispatcher; call b64_encode() instead. Each has the
 * contract of b64_encode(). The SIMD ones exist only on x86-64 and may run only when
 * b64_backend_available() says so. */
size_t b64_encode_scalar(char *dst, const uint8_t *src, size_t len);
#if defined(__x86_64__)
size_t b64_encode_ssse3(char *dst, const uint8_t *src, size_t len);
size_t b64_encode_avx2(char *dst, const uint8_t *src, size_t len);
size_t b64_encode_avx512(char *dst, const uint8_t *src, size_t len);
#endif

#endif
