/* rdrsim explore: it finds a fault schedule that breaks a scenario whose
 * expectation is false under some fault, shrinks it to at most three
 * faults, writes a reproducer that fails the same way on its own, and does
 * so identically whatever -j; on a scenario that tolerates every fault it
 * injects it runs the whole budget without a false alarm; bad input is
 * refused. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "cli.h"

/* Every operation must succeed: false once a fault hits the client. */
static const char fragile[] =
    "scenario fragile seed=5 stop=20s\n"
    "client c1\nserver srv\nlink c1 srv latency=2ms bandwidth=100Mbit\n"
    "share public server=srv\nfile f share=public path=f.doc size=64KiB\n"
    "user alice server=srv password=secret\nsmbclient s1 node=c1 server=srv\n"
    "at 0s smbclient s1 negotiate\nat 100ms smbclient s1 session user=alice password=secret\n"
    "at 200ms smbclient s1 tree share=public\nat 1s smbclient s1 create h path=f.doc\n"
    "at 5s smbclient s1 write h length=4KiB\nat 10s smbclient s1 read h length=4KiB\n"
    "at 15s smbclient s1 close h\n"
    "expect \"SELECT count(*) FROM ops WHERE status <> 'STATUS_SUCCESS'\" = 0\n";

/* Echo requests over a link that may go down, lose or delay: the run
 * completes whatever happens to them. */
static const char tolerant[] =
    "scenario tolerant seed=3 stop=10s\nclient a\nclient b\nlink a b latency=1ms\n"
    "at 0s a ping b count=50 interval=100ms\n"
    "expect \"SELECT status FROM runs\" = 'complete'\n"
    "expect \"SELECT count(*) FROM packets WHERE kind = 'echo_request' AND fate <> 'duplicate'\" = 50\n";

/* The reproducer's fault lines (after the explore comment). */
static int fault_lines(const char *text)
{
    const char *mark = strstr(text, "# ---- rdrsim explore");
    g_assert_nonnull(mark);
    int n = 0;
    for (const char *p = strchr(mark, '\n'); p && *++p; p = strchr(p, '\n'))
        n += g_str_has_prefix(p, "at ");
    return n;
}

static char *only_rsim(const char *d)
{
    GDir *dir_ = g_dir_open(d, 0, NULL);
    g_assert_nonnull(dir_);
    char *found = NULL;
    for (const char *n; (n = g_dir_read_name(dir_));)
        if (g_str_has_suffix(n, ".rsim")) {
            g_assert_null(found);
            found = g_build_filename(d, n, NULL);
        }
    g_dir_close(dir_);
    g_assert_nonnull(found);
    return found;
}

static void test_finds_and_shrinks(void)
{
    char *scn = write_scenario("fragile.rsim", fragile), *o1 = path_in("o1"), *o3 = path_in("o3");
    char *out1 = NULL, *out3 = NULL;
    char *plain = path_in("plain.db"), *repro = path_in("repro.db");
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", plain, scn, NULL), ==, 0);
    g_assert_cmpint(rdrsim(&out1, NULL, "explore", scn, "-o", o1, "--budget", "20", "-q", NULL), ==, 1);
    g_assert_cmpint(rdrsim(&out3, NULL, "explore", scn, "-o", o3, "--budget", "20", "-j", "3", "-q", NULL), ==, 1);
    char *r1 = only_rsim(o1), *r3 = only_rsim(o3), *t1 = NULL, *t3 = NULL;
    g_assert_true(g_file_get_contents(r1, &t1, NULL, NULL) && g_file_get_contents(r3, &t3, NULL, NULL));
    g_assert_cmpstr(t1, ==, t3); /* whatever -j */
    int n = fault_lines(t1);
    g_assert_cmpint(n, >=, 1);
    g_assert_cmpint(n, <=, 3);
    g_assert_nonnull(strstr(out1, "reproducer:"));
    g_assert_nonnull(strstr(out1, "20 runs of fragile"));
    /* the budget's traces, merged as a sweep's shards are */
    char *merged = g_build_filename(o1, "fragile-runs.db", NULL);
    sqlite3 *db;
    g_assert_cmpint(sqlite3_open_v2(merged, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
    sqlite3_stmt *st;
    g_assert_cmpint(sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT scenario_text) FROM runs", -1, &st, NULL),
                    ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
    g_assert_cmpint(sqlite3_column_int(st, 0), ==, 20);
    g_assert_cmpint(sqlite3_column_int(st, 1), ==, 20);
    sqlite3_finalize(st);
    sqlite3_close(db);
    g_free(merged);
    /* on its own it fails the same way: the expectation of line 16 */
    char *err = NULL;
    g_assert_cmpint(rdrsim(NULL, &err, "run", "-q", "-o", repro, r1, NULL), ==, 1);
    g_assert_nonnull(strstr(err, ":16:1: expectation failed"));
    g_free(err);
    g_free(plain);
    g_free(repro);
    g_free(t1);
    g_free(t3);
    g_free(r1);
    g_free(r3);
    g_free(out1);
    g_free(out3);
    g_free(o1);
    g_free(o3);
    g_free(scn);
}

/* --emit-jobs, the jobs run elsewhere (here: by sh), --from-jobs: the same
 * reproducer as a run of the budget here. */
static void test_emit_jobs(void)
{
    char *scn = write_scenario("fragile3.rsim", fragile), *oe = path_in("oe"), *od = path_in("od"),
         *jobs = path_in("jobs.txt");
    g_assert_cmpint(rdrsim(NULL, NULL, "explore", scn, "-o", oe, "--budget", "8", "--emit-jobs", jobs, NULL), ==, 0);
    char *text = NULL;
    g_assert_true(g_file_get_contents(jobs, &text, NULL, NULL));
    char **lines = g_strsplit(g_strchomp(text), "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 8);
    for (char **l = lines; *l; l++) {
        char *argv[] = { "sh", "-c", *l, NULL };
        g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                                   NULL, NULL, NULL, NULL));
    }
    g_strfreev(lines);
    g_free(text);
    g_assert_cmpint(rdrsim(NULL, NULL, "explore", scn, "-o", oe, "--budget", "8", "--seed", "5", "--from-jobs", "-q",
                           NULL), ==, 1);
    g_assert_cmpint(rdrsim(NULL, NULL, "explore", scn, "-o", od, "--budget", "8", "-q", NULL), ==, 1);
    char *re = only_rsim(oe), *rd = only_rsim(od), *te = NULL, *td = NULL;
    g_assert_true(g_file_get_contents(re, &te, NULL, NULL) && g_file_get_contents(rd, &td, NULL, NULL));
    g_assert_cmpstr(te, ==, td);
    g_free(te);
    g_free(td);
    g_free(re);
    g_free(rd);
    g_free(jobs);
    g_free(oe);
    g_free(od);
    g_free(scn);
}

static void test_no_false_alarm(void)
{
    char *scn = write_scenario("tolerant.rsim", tolerant), *o = path_in("ot"), *out = NULL;
    g_assert_cmpint(rdrsim(&out, NULL, "explore", scn, "-o", o, "--budget", "25", "-j", "2", "-q", "--faults",
                           "link_down,loss_burst,latency_spike,reorder,duplicate", NULL), ==, 0);
    g_assert_nonnull(strstr(out, "25 runs of tolerant (seed 3): 0 failed"));
    g_free(out);
    g_free(o);
    g_free(scn);
}

/* A client crash and reboot (`NODE crash`) is one of the kinds. */
static void test_client_crash(void)
{
    char *scn = write_scenario("fragile4.rsim", fragile), *o = path_in("oc");
    g_assert_cmpint(rdrsim(NULL, NULL, "explore", scn, "-o", o, "--budget", "5", "--faults", "client_crash", "-q",
                           NULL), ==, 1);
    char *r = only_rsim(o), *t = NULL;
    g_assert_true(g_file_get_contents(r, &t, NULL, NULL));
    g_assert_nonnull(strstr(t, " c1 crash for="));
    g_assert_cmpint(fault_lines(t), ==, 1);
    g_free(t);
    g_free(r);
    g_free(o);
    g_free(scn);
}

static void test_refusals(void)
{
    char *scn = write_scenario("f2.rsim", fragile), *o = path_in("ob"), *err = NULL;
    g_assert_cmpint(rdrsim(NULL, &err, "explore", scn, "-o", o, "--faults", "meteor", NULL), ==, 2);
    g_assert_nonnull(strstr(err, "unknown kind 'meteor'"));
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, NULL, "explore", scn, NULL), ==, 2); /* no -o */
    /* a scenario that fails with no fault */
    char *bad = write_scenario("bad.rsim", "scenario bad seed=1 stop=1s\nclient a\nclient b\nlink a b\n"
                                           "expect \"SELECT 1\" = 2\n");
    g_assert_cmpint(rdrsim(NULL, &err, "explore", bad, "-o", o, "--budget", "2", NULL), ==, 2);
    g_assert_nonnull(strstr(err, "fails with no fault injected"));
    g_free(err);
    /* nothing to act on: a scenario with no link, client, server or share */
    char *empty = write_scenario("empty.rsim", "scenario empty seed=1 stop=1s\nnode a\n");
    g_assert_cmpint(rdrsim(NULL, NULL, "explore", empty, "-o", o, NULL), ==, 2);
    g_free(empty);
    g_free(bad);
    g_free(o);
    g_free(scn);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("rdrsim-explore-XXXXXX", NULL);
    g_test_add_func("/explore/finds-and-shrinks", test_finds_and_shrinks);
    g_test_add_func("/explore/no-false-alarm", test_no_false_alarm);
    g_test_add_func("/explore/emit-jobs", test_emit_jobs);
    g_test_add_func("/explore/client-crash", test_client_crash);
    g_test_add_func("/explore/refusals", test_refusals);
    int r = g_test_run();
    remove_tree(dir);
    g_free(dir);
    return r;
}
