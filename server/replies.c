/* Replies of the local endpoint: the JSON bodies of successes and of ECR's exceptions
 * (`__type` and `message`, plus the fields some exceptions carry), and the not-found
 * exceptions several operations share. */
#include "server/replies.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/registry_impl.h"

void srv_reply_json(struct srv_reply *r, cJSON *obj)
{
    r->status = 200;
    r->error_type = NULL;
    ebuf_reset(&r->body);
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    ebuf_puts(&r->body, s ? s : "{}");
    free(s);
    cJSON_Delete(obj);
}

static void reply_verror(struct srv_reply *r, int status, const char *type, cJSON *fields,
                         const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void reply_verror(struct srv_reply *r, int status, const char *type, cJSON *fields,
                         const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cJSON *o = fields ? fields : cJSON_CreateObject();
    cJSON_AddStringToObject(o, "__type", type);
    cJSON_AddStringToObject(o, "message", msg);
    srv_reply_json(r, o);
    r->status = status;
    r->error_type = type;
}

void srv_reply_error(struct srv_reply *r, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_verror(r, status, type, NULL, fmt, ap);
    va_end(ap);
}

void srv_reply_error_fields(struct srv_reply *r, int status, const char *type, cJSON *fields,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_verror(r, status, type, fields, fmt, ap);
    va_end(ap);
}

void reply_repository_not_found(struct srv_reply *out, const char *repo, const char *account)
{
    srv_reply_error(out, 400, "RepositoryNotFoundException",
                    "The repository with name '%s' does not exist in the registry with id '%s'",
                    repo, account);
}

void reply_upload_not_found(struct srv_reply *out, const char *id, const char *repo,
                            const char *account)
{
    srv_reply_error(out, 400, "UploadNotFoundException",
                    "Upload with id '%s' is not found in repository '%s' in registry '%s'", id,
                    repo, account);
}
