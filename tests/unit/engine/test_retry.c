/* The retry policy: classification, backoff, quota, configuration, adaptive rate limiting. */
#include "engine/retry.h"

#include "test.h"

static const char *fake_env_vals[2][2];
static const char *fake_env_get(void *user, const char *name)
{
    (void)user;
    for (int i = 0; i < 2; i++)
        if (fake_env_vals[i][0] && !strcmp(fake_env_vals[i][0], name))
            return fake_env_vals[i][1];
    return NULL;
}

static void test_classify(void)
{
    struct retry_outcome o = {0};
    o.http_status = 400;
    o.exception = "ThrottlingException";
    CHECK_EQ_INT(retry_classify(&o), RETRY_THROTTLING);
    o.exception = "InvalidLayerPartException";
    CHECK_EQ_INT(retry_classify(&o), RETRY_NONE);
    o.exception = "RepositoryNotFoundException";
    CHECK_EQ_INT(retry_classify(&o), RETRY_NONE);
    o.exception = "RequestTimeoutException";
    CHECK_EQ_INT(retry_classify(&o), RETRY_TRANSIENT);
    o.exception = NULL;
    long transient[] = {500, 502, 503, 504};
    for (size_t i = 0; i < 4; i++) {
        o.http_status = transient[i];
        CHECK_EQ_INT(retry_classify(&o), RETRY_TRANSIENT);
    }
    o.exception = "ServerException";
    o.http_status = 500;
    CHECK_EQ_INT(retry_classify(&o), RETRY_TRANSIENT);
    o = (struct retry_outcome){.http_status = 429};
    CHECK_EQ_INT(retry_classify(&o), RETRY_THROTTLING);
    o = (struct retry_outcome){.http_status = 403, .exception = "InvalidSignatureException"};
    CHECK_EQ_INT(retry_classify(&o), RETRY_NONE);
    o = (struct retry_outcome){.transport_error = true};
    CHECK_EQ_INT(retry_classify(&o), RETRY_TRANSIENT);
    o = (struct retry_outcome){.timeout = true};
    CHECK_EQ_INT(retry_classify(&o), RETRY_TRANSIENT);
    o = (struct retry_outcome){.http_status = 200};
    CHECK_EQ_INT(retry_classify(&o), RETRY_NONE);
    CHECK(retry_is_throttling_exception("SlowDown"));
    CHECK(!retry_is_throttling_exception("Throttlingexception"));
    CHECK(!retry_is_throttling_exception(NULL));
}

static void test_backoff(void)
{
    /* Full jitter: random * 2^(attempt-1), capped at 20 s. */
    CHECK(retry_backoff_seconds(1, 0.5) == 0.5);
    CHECK(retry_backoff_seconds(2, 0.5) == 1.0);
    CHECK(retry_backoff_seconds(3, 0.25) == 1.0);
    CHECK(retry_backoff_seconds(5, 0.999) < 16.0);
    CHECK(retry_backoff_seconds(6, 0.999) < RETRY_MAX_BACKOFF_SECONDS);
    CHECK(retry_backoff_seconds(6, 0.999) > 19.9);
    CHECK(retry_backoff_seconds(60, 0.5) == 10.0);
    CHECK(retry_backoff_seconds(1000, 0.5) == 10.0);
    CHECK(retry_backoff_seconds(3, 0.0) == 0.0);
}

static void test_quota(void)
{
    struct retry_quota q;
    retry_quota_init(&q);
    unsigned cost, total = 0, retries = 0;
    while (retry_quota_acquire(&q, false, &cost)) {
        CHECK_EQ_INT(cost, RETRY_QUOTA_COST);
        total += cost;
        retries++;
    }
    /* 500 tokens at 5 a retry: exactly 100 retries, then the quota says no. */
    CHECK_EQ_INT(retries, 100);
    CHECK_EQ_INT(total, RETRY_QUOTA_INITIAL);
    CHECK_EQ_INT(cost, 0);
    retry_quota_release(&q, 0); /* a first-try success gives one back */
    CHECK_EQ_INT(q.available, 1);
    CHECK(!retry_quota_acquire(&q, false, &cost));
    retry_quota_release(&q, RETRY_QUOTA_TIMEOUT_COST);
    CHECK(retry_quota_acquire(&q, true, &cost));
    CHECK_EQ_INT(cost, RETRY_QUOTA_TIMEOUT_COST);
    for (int i = 0; i < 1000; i++)
        retry_quota_release(&q, 0);
    CHECK_EQ_INT(q.available, RETRY_QUOTA_INITIAL); /* never above the initial capacity */
    retry_quota_cleanup(&q);
}

static void test_config(void)
{
    const struct env_reader fake_env_store = {fake_env_get, NULL};
    const struct env_reader *fake_env = &fake_env_store;
    ecrup_retry_mode mode;
    unsigned attempts;
    char msg[256];
    memset(fake_env_vals, 0, sizeof fake_env_vals);
    CHECK_EQ_INT(
        retry_config_resolve(ECRUP_RETRY_DEFAULT, 0, fake_env, &mode, &attempts, msg, sizeof msg),
        ECRUP_OK);
    CHECK_EQ_INT(mode, ECRUP_RETRY_STANDARD);
    CHECK_EQ_INT(attempts, 3);
    fake_env_vals[0][0] = "AWS_RETRY_MODE";
    fake_env_vals[0][1] = "Adaptive";
    fake_env_vals[1][0] = "AWS_MAX_ATTEMPTS";
    fake_env_vals[1][1] = "7";
    CHECK_EQ_INT(
        retry_config_resolve(ECRUP_RETRY_DEFAULT, 0, fake_env, &mode, &attempts, msg, sizeof msg),
        ECRUP_OK);
    CHECK_EQ_INT(mode, ECRUP_RETRY_ADAPTIVE);
    CHECK_EQ_INT(attempts, 7);
    /* Explicit options win over the environment. */
    CHECK_EQ_INT(
        retry_config_resolve(ECRUP_RETRY_STANDARD, 2, fake_env, &mode, &attempts, msg, sizeof msg),
        ECRUP_OK);
    CHECK_EQ_INT(mode, ECRUP_RETRY_STANDARD);
    CHECK_EQ_INT(attempts, 2);
    fake_env_vals[0][1] = "sometimes";
    CHECK_EQ_INT(
        retry_config_resolve(ECRUP_RETRY_DEFAULT, 0, fake_env, &mode, &attempts, msg, sizeof msg),
        ECRUP_E_INVALID_ARGUMENT);
    CHECK(strstr(msg, "AWS_RETRY_MODE") && strstr(msg, "sometimes"));
    fake_env_vals[0][1] = "standard";
    fake_env_vals[1][1] = "0";
    CHECK_EQ_INT(
        retry_config_resolve(ECRUP_RETRY_DEFAULT, 0, fake_env, &mode, &attempts, msg, sizeof msg),
        ECRUP_E_INVALID_ARGUMENT);
    CHECK(strstr(msg, "AWS_MAX_ATTEMPTS") != NULL);
    fake_env_vals[1][1] = "3x";
    CHECK_EQ_INT(
        retry_config_resolve(ECRUP_RETRY_DEFAULT, 0, fake_env, &mode, &attempts, msg, sizeof msg),
        ECRUP_E_INVALID_ARGUMENT);
}

static void test_adaptive(void)
{
    struct retry_rate_limiter r;
    double t = 1000.0;
    retry_rate_limiter_init(&r, t);
    /* Until the first throttle the limiter never delays. */
    for (int i = 0; i < 200; i++) {
        CHECK(retry_rate_limiter_acquire(&r, t) == 0);
        retry_rate_limiter_update(&r, false, t);
        t += 0.01; /* 100 requests a second */
    }
    CHECK(!r.enabled);
    double rate_before = r.measured_rate;
    CHECK(rate_before > 50 && rate_before < 150);
    retry_rate_limiter_update(&r, true, t);
    CHECK(r.enabled);
    /* A throttle cuts the sending rate to beta (0.7) of what was measured. */
    CHECK(r.fill_rate < rate_before * 0.75);
    CHECK(r.fill_rate > rate_before * 0.6);
    double cut = r.fill_rate;
    /* Sending faster than the fill rate makes the limiter ask for waits. */
    double waited = 0;
    for (int i = 0; i < 100; i++)
        waited += retry_rate_limiter_acquire(&r, t);
    CHECK(waited > 0.5);
    /* Successes while sending at the old rate raise the limit back along the cubic curve,
     * past the rate that was throttled once the curve's plateau (k seconds) is behind. */
    for (int i = 0; i < 600; i++) {
        t += 0.01;
        retry_rate_limiter_update(&r, false, t);
    }
    CHECK(r.fill_rate > cut);
    CHECK(r.fill_rate > rate_before * 0.95);
    /* ...but never above twice the measured sending rate. */
    CHECK(r.fill_rate <= 2 * r.measured_rate + 1e-9);
    retry_rate_limiter_cleanup(&r);
}

int main(void)
{
    test_classify();
    test_backoff();
    test_quota();
    test_config();
    test_adaptive();
    return test_finish("test_retry");
}
