/* plot_sweep: a metric against a swept parameter, one line per value of
 * the other swept parameters, the median of each point's runs with its
 * bootstrap 95% interval.  Axes in the units the scenario wrote (a time
 * in ms, a probability in %, a size in KiB, a rate in Mbit/s); lines that
 * coincide are drawn a little apart, with their own marks and dashes. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "plot_int.h"
#include "report.h"
#include "stats.h"
#include "units.h"

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
    char *line; /* the other parameters */
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

/* A value as the scenario wrote it: its kind (a plain number first). */
static bool parse_value(const char *text, double *out, QtyKind *kind)
{
    static const QtyKind kinds[] = { QTY_REAL, QTY_TIME, QTY_SIZE, QTY_RATE, QTY_PROB };
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        char *err = NULL;
        if (units_parse(text, kinds[i], out, &err)) {
            *kind = kinds[i];
            return true;
        }
        g_free(err);
    }
    return false;
}

/* The unit to show values of a kind up to `max` in: its name and scale. */
static const char *display_unit(QtyKind k, double max, double *scale)
{
    switch (k) {
    case QTY_TIME:
        if (max >= 10e9)
            return *scale = 1e-9, "s";
        if (max >= 10e3)
            return *scale = 1e-6, "ms";
        return *scale = 1e-3, "us";
    case QTY_SIZE:
        if (max >= 10 * 1048576.0)
            return *scale = 1.0 / 1048576, "MiB";
        if (max >= 10 * 1024.0)
            return *scale = 1.0 / 1024, "KiB";
        return *scale = 1, "B";
    case QTY_RATE:
        if (max >= 10e6)
            return *scale = 1e-6, "Mbit/s";
        if (max >= 10e3)
            return *scale = 1e-3, "Kbit/s";
        return *scale = 1, "bit/s";
    case QTY_PROB:
        return *scale = 100, "%";
    default:
        return *scale = 1, NULL;
    }
}

bool plot_sweep(Plot *p)
{
    const char *metric = p->opt->metric ? p->opt->metric : "tdi.release.p50_ns";
    sqlite3_stmt *st = plot_prepare(p, "SELECT r.overrides, m.value FROM runs r JOIN metrics m ON m.run_id = r.run_id "
                                       "WHERE m.name = ?2 AND r.status = 'complete' ORDER BY r.run_id");
    if (!st) {
        p->err = g_strdup("the trace has no runs or metrics tables");
        return false;
    }
    sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC);
    char *key = p->opt->param ? g_strdup(p->opt->param) : NULL;
    GPtrArray *cells = g_ptr_array_new_with_free_func(cell_free);
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    QtyKind xkind = QTY_REAL;
    double xmax = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char *point = report_point_of((const char *)sqlite3_column_text(st, 0));
        if (!key && *point) {
            const char *eq = strchr(point, '=');
            key = g_strndup(point, (gsize)(eq - point)); /* default: the first swept key */
        }
        char *v = key ? report_point_value(point, key) : NULL;
        double x;
        QtyKind k;
        if (v && parse_value(v, &x, &k)) {
            if (k != QTY_REAL) /* "0" beside "5%" is a plain number: the units come from the others */
                xkind = k;
            xmax = MAX(xmax, fabs(x));
            char *line = point_without(point, key);
            SweepCell *c = NULL;
            for (guint i = 0; i < cells->len && !c; i++) {
                SweepCell *e = g_ptr_array_index(cells, i);
                if (e->x == x && strcmp(e->line, line) == 0)
                    c = e;
            }
            if (!c) {
                c = g_new0(SweepCell, 1);
                c->line = g_strdup(line);
                c->x = x;
                c->y = g_array_new(FALSE, FALSE, sizeof(double));
                g_ptr_array_add(cells, c);
                plot_index_of(lines, line);
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
        goto out;
    }
    g_ptr_array_sort(cells, cell_cmp);
    double xscale, yscale = 1;
    const char *xunit = display_unit(xkind, xmax, &xscale);
    const char *yunit = NULL;
    if (g_str_has_suffix(metric, "_ns"))
        yunit = "ms", yscale = 1e-6;
    /* the x range, and how far apart coinciding lines are drawn: 1% of it a line */
    double xlo = INFINITY, xhi = -INFINITY;
    for (guint i = 0; i < cells->len; i++) {
        SweepCell *c = g_ptr_array_index(cells, i);
        xlo = MIN(xlo, c->x * xscale), xhi = MAX(xhi, c->x * xscale);
    }
    double xspan = MAX(xhi - xlo, 1e-9), dodge = xspan * 0.01;
    GString *plots = g_string_new("");
    int min_n = G_MAXINT, max_n = 0;
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
            double off = (l - (lines->len - 1) / 2.0) * dodge;
            g_string_append_printf(p->gp, "%.9g %.9g %.9g %.9g %u\n", c->x * xscale + off, med * yscale, lo * yscale,
                                   hi * yscale, c->y->len);
            min_n = MIN(min_n, (int)c->y->len), max_n = MAX(max_n, (int)c->y->len);
        }
        plot_block_end(p);
        g_string_append_printf(plots, "%s$s%u using 1:2:3:4 with yerrorlines lw 2 pt %u dt %u lc %u title ",
                               l ? ", " : "", l, 5 + 2 * (l % 4), 1 + l % 5, l + 1);
        char *lname = *line ? plot_point_label(line) : g_strdup("median, 95% CI over the runs");
        gp_quoted(plots, lname);
        g_free(lname);
    }
    if (min_n != max_n)
        for (guint l = 0; l < lines->len; l++)
            g_string_append_printf(plots, ", $s%u using 1:4:(sprintf('n=%%d', $5)) with labels offset 0,0.8 font ',8' "
                                          "notitle",
                                   l);
    char *title = g_strdup_printf("%s against %s", metric, key);
    /* runs per point: in the axis label when every point has as many, else by each point */
    char *runs = min_n == max_n ? g_strdup_printf("%d run%s per point", max_n, max_n == 1 ? "" : "s")
                                : g_strdup("n: the runs at a point");
    char *xl = g_strdup_printf("%s%s%s%s; %s", key, xunit ? " (" : "", xunit ? xunit : "", xunit ? ")" : "", runs);
    g_free(runs);
    char *yl = g_strdup_printf("%s%s%s (median, 95%% CI)", metric, yunit ? ", in " : "", yunit ? yunit : "");
    plot_head(p, title, xl, yl);
    /* room at the edges for the intervals; the legend under the plot, clear of the points */
    g_string_append(p->gp, "set offsets graph 0.05, graph 0.05, graph 0.1, graph 0.1\n"
                           "set key outside right top box noopaque\n");
    g_string_append_printf(p->gp, "plot %s\n", plots->str);
    g_free(title);
    g_free(xl);
    g_free(yl);
    g_string_free(plots, TRUE);
out:
    g_free(key);
    g_ptr_array_unref(cells);
    g_ptr_array_unref(lines);
    return ok;
}
