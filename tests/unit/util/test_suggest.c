/* util/suggest: the distance on the textbook cases (a swap is one edit, not two), symmetric;
 * the nearest name for the typos issue 15 lists, none for words nothing is close to, ties to
 * the first, leading dashes not counted, several lists searched as one. */
#include "test.h"
#include "util/suggest.h"

static unsigned dist(const char *a, const char *b)
{
    return suggest_distance(a, strlen(a), b, strlen(b));
}

static void test_distance(void)
{
    CHECK_EQ_INT(dist("", ""), 0);
    CHECK_EQ_INT(dist("abc", ""), 3);
    CHECK_EQ_INT(dist("", "abc"), 3);
    CHECK_EQ_INT(dist("kitten", "sitting"), 3);
    CHECK_EQ_INT(dist("push", "pussh"), 1);
    CHECK_EQ_INT(dist("repositry", "repository"), 1);
    CHECK_EQ_INT(dist("ca", "ac"), 1);  /* a swap: Levenshtein would say 2 */
    CHECK_EQ_INT(dist("ca", "abc"), 3); /* optimal string alignment, not full Damerau */
    CHECK_EQ_INT(dist("eu-wst-1", "eu-west-1"), 1);
    CHECK_EQ_INT(dist("us-esat-1", "us-east-1"), 1);
    CHECK_EQ_INT(dist("Push", "push"), 1); /* case counts */
    const char *pairs[][2] = {{"json", "jsno"}, {"region", "regoin"}, {"a-b-c", "c-b-a"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        CHECK_EQ_INT(dist(pairs[i][0], pairs[i][1]), dist(pairs[i][1], pairs[i][0]));
    /* Long words are clipped, not overrun. */
    char a[200], b[200];
    memset(a, 'x', sizeof a - 1);
    memset(b, 'x', sizeof b - 1);
    a[199] = b[199] = '\0';
    b[150] = 'y';
    CHECK_EQ_INT(dist(a, b), 0);
    b[10] = 'y';
    CHECK_EQ_INT(dist(a, b), 1);
}

static void test_nearest(void)
{
    static const char *const opts[] = {
        "--repository", "--registry-id", "--digest", "--json", "--region",
        "--no-check",   "--check-first", "-v",       "-h",     NULL};
    CHECK_STR(suggest_nearest("--repositry", opts), "--repository");
    CHECK_STR(suggest_nearest("--regoin", opts), "--region");
    CHECK_STR(suggest_nearest("--jsno", opts), "--json");
    CHECK_STR(suggest_nearest("-json", opts), "--json"); /* dashes are not letters */
    CHECK_STR(suggest_nearest("--no-chek", opts), "--no-check");
    CHECK_STR(suggest_nearest("--registryid", opts), "--registry-id");
    CHECK(suggest_nearest("--bogus", opts) == NULL);
    CHECK(suggest_nearest("-x", opts) == NULL); /* one letter replaced is everything */
    CHECK(suggest_nearest("--", opts) == NULL);
    CHECK(suggest_nearest("--rep", opts) == NULL); /* a prefix far from every whole name */
    static const char *const help[] = {"--help", NULL};
    CHECK(suggest_nearest("--rep", help) == NULL); /* 2 edits of 3 letters: a guess, not a typo */
    CHECK_STR(suggest_nearest("--hepl", help), "--help");
    CHECK(suggest_nearest("--repository", NULL) == NULL);

    static const char *const cmds[] = {"upload-layer", "push", "serve", "config", NULL};
    CHECK_STR(suggest_nearest("pussh", cmds), "push");
    CHECK_STR(suggest_nearest("confg", cmds), "config");
    CHECK_STR(suggest_nearest("uplaod-layer", cmds), "upload-layer");
    CHECK_STR(suggest_nearest("sevre", cmds), "serve");
    CHECK(suggest_nearest("deploy", cmds) == NULL);

    /* Longer words allow a third of their length: 3 edits in 9 letters, not in 6. */
    static const char *const long_names[] = {"--memory-limit", "--region", NULL};
    CHECK_STR(suggest_nearest("--memry-lmt", long_names), "--memory-limit");
    CHECK(suggest_nearest("--mem", long_names) == NULL);
    CHECK(suggest_nearest("--rgnx", long_names) == NULL);

    /* Ties go to the first name seen. */
    static const char *const tie[] = {"--abcx", "--abcy", NULL};
    CHECK_STR(suggest_nearest("--abcz", tie), "--abcx");
}

static void test_lists(void)
{
    static const char *const mine[] = {"--tag", NULL};
    static const char *const shared[] = {"--repository", "--region", NULL};
    struct suggest s;
    const char *arg = "--repostory=app";
    suggest_init(&s, arg, strcspn(arg, "="));
    suggest_consider(&s, mine);
    CHECK(suggest_result(&s) == NULL);
    suggest_consider(&s, shared);
    CHECK_STR(suggest_result(&s), "--repository");
    CHECK_EQ_INT(s.distance, 1);
    suggest_init(&s, "--tga", 5);
    suggest_consider(&s, shared);
    suggest_consider(&s, mine);
    CHECK_STR(suggest_result(&s), "--tag");
}

int main(void)
{
    test_distance();
    test_nearest();
    test_lists();
    return test_finish("test_suggest");
}
