#include "util/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ebuf_init(struct ebuf *b)
{
    *b = (struct ebuf)EBUF_INIT;
}

void ebuf_free(struct ebuf *b)
{
    free(b->data);
    ebuf_init(b);
}

void ebuf_reset(struct ebuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

bool ebuf_reserve(struct ebuf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra > SIZE_MAX - b->len - 1) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void ebuf_append(struct ebuf *b, const void *data, size_t n)
{
    if (!ebuf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ebuf_puts(struct ebuf *b, const char *s)
{
    ebuf_append(b, s, strlen(s));
}

void ebuf_putc(struct ebuf *b, char c)
{
    ebuf_append(b, &c, 1);
}

void ebuf_vprintf(struct ebuf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || !ebuf_reserve(b, (size_t)n)) {
        b->oom = true;
        return;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void ebuf_printf(struct ebuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ebuf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *ebuf_str(const struct ebuf *b)
{
    return b->data ? b->data : "";
}

char *ebuf_take(struct ebuf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    ebuf_init(b);
    return p;
}
