/* `ecrup serve --quotas`: off, ECR's defaults and a file; each bucket's burst (a second of its
 * rate unless the file says), its refill, operations without a quota, and the counts the server
 * reports at exit. The clock is passed in. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/quotas.h"
#include "test.h"

static double now0(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + 1;
}

static bool said(struct quotas *q, const char *needle)
{
    struct ebuf out = EBUF_INIT;
    quotas_describe(q, &out);
    bool found = strstr(ebuf_str(&out), needle) != NULL;
    if (!found)
        fprintf(stderr, "summary '%s' lacks '%s'\n", ebuf_str(&out), needle);
    ebuf_free(&out);
    return found;
}

static void test_off(void)
{
    struct quotas *q = (struct quotas *)1;
    struct ebuf err = EBUF_INIT;
    CHECK(quotas_load("off", &q, &err) == 0);
    CHECK(q == NULL);
    for (int i = 0; i < 10000; i++)
        CHECK(quotas_take(q, "PutImage"));
    ebuf_free(&err);
}

static void test_ecr(void)
{
    struct quotas *q = NULL;
    struct ebuf err = EBUF_INIT;
    REQUIRE(quotas_load("ecr", &q, &err) == 0 && q);
    double t = now0();
    for (int i = 0; i < 10; i++) /* PutImage 10/s: a second's burst */
        CHECK(quotas_take_at(q, "PutImage", t));
    CHECK(!quotas_take_at(q, "PutImage", t));
    CHECK(!quotas_take_at(q, "PutImage", t + 0.05)); /* half a token */
    CHECK(quotas_take_at(q, "PutImage", t + 0.1 + 1e-6));
    int n = 0;
    while (quotas_take_at(q, "InitiateLayerUpload", t) && n < 1000)
        n++;
    CHECK_EQ_INT(n, 100);
    n = 0;
    while (quotas_take_at(q, "UploadLayerPart", t) && n < 1000)
        n++;
    CHECK_EQ_INT(n, 500);
    for (int i = 0; i < 5000; i++) /* no quota: never refused */
        CHECK(quotas_take_at(q, "CreateRepository", t));
    CHECK(quotas_take_at(q, "", t)); /* an unknown target is answered elsewhere */
    /* (The busiest second may be 10 or 11: a one-second window may start within 0.1 s.) */
    CHECK(said(q, "PutImage: 11 admitted, 2 throttled, busiest second 1"));
    CHECK(said(q, "(quota 10/s, burst 10)"));
    CHECK(said(q, "InitiateLayerUpload: 100 admitted, 1 throttled"));
    struct ebuf out = EBUF_INIT;
    quotas_describe(q, &out);
    CHECK(!strstr(ebuf_str(&out), "CompleteLayerUpload")); /* no requests, no line */
    ebuf_free(&out);
    quotas_free(q);
    ebuf_free(&err);
}

static const char *write_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_quotas.%d", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_file(void)
{
    const char *path = write_file("# raised\n\n  PutImage 2 5\r\nCompleteLayerUpload\t0.5\n");
    REQUIRE(path);
    struct quotas *q = NULL;
    struct ebuf err = EBUF_INIT;
    REQUIRE(quotas_load(path, &q, &err) == 0 && q);
    double t = now0();
    for (int i = 0; i < 5; i++)
        CHECK(quotas_take_at(q, "PutImage", t));
    CHECK(!quotas_take_at(q, "PutImage", t));
    /* 1.5 s later (so in another one-second window): three tokens, one taken. */
    CHECK(quotas_take_at(q, "PutImage", t + 1.5));
    CHECK(quotas_take_at(q, "CompleteLayerUpload", t)); /* below one a second: a burst of one */
    CHECK(!quotas_take_at(q, "CompleteLayerUpload", t + 1));
    CHECK(quotas_take_at(q, "CompleteLayerUpload", t + 2 + 1e-6));
    for (int i = 0; i < 1000; i++) /* not in the file: unlimited */
        CHECK(quotas_take_at(q, "UploadLayerPart", t));
    CHECK(said(q, "PutImage: 6 admitted, 1 throttled, busiest second 5 admitted (quota 2/s, "
                  "burst 5)"));
    quotas_free(q);

    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"PutImage\n", "line 1"},
        {"PutImage ten\n", "line 1"},
        {"PutImage -1\n", "line 1"},
        {"PutImage 10 0\n", "line 1"},
        {"PutImage 10 10 x\n", "line 1"},
        {"# c\nPutImages 10\n", "'PutImages' is not an operation"},
        {"PutImage 1\nPutImage 2\n", "line 2: PutImage has a quota already"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        path = write_file(bad[i].text);
        ebuf_reset(&err);
        q = (struct quotas *)1;
        CHECK(quotas_load(path, &q, &err) == -1 && q == NULL);
        CHECK(strstr(ebuf_str(&err), bad[i].needle) && strstr(ebuf_str(&err), path));
    }
    remove(path);
    ebuf_reset(&err);
    CHECK(quotas_load("/nonexistent/quotas", &q, &err) == -1);
    CHECK(strstr(ebuf_str(&err), "ecr, off or a file"));
    ebuf_free(&err);
}

int main(void)
{
    test_off();
    test_ecr();
    test_file();
    return test_finish("test_quotas");
}
