/* explore: search a scenario's fault space for a failure, then shrink it
 * (`rdrsim explore FILE -o DIR`).
 *
 * Run r of the budget (r = 1..N) layers a fault schedule over the
 * scenario's timeline, drawn from its own seed: swarm style, the run first
 * draws which fault kinds it enables and how many faults it has, then each
 * fault's kind, target, time and length.  Every fault is an ordinary
 * timeline statement, so a run is a scenario file, run as its own `rdrsim
 * run` process (as a sweep runs them, -j at once), judged by its exit
 * status, its expectations and its invariants.  The first failing run in
 * budget order (or each, with --keep-going) is shrunk: faults are removed,
 * and then shortened, one at a time, while the same failure (the same
 * failed expectation lines, or the same invariant message) still occurs,
 * until no single step keeps it.  The budget's traces are merged into
 * DIR/NAME-runs.db, as a sweep's shards are.  The result is DIR/NAME-SEED.rsim: the
 * scenario, a comment saying what failed and how it was found, and the
 * few faults that make it fail; it is run once more on its own to confirm.
 * The same scenario, seed and budget give the same runs and reproducer
 * whatever -j (results are taken in budget order).  Like a sweep, the
 * budget can run elsewhere: --emit-jobs writes one command line a run (for
 * GNU parallel or a cluster), and --from-jobs then reads their results and
 * shrinks here. */
#ifndef RDRSIM_EXPLORE_H
#define RDRSIM_EXPLORE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *scenario;
    const char *dir;      /* where reproducers (and work/, the runs' files) go */
    int budget;           /* runs */
    const char *faults;   /* comma-separated kinds, NULL: all */
    uint64_t seed;
    bool has_seed;        /* else the scenario's seed */
    int jobs;
    bool keep_going;      /* shrink every failure, not only the first */
    const char *emit_jobs; /* write the budget's runs as command lines here (and their files under DIR/work) */
    bool from_jobs;       /* the budget's runs were run from --emit-jobs: read their results, then shrink */
    bool quiet;
} ExploreOptions;

/* Exit status: 0 the budget ran out without a failure, 1 a failure was
 * found (and shrunk), 2 bad input (or the scenario fails with no fault). */
int explore_main(const ExploreOptions *opt);

/* The fault kinds, comma-separated, for help text. */
extern const char explore_kinds[];

#endif
