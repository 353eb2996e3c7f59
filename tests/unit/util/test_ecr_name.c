/* ECR's repository-name rule (util/ecr_name.h) at its edges: the length bounds, each separator
 * and the runs of them the pattern allows or refuses, '/' placement, and characters outside
 * the alphabet. tests/unit/util/ecr_name_vs_botocore.py compares it with the model's pattern
 * over many more names. */
#include <string.h>

#include "test.h"
#include "util/ecr_name.h"

/* `n` characters of 'a', NUL-terminated, in out (which holds n + 1). */
static const char *run(char *out, size_t n)
{
    memset(out, 'a', n);
    out[n] = '\0';
    return out;
}

static void lengths(void)
{
    char s[300];
    CHECK(!ecr_repository_name_valid(""));
    CHECK(!ecr_repository_name_valid("a"));
    CHECK(ecr_repository_name_valid("ab"));
    CHECK(ecr_repository_name_valid(run(s, 2)));
    CHECK(ecr_repository_name_valid(run(s, 255)));
    CHECK(ecr_repository_name_valid(run(s, 256)));
    CHECK(!ecr_repository_name_valid(run(s, 257)));
    CHECK(!ecr_repository_name_valid(run(s, 299)));
    /* The bound counts separators too. */
    run(s, 256);
    s[100] = '/';
    CHECK(ecr_repository_name_valid(s));
    run(s, 257);
    s[100] = '/';
    CHECK(!ecr_repository_name_valid(s));
}

static void separators(void)
{
    static const char *const good[] = {
        "a.b", "a_b", "a__b", "a-b", "a--b",  "a---b", "a----------b", "a.b_c__d-e--f",
        "a0",  "0a",  "00",   "9z",  "a.b.c", "a_b_c", "a__b__c",      "a-b--c---d",
    };
    static const char *const bad[] = {
        "a..b",  "a___b", "a____b", "a.-b", "a-.b", "a._b", "a_.b", "a_-b", "a-_b", "a__-b",
        "a-__b", ".ab",   "ab.",    "_ab",  "ab_",  "__ab", "ab__", "-ab",  "ab-",  "--ab",
        "ab--",  "a.",    "a_",     "a-",   "a/",   "/a",   ".a",   "..",   "__",   "--",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!ecr_repository_name_valid(good[i])) {
            fprintf(stderr, "refused: %s\n", good[i]);
            CHECK(false);
        }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ecr_repository_name_valid(bad[i])) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            CHECK(false);
        }
}

static void slashes(void)
{
    CHECK(ecr_repository_name_valid("team/app"));
    CHECK(ecr_repository_name_valid("a/b"));
    CHECK(ecr_repository_name_valid("a/b/c/d"));
    CHECK(ecr_repository_name_valid("team/app-1.x__y/z"));
    CHECK(ecr_repository_name_valid("a--b/c__d/e.f"));
    CHECK(!ecr_repository_name_valid("/ab"));
    CHECK(!ecr_repository_name_valid("ab/"));
    CHECK(!ecr_repository_name_valid("a//b"));
    CHECK(!ecr_repository_name_valid("a/.b"));
    CHECK(!ecr_repository_name_valid("a./b"));
    CHECK(!ecr_repository_name_valid("a-/b"));
    CHECK(!ecr_repository_name_valid("a/-b"));
    CHECK(!ecr_repository_name_valid("a__/b"));
    CHECK(!ecr_repository_name_valid("a/__b"));
    CHECK(!ecr_repository_name_valid("//"));
}

static void alphabet(void)
{
    CHECK(!ecr_repository_name_valid("Ab"));
    CHECK(!ecr_repository_name_valid("aB"));
    CHECK(!ecr_repository_name_valid("Team/App"));
    CHECK(!ecr_repository_name_valid("a b"));
    CHECK(!ecr_repository_name_valid("a:b"));
    CHECK(!ecr_repository_name_valid("a+b"));
    CHECK(!ecr_repository_name_valid("a\\b"));
    CHECK(!ecr_repository_name_valid("a\tb"));
    CHECK(!ecr_repository_name_valid("a\nb"));
    CHECK(!ecr_repository_name_valid("ab\n"));
    CHECK(!ecr_repository_name_valid("\xc3\xa9t\xc3\xa9"));
    /* Every byte outside [a-z0-9._/-] is refused in the middle of a name. */
    for (int c = 1; c < 256; c++) {
        bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                       c == '-' || c == '/';
        char s[4] = {'a', (char)c, 'b', '\0'};
        if (ecr_repository_name_valid(s) != allowed) {
            fprintf(stderr, "byte 0x%02x: %s\n", c, allowed ? "refused" : "accepted");
            CHECK(false);
        }
    }
}

int main(void)
{
    lengths();
    separators();
    slashes();
    alphabet();
    return test_finish("test_ecr_name");
}
