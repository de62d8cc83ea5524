/* regress: a protocol change that is a change of the model's code, judged
 * against its baseline.  Each scenario runs R times with the baseline's
 * rdrsim and R times with this one, over the same seeds (those a sweep of
 * --runs R uses), into DIR/NAME-base.db and DIR/NAME-new.db; then compare
 * judges each pair of DBs (compare.h) and a summary names each scenario's
 * verdict.
 *
 * Exit status: 0 no regression, 1 a regression in at least one scenario,
 * 2 refused (a baseline that is not an rdrsim, a bad scenario, a run
 * that could not start, DBs compare refuses). */
#ifndef RDRSIM_REGRESS_H
#define RDRSIM_REGRESS_H

#include "report.h"

typedef struct {
    const char *baseline;   /* the baseline build's rdrsim */
    char **scenarios;       /* NULL-terminated */
    char **sets;            /* --set for both sides (may be NULL) */
    int runs, jobs;
    const char *dir;        /* where the DBs go */
    const char *trace_level;
    char **metrics;         /* compare's --metric (may be NULL) */
    double threshold, alpha;
    ReportFormat fmt;
    bool quiet;
} RegressOptions;

int regress_main(const RegressOptions *opt);

#endif
