/* The credential cache's refresh windows (botocore's RefreshableCredentials: advisory at 15
 * minutes left, mandatory at 10), on a fake clock (the cache takes `now`) over a fake provider
 * (the cache's `walk` hook) that counts its walks, fails on demand and can be held inside a
 * walk so a test sees what the other threads do meanwhile. Runs under TSan too. */
#include "signer/cred_provider.h"
#include "signer/credentials.h"
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0        1000000000L /* the fake clock's start */
#define LIFETIME  3600L       /* what the fake provider's credentials last */
#define ADVISORY  (15 * 60)
#define MANDATORY (10 * 60)

struct fake {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    /* Guarded by `lock`. */
    int walks;     /* started */
    int inside;    /* walking now */
    int most;      /* the most walking at once */
    bool fail;     /* walks fail */
    bool hold;     /* walks wait inside until cleared */
    time_t issued; /* the fake clock at which the next credentials are issued */
};

/* The refreshing thread (whichever caller of cred_cache_get walks). */
static ecrup_status fake_walk(void *user, struct cred_snapshot **out, struct ebuf *err)
{
    struct fake *f = user;
    pthread_mutex_lock(&f->lock);
    int n = ++f->walks;
    if (++f->inside > f->most)
        f->most = f->inside;
    pthread_cond_broadcast(&f->changed);
    while (f->hold)
        pthread_cond_wait(&f->changed, &f->lock);
    bool fail = f->fail;
    time_t expires = f->issued + LIFETIME;
    f->inside--;
    pthread_mutex_unlock(&f->lock);
    if (fail) {
        ebuf_printf(err, "fake provider: walk %d refused", n);
        return ECRUP_E_CREDENTIALS;
    }
    char akid[32], secret[48];
    snprintf(akid, sizeof akid, "AKIAFAKE%04d", n);
    snprintf(secret, sizeof secret, "secret-%s", akid);
    *out = cred_snapshot_new(akid, secret, NULL, expires, "fake");
    return *out ? ECRUP_OK : ECRUP_E_NOMEM;
}

static void fake_init(struct fake *f)
{
    *f = (struct fake){.issued = T0};
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->changed, NULL);
}

static void fake_cleanup(struct fake *f)
{
    pthread_cond_destroy(&f->changed);
    pthread_mutex_destroy(&f->lock);
}

static void fake_set(struct fake *f, bool fail, bool hold)
{
    pthread_mutex_lock(&f->lock);
    f->fail = fail;
    f->hold = hold;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
}

static int fake_walks(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    int n = f->walks;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* Until a walk is held inside the fake. */
static void fake_wait_inside(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    while (f->inside == 0)
        pthread_cond_wait(&f->changed, &f->lock);
    pthread_mutex_unlock(&f->lock);
}

static char *refresh_note(struct cred_cache *cache)
{
    struct cred_report r;
    if (cred_cache_report(cache, &r) != ECRUP_OK)
        return NULL;
    char *note = r.refresh_note;
    r.refresh_note = NULL;
    cred_report_free(&r);
    return note;
}

/* A cache over the fake, with the given windows (0: the defaults), that has walked once at
 * T0: `a` is what it got. `f` must not move while the cache lives. */
struct fixture {
    struct fake f;
    struct cred_cache *cache;
    struct cred_snapshot *a;
    pthread_mutex_t log_lock; /* guards the two below: refresh_log runs on the refresher */
    int logged;               /* refresh_log calls */
    char last_log[256];
};

/* The refreshing thread. */
static void fixture_log(void *user, const char *note)
{
    struct fixture *x = user;
    pthread_mutex_lock(&x->log_lock);
    x->logged++;
    snprintf(x->last_log, sizeof x->last_log, "%s", note);
    pthread_mutex_unlock(&x->log_lock);
}

static int fixture_logged(struct fixture *x, char *last, size_t cap)
{
    pthread_mutex_lock(&x->log_lock);
    int n = x->logged;
    if (last)
        snprintf(last, cap, "%s", x->last_log);
    pthread_mutex_unlock(&x->log_lock);
    return n;
}

static void setup(struct fixture *x, int advisory, int mandatory)
{
    fake_init(&x->f);
    pthread_mutex_init(&x->log_lock, NULL);
    x->logged = 0;
    x->last_log[0] = 0;
    struct cred_config cfg = {.walk = fake_walk,
                              .walk_user = &x->f,
                              .refresh_log = fixture_log,
                              .refresh_log_user = x,
                              .advisory_refresh_seconds = advisory,
                              .mandatory_refresh_seconds = mandatory};
    x->cache = cred_cache_new(&cfg);
    REQUIRE(x->cache);
    struct ebuf err = EBUF_INIT;
    x->a = NULL;
    CHECK_EQ_INT(cred_cache_get(x->cache, T0, &x->a, &err), ECRUP_OK);
    CHECK_EQ_INT(fake_walks(&x->f), 1);
    REQUIRE(x->a);
    CHECK_EQ_INT(x->a->expiration, T0 + LIFETIME);
    ebuf_free(&err);
}

static void teardown(struct fixture *x)
{
    cred_snapshot_release(x->a);
    cred_cache_free(x->cache);
    fake_cleanup(&x->f);
    pthread_mutex_destroy(&x->log_lock);
}

static void test_outside_windows(void)
{
    struct fixture x;
    setup(&x, 0, 0);
    struct fake *f = &x.f;
    struct cred_cache *cache = x.cache;
    struct cred_snapshot *a = x.a, *b = NULL;
    CHECK_EQ_INT(a->expiration, T0 + LIFETIME);
    struct ebuf err = EBUF_INIT;
    /* 15 minutes and a second left: not yet. */
    CHECK_EQ_INT(cred_cache_get(cache, a->expiration - ADVISORY - 1, &b, &err), ECRUP_OK);
    CHECK(b == a);
    CHECK_EQ_INT(fake_walks(f), 1);
    cred_snapshot_release(b);
    teardown(&x);
    ebuf_free(&err);
}

static void test_advisory_failure_keeps_old(void)
{
    struct fixture x;
    setup(&x, 0, 0);
    struct fake *f = &x.f;
    struct cred_cache *cache = x.cache;
    struct cred_snapshot *a = x.a, *b = NULL;
    struct ebuf err = EBUF_INIT;
    time_t now = a->expiration - ADVISORY + 1; /* advisory window */
    fake_set(f, true, false);
    CHECK_EQ_INT(cred_cache_get(cache, now, &b, &err), ECRUP_OK);
    CHECK(b == a);
    CHECK_EQ_INT(fake_walks(f), 2);
    CHECK_EQ_INT(err.len, 0); /* not an error to the caller... */
    char *note = refresh_note(cache);
    CHECK(note && strstr(note, "advisory refresh failed") && strstr(note, "walk 2 refused"));
    free(note); /* ...but kept as a note, and told to the log hook once */
    char last[256];
    CHECK_EQ_INT(fixture_logged(&x, last, sizeof last), 1);
    CHECK(strstr(last, "advisory refresh failed") != NULL);
    cred_snapshot_release(b);

    /* Held off for a few seconds, then tried again. */
    CHECK_EQ_INT(cred_cache_get(cache, now + 1, &b, &err), ECRUP_OK);
    CHECK(b == a);
    CHECK_EQ_INT(fake_walks(f), 2);
    cred_snapshot_release(b);
    fake_set(f, false, false);
    f->issued = now + 10;
    CHECK_EQ_INT(cred_cache_get(cache, now + 10, &b, &err), ECRUP_OK);
    CHECK_EQ_INT(fake_walks(f), 3);
    REQUIRE(b);
    CHECK(b != a);
    CHECK_STR(b->access_key_id, "AKIAFAKE0003");
    CHECK_STR(a->access_key_id, "AKIAFAKE0001"); /* the old snapshot intact for its holder */
    note = refresh_note(cache);
    CHECK(note == NULL); /* a success clears the note */
    free(note);
    CHECK_EQ_INT(fixture_logged(&x, NULL, 0), 1); /* and is not logged */
    cred_snapshot_release(b);
    teardown(&x);
    ebuf_free(&err);
}

struct getter {
    struct cred_cache *cache;
    time_t now;
    pthread_mutex_t *lock; /* guards `done` */
    bool done;
    ecrup_status st;
    struct cred_snapshot *snap;
    char err[160];
};

/* A thread of its own, standing for a transfer thread that signs. */
static void *getter_main(void *arg)
{
    struct getter *g = arg;
    struct ebuf err = EBUF_INIT;
    struct cred_snapshot *s = NULL;
    ecrup_status st = cred_cache_get(g->cache, g->now, &s, &err);
    pthread_mutex_lock(g->lock);
    g->st = st;
    g->snap = s;
    snprintf(g->err, sizeof g->err, "%s", ebuf_str(&err));
    g->done = true;
    pthread_mutex_unlock(g->lock);
    ebuf_free(&err);
    return NULL;
}

static bool getter_done(struct getter *g)
{
    pthread_mutex_lock(g->lock);
    bool d = g->done;
    pthread_mutex_unlock(g->lock);
    return d;
}

static void test_advisory_does_not_wait(void)
{
    struct fixture x;
    setup(&x, 0, 0);
    struct fake *f = &x.f;
    struct cred_cache *cache = x.cache;
    struct cred_snapshot *a = x.a, *b = NULL;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    time_t now = a->expiration - ADVISORY + 100;
    f->issued = now; /* no walk runs yet: the refresh's credentials last a lifetime from now */
    fake_set(f, false, true);
    struct getter g = {.cache = cache, .now = now, .lock = &lock};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, getter_main, &g) == 0);
    fake_wait_inside(f); /* the thread is refreshing, held inside the provider */
    /* Another caller in the advisory window gets the current credentials at once (were it
     * to wait, this would hang until ctest's timeout). */
    struct ebuf err = EBUF_INIT;
    CHECK_EQ_INT(cred_cache_get(cache, now, &b, &err), ECRUP_OK);
    CHECK(b == a);
    CHECK_EQ_INT(fake_walks(f), 2);
    CHECK(!getter_done(&g));
    cred_snapshot_release(b);
    fake_set(f, false, false);
    pthread_join(th, NULL);
    CHECK_EQ_INT(g.st, ECRUP_OK);
    REQUIRE(g.snap);
    CHECK_STR(g.snap->access_key_id, "AKIAFAKE0002");
    /* The next caller gets the refreshed ones. */
    CHECK_EQ_INT(cred_cache_get(cache, now, &b, &err), ECRUP_OK);
    CHECK(b == g.snap);
    CHECK_EQ_INT(fake_walks(f), 2);
    cred_snapshot_release(b);
    cred_snapshot_release(g.snap);
    teardown(&x);
    ebuf_free(&err);
}

/* Several callers in the mandatory window: all wait for one refresh. When `fail`, the
 * refresh fails at `at` (seconds before expiry; negative: after): still-valid credentials
 * are served, expired ones give every waiter the refresh's error without another walk. */
static void mandatory_case(bool fail, long at)
{
    struct fixture x;
    setup(&x, 0, 0);
    struct fake *f = &x.f;
    struct cred_cache *cache = x.cache;
    struct cred_snapshot *a = x.a;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    time_t now = a->expiration - at;
    fake_set(f, fail, true);
    enum { N = 4 };
    struct getter g[N];
    pthread_t th[N];
    g[0] = (struct getter){.cache = cache, .now = now, .lock = &lock};
    REQUIRE(pthread_create(&th[0], NULL, getter_main, &g[0]) == 0);
    fake_wait_inside(f);
    for (int i = 1; i < N; i++) {
        g[i] = g[0];
        REQUIRE(pthread_create(&th[i], NULL, getter_main, &g[i]) == 0);
    }
    usleep(300 * 1000); /* time for the others to reach the cache's wait */
    int returned = 0;
    for (int i = 0; i < N; i++)
        returned += getter_done(&g[i]);
    CHECK_EQ_INT(returned, 0); /* everyone waits for the refresh */
    fake_set(f, fail, false);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(fake_walks(f), 2); /* exactly one refresh for all of them */
    for (int i = 0; i < N; i++) {
        if (!fail) {
            CHECK_EQ_INT(g[i].st, ECRUP_OK);
            CHECK(g[i].snap && g[i].snap == g[0].snap && g[i].snap != a);
        } else if (at > 0) {
            CHECK_EQ_INT(g[i].st, ECRUP_OK);
            CHECK(g[i].snap == a);
        } else {
            CHECK_EQ_INT(g[i].st, ECRUP_E_CREDENTIALS);
            CHECK(g[i].snap == NULL);
            CHECK(strstr(g[i].err, "walk 2 refused") != NULL);
        }
        cred_snapshot_release(g[i].snap);
    }
    if (fail && at > 0) {
        char *note = refresh_note(cache);
        CHECK(note && strstr(note, "mandatory refresh failed") && strstr(note, "walk 2 refused"));
        free(note);
    }
    /* Logged once for the one failed walk the callers outlived; an error is not logged (the
     * callers get it). */
    CHECK_EQ_INT(fixture_logged(&x, NULL, 0), fail && at > 0 ? 1 : 0);
    if (fail && at < 0) {
        /* A later call tries again (the credentials are gone: no holding off). */
        struct cred_snapshot *s = NULL;
        struct ebuf err = EBUF_INIT;
        CHECK_EQ_INT(cred_cache_get(cache, now + 1, &s, &err), ECRUP_E_CREDENTIALS);
        CHECK(s == NULL && strstr(ebuf_str(&err), "walk 3 refused"));
        ebuf_free(&err);
    }
    teardown(&x);
}

static void test_mandatory(void)
{
    mandatory_case(false, MANDATORY - 1);
    mandatory_case(true, MANDATORY - 1); /* failed, old ones still valid: served */
    mandatory_case(true, 1);             /* the last second */
    mandatory_case(true, -1);            /* expired and the refresh fails: an error */
    mandatory_case(true, 0);             /* expiring this very second counts as expired */
}

struct stress {
    struct cred_cache *cache;
    struct fake *fake;
    int gets, bad;
};

/* A transfer thread signing at fake times that sweep both windows of several credentials. The
 * fake issues credentials from the latest time any thread has reached, so a refresh answers
 * every thread with credentials valid at its own time. */
static void *stress_main(void *arg)
{
    struct stress *s = arg;
    struct ebuf err = EBUF_INIT;
    for (int i = 0; i < 2000; i++) {
        time_t now = T0 + i * 5; /* 10000 s: about three lifetimes */
        pthread_mutex_lock(&s->fake->lock);
        if (now > s->fake->issued)
            s->fake->issued = now;
        pthread_mutex_unlock(&s->fake->lock);
        struct cred_snapshot *snap = NULL;
        ebuf_reset(&err);
        if (cred_cache_get(s->cache, now, &snap, &err) != ECRUP_OK || !snap) {
            s->bad++;
            continue;
        }
        char want[48];
        snprintf(want, sizeof want, "secret-%s", snap->access_key_id);
        if (strcmp(snap->secret_access_key, want) != 0 || snap->expiration <= now)
            s->bad++;
        s->gets++;
        cred_snapshot_release(snap);
    }
    ebuf_free(&err);
    return NULL;
}

static void test_concurrent_sweep(void)
{
    struct fixture x;
    setup(&x, 0, 0);
    struct fake *f = &x.f;
    struct cred_cache *cache = x.cache;
    enum { N = 4 };
    struct stress st[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        st[i] = (struct stress){.cache = cache, .fake = f};
        REQUIRE(pthread_create(&th[i], NULL, stress_main, &st[i]) == 0);
    }
    int gets = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        gets += st[i].gets;
        bad += st[i].bad;
    }
    CHECK_EQ_INT(gets, N * 2000);
    CHECK_EQ_INT(bad, 0);
    pthread_mutex_lock(&f->lock);
    CHECK_EQ_INT(f->most, 1); /* single flight */
    CHECK(f->walks >= 3);     /* refreshed as the sweep went through each lifetime */
    printf("concurrent sweep: %d gets, %d walks\n", gets, f->walks);
    pthread_mutex_unlock(&f->lock);
    teardown(&x);
}

/* Windows given in the config replace the defaults; the mandatory one never exceeds the
 * advisory one. */
static void test_configured_windows(void)
{
    struct fixture x;
    setup(&x, 60, 600);
    struct cred_snapshot *a = x.a, *b = NULL;
    struct ebuf err = EBUF_INIT;
    CHECK_EQ_INT(cred_cache_get(x.cache, a->expiration - 61, &b, &err), ECRUP_OK);
    CHECK(b == a && fake_walks(&x.f) == 1);
    cred_snapshot_release(b);
    /* Inside 60 s: mandatory (clamped to the advisory window), so this caller refreshes and
     * a failure with valid credentials says "mandatory". */
    fake_set(&x.f, true, false);
    CHECK_EQ_INT(cred_cache_get(x.cache, a->expiration - 59, &b, &err), ECRUP_OK);
    CHECK(b == a && fake_walks(&x.f) == 2);
    char *note = refresh_note(x.cache);
    CHECK(note && strstr(note, "mandatory refresh failed"));
    free(note);
    cred_snapshot_release(b);
    teardown(&x);
    ebuf_free(&err);
}

int main(void)
{
    test_outside_windows();
    test_advisory_failure_keeps_old();
    test_advisory_does_not_wait();
    test_mandatory();
    test_concurrent_sweep();
    test_configured_windows();
    return test_finish("test_credentials_refresh");
}
