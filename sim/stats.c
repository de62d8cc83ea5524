#include "stats.h"

#include <glib.h>
#include <math.h>

#include "rng.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void stats_sort(double *v, size_t n)
{
    if (n < 2)
        return; /* v may be NULL when empty: qsort must not see it */
    qsort(v, n, sizeof *v, cmp_double);
}

double stats_quantile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    size_t rank = (size_t)ceil(q * (double)n);
    return sorted[rank == 0 ? 0 : rank - 1];
}

double stats_mean(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return n ? s / (double)n : NAN;
}

double stats_sd(const double *v, size_t n)
{
    if (n < 2)
        return 0;
    double m = stats_mean(v, n), s = 0;
    for (size_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (double)(n - 1));
}

double stats_t95(size_t df)
{
    /* t(0.975, df) for df 1..30; beyond, the normal value is within 1.5%. */
    static const double t[] = { 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042 };
    if (df == 0)
        return INFINITY;
    return df <= 30 ? t[df - 1] : 1.960;
}

void stats_paired_t(const double *d, size_t n, double *mean, double *lo, double *hi)
{
    *mean = stats_mean(d, n);
    double half = stats_t95(n - 1) * stats_sd(d, n) / sqrt((double)n);
    *lo = *mean - half;
    *hi = *mean + half;
}

static double resampled_median(const double *v, size_t n, Rng *rng, double *buf)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = v[rng_below(rng, n)];
    stats_sort(buf, n);
    return stats_quantile(buf, n, 0.5);
}

void stats_bootstrap_median_diff(const double *a, size_t na, const double *b, size_t nb, double alpha, uint64_t seed,
                                 int reps, double *lo, double *hi)
{
    Rng rng;
    rng_stream(&rng, seed, "bootstrap");
    double *buf = g_new(double, MAX(na, nb));
    double *diff = g_new(double, reps);
    for (int r = 0; r < reps; r++)
        diff[r] = resampled_median(b, nb, &rng, buf) - resampled_median(a, na, &rng, buf);
    stats_sort(diff, (size_t)reps);
    *lo = stats_quantile(diff, (size_t)reps, alpha / 2);
    *hi = stats_quantile(diff, (size_t)reps, 1 - alpha / 2);
    g_free(diff);
    g_free(buf);
}

void stats_bootstrap_median(const double *v, size_t n, double alpha, uint64_t seed, int reps, double *lo, double *hi)
{
    Rng rng;
    rng_stream(&rng, seed, "bootstrap-median");
    double *buf = g_new(double, n);
    double *med = g_new(double, reps);
    for (int r = 0; r < reps; r++)
        med[r] = resampled_median(v, n, &rng, buf);
    stats_sort(med, (size_t)reps);
    *lo = stats_quantile(med, (size_t)reps, alpha / 2);
    *hi = stats_quantile(med, (size_t)reps, 1 - alpha / 2);
    g_free(med);
    g_free(buf);
}

void stats_bootstrap_mean(const double *d, size_t n, double alpha, uint64_t seed, int reps, double *lo, double *hi)
{
    Rng rng;
    rng_stream(&rng, seed, "bootstrap-mean");
    double *means = g_new(double, reps);
    for (int r = 0; r < reps; r++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += d[rng_below(&rng, n)];
        means[r] = s / (double)n;
    }
    stats_sort(means, (size_t)reps);
    *lo = stats_quantile(means, (size_t)reps, alpha / 2);
    *hi = stats_quantile(means, (size_t)reps, 1 - alpha / 2);
    g_free(means);
}
