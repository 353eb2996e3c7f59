/* ecrup_engine_create_repository(): one CreateRepository call (one_call.h); a repository that
 * is there already is an outcome, not a failure. */
#include <ecrup.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ecr_json.h"
#include "engine/engine_impl.h"
#include "engine/one_call.h"
#include "util/ecr_name.h"

/* `exception`: the service's exception name; NULL: the status's own name. */
static void set_failure(struct ecrup_repository_result *r, ecrup_status st, const char *exception,
                        long http, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_failure(struct ecrup_repository_result *r, ecrup_status st, const char *exception,
                        long http, const char *fmt, ...)
{
    r->outcome = ECRUP_OUTCOME_FAILED;
    r->status = st;
    r->http_status = http;
    snprintf(r->exception, sizeof r->exception, "%s",
             exception ? exception : ecrup_status_name(st));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static void read_reply(const struct one_call *c, struct ecrup_repository_result *r)
{
    const struct ecr_request *req = &c->job.priv.req;
    r->attempts = c->attempts;
    if (c->ok) {
        if (ecr_parse_create_repository(req->reply.data, req->reply.len, r->repository_uri,
                                        sizeof r->repository_uri) != 0)
            set_failure(r, ECRUP_E_PROTOCOL, NULL, req->http_status,
                        "CreateRepository: the reply names no repositoryUri");
        else
            r->outcome = ECRUP_OUTCOME_UPLOADED;
    } else if (!c->cancelled && !strcmp(req->error.exception, "RepositoryAlreadyExistsException")) {
        r->outcome = ECRUP_OUTCOME_EXISTS;
    } else {
        struct request_failure f;
        request_failure(req, "CreateRepository", c->attempts, c->cancelled, &f);
        set_failure(r, f.status, f.exception, f.http_status, "%s", f.message);
    }
}

ecrup_status ecrup_engine_create_repository(struct ecrup_engine *e, const char *repository,
                                            const char *registry_id,
                                            struct ecrup_repository_result *result)
{
    if (!result)
        return ECRUP_E_INVALID_ARGUMENT;
    memset(result, 0, sizeof *result);
    if (!e || !repository || !ecr_repository_name_valid(repository)) {
        set_failure(result, ECRUP_E_INVALID_ARGUMENT, NULL, 0,
                    "CreateRepository needs an engine and a repository name (%s)",
                    ECR_REPOSITORY_NAME_RULE);
        return result->status;
    }
    if (atomic_load(&e->cancelled)) {
        set_failure(result, ECRUP_E_CANCELLED, NULL, 0, "cancelled");
        return result->status;
    }
    char *body = ecr_build_create_repository(repository, registry_id);
    if (!body) {
        set_failure(result, ECRUP_E_NOMEM, NULL, 0, "out of memory");
        return result->status;
    }
    struct one_call c;
    if (one_call_run(e, &c, "CreateRepository", body) != ECRUP_OK)
        set_failure(result, ECRUP_E_NOMEM, NULL, 0, "cannot start a transfer");
    else
        read_reply(&c, result);
    one_call_cleanup(&c);
    free(body);
    if (result->outcome != ECRUP_OUTCOME_FAILED)
        result->status = ECRUP_OK;
    return result->status;
}
