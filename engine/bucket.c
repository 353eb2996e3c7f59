/* Token buckets for ECR's per-operation request quotas, growing while unthrottled (bucket.h). */
#include "engine/bucket.h"

#include <math.h>

/* Demand is "there" for this long after a refused take. */
#define DEMAND_SECONDS 1.0
/* Half-second windows and smoothing, as botocore's RateClocker measures the send rate. */
#define WINDOW_SECONDS 0.5
#define SMOOTHING      0.8

static void set_rate(struct bucket *b, double rate)
{
    b->rate = rate < BUCKET_MIN_RATE ? BUCKET_MIN_RATE : rate;
    /* rate + burst = rate / 0.9: the quota the rate is 90% of, in any one second. */
    b->burst = b->rate / 9 < 1 ? 1 : b->rate / 9;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
}

void bucket_init(struct bucket *b, double per_second, double ceiling, double now)
{
    b->tokens = 0;
    set_rate(b, per_second * 0.9);
    b->tokens = b->burst;
    b->last = now;
    b->start = b->rate;
    b->ceiling = ceiling > b->rate ? ceiling : b->rate;
    b->w_max = b->rate;
    /* scale * GROWTH^3 = start: from the plateau at w_max = start, the start rate doubles. */
    b->scale = b->start / (BUCKET_GROWTH_SECONDS * BUCKET_GROWTH_SECONDS * BUCKET_GROWTH_SECONDS);
    b->k = cbrt(b->w_max * (1 - BUCKET_BETA) / b->scale);
    b->grown = b->k; /* on the plateau: the first seconds of demand add little */
    b->refused_at = -INFINITY;
    b->cut_at = -INFINITY;
    b->window = now;
    b->sent = 0;
    b->measured = 0;
}

/* The time since the last call: tokens, the measured rate, and growth while there is demand. */
static void advance(struct bucket *b, double now)
{
    /* A clock read that goes back would otherwise drain tokens that were never spent. */
    if (now <= b->last) {
        b->last = now;
        return;
    }
    double dt = now - b->last;
    b->tokens += dt * b->rate;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last = now;
    if (now >= b->window + WINDOW_SECONDS) {
        double current = b->sent / (now - b->window);
        b->measured = current * SMOOTHING + b->measured * (1 - SMOOTHING);
        b->window = now;
        b->sent = 0;
    }
    /* Grow only while the push asks for more than it gets and sends at least half the rate:
     * a push bound by something else (the link, the disk) gives no evidence of the quota. */
    if (now - b->refused_at >= DEMAND_SECONDS || b->rate >= 2 * b->measured)
        return;
    b->grown += dt;
    double d = b->grown - b->k;
    double next = b->w_max + b->scale * d * d * d;
    if (next > b->ceiling)
        next = b->ceiling;
    if (next > b->rate)
        set_rate(b, next);
}

bool bucket_take(struct bucket *b, double now, double *due)
{
    advance(b, now);
    if (b->tokens >= 1) {
        b->tokens -= 1;
        b->sent++;
        return true;
    }
    b->refused_at = now;
    if (due)
        *due = now + (1 - b->tokens) / b->rate;
    return false;
}

void bucket_throttled(struct bucket *b, double now, unsigned count)
{
    advance(b, now);
    /* Each throttled attempt is sent again by the transfer, outside the bucket: its token is
     * taken now, so first attempts make room for the retries instead of crowding them out. */
    b->tokens -= count;
    if (now - b->cut_at < BUCKET_CUT_HOLD)
        return;
    b->cut_at = now;
    /* Throttled below the last cut's rate: the quota is lower than that, so the curve's
     * plateau is put below this rate too (CUBIC's fast convergence, RFC 8312 4.6). */
    b->w_max = b->rate < b->w_max ? b->rate * (1 + BUCKET_BETA) / 2 : b->rate;
    b->k = cbrt(b->w_max * (1 - BUCKET_BETA) / b->scale);
    b->grown = 0;
    set_rate(b, b->rate * BUCKET_BETA);
    if (b->tokens > -(double)count)
        b->tokens = -(double)count;
}
