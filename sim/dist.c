#include "dist.h"

#include <glib.h>
#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    DistKind kind;
    int n_params;
} kinds[] = {
    { "constant", DIST_CONSTANT, 1 },
    { "uniform", DIST_UNIFORM, 2 },
    { "exponential", DIST_EXPONENTIAL, 1 },
    { "exp", DIST_EXPONENTIAL, 1 },
    { "normal", DIST_NORMAL, 2 },
    { "lognormal", DIST_LOGNORMAL, 2 },
    { "pareto", DIST_PARETO, 2 },
    { "empirical", DIST_EMPIRICAL, 1 },
};

int dist_kind_from_name(const char *name, int *n_params)
{
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
        if (strcmp(kinds[i].name, name) == 0) {
            *n_params = kinds[i].n_params;
            return (int)kinds[i].kind;
        }
    return -1;
}

const char *dist_kind_name(DistKind k)
{
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
        if (kinds[i].kind == k)
            return kinds[i].name;
    return "?";
}

Dist dist_constant(double v)
{
    Dist d = { .kind = DIST_CONSTANT, .a = v };
    return d;
}

double dist_sample(const Dist *d, Rng *rng)
{
    switch (d->kind) {
    case DIST_CONSTANT:
        return d->a;
    case DIST_UNIFORM:
        return d->a + (d->b - d->a) * rng_uniform01(rng);
    case DIST_EXPONENTIAL:
        return rng_exponential(rng, d->a);
    case DIST_NORMAL:
        return d->a + d->b * rng_normal(rng);
    case DIST_LOGNORMAL:
        return d->a * exp(d->b * rng_normal(rng));
    case DIST_PARETO:
        return d->a * pow(1.0 - rng_uniform01(rng), -1.0 / d->b);
    case DIST_EMPIRICAL:
        return d->values[rng_below(rng, d->n_values)];
    }
    return 0;
}

double dist_mean(const Dist *d)
{
    switch (d->kind) {
    case DIST_CONSTANT:
        return d->a;
    case DIST_UNIFORM:
        return (d->a + d->b) / 2;
    case DIST_EXPONENTIAL:
    case DIST_NORMAL:
        return d->a;
    case DIST_LOGNORMAL:
        return d->a * exp(d->b * d->b / 2);
    case DIST_PARETO:
        return d->b <= 1 ? INFINITY : d->a * d->b / (d->b - 1);
    case DIST_EMPIRICAL: {
        double s = 0;
        for (size_t i = 0; i < d->n_values; i++)
            s += d->values[i];
        return s / (double)d->n_values;
    }
    }
    return 0;
}

const char *dist_check(const Dist *d)
{
    switch (d->kind) {
    case DIST_CONSTANT:
        return NULL;
    case DIST_UNIFORM:
        return d->b < d->a ? "uniform(a, b) needs a <= b" : NULL;
    case DIST_EXPONENTIAL:
        return d->a <= 0 ? "exponential(mean) needs mean > 0" : NULL;
    case DIST_NORMAL:
        return d->b < 0 ? "normal(mean, sd) needs sd >= 0" : NULL;
    case DIST_LOGNORMAL:
        return d->a <= 0 || d->b < 0 ? "lognormal(median, s) needs median > 0 and s >= 0" : NULL;
    case DIST_PARETO:
        return d->a <= 0 || d->b <= 0 ? "pareto(scale, shape) needs scale > 0 and shape > 0" : NULL;
    case DIST_EMPIRICAL:
        return d->n_values == 0 ? "empirical file holds no values" : NULL;
    }
    return "unknown distribution";
}

void dist_clear(Dist *d)
{
    g_free(d->values);
    memset(d, 0, sizeof *d);
}

void dist_copy(Dist *dst, const Dist *src)
{
    *dst = *src;
    if (src->values)
        dst->values = g_memdup2(src->values, src->n_values * sizeof(double));
}
