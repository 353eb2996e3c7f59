/* The part planner against ECR's limits. */
#include "engine/plan.h"

#include "test.h"

#define MiB (1ull << 20)

static void check_plan_covers(const struct part_plan *p)
{
    /* Parts are back to back, cover the layer exactly, and all but the last are >= 5 MiB. */
    uint64_t expect_first = 0;
    for (uint64_t i = 0; i < p->n_parts; i++) {
        uint64_t first, last;
        plan_part_range(p, i, &first, &last);
        CHECK_EQ_INT(first, expect_first);
        CHECK(last >= first);
        if (i + 1 < p->n_parts)
            CHECK(last - first + 1 >= PLAN_MIN_PART);
        CHECK(last - first + 1 <= PLAN_MAX_PART);
        expect_first = last + 1;
    }
    CHECK_EQ_INT(expect_first, p->layer_size);
    CHECK(p->n_parts <= PLAN_MAX_PARTS);
}

int main(void)
{
    struct part_plan p;
    CHECK_EQ_INT(plan_parts(0, 0, 0, &p), ECRUP_E_EMPTY_LAYER);
    CHECK_EQ_INT(plan_parts(PLAN_MAX_LAYER + 1, 0, 0, &p), ECRUP_E_TOO_LARGE);

    /* The server's partSize by default, the caller's when given, both clamped. */
    REQUIRE(plan_parts(100 * MiB, 0, 10 * MiB, &p) == ECRUP_OK);
    CHECK_EQ_INT(p.part_size, 10 * MiB);
    CHECK_EQ_INT(p.n_parts, 10);
    REQUIRE(plan_parts(100 * MiB, 20 * MiB, 10 * MiB, &p) == ECRUP_OK);
    CHECK_EQ_INT(p.part_size, 20 * MiB);
    REQUIRE(plan_parts(100 * MiB, 0, 1 * MiB, &p) == ECRUP_OK);
    CHECK_EQ_INT(p.part_size, 5 * MiB);
    REQUIRE(plan_parts(100 * MiB, 0, 64 * MiB, &p) == ECRUP_OK);
    CHECK_EQ_INT(p.part_size, 20 * MiB);
    REQUIRE(plan_parts(100 * MiB, 0, 0, &p) == ECRUP_OK);
    CHECK_EQ_INT(p.part_size, 10 * MiB);

    /* Edge sizes around a part. */
    uint64_t sizes[] = {1,        5 * MiB - 1,  5 * MiB,      5 * MiB + 1, 10 * MiB - 1,
                        10 * MiB, 10 * MiB + 1, 30 * MiB + 1, 200 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        REQUIRE(plan_parts(sizes[i], 0, 10 * MiB, &p) == ECRUP_OK);
        CHECK_EQ_INT(p.n_parts, (sizes[i] + 10 * MiB - 1) / (10 * MiB));
        check_plan_covers(&p);
    }
    REQUIRE(plan_parts(1, 0, 10 * MiB, &p) == ECRUP_OK);
    uint64_t first, last;
    plan_part_range(&p, 0, &first, &last);
    CHECK_EQ_INT(first, 0);
    CHECK_EQ_INT(last, 0);

    /* Over 4,200 parts at 5 MiB: the part grows to whole MiB so the count fits. */
    REQUIRE(plan_parts(4201 * 5 * MiB, 5 * MiB, 0, &p) == ECRUP_OK);
    CHECK(p.part_size > 5 * MiB);
    CHECK_EQ_INT(p.part_size % MiB, 0);
    check_plan_covers(&p);
    REQUIRE(plan_parts(PLAN_MAX_LAYER, 5 * MiB, 0, &p) == ECRUP_OK);
    CHECK(p.n_parts <= PLAN_MAX_PARTS);
    CHECK(p.part_size <= PLAN_MAX_PART);
    CHECK_EQ_INT(p.part_size, 13 * MiB); /* ceil(52000 / 4200) MiB */
    return test_finish("test_plan");
}
