#include "net.h"

#include <glib.h>
#include <math.h>
#include <string.h>

/* A packet's fate on one hop: delivered (to the hop's far end, which
 * forwards it when it is not the packet's destination), or where it ended. */
enum { FATE_DELIVERED, FATE_LOST, FATE_QUEUE_DROP, FATE_LINK_DOWN, FATE_TOO_BIG, FATE_DUPLICATE, FATE_NO_ROUTE,
       FATE_COUNT };
static const char *fate_names[FATE_COUNT] = {
    "delivered", "lost", "queue_drop", "link_down", "too_big", "duplicate", "no_route",
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
    /* per-link metrics (net_write_metrics) */
    SimTime busy_ns;       /* time spent serializing packets */
    uint64_t queue_drops;
    double peak_queue;     /* bytes waiting for the wire, at most */
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
    unsigned idx;      /* in net->nodes */
    bool router;       /* forwards; runs nothing of its own */
    GHashTable *out; /* NetNode* to -> LinkDir* of the link towards it */
    GPtrArray *dirs; /* LinkDir* of its links, outwards, in the order they were added */
    /* Routes towards this node, computed when first needed (route_tree):
     * for every node, the direction of its next hop here, or NULL. */
    LinkDir **tree;
    uint32_t tree_gen;
    NetReceive recv[NET_PROTO_COUNT];
    void *recv_ctx[NET_PROTO_COUNT];
};

typedef struct Flight {
    NetPacket pkt;
    LinkDir *dir;
    NetNode *origin, *target; /* the packet's first sender and destination */
    uint32_t epoch;
    uint8_t fate;          /* FATE_DELIVERED or FATE_DUPLICATE on arrival */
    uint8_t hop;           /* 1 on the first link of its path */
    SimTime sent;
    SimTime waited;        /* from `sent` until it went on the wire */
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
    NetDescribe describe;    /* the transport's: a packet's TCP fields for its trace row */
    void *describe_ctx;
    uint32_t route_gen;      /* bumped when a link goes down or up: every tree is stale */
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
        g_ptr_array_unref(n->dirs);
        g_free(n->tree);
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
    n->dirs = g_ptr_array_new();
    n->idx = net->nodes->len;
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
    g_ptr_array_add(from->dirs, d);
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
    /* Routing converges at once: the next packet to be forwarded follows
     * the new shortest paths (docs/models.md, "Routing"). */
    link->net->route_gen++;
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

/* ---- routing ----
 *
 * A packet follows the path of least total latency (the links' `latency`,
 * not their jitter or queues) over links that are up; among equal paths a
 * node's next hop is the neighbour whose name sorts first.  A node with one
 * link sends everything over it, and a packet for a node with one link goes
 * to that node's neighbour first: so a host on a star or behind a router
 * needs no table, and a table (a tree of next hops towards a destination,
 * Dijkstra from the destination) is computed only for destinations with
 * several links and only when a packet first needs it, then kept until a
 * link changes state. */

static int node_cmp(const NetNode *a, const NetNode *b) { return strcmp(a->name, b->name); }
static LinkDir *first_hop(Net *net, NetNode *src, NetNode *dst, NetHop *hop, bool *joined);

typedef struct {
    SimTime dist;
    NetNode *node;
} HeapItem;

static gint heap_cmp(gconstpointer x, gconstpointer y)
{
    const HeapItem *a = x, *b = y;
    if (a->dist != b->dist)
        return a->dist < b->dist ? -1 : 1;
    return node_cmp(a->node, b->node);
}

static void route_tree(Net *net, NetNode *dst)
{
    guint n = net->nodes->len;
    if (!dst->tree)
        dst->tree = g_new(LinkDir *, n);
    SimTime *dist = g_new(SimTime, n);
    bool *done = g_new0(bool, n);
    for (guint i = 0; i < n; i++) {
        dist[i] = INT64_MAX;
        dst->tree[i] = NULL;
    }
    /* A binary heap of (distance, node) with lazy deletion, in a GArray. */
    GArray *heap = g_array_new(FALSE, FALSE, sizeof(HeapItem));
    dist[dst->idx] = 0;
    HeapItem first = { 0, dst };
    g_array_append_val(heap, first);
    while (heap->len) {
        /* pop the least */
        HeapItem top = g_array_index(heap, HeapItem, 0);
        HeapItem last = g_array_index(heap, HeapItem, heap->len - 1);
        g_array_set_size(heap, heap->len - 1);
        if (heap->len) {
            guint i = 0;
            for (;;) {
                guint l = 2 * i + 1, r = l + 1, m = i;
                HeapItem *h = (HeapItem *)heap->data;
                const HeapItem *cur = m == i ? &last : &h[m];
                if (l < heap->len && heap_cmp(&h[l], cur) < 0)
                    m = l, cur = &h[l];
                if (r < heap->len && heap_cmp(&h[r], cur) < 0)
                    m = r;
                if (m == i)
                    break;
                h[i] = h[m];
                i = m;
            }
            g_array_index(heap, HeapItem, i) = last;
        }
        NetNode *u = top.node;
        if (done[u->idx] || top.dist != dist[u->idx])
            continue;
        done[u->idx] = true;
        if (u != dst && !u->router)
            continue; /* a host takes packets for itself, it forwards none */
        /* Relax u's neighbours v: v's next hop towards dst would be u. */
        for (guint k = 0; k < u->dirs->len; k++) {
            LinkDir *out = g_ptr_array_index(u->dirs, k);
            if (!out->link->up)
                continue;
            NetNode *v = out->to;
            LinkDir *back = g_hash_table_lookup(v->out, u);
            SimTime nd = top.dist + out->link->p.latency;
            LinkDir *cur = dst->tree[v->idx];
            if (done[v->idx] || v == dst)
                continue;
            if (nd < dist[v->idx] || (nd == dist[v->idx] && cur && node_cmp(u, cur->to) < 0)) {
                dist[v->idx] = nd;
                dst->tree[v->idx] = back;
                HeapItem it = { nd, v };
                g_array_append_val(heap, it);
                for (guint i = heap->len - 1; i > 0;) {
                    HeapItem *h = (HeapItem *)heap->data;
                    guint parent = (i - 1) / 2;
                    if (heap_cmp(&h[i], &h[parent]) >= 0)
                        break;
                    HeapItem t = h[i];
                    h[i] = h[parent];
                    h[parent] = t;
                    i = parent;
                }
            }
        }
    }
    g_array_unref(heap);
    g_free(dist);
    g_free(done);
    dst->tree_gen = net->route_gen;
}

/* The direction a packet at `at` for `dst` takes next, or NULL when no path
 * of links that are up joins them.  A node with one link, or the neighbour
 * of a destination with one link, needs no table: the link is the only way
 * (up or not: a packet on a link that is down meets that fate, as it always
 * has on a point-to-point link). */
static LinkDir *next_hop(Net *net, NetNode *at, NetNode *dst)
{
    if (at->dirs->len == 1)
        return g_ptr_array_index(at->dirs, 0);
    if (dst->dirs->len == 1) {
        LinkDir *in = g_ptr_array_index(dst->dirs, 0);
        if (in->to == at)
            return g_hash_table_lookup(at->out, dst);
        dst = in->to; /* its only neighbour, which every path goes through */
    }
    if (!dst->tree || dst->tree_gen != net->route_gen)
        route_tree(net, dst);
    LinkDir *d = dst->tree[at->idx];
    /* No path of links that are up: a direct link that is down is still
     * the way, and the packet meets its fate there (link_down). */
    return d ? d : g_hash_table_lookup(at->out, dst);
}

bool net_path_exists(Net *net, NetNode *a, NetNode *b)
{
    /* Over every link, up or down: whether the topology joins them at all. */
    if (a == b)
        return true;
    guint n = net->nodes->len;
    bool *seen = g_new0(bool, n);
    GQueue q = G_QUEUE_INIT;
    seen[a->idx] = true;
    g_queue_push_tail(&q, a);
    bool found = false;
    NetNode *u;
    while (!found && (u = g_queue_pop_head(&q))) {
        for (guint k = 0; k < u->dirs->len; k++) {
            NetNode *v = ((LinkDir *)g_ptr_array_index(u->dirs, k))->to;
            if (seen[v->idx])
                continue;
            seen[v->idx] = true;
            if (v == b)
                found = true;
            /* only routers carry others' packets onward */
            else if (v->router)
                g_queue_push_tail(&q, v);
        }
    }
    g_queue_clear(&q);
    g_free(seen);
    return found;
}

bool net_reachable(Net *net, NetNode *a, NetNode *b)
{
    if (!net_path_exists(net, a, b))
        return false;
    NetNode *at = a;
    for (guint steps = 0; at != b && steps <= net->nodes->len; steps++) {
        LinkDir *d = next_hop(net, at, b);
        if (!d || !d->link->up || (d->to != b && !d->to->router))
            return false;
        at = d->to;
    }
    return at == b;
}

const LinkParams *net_path_params(Net *net, NetNode *src, NetNode *dst, unsigned i)
{
    NetNode *at = src;
    for (unsigned k = 0; at != dst && k <= net->nodes->len; k++) {
        bool joined;
        LinkDir *d = k == 0 ? first_hop(net, src, dst, NULL, &joined) : at->router ? next_hop(net, at, dst) : NULL;
        if (!d)
            return NULL;
        if (k == i)
            return &d->link->p;
        at = d->to;
    }
    return NULL;
}

/* ---- packets on the wire ---- */

static void trace_fate_row(Net *net, const LinkDir *d, const NetPacket *pkt, SimTime sent, SimTime waited,
                           SimTime arrive, int fate, int hop);

/* A packet's row, at level all only: the level is tested here, inline,
 * before reading the link's and nodes' names (cold lines per packet). */
static inline void trace_fate(Net *net, const LinkDir *d, const NetPacket *pkt, SimTime sent, SimTime waited,
                              SimTime arrive, int fate, int hop)
{
    if (trace_level(net->trace) >= TRACE_ALL)
        trace_fate_row(net, d, pkt, sent, waited, arrive, fate, hop);
}

static void trace_fate_row(Net *net, const LinkDir *d, const NetPacket *pkt, SimTime sent, SimTime waited,
                           SimTime arrive, int fate, int hop)
{
    NetPacketInfo info = { -1, -1, -1, 0, false };
    if (net->describe)
        net->describe(net->describe_ctx, pkt, &info);
    TracePacket row = {
        .t = sent, .t_arrive = arrive, .link = d->link->trace_id, .src = d->from->trace_id, .dst = d->to->trace_id,
        .conn = pkt->conn, .bytes = pkt->bytes, .kind = pkt->kind, .fate = net->fate_id[fate], .hop = hop,
        .waited = waited, .seq = info.seq, .ack = info.ack, .flags = info.flags, .msg = info.msg, .has_msg = info.has_msg,
    };
    trace_packet(net->trace, &row);
}

static void send_dir(Net *net, LinkDir *d, const NetPacket *pkt, NetNode *origin, NetNode *target, int hop);

static void on_arrival(Sim *sim, void *ctx, uint64_t arg)
{
    (void)arg;
    Flight *f = ctx;
    LinkDir *d = f->dir;
    Net *net = d->net;
    if (f->epoch != d->epoch) {
        trace_fate(net, d, &f->pkt, f->sent, f->waited, -1, FATE_LINK_DOWN, f->hop);
    } else {
        trace_fate(net, d, &f->pkt, f->sent, f->waited, sim_now(sim), f->fate, f->hop);
        NetNode *to = d->to;
        if (to != f->target) {
            /* A router (or any node on the way) forwards it on the next hop,
             * a row of its own. */
            LinkDir *next = to->router ? next_hop(net, to, f->target) : NULL;
            if (next)
                send_dir(net, next, &f->pkt, f->origin, f->target, f->hop + 1);
            else
                trace_fate(net, next ? next : d, &f->pkt, sim_now(sim), 0, -1, FATE_NO_ROUTE, f->hop + 1);
        } else {
            if (net->capture)
                net->capture(net->capture_ctx, d->link, f->origin, to, sim_now(sim), &f->pkt);
            if (to->recv[f->pkt.proto])
                to->recv[f->pkt.proto](net, to, f->origin, &f->pkt, to->recv_ctx[f->pkt.proto]);
        }
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

static void launch(Net *net, LinkDir *d, const NetPacket *pkt, SimTime arrive, int fate, NetNode *origin,
                   NetNode *target, int hop, SimTime waited)
{
    Flight *f = flight_get(net);
    f->pkt = *pkt;
    f->dir = d;
    f->origin = origin;
    f->target = target;
    f->epoch = d->epoch;
    f->fate = (uint8_t)fate;
    f->hop = (uint8_t)MIN(hop, 255);
    f->sent = sim_now(net->sim);
    f->waited = waited;
    sim_at(net->sim, arrive, on_arrival, f, 0);
}

/* Every outcome of a packet on its way is its traced fate. */
static void send_dir(Net *net, LinkDir *d, const NetPacket *pkt, NetNode *origin, NetNode *target, int hop)
{
    const LinkParams *p = &d->link->p;
    SimTime now = sim_now(net->sim);
    if (!d->link->up) {
        trace_fate(net, d, pkt, now, 0, -1, FATE_LINK_DOWN, hop);
        return;
    }
    if (pkt->bytes > p->mtu) {
        trace_fate(net, d, pkt, now, 0, -1, FATE_TOO_BIG, hop);
        return;
    }
    SimTime start = now, on_wire = now;
    if (p->bandwidth > 0) {
        if (d->busy_until > now) {
            /* Bytes still waiting for the wire ahead of this packet. */
            double backlog = (double)(d->busy_until - now) * (double)p->bandwidth / 8e9;
            if (p->queue > 0 && backlog + pkt->bytes > (double)p->queue) {
                d->queue_drops++;
                trace_fate(net, d, pkt, now, 0, -1, FATE_QUEUE_DROP, hop);
                return;
            }
            if (backlog + pkt->bytes > d->peak_queue)
                d->peak_queue = backlog + pkt->bytes;
            start = d->busy_until;
        }
        on_wire = start;
        int64_t bits = (int64_t)pkt->bytes * 8;
        SimTime ser = (bits * SIM_SEC + p->bandwidth - 1) / p->bandwidth;
        d->busy_until = start + ser;
        d->busy_ns += ser;
        start = d->busy_until;
    }
    bool lost = draw_loss(d, p);
    double jitter = dist_sample(&p->jitter, &d->jitter_rng);
    double u_reorder = rng_uniform01(&d->misc_rng);
    double u_dup = rng_uniform01(&d->misc_rng);
    if (lost) {
        trace_fate(net, d, pkt, now, on_wire - now, -1, FATE_LOST, hop);
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
    launch(net, d, pkt, arrive, FATE_DELIVERED, origin, target, hop, on_wire - now);
    if (u_dup < p->duplicate)
        launch(net, d, pkt, arrive, FATE_DUPLICATE, origin, target, hop, on_wire - now);
}

/* The first hop of a packet from src to dst, kept in *hop until a link
 * changes state; NULL when the topology does not join them. */
static LinkDir *first_hop(Net *net, NetNode *src, NetNode *dst, NetHop *hop, bool *joined)
{
    if (hop && hop->valid && hop->gen == net->route_gen) {
        *joined = hop->joined;
        return hop->dir;
    }
    /* whether the topology joins them at all, then the way now */
    bool j = src->dirs->len && (g_hash_table_lookup(src->out, dst) || net_path_exists(net, src, dst));
    LinkDir *d = j ? next_hop(net, src, dst) : NULL;
    if (hop)
        *hop = (NetHop){ d, net->route_gen, true, j };
    *joined = j;
    return d;
}

bool net_send_via(Net *net, NetNode *src, NetNode *dst, const NetPacket *pkt, NetHop *hop)
{
    bool joined;
    LinkDir *d = first_hop(net, src, dst, hop, &joined);
    if (!d) {
        if (joined) /* joined, but no way now */
            trace_fate(net, g_ptr_array_index(src->dirs, 0), pkt, sim_now(net->sim), 0, -1, FATE_NO_ROUTE, 1);
        return joined;
    }
    send_dir(net, d, pkt, src, dst, 1);
    return true;
}

bool net_send(Net *net, NetNode *src, NetNode *dst, const NetPacket *pkt)
{
    return net_send_via(net, src, dst, pkt, NULL);
}

int64_t net_route_mtu(Net *net, NetNode *src, NetNode *dst, NetHop *hop)
{
    bool joined;
    LinkDir *d = first_hop(net, src, dst, hop, &joined);
    return d ? d->link->p.mtu : 1500;
}

void net_set_capture(Net *net, NetCapture fn, void *ctx)
{
    net->capture = fn;
    net->capture_ctx = ctx;
}

void net_set_describe(Net *net, NetDescribe fn, void *ctx)
{
    net->describe = fn;
    net->describe_ctx = ctx;
}

void net_node_set_router(NetNode *node, bool router)
{
    node->router = router;
    node->net->route_gen++;
}

bool net_node_is_router(const NetNode *node) { return node->router; }

void net_write_metrics(Net *net, Trace *trace, SimTime end)
{
    for (guint i = 0; i < net->links->len; i++) {
        NetLink *l = g_ptr_array_index(net->links, i);
        for (int k = 0; k < 2; k++) {
            LinkDir *d = &l->dir[k];
            if (l->p.bandwidth <= 0 && !d->queue_drops)
                continue;
            char *base = g_strdup_printf("link.%s>%s.", d->from->name, d->to->name);
            char *m1 = g_strconcat(base, "utilisation", NULL), *m2 = g_strconcat(base, "queue_drops", NULL),
                 *m3 = g_strconcat(base, "peak_queue_bytes", NULL);
            trace_metric(trace, m1, end > 0 ? (double)MIN(d->busy_ns, end) / (double)end : 0);
            trace_metric(trace, m2, (double)d->queue_drops);
            trace_metric(trace, m3, d->peak_queue);
            g_free(m1);
            g_free(m2);
            g_free(m3);
            g_free(base);
        }
    }
}

guint net_link_count(const Net *net) { return net->links->len; }
NetLink *net_link_at(const Net *net, guint i) { return g_ptr_array_index(net->links, i); }
NetNode *net_link_end(const NetLink *link, int i) { return i ? link->dir[0].to : link->dir[0].from; }
guint net_node_count(const Net *net) { return net->nodes->len; }
NetNode *net_node_at(const Net *net, guint i) { return g_ptr_array_index(net->nodes, i); }
