/* rng: xoshiro256** (Blackman and Vigna), seeded through splitmix64 as its
 * authors recommend, so that nearby seeds give unrelated states. */
#include "rng.h"

#include <math.h>

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* FNV-1a: a fixed, platform-independent hash of the entity name. */
static uint64_t name_hash(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void rng_stream(Rng *rng, uint64_t seed, const char *name)
{
    /* Mix the seed before combining so that (seed, name) pairs that differ in
     * both cannot cancel out in the XOR. */
    uint64_t x = seed;
    uint64_t k = splitmix64(&x) ^ name_hash(name ? name : "");
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&k);
}

uint64_t rng_u64(Rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform01(Rng *rng)
{
    return (double)(rng_u64(rng) >> 11) * 0x1.0p-53;
}

/* Uniform in (0, 1]: safe to take the logarithm of. */
static double uniform_open0(Rng *rng)
{
    return (double)((rng_u64(rng) >> 11) + 1) * 0x1.0p-53;
}

uint64_t rng_below(Rng *rng, uint64_t n)
{
    /* Rejection on the top of the range removes the modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rng_u64(rng);
    while (x >= limit);
    return x % n;
}

int rng_chance(Rng *rng, double p)
{
    if (p <= 0)
        return 0;
    if (p >= 1)
        return 1;
    return rng_uniform01(rng) < p;
}

double rng_exponential(Rng *rng, double mean)
{
    return -log(uniform_open0(rng)) * mean;
}

double rng_normal(Rng *rng)
{
    double u1 = uniform_open0(rng);
    double u2 = rng_uniform01(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
