/* expect: the scenario's `expect "SQL" OP VALUE` lines, checked on the
 * run's own trace after the run, and its `metric NAME "SQL"` lines,
 * evaluated there and stored as metrics of the run.  Each query runs
 * within the scenario's query_budget (wall-clock time, default 60 s):
 * past it the expectation or metric fails with a message naming its
 * line. */
#ifndef RDRSIM_EXPECT_H
#define RDRSIM_EXPECT_H

#include <stdio.h>

#include "scenario.h"
#include "trace.h"

/* Prepare every query (expect and metric) against an empty trace: a query
 * that does not compile, is not a single read-only statement, or returns
 * no column is a scenario error at the query's position. */
void expect_validate(Scenario *sc);

/* Evaluate the expectations of run `run_id`; print each failure (query,
 * expected, actual) to out and record every result in the trace.  Returns
 * the number that failed; *passed receives the number that held. */
int expect_evaluate(Trace *tr, const Scenario *sc, FILE *out, int *passed);

/* Evaluate the `metric` lines of the run and write their values as its
 * metrics (before the expectations, which may read them).  A query that
 * fails, runs out of time or gives no number is printed to out and
 * recorded as a failed expectation.  Returns the number that failed. */
int expect_metrics(Trace *tr, const Scenario *sc, FILE *out);

/* Most SQLite virtual-machine steps one expectation may take before it is
 * stopped as a failure ("interrupted"): a runaway query (a recursive CTE
 * without end) must not hang a run.  The default allows scans of traces of
 * hundreds of millions of rows. */
#define EXPECT_DEFAULT_STEPS 20000000000ull
void expect_set_step_limit(uint64_t steps);

#endif
