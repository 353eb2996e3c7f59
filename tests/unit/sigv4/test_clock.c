/* HTTP Date parsing in its three forms and the clock offset the signer uses after a skew
 * error. */
#include "test.h"

#include <pthread.h>
#include <stdbool.h>

#include "signer/clock.h"

#define SUN_1994 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT, RFC 7231's example */

static void test_parse(void)
{
    static const struct {
        const char *in;
        long long want;
    } good[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", SUN_1994},
        {"Sunday, 06-Nov-94 08:49:37 GMT", SUN_1994},
        {"Sun Nov  6 08:49:37 1994", SUN_1994},
        {"Sun Nov 06 08:49:37 1994", SUN_1994},
        {"  Sun, 06 Nov 1994 08:49:37 GMT\r\n", SUN_1994},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Sun, 30 Aug 2015 12:36:00 GMT", 1440938160},
        {"Sunday, 30-Aug-15 12:36:00 GMT", 1440938160}, /* two-digit year < 70: 20xx */
        {"Tue, 29 Feb 2000 23:59:59 GMT", 951868799},
        {"Fri, 31 Dec 2099 23:59:59 GMT", 4102444799LL},
        {"Wed Feb 29 00:00:00 2012", 1330473600},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        time_t t = -1;
        bool ok = sigv4_parse_http_date(good[i].in, &t);
        if (!ok)
            fprintf(stderr, "rejected: %s\n", good[i].in);
        CHECK(ok);
        CHECK_EQ_INT(t, good[i].want);
    }
    static const char *const bad[] = {
        "",
        "garbage",
        "Sun, 06 Nov 1994 08:49:37",       /* no zone */
        "Sun, 06 Nov 1994 08:49:37 UTC",   /* only GMT is allowed */
        "Sun, 06 Nov 1994 08:49:37 GMT x", /* trailing text */
        "Sun, 6 Nov 1994 08:49:37 GMT",    /* day must be two digits */
        "Sun, 06 nov 1994 08:49:37 GMT",   /* names are case-sensitive */
        "Sun, 31 Nov 1994 08:49:37 GMT",   /* no such day */
        "Sun, 29 Feb 1900 08:49:37 GMT",   /* not a leap year */
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",      /* two-digit year in IMF-fixdate */
        "Sunday, 06-Nov-1994 08:49:37 GMT", /* four-digit year in RFC 850 */
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov 6 08:49:37 1994", /* asctime pads with a space */
        "Sun Nov  6 08:49:37 1994 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nox 1994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "20150830T123600Z",
        "2015-08-30T12:36:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        time_t t = 12345;
        bool ok = sigv4_parse_http_date(bad[i], &t);
        if (ok)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(!ok);
        CHECK_EQ_INT(t, 12345);
    }
    CHECK(!sigv4_parse_http_date(NULL, NULL));
    /* Every truncation of a valid date is rejected, never read past its end. */
    const char *full = "Sun, 06 Nov 1994 08:49:37 GMT";
    for (size_t n = 0; n < strlen(full); n++) {
        char *g = test_guarded_copy(full, n + 1);
        g[n] = '\0';
        CHECK(!sigv4_parse_http_date(g, NULL));
        test_guarded_free(g, n + 1);
    }
}

static void test_offset(void)
{
    struct sigv4_clock c;
    sigv4_clock_init(&c);
    CHECK_EQ_INT(sigv4_clock_offset(&c), 0);
    CHECK_EQ_INT(sigv4_clock_adjust(&c, 1000), 1000);
    CHECK_EQ_INT(sigv4_clock_adjust(NULL, 1000), 1000);
    /* Our clock is 15 minutes fast: the server's Date is earlier. */
    time_t local = 1440938160 + 900;
    CHECK(sigv4_clock_correct_at(&c, "Sun, 30 Aug 2015 12:36:00 GMT", local));
    CHECK_EQ_INT(sigv4_clock_offset(&c), -900);
    CHECK_EQ_INT(sigv4_clock_adjust(&c, local), 1440938160);
    /* A later correction replaces the offset (a slow clock this time). */
    CHECK(sigv4_clock_correct_at(&c, "Sun, 30 Aug 2015 12:46:00 GMT", 1440938160));
    CHECK_EQ_INT(sigv4_clock_offset(&c), 600);
    /* An unparsable header changes nothing. */
    CHECK(!sigv4_clock_correct_at(&c, "not a date", 0));
    CHECK(!sigv4_clock_correct_from_date_header(&c, NULL));
    CHECK_EQ_INT(sigv4_clock_offset(&c), 600);
    sigv4_clock_set_offset(&c, -5);
    CHECK_EQ_INT(sigv4_clock_adjust(&c, 100), 95);
    CHECK(!sigv4_clock_correct_at(NULL, "Sun, 30 Aug 2015 12:46:00 GMT", 0));
    /* now() is the local clock plus the offset: a correction from a Date a day ahead moves it
     * by about a day (the bounds are loose: this is not a timing check). */
    sigv4_clock_set_offset(&c, 86400);
    time_t before = time(NULL);
    time_t got = sigv4_clock_now(&c);
    CHECK(got >= before + 86400 && got < before + 86400 + 3600);
}

/* Readers and writers together (meaningful under TSan): a reader only ever sees one of the
 * values the writers store. */
static struct sigv4_clock shared;
static int torn;

static void *writer(void *arg)
{
    long long v = (long long)(intptr_t)arg;
    for (int i = 0; i < 20000; i++)
        sigv4_clock_set_offset(&shared, (i & 1) ? v : -v);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        long long o = (long long)sigv4_clock_offset(&shared);
        if (o != 0 && o != 0x100000001LL && o != -0x100000001LL && o != 7 && o != -7)
            __atomic_add_fetch(&torn, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_threads(void)
{
    sigv4_clock_init(&shared);
    pthread_t t[3];
    REQUIRE(pthread_create(&t[0], NULL, writer, (void *)(intptr_t)0x100000001LL) == 0);
    REQUIRE(pthread_create(&t[1], NULL, writer, (void *)(intptr_t)7) == 0);
    REQUIRE(pthread_create(&t[2], NULL, reader, NULL) == 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(torn, 0);
}

int main(void)
{
    test_parse();
    test_offset();
    test_threads();
    return test_finish("test_clock");
}
