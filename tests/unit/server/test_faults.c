/* `ecrup serve --faults SPEC` parsing: the operation name of a rule is bounded (refused with a
 * message naming it when too long, never cut to a different name), every item's form, and
 * draws that follow the rules (by operation, "*" as the fallback, repeatable by seed). */
#include <string.h>

#include "server/faults.h"
#include "test.h"

/* faults_parse() of spec; on success the faults are cleaned up again. The error text, if any,
 * is left in err (caller frees). */
static int parse(const char *spec, struct ebuf *err)
{
    struct faults f;
    ebuf_reset(err);
    int rc = faults_parse(spec, &f, err);
    if (rc == 0)
        faults_cleanup(&f);
    return rc;
}

static bool has(const struct ebuf *err, const char *needle)
{
    bool found = err->len && strstr(ebuf_str(err), needle) != NULL;
    if (!found)
        fprintf(stderr, "error '%s' lacks '%s'\n", err->len ? ebuf_str(err) : "", needle);
    return found;
}

static void operation_names(void)
{
    struct ebuf err = EBUF_INIT;
    char op[64], spec[128];
    /* 47 characters fit the rule and are matched whole. */
    memset(op, 'X', 47);
    op[47] = '\0';
    snprintf(spec, sizeof spec, "%s:throttle=1", op);
    struct faults f;
    CHECK_EQ_INT(faults_parse(spec, &f, &err), 0);
    CHECK_EQ_INT(faults_draw(&f, op), FAULT_THROTTLE);
    op[46] = '\0';
    CHECK_EQ_INT(faults_draw(&f, op), FAULT_NONE);
    faults_cleanup(&f);
    /* 48 and more are refused, naming the operation and the limit. */
    memset(op, 'X', 48);
    op[48] = '\0';
    snprintf(spec, sizeof spec, "%s:throttle=1", op);
    CHECK_EQ_INT(parse(spec, &err), -1);
    CHECK(has(&err, op));
    CHECK(has(&err, "too long"));
    CHECK(has(&err, "47"));
    memset(op, 'U', 63);
    op[63] = '\0';
    snprintf(spec, sizeof spec, "seed=3,%s:500=0.5", op);
    CHECK_EQ_INT(parse(spec, &err), -1);
    CHECK(has(&err, op));
    /* No operation at all. */
    CHECK_EQ_INT(parse(":throttle=1", &err), -1);
    CHECK(has(&err, "names no operation"));
    ebuf_free(&err);
}

static void items(void)
{
    struct ebuf err = EBUF_INIT;
    CHECK_EQ_INT(parse("seed=7,delay=20,bandwidth=10M,UploadLayerPart:throttle=0.05:lost=0.02,"
                       "*:500=0.01",
                       &err),
                 0);
    CHECK_EQ_INT(parse("delay=5ms", &err), 0);
    CHECK_EQ_INT(parse("seed=x", &err), -1);
    CHECK(has(&err, "bad fault item 'seed=x'"));
    CHECK_EQ_INT(parse("bandwidth=10Q", &err), -1);
    CHECK_EQ_INT(parse("nonsense", &err), -1);
    CHECK_EQ_INT(parse("Op:throttle", &err), -1);
    CHECK(has(&err, "no probability"));
    CHECK_EQ_INT(parse("Op:flood=0.5", &err), -1);
    CHECK(has(&err, "kinds:"));
    CHECK_EQ_INT(parse("Op:throttle=1.5", &err), -1);
    CHECK_EQ_INT(parse("Op:throttle=0.6:500=0.6", &err), -1);
    CHECK(has(&err, "add up to more than 1"));
    char many[1024] = "";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sOp%d:500=0.1", i ? "," : "",
                 i);
    CHECK_EQ_INT(parse(many, &err), -1);
    CHECK(has(&err, "too many fault rules"));
    ebuf_free(&err);
}

static void draws(void)
{
    struct ebuf err = EBUF_INIT;
    struct faults f;
    REQUIRE(faults_parse("PutImage:lost=1,*:503=1", &f, &err) == 0);
    CHECK_EQ_INT(faults_draw(&f, "PutImage"), FAULT_LOST);
    CHECK_EQ_INT(faults_draw(&f, "InitiateLayerUpload"), FAULT_503);
    faults_cleanup(&f);
    REQUIRE(faults_parse("seed=9,UploadLayerPart:reset=0.3:stall=0.3", &f, &err) == 0);
    enum fault first[64];
    int seen[FAULT_KINDS] = {0};
    for (int i = 0; i < 64; i++) {
        first[i] = faults_draw(&f, "UploadLayerPart");
        seen[first[i]]++;
        CHECK_EQ_INT(faults_draw(&f, "PutImage"), FAULT_NONE);
    }
    faults_cleanup(&f);
    CHECK(seen[FAULT_RESET] > 0 && seen[FAULT_STALL] > 0 && seen[FAULT_NONE] > 0);
    CHECK_EQ_INT(seen[FAULT_RESET] + seen[FAULT_STALL] + seen[FAULT_NONE], 64);
    REQUIRE(faults_parse("seed=9,UploadLayerPart:reset=0.3:stall=0.3", &f, &err) == 0);
    for (int i = 0; i < 64; i++)
        CHECK_EQ_INT(faults_draw(&f, "UploadLayerPart"), first[i]);
    faults_cleanup(&f);
    ebuf_free(&err);
}

/* #N and #N-M pick requests of their rule by count, before any draw; hold=MS sets the hold. */
static void counts(void)
{
    struct ebuf err = EBUF_INIT;
    struct faults f;
    REQUIRE(faults_parse("CompleteLayerUpload:lost=#1:throttle=#2-4,"
                         "BatchCheckLayerAvailability:500=#3,UploadLayerPart:hold=#2,hold=250",
                         &f, &err) == 0);
    CHECK_EQ_INT(f.hold_ms, 250);
    CHECK_EQ_INT(faults_draw(&f, "CompleteLayerUpload"), FAULT_LOST);
    CHECK_EQ_INT(faults_draw(&f, "BatchCheckLayerAvailability"), FAULT_NONE);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(faults_draw(&f, "CompleteLayerUpload"), FAULT_THROTTLE);
    CHECK_EQ_INT(faults_draw(&f, "CompleteLayerUpload"), FAULT_NONE);
    CHECK_EQ_INT(faults_draw(&f, "BatchCheckLayerAvailability"), FAULT_NONE);
    CHECK_EQ_INT(faults_draw(&f, "BatchCheckLayerAvailability"), FAULT_500);
    CHECK_EQ_INT(faults_draw(&f, "BatchCheckLayerAvailability"), FAULT_NONE);
    CHECK_EQ_INT(faults_draw(&f, "UploadLayerPart"), FAULT_NONE);
    CHECK_EQ_INT(faults_draw(&f, "UploadLayerPart"), FAULT_HOLD);
    CHECK_EQ_INT(faults_draw(&f, "UploadLayerPart"), FAULT_NONE);
    faults_cleanup(&f);
    /* A count beside a probability: the count first, the draw for the rest. */
    REQUIRE(faults_parse("*:503=#1:throttle=1", &f, &err) == 0);
    CHECK_EQ_INT(f.hold_ms, 10000);
    CHECK_EQ_INT(faults_draw(&f, "PutImage"), FAULT_503);
    CHECK_EQ_INT(faults_draw(&f, "InitiateLayerUpload"), FAULT_THROTTLE);
    faults_cleanup(&f);
    static const char *const bad[] = {"X:lost=#0",    "X:lost=#",   "X:lost=#3-2",
                                      "X:lost=#1-",   "X:lost=#-1", "X:lost=#1x",
                                      "X:lost=#1-2x", "X:lost=#+1", "X:bogus=#1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(parse(bad[i], &err), -1);
        CHECK(err.len > 0);
    }
    CHECK_EQ_INT(parse("hold=x", &err), -1);
    ebuf_free(&err);
}

int main(void)
{
    operation_names();
    items();
    draws();
    counts();
    return test_finish("test_faults");
}
