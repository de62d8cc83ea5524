/* Routers and routed paths (net.h): the path of least total latency, ties
 * by the next hop's name, a row per hop, routes that follow links going
 * down and up, hosts that forward nothing, and `check` refusing statements
 * between nodes nothing joins. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "scenario.h"
#include "world.h"

#define MS SIM_MS

typedef struct {
    Sim *sim;
    Net *net;
    NetNode *a, *b, *r1, *r2, *h;
    NetLink *a_r1, *r1_b, *a_r2, *r2_b;
    int got;
    SimTime at;
    NetNode *from;
    const NetLink *last; /* the last hop of the latest packet */
} Diamond;

static void on_capture(void *ctx, const NetLink *link, const NetNode *from, const NetNode *to, SimTime t,
                       const NetPacket *pkt)
{
    (void)from;
    (void)to;
    (void)t;
    (void)pkt;
    ((Diamond *)ctx)->last = link;
}

static void on_recv(Net *net, NetNode *at, NetNode *from, const NetPacket *pkt, void *ctx)
{
    (void)net;
    (void)at;
    (void)pkt;
    Diamond *d = ctx;
    d->got++;
    d->at = sim_now(d->sim);
    d->from = from;
}

/* a - r1 - b and a - r2 - b; r1's path is 1 + 1 ms, r2's 2 + lat2 ms. */
static void diamond(Diamond *d, SimTime lat2)
{
    memset(d, 0, sizeof *d);
    d->sim = sim_new();
    d->net = net_new(d->sim, NULL, 1);
    d->a = net_add_node(d->net, "a");
    d->b = net_add_node(d->net, "b");
    d->r1 = net_add_node(d->net, "r1");
    d->r2 = net_add_node(d->net, "r2");
    d->h = net_add_node(d->net, "h"); /* a host with two links: no router */
    net_node_set_router(d->r1, true);
    net_node_set_router(d->r2, true);
    LinkParams one = { .latency = MS, .mtu = 1500 }, two = { .latency = 2 * MS, .mtu = 1500 },
               l2 = { .latency = lat2, .mtu = 1500 };
    d->a_r1 = net_add_link(d->net, d->a, d->r1, &one);
    d->r1_b = net_add_link(d->net, d->r1, d->b, &one);
    d->a_r2 = net_add_link(d->net, d->a, d->r2, &two);
    d->r2_b = net_add_link(d->net, d->r2, d->b, &l2);
    net_add_link(d->net, d->a, d->h, &one);
    net_node_set_receiver(d->b, NET_PROTO_PING, on_recv, d);
    net_node_set_receiver(d->a, NET_PROTO_PING, on_recv, d);
    net_set_capture(d->net, on_capture, d);
}

static void diamond_free(Diamond *d)
{
    net_free(d->net);
    sim_free(d->sim);
}

static SimTime send_one(Diamond *d, NetNode *from, NetNode *to)
{
    NetPacket p = { .proto = NET_PROTO_PING, .bytes = 100 };
    int before = d->got;
    SimTime t0 = sim_now(d->sim);
    g_assert_true(net_send(d->net, from, to, &p));
    sim_run(d->sim, t0 + SIM_SEC, 0, NULL);
    return d->got > before ? d->at - t0 : -1;
}

/* The shorter path wins; with a longer r2 path, always r1. */
static void test_least_latency(void)
{
    Diamond d;
    diamond(&d, 5 * MS);
    g_assert_cmpint(send_one(&d, d.a, d.b), ==, 2 * MS);
    g_assert_true(d.from == d.a); /* the receiver is told the first sender, not the router */
    g_assert_cmpint(send_one(&d, d.b, d.a), ==, 2 * MS);
    diamond_free(&d);
}

/* Equal paths (1 + 1 and 2 + 0): the next hop whose name sorts first, r1. */
static void test_tie_by_name(void)
{
    Diamond d;
    diamond(&d, 0);
    g_assert_cmpint(send_one(&d, d.a, d.b), ==, 2 * MS);
    g_assert_true(d.last == d.r1_b);
    g_assert_cmpint(send_one(&d, d.b, d.a), ==, 2 * MS);
    g_assert_true(d.last == d.a_r1);
    /* take r1's first link down: now only r2 (2 + 0 ms) */
    net_link_set_up(d.a_r1, false);
    g_assert_cmpint(send_one(&d, d.a, d.b), ==, 2 * MS);
    g_assert_true(d.last == d.r2_b);
    g_assert_true(net_reachable(d.net, d.a, d.b));
    diamond_free(&d);
}

/* A link going down moves the route at once; both down: no route, but the
 * nodes are still joined by the topology; up again: the short path. */
static void test_reroute(void)
{
    Diamond d;
    diamond(&d, 5 * MS);
    net_link_set_up(d.r1_b, false);
    g_assert_cmpint(send_one(&d, d.a, d.b), ==, 7 * MS);
    net_link_set_up(d.r2_b, false);
    g_assert_cmpint(send_one(&d, d.a, d.b), ==, -1);
    g_assert_false(net_reachable(d.net, d.a, d.b));
    g_assert_true(net_path_exists(d.net, d.a, d.b));
    net_link_set_up(d.r1_b, true);
    g_assert_cmpint(send_one(&d, d.a, d.b), ==, 2 * MS);
    diamond_free(&d);
}

/* Only routers forward: h has two links but carries nothing for others,
 * so nothing joins b and h, and a send between them is refused. */
static void test_hosts_do_not_forward(void)
{
    Diamond d;
    diamond(&d, 5 * MS);
    g_assert_false(net_path_exists(d.net, d.b, d.h));
    NetPacket p = { .proto = NET_PROTO_PING, .bytes = 100 };
    g_assert_false(net_send(d.net, d.b, d.h, &p));
    g_assert_true(net_path_exists(d.net, d.a, d.h));
    diamond_free(&d);
}

/* Run a scenario text; with sql, return what sqlite3 prints of it on the
 * trace (else rdrsim's output). */
static char *run_query(const char *text, int *status, const char *sql)
{
    char *path = NULL;
    int fd = g_file_open_tmp("rdrsim-route-XXXXXX.rsim", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    close(fd);
    char *db = g_strconcat(path, ".db", NULL);
    const char *bin = g_getenv("RDRSIM_BIN");
    g_assert_nonnull(bin);
    char *argv[] = { (char *)bin, "run", "-q", "-o", db, path, NULL };
    char *out = NULL, *err = NULL;
    g_assert_true(g_spawn_sync(NULL, argv, NULL, 0, NULL, NULL, &out, &err, status, NULL));
    char *both = g_strconcat(out, err, NULL);
    if (sql) {
        g_free(both);
        char *qargv[] = { "sqlite3", db, (char *)sql, NULL };
        int st;
        g_assert_true(g_spawn_sync(NULL, qargv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &both, NULL, &st, NULL));
        g_strstrip(both);
    }
    g_unlink(path);
    g_unlink(db);
    g_free(path);
    g_free(db);
    g_free(out);
    g_free(err);
    return both;
}

static char *run_rdrsim(const char *text, int *status) { return run_query(text, status, NULL); }

#define OFFICE                                                                                                 \
    "scenario x seed=1 stop=2s\nclient c1 redirectors=smb\n%s rtr\nserver srv\nredirector smb\nshare s "      \
    "server=srv\nlink c1 rtr latency=1ms\nlink rtr srv latency=10ms\nendpoint e node=c1\nat 1s c1 open h1 "   \
    "\\\\srv\\s\\a.doc\nat 1s endpoint e connect srv\n"

/* The example: rtr declared a plain node joins nothing, so every
 * statement between c1 and srv is refused, each at its own column. */
static void test_check_refuses_unjoined(void)
{
    int status;
    char *text = g_strdup_printf(OFFICE, "node");
    char *out = run_rdrsim(text, &status);
    g_assert_true(g_spawn_check_wait_status(status, NULL) == FALSE);
    g_assert_cmpint(WEXITSTATUS(status), ==, 2);
    g_assert_nonnull(strstr(out, ":10:18: no path joins c1 and srv"));
    g_assert_nonnull(strstr(out, ":11:26: no path joins c1 and srv"));
    g_free(out);
    g_free(text);
    /* declared a router, the same scenario runs, and the open gets to the
     * server (which refuses the anonymous user), the connect succeeds */
    text = g_strdup_printf(OFFICE, "router");
    out = run_rdrsim(text, &status);
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_free(out);
    g_free(text);
}

/* A path lost during a run gives the statuses a lost direct link gives:
 * TDI_CONNECT while the WAN is down, STATUS_NETWORK_UNREACHABLE at once;
 * up again, it connects through the router; a send after the WAN goes
 * down for good is retransmitted five times (lost at the router's link,
 * link_down) and fails with STATUS_IO_TIMEOUT. */
static void test_path_lost(void)
{
    const char *text = "scenario lost seed=1 stop=60s\nclient c1\nrouter rtr\nserver srv\n"
                       "link c1 rtr latency=1ms\nlink rtr srv latency=10ms\n"
                       "endpoint a node=c1\nendpoint b node=srv port=1\n"
                       "at 0s endpoint b listen\nat 100ms link rtr srv down for=1s\n"
                       "at 200ms endpoint a connect srv port=1\nat 2s endpoint a connect srv port=1\n"
                       "at 3s link rtr srv down\nat 3.1s endpoint a send bytes=1KiB\n";
    int status;
    char *got = run_query(text, &status,
                          "SELECT group_concat(request || ':' || status, ' ') FROM (SELECT * FROM tdi_requests "
                          "WHERE endpoint = 'a' ORDER BY t_ns)");
    g_assert_cmpstr(got, ==, "TDI_CONNECT:STATUS_NETWORK_UNREACHABLE TDI_CONNECT:STATUS_SUCCESS "
                             "TDI_SEND:STATUS_IO_TIMEOUT");
    g_free(got);
    got = run_query(text, &status,
                    "SELECT count(*) FROM packets WHERE hop = 2 AND src = 'rtr' AND dst = 'srv' AND "
                    "fate = 'link_down' AND kind IN ('data', 'retransmit')");
    g_assert_cmpstr(got, ==, "6");
    g_free(got);
}

/* A man in the middle on the router's WAN link rewrites the NEGOTIATE of
 * a client behind it as one on a direct link would: the downgrade is
 * detected (rdr-downgrade's c1, through a router). */
static void test_tamper_routed(void)
{
    const char *text = "scenario t seed=1 stop=10s\nclient c1 redirectors=smb\nrouter rtr\nserver srv\n"
                       "link c1 rtr latency=1ms\nlink rtr srv latency=1ms tamper=negotiate\n"
                       "share public server=srv\nfile a share=public path=a.doc size=4KiB\n"
                       "user alice server=srv password=secret\nredirector smb\n"
                       "at 1s c1 open h \\\\srv\\public\\a.doc user=alice password=secret oplock=none\n";
    int status;
    char *got = run_query(text, &status, "SELECT status FROM ops WHERE node = 'c1'");
    g_assert_cmpstr(got, ==, "STATUS_DOWNGRADE_DETECTED");
    g_free(got);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/route/least-latency", test_least_latency);
    g_test_add_func("/route/tie-by-name", test_tie_by_name);
    g_test_add_func("/route/reroute", test_reroute);
    g_test_add_func("/route/hosts-do-not-forward", test_hosts_do_not_forward);
    g_test_add_func("/route/check-refuses-unjoined", test_check_refuses_unjoined);
    g_test_add_func("/route/path-lost", test_path_lost);
    g_test_add_func("/route/tamper-routed", test_tamper_routed);
    return g_test_run();
}
