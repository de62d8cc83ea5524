#include "expect.h"

#include <glib.h>
#include <math.h>
#include <string.h>

/* A query of an `expect` or `metric` line must compile against the trace's
 * schema, be one read-only statement and return a value. */
static void check_query(sqlite3 *db, Scenario *sc, int line, int col, const char *sql)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) != SQLITE_OK)
        scenario_error(sc, line, col, "query does not compile: %s", sqlite3_errmsg(db));
    else if (!st)
        scenario_error(sc, line, col, "expected a query, got an empty string");
    else if (tail && *tail && strspn(tail, " \t\r\n;") != strlen(tail))
        scenario_error(sc, line, col, "expected one query, got several statements");
    else if (!sqlite3_stmt_readonly(st))
        scenario_error(sc, line, col, "expected a query that only reads the trace");
    else if (sqlite3_column_count(st) < 1)
        scenario_error(sc, line, col, "expected a query that returns a value");
    sqlite3_finalize(st);
}

void expect_validate(Scenario *sc)
{
    if (sc->expects->len == 0 && sc->metrics->len == 0)
        return;
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_exec(db, trace_schema_sql(), NULL, NULL, NULL) != SQLITE_OK)
        g_error("expect: cannot build the trace schema in memory: %s", sqlite3_errmsg(db));
    for (guint i = 0; i < sc->metrics->len; i++) {
        UserMetric *m = g_ptr_array_index(sc->metrics, i);
        check_query(db, sc, m->line, m->sql_col, m->sql);
    }
    for (guint i = 0; i < sc->expects->len; i++) {
        Expect *e = g_ptr_array_index(sc->expects, i);
        check_query(db, sc, e->line, e->sql_col, e->sql);
    }
    sqlite3_close(db);
}

static uint64_t step_limit = EXPECT_DEFAULT_STEPS;

void expect_set_step_limit(uint64_t steps)
{
    step_limit = steps;
}

/* The progress handler is called every PROGRESS_EVERY steps; a non-zero
 * return interrupts the query.  The wall clock is read here, after the
 * run, never inside the model. */
#define PROGRESS_EVERY 1000

typedef struct {
    uint64_t left;    /* VM steps */
    gint64 deadline;  /* monotonic microseconds */
    bool out_of_time;
} Budget;

static int over_budget(void *ctx)
{
    Budget *b = ctx;
    if (g_get_monotonic_time() > b->deadline) {
        b->out_of_time = true;
        return 1;
    }
    if (b->left < PROGRESS_EVERY)
        return 1;
    b->left -= PROGRESS_EVERY;
    return 0;
}

/* Compare with a relative tolerance: values computed in floating point
 * (averages, ratios) should not fail on their last bit. */
static int num_cmp(double a, double b)
{
    double tol = 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
    if (fabs(a - b) <= tol)
        return 0;
    return a < b ? -1 : 1;
}

static bool holds(ExpectOp op, int cmp)
{
    switch (op) {
    case EXPECT_EQ: return cmp == 0;
    case EXPECT_NE: return cmp != 0;
    case EXPECT_LT: return cmp < 0;
    case EXPECT_LE: return cmp <= 0;
    case EXPECT_GT: return cmp > 0;
    case EXPECT_GE: return cmp >= 0;
    }
    return false;
}

static bool run_first(sqlite3 *db, const char *sql, char **actual, int *type, double *num)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        *actual = g_strdup(sqlite3_errmsg(db));
        return false;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *type = sqlite3_column_type(st, 0);
        *num = sqlite3_column_double(st, 0);
        if (*type != SQLITE_NULL)
            *actual = g_strdup((const char *)sqlite3_column_text(st, 0));
    } else if (rc != SQLITE_DONE) {
        *actual = g_strdup(sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

/* Run one query; *actual gets its first value as text (NULL for SQL NULL
 * or no row), within the scenario's time budget and the step limit.
 * Returns false on a runtime error, with *actual the message. */
static bool first_value(sqlite3 *db, const Scenario *sc, const char *sql, char **actual, int *type, double *num)
{
    *actual = NULL;
    *type = SQLITE_NULL;
    SimTime budget = scenario_query_budget(sc);
    Budget b = { step_limit, g_get_monotonic_time() + budget / 1000, false };
    sqlite3_progress_handler(db, PROGRESS_EVERY, over_budget, &b);
    bool ok = run_first(db, sql, actual, type, num);
    sqlite3_progress_handler(db, 0, NULL, NULL);
    if (!ok && b.out_of_time) {
        char *t = units_format_time(budget);
        g_free(*actual);
        *actual = g_strdup_printf("stopped after its time budget of %s (the scenario key query_budget sets it)", t);
        g_free(t);
    }
    return ok;
}

static bool judge(const Expect *e, const char *actual, int type, double num)
{
    if (!e->value || !actual)
        return holds(e->op, (e->value == NULL) == (actual == NULL) ? 0 : 1);
    if (e->numeric) {
        if (type == SQLITE_TEXT && !units_parse_any(actual, &num))
            return false;
        return holds(e->op, num_cmp(num, e->number));
    }
    int c = strcmp(actual, e->value);
    return holds(e->op, c < 0 ? -1 : c > 0);
}

/* Queries see the run's own rows only (every table and view narrowed to it). */
static bool scope(Trace *tr, const Scenario *sc, FILE *out, const char *what)
{
    char *err = NULL;
    if (trace_scope_to_run(tr, trace_run_id(tr), &err))
        return true;
    fprintf(out, "%s: cannot evaluate %s: %s\n", sc->path, what, err);
    g_free(err);
    return false;
}

int expect_evaluate(Trace *tr, const Scenario *sc, FILE *out, int *passed)
{
    int failed = 0;
    *passed = 0;
    if (sc->expects->len == 0)
        return 0;
    if (!scope(tr, sc, out, "expectations"))
        return (int)sc->expects->len;
    for (guint i = 0; i < sc->expects->len; i++) {
        const Expect *e = g_ptr_array_index(sc->expects, i);
        char *actual;
        int type;
        double num = 0;
        bool ran = first_value(trace_db(tr), sc, e->sql, &actual, &type, &num);
        bool ok = ran && judge(e, actual, type, num);
        const char *shown = e->value ? e->value : "null";
        if (ok) {
            (*passed)++;
        } else {
            failed++;
            if (!ran)
                fprintf(out, "%s:%d:%d: expectation failed: query error: %s\n    query:    %s\n", sc->path,
                        e->line, e->col, actual, e->sql);
            else
                fprintf(out,
                        "%s:%d:%d: expectation failed\n    query:    %s\n    expected: %s %s\n    actual:   %s\n",
                        sc->path, e->line, e->col, e->sql, expect_op_name(e->op), shown,
                        actual ? actual : "null");
        }
        trace_expectation(tr, e->line, e->sql, expect_op_name(e->op), shown, ran ? actual : NULL, ok);
        g_free(actual);
    }
    trace_unscope(tr);
    return failed;
}

int expect_metrics(Trace *tr, const Scenario *sc, FILE *out)
{
    int failed = 0;
    if (sc->metrics->len == 0)
        return 0;
    if (!scope(tr, sc, out, "metrics"))
        return (int)sc->metrics->len;
    for (guint i = 0; i < sc->metrics->len; i++) {
        const UserMetric *m = g_ptr_array_index(sc->metrics, i);
        char *actual, *why = NULL;
        int type;
        double num = 0;
        bool ran = first_value(trace_db(tr), sc, m->sql, &actual, &type, &num);
        if (!ran)
            why = g_strdup_printf("query error: %s", actual);
        else if (!actual)
            why = g_strdup("the query gave no value (no row, or null)");
        else if (type == SQLITE_TEXT && !units_parse_any(actual, &num))
            why = g_strdup_printf("expected a number, got '%s'", actual);
        if (why) {
            failed++;
            fprintf(out, "%s:%d:%d: metric %s failed: %s\n    query:    %s\n", sc->path, m->line, m->col, m->name,
                    why, m->sql);
            /* a failed metric counts as a failed expectation of the run */
            char *what = g_strdup_printf("metric %s", m->name);
            trace_expectation(tr, m->line, m->sql, "metric", what, ran ? actual : why, false);
            g_free(what);
        } else {
            trace_metric(tr, m->name, num);
        }
        g_free(why);
        g_free(actual);
    }
    trace_unscope(tr);
    return failed;
}
