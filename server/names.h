/* The model's patterns for what a request names: repositories (ECR's rule, util/ecr_name.h),
 * layer digests and upload ids, and the one digest form the registry stores. Pure. */
#ifndef ECRUP_SERVER_NAMES_H
#define ECRUP_SERVER_NAMES_H

#include <stdbool.h>
#include <stddef.h>

bool valid_repository_name(const char *s);
bool valid_layer_digest(const char *s); /* LayerDigest's pattern */
bool valid_upload_id(const char *s);
/* "sha256:<64 hex>" in lowercase into out; false when `s` is not a sha256 digest. */
bool srv_normal_sha256(const char *s, char out[72]);

/* A media type as RFC 6838 names them, type "/" subtype of its restricted-name characters,
 * 127 at most each (MEDIA_TYPE_MAX in all). The model gives MediaType no limit; without one a
 * single PutImage could make its repository's state file megabytes long. */
#define MEDIA_TYPE_MAX 255
bool valid_media_type(const char *s);

/* True when a string of the JSON text s[0, n) holds a NUL, written \u0000 or raw: cJSON ends
 * the string there, so a member would silently lose its tail ("a\u0000evil" read as "a").
 * `member` (cap bytes) gets the top-level member it is in, "" for a key or a NUL outside any
 * member. Judges nothing else: the text may be invalid JSON, which the parser refuses after. */
bool json_has_nul(const char *s, size_t n, char *member, size_t cap);

#endif
