#include "engine/plan.h"

#define DEFAULT_PART (10ull << 20) /* what ECR has returned as partSize */

ecrup_status plan_parts(uint64_t layer_size, uint64_t wanted, uint64_t server,
                        struct part_plan *out)
{
    if (layer_size == 0)
        return ECRUP_E_EMPTY_LAYER;
    if (layer_size > PLAN_MAX_LAYER)
        return ECRUP_E_TOO_LARGE;
    uint64_t part = wanted ? wanted : server ? server : DEFAULT_PART;
    if (part < PLAN_MIN_PART)
        part = PLAN_MIN_PART;
    if (part > PLAN_MAX_PART)
        part = PLAN_MAX_PART;
    if ((layer_size + part - 1) / part > PLAN_MAX_PARTS) {
        /* Smallest whole-MiB part that fits in 4,200 parts; 52,000 MiB / 4,200 < 20 MiB. */
        uint64_t need = (layer_size + PLAN_MAX_PARTS - 1) / PLAN_MAX_PARTS;
        part = (need + (1u << 20) - 1) & ~((uint64_t)(1u << 20) - 1);
    }
    out->layer_size = layer_size;
    out->part_size = part;
    out->n_parts = (layer_size + part - 1) / part;
    return ECRUP_OK;
}

void plan_part_range(const struct part_plan *p, uint64_t index, uint64_t *first, uint64_t *last)
{
    *first = index * p->part_size;
    uint64_t end = *first + p->part_size;
    *last = (end > p->layer_size ? p->layer_size : end) - 1;
}
