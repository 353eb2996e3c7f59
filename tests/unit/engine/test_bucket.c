/* The request-quota token buckets: refill over passed time, the burst cap, an empty bucket,
 * the next token's due time, a clock that goes back. */
#include "engine/bucket.h"

#include "test.h"

static void test_init(void)
{
    struct bucket b;
    bucket_init(&b, 500, 7.0);
    CHECK(b.rate == 450);  /* 90% of the quota */
    CHECK(b.burst == 50);  /* a tenth of it */
    CHECK(b.tokens == 50); /* starts full */
    CHECK(b.last == 7.0);
    bucket_init(&b, 5, 0); /* a tenth of 5 is below one: the burst is one */
    CHECK(b.burst == 1);
    CHECK(b.rate == 4.5);
}

static void test_burst_then_empty(void)
{
    struct bucket b;
    bucket_init(&b, 100, 1.0); /* burst 10, rate 90/s */
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
    bucket_init(&b, 100, 0);
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
    bucket_init(&b, 1000, 0); /* burst 100 */
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
    bucket_init(&b, 100, 10.0);
    while (bucket_take(&b, 10.0, NULL))
        ;
    /* The clock reads five seconds earlier: no tokens appear, and none are taken away, so
     * one token's time later from there a take succeeds. */
    double before = b.tokens;
    CHECK(!bucket_take(&b, 5.0, NULL));
    CHECK(b.tokens == before);
    CHECK(bucket_take(&b, 5.0 + 1.0 / 90 + 1e-9, NULL));
}

int main(void)
{
    test_init();
    test_burst_then_empty();
    test_refill();
    test_burst_cap();
    test_time_backwards();
    return test_finish("test_bucket");
}
