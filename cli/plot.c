/* plot: the figure kinds' shared helpers, running gnuplot, and the command.
 * The figures themselves: plot_runs.c (disconnect, timeouts, oplock,
 * timeline), plot_sequence.c, plot_sweep.c. */
#include "plot.h"

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "plot_int.h"
#include "report.h"
#include "run.h"
#include "trace.h"

const char *const plot_whats[] = { "disconnect", "timeouts", "oplock", "timeline", "sequence", "sweep", NULL };

sqlite3_stmt *plot_prepare(Plot *p, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    if (sqlite3_bind_parameter_count(st) >= 1)
        sqlite3_bind_int64(st, 1, p->opt->run);
    return st;
}

void gp_quoted(GString *s, const char *text)
{
    g_string_append_c(s, '\'');
    for (; *text; text++) {
        if (*text == '\'')
            g_string_append_c(s, '\'');
        g_string_append_c(s, *text);
    }
    g_string_append_c(s, '\'');
}

void plot_head(Plot *p, const char *title, const char *xlabel, const char *ylabel)
{
    GString *s = p->gp;
    int w = p->width ? p->width : 1000, h = p->height ? p->height : 640;
    /* SVG: fixed size (the HTML report scales it with its viewBox) */
    if (g_str_has_suffix(p->opt->output, ".svg"))
        g_string_append_printf(s, "set terminal svg size %d,%d fixed background '#ffffff' font 'Sans,11'\n", w, h);
    else
        g_string_append_printf(s, "set terminal pngcairo size %d,%d font 'Sans,10'\n", w, h);
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

void plot_block_begin(Plot *p, const char *name) { g_string_append_printf(p->gp, "$%s << EOD\n", name); }
void plot_block_end(Plot *p) { g_string_append(p->gp, "EOD\n"); }

int64_t plot_first_run(Plot *p)
{
    if (p->opt->run)
        return p->opt->run;
    sqlite3_stmt *st = plot_prepare(p, "SELECT min(run_id) FROM runs");
    int64_t r = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return r;
}

int plot_index_of(GPtrArray *a, const char *s)
{
    for (guint i = 0; i < a->len; i++)
        if (strcmp(g_ptr_array_index(a, i), s) == 0)
            return (int)i;
    g_ptr_array_add(a, g_strdup(s));
    return (int)a->len - 1;
}

int plot_natural_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (g_ascii_isdigit(*a) && g_ascii_isdigit(*b)) {
            char *ea, *eb;
            guint64 x = g_ascii_strtoull(a, &ea, 10), y = g_ascii_strtoull(b, &eb, 10);
            if (x != y)
                return x < y ? -1 : 1;
            a = ea, b = eb;
        } else {
            if (*a != *b)
                return (unsigned char)*a - (unsigned char)*b;
            a++, b++;
        }
    }
    return (unsigned char)*a - (unsigned char)*b;
}

GPtrArray *plot_points(Plot *p)
{
    GPtrArray *pts = g_ptr_array_new_with_free_func(g_free);
    sqlite3_stmt *st = plot_prepare(p, "SELECT overrides FROM runs WHERE " RUNS " ORDER BY run_id");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        char *pt = report_point_of((const char *)sqlite3_column_text(st, 0));
        plot_index_of(pts, pt);
        g_free(pt);
    }
    sqlite3_finalize(st);
    if (!pts->len)
        g_ptr_array_add(pts, g_strdup(""));
    return pts;
}

char *plot_point_label(const char *point)
{
    if (!*point)
        return g_strdup("no overrides");
    char **kv = g_strsplit(point, " ", -1);
    GString *s = g_string_new("");
    for (char **k = kv; *k; k++) {
        const char *dot = strchr(*k, '.'), *eq = strchr(*k, '=');
        g_string_append_printf(s, "%s%s", s->len ? " " : "", dot && eq && dot < eq ? dot + 1 : *k);
    }
    g_strfreev(kv);
    return g_string_free(s, FALSE);
}

char *plot_log_tics(double lo, double hi)
{
    GString *s = g_string_new("");
    for (double d = pow(10, floor(log10(lo))); d <= hi * 1.0001; d *= 10)
        for (int k = 0; k < 3; k++) {
            static const int m[] = { 1, 2, 5 };
            double v = d * m[k];
            if (v >= lo * 0.9999 && v <= hi * 1.0001)
                g_string_append_printf(s, "%s'%g' %g", s->len ? ", " : "", v, v);
        }
    return g_string_free(s, FALSE);
}

double plot_text_width(const char *text, double px)
{
    /* DejaVu Sans advance widths: about 0.72 em for capitals and wide
     * letters, 0.62 em for lower case and digits, 0.32 em for narrow
     * marks; rounded up so that an estimate never falls short */
    double w = 0;
    for (const char *c = text; *c; c++) {
        if (strchr("MW@%m", *c))
            w += 0.92;
        else if (g_ascii_isupper(*c) || *c == '_' || *c == 'w')
            w += 0.74;
        else if (strchr(" .,:;'|!il()[]", *c))
            w += 0.36;
        else
            w += 0.64;
    }
    return w * px;
}

void plot_note(Plot *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *n = p->note ? g_strdup_printf("%s; %s", p->note, s) : g_strdup(s);
    g_free(p->note);
    g_free(s);
    p->note = n;
}

/* ---- running gnuplot ---- */

bool plot_run_gnuplot(const char *script, const char *output, char **err)
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

int plot_draw(sqlite3 *db, const PlotOptions *opt, char **note, char **err)
{
    static bool (*const fns[])(Plot *) = { plot_disconnect, plot_timeouts, plot_oplock,
                                           plot_timeline,   plot_sequence, plot_sweep };
    int which = -1;
    for (int i = 0; plot_whats[i]; i++)
        if (strcmp(opt->what, plot_whats[i]) == 0)
            which = i;
    *note = *err = NULL;
    if (which < 0) {
        *err = g_strdup_printf("--what %s: expected one of disconnect, timeouts, oplock, timeline, sequence, sweep",
                               opt->what);
        return EXIT_BAD_INPUT;
    }
    if (!g_str_has_suffix(opt->output, ".png") && !g_str_has_suffix(opt->output, ".svg")) {
        *err = g_strdup_printf("-o %s: expected a .png or .svg file", opt->output);
        return EXIT_BAD_INPUT;
    }
    Plot p = { db, opt, g_string_new(""), NULL, 0, 0, NULL };
    int status = EXIT_OK;
    if (!fns[which](&p)) {
        *err = g_strdup_printf("%s: %s", opt->db, p.err);
        status = EXIT_BAD_INPUT;
    } else if (!plot_run_gnuplot(p.gp->str, opt->output, err)) {
        g_unlink(opt->output);
        status = EXIT_INTERNAL;
    } else {
        *note = p.note;
        p.note = NULL;
    }
    g_free(p.err);
    g_free(p.note);
    g_string_free(p.gp, TRUE);
    return status;
}

int plot_main(const PlotOptions *opt)
{
    char *err = NULL, *note = NULL;
    Trace *tr = trace_open_readonly(opt->db, &err);
    if (!tr) {
        fprintf(stderr, "rdrsim plot: %s\n", err);
        g_free(err);
        return EXIT_BAD_INPUT;
    }
    int status = plot_draw(trace_db(tr), opt, &note, &err);
    if (err)
        fprintf(stderr, "rdrsim plot: %s\n", err);
    if (note)
        fprintf(stderr, "rdrsim plot: %s: %s\n", opt->output, note);
    g_free(err);
    g_free(note);
    trace_close(tr);
    return status;
}
