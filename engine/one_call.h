/* One ECR JSON call made for the engine's owner, outside a run (PutImage, CreateRepository):
 * a transfer of its own with the engine's target, credentials, clock and retry policy, which
 * the caller's thread waits for; ecrup_engine_cancel() ends the wait. */
#ifndef ECRUP_ENGINE_ONE_CALL_H
#define ECRUP_ENGINE_ONE_CALL_H

#include <ecrup.h>
#include <stdbool.h>

#include "engine/transfer.h"

/* Owned by the caller; after one_call_run(), `job.priv.req` holds the last attempt's reply
 * (or its error) until one_call_cleanup(). */
struct one_call {
    struct xfer_job job;
    bool ok;           /* 2xx */
    bool cancelled;    /* ecrup_engine_cancel() ended it */
    unsigned attempts; /* sends, retries included; 0 when nothing went out */
};

/* Make `operation` with JSON `body` (borrowed) and wait for it. Returns ECRUP_OK when the call
 * was made (then `ok` says how it went), else the status of why it could not start (out of
 * memory: nothing was sent). Thread: the engine's owner, not during ecrup_engine_run(). */
ecrup_status one_call_run(struct ecrup_engine *e, struct one_call *c, const char *operation,
                          const char *body);
void one_call_cleanup(struct one_call *c);

#endif
