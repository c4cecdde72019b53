/*
 * monotonic.c: the monotonic clock as seconds in a double (monotonic.h).
 * A double holds nanoseconds exactly for about 100 days of uptime and to
 * within a microsecond for centuries: plenty for durations.
 */
#include "monotonic.h"

#include <time.h>

double monotonic_seconds(void)
{
    struct timespec ts;

    /* Cannot fail for CLOCK_MONOTONIC on Linux with a valid pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
