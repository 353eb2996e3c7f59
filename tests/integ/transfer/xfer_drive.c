/* Test tool: run many ECR calls through one transfer thread and print how each ended.
 * Usage: xfer_drive URL HOST REGION [--max-attempts N] [--adaptive] [--cancel-after-ms MS]
 *                   [--clock-offset SECONDS] [--connections N]
 * Reads jobs from stdin, one per line: KEY OPERATION PAD_BYTES SCRIPT
 * (SCRIPT is the comma-separated list of replies the test server plays, e.g. 503,ok).
 * Prints one line per job: KEY ok=0|1 cancelled=0|1 attempts=N class=C exception=NAME
 * then "stats requests=N retries=N clock_offset=S". */
#include "engine/transfer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "signer/clock.h"

struct job {
    struct xfer_job x;
    char key[64];
    char *body;
    int ok, cancelled;
    unsigned attempts;
    int cls;
    char exception[128];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int remaining;

static void on_done(struct xfer_job *x, const struct xfer_result *res)
{
    struct job *j = x->user;
    j->ok = res->ok;
    j->cancelled = res->cancelled;
    j->attempts = res->attempts;
    j->cls = (int)res->last_class;
    snprintf(j->exception, sizeof j->exception, "%s",
             res->req->error.exception[0] ? res->req->error.exception : "-");
    if (!res->ok && !res->cancelled)
        fprintf(stderr, "%s: %s\n", j->key, res->req->error.message);
    pthread_mutex_lock(&lock);
    remaining--;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static ecrup_status creds_acquire(void *user, time_t now, struct sigv4_credentials *c, void **token,
                                  struct ebuf *err)
{
    (void)user;
    (void)now;
    (void)err;
    c->access_key_id = getenv("AWS_ACCESS_KEY_ID");
    c->secret_access_key = getenv("AWS_SECRET_ACCESS_KEY");
    c->session_token = NULL;
    *token = NULL;
    return ECRUP_OK;
}

static void creds_release(void *user, void *token)
{
    (void)user;
    (void)token;
}

static time_t clock_now(void *user)
{
    return sigv4_clock_now(user);
}

static bool clock_correct(void *user, const char *date)
{
    return sigv4_clock_correct_from_date_header(user, date);
}

static void log_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "log: %s\n", line);
}

static double fixed_random(void *user)
{
    (void)user;
    return 0.01; /* short, deterministic backoff keeps the test quick */
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    struct ecr_target target = {.url = argv[1], .host_header = argv[2], .region = argv[3]};
    struct transfer_config cfg = {.target = &target};
    long cancel_after_ms = -1;
    struct sigv4_clock clock_store;
    struct sigv4_clock *clk = &clock_store;
    sigv4_clock_init(clk);
    struct retry_quota quota;
    retry_quota_init(&quota);
    struct retry_rate_limiter limiter;
    retry_rate_limiter_init(&limiter, 0);
    cfg.quota = &quota;
    cfg.retry_mode = ECRUP_RETRY_STANDARD;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--max-attempts") && i + 1 < argc)
            cfg.max_attempts = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--adaptive")) {
            cfg.retry_mode = ECRUP_RETRY_ADAPTIVE;
            cfg.limiter = &limiter;
        } else if (!strcmp(argv[i], "--cancel-after-ms") && i + 1 < argc)
            cancel_after_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "--clock-offset") && i + 1 < argc)
            sigv4_clock_set_offset(clk, atol(argv[++i]));
        else if (!strcmp(argv[i], "--connections") && i + 1 < argc)
            cfg.max_connections = (unsigned)atoi(argv[++i]);
        else
            return 2;
    }
    cfg.credentials = (struct xfer_credentials){creds_acquire, creds_release, NULL};
    cfg.clock = (struct xfer_clock){clock_now, clock_correct, clk};
    cfg.log = log_line;
    cfg.random01 = fixed_random;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct job *jobs = NULL;
    size_t n = 0;
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        char key[64], op[64], script[256];
        size_t pad;
        if (sscanf(line, "%63s %63s %zu %255s", key, op, &pad, script) != 4)
            continue;
        jobs = realloc(jobs, (n + 1) * sizeof *jobs);
        struct job *j = &jobs[n++];
        memset(j, 0, sizeof *j);
        snprintf(j->key, sizeof j->key, "%s", key);
        j->body = malloc(pad + 600);
        int len =
            snprintf(j->body, 600, "{\"key\":\"%s\",\"script\":\"%s\",\"pad\":\"", key, script);
        memset(j->body + len, 'A', pad);
        memcpy(j->body + (size_t)len + pad, "\"}", 3);
        char *op_copy = strdup(op);
        j->x.call.operation = op_copy;
    }
    struct transfer *t = transfer_new(&cfg);
    if (!t)
        return 1;
    remaining = (int)n;
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        const char *op = j->x.call.operation;
        xfer_job_init(&j->x);
        j->x.call.operation = op;
        j->x.call.body = j->body;
        j->x.call.body_len = strlen(j->body);
        j->x.done = on_done;
        j->x.user = j;
        transfer_submit(t, &j->x);
    }
    if (cancel_after_ms >= 0) {
        usleep((useconds_t)cancel_after_ms * 1000);
        transfer_cancel(t);
    }
    pthread_mutex_lock(&lock);
    while (remaining > 0)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    struct transfer_stats st;
    transfer_get_stats(t, &st);
    transfer_free(t);
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        printf("%s ok=%d cancelled=%d attempts=%u class=%d exception=%s\n", j->key, j->ok,
               j->cancelled, j->attempts, j->cls, j->exception);
        xfer_job_cleanup(&j->x);
        free((void *)(uintptr_t)j->x.call.operation);
        free(j->body);
    }
    printf("stats requests=%llu retries=%llu clock_offset=%ld\n", (unsigned long long)st.requests,
           (unsigned long long)st.retries, (long)sigv4_clock_offset(clk));
    free(jobs);
    retry_quota_cleanup(&quota);
    retry_rate_limiter_cleanup(&limiter);
    curl_global_cleanup();
    return 0;
}
