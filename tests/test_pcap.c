/* rdrsim pcap, checked with Wireshark's own dissectors (tshark): for every
 * bundled scenario traced with --trace all, the capture is the same bytes
 * twice; tshark finds no malformed packet and no expert error; the SMB2
 * messages it dissects are the trace's (command, status, message id,
 * response flag), all of them when no packet was lost on the way; a break's
 * oplock level or lease state is the trace's; the FINs arrive in the order
 * the trace has them; every segment tshark's TCP analysis flags as a
 * retransmission is a retransmission in the trace; the HTTP messages it
 * dissects (method and path, status) are the trace's.  And the refusals: a trace below --trace all, a DB that
 * is not one. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *top(void)
{
    const char *t = g_getenv("RDRSIM_TOP");
    return t ? t : ".";
}

/* tshark's output for a capture: one line a frame, fields tab-separated. */
static char **tshark(const char *cap, const char *filter, const char *const *fields)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, "tshark");
    g_ptr_array_add(argv, "-r");
    g_ptr_array_add(argv, (char *)cap);
    g_ptr_array_add(argv, "-Y");
    g_ptr_array_add(argv, (char *)filter);
    g_ptr_array_add(argv, "-T");
    g_ptr_array_add(argv, "fields");
    for (const char *const *f = fields; *f; f++) {
        g_ptr_array_add(argv, "-e");
        g_ptr_array_add(argv, (char *)*f);
    }
    g_ptr_array_add(argv, NULL);
    char *out = NULL;
    int st;
    GError *e = NULL;
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                      &out, NULL, &st, &e))
        g_error("tshark: %s", e->message);
    g_ptr_array_unref(argv);
    g_assert_true(g_spawn_check_wait_status(st, NULL));
    /* only the newlines go: a line's last fields may be empty */
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n')
        out[--n] = 0;
    char **lines = g_strsplit(out, "\n", -1);
    g_free(out);
    return lines;
}

/* The rows of a query, each as one string (columns joined by spaces). */
static GPtrArray *rows(const char *db, const char *sql)
{
    sqlite3 *h;
    g_assert_cmpint(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        g_error("%s: %s", sql, sqlite3_errmsg(h));
    GPtrArray *r = g_ptr_array_new_with_free_func(g_free);
    while (sqlite3_step(st) == SQLITE_ROW) {
        GString *s = g_string_new("");
        for (int i = 0; i < sqlite3_column_count(st); i++)
            g_string_append_printf(s, "%s%s", i ? " " : "",
                                   sqlite3_column_text(st, i) ? (const char *)sqlite3_column_text(st, i) : "-");
        g_ptr_array_add(r, g_string_free(s, FALSE));
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return r;
}

static gint cmp_str(gconstpointer a, gconstpointer b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Is every string of `part` in `whole` (as multisets)? Both get sorted. */
static bool sub_multiset(GPtrArray *part, GPtrArray *whole, const char *what, const char *scenario)
{
    g_ptr_array_sort(part, cmp_str);
    g_ptr_array_sort(whole, cmp_str);
    guint j = 0;
    for (guint i = 0; i < part->len; i++) {
        while (j < whole->len && strcmp(g_ptr_array_index(whole, j), g_ptr_array_index(part, i)) < 0)
            j++;
        if (j == whole->len || strcmp(g_ptr_array_index(whole, j), g_ptr_array_index(part, i)) != 0) {
            g_printerr("%s: %s in the capture but not in the trace: %s\n", scenario, what,
                       (char *)g_ptr_array_index(part, i));
            return false;
        }
        j++;
    }
    return true;
}

/* A number tshark prints in hex or decimal. */
static unsigned long long num(const char *s) { return strtoull(s, NULL, 0); }

/* The SMB2 messages of the capture: "CMD STATUS MSGID RESPONSE" each
 * (a frame may carry several: tshark lists each field's values with commas). */
static GPtrArray *captured_messages(const char *cap)
{
    static const char *const f[] = { "smb2.cmd", "smb2.nt_status", "smb2.msg_id", "smb2.flags.response", NULL };
    /* a retransmitted segment's messages are copies (or fill a gap: then
     * the packet was lost, and only the subset is compared) */
    char **lines = tshark(cap, "smb2 && !tcp.analysis.retransmission && !tcp.analysis.fast_retransmission && "
                               "!tcp.analysis.spurious_retransmission", f);
    GPtrArray *r = g_ptr_array_new_with_free_func(g_free);
    for (char **l = lines; *l && **l; l++) {
        char **cols = g_strsplit(*l, "\t", -1);
        g_assert_cmpuint(g_strv_length(cols), ==, 4);
        char **v[4];
        for (int i = 0; i < 4; i++)
            v[i] = g_strsplit(cols[i], ",", -1);
        /* a request's header has no status (it is ChannelSequence there):
         * the status list holds the responses' only, in order */
        guint n = g_strv_length(v[0]), si = 0;
        g_assert_cmpuint(g_strv_length(v[2]), ==, n);
        g_assert_cmpuint(g_strv_length(v[3]), ==, n);
        for (guint k = 0; k < n; k++) {
            bool resp = strcmp(v[3][k], "True") == 0 || strcmp(v[3][k], "1") == 0;
            unsigned long long status = resp && v[1][si] ? num(v[1][si++]) : 0;
            g_ptr_array_add(r, g_strdup_printf("%llu %llu %lld %d", num(v[0][k]), status, (long long)num(v[2][k]),
                                               resp));
        }
        for (int i = 0; i < 4; i++)
            g_strfreev(v[i]);
        g_strfreev(cols);
    }
    g_strfreev(lines);
    return r;
}

/* The SMB2 command codes of the trace's names (MS-SMB2 2.2.1.2). */
static const char cmd_codes_sql[] =
    "WITH c(name, code) AS (VALUES ('NEGOTIATE',0),('SESSION_SETUP',1),('LOGOFF',2),('TREE_CONNECT',3),"
    "('TREE_DISCONNECT',4),('CREATE',5),('CLOSE',6),('FLUSH',7),('READ',8),('WRITE',9),('LOCK',10),('IOCTL',11),"
    "('CANCEL',12),('ECHO',13),('QUERY_DIRECTORY',14),('CHANGE_NOTIFY',15),('QUERY_INFO',16),('SET_INFO',17),"
    "('OPLOCK_BREAK',18)) ";

static void check_scenario(const char *scenario)
{
    char *name = g_path_get_basename(scenario);
    *strrchr(name, '.') = 0;
    char *db = g_strdup_printf("%s/%s.db", dir, name), *cap = g_strdup_printf("%s/%s.pcapng", dir, name),
         *cap2 = g_strdup_printf("%s/%s-2.pcapng", dir, name);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "--trace", "all", "-o", db, scenario, NULL), ==, 0);
    char *err = NULL;
    int st = rdrsim(NULL, &err, "pcap", db, "-o", cap, NULL);
    if (st != 0)
        g_error("%s: rdrsim pcap: exit %d: %s", name, st, err);
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, NULL, "pcap", db, "-o", cap2, NULL), ==, 0);
    char *a = NULL, *b = NULL;
    gsize la, lb;
    g_assert_true(g_file_get_contents(cap, &a, &la, NULL) && g_file_get_contents(cap2, &b, &lb, NULL));
    g_assert_true(la == lb && memcmp(a, b, la) == 0); /* byte-identical */
    g_free(a);
    g_free(b);

    /* no malformed packet, no expert error */
    static const char *const fn[] = { "frame.number", "_ws.expert.message", NULL };
    char **bad = tshark(cap, "_ws.malformed || _ws.expert.severity >= 0x00800000", fn);
    if (bad[0] && *bad[0])
        g_error("%s: tshark reports errors: %s", name, bad[0]);
    g_strfreev(bad);

    /* the SMB2 messages */
    GPtrArray *got = captured_messages(cap);
    char *sql = g_strconcat(cmd_codes_sql,
                            "SELECT c.code, m.status, m.msg_id, m.is_response FROM smb_message m "
                            "JOIN names n ON n.id = m.command JOIN c ON c.name = n.name",
                            NULL);
    GPtrArray *want = rows(db, sql);
    g_free(sql);
    /* all of them when every packet arrived and no connection was reset
     * (a message sent into a connection that then broke is traced, and
     * never on a wire) */
    GPtrArray *faults = rows(db, "SELECT count(*) FROM packets WHERE fate <> 'delivered' OR kind = 'rst'");
    bool clean = strcmp(g_ptr_array_index(faults, 0), "0") == 0;
    g_ptr_array_unref(faults);
    g_assert_true(sub_multiset(got, want, "SMB2 message", name));
    if (clean && got->len != want->len)
        g_error("%s: no packet was lost, yet the capture has %u SMB2 messages and the trace %u", name, got->len,
                want->len);

    /* breaks: the oplock level, or the lease state (a notification's new one) */
    static const char *const fb[] = { "smb2.msg_id", "smb2.flags.response", "smb2.create.oplock",
                                      "smb2.lease.lease_state", NULL };
    char **brk = tshark(cap, "smb2.cmd == 18 && smb2.nt_status == 0 && !tcp.analysis.retransmission && "
                             "!tcp.analysis.fast_retransmission && !tcp.analysis.spurious_retransmission", fb);
    GPtrArray *gb = g_ptr_array_new_with_free_func(g_free);
    for (char **l = brk; *l && **l; l++) {
        char **c = g_strsplit(*l, "\t", -1);
        if (strchr(c[0], ',')) { /* several breaks in one frame: not compared field by field */
            g_strfreev(c);
            continue;
        }
        char *last = strrchr(c[3], ',');
        bool resp = strcmp(c[1], "True") == 0 || strcmp(c[1], "1") == 0;
        char level[32];
        if (*c[3])
            g_snprintf(level, sizeof level, "L%llu", num(last ? last + 1 : c[3]));
        else
            g_snprintf(level, sizeof level, "O%llu", num(c[2]));
        g_ptr_array_add(gb, g_strdup_printf("%lld %d %s", (long long)num(c[0]), resp, level));
        g_strfreev(c);
    }
    g_strfreev(brk);
    GPtrArray *wb = rows(db, "SELECT m.msg_id, m.is_response, CASE WHEN m.oplock = 255 THEN 'L' || m.lease_state "
                             "ELSE 'O' || m.oplock END FROM smb_message m JOIN names n ON n.id = m.command "
                             "WHERE n.name = 'OPLOCK_BREAK' AND m.status = 0");
    g_assert_true(sub_multiset(gb, wb, "break", name));
    g_ptr_array_unref(gb);
    g_ptr_array_unref(wb);
    g_ptr_array_unref(got);
    g_ptr_array_unref(want);

    /* the HTTP messages (WebDAV): a request's method and path, a
     * response's status, as Wireshark's HTTP dissector reads them */
    static const char *const fh[] = { "http.request.method", "http.request.uri", "http.response.code", NULL };
    char **hl = tshark(cap, "http.request || http.response", fh);
    GPtrArray *gh = g_ptr_array_new_with_free_func(g_free);
    for (char **l = hl; *l && **l; l++) {
        char **c = g_strsplit(*l, "\t", -1);
        g_ptr_array_add(gh, *c[0] ? g_strdup_printf("%s %s", c[0], c[1]) : g_strdup(c[2]));
        g_strfreev(c);
    }
    g_strfreev(hl);
    GPtrArray *wh = rows(db, "SELECT CASE WHEN is_response THEN status ELSE method || ' ' || path END "
                             "FROM http_messages");
    g_assert_true(sub_multiset(gh, wh, "HTTP message", name));
    if (clean && gh->len != wh->len)
        g_error("%s: no packet was lost, yet the capture has %u HTTP messages and the trace %u", name, gh->len,
                wh->len);
    g_ptr_array_unref(gh);
    g_ptr_array_unref(wh);

    /* FINs, in the order they arrived: (connection, from the connecting side) */
    static const char *const ff[] = { "tcp.srcport", "tcp.dstport", NULL };
    char **fins = tshark(cap, "tcp.flags.fin == 1", ff);
    GString *gf = g_string_new("");
    for (char **l = fins; *l && **l; l++) {
        char **c = g_strsplit(*l, "\t", -1);
        unsigned long long sp = num(c[0]), dp = num(c[1]);
        bool from_client = sp >= 49152;
        g_string_append_printf(gf, "%llu:%d ", (from_client ? sp : dp) - 49151, from_client);
        g_strfreev(c);
    }
    g_strfreev(fins);
    /* (the last hop's rows: a routed packet has a row per hop, and the
     * capture is of what reached the far host) */
    GPtrArray *wf = rows(db, "WITH ends AS MATERIALIZED (SELECT DISTINCT conn, src AS node FROM packets WHERE hop = 1), "
                             "opener AS MATERIALIZED (SELECT conn, min(src) AS node FROM packets WHERE kind = 'syn' "
                             "AND hop = 1 GROUP BY conn) "
                             "SELECT p.conn || ':' || (p.dst != o.node) FROM packets p JOIN ends e ON e.conn = p.conn "
                             "AND e.node = p.dst JOIN opener o ON o.conn = p.conn WHERE p.kind = 'fin' AND "
                             "p.fate = 'delivered' ORDER BY p.t_arrive_ns");
    GString *ws = g_string_new("");
    for (guint i = 0; i < wf->len; i++)
        g_string_append_printf(ws, "%s ", (char *)g_ptr_array_index(wf, i));
    if (strcmp(gf->str, ws->str) != 0)
        g_error("%s: FINs in the capture [%s], in the trace [%s]", name, gf->str, ws->str);
    g_string_free(gf, TRUE);
    g_string_free(ws, TRUE);
    g_ptr_array_unref(wf);

    /* each segment tshark's TCP analysis flags as a retransmission is one
     * in the trace (or a copy the link made).  The converse does not hold
     * for a capture at the receiving end: a retransmission whose first copy
     * was lost looks, there, like any next segment. */
    static const char *const fr[] = { "frame.time_epoch", NULL };
    char **flagged = tshark(cap, "tcp.analysis.retransmission || tcp.analysis.fast_retransmission || "
                                 "tcp.analysis.spurious_retransmission", fr);
    /* the trace's retransmissions: data sent again ('retransmit'), and a
     * SYN, SYN-ACK or FIN sent again (the second of its kind from its side) */
    GPtrArray *rtx = rows(db, "WITH ends AS MATERIALIZED (SELECT DISTINCT conn, src AS node FROM packets WHERE hop = 1) "
                              "SELECT t_arrive_ns FROM (SELECT t_arrive_ns, kind, fate, row_number() OVER "
                              "(PARTITION BY p.conn, dst, kind ORDER BY t_ns) AS k FROM packets p JOIN ends e ON "
                              "e.conn = p.conn AND e.node = p.dst) "
                              "WHERE (fate = 'delivered' AND (kind = 'retransmit' OR (kind IN ('syn', 'syn_ack', "
                              "'fin') AND k > 1))) OR fate = 'duplicate'");
    GHashTable *times = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < rtx->len; i++)
        g_hash_table_add(times, g_ptr_array_index(rtx, i));
    for (char **l = flagged; *l && **l; l++) {
        char *dot = strchr(*l, '.');
        char *t = g_strdup_printf("%llu", num(*l) * 1000000000ull + (dot ? strtoull(dot + 1, NULL, 10) : 0));
        if (!g_hash_table_contains(times, t))
            g_error("%s: tshark flags the segment arriving at %s ns as a retransmission; the trace does not", name, t);
        g_free(t);
    }
    g_strfreev(flagged);
    g_hash_table_unref(times);
    g_ptr_array_unref(rtx);
    g_free(db);
    g_free(cap);
    g_free(cap2);
    g_free(name);
}

static void test_bundled(void)
{
    char *sdir = g_build_filename(top(), "scenarios", NULL);
    GDir *d = g_dir_open(sdir, 0, NULL);
    g_assert_nonnull(d);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    for (const char *f; (f = g_dir_read_name(d));)
        if (g_str_has_suffix(f, ".rsim"))
            g_ptr_array_add(files, g_build_filename(sdir, f, NULL));
    g_dir_close(d);
    g_ptr_array_sort(files, cmp_str);
    g_assert_cmpuint(files->len, >, 20);
    for (guint i = 0; i < files->len; i++)
        check_scenario(g_ptr_array_index(files, i));
    g_ptr_array_unref(files);
    g_free(sdir);
}

/* The demo's sequence chart (`plot --what sequence --break 1`) and its
 * capture tell the same story: the chart draws the packets the holder's
 * connection sent from 1 ms before the break's notification to 1 ms after
 * its acknowledgement, and the SMB2 messages they carry; the capture has
 * the same packets (arrival times, IP lengths) and messages on that TCP
 * stream. */
static void test_demo_sequence(void)
{
    char *db = path_in("demo.db"), *cap = path_in("demo.pcapng"),
         *scn = g_build_filename(top(), "scenarios", "oplock-break.rsim", NULL);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", db, scn, NULL), ==, 0);
    g_assert_cmpint(rdrsim(NULL, NULL, "pcap", db, "-o", cap, NULL), ==, 0);
    /* the window and the connection, as plot.c finds them */
    static const char win[] =
        "WITH b AS (SELECT server, holder_node, t_sent_ns - 1000000 AS w0, coalesce(t_acked_ns, t_sent_ns) + 1000000 "
        "AS w1 FROM oplock_breaks ORDER BY t_sent_ns LIMIT 1), "
        "c AS (SELECT m.conn FROM smb_messages m, b WHERE m.node = b.server AND m.peer = b.holder_node LIMIT 1) ";
    char *sql = g_strconcat(win, "SELECT p.t_arrive_ns || ' ' || p.bytes FROM packets p, b, c WHERE p.conn = c.conn "
                                 "AND p.t_ns BETWEEN b.w0 AND b.w1 AND p.fate = 'delivered' AND p.kind <> 'syn'",
                            NULL);
    GPtrArray *chart = rows(db, sql);
    g_free(sql);
    g_assert_cmpuint(chart->len, >=, 6); /* notification, flushed write, acknowledgement, responses, ACKs */
    sql = g_strconcat(win, "SELECT 49151 + c.conn FROM c", NULL);
    GPtrArray *port = rows(db, sql);
    g_free(sql);
    char *filter = g_strdup_printf("tcp.port == %s", (char *)g_ptr_array_index(port, 0));
    static const char *const f[] = { "frame.time_epoch", "ip.len", NULL };
    char **frames = tshark(cap, filter, f);
    GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
    for (char **l = frames; *l && **l; l++) {
        char **c = g_strsplit(*l, "\t", -1);
        char *dot = strchr(c[0], '.');
        g_ptr_array_add(seen, g_strdup_printf("%llu %s", num(c[0]) * 1000000000ull + strtoull(dot + 1, NULL, 10),
                                              c[1]));
        g_strfreev(c);
    }
    g_strfreev(frames);
    /* every packet of the chart is in the capture, at its arrival, with its size */
    for (guint i = 0; i < chart->len; i++) {
        const char *want = g_ptr_array_index(chart, i);
        bool found = false;
        for (guint j = 0; j < seen->len && !found; j++)
            found = strcmp(g_ptr_array_index(seen, j), want) == 0;
        if (!found)
            g_error("oplock-break: the chart's packet \"%s\" (arrival ns, bytes) is not in the capture", want);
    }
    /* and the chart's SMB2 messages are the capture's in those frames */
    GHashTable *times = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < chart->len; i++) {
        const char *row = g_ptr_array_index(chart, i);
        g_hash_table_add(times, g_strndup(row, (gsize)(strchr(row, ' ') - row)));
    }
    sql = g_strconcat(win, "SELECT m.msg_id || ' ' || m.is_response FROM smb_messages m, b, c WHERE m.conn = c.conn "
                           "AND m.t_ns BETWEEN b.w0 AND b.w1",
                      NULL);
    GPtrArray *want = rows(db, sql);
    g_free(sql);
    g_assert_cmpuint(want->len, >=, 4);
    char *sf = g_strdup_printf("%s && smb2", filter);
    static const char *const fm[] = { "frame.time_epoch", "smb2.msg_id", "smb2.flags.response", NULL };
    char **msgs = tshark(cap, sf, fm);
    GPtrArray *got = g_ptr_array_new_with_free_func(g_free);
    for (char **l = msgs; *l && **l; l++) {
        char **c = g_strsplit(*l, "\t", -1);
        char *dot = strchr(c[0], '.');
        char *t = g_strdup_printf("%llu", num(c[0]) * 1000000000ull + strtoull(dot + 1, NULL, 10));
        if (g_hash_table_contains(times, t)) {
            char **ids = g_strsplit(c[1], ",", -1), **rs = g_strsplit(c[2], ",", -1);
            for (guint k = 0; ids[k]; k++)
                g_ptr_array_add(got, g_strdup_printf("%lld %d", (long long)num(ids[k]),
                                                     strcmp(rs[k], "True") == 0 || strcmp(rs[k], "1") == 0));
            g_strfreev(ids);
            g_strfreev(rs);
        }
        g_free(t);
        g_strfreev(c);
    }
    g_strfreev(msgs);
    g_assert_true(sub_multiset(got, want, "chart message", "oplock-break"));
    g_assert_cmpuint(got->len, ==, want->len);
    g_ptr_array_unref(got);
    g_ptr_array_unref(want);
    g_hash_table_unref(times);
    g_free(sf);
    g_ptr_array_unref(seen);
    g_ptr_array_unref(chart);
    g_ptr_array_unref(port);
    g_free(filter);
    g_free(db);
    g_free(cap);
    g_free(scn);
}

static void test_refusals(void)
{
    char *db = path_in("ops.db"), *cap = path_in("ops.pcapng"), *scn = g_build_filename(top(), "scenarios",
                                                                                            "smb-lease.rsim", NULL);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "--trace", "ops", "-o", db, scn, NULL), ==, 0);
    char *err = NULL;
    g_assert_cmpint(rdrsim(NULL, &err, "pcap", db, "-o", cap, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "--trace all"));
    g_free(err);
    g_assert_false(g_file_test(cap, G_FILE_TEST_EXISTS));
    char *junk = write_scenario("junk.db", "not a database");
    g_assert_cmpint(rdrsim(NULL, NULL, "pcap", junk, "-o", cap, NULL), ==, 2);
    g_assert_cmpint(rdrsim(NULL, NULL, "pcap", db, NULL), ==, 2); /* no -o */
    g_free(junk);
    g_free(db);
    g_free(cap);
    g_free(scn);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("rdrsim-pcap-XXXXXX", NULL);
    g_test_add_func("/pcap/refusals", test_refusals);
    g_test_add_func("/pcap/bundled", test_bundled);
    g_test_add_func("/pcap/demo-sequence", test_demo_sequence);
    int r = g_test_run();
    remove_tree(dir);
    g_free(dir);
    return r;
}
