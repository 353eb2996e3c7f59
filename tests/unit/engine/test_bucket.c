/* The request-quota token buckets: refill over passed time, the burst cap, an empty bucket,
 * the next token's due time, a clock that goes back; the rate growing under demand while no
 * throttle comes, up to its ceiling and not without demand, and a throttle's cut. */
#include "engine/bucket.h"

#include <math.h>

#include "test.h"

static void test_init(void)
{
    struct bucket b;
    bucket_init(&b, 500, 0, 7.0);
    CHECK(b.rate == 450);  /* 90% of the quota */
    CHECK(b.burst == 50);  /* a tenth of it */
    CHECK(b.tokens == 50); /* starts full */
    CHECK(b.last == 7.0);
    bucket_init(&b, 5, 0, 0); /* a tenth of 5 is below one: the burst is one */
    CHECK(b.burst == 1);
    CHECK(b.rate == 4.5);
}

static void test_burst_then_empty(void)
{
    struct bucket b;
    bucket_init(&b, 100, 0, 1.0); /* burst 10, rate 90/s */
    for (int i = 0; i < 10; i++)
        CHECK(bucket_take(&b, 1.0, NULL));
    double due = -1;
    CHECK(!bucket_take(&b, 1.0, &due));
    CHECK(due > 1.0 + 1.0 / 90 - 1e-9 && due < 1.0 + 1.0 / 90 + 1e-9);
    CHECK(!bucket_take(&b, 1.0, NULL)); /* a refused take costs nothing, and NULL is fine */
    CHECK(b.tokens >= 0 && b.tokens < 1);
}

static void test_refill(void)
{
    struct bucket b;
    bucket_init(&b, 100, 0, 0);
    while (bucket_take(&b, 0, NULL))
        ;
    CHECK(!bucket_take(&b, 0.5 / 90, NULL)); /* half a token's time */
    CHECK(bucket_take(&b, 1.0 / 90 + 1e-9, NULL));
    CHECK(!bucket_take(&b, 1.0 / 90 + 1e-9, NULL));
    /* 0.1 s brings 9 tokens at 90/s: nine takes, not ten */
    double t = 1.0 / 90 + 0.1 + 1e-9;
    int n = 0;
    while (bucket_take(&b, t, NULL))
        n++;
    CHECK_EQ_INT(n, 9);
}

static void test_burst_cap(void)
{
    struct bucket b;
    bucket_init(&b, 1000, 0, 0); /* burst 100 */
    CHECK(bucket_take(&b, 0, NULL));
    /* An hour idle refills to the burst, not to an hour of tokens. */
    int n = 0;
    while (bucket_take(&b, 3600, NULL) && n < 1000)
        n++;
    CHECK_EQ_INT(n, 100);
    CHECK(b.tokens <= b.burst);
}

static void test_time_backwards(void)
{
    struct bucket b;
    bucket_init(&b, 100, 0, 10.0);
    while (bucket_take(&b, 10.0, NULL))
        ;
    /* The clock reads five seconds earlier: no tokens appear, and none are taken away, so
     * one token's time later from there a take succeeds. */
    double before = b.tokens;
    CHECK(!bucket_take(&b, 5.0, NULL));
    CHECK(b.tokens == before);
    CHECK(bucket_take(&b, 5.0 + 1.0 / 90 + 1e-9, NULL));
}

/* A push that always wants more than the bucket gives: every millisecond from `from` to `to`,
 * take until refused. Returns the takes. */
static unsigned demand(struct bucket *b, double from, double to)
{
    unsigned n = 0;
    for (double t = from; t < to; t += 0.001)
        while (bucket_take(b, t, NULL))
            n++;
    return n;
}

static void test_grows_under_demand(void)
{
    struct bucket b;
    bucket_init(&b, 100, 1000, 0); /* starts at 90/s */
    unsigned first = demand(&b, 0, 1);
    /* On the plateau: the first second adds little (90 plus the burst of 10, give or take). */
    CHECK(first >= 95 && first <= 110);
    CHECK(b.rate > 90 && b.rate < 95);
    demand(&b, 1, 3.5);
    /* BUCKET_GROWTH_SECONDS of demand past the first measured half second: about twice the
     * start. */
    CHECK(b.rate > 165 && b.rate < 190);
    double before = b.rate;
    unsigned next = demand(&b, 3.5, 4.5);
    CHECK(b.rate > before);
    CHECK(next > before && next < b.rate / 0.9 + 1); /* sent what the rate allowed, no more */
    demand(&b, 4.5, 12);
    CHECK(b.rate == 1000); /* the ceiling, exactly */
}

static void test_no_growth_without_demand(void)
{
    struct bucket b;
    bucket_init(&b, 100, 1000, 0);
    /* 50 requests a second, none refused: nothing says the quota is higher. */
    for (int i = 0; i < 500; i++)
        CHECK(bucket_take(&b, i * 0.02, NULL));
    CHECK(b.rate == 90);
    /* A fixed bucket (the ceiling at or below the start) stays where it is under demand. */
    bucket_init(&b, 100, 0, 0);
    demand(&b, 0, 10);
    CHECK(b.rate == 90);
}

static void test_throttle_cuts(void)
{
    struct bucket b;
    bucket_init(&b, 100, 1000, 0);
    demand(&b, 0, 4);
    bucket_take(&b, 4.0, NULL);
    double r = b.rate;
    CHECK(r > 200);
    bucket_throttled(&b, 4.0, 3);
    CHECK(fabs(b.rate - r * BUCKET_BETA) < 1e-9);
    CHECK(b.w_max == r);
    /* The tokens held went with the cut (no burst), and the three retries took theirs: the
     * next first attempt waits four tokens' time. */
    CHECK(b.tokens == -3);
    double due = 0;
    CHECK(!bucket_take(&b, 4.0, &due));
    CHECK(fabs(due - (4.0 + 4 / b.rate)) < 1e-9);
    /* Throttles answering requests sent before the cut say nothing new, but their retries
     * still take tokens. */
    double tokens = b.tokens;
    bucket_throttled(&b, 4.0 + BUCKET_CUT_HOLD / 2, 1);
    CHECK(b.rate >= r * BUCKET_BETA); /* not cut again (regrowing, steeply far below w_max) */
    CHECK(b.tokens < tokens + BUCKET_CUT_HOLD / 2 * b.rate - 1 + 1e-6);
    bucket_take(&b, 4.0 + BUCKET_CUT_HOLD * 1.5, NULL);
    double pre = b.rate;
    CHECK(pre < r);
    bucket_throttled(&b, 4.0 + BUCKET_CUT_HOLD * 1.5, 1);
    double cut2 = b.rate;
    CHECK(fabs(cut2 - pre * BUCKET_BETA) < 1e-9);
    /* Throttled below the last cut's rate: the plateau goes below this one's rate too. */
    double w = pre * (1 + BUCKET_BETA) / 2;
    CHECK(fabs(b.w_max - w) < 1e-9);
    /* Back to the plateau after k seconds of demand, slowly near it (concave), then past. */
    double t0 = 4.0 + BUCKET_CUT_HOLD * 1.5;
    demand(&b, t0, t0 + b.k * 0.5);
    CHECK(b.rate > cut2 && b.rate < w);
    demand(&b, t0 + b.k * 0.5, t0 + b.k + 0.05);
    CHECK(fabs(b.rate - w) < w * 0.02);
    demand(&b, t0 + b.k + 0.05, t0 + b.k + 2);
    CHECK(b.rate > w * 1.05);
    /* Cuts stop at the least rate. */
    for (int i = 0; i < 100; i++)
        bucket_throttled(&b, 20 + i, 1);
    CHECK(b.rate == BUCKET_MIN_RATE);
    CHECK(b.burst == 1);
}

int main(void)
{
    test_init();
    test_burst_then_empty();
    test_refill();
    test_burst_cap();
    test_time_backwards();
    test_grows_under_demand();
    test_no_growth_without_demand();
    test_throttle_cuts();
    return test_finish("test_bucket");
}
