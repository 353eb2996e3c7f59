/* Retry policy as the AWS SDKs' "standard" and "adaptive" modes define it: what to retry,
 * how long to wait, and a shared retry quota that stops a failing service from being
 * hammered. Pure functions with time and randomness passed in, so the policy is tested
 * without a network.
 *
 * Thread safety: struct retry_quota and struct retry_rate_limiter are internally locked and
 * shared by every transfer thread of one engine; the classification functions are pure. */
#ifndef ECRUP_ENGINE_RETRY_H
#define ECRUP_ENGINE_RETRY_H

#include <ecrup.h>
#include <pthread.h>
#include <stdbool.h>

#include "util/env.h"

/* Standard mode's constants (botocore retries/standard.py, the SDKs' retry spec). */
#define RETRY_DEFAULT_MAX_ATTEMPTS  3
#define RETRY_MAX_BACKOFF_SECONDS   20.0
#define RETRY_QUOTA_INITIAL         500
#define RETRY_QUOTA_COST            5
#define RETRY_QUOTA_TIMEOUT_COST    10
#define RETRY_QUOTA_NO_RETRY_REFUND 1

/* How a failed attempt should be treated. */
enum retry_class {
    RETRY_NONE = 0,       /* success, or a fatal error: do not retry */
    RETRY_TRANSIENT = 1,  /* 5xx, connection reset, timeouts: retry with backoff */
    RETRY_THROTTLING = 2, /* the service asked us to slow down: retry, and adaptive mode
                             lowers the sending rate */
};

/* The outcome of one attempt, as the transfer layer saw it. */
struct retry_outcome {
    long http_status;      /* 0 when no response arrived */
    const char *exception; /* the `__type` of an error body (short name), or NULL */
    bool transport_error;  /* connection refused/reset, DNS, TLS handshake, partial reply */
    bool timeout;          /* connect timeout or low-speed stall */
};

/* Classify an attempt: pure. */
enum retry_class retry_classify(const struct retry_outcome *o);

/* True for the exception names the SDKs treat as throttling. Pure. */
bool retry_is_throttling_exception(const char *name);

/* Seconds to wait before attempt `attempt` + 1 (attempt counts from 1): full jitter,
 * `random01` in [0, 1) times 2^(attempt-1), capped at RETRY_MAX_BACKOFF_SECONDS. Pure. */
double retry_backoff_seconds(unsigned attempt, double random01);

/* Retry mode and attempts as configured: explicit options win, then AWS_RETRY_MODE and
 * AWS_MAX_ATTEMPTS read through `env` (NULL: the process environment). Returns ECRUP_OK or
 * ECRUP_E_INVALID_ARGUMENT with a message naming the bad variable. */
ecrup_status retry_config_resolve(ecrup_retry_mode mode_in, unsigned attempts_in,
                                  const struct env_reader *env, ecrup_retry_mode *mode_out,
                                  unsigned *attempts_out, char *message, size_t message_len);

/* The retry quota shared by all requests of an engine. */
struct retry_quota {
    pthread_mutex_t lock;
    unsigned available; /* guarded by lock */
    unsigned max;
};

/* False when the lock cannot be made (then nothing needs cleaning up). */
bool retry_quota_init(struct retry_quota *q);
void retry_quota_cleanup(struct retry_quota *q);
/* Take the cost of one retry; false when the quota is exhausted (then do not retry). The
 * cost taken is returned in *cost for release on success. */
bool retry_quota_acquire(struct retry_quota *q, bool timeout, unsigned *cost);
/* A request succeeded: give back what its retries cost, or the no-retry refund. */
void retry_quota_release(struct retry_quota *q, unsigned cost_taken);

/* Adaptive mode's client-side rate limiter (CUBIC on throttling, as the SDKs do). */
struct retry_rate_limiter {
    pthread_mutex_t lock;
    /* All guarded by lock. Times are seconds on the caller's monotonic clock. */
    bool enabled;     /* turned on by the first throttle */
    double fill_rate; /* tokens per second */
    double max_capacity;
    double capacity;
    double last_refill;
    double measured_rate; /* smoothed send rate */
    double last_tx_bucket;
    unsigned request_count;
    double last_max_rate;
    double last_throttle_time;
    double time_window;
};

/* False when the lock cannot be made (then nothing needs cleaning up). */
bool retry_rate_limiter_init(struct retry_rate_limiter *r, double now);
void retry_rate_limiter_cleanup(struct retry_rate_limiter *r);
/* Seconds the caller must wait before sending (0 when it may send now); takes a token. */
double retry_rate_limiter_acquire(struct retry_rate_limiter *r, double now);
/* Record a response: `throttled` says whether it was a throttling error. */
void retry_rate_limiter_update(struct retry_rate_limiter *r, bool throttled, double now);

#endif
