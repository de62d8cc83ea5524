/* sweep: a grid of parameter values times repetitions, run as separate
 * `rdrsim run` processes, merged into one trace DB.
 *
 * Every grid point uses the same seeds (common random numbers): the seed
 * of repetition r is derived from the scenario's seed and r alone.  Each
 * run writes its own shard DB; shards are merged in grid order, so the
 * merged DB does not depend on which worker ran what, or on how many
 * workers there were.  With --emit-jobs the runs are written as command
 * lines instead (for GNU parallel or a Slurm array; every path in them
 * absolute), and `rdrsim merge` combines their shards the same way.
 *
 * Before anything runs, the scenario and every --set and --vary value are
 * applied to it and checked; an output that already holds runs is
 * refused unless --append.  merge refuses a shard whose runs the output
 * already holds. */
#ifndef RDRSIM_SWEEP_H
#define RDRSIM_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *scenario_path;
    char **vary;           /* "NAME=V1,V2,...", NULL-terminated */
    char **sets;           /* fixed --set overrides, NULL-terminated (may be NULL) */
    int runs;              /* repetitions per grid point */
    int jobs;              /* worker processes */
    const char *output;    /* merged DB */
    const char *emit_jobs; /* write command lines here instead of running */
    const char *trace_level;
    bool quiet;
    bool append;           /* the output may already hold runs */
    const char *exe;       /* the rdrsim that runs the runs; NULL: this one */
    bool seeds_53;         /* seeds below 2^53, exact even for an rdrsim that read seeds through a double */
} SweepOptions;

/* The seed of repetition `rep` for a scenario seeded `base`. */
uint64_t sweep_seed(uint64_t base, int rep);

int sweep_main(const SweepOptions *opt);
/* `rdrsim merge OUT SHARD...`: append the shards' runs to OUT, in order. */
int merge_main(const char *output, char **shards);

#endif
