/* "Did you mean ...?": the nearest of a list of names to a word that matched none of them, by
 * the optimal-string-alignment form of the Damerau-Levenshtein distance (an adjacent swap costs
 * one, as a typo does). Used for unknown options, subcommands and regions.
 *
 * Pure: no allocation beyond the stack, no state; any thread. */
#ifndef ECRUP_UTIL_SUGGEST_H
#define ECRUP_UTIL_SUGGEST_H

#include <stddef.h>

/* Words longer than this are compared on their first SUGGEST_MAX_LEN bytes. */
#define SUGGEST_MAX_LEN 64

/* Edits (insert, delete, substitute, swap two adjacent bytes) that turn a[0..alen) into
 * b[0..blen), each clipped to SUGGEST_MAX_LEN. Case-sensitive. */
unsigned suggest_distance(const char *a, size_t alen, const char *b, size_t blen);

/* The search for the nearest name, over as many lists as the caller has. Leading dashes are
 * not counted, so "-json" finds "--json". Borrowed: `word` and every name, until the last
 * call. Ties go to the name seen first. */
struct suggest {
    const char *word; /* after its leading dashes */
    size_t len;
    const char *best; /* the nearest name so far, as given; NULL: none close enough */
    unsigned distance;
};

/* Start a search for `len` bytes of `word` (a "--name=value" caller passes the name only). */
void suggest_init(struct suggest *s, const char *word, size_t len);
/* Consider each name of a NULL-terminated list (NULL: none). A name counts only when close:
 * at most 2 edits, or at most a third of the word's length, and fewer edits than half the
 * word's length (so "-x" is not taken for "-v", nor "--rep" for "--help"). */
void suggest_consider(struct suggest *s, const char *const *names);
/* The nearest close name, or NULL. */
const char *suggest_result(const struct suggest *s);

/* One list, one call: suggest_init + suggest_consider + suggest_result on a whole string. */
const char *suggest_nearest(const char *word, const char *const *names);

#endif
