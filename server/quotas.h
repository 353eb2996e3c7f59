/* Request quotas for `ecrup serve --quotas ecr|off|FILE`: a token bucket per operation, so a
 * client meets what ECR does above its account's quotas, HTTP 400 ThrottlingException.
 *
 *   ecr   ECR's default quotas per account and region: UploadLayerPart 500/s,
 *         InitiateLayerUpload 100/s, CompleteLayerUpload 100/s, BatchCheckLayerAvailability
 *         1000/s, PutImage 10/s, GetAuthorizationToken 500/s; every other operation unlimited
 *   off   nothing is throttled (no quotas object)
 *   FILE  one quota per line, `OPERATION RATE [BURST]`: RATE requests per second (> 0, a
 *         decimal number), BURST the most a full bucket holds (>= 1; default RATE, at least 1).
 *         Blank lines and lines starting with # are skipped; an operation not named is
 *         unlimited; an operation the server does not have, or named twice, is refused.
 *
 * The burst: ECR does not publish one; a bucket holds one second of its rate (RATE tokens), so
 * a client that kept to the rate is never refused and one that bursts gets at most a second's
 * worth ahead of it.
 *
 * Thread safety: quotas_take() may be called from any thread (each bucket has its lock);
 * loading and freeing happen before and after serving. */
#ifndef ECRUP_SERVER_QUOTAS_H
#define ECRUP_SERVER_QUOTAS_H

#include <stdbool.h>

#include "util/buf.h"

struct quotas;

/* SPEC as above. Returns 0 with *out set (NULL for "off"), or -1 with a message in err that
 * names the file and line. */
int quotas_load(const char *spec, struct quotas **out, struct ebuf *err);

/* Admit one request of `operation` at `now` (seconds on CLOCK_MONOTONIC): false when its
 * bucket is empty, and the request is to be answered ThrottlingException. Operations without a
 * quota are always admitted. */
bool quotas_take_at(struct quotas *q, const char *operation, double now);
/* The same at the current time. */
bool quotas_take(struct quotas *q, const char *operation);

/* What each quota saw, one line per operation with a quota that had requests:
 * "OPERATION: N admitted, M throttled, busiest second K admitted (quota R/s, burst B)". */
void quotas_describe(struct quotas *q, struct ebuf *out);

/* NULL is a no-op. */
void quotas_free(struct quotas *q);

#endif
