/* A growable byte buffer for building requests, canonical strings and messages.
 * Owned by whoever declared it; not thread-safe. The data is always NUL-terminated so it can
 * be used as a C string; `len` excludes the terminator. */
#ifndef ECRUP_UTIL_BUF_H
#define ECRUP_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct ebuf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    bool oom; /* an append failed; later appends are no-ops, ebuf_ok() says false */
};

#define EBUF_INIT                                                                                  \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

void ebuf_init(struct ebuf *b);
void ebuf_free(struct ebuf *b);
void ebuf_reset(struct ebuf *b);
bool ebuf_reserve(struct ebuf *b, size_t extra);
void ebuf_append(struct ebuf *b, const void *data, size_t n);
void ebuf_puts(struct ebuf *b, const char *s);
void ebuf_putc(struct ebuf *b, char c);
void ebuf_printf(struct ebuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ebuf_vprintf(struct ebuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The contents as a C string ("" when empty). */
const char *ebuf_str(const struct ebuf *b);
/* True unless an allocation failed. */
static inline bool ebuf_ok(const struct ebuf *b)
{
    return !b->oom;
}
/* Hand the contents to the caller (free() it); the buffer is left empty. */
char *ebuf_take(struct ebuf *b);

#endif
