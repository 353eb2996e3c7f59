/* Minimal assertions for the test programs: each failure prints where and what, and the
 * program exits 1 at the end (or at once with REQUIRE). Exit 77 means skipped. */
#ifndef ECRUP_TEST_H
#define ECRUP_TEST_H

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int test_failures;
extern int test_checks;

#define TEST_SKIP 77

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        test_checks++;                                                                             \
        if (a_ != b_) {                                                                            \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, a_, b_);                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        test_checks++;                                                                             \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            test_failures++;                                                                       \
            fprintf(stderr,                                                                        \
                    "%s:%d: CHECK failed: %s == %s\n  got:      \"%s\"\n  expected: \"%s\"\n",     \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
        }                                                                                          \
    } while (0)

/* Print a summary and return the exit status for main(). */
int test_finish(const char *name);

/* Read a whole file; NULL when it cannot be read. *len may be NULL. Caller frees. */
char *test_read_file(const char *path, size_t *len);

/* Copy `len` bytes so that they end exactly at an unreadable page: an over-read faults
 * even without AddressSanitizer. Free with test_guarded_free(). */
void *test_guarded_copy(const void *data, size_t len);
void test_guarded_free(void *p, size_t len);

/* Write `text` to `path` (created or truncated); exits 1 when it cannot. */
void test_write_file(const char *path, const char *text);

/* An env_reader lookup over a NULL-terminated array of name, value pairs passed as `user`:
 * a fake environment without setenv(3). */
const char *test_env_pairs(void *user, const char *name);

/* A seeded xorshift generator for repeatable random tests. */
uint64_t test_rand(uint64_t *state);
void test_rand_bytes(uint64_t *state, void *buf, size_t len);

#endif
