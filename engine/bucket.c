/* Token buckets for ECR's per-operation request quotas (bucket.h). */
#include "engine/bucket.h"

void bucket_init(struct bucket *b, double per_second, double now)
{
    b->rate = per_second * 0.9;
    b->burst = per_second * 0.1 < 1 ? 1 : per_second * 0.1;
    b->tokens = b->burst;
    b->last = now;
}

bool bucket_take(struct bucket *b, double now, double *due)
{
    /* A clock read that goes back would otherwise drain tokens that were never spent. */
    if (now > b->last)
        b->tokens += (now - b->last) * b->rate;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last = now;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return true;
    }
    if (due)
        *due = now + (1 - b->tokens) / b->rate;
    return false;
}
