/* compare: a regression comparison of two trace DBs of the same scenario,
 * e.g. a protocol change against its baseline, run with the same seeds.
 *
 * It refuses (exit 2) DBs whose runs are of different scenarios (name and
 * text), unless forced.  Runs are paired by (parameter point, seed); every
 * metric present on either side of a pair takes part, with compare's own
 * run.failed and run.expectations_failed; a count absent on one side is 0
 * there.  One pair: the runs are deterministic, so a difference beyond the
 * threshold in a metric where more is worse is a regression.  Several
 * pairs: the mean paired difference gets a bootstrap interval (10,000
 * resamples), and a regression is an interval above zero with a mean
 * change beyond the threshold.  More is worse for times, what did not
 * complete (time-outs, cancellations, pending), retransmissions, error
 * statuses, failed runs and expectations; other metrics are shown and
 * never flagged, and the simulator's own (sim.*) are gated only when
 * --metric names them.  One run a side with different seeds: only the
 * completion times inside the runs are compared.  When a pair has the same
 * seed, the first point where the two traces diverge is shown. */
#ifndef RDRSIM_COMPARE_H
#define RDRSIM_COMPARE_H

#include "report.h"

typedef struct {
    const char *base, *new_db;
    char **metrics;     /* glob patterns; NULL: the defaults */
    double threshold;   /* relative, e.g. 0.05 */
    double alpha;       /* e.g. 0.05 for 95% intervals */
    ReportFormat fmt;
    bool force;         /* compare runs of different scenarios anyway */
    bool all;           /* show the metrics that are the same on both sides too */
} CompareOptions;

/* Exit status: 0 no flagged regression, 1 at least one, 2 bad input. */
int compare_main(const CompareOptions *opt, FILE *out);

#endif
