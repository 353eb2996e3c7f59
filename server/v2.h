/* The registry API's read path on `ecrup serve`'s listener (OCI distribution spec, pull side):
 * GET /v2/, GET|HEAD /v2/<name>/manifests/<tag|digest>, GET|HEAD /v2/<name>/blobs/<digest>
 * (with Range), GET /v2/<name>/tags/list (n/last pages, a Link to the next one).
 *
 * Authentication as ECR's: Basic with user "AWS" and a password GetAuthorizationToken gave
 * (registry_check_password), else 401 with `WWW-Authenticate: Basic realm=...`. A blob GET may
 * instead carry the query of a GetDownloadUrlForLayer URL (registry_check_download), which
 * stands for ECR's pre-signed S3 URL. Errors are the spec's JSON bodies
 * ({"errors":[{"code","message"}]}). Routes, ranges and Accept are parsed by v2route.h. */
#ifndef ECRUP_SERVER_V2_H
#define ECRUP_SERVER_V2_H

#include <microhttpd.h>

struct registry;

/* Answer the GET or HEAD request `method` `url` (MHD's path, percent-decoded) on connection
 * `c`, whatever its path: one outside /v2 gets 404. `base_url` ("http://127.0.0.1:PORT", the
 * server's) names the realm of 401 replies. Runs on the thread serving the connection; the
 * registry does its own locking. */
enum MHD_Result v2_serve(struct registry *reg, const char *base_url, struct MHD_Connection *c,
                         const char *method, const char *url);

#endif
