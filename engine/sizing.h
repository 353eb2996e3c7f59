/* How big the scheduler makes things: layers in flight, part buffers, read-ahead and
 * connections, as pure functions of the options and what the run holds, so the formulas are
 * tested without files or a network. docs/engine.md gives the measurements behind them.
 *
 * Thread: pure functions, any thread. */
#ifndef ECRUP_ENGINE_SIZING_H
#define ECRUP_ENGINE_SIZING_H

#include <stddef.h>
#include <stdint.h>

/* Part buffers one layer holds at most: live parts plus abandoned ones whose read or prepare
 * still runs. */
#define SIZING_SLOTS_PER_LAYER 6u
/* Live parts per layer when buffers are plentiful. */
#define SIZING_MAX_DEPTH 4u

/* Layers in flight at most: `option` (options.concurrency) when set, else 4 per online core
 * (`cores`, as sysconf reports it: 0 or less when unknown), at least 4. */
unsigned sizing_concurrency(unsigned option, long cores);

/* The memory limit in force: `option` (options.memory_limit), else the pool's default. */
uint64_t sizing_memory_limit(uint64_t option);

/* InitiateLayerUpload calls that may fly before the first reply tells the part size and the
 * pool is made: as many layers as `memory_limit` gives two buffers of the largest part the
 * API allows, at least 1, at most `concurrency`; so the flight limit the pool then sets
 * (sizing_flight_limit) is never below it. A buffer holds a part's raw bytes only: the
 * request body is written from them as it is sent (payload.h). */
unsigned sizing_early_flights(uint64_t memory_limit, unsigned concurrency);

/* The slots to make the pool with (io_bufpool_options.slots) when `fit` fit in the memory
 * limit and `layers_left` layers are still to run: no more layers than are left can fly, and
 * none holds more than SIZING_SLOTS_PER_LAYER, so more slots would be address space nothing
 * uses. 0 (as many as fit) when that is not fewer than `fit`. */
unsigned sizing_pool_slots(unsigned concurrency, unsigned layers_left, unsigned fit);

/* Layers in flight once the pool has `slots` slots: two buffers each, at most
 * `concurrency`. */
unsigned sizing_flight_limit(unsigned concurrency, unsigned slots);

/* Live parts for each pushing layer (read ahead of the one on the wire) when `flying` layers
 * share a pool of `slots` and `workers` threads prepare parts. */
unsigned sizing_read_depth(unsigned slots, unsigned flying, unsigned workers);

/* Connections the transfer keeps at most: one per layer in flight (`option`, else 64) plus
 * some for batch checks. */
unsigned sizing_connections(unsigned option);

#endif
