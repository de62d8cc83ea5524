/* rng: xoshiro256** streams.
 *
 * Every entity of a run draws from its own stream, seeded from the pair
 * (run seed, entity name).  Adding an entity therefore leaves every other
 * stream untouched, which is what makes paired comparisons of two variants
 * of a scenario meaningful (common random numbers). */
#ifndef RDRSIM_RNG_H
#define RDRSIM_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

/* Seed the stream that belongs to `name` in a run seeded with `seed`. */
void rng_stream(Rng *rng, uint64_t seed, const char *name);

uint64_t rng_u64(Rng *rng);
/* Uniform in [0, 1). */
double rng_uniform01(Rng *rng);
/* Uniform in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(Rng *rng, uint64_t n);
/* True with probability p. */
int rng_chance(Rng *rng, double p);
/* Exponential with the given mean. */
double rng_exponential(Rng *rng, double mean);
/* Standard normal (Box-Muller; no cached second value, so a draw is a pure
 * function of the stream position). */
double rng_normal(Rng *rng);

#endif
