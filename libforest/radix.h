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

/* The passes of an LSD radix sort of the n keys (type T) in a, ascending,
 * b (n keys) as scratch, `bytes` passes of 8 bits from the lowest; with an
 * even number of passes the result is back in a. One body for the two key
 * widths below. */
#define FR_RADIX_PASSES(T, a, b, n, bytes)                                  \
    do {                                                                    \
        T *from_ = (a), *to_ = (b);                                         \
        for (unsigned shift_ = 0; shift_ < 8 * (bytes); shift_ += 8) {      \
            size_t count_[256] = {0}, pos_ = 0;                             \
            T *swap_;                                                       \
            for (size_t i_ = 0; i_ < (n); i_++)                             \
                count_[(from_[i_] >> shift_) & 0xff]++;                     \
            for (size_t d_ = 0; d_ < 256; d_++) {                           \
                size_t c_ = count_[d_];                                     \
                count_[d_] = pos_;                                          \
                pos_ += c_;                                                 \
            }                                                               \
            for (size_t i_ = 0; i_ < (n); i_++)                             \
                to_[count_[(from_[i_] >> shift_) & 0xff]++] = from_[i_];    \
            swap_ = from_;                                                  \
            from_ = to_;                                                    \
            to_ = swap_;                                                    \
        }                                                                   \
    } while (0)

/* Sorts the n keys in a ascending, b (n keys) as scratch, `bytes` passes
 * of 8 bits from the lowest; an even number of passes, so the result is
 * back in a. Cannot fail. */
static inline void radix_sort_u64(uint64_t *a, uint64_t *b, size_t n,
                                  unsigned bytes)
{
    FR_RADIX_PASSES(uint64_t, a, b, n, bytes);
}

/* radix_sort_u64 for 32-bit keys (bytes <= 4). Cannot fail. */
static inline void radix_sort_u32(uint32_t *a, uint32_t *b, size_t n,
                                  unsigned bytes)
{
    FR_RADIX_PASSES(uint32_t, a, b, n, bytes);
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
