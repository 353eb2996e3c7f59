/* Token buckets that keep each ECR operation under the account's default request quota
 * (UploadLayerPart 500/s, InitiateLayerUpload and CompleteLayerUpload 100/s,
 * BatchCheckLayerAvailability 1,000/s), so a large push is not throttled by its own volume.
 * Pure: the time is passed in (seconds on any monotonic clock), so tests drive it.
 *
 * Thread: a bucket belongs to one thread (the engine thread); nothing is locked. */
#ifndef ECRUP_ENGINE_BUCKET_H
#define ECRUP_ENGINE_BUCKET_H

#include <stdbool.h>

struct bucket {
    double rate;   /* tokens per second */
    double burst;  /* most tokens held */
    double tokens; /* held at `last` */
    double last;   /* the time of the last refill */
};

/* A full bucket for a quota of `per_second` requests (> 0) at time `now`: 90% of the quota as
 * the rate plus a burst of a tenth (at least one), so no one-second window sees more than the
 * quota. */
void bucket_init(struct bucket *b, double per_second, double now);

/* Refill for the time since the last call and take one token: true when one was there. When
 * not, false, and `*due` (when not NULL) is the time the next token will be there. A `now`
 * earlier than the last call counts as no time passed: it neither adds nor removes tokens. */
bool bucket_take(struct bucket *b, double now, double *due);

#endif
