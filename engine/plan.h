/* The part planner: how a layer is cut into UploadLayerPart requests. Pure. */
#ifndef ECRUP_ENGINE_PLAN_H
#define ECRUP_ENGINE_PLAN_H

#include <ecrup.h>
#include <stdint.h>

#define PLAN_MIN_PART  (5ull << 20)     /* every part but the last is at least this */
#define PLAN_MAX_PART  (20ull << 20)    /* the API's largest part */
#define PLAN_MAX_PARTS 4200ull          /* ECR's limit on parts per upload */
#define PLAN_MAX_LAYER (52000ull << 20) /* ECR's largest layer: 52,000 MiB */

struct part_plan {
    uint64_t layer_size;
    uint64_t part_size; /* every part but the last */
    uint64_t n_parts;
};

/* Plan `layer_size` bytes. `wanted` is the caller's --part-size (0: none) and `server` the
 * partSize InitiateLayerUpload returned (0: none); the first non-zero one is kept within
 * 5..20 MiB and raised when the layer would need more than 4,200 parts. Returns ECRUP_OK,
 * ECRUP_E_EMPTY_LAYER or ECRUP_E_TOO_LARGE. */
ecrup_status plan_parts(uint64_t layer_size, uint64_t wanted, uint64_t server,
                        struct part_plan *out);

/* First and last byte (inclusive, as ECR numbers them) of part `index` (from 0). */
void plan_part_range(const struct part_plan *p, uint64_t index, uint64_t *first, uint64_t *last);

#endif
