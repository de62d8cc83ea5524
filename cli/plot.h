/* plot: gnuplot figures from a trace DB.
 *
 * gnuplot runs as a child process fed through a pipe; data goes inline as
 * datablocks, so no temporary file is left behind.  The terminal follows
 * the output's extension: .png (pngcairo) or .svg.  Every figure has a
 * title, axis labels with units and a legend. */
#ifndef RDRSIM_PLOT_H
#define RDRSIM_PLOT_H

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
} PlotOptions;

extern const char *const plot_whats[];

/* Returns an exit status; errors go to stderr. */
int plot_main(const PlotOptions *opt);

#endif
