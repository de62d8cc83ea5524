#include "plot.h"

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "report.h"
#include "run.h"
#include "stats.h"
#include "trace.h"
#include "units.h"

const char *const plot_whats[] = { "disconnect", "timeouts", "oplock", "timeline", "sequence", "sweep", NULL };

typedef struct {
    sqlite3 *db;
    const PlotOptions *opt;
    GString *gp;  /* the gnuplot script */
    char *err;    /* why there is nothing to plot */
    int height;   /* pixels; 0: the default */
} Plot;

#define RUNS "(?1 = 0 OR run_id = ?1)"

static sqlite3_stmt *prepare(Plot *p, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    if (sqlite3_bind_parameter_count(st) >= 1)
        sqlite3_bind_int64(st, 1, p->opt->run);
    return st;
}

/* gnuplot strings are single-quoted; a quote inside is doubled. */
static void gp_quoted(GString *s, const char *text)
{
    g_string_append_c(s, '\'');
    for (; *text; text++) {
        if (*text == '\'')
            g_string_append_c(s, '\'');
        g_string_append_c(s, *text);
    }
    g_string_append_c(s, '\'');
}

static void head(Plot *p, const char *title, const char *xlabel, const char *ylabel)
{
    GString *s = p->gp;
    int h = p->height ? p->height : 640;
    if (g_str_has_suffix(p->opt->output, ".svg"))
        g_string_append_printf(s, "set terminal svg size 1000,%d dynamic background '#ffffff' font 'Sans,11'\n", h);
    else
        g_string_append_printf(s, "set terminal pngcairo size 1000,%d font 'Sans,10'\n", h);
    g_string_append(s, "set output ");
    gp_quoted(s, p->opt->output);
    g_string_append(s, "\nset title ");
    gp_quoted(s, title);
    g_string_append(s, "\nset xlabel ");
    gp_quoted(s, xlabel);
    g_string_append(s, "\nset ylabel ");
    gp_quoted(s, ylabel);
    g_string_append(s, "\nset grid\nset key inside right bottom box opaque\nset termoption noenhanced\n");
}

static void block_begin(Plot *p, const char *name) { g_string_append_printf(p->gp, "$%s << EOD\n", name); }
static void block_end(Plot *p) { g_string_append(p->gp, "EOD\n"); }

/* ---- disconnect: completion-time CDF per mode, time-outs marked ---- */

static bool plot_disconnect(Plot *p)
{
    static const char *const modes[] = { "release", "abort" };
    GString *plots = g_string_new("");
    double lo = INFINITY, hi = 0;
    int series = 0;
    for (int m = 0; m < 2; m++) {
        sqlite3_stmt *st = prepare(p, "SELECT (t_done_ns - t_start_ns) / 1e6, outcome = 'STATUS_REQUEST_TIMED_OUT' "
                                      "FROM disconnects WHERE t_done_ns IS NOT NULL AND mode = ?2 AND " RUNS
                                      " ORDER BY 1");
        if (!st)
            continue;
        sqlite3_bind_text(st, 2, modes[m], -1, SQLITE_STATIC);
        GArray *x = g_array_new(FALSE, FALSE, sizeof(double)), *to = g_array_new(FALSE, FALSE, sizeof(int));
        while (sqlite3_step(st) == SQLITE_ROW) {
            double v = sqlite3_column_double(st, 0);
            int t = sqlite3_column_int(st, 1);
            g_array_append_val(x, v);
            g_array_append_val(to, t);
        }
        sqlite3_finalize(st);
        int n = (int)x->len, n_to = 0;
        if (n) {
            block_begin(p, modes[m]);
            /* from 0 at the first value, so that even one sample draws its step */
            g_string_append_printf(p->gp, "%.6f 0 0\n", g_array_index(x, double, 0));
            for (int i = 0; i < n; i++) {
                double v = g_array_index(x, double, i);
                g_string_append_printf(p->gp, "%.6f %.6f %d\n", v, (double)(i + 1) / n, g_array_index(to, int, i));
                n_to += g_array_index(to, int, i);
                if (v > 0)
                    lo = MIN(lo, v);
                hi = MAX(hi, v);
            }
            block_end(p);
            g_string_append_printf(plots, "%s$%s using 1:2 with steps lw 2 lc %d title '%s (n = %d)'",
                                   series ? ", " : "", modes[m], m + 1, modes[m], n);
            if (n_to)
                g_string_append_printf(plots,
                                       ", $%s using 1:($3 > 0 ? $2 : NaN) with points pt 7 ps 1.3 lc %d "
                                       "title '%s: timed out (%d, STATUS_REQUEST_TIMED_OUT)'",
                                       modes[m], m + 4, modes[m], n_to);
            series++;
        }
        g_array_unref(x);
        g_array_unref(to);
    }
    if (!series) {
        p->err = g_strdup("no completed disconnects in the trace");
        g_string_free(plots, TRUE);
        return false;
    }
    head(p, "Completion time of TDI disconnects (CDF)", "completion time of TDI_DISCONNECT (ms)",
         "fraction of disconnects completed");
    if (hi / lo > 10)
        g_string_append(p->gp, "set logscale x\nset mxtics 10\n");
    g_string_append_printf(p->gp, "set xrange [%g:%g]\n", hi / lo > 10 ? lo / 1.5 : 0.0, hi * 1.15);
    g_string_append_printf(p->gp, "set yrange [0:1.05]\nplot %s\n", plots->str);
    g_string_free(plots, TRUE);
    return true;
}

/* ---- timeouts: cumulative time-outs per node over simulated time ---- */

static bool plot_timeouts(Plot *p)
{
    sqlite3_stmt *st = prepare(p,
                               "SELECT node, t FROM ("
                               " SELECT node, coalesce(t_done_ns, t_ns) AS t FROM tdi_requests WHERE status IN "
                               "  ('STATUS_IO_TIMEOUT', 'STATUS_REQUEST_TIMED_OUT') AND " RUNS
                               " UNION ALL SELECT node, t_done_ns FROM ops WHERE status IN "
                               "  ('STATUS_IO_TIMEOUT', 'STATUS_REQUEST_TIMED_OUT') AND " RUNS
                               " UNION ALL SELECT server, t_sent_ns FROM oplock_breaks WHERE outcome = 'timeout' AND "
                               RUNS ") ORDER BY node, t");
    if (!st) {
        p->err = g_strdup("the trace has no time-out tables");
        return false;
    }
    GString *plots = g_string_new("");
    char *node = NULL;
    int n = 0, series = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        const char *nd = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (node && g_strcmp0(node, nd) != 0) {
            block_end(p);
            g_string_append_printf(plots, "%s$t%d using 1:2 with steps lw 2 title '%s (%d)'", series ? ", " : "",
                                   series, node, n);
            series++;
            g_clear_pointer(&node, g_free);
        }
        if (rc != SQLITE_ROW)
            break;
        if (!node) {
            node = g_strdup(nd);
            n = 0;
            g_string_append_printf(p->gp, "$t%d << EOD\n0 0\n", series);
        }
        g_string_append_printf(p->gp, "%.9f %d\n", sqlite3_column_double(st, 1) / 1e9, ++n);
    }
    sqlite3_finalize(st);
    if (!series) {
        p->err = g_strdup("no time-outs in the trace (I/O, disconnect, connect or oplock break)");
        g_string_free(plots, TRUE);
        return false;
    }
    head(p, "Time-outs over simulated time, per node (I/O, connect, disconnect, oplock break)",
         "simulated time (s)", "time-outs so far");
    g_string_append_printf(p->gp, "set key left top\nplot %s\n", plots->str);
    g_string_free(plots, TRUE);
    return true;
}

/* ---- oplock: break latency CDF per level change, and outcomes ---- */

static bool plot_oplock(Plot *p)
{
    sqlite3_stmt *st = prepare(p, "SELECT from_level || ' -> ' || to_level, (t_acked_ns - t_sent_ns) / 1e6 FROM "
                                  "oplock_breaks WHERE t_acked_ns IS NOT NULL AND " RUNS " ORDER BY 1, 2");
    sqlite3_stmt *oc = prepare(p, "SELECT outcome, count(*) FROM oplock_breaks WHERE " RUNS " GROUP BY 1 ORDER BY 1");
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
            block_end(p);
            g_string_append_printf(plots, "%s$b%d using 1:2 with steps lw 2 title '%s (n = %u)'", series ? ", " : "",
                                   series, group, vals->len);
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
    int outcomes = 0;
    block_begin(p, "outcomes");
    while (sqlite3_step(oc) == SQLITE_ROW) {
        g_string_append_printf(p->gp, "\"%s\" %lld\n", sqlite3_column_text(oc, 0),
                               (long long)sqlite3_column_int64(oc, 1));
        outcomes++;
    }
    block_end(p);
    sqlite3_finalize(oc);
    if (!outcomes) {
        p->err = g_strdup("no oplock breaks in the trace");
        g_string_free(plots, TRUE);
        return false;
    }
    head(p, "Oplock and lease breaks", "break latency: notification to acknowledgement (ms)",
         "fraction of acknowledged breaks");
    g_string_append(p->gp, "set multiplot layout 1,2 title 'Oplock and lease breaks'\nunset title\n");
    if (series)
        g_string_append_printf(p->gp, "set title 'Break latency (CDF)'\nset yrange [0:1.05]\nplot %s\n",
                               plots->str);
    /* the x range fixed around the bars: one bar alone would fill the panel */
    g_string_append_printf(p->gp,
                           "set title 'Outcome of every break'\nset xlabel 'outcome'\nset ylabel 'breaks'\n"
                           "set yrange [0:*]\nset xrange [-0.7:%d.7]\nset style fill solid 0.6\nset boxwidth 0.6\n"
                           "unset logscale x\n"
                           "plot $outcomes using 0:2:xtic(1) with boxes lc 3 title 'breaks'\nunset multiplot\n",
                           outcomes - 1);
    g_string_free(plots, TRUE);
    return true;
}

/* ---- timeline: operations per client, coloured by status ---- */

static int64_t first_run(Plot *p)
{
    if (p->opt->run)
        return p->opt->run;
    sqlite3_stmt *st = prepare(p, "SELECT min(run_id) FROM runs");
    int64_t r = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return r;
}

static int index_of(GPtrArray *a, const char *s)
{
    for (guint i = 0; i < a->len; i++)
        if (strcmp(g_ptr_array_index(a, i), s) == 0)
            return (int)i;
    g_ptr_array_add(a, g_strdup(s));
    return (int)a->len - 1;
}

static bool plot_timeline(Plot *p)
{
    int64_t run = first_run(p);
    sqlite3_stmt *st = prepare(p, "SELECT node, op, t_start_ns, coalesce(t_done_ns, (SELECT sim_end_ns FROM runs r "
                                  "WHERE r.run_id = ops.run_id)), coalesce(status, 'unfinished') FROM ops "
                                  "WHERE run_id = ?2 ORDER BY node, t_start_ns");
    if (!st) {
        p->err = g_strdup("the trace has no ops table");
        return false;
    }
    sqlite3_bind_int64(st, 2, run);
    GPtrArray *nodes = g_ptr_array_new_with_free_func(g_free), *statuses = g_ptr_array_new_with_free_func(g_free);
    block_begin(p, "ops");
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int y = index_of(nodes, (const char *)sqlite3_column_text(st, 0));
        int c = index_of(statuses, (const char *)sqlite3_column_text(st, 4));
        double t0 = sqlite3_column_double(st, 2) / 1e9, t1 = sqlite3_column_double(st, 3) / 1e9;
        g_string_append_printf(p->gp, "%.9f %d %.9f %d \"%s\"\n", t0, y, MAX(t1 - t0, 1e-9), c + 1,
                               sqlite3_column_text(st, 1));
        n++;
    }
    block_end(p);
    sqlite3_finalize(st);
    bool ok = n > 0;
    if (!ok) {
        p->err = g_strdup_printf("no operations in run %lld", (long long)run);
    } else {
        char *title = g_strdup_printf("Operations of each client over time (run %lld), coloured by status",
                                      (long long)run);
        head(p, title, "simulated time (s)", "client");
        g_free(title);
        g_string_append(p->gp, "set ytics (");
        for (guint i = 0; i < nodes->len; i++)
            g_string_append_printf(p->gp, "%s'%s' %u", i ? ", " : "", (char *)g_ptr_array_index(nodes, i), i);
        g_string_append_printf(p->gp, ")\nset yrange [-0.7:%u.7]\nset grid noytics\n", nodes->len - 1);
        g_string_append(p->gp, "plot $ops using 1:2:3:(0):4 with vectors nohead lw 8 lc variable notitle");
        for (guint i = 0; i < statuses->len; i++)
            g_string_append_printf(p->gp, ", NaN with lines lw 8 lc %u title '%s'", i + 1,
                                   (char *)g_ptr_array_index(statuses, i));
        g_string_append_c(p->gp, '\n');
    }
    g_ptr_array_unref(nodes);
    g_ptr_array_unref(statuses);
    return ok;
}

/* ---- sequence: a message sequence chart of one connection ---- */

typedef struct {
    double t_from, t_to; /* ms */
    int lane_from, lane_to;
    char *label;
    int style; /* 1 TDI request, 2 completion, 3 packet, 4 lost packet, 5 SMB, 6 MRx call */
} Arrow;

static void arrow_free(gpointer a)
{
    g_free(((Arrow *)a)->label);
    g_free(a);
}

static void add_arrow(GPtrArray *a, double t0, double t1, int from, int to, int style, const char *label)
{
    Arrow *x = g_new0(Arrow, 1);
    x->t_from = t0, x->t_to = t1, x->lane_from = from, x->lane_to = to, x->style = style;
    x->label = g_strdup(label);
    g_ptr_array_add(a, x);
}

#define MAX_ARROWS 300

/* A row of the chart: an arrow's departure (end 0) or arrival (end 1). */
typedef struct {
    double t;
    guint arrow;
    int end;
    int rank;
} SeqPoint;

/* At one instant what arrives comes first, then what leaves in causal
 * order: a routine call, the TDI request or SMB message it makes, the
 * packets that carry it, the completions. */
static int seq_rank(int style)
{
    static const int rank[] = { 0, 1, 4, 3, 3, 2, 0 };
    return rank[style];
}

static gint seq_point_cmp(gconstpointer a, gconstpointer b)
{
    const SeqPoint *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->end != y->end)
        return y->end - x->end;
    if (x->rank != y->rank)
        return x->rank - y->rank;
    return x->arrow < y->arrow ? -1 : x->arrow > y->arrow;
}

static bool plot_sequence(Plot *p)
{
    int64_t run = first_run(p), conn = p->opt->conn;
    double w0 = 0, w1 = INFINITY; /* window, ns */
    if (p->opt->brk) {
        sqlite3_stmt *b = prepare(p, "SELECT server, holder_node, t_sent_ns, coalesce(t_acked_ns, t_sent_ns) "
                                     "FROM oplock_breaks WHERE run_id = ?2 ORDER BY t_sent_ns LIMIT 1 OFFSET ?3");
        if (!b) {
            p->err = g_strdup("the trace has no oplock_breaks table");
            return false;
        }
        sqlite3_bind_int64(b, 2, run);
        sqlite3_bind_int64(b, 3, p->opt->brk - 1);
        if (sqlite3_step(b) != SQLITE_ROW) {
            sqlite3_finalize(b);
            p->err = g_strdup_printf("run %lld has no oplock break %lld", (long long)run, (long long)p->opt->brk);
            return false;
        }
        /* the notification, the acknowledgement and what came with them */
        w0 = sqlite3_column_double(b, 2) - 1e6;
        w1 = sqlite3_column_double(b, 3) + 1e6;
        sqlite3_stmt *c = prepare(p, "SELECT conn FROM smb_messages WHERE run_id = ?2 AND node = ?3 AND peer = ?4 "
                                     "LIMIT 1");
        sqlite3_bind_int64(c, 2, run);
        sqlite3_bind_text(c, 3, (const char *)sqlite3_column_text(b, 0), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(c, 4, (const char *)sqlite3_column_text(b, 1), -1, SQLITE_TRANSIENT);
        conn = sqlite3_step(c) == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
        sqlite3_finalize(c);
        sqlite3_finalize(b);
    }
    if (conn <= 0) {
        p->err = g_strdup("sequence needs --conn N (a connection id, as in packets.conn) or --break N");
        return false;
    }
    /* The two nodes: the sender of the connection's first packet opened it. */
    sqlite3_stmt *st = prepare(p, "SELECT src, dst FROM packets WHERE run_id = ?2 AND conn = ?3 ORDER BY t_ns LIMIT 1");
    sqlite3_bind_int64(st, 2, run);
    sqlite3_bind_int64(st, 3, conn);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        p->err = g_strdup_printf("no packets of connection %lld in run %lld (was it traced at level all?)",
                                 (long long)conn, (long long)run);
        return false;
    }
    char *cli = g_strdup((const char *)sqlite3_column_text(st, 0));
    char *srv = g_strdup((const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);

    st = prepare(p, "SELECT count(*) FROM callbacks WHERE run_id = ?2 AND node = ?3");
    sqlite3_bind_int64(st, 2, run);
    sqlite3_bind_text(st, 3, cli, -1, SQLITE_STATIC);
    bool rdr = st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    /* Lanes, left to right. */
    const char *lanes_rdr[] = { "client app", "RDBSS", "mini-redirector", "client transport", "server transport",
                                "server" };
    const char *lanes_raw[] = { "client (TDI client)", "client transport", "server transport", "server (TDI client)" };
    const char **lanes = rdr ? lanes_rdr : lanes_raw;
    int nl = rdr ? 6 : 4, tdi_client = rdr ? 2 : 0, ctp = rdr ? 3 : 1, stp = ctp + 1, sapp = nl - 1;

    GPtrArray *arrows = g_ptr_array_new_with_free_func(arrow_free);
    st = prepare(p, "SELECT t_ns, t_arrive_ns, src = ?4, kind, bytes, fate FROM packets WHERE run_id = ?2 AND "
                    "conn = ?3 ORDER BY t_ns, rowid");
    sqlite3_bind_int64(st, 2, run);
    sqlite3_bind_int64(st, 3, conn);
    sqlite3_bind_text(st, 4, cli, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        double t0 = sqlite3_column_double(st, 0);
        if (t0 < w0 || t0 > w1)
            continue;
        bool out = sqlite3_column_int(st, 2);
        bool lost = sqlite3_column_type(st, 1) == SQLITE_NULL;
        double t1 = lost ? t0 : sqlite3_column_double(st, 1);
        char *label = g_strdup_printf("%s %d B%s%s", sqlite3_column_text(st, 3), sqlite3_column_int(st, 4),
                                      lost ? ": " : "", lost ? (const char *)sqlite3_column_text(st, 5) : "");
        add_arrow(arrows, t0 / 1e6, t1 / 1e6, out ? ctp : stp, out ? stp : ctp, lost ? 4 : 3, label);
        g_free(label);
    }
    sqlite3_finalize(st);
    /* Where SMB messages ride the connection, their arrows stand for the
     * TDI sends and receives that carry them. */
    st = prepare(p, "SELECT t_ns, t_done_ns, node = ?4, request, flags, status FROM tdi_requests WHERE run_id = ?2 "
                    "AND conn = ?3 AND (request NOT IN ('TDI_SEND', 'TDI_RECEIVE') OR NOT EXISTS (SELECT 1 FROM "
                    "smb_messages m WHERE m.run_id = ?2 AND m.conn = ?3)) ORDER BY t_ns, rowid");
    if (st) {
        sqlite3_bind_int64(st, 2, run);
        sqlite3_bind_int64(st, 3, conn);
        sqlite3_bind_text(st, 4, cli, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            bool c = sqlite3_column_int(st, 2);
            double t0 = sqlite3_column_double(st, 0);
            if (t0 < w0 || t0 > w1)
                continue;
            const char *flags = (const char *)sqlite3_column_text(st, 4);
            char *label = g_strdup_printf("%s%s%s", sqlite3_column_text(st, 3), *flags ? " " : "", flags);
            int app = c ? tdi_client : sapp, tp = c ? ctp : stp;
            add_arrow(arrows, t0 / 1e6, t0 / 1e6, app, tp, 1, label);
            g_free(label);
            if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
                double t1 = sqlite3_column_double(st, 1) / 1e6;
                add_arrow(arrows, t1, t1, tp, app, 2, (const char *)sqlite3_column_text(st, 5));
            }
        }
        sqlite3_finalize(st);
    }
    st = prepare(p, "SELECT t_ns, node = ?4, command, CASE WHEN msg_id = -1 THEN 2 ELSE is_response END, status "
                    "FROM smb_messages WHERE run_id = ?2 AND conn = ?3 ORDER BY t_ns, rowid");
    if (st) {
        sqlite3_bind_int64(st, 2, run);
        sqlite3_bind_int64(st, 3, conn);
        sqlite3_bind_text(st, 4, cli, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            double t = sqlite3_column_double(st, 0);
            if (t < w0 || t > w1)
                continue;
            bool c = sqlite3_column_int(st, 1);
            int kind = sqlite3_column_int(st, 3); /* 0 request, 1 response, 2 break notification */
            char *label = g_strdup_printf("SMB %s %s%s", sqlite3_column_text(st, 2),
                                          kind == 2 ? "notification" : kind ? "response " : "request",
                                          kind == 1 ? (const char *)sqlite3_column_text(st, 4) : "");
            add_arrow(arrows, t / 1e6, t / 1e6, c ? tdi_client : sapp, c ? ctp : stp, 5, label);
            g_free(label);
        }
        sqlite3_finalize(st);
    }
    if (rdr) {
        double lo = INFINITY, hi = -INFINITY;
        for (guint i = 0; i < arrows->len; i++) {
            Arrow *a = g_ptr_array_index(arrows, i);
            lo = MIN(lo, a->t_from * 1e6), hi = MAX(hi, a->t_to * 1e6);
        }
        st = prepare(p, "SELECT t_ns, routine, pending FROM callbacks WHERE run_id = ?2 AND node = ?3 AND "
                        "t_ns BETWEEN ?4 AND ?5 ORDER BY t_ns, rowid");
        sqlite3_bind_int64(st, 2, run);
        sqlite3_bind_text(st, 3, cli, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 4, lo);
        sqlite3_bind_double(st, 5, hi);
        while (sqlite3_step(st) == SQLITE_ROW) {
            double t = sqlite3_column_double(st, 0) / 1e6;
            char *label = g_strdup_printf("%s%s", sqlite3_column_text(st, 1),
                                          sqlite3_column_int(st, 2) ? " (pending)" : "");
            add_arrow(arrows, t, t, 1, 2, 6, label);
            g_free(label);
        }
        sqlite3_finalize(st);
    }
    bool ok = arrows->len > 0;
    if (!ok) {
        p->err = g_strdup_printf("nothing recorded for connection %lld", (long long)conn);
    } else {
        /* Time runs downwards, one row per event (a departure or an
         * arrival), in time order: a chart, not a time scale, so that a
         * burst of messages at one instant stays readable; a row is
         * labelled with its time where the time changes. */
        guint n = MIN(arrows->len, MAX_ARROWS);
        bool used[7] = { false };
        GArray *pts = g_array_new(FALSE, FALSE, sizeof(SeqPoint));
        for (guint i = 0; i < n; i++) {
            Arrow *a = g_ptr_array_index(arrows, i);
            SeqPoint from = { a->t_from, i, 0, seq_rank(a->style) }, to = { a->t_to, i, 1, seq_rank(a->style) };
            g_array_append_val(pts, from);
            if (a->t_to != a->t_from && a->style != 4)
                g_array_append_val(pts, to);
        }
        g_array_sort(pts, seq_point_cmp);
        guint rows = pts->len;
        double *yf = g_new0(double, n), *yto = g_new0(double, n);
        for (guint r = 0; r < rows; r++) {
            SeqPoint *q = &g_array_index(pts, SeqPoint, r);
            if (q->end == 0)
                yf[q->arrow] = yto[q->arrow] = r;
            else
                yto[q->arrow] = r;
        }
        p->height = MAX(640, (int)MIN(rows * 18 + 160, 8000));
        char *title = g_strdup_printf("Connection %lld between %s and %s (run %lld)%s", (long long)conn, cli, srv,
                                      (long long)run, arrows->len > n ? ": the first 300 messages" : "");
        head(p, title, "", "simulated time (ms), downwards");
        g_free(title);
        static const char *const colors[] = { "", "#1f77b4", "#2ca02c", "#555555", "#d62728", "#9467bd", "#ff7f0e" };
        g_string_append_printf(p->gp, "set xrange [-0.6:%d.6]\nset yrange [%u.5:-0.5]\nunset xlabel\n", nl - 1,
                               rows - 1);
        g_string_append(p->gp, "set xtics (");
        for (int i = 0; i < nl; i++) {
            g_string_append_printf(p->gp, "%s", i ? ", " : "");
            gp_quoted(p->gp, lanes[i]);
            g_string_append_printf(p->gp, " %d", i);
        }
        g_string_append(p->gp, ")\nset x2tics (");
        for (int i = 0; i < nl; i++)
            g_string_append_printf(p->gp, "%s'%s' %d", i ? ", " : "", i < nl / 2 ? cli : srv, i);
        g_string_append(p->gp, ")\nset ytics (");
        bool first_tic = true;
        for (guint r = 0; r < rows; r++) {
            double t = g_array_index(pts, SeqPoint, r).t;
            if (r > 0 && t == g_array_index(pts, SeqPoint, r - 1).t)
                continue;
            g_string_append_printf(p->gp, "%s'%.3f' %u", first_tic ? "" : ", ", t, r);
            first_tic = false;
        }
        g_string_append(p->gp, ")\nset grid xtics noytics\nunset key\n");
        for (guint i = 0; i < n; i++) {
            Arrow *a = g_ptr_array_index(arrows, i);
            double xf = a->lane_from, xt = a->lane_to;
            double y0 = yf[i], yt = yto[i];
            if (a->style == 4)
                xt = (xf + xt) / 2, yt = y0 + 0.4; /* a lost packet stops half way */
            g_string_append_printf(p->gp, "set arrow from %.3f,%.3f to %.3f,%.3f lw 1.5 lc rgb '%s'%s%s\n", xf, y0,
                                   xt, yt, colors[a->style], a->style == 2 ? " dt 2" : "",
                                   a->style == 4 ? " nohead" : "");
            if (a->style == 4)
                g_string_append_printf(p->gp, "set label 'X' at %.3f,%.3f center tc rgb '%s' front\n", xt, yt,
                                       colors[4]);
            g_string_append_printf(p->gp, "set label %u ", i + 1000);
            gp_quoted(p->gp, a->label);
            /* completions are labelled under their arrow, everything else above */
            g_string_append_printf(p->gp, " at %.3f,%.3f center offset 0,%s font ',8' tc rgb '%s'\n",
                                   (xf + xt) / 2, (y0 + yt) / 2, a->style == 2 ? "-0.5" : "0.5", colors[a->style]);
            used[a->style] = true;
        }
        g_array_unref(pts);
        g_free(yf);
        g_free(yto);
        /* The legend, as invisible series in each style. */
        g_string_append(p->gp, "set key outside right top box\nplot ");
        static const char *const what[] = { "", "TDI request", "completion (status)", "packet", "packet lost",
                                            "SMB message", "MRx routine call" };
        bool first = true;
        for (int s = 1; s <= 6; s++)
            if (used[s]) {
                g_string_append_printf(p->gp, "%sNaN with lines lw 2 lc rgb '%s'%s title '%s'", first ? "" : ", ",
                                       colors[s], s == 2 ? " dt 2" : "", what[s]);
                first = false;
            }
        g_string_append_c(p->gp, '\n');
    }
    g_ptr_array_unref(arrows);
    g_free(cli);
    g_free(srv);
    return ok;
}

/* ---- sweep: a metric against a swept parameter ---- */

/* The point without `key`: the other swept values, one line each. */
static char *point_without(const char *point, const char *key)
{
    char **kv = g_strsplit(point, " ", -1);
    GString *s = g_string_new("");
    size_t n = strlen(key);
    for (char **p = kv; *p; p++)
        if (**p && !(strncmp(*p, key, n) == 0 && (*p)[n] == '='))
            g_string_append_printf(s, "%s%s", s->len ? " " : "", *p);
    g_strfreev(kv);
    return g_string_free(s, FALSE);
}

typedef struct {
    char *line;   /* the other parameters */
    double x;
    GArray *y;
} SweepCell;

static void cell_free(gpointer p)
{
    SweepCell *c = p;
    g_free(c->line);
    g_array_unref(c->y);
    g_free(c);
}

static int cell_cmp(gconstpointer a, gconstpointer b)
{
    const SweepCell *x = *(SweepCell *const *)a, *y = *(SweepCell *const *)b;
    int c = strcmp(x->line, y->line);
    return c ? c : (x->x > y->x) - (x->x < y->x);
}

static bool plot_sweep(Plot *p)
{
    const char *metric = p->opt->metric ? p->opt->metric : "tdi.release.p50_ns";
    sqlite3_stmt *st = prepare(p, "SELECT r.overrides, m.value FROM runs r JOIN metrics m ON m.run_id = r.run_id "
                                  "WHERE m.name = ?2 AND r.status = 'complete' ORDER BY r.run_id");
    sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC);
    char *key = p->opt->param ? g_strdup(p->opt->param) : NULL;
    GPtrArray *cells = g_ptr_array_new_with_free_func(cell_free);
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    bool percent = false; /* values written as percentages: plot them so */
    while (sqlite3_step(st) == SQLITE_ROW) {
        char *point = report_point_of((const char *)sqlite3_column_text(st, 0));
        if (!key && *point) {
            const char *eq = strchr(point, '=');
            key = g_strndup(point, (gsize)(eq - point)); /* default: the first swept key */
        }
        char *v = key ? report_point_value(point, key) : NULL;
        double x;
        if (v && units_parse_any(v, &x)) {
            percent = percent || g_str_has_suffix(v, "%");
            char *line = point_without(point, key);
            SweepCell *c = NULL;
            for (guint i = 0; i < cells->len && !c; i++) {
                SweepCell *k = g_ptr_array_index(cells, i);
                if (k->x == x && strcmp(k->line, line) == 0)
                    c = k;
            }
            if (!c) {
                c = g_new0(SweepCell, 1);
                c->line = g_strdup(line);
                c->x = x;
                c->y = g_array_new(FALSE, FALSE, sizeof(double));
                g_ptr_array_add(cells, c);
                index_of(lines, line);
            }
            double y = sqlite3_column_double(st, 1);
            g_array_append_val(c->y, y);
            g_free(line);
        }
        g_free(v);
        g_free(point);
    }
    sqlite3_finalize(st);
    bool ok = cells->len >= 2;
    if (!ok) {
        p->err = g_strdup_printf("need runs of at least two values of a swept parameter%s%s with metric %s "
                                 "(a DB from rdrsim sweep)",
                                 key ? " " : "", key ? key : "", metric);
    } else {
        g_ptr_array_sort(cells, cell_cmp);
        bool ns = g_str_has_suffix(metric, "_ns");
        double yscale = ns ? 1e-6 : 1, xscale = percent ? 100 : 1;
        GString *plots = g_string_new("");
        for (guint l = 0; l < lines->len; l++) {
            const char *line = g_ptr_array_index(lines, l);
            g_string_append_printf(p->gp, "$s%u << EOD\n", l);
            for (guint i = 0; i < cells->len; i++) {
                SweepCell *c = g_ptr_array_index(cells, i);
                if (strcmp(c->line, line) != 0)
                    continue;
                double *y = (double *)(void *)c->y->data;
                stats_sort(y, c->y->len);
                double med = stats_quantile(y, c->y->len, 0.5), lo = med, hi = med;
                if (c->y->len >= 2)
                    stats_bootstrap_median(y, c->y->len, 0.05, 7, 2000, &lo, &hi);
                g_string_append_printf(p->gp, "%.9g %.9g %.9g %.9g %u\n", c->x * xscale, med * yscale, lo * yscale,
                                       hi * yscale, c->y->len);
            }
            block_end(p);
            g_string_append_printf(plots, "%s$s%u using 1:2:3:4 with yerrorlines lw 2 pt 7 title '%s'",
                                   l ? ", " : "", l, *line ? line : "median, 95% CI over the repetitions");
        }
        char *title = g_strdup_printf("%s against %s", metric, key);
        char *xl = g_strdup_printf("%s%s", key, percent ? " (%)" : "");
        char *yl = g_strdup_printf("%s%s (median, 95%% CI)", metric, ns ? ", in ms" : "");
        head(p, title, xl, yl);
        g_string_append_printf(p->gp, "plot %s\n", plots->str);
        g_free(title);
        g_free(xl);
        g_free(yl);
        g_string_free(plots, TRUE);
    }
    g_free(key);
    g_ptr_array_unref(cells);
    g_ptr_array_unref(lines);
    return ok;
}

/* ---- running gnuplot ---- */

static bool run_gnuplot(const char *script, const char *output, char **err)
{
    GError *gerr = NULL;
    GSubprocess *gp = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                           G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                       &gerr, "gnuplot", NULL);
    if (!gp) {
        *err = g_strdup_printf("cannot run gnuplot: %s", gerr->message);
        g_error_free(gerr);
        return false;
    }
    char *errout = NULL;
    bool ok = g_subprocess_communicate_utf8(gp, script, NULL, NULL, &errout, &gerr) &&
              g_subprocess_get_if_exited(gp) && g_subprocess_get_exit_status(gp) == 0;
    if (!ok)
        *err = g_strdup_printf("gnuplot failed: %s", gerr ? gerr->message : errout ? g_strstrip(errout) : "?");
    g_clear_error(&gerr);
    g_free(errout);
    g_object_unref(gp);
    GStatBuf sb;
    if (ok && (g_stat(output, &sb) != 0 || sb.st_size == 0)) {
        *err = g_strdup_printf("gnuplot wrote nothing to %s", output);
        ok = false;
    }
    return ok;
}

int plot_main(const PlotOptions *opt)
{
    static bool (*const fns[])(Plot *) = { plot_disconnect, plot_timeouts, plot_oplock,
                                           plot_timeline,   plot_sequence, plot_sweep };
    int which = -1;
    for (int i = 0; plot_whats[i]; i++)
        if (strcmp(opt->what, plot_whats[i]) == 0)
            which = i;
    if (which < 0) {
        fprintf(stderr, "rdrsim plot: --what %s: expected one of disconnect, timeouts, oplock, timeline, sequence, "
                        "sweep\n", opt->what);
        return EXIT_BAD_INPUT;
    }
    if (!g_str_has_suffix(opt->output, ".png") && !g_str_has_suffix(opt->output, ".svg")) {
        fprintf(stderr, "rdrsim plot: -o %s: expected a .png or .svg file\n", opt->output);
        return EXIT_BAD_INPUT;
    }
    char *err = NULL;
    Trace *tr = trace_open_readonly(opt->db, &err);
    if (!tr) {
        fprintf(stderr, "rdrsim plot: %s\n", err);
        g_free(err);
        return EXIT_BAD_INPUT;
    }
    Plot p = { trace_db(tr), opt, g_string_new(""), NULL, 0 };
    int status = EXIT_OK;
    if (!fns[which](&p)) {
        fprintf(stderr, "rdrsim plot: %s: %s\n", opt->db, p.err);
        status = EXIT_BAD_INPUT;
    } else if (!run_gnuplot(p.gp->str, opt->output, &err)) {
        fprintf(stderr, "rdrsim plot: %s\n", err);
        g_unlink(opt->output);
        status = EXIT_INTERNAL;
    }
    g_free(p.err);
    g_free(err);
    g_string_free(p.gp, TRUE);
    trace_close(tr);
    return status;
}
