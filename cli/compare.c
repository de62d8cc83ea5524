#include "compare.h"

#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "html.h"
#include "run.h"
#include "stats.h"
#include "trace.h"

#define RESAMPLES 10000
#define BOOT_SEED 20261122

/* ---- the runs of a DB ---- */

typedef struct {
    int64_t id;
    uint64_t seed;
    char *point;        /* the overrides that vary among the DB's runs */
    char *scenario;     /* name and a hash of its text: what was run */
    bool complete;
    bool before_latency; /* written by a build before 0.3.0, which wrote no op., break., disconnect. metrics */
    GHashTable *metrics; /* name -> double*, the run's metrics and compare's own */
} RunKey;

static void runkey_free(gpointer p)
{
    RunKey *k = p;
    g_free(k->point);
    g_free(k->scenario);
    if (k->metrics)
        g_hash_table_unref(k->metrics);
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

static void put(GHashTable *m, const char *name, double v)
{
    double *d = g_new(double, 1);
    *d = v;
    g_hash_table_insert(m, g_strdup(name), d);
}

/* A run's metrics, and compare's own: run.failed (it did not complete),
 * run.expectations_failed. */
static GHashTable *run_metrics(sqlite3 *db, const RunKey *k)
{
    GHashTable *m = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name, value FROM metrics WHERE run_id = ? AND value IS NOT NULL", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, k->id);
        while (sqlite3_step(st) == SQLITE_ROW)
            put(m, (const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1));
        sqlite3_finalize(st);
    }
    put(m, "run.failed", k->complete ? 0 : 1);
    double failed = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM expectations WHERE run_id = ? AND NOT passed", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, k->id);
        if (sqlite3_step(st) == SQLITE_ROW)
            failed = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    put(m, "run.expectations_failed", failed);
    return m;
}

/* Every run of the DB, whatever its status (a failed run is a result).  A
 * run's parameter point is made of the overrides that vary among the DB's
 * runs: overrides every run shares (the change under test, given with
 * --set or a one-value --vary) do not take part, so that base and new
 * runs pair up. */
static GPtrArray *load_runs(sqlite3 *db)
{
    GPtrArray *runs = g_ptr_array_new_with_free_func(runkey_free);
    GPtrArray *points = g_ptr_array_new_with_free_func(g_free);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "SELECT run_id, seed, overrides, scenario_name, scenario_text, status, rdrsim_version FROM runs "
                       "ORDER BY run_id",
                       -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        RunKey *k = g_new0(RunKey, 1);
        k->id = sqlite3_column_int64(st, 0);
        k->seed = (uint64_t)sqlite3_column_int64(st, 1);
        g_ptr_array_add(points, report_point_of((const char *)sqlite3_column_text(st, 2)));
        const char *text = (const char *)sqlite3_column_text(st, 4);
        char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text ? text : "", -1);
        k->scenario = g_strdup_printf("%s (text sha256 %.12s)", (const char *)sqlite3_column_text(st, 3), hash);
        g_free(hash);
        k->complete = g_strcmp0((const char *)sqlite3_column_text(st, 5), "complete") == 0;
        const char *version = (const char *)sqlite3_column_text(st, 6);
        int major = 0, minor = 0;
        k->before_latency = !version || sscanf(version, "%d.%d", &major, &minor) != 2 ||
                            (major == 0 && minor < 3);
        g_ptr_array_add(runs, k);
    }
    sqlite3_finalize(st);
    for (guint i = 0; i < runs->len; i++) {
        RunKey *k = g_ptr_array_index(runs, i);
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
        k->point = g_string_free(p, FALSE);
        k->metrics = run_metrics(db, k);
    }
    g_ptr_array_unref(points);
    return runs;
}

/* The one scenario every run of a DB is of, or NULL when they differ. */
static const char *scenario_of(GPtrArray *runs)
{
    const char *s = NULL;
    for (guint i = 0; i < runs->len; i++) {
        const RunKey *k = g_ptr_array_index(runs, i);
        if (s && strcmp(s, k->scenario) != 0)
            return NULL;
        s = k->scenario;
    }
    return s;
}

/* ---- which metrics, and which way is worse ---- */

typedef enum { DIR_NONE, DIR_UP_IS_WORSE } Direction;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* More is worse for: times (`*_ns`), things that did not complete
 * (time-outs, cancellations, pending at the end, and their shares),
 * retransmissions, error statuses, failed runs and expectations.  The
 * rest (counts of what was done, bytes) is shown, never flagged: more
 * work done is not a regression. */
static Direction direction_of(const char *name)
{
    static const char *const worse_suffixes[] = {
        "_ns", ".timed_out", ".timed_out_share", ".cancelled", ".cancelled_share", ".pending", ".pending_share",
        ".retransmits",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(worse_suffixes); i++)
        if (ends_with(name, worse_suffixes[i]))
            return DIR_UP_IS_WORSE;
    if (g_str_has_prefix(name, "status.") && strcmp(name, "status.STATUS_GRACEFUL_DISCONNECT") != 0)
        return DIR_UP_IS_WORSE;
    if (strcmp(name, "tdi.timeouts") == 0 || strcmp(name, "run.failed") == 0 ||
        strcmp(name, "run.expectations_failed") == 0 || strcmp(name, "sim.events") == 0)
        return DIR_UP_IS_WORSE;
    return DIR_NONE;
}

/* What a metric is for printing: a time, a share, or a count. */
typedef enum { UNIT_NS, UNIT_SHARE, UNIT_COUNT } Unit;

static Unit unit_of(const char *name)
{
    if (ends_with(name, "_ns"))
        return UNIT_NS;
    if (ends_with(name, "_share"))
        return UNIT_SHARE;
    return UNIT_COUNT;
}

/* Times in ms or s, shares in percent, counts as whole numbers. */
static char *fmt_value(double v, Unit u, bool sign)
{
    if (isnan(v))
        return g_strdup("");
    const char *plus = sign && v > 0 ? "+" : "";
    switch (u) {
    case UNIT_NS: {
        /* ms below a second, s from there; at least three significant digits */
        double a = fabs(v);
        if (a >= 1e9)
            return g_strdup_printf("%s%.*f s", plus, a >= 100e9 ? 1 : 3, v / 1e9);
        int decimals = v == 0 ? 0 : a >= 100e6 ? 1 : a >= 10e6 ? 2 : a >= 1e6 ? 3 : a >= 1e3 ? 4 : 6;
        return g_strdup_printf("%s%.*f ms", plus, decimals, v / 1e6);
    }
    case UNIT_SHARE:
        return g_strdup_printf("%s%.2f%%", plus, 100 * v);
    default:
        if (v == floor(v) && fabs(v) < 1e15)
            return g_strdup_printf("%s%.0f", plus, v);
        return g_strdup_printf("%s%.2f", plus, v);
    }
}

/* A shown change as the HTML page draws it: relative to the base, in %. */
typedef struct {
    char *name;
    double rel, lo, hi;
    int verdict; /* 0 neither, 1 regression, 2 improvement */
} Drawn;

typedef struct {
    Table *t;
    int flagged;
    const CompareOptions *opt;
    bool asked;        /* --metric given */
    int unchanged;     /* rows left out as the same on both sides (without --all) */
    GArray *drawn;     /* Drawn, for the HTML page */
} Out;

/* Which metrics take part: with --metric, those it names; else every one
 * but the simulator's own (sim.*), which are shown and never flagged. */
static bool selected(const Out *o, const char *name)
{
    if (!o->asked)
        return true;
    for (char *const *p = o->opt->metrics; *p; p++)
        if (g_pattern_match_simple(*p, name))
            return true;
    return false;
}

static bool gated(const Out *o, const char *name)
{
    if (direction_of(name) == DIR_NONE)
        return false;
    return o->asked || !g_str_has_prefix(name, "sim.");
}

/* lo, hi: the interval of the difference (NAN: none; equal: one exact difference). */
static void add_row(Out *o, const char *name, int n, double base, double nw, double lo, double hi, const char *ci,
                    const char *verdict)
{
    if (strcmp(verdict, "same") == 0 && !o->opt->all) {
        o->unchanged++;
        return;
    }
    Unit u = unit_of(name);
    double delta = nw - base;
    double rel = base != 0 ? delta / fabs(base) : (delta > 0 ? INFINITY : delta < 0 ? -INFINITY : 0);
    if (isfinite(rel) && base != 0 && !isnan(lo)) {
        Drawn d = { g_strdup(name), 100 * rel, 100 * lo / fabs(base), 100 * hi / fabs(base),
                    g_str_has_prefix(verdict, "REGRESSION") ? 1 : strcmp(verdict, "improved") == 0 ? 2 : 0 };
        g_array_append_val(o->drawn, d);
    }
    char *cells[] = { g_strdup(name), g_strdup_printf("%d", n), fmt_value(base, u, false), fmt_value(nw, u, false),
                      fmt_value(delta, u, true),
                      isnan(rel) ? g_strdup("")
                      : isinf(rel) ? g_strdup(rel > 0 ? "+inf" : "-inf")
                                   : g_strdup_printf("%+.1f%%", 100 * rel),
                      g_strdup(ci ? ci : ""), g_strdup(verdict), NULL };
    table_add(o->t, g_strdupv(cells));
    for (int i = 0; cells[i]; i++)
        g_free(cells[i]);
}

/* The verdict on a change whose interval of the difference is [lo, hi]
 * (lo == hi: a deterministic difference). */
static const char *verdict_of(Out *o, const char *name, double base, double delta, double lo, double hi,
                              bool deterministic)
{
    double rel = base != 0 ? delta / fabs(base) : (delta > 0 ? INFINITY : delta < 0 ? -INFINITY : 0);
    if (!gated(o, name)) {
        if (delta == 0 && lo == 0 && hi == 0)
            return "same";
        return g_str_has_prefix(name, "sim.") && !o->asked ? "shown (sim.*: not gated)" : "changed (not gated)";
    }
    if (lo > 0 && rel > o->opt->threshold) {
        o->flagged++;
        return deterministic ? "REGRESSION (deterministic, one seed)" : "REGRESSION";
    }
    if (lo > 0)
        return "worse, within threshold";
    if (hi < 0 && -rel > o->opt->threshold)
        return "improved";
    if (hi < 0)
        return "better, within threshold";
    return deterministic ? "same" : "no significant change";
}

typedef struct {
    RunKey *a, *b;
} Pair;

/* The completion-time metrics every run writes since 0.3.0: a run of an
 * older build did not measure them, which is not a count of 0. */
static bool latency_family(const char *name)
{
    return g_str_has_prefix(name, "op.") || g_str_has_prefix(name, "break.") || g_str_has_prefix(name, "disconnect.");
}

/* Runs paired by (point, seed): each metric present on either side of any
 * pair.  A count or share absent on one side is 0 there (an error status
 * that appears only with the change is compared with 0); a time absent on
 * one side (nothing of that kind completed) leaves that pair out of the
 * time's comparison: what did not complete is counted by its own metrics
 * (pending, timed_out). */
static void compare_pairs(Out *o, GArray *pairs)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < pairs->len; i++) {
        Pair *p = &g_array_index(pairs, Pair, i);
        GHashTable *sides[] = { p->a->metrics, p->b->metrics };
        for (int s = 0; s < 2; s++) {
            GHashTableIter it;
            gpointer k;
            g_hash_table_iter_init(&it, sides[s]);
            while (g_hash_table_iter_next(&it, &k, NULL))
                if (selected(o, k))
                    g_hash_table_add(seen, k);
        }
    }
    GList *names = g_list_sort(g_hash_table_get_keys(seen), (GCompareFunc)strcmp);
    bool single = pairs->len == 1;
    for (GList *n = names; n; n = n->next) {
        const char *name = n->data;
        bool is_time = unit_of(name) == UNIT_NS;
        GArray *d = g_array_new(FALSE, FALSE, sizeof(double));
        double sa = 0, sb = 0;
        int only_a = 0, only_b = 0, unmeasured = 0;
        for (guint i = 0; i < pairs->len; i++) {
            Pair *p = &g_array_index(pairs, Pair, i);
            if (latency_family(name) && (p->a->before_latency || p->b->before_latency)) {
                unmeasured++;
                continue;
            }
            double *va = g_hash_table_lookup(p->a->metrics, name), *vb = g_hash_table_lookup(p->b->metrics, name);
            if (is_time && (!va || !vb)) {
                only_a += va != NULL;
                only_b += vb != NULL;
                continue;
            }
            double x = va ? *va : 0, y = vb ? *vb : 0, diff = y - x;
            g_array_append_val(d, diff);
            sa += x;
            sb += y;
        }
        if (d->len == 0) {
            add_row(o, name, 0, NAN, NAN, NAN, NAN, NULL,
                    unmeasured ? "not measured by one side's build (before 0.3.0)"
                    : only_a   ? "only in base (none completed in new)"
                               : "only in new (none completed in base)");
        } else {
            double ma = sa / d->len, mb = sb / d->len, lo, hi;
            char *ci = NULL;
            if (single || d->len < 2) {
                lo = hi = mb - ma;
            } else {
                stats_bootstrap_mean((double *)(void *)d->data, d->len, o->opt->alpha, BOOT_SEED, RESAMPLES, &lo,
                                     &hi);
                Unit u = unit_of(name);
                char *l = fmt_value(lo, u, true), *h = fmt_value(hi, u, true);
                ci = g_strdup_printf("[%s, %s]", l, h);
                g_free(l), g_free(h);
            }
            bool all_zero = true;
            for (guint i = 0; i < d->len; i++)
                all_zero = all_zero && g_array_index(d, double, i) == 0;
            const char *v = all_zero ? "same" : verdict_of(o, name, ma, mb - ma, lo, hi, single || d->len < 2);
            add_row(o, name, (int)d->len, ma, mb, lo, hi, ci, v);
            g_free(ci);
        }
        g_array_unref(d);
    }
    g_list_free(names);
    g_hash_table_unref(seen);
}

/* ---- one run a side with different seeds: the samples inside the runs ---- */

/* Samples inside one run: name, then the query giving them (?1 the run,
 * ?2 an operation kind where the name has %s); completions only. */
/* A name with %s is one metric per kind, the kinds from the third query
 * (the first trace's). */
static const char *const sample_sets[][3] = {
    { "disconnect.release.median_ns", "SELECT t_done_ns - t_start_ns FROM disconnects WHERE run_id = ?1 AND "
                                      "mode = 'release' AND t_done_ns IS NOT NULL AND "
                                      "outcome IS NOT 'STATUS_REQUEST_TIMED_OUT'", NULL },
    { "break.median_ns", "SELECT t_acked_ns - t_sent_ns FROM oplock_breaks WHERE run_id = ?1 AND "
                         "t_acked_ns IS NOT NULL", NULL },
    { "op.%s.median_ns", "SELECT t_done_ns - t_start_ns FROM ops WHERE run_id = ?1 AND op = ?2 AND "
                         "t_done_ns IS NOT NULL AND status NOT IN ('STATUS_IO_TIMEOUT', 'STATUS_CANCELLED', "
                         "'STATUS_REQUEST_TIMED_OUT', 'STATUS_LINK_TIMEOUT')",
      "SELECT DISTINCT op FROM ops WHERE run_id = ? ORDER BY op" },
    /* an HTTP request to its response (the WebDAV redirector's requests) */
    { "http.%s.median_ns", "SELECT r.t_ns - q.t_ns FROM http_messages q JOIN http_messages r ON r.run_id = q.run_id "
                           "AND r.conn = q.conn AND r.request = q.request AND r.is_response WHERE q.run_id = ?1 AND "
                           "NOT q.is_response AND q.method = ?2",
      "SELECT DISTINCT method FROM http_messages WHERE run_id = ? ORDER BY method" },
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

/* Operation kinds of a run, sorted. */
static GPtrArray *op_kinds(sqlite3 *db, int64_t run, const char *sql)
{
    GPtrArray *ops = g_ptr_array_new_with_free_func(g_free);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
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
    if (sa->len >= 2 && sb->len >= 2 && selected(o, name)) {
        double lo, hi;
        const double *da = (const double *)(void *)sa->data, *db = (const double *)(void *)sb->data;
        stats_bootstrap_median_diff(da, sa->len, db, sb->len, o->opt->alpha, BOOT_SEED, RESAMPLES, &lo, &hi);
        double ma = stats_quantile(da, sa->len, 0.5), mb = stats_quantile(db, sb->len, 0.5);
        char *l = fmt_value(lo, UNIT_NS, true), *h = fmt_value(hi, UNIT_NS, true);
        char *ci = g_strdup_printf("[%s, %s]", l, h);
        add_row(o, name, (int)MIN(sa->len, sb->len), ma, mb, lo, hi, ci,
                verdict_of(o, name, ma, mb - ma, lo, hi, false));
        g_free(l), g_free(h), g_free(ci);
    }
    g_array_unref(sa);
    g_array_unref(sb);
}

/* Different seeds leave nothing to pair: what can be compared is the
 * distribution of completion times inside each run (a bootstrap interval
 * of the difference of medians); the runs' other metrics are shown without
 * a verdict. */
static void compare_unpaired(Out *o, sqlite3 *a, sqlite3 *b, RunKey *x, RunKey *y)
{
    for (size_t i = 0; i < G_N_ELEMENTS(sample_sets); i++) {
        if (!strstr(sample_sets[i][0], "%s")) {
            compare_samples(o, a, b, x, y, sample_sets[i][0], sample_sets[i][1], NULL);
            continue;
        }
        GPtrArray *ops = op_kinds(a, x->id, sample_sets[i][2]);
        for (guint k = 0; k < ops->len; k++) {
            char *name = g_strdup_printf(sample_sets[i][0], (char *)g_ptr_array_index(ops, k));
            compare_samples(o, a, b, x, y, name, sample_sets[i][1], g_ptr_array_index(ops, k));
            g_free(name);
        }
        g_ptr_array_unref(ops);
    }
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
    { "HTTP message", "SELECT t_ns, node || '->' || peer || ' ' || method || ' ' || path || CASE WHEN is_response "
                      "THEN ' response ' || status ELSE ' request' END || ' #' || request || ' ' || bytes || ' B' "
                      "FROM http_messages WHERE run_id = ? ORDER BY rowid" },
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

/* ---- the HTML page ---- */

#define MAX_DRAWN 60

/* The shown changes, relative to the base, each with its interval: a row
 * per metric, the threshold either side of zero. */
static void intervals_figure(HtmlPage *h, const Out *o)
{
    guint n = MIN(o->drawn->len, MAX_DRAWN);
    if (!n) {
        html_paragraph(h, "No change to draw: no metric with a nonzero base changed.");
        return;
    }
    GString *gp = g_string_new("");
    static const char *const colour[] = { "#555555", "#d62728", "#2ca02c" };
    for (int v = 0; v < 3; v++) {
        g_string_append_printf(gp, "$v%d << EOD\n", v);
        for (guint i = 0; i < n; i++) {
            const Drawn *d = &g_array_index(o->drawn, Drawn, i);
            if (d->verdict == v)
                g_string_append_printf(gp, "%.9g %u %.9g %.9g\n", d->rel, n - 1 - i, MIN(d->lo, d->hi),
                                       MAX(d->lo, d->hi));
        }
        g_string_append(gp, "EOD\n");
    }
    double th = 100 * o->opt->threshold;
    g_string_append(gp, "set ytics (");
    for (guint i = 0; i < n; i++) {
        const Drawn *d = &g_array_index(o->drawn, Drawn, i);
        g_string_append_printf(gp, "%s'%s' %u", i ? ", " : "", d->name, n - 1 - i);
    }
    g_string_append_printf(gp, ")\nset yrange [-0.7:%u.7]\nset grid xtics\nset xlabel 'change from the base (%%), "
                               "with its %.0f%% interval'\nset title 'Paired differences, relative to the base'\n"
                               "set offsets graph 0.05, graph 0.05, 0, 0\nset key outside top center horizontal maxcols 3 box\n"
                               "set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb '#000000'\n"
                               "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc rgb '#d62728'\n"
                               "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc rgb '#2ca02c'\n",
                           n - 1, 100 * (1 - o->opt->alpha), th, th, -th, -th);
    g_string_append(gp, "plot ");
    static const char *const title[] = { "no verdict beyond the threshold", "REGRESSION", "improved" };
    for (int v = 0; v < 3; v++)
        g_string_append_printf(gp, "%s$v%d using 1:2:3:4 with xerrorbars pt 7 ps 1 lw 2 lc rgb '%s' title '%s'",
                               v ? ", " : "", v, colour[v], title[v]);
    char *thr = g_strdup_printf(", NaN with lines dt 2 lc rgb '#d62728' title 'threshold +%.1f%%', NaN with lines "
                                "dt 2 lc rgb '#2ca02c' title 'threshold -%.1f%%'\n",
                                th, th);
    g_string_append(gp, thr);
    g_free(thr);
    char *more = o->drawn->len > n ? g_strdup_printf("; the first %d of %u", MAX_DRAWN, o->drawn->len) : g_strdup("");
    char *cap = g_strdup_printf("Each shown metric's change from the base: the mean paired difference (or the exact "
                                "one, with one pair) as a point, its interval as a bar; dashed, the threshold%s",
                                more);
    g_free(more);
    html_script_figure(h, 1000, (int)MAX(260, 150 + 22 * n), gp->str, cap);
    g_free(cap);
    g_string_free(gp, TRUE);
}

static bool html_page(Out *o, FILE *out, const char *notes, sqlite3 *a, sqlite3 *b, GPtrArray *ra, GPtrArray *rb)
{
    char *title = g_strdup_printf("rdrsim compare: %s -> %s", o->opt->base, o->opt->new_db), *err = NULL;
    HtmlPage *h = html_begin(out, title, &err);
    g_free(title);
    if (!h) {
        fprintf(stderr, "rdrsim compare: %s\n", err);
        g_free(err);
        return false;
    }
    char *verdict = g_strdup_printf("%d regression%s flagged (threshold %.1f%%).", o->flagged,
                                    o->flagged == 1 ? "" : "s", 100 * o->opt->threshold);
    html_heading(h, 2, verdict);
    g_free(verdict);
    char **lines = g_strsplit(notes, "\n", -1);
    for (char **l = lines; *l; l++)
        if (**l)
            html_paragraph(h, *l);
    g_strfreev(lines);
    table_print(o->t, FMT_HTML, html_out(h));
    intervals_figure(h, o);
    /* the first divergence, as the text report says it */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem) {
        divergence(mem, a, b, ra, rb);
        fclose(mem);
        if (len) {
            html_heading(h, 2, "Where the traces part");
            html_pre(h, text);
        }
        free(text);
    }
    html_end(h);
    return true;
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
    GString *notes = g_string_new("");
    GArray *pairs = g_array_new(FALSE, FALSE, sizeof(Pair));
    static const char *const h[] = { "metric", "n", "base", "new", "delta", "rel", "CI of delta", "verdict" };
    char *title = g_strdup_printf("%s -> %s: threshold %.1f%%", opt->base, opt->new_db, 100 * opt->threshold);
    Out o = { table_new(title, 8, h), 0, opt, opt->metrics != NULL, 0, g_array_new(FALSE, FALSE, sizeof(Drawn)) };
    g_free(title);
    const char *sa = scenario_of(ra), *sb = scenario_of(rb);

    if (ra->len == 0 || rb->len == 0) {
        fprintf(stderr, "rdrsim compare: %s holds no run\n", ra->len == 0 ? opt->base : opt->new_db);
        status = EXIT_BAD_INPUT;
        goto done;
    }
    /* Two traces of different scenarios say nothing of a change. */
    if (!sa || !sb || strcmp(sa, sb) != 0) {
        const char *why = !sa ? "BASE holds runs of several scenarios"
                          : !sb ? "NEW holds runs of several scenarios"
                                : "they are runs of different scenarios";
        if (!opt->force) {
            fprintf(stderr, "rdrsim compare: refusing to compare %s and %s: %s (base: %s; new: %s); --force compares "
                            "anyway\n",
                    opt->base, opt->new_db, why, sa ? sa : "several", sb ? sb : "several");
            status = EXIT_BAD_INPUT;
            goto done;
        }
        g_string_append_printf(notes, "--force: compared although %s (base: %s; new: %s).\n", why,
                               sa ? sa : "several", sb ? sb : "several");
    }
    bool *used = g_new0(bool, rb->len);
    for (guint i = 0; i < ra->len; i++) {
        RunKey *x = g_ptr_array_index(ra, i);
        for (guint j = 0; j < rb->len; j++) {
            RunKey *y = g_ptr_array_index(rb, j);
            if (!used[j] && x->seed == y->seed && strcmp(x->point, y->point) == 0) {
                used[j] = true;
                Pair p = { x, y };
                g_array_append_val(pairs, p);
                break;
            }
        }
    }
    g_free(used);
    if (pairs->len == 1) {
        Pair *p = &g_array_index(pairs, Pair, 0);
        g_string_append_printf(notes,
                               "One run a side, seed %llu: the runs are deterministic, so each difference is exact "
                               "for this seed, and one beyond the threshold in a metric where more is worse is a "
                               "regression. A seed sweep (--runs R on both sides) gives intervals.\n",
                               (unsigned long long)p->a->seed);
    } else if (pairs->len > 1) {
        g_string_append_printf(notes,
                               "%u pairs of runs with the same parameters and seed: mean paired differences with "
                               "%.0f%% bootstrap intervals; a regression is an interval above zero and a mean change "
                               "beyond the threshold in a metric where more is worse.\n",
                               pairs->len, 100 * (1 - opt->alpha));
    }
    if (pairs->len && (pairs->len < ra->len || pairs->len < rb->len))
        g_string_append_printf(notes, "Left out, with no partner of the same parameters and seed: %u base and %u new "
                                      "run(s).\n",
                               ra->len - pairs->len, rb->len - pairs->len);
    if (pairs->len) {
        compare_pairs(&o, pairs);
    } else if (ra->len == 1 && rb->len == 1) {
        RunKey *x = g_ptr_array_index(ra, 0), *y = g_ptr_array_index(rb, 0);
        g_string_append_printf(notes,
                               "One run a side with different seeds (%llu and %llu): nothing pairs, so only the "
                               "completion times inside the runs are compared (bootstrap intervals of the difference "
                               "of medians). Run both sides with the same seed for a full comparison.\n",
                               (unsigned long long)x->seed, (unsigned long long)y->seed);
        compare_unpaired(&o, a, b, x, y);
    } else {
        fprintf(stderr,
                "rdrsim compare: cannot pair the runs: %u and %u runs, none with the same parameters and seed "
                "(run both sides with the same seeds)\n",
                ra->len, rb->len);
        status = EXIT_BAD_INPUT;
        goto done;
    }
    if (o.unchanged)
        g_string_append_printf(notes, "%d metric%s the same on both sides, not shown (--all shows them).\n",
                               o.unchanged, o.unchanged == 1 ? " is" : "s are");
    if (opt->fmt == FMT_HTML) {
        if (!html_page(&o, out, notes->str, a, b, ra, rb)) {
            status = EXIT_INTERNAL;
            goto done;
        }
    } else {
        fputs(notes->str, out);
        table_print(o.t, opt->fmt, out);
        divergence(out, a, b, ra, rb);
        fprintf(out, "%d regression%s flagged\n", o.flagged, o.flagged == 1 ? "" : "s");
    }
    status = o.flagged ? EXIT_FAILED : EXIT_OK;
done:
    g_string_free(notes, TRUE);
    g_array_unref(pairs);
    table_free(o.t);
    for (guint i = 0; i < o.drawn->len; i++)
        g_free(g_array_index(o.drawn, Drawn, i).name);
    g_array_unref(o.drawn);
    g_ptr_array_unref(ra);
    g_ptr_array_unref(rb);
    trace_close(ta);
    trace_close(tb);
    return status;
}
