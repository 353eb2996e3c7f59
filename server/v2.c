/* The registry API's read path over libmicrohttpd (v2.h): authentication, then manifests,
 * blobs and tags from the registry, with the spec's headers and error bodies. */
#include "server/v2.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/registry.h"
#include "server/v2route.h"

/* Queue `resp` (consumed) with the headers every /v2 reply carries. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp,
                             const char *content_type)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static struct MHD_Response *text_response(const char *body)
{
    char *copy = strdup(body);
    struct MHD_Response *resp =
        copy ? MHD_create_response_from_buffer(strlen(copy), copy, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp)
        free(copy);
    return resp;
}

/* An error body of the spec: {"errors":[{"code":..., "message":...}]}. Also the response to
 * HEAD, whose body MHD leaves out. */
static struct MHD_Response *error_response(const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static struct MHD_Response *error_response(const char *code, const char *fmt, va_list ap)
{
    char msg[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "errors"), e);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    struct MHD_Response *resp = body ? text_response(body) : NULL;
    free(body);
    return resp;
}

static enum MHD_Result oci_error(struct MHD_Connection *c, unsigned status, const char *code,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result oci_error(struct MHD_Connection *c, unsigned status, const char *code,
                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *resp = error_response(code, fmt, ap);
    va_end(ap);
    return queue(c, status, resp, "application/json");
}

/* 401 as ECR answers it: the realm is this registry, the service ECR's. */
static enum MHD_Result unauthorized(struct MHD_Connection *c, const char *base_url, const char *fmt,
                                    ...) __attribute__((format(printf, 3, 4)));
static enum MHD_Result unauthorized(struct MHD_Connection *c, const char *base_url, const char *fmt,
                                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *resp = error_response("UNAUTHORIZED", fmt, ap);
    va_end(ap);
    if (resp) {
        char challenge[300];
        snprintf(challenge, sizeof challenge, "Basic realm=\"%s/\",service=\"ecr.amazonaws.com\"",
                 base_url);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
    }
    return queue(c, MHD_HTTP_UNAUTHORIZED, resp, "application/json");
}

static const char *query(struct MHD_Connection *c, const char *key)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

/* Every Accept header of the request, as Go's clients (skopeo, docker) send one per type. */
struct accept_scan {
    const char *media_type;
    bool seen, ok;
};

static enum MHD_Result scan_accept(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct accept_scan *a = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_ACCEPT) != 0 || !value || !*value)
        return MHD_YES;
    a->seen = true;
    a->ok = a->ok || v2_accepts(value, a->media_type);
    return MHD_YES;
}

static enum MHD_Result serve_manifest(struct registry *reg, struct MHD_Connection *c,
                                      const struct v2_route *rt)
{
    char *manifest = NULL, *media_type = NULL, digest[72];
    switch (registry_read_manifest(reg, rt->name, rt->reference, rt->by_digest, &manifest,
                                   &media_type, digest)) {
    case REGISTRY_NO_REPOSITORY:
        return oci_error(c, MHD_HTTP_NOT_FOUND, "NAME_UNKNOWN",
                         "The repository with name '%s' does not exist in the registry with id "
                         "'%s'",
                         rt->name, registry_account(reg));
    case REGISTRY_NO_IMAGE:
        return oci_error(c, MHD_HTTP_NOT_FOUND, "MANIFEST_UNKNOWN",
                         "Requested image not found: %s in repository %s", rt->reference, rt->name);
    case REGISTRY_FOUND:
        break;
    }
    struct accept_scan a = {media_type, false, false};
    MHD_get_connection_values(c, MHD_HEADER_KIND, scan_accept, &a);
    if (a.seen && !a.ok) {
        /* What registries answer when they hold the manifest in no form the client takes. */
        enum MHD_Result rc = oci_error(c, MHD_HTTP_NOT_FOUND, "MANIFEST_UNKNOWN",
                                       "The manifest %s is a %s, which the Accept header does "
                                       "not take",
                                       digest, media_type);
        free(manifest);
        free(media_type);
        return rc;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(manifest), manifest, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(manifest);
    else
        MHD_add_response_header(resp, "Docker-Content-Digest", digest);
    enum MHD_Result rc = queue(c, MHD_HTTP_OK, resp, media_type);
    free(media_type);
    return rc;
}

static enum MHD_Result serve_blob(struct registry *reg, struct MHD_Connection *c,
                                  const struct v2_route *rt)
{
    if (!registry_has_repository(reg, rt->name))
        return oci_error(c, MHD_HTTP_NOT_FOUND, "NAME_UNKNOWN",
                         "The repository with name '%s' does not exist in the registry with id "
                         "'%s'",
                         rt->name, registry_account(reg));
    uint64_t size = 0;
    int fd = registry_open_layer(reg, rt->name, rt->reference, &size);
    if (fd < 0 && registry_is_sink(reg))
        return oci_error(c, MHD_HTTP_NOT_FOUND, "BLOB_UNKNOWN",
                         "The server is a sink: it keeps no layer bytes");
    if (fd < 0)
        return oci_error(c, MHD_HTTP_NOT_FOUND, "BLOB_UNKNOWN",
                         "The layer %s does not exist in repository %s", rt->reference, rt->name);
    uint64_t first = 0, last = 0;
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    enum v2_range kind = v2_range_parse(range, size, &first, &last);
    char content_range[80];
    if (kind == V2_RANGE_UNSATISFIABLE) {
        close(fd);
        snprintf(content_range, sizeof content_range, "bytes */%" PRIu64, size);
        struct MHD_Response *resp = text_response("");
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
        return queue(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp, NULL);
    }
    struct MHD_Response *resp =
        kind == V2_RANGE_PART ? MHD_create_response_from_fd_at_offset64(last - first + 1, fd, first)
                              : MHD_create_response_from_fd64(size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Docker-Content-Digest", rt->reference);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (kind == V2_RANGE_PART) {
        snprintf(content_range, sizeof content_range, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                 first, last, size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
    }
    return queue(c, kind == V2_RANGE_PART ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, resp,
                 "application/octet-stream");
}

static void free_tags(char **tags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tags[i]);
    free(tags);
}

static enum MHD_Result serve_tags(struct registry *reg, struct MHD_Connection *c,
                                  const struct v2_route *rt)
{
    long page;
    const char *n_arg = query(c, "n"), *last = query(c, "last");
    if (!v2_page_size(n_arg, &page))
        return oci_error(c, MHD_HTTP_BAD_REQUEST, "PAGINATION_NUMBER_INVALID",
                         "n must be a number from 0 to 10000");
    char **tags = NULL;
    size_t n = 0;
    if (registry_read_tags(reg, rt->name, &tags, &n) != REGISTRY_FOUND)
        return oci_error(c, MHD_HTTP_NOT_FOUND, "NAME_UNKNOWN",
                         "The repository with name '%s' does not exist in the registry with id "
                         "'%s'",
                         rt->name, registry_account(reg));
    size_t start = 0;
    while (last && start < n && strcmp(tags[start], last) <= 0)
        start++;
    size_t count = page < 0 || (size_t)page > n - start ? n - start : (size_t)page;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", rt->name);
    cJSON *list = cJSON_AddArrayToObject(o, "tags");
    for (size_t i = start; i < start + count; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString(tags[i]));
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    struct MHD_Response *resp = body ? text_response(body) : NULL;
    free(body);
    /* The next page, when this one was cut short: the spec's Link with rel="next". */
    char esc[3 * 300 + 1];
    if (resp && count > 0 && start + count < n &&
        v2_query_escape(tags[start + count - 1], esc, sizeof esc)) {
        char link[sizeof esc + 400];
        snprintf(link, sizeof link, "</v2/%s/tags/list?n=%ld&last=%s>; rel=\"next\"", rt->name,
                 page, esc);
        MHD_add_response_header(resp, "Link", link);
    }
    free_tags(tags, n);
    return queue(c, MHD_HTTP_OK, resp, "application/json");
}

/* The blob route's own credentials: a download URL's query, when it has one. */
enum presigned { PRESIGNED_NONE, PRESIGNED_GOOD, PRESIGNED_BAD };

static enum presigned download_authorized(struct registry *reg, struct MHD_Connection *c,
                                          const struct v2_route *rt)
{
    const char *sig = query(c, "signature");
    if (rt->kind != V2_BLOB || !sig)
        return PRESIGNED_NONE;
    return !rt->error &&
                   registry_check_download(reg, rt->name, rt->reference, query(c, "expires"), sig)
               ? PRESIGNED_GOOD
               : PRESIGNED_BAD;
}

enum MHD_Result v2_serve(struct registry *reg, const char *base_url, struct MHD_Connection *c,
                         const char *method, const char *url)
{
    (void)method; /* GET and HEAD differ only in MHD leaving out the body */
    struct v2_route rt;
    if (!v2_route_parse(url, &rt))
        return oci_error(c, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                         "No such resource: the ECR API is POST /, the registry API under /v2/");
    enum presigned presigned = download_authorized(reg, c, &rt);
    if (presigned == PRESIGNED_BAD)
        return oci_error(c, MHD_HTTP_FORBIDDEN, "DENIED",
                         "The download URL has expired or is not one this server gave");
    if (presigned == PRESIGNED_NONE) {
        const char *auth =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        char pw[128];
        bool ok = v2_basic_password(auth, pw, sizeof pw) && registry_check_password(reg, pw);
        explicit_bzero(pw, sizeof pw);
        if (!auth)
            return unauthorized(c, base_url,
                                "Basic credentials are required: user AWS, the "
                                "password from GetAuthorizationToken");
        if (!ok)
            return unauthorized(c, base_url,
                                "The credentials are not user AWS with a password "
                                "GetAuthorizationToken gave in the last 12 hours");
    }
    if (rt.error)
        return oci_error(c,
                         !strcmp(rt.error, "NAME_INVALID") || !strcmp(rt.error, "DIGEST_INVALID")
                             ? MHD_HTTP_BAD_REQUEST
                             : MHD_HTTP_NOT_FOUND,
                         rt.error, "%s: %s", rt.why, url);
    switch (rt.kind) {
    case V2_BASE:
        return queue(c, MHD_HTTP_OK, text_response("{}"), "application/json");
    case V2_MANIFEST:
        return serve_manifest(reg, c, &rt);
    case V2_BLOB:
        return serve_blob(reg, c, &rt);
    case V2_TAGS:
        return serve_tags(reg, c, &rt);
    case V2_UNKNOWN:
        break;
    }
    return oci_error(c, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "No such route: %s", url);
}
