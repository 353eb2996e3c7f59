#include "util/suggest.h"

#include <string.h>

unsigned suggest_distance(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen > SUGGEST_MAX_LEN)
        alen = SUGGEST_MAX_LEN;
    if (blen > SUGGEST_MAX_LEN)
        blen = SUGGEST_MAX_LEN;
    /* Three rows of the matrix are all the swap rule looks back at. */
    unsigned rows[3][SUGGEST_MAX_LEN + 1];
    unsigned *two = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= blen; j++)
        prev[j] = (unsigned)j;
    for (size_t i = 1; i <= alen; i++) {
        cur[0] = (unsigned)i;
        for (size_t j = 1; j <= blen; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d)
                d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                two[j - 2] + 1 < d)
                d = two[j - 2] + 1;
            cur[j] = d;
        }
        unsigned *t = two;
        two = prev;
        prev = cur;
        cur = t;
    }
    return prev[blen];
}

static const char *skip_dashes(const char *s, size_t *len)
{
    while (*len && *s == '-') {
        s++;
        (*len)--;
    }
    return s;
}

void suggest_init(struct suggest *s, const char *word, size_t len)
{
    s->word = skip_dashes(word, &len);
    s->len = len;
    s->best = NULL;
    s->distance = 0;
}

void suggest_consider(struct suggest *s, const char *const *names)
{
    size_t limit = s->len / 3 > 2 ? s->len / 3 : 2;
    for (; names && *names; names++) {
        size_t n = strlen(*names);
        const char *name = skip_dashes(*names, &n);
        unsigned d = suggest_distance(s->word, s->len, name, n);
        if (d > limit || 2 * (size_t)d >= s->len)
            continue;
        if (!s->best || d < s->distance) {
            s->best = *names;
            s->distance = d;
        }
    }
}

const char *suggest_result(const struct suggest *s)
{
    return s->best;
}

const char *suggest_nearest(const char *word, const char *const *names)
{
    struct suggest s;
    suggest_init(&s, word, strlen(word));
    suggest_consider(&s, names);
    return suggest_result(&s);
}
