/* compare: a regression comparison of two trace DBs of the same scenario,
 * e.g. a protocol change against its baseline, run with the same seeds.
 *
 * With several runs a side, runs are paired by (parameter point, seed) and
 * each metric's difference gets a paired-bootstrap interval (10,000
 * resamples of the per-pair differences).  With one run a side, intervals
 * come from the samples inside the runs (operation latencies, disconnect
 * completion times, break latencies): a bootstrap interval of the
 * difference of medians.  A difference is flagged as a regression when its
 * interval excludes zero, it is larger than the threshold, and it is an
 * increase (every metric compared is one where more is worse: latencies,
 * time-outs, error counts, events).  When a pair has the same seed, the
 * first point where the two traces diverge is shown. */
#ifndef RDRSIM_COMPARE_H
#define RDRSIM_COMPARE_H

#include "report.h"

typedef struct {
    const char *base, *new_db;
    char **metrics;     /* glob patterns; NULL: the defaults */
    double threshold;   /* relative, e.g. 0.05 */
    double alpha;       /* e.g. 0.05 for 95% intervals */
    ReportFormat fmt;
} CompareOptions;

/* Exit status: 0 no flagged regression, 1 at least one, 2 bad input. */
int compare_main(const CompareOptions *opt, FILE *out);

#endif
