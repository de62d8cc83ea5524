/* Congestion control: the window arithmetic of NewReno (RFC 5681, 6582)
 * and CUBIC (RFC 9438) in cc.c, Windows' defaults and the legacy
 * transport's, and on real connections the initial window and SACK
 * recovery (RFC 6675) repairing a window's losses without resending what
 * arrived. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc.h"
#include "net.h"
#include "tdi.h"

#define MSS 1460
#define MS SIM_MS
/* window arithmetic is in doubles: equal to a part in a billion */
#define assert_near(a, b) g_assert_cmpfloat(fabs((a) - (b)), <=, 1e-9 * fabs(b) + 1e-9)

/* RFC 5681 3.1: slow start doubles the window each round trip (an ACK per
 * segment adds a segment); the initial window is RFC 6928's ten. */
static void test_slow_start(void)
{
    Cc c;
    cc_init(&c, CC_NEWRENO, MSS, 10, 16u << 20);
    g_assert_cmpfloat(c.cwnd, ==, 10.0 * MSS);
    for (int i = 0; i < 10; i++)
        cc_on_ack(&c, MSS, 0, 40 * MS);
    g_assert_cmpfloat(c.cwnd, ==, 20.0 * MSS);
    /* an ACK of more than a segment still adds one (eq. 2: min(N, SMSS)) */
    cc_on_ack(&c, 4 * MSS, 0, 40 * MS);
    g_assert_cmpfloat(c.cwnd, ==, 21.0 * MSS);
}

/* RFC 5681 eq. 4 and 3: half the flight, then about a segment a round trip. */
static void test_newreno(void)
{
    Cc c;
    cc_init(&c, CC_NEWRENO, MSS, 10, 16u << 20);
    c.cwnd = 40.0 * MSS;
    cc_on_loss(&c, 40 * MSS);
    g_assert_cmpfloat(c.ssthresh, ==, 20.0 * MSS);
    g_assert_cmpfloat(c.cwnd, ==, 20.0 * MSS);
    for (int i = 0; i < 20; i++) /* one window's ACKs */
        cc_on_ack(&c, MSS, 0, 40 * MS);
    g_assert_cmpfloat(c.cwnd, >, 20.9 * MSS);
    g_assert_cmpfloat(c.cwnd, <, 21.1 * MSS);
    /* a small flight: never below two segments */
    cc_on_loss(&c, MSS);
    g_assert_cmpfloat(c.ssthresh, ==, 2.0 * MSS);
    cc_on_timeout(&c, 40 * MSS);
    g_assert_cmpfloat(c.cwnd, ==, (double)MSS); /* the loss window */
    g_assert_cmpfloat(c.ssthresh, ==, 20.0 * MSS);
}

/* RFC 9438: beta 0.7; the window climbs back to W_max K seconds after the
 * loss (K = cbrt(W_max (1 - beta) / C)), concave before and convex after;
 * fast convergence lowers W_max when a loss comes below the last one. */
static void test_cubic(void)
{
    Cc c;
    cc_init(&c, CC_CUBIC, MSS, 10, 1u << 30);
    c.cwnd = 1000.0 * MSS;
    c.ssthresh = 1.0; /* in congestion avoidance */
    cc_on_loss(&c, 1000 * MSS);
    assert_near(c.cwnd, 700.0 * MSS);
    assert_near(c.w_max, 1000.0 * MSS);
    double k = cbrt(1000.0 * 0.3 / 0.4); /* 9.09 s */
    /* ACKs for every segment of each 100 ms round trip */
    SimTime rtt = 100 * MS, t = 0;
    double at_k = 0, at_2k = 0;
    while (t < (SimTime)(2 * k * 1e9)) {
        int segs = (int)(c.cwnd / MSS);
        for (int i = 0; i < segs; i++)
            cc_on_ack(&c, MSS, t, rtt);
        t += rtt;
        if (!at_k && t >= (SimTime)(k * 1e9))
            at_k = c.cwnd;
    }
    at_2k = c.cwnd;
    g_assert_cmpfloat(fabs(at_k / MSS - 1000.0), <, 60.0); /* the plateau near W_max at K */
    g_assert_cmpfloat(at_2k, >, 1.2 * at_k);               /* probing beyond it after */
    /* fast convergence: a loss below the last W_max */
    double before = c.cwnd;
    cc_on_loss(&c, (uint64_t)before);
    double second = c.cwnd;
    cc_on_loss(&c, (uint64_t)second);
    assert_near(c.w_max, second * (1.0 + 0.7) / 2.0);
    cc_on_timeout(&c, 100 * MSS);
    g_assert_cmpfloat(c.cwnd, ==, (double)MSS);
}

/* The defaults: Windows' Internet template, and the legacy transport. */
static void test_defaults(void)
{
    TdiParams p;
    tdi_default_params(&p);
    g_assert_cmpint(p.congestion, ==, CC_CUBIC);
    g_assert_true(p.sack);
    g_assert_cmpint(p.initial_window, ==, 10);
    g_assert_cmpint(p.rto.min, ==, 300 * MS);
    g_assert_cmpint(p.rto.initial, ==, SIM_SEC);
    g_assert_cmpint(p.delayed_ack, ==, 40 * MS);
    g_assert_cmpint(p.syn_retries, ==, 2);
    g_assert_cmpint(p.window, ==, 16u << 20);
    /* above the minimum RTO: a lost FIN is retransmitted within the time-out */
    g_assert_cmpint(p.disconnect_timeout, >, 2 * p.rto.min);
    g_assert_cmpint(p.disconnect_timeout, <, SIM_SEC);
    tdi_legacy_params(&p);
    g_assert_cmpint(p.congestion, ==, CC_NONE);
    g_assert_false(p.sack);
    g_assert_cmpint(p.rto.min, ==, SIM_SEC);
    g_assert_cmpint(p.delayed_ack, ==, 200 * MS);
    g_assert_cmpint(p.window, ==, 64 * 1024);
    g_assert_cmpint(p.disconnect_timeout, ==, 500 * MS);
}

/* ---- on a connection ---- */

typedef struct {
    GArray *data_at; /* SimTime: arrivals of c's data segments at s */
} Cap;

static void on_cap(void *ctx, const NetLink *link, const NetNode *from, const NetNode *to, SimTime t,
                   const NetPacket *pkt)
{
    (void)link;
    (void)to;
    Cap *c = ctx;
    if (pkt->proto == NET_PROTO_TDI && pkt->hdr[3] > 0 && strcmp(net_node_name(from), "c") == 0)
        g_array_append_val(c->data_at, t);
}

static void on_done(void *ctx, TdiEndpoint *ep, const TdiIo *io)
{
    (void)ctx;
    (void)ep;
    (void)io;
}

/* The first flight of a fresh connection is the initial window: ten
 * segments arrive together, the rest wait for their ACKs a round trip. */
static void test_initial_window(void)
{
    Sim *sim = sim_new();
    Net *net = net_new(sim, NULL, 1);
    NetNode *c = net_add_node(net, "c"), *s = net_add_node(net, "s");
    LinkParams lp = { .latency = 10 * MS, .mtu = 1500 };
    net_add_link(net, c, s, &lp);
    Tdi *tdi = tdi_new(net);
    TdiParams p;
    tdi_default_params(&p);
    tdi_set_node_params(tdi, c, &p);
    tdi_set_node_params(tdi, s, &p);
    TdiEndpoint *a = tdi_endpoint_open(tdi, c, 0, "a"), *b = tdi_endpoint_open(tdi, s, 445, "b");
    Cap cap = { g_array_new(FALSE, FALSE, sizeof(SimTime)) };
    net_set_capture(net, on_cap, &cap);
    tdi_listen(b, 0, on_done, NULL);
    tdi_connect(a, s, 445, NULL, on_done, NULL);
    sim_run(sim, 100 * MS, 0, NULL);
    tdi_receive(b, 1 << 20, on_done, NULL);
    tdi_send(a, 100 * MSS, 1, on_done, NULL);
    sim_run(sim, SIM_SEC, 0, NULL);
    g_assert_cmpuint(cap.data_at->len, ==, 100);
    SimTime first = g_array_index(cap.data_at, SimTime, 0);
    guint in_first = 0;
    for (guint i = 0; i < cap.data_at->len; i++)
        in_first += g_array_index(cap.data_at, SimTime, i) < first + 10 * MS;
    g_assert_cmpuint(in_first, ==, 10);
    g_array_unref(cap.data_at);
    tdi_free(tdi);
    net_free(net);
    sim_free(sim);
}

static char *query(const char *db, const char *sql)
{
    char *argv[] = { "sqlite3", (char *)db, (char *)sql, NULL };
    char *out = NULL;
    int st;
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &st, NULL));
    g_strstrip(out);
    return out;
}

/* tcp-bottleneck with SACK on and off: slow start overshoots the 50 KB
 * queue and drops several segments of one window.  SACK recovery resends
 * those and hardly anything else (retransmissions within a few of the
 * drops) and finishes no later than NewReno-style recovery without it. */
static void test_sack_recovery(void)
{
    const char *bin = g_getenv("RDRSIM_BIN"), *top = g_getenv("RDRSIM_TOP");
    g_assert_nonnull(bin);
    g_assert_nonnull(top);
    char *scn = g_build_filename(top, "scenarios", "tcp-bottleneck.rsim", NULL);
    char *dir = g_dir_make_tmp("rdrsim-cc-XXXXXX", NULL);
    double end[2];
    for (int sack = 0; sack < 2; sack++) {
        char *db = g_strdup_printf("%s/%d.db", dir, sack);
        char *set = g_strdup_printf("client.c1.sack=%s", sack ? "yes" : "no");
        char *argv[] = { (char *)bin, "run", "-q", "--set", set, "-o", db, scn, NULL };
        int st;
        g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                                   NULL, NULL, NULL, &st, NULL));
        char *drops = query(db, "SELECT value FROM metrics WHERE name = 'link.rtr>srv.queue_drops'");
        char *rtx = query(db, "SELECT value FROM metrics WHERE name = 'tdi.c1.retransmits'");
        char *last = query(db, "SELECT max(t_arrive_ns) FROM packets WHERE src = 'rtr' AND dst = 'srv' AND "
                               "kind IN ('data', 'retransmit')");
        g_assert_cmpfloat(g_ascii_strtod(drops, NULL), >, 10);
        if (sack)
            g_assert_cmpfloat(g_ascii_strtod(rtx, NULL), <=, g_ascii_strtod(drops, NULL) + 5);
        end[sack] = g_ascii_strtod(last, NULL);
        g_unlink(db);
        g_free(drops);
        g_free(rtx);
        g_free(last);
        g_free(db);
        g_free(set);
    }
    g_assert_cmpfloat(end[1], <=, end[0]);
    g_rmdir(dir);
    g_free(dir);
    g_free(scn);
}

/* congestion=none is the transport of old, defaults and all: bundled
 * scenarios run with it on every node give, row for row, the traces the
 * build before congestion control (b64270e) wrote of them.  The digests
 * are of those traces: each view below, as the sqlite3 shell prints it,
 * MD5'd, and the MD5 of those digests, one a line. */
static void test_legacy_traces(void)
{
    static const struct {
        const char *scenario, *digest;
    } golden[] = {
        { "oplock-break", "ab696be4742e2d3b190777964d997c18" },
        { "tdi-bulk-loss", "b5c920e26461512709fa8c7f11832828" },
        { "tdi-release-timeout", "98414596d85b3e6dbb2d82b66648aa3d" },
        { "smb-lease-rules", "cdea8020fba0ae0aa9e2bbbe5aaf702e" },
        { "load-groups", "ac4667feb27392ba4580bde382efe199" },
    };
    static const char *const views[] = {
        "SELECT run_id,t_ns,t_arrive_ns,link,src,dst,conn,bytes,kind,fate FROM packets ORDER BY rowid",
        "SELECT * FROM tdi_requests ORDER BY rowid",
        "SELECT * FROM smb_messages ORDER BY rowid",
        "SELECT * FROM ops ORDER BY rowid",
        "SELECT * FROM disconnects ORDER BY rowid",
        "SELECT * FROM oplock_breaks ORDER BY rowid",
        "SELECT sim_end_ns, events FROM runs",
    };
    const char *bin = g_getenv("RDRSIM_BIN"), *top = g_getenv("RDRSIM_TOP");
    g_assert_nonnull(bin);
    g_assert_nonnull(top);
    char *dir = g_dir_make_tmp("rdrsim-legacy-XXXXXX", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(golden); i++) {
        /* the scenario with congestion=none on every node declaration */
        char *src = g_strdup_printf("%s/scenarios/%s.rsim", top, golden[i].scenario), *text = NULL;
        g_assert_true(g_file_get_contents(src, &text, NULL, NULL));
        GString *legacy = g_string_new("");
        char **lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
            bool node = g_str_has_prefix(*l, "client ") || g_str_has_prefix(*l, "server ") ||
                        g_str_has_prefix(*l, "node ");
            g_string_append(legacy, *l);
            if (node && !strchr(*l, '#'))
                g_string_append(legacy, " congestion=none");
            if (l[1])
                g_string_append_c(legacy, '\n');
        }
        char *scn = g_strdup_printf("%s/%s.rsim", dir, golden[i].scenario);
        char *db = g_strdup_printf("%s/%s.db", dir, golden[i].scenario);
        g_assert_true(g_file_set_contents(scn, legacy->str, -1, NULL));
        char *argv[] = { (char *)bin, "run", "-q", "--trace", "all", "-o", db, scn, NULL };
        int st;
        g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                                   NULL, NULL, NULL, &st, NULL));
        /* it ran (its expectations are the new defaults': some fail, exit 1) */
        g_assert_true(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
        GString *acc = g_string_new("");
        for (size_t v = 0; v < G_N_ELEMENTS(views); v++) {
            char *qargv[] = { "sqlite3", db, (char *)views[v], NULL };
            char *out = NULL;
            g_assert_true(g_spawn_sync(NULL, qargv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &st, NULL));
            char *h = g_compute_checksum_for_string(G_CHECKSUM_MD5, out, -1);
            g_string_append_printf(acc, "%s\n", h);
            g_free(h);
            g_free(out);
        }
        char *digest = g_compute_checksum_for_string(G_CHECKSUM_MD5, acc->str, -1);
        if (strcmp(digest, golden[i].digest) != 0)
            g_error("%s with congestion=none: trace digest %s, the old build's %s", golden[i].scenario, digest,
                    golden[i].digest);
        g_unlink(db);
        g_unlink(scn);
        g_free(digest);
        g_string_free(acc, TRUE);
        g_free(db);
        g_free(scn);
        g_strfreev(lines);
        g_string_free(legacy, TRUE);
        g_free(text);
        g_free(src);
    }
    g_rmdir(dir);
    g_free(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cc/slow-start", test_slow_start);
    g_test_add_func("/cc/newreno", test_newreno);
    g_test_add_func("/cc/cubic", test_cubic);
    g_test_add_func("/cc/defaults", test_defaults);
    g_test_add_func("/cc/initial-window", test_initial_window);
    g_test_add_func("/cc/sack-recovery", test_sack_recovery);
    g_test_add_func("/cc/legacy-traces", test_legacy_traces);
    return g_test_run();
}
