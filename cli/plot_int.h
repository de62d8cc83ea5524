/* plot_int: what the figure kinds share (cli/plot*.c).
 *
 * A figure is a gnuplot script built in memory: its data inline as
 * datablocks, its geometry either gnuplot's own or, where labels must not
 * collide (the sequence chart), fixed margins so that the script knows
 * where every label lands in pixels. */
#ifndef RDRSIM_PLOT_INT_H
#define RDRSIM_PLOT_INT_H

#include <glib.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "plot.h"

typedef struct {
    sqlite3 *db;
    const PlotOptions *opt;
    GString *gp;  /* the gnuplot script */
    char *err;    /* why there is nothing to plot */
    int width;    /* pixels; 0: the default (1000) */
    int height;   /* pixels; 0: the default (640) */
    char *note;   /* what the figure left out or chose, printed after it is drawn */
} Plot;

/* Runs bound to ?1 as "every run" (0) or one run. */
#define RUNS "(?1 = 0 OR run_id = ?1)"

sqlite3_stmt *plot_prepare(Plot *p, const char *sql);
/* gnuplot strings are single-quoted; a quote inside is doubled. */
void gp_quoted(GString *s, const char *text);
/* The terminal, output, title and axis labels; keys inside, opaque. */
void plot_head(Plot *p, const char *title, const char *xlabel, const char *ylabel);
void plot_block_begin(Plot *p, const char *name);
void plot_block_end(Plot *p);
/* The run a one-run figure draws: --run, else the first. */
int64_t plot_first_run(Plot *p);
/* The index of s in a (added when absent). */
int plot_index_of(GPtrArray *a, const char *s);
/* Names in natural order: c2 before c10. */
int plot_natural_cmp(const char *a, const char *b);
/* The parameter points of the runs the figure draws ("" for runs without
 * overrides), in run order; one element when the DB is not a sweep. */
GPtrArray *plot_points(Plot *p);
/* A parameter point as a legend names it: each override without its
 * kind ("link.c1-srv.loss=1%" is "c1-srv.loss=1%"); "" is "no overrides". */
char *plot_point_label(const char *point);
/* Tics of a log axis from lo to hi: 1, 2, 5 in every decade, as gnuplot's
 * "set xtics (...)" list body. */
char *plot_log_tics(double lo, double hi);
/* The width in pixels of text in gnuplot's default sans font at size px
 * (an upper estimate: DejaVu Sans's widest common glyphs). */
double plot_text_width(const char *text, double px);
void plot_note(Plot *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The figure kinds (cli/plot_runs.c, plot_sequence.c, plot_sweep.c);
 * each returns false with p->err when there is nothing to draw. */
bool plot_disconnect(Plot *p);
bool plot_timeouts(Plot *p);
bool plot_oplock(Plot *p);
bool plot_timeline(Plot *p);
bool plot_sequence(Plot *p);
bool plot_sweep(Plot *p);

#endif
