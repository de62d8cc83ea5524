/* PHOLD on the rdrsim engine: N logical processes, M initial events each at
 * Exp(1 s); an event at an LP picks a destination uniformly and schedules
 * one event there at now + 0.1 s + Exp(1 s).  Stops after E events.  Only
 * the event loop is timed, as in ../shared/bench/phold_ref.c.
 *
 * Usage: phold N M E [seed]
 * Prints: events_per_s=... peak_rss_kib=... checksum=... */
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"
#include "rng.h"

typedef struct {
    Rng rng;
    uint32_t n_lps;
    uint64_t checksum;
} Phold;

static SimTime exp_ns(Rng *rng)
{
    return (SimTime)(rng_exponential(rng, 1.0) * 1e9);
}

/* Uniform in [0, n) by multiply-shift: the same draw as the reference loop. */
static uint32_t pick_lp(Rng *rng, uint32_t n)
{
    return (uint32_t)(((rng_u64(rng) >> 32) * (uint64_t)n) >> 32);
}

static void on_event(Sim *sim, void *ctx, uint64_t lp)
{
    (void)lp;
    Phold *p = ctx;
    uint32_t dst = pick_lp(&p->rng, p->n_lps);
    p->checksum += dst;
    sim_after(sim, 100 * SIM_MS + exp_ns(&p->rng), on_event, p, dst);
}

static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: phold N M E [seed]\n");
        return 2;
    }
    Phold p = { .n_lps = (uint32_t)strtoul(argv[1], NULL, 10) };
    uint64_t m = strtoull(argv[2], NULL, 10), e = strtoull(argv[3], NULL, 10);
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 12345;
    if (!p.n_lps || !m || !e) {
        fprintf(stderr, "phold: N, M and E must be positive\n");
        return 2;
    }
    rng_stream(&p.rng, seed, "phold");
    Sim *sim = sim_new();
    for (uint32_t lp = 0; lp < p.n_lps; lp++)
        for (uint64_t k = 0; k < m; k++)
            sim_at(sim, exp_ns(&p.rng), on_event, &p, lp);
    gint64 t0 = g_get_monotonic_time();
    sim_run(sim, SIM_TIME_MAX, e, NULL);
    double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
    printf("events_per_s=%.0f peak_rss_kib=%ld checksum=%llu simtime_s=%.3f\n", (double)e / secs, peak_rss_kib(),
           (unsigned long long)p.checksum, (double)sim_now(sim) / 1e9);
    sim_free(sim);
    return 0;
}
