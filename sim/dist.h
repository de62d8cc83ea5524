/* dist: the probability distributions a scenario can name.
 *
 * Parameters are in the base unit of the quantity they describe (ns for
 * times, bytes for sizes); shape parameters are plain numbers.
 *   constant(v)            v
 *   uniform(a, b)          a <= x < b
 *   exponential(mean)      also `exp(mean)`
 *   normal(mean, sd)
 *   lognormal(median, s)   exp(N(ln median, s))
 *   pareto(scale, shape)   scale * U^(-1/shape), scale > 0, shape > 0
 *   empirical("file")      one of the file's values, each equally likely */
#ifndef RDRSIM_DIST_H
#define RDRSIM_DIST_H

#include <stddef.h>

#include "rng.h"

typedef enum {
    DIST_CONSTANT,
    DIST_UNIFORM,
    DIST_EXPONENTIAL,
    DIST_NORMAL,
    DIST_LOGNORMAL,
    DIST_PARETO,
    DIST_EMPIRICAL,
} DistKind;

typedef struct {
    DistKind kind;
    double a, b;
    double *values; /* DIST_EMPIRICAL: owned */
    size_t n_values;
} Dist;

Dist dist_constant(double v);
double dist_sample(const Dist *d, Rng *rng);
/* The distribution's mean (infinite for pareto with shape <= 1). */
double dist_mean(const Dist *d);
/* Check the parameters; returns NULL or a static message. */
const char *dist_check(const Dist *d);
/* Look up a kind by its scenario name; returns -1 when unknown.  *n_params
 * receives how many parameters it takes. */
int dist_kind_from_name(const char *name, int *n_params);
const char *dist_kind_name(DistKind k);
void dist_clear(Dist *d);
void dist_copy(Dist *dst, const Dist *src);

#endif
