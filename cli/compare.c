#include "compare.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#include "run.h"
#include "stats.h"
#include "trace.h"

#define RESAMPLES 10000
#define BOOT_SEED 20261122

/* Metrics compared when none is named: all of them are "more is worse". */
static const char *const default_metrics[] = {
    "tdi.release.p50_ns", "tdi.release.p95_ns", "tdi.release.p99_ns", "tdi.release.max_ns",
    "tdi.release.timed_out", "tdi.timeouts", "status.*", "ops.*", "oplock.*", "disconnect.*", "sim.events",
    "sim.end_ns", NULL,
};

typedef struct {
    int64_t id;
    uint64_t seed;
    char *point;
} RunKey;

static void runkey_free(gpointer p)
{
    RunKey *k = p;
    g_free(k->point);
    g_free(k);
}

/* Whether KEY has the same value (or is absent) in every point. */
static bool shared_by_all(GPtrArray *points, const char *key, const char *value)
{
    for (guint j = 0; j < points->len; j++) {
        char *v = report_point_value(g_ptr_array_index(points, j), key);
        bool same = g_strcmp0(v, value) == 0;
        g_free(v);
        if (!same)
            return false;
    }
    return true;
}

/* A run's parameter point is made of the overrides that vary among the
 * DB's runs; overrides every run shares (the change under test, given with
 * --set) do not take part, so that base and new runs pair up. */
static GPtrArray *load_runs(sqlite3 *db)
{
    GPtrArray *runs = g_ptr_array_new_with_free_func(runkey_free);
    GPtrArray *points = g_ptr_array_new_with_free_func(g_free);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT run_id, seed, overrides FROM runs WHERE status = 'complete' ORDER BY run_id", -1,
                       &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        RunKey *k = g_new0(RunKey, 1);
        k->id = sqlite3_column_int64(st, 0);
        k->seed = (uint64_t)sqlite3_column_int64(st, 1);
        g_ptr_array_add(points, report_point_of((const char *)sqlite3_column_text(st, 2)));
        g_ptr_array_add(runs, k);
    }
    sqlite3_finalize(st);
    for (guint i = 0; i < runs->len; i++) {
        char **kvs = g_strsplit(g_ptr_array_index(points, i), " ", -1);
        GString *p = g_string_new("");
        for (char **kv = kvs; *kv && **kv; kv++) {
            char *eq = strchr(*kv, '=');
            char *key = eq ? g_strndup(*kv, (gsize)(eq - *kv)) : g_strdup(*kv);
            if (!shared_by_all(points, key, eq ? eq + 1 : NULL))
                g_string_append_printf(p, "%s%s", p->len ? " " : "", *kv);
            g_free(key);
        }
        g_strfreev(kvs);
        ((RunKey *)g_ptr_array_index(runs, i))->point = g_string_free(p, FALSE);
    }
    g_ptr_array_unref(points);
    return runs;
}

static bool metric_of(sqlite3 *db, int64_t run, const char *name, double *v)
{
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT value FROM metrics WHERE run_id = ? AND name = ?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (ok)
        *v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return ok;
}

static bool wanted(const CompareOptions *opt, const char *name)
{
    char *const *pats = opt->metrics ? opt->metrics : (char *const *)default_metrics;
    for (; *pats; pats++)
        if (g_pattern_match_simple(*pats, name))
            return true;
    return false;
}

/* Metric names present in both DBs and wanted, sorted. */
static GPtrArray *common_metrics(sqlite3 *a, sqlite3 *b, const CompareOptions *opt)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(a, "SELECT DISTINCT name FROM metrics ORDER BY name", -1, &st, NULL);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(b, "SELECT 1 FROM metrics WHERE name = ? LIMIT 1", -1, &q, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0);
        sqlite3_bind_text(q, 1, n, -1, SQLITE_TRANSIENT);
        if (wanted(opt, n) && sqlite3_step(q) == SQLITE_ROW)
            g_ptr_array_add(names, g_strdup(n));
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    sqlite3_finalize(st);
    return names;
}

static char *num(double v) { return isnan(v) ? g_strdup("") : g_strdup_printf("%.6g", v); }

typedef struct {
    Table *t;
    int flagged;
    const CompareOptions *opt;
} Out;

/* One row: base, new, delta, relative delta, interval, verdict. */
static void verdict_row(Out *o, const char *name, double base, double nw, bool has_ci, double lo, double hi, int n)
{
    double delta = nw - base;
    double rel = base != 0 ? delta / fabs(base) : (delta > 0 ? INFINITY : delta < 0 ? -INFINITY : 0);
    const char *verdict = "no interval (one run a side)";
    if (has_ci) {
        if (lo > 0 && rel > o->opt->threshold) {
            verdict = "REGRESSION";
            o->flagged++;
        } else if (lo > 0) {
            verdict = "worse, within threshold";
        } else if (hi < 0 && -rel > o->opt->threshold) {
            verdict = "improved";
        } else if (hi < 0) {
            verdict = "better, within threshold";
        } else {
            verdict = "no significant change";
        }
    }
    char *ci = has_ci ? g_strdup_printf("[%.6g, %.6g]", lo, hi) : g_strdup("");
    char *cells[] = { g_strdup(name), g_strdup_printf("%d", n), num(base), num(nw), num(delta),
                      isinf(rel) ? g_strdup(rel > 0 ? "+inf" : "-inf") : g_strdup_printf("%+.1f%%", 100 * rel), ci,
                      g_strdup(verdict), NULL };
    table_add(o->t, g_strdupv(cells));
    for (int i = 0; cells[i]; i++)
        g_free(cells[i]);
}

/* Runs paired by (point, seed): a paired bootstrap per metric. */
static void compare_paired(Out *o, sqlite3 *a, sqlite3 *b, GPtrArray *ra, GPtrArray *rb)
{
    GPtrArray *names = common_metrics(a, b, o->opt);
    for (guint m = 0; m < names->len; m++) {
        const char *name = g_ptr_array_index(names, m);
        GArray *d = g_array_new(FALSE, FALSE, sizeof(double));
        double sa = 0, sb = 0;
        for (guint i = 0; i < ra->len; i++) {
            RunKey *x = g_ptr_array_index(ra, i);
            for (guint j = 0; j < rb->len; j++) {
                RunKey *y = g_ptr_array_index(rb, j);
                double va, vb;
                if (x->seed != y->seed || strcmp(x->point, y->point) != 0)
                    continue;
                if (metric_of(a, x->id, name, &va) && metric_of(b, y->id, name, &vb)) {
                    double diff = vb - va;
                    g_array_append_val(d, diff);
                    sa += va;
                    sb += vb;
                }
                break;
            }
        }
        if (d->len >= 2) {
            double lo, hi;
            stats_bootstrap_mean((double *)(void *)d->data, d->len, o->opt->alpha, BOOT_SEED, RESAMPLES, &lo, &hi);
            verdict_row(o, name, sa / d->len, sb / d->len, true, lo, hi, (int)d->len);
        }
        g_array_unref(d);
    }
    g_ptr_array_unref(names);
}

/* Samples inside one run: name, then the query giving them (?1 the run,
 * ?2 an operation kind where the name has %s). */
static const char *const sample_sets[][2] = {
    { "disconnect.release_ns", "SELECT t_done_ns - t_start_ns FROM disconnects WHERE run_id = ?1 AND "
                               "mode = 'release' AND t_done_ns IS NOT NULL" },
    { "oplock.break_ns", "SELECT t_acked_ns - t_sent_ns FROM oplock_breaks WHERE run_id = ?1 AND "
                         "t_acked_ns IS NOT NULL" },
    { "ops.%s.latency_ns", "SELECT t_done_ns - t_start_ns FROM ops WHERE run_id = ?1 AND op = ?2 AND "
                           "t_done_ns IS NOT NULL" },
};

static GArray *samples(sqlite3 *db, const char *sql, int64_t run, const char *op)
{
    GArray *v = g_array_new(FALSE, FALSE, sizeof(double));
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return v;
    sqlite3_bind_int64(st, 1, run);
    if (op)
        sqlite3_bind_text(st, 2, op, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        double x = sqlite3_column_double(st, 0);
        g_array_append_val(v, x);
    }
    sqlite3_finalize(st);
    stats_sort((double *)(void *)v->data, v->len);
    return v;
}

/* One run a side: intervals from the samples inside the runs; the run's
 * scalar metrics are shown without one. */
/* Operation kinds of a run, sorted. */
static GPtrArray *op_kinds(sqlite3 *db, int64_t run)
{
    GPtrArray *ops = g_ptr_array_new_with_free_func(g_free);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT DISTINCT op FROM ops WHERE run_id = ? ORDER BY op", -1, &st, NULL) !=
        SQLITE_OK)
        return ops;
    sqlite3_bind_int64(st, 1, run);
    while (sqlite3_step(st) == SQLITE_ROW)
        g_ptr_array_add(ops, g_strdup((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    return ops;
}

static void compare_samples(Out *o, sqlite3 *a, sqlite3 *b, RunKey *x, RunKey *y, const char *name, const char *sql,
                            const char *op)
{
    GArray *sa = samples(a, sql, x->id, op), *sb = samples(b, sql, y->id, op);
    if (sa->len >= 2 && sb->len >= 2 && wanted(o->opt, name)) {
        double lo, hi;
        const double *da = (const double *)(void *)sa->data, *db = (const double *)(void *)sb->data;
        stats_bootstrap_median_diff(da, sa->len, db, sb->len, o->opt->alpha, BOOT_SEED, RESAMPLES, &lo, &hi);
        char *label = g_strdup_printf("%s (median)", name);
        verdict_row(o, label, stats_quantile(da, sa->len, 0.5), stats_quantile(db, sb->len, 0.5), true, lo, hi,
                    (int)MIN(sa->len, sb->len));
        g_free(label);
    }
    g_array_unref(sa);
    g_array_unref(sb);
}

/* One run a side: intervals from the samples inside the runs (operation
 * latencies per kind among them); the runs' scalar metrics are shown
 * without one. */
static void compare_single(Out *o, sqlite3 *a, sqlite3 *b, RunKey *x, RunKey *y)
{
    for (size_t i = 0; i < G_N_ELEMENTS(sample_sets); i++) {
        if (!strstr(sample_sets[i][0], "%s")) {
            compare_samples(o, a, b, x, y, sample_sets[i][0], sample_sets[i][1], NULL);
            continue;
        }
        GPtrArray *ops = op_kinds(a, x->id);
        for (guint k = 0; k < ops->len; k++) {
            char *name = g_strdup_printf(sample_sets[i][0], (char *)g_ptr_array_index(ops, k));
            compare_samples(o, a, b, x, y, name, sample_sets[i][1], g_ptr_array_index(ops, k));
            g_free(name);
        }
        g_ptr_array_unref(ops);
    }
    GPtrArray *names = common_metrics(a, b, o->opt);
    for (guint m = 0; m < names->len; m++) {
        double va, vb;
        const char *name = g_ptr_array_index(names, m);
        if (metric_of(a, x->id, name, &va) && metric_of(b, y->id, name, &vb))
            verdict_row(o, name, va, vb, false, 0, 0, 1);
    }
    g_ptr_array_unref(names);
}

/* ---- where two traces of the same seed part ---- */

typedef struct {
    const char *what;
    const char *sql; /* rows in the order the run wrote them; column 0 is the time */
} Stream;

static const Stream streams[] = {
    { "packet", "SELECT t_ns, 'sent at ' || t_ns || ': ' || src || '->' || dst || ' ' || kind || ' ' || bytes || "
                "' B conn ' || conn || ', ' || fate || coalesce(' at ' || t_arrive_ns, '') "
                "FROM packets WHERE run_id = ? ORDER BY rowid" },
    { "TDI request", "SELECT coalesce(t_done_ns, t_ns), node || ' ' || endpoint || ' ' || request || ' ' || flags || "
                     "' issued at ' || t_ns || ' -> ' || coalesce(status, '?') || coalesce(' at ' || t_done_ns, '') "
                     "FROM tdi_requests WHERE run_id = ? ORDER BY rowid" },
    { "SMB message", "SELECT t_ns, node || '->' || peer || ' ' || command || CASE WHEN is_response THEN "
                     "' response ' ELSE ' request ' END || 'mid ' || msg_id || ' ' || coalesce(status, '?') || ' ' || "
                     "bytes || ' B' FROM smb_messages WHERE run_id = ? ORDER BY rowid" },
    { "operation", "SELECT coalesce(t_done_ns, t_start_ns), node || ' ' || op || ' ' || path || ' from ' || t_start_ns || ' -> ' || "
                   "coalesce(status, '?') || coalesce(' at ' || t_done_ns, '') FROM ops WHERE run_id = ? "
                   "ORDER BY rowid" },
};

/* The first row where the streams differ: its time, and each side's text. */
static bool first_difference(sqlite3 *a, int64_t ra, sqlite3 *b, int64_t rb, const char *sql, int64_t *t, char **da,
                             char **db)
{
    sqlite3_stmt *x, *y;
    if (sqlite3_prepare_v2(a, sql, -1, &x, NULL) != SQLITE_OK)
        return false;
    if (sqlite3_prepare_v2(b, sql, -1, &y, NULL) != SQLITE_OK) {
        sqlite3_finalize(x);
        return false;
    }
    sqlite3_bind_int64(x, 1, ra);
    sqlite3_bind_int64(y, 1, rb);
    bool found = false;
    for (;;) {
        int rx = sqlite3_step(x), ry = sqlite3_step(y);
        if (rx != SQLITE_ROW && ry != SQLITE_ROW)
            break;
        const char *tx = rx == SQLITE_ROW ? (const char *)sqlite3_column_text(x, 1) : NULL;
        const char *ty = ry == SQLITE_ROW ? (const char *)sqlite3_column_text(y, 1) : NULL;
        int64_t t0 = rx == SQLITE_ROW ? sqlite3_column_int64(x, 0) : INT64_MAX;
        int64_t t1 = ry == SQLITE_ROW ? sqlite3_column_int64(y, 0) : INT64_MAX;
        if (t0 != t1 || g_strcmp0(tx, ty) != 0) {
            *t = MIN(t0, t1);
            *da = g_strdup(tx ? tx : "(nothing more)");
            *db = g_strdup(ty ? ty : "(nothing more)");
            found = true;
            break;
        }
    }
    sqlite3_finalize(x);
    sqlite3_finalize(y);
    return found;
}

static void divergence(FILE *out, sqlite3 *a, sqlite3 *b, GPtrArray *ra, GPtrArray *rb)
{
    for (guint i = 0; i < ra->len; i++) {
        RunKey *x = g_ptr_array_index(ra, i);
        for (guint j = 0; j < rb->len; j++) {
            RunKey *y = g_ptr_array_index(rb, j);
            if (x->seed != y->seed || strcmp(x->point, y->point) != 0)
                continue;
            int64_t best = INT64_MAX;
            char *ba = NULL, *bb = NULL;
            const char *what = NULL;
            for (size_t s = 0; s < G_N_ELEMENTS(streams); s++) {
                int64_t t;
                char *da, *db;
                if (!first_difference(a, x->id, b, y->id, streams[s].sql, &t, &da, &db))
                    continue;
                if (t < best) {
                    g_free(ba);
                    g_free(bb);
                    best = t, ba = da, bb = db, what = streams[s].what;
                } else {
                    g_free(da);
                    g_free(db);
                }
            }
            if (what)
                fprintf(out,
                        "First divergence (base run %lld, new run %lld, seed %llu): at t = %.9f s, %s\n"
                        "  base: %s\n  new:  %s\n\n",
                        (long long)x->id, (long long)y->id, (unsigned long long)x->seed, (double)best / 1e9, what,
                        ba, bb);
            else
                fprintf(out, "Runs %lld and %lld (seed %llu): the traces do not diverge.\n\n", (long long)x->id,
                        (long long)y->id, (unsigned long long)x->seed);
            g_free(ba);
            g_free(bb);
            return;
        }
    }
}

int compare_main(const CompareOptions *opt, FILE *out)
{
    char *err = NULL;
    Trace *ta = trace_open_readonly(opt->base, &err);
    Trace *tb = ta ? trace_open_readonly(opt->new_db, &err) : NULL;
    if (!tb) {
        fprintf(stderr, "rdrsim compare: %s\n", err);
        g_free(err);
        trace_close(ta);
        return EXIT_BAD_INPUT;
    }
    sqlite3 *a = trace_db(ta), *b = trace_db(tb);
    GPtrArray *ra = load_runs(a), *rb = load_runs(b);
    int status = EXIT_OK;
    int pairs = 0;
    for (guint i = 0; i < ra->len; i++)
        for (guint j = 0; j < rb->len; j++) {
            RunKey *x = g_ptr_array_index(ra, i), *y = g_ptr_array_index(rb, j);
            pairs += x->seed == y->seed && strcmp(x->point, y->point) == 0;
        }
    static const char *const h[] = { "metric", "n", "base", "new", "delta", "rel", "CI of delta", "verdict" };
    char *title = g_strdup_printf("%s -> %s: %.0f%% intervals, threshold %.1f%%", opt->base, opt->new_db,
                                  100 * (1 - opt->alpha), 100 * opt->threshold);
    Out o = { table_new(title, 8, h), 0, opt };
    g_free(title);
    if (ra->len == 0 || rb->len == 0) {
        fprintf(stderr, "rdrsim compare: %s holds no complete run\n", ra->len == 0 ? opt->base : opt->new_db);
        status = EXIT_BAD_INPUT;
    } else if (pairs >= 2) {
        compare_paired(&o, a, b, ra, rb);
    } else if (ra->len == 1 && rb->len == 1) {
        compare_single(&o, a, b, g_ptr_array_index(ra, 0), g_ptr_array_index(rb, 0));
    } else {
        fprintf(stderr,
                "rdrsim compare: cannot pair the runs: %u and %u complete runs, %d with the same parameters and "
                "seed (run both sides with the same seeds)\n",
                ra->len, rb->len, pairs);
        status = EXIT_BAD_INPUT;
    }
    if (status == EXIT_OK) {
        table_print(o.t, opt->fmt, out);
        divergence(out, a, b, ra, rb);
        fprintf(out, "%d regression%s flagged\n", o.flagged, o.flagged == 1 ? "" : "s");
        status = o.flagged ? EXIT_FAILED : EXIT_OK;
    }
    table_free(o.t);
    g_ptr_array_unref(ra);
    g_ptr_array_unref(rb);
    trace_close(ta);
    trace_close(tb);
    return status;
}
