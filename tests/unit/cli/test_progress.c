/* cli/progress.c's formatting: byte units as docker prints them, and layer lines that never
 * wrap whatever the terminal width, label or state. */
#include "cli/progress.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cols_of(const char *s)
{
    int c = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            c++;
    return c;
}

static const char *line(struct ebuf *b, const char *label, int width, ecrup_phase phase,
                        enum progress_final final, const char *reason, uint64_t done,
                        uint64_t total, double rate, int cols)
{
    ebuf_reset(b);
    progress_format_line(b, label, width, phase, final, reason, done, total, 0, rate, cols);
    return ebuf_str(b);
}

static void test_bytes(void)
{
    char s[16];
    const struct {
        uint64_t n;
        const char *want;
    } cases[] = {
        {0, "0B"},
        {999, "999B"},
        {1000, "1.00kB"},
        {12345678, "12.3MB"},
        {268435456, "268MB"},
        {1500000000, "1.50GB"},
        {99999, "100.0kB"},
        {UINT64_MAX, "18446744TB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        progress_format_bytes(s, sizeof s, cases[i].n);
        CHECK_STR(s, cases[i].want);
    }
}

static void test_states(void)
{
    struct ebuf b = EBUF_INIT;
    /* A resumed upload says where it went on from, in place of "Pushing". */
    progress_format_line(&b, "a.tar", 0, ECRUP_PHASE_PUSHING, PROGRESS_NONE, NULL, 100000000,
                         200000000, 90000000, 0, 200);
    CHECK(strncmp(ebuf_str(&b), "a.tar: Resuming at 90.0MB [", 27) == 0);
    CHECK(strstr(ebuf_str(&b), " 100MB/200MB") != NULL);
    ebuf_reset(&b);
    CHECK_STR(line(&b, "a.tar", 8, ECRUP_PHASE_WAITING, PROGRESS_NONE, NULL, 0, 10, 0, 80),
              "a.tar:    Waiting");
    CHECK_STR(line(&b, "a.tar", 0, ECRUP_PHASE_HASHING, PROGRESS_NONE, NULL, 0, 10, 0, 80),
              "a.tar: Hashing");
    CHECK_STR(line(&b, "a.tar", 0, ECRUP_PHASE_DONE, PROGRESS_PUSHED, NULL, 10, 10, 0, 80),
              "a.tar: Pushed");
    CHECK_STR(line(&b, "a.tar", 0, ECRUP_PHASE_DONE, PROGRESS_EXISTS, NULL, 0, 10, 0, 80),
              "a.tar: Layer already exists");
    CHECK_STR(line(&b, "a.tar", 0, ECRUP_PHASE_DONE, PROGRESS_FAILED,
                   "RepositoryNotFoundException: no repo", 0, 10, 0, 80),
              "a.tar: Failed: RepositoryNotFoundException: no repo");
    /* Half done: the bar is half full, then the bytes and the rate. */
    const char *s =
        line(&b, "x", 0, ECRUP_PHASE_PUSHING, PROGRESS_NONE, NULL, 25000000, 50000000, 310e6, 80);
    CHECK(strstr(s, "x: Pushing [") == s);
    CHECK(strstr(s, "] 25.0MB/50.0MB  310 MB/s") != NULL);
    const char *open = strchr(s, '['), *close = strchr(s, ']');
    REQUIRE(open && close);
    int width = (int)(close - open - 1), eq = 0;
    for (const char *p = open + 1; p < close; p++)
        eq += *p == '=';
    CHECK(width >= 10 && width <= 50);
    CHECK(eq == width / 2);
    CHECK(strchr(open, '>') == open + 1 + eq);
    /* No rate yet: no "/s". */
    s = line(&b, "x", 0, ECRUP_PHASE_PUSHING, PROGRESS_NONE, NULL, 0, 50000000, 0, 80);
    CHECK(strstr(s, "/s") == NULL && strstr(s, " 0B/50.0MB") != NULL);
    ebuf_free(&b);
}

static void test_never_wraps(void)
{
    struct ebuf b = EBUF_INIT;
    const char *labels[] = {"l", "a-rather-long-layer-name.tar.gz",
                            "\xc3\xa9t\xc3\xa9-\xe2\x82\xac.tar"};
    for (int cols = 2; cols <= 200; cols++) {
        for (size_t l = 0; l < sizeof labels / sizeof labels[0]; l++) {
            for (int ph = ECRUP_PHASE_WAITING; ph <= ECRUP_PHASE_DONE; ph++) {
                const char *s = line(&b, labels[l], 24, (ecrup_phase)ph, PROGRESS_NONE, NULL,
                                     123456789, 987654321, 55e6, cols);
                if (cols_of(s) > cols - 1) {
                    fprintf(stderr, "cols %d: %d columns: %s\n", cols, cols_of(s), s);
                    CHECK(0);
                }
                /* never cut inside a UTF-8 sequence */
                size_t n = strlen(s);
                CHECK(n == 0 || ((unsigned char)s[n - 1] & 0xC0) != 0xC0);
            }
            const char *s =
                line(&b, labels[l], 0, ECRUP_PHASE_DONE, PROGRESS_FAILED,
                     "a very long failure message that goes on and on and on", 0, 1, 0, cols);
            CHECK(cols_of(s) <= cols - 1);
        }
    }
    ebuf_free(&b);
}

/* The view draws into a memory stream; `frame` receives everything drawn so far. */
static void event(struct progress_view *v, ecrup_phase phase, uint64_t done, uint64_t sent,
                  ecrup_outcome outcome)
{
    struct ecrup_progress ev = {.phase = phase,
                                .bytes_done = done,
                                .bytes_total = 20000000,
                                .bytes_sent = sent,
                                .outcome = outcome};
    progress_view_event(v, 0, &ev);
    progress_view_draw(v);
}

/* The view shows the bytes on the wire, a rate taken from them, and at DONE the outcome at
 * once: never "Done" before "Pushed". */
static void test_view(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    REQUIRE(f != NULL);
    struct progress_view *v = progress_view_new(f, 1);
    REQUIRE(v != NULL);
    progress_view_set_layer(v, 0, "layer.tar", 20000000);
    event(v, ECRUP_PHASE_PUSHING, 0, 0, ECRUP_OUTCOME_PENDING);
    event(v, ECRUP_PHASE_PUSHING, 0, 3000000, ECRUP_OUTCOME_PENDING);
    fflush(f);
    CHECK(strstr(text, " 3.00MB/20.0MB") != NULL); /* nothing acknowledged yet, 3 MB sent */
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    event(v, ECRUP_PHASE_PUSHING, 0, 6000000, ECRUP_OUTCOME_PENDING);
    fflush(f);
    CHECK(strstr(text, " 6.00MB/20.0MB  ") != NULL && strstr(text, "MB/s") != NULL);
    /* A part sent again: the count falls back to what was acknowledged, and the rate starts
     * over rather than counting the bytes twice. */
    size_t mark = len;
    event(v, ECRUP_PHASE_PUSHING, 0, 1000000, ECRUP_OUTCOME_PENDING);
    fflush(f);
    CHECK(strstr(text + mark, " 1.00MB/20.0MB") != NULL && !strstr(text + mark, "/s"));
    /* bytes_sent below bytes_done (an engine that does not fill it): bytes_done is shown */
    event(v, ECRUP_PHASE_PUSHING, 10000000, 0, ECRUP_OUTCOME_PENDING);
    fflush(f);
    CHECK(strstr(text + mark, " 10.0MB/20.0MB") != NULL);
    mark = len;
    event(v, ECRUP_PHASE_DONE, 20000000, 20000000, ECRUP_OUTCOME_UPLOADED);
    fflush(f);
    CHECK(strstr(text + mark, "layer.tar: Pushed") != NULL);
    CHECK(strstr(text, "Done") == NULL);
    progress_view_free(v);
    fclose(f);
    free(text);
}

int main(void)
{
    test_bytes();
    test_states();
    test_never_wraps();
    test_view();
    return test_finish("test_progress");
}
