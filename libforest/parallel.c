/*
 * parallel.c: a minimal fork-join loop over pthreads (see parallel.h).
 */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct job {
    int (*fn)(void *ctx, size_t worker, size_t item);
    void *ctx;
    size_t n_items;
    atomic_size_t next;
    atomic_int failed;
};

struct worker {
    struct job *job;
    size_t id;
};

static void run_items(struct job *job, size_t id)
{
    for (;;) {
        size_t item;

        if (atomic_load(&job->failed))
            return;
        item = atomic_fetch_add(&job->next, 1);
        if (item >= job->n_items)
            return;
        if (job->fn(job->ctx, id, item) != 0)
            atomic_store(&job->failed, 1);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    run_items(w->job, w->id);
    return NULL;
}

int parallel_for(size_t n_workers, size_t n_items,
                 int (*fn)(void *ctx, size_t worker, size_t item), void *ctx)
{
    struct job job = {.fn = fn, .ctx = ctx, .n_items = n_items};
    pthread_t *threads = NULL;
    struct worker *workers = NULL;
    size_t started = 0;

    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    if (n_workers > n_items)
        n_workers = n_items;
    if (n_workers > 1) {
        threads = calloc(n_workers, sizeof *threads);
        workers = calloc(n_workers, sizeof *workers);
    }
    if (threads != NULL && workers != NULL) {
        /* Worker 0 is the calling thread; the others are started here. */
        for (size_t i = 1; i < n_workers; i++) {
            workers[i].job = &job;
            workers[i].id = i;
            if (pthread_create(&threads[i], NULL, worker_main, &workers[i]))
                break;
            started = i;
        }
    }
    run_items(&job, 0);
    for (size_t i = 1; i <= started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(workers);
    return atomic_load(&job.failed) ? -1 : 0;
}

size_t parallel_threads(size_t wanted)
{
    long n;

    if (wanted > 0)
        return wanted;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}
