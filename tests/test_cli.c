/* The program as users meet it: exit statuses, messages, determinism, and
 * a run interrupted by a signal. */
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"

static const char good[] = "scenario good seed=3 stop=2s\n"
                           "client c1\nserver srv\n"
                           "link c1 srv latency=1ms jitter=exp(100us) loss=5%\n"
                           "at 0ms c1 ping srv count=100 interval=10ms\n"
                           "expect \"SELECT count(*) FROM packets WHERE kind = 'echo_request'\" = 100\n";

static void test_usage(void)
{
    char *out, *err;
    g_assert_cmpint(rdrsim(&out, NULL, "--version", NULL), ==, 0);
    g_assert_true(g_str_has_prefix(out, "rdrsim "));
    g_free(out);
    g_assert_cmpint(rdrsim(&out, NULL, "--help", NULL), ==, 0);
    g_assert_nonnull(strstr(out, "run FILE"));
    g_free(out);
    g_assert_cmpint(rdrsim(&out, NULL, "run", "--help", NULL), ==, 0);
    g_assert_nonnull(strstr(out, "--set"));
    g_free(out);
    g_assert_cmpint(rdrsim(&out, NULL, "check", "--help", NULL), ==, 0);
    g_free(out);
    g_assert_cmpint(rdrsim(NULL, NULL, NULL), ==, 2);
    g_assert_cmpint(rdrsim(NULL, &err, "fly", NULL), ==, 2);
    g_assert_nonnull(strstr(err, "unknown command 'fly'"));
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, &err, "run", NULL), ==, 2);
    g_assert_nonnull(strstr(err, "expected one scenario FILE"));
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, &err, "run", "--bogus", "x.rsim", NULL), ==, 2);
    g_free(err);
    char *s = write_scenario("good.rsim", good);
    g_assert_cmpint(rdrsim(NULL, &err, "run", "--trace=everything", s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "--trace"));
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, &err, "run", "--seed=-4", s, NULL), ==, 2);
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, &err, "run", "--max-events=0", s, NULL), ==, 2);
    g_free(err);
    g_free(s);
}

static void test_check(void)
{
    char *s = write_scenario("good.rsim", good), *err, *out;
    g_assert_cmpint(rdrsim(&out, NULL, "check", s, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "ok"));
    g_free(out);
    char *b = write_scenario("bad.rsim", "client c1\nserver srv\nlink c1 srv latency=fast\n");
    g_assert_cmpint(rdrsim(NULL, &err, "check", b, NULL), ==, 2);
    char *want = g_strdup_printf("%s:3:21: expected a time", b);
    g_assert_nonnull(strstr(err, want));
    g_free(want);
    g_free(err);
    /* Nothing runs and no DB appears for a bad scenario. */
    char *db = path_in("never.db");
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-o", db, b, NULL), ==, 2);
    g_assert_false(g_file_test(db, G_FILE_TEST_EXISTS));
    g_assert_cmpint(rdrsim(NULL, &err, "check", "--set", "link.c1-srv.loss=2", s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "--set link.c1-srv.loss"));
    g_free(err);
    g_free(db);
    g_free(b);
    g_free(s);
}

static void test_run_and_expectations(void)
{
    char *s = write_scenario("good.rsim", good), *db = path_in("good.db"), *out, *err;
    g_assert_cmpint(rdrsim(&out, NULL, "run", "-o", db, s, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "expectations: 1 passed, 0 failed"));
    g_free(out);
    ASSERT_QUERY(db, "SELECT status, seed FROM runs", "complete|3");
    ASSERT_QUERY(db, "SELECT passed FROM expectations", "1");
    ASSERT_QUERY(db, "PRAGMA integrity_check", "ok");

    /* The same file with another seed and a changed link: the run is
     * appended, and its expectation is judged on its own rows only. */
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", db, "--seed", "5", "--set", "link.c1-srv.loss=50%", s,
                           NULL),
                    ==, 0);
    ASSERT_QUERY(db, "SELECT run_id, seed, overrides FROM runs WHERE run_id = 2",
                 "2|5|link.c1-srv.loss=50% scenario.seed=5");
    ASSERT_QUERY(db, "SELECT value FROM params WHERE run_id = 2 AND name = 'link.c1-srv.loss'", "50%");

    char *f = write_scenario("fail.rsim", "client c1\nserver srv\nlink c1 srv\nat 0s c1 ping srv count=3\n"
                                          "expect \"SELECT count(*) FROM packets\" = 5\n"
                                          "expect \"SELECT count(*) FROM packets\" = 6\n");
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-o", db, f, NULL), ==, 1);
    g_assert_nonnull(strstr(err, "fail.rsim:5:1: expectation failed"));
    g_assert_nonnull(strstr(err, "expected: = 5"));
    g_assert_nonnull(strstr(err, "actual:   6"));
    g_assert_null(strstr(err, ":6:1:"));
    g_free(err);
    ASSERT_QUERY(db, "SELECT line, passed, actual FROM expectations WHERE run_id = 3", "5|0|6\n6|1|6");
    g_free(f);
    g_free(s);
    g_free(db);
}

/* `metric NAME "SQL"`: evaluated on the run's own trace at its end,
 * stored as a metric before the expectations (which may read it); a query
 * that fails or outruns its time budget fails the run, naming its line. */
static void test_user_metrics(void)
{
    char *s = write_scenario("metric.rsim",
                             "scenario um seed=3 stop=2s\nclient c1\nserver srv\nlink c1 srv latency=5ms\n"
                             "at 0ms c1 ping srv count=20 interval=10ms bytes=100\n"
                             "metric ping.delivered \"SELECT count(*) FROM packets WHERE fate = 'delivered'\"\n"
                             "metric rtt.half_ns \"SELECT max(t_arrive_ns - t_ns) FROM packets\"\n"
                             "expect \"SELECT value FROM metrics WHERE name = 'ping.delivered'\" = 40\n");
    char *db = path_in("metric.db"), *out, *err;
    g_unlink(db);
    g_assert_cmpint(rdrsim(&out, NULL, "run", "-o", db, s, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "expectations: 1 passed, 0 failed"));
    g_free(out);
    ASSERT_QUERY(db, "SELECT value FROM metrics WHERE name IN ('ping.delivered', 'rtt.half_ns') ORDER BY name",
                 "40.0\n5000000.0");
    /* sweeps and plots take them like any other metric */
    char *sw = path_in("metric-sweep.db"), *png = path_in("metric.png");
    g_unlink(sw);
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", s, "--vary", "link.c1-srv.latency=1ms,5ms", "-q", "-o", sw, NULL),
                    ==, 0);
    ASSERT_QUERY(sw, "SELECT group_concat(value, ' ') FROM metrics WHERE name = 'rtt.half_ns'", "1000000.0 5000000.0");
    g_assert_cmpint(rdrsim(NULL, NULL, "plot", sw, "--what", "sweep", "--metric", "rtt.half_ns", "-o", png, NULL), ==,
                    0);
    g_assert_true(g_file_test(png, G_FILE_TEST_IS_REGULAR));
    g_free(sw), g_free(png);
    /* a metric that gives no number fails the run at its line */
    char *bad = write_scenario("metric-bad.rsim", "client c1\nserver srv\nlink c1 srv\n"
                                                  "metric none \"SELECT value FROM metrics WHERE name = 'nope'\"\n"
                                                  "metric text \"SELECT 'abc'\"\n");
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-q", "-o", db, bad, NULL), ==, 1);
    g_assert_nonnull(strstr(err, "metric-bad.rsim:4:1: metric none failed: the query gave no value"));
    g_assert_nonnull(strstr(err, "metric-bad.rsim:5:1: metric text failed: expected a number, got 'abc'"));
    g_free(err);
    ASSERT_QUERY(db, "SELECT count(*) FROM expectations WHERE run_id = 2 AND NOT passed", "2");
    /* the time budget: a query without end stops at it */
    char *slow = write_scenario("budget.rsim",
                                "scenario budget query_budget=300ms\nclient c1\nserver srv\nlink c1 srv\n"
                                "expect \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
                                "SELECT count(*) FROM c\" = 1\n"
                                "metric forever \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
                                "SELECT count(*) FROM c\"\n");
    gint64 t0 = g_get_monotonic_time();
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-q", "-o", db, slow, NULL), ==, 1);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 30 * G_USEC_PER_SEC);
    g_assert_nonnull(strstr(err, "budget.rsim:5:1: expectation failed: query error: stopped after its time budget "
                                 "of 300ms"));
    g_assert_nonnull(strstr(err, "budget.rsim:6:1: metric forever failed: query error: stopped after its time"));
    g_free(err);
    /* and bad lines are errors of the file, all at once */
    char *wrong = write_scenario("metric-wrong.rsim", "client c1\n"
                                                      "metric 9x \"SELECT 1\"\n"
                                                      "metric sim.mine \"SELECT 1\"\n"
                                                      "metric a \"SELECT 1\"\n"
                                                      "metric a \"SELECT 2\"\n"
                                                      "metric b\n"
                                                      "metric c \"DELETE FROM runs\"\n"
                                                      "scenario x query_budget=0s\n");
    g_assert_cmpint(rdrsim(NULL, &err, "check", wrong, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "metric-wrong.rsim:2:8: expected a metric name"));
    g_assert_nonnull(strstr(err, "metric-wrong.rsim:3:8: metric names sim.* and run.* are rdrsim's own"));
    g_assert_nonnull(strstr(err, "metric-wrong.rsim:5:8: metric 'a' is already defined on line 4"));
    g_assert_nonnull(strstr(err, "metric-wrong.rsim:6:9: expected a quoted SQL query"));
    g_assert_nonnull(strstr(err, "metric-wrong.rsim:7:10: expected a query that only reads the trace"));
    g_assert_nonnull(strstr(err, "query_budget"));
    g_free(err);
    g_free(wrong), g_free(slow), g_free(bad);
    g_free(db), g_free(s);
}

/* check reports every error of a file at once: syntax, the world's
 * checks over what parsed, and the queries. */
static void test_check_all_errors(void)
{
    char *s = write_scenario("errors.rsim", "client c1\nserver srv\n"
                                            "link c1 srv latency=fast\n"
                                            "link c1 c9\n"
                                            "endpoint e1\n"
                                            "at 0s c1 ping srv count=3\n"
                                            "expect \"SELECT nope FROM packets\" = 1\n");
    char *err;
    g_assert_cmpint(rdrsim(NULL, &err, "check", s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "errors.rsim:3:21:"));                 /* a bad value */
    g_assert_nonnull(strstr(err, "errors.rsim:4:9: unknown node 'c9'")); /* a bad name */
    g_assert_nonnull(strstr(err, "errors.rsim:5:1: endpoint e1 needs node="));
    g_assert_nonnull(strstr(err, "errors.rsim:6:"));                    /* the world's check: no path */
    g_assert_nonnull(strstr(err, "no path joins c1 and srv"));
    g_assert_nonnull(strstr(err, "errors.rsim:7:8: query does not compile"));
    g_free(err);
    g_free(s);
    /* a transport's release is orderly or abort (scenarios/tdi-no-release.rsim) */
    s = write_scenario("release.rsim", "client c1 release=never\nserver srv\nlink c1 srv\n");
    g_assert_cmpint(rdrsim(NULL, &err, "check", s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "release.rsim:1:11: release=never: expected orderly or abort"));
    g_free(err);
    g_free(s);
    /* a link's tamper= (scenarios/rdr-downgrade.rsim) */
    s = write_scenario("tamper.rsim", "client c1\nserver srv\nlink c1 srv tamper=everything\n"
                                      "at 1s link c1 srv tamper=sometimes\n");
    g_assert_cmpint(rdrsim(NULL, &err, "check", s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "tamper.rsim:3:13: tamper=everything: expected none, negotiate or capabilities"));
    g_assert_nonnull(strstr(err, "tamper.rsim:4:19: tamper=sometimes"));
    g_free(err);
    g_free(s);
}

/* `after EVENT +DELAY ACTION`: errors at their place; an event that never
 * happens leaves its action unrun (scenarios/timeline-after.rsim runs the
 * ones that do). */
static void test_after(void)
{
    char *bad = write_scenario("after-bad.rsim", "client c1\nserver srv\nlink c1 srv\n"
                                                 "endpoint a1 node=c1\n"
                                                 "after endpoint a9 connected +1ms endpoint a1 listen\n"
                                                 "after endpoint a1 opened +1ms endpoint a1 listen\n"
                                                 "after c1 open h1 +1ms endpoint a1 listen\n"
                                                 "after c1 dance h1 done +1ms endpoint a1 listen\n"
                                                 "after c7 open h1 done +1ms endpoint a1 listen\n"
                                                 "after endpoint a1 connected endpoint a1 listen\n"
                                                 "after endpoint a1 connected +1ms\n");
    char *err;
    g_assert_cmpint(rdrsim(NULL, &err, "check", bad, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "after-bad.rsim:5:16: unknown endpoint 'a9'"));
    g_assert_nonnull(strstr(err, "after-bad.rsim:6:19: expected 'connected' or 'disconnected'"));
    g_assert_nonnull(strstr(err, "after-bad.rsim:7:15: expected VERB [WORD] done"));
    g_assert_nonnull(strstr(err, "after-bad.rsim:8:10: unknown action 'dance'"));
    g_assert_nonnull(strstr(err, "after-bad.rsim:9:7: unknown node 'c7'"));
    g_assert_nonnull(strstr(err, "after-bad.rsim:10:"));
    g_assert_nonnull(strstr(err, "after-bad.rsim:11:"));
    g_free(err);
    /* a connection never made: the release waiting for it never runs */
    char *never = write_scenario("after-never.rsim",
                                 "scenario never stop=5s\nclient c1\nserver srv\nlink c1 srv loss=100%\n"
                                 "endpoint a1 node=c1\nendpoint b1 node=srv\n"
                                 "at 0s endpoint b1 listen\nat 0s endpoint a1 connect srv\n"
                                 "after endpoint a1 connected +1ms endpoint a1 disconnect mode=release\n"
                                 "expect \"SELECT count(*) FROM tdi_requests WHERE request = 'TDI_DISCONNECT'\" = 0\n"
                                 "expect \"SELECT status FROM tdi_requests WHERE request = 'TDI_CONNECT'\" != "
                                 "'STATUS_SUCCESS'\n");
    char *db = path_in("after.db");
    g_unlink(db);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", db, never, NULL), ==, 0);
    g_free(db), g_free(never), g_free(bad);
}

static void test_bad_output(void)
{
    char *s = write_scenario("good.rsim", good), *err;
    char *missing = path_in("no/such/dir/x.db");
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-o", missing, s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "cannot open"));
    g_free(err);
    char *foreign = path_in("foreign.db");
    sqlite3 *db;
    sqlite3_open(foreign, &db);
    sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (42);", NULL, NULL, NULL);
    sqlite3_close(db);
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-o", foreign, s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "not an rdrsim trace"));
    g_free(err);
    ASSERT_QUERY(foreign, "SELECT group_concat(name) FROM sqlite_master", "t");
    g_free(foreign);
    g_free(missing);
    g_free(s);
}

/* A directory, or a path under a regular file, as the output. */
static void test_output_not_a_file(void)
{
    char *s = write_scenario("good.rsim", good), *err;
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-o", dir, s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "cannot open"));
    g_free(err);
    char *under = g_build_filename(s, "x.db", NULL);
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-o", under, s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "cannot open"));
    g_free(err);
    g_free(under);
    g_free(s);
}

/* A full disk, made with SQLite's own page limit: exit 2, a clear message,
 * the run marked incomplete, an intact DB; an earlier run in it untouched. */
static void test_disk_full(void)
{
    char *s = write_scenario("good.rsim", good), *err;
    char *db = path_in("full.db");
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", db, s, NULL), ==, 0);
    char *before = query(db, "SELECT count(*) FROM packet");
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-o", db, "--max-trace-size", "1KiB", s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "database or disk is full"));
    g_free(err);
    ASSERT_QUERY(db, "PRAGMA integrity_check", "ok");
    ASSERT_QUERY(db, "SELECT count(*) FROM packet WHERE run_id = 1", before);
    ASSERT_QUERY(db, "SELECT status FROM runs ORDER BY run_id", "complete\nincomplete");
    ASSERT_QUERY(db, "SELECT message LIKE 'the trace lost rows:%full%' FROM runs WHERE run_id = 2", "1");
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-o", db, "--max-trace-size", "0", s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "--max-trace-size"));
    g_free(err);
    g_free(before);
    g_free(db);
    g_free(s);
}

/* Two runs writing one DB at once: both end well (the second waits for
 * the first's transaction), or the second fails clearly; never a damaged DB. */
static void test_concurrent_writers(void)
{
    char *s = write_scenario("good.rsim", good);
    char *db = path_in("shared.db");
    GPid pids[2];
    for (int i = 0; i < 2; i++) {
        char *argv[] = { (char *)bin(), "run", "-q", "-o", db, s, NULL };
        g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                                          G_SPAWN_STDERR_TO_DEV_NULL,
                                    NULL, NULL, &pids[i], NULL));
    }
    int ok = 0;
    for (int i = 0; i < 2; i++) {
        int st;
        g_assert_cmpint(waitpid(pids[i], &st, 0), ==, pids[i]);
        g_assert_true(WIFEXITED(st));
        g_assert_true(WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 2);
        ok += WEXITSTATUS(st) == 0;
    }
    g_assert_cmpint(ok, >=, 1);
    ASSERT_QUERY(db, "PRAGMA integrity_check", "ok");
    char *want = g_strdup_printf("%d", ok);
    ASSERT_QUERY(db, "SELECT count(*) FROM runs WHERE status = 'complete'", want);
    g_free(want);
    g_free(db);
    g_free(s);
}

/* Absurd values get a clear error (exit 2, line and column), never an
 * abort; a huge file is read in bounded time and memory. */
static void test_absurd_input(void)
{
    static const struct {
        const char *text, *where;
    } cases[] = {
        { "scenario x\nclient c\nserver s\nlink c s bandwidth=1e30bit/s\n", ":4:20: '1e30bit/s' is out of range" },
        { "scenario x stop=1e30s\n", ":1:17: '1e30s' is out of range" },
        { "scenario x\nclient c\nserver s\nlink c s\nat -1s link c s down\n", ":5:4: a time must not be negative" },
        { "scenario x\nclient c\nserver s\nlink c s\nat 0s c ping s count=1000000000000\n", ":5:22: count=" },
        { "scenario x\nclient c\nendpoint e node=c\nat 0s endpoint e send bytes=5GiB\n", ":4:29: bytes=5GiB is too large" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *s = write_scenario("absurd.rsim", cases[i].text), *err;
        char *db = path_in("absurd.db");
        g_assert_cmpint(rdrsim(NULL, &err, "run", "-o", db, s, NULL), ==, 2);
        if (!strstr(err, cases[i].where))
            g_error("case %zu: expected an error at %s, got: %s", i, cases[i].where, err);
        g_assert_false(g_file_test(db, G_FILE_TEST_EXISTS)); /* nothing ran, nothing written */
        g_free(err);
        g_free(db);
        g_free(s);
    }
    /* A million lines. */
    GString *big = g_string_new("scenario big\nclient c\n");
    for (int i = 0; i < 1000000; i++)
        g_string_append_printf(big, "# line %d\n", i);
    g_string_append(big, "at 0s c bogus\n");
    char *s = write_scenario("big.rsim", big->str), *err;
    g_string_free(big, TRUE);
    g_assert_cmpint(rdrsim(NULL, &err, "check", s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, ":1000003:"));
    g_free(err);
    g_free(s);
}

static const char *dump_sql[] = {
    "SELECT * FROM packets ORDER BY rowid",
    "SELECT * FROM tdi_requests ORDER BY rowid",
    "SELECT * FROM endpoint_states ORDER BY seq",
    "SELECT * FROM disconnects ORDER BY rowid",
    "SELECT * FROM metrics ORDER BY rowid",
    "SELECT * FROM params ORDER BY rowid",
    "SELECT * FROM expectations ORDER BY rowid",
    "SELECT run_id, scenario_path, scenario_text, seed, overrides, sim_end_ns, events, status FROM runs",
};

static char *dump(const char *db) { return dump_queries(db, dump_sql, G_N_ELEMENTS(dump_sql)); }

static void test_determinism(void)
{
    char *s = write_scenario("good.rsim", good);
    char *a = path_in("det-a.db"), *b = path_in("det-b.db"), *c = path_in("det-c.db");
    g_unlink(a), g_unlink(b), g_unlink(c);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", a, s, NULL), ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", b, s, NULL), ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", c, "--seed", "4", s, NULL), ==, 0);
    char *da = dump(a), *db = dump(b), *dc = dump(c);
    g_assert_cmpuint(strlen(da), >, 5000); /* a real trace, not an empty one */
    g_assert_cmpstr(da, ==, db);
    g_assert_cmpstr(da, !=, dc); /* and the seed does matter */
    g_free(da), g_free(db), g_free(dc);
    g_free(a), g_free(b), g_free(c);
    g_free(s);
}

/* The same for the transport: lossy links, retransmissions, disconnects. */
static void test_determinism_tdi(void)
{
    const char *top = g_getenv("RDRSIM_TOP");
    char *s = g_build_filename(top ? top : ".", "scenarios", "tdi-bulk-loss.rsim", NULL);
    char *a = path_in("tdet-a.db"), *b = path_in("tdet-b.db"), *c = path_in("tdet-c.db");
    g_unlink(a), g_unlink(b), g_unlink(c);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", a, s, NULL), ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", b, s, NULL), ==, 0);
    /* another seed: other losses (its expectations may not hold) */
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", c, "--seed", "2", s, NULL), <=, 1);
    char *da = dump(a), *db = dump(b), *dc = dump(c);
    g_assert_nonnull(strstr(da, "TDI_SEND"));
    g_assert_cmpuint(strlen(da), >, 50000);
    g_assert_cmpstr(da, ==, db);
    g_assert_cmpstr(da, !=, dc);
    g_free(da), g_free(db), g_free(dc);
    g_free(a), g_free(b), g_free(c);
    g_free(s);
}

/* rdrsim run --jobs: three independent parts (two groups of clients on
 * their servers, and a transport connection that sends and releases)
 * run apart and merged. */
static const char parts[] =
    "scenario parts seed=5 stop=2s\n"
    "server s[1..2]\nclient c[1..4] redirectors=smb\nredirector smb\n"
    "share sh1 server=s1\nuser u1 server=s1 password=p\n"
    "share sh2 server=s2\nuser u2 server=s2 password=p\n"
    "link c[1..2] s1 latency=5ms loss=3% bandwidth=100Mbit\n"
    "workload c[1..2] share=\\\\s1\\sh1 user=u1 password=p rate=30 files=4 zipf=1 "
    "mix=read:6,write:3,lock:1,close:1 size=exponential(8KiB)\n"
    "link c[3..4] s2 latency=2ms loss=3% bandwidth=10Mbit\n"
    "workload c[3..4] share=\\\\s2\\sh2 user=u2 password=p rate=30 files=4 zipf=1 "
    "mix=read:6,write:3,lock:1,close:1 size=exponential(8KiB)\n"
    "client p1\nserver p2\nlink p1 p2 latency=1ms loss=5%\n"
    "endpoint a node=p1\nendpoint b node=p2 port=1\n"
    "at 0s endpoint b listen\nat 100ms endpoint a connect p2 port=1\n"
    "at 200ms endpoint a send bytes=64KiB count=4\nat 300ms endpoint a disconnect mode=release\n"
    "expect \"SELECT count(DISTINCT node) FROM ops\" = 4\n"
    "expect \"SELECT count(*) FROM disconnects WHERE mode = 'release'\" = 1\n";

/* Every view's rows as a sorted multiset, leaving out what numbers rows
 * or connections (the parts number them apart) and the events count. */
static char *content(const char *db)
{
    const char *views[] = { "ops", "smb_messages", "tdi_requests", "endpoint_states", "packets", "callbacks",
                            "oplock_breaks", "oplock_grants", "disconnects",
                            "metrics WHERE name NOT IN ('sim.events', 'sim.parts')", "params", "expectations" };
    GString *all = g_string_new("");
    for (size_t i = 0; i < G_N_ELEMENTS(views); i++) {
        char *view = g_strndup(views[i], strcspn(views[i], " "));
        char *cols_sql = g_strdup_printf("SELECT group_concat(name, ', ') FROM pragma_table_info('%s') "
                                         "WHERE name NOT IN ('run_id', 'conn', 'seq')", view);
        char *cols = query(db, cols_sql);
        char *sql = g_strdup_printf("SELECT %s FROM %s ORDER BY %s", cols, views[i], cols);
        char *rows = query(db, sql);
        g_string_append_printf(all, "%s:\n%s\n", views[i], rows);
        g_free(rows), g_free(sql), g_free(cols), g_free(cols_sql), g_free(view);
    }
    return g_string_free(all, FALSE);
}

static void test_jobs(void)
{
    char *s = write_scenario("parts.rsim", parts);
    char *a = path_in("jobs-1.db"), *b = path_in("jobs-2.db"), *c = path_in("jobs-3.db");
    g_unlink(a), g_unlink(b), g_unlink(c);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "--trace", "ops", "-o", a, s, NULL), ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "--trace", "ops", "-j", "2", "-o", b, s, NULL), ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "--trace", "ops", "-j", "3", "-o", c, s, NULL), ==, 0);

    /* The same behaviour: every row of the whole run, part by part, every
     * metric (the disconnect quantiles over all parts) but sim.events. */
    char *ca = content(a), *cb = content(b);
    g_assert_nonnull(strstr(ca, "tdi.release.p50_ns"));
    g_assert_nonnull(strstr(ca, "tdi.p1.retransmits"));
    g_assert_nonnull(strstr(ca, "coherence.reads_judged"));
    g_assert_cmpuint(strlen(ca), >, 20000);
    g_assert_cmpstr(ca, ==, cb);
    g_free(ca), g_free(cb);

    /* The same trace whatever the threads: row for row. */
    const char *rows[] = { "SELECT * FROM ops ORDER BY rowid", "SELECT * FROM disconnects ORDER BY rowid",
                           "SELECT * FROM metrics ORDER BY rowid",
                           "SELECT run_id, sim_end_ns, events, status FROM runs" };
    char *db = dump_queries(b, rows, G_N_ELEMENTS(rows)), *dc = dump_queries(c, rows, G_N_ELEMENTS(rows));
    g_assert_cmpstr(db, ==, dc);
    g_free(db), g_free(dc);

    /* Connections are numbered part by part: the transport's, in the last
     * part, comes after the four SMB clients' of the two parts before. */
    ASSERT_QUERY(b, "SELECT conn FROM disconnects", "5");
    ASSERT_QUERY(b, "SELECT value FROM metrics WHERE name = 'sim.parts'", "3.0");
    ASSERT_QUERY(a, "SELECT count(*) FROM metrics WHERE name = 'sim.parts'", "0");
    /* A part with redirectors starts them in an event of its own: the two
     * SMB parts run one more event than the whole did. */
    ASSERT_QUERY(b, "SELECT (SELECT events FROM runs) = (SELECT value FROM metrics WHERE name = 'sim.events')",
                 "1");
    char *ea = query(a, "SELECT events + 1 FROM runs"), *eb = query(b, "SELECT events FROM runs");
    g_assert_cmpstr(ea, ==, eb);
    g_free(ea), g_free(eb);
    /* The parts' shard DBs are gone. */
    char *shard = g_strconcat(b, ".part1.tmp", NULL);
    g_assert_false(g_file_test(shard, G_FILE_TEST_EXISTS));
    g_free(shard);

    /* A part whose DB cannot be written: a clear error, exit status 2, and
     * the run recorded incomplete. */
    char *d = path_in("jobs-bad.db"), *blocker = g_strconcat(d, ".part2.tmp", NULL);
    g_unlink(d);
    g_assert_cmpint(g_mkdir(blocker, 0755), ==, 0);
    char *err;
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-q", "--trace", "none", "-j", "2", "-o", d, s, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "part 2 of the run"));
    ASSERT_QUERY(d, "SELECT status FROM runs", "incomplete");
    g_free(err);
    g_rmdir(blocker);
    g_free(blocker), g_free(d);

    /* A finer trace runs whole, and says so. */
    g_unlink(c);
    g_assert_cmpint(rdrsim(NULL, &err, "run", "--trace", "messages", "-j", "2", "-o", c, s, NULL), ==, 0);
    g_assert_nonnull(strstr(err, "--jobs: a trace at level messages runs whole"));
    char *ec = query(c, "SELECT events FROM runs"), *e1 = query(a, "SELECT events FROM runs");
    g_assert_cmpstr(ec, ==, e1);
    g_free(ec), g_free(e1), g_free(err);
    g_free(a), g_free(b), g_free(c);
    g_free(s);
}

static const char endless[] = "scenario endless stop=1h\nclient c1\nserver srv\nlink c1 srv latency=1ms\n"
                              "at 0s c1 ping srv count=100000000 interval=1us\n"
                              "expect \"SELECT 1\" = 1\n";

static void test_caps(void)
{
    char *s = write_scenario("endless.rsim", endless), *db = path_in("caps.db"), *err;
    g_unlink(db);
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-q", "-o", db, "--max-events=5000", s, NULL), ==, 1);
    g_assert_nonnull(strstr(err, "--max-events=5000"));
    g_free(err);
    ASSERT_QUERY(db, "SELECT status, events FROM runs WHERE run_id = 1", "incomplete|5000");
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-q", "-o", db, "--max-sim-time=3ms", s, NULL), ==, 1);
    g_free(err);
    ASSERT_QUERY(db, "SELECT status, sim_end_ns, message FROM runs WHERE run_id = 2",
                 "incomplete|3000000|stopped at --max-sim-time=3ms");
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-q", "-o", db, "--max-wall=200ms", s, NULL), ==, 1);
    g_free(err);
    ASSERT_QUERY(db, "SELECT status, message FROM runs WHERE run_id = 3", "incomplete|stopped at --max-wall=0.2s");
    /* An incomplete run's expectations are not judged. */
    ASSERT_QUERY(db, "SELECT count(*) FROM expectations", "0");
    g_free(db);
    g_free(s);
}

static void interrupt_with(int sig)
{
    char *s = write_scenario("endless.rsim", endless), *db = path_in("interrupted.db");
    g_unlink(db);
    char *argv[] = { (char *)bin(), "run", "-q", "-o", db, s, NULL };
    GPid pid;
    GError *gerr = NULL;
    g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                                NULL, &pid, &gerr));
    /* Wait until the run has committed some batches, then interrupt it. */
    for (int i = 0; i < 200; i++) {
        g_usleep(50000);
        if (g_file_test(db, G_FILE_TEST_EXISTS)) {
            char *n = query(db, "SELECT count(*) FROM packet");
            bool some = atoi(n) > 0;
            g_free(n);
            if (some)
                break;
        }
    }
    kill(pid, sig);
    int status;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 130);
    ASSERT_QUERY(db, "PRAGMA integrity_check", "ok");
    char *want = g_strdup_printf("incomplete|interrupted by signal %d", sig);
    ASSERT_QUERY(db, "SELECT status, message FROM runs", want);
    g_free(want);
    char *n = query(db, "SELECT count(*) FROM packets");
    g_assert_cmpint(atoi(n), >, 0);
    g_free(n);
    char *events = query(db, "SELECT events > 0 AND sim_end_ns > 0 FROM runs");
    g_assert_cmpstr(events, ==, "1");
    g_free(events);
    g_spawn_close_pid(pid);
    g_free(db);
    g_free(s);
}

static void test_sigint(void) { interrupt_with(SIGINT); }
static void test_sigterm(void) { interrupt_with(SIGTERM); }


int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("rdrsim-cli-XXXXXX", NULL);
    g_test_add_func("/cli/usage", test_usage);
    g_test_add_func("/cli/check", test_check);
    g_test_add_func("/cli/run-and-expectations", test_run_and_expectations);
    g_test_add_func("/cli/user-metrics", test_user_metrics);
    g_test_add_func("/cli/check-all-errors", test_check_all_errors);
    g_test_add_func("/cli/after", test_after);
    g_test_add_func("/cli/bad-output", test_bad_output);
    g_test_add_func("/cli/output-not-a-file", test_output_not_a_file);
    g_test_add_func("/cli/disk-full", test_disk_full);
    g_test_add_func("/cli/concurrent-writers", test_concurrent_writers);
    g_test_add_func("/cli/absurd-input", test_absurd_input);
    g_test_add_func("/cli/determinism", test_determinism);
    g_test_add_func("/cli/determinism-tdi", test_determinism_tdi);
    g_test_add_func("/cli/caps", test_caps);
    g_test_add_func("/cli/jobs", test_jobs);
    g_test_add_func("/cli/sigint", test_sigint);
    g_test_add_func("/cli/sigterm", test_sigterm);
    int rc = g_test_run();
    remove_tree(dir);
    g_free(dir);
    return rc;
}
