/* Grouping layer checks into BatchCheckLayerAvailability calls: by repository and registry,
 * at most 100 digests a call, a digest shared by layers asked once. */
#include "engine/check_batch.h"

#include "test.h"

struct want {
    const char *repo, *reg, *digest;
    int call; /* which call the layer went into; -1 while it waits */
};

/* Every call the scheduler would send for `w`, as send_checks() walks its layers: the first
 * waiting one opens a call, every later one is offered to it. Returns the number of calls;
 * the digests of each land in calls[] (up to `max` calls). */
static int plan(struct want *w, size_t n, struct check_batch *calls, int max)
{
    int nc = 0;
    for (size_t i = 0; i < n; i++)
        w[i].call = -1;
    for (size_t i = 0; i < n; i++) {
        if (w[i].call >= 0)
            continue;
        REQUIRE(nc < max);
        struct check_batch *b = &calls[nc];
        check_batch_init(b, w[i].repo, w[i].reg);
        for (size_t j = i; j < n && !check_batch_full(b); j++)
            if (w[j].call < 0 && check_batch_add(b, w[j].repo, w[j].reg, w[j].digest))
                w[j].call = nc;
        nc++;
    }
    return nc;
}

static void test_groups(void)
{
    struct want w[] = {
        {"app", NULL, "sha256:0"}, {"web", NULL, "sha256:1"},   {"app", "123", "sha256:2"},
        {"app", NULL, "sha256:3"}, {"app", "456", "sha256:4"},  {"app", "123", "sha256:5"},
        {"App", NULL, "sha256:6"}, {"app/x", NULL, "sha256:7"}, {"app", "1234", "sha256:8"},
        {"web", NULL, "sha256:9"},
    };
    size_t n = sizeof w / sizeof w[0];
    struct check_batch calls[10];
    int nc = plan(w, n, calls, 10);
    CHECK_EQ_INT(nc, 7);
    /* app in the caller's account: layers 0 and 3 */
    CHECK_EQ_INT(calls[0].n, 2);
    CHECK_STR(calls[0].digests[0], "sha256:0");
    CHECK_STR(calls[0].digests[1], "sha256:3");
    CHECK(calls[0].registry_id == NULL);
    CHECK_EQ_INT(w[3].call, 0);
    /* web: layers 1 and 9 */
    CHECK_EQ_INT(w[1].call, 1);
    CHECK_EQ_INT(w[9].call, 1);
    CHECK_EQ_INT(calls[1].n, 2);
    /* app in registry 123: 2 and 5, not 1234 */
    CHECK_EQ_INT(w[2].call, 2);
    CHECK_EQ_INT(w[5].call, 2);
    CHECK_STR(calls[2].registry_id, "123");
    CHECK_EQ_INT(calls[2].n, 2);
    CHECK(w[8].call != 2);
    /* names compare exactly: App and app/x are other repositories */
    CHECK(w[6].call != 0 && w[7].call != 0 && w[6].call != w[7].call);
    for (size_t i = 0; i < n; i++)
        CHECK(w[i].call >= 0);
}

static void test_registry_mismatch(void)
{
    struct check_batch b;
    check_batch_init(&b, "app", NULL);
    CHECK(!check_batch_add(&b, "app", "123", "sha256:a"));
    CHECK(check_batch_add(&b, "app", NULL, "sha256:a"));
    check_batch_init(&b, "app", "123");
    CHECK(!check_batch_add(&b, "app", NULL, "sha256:a"));
    CHECK(!check_batch_add(&b, "app", "124", "sha256:a"));
    CHECK(!check_batch_add(&b, "ap", "123", "sha256:a"));
    CHECK(check_batch_add(&b, "app", "123", "sha256:a"));
    CHECK_EQ_INT(b.n, 1);
}

static void test_at_most_100(void)
{
    enum { N = 250 };
    static struct want w[N];
    static char digests[N][16];
    for (size_t i = 0; i < N; i++) {
        snprintf(digests[i], sizeof digests[i], "sha256:%zu", i);
        w[i] = (struct want){"app", NULL, digests[i], 0};
    }
    struct check_batch calls[4];
    int nc = plan(w, N, calls, 4);
    CHECK_EQ_INT(nc, 3);
    CHECK_EQ_INT(calls[0].n, 100);
    CHECK_EQ_INT(calls[1].n, 100);
    CHECK_EQ_INT(calls[2].n, 50);
    CHECK(check_batch_full(&calls[0]));
    CHECK(!check_batch_full(&calls[2]));
    CHECK_EQ_INT(w[99].call, 0);
    CHECK_EQ_INT(w[100].call, 1);
    CHECK_STR(calls[1].digests[0], "sha256:100");
    CHECK_EQ_INT(w[249].call, 2);
    /* a full call takes no one, not even a digest it already lists */
    CHECK(!check_batch_add(&calls[0], "app", NULL, "sha256:0"));
    CHECK(!check_batch_add(&calls[0], "app", NULL, "sha256:new"));
    CHECK_EQ_INT(calls[0].n, 100);
}

static void test_duplicates(void)
{
    struct want w[] = {
        {"app", NULL, "sha256:same"}, {"app", NULL, "sha256:other"}, {"app", NULL, "sha256:same"},
        {"app", NULL, "sha256:same"}, {"web", NULL, "sha256:same"},  {"app", NULL, "sha256:other"},
    };
    size_t n = sizeof w / sizeof w[0];
    struct check_batch calls[4];
    int nc = plan(w, n, calls, 4);
    CHECK_EQ_INT(nc, 2);
    CHECK_EQ_INT(calls[0].n, 2); /* each digest once */
    CHECK_STR(calls[0].digests[0], "sha256:same");
    CHECK_STR(calls[0].digests[1], "sha256:other");
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(w[i].call, i == 4 ? 1 : 0); /* every layer joins, to take the answer */
    CHECK_EQ_INT(calls[1].n, 1);
    /* 100 distinct digests offered twice each: one full call holds every layer */
    static char d[100][16];
    static struct want many[200];
    for (size_t i = 0; i < 100; i++) {
        snprintf(d[i], sizeof d[i], "sha256:%zu", i);
        many[2 * i] = many[2 * i + 1] = (struct want){"app", NULL, d[i], 0};
    }
    /* the 100th distinct digest fills the call, so its second layer waits for the next */
    nc = plan(many, 200, calls, 4);
    CHECK_EQ_INT(nc, 2);
    CHECK_EQ_INT(calls[0].n, 100);
    CHECK_EQ_INT(many[198].call, 0);
    CHECK_EQ_INT(many[199].call, 1);
    CHECK_EQ_INT(calls[1].n, 1);
}

int main(void)
{
    test_groups();
    test_registry_mismatch();
    test_at_most_100();
    test_duplicates();
    return test_finish("test_check_batch");
}
