/*
 * parallel.h: run a loop's iterations on several threads.
 *
 * Each worker takes the next unclaimed item from an atomic counter, so
 * uneven items (trees of different sizes) balance themselves. Results must
 * not depend on which thread ran an item; callers give each item its own
 * seed and output slot, which keeps training deterministic for any
 * N_THREADS.
 */
#ifndef FR_PARALLEL_H
#define FR_PARALLEL_H

#include <stddef.h>

/* Runs fn(ctx, worker, item) for item in [0, n_items) on up to n_workers
 * threads (worker in [0, n_workers) names the thread's scratch space). fn
 * returns 0, or non-zero to stop handing out further items. Returns 0 when
 * every item ran and returned 0, -1 when one failed. If threads cannot be
 * started, the calling thread runs the items alone: slower, not wrong. */
int parallel_for(size_t n_workers, size_t n_items,
                 int (*fn)(void *ctx, size_t worker, size_t item), void *ctx);

/* Threads to use for a request of `wanted` (0 = one per online core). */
size_t parallel_threads(size_t wanted);

#endif
