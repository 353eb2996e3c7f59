/* Which queued layer checks go into one BatchCheckLayerAvailability call: the call names one
 * repository (and registry), takes at most 100 digests, and a digest two layers share is
 * asked once (both layers take the one answer). Pure, so the grouping is tested without a
 * network; the scheduler walks its layers, largest first, and offers each waiting one.
 *
 * Ownership: a batch borrows every string it is given; they must outlive it.
 * Thread: the caller's; no shared state. */
#ifndef ECRUP_ENGINE_CHECK_BATCH_H
#define ECRUP_ENGINE_CHECK_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#define CHECK_BATCH_MAX 100u /* digests per BatchCheckLayerAvailability (the API's limit) */

struct check_batch {
    const char *repository;
    const char *registry_id; /* NULL: the caller's account */
    const char *digests[CHECK_BATCH_MAX];
    size_t n;
};

/* An empty call for `repository` and `registry_id` (NULL: the caller's account). */
void check_batch_init(struct check_batch *b, const char *repository, const char *registry_id);

/* Offer a layer of `repository` and `registry_id` waiting for a check of `digest`: true when
 * it joins the call (same repository, same registry or both NULL, and the call not full); its
 * digest is then listed unless it is already. False: it waits for another call. */
bool check_batch_add(struct check_batch *b, const char *repository, const char *registry_id,
                     const char *digest);

/* True once the call holds CHECK_BATCH_MAX digests: no later layer joins it. */
bool check_batch_full(const struct check_batch *b);

#endif
