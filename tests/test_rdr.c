/* The client side as a whole: the shape of the MINIRDR_DISPATCH table, the
 * routines the SMB mini-redirector fills in, which routines the bundled
 * scenarios reach (every one RDBSS uses, none it never calls), and a
 * redirector declared with optional routines NULL. */
#include "cli.h"
#include "minirdr.h"
#include "smbrdr.h"
#include "davrdr.h"

static const char *top(void)
{
    const char *t = g_getenv("RDRSIM_TOP");
    return t ? t : ".";
}

/* CALLBACKS.md section 1: 61 callable entries, RDBSS calls 51 of them. */
static void test_table_shape(void)
{
    g_assert_cmpint(MRX_N_ROUTINES, ==, 61);
    int never = 0;
    for (int i = 0; i < MRX_N_ROUTINES; i++) {
        never += mrx_never_called((MrxId)i);
        g_assert_cmpint(mrx_by_name(mrx_name((MrxId)i)), ==, i);
    }
    g_assert_cmpint(MRX_N_ROUTINES - never, ==, 51);
    g_assert_cmpstr(mrx_name(MRX_LOWIO(LOWIO_OP_READ)), ==, "MRxLowIOSubmit[LOWIO_OP_READ]");
    g_assert_true(mrx_async(ID_MRxCreateSrvCall) && mrx_async(ID_MRxCreateVNetRoot));
    g_assert_true(mrx_async(MRX_LOWIO(LOWIO_OP_WRITE)));
    g_assert_false(mrx_async(ID_MRxCreate) || mrx_async(ID_MRxCloseSrvOpen));
}

/* The SMB redirector implements every routine RDBSS uses and leaves the
 * others NULL. */
static void test_smb_dispatch(void)
{
    MINIRDR_DISPATCH d;
    smbrdr_dispatch(&d);
    for (int i = 0; i < MRX_N_ROUTINES; i++) {
        MrxId id = (MrxId)i;
        if (mrx_never_called(id))
            g_assert_null(mrx_get(&d, id));
        else if (!mrx_get(&d, id))
            g_error("the SMB redirector leaves %s NULL", mrx_name(id));
    }
}

/* Every bundled scenario into one DB; then, per kind of redirector, the
 * routines called across them: each one its table fills in and RDBSS
 * uses at least once, none it leaves NULL, none RDBSS never calls.  A
 * scenario's redirectors are WebDAV ones when declared kind=webdav (all
 * bundled scenarios name theirs `dav` then, and no SMB one so). */
#define DAV_ROWS "(r.scenario_text LIKE '%%kind=webdav%%' AND c.redirector = 'dav')"

static void check_kind(const char *db, const char *kind, const MINIRDR_DISPATCH *d)
{
    char *sql = g_strdup_printf("SELECT DISTINCT c.routine FROM callbacks c JOIN runs r ON r.run_id = c.run_id "
                                "WHERE %s" DAV_ROWS " ORDER BY 1", strcmp(kind, "webdav") == 0 ? "" : "NOT ");
    char *called = query(db, sql);
    char **list = g_strsplit(called, "\n", -1);
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (char **n = list; *n; n++)
        if (**n)
            g_hash_table_add(seen, *n);
    GString *missing = g_string_new(""), *wrong = g_string_new("");
    guint filled = 0;
    for (int i = 0; i < MRX_N_ROUTINES; i++) {
        MrxId id = (MrxId)i;
        bool was = g_hash_table_contains(seen, mrx_name(id));
        bool callable = !mrx_never_called(id) && mrx_get(d, id);
        filled += callable;
        if (!callable && was)
            g_string_append_printf(wrong, " %s", mrx_name(id));
        else if (callable && !was)
            g_string_append_printf(missing, " %s", mrx_name(id));
    }
    if (missing->len)
        g_error("%s: no scenario calls:%s", kind, missing->str);
    if (wrong->len)
        g_error("%s: a scenario calls what it leaves NULL or RDBSS never calls:%s", kind, wrong->str);
    g_assert_cmpuint(g_hash_table_size(seen), ==, filled);
    g_string_free(missing, TRUE);
    g_string_free(wrong, TRUE);
    g_hash_table_unref(seen);
    g_strfreev(list);
    g_free(called);
    g_free(sql);
}

static void test_scenarios_cover_the_table(void)
{
    char *sdir = g_build_filename(top(), "scenarios", NULL);
    GDir *d = g_dir_open(sdir, 0, NULL);
    g_assert_nonnull(d);
    char *db = path_in("all.db");
    int runs = 0;
    for (const char *n; (n = g_dir_read_name(d));) {
        if (!g_str_has_suffix(n, ".rsim"))
            continue;
        char *p = g_build_filename(sdir, n, NULL);
        char *err = NULL;
        int rc = rdrsim(NULL, &err, "run", "-q", "-o", db, p, NULL);
        if (rc != 0)
            g_error("%s: exit %d: %s", n, rc, err);
        g_free(err);
        g_free(p);
        runs++;
    }
    g_dir_close(d);
    g_assert_cmpint(runs, >=, 10);
    /* the WebDAV redirectors: those of runs whose scenario declares kind=webdav */
    ASSERT_QUERY(db, "SELECT count(*) > 0 FROM runs WHERE scenario_text LIKE '%redirector dav kind=webdav%'", "1");
    ASSERT_QUERY(db, "SELECT count(*) FROM runs WHERE scenario_text LIKE '%kind=webdav%' AND scenario_text NOT LIKE "
                     "'%redirector dav kind=webdav%'", "0");
    MINIRDR_DISPATCH smb_table, dav_table;
    smbrdr_dispatch(&smb_table);
    davrdr_dispatch(&dav_table);
    check_kind(db, "smb", &smb_table);
    check_kind(db, "webdav", &dav_table);
    g_free(db);
    g_free(sdir);
}

/* The WebDAV table: its NULL entries are the protocol's, each named. */
static void test_dav_dispatch(void)
{
    MINIRDR_DISPATCH d;
    davrdr_dispatch(&d);
    static const MrxId null[] = { ID_MRxIsLockRealizable, ID_MRxQueryEaInfo, ID_MRxSetEaInfo, ID_MRxQuerySdInfo,
                                  ID_MRxSetSdInfo, ID_MRxQueryQuotaInfo, ID_MRxSetQuotaInfo, ID_MRxSetVolumeInfo,
                                  ID_MRxComputeNewBufferingState, ID_MRxCompleteBufferingStateChangeRequest,
                                  ID_MRxGetConnectionId, ID_MRxExtendForCache, ID_MRxAreFilesAliased,
                                  ID_MRxZeroExtend, MRX_LOWIO(LOWIO_OP_SHAREDLOCK),
                                  MRX_LOWIO(LOWIO_OP_EXCLUSIVELOCK), MRX_LOWIO(LOWIO_OP_UNLOCK),
                                  MRX_LOWIO(LOWIO_OP_UNLOCK_MULTIPLE), MRX_LOWIO(LOWIO_OP_FSCTL),
                                  MRX_LOWIO(LOWIO_OP_IOCTL), MRX_LOWIO(LOWIO_OP_NOTIFY_CHANGE_DIRECTORY) };
    int filled = 0;
    for (int i = 0; i < MRX_N_ROUTINES; i++) {
        MrxId id = (MrxId)i;
        bool listed = false;
        for (size_t k = 0; k < G_N_ELEMENTS(null); k++)
            listed = listed || null[k] == id;
        if (mrx_never_called(id) || listed)
            g_assert_null(mrx_get(&d, id));
        else if (!mrx_get(&d, id))
            g_error("the WebDAV redirector leaves %s NULL, which is not the protocol's", mrx_name(id));
        filled += mrx_get(&d, id) != NULL;
    }
    g_assert_cmpint(filled, ==, 51 - (int)G_N_ELEMENTS(null));
}

/* A redirector without MRxGetConnectionId and MRxIsLockRealizable: RDBSS
 * calls neither; every user shares the NET_ROOT of the zero id, and gets a
 * V_NET_ROOT of their own because RDBSS compares credentials
 * (STRUCTURES.md 4.3); locks go straight to the low I/O routine. */
static void test_null_routines(void)
{
    char *s = write_scenario("nulls.rsim",
                             "scenario nulls stop=10s\n"
                             "client c1 redirectors=dav\n"
                             "server srv\n"
                             "link c1 srv latency=1ms\n"
                             "share public server=srv\n"
                             "file a share=public path=a.doc\n"
                             "user alice server=srv password=p\n"
                             "user bob server=srv password=q\n"
                             "redirector dav null=MRxGetConnectionId,MRxIsLockRealizable\n"
                             "at 1s c1 open h1 \\\\srv\\public\\a.doc user=alice password=p oplock=none\n"
                             "at 2s c1 open h2 \\\\srv\\public\\a.doc user=bob password=q oplock=none\n"
                             "at 3s c1 lock h1 offset=0 length=1\n");
    char *db = path_in("nulls.db");
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", db, s, NULL), ==, 0);
    ASSERT_QUERY(db,
                 "SELECT count(*) FROM callbacks WHERE routine IN ('MRxGetConnectionId', 'MRxIsLockRealizable')",
                 "0");
    ASSERT_QUERY(db, "SELECT count(*) FROM callbacks WHERE routine = 'MRxCreateVNetRoot'", "2");
    ASSERT_QUERY(db, "SELECT group_concat(status) FROM ops", "STATUS_SUCCESS,STATUS_SUCCESS,STATUS_SUCCESS");
    ASSERT_QUERY(db,
                 "SELECT group_concat(routine, ' ') FROM (SELECT routine FROM callbacks WHERE t_ns = 3000000000 "
                 "ORDER BY rowid)",
                 "MRxLowIOSubmit[LOWIO_OP_EXCLUSIVELOCK]");
    /* an unknown routine name is an error at its column */
    char *bad = write_scenario("badnull.rsim", "client c1 redirectors=x\nredirector x null=MRxNoSuchThing\n");
    char *err = NULL;
    g_assert_cmpint(rdrsim(NULL, &err, "check", bad, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "badnull.rsim:2:"));
    g_assert_nonnull(strstr(err, "MRxNoSuchThing"));
    g_free(err);
    g_free(bad);
    g_free(db);
    g_free(s);
}

/* A stochastic workload is deterministic: two runs with one seed give the
 * same operations, breaks and messages; another seed gives others. */
static void test_workload_determinism(void)
{
    char *s = write_scenario("wl.rsim",
                             "scenario wl stop=3s\n"
                             "client c[1..6] redirectors=smb\n"
                             "server srv\n"
                             "link c[*] srv latency=uniform(1ms,5ms) loss=2%\n"
                             "share public server=srv\n"
                             "user alice server=srv password=p\n"
                             "redirector smb\n"
                             "workload c[*] share=\\\\srv\\public user=alice password=p rate=30 files=8 zipf=1 "
                             "mix=read:4,write:4,lock:1,close:1 session=1s\n");
    const char *const q[] = {
        "SELECT node, op, handle, path, t_start_ns, t_done_ns, status, bytes FROM ops ORDER BY rowid",
        "SELECT * FROM oplock_breaks ORDER BY rowid",
        "SELECT * FROM smb_messages ORDER BY rowid",
    };
    char *dump[3];
    for (int i = 0; i < 3; i++) {
        char *db = path_in(i == 0 ? "wl1.db" : i == 1 ? "wl2.db" : "wl3.db");
        g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", db, "--seed", i == 2 ? "2" : "1", s, NULL), ==, 0);
        dump[i] = dump_queries(db, q, G_N_ELEMENTS(q));
        /* Closed handles' structures are reclaimed as the run goes: at the
         * end, memory is held for fewer than half the three (FCB,
         * SRV_OPEN, FOBX) each successful open made. */
        ASSERT_QUERY(db,
                     "SELECT (SELECT value FROM metrics WHERE name = 'rdbss.file_objects_held') * 2 < "
                     "(SELECT 3 * count(*) FROM ops WHERE op = 'open' AND status = 'STATUS_SUCCESS') "
                     "AND (SELECT count(*) FROM ops WHERE op = 'open') > 100",
                     "1");
        g_free(db);
    }
    g_assert_cmpuint(strlen(dump[0]), >, 10000);
    g_assert_cmpstr(dump[0], ==, dump[1]);
    g_assert_cmpstr(dump[0], !=, dump[2]);
    for (int i = 0; i < 3; i++)
        g_free(dump[i]);
    g_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("rdrsim-rdr-XXXXXX", NULL);
    g_test_add_func("/rdr/table-shape", test_table_shape);
    g_test_add_func("/rdr/smb-dispatch", test_smb_dispatch);
    g_test_add_func("/rdr/dav-dispatch", test_dav_dispatch);
    g_test_add_func("/rdr/scenarios-cover-the-table", test_scenarios_cover_the_table);
    g_test_add_func("/rdr/null-routines", test_null_routines);
    g_test_add_func("/rdr/workload-determinism", test_workload_determinism);
    int rc = g_test_run();
    remove_tree(dir);
    g_free(dir);
    return rc;
}
