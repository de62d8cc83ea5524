/* plot_runs: the figures of what runs did: disconnect completion times,
 * time-outs over time, oplock breaks, and the operations timeline.
 *
 * A DB of several parameter points (a sweep) is never pooled: the
 * disconnect and time-out figures draw one curve per point, averaged per
 * run where a point has several runs. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "plot_int.h"
#include "report.h"
#include "stats.h"

/* run_id -> index of its parameter point in plot_points' order */
static GHashTable *run_points(Plot *p, GPtrArray *points, GArray *runs_per_point)
{
    GHashTable *h = g_hash_table_new(g_int64_hash, g_int64_equal);
    sqlite3_stmt *st = plot_prepare(p, "SELECT run_id, overrides FROM runs WHERE " RUNS " ORDER BY run_id");
    g_array_set_size(runs_per_point, points->len);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t *id = g_new(int64_t, 1);
        *id = sqlite3_column_int64(st, 0);
        char *pt = report_point_of((const char *)sqlite3_column_text(st, 1));
        int k = plot_index_of(points, pt);
        g_free(pt);
        if ((guint)k >= runs_per_point->len)
            g_array_set_size(runs_per_point, (guint)k + 1);
        g_array_index(runs_per_point, int, k)++;
        g_hash_table_insert(h, id, GINT_TO_POINTER(k));
    }
    sqlite3_finalize(st);
    return h;
}

static void free_run_points(GHashTable *h)
{
    GList *keys = g_hash_table_get_keys(h);
    g_hash_table_steal_all(h);
    g_list_free_full(keys, g_free);
    g_hash_table_unref(h);
}

static int point_of_run(GHashTable *h, int64_t run) { return GPOINTER_TO_INT(g_hash_table_lookup(h, &run)); }

/* ---- disconnect: completion-time CDF per mode (and parameter point) ---- */

typedef struct {
    GArray *ok;     /* ms of completions with STATUS_SUCCESS */
    GArray *other;  /* ms of the others, with the outcome class in `cls` */
    GArray *cls;    /* 0 timed out, 1 cancelled, 2 another status */
    int never;      /* no completion recorded */
} DiscSeries;

static int outcome_class(const char *outcome)
{
    if (!outcome)
        return 2;
    if (strcmp(outcome, "STATUS_REQUEST_TIMED_OUT") == 0 || strcmp(outcome, "STATUS_IO_TIMEOUT") == 0)
        return 0;
    if (strcmp(outcome, "STATUS_CANCELLED") == 0)
        return 1;
    return 2;
}

bool plot_disconnect(Plot *p)
{
    static const char *const modes[] = { "release", "abort" };
    static const char *const cls_name[] = { "timed out", "cancelled", "other status" };
    static const int cls_pt[] = { 9, 2, 13 };
    GPtrArray *points = plot_points(p);
    GArray *rpp = g_array_new(FALSE, TRUE, sizeof(int));
    GHashTable *rp = run_points(p, points, rpp);
    int np = (int)points->len;
    DiscSeries *ser = g_new0(DiscSeries, 2 * np);
    for (int i = 0; i < 2 * np; i++) {
        ser[i].ok = g_array_new(FALSE, FALSE, sizeof(double));
        ser[i].other = g_array_new(FALSE, FALSE, sizeof(double));
        ser[i].cls = g_array_new(FALSE, FALSE, sizeof(int));
    }
    sqlite3_stmt *st = plot_prepare(p, "SELECT run_id, mode, (t_done_ns - t_start_ns) / 1e6, outcome FROM disconnects "
                                       "WHERE " RUNS " ORDER BY 3");
    double lo = INFINITY, hi = 0;
    bool zero = false;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 1);
        int m = strcmp(mode, "abort") == 0;
        DiscSeries *s = &ser[m * np + point_of_run(rp, sqlite3_column_int64(st, 0))];
        if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
            s->never++;
            continue;
        }
        double v = sqlite3_column_double(st, 2);
        const char *oc = (const char *)sqlite3_column_text(st, 3);
        if (oc && strcmp(oc, "STATUS_SUCCESS") == 0) {
            g_array_append_val(s->ok, v);
        } else {
            int c = outcome_class(oc);
            g_array_append_val(s->other, v);
            g_array_append_val(s->cls, c);
        }
        if (v > 0)
            lo = MIN(lo, v);
        else
            zero = true;
        hi = MAX(hi, v);
    }
    sqlite3_finalize(st);
    GString *plots = g_string_new("");
    int series = 0;
    bool logx = isfinite(lo) && hi / lo > 20;
    double floor_ms = logx ? lo / 2 : 0; /* where a zero time is drawn on a log axis */
    for (int i = 0; i < 2 * np; i++) {
        DiscSeries *s = &ser[i];
        int n = (int)(s->ok->len + s->other->len) + s->never;
        if (!n)
            continue;
        const char *mode = modes[i / np], *pt = g_ptr_array_index(points, i % np);
        char *pl = plot_point_label(pt);
        char *name = np > 1 ? g_strdup_printf("%s, %s", mode, pl) : g_strdup(mode);
        g_free(pl);
        int color = series + 1;
        if (s->ok->len) {
            g_string_append_printf(p->gp, "$d%d << EOD\n", i);
            double first = MAX(g_array_index(s->ok, double, 0), floor_ms);
            g_string_append_printf(p->gp, "%.6f 0\n", first);
            for (guint k = 0; k < s->ok->len; k++)
                g_string_append_printf(p->gp, "%.6f %.6f\n", MAX(g_array_index(s->ok, double, k), floor_ms),
                                       (double)(k + 1) / n);
            plot_block_end(p);
            g_string_append_printf(plots,
                                   "%s$d%d using 1:2 with steps lw 2 lc %d dt %d title '%s: completed (%u of %d)'",
                                   plots->len ? ", " : "", i, color, 1 + series % 5, name, s->ok->len, n);
        }
        /* the others are not completions: a rug under the axis, one mark per outcome */
        for (int c = 0; c < 3; c++) {
            int k = 0;
            GString *blk = g_string_new("");
            for (guint j = 0; j < s->other->len; j++)
                if (g_array_index(s->cls, int, j) == c) {
                    g_string_append_printf(blk, "%.6f %.4f\n", MAX(g_array_index(s->other, double, j), floor_ms),
                                           -0.025 - 0.015 * series);
                    k++;
                }
            if (k) {
                g_string_append_printf(p->gp, "$o%d_%d << EOD\n%sEOD\n", i, c, blk->str);
                g_string_append_printf(plots, "%s$o%d_%d using 1:2 with points pt %d ps 1.4 lc %d title '%s: %s (%d)'",
                                       plots->len ? ", " : "", i, c, cls_pt[c], color, name, cls_name[c], k);
            }
            g_string_free(blk, TRUE);
        }
        if (s->never)
            plot_note(p, "%s: %d disconnects never completed (counted in the fractions, not drawn)", name, s->never);
        g_free(name);
        series++;
    }
    bool ok = series > 0;
    if (!ok) {
        p->err = g_strdup("no disconnects in the trace");
    } else {
        bool any_ok = false;
        for (int i = 0; i < 2 * np; i++)
            any_ok = any_ok || ser[i].ok->len > 0;
        /* with nothing completed, the marks alone, in a shorter figure that says so */
        p->height = any_ok ? 680 : 420;
        plot_head(p, !any_ok    ? "Completion time of TDI disconnects: none completed with STATUS_SUCCESS"
                     : np > 1 ? "Completion time of TDI disconnects (CDF), one curve per parameter point"
                              : "Completion time of TDI disconnects (CDF)",
                  logx ? "time from TDI_DISCONNECT to its completion (ms, log scale)"
                       : "time from TDI_DISCONNECT to its completion (ms)",
                  "fraction of disconnects completed with STATUS_SUCCESS");
        g_string_append(p->gp, "set key inside left top Left reverse box opaque\n");
        if (logx) {
            /* 1-2-5 tics, and a time of 0 (an abort completes at once) drawn at a tic of its own */
            /* over the whole axis, clear of the 0 tic */
            char *tics = plot_log_tics(zero ? floor_ms * 1.6 : lo / 1.3, hi * 1.3);
            g_string_append_printf(p->gp, "set logscale x\nset xtics (%s)\nset mxtics 10\n", tics);
            if (zero)
                g_string_append_printf(p->gp, "set xtics add ('0' %g)\n", floor_ms);
            g_string_append_printf(p->gp, "set xrange [%g:%g]\n", (zero ? floor_ms : lo) / 1.3, hi * 1.3);
            g_free(tics);
        } else {
            /* a time of 0 stands clear of the y axis */
            double span = MAX(hi, 1.0); /* every time 0 (aborts): an axis of a millisecond, not of nothing */
            g_string_append_printf(p->gp, "set xrange [%g:%g]\n", -0.04 * span, span * 1.1);
        }
        /* below 0: the disconnects that ended otherwise, one row of marks per mode */
        g_string_append_printf(p->gp, "set ytics 0,0.2,1\nset yrange [%g:1.05]\nset arrow from graph 0, first 0 to "
                                      "graph 1, first 0 nohead lc rgb '#888888'\nplot %s\n",
                               -0.04 - 0.015 * series, plots->str);
    }
    for (int i = 0; i < 2 * np; i++) {
        g_array_unref(ser[i].ok);
        g_array_unref(ser[i].other);
        g_array_unref(ser[i].cls);
    }
    g_free(ser);
    g_string_free(plots, TRUE);
    free_run_points(rp);
    g_array_unref(rpp);
    g_ptr_array_unref(points);
    return ok;
}

/* ---- timeouts: the four kinds apart, over simulated time ---- */

/* Each kind from where the trace records it; a time-out of an operation
 * and one of the TDI request under it are both counted, each in its
 * kind.  An oplock break is drawn when its notification went out (the
 * trace keeps no time for the time-out itself). */
static const struct {
    const char *title, *sql;
} timeout_kinds[] = {
    { "I/O (operations, TDI sends and receives)",
      "SELECT run_id, node, t_done_ns FROM ops WHERE status IN ('STATUS_IO_TIMEOUT', 'STATUS_REQUEST_TIMED_OUT') "
      "AND t_done_ns IS NOT NULL AND " RUNS " UNION ALL SELECT run_id, node, coalesce(t_done_ns, t_ns) FROM tdi_requests "
      "WHERE request IN ('TDI_SEND', 'TDI_RECEIVE') AND status IN ('STATUS_IO_TIMEOUT', 'STATUS_REQUEST_TIMED_OUT') "
      "AND " RUNS },
    { "connect (TDI_CONNECT)",
      "SELECT run_id, node, coalesce(t_done_ns, t_ns) FROM tdi_requests WHERE request = 'TDI_CONNECT' AND status IN "
      "('STATUS_IO_TIMEOUT', 'STATUS_REQUEST_TIMED_OUT') AND " RUNS },
    { "disconnect (TDI_DISCONNECT)",
      "SELECT run_id, initiator, t_done_ns FROM disconnects WHERE outcome IN ('STATUS_IO_TIMEOUT', "
      "'STATUS_REQUEST_TIMED_OUT') AND t_done_ns IS NOT NULL AND " RUNS },
    { "oplock break (at its notification)",
      "SELECT run_id, server, t_sent_ns FROM oplock_breaks WHERE outcome = 'timeout' AND " RUNS },
};

typedef struct {
    char *name;
    GArray *t; /* s */
} TimeoutLine;

static gint line_cmp(gconstpointer a, gconstpointer b)
{
    return plot_natural_cmp((*(TimeoutLine *const *)a)->name, (*(TimeoutLine *const *)b)->name);
}

static void line_free(gpointer p)
{
    TimeoutLine *l = p;
    g_free(l->name);
    g_array_unref(l->t);
    g_free(l);
}

#define MAX_LINES 8

bool plot_timeouts(Plot *p)
{
    GPtrArray *points = plot_points(p);
    GArray *rpp = g_array_new(FALSE, TRUE, sizeof(int));
    GHashTable *rp = run_points(p, points, rpp);
    bool sweep = points->len > 1;
    double t_end = 0;
    sqlite3_stmt *e = plot_prepare(p, "SELECT max(sim_end_ns) / 1e9 FROM runs WHERE " RUNS);
    if (e && sqlite3_step(e) == SQLITE_ROW)
        t_end = sqlite3_column_double(e, 0);
    sqlite3_finalize(e);
    int total = 0, nruns = 0;
    for (guint i = 0; i < rpp->len; i++)
        nruns += g_array_index(rpp, int, i);
    GString *panels = g_string_new("");
    for (size_t k = 0; k < G_N_ELEMENTS(timeout_kinds); k++) {
        /* one line per node (one parameter point) or per point (a sweep) */
        GPtrArray *lines = g_ptr_array_new_with_free_func(line_free);
        GHashTable *by = g_hash_table_new(g_str_hash, g_str_equal);
        sqlite3_stmt *st = plot_prepare(p, timeout_kinds[k].sql);
        int n = 0;
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            int pt = point_of_run(rp, sqlite3_column_int64(st, 0));
            const char *name = sweep ? g_ptr_array_index(points, pt) : (const char *)sqlite3_column_text(st, 1);
            TimeoutLine *l = g_hash_table_lookup(by, name);
            if (!l) {
                l = g_new0(TimeoutLine, 1);
                l->name = g_strdup(name);
                l->t = g_array_new(FALSE, FALSE, sizeof(double));
                g_ptr_array_add(lines, l);
                g_hash_table_insert(by, l->name, l);
            }
            double t = sqlite3_column_double(st, 2) / 1e9;
            g_array_append_val(l->t, t);
            n++;
        }
        sqlite3_finalize(st);
        g_hash_table_unref(by);
        total += n;
        g_ptr_array_sort(lines, line_cmp);
        /* past MAX_LINES nodes, the rest in one line */
        if (!sweep && lines->len > MAX_LINES) {
            TimeoutLine *rest = g_new0(TimeoutLine, 1);
            rest->t = g_array_new(FALSE, FALSE, sizeof(double));
            for (guint i = MAX_LINES - 1; i < lines->len; i++) {
                TimeoutLine *l = g_ptr_array_index(lines, i);
                g_array_append_vals(rest->t, l->t->data, l->t->len);
            }
            rest->name = g_strdup_printf("%u other nodes", lines->len - (MAX_LINES - 1));
            g_ptr_array_set_size(lines, MAX_LINES - 1);
            g_ptr_array_add(lines, rest);
        }
        GString *plots = g_string_new("");
        for (guint i = 0; i < lines->len; i++) {
            TimeoutLine *l = g_ptr_array_index(lines, i);
            stats_sort((double *)(void *)l->t->data, l->t->len);
            /* a point with several runs: the mean count per run */
            int runs = sweep ? g_array_index(rpp, int, plot_index_of(points, l->name)) : nruns;
            g_string_append_printf(p->gp, "$k%zu_%u << EOD\n0 0\n", k, i);
            for (guint j = 0; j < l->t->len; j++)
                g_string_append_printf(p->gp, "%.9f %.6g\n", g_array_index(l->t, double, j), (double)(j + 1) / runs);
            g_string_append_printf(p->gp, "%.9f %.6g\nEOD\n", t_end, (double)l->t->len / runs);
            char *lname = sweep ? plot_point_label(l->name) : g_strdup(l->name);
            char *title = runs > 1 ? g_strdup_printf("%s (%u in %d runs)", lname, l->t->len, runs)
                                   : g_strdup_printf("%s (%u)", lname, l->t->len);
            g_free(lname);
            /* dashes of their own, so that coinciding lines stay apart */
            g_string_append_printf(plots, "%s$k%zu_%u using 1:2 with steps lw 2 lc %u dt %u title ",
                                   plots->len ? ", " : "", k, i, i + 1, 1 + i % 5);
            gp_quoted(plots, title);
            g_free(title);
        }
        g_string_append(panels, "set title ");
        gp_quoted(panels, timeout_kinds[k].title);
        if (!lines->len)
            g_string_append_printf(panels, "\nset label 1 'none in the trace' at graph 0.5, graph 0.5 center\nset yrange [0:1]\n"
                                           "unset key\nplot NaN notitle\nunset label 1\nset yrange [0:*]\n"
                                           "set key left top box opaque font ',8'\n");
        else
            g_string_append_printf(panels, "\nplot %s\n", plots->str);
        g_string_free(plots, TRUE);
        g_ptr_array_unref(lines);
    }
    bool ok = total > 0;
    if (!ok) {
        p->err = g_strdup("no time-outs in the trace (I/O, connect, disconnect or oplock break)");
    } else {
        p->height = 760;
        plot_head(p, "", "simulated time (s)", nruns > 1 ? "time-outs so far (mean per run)" : "time-outs so far");
        g_string_append_printf(p->gp, "set multiplot layout 2,2 title %s\nset key left top box opaque font ',8'\n"
                                      "set xrange [0:%g]\nset yrange [0:*]\n%sunset multiplot\n",
                               sweep ? "'Time-outs over simulated time by kind, one line per parameter point'"
                                     : "'Time-outs over simulated time by kind, one line per node'",
                               MAX(t_end, 1e-9), panels->str);
    }
    g_string_free(panels, TRUE);
    free_run_points(rp);
    g_array_unref(rpp);
    g_ptr_array_unref(points);
    return ok;
}

/* ---- oplock: break latency per level change, and outcomes ---- */

static const char *const break_outcomes[] = { "acked", "closed", "timeout", "pending" };
static const char *const break_outcome_titles[] = { "acknowledged", "released by CLOSE", "timed out",
                                                    "unanswered at the end" };

bool plot_oplock(Plot *p)
{
    /* the level offered (offered_level) where the trace has it, else the level reached */
    const char *change = "from_level || ' -> ' || coalesce(offered_level, to_level)";
    char *cdf_sql = g_strdup_printf("SELECT %s, (t_acked_ns - t_sent_ns) / 1e6 FROM oplock_breaks WHERE outcome = "
                                    "'acked' AND t_acked_ns IS NOT NULL AND " RUNS " ORDER BY 1, 2", change);
    char *oc_sql = g_strdup_printf("SELECT %s, outcome, count(*) FROM oplock_breaks WHERE " RUNS
                                   " GROUP BY 1, 2 ORDER BY 1, 2", change);
    sqlite3_stmt *st = plot_prepare(p, cdf_sql), *oc = plot_prepare(p, oc_sql);
    g_free(cdf_sql);
    g_free(oc_sql);
    if (!st || !oc) { /* a trace of a build before offered_level */
        sqlite3_finalize(st);
        sqlite3_finalize(oc);
        st = plot_prepare(p, "SELECT from_level || ' -> ' || to_level, (t_acked_ns - t_sent_ns) / 1e6 FROM "
                             "oplock_breaks WHERE outcome = 'acked' AND t_acked_ns IS NOT NULL AND " RUNS
                             " ORDER BY 1, 2");
        oc = plot_prepare(p, "SELECT from_level || ' -> ' || to_level, outcome, count(*) FROM oplock_breaks WHERE "
                             RUNS " GROUP BY 1, 2 ORDER BY 1, 2");
    }
    if (!st || !oc) {
        sqlite3_finalize(st);
        sqlite3_finalize(oc);
        p->err = g_strdup("the trace has no oplock_breaks table");
        return false;
    }
    GString *plots = g_string_new("");
    GArray *vals = g_array_new(FALSE, FALSE, sizeof(double));
    char *group = NULL;
    int series = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        const char *g = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (group && g_strcmp0(group, g) != 0) {
            g_string_append_printf(p->gp, "$b%d << EOD\n%.6f 0\n", series, g_array_index(vals, double, 0));
            for (guint i = 0; i < vals->len; i++)
                g_string_append_printf(p->gp, "%.6f %.6f\n", g_array_index(vals, double, i),
                                       (double)(i + 1) / vals->len);
            plot_block_end(p);
            /* a dash of its own, so that equal curves stay visible */
            g_string_append_printf(plots, "%s$b%d using 1:2 with steps lw 2 lc %d dt %d title '%s (n = %u)'",
                                   series ? ", " : "", series, series + 1, 1 + series % 5, group, vals->len);
            series++;
            g_array_set_size(vals, 0);
            g_clear_pointer(&group, g_free);
        }
        if (rc != SQLITE_ROW)
            break;
        if (!group)
            group = g_strdup(g);
        double v = sqlite3_column_double(st, 1);
        g_array_append_val(vals, v);
    }
    sqlite3_finalize(st);
    g_array_unref(vals);
    /* outcomes: one bar per level change, stacked; none_needed apart (it dwarfs the rest) */
    GPtrArray *changes = g_ptr_array_new_with_free_func(g_free);
    GArray *counts = g_array_new(FALSE, TRUE, sizeof(int64_t));
    int64_t none_needed = 0, other = 0, all = 0;
    while (sqlite3_step(oc) == SQLITE_ROW) {
        const char *ch = (const char *)sqlite3_column_text(oc, 0), *o = (const char *)sqlite3_column_text(oc, 1);
        int64_t n = sqlite3_column_int64(oc, 2);
        all += n;
        if (strcmp(o, "none_needed") == 0) {
            none_needed += n;
            continue;
        }
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(o, break_outcomes[i]) == 0)
                k = i;
        if (k < 0) {
            other += n;
            continue;
        }
        int c = plot_index_of(changes, ch);
        if ((guint)(c + 1) * 4 > counts->len)
            g_array_set_size(counts, (guint)(c + 1) * 4);
        g_array_index(counts, int64_t, c * 4 + k) += n;
    }
    sqlite3_finalize(oc);
    bool ok = all > 0;
    if (!ok) {
        p->err = g_strdup("no oplock breaks in the trace");
    } else {
        p->height = 640;
        plot_head(p, "Oplock and lease breaks", "break latency: notification to acknowledgement (ms)",
                  "fraction of acknowledged breaks");
        plot_block_begin(p, "outcomes");
        for (guint c = 0; c < changes->len; c++) {
            g_string_append_printf(p->gp, "\"%s\"", (char *)g_ptr_array_index(changes, c));
            for (int k = 0; k < 4; k++)
                g_string_append_printf(p->gp, " %lld", (long long)g_array_index(counts, int64_t, c * 4 + k));
            g_string_append_c(p->gp, '\n');
        }
        plot_block_end(p);
        g_string_append(p->gp, "set multiplot layout 1,2 title 'Oplock and lease breaks'\n");
        if (series)
            g_string_append_printf(p->gp, "set title 'Latency of acknowledged breaks, by level change (CDF)'\n"
                                          "set key inside right bottom box opaque\nset xrange [0:*]\nset yrange [0:1.05]\nplot %s\n",
                                   plots->str);
        else
            g_string_append(p->gp, "set title 'Latency of acknowledged breaks'\nset yrange [0:1]\nset xrange [0:1]\n"
                                   "set label 1 'no break was acknowledged' at graph 0.5, graph 0.5 center\nunset key\n"
                                   "plot NaN notitle\nunset label 1\n");
        char *title = none_needed ? g_strdup_printf("Outcome of breaks that asked for an answer, by level change\\n"
                                                    "(%lld more needed no acknowledgement, not drawn)",
                                                    (long long)none_needed)
                                  : g_strdup("Outcome of breaks that asked for an answer, by level change");
        g_string_append(p->gp, "set title ");
        /* a double-quoted string, for its line break */
        g_string_append_printf(p->gp, "\"%s\"\n", title);
        g_free(title);
        int64_t top = 0;
        for (guint c = 0; c < changes->len; c++) {
            int64_t sum = 0;
            for (int k = 0; k < 4; k++)
                sum += g_array_index(counts, int64_t, c * 4 + k);
            top = MAX(top, sum);
        }
        /* whole breaks on the y axis; level changes slanted only when many */
        g_string_append_printf(p->gp, "set xlabel 'level change (from -> offered)'\nset ylabel 'breaks'\n"
                                      "set yrange [0:%lld]\nset ytics %lld\nset autoscale x\nunset xrange\n"
                                      "set style data histograms\nset style histogram rowstacked\n"
                                      "set style fill solid 0.7 border -1\nset boxwidth 0.6\n%s"
                                      "set key inside right top box opaque\n",
                               (long long)(top + (top + 4) / 5), (long long)MAX(1, (top + 7) / 8),
                               changes->len > 4 ? "set xtics rotate by -20\n" : "");
        if (changes->len) {
            g_string_append(p->gp, "plot ");
            for (int k = 0; k < 4; k++)
                g_string_append_printf(p->gp, "%s$outcomes using %d%s title '%s'", k ? ", " : "", k + 2,
                                       k ? "" : ":xtic(1)", break_outcome_titles[k]);
            g_string_append_c(p->gp, '\n');
        } else {
            g_string_append(p->gp, "set yrange [0:1]\nset label 2 'every break needed no acknowledgement' at graph "
                                   "0.5, graph 0.5 center\nplot NaN notitle\n");
        }
        g_string_append(p->gp, "unset multiplot\n");
        if (other)
            plot_note(p, "%lld breaks with another outcome not drawn", (long long)other);
    }
    g_string_free(plots, TRUE);
    g_ptr_array_unref(changes);
    g_array_unref(counts);
    return ok;
}

/* ---- timeline: each client's operations, concurrent ones side by side ---- */

typedef struct {
    char *node, *op, *status;
    double t0, t1; /* s */
    int sub;       /* its row within the node's lane */
} TlOp;

static void tlop_free(gpointer p)
{
    TlOp *o = p;
    g_free(o->node);
    g_free(o->op);
    g_free(o->status);
    g_free(o);
}

static gint tlop_cmp(gconstpointer a, gconstpointer b)
{
    const TlOp *x = *(TlOp *const *)a, *y = *(TlOp *const *)b;
    int c = plot_natural_cmp(x->node, y->node);
    if (c)
        return c;
    return (x->t0 > y->t0) - (x->t0 < y->t0);
}

/* Colours that stay apart for the operation kinds a client has (gnuplot's
 * own eight repeat, which gave use and unuse one colour). */
static int kind_colour(int k)
{
    static const int c[] = { 0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f,
                             0xbcbd22, 0x17becf, 0x393b79, 0x637939, 0x8c6d31, 0x843c39, 0x7b4173, 0x000000 };
    return c[k % (int)G_N_ELEMENTS(c)];
}

#define MAX_TL_NODES 40
#define MAX_SUBLANES 6

bool plot_timeline(Plot *p)
{
    int64_t run = plot_first_run(p);
    sqlite3_stmt *st = plot_prepare(p, "SELECT node, op, t_start_ns, coalesce(t_done_ns, (SELECT sim_end_ns FROM runs r "
                                       "WHERE r.run_id = ops.run_id)), CASE WHEN t_done_ns IS NULL OR status IS NULL "
                                       "OR status = 'STATUS_PENDING' THEN 'unfinished' ELSE status END FROM ops "
                                       "WHERE run_id = ?2");
    if (!st) {
        p->err = g_strdup("the trace has no ops table");
        return false;
    }
    sqlite3_bind_int64(st, 2, run);
    GPtrArray *ops = g_ptr_array_new_with_free_func(tlop_free);
    double lo = INFINITY, hi = -INFINITY;
    while (sqlite3_step(st) == SQLITE_ROW) {
        TlOp *o = g_new0(TlOp, 1);
        o->node = g_strdup((const char *)sqlite3_column_text(st, 0));
        o->op = g_strdup((const char *)sqlite3_column_text(st, 1));
        o->t0 = sqlite3_column_double(st, 2) / 1e9;
        o->t1 = sqlite3_column_double(st, 3) / 1e9;
        o->status = g_strdup((const char *)sqlite3_column_text(st, 4));
        lo = MIN(lo, o->t0), hi = MAX(hi, o->t1);
        g_ptr_array_add(ops, o);
    }
    sqlite3_finalize(st);
    if (!ops->len) {
        p->err = g_strdup_printf("no operations in run %lld", (long long)run);
        g_ptr_array_unref(ops);
        return false;
    }
    g_ptr_array_sort(ops, tlop_cmp);
    /* Time in ms when the operations span less than two seconds. */
    double span = MAX(hi - lo, 1e-6);
    bool ms = span < 2;
    double scale = ms ? 1e3 : 1;
    /* An operation shorter than 0.3% of the axis is drawn that wide, so that none is invisible. */
    double minw = span * 0.003;
    GPtrArray *nodes = g_ptr_array_new_with_free_func(g_free), *kinds = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *fails = g_ptr_array_new_with_free_func(g_free);
    GArray *nsub = g_array_new(FALSE, TRUE, sizeof(int));
    double ends[MAX_SUBLANES];
    int dropped_nodes = 0;
    guint kept = 0;
    for (guint i = 0; i < ops->len; i++) {
        TlOp *o = g_ptr_array_index(ops, i);
        bool new_node = !nodes->len || strcmp(g_ptr_array_index(nodes, nodes->len - 1), o->node) != 0;
        if (new_node) {
            if (nodes->len == MAX_TL_NODES) {
                dropped_nodes++;
                while (i + 1 < ops->len && strcmp(((TlOp *)g_ptr_array_index(ops, i + 1))->node, o->node) == 0)
                    i++;
                continue;
            }
            g_ptr_array_add(nodes, g_strdup(o->node));
            int zero = 0;
            g_array_append_val(nsub, zero);
        }
        /* the first row whose last operation has ended (as drawn) */
        int *k = &g_array_index(nsub, int, nodes->len - 1);
        if (new_node)
            *k = 0;
        int sub = -1;
        for (int r = 0; r < *k && sub < 0; r++)
            if (ends[r] <= o->t0)
                sub = r;
        if (sub < 0)
            sub = *k < MAX_SUBLANES ? (*k)++ : MAX_SUBLANES - 1;
        ends[sub] = MAX(o->t1, o->t0 + minw);
        o->sub = sub;
        plot_index_of(kinds, o->op);
        if (strcmp(o->status, "STATUS_SUCCESS") != 0)
            plot_index_of(fails, o->status);
        kept = i + 1;
    }
    /* y: node i is the band [i - 0.4, i + 0.4], its rows evenly inside */
    plot_block_begin(p, "ops");
    for (guint i = 0, node = 0; i < kept; i++) {
        TlOp *o = g_ptr_array_index(ops, i);
        while (node < nodes->len && strcmp(g_ptr_array_index(nodes, node), o->node) != 0)
            node++;
        if (node == nodes->len)
            continue;
        int K = g_array_index(nsub, int, node);
        double h = 0.8 / K, y = node - 0.4 + h * (o->sub + 0.5);
        double t1 = MAX(o->t1, o->t0 + minw);
        int kind = plot_index_of(kinds, o->op), fail = -1;
        if (strcmp(o->status, "STATUS_SUCCESS") != 0)
            fail = plot_index_of(fails, o->status);
        /* x y xlow xhigh ylow yhigh colour failure-mark end */
        g_string_append_printf(p->gp, "%.9f %.4f %.9f %.9f %.4f %.4f %d %d %.9f\n", (o->t0 + t1) / 2 * scale, y,
                               o->t0 * scale, t1 * scale, y - h * 0.42, y + h * 0.42, kind_colour(kind), fail,
                               o->t1 * scale);
    }
    plot_block_end(p);
    int rows = 0;
    for (guint i = 0; i < nsub->len; i++)
        rows += g_array_index(nsub, int, i);
    /* a long legend goes over the plot, in rows, so that the plot keeps its width */
    guint entries = kinds->len + fails->len;
    bool key_top = entries > 8;
    p->height = CLAMP(180 + (int)nodes->len * 18 + rows * 10 + (key_top ? 60 + (int)(entries + 1) / 2 * 17 : 0), 420, 2400);
    char *title = g_strdup_printf("Operations of each client over time (run %lld): colour by operation, marks for "
                                  "failures, overlapping operations in rows of their own", (long long)run);
    plot_head(p, title, ms ? "simulated time (ms)" : "simulated time (s)", "client");
    g_free(title);
    g_string_append(p->gp, "set ytics (");
    for (guint i = 0; i < nodes->len; i++)
        g_string_append_printf(p->gp, "%s'%s' %u", i ? ", " : "", (char *)g_ptr_array_index(nodes, i), i);
    g_string_append_printf(p->gp, ")\nset yrange [%u.5:-0.5]\nset grid noytics xtics\nset xrange [%.9g:%.9g]\n"
                                  "%s\nset style fill solid 0.85 noborder\n",
                           nodes->len - 1, (lo - span * 0.02) * scale, (hi + span * 0.02) * scale,
                           key_top ? "set key outside top center horizontal maxcols 4 box" : "set key outside right top box");
    g_string_append(p->gp, "plot $ops using 1:2:3:4:5:6:7 with boxxyerror lc rgb variable notitle");
    for (guint i = 0; i < kinds->len; i++)
        g_string_append_printf(p->gp, ", NaN with boxes lc rgb '#%06x' title '%s'", kind_colour((int)i),
                               (char *)g_ptr_array_index(kinds, i));
    /* a mark of its own per status: gnuplot's distinct point types, then again in red */
    static const int fail_pt[] = { 2, 8, 6, 4, 12, 1, 3, 10, 14, 5, 7, 9, 11, 13, 15 };
    for (guint i = 0; i < fails->len; i++) {
        g_string_append_printf(p->gp, ", $ops using ($8 == %u ? $9 : NaN):2 with points pt %d ps 1.2 lc rgb '%s' "
                                      "title ",
                               i, fail_pt[i % G_N_ELEMENTS(fail_pt)],
                               i / G_N_ELEMENTS(fail_pt) % 2 ? "#d62728" : "#000000");
        const char *status = g_ptr_array_index(fails, i);
        char *t = strcmp(status, "unfinished") == 0 ? g_strdup("unfinished at the end of the run")
                                                    : g_strdup_printf("ended %s", status);
        gp_quoted(p->gp, t);
        g_free(t);
    }
    g_string_append_c(p->gp, '\n');
    if (dropped_nodes)
        plot_note(p, "the first %d clients drawn, %d more left out", MAX_TL_NODES, dropped_nodes);
    g_ptr_array_unref(ops);
    g_ptr_array_unref(nodes);
    g_ptr_array_unref(kinds);
    g_ptr_array_unref(fails);
    g_array_unref(nsub);
    return true;
}
