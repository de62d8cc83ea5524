/* report, plot, sweep, merge and compare on DBs with known content: built
 * here through the trace writers, or by short sweeps of a small scenario. */
#include <glib.h>
#include <string.h>

#include <math.h>

#include "cli.h"
#include "latency.h"
#include "ntstatus.h"
#include "trace.h"

/* Variants of the known run, for compare's verdicts. */
enum {
    KNOWN_PENDING_OPEN = 1,  /* the open of 5 ms never completes */
    KNOWN_NEW_STATUS = 2,    /* a status.STATUS_CONNECTION_RESET metric */
    KNOWN_FAILED = 4,        /* the run failed */
    KNOWN_EXPECT_FAILED = 8, /* an expectation failed */
    KNOWN_OTHER_TEXT = 16,   /* another scenario text */
};

/* A run with every kind of row, values chosen so that the report's
 * figures are known: operations read x4 (10, 20, 30, 40 ms) and open x2
 * (5 ms, one STATUS_IO_TIMEOUT at 35 s), disconnects, oplock breaks, MRx
 * calls, SMB messages, packets of connection 1. */
static char *known_db_v(const char *name, double scale, int variant)
{
    char *path = path_in(name), *err = NULL;
    g_unlink(path);
    Trace *tr = trace_open(path, &err);
    g_assert_nonnull(tr);
    TraceRunInfo info = { "known.rsim", "known",
                          variant & KNOWN_OTHER_TEXT ? "# built by test_analysis, changed" : "# built by test_analysis",
                          "", 1, TRACE_ALL };
    g_assert_true(trace_begin_run(tr, &info, &err));
    uint32_t c1 = trace_name(tr, "c1"), c2 = trace_name(tr, "c2"), srv = trace_name(tr, "srv");
    uint32_t rd = trace_name(tr, "read"), op = trace_name(tr, "open"), file = trace_name(tr, "\\\\srv\\share\\a.doc");
    for (int i = 1; i <= 4; i++)
        trace_op(tr, i % 2 ? c1 : c2, rd, i, file, i * SIM_SEC, i * SIM_SEC + (SimTime)(i * 10 * SIM_MS * scale),
                 STATUS_SUCCESS, 4096);
    if (variant & KNOWN_PENDING_OPEN)
        trace_op(tr, c1, op, 9, file, 0, -1, STATUS_PENDING, 0);
    else
        trace_op(tr, c1, op, 9, file, 0, 5 * SIM_MS, STATUS_SUCCESS, 0);
    trace_op(tr, c2, op, 10, file, 0, 35 * SIM_SEC, STATUS_IO_TIMEOUT, 0);
    uint32_t rel = trace_name(tr, "release"), ab = trace_name(tr, "abort"), ep = trace_name(tr, "e1");
    for (int i = 0; i < 10; i++)
        trace_disconnect(tr, 1, c1, ep, rel, i * SIM_SEC, i * SIM_SEC + (SimTime)((10 + i) * SIM_MS * scale), 4,
                         STATUS_SUCCESS);
    trace_disconnect(tr, 2, c2, ep, rel, 0, 500 * SIM_MS, 2, STATUS_REQUEST_TIMED_OUT);
    trace_disconnect(tr, 3, c2, ep, ab, SIM_SEC, SIM_SEC, 2, STATUS_SUCCESS);
    uint32_t batch = trace_name(tr, "BATCH"), l2 = trace_name(tr, "LEVEL_II"), none = trace_name(tr, "NONE");
    uint32_t trig = trace_name(tr, "open"), acked = trace_name(tr, "acked"), tmo = trace_name(tr, "timeout");
    trace_oplock_break(tr, srv, file, c1, 9, batch, l2, trig, 2 * SIM_SEC, 2 * SIM_SEC + 8 * SIM_MS, acked, l2, l2);
    trace_oplock_break(tr, srv, file, c1, 9, batch, l2, trig, 3 * SIM_SEC, 3 * SIM_SEC + 12 * SIM_MS, acked, l2, l2);
    trace_oplock_break(tr, srv, file, c2, 10, l2, none, trig, 4 * SIM_SEC, -1, tmo, none, -1);
    uint32_t smb = trace_name(tr, "smb"), create = trace_name(tr, "MRxCreate"), fcb = trace_name(tr, "Fcb:a.doc");
    trace_callback(tr, c1, smb, create, fcb, 0, 5 * SIM_MS, true, STATUS_SUCCESS);
    trace_callback(tr, c1, smb, trace_name(tr, "MRxCleanupFobx"), fcb, 6 * SIM_MS, 6 * SIM_MS, false,
                   STATUS_SUCCESS);
    uint32_t cmd = trace_name(tr, "CREATE");
    trace_smb_message(tr, SIM_MS, c1, srv, 1, &(TraceSmb){ .msg_id = 7, .command = cmd, .response = false, .async = false, .status = STATUS_SUCCESS, .async_id = -1, .file = -1, .oplock = -1, .lease_state = -1, .epoch = -1 }, 200);
    trace_smb_message(tr, 3 * SIM_MS, srv, c1, 1, &(TraceSmb){ .msg_id = 7, .command = cmd, .response = true, .async = false, .status = STATUS_SUCCESS, .async_id = -1, .file = -1, .oplock = -1, .lease_state = -1, .epoch = -1 }, 180);
    uint32_t brk = trace_name(tr, "OPLOCK_BREAK");
    trace_smb_message(tr, 2 * SIM_SEC, srv, c1, 1, &(TraceSmb){ .msg_id = 0, .command = brk, .response = false, .async = false, .status = STATUS_SUCCESS, .async_id = -1, .file = -1, .oplock = -1, .lease_state = -1, .epoch = -1 }, 68);
    trace_smb_message(tr, 2 * SIM_SEC + 8 * SIM_MS, c1, srv, 1, &(TraceSmb){ .msg_id = 8, .command = brk, .response = false, .async = false, .status = STATUS_SUCCESS, .async_id = -1, .file = -1, .oplock = -1, .lease_state = -1, .epoch = -1 }, 92);
    trace_smb_message(tr, 2 * SIM_SEC + 10 * SIM_MS, srv, c1, 1, &(TraceSmb){ .msg_id = 8, .command = brk, .response = true, .async = false, .status = STATUS_SUCCESS, .async_id = -1, .file = -1, .oplock = -1, .lease_state = -1, .epoch = -1 }, 92);
    uint32_t link = trace_name(tr, "c1-srv"), dl = trace_name(tr, "delivered"), lost = trace_name(tr, "lost");
    uint32_t syn = trace_name(tr, "syn"), data = trace_name(tr, "data");
    trace_packet(tr, &(TracePacket){ .t = 0, .t_arrive = SIM_MS, .link = link, .src = c1, .dst = srv, .conn = 1, .bytes = 40, .kind = syn, .fate = dl, .hop = 1, .seq = -1, .ack = -1, .flags = -1 });
    trace_packet(tr, &(TracePacket){ .t = 1 * SIM_MS, .t_arrive = 2 * SIM_MS, .link = link, .src = c1, .dst = srv, .conn = 1, .bytes = 240, .kind = data, .fate = dl, .hop = 1, .seq = -1, .ack = -1, .flags = -1 });
    trace_packet(tr, &(TracePacket){ .t = 2 * SIM_MS, .t_arrive = -1, .link = link, .src = srv, .dst = c1, .conn = 1, .bytes = 220, .kind = data, .fate = lost, .hop = 1, .seq = -1, .ack = -1, .flags = -1 });
    uint32_t req = trace_name(tr, "TDI_CONNECT"), noflags = trace_name(tr, "");
    trace_tdi_request(tr, c1, ep, 1, req, noflags, 0, 2 * SIM_MS, STATUS_SUCCESS);
    trace_tdi_request(tr, c2, ep, 2, req, noflags, 0, 7 * SIM_SEC, STATUS_IO_TIMEOUT);
    trace_metric(tr, "sim.events", 1000 * scale);
    if (variant & KNOWN_NEW_STATUS)
        trace_metric(tr, "status.STATUS_CONNECTION_RESET", 1);
    trace_write_latencies(tr);
    g_assert_true(trace_end_run(tr, variant & KNOWN_FAILED ? "failed" : "complete", NULL, 40 * SIM_SEC, 1000, &err));
    trace_expectation(tr, 3, "SELECT 1", "=", "1", variant & KNOWN_EXPECT_FAILED ? "0" : "1",
                      !(variant & KNOWN_EXPECT_FAILED));
    trace_close(tr);
    return path;
}

static char *known_db(const char *name, double scale) { return known_db_v(name, scale, 0); }

static void test_report(void)
{
    char *db = known_db("known.db", 1), *out, *err;
    g_assert_cmpint(rdrsim(&out, &err, "report", "--format", "csv", db, NULL), ==, 0);
    /* nearest-rank percentiles of 10, 20, 30, 40 ms: p50 20, p95 40 */
    g_assert_nonnull(strstr(out, "read,4,20.000,40.000,40.000,40.000"));
    g_assert_nonnull(strstr(out, "open,2,5.000,35000.000,35000.000,35000.000"));
    g_assert_nonnull(strstr(out, "operation,STATUS_SUCCESS,5"));
    g_assert_nonnull(strstr(out, "operation,STATUS_IO_TIMEOUT,1"));
    g_assert_nonnull(strstr(out, "TDI request,STATUS_IO_TIMEOUT,1"));
    g_assert_nonnull(strstr(out, "release,STATUS_SUCCESS,10,14.000,19.000,19.000,19.000"));
    g_assert_nonnull(strstr(out, "release,STATUS_REQUEST_TIMED_OUT,1,500.000"));
    g_assert_nonnull(strstr(out, "BATCH,LEVEL_II,acked,2,8.000,12.000"));
    g_assert_nonnull(strstr(out, "LEVEL_II,NONE,timeout,1,,,,"));
    g_assert_nonnull(strstr(out, "MRxCreate,1,1.000"));
    g_assert_nonnull(strstr(out, "MRxCleanupFobx,1,0.000"));
    g_assert_nonnull(strstr(out, "delivered,2,280"));
    g_assert_nonnull(strstr(out, "lost,1,220"));
    g_free(out);
    g_free(err);
    g_assert_cmpint(rdrsim(&out, NULL, "report", "--format", "markdown", db, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "| read | 4 | 20.000 | 40.000 | 40.000 | 40.000 |"));
    g_free(out);
    g_assert_cmpint(rdrsim(NULL, &err, "report", "--run", "7", db, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "no such run"));
    g_free(err);
    g_free(db);
}

static bool file_starts(const char *path, const char *magic, gsize min_size)
{
    char *text = NULL;
    gsize len = 0;
    bool ok = g_file_get_contents(path, &text, &len, NULL) && len >= min_size &&
              memcmp(text, magic, strlen(magic)) == 0;
    g_free(text);
    return ok;
}

static void test_plot_every_what(void)
{
    char *db = known_db("known.db", 1);
    char *sweep_db = path_in("plot-sweep.db"), *err = NULL;
    /* a sweep-like DB: three points of a loss parameter, two runs each */
    g_unlink(sweep_db);
    Trace *tr = trace_open(sweep_db, &err);
    const char *loss[] = { "0", "5%", "20%" };
    for (int i = 0; i < 3; i++)
        for (int r = 0; r < 2; r++) {
            char *ov = g_strdup_printf("link.c1-srv.loss=%s scenario.seed=%d", loss[i], r + 1);
            TraceRunInfo info = { "s.rsim", "s", "", ov, (uint64_t)r + 1, TRACE_NONE };
            g_assert_true(trace_begin_run(tr, &info, &err));
            trace_metric(tr, "tdi.release.p50_ns", (10 + 40 * i + r) * 1e6);
            g_assert_true(trace_end_run(tr, "complete", NULL, SIM_SEC, 10, &err));
            g_free(ov);
        }
    trace_close(tr);
    static const char *const whats[] = { "disconnect", "timeouts", "oplock", "timeline", "sequence", "sweep" };
    for (size_t i = 0; i < G_N_ELEMENTS(whats); i++) {
        const char *src = strcmp(whats[i], "sweep") == 0 ? sweep_db : db;
        char *png = g_strdup_printf("%s/%s.png", dir, whats[i]), *svg = g_strdup_printf("%s/%s.svg", dir, whats[i]);
        for (int k = 0; k < 2; k++) {
            const char *out = k ? svg : png;
            int rc = rdrsim(NULL, &err, "plot", src, "--what", whats[i], "--conn", "1", "-o", out, NULL);
            if (rc != 0)
                g_error("plot --what %s -o %s: exit %d: %s", whats[i], out, rc, err);
            g_free(err);
        }
        g_assert_true(file_starts(png, "\x89PNG", 5000));
        g_assert_true(file_starts(svg, "<?xml", 2000));
        g_free(png);
        g_free(svg);
    }
    /* the sequence of an oplock break: found through the SMB messages */
    char *brk = path_in("break.png");
    g_assert_cmpint(rdrsim(NULL, NULL, "plot", db, "--what", "sequence", "--break", "1", "-o", brk, NULL), ==, 0);
    g_assert_true(file_starts(brk, "\x89PNG", 5000));
    g_free(brk);
    g_free(sweep_db);
    g_free(db);
}

static void test_plot_errors(void)
{
    char *err, *out = path_in("x.png");
    /* an empty trace: a run with no rows */
    char *empty = path_in("empty.db");
    g_unlink(empty);
    Trace *tr = trace_open(empty, &err);
    TraceRunInfo info = { "e.rsim", "e", "", "", 1, TRACE_ALL };
    g_assert_true(trace_begin_run(tr, &info, &err));
    g_assert_true(trace_end_run(tr, "complete", NULL, 0, 0, &err));
    trace_close(tr);
    static const char *const whats[] = { "disconnect", "timeouts", "oplock", "timeline", "sequence", "sweep" };
    for (size_t i = 0; i < G_N_ELEMENTS(whats); i++) {
        g_assert_cmpint(rdrsim(NULL, &err, "plot", empty, "--what", whats[i], "--conn", "1", "-o", out, NULL), ==, 2);
        g_assert_nonnull(strstr(err, "rdrsim plot: "));
        g_free(err);
        g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
    }
    /* a DB of another program, untouched */
    char *foreign = path_in("foreign2.db");
    sqlite3 *db;
    sqlite3_open(foreign, &db);
    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
    sqlite3_close(db);
    g_assert_cmpint(rdrsim(NULL, &err, "plot", foreign, "--what", "disconnect", "-o", out, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "not an rdrsim trace"));
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, &err, "plot", empty, "--what", "pie", "-o", out, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "expected one of"));
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, &err, "plot", empty, "--what", "disconnect", "-o", "x.pdf", NULL), ==, 2);
    g_free(err);
    g_free(foreign);
    g_free(empty);
    g_free(out);
}

static const char small[] = "scenario small seed=11 stop=30s\n"
                            "client c1\nserver srv\n"
                            "link c1 srv latency=5ms bandwidth=100Mbit\n"
                            "endpoint a node=c1\nendpoint b node=srv\n"
                            "at 0s endpoint b listen\nat 0s endpoint a connect srv\n"
                            "at 1s endpoint a send bytes=8KiB count=4\nat 1s endpoint a disconnect mode=release\n";

/* Everything but the wall-clock columns, every table, in order. */
static char *dump_db(const char *db)
{
    static const char *const sql[] = {
        "SELECT run_id, scenario_path, scenario_text, seed, overrides, trace_level, sim_end_ns, events, status, "
        "message FROM runs ORDER BY run_id",
        "SELECT * FROM names ORDER BY id", "SELECT * FROM params ORDER BY rowid",
        "SELECT * FROM metric ORDER BY rowid", "SELECT * FROM packet ORDER BY rowid",
        "SELECT * FROM tdi_request ORDER BY rowid", "SELECT * FROM disconnect ORDER BY rowid",
    };
    return dump_queries(db, sql, G_N_ELEMENTS(sql));
}

static void test_sweep_and_merge(void)
{
    char *sc = write_scenario("small.rsim", small), *err = NULL;
    char *j1 = path_in("sweep-j1.db"), *j2 = path_in("sweep-j2.db");
    g_unlink(j1), g_unlink(j2);
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--vary", "link.c1-srv.loss=0,10%", "--vary",
                           "link.c1-srv.latency=1ms,5ms,20ms", "--runs", "3", "-j", "1", "-q", "-o", j1, NULL),
                    ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--vary", "link.c1-srv.loss=0,10%", "--vary",
                           "link.c1-srv.latency=1ms,5ms,20ms", "--runs", "3", "-j", "2", "-q", "-o", j2, NULL),
                    ==, 0);
    /* every run, its parameters, grid order; the same seeds at every point */
    ASSERT_QUERY(j2, "SELECT count(*) FROM runs WHERE status = 'complete'", "18");
    ASSERT_QUERY(j2, "SELECT count(DISTINCT seed) FROM runs", "3");
    ASSERT_QUERY(j2, "SELECT value FROM params WHERE run_id = 1 AND name = 'link.c1-srv.latency'", "1ms");
    ASSERT_QUERY(j2, "SELECT value FROM params WHERE run_id = 18 AND name = 'link.c1-srv.latency'", "20ms");
    ASSERT_QUERY(j2, "SELECT value FROM params WHERE run_id = 18 AND name = 'link.c1-srv.loss'", "10%");
    ASSERT_QUERY(j2, "SELECT count(*) FROM params WHERE name = 'link.c1-srv.loss' AND value = '10%'", "9");
    ASSERT_QUERY(j2, "SELECT count(DISTINCT run_id) FROM packet", "18");
    ASSERT_QUERY(j2, "PRAGMA integrity_check", "ok");
    /* no shard left behind */
    char *parts = g_strdup_printf("%s.parts", j2);
    g_assert_false(g_file_test(parts, G_FILE_TEST_EXISTS));
    g_free(parts);
    /* -j 2 gives the DB -j 1 gives */
    char *d1 = dump_db(j1), *d2 = dump_db(j2);
    g_assert_cmpstr(d1, ==, d2);
    /* and so does GNU parallel on the emitted command lines, merged */
    char *em = path_in("sweep-em.db"), *jobs = path_in("jobs.txt");
    g_unlink(em);
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--vary", "link.c1-srv.loss=0,10%", "--vary",
                           "link.c1-srv.latency=1ms,5ms,20ms", "--runs", "3", "-q", "-o", em, "--emit-jobs", jobs,
                           NULL),
                    ==, 0);
    char *cmd = g_strdup_printf("parallel -j 2 < '%s'", jobs);
    char *sh[] = { "sh", "-c", cmd, NULL };
    int st;
    g_assert_true(g_spawn_sync(NULL, sh, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &st, NULL));
    g_assert_true(g_spawn_check_wait_status(st, NULL));
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_strdup(bin()));
    g_ptr_array_add(argv, g_strdup("merge"));
    g_ptr_array_add(argv, g_strdup(em));
    for (int i = 0; i < 18; i++)
        g_ptr_array_add(argv, g_strdup_printf("%s.parts/run-%06d.db", em, i));
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &st, NULL));
    g_assert_true(g_spawn_check_wait_status(st, NULL));
    g_ptr_array_unref(argv);
    char *de = dump_db(em);
    g_assert_cmpstr(d1, ==, de);
    /* a failing point is recorded with its message; the sweep goes on, and
     * its summary names the run, its point and seed, and why */
    char *pinger = write_scenario("pinger.rsim", "scenario pinger seed=4 stop=2s\nclient c1\nserver srv\n"
                                                 "link c1 srv latency=1ms\nat 0s c1 ping srv count=3 bytes=1000\n");
    char *bad = path_in("sweep-bad.db");
    g_unlink(bad);
    g_assert_cmpint(rdrsim(NULL, &err, "sweep", pinger, "--vary", "link.c1-srv.mtu=1500,500", "-q", "-o", bad, NULL),
                    ==, 1);
    g_assert_nonnull(strstr(err, "1 run failed:"));
    g_assert_nonnull(strstr(err, "run 2 (link.c1-srv.mtu=500, seed "));
    g_assert_nonnull(strstr(err, "exit 2: "));
    g_assert_nonnull(strstr(err, "larger than the link's mtu (500)"));
    g_free(err);
    ASSERT_QUERY(bad, "SELECT status FROM runs ORDER BY run_id", "complete\nfailed");
    ASSERT_QUERY(bad, "SELECT message LIKE '%mtu (500)%' FROM runs WHERE run_id = 2", "1");
    g_free(bad);
    g_free(pinger);
    g_free(cmd);
    g_free(d1), g_free(d2), g_free(de);
    g_free(em), g_free(jobs);
    g_free(j1), g_free(j2);
    g_free(sc);
}

/* The completion-time metrics every run writes (sim/latency.h), on the
 * known run: time-outs are never completion times. */
static void test_latency_metrics(void)
{
    char *db = known_db("lat.db", 1);
    const char *sql = "SELECT group_concat(name || '=' || value, ' ') FROM (SELECT name, value FROM metrics "
                      "WHERE name LIKE 'op.%' OR name LIKE 'break.%' OR name LIKE 'disconnect.%' ORDER BY name)";
    char *all = query(db, sql);
    /* reads of 10, 20, 30, 40 ms: nearest rank */
    g_assert_nonnull(strstr(all, "op.read.count=4.0 "));
    g_assert_nonnull(strstr(all, "op.read.p50_ns=20000000.0 "));
    g_assert_nonnull(strstr(all, "op.read.p95_ns=40000000.0 "));
    g_assert_nonnull(strstr(all, "op.read.max_ns=40000000.0 "));
    /* opens: 5 ms and a time-out at 35 s: one completion */
    g_assert_nonnull(strstr(all, "op.open.count=1.0 "));
    g_assert_nonnull(strstr(all, "op.open.max_ns=5000000.0 "));
    g_assert_nonnull(strstr(all, "op.open.timed_out=1.0 "));
    g_assert_nonnull(strstr(all, "op.open.timed_out_share=0.5 "));
    g_assert_nonnull(strstr(all, "op.open.pending=0.0 "));
    g_assert_nonnull(strstr(all, "op.open.cancelled=0.0 "));
    /* breaks by transition; the one that timed out has no time */
    g_assert_nonnull(strstr(all, "break.BATCH_to_LEVEL_II.count=2.0 "));
    g_assert_nonnull(strstr(all, "break.BATCH_to_LEVEL_II.max_ns=12000000.0 "));
    g_assert_nonnull(strstr(all, "break.LEVEL_II_to_NONE.count=0.0 "));
    g_assert_nonnull(strstr(all, "break.LEVEL_II_to_NONE.timed_out=1.0 "));
    g_assert_null(strstr(all, "break.LEVEL_II_to_NONE.p50_ns"));
    /* disconnects by mode: ten releases of 10..19 ms, one timed out */
    g_assert_nonnull(strstr(all, "disconnect.release.count=10.0 "));
    g_assert_nonnull(strstr(all, "disconnect.release.p50_ns=14000000.0 "));
    g_assert_nonnull(strstr(all, "disconnect.release.max_ns=19000000.0 "));
    g_assert_nonnull(strstr(all, "disconnect.release.timed_out=1.0 "));
    g_assert_nonnull(strstr(all, "disconnect.abort.count=1.0 "));
    g_free(all);
    g_free(db);
    /* an open that never completes is pending, not a completion */
    db = known_db_v("lat-pending.db", 1, KNOWN_PENDING_OPEN);
    all = query(db, sql);
    g_assert_nonnull(strstr(all, "op.open.count=0.0 "));
    g_assert_nonnull(strstr(all, "op.open.pending=1.0 "));
    g_assert_nonnull(strstr(all, "op.open.pending_share=0.5 "));
    g_assert_null(strstr(all, "op.open.p50_ns"));
    g_free(all);
    g_free(db);
    /* every run writes them, at any trace level, and a sweep's repetitions
     * carry them */
    char *sc = write_scenario("small.rsim", small), *sw = path_in("lat-sweep.db");
    g_unlink(sw);
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--vary", "link.c1-srv.loss=0,5%", "--runs", "2", "-q", "-o", sw,
                           "--set", "scenario.stop=30s", NULL),
                    ==, 0);
    ASSERT_QUERY(sw, "SELECT count(DISTINCT run_id) FROM metrics WHERE name = 'disconnect.release.count'", "4");
    char *none = path_in("lat-none.db");
    g_unlink(none);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "--trace", "none", "-o", none, sc, NULL), ==, 0);
    ASSERT_QUERY(none, "SELECT count(*) FROM disconnect", "0");
    ASSERT_QUERY(none, "SELECT value > 0 FROM metrics WHERE name = 'disconnect.release.p50_ns'", "1");
    g_free(none);
    g_free(sw);
    g_free(sc);
}

static const char *lat_name(void *ctx, uint32_t id)
{
    (void)ctx;
    return id == 1 ? "read" : "?";
}

static void lat_emit(void *ctx, const char *name, double value)
{
    g_hash_table_insert(ctx, g_strdup(name), g_memdup2(&value, sizeof value));
}

/* Past LATENCY_EXACT samples quantiles come from buckets: within 1/128. */
static void test_latency_buckets(void)
{
    Latencies *l = latencies_new();
    const int n = 10000;
    for (int i = n; i >= 1; i--) /* 1 ms .. 10 s, 1 ms apart */
        latencies_add(l, LAT_OP, 1, LAT_DONE, (int64_t)i * 1000003);
    latencies_add(l, LAT_OP, 1, LAT_TIMED_OUT, 0);
    GHashTable *m = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    latencies_write(l, lat_name, NULL, lat_emit, m);
    double *count = g_hash_table_lookup(m, "op.read.count"), *p50 = g_hash_table_lookup(m, "op.read.p50_ns");
    double *p99 = g_hash_table_lookup(m, "op.read.p99_ns"), *max = g_hash_table_lookup(m, "op.read.max_ns");
    double *share = g_hash_table_lookup(m, "op.read.timed_out_share");
    g_assert_cmpfloat(*count, ==, n);
    g_assert_cmpfloat(*max, ==, (double)n * 1000003);
    double exact50 = 5000.0 * 1000003, exact99 = 9900.0 * 1000003;
    g_assert_cmpfloat(*p50, <=, exact50);
    g_assert_cmpfloat(*p50, >=, exact50 * (1 - 1.0 / 128));
    g_assert_cmpfloat(*p99, <=, exact99);
    g_assert_cmpfloat(*p99, >=, exact99 * (1 - 1.0 / 128));
    g_assert_cmpfloat(fabs(*share - 1.0 / (n + 1)), <, 1e-12);
    g_hash_table_unref(m);
    latencies_free(l);
}

/* Several runs a side, paired by seed (8 seeds): the change is what every
 * run of a DB shares, a --set or a one-value --vary alike. */
/* sweep checks everything before it runs anything, runs repetitions
 * without --vary, never appends by accident, takes group forms, writes
 * absolute paths for jobs run elsewhere; merge never merges a shard twice;
 * seeds are exact 64-bit integers. */
static void test_sweep_checks(void)
{
    char *sc = write_scenario("small.rsim", small), *out, *err;
    char *db = path_in("sw-checks.db");
    g_unlink(db);
    /* every unknown name and bad value, before anything runs */
    g_assert_cmpint(rdrsim(NULL, &err, "sweep", sc, "--vary", "link.c1-srv.latncy=1ms,2ms", "--vary",
                           "link.c1-srv.loss=1%,300%", "--vary", "link.c9-srv.loss=1%", "--set", "client.c1.nope=1",
                           "-o", db, NULL),
                    ==, 2);
    g_assert_nonnull(strstr(err, "link has no key 'latncy'"));
    g_assert_nonnull(strstr(err, "300%"));
    g_assert_nonnull(strstr(err, "no link 'c9-srv' is declared"));
    g_assert_nonnull(strstr(err, "client has no key 'nope'"));
    g_free(err);
    g_assert_false(g_file_test(db, G_FILE_TEST_EXISTS));
    /* repetitions alone */
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--runs", "3", "-q", "-o", db, NULL), ==, 0);
    ASSERT_QUERY(db, "SELECT count(DISTINCT seed) FROM runs WHERE status = 'complete'", "3");
    /* a DB with runs is not appended to by accident */
    g_assert_cmpint(rdrsim(NULL, &err, "sweep", sc, "--runs", "2", "-q", "-o", db, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "already holds 3 runs: --append"));
    g_free(err);
    ASSERT_QUERY(db, "SELECT count(*) FROM runs", "3");
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--runs", "2", "--append", "-q", "-o", db, NULL), ==, 0);
    ASSERT_QUERY(db, "SELECT count(*) FROM runs", "5");
    /* group forms in --set and --vary */
    char *groups = write_scenario("groups.rsim", "scenario groups seed=2 stop=1s\nclient c[1..3]\nserver srv\n"
                                                 "link c[*] srv latency=1ms\n");
    char *gdb = path_in("sw-groups.db");
    g_unlink(gdb);
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", groups, "--vary", "link.c[*]-srv.latency=2ms,7ms", "--set",
                           "client.c[2..3].rto_min=500ms", "-q", "-o", gdb, NULL),
                    ==, 0);
    ASSERT_QUERY(gdb, "SELECT group_concat(value, ' ') FROM params WHERE run_id = 2 AND name LIKE 'link.c_-srv.latency'",
                 "7ms 7ms 7ms");
    ASSERT_QUERY(gdb, "SELECT group_concat(value, ' ') FROM params WHERE run_id = 1 AND name LIKE 'client.c_.rto_min'",
                 "300ms 500ms 500ms"); /* rto_min defaults to 300 ms (Windows' MinRto) */
    g_assert_cmpint(rdrsim(NULL, &err, "check", groups, "--set", "client.c[1..4].rto_min=1s", NULL), ==, 2);
    g_assert_nonnull(strstr(err, "no client 'c4' is declared"));
    g_free(err);
    g_free(gdb), g_free(groups);
    /* --emit-jobs: absolute paths, so a job runs from any directory */
    char *jobs = path_in("sw-jobs.txt"), *jdb = path_in("sw-jobs.db");
    g_unlink(jdb);
    char *cwd = g_get_current_dir();
    g_assert_cmpint(g_chdir(dir), ==, 0);
    char *rel[] = { (char *)bin(), "sweep", "small.rsim", "--runs", "2", "-q", "-o", "sw-jobs.db", "--emit-jobs",
                    "sw-jobs.txt", NULL };
    char *abs_bin = g_canonicalize_filename(bin(), cwd);
    rel[0] = abs_bin;
    int st;
    g_assert_true(g_spawn_sync(NULL, rel, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &st, NULL));
    g_assert_true(g_spawn_check_wait_status(st, NULL));
    g_assert_cmpint(g_chdir(cwd), ==, 0);
    char *text = NULL;
    g_assert_true(g_file_get_contents(jobs, &text, NULL, NULL));
    char *abs_sc = g_build_filename(dir, "small.rsim", NULL), *abs_shard = g_build_filename(dir, "sw-jobs.db.parts",
                                                                                              "run-000000.db", NULL);
    g_assert_nonnull(strstr(text, abs_sc));
    g_assert_nonnull(strstr(text, abs_shard));
    g_free(text), g_free(abs_sc), g_free(abs_shard), g_free(abs_bin), g_free(cwd);
    char *cmd = g_strdup_printf("cd / && sh '%s'", jobs);
    char *sh[] = { "sh", "-c", cmd, NULL };
    g_assert_true(g_spawn_sync(NULL, sh, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &st, NULL));
    g_assert_true(g_spawn_check_wait_status(st, NULL));
    g_free(cmd);
    /* merge: each shard once */
    char *s0 = g_strdup_printf("%s.parts/run-000000.db", jdb), *s1 = g_strdup_printf("%s.parts/run-000001.db", jdb);
    g_assert_cmpint(rdrsim(NULL, NULL, "merge", jdb, s0, s1, NULL), ==, 0);
    ASSERT_QUERY(jdb, "SELECT count(*) FROM runs", "2");
    g_assert_cmpint(rdrsim(NULL, &err, "merge", jdb, s1, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "is already in"));
    g_free(err);
    ASSERT_QUERY(jdb, "SELECT count(*) FROM runs", "2");
    g_free(s0), g_free(s1), g_free(jobs), g_free(jdb);
    /* seeds past 2^53 stay what they are */
    char *seeds = path_in("sw-seeds.db");
    g_unlink(seeds);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", seeds, "--seed", "9007199254740993", sc, NULL), ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", seeds, "--seed", "9007199254740992", sc, NULL), ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", seeds, "--set", "scenario.seed=9223372036854775807", sc,
                           NULL),
                    ==, 0);
    ASSERT_QUERY(seeds, "SELECT group_concat(seed, ' ') FROM runs",
                 "9007199254740993 9007199254740992 9223372036854775807");
    g_assert_cmpint(rdrsim(&out, &err, "run", "-q", "-o", seeds, "--seed", "9223372036854775808", sc, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "from 0 to 9223372036854775807"));
    g_free(out), g_free(err);
    g_free(seeds);
    g_free(db), g_free(sc);
}

static void test_compare_seeds(void)
{
    char *sc = write_scenario("small.rsim", small), *out, *err;
    char *base = path_in("cmp-base.db"), *same = path_in("cmp-same.db"), *slow = path_in("cmp-slow.db");
    char *slow1 = path_in("cmp-slow1.db");
    g_unlink(base), g_unlink(same), g_unlink(slow), g_unlink(slow1);
    const char *vary = "link.c1-srv.loss=1%,5%";
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--vary", vary, "--runs", "8", "-j", "2", "-q", "-o", base, NULL),
                    ==, 0);
    /* the same configuration, spelled as a change: no regression */
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--vary", vary, "--runs", "8", "-j", "2", "-q", "-o", same,
                           "--set", "link.c1-srv.latency=5ms", NULL),
                    ==, 0);
    /* 10 ms instead of 5 ms: every release takes longer */
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--vary", vary, "--runs", "8", "-j", "2", "-q", "-o", slow,
                           "--set", "link.c1-srv.latency=10ms", NULL),
                    ==, 0);
    /* the same change as a one-value --vary */
    g_assert_cmpint(rdrsim(NULL, NULL, "sweep", sc, "--vary", vary, "--vary", "link.c1-srv.latency=10ms", "--runs",
                           "8", "-j", "2", "-q", "-o", slow1, NULL),
                    ==, 0);
    g_assert_cmpint(rdrsim(&out, &err, "compare", base, same, NULL), ==, 0);
    g_assert_null(strstr(out, "REGRESSION"));
    g_assert_nonnull(strstr(out, "16 pairs of runs"));
    g_assert_nonnull(strstr(out, "0 regressions flagged"));
    g_assert_nonnull(strstr(out, "the traces do not diverge"));
    g_free(out), g_free(err);
    for (int k = 0; k < 2; k++) {
        g_assert_cmpint(rdrsim(&out, &err, "compare", base, k ? slow1 : slow, NULL), ==, 1);
        g_assert_nonnull(strstr(out, "16 pairs of runs"));
        /* the latencies compared with repetitions, in ms with an interval */
        const char *line = strstr(out, "disconnect.release.p50_ns");
        g_assert_nonnull(line);
        const char *eol = strchr(line, '\n');
        char *row = g_strndup(line, (gsize)(eol - line));
        g_assert_nonnull(strstr(row, " ms"));
        g_assert_nonnull(strstr(row, "[+"));
        g_assert_nonnull(strstr(row, "REGRESSION"));
        g_free(row);
        g_assert_nonnull(strstr(out, "First divergence"));
        g_assert_nonnull(strstr(out, "c1->srv syn 40 B conn 1, delivered at 5003200"));
        g_assert_null(strstr(out, "e+0")); /* no raw exponents */
        g_free(out), g_free(err);
    }
    /* the other way round it is an improvement, not a regression */
    g_assert_cmpint(rdrsim(&out, NULL, "compare", slow, base, "--format", "markdown", NULL), ==, 0);
    g_assert_nonnull(strstr(out, "| improved |"));
    g_free(out);
    /* a DB of runs nothing pairs with */
    char *k1 = known_db("k1.db", 1);
    g_assert_cmpint(rdrsim(NULL, &err, "compare", k1, base, "--force", NULL), ==, 2);
    g_assert_nonnull(strstr(err, "cannot pair"));
    g_free(err);
    g_free(k1);
    g_free(base), g_free(same), g_free(slow), g_free(slow1);
    g_free(sc);
}

/* One run a side with the same seed: deterministic, so a difference beyond
 * the threshold where more is worse is a regression. */
static void test_compare_one_seed(void)
{
    char *k1 = known_db("k1.db", 1), *k2 = known_db("k2.db", 2), *k3 = known_db("k3.db", 1), *out;
    g_assert_cmpint(rdrsim(&out, NULL, "compare", k1, k2, NULL), ==, 1);
    g_assert_nonnull(strstr(out, "One run a side, seed 1: the runs are deterministic"));
    g_assert_nonnull(strstr(out, "seed sweep"));
    const char *line = strstr(out, "op.read.p50_ns");
    g_assert_nonnull(line);
    char *row = g_strndup(line, (gsize)(strchr(line, '\n') - line));
    g_assert_nonnull(strstr(row, " 20.00 ms "));
    g_assert_nonnull(strstr(row, " 40.00 ms "));
    g_assert_nonnull(strstr(row, " +20.00 ms "));
    g_assert_nonnull(strstr(row, "REGRESSION (deterministic, one seed)"));
    g_free(row);
    g_free(out);
    /* a 5% threshold: 1.03 times slower is within it */
    char *k4 = known_db("k4.db", 1.03);
    g_assert_cmpint(rdrsim(&out, NULL, "compare", k1, k4, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "worse, within threshold"));
    g_free(out);
    g_assert_cmpint(rdrsim(&out, NULL, "compare", k1, k4, "--threshold", "1", NULL), ==, 1);
    g_free(out);
    g_assert_cmpint(rdrsim(&out, NULL, "compare", k1, k3, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "0 regressions flagged"));
    g_assert_nonnull(strstr(out, "not shown (--all shows them)"));
    g_free(out);
    g_assert_cmpint(rdrsim(&out, NULL, "compare", k1, k3, "--all", NULL), ==, 0);
    g_assert_nonnull(strstr(out, "op.read.p50_ns"));
    g_free(out);
    g_free(k1), g_free(k2), g_free(k3), g_free(k4);
}

/* Traces of different scenarios are refused unless forced. */
static void test_compare_refuses(void)
{
    char *k1 = known_db("k1.db", 1), *other = known_db_v("ko.db", 1, KNOWN_OTHER_TEXT), *out, *err;
    g_assert_cmpint(rdrsim(&out, &err, "compare", k1, other, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "different scenarios"));
    g_assert_nonnull(strstr(err, "--force"));
    g_assert_cmpstr(out, ==, "");
    g_free(out), g_free(err);
    g_assert_cmpint(rdrsim(&out, NULL, "compare", k1, other, "--force", NULL), ==, 0);
    g_assert_nonnull(strstr(out, "--force: compared although"));
    g_free(out);
    g_assert_cmpint(rdrsim(NULL, &err, "compare", k1, "/nonexistent.db", NULL), ==, 2);
    g_free(err);
    g_free(k1), g_free(other);
}

/* What appears on one side only, an operation that never completes, a
 * failed run and a failed expectation are regressions. */
static void test_compare_counts(void)
{
    char *k1 = known_db("k1.db", 1), *out;
    struct {
        int variant;
        const char *metric;
    } cases[] = {
        { KNOWN_NEW_STATUS, "status.STATUS_CONNECTION_RESET" },
        { KNOWN_PENDING_OPEN, "op.open.pending " },
        { KNOWN_PENDING_OPEN, "op.open.pending_share" },
        { KNOWN_FAILED, "run.failed" },
        { KNOWN_EXPECT_FAILED, "run.expectations_failed" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *name = g_strdup_printf("kc%zu.db", i), *db = known_db_v(name, 1, cases[i].variant);
        g_assert_cmpint(rdrsim(&out, NULL, "compare", k1, db, NULL), ==, 1);
        const char *line = strstr(out, cases[i].metric);
        g_assert_nonnull(line);
        const char *eol = strchr(line, '\n');
        char *row = g_strndup(line, (gsize)(eol - line));
        g_assert_nonnull(strstr(row, "REGRESSION"));
        g_free(row);
        g_free(out);
        /* and going away is not */
        g_assert_cmpint(rdrsim(&out, NULL, "compare", db, k1, NULL), ==, 0);
        g_free(out);
        g_free(db), g_free(name);
    }
    g_free(k1);
}

/* The simulator's own metrics are shown, and gated only when asked for. */
static void test_compare_gate(void)
{
    char *k1 = known_db("k1.db", 1), *ke = known_db("ke.db", 1), *out;
    /* the same run but for sim.events (1000 against 1500) */
    char *sql = g_strdup_printf("UPDATE metric SET value = 1500 WHERE name = (SELECT id FROM names WHERE name = "
                                "'sim.events')");
    sqlite3 *db;
    g_assert_cmpint(sqlite3_open(ke, &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
    sqlite3_close(db);
    g_free(sql);
    g_assert_cmpint(rdrsim(&out, NULL, "compare", k1, ke, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "shown (sim.*: not gated)"));
    g_free(out);
    g_assert_cmpint(rdrsim(&out, NULL, "compare", k1, ke, "--metric", "sim.events", NULL), ==, 1);
    g_assert_nonnull(strstr(out, "REGRESSION"));
    g_assert_null(strstr(out, "op.read")); /* --metric names what takes part */
    g_free(out);
    /* a baseline of a build that wrote no completion-time metrics (before
     * 0.3.0): those are not measured there, not zero */
    char *kold = known_db("kold.db", 1);
    g_assert_cmpint(sqlite3_open(kold, &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db,
                                 "UPDATE runs SET rdrsim_version = '0.2.0';"
                                 "DELETE FROM metric WHERE name IN (SELECT id FROM names WHERE name LIKE 'op.%' OR "
                                 "name LIKE 'break.%' OR name LIKE 'disconnect.%')",
                                 NULL, NULL, NULL),
                    ==, SQLITE_OK);
    sqlite3_close(db);
    g_assert_cmpint(rdrsim(&out, NULL, "compare", kold, k1, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "not measured by one side's build"));
    g_assert_null(strstr(out, "REGRESSION"));
    g_free(out);
    g_free(kold);
    g_free(k1), g_free(ke);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("rdrsim-analysis-XXXXXX", NULL);
    g_test_add_func("/analysis/report", test_report);
    g_test_add_func("/analysis/plot-every-what", test_plot_every_what);
    g_test_add_func("/analysis/plot-errors", test_plot_errors);
    g_test_add_func("/analysis/sweep-and-merge", test_sweep_and_merge);
    g_test_add_func("/analysis/latency-metrics", test_latency_metrics);
    g_test_add_func("/analysis/latency-buckets", test_latency_buckets);
    g_test_add_func("/analysis/sweep-checks", test_sweep_checks);
    g_test_add_func("/analysis/compare-seeds", test_compare_seeds);
    g_test_add_func("/analysis/compare-one-seed", test_compare_one_seed);
    g_test_add_func("/analysis/compare-refuses", test_compare_refuses);
    g_test_add_func("/analysis/compare-counts", test_compare_counts);
    g_test_add_func("/analysis/compare-gate", test_compare_gate);
    int rc = g_test_run();
    if (!g_getenv("RDRSIM_KEEP_TEST_DIR")) /* set it to look at the figures */
        remove_tree(dir);
    else
        g_printerr("kept %s\n", dir);
    g_free(dir);
    return rc;
}
