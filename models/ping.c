#include "ping.h"

#include <glib.h>


/* One source-destination pair: all pings between them add up here. */
typedef struct {
    NetNode *src, *dst;
    int64_t sent, received;
    SimTime rtt_min, rtt_max;
    double rtt_sum;
    GHashTable *answered; /* sequence numbers already answered (duplicates) */
} PingPair;

typedef struct {
    PingApp *app;
    PingPair *pair;
    int64_t left;
    SimTime interval;
    uint32_t bytes;
} PingRun;

struct PingApp {
    Net *net;
    GPtrArray *pairs; /* PingPair* */
    GPtrArray *runs;  /* PingRun* */
    uint32_t kind_request, kind_reply;
    uint64_t next_seq;
};

/* hdr: [0] request or reply, [1] pair index, [2] sequence, [3] time sent */
static void on_echo(Net *net, NetNode *at, NetNode *from, const NetPacket *pkt, void *ctx)
{
    PingApp *app = ctx;
    if (pkt->hdr[0] == PING_ECHO_REQUEST) {
        NetPacket reply = *pkt;
        reply.hdr[0] = PING_ECHO_REPLY;
        reply.kind = app->kind_reply;
        net_send(net, at, from, &reply);
        return;
    }
    PingPair *pair = g_ptr_array_index(app->pairs, pkt->hdr[1]);
    if (g_hash_table_contains(pair->answered, GSIZE_TO_POINTER(pkt->hdr[2])))
        return;
    g_hash_table_add(pair->answered, GSIZE_TO_POINTER(pkt->hdr[2]));
    SimTime rtt = sim_now(net_sim(net)) - (SimTime)pkt->hdr[3];
    if (pair->received == 0 || rtt < pair->rtt_min)
        pair->rtt_min = rtt;
    if (rtt > pair->rtt_max)
        pair->rtt_max = rtt;
    pair->rtt_sum += (double)rtt;
    pair->received++;
}

PingApp *ping_new(Net *net)
{
    PingApp *app = g_new0(PingApp, 1);
    app->net = net;
    app->pairs = g_ptr_array_new();
    app->runs = g_ptr_array_new_with_free_func(g_free);
    app->kind_request = trace_name(net_trace(net), "echo_request");
    app->kind_reply = trace_name(net_trace(net), "echo_reply");
    app->next_seq = 1;
    return app;
}

void ping_free(PingApp *app)
{
    if (!app)
        return;
    for (guint i = 0; i < app->pairs->len; i++) {
        PingPair *p = g_ptr_array_index(app->pairs, i);
        g_hash_table_unref(p->answered);
        g_free(p);
    }
    g_ptr_array_unref(app->pairs);
    g_ptr_array_unref(app->runs);
    g_free(app);
}

static guint pair_index(PingApp *app, NetNode *src, NetNode *dst)
{
    for (guint i = 0; i < app->pairs->len; i++) {
        PingPair *p = g_ptr_array_index(app->pairs, i);
        if (p->src == src && p->dst == dst)
            return i;
    }
    PingPair *p = g_new0(PingPair, 1);
    p->src = src;
    p->dst = dst;
    p->answered = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_ptr_array_add(app->pairs, p);
    return app->pairs->len - 1;
}

static void send_next(Sim *sim, void *ctx, uint64_t pair_idx)
{
    PingRun *run = ctx;
    PingApp *app = run->app;
    NetPacket pkt = {
        .proto = NET_PROTO_PING,
        .kind = app->kind_request,
        .bytes = run->bytes,
        .hdr = { PING_ECHO_REQUEST, pair_idx, app->next_seq++, (uint64_t)sim_now(sim) },
    };
    run->pair->sent++;
    net_send(app->net, run->pair->src, run->pair->dst, &pkt);
    if (--run->left > 0)
        sim_after(sim, run->interval, send_next, run, pair_idx);
}

void ping_start(PingApp *app, NetNode *src, NetNode *dst, int64_t count, SimTime interval, uint32_t bytes)
{
    net_node_set_receiver(src, NET_PROTO_PING, on_echo, app);
    net_node_set_receiver(dst, NET_PROTO_PING, on_echo, app);
    guint idx = pair_index(app, src, dst);
    PingRun *run = g_new0(PingRun, 1);
    run->app = app;
    run->pair = g_ptr_array_index(app->pairs, idx);
    run->left = count;
    run->interval = interval;
    run->bytes = bytes;
    g_ptr_array_add(app->runs, run);
    sim_after(net_sim(app->net), 0, send_next, run, idx);
}

static void metric(Trace *tr, PingPair *p, const char *what, double v)
{
    char *name = g_strdup_printf("ping.%s.%s.%s", net_node_name(p->src), net_node_name(p->dst), what);
    trace_metric(tr, name, v);
    g_free(name);
}

void ping_write_metrics(PingApp *app, Trace *trace)
{
    for (guint i = 0; i < app->pairs->len; i++) {
        PingPair *p = g_ptr_array_index(app->pairs, i);
        metric(trace, p, "sent", (double)p->sent);
        metric(trace, p, "received", (double)p->received);
        if (p->received) {
            metric(trace, p, "rtt_min_ns", (double)p->rtt_min);
            metric(trace, p, "rtt_avg_ns", p->rtt_sum / (double)p->received);
            metric(trace, p, "rtt_max_ns", (double)p->rtt_max);
        }
    }
}
