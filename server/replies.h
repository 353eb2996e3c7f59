/* Replies of the local endpoint: an HTTP status and a JSON body, a success or one of ECR's
 * exceptions (AWS JSON 1.1: `__type` and `message` in the body, x-amzn-ErrorType beside it). */
#ifndef ECRUP_SERVER_REPLIES_H
#define ECRUP_SERVER_REPLIES_H

#include <cjson/cJSON.h>

#include "util/buf.h"

/* A reply: HTTP status and JSON body. */
struct srv_reply {
    int status;
    struct ebuf body;
    const char *error_type; /* borrowed static string; NULL on success */
};

void srv_reply_json(struct srv_reply *r, cJSON *obj); /* 200; consumes obj */
void srv_reply_error(struct srv_reply *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An error with the exception's own fields: `fields` (consumed, may be NULL) gets __type and
 * message added. */
void srv_reply_error_fields(struct srv_reply *r, int status, const char *type, cJSON *fields,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
