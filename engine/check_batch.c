/* Grouping layer checks into BatchCheckLayerAvailability calls (check_batch.h). */
#include "engine/check_batch.h"

#include <string.h>

void check_batch_init(struct check_batch *b, const char *repository, const char *registry_id)
{
    b->repository = repository;
    b->registry_id = registry_id;
    b->n = 0;
}

bool check_batch_add(struct check_batch *b, const char *repository, const char *registry_id,
                     const char *digest)
{
    const char *reg = b->registry_id;
    if (check_batch_full(b) || strcmp(repository, b->repository) != 0 ||
        (reg == NULL) != (registry_id == NULL) || (reg && strcmp(reg, registry_id) != 0))
        return false;
    for (size_t k = 0; k < b->n; k++)
        if (!strcmp(b->digests[k], digest))
            return true;
    b->digests[b->n++] = digest;
    return true;
}

bool check_batch_full(const struct check_batch *b)
{
    return b->n >= CHECK_BATCH_MAX;
}
