/* run: one scenario, start to finish: parse and check it, open the trace,
 * build the world, run the engine, write metrics, judge expectations. */
#ifndef RDRSIM_RUN_H
#define RDRSIM_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "trace.h"

/* Exit statuses of the program (DESIGN.md). */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,      /* an expectation or an invariant failed */
    EXIT_BAD_INPUT = 2,   /* usage, scenario, DB */
    EXIT_INTERNAL = 3,
    EXIT_INTERRUPTED = 130, /* SIGINT or SIGTERM: the run is kept, marked incomplete */
};

typedef struct {
    const char *scenario_path;
    const char *output;          /* NULL: results/<scenario>.db */
    char **overrides;            /* --set, NULL-terminated (may be NULL) */
    bool has_seed;
    uint64_t seed;
    TraceLevel level;
    bool quiet;
    uint64_t max_events;         /* 0: none */
    int64_t max_sim_time;        /* ns; 0: none */
    double max_wall;             /* seconds; 0: none */
    int64_t max_trace_bytes;     /* 0: no limit but the disk's */
    int jobs;                    /* threads for the scenario's independent parts (partition.h); <= 1: one */
} RunOptions;

/* Run a scenario; returns an exit status. */
int run_scenario(const RunOptions *opt);

/* Parse and check only (`rdrsim check`); returns an exit status. */
int check_scenario(const char *path, char **overrides, bool quiet);

#endif
