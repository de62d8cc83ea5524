/* The trace: round trip through the views, run scoping, refusing foreign
 * DBs without touching them. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "ntstatus.h"
#include "trace.h"

static char *tmp_path(const char *name)
{
    static char *dir;
    if (!dir)
        dir = g_dir_make_tmp("rdrsim-trace-XXXXXX", NULL);
    return g_build_filename(dir, name, NULL);
}

static char *query(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==, SQLITE_OK);
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = g_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

#define ASSERT_QUERY(db, sql, want)                 \
    do {                                            \
        char *got_ = query(db, sql);                \
        g_assert_cmpstr(got_, ==, want);            \
        g_free(got_);                               \
    } while (0)

static void write_run(Trace *tr, uint64_t seed, int packets)
{
    char *err = NULL;
    TraceRunInfo info = { "x.rsim", "x", "client c1", "", seed, TRACE_ALL };
    g_assert_true(trace_begin_run(tr, &info, &err));
    uint32_t link = trace_name(tr, "c1-srv"), c1 = trace_name(tr, "c1"), srv = trace_name(tr, "srv");
    uint32_t kind = trace_name(tr, "echo_request"), ok = trace_name(tr, "delivered"), lost = trace_name(tr, "lost");
    for (int i = 0; i < packets; i++)
        trace_packet(tr, &(TracePacket){ .t = i * 1000, .t_arrive = i % 10 ? i * 1000 + 500 : -1, .link = link, .src = c1, .dst = srv, .conn = 7, .bytes = 100, .kind = kind, .fate = i % 10 ? ok : lost, .hop = 1, .seq = -1, .ack = -1, .flags = -1 });
    trace_param(tr, "scenario.seed", "1");
    trace_metric(tr, "ping.sent", packets);
    g_assert_true(trace_end_run(tr, "complete", NULL, 123, packets, &err));
}

static void test_round_trip(void)
{
    char *path = tmp_path("round.db");
    char *err = NULL;
    Trace *tr = trace_open(path, &err);
    g_assert_nonnull(tr);
    /* More rows than one batch, so that batches commit in between. */
    write_run(tr, 1, 250000);
    sqlite3 *db = trace_db(tr);
    /* one run: no index (its run_id would select every row) */
    ASSERT_QUERY(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE '%_run%'", "0");
    write_run(tr, 2, 10);
    ASSERT_QUERY(db, "SELECT count(*) FROM packets WHERE run_id = 1", "250000");
    ASSERT_QUERY(db, "SELECT count(*) FROM packets WHERE run_id = 1 AND fate = 'lost'", "25000");
    ASSERT_QUERY(db, "SELECT link || ' ' || src || '>' || dst || ' ' || kind FROM packets LIMIT 1",
                 "c1-srv c1>srv echo_request");
    ASSERT_QUERY(db, "SELECT t_arrive_ns IS NULL FROM packets WHERE fate = 'lost' LIMIT 1", "1");
    ASSERT_QUERY(db, "SELECT value FROM metrics WHERE run_id = 2 AND name = 'ping.sent'", "10.0");
    ASSERT_QUERY(db, "SELECT status || ' ' || sim_end_ns || ' ' || events FROM runs WHERE run_id = 1",
                 "complete 123 250000");
    ASSERT_QUERY(db, "SELECT name FROM ntstatus WHERE code = 3221225653", "STATUS_IO_TIMEOUT");
    ASSERT_QUERY(db, "SELECT value FROM meta WHERE key = 'schema_version'", "1");
    /* two: every event table indexed by run and time, and the planner uses it */
    ASSERT_QUERY(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'packet_run_t'", "1");
    ASSERT_QUERY(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE '%_run%'", "11");
    ASSERT_QUERY(db, "SELECT count(*) FROM (SELECT * FROM pragma_index_info('packet_run_t'))", "2");
    sqlite3_stmt *plan;
    g_assert_cmpint(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT t_ns FROM packet WHERE run_id = 2 ORDER BY t_ns",
                                       -1, &plan, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(plan), ==, SQLITE_ROW);
    g_assert_nonnull(strstr((const char *)sqlite3_column_text(plan, 3), "USING COVERING INDEX packet_run_t"));
    sqlite3_finalize(plan);

    /* Scoped to a run, unqualified names see that run only. */
    g_assert_true(trace_scope_to_run(tr, 2, &err));
    ASSERT_QUERY(db, "SELECT count(*) FROM packets", "10");
    ASSERT_QUERY(db, "SELECT count(*) FROM packet", "10");
    ASSERT_QUERY(db, "SELECT count(*) FROM runs", "1");
    trace_unscope(tr);
    ASSERT_QUERY(db, "SELECT count(*) FROM packets", "250010");
    trace_close(tr);

    /* Reopened read-only, it is the same DB. */
    tr = trace_open_readonly(path, &err);
    g_assert_nonnull(tr);
    ASSERT_QUERY(trace_db(tr), "PRAGMA integrity_check", "ok");
    ASSERT_QUERY(trace_db(tr), "SELECT count(*) FROM runs", "2");
    trace_close(tr);
    g_free(path);
}

/* Rows written through the writer thread: more than the queue holds (the
 * model waits for the writer), names made in the middle of the rows (their
 * ids are the ones SQLite would give, after the names of an earlier run),
 * a query in the middle sees every row written before it, and the order
 * of rows is the order of the calls. */
static void test_writer_thread(void)
{
    char *path = tmp_path("writer.db");
    char *err = NULL;
    Trace *tr = trace_open(path, &err);
    g_assert_nonnull(tr);
    write_run(tr, 1, 10); /* names c1-srv ... lost, then ping.sent */
    TraceRunInfo info = { "x.rsim", "x", "client c1", "", 2, TRACE_ALL };
    g_assert_true(trace_begin_run(tr, &info, &err));
    g_assert_cmpuint(trace_name(tr, "c1"), ==, 2); /* known from run 1 */
    const int N = 300000;
    for (int i = 0; i < N; i++) {
        uint32_t kind = trace_name(tr, i % 1000 ? "echo_request" : (i % 2000 ? "odd" : "even"));
        trace_packet(tr, &(TracePacket){ .t = i, .t_arrive = -1, .link = 1, .src = 2, .dst = 3, .conn = i, .bytes = 100, .kind = kind, .fate = 0, .hop = 1, .seq = -1, .ack = -1, .flags = -1 });
        if (i == 150000) {
            /* a query in the middle: waits for the writer */
            char *n = query(trace_db(tr), "SELECT count(*) FROM packet WHERE run_id = 2");
            g_assert_cmpstr(n, ==, "150001");
            g_free(n);
        }
    }
    uint32_t fresh = trace_name(tr, "fresh");
    g_assert_true(trace_end_run(tr, "complete", NULL, N, N, &err));
    sqlite3 *db = trace_db(tr);
    ASSERT_QUERY(db, "SELECT count(*) FROM packet WHERE run_id = 2", "300000");
    /* rows in call order: rowid order is conn order */
    ASSERT_QUERY(db,
                 "SELECT count(*) FROM (SELECT conn, lag(conn) OVER (ORDER BY rowid) AS prev FROM packet "
                 "WHERE run_id = 2) WHERE prev IS NOT NULL AND conn != prev + 1",
                 "0");
    /* names: 7 from run 1 (six and ping.sent), then even (i = 0), odd, fresh in the order made */
    ASSERT_QUERY(db, "SELECT group_concat(name, ',') FROM (SELECT name FROM names WHERE id > 7 ORDER BY id)",
                 "even,odd,fresh");
    char *want = g_strdup_printf("%u", fresh);
    ASSERT_QUERY(db, "SELECT id FROM names WHERE name = 'fresh'", want);
    g_free(want);
    ASSERT_QUERY(db,
                 "SELECT count(*) FROM packet p JOIN names n ON n.id = p.kind WHERE p.run_id = 2 AND "
                 "n.name = 'odd'",
                 "150");
    trace_close(tr);
    g_free(path);
}

static void test_levels(void)
{
    char *path = tmp_path("levels.db");
    char *err = NULL;
    Trace *tr = trace_open(path, &err);
    TraceRunInfo info = { "x.rsim", "x", "", "", 1, TRACE_MESSAGES };
    g_assert_true(trace_begin_run(tr, &info, &err));
    trace_packet(tr, &(TracePacket){ .t = 0, .t_arrive = 1, .link = 1, .src = 1, .dst = 1, .conn = 0, .bytes = 1, .kind = 1, .fate = 1, .hop = 1, .seq = -1, .ack = -1, .flags = -1 }); /* below the level: dropped */
    trace_metric(tr, "m", 1);
    g_assert_true(trace_end_run(tr, "complete", NULL, 0, 0, &err));
    ASSERT_QUERY(trace_db(tr), "SELECT count(*) FROM packet", "0");
    ASSERT_QUERY(trace_db(tr), "SELECT count(*) FROM metric", "1");
    ASSERT_QUERY(trace_db(tr), "SELECT trace_level FROM runs", "messages");
    trace_close(tr);
    /* A NULL trace takes every call and does nothing. */
    trace_packet(NULL, &(TracePacket){ .t = 0, .t_arrive = 0, .link = 0, .src = 0, .dst = 0, .conn = 0, .bytes = 0, .kind = 0, .fate = 0, .hop = 1, .seq = -1, .ack = -1, .flags = -1 });
    trace_metric(NULL, "m", 1);
    g_assert_cmpuint(trace_name(NULL, "x"), ==, 0);
    TraceLevel l;
    g_assert_true(trace_parse_level("ops", &l) && l == TRACE_OPS);
    g_assert_false(trace_parse_level("everything", &l));
    g_free(path);
}

static void make_db(const char *path, const char *sql)
{
    sqlite3 *db;
    g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
    sqlite3_close(db);
}

static char *file_digest(const char *path)
{
    char *data;
    gsize len;
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guchar *)data, len);
    g_free(data);
    return sum;
}

static void assert_refused(const char *path, const char *msg)
{
    char *before = file_digest(path);
    char *err = NULL;
    g_assert_null(trace_open(path, &err));
    g_assert_nonnull(err);
    if (!strstr(err, msg))
        g_error("refusing %s: got '%s', expected '%s'", path, err, msg);
    g_free(err);
    char *after = file_digest(path);
    g_assert_cmpstr(before, ==, after); /* not a byte changed */
    g_free(before);
    g_free(after);
}

static void test_refuses_foreign(void)
{
    char *other = tmp_path("other.db");
    make_db(other, "CREATE TABLE accounts(id INTEGER, balance REAL); INSERT INTO accounts VALUES (1, 2.5);");
    assert_refused(other, "another program");

    char *future = tmp_path("future.db");
    make_db(future, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                    "INSERT INTO meta VALUES ('schema', 'rdrsim-trace'), ('schema_version', '99');");
    assert_refused(future, "schema version 99");

    char *text = tmp_path("notes.txt");
    g_file_set_contents(text, "this is not a database, just some text that is long enough to matter\n", -1, NULL);
    assert_refused(text, "not a SQLite database");

    char *err = NULL;
    char *missing = g_build_filename("/nonexistent-dir", "x.db", NULL);
    g_assert_null(trace_open(missing, &err));
    g_assert_nonnull(strstr(err, "cannot open"));
    g_free(err);
    err = NULL;
    g_assert_null(trace_open_readonly(missing, &err));
    g_free(err);
    g_free(missing);
    g_free(other);
    g_free(future);
    g_free(text);
}

static void test_ntstatus_names(void)
{
    g_assert_cmpstr(ntstatus_name(STATUS_SUCCESS), ==, "STATUS_SUCCESS");
    g_assert_cmpstr(ntstatus_name(0xC00000BC), ==, "STATUS_REMOTE_NOT_LISTENING");
    g_assert_cmpuint(STATUS_PENDING, ==, 0x103);
    g_assert_null(ntstatus_name(0x12345678));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/trace/round-trip", test_round_trip);
    g_test_add_func("/trace/levels", test_levels);
    g_test_add_func("/trace/writer-thread", test_writer_thread);
    g_test_add_func("/trace/refuses-foreign", test_refuses_foreign);
    g_test_add_func("/trace/ntstatus-names", test_ntstatus_names);
    return g_test_run();
}
