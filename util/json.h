/* Small readers over cJSON documents that every parser of replies, manifests and credential
 * documents shares. */
#ifndef ECRUP_UTIL_JSON_H
#define ECRUP_UTIL_JSON_H

#include <cjson/cJSON.h>

/* The string member `name` of `obj` (case-sensitive), or NULL when `obj` is NULL, has no such
 * member, or the member is not a string. Borrowed from `obj`. */
const char *json_string(const cJSON *obj, const char *name);

#endif
