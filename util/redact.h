/* The one place secrets are masked before anything is printed or logged.
 *
 * redact_append() copies text with these replaced by REDACT_MASK:
 *  - the value after "Signature=" (Authorization headers, presigned X-Amz-Signature=); the
 *    Credential (access key id and scope) stays visible, as the AWS SDKs log it;
 *  - Authorization values of any other scheme (Basic, Bearer, a bare container token),
 *    keeping the scheme name;
 *  - values of x-amz-security-token, x-aws-ec2-metadata-token, aws_secret_access_key,
 *    aws_session_token, aws_security_token, aws_container_authorization_token, and of the
 *    JSON/XML fields SecretAccessKey, SessionToken, Token, AuthorizationToken, password
 *    (names case-insensitive; "name: v", "name = v", "name=v", "\"name\": \"v\"", <Name>v<);
 *  - every occurrence of a string registered with redact_register_secret().
 * It errs on the side of masking: an ambiguous value is masked.
 *
 * Thread safety: every function may be called from any thread; the registry is locked. */
#ifndef ECRUP_UTIL_REDACT_H
#define ECRUP_UTIL_REDACT_H

#include <stddef.h>

#include "util/buf.h"

#define REDACT_MASK "***"
/* Registered strings shorter than this are ignored: masking every "abc" in a log would
 * destroy it and such short strings are not credentials. */
#define REDACT_MIN_SECRET 8

/* Append `len` bytes of `text` to `out` with secrets masked. When memory runs out the whole
 * text is replaced by REDACT_MASK (fails closed). */
void redact_append(struct ebuf *out, const char *text, size_t len);
/* redact_append() for a C string (NULL appends nothing). */
void redact_puts(struct ebuf *out, const char *text);

/* Remember `secret` (copied) so that every later redact_append() masks it. Registering the
 * same string twice needs two unregisters. Returns 0, or -1 when out of memory. Strings
 * shorter than REDACT_MIN_SECRET are accepted and ignored. */
int redact_register_secret(const char *secret);
/* Forget one registration of `secret` (its copy is wiped when the last one goes). */
void redact_unregister_secret(const char *secret);
/* Forget and wipe every registered secret (tests, shutdown). */
void redact_clear_secrets(void);

#endif
