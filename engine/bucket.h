/* Token buckets that pace each ECR operation under the account's request quota
 * (defaults: UploadLayerPart 500/s, InitiateLayerUpload and CompleteLayerUpload 100/s,
 * BatchCheckLayerAvailability 1,000/s), so a large push is not throttled by its own volume,
 * and that find a raised quota by themselves.
 *
 * A bucket starts at 90% of the quota, in bursts of a ninth of its rate (a tenth of the
 * quota). While the push
 * wants more than the bucket gives (a take was refused in the last second) and no
 * ThrottlingException comes, the rate grows along a CUBIC curve, as the SDKs' adaptive retry
 * mode grows its send rate: slowly near the last rate that was throttled (or the start), then
 * faster, doubling the start rate after BUCKET_GROWTH_SECONDS of such demand. A throttle cuts
 * the rate to BUCKET_BETA of itself, once per BUCKET_CUT_HOLD seconds (the replies to requests
 * sent before the cut say nothing new), and the curve starts again from there (its plateau
 * lower than the cut's rate when that was below the last one: CUBIC's fast convergence). Each
 * throttled attempt's retry takes a token. The rate never passes the ceiling, nor twice the
 * rate the push actually sent at.
 *
 * Pure: the time is passed in (seconds on any monotonic clock), so tests drive it.
 * Thread: a bucket belongs to one thread (the engine thread); nothing is locked. */
#ifndef ECRUP_ENGINE_BUCKET_H
#define ECRUP_ENGINE_BUCKET_H

#include <stdbool.h>

#define BUCKET_BETA           0.7 /* a throttle leaves this share of the rate */
#define BUCKET_GROWTH_SECONDS 3.0 /* seconds of demand, unthrottled, to double the start */
#define BUCKET_CUT_HOLD       0.2 /* seconds after a cut in which more throttles cut nothing */
#define BUCKET_MIN_RATE       0.5 /* cuts stop here, requests per second */

struct bucket {
    double rate;   /* tokens per second now */
    double burst;  /* most tokens held: a ninth of the rate, at least one */
    double tokens; /* held at `last` */
    double last;   /* the time of the last refill */

    /* Growth: rate = w_max + scale * (grown - k)^3, the CUBIC window over seconds of demand. */
    double start;      /* the rate at init */
    double ceiling;    /* the rate never grows past it */
    double w_max;      /* the rate at the last cut (the start before any) */
    double k;          /* seconds of demand after a cut to get back to w_max */
    double scale;      /* the curve's steepness, from the start rate */
    double grown;      /* seconds of demand since the last cut */
    double refused_at; /* the last refused take: demand exceeds the rate */
    double cut_at;     /* the last cut */

    /* The rate the push sent at: takes per half second, smoothed as the SDKs measure it. */
    double window; /* start of the current half second */
    unsigned sent; /* takes in it */
    double measured;
};

/* A full bucket for a quota of `per_second` requests (> 0) at time `now`: 90% of the quota as
 * the rate plus a burst of a tenth of that (at least one), so no one-second window sees more
 * than the quota. The rate may grow up to `ceiling` requests per second; a ceiling at or below
 * the start rate keeps it there (cuts still apply, and it grows back to it). */
void bucket_init(struct bucket *b, double per_second, double ceiling, double now);

/* Refill for the time since the last call and take one token: true when one was there. When
 * not, false, and `*due` (when not NULL) is the time the next token will be there. A `now`
 * earlier than the last call counts as no time passed: it neither adds nor removes tokens. */
bool bucket_take(struct bucket *b, double now, double *due);

/* The service answered `count` attempts of this bucket's operation ThrottlingException, seen at
 * `now`: cut the rate (see above), drop the tokens held, so no burst follows, and take one
 * token per throttled attempt (the tokens may go below zero), for the retry the transfer sends
 * of each outside the bucket. */
void bucket_throttled(struct bucket *b, double now, unsigned count);

#endif
