/* RNG streams and distributions. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>

#include "dist.h"
#include "rng.h"

static void test_stream_identity(void)
{
    /* A stream depends on (seed, name) only: other streams, created before or
     * after, draw nothing from it. */
    Rng a1, a2, b, c;
    rng_stream(&a1, 42, "client:c1");
    uint64_t first[100];
    for (int i = 0; i < 100; i++)
        first[i] = rng_u64(&a1);
    rng_stream(&b, 42, "client:c2");
    rng_stream(&c, 42, "link:c1>srv:loss");
    for (int i = 0; i < 50; i++)
        rng_u64(&b), rng_u64(&c);
    rng_stream(&a2, 42, "client:c1");
    for (int i = 0; i < 100; i++)
        g_assert_cmpuint(rng_u64(&a2), ==, first[i]);
}

static void test_streams_differ(void)
{
    Rng x, y, z;
    rng_stream(&x, 42, "a");
    rng_stream(&y, 42, "b");
    rng_stream(&z, 43, "a");
    int same_xy = 0, same_xz = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t vx = rng_u64(&x), vy = rng_u64(&y), vz = rng_u64(&z);
        same_xy += vx == vy;
        same_xz += vx == vz;
    }
    g_assert_cmpint(same_xy, ==, 0);
    g_assert_cmpint(same_xz, ==, 0);
}

static void test_streams_uncorrelated(void)
{
    /* Neighbouring names and seeds must not give correlated streams. */
    const int N = 200000;
    Rng x, y;
    rng_stream(&x, 1, "c1");
    rng_stream(&y, 1, "c2");
    double sx = 0, sy = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < N; i++) {
        double u = rng_uniform01(&x), v = rng_uniform01(&y);
        sx += u, sy += v, sxy += u * v, sxx += u * u, syy += v * v;
    }
    double cov = sxy / N - (sx / N) * (sy / N);
    double r = cov / sqrt((sxx / N - (sx / N) * (sx / N)) * (syy / N - (sy / N) * (sy / N)));
    /* |r| of independent streams is about 1/sqrt(N) = 0.0022. */
    g_assert_cmpfloat(fabs(r), <, 0.01);
}

static void test_below_uniform(void)
{
    /* Chi-square of 10 bins over 100000 draws: 9 degrees of freedom, the
     * 99.9th percentile is 27.9. */
    Rng r;
    rng_stream(&r, 7, "below");
    int bins[10] = { 0 };
    for (int i = 0; i < 100000; i++)
        bins[rng_below(&r, 10)]++;
    double chi = 0;
    for (int i = 0; i < 10; i++)
        chi += (bins[i] - 10000.0) * (bins[i] - 10000.0) / 10000.0;
    g_assert_cmpfloat(chi, <, 27.9);
}

/* The sample mean of n draws lies within 6 standard errors of the mean. */
static void check_mean(Dist d, double sd, const char *what)
{
    const int N = 400000;
    Rng r;
    rng_stream(&r, 99, what);
    double sum = 0;
    for (int i = 0; i < N; i++)
        sum += dist_sample(&d, &r);
    double mean = sum / N, want = dist_mean(&d);
    double tol = 6 * sd / sqrt(N) + 1e-12;
    if (fabs(mean - want) > tol)
        g_error("%s: sample mean %g, expected %g +- %g", what, mean, want, tol);
}

static void test_distribution_means(void)
{
    g_assert_null(dist_check(&(Dist){ .kind = DIST_UNIFORM, .a = 1, .b = 3 }));
    check_mean(dist_constant(5e6), 0, "constant");
    check_mean((Dist){ .kind = DIST_UNIFORM, .a = 1e6, .b = 3e6 }, 2e6 / sqrt(12), "uniform");
    check_mean((Dist){ .kind = DIST_EXPONENTIAL, .a = 2e6 }, 2e6, "exponential");
    check_mean((Dist){ .kind = DIST_NORMAL, .a = 5e6, .b = 1e6 }, 1e6, "normal");
    double s = 0.5, m = 1e6;
    double ln_sd = m * sqrt((exp(s * s) - 1) * exp(s * s));
    check_mean((Dist){ .kind = DIST_LOGNORMAL, .a = m, .b = s }, ln_sd, "lognormal");
    /* Pareto with shape 3: finite mean and variance. */
    double xm = 1e6, k = 3;
    check_mean((Dist){ .kind = DIST_PARETO, .a = xm, .b = k }, xm * sqrt(k / ((k - 1) * (k - 1) * (k - 2))),
               "pareto");
    double vals[] = { 1, 2, 3, 10 };
    check_mean((Dist){ .kind = DIST_EMPIRICAL, .values = vals, .n_values = 4 }, 3.5, "empirical");
}

static void test_distribution_shapes(void)
{
    /* Normal: about 68.3% within one sd.  Exponential: P(X > mean) = 1/e. */
    Rng r;
    rng_stream(&r, 3, "shape");
    Dist n = { .kind = DIST_NORMAL, .a = 0, .b = 1 };
    Dist e = { .kind = DIST_EXPONENTIAL, .a = 1 };
    int in1 = 0, above = 0;
    const int N = 200000;
    for (int i = 0; i < N; i++) {
        in1 += fabs(dist_sample(&n, &r)) < 1;
        above += dist_sample(&e, &r) > 1;
    }
    g_assert_cmpfloat(fabs((double)in1 / N - 0.6827), <, 0.005);
    g_assert_cmpfloat(fabs((double)above / N - exp(-1)), <, 0.005);
    /* Uniform stays in [a, b); pareto never below its scale. */
    Dist u = { .kind = DIST_UNIFORM, .a = 2, .b = 4 }, p = { .kind = DIST_PARETO, .a = 5, .b = 1.5 };
    for (int i = 0; i < 10000; i++) {
        double x = dist_sample(&u, &r);
        g_assert_true(x >= 2 && x < 4);
        g_assert_cmpfloat(dist_sample(&p, &r), >=, 5);
    }
}

static void test_distribution_checks(void)
{
    g_assert_nonnull(dist_check(&(Dist){ .kind = DIST_UNIFORM, .a = 3, .b = 1 }));
    g_assert_nonnull(dist_check(&(Dist){ .kind = DIST_EXPONENTIAL, .a = 0 }));
    g_assert_nonnull(dist_check(&(Dist){ .kind = DIST_NORMAL, .a = 0, .b = -1 }));
    g_assert_nonnull(dist_check(&(Dist){ .kind = DIST_LOGNORMAL, .a = 0, .b = 1 }));
    g_assert_nonnull(dist_check(&(Dist){ .kind = DIST_PARETO, .a = 1, .b = 0 }));
    g_assert_nonnull(dist_check(&(Dist){ .kind = DIST_EMPIRICAL }));
    int n;
    g_assert_cmpint(dist_kind_from_name("exp", &n), ==, DIST_EXPONENTIAL);
    g_assert_cmpint(n, ==, 1);
    g_assert_cmpint(dist_kind_from_name("gamma", &n), ==, -1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rng/stream-identity", test_stream_identity);
    g_test_add_func("/rng/streams-differ", test_streams_differ);
    g_test_add_func("/rng/streams-uncorrelated", test_streams_uncorrelated);
    g_test_add_func("/rng/below-uniform", test_below_uniform);
    g_test_add_func("/dist/means", test_distribution_means);
    g_test_add_func("/dist/shapes", test_distribution_shapes);
    g_test_add_func("/dist/checks", test_distribution_checks);
    return g_test_run();
}
