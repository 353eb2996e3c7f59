/* The registry API's read path (OCI distribution spec, pull side) as pure functions over the
 * request's strings: which route a path names, the Range a blob GET asks for, whether an Accept
 * header takes a media type, the `n` of a tags page, the password of a Basic Authorization,
 * and the query escaping of a Link header. No I/O, no allocation: server/v2.c calls them and
 * tests/fuzz/fuzz_v2_route.c drives them with arbitrary input. */
#ifndef ECRUP_SERVER_V2ROUTE_H
#define ECRUP_SERVER_V2ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum v2_kind {
    V2_UNKNOWN,  /* under /v2/ but no route: 404 */
    V2_BASE,     /* /v2/ (or /v2) */
    V2_MANIFEST, /* /v2/<name>/manifests/<reference> */
    V2_BLOB,     /* /v2/<name>/blobs/<digest> */
    V2_TAGS,     /* /v2/<name>/tags/list */
};

/* A route, its name and reference checked against the model's patterns (names.h). */
struct v2_route {
    enum v2_kind kind;
    char name[257];      /* RepositoryName; "" for V2_BASE and V2_UNKNOWN */
    char reference[301]; /* V2_MANIFEST: a tag, or a digest normalised to lowercase sha256;
                            V2_BLOB: the digest normalised; else "" */
    bool by_digest;      /* V2_MANIFEST: reference is a digest */
    /* NULL, or the OCI error code the route is refused with before the store is asked:
     * NAME_INVALID (400), DIGEST_INVALID (400), MANIFEST_UNKNOWN or BLOB_UNKNOWN (404: a
     * reference no image or layer here can have, e.g. a sha512 digest or a 301-character
     * tag). `why` says what was wrong (static text). */
    const char *error;
    const char *why;
};

/* Route `path` (the URL's path, percent-decoded, without the query). Names may contain '/', so
 * the route's keyword is found from the right: /v2/a/blobs/manifests/x is the manifest x of
 * repository "a/blobs". False when the path is not under /v2 at all. */
bool v2_route_parse(const char *path, struct v2_route *out);

enum v2_range {
    V2_RANGE_WHOLE,         /* no Range (or one this server ignores): 200 with every byte */
    V2_RANGE_PART,          /* 206, bytes [*first, *last] */
    V2_RANGE_UNSATISFIABLE, /* 416 with "Content-Range: bytes * / size" */
};

/* The Range header `h` (NULL: none) of a GET of `size` bytes. One "bytes=" range, in any of
 * its three forms (a-b, a-, -n), is served; a last byte past the end is cut to the end.
 * Another unit, or several ranges, are ignored (RFC 9110 lets a server serve the whole
 * representation instead). A malformed bytes range, one that starts at or past the end, or a
 * suffix of zero bytes is unsatisfiable. */
enum v2_range v2_range_parse(const char *h, uint64_t size, uint64_t *first, uint64_t *last);

/* True when the Accept header value `accept` takes `media_type`: a media range equal to it
 * (case-insensitive, parameters other than q ignored), its type with the subtype "*", or "*"
 * for both, with q above 0.
 * NULL or blank `accept` takes anything. */
bool v2_accepts(const char *accept, const char *media_type);

/* The `n` of a tags/list query: NULL (absent) gives -1, meaning every tag; a decimal from 0 to
 * 10000 gives itself. False for anything else (PAGINATION_NUMBER_INVALID). */
bool v2_page_size(const char *n, long *out);

/* The password of an Authorization header carrying Basic credentials for user "AWS", the
 * only user ECR's tokens name, into pw[cap]. False for no header, another scheme or user,
 * malformed base64, or a password that does not fit. */
bool v2_basic_password(const char *authorization, char *pw, size_t cap);

/* `s` percent-encoded for a query value (everything but RFC 3986's unreserved characters)
 * into out[cap]. False when it does not fit. */
bool v2_query_escape(const char *s, char *out, size_t cap);

#endif
