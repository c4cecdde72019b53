/*
 * monotonic.h: the one clock for durations and deadlines.
 *
 * CLOCK_MONOTONIC never jumps with the wall clock (NTP, a manual date), so
 * timings, the server's upload budget and its shutdown deadline cannot be
 * stretched or cut short by a clock change.
 */
#ifndef FR_MONOTONIC_H
#define FR_MONOTONIC_H

/* Seconds since an arbitrary fixed point (boot, on Linux), with nanosecond
 * resolution. Only differences mean anything. Cannot fail. */
double monotonic_seconds(void);

#endif
