#include "report.h"

#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "html.h"
#include "plot.h"
#include "run.h"
#include "stats.h"
#include "trace.h"

/* ---- tables ---- */

struct Table {
    char *title;
    int ncols;
    char **headers;
    GPtrArray *rows; /* char** of ncols */
};

static void free_row(gpointer p) { g_strfreev(p); }

Table *table_new(const char *title, int ncols, const char *const *headers)
{
    Table *t = g_new0(Table, 1);
    t->title = g_strdup(title);
    t->ncols = ncols;
    t->headers = g_new0(char *, ncols + 1);
    for (int i = 0; i < ncols; i++)
        t->headers[i] = g_strdup(headers[i]);
    t->rows = g_ptr_array_new_with_free_func(free_row);
    return t;
}

void table_add(Table *t, char **cells) { g_ptr_array_add(t->rows, cells); }

void table_add_row(Table *t, ...)
{
    char **cells = g_new0(char *, t->ncols + 1);
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncols; i++) {
        const char *c = va_arg(ap, const char *);
        cells[i] = g_strdup(c ? c : "");
    }
    va_end(ap);
    table_add(t, cells);
}

int table_rows(const Table *t) { return (int)t->rows->len; }

void table_free(Table *t)
{
    if (!t)
        return;
    g_free(t->title);
    g_strfreev(t->headers);
    g_ptr_array_unref(t->rows);
    g_free(t);
}

static void print_csv_cell(const char *c, FILE *out)
{
    if (!strpbrk(c, ",\"\n")) {
        fputs(c, out);
        return;
    }
    fputc('"', out);
    for (; *c; c++) {
        if (*c == '"')
            fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

static bool numeric(const char *s)
{
    char *end;
    g_ascii_strtod(s, &end);
    return *s && *end == '\0';
}

void table_print(const Table *t, ReportFormat fmt, FILE *out)
{
    if (fmt == FMT_CSV) {
        fprintf(out, "# %s\n", t->title);
        for (int i = 0; i < t->ncols; i++) {
            if (i)
                fputc(',', out);
            print_csv_cell(t->headers[i], out);
        }
        fputc('\n', out);
        for (guint r = 0; r < t->rows->len; r++) {
            char **row = g_ptr_array_index(t->rows, r);
            for (int i = 0; i < t->ncols; i++) {
                if (i)
                    fputc(',', out);
                print_csv_cell(row[i], out);
            }
            fputc('\n', out);
        }
        fputc('\n', out);
        return;
    }
    if (fmt == FMT_MARKDOWN) {
        fprintf(out, "### %s\n\n|", t->title);
        for (int i = 0; i < t->ncols; i++)
            fprintf(out, " %s |", t->headers[i]);
        fputs("\n|", out);
        for (int i = 0; i < t->ncols; i++)
            fputs("---|", out);
        fputc('\n', out);
        for (guint r = 0; r < t->rows->len; r++) {
            char **row = g_ptr_array_index(t->rows, r);
            fputc('|', out);
            for (int i = 0; i < t->ncols; i++)
                fprintf(out, " %s |", row[i]);
            fputc('\n', out);
        }
        fputc('\n', out);
        return;
    }
    if (fmt == FMT_HTML) {
        GString *s = g_string_new("<table>\n<caption>");
        html_escape(s, t->title);
        g_string_append(s, "</caption>\n<thead><tr>");
        for (int i = 0; i < t->ncols; i++) {
            g_string_append(s, "<th>");
            html_escape(s, t->headers[i]);
            g_string_append(s, "</th>");
        }
        g_string_append(s, "</tr></thead>\n<tbody>\n");
        /* a verdict column colours its row */
        bool verdicts = strcmp(t->headers[t->ncols - 1], "verdict") == 0;
        for (guint r = 0; r < t->rows->len; r++) {
            char **row = g_ptr_array_index(t->rows, r);
            const char *v = verdicts ? row[t->ncols - 1] : "";
            g_string_append(s, g_str_has_prefix(v, "REGRESSION") ? "<tr class=\"regression\">"
                               : g_str_has_prefix(v, "improved")  ? "<tr class=\"improved\">"
                                                                  : "<tr>");
            for (int i = 0; i < t->ncols; i++) {
                g_string_append(s, numeric(row[i]) ? "<td class=\"n\">" : "<td>");
                html_escape(s, row[i]);
                g_string_append(s, "</td>");
            }
            g_string_append(s, "</tr>\n");
        }
        g_string_append(s, "</tbody>\n</table>\n");
        fputs(s->str, out);
        g_string_free(s, TRUE);
        return;
    }
    int *w = g_new0(int, t->ncols);
    for (int i = 0; i < t->ncols; i++)
        w[i] = (int)strlen(t->headers[i]);
    for (guint r = 0; r < t->rows->len; r++) {
        char **row = g_ptr_array_index(t->rows, r);
        for (int i = 0; i < t->ncols; i++)
            w[i] = MAX(w[i], (int)strlen(row[i]));
    }
    fprintf(out, "%s\n", t->title);
    for (int i = 0; i < t->ncols; i++)
        fprintf(out, "%s%-*s", i ? "  " : "  ", w[i], t->headers[i]);
    fputc('\n', out);
    for (guint r = 0; r < t->rows->len; r++) {
        char **row = g_ptr_array_index(t->rows, r);
        for (int i = 0; i < t->ncols; i++)
            fprintf(out, "  %*s", numeric(row[i]) ? w[i] : -w[i], row[i]);
        fputc('\n', out);
    }
    fputc('\n', out);
    g_free(w);
}

bool report_parse_format(const char *s, ReportFormat *out)
{
    if (strcmp(s, "text") == 0)
        *out = FMT_TEXT;
    else if (strcmp(s, "csv") == 0)
        *out = FMT_CSV;
    else if (strcmp(s, "markdown") == 0)
        *out = FMT_MARKDOWN;
    else if (strcmp(s, "html") == 0)
        *out = FMT_HTML;
    else
        return false;
    return true;
}

char *report_point_of(const char *overrides)
{
    GString *s = g_string_new("");
    char **parts = g_strsplit(overrides ? overrides : "", " ", -1);
    for (char **p = parts; *p; p++)
        if (**p && !g_str_has_prefix(*p, "scenario.seed="))
            g_string_append_printf(s, "%s%s", s->len ? " " : "", *p);
    g_strfreev(parts);
    return g_string_free(s, FALSE);
}

char *report_point_value(const char *point, const char *key)
{
    char **kv = g_strsplit(point ? point : "", " ", -1);
    char *v = NULL;
    size_t n = strlen(key);
    for (char **p = kv; *p && !v; p++)
        if (strncmp(*p, key, n) == 0 && (*p)[n] == '=')
            v = g_strdup(*p + n + 1);
    g_strfreev(kv);
    return v;
}

/* ---- queries ---- */

typedef struct {
    sqlite3 *db;
    int64_t run;       /* 0: all runs */
    ReportFormat fmt;
    FILE *out;
    /* FMT_HTML: */
    HtmlPage *page;
    const char *db_path;
    int64_t fig_run; /* the run one-run figures draw */
    bool sweep;      /* runs of several parameter points */
    int sequences;   /* sequence charts drawn */
} Ctx;

/* ---- figures of the HTML page ---- */

static void figure(Ctx *c, const char *what, int64_t run, const char *caption)
{
    PlotOptions o = { c->db_path, what, "", run, 0, 0, NULL, NULL, NAN, NAN, false };
    html_figure(c->page, c->db, &o, caption);
}

#define MAX_SEQ_FIGURES 8

/* The sequence chart around each oplock break of the figures' run. */
static void break_figures(Ctx *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM oplock_breaks WHERE run_id = ?", -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, c->fig_run);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    for (int64_t k = 1; k <= MIN(n, MAX_SEQ_FIGURES); k++) {
        PlotOptions o = { c->db_path, "sequence", "", c->fig_run, 0, k, NULL, NULL, NAN, NAN, false };
        char *cap = g_strdup_printf("Oplock break %lld of %lld in run %lld: the messages, packets and calls around it "
                                    "(one row per event)",
                                    (long long)k, (long long)n, (long long)c->fig_run);
        c->sequences += html_figure(c->page, c->db, &o, cap);
        g_free(cap);
    }
    if (n > MAX_SEQ_FIGURES) {
        char *more = g_strdup_printf("%lld more breaks not drawn: rdrsim plot %s --what sequence --break K",
                                     (long long)(n - MAX_SEQ_FIGURES), c->db_path);
        html_paragraph(c->page, more);
        g_free(more);
    }
}

/* The sequence chart around each disconnect of the figures' run: from 2 ms
 * before TDI_DISCONNECT to 2 ms after it completed (or 1 s, if it never did). */
static void disconnect_figures(Ctx *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT conn, t_start_ns, coalesce(t_done_ns, t_start_ns + 1000000000), mode, "
                           "coalesce(outcome, 'never completed'), initiator, (SELECT count(*) FROM disconnects "
                           "WHERE run_id = ?1) FROM disconnects WHERE run_id = ?1 ORDER BY t_start_ns LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, c->fig_run);
    sqlite3_bind_int(st, 2, MAX_SEQ_FIGURES);
    int64_t n = 0;
    int k = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 6);
        double from = sqlite3_column_double(st, 1) / 1e6 - 2, to = sqlite3_column_double(st, 2) / 1e6 + 2;
        PlotOptions o = { c->db_path, "sequence", "", c->fig_run, sqlite3_column_int64(st, 0), 0, NULL, NULL,
                          MAX(from, 0), to, false };
        char *cap = g_strdup_printf("Disconnect %d of %lld in run %lld: TDI_DISCONNECT %s by %s on connection %lld, "
                                    "%s",
                                    ++k, (long long)n, (long long)c->fig_run, sqlite3_column_text(st, 3),
                                    sqlite3_column_text(st, 5), (long long)sqlite3_column_int64(st, 0),
                                    sqlite3_column_text(st, 4));
        c->sequences += html_figure(c->page, c->db, &o, cap);
        g_free(cap);
    }
    sqlite3_finalize(st);
    if (n > MAX_SEQ_FIGURES) {
        char *more = g_strdup_printf("%lld more disconnects not drawn: rdrsim plot %s --what sequence --conn N "
                                     "--from T --to T",
                                     (long long)(n - MAX_SEQ_FIGURES), c->db_path);
        html_paragraph(c->page, more);
        g_free(more);
    }
}

/* A run with no break or disconnect to draw around: its first connection,
 * from the start. */
static void first_connection_figure(Ctx *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT min(conn) FROM packet WHERE run_id = ? AND conn > 0", -1, &st, NULL) !=
        SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, c->fig_run);
    int64_t conn = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (conn <= 0)
        return;
    PlotOptions o = { c->db_path, "sequence", "", c->fig_run, conn, 0, NULL, NULL, NAN, NAN, false };
    char *cap = g_strdup_printf("Connection %lld of run %lld from its start (no break or disconnect to draw around)",
                                (long long)conn, (long long)c->fig_run);
    c->sequences += html_figure(c->page, c->db, &o, cap);
    g_free(cap);
}

/* The sweep plots of the headline metrics that vary over the points. */
static void sweep_figures(Ctx *c, const char *const *metrics, size_t n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM metrics WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        /* only the metrics the runs wrote */
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, metrics[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) < 2)
            continue;
        PlotOptions o = { c->db_path, "sweep", "", 0, 0, 0, metrics[i], NULL, NAN, NAN, false };
        char *cap = g_strdup_printf("%s at each parameter point: the median of its runs and its 95%% interval",
                                    metrics[i]);
        html_figure(c->page, c->db, &o, cap);
        g_free(cap);
    }
    sqlite3_finalize(st);
}

static char *fmt_ms(double ns) { return isnan(ns) ? g_strdup("") : g_strdup_printf("%.3f", ns / 1e6); }

/* Run a query whose last column is a number and whose other columns are
 * group keys, ordered by the keys; add one row per group: keys, count,
 * p50, p95, p99, max (in ms), plus `extra` columns the caller fills later. */
static void grouped_latency(Ctx *c, Table *t, const char *sql, int nkeys)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return; /* an older trace without the table: nothing to show */
    sqlite3_bind_int64(st, 1, c->run);
    GArray *vals = g_array_new(FALSE, FALSE, sizeof(double)); /* the non-NULL values of the group */
    char **keys = NULL;
    unsigned rows = 0; /* every row of the group, NULL values included */
    int rc;
    do {
        rc = sqlite3_step(st);
        bool same = rc == SQLITE_ROW && keys;
        for (int i = 0; same && i < nkeys; i++)
            same = g_strcmp0(keys[i], (const char *)sqlite3_column_text(st, i)) == 0;
        if (keys && !same) {
            double *v = (double *)(void *)vals->data;
            stats_sort(v, vals->len);
            char **cells = g_new0(char *, t->ncols + 1);
            for (int i = 0; i < nkeys; i++)
                cells[i] = keys[i];
            g_free(keys);
            cells[nkeys] = g_strdup_printf("%u", rows);
            cells[nkeys + 1] = fmt_ms(stats_quantile(v, vals->len, 0.50));
            cells[nkeys + 2] = fmt_ms(stats_quantile(v, vals->len, 0.95));
            cells[nkeys + 3] = fmt_ms(stats_quantile(v, vals->len, 0.99));
            cells[nkeys + 4] = fmt_ms(vals->len ? v[vals->len - 1] : NAN);
            for (int i = nkeys + 5; i < t->ncols; i++)
                cells[i] = g_strdup("");
            table_add(t, cells);
            keys = NULL;
            rows = 0;
            g_array_set_size(vals, 0);
        }
        if (rc != SQLITE_ROW)
            break;
        if (!keys) {
            keys = g_new0(char *, nkeys + 1);
            for (int i = 0; i < nkeys; i++) {
                const unsigned char *k = sqlite3_column_text(st, i);
                keys[i] = g_strdup(k ? (const char *)k : "");
            }
        }
        rows++;
        if (sqlite3_column_type(st, nkeys) != SQLITE_NULL) {
            double v = sqlite3_column_double(st, nkeys);
            g_array_append_val(vals, v);
        }
    } while (1);
    sqlite3_finalize(st);
    g_array_unref(vals);
}

/* Add every row of a query, each column as text. */
static void plain_rows(Ctx *c, Table *t, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, c->run);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char **cells = g_new0(char *, t->ncols + 1);
        for (int i = 0; i < t->ncols; i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            cells[i] = g_strdup(v ? (const char *)v : "");
        }
        table_add(t, cells);
    }
    sqlite3_finalize(st);
}

static void emit(Ctx *c, Table *t)
{
    if (table_rows(t) == 0 && c->fmt == FMT_TEXT)
        fprintf(c->out, "%s: none recorded\n\n", t->title);
    else if (table_rows(t) == 0 && c->fmt == FMT_MARKDOWN)
        fprintf(c->out, "### %s\n\nnone recorded\n\n", t->title);
    else if (table_rows(t) == 0 && c->fmt == FMT_HTML) {
        GString *s = g_string_new("<p class=\"none\">");
        html_escape(s, t->title);
        g_string_append(s, ": none recorded</p>\n");
        fputs(s->str, c->out);
        g_string_free(s, TRUE);
    }
    else
        table_print(t, c->fmt, c->out);
    table_free(t);
}

#define RUNS "(?1 = 0 OR run_id = ?1)"

static void section_ops(Ctx *c)
{
    static const char *const h[] = { "op", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms" };
    Table *t = table_new("Operations by kind (latency)", 6, h);
    grouped_latency(c, t, "SELECT op, t_done_ns - t_start_ns FROM ops WHERE " RUNS " ORDER BY op, 2", 1);
    emit(c, t);
    if (c->page && !c->sweep) {
        char *cap = g_strdup_printf("Operations of run %lld over time", (long long)c->fig_run);
        figure(c, "timeline", c->fig_run, cap);
        g_free(cap);
    }
}

static void section_statuses(Ctx *c)
{
    static const char *const h[] = { "source", "status", "count" };
    Table *t = table_new("Statuses by count", 3, h);
    plain_rows(c, t,
               "SELECT source, status, count(*) FROM ("
               " SELECT 'operation' AS source, status FROM ops WHERE " RUNS
               " UNION ALL SELECT 'TDI request', status FROM tdi_requests WHERE " RUNS
               " UNION ALL SELECT 'MRx routine', status FROM callbacks WHERE " RUNS
               " UNION ALL SELECT 'SMB response', status FROM smb_messages WHERE is_response AND NOT is_async AND msg_id != -1 AND " RUNS
               ") GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2");
    emit(c, t);
    if (c->page)
        figure(c, "timeouts", c->run, "Time-outs over simulated time, by kind");
}

static void section_disconnects(Ctx *c)
{
    static const char *const h[] = { "mode", "outcome", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms" };
    Table *t = table_new("Disconnects by mode and outcome (completion time)", 7, h);
    grouped_latency(c, t,
                    "SELECT mode, coalesce(outcome, 'never completed'), t_done_ns - t_start_ns FROM disconnects"
                    " WHERE " RUNS " ORDER BY 1, 2, 3",
                    2);
    emit(c, t);
    if (c->page) {
        figure(c, "disconnect", c->run, "Completion time of TDI disconnects");
        if (!c->sweep)
            disconnect_figures(c);
    }
}

static void section_breaks(Ctx *c)
{
    static const char *const h[] = { "from", "to", "outcome", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms" };
    Table *t = table_new("Oplock breaks by levels and outcome (break latency)", 8, h);
    grouped_latency(c, t,
                    "SELECT from_level, to_level, outcome, t_acked_ns - t_sent_ns FROM oplock_breaks WHERE " RUNS
                    " ORDER BY 1, 2, 3, 4",
                    3);
    emit(c, t);
    if (c->page) {
        figure(c, "oplock", c->run, "Oplock and lease breaks: latency and outcomes");
        if (!c->sweep)
            break_figures(c);
    }
}

static void section_routines(Ctx *c)
{
    static const char *const h[] = { "routine", "calls", "pending_share" };
    Table *t = table_new("MINIRDR_DISPATCH routine calls", 3, h);
    plain_rows(c, t,
               "SELECT routine, count(*), printf('%.3f', avg(pending)) FROM callbacks WHERE " RUNS
               " GROUP BY 1 ORDER BY 2 DESC, 1");
    emit(c, t);
}

/* HTTP requests (the WebDAV redirector's) by method and the status that
 * answered them, with the time to the answer; shown only for traces that
 * have them. */
static void section_http(Ctx *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM http_message WHERE ?1 = 0 OR run_id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return; /* an older trace */
    sqlite3_bind_int64(st, 1, c->run);
    bool any = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    if (!any)
        return;
    static const char *const h[] = { "method", "status", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms" };
    Table *t = table_new("HTTP requests by method and status (from the request sent to the response sent)", 7, h);
    grouped_latency(c, t,
                    "SELECT q.method, coalesce(r.status, 'no response'), r.t_ns - q.t_ns FROM http_messages q "
                    "LEFT JOIN http_messages r ON r.run_id = q.run_id AND r.conn = q.conn AND r.request = q.request "
                    "AND r.is_response WHERE NOT q.is_response AND (?1 = 0 OR q.run_id = ?1) ORDER BY 1, 2, 3",
                    2);
    emit(c, t);
}

static void section_packets(Ctx *c)
{
    static const char *const h[] = { "fate", "packets", "bytes" };
    Table *t = table_new("Packets by fate (a packet through a router counts once a hop)", 3, h);
    plain_rows(c, t,
               "SELECT f.name, count(*), sum(p.bytes) FROM packet p JOIN names f ON f.id = p.fate WHERE "
               "(?1 = 0 OR p.run_id = ?1) GROUP BY 1 ORDER BY 2 DESC");
    emit(c, t);
    if (c->page && !c->sweep && !c->sequences)
        first_connection_figure(c);
}

/* The busiest directions of the links that have a bandwidth: what routed
 * networks share (net.h's link.A>B.* metrics, averaged over the runs). */
static void section_links(Ctx *c)
{
    static const char *const h[] = { "link direction", "utilisation", "queue_drops", "peak_queue_bytes" };
    Table *t = table_new("Links (the 20 busiest directions)", 4, h);
    plain_rows(c, t,
               "WITH m AS (SELECT name, avg(value) AS v FROM metrics WHERE " RUNS " AND name LIKE 'link.%' "
               "GROUP BY name), u AS (SELECT substr(name, 6, length(name) - 17) AS d, v FROM m WHERE name LIKE "
               "'%.utilisation') SELECT u.d, printf('%.3f', u.v), "
               "(SELECT CAST(round(v) AS INTEGER) FROM m WHERE name = 'link.' || u.d || '.queue_drops'), "
               "(SELECT CAST(round(v) AS INTEGER) FROM m WHERE name = 'link.' || u.d || '.peak_queue_bytes') "
               "FROM u ORDER BY u.v DESC, u.d LIMIT 20");
    emit(c, t);
}

/* Headline metrics of a sweep, one row per parameter point: medians over
 * the point's runs. */
static const char *const sweep_metrics[] = {
    "tdi.release.p50_ns", "tdi.release.timed_out", "tdi.timeouts", "sim.events", "sim.end_ns",
};

static void section_sweep(Ctx *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT run_id, overrides, status FROM runs ORDER BY run_id", -1, &st, NULL) !=
        SQLITE_OK)
        return;
    GPtrArray *points = g_ptr_array_new_with_free_func(g_free); /* distinct, in first-seen order */
    GHashTable *runs_of = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_array_unref);
    GHashTable *complete = g_hash_table_new(g_str_hash, g_str_equal);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char *p = report_point_of((const char *)sqlite3_column_text(st, 1));
        GArray *ids = g_hash_table_lookup(runs_of, p);
        if (!ids) {
            ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
            g_ptr_array_add(points, p);
            g_hash_table_insert(runs_of, p, ids);
        } else {
            char *first = NULL;
            for (guint i = 0; i < points->len; i++)
                if (strcmp(g_ptr_array_index(points, i), p) == 0)
                    first = g_ptr_array_index(points, i);
            g_free(p);
            p = first;
        }
        int64_t id = sqlite3_column_int64(st, 0);
        g_array_append_val(ids, id);
        if (strcmp((const char *)sqlite3_column_text(st, 2), "complete") == 0)
            g_hash_table_insert(complete, p, GSIZE_TO_POINTER(GPOINTER_TO_SIZE(g_hash_table_lookup(complete, p)) + 1));
    }
    sqlite3_finalize(st);
    if (points->len > 1) {
        const char *h[3 + G_N_ELEMENTS(sweep_metrics)] = { "point", "runs", "complete" };
        for (size_t i = 0; i < G_N_ELEMENTS(sweep_metrics); i++)
            h[3 + i] = sweep_metrics[i];
        Table *t = table_new("Sweep: one row per parameter point (medians over its runs)",
                             3 + (int)G_N_ELEMENTS(sweep_metrics), h);
        sqlite3_prepare_v2(c->db, "SELECT value FROM metrics WHERE run_id = ? AND name = ?", -1, &st, NULL);
        for (guint i = 0; i < points->len; i++) {
            const char *p = g_ptr_array_index(points, i);
            GArray *ids = g_hash_table_lookup(runs_of, p);
            char **cells = g_new0(char *, t->ncols + 1);
            cells[0] = g_strdup(*p ? p : "(base)");
            cells[1] = g_strdup_printf("%u", ids->len);
            cells[2] = g_strdup_printf("%zu", GPOINTER_TO_SIZE(g_hash_table_lookup(complete, p)));
            for (size_t m = 0; m < G_N_ELEMENTS(sweep_metrics); m++) {
                GArray *vals = g_array_new(FALSE, FALSE, sizeof(double));
                for (guint r = 0; r < ids->len; r++) {
                    sqlite3_bind_int64(st, 1, g_array_index(ids, int64_t, r));
                    sqlite3_bind_text(st, 2, sweep_metrics[m], -1, SQLITE_STATIC);
                    if (sqlite3_step(st) == SQLITE_ROW) {
                        double v = sqlite3_column_double(st, 0);
                        g_array_append_val(vals, v);
                    }
                    sqlite3_reset(st);
                }
                stats_sort((double *)(void *)vals->data, vals->len);
                double med = stats_quantile((double *)(void *)vals->data, vals->len, 0.5);
                cells[3 + m] = isnan(med) ? g_strdup("") : g_strdup_printf("%.6g", med);
                g_array_unref(vals);
            }
            table_add(t, cells);
        }
        sqlite3_finalize(st);
        emit(c, t);
        if (c->page)
            sweep_figures(c, sweep_metrics, G_N_ELEMENTS(sweep_metrics) - 2); /* not the simulator's own */
    }
    g_hash_table_unref(complete);
    g_hash_table_unref(runs_of);
    g_ptr_array_unref(points);
}

static void section_runs(Ctx *c)
{
    static const char *const h[] = { "run", "scenario", "seed", "overrides", "status", "sim_end_s", "events",
                                      "message" };
    Table *t = table_new("Runs", 8, h);
    plain_rows(c, t,
               "SELECT run_id, scenario_name, seed, coalesce(overrides, ''), status,"
               " printf('%.6f', sim_end_ns / 1e9), events, coalesce(message, '') FROM runs WHERE " RUNS
               " ORDER BY run_id");
    emit(c, t);
}

/* How many parameter points the DB's runs (or the one run) cover. */
static int count_points(Ctx *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT overrides FROM runs WHERE " RUNS, -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, c->run);
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    while (sqlite3_step(st) == SQLITE_ROW)
        g_hash_table_add(seen, report_point_of((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    int n = (int)g_hash_table_size(seen);
    g_hash_table_unref(seen);
    return n;
}

/* The page's title and what it holds, in a paragraph. */
static HtmlPage *html_page(Ctx *c, int64_t runs, char **err)
{
    sqlite3_stmt *st;
    sqlite3_prepare_v2(c->db, "SELECT scenario_name, seed, status, sim_end_ns / 1e9, trace_level, rdrsim_version "
                              "FROM runs WHERE run_id = ?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, c->fig_run);
    char *title = NULL, *about = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        title = g_strdup_printf("rdrsim report: %s", sqlite3_column_text(st, 0));
        if (runs == 1)
            about = g_strdup_printf("Trace %s, run %lld of scenario %s, seed %lld: %s, %.6f simulated seconds, "
                                    "traced at level %s by rdrsim %s.",
                                    c->db_path, (long long)c->fig_run, sqlite3_column_text(st, 0),
                                    (long long)sqlite3_column_int64(st, 1), sqlite3_column_text(st, 2),
                                    sqlite3_column_double(st, 3), sqlite3_column_text(st, 4),
                                    sqlite3_column_text(st, 5));
        else {
            char *which = c->sweep ? g_strdup("the sweep figures show each point with its interval.")
                                   : g_strdup_printf("the timeline and the sequence charts are of run %lld, the "
                                                     "first.", (long long)c->fig_run);
            about = g_strdup_printf("Trace %s: %lld runs of scenario %s%s. Tables and distributions take every run; "
                                    "%s",
                                    c->db_path, (long long)runs, sqlite3_column_text(st, 0),
                                    c->sweep ? " over several parameter points" : " with the same parameters", which);
            g_free(which);
        }
    }
    sqlite3_finalize(st);
    HtmlPage *page = html_begin(c->out, title ? title : "rdrsim report", err);
    if (page && about)
        html_paragraph(page, about);
    g_free(title);
    g_free(about);
    return page;
}

int report_main(const char *db_path, int64_t run, ReportFormat fmt, FILE *out)
{
    char *err = NULL;
    Trace *tr = trace_open_readonly(db_path, &err);
    if (!tr) {
        fprintf(stderr, "rdrsim report: %s\n", err);
        g_free(err);
        return EXIT_BAD_INPUT;
    }
    Ctx c = { trace_db(tr), run, fmt, out, NULL, db_path, run, false, 0 };
    sqlite3_stmt *st;
    sqlite3_prepare_v2(c.db, "SELECT count(*), min(run_id) FROM runs WHERE " RUNS, -1, &st, NULL);
    sqlite3_bind_int64(st, 1, run);
    sqlite3_step(st);
    int64_t n = sqlite3_column_int64(st, 0);
    if (!run)
        c.fig_run = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    if (n == 0) {
        fprintf(stderr, "rdrsim report: %s: %s\n", db_path, run ? "no such run" : "holds no runs");
        trace_close(tr);
        return EXIT_BAD_INPUT;
    }
    c.sweep = count_points(&c) > 1;
    if (fmt == FMT_HTML && !(c.page = html_page(&c, n, &err))) {
        fprintf(stderr, "rdrsim report: %s\n", err);
        g_free(err);
        trace_close(tr);
        return EXIT_INTERNAL;
    }
    if (n <= 10)
        section_runs(&c);
    else if (c.page) {
        char *s = g_strdup_printf("%lld runs (rdrsim report --run N for one)", (long long)n);
        html_paragraph(c.page, s);
        g_free(s);
    } else
        fprintf(out, "%lld runs (`rdrsim report --run N` for one)\n\n", (long long)n);
    if (run == 0)
        section_sweep(&c);
    section_ops(&c);
    section_statuses(&c);
    section_disconnects(&c);
    section_breaks(&c);
    section_routines(&c);
    section_http(&c);
    section_links(&c);
    section_packets(&c);
    if (c.page)
        html_end(c.page);
    trace_close(tr);
    return EXIT_OK;
}
