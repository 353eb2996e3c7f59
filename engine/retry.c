#include "engine/retry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The union of the error codes the SDKs treat as throttling (botocore's
 * ThrottledRetryableChecker). ECR itself answers ThrottlingException. */
static const char *const throttling_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

static const char *const transient_codes[] = {
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
};

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(name, list[i]))
            return true;
    return false;
}

bool retry_is_throttling_exception(const char *name)
{
    return name &&
           in_list(name, throttling_codes, sizeof throttling_codes / sizeof *throttling_codes);
}

enum retry_class retry_classify(const struct retry_outcome *o)
{
    if (retry_is_throttling_exception(o->exception))
        return RETRY_THROTTLING;
    if (o->http_status == 429)
        return RETRY_THROTTLING;
    if (o->exception &&
        in_list(o->exception, transient_codes, sizeof transient_codes / sizeof *transient_codes))
        return RETRY_TRANSIENT;
    if (o->http_status == 500 || o->http_status == 502 || o->http_status == 503 ||
        o->http_status == 504)
        return RETRY_TRANSIENT;
    if (o->transport_error || o->timeout)
        return RETRY_TRANSIENT;
    return RETRY_NONE;
}

double retry_backoff_seconds(unsigned attempt, double random01)
{
    if (attempt == 0)
        attempt = 1;
    double scale = attempt >= 32 ? RETRY_MAX_BACKOFF_SECONDS : ldexp(1.0, (int)attempt - 1);
    if (scale > RETRY_MAX_BACKOFF_SECONDS)
        scale = RETRY_MAX_BACKOFF_SECONDS;
    if (random01 < 0)
        random01 = 0;
    if (random01 >= 1)
        random01 = 1;
    return random01 * scale;
}

ecrup_status retry_config_resolve(ecrup_retry_mode mode_in, unsigned attempts_in,
                                  const struct env_reader *env, ecrup_retry_mode *mode_out,
                                  unsigned *attempts_out, char *message, size_t message_len)
{
    ecrup_retry_mode mode = mode_in;
    if (mode == ECRUP_RETRY_DEFAULT) {
        const char *v = env_get(env, "AWS_RETRY_MODE");
        if (!v || !*v || !strcasecmp(v, "standard"))
            mode = ECRUP_RETRY_STANDARD;
        else if (!strcasecmp(v, "adaptive"))
            mode = ECRUP_RETRY_ADAPTIVE;
        else if (!strcasecmp(v, "legacy"))
            mode = ECRUP_RETRY_LEGACY;
        else {
            snprintf(message, message_len,
                     "AWS_RETRY_MODE is '%s'; expected standard, adaptive or legacy", v);
            return ECRUP_E_INVALID_ARGUMENT;
        }
    }
    unsigned attempts = attempts_in;
    if (attempts == 0) {
        const char *v = env_get(env, "AWS_MAX_ATTEMPTS");
        attempts = RETRY_DEFAULT_MAX_ATTEMPTS;
        if (v && *v) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 100) {
                snprintf(message, message_len,
                         "AWS_MAX_ATTEMPTS is '%s'; expected a whole number from 1 to 100", v);
                return ECRUP_E_INVALID_ARGUMENT;
            }
            attempts = (unsigned)n;
        }
    }
    *mode_out = mode;
    *attempts_out = attempts;
    if (message_len)
        message[0] = '\0';
    return ECRUP_OK;
}

bool retry_quota_init(struct retry_quota *q)
{
    if (pthread_mutex_init(&q->lock, NULL) != 0)
        return false;
    q->available = q->max = RETRY_QUOTA_INITIAL;
    return true;
}

void retry_quota_cleanup(struct retry_quota *q)
{
    pthread_mutex_destroy(&q->lock);
}

bool retry_quota_acquire(struct retry_quota *q, bool timeout, unsigned *cost)
{
    unsigned want = timeout ? RETRY_QUOTA_TIMEOUT_COST : RETRY_QUOTA_COST;
    pthread_mutex_lock(&q->lock);
    bool ok = q->available >= want;
    if (ok)
        q->available -= want;
    pthread_mutex_unlock(&q->lock);
    *cost = ok ? want : 0;
    return ok;
}

void retry_quota_release(struct retry_quota *q, unsigned cost_taken)
{
    unsigned give = cost_taken ? cost_taken : RETRY_QUOTA_NO_RETRY_REFUND;
    pthread_mutex_lock(&q->lock);
    q->available = q->available + give > q->max ? q->max : q->available + give;
    pthread_mutex_unlock(&q->lock);
}

/* Adaptive mode, after the SDKs' client rate limiter: a token bucket whose fill rate follows
 * CUBIC, cut by beta on each throttle and growing back along the cubic curve. */
#define RL_MIN_FILL_RATE   0.5
#define RL_SMOOTHING       0.8
#define RL_BUCKET_SECONDS  0.5
#define RL_CUBIC_SCALE     0.4
#define RL_CUBIC_BETA      0.7
#define RL_MAX_RATE_FACTOR 2.0

static void rl_refill(struct retry_rate_limiter *r, double now)
{
    if (r->last_refill < 0) {
        r->last_refill = now;
        return;
    }
    double cap = r->capacity + (now - r->last_refill) * r->fill_rate;
    r->capacity = cap > r->max_capacity ? r->max_capacity : cap;
    r->last_refill = now;
}

static void rl_set_max_rate(struct retry_rate_limiter *r, double rate, double now)
{
    rl_refill(r, now);
    r->fill_rate = rate > RL_MIN_FILL_RATE ? rate : RL_MIN_FILL_RATE;
    r->max_capacity = rate >= 1 ? rate : 1;
    if (r->capacity > r->max_capacity)
        r->capacity = r->max_capacity;
}

bool retry_rate_limiter_init(struct retry_rate_limiter *r, double now)
{
    memset(r, 0, sizeof *r);
    if (pthread_mutex_init(&r->lock, NULL) != 0)
        return false;
    r->last_refill = -1;
    r->last_tx_bucket = floor(now);
    r->last_throttle_time = now;
    rl_set_max_rate(r, 1, now);
    return true;
}

void retry_rate_limiter_cleanup(struct retry_rate_limiter *r)
{
    pthread_mutex_destroy(&r->lock);
}

double retry_rate_limiter_acquire(struct retry_rate_limiter *r, double now)
{
    pthread_mutex_lock(&r->lock);
    double wait = 0;
    if (r->enabled) {
        rl_refill(r, now);
        if (r->capacity >= 1) {
            r->capacity -= 1;
        } else {
            /* The token is spoken for now; the caller sleeps until it has filled. */
            wait = (1 - r->capacity) / r->fill_rate;
            r->capacity -= 1;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return wait;
}

static double cubic_k(double w_max)
{
    return cbrt(w_max * (1 - RL_CUBIC_BETA) / RL_CUBIC_SCALE);
}

void retry_rate_limiter_update(struct retry_rate_limiter *r, bool throttled, double now)
{
    pthread_mutex_lock(&r->lock);
    /* Measure the send rate in half-second buckets, smoothed. */
    double bucket = floor(now / RL_BUCKET_SECONDS) * RL_BUCKET_SECONDS;
    r->request_count++;
    if (bucket > r->last_tx_bucket) {
        double current = r->request_count / (bucket - r->last_tx_bucket);
        r->measured_rate = current * RL_SMOOTHING + r->measured_rate * (1 - RL_SMOOTHING);
        r->request_count = 0;
        r->last_tx_bucket = bucket;
    }
    double new_rate;
    if (!throttled) {
        double dt = now - r->last_throttle_time - cubic_k(r->last_max_rate);
        new_rate = RL_CUBIC_SCALE * dt * dt * dt + r->last_max_rate;
    } else {
        double rate =
            r->enabled && r->fill_rate < r->measured_rate ? r->fill_rate : r->measured_rate;
        r->last_max_rate = rate;
        r->last_throttle_time = now;
        new_rate = rate * RL_CUBIC_BETA;
        r->enabled = true;
    }
    double cap = RL_MAX_RATE_FACTOR * r->measured_rate;
    rl_set_max_rate(r, new_rate < cap ? new_rate : cap, now);
    pthread_mutex_unlock(&r->lock);
}
