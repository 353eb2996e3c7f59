/* util/buf (struct ebuf): an empty buffer reads as "", appends and formatting keep the bytes
 * and the NUL after them, growth past the first 64-byte block and far beyond keeps everything
 * written, reset keeps the memory, take hands the bytes over and leaves the buffer empty and
 * usable (an empty one hands over ""); binary bytes (NULs included) count in `len`. Failure
 * paths: a size that would overflow and an allocation that fails (this program is linked with
 * --wrap=realloc to make one fail on demand) mark the buffer, make later appends no-ops and
 * keep what was there. */
#include "test.h"
#include "util/buf.h"

#include <stdint.h>

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

static int reallocs_to_fail; /* the next this many realloc calls (from any object) fail */

void *__wrap_realloc(void *p, size_t n)
{
    if (reallocs_to_fail > 0) {
        reallocs_to_fail--;
        return NULL;
    }
    return __real_realloc(p, n);
}

static void test_empty(void)
{
    struct ebuf b = EBUF_INIT;
    CHECK_STR(ebuf_str(&b), "");
    CHECK(ebuf_ok(&b));
    CHECK_EQ_INT(b.len, 0);
    ebuf_reset(&b); /* on a buffer that never allocated */
    CHECK_STR(ebuf_str(&b), "");
    char *s = ebuf_take(&b);
    REQUIRE(s != NULL);
    CHECK_STR(s, "");
    free(s);
    ebuf_free(&b);
    ebuf_free(&b); /* twice: the first left it as EBUF_INIT */
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0 && !b.oom);

    struct ebuf c;
    memset(&c, 0x5a, sizeof c);
    ebuf_init(&c);
    CHECK(c.data == NULL && c.len == 0 && c.cap == 0 && !c.oom);
    ebuf_append(&c, "", 0); /* allocates room for the NUL */
    CHECK_STR(ebuf_str(&c), "");
    CHECK_EQ_INT(c.len, 0);
    ebuf_free(&c);
}

static void test_append(void)
{
    struct ebuf b = EBUF_INIT;
    ebuf_puts(&b, "Host");
    ebuf_putc(&b, ':');
    ebuf_append(&b, "example.com/xyz", 11);
    ebuf_printf(&b, " %d-%s-%05.1f-%zu", 42, "x", 3.14159, (size_t)7);
    CHECK_STR(ebuf_str(&b), "Host:example.com 42-x-003.1-7");
    CHECK_EQ_INT(b.len, strlen("Host:example.com 42-x-003.1-7"));
    CHECK(b.cap > b.len);
    CHECK(b.data[b.len] == '\0');

    /* Bytes with NULs in them count, and the terminator still follows. */
    ebuf_reset(&b);
    ebuf_append(&b, "a\0b\0", 4);
    CHECK_EQ_INT(b.len, 4);
    CHECK(memcmp(b.data, "a\0b\0", 5) == 0);
    ebuf_printf(&b, "%s", "");
    CHECK_EQ_INT(b.len, 4);
    ebuf_free(&b);
}

static void test_growth(void)
{
    struct ebuf b = EBUF_INIT;
    /* One byte at a time across many doublings, then formatted text longer than a block. */
    for (int i = 0; i < 10000; i++)
        ebuf_putc(&b, (char)('a' + i % 26));
    CHECK_EQ_INT(b.len, 10000);
    int ok = 1;
    for (int i = 0; i < 10000; i++)
        ok &= b.data[i] == (char)('a' + i % 26);
    CHECK(ok);
    CHECK(b.cap >= 10001);
    char big[300];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ebuf_printf(&b, "[%s]", big);
    CHECK_EQ_INT(b.len, 10000 + 301);
    CHECK(b.data[10000] == '[' && b.data[10300] == ']' && b.data[10301] == '\0');
    CHECK(ebuf_ok(&b));

    /* reset keeps the memory; reserve within it does not move the data */
    size_t cap = b.cap;
    ebuf_reset(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK_STR(ebuf_str(&b), "");
    CHECK_EQ_INT(b.cap, cap);
    char *before = b.data;
    CHECK(ebuf_reserve(&b, cap - 1));
    CHECK(b.data == before);
    CHECK(ebuf_reserve(&b, cap)); /* one more than fits with the NUL: grows */
    CHECK(b.cap >= cap + 1);

    /* A formatted string alone larger than a doubling of the first block. */
    ebuf_free(&b);
    ebuf_printf(&b, "%0500d", 1);
    CHECK_EQ_INT(b.len, 500);
    CHECK(b.data[498] == '0' && b.data[499] == '1' && b.data[500] == '\0');
    ebuf_free(&b);
}

static void test_take(void)
{
    struct ebuf b = EBUF_INIT;
    ebuf_printf(&b, "layer %s of %d", "sha256:ab", 3);
    char *s = ebuf_take(&b);
    CHECK_STR(s, "layer sha256:ab of 3");
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    CHECK_STR(ebuf_str(&b), "");
    ebuf_puts(&b, "again");
    CHECK_STR(ebuf_str(&b), "again");
    CHECK(b.data != s);
    free(s);
    ebuf_free(&b);
}

static void test_failure_paths(void)
{
    /* A size that would overflow: refused before any allocation, and it sticks. */
    struct ebuf b = EBUF_INIT;
    ebuf_puts(&b, "kept");
    CHECK(!ebuf_reserve(&b, SIZE_MAX - 2));
    CHECK(!ebuf_ok(&b));
    ebuf_puts(&b, " lost");
    ebuf_putc(&b, '!');
    ebuf_printf(&b, "%d", 5);
    CHECK_STR(ebuf_str(&b), "kept");
    CHECK_EQ_INT(b.len, 4);
    CHECK(!ebuf_reserve(&b, 1)); /* even a small one, once marked */
    ebuf_free(&b);
    CHECK(ebuf_ok(&b)); /* free starts over */

    /* The first allocation fails. */
    reallocs_to_fail = 1;
    ebuf_puts(&b, "x");
    CHECK_EQ_INT(reallocs_to_fail, 0);
    CHECK(!ebuf_ok(&b));
    CHECK_STR(ebuf_str(&b), "");
    CHECK_EQ_INT(b.len, 0);
    ebuf_free(&b);

    /* Growth fails: what was there stays, later appends are no-ops. */
    ebuf_puts(&b, "0123456789");
    CHECK(ebuf_ok(&b));
    char big[200];
    memset(big, 'z', sizeof big);
    reallocs_to_fail = 1;
    ebuf_append(&b, big, sizeof big);
    CHECK(!ebuf_ok(&b));
    CHECK_STR(ebuf_str(&b), "0123456789");
    ebuf_puts(&b, "more"); /* would fit in the old block, but the buffer is marked */
    CHECK_STR(ebuf_str(&b), "0123456789");

    /* Formatting that needs to grow fails the same way. */
    ebuf_free(&b);
    ebuf_puts(&b, "ab");
    reallocs_to_fail = 1;
    ebuf_printf(&b, "%0300d", 0);
    CHECK(!ebuf_ok(&b));
    CHECK_STR(ebuf_str(&b), "ab");
    CHECK_EQ_INT(b.len, 2);
    ebuf_free(&b);
    CHECK_EQ_INT(reallocs_to_fail, 0);
}

int main(void)
{
    test_empty();
    test_append();
    test_growth();
    test_take();
    test_failure_paths();
    return test_finish("test_buf");
}
