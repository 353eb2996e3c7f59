/* A transfer thread: one libcurl multi handle driving many ECR calls over keep-alive
 * connections, each call signed just before each attempt and retried under the retry policy
 * (standard or adaptive mode, shared quota, backoff with full jitter, clock-skew correction).
 *
 * Threads: transfer_submit() and transfer_cancel() may be called from any thread; every job
 * callback runs on the transfer thread and must not block (hand work to other threads).
 * A job belongs to the transfer from submit until its `done` callback returns. */
#ifndef ECRUP_ENGINE_TRANSFER_H
#define ECRUP_ENGINE_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "engine/request.h"
#include "engine/retry.h"

struct transfer;
struct xfer_job;

/* How a job ended. `req` holds the last attempt's reply and error; valid during the call. */
struct xfer_result {
    bool ok;                       /* 2xx */
    bool cancelled;                /* transfer_cancel() ended it */
    ecrup_status status;           /* ECRUP_OK; ECRUP_E_CANCELLED; else why the job failed, a
                                      reply's meaning or a local failure (req->status) */
    enum retry_class last_class;   /* classification of the last failure */
    unsigned attempts;             /* attempts made, this one included */
    const struct ecr_request *req; /* the last attempt */
};

typedef void (*xfer_done_fn)(struct xfer_job *job, const struct xfer_result *result);

/* A call to make. The submitter fills the public part; `priv` is the transfer's. */
struct xfer_job {
    struct ecr_call call; /* body borrowed until done */
    xfer_done_fn done;
    void *user;
    /* Bytes of body handed to the transport by the current attempt (for progress); written
     * on the transfer thread, read by anyone. */
    _Atomic uint64_t bytes_sent;
    struct {
        CURL *easy;
        struct ecr_request req;
        unsigned attempt;
        unsigned quota_cost;
        double not_before; /* monotonic seconds; retry backoff */
        struct xfer_job *next;
        size_t running_index;
        bool skew_retried;
        bool token_reserved; /* the adaptive limiter already granted this start */
    } priv;
};

/* Prepare a job once before its first submit; a job may be submitted again after its
 * `done` callback (its buffers are reused). Clean up when it is no longer needed. */
void xfer_job_init(struct xfer_job *job);
void xfer_job_cleanup(struct xfer_job *job);

/* Credentials for the next attempt. The callee fills `creds` with pointers that stay valid
 * until `release` is called with the same `token`. Returns ECRUP_OK, or the provider's status
 * with a message. */
struct xfer_credentials {
    ecrup_status (*acquire)(void *user, time_t now, struct sigv4_credentials *creds, void **token,
                            struct ebuf *err);
    void (*release)(void *user, void *token);
    void *user;
};

/* Callbacks the transfer uses for the clock; NULL members mean the system clock. */
struct xfer_clock {
    time_t (*now)(void *user);                            /* wall clock, skew-corrected */
    bool (*correct)(void *user, const char *date_header); /* true when the offset changed */
    void *user;
};

struct transfer_config {
    const struct ecr_target *target; /* borrowed for the transfer's life */
    struct xfer_credentials credentials;
    struct xfer_clock clock;
    struct sigv4_key_cache *keys; /* shared signing-key cache; may be NULL */
    unsigned max_attempts;        /* 0: 3 */
    ecrup_retry_mode retry_mode;
    struct retry_quota *quota;          /* shared by the engine's transfers; may be NULL */
    struct retry_rate_limiter *limiter; /* adaptive mode; may be NULL */
    unsigned max_connections;           /* 0: 16 */
    /* Called on the transfer thread for each attempt answered with a throttling error, with
     * the call's operation; may be NULL. Must not block. */
    void (*throttled)(void *user, const char *operation);
    void *throttled_user;
    /* Log one line per attempt (operation, attempt, status, duration); may be NULL. */
    void (*log)(void *user, const char *line);
    void *log_user;
    /* Randomness for backoff jitter in [0,1); NULL: a per-transfer xorshift. Tests fix it. */
    double (*random01)(void *user);
    void *random_user;
};

/* Start a transfer thread. Returns NULL on failure. */
struct transfer *transfer_new(const struct transfer_config *cfg);

/* Queue a job; it starts as soon as the thread sees it. */
void transfer_submit(struct transfer *t, struct xfer_job *job);

/* End every queued and running job with result->cancelled; later submits end the same way. */
void transfer_cancel(struct transfer *t);

/* Stop the thread after the jobs in hand have finished, and free everything. */
void transfer_free(struct transfer *t);

/* Request statistics, for the verbose summary and the benchmark. */
struct transfer_stats {
    uint64_t requests; /* attempts made */
    uint64_t retries;
    uint64_t bytes_sent;
};
void transfer_get_stats(struct transfer *t, struct transfer_stats *out);

#endif
