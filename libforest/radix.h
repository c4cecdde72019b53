/*
 * radix.h: sorting columns of floats and doubles by value with an LSD
 * radix sort, where qsort called a comparison function for every compare
 * (the calibration's scores and the drift profile's columns were 3% of
 * make run's training CPU in qsort).
 *
 * The result is the one qsort with a (x > y) - (x < y) comparison gives:
 * values that compare equal have the same bits, except -0 and +0, whose
 * order such a sort keeps from its input; so a column holding -0 (or NaN,
 * which compares equal to everything) is left to the caller's qsort.
 */
#ifndef FR_RADIX_H
#define FR_RADIX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Sorts the n keys in a ascending, b (n keys) as scratch, `bytes` passes
 * of 8 bits from the lowest; an even number of passes, so the result is
 * back in a. Cannot fail. */
static inline void radix_sort_u64(uint64_t *a, uint64_t *b, size_t n,
                                  unsigned bytes)
{
    for (unsigned shift = 0; shift < 8 * bytes; shift += 8) {
        size_t count[256] = {0}, pos = 0;
        uint64_t *swap;
        for (size_t i = 0; i < n; i++)
            count[(a[i] >> shift) & 0xff]++;
        for (size_t d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            b[count[(a[i] >> shift) & 0xff]++] = a[i];
        swap = a;
        a = b;
        b = swap;
    }
}

/* Sorts v[0..n) ascending, tmp holding 2n uint64: 0, or -1 with v as it
 * was when some value is negative (-0 among them) or NaN. The keys of
 * values >= +0 are their bits, which order as the values do. */
static inline int radix_sort_nonneg_doubles(double *v, size_t n,
                                            uint64_t *tmp)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(&tmp[i], &v[i], sizeof tmp[i]);
        if (tmp[i] >> 63 || v[i] != v[i])
            return -1;
    }
    radix_sort_u64(tmp, tmp + n, n, 8);
    for (size_t i = 0; i < n; i++)
        memcpy(&v[i], &tmp[i], sizeof v[i]);
    return 0;
}

/* Sorts v[0..n) ascending, tmp holding 2n uint64: 0, or -1 with v as it
 * was when some value is -0 or NaN. Keys that order as the floats do: the
 * sign bit flipped for positives, every bit for negatives (four passes of
 * the low 32 bits). */
static inline int radix_sort_floats(float *v, size_t n, uint64_t *tmp)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t k;
        memcpy(&k, &v[i], sizeof k);
        if (k == 0x80000000u || v[i] != v[i])
            return -1;
        tmp[i] = k & 0x80000000u ? ~k : k | 0x80000000u;
    }
    radix_sort_u64(tmp, tmp + n, n, 4);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)tmp[i];
        k = k & 0x80000000u ? k & 0x7fffffffu : ~k;
        memcpy(&v[i], &k, sizeof k);
    }
    return 0;
}

#endif
