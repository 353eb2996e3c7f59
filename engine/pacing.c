/* Request pacing for the scheduler: a token bucket per paced ECR operation (bucket.h) that the
 * engine thread takes from before each first attempt, the throttles the transfer threads report
 * cutting it, and the steps sent again after being throttled out of their attempts
 * (docs/engine.md, "Request quotas"). */
#include "engine/scheduler_impl.h"

#include <string.h>

/* The operations of b_part, b_initiate, b_complete and b_check, in that order. */
static const char *const paced_ops[4] = {"UploadLayerPart", "InitiateLayerUpload",
                                         "CompleteLayerUpload", "BatchCheckLayerAvailability"};

/* A rate the host set is a ceiling (--max-rate); ECR's default quota `ecr_default` is where
 * an unset one starts, growing up to PACE_CEILING times it for accounts whose quotas were
 * raised. */
#define PACE_CEILING 10
static void pace_init(struct bucket *b, double set, double ecr_default, double now)
{
    if (set > 0)
        bucket_init(b, set, 0, now);
    else
        bucket_init(b, ecr_default, PACE_CEILING * ecr_default, now);
}

void sched_pacing_init(struct sched *s, double now)
{
    const struct ecrup_options *o = s->o;
    pace_init(&s->b_part, o->rate_upload_layer_part, 500, now);
    pace_init(&s->b_initiate, o->rate_initiate_layer_upload, 100, now);
    pace_init(&s->b_complete, o->rate_complete_layer_upload, 100, now);
    pace_init(&s->b_check, o->rate_batch_check_layer_availability, 1000, now);
}

void sched_throttled(void *user, const char *operation)
{
    struct sched *s = user;
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(operation, paced_ops[i]))
            atomic_fetch_add_explicit(&s->throttles[i], 1, memory_order_relaxed);
}

bool sched_take_token(struct sched *s, struct bucket *b)
{
    double due, now = sched_now();
    struct bucket *const buckets[4] = {&s->b_part, &s->b_initiate, &s->b_complete, &s->b_check};
    for (size_t i = 0; i < 4; i++) {
        if (buckets[i] != b)
            continue;
        unsigned n = atomic_load_explicit(&s->throttles[i], memory_order_relaxed);
        if (n != s->throttles_seen[i]) {
            unsigned count = n - s->throttles_seen[i];
            s->throttles_seen[i] = n;
            double before = b->rate;
            bucket_throttled(b, now, count);
            if (b->rate < before)
                sched_log(s, ECRUP_LOG_INFO, "%s throttled: pacing at %.1f requests/s (was %.1f)",
                          paced_ops[i], b->rate, before);
        }
    }
    if (bucket_take(b, now, &due))
        return true;
    if (due < s->next_due)
        s->next_due = due;
    return false;
}

/* Other clients of the account share its quota: a step throttled out of its attempts is not
 * the layer's failure while rounds are left. */
#define SCHED_THROTTLE_ROUNDS 5
bool layer_send_again_throttled(struct layer *l, const struct event *ev, enum lstate back)
{
    if (ev->cancelled || ev->last_class != RETRY_THROTTLING || l->failing ||
        l->throttle_rounds >= SCHED_THROTTLE_ROUNDS)
        return false;
    l->throttle_rounds++;
    sched_log(l->s, ECRUP_LOG_INFO,
              "layer %s: %s throttled on its last attempt; sending it again at the paced rate "
              "(%u of %u)",
              l->e->layer.path, l->job.call.operation, l->throttle_rounds, SCHED_THROTTLE_ROUNDS);
    l->st = back;
    return true;
}
