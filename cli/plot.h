/* plot: gnuplot figures from a trace DB.
 *
 * gnuplot runs as a child process fed through a pipe; data goes inline as
 * datablocks, so no temporary file is left behind.  The terminal follows
 * the output's extension: .png (pngcairo) or .svg.  Every figure has a
 * title, axis labels with units and a legend; what a figure leaves out
 * (labels that did not fit, runs past a cap) it says on stderr and in the
 * figure. */
#ifndef RDRSIM_PLOT_H
#define RDRSIM_PLOT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *db;
    const char *what;    /* disconnect, timeouts, oplock, timeline, sequence, sweep */
    const char *output;  /* FILE.png or FILE.svg */
    int64_t run;         /* 0: every run (sequence, timeline: the first) */
    int64_t conn;        /* sequence: the connection */
    int64_t brk;         /* sequence: the N-th oplock break of the run in time order (1-based), 0: none */
    const char *metric;  /* sweep: the metric (default tdi.release.p50_ns) */
    const char *param;   /* sweep: the swept key (default: the one that varies) */
    double from_ms;      /* sequence: the window, in simulated ms (NAN: from the start) */
    double to_ms;        /* sequence: (NAN: to the end) */
    bool linear;         /* sequence: time to scale, not one row per event */
} PlotOptions;

extern const char *const plot_whats[];

/* Draw one figure from an open trace into opt->output.  Returns an exit
 * status; *err why not, *note what the figure left out (both g_free'd by
 * the caller, NULL when none). */
typedef struct sqlite3 sqlite3;
int plot_draw(sqlite3 *db, const PlotOptions *opt, char **note, char **err);

/* Run a whole gnuplot script that writes `output`; false with *err when
 * gnuplot failed or wrote nothing. */
bool plot_run_gnuplot(const char *script, const char *output, char **err);

/* The command: opens the DB, draws, says errors and notes on stderr.
 * Returns an exit status. */
int plot_main(const PlotOptions *opt);

#endif
