#include "net.h"

#include <glib.h>
#include <math.h>

enum { FATE_DELIVERED, FATE_LOST, FATE_QUEUE_DROP, FATE_LINK_DOWN, FATE_TOO_BIG, FATE_DUPLICATE, FATE_COUNT };
static const char *fate_names[FATE_COUNT] = {
    "delivered", "lost", "queue_drop", "link_down", "too_big", "duplicate",
};

typedef struct {
    /* What an arrival reads comes first, in one cache line: at thousands of
     * links every packet's arrival finds its direction cold. */
    NetLink *link;
    Net *net;
    NetNode *from, *to;
    uint32_t epoch;        /* bumped when the link goes down */
    bool ge_bad;
    /* Separate streams per purpose, each drawn a fixed number of times per
     * packet, so that changing one parameter (say the loss rate) leaves the
     * draws of the others where they were: common random numbers. */
    Rng loss_rng, jitter_rng, misc_rng;
    SimTime busy_until;    /* the wire is serializing until then */
    SimTime last_arrival;  /* FIFO floor for the next packet */
} LinkDir;

struct NetLink {
    Net *net;
    LinkDir dir[2];
    LinkParams p;
    bool up;
    uint32_t trace_id;
};

struct NetNode {
    Net *net;
    char *name;
    uint32_t trace_id;
    GHashTable *out; /* NetNode* to -> LinkDir* of the link towards it */
    NetReceive recv[NET_PROTO_COUNT];
    void *recv_ctx[NET_PROTO_COUNT];
};

typedef struct Flight {
    NetPacket pkt;
    LinkDir *dir;
    uint32_t epoch;
    int fate;              /* FATE_DELIVERED or FATE_DUPLICATE on arrival */
    SimTime sent;
    struct Flight *next_free;
} Flight;

struct Net {
    Sim *sim;
    Trace *trace;
    uint64_t seed;
    GPtrArray *nodes;        /* NetNode* */
    GPtrArray *links;        /* NetLink* */
    GHashTable *node_by_name;
    Flight *free_flights;
    GPtrArray *flight_slabs;
    uint32_t fate_id[FATE_COUNT];
    NetCapture capture;      /* rdrsim pcap's: every packet that goes on a wire */
    void *capture_ctx;
};

Net *net_new(Sim *sim, Trace *trace, uint64_t seed)
{
    Net *net = g_new0(Net, 1);
    net->sim = sim;
    net->trace = trace;
    net->seed = seed;
    net->nodes = g_ptr_array_new();
    net->links = g_ptr_array_new();
    net->node_by_name = g_hash_table_new(g_str_hash, g_str_equal);
    net->flight_slabs = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < FATE_COUNT; i++)
        net->fate_id[i] = trace_name(trace, fate_names[i]);
    return net;
}

void net_free(Net *net)
{
    if (!net)
        return;
    for (guint i = 0; i < net->nodes->len; i++) {
        NetNode *n = g_ptr_array_index(net->nodes, i);
        g_free(n->name);
        g_hash_table_unref(n->out);
        g_free(n);
    }
    for (guint i = 0; i < net->links->len; i++) {
        NetLink *l = g_ptr_array_index(net->links, i);
        dist_clear(&l->p.jitter);
        g_free(l);
    }
    g_ptr_array_unref(net->nodes);
    g_ptr_array_unref(net->links);
    g_hash_table_unref(net->node_by_name);
    g_ptr_array_unref(net->flight_slabs);
    g_free(net);
}

Sim *net_sim(Net *net) { return net->sim; }
Trace *net_trace(Net *net) { return net->trace; }

NetNode *net_add_node(Net *net, const char *name)
{
    NetNode *n = g_new0(NetNode, 1);
    n->net = net;
    n->name = g_strdup(name);
    n->trace_id = trace_name(net->trace, name);
    n->out = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_ptr_array_add(net->nodes, n);
    g_hash_table_insert(net->node_by_name, n->name, n);
    return n;
}

NetNode *net_find_node(Net *net, const char *name) { return g_hash_table_lookup(net->node_by_name, name); }
const char *net_node_name(const NetNode *node) { return node->name; }
uint32_t net_node_trace_id(const NetNode *node) { return node->trace_id; }

void net_node_set_receiver(NetNode *node, int proto, NetReceive fn, void *ctx)
{
    g_assert(proto >= 0 && proto < NET_PROTO_COUNT);
    node->recv[proto] = fn;
    node->recv_ctx[proto] = ctx;
}

static void dir_init(Net *net, LinkDir *d, NetLink *link, NetNode *from, NetNode *to)
{
    d->link = link;
    d->net = net;
    d->from = from;
    d->to = to;
    char *base = g_strdup_printf("link:%s>%s", from->name, to->name);
    char *s1 = g_strconcat(base, ":loss", NULL), *s2 = g_strconcat(base, ":jitter", NULL),
         *s3 = g_strconcat(base, ":misc", NULL);
    rng_stream(&d->loss_rng, net->seed, s1);
    rng_stream(&d->jitter_rng, net->seed, s2);
    rng_stream(&d->misc_rng, net->seed, s3);
    g_free(s1);
    g_free(s2);
    g_free(s3);
    g_free(base);
    g_hash_table_insert(from->out, to, d);
}

NetLink *net_add_link(Net *net, NetNode *a, NetNode *b, const LinkParams *p)
{
    g_assert(a != b && !net_find_link(net, a, b));
    NetLink *l = g_new0(NetLink, 1);
    l->net = net;
    l->up = true;
    char *name = g_strdup_printf("%s-%s", a->name, b->name);
    l->trace_id = trace_name(net->trace, name);
    g_free(name);
    dir_init(net, &l->dir[0], l, a, b);
    dir_init(net, &l->dir[1], l, b, a);
    net_link_set_params(l, p);
    g_ptr_array_add(net->links, l);
    return l;
}

NetLink *net_find_link(Net *net, const NetNode *a, const NetNode *b)
{
    (void)net;
    LinkDir *d = g_hash_table_lookup(a->out, b);
    return d ? d->link : NULL;
}

void net_link_set_params(NetLink *link, const LinkParams *p)
{
    dist_clear(&link->p.jitter);
    link->p = *p;
    dist_copy(&link->p.jitter, &p->jitter);
}

const LinkParams *net_link_params(const NetLink *link) { return &link->p; }
bool net_link_is_up(const NetLink *link) { return link->up; }

void net_link_set_up(NetLink *link, bool up)
{
    if (link->up == up)
        return;
    link->up = up;
    if (up)
        return;
    /* Going down loses everything queued and on the wire. */
    SimTime now = sim_now(link->net->sim);
    for (int i = 0; i < 2; i++) {
        link->dir[i].epoch++;
        link->dir[i].busy_until = now;
        link->dir[i].last_arrival = now;
    }
}

static Flight *flight_get(Net *net)
{
    if (!net->free_flights) {
        enum { SLAB = 1024 };
        Flight *slab = g_new(Flight, SLAB);
        g_ptr_array_add(net->flight_slabs, slab);
        for (int i = 0; i < SLAB; i++) {
            slab[i].next_free = net->free_flights;
            net->free_flights = &slab[i];
        }
    }
    Flight *f = net->free_flights;
    net->free_flights = f->next_free;
    return f;
}

static void flight_put(Net *net, Flight *f)
{
    f->next_free = net->free_flights;
    net->free_flights = f;
}

static void trace_fate(Net *net, const LinkDir *d, const NetPacket *pkt, SimTime sent, SimTime arrive, int fate)
{
    if (trace_level(net->trace) < TRACE_ALL)
        return; /* before reading the link's and nodes' names: cold lines per packet */
    trace_packet(net->trace, sent, arrive, d->link->trace_id, d->from->trace_id, d->to->trace_id, pkt->conn,
                 pkt->bytes, pkt->kind, net->fate_id[fate]);
}

static void on_arrival(Sim *sim, void *ctx, uint64_t arg)
{
    (void)arg;
    Flight *f = ctx;
    LinkDir *d = f->dir;
    Net *net = d->net;
    if (f->epoch != d->epoch) {
        trace_fate(net, d, &f->pkt, f->sent, -1, FATE_LINK_DOWN);
    } else {
        trace_fate(net, d, &f->pkt, f->sent, sim_now(sim), f->fate);
        if (net->capture)
            net->capture(net->capture_ctx, d->link, d->from, d->to, sim_now(sim), &f->pkt);
        NetNode *to = d->to;
        if (to->recv[f->pkt.proto])
            to->recv[f->pkt.proto](net, to, d->from, &f->pkt, to->recv_ctx[f->pkt.proto]);
    }
    flight_put(net, f);
}

/* Per-packet Gilbert-Elliott: move between the good and bad states, then
 * lose the packet with the loss probability of the state it is in.  Two
 * draws every packet, whatever the parameters. */
static bool draw_loss(LinkDir *d, const LinkParams *p)
{
    double u_move = rng_uniform01(&d->loss_rng);
    double u_loss = rng_uniform01(&d->loss_rng);
    if (p->ge_p <= 0)
        return u_loss < p->loss;
    d->ge_bad = d->ge_bad ? !(u_move < p->ge_r) : u_move < p->ge_p;
    return u_loss < (d->ge_bad ? p->ge_bad_loss : p->ge_good_loss);
}

static void launch(Net *net, LinkDir *d, const NetPacket *pkt, SimTime arrive, int fate)
{
    Flight *f = flight_get(net);
    f->pkt = *pkt;
    f->dir = d;
    f->epoch = d->epoch;
    f->fate = fate;
    f->sent = sim_now(net->sim);
    sim_at(net->sim, arrive, on_arrival, f, 0);
}

/* Every outcome of a packet on its way is its traced fate. */
static void send_dir(Net *net, LinkDir *d, const NetPacket *pkt)
{
    const LinkParams *p = &d->link->p;
    SimTime now = sim_now(net->sim);
    if (!d->link->up) {
        trace_fate(net, d, pkt, now, -1, FATE_LINK_DOWN);
        return;
    }
    if (pkt->bytes > p->mtu) {
        trace_fate(net, d, pkt, now, -1, FATE_TOO_BIG);
        return;
    }
    SimTime start = now;
    if (p->bandwidth > 0) {
        if (d->busy_until > now) {
            /* Bytes still waiting for the wire ahead of this packet. */
            double backlog = (double)(d->busy_until - now) * (double)p->bandwidth / 8e9;
            if (p->queue > 0 && backlog + pkt->bytes > (double)p->queue) {
                trace_fate(net, d, pkt, now, -1, FATE_QUEUE_DROP);
                return;
            }
            start = d->busy_until;
        }
        int64_t bits = (int64_t)pkt->bytes * 8;
        d->busy_until = start + (bits * SIM_SEC + p->bandwidth - 1) / p->bandwidth;
        start = d->busy_until;
    }
    bool lost = draw_loss(d, p);
    double jitter = dist_sample(&p->jitter, &d->jitter_rng);
    double u_reorder = rng_uniform01(&d->misc_rng);
    double u_dup = rng_uniform01(&d->misc_rng);
    if (lost) {
        trace_fate(net, d, pkt, now, -1, FATE_LOST);
        return;
    }
    /* A heavy-tailed jitter must not push the clock past its range. */
    jitter = isfinite(jitter) ? fmin(fmax(jitter, -1e17), 1e17) : 0;
    SimTime prop = p->latency + (SimTime)llround(jitter);
    SimTime arrive = start + (prop > 0 ? prop : 0);
    if (u_reorder < p->reorder) {
        arrive += p->reorder_delay; /* held back: later packets overtake it */
    } else {
        if (arrive < d->last_arrival)
            arrive = d->last_arrival;
        d->last_arrival = arrive;
    }
    launch(net, d, pkt, arrive, FATE_DELIVERED);
    if (u_dup < p->duplicate)
        launch(net, d, pkt, arrive, FATE_DUPLICATE);
}

bool net_send(Net *net, NetNode *src, NetNode *dst, const NetPacket *pkt)
{
    LinkDir *d = g_hash_table_lookup(src->out, dst);
    if (!d)
        return false;
    send_dir(net, d, pkt);
    return true;
}

bool net_send_on(Net *net, NetLink *link, NetNode *src, const NetPacket *pkt)
{
    if (!link)
        return false;
    send_dir(net, link->dir[0].from == src ? &link->dir[0] : &link->dir[1], pkt);
    return true;
}

void net_set_capture(Net *net, NetCapture fn, void *ctx)
{
    net->capture = fn;
    net->capture_ctx = ctx;
}

guint net_link_count(const Net *net) { return net->links->len; }
NetLink *net_link_at(const Net *net, guint i) { return g_ptr_array_index(net->links, i); }
NetNode *net_link_end(const NetLink *link, int i) { return i ? link->dir[0].to : link->dir[0].from; }
guint net_node_count(const Net *net) { return net->nodes->len; }
NetNode *net_node_at(const Net *net, guint i) { return g_ptr_array_index(net->nodes, i); }
