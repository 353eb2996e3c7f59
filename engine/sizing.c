/* The scheduler's sizing formulas (sizing.h). */
#include "engine/sizing.h"

#include "engine/plan.h"
#include "io/bufpool.h"

unsigned sizing_concurrency(unsigned option, long cores)
{
    if (option)
        return option;
    unsigned want = cores > 0 ? (unsigned)cores * 4 : 4;
    return want < 4 ? 4 : want;
}

uint64_t sizing_memory_limit(uint64_t option)
{
    return option ? option : IO_BUFPOOL_DEFAULT_MEMORY_LIMIT;
}

/* One round trip less before every layer but the first starts sending (50 ms on the WAN
 * workload). */
unsigned sizing_early_flights(uint64_t memory_limit, unsigned concurrency)
{
    unsigned n = io_bufpool_slots_for(memory_limit, (size_t)PLAN_MAX_PART) / 2;
    return n < 1 ? 1 : n < concurrency ? n : concurrency;
}

/* When the io_uring backend still pinned every slot up front, one 1 GiB layer paid the
 * zeroing of 21 slots of 24 MiB and used 6. */
unsigned sizing_pool_slots(unsigned concurrency, unsigned layers_left, unsigned fit)
{
    unsigned usable =
        (layers_left < concurrency ? layers_left : concurrency) * SIZING_SLOTS_PER_LAYER;
    if (usable < 2)
        usable = 2;
    return usable < fit ? usable : 0;
}

unsigned sizing_flight_limit(unsigned concurrency, unsigned slots)
{
    return concurrency < slots / 2 ? concurrency : slots / 2;
}

/* Two live parts (one on the wire, the next ready) keep the connection busy when preparing a
 * part takes less than sending one; deeper read-ahead lets several workers prepare the parts
 * of one layer at once when the buffers are not needed by other layers. No deeper than it
 * takes to give every worker a part: a slot first used costs the zeroing of its pages
 * (4 x 256 MiB with 4 parts per layer: 1.15-1.33 s of system time, with 3: 0.86). */
unsigned sizing_read_depth(unsigned slots, unsigned flying, unsigned workers)
{
    unsigned depth = 2;
    unsigned fair = flying ? slots / flying : 2;
    if (fair > depth)
        depth = fair < SIZING_MAX_DEPTH ? fair : SIZING_MAX_DEPTH;
    unsigned nf = flying ? flying : 1;
    unsigned enough = 2 + (workers + nf - 1) / nf;
    return enough < depth ? enough : depth;
}

unsigned sizing_connections(unsigned option)
{
    return (option ? option : 64) + 8;
}
