/* stats: the few statistics the report and compare need: quantiles, a
 * paired t interval, and a bootstrap interval for a difference of medians.
 * Deterministic: the bootstrap draws from a stream seeded by its caller. */
#ifndef RDRSIM_STATS_H
#define RDRSIM_STATS_H

#include <stddef.h>
#include <stdint.h>

void stats_sort(double *v, size_t n);
/* Nearest-rank quantile of sorted values, q in [0, 1]; NAN when n == 0. */
double stats_quantile(const double *sorted, size_t n, double q);
double stats_mean(const double *v, size_t n);
/* Sample standard deviation (n - 1); 0 when n < 2. */
double stats_sd(const double *v, size_t n);
/* Two-sided 95% critical value of Student's t with df degrees of freedom. */
double stats_t95(size_t df);
/* 95% interval of the mean of n paired differences d (n >= 2). */
void stats_paired_t(const double *d, size_t n, double *mean, double *lo, double *hi);
/* (1 - alpha) percentile-bootstrap interval of median(b) - median(a),
 * `reps` resamples drawn from a stream seeded with `seed`. */
void stats_bootstrap_median_diff(const double *a, size_t na, const double *b, size_t nb, double alpha, uint64_t seed,
                                 int reps, double *lo, double *hi);
/* (1 - alpha) percentile-bootstrap interval of the median of v. */
void stats_bootstrap_median(const double *v, size_t n, double alpha, uint64_t seed, int reps, double *lo, double *hi);
/* (1 - alpha) percentile-bootstrap interval of the mean of d. */
void stats_bootstrap_mean(const double *d, size_t n, double alpha, uint64_t seed, int reps, double *lo, double *hi);

#endif
