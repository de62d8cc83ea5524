#include "tdi.h"

#include <glib.h>
#include <string.h>

#include "ilist.h"
#include "pool.h"
#include "stats.h"
#include "trace.h"

/* IP + TCP headers of every segment. */
#define HDR_BYTES 40

/* Segment flags, carried in hdr[0] with the sender's side (bit 8). */
enum { SEG_SYN = 1, SEG_ACK = 2, SEG_FIN = 4, SEG_RST = 8 };

typedef struct Conn Conn;
typedef struct Half Half;
typedef struct TdiNode TdiNode;

/* A transport address (node, port): who takes offers made to it. */
typedef struct {
    uint16_t port;
    GQueue listeners; /* TdiEndpoint* with a TDI_LISTEN pending, FIFO */
    TdiConnectHandler on_connect;
    void *ctx;
} Address;

struct TdiNode {
    NetNode *node;
    TdiParams p;
    GHashTable *addresses; /* port -> Address* */
    uint64_t retransmits;
};

/* A request (an IRP) from issue to completion. */
typedef struct {
    TdiRequestKind kind;
    uint32_t flags_name;
    TdiEndpoint *ep;
    int64_t conn;
    SimTime t0;
    uint32_t bytes;   /* send: size; receive: buffer size */
    uint64_t tag;
    uint64_t end;     /* send: stream offset of its last byte + 1 */
    SimEventId timer; /* connect or disconnect time-out */
    bool finished;
    TdiIo io;
    TdiComplete done;
    void *ctx;
    GList link;       /* in tdi->reqs, in the order of issue */
    GList qlink;      /* in its endpoint's sends or receives */
} Req;

/* A handler call waiting for its event. */
typedef struct {
    TdiEndpoint *ep;
    bool is_disconnect;
    uint32_t bytes, flags;
    uint64_t tag;
    TdiConnInfo info;
    GList link;       /* in tdi->notices */
} Notice;

/* A record (one TDI_SEND) on its way: the framing of the stream. */
typedef struct {
    uint64_t end;
    uint32_t bytes;
    uint64_t tag;
    GList link;       /* in the sender's records, then the receiver's rx */
} Record;

/* Requests and records sit in one queue at a time, linked through a node
 * of their own: queuing them allocates nothing.  (So these queues are
 * never cleared with g_queue_clear, which would free the nodes.) */
static void q_push(GQueue *q, GList *node, void *item)
{
    node->data = item;
    ilist_push_tail(q, node);
}

static void *q_pop(GQueue *q)
{
    GList *node = ilist_pop_head(q);
    return node ? node->data : NULL;
}

static void q_free_all(GQueue *q, Pool *pool)
{
    void *item;
    while ((item = q_pop(q)))
        pool_free(pool, item);
}

typedef struct {
    uint64_t start, end;
} Range;

/* One disconnect of a connection, a row of the `disconnects` view. */
typedef struct {
    uint32_t initiator, endpoint, mode;
    SimTime t_start, t_done;
    int step;
    NTSTATUS outcome;
} Disc;

typedef enum { H_NONE, H_SYN_SENT, H_OFFERED, H_OPEN, H_CLOSED } HalfState;

/* One side of a connection: the transport's control block on one node.  It
 * outlives its endpoint when the endpoint is done with the connection but
 * the transport is not (a confirmation still to be acknowledged). */
/*
 * The fields are laid out by use, a cache line to a group, because at a
 * thousand clients a half is out of cache whenever a segment reaches it:
 * line 0 is what every arriving segment reads, line 1 what sending and an
 * acknowledgement of new data add, line 2 the RTO estimator.  (Cachegrind,
 * one 1,000-client part: the declaration order spread them over five or
 * six lines.)  The connection is allocated line-aligned to keep it so.
 *
 * Sending uses stream offsets; the FIN takes the one offset after the data.
 * Receiving counts the segments taken in since this side last sent anything
 * (every segment carries rcv_nxt); the delayed-ACK timer is armed lazily:
 * it stays when an ACK rides on data and finds nothing owed when it fires,
 * so an ACK owed since may go out sooner than the full delay (allowed: RFC
 * 9293 bounds the delay from above; Windows' timer ticks by 100 ms). */
struct Half {
    /* line 0 */
    _Alignas(64) Conn *conn;
    TdiEndpoint *ep;
    uint64_t snd_una, snd_nxt;
    uint64_t rcv_nxt;
    GArray *ooo; /* Range, sorted, beyond rcv_nxt; NULL while none is (an
                  * empty array's header was a cache miss per segment, and
                  * with any loss every long connection gets one) */
    HalfState st;
    int unacked_segs;
    uint8_t side;
    bool timing, in_recovery, fin_queued, fin_sent, peer_fin_known, fin_rcvd;
    /* line 1 */
    uint32_t window; /* the node's, copied (see line 3) */
    uint64_t snd_end, timed_end;
    SimTime timed_at;
    SimEventId rtx_timer;
    SimTime rtx_at, rtx_deadline; /* when rtx_timer fires; when the time-out really is */
    int retries, dupacks;
    /* line 2 */
    Rto rto;
    /* line 3: what a segment or an owed ACK reads of the node's parameters,
     * copied (they are fixed before the node connects), so that a segment
     * does not cost two cold lines of the TdiNode of one of a thousand
     * clients; the window, which every send reads, is in line 1 */
    NetNode *node;
    SimTime delayed_ack;
    SimEventId delack_timer;
    TdiNode *tn;
    /* the rest */
    uint64_t recover, peer_fin_seq;
    TdiConnInfo fin_info;
    GQueue records; /* Record*: sent, not yet delivered to the peer's client */
    int syn_retransmits;
};

struct Conn {
    Half h[2];
    Tdi *tdi;
    int64_t id;
    NetLink *link;  /* between the halves' nodes (links are never removed) */
    uint16_t port;
    GArray *discs;       /* Disc */
    int release, abort;  /* index into discs of the controlled / abortive disconnect, or -1 */
};

/* Laid out by use, as a Half is: line 0 is what an acknowledgement reads
 * (the sends it completes), line 1 what a delivery reads; the endpoint is
 * allocated line-aligned. */
struct TdiEndpoint {
    /* line 0 */
    _Alignas(64) Tdi *tdi;
    Half *half;
    TdiState state;
    int disc; /* the disconnect row this endpoint started on its connection, or -1 */
    GQueue sends; /* Req* */
    uint64_t bytes_sent;
    Req *release;
    /* line 1 */
    GQueue receives; /* Req* */
    GQueue rx;       /* Record*: received, not yet taken by a receive */
    uint64_t bytes_received;
    TdiNode *tn;
    /* line 2 */
    TdiHandlers h;
    Req *connect, *listen;
    SimEventId accept_timer;
    int64_t conn_id; /* the connection it is or was last on */
    char *name;
    /* the rest */
    uint32_t name_id;
    uint32_t listen_flags;
    uint16_t port;
};

struct Tdi {
    Net *net;
    Sim *sim;
    Trace *trace;
    GHashTable *nodes;   /* NetNode* -> TdiNode* */
    GPtrArray *conns;    /* Conn* by id - 1; NULL once freed (ids are dense and never reused) */
    GPtrArray *endpoints;
    GQueue reqs;         /* Req* not yet handed back, oldest first */
    GQueue notices;      /* Notice* not yet delivered */
    Pool req_pool, notice_pool, record_pool;
    int64_t next_conn;
    GArray *release_ns;    /* double: completion times of controlled disconnects */
    uint64_t releases_timed_out, aborts;
    GHashTable *statuses;  /* NTSTATUS -> count, over every request completed with an error */
    uint32_t name_req[6], name_state[7], name_kind[6], name_release, name_abort, name_noflags;
    uint32_t name_flag_release, name_flag_abort, name_flag_qa, name_flag_both;
};

enum { K_SYN, K_SYN_ACK, K_ACK, K_DATA, K_FIN, K_RST };

static const char *const req_names[] = {
    "TDI_CONNECT", "TDI_LISTEN", "TDI_ACCEPT", "TDI_SEND", "TDI_RECEIVE", "TDI_DISCONNECT",
};
static const char *const state_names[] = {
    "IDLE", "CONNECTING", "LISTENING", "OFFERED", "ESTABLISHED", "LOCAL_RELEASE", "REMOTE_RELEASE",
};

const char *tdi_state_name(TdiState s) { return state_names[s]; }

/* ---- parameters and nodes ---- */

void tdi_default_params(TdiParams *p)
{
    /* RFC 6298 2.1, 2.4, 2.5; the retry counts of Windows' TCP
     * (TcpMaxConnectRetransmissions 2, TcpMaxDataRetransmissions 5); a
     * disconnect default under one second, as TDI_DISCONNECT asks. */
    p->rto.initial = SIM_SEC;
    p->rto.min = SIM_SEC;
    p->rto.max = 60 * SIM_SEC;
    p->rto.granularity = SIM_MS;
    p->syn_retries = 2;
    p->data_retries = 5;
    p->disconnect_timeout = 500 * SIM_MS;
    p->accept_timeout = 500 * SIM_MS;
    /* Delayed acknowledgements, RFC 9293 3.8.6.3 (RFC 1122 4.2.3.2): at
     * least every second segment, within 0.5 s; Windows' TCP waits 200 ms
     * (TcpDelAckTicks 2) and acknowledges every second segment
     * (TcpAckFrequency 2). */
    p->delayed_ack = 200 * SIM_MS;
    p->window = 64 * 1024;
}

static void on_segment(Net *net, NetNode *at, NetNode *from, const NetPacket *pkt, void *ctx);

static TdiNode *tdi_node(Tdi *tdi, NetNode *node)
{
    TdiNode *tn = g_hash_table_lookup(tdi->nodes, node);
    if (tn)
        return tn;
    tn = g_new0(TdiNode, 1);
    tn->node = node;
    tdi_default_params(&tn->p);
    tn->addresses = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    g_hash_table_insert(tdi->nodes, node, tn);
    net_node_set_receiver(node, NET_PROTO_TDI, on_segment, tdi);
    return tn;
}

static Address *address(TdiNode *tn, uint16_t port, bool create)
{
    Address *a = g_hash_table_lookup(tn->addresses, GUINT_TO_POINTER(port));
    if (!a && create) {
        a = g_new0(Address, 1);
        a->port = port;
        g_queue_init(&a->listeners);
        g_hash_table_insert(tn->addresses, GUINT_TO_POINTER(port), a);
    }
    return a;
}

void tdi_set_node_params(Tdi *tdi, NetNode *node, const TdiParams *p)
{
    tdi_node(tdi, node)->p = *p;
}

void tdi_set_connect_handler(Tdi *tdi, NetNode *node, uint16_t port, TdiConnectHandler fn, void *ctx)
{
    Address *a = address(tdi_node(tdi, node), port, true);
    a->on_connect = fn;
    a->ctx = ctx;
}

Tdi *tdi_new(Net *net)
{
    Tdi *tdi = g_new0(Tdi, 1);
    tdi->net = net;
    tdi->sim = net_sim(net);
    tdi->trace = net_trace(net);
    tdi->nodes = g_hash_table_new(g_direct_hash, g_direct_equal);
    tdi->conns = g_ptr_array_new();
    tdi->endpoints = g_ptr_array_new();
    tdi->next_conn = 1;
    tdi->release_ns = g_array_new(FALSE, FALSE, sizeof(double));
    tdi->statuses = g_hash_table_new(g_direct_hash, g_direct_equal);
    pool_init(&tdi->req_pool, sizeof(Req));
    pool_init(&tdi->notice_pool, sizeof(Notice));
    pool_init(&tdi->record_pool, sizeof(Record));
    Trace *tr = tdi->trace;
    for (int i = 0; i < 6; i++)
        tdi->name_req[i] = trace_name(tr, req_names[i]);
    for (int i = 0; i < 7; i++)
        tdi->name_state[i] = trace_name(tr, state_names[i]);
    static const char *const kinds[] = { "syn", "syn_ack", "ack", "data", "fin", "rst" };
    for (int i = 0; i < 6; i++)
        tdi->name_kind[i] = trace_name(tr, kinds[i]);
    tdi->name_release = trace_name(tr, "release");
    tdi->name_abort = trace_name(tr, "abort");
    tdi->name_noflags = trace_name(tr, "");
    tdi->name_flag_release = trace_name(tr, "TDI_DISCONNECT_RELEASE");
    tdi->name_flag_abort = trace_name(tr, "TDI_DISCONNECT_ABORT");
    tdi->name_flag_both = trace_name(tr, "TDI_DISCONNECT_ABORT|TDI_DISCONNECT_RELEASE");
    tdi->name_flag_qa = trace_name(tr, "TDI_QUERY_ACCEPT");
    return tdi;
}

/* ---- requests and notices ---- */

static Req *req_new(TdiEndpoint *ep, TdiRequestKind kind, uint32_t flags_name, TdiComplete done, void *ctx)
{
    Req *r = pool_alloc0(&ep->tdi->req_pool);
    r->kind = kind;
    r->flags_name = flags_name;
    r->ep = ep;
    r->conn = ep->conn_id;
    r->t0 = sim_now(ep->tdi->sim);
    r->done = done;
    r->ctx = ctx;
    r->link.data = r;
    ilist_push_tail(&ep->tdi->reqs, &r->link);
    return r;
}

/* Rows of requests and states start at level messages.  The level is asked
 * first so that a run below it does not read the endpoint's node, a cold
 * line per request at a thousand clients. */
static void trace_req(Tdi *tdi, const Req *r, SimTime t_done, NTSTATUS st)
{
    if (trace_level(tdi->trace) < TRACE_MESSAGES)
        return;
    trace_tdi_request(tdi->trace, net_node_trace_id(r->ep->tn->node), r->ep->name_id, r->conn,
                      tdi->name_req[r->kind], r->flags_name, r->t0, t_done, st);
}

static void on_req_done(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    Tdi *tdi = ctx;
    Req *r = (Req *)(uintptr_t)arg;
    ilist_unlink(&tdi->reqs, &r->link);
    if (r->done)
        r->done(r->ctx, r->ep, &r->io);
    pool_free(&tdi->req_pool, r);
}

/* Complete a request: trace it now, hand it back from an event of its own.
 * The caller has taken it off the endpoint's lists. */
static NTSTATUS finish(Req *r, NTSTATUS st, uint64_t information, uint64_t tag)
{
    Tdi *tdi = r->ep->tdi;
    g_assert(!r->finished);
    r->finished = true;
    sim_cancel(tdi->sim, r->timer);
    r->io.kind = r->kind;
    r->io.status = st;
    r->io.information = information;
    r->io.tag = tag;
    if (r->ep->half)
        r->conn = r->ep->half->conn->id;
    if (st != STATUS_SUCCESS && st != STATUS_PENDING) { /* only error statuses are reported */
        gpointer n = g_hash_table_lookup(tdi->statuses, GUINT_TO_POINTER(st));
        g_hash_table_insert(tdi->statuses, GUINT_TO_POINTER(st), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(n) + 1));
    }
    trace_req(tdi, r, sim_now(tdi->sim), st);
    sim_after(tdi->sim, 0, on_req_done, tdi, (uint64_t)(uintptr_t)r);
    return st;
}

static void on_notice(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    Tdi *tdi = ctx;
    Notice *n = (Notice *)(uintptr_t)arg;
    TdiEndpoint *ep = n->ep;
    if (n->is_disconnect) {
        if (ep->h.disconnect)
            ep->h.disconnect(ep->h.ctx, ep, n->flags, &n->info);
    } else if (ep->h.receive) {
        ep->h.receive(ep->h.ctx, ep, n->bytes, n->tag);
    }
    ilist_unlink(&tdi->notices, &n->link);
    pool_free(&tdi->notice_pool, n);
}

static void post_notice(TdiEndpoint *ep, Notice *n)
{
    n->ep = ep;
    n->link.data = n;
    ilist_push_tail(&ep->tdi->notices, &n->link);
    sim_after(ep->tdi->sim, 0, on_notice, ep->tdi, (uint64_t)(uintptr_t)n);
}

static void indicate_disconnect(TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info)
{
    if (!ep->h.disconnect)
        return;
    Notice *n = pool_alloc0(&ep->tdi->notice_pool);
    n->is_disconnect = true;
    n->flags = flags;
    if (info)
        n->info = *info;
    post_notice(ep, n);
}

/* ---- endpoints ---- */

TdiEndpoint *tdi_endpoint_open(Tdi *tdi, NetNode *node, uint16_t port, const char *name)
{
    TdiEndpoint *ep = g_aligned_alloc0(1, sizeof(TdiEndpoint), _Alignof(TdiEndpoint));
    ep->tdi = tdi;
    ep->tn = tdi_node(tdi, node);
    ep->port = port;
    ep->name = g_strdup(name);
    ep->name_id = trace_name(tdi->trace, name);
    ep->disc = -1;
    address(ep->tn, port, true);
    g_queue_init(&ep->sends);
    g_queue_init(&ep->receives);
    g_queue_init(&ep->rx);
    g_ptr_array_add(tdi->endpoints, ep);
    return ep;
}

void tdi_endpoint_set_handlers(TdiEndpoint *ep, const TdiHandlers *h) { ep->h = *h; }
TdiState tdi_endpoint_state(const TdiEndpoint *ep) { return ep->state; }
/* While attached, conn_id is the id of the half's connection (the two are
 * set together): reading it spares two cold lines per traced message. */
int64_t tdi_endpoint_conn(const TdiEndpoint *ep) { return ep->half ? ep->conn_id : 0; }
const char *tdi_endpoint_name(const TdiEndpoint *ep) { return ep->name; }
NetNode *tdi_endpoint_node(const TdiEndpoint *ep) { return ep->tn->node; }
uint64_t tdi_endpoint_bytes_received(const TdiEndpoint *ep) { return ep->bytes_received; }
uint64_t tdi_endpoint_bytes_sent(const TdiEndpoint *ep) { return ep->bytes_sent; }

SimTime tdi_endpoint_rto(const TdiEndpoint *ep) { return ep->half ? ep->half->rto.rto : 0; }

uint64_t tdi_node_retransmits(Tdi *tdi, NetNode *node)
{
    TdiNode *tn = g_hash_table_lookup(tdi->nodes, node);
    return tn ? tn->retransmits : 0;
}

static void set_state(TdiEndpoint *ep, TdiState s)
{
    ep->state = s;
    if (trace_level(ep->tdi->trace) < TRACE_MESSAGES)
        return;
    trace_tdi_state(ep->tdi->trace, sim_now(ep->tdi->sim), net_node_trace_id(ep->tn->node), ep->name_id,
                    ep->conn_id, ep->tdi->name_state[s]);
}

static void clear_rx(TdiEndpoint *ep)
{
    q_free_all(&ep->rx, &ep->tdi->record_pool);
}

/* Complete every request the endpoint holds with `st`. */
static void fail_all(TdiEndpoint *ep, NTSTATUS st)
{
    Req *r;
    if (ep->connect)
        finish(ep->connect, st, 0, 0), ep->connect = NULL;
    if (ep->listen) {
        g_queue_remove(&address(ep->tn, ep->port, true)->listeners, ep);
        finish(ep->listen, st, 0, 0), ep->listen = NULL;
    }
    while ((r = q_pop(&ep->sends)))
        finish(r, st, 0, 0);
    while ((r = q_pop(&ep->receives)))
        finish(r, st, 0, 0);
    if (ep->release)
        finish(ep->release, st, 0, 0), ep->release = NULL;
}

/* The endpoint is done with its connection: back to IDLE, reusable. */
static void detach(TdiEndpoint *ep)
{
    sim_cancel(ep->tdi->sim, ep->accept_timer);
    if (ep->half)
        ep->half->ep = NULL;
    ep->half = NULL;
    ep->disc = -1;
    clear_rx(ep);
    set_state(ep, TDI_EP_IDLE);
}

/* ---- connections ---- */

static Disc *disc_at(Conn *c, int i) { return i < 0 ? NULL : &g_array_index(c->discs, Disc, i); }

static int disc_new(Conn *c, TdiEndpoint *ep, uint32_t mode)
{
    Disc d = { net_node_trace_id(ep->tn->node), ep->name_id, mode, sim_now(c->tdi->sim), -1, 1, STATUS_PENDING };
    g_array_append_val(c->discs, d);
    return (int)c->discs->len - 1;
}

static void disc_step(Conn *c, int i, int step)
{
    Disc *d = disc_at(c, i);
    if (d && d->step < step)
        d->step = step;
}

static void disc_done(Conn *c, int i, NTSTATUS st)
{
    Disc *d = disc_at(c, i);
    if (d && d->t_done < 0) {
        d->t_done = sim_now(c->tdi->sim);
        d->outcome = st;
    }
}

static void write_discs(Conn *c)
{
    Tdi *tdi = c->tdi;
    for (guint i = 0; i < c->discs->len; i++) {
        Disc *d = disc_at(c, (int)i);
        if (d->mode == tdi->name_release && d->t_done >= 0) {
            double ns = (double)(d->t_done - d->t_start);
            g_array_append_val(tdi->release_ns, ns);
            tdi->releases_timed_out += d->outcome == STATUS_REQUEST_TIMED_OUT;
        } else if (d->mode == tdi->name_abort) {
            tdi->aborts++;
        }
        trace_disconnect(c->tdi->trace, c->id, d->initiator, d->endpoint, d->mode, d->t_start, d->t_done, d->step,
                         d->outcome);
    }
    g_array_set_size(c->discs, 0);
}

static void half_init(Half *h, Conn *c, uint8_t side, TdiNode *tn)
{
    h->conn = c;
    h->side = side;
    h->tn = tn;
    h->node = tn->node;
    h->delayed_ack = tn->p.delayed_ack;
    h->window = tn->p.window;
    rto_init(&h->rto, &tn->p.rto);
    g_queue_init(&h->records);
}

static Conn *conn_new(Tdi *tdi, TdiNode *a, TdiNode *b, NetLink *link, uint16_t port)
{
    Conn *c = g_aligned_alloc0(1, sizeof(Conn), _Alignof(Conn));
    c->tdi = tdi;
    c->id = tdi->next_conn++;
    c->port = port;
    c->link = link;
    half_init(&c->h[0], c, 0, a);
    half_init(&c->h[1], c, 1, b);
    c->discs = g_array_new(FALSE, FALSE, sizeof(Disc));
    c->release = c->abort = -1;
    g_ptr_array_add(tdi->conns, c);
    return c;
}

static void conn_free(Conn *c)
{
    write_discs(c);
    for (int i = 0; i < 2; i++) {
        sim_cancel(c->tdi->sim, c->h[i].rtx_timer);
        sim_cancel(c->tdi->sim, c->h[i].delack_timer);
        q_free_all(&c->h[i].records, &c->tdi->record_pool);
        if (c->h[i].ooo)
            g_array_unref(c->h[i].ooo);
        if (c->h[i].ep)
            c->h[i].ep->half = NULL;
    }
    g_array_unref(c->discs);
    g_aligned_free(c);
}

static bool half_done(const Half *h) { return h->st == H_NONE || h->st == H_CLOSED; }

/* Free the connection once neither side has anything left to do.  Called
 * at the end of every entry point, never in the middle of one. */
static void conn_reap(Conn *c)
{
    if (c && half_done(&c->h[0]) && half_done(&c->h[1])) {
        g_ptr_array_index(c->tdi->conns, c->id - 1) = NULL;
        conn_free(c);
    }
}

static Conn *conn_by_id(Tdi *tdi, int64_t id)
{
    return id >= 1 && id <= (int64_t)tdi->conns->len ? g_ptr_array_index(tdi->conns, id - 1) : NULL;
}

static Half *peer_of(Half *h) { return &h->conn->h[1 - h->side]; }

static void send_seg(Half *h, uint32_t flags, uint64_t seq, uint32_t len, int kind)
{
    Tdi *tdi = h->conn->tdi;
    uint32_t extra = (flags & SEG_FIN) ? h->fin_info.user_data_length : 0;
    NetPacket pkt = {
        .proto = NET_PROTO_TDI,
        .kind = tdi->name_kind[kind],
        .conn = h->conn->id,
        .bytes = HDR_BYTES + len + extra,
        .hdr = { flags | (uint64_t)h->side << 8 | (uint64_t)h->conn->port << 16, seq, h->rcv_nxt, len },
    };
    h->unacked_segs = 0; /* this segment acknowledges all we have */
    net_send_on(tdi->net, h->conn->link, h->node, &pkt);
}

static void send_ack(Half *h) { send_seg(h, SEG_ACK, h->snd_nxt, 0, K_ACK); }

static void on_rtx(Sim *sim, void *ctx, uint64_t arg);

/* (Re)start the retransmission timer: it expires one RTO from now.  Every
 * acknowledgement of new data restarts it (RFC 6298 5.3), so instead of a
 * cancel and a new event each time -- an RTO's worth of dead entries in the
 * event queue per connection -- a timer already due no later stays, and
 * on_rtx re-arms it for the real deadline when it fires early. */
static void arm_rtx(Half *h)
{
    Sim *sim = h->conn->tdi->sim;
    h->rtx_deadline = sim_now(sim) + h->rto.rto;
    if (h->rtx_timer != SIM_NO_EVENT && h->rtx_at <= h->rtx_deadline)
        return;
    sim_cancel(sim, h->rtx_timer);
    h->rtx_at = h->rtx_deadline;
    h->rtx_timer = sim_at(sim, h->rtx_at, on_rtx, h, 0);
}

static void stop_rtx(Half *h)
{
    sim_cancel(h->conn->tdi->sim, h->rtx_timer);
    h->rtx_timer = SIM_NO_EVENT;
}

static void close_half(Half *h)
{
    stop_rtx(h);
    sim_cancel(h->conn->tdi->sim, h->delack_timer);
    h->delack_timer = SIM_NO_EVENT;
    h->st = H_CLOSED;
}

static uint32_t mss(Half *h)
{
    NetLink *l = h->conn->link;
    int64_t mtu = l ? net_link_params(l)->mtu : 1500;
    return mtu > HDR_BYTES ? (uint32_t)(mtu - HDR_BYTES) : 1;
}

/* Put on the wire what the window allows, then the FIN once all data is out. */
static void try_send(Half *h)
{
    if (h->st != H_OPEN)
        return;
    uint32_t window = h->window;
    uint32_t seg = mss(h);
    while (h->snd_nxt < h->snd_end && h->snd_nxt - h->snd_una < window) {
        uint64_t len = h->snd_end - h->snd_nxt;
        uint64_t room = window - (h->snd_nxt - h->snd_una);
        len = MIN(len, MIN(room, seg));
        send_seg(h, SEG_ACK, h->snd_nxt, (uint32_t)len, K_DATA);
        if (!h->timing) {
            h->timing = true;
            h->timed_end = h->snd_nxt + len;
            h->timed_at = sim_now(h->conn->tdi->sim);
        }
        h->snd_nxt += len;
        if (h->rtx_timer == SIM_NO_EVENT)
            arm_rtx(h);
    }
    if (h->fin_queued && !h->fin_sent && h->snd_nxt == h->snd_end) {
        send_seg(h, SEG_FIN | SEG_ACK, h->snd_end, 0, K_FIN);
        h->fin_sent = true;
        h->snd_nxt = h->snd_end + 1;
        if (h->rtx_timer == SIM_NO_EVENT)
            arm_rtx(h);
    }
}

/* Send the earliest unacknowledged segment again (RFC 6298 5.4). */
static void retransmit_first(Half *h)
{
    h->timing = false; /* Karn: no sample from what is sent twice */
    h->tn->retransmits++;
    if (h->snd_una < h->snd_end) {
        uint64_t upto = MIN(h->snd_nxt, h->snd_end);
        uint32_t len = (uint32_t)MIN(upto - h->snd_una, (uint64_t)mss(h));
        send_seg(h, SEG_ACK, h->snd_una, len, K_DATA);
    } else if (h->fin_sent) {
        send_seg(h, SEG_FIN | SEG_ACK, h->snd_end, 0, K_FIN);
    }
}

static bool fin_acked(const Half *h) { return h->fin_sent && h->snd_una > h->snd_end; }

/* A half whose endpoint has left closes once both FINs are through. */
static void maybe_close(Half *h)
{
    if (h->st == H_OPEN && !h->ep && fin_acked(h) && h->fin_rcvd)
        close_half(h);
}

/* An endpoint's pending TDI_DISCONNECT(RELEASE), once its conditions hold:
 * the initiator's waits for its sends and FIN to be acknowledged and for
 * the peer's confirmation (step 4); the responder's waits for its own
 * sends to complete (step 3). */
static void check_release(Half *h)
{
    TdiEndpoint *ep = h->ep;
    if (!ep || !ep->release || !h->fin_sent || h->snd_una < h->snd_end)
        return;
    Conn *c = h->conn;
    if (ep->state == TDI_EP_LOCAL_RELEASE) {
        if (!fin_acked(h) || !h->fin_rcvd)
            return;
        Req *r = ep->release;
        ep->release = NULL;
        r->io.info = peer_of(h)->fin_info;
        disc_step(c, ep->disc, 4);
        disc_done(c, ep->disc, STATUS_SUCCESS);
        finish(r, STATUS_SUCCESS, 0, 0);
        /* Completion means all activity on the connection has stopped. */
        fail_all(ep, STATUS_GRACEFUL_DISCONNECT);
        detach(ep);
    } else {
        Req *r = ep->release;
        ep->release = NULL;
        finish(r, STATUS_SUCCESS, 0, 0);
        fail_all(ep, STATUS_GRACEFUL_DISCONNECT);
        detach(ep);
    }
    maybe_close(h);
}

static void complete_sends(Half *h)
{
    TdiEndpoint *ep = h->ep;
    if (!ep)
        return;
    Req *r;
    while ((r = ilist_peek_head(&ep->sends)) && r->end <= h->snd_una) {
        q_pop(&ep->sends);
        ep->bytes_sent += r->bytes;
        finish(r, STATUS_SUCCESS, r->bytes, r->tag);
    }
}

static void on_ack(Half *h, uint64_t ack, bool pure)
{
    if (ack > h->snd_una && ack <= h->snd_nxt) {
        if (h->timing && ack >= h->timed_end) {
            rto_sample(&h->rto, sim_now(h->conn->tdi->sim) - h->timed_at);
            h->timing = false;
        }
        h->snd_una = ack;
        h->retries = 0;
        h->dupacks = 0;
        complete_sends(h);
        if (h->snd_una == h->snd_nxt) {
            stop_rtx(h);
            h->in_recovery = false;
        } else {
            arm_rtx(h); /* 5.3: new data acknowledged, restart the timer */
            if (h->in_recovery && ack < h->recover)
                retransmit_first(h); /* partial acknowledgement: the next hole */
            else
                h->in_recovery = false;
        }
        try_send(h);
        check_release(h);
        maybe_close(h);
    } else if (pure && ack == h->snd_una && h->snd_una < h->snd_nxt) {
        if (++h->dupacks == 3 && !h->in_recovery) {
            retransmit_first(h);
            h->in_recovery = true;
            h->recover = h->snd_nxt;
        }
    }
}

/* ---- delivery to the receiving client ---- */

static void serve_receives(TdiEndpoint *ep)
{
    Req *r;
    Record *rec;
    while ((r = ilist_peek_head(&ep->receives)) && (rec = ilist_peek_head(&ep->rx))) {
        q_pop(&ep->receives);
        if (rec->bytes <= r->bytes) {
            q_pop(&ep->rx);
            finish(r, STATUS_SUCCESS, rec->bytes, rec->tag);
            pool_free(&ep->tdi->record_pool, rec);
        } else {
            /* The rest of the record stays for the next receive. */
            rec->bytes -= r->bytes;
            finish(r, STATUS_BUFFER_OVERFLOW, r->bytes, rec->tag);
        }
    }
}

/* Records the peer sent that are now wholly in order go to the client: to
 * pending receives first (while one is outstanding the receive handler is
 * not called), then to ClientEventReceive, else they wait in rx. */
static void deliver(Half *h)
{
    Half *p = peer_of(h);
    Record *rec;
    while ((rec = ilist_peek_head(&p->records)) && rec->end <= h->rcv_nxt) {
        q_pop(&p->records);
        TdiEndpoint *ep = h->ep;
        if (!ep || ep->state == TDI_EP_REMOTE_RELEASE) {
            pool_free(&h->conn->tdi->record_pool, rec);
            continue;
        }
        ep->bytes_received += rec->bytes;
        q_push(&ep->rx, &rec->link, rec);
    }
    TdiEndpoint *ep = h->ep;
    if (!ep)
        return;
    serve_receives(ep);
    if (!ep->h.receive || !g_queue_is_empty(&ep->receives))
        return;
    while ((rec = q_pop(&ep->rx))) {
        Notice *n = pool_alloc0(&ep->tdi->notice_pool);
        n->bytes = rec->bytes;
        n->tag = rec->tag;
        post_notice(ep, n);
        pool_free(&ep->tdi->record_pool, rec);
    }
}

/* Step 2: the peer released.  Pending receives were served with what came
 * before the FIN; those still waiting can never be, and fail with
 * STATUS_GRACEFUL_DISCONNECT, which is how a client without a disconnect
 * handler learns of it; a client with one is told through it. */
static void on_peer_fin(Half *h)
{
    TdiEndpoint *ep = h->ep;
    Conn *c = h->conn;
    if (!ep)
        return;
    if (ep->state == TDI_EP_ESTABLISHED) {
        set_state(ep, TDI_EP_REMOTE_RELEASE);
        disc_step(c, c->release, 2);
        Req *r;
        if (g_queue_is_empty(&ep->rx))
            while ((r = q_pop(&ep->receives)))
                finish(r, STATUS_GRACEFUL_DISCONNECT, 0, 0);
        indicate_disconnect(ep, TDI_DISCONNECT_RELEASE, &peer_of(h)->fin_info);
    } else if (ep->state == TDI_EP_LOCAL_RELEASE) {
        check_release(h); /* the confirmation, or the peer released too */
    }
}

static void on_delack(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Half *h = ctx;
    h->delack_timer = SIM_NO_EVENT;
    if (h->unacked_segs > 0 && h->st == H_OPEN)
        send_ack(h);
}

/* Acknowledge now, or owe it (RFC 9293 3.8.6.3): data in order that fills
 * no hole is acknowledged with the second such segment, or by whatever this
 * side sends first, or when the delayed-ACK timer runs out.  Anything else
 * -- data beyond a hole or filling one (RFC 5681 4.2, so the sender's
 * duplicate ACKs and recovery are as prompt as before), a duplicate (our
 * ACK may have been lost), a FIN -- is acknowledged at once. */
static void ack_data(Half *h, bool at_once)
{
    SimTime delay = h->delayed_ack;
    if (at_once || delay <= 0 || ++h->unacked_segs >= 2) {
        send_ack(h);
        return;
    }
    if (h->delack_timer == SIM_NO_EVENT)
        h->delack_timer = sim_after(h->conn->tdi->sim, delay, on_delack, h, 0);
}

static void on_data(Half *h, uint64_t seq, uint32_t len, bool fin)
{
    bool in_order = len > 0 && seq == h->rcv_nxt && !h->ooo;
    if (len > 0 && seq + len > h->rcv_nxt) {
        if (seq > h->rcv_nxt) {
            Range r = { seq, seq + len };
            guint i = 0;
            if (!h->ooo)
                h->ooo = g_array_new(FALSE, FALSE, sizeof(Range));
            while (i < h->ooo->len && g_array_index(h->ooo, Range, i).start < r.start)
                i++;
            g_array_insert_val(h->ooo, i, r);
        } else {
            h->rcv_nxt = seq + len;
        }
        /* Pull in whatever the new data made contiguous. */
        while (h->ooo && h->ooo->len && g_array_index(h->ooo, Range, 0).start <= h->rcv_nxt) {
            uint64_t end = g_array_index(h->ooo, Range, 0).end;
            h->rcv_nxt = MAX(h->rcv_nxt, end);
            g_array_remove_index(h->ooo, 0);
        }
        if (h->ooo && !h->ooo->len) {
            g_array_unref(h->ooo);
            h->ooo = NULL;
        }
        deliver(h);
    }
    if (fin) {
        h->peer_fin_known = true;
        h->peer_fin_seq = seq + len;
    }
    bool new_fin = h->peer_fin_known && !h->fin_rcvd && h->rcv_nxt == h->peer_fin_seq;
    if (new_fin) {
        h->rcv_nxt++;
        h->fin_rcvd = true;
    }
    ack_data(h, !in_order || fin);
    if (new_fin) {
        on_peer_fin(h);
        maybe_close(h);
    }
}

/* ---- establishment ---- */

static void establish(Half *h)
{
    h->st = H_OPEN;
    TdiEndpoint *ep = h->ep;
    set_state(ep, TDI_EP_ESTABLISHED);
}

static void on_accept_timeout(Sim *sim, void *ctx, uint64_t arg);

/* An offer (SYN) reached a node: a pending listen takes it, else the
 * address's ClientEventConnect, else it is refused with a reset. */
static void on_offer(Half *h, NetNode *from)
{
    Tdi *tdi = h->conn->tdi;
    Address *a = address(h->tn, h->conn->port, false);
    TdiEndpoint *ep = a ? g_queue_pop_head(&a->listeners) : NULL;
    if (ep) {
        Req *listen = ep->listen;
        ep->listen = NULL;
        h->ep = ep;
        ep->half = h;
        ep->conn_id = h->conn->id;
        if (ep->listen_flags & TDI_QUERY_ACCEPT) {
            h->st = H_OFFERED;
            set_state(ep, TDI_EP_OFFERED);
            ep->accept_timer = sim_after(tdi->sim, h->tn->p.accept_timeout, on_accept_timeout, ep, 0);
        } else {
            establish(h);
            send_seg(h, SEG_SYN | SEG_ACK, 0, 0, K_SYN_ACK);
        }
        finish(listen, STATUS_SUCCESS, 0, 0);
        return;
    }
    ep = a && a->on_connect ? a->on_connect(a->ctx, from) : NULL;
    if (ep && ep->state == TDI_EP_IDLE && ep->tn == h->tn && ep->port == h->conn->port) {
        h->ep = ep;
        ep->half = h;
        ep->conn_id = h->conn->id;
        establish(h);
        send_seg(h, SEG_SYN | SEG_ACK, 0, 0, K_SYN_ACK);
        return;
    }
    h->st = H_CLOSED;
    send_seg(h, SEG_RST, 0, 0, K_RST);
}

static void connect_failed(Half *h, NTSTATUS st)
{
    TdiEndpoint *ep = h->ep;
    close_half(h);
    if (ep) {
        finish(ep->connect, st, 0, 0);
        ep->connect = NULL;
        detach(ep);
    }
}

static void on_syn_ack(Half *h)
{
    if (h->st == H_OPEN) {
        send_ack(h); /* our ACK was lost */
        return;
    }
    if (h->st != H_SYN_SENT)
        return;
    stop_rtx(h);
    if (h->syn_retransmits == 0)
        rto_sample(&h->rto, sim_now(h->conn->tdi->sim) - h->timed_at);
    else
        rto_after_syn_retransmit(&h->rto);
    TdiEndpoint *ep = h->ep;
    establish(h);
    send_ack(h);
    finish(ep->connect, STATUS_SUCCESS, 0, 0);
    ep->connect = NULL;
}

/* ---- resets, aborts, losses ---- */

/* This side aborts: a reset to the peer, every request cancelled. */
static void abort_half(Half *h, NTSTATUS cancel)
{
    if (h->st == H_OPEN || h->st == H_OFFERED)
        send_seg(h, SEG_RST | SEG_ACK, h->snd_nxt, 0, K_RST);
    close_half(h);
    TdiEndpoint *ep = h->ep;
    if (ep) {
        fail_all(ep, cancel);
        detach(ep);
    }
}

/* The connection ended under the endpoint (reset by the peer, or lost):
 * its client learns through ClientEventDisconnect(ABORT) and the failure
 * of whatever it had pending. */
static void end_under(Half *h, NTSTATUS st)
{
    close_half(h);
    TdiEndpoint *ep = h->ep;
    if (!ep)
        return;
    fail_all(ep, st);
    indicate_disconnect(ep, TDI_DISCONNECT_ABORT, NULL);
    detach(ep);
}

static void on_rst(Half *h)
{
    Conn *c = h->conn;
    if (h->st == H_SYN_SENT) {
        connect_failed(h, STATUS_REMOTE_NOT_LISTENING);
        return;
    }
    if (h->ep) {
        disc_step(c, c->abort, 2);
        if (h->ep->release)
            disc_done(c, h->ep->disc, STATUS_CONNECTION_RESET);
    }
    end_under(h, STATUS_CONNECTION_RESET);
}

static void on_rtx(Sim *sim, void *ctx, uint64_t arg)
{
    (void)arg;
    Half *h = ctx;
    h->rtx_timer = SIM_NO_EVENT;
    if (sim_now(sim) < h->rtx_deadline) { /* restarted since: wait for the real deadline */
        h->rtx_at = h->rtx_deadline;
        h->rtx_timer = sim_at(sim, h->rtx_at, on_rtx, h, 0);
        return;
    }
    Conn *c = h->conn;
    if (h->st == H_SYN_SENT) {
        if (h->syn_retransmits >= h->tn->p.syn_retries) {
            connect_failed(h, STATUS_IO_TIMEOUT);
        } else {
            h->syn_retransmits++;
            h->tn->retransmits++;
            rto_backoff(&h->rto);
            send_seg(h, SEG_SYN, 0, 0, K_SYN);
            arm_rtx(h);
        }
    } else if (h->st == H_OPEN && h->snd_una < h->snd_nxt) {
        if (h->retries >= h->tn->p.data_retries) {
            if (h->ep && h->ep->release)
                disc_done(c, h->ep->disc, STATUS_IO_TIMEOUT);
            end_under(h, STATUS_IO_TIMEOUT);
        } else {
            h->retries++;
            rto_backoff(&h->rto);
            retransmit_first(h);
            h->in_recovery = true;
            h->recover = h->snd_nxt;
            arm_rtx(h);
        }
    }
    conn_reap(c);
}

static void on_segment(Net *net, NetNode *at, NetNode *from, const NetPacket *pkt, void *ctx)
{
    (void)net;
    (void)at;
    Tdi *tdi = ctx;
    Conn *c = conn_by_id(tdi, pkt->conn);
    if (!c)
        return; /* a straggler of a connection both sides are done with */
    uint32_t flags = pkt->hdr[0] & 0xff;
    int from_side = (int)(pkt->hdr[0] >> 8) & 1;
    Half *h = &c->h[1 - from_side];
    uint64_t seq = pkt->hdr[1], ack = pkt->hdr[2];
    uint32_t len = (uint32_t)pkt->hdr[3];

    if (h->st == H_NONE) {
        if (flags & SEG_SYN)
            on_offer(h, from);
    } else if (h->st == H_CLOSED) {
        /* After a controlled close, a repeated FIN means our ACK was lost:
         * acknowledge again (TCP's TIME-WAIT); anything else gets a reset. */
        if ((flags & SEG_FIN) && h->fin_rcvd)
            send_ack(h);
        else if (!(flags & SEG_RST))
            send_seg(h, SEG_RST, 0, 0, K_RST);
    } else if (flags & SEG_RST) {
        on_rst(h);
    } else if (flags & SEG_SYN) {
        if (flags & SEG_ACK)
            on_syn_ack(h);
        else if (h->st == H_OPEN)
            send_seg(h, SEG_SYN | SEG_ACK, 0, 0, K_SYN_ACK); /* our SYN-ACK was lost */
    } else if (h->st == H_OPEN) {
        on_ack(h, ack, len == 0 && !(flags & SEG_FIN));
        if (h->st == H_OPEN && (len > 0 || (flags & SEG_FIN)))
            on_data(h, seq, len, flags & SEG_FIN);
    }
    if (half_done(h)) /* asked first: the other half's state is a cold line */
        conn_reap(c);
}

/* ---- the requests ---- */

static bool bad_timeout(const int64_t *timeout) { return timeout && *timeout >= 0; }

/* A TDI time-out (negative 100 ns units) as simulated time. */
static SimTime timeout_ns(const int64_t *timeout, SimTime dflt)
{
    return timeout ? -*timeout * 100 : dflt;
}

static void on_connect_timeout(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Req *r = ctx;
    r->timer = SIM_NO_EVENT;
    Half *h = r->ep->half;
    Conn *c = h->conn;
    connect_failed(h, STATUS_REQUEST_TIMED_OUT);
    conn_reap(c);
}

NTSTATUS tdi_connect(TdiEndpoint *ep, NetNode *remote, uint16_t port, const int64_t *timeout, TdiComplete done,
                     void *ctx)
{
    Tdi *tdi = ep->tdi;
    Req *r = req_new(ep, TDI_REQ_CONNECT, tdi->name_noflags, done, ctx);
    if (bad_timeout(timeout))
        return finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    if (ep->state != TDI_EP_IDLE)
        return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    NetLink *link = net_find_link(tdi->net, ep->tn->node, remote);
    if (!link)
        return finish(r, STATUS_BAD_NETWORK_PATH, 0, 0);
    if (!net_link_is_up(link))
        return finish(r, STATUS_NETWORK_UNREACHABLE, 0, 0);
    Conn *c = conn_new(tdi, ep->tn, tdi_node(tdi, remote), link, port);
    Half *h = &c->h[0];
    h->ep = ep;
    ep->half = h;
    ep->conn_id = r->conn = c->id;
    ep->connect = r;
    set_state(ep, TDI_EP_CONNECTING);
    h->st = H_SYN_SENT;
    h->timed_at = sim_now(tdi->sim);
    send_seg(h, SEG_SYN, 0, 0, K_SYN);
    arm_rtx(h);
    if (timeout)
        r->timer = sim_after(tdi->sim, timeout_ns(timeout, 0), on_connect_timeout, r, 0);
    return STATUS_PENDING;
}

NTSTATUS tdi_listen(TdiEndpoint *ep, uint32_t flags, TdiComplete done, void *ctx)
{
    Tdi *tdi = ep->tdi;
    Req *r = req_new(ep, TDI_REQ_LISTEN, (flags & TDI_QUERY_ACCEPT) ? tdi->name_flag_qa : tdi->name_noflags, done,
                     ctx);
    if (ep->state != TDI_EP_IDLE)
        return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    ep->listen = r;
    ep->listen_flags = flags;
    ep->conn_id = r->conn = 0;
    g_queue_push_tail(&address(ep->tn, ep->port, true)->listeners, ep);
    set_state(ep, TDI_EP_LISTENING);
    return STATUS_PENDING;
}

/* Reject the offer on an OFFERED endpoint: a reset to the initiator. */
static void reject_offer(TdiEndpoint *ep)
{
    Half *h = ep->half;
    send_seg(h, SEG_RST, 0, 0, K_RST);
    close_half(h);
    detach(ep);
}

static void on_accept_timeout(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    TdiEndpoint *ep = ctx;
    ep->accept_timer = SIM_NO_EVENT;
    Conn *c = ep->half->conn;
    reject_offer(ep);
    conn_reap(c);
}

NTSTATUS tdi_accept(TdiEndpoint *ep, TdiComplete done, void *ctx)
{
    Req *r = req_new(ep, TDI_REQ_ACCEPT, ep->tdi->name_noflags, done, ctx);
    if (ep->state != TDI_EP_OFFERED)
        return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    sim_cancel(ep->tdi->sim, ep->accept_timer);
    Half *h = ep->half;
    establish(h);
    send_seg(h, SEG_SYN | SEG_ACK, 0, 0, K_SYN_ACK);
    return finish(r, STATUS_SUCCESS, 0, 0);
}

NTSTATUS tdi_send(TdiEndpoint *ep, uint32_t bytes, uint64_t tag, TdiComplete done, void *ctx)
{
    Req *r = req_new(ep, TDI_REQ_SEND, ep->tdi->name_noflags, done, ctx);
    if (bytes == 0)
        return finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    /* A release by this side closed its sending half (design choice: the
     * request fails at once, INVALID_CONNECTION being in its status list). */
    if (ep->state != TDI_EP_ESTABLISHED && ep->state != TDI_EP_REMOTE_RELEASE)
        return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    if (ep->release)
        return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    Half *h = ep->half;
    Record *rec = pool_alloc0(&ep->tdi->record_pool);
    h->snd_end += bytes;
    rec->end = h->snd_end;
    rec->bytes = bytes;
    rec->tag = tag;
    q_push(&h->records, &rec->link, rec);
    r->bytes = bytes;
    r->tag = tag;
    r->end = h->snd_end;
    q_push(&ep->sends, &r->qlink, r);
    try_send(h);
    return STATUS_PENDING;
}

NTSTATUS tdi_receive(TdiEndpoint *ep, uint32_t buffer_bytes, TdiComplete done, void *ctx)
{
    Req *r = req_new(ep, TDI_REQ_RECEIVE, ep->tdi->name_noflags, done, ctx);
    if (buffer_bytes == 0)
        return finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    r->bytes = buffer_bytes;
    switch (ep->state) {
    case TDI_EP_ESTABLISHED:
    case TDI_EP_LOCAL_RELEASE:
        q_push(&ep->receives, &r->qlink, r);
        serve_receives(ep);
        return r->finished ? r->io.status : STATUS_PENDING;
    case TDI_EP_REMOTE_RELEASE:
        /* What arrived before the peer's release can still be read; after
         * that the receive side is closed (design choice: the status that
         * tells a graceful close). */
        if (g_queue_is_empty(&ep->rx))
            return finish(r, STATUS_GRACEFUL_DISCONNECT, 0, 0);
        q_push(&ep->receives, &r->qlink, r);
        serve_receives(ep);
        return r->io.status;
    default:
        return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    }
}

static void on_release_timeout(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Req *r = ctx;
    r->timer = SIM_NO_EVENT;
    TdiEndpoint *ep = r->ep;
    Half *h = ep->half;
    Conn *c = h->conn;
    ep->release = NULL;
    disc_done(c, ep->disc, STATUS_REQUEST_TIMED_OUT);
    finish(r, STATUS_REQUEST_TIMED_OUT, 0, 0);
    /* Not confirmed in time: the connection is torn down abortively and the
     * peer told by a reset (TDI.md 3.4, "state after a RELEASE time-out"). */
    abort_half(h, STATUS_CANCELLED);
    conn_reap(c);
}

static uint32_t disconnect_flags_name(Tdi *tdi, uint32_t flags)
{
    bool rel = flags & TDI_DISCONNECT_RELEASE, ab = flags & TDI_DISCONNECT_ABORT;
    return rel && ab ? tdi->name_flag_both : rel ? tdi->name_flag_release : ab ? tdi->name_flag_abort
                                                                               : tdi->name_noflags;
}

static NTSTATUS start_release(TdiEndpoint *ep, Req *r, const int64_t *timeout, const TdiConnInfo *info)
{
    Half *h = ep->half;
    Conn *c = h->conn;
    if (ep->state == TDI_EP_ESTABLISHED) {
        /* Step 1: no more sends from here; what is queued goes first. */
        set_state(ep, TDI_EP_LOCAL_RELEASE);
        ep->disc = disc_new(c, ep, ep->tdi->name_release);
        if (c->release < 0)
            c->release = ep->disc; /* else both sides released at once */
    } else {
        disc_step(c, c->release, 3); /* step 3: the peer's client confirms */
    }
    ep->release = r;
    if (info)
        h->fin_info = *info;
    h->fin_queued = true;
    r->timer = sim_after(ep->tdi->sim, timeout_ns(timeout, h->tn->p.disconnect_timeout), on_release_timeout, r, 0);
    try_send(h);
    check_release(h);
    return r->finished ? r->io.status : STATUS_PENDING;
}

NTSTATUS tdi_disconnect(TdiEndpoint *ep, uint32_t flags, const int64_t *timeout, const TdiConnInfo *info,
                        TdiComplete done, void *ctx)
{
    Tdi *tdi = ep->tdi;
    Req *r = req_new(ep, TDI_REQ_DISCONNECT, disconnect_flags_name(tdi, flags), done, ctx);
    bool release = flags & TDI_DISCONNECT_RELEASE;
    /* Only one of ABORT and RELEASE (TDI.md 3.4); flags 0 is an abort. */
    if (release && (flags & TDI_DISCONNECT_ABORT))
        return finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    if (bad_timeout(timeout))
        return finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    Half *h = ep->half;
    Conn *c = h ? h->conn : NULL;
    NTSTATUS st = STATUS_SUCCESS;
    switch (ep->state) {
    case TDI_EP_IDLE:
        return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    case TDI_EP_LISTENING:
    case TDI_EP_CONNECTING:
        if (release)
            return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
        if (c) {
            disc_done(c, disc_new(c, ep, tdi->name_abort), STATUS_SUCCESS);
            close_half(h);
        }
        fail_all(ep, STATUS_CANCELLED);
        detach(ep);
        break;
    case TDI_EP_OFFERED:
        disc_done(c, disc_new(c, ep, tdi->name_abort), STATUS_SUCCESS);
        reject_offer(ep);
        break;
    case TDI_EP_ESTABLISHED:
    case TDI_EP_REMOTE_RELEASE:
        if (release && !ep->release) {
            st = start_release(ep, r, timeout, info);
            conn_reap(c);
            return st;
        }
        if (release)
            return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
        /* an abort */
        /* fall through */
    case TDI_EP_LOCAL_RELEASE:
        if (release)
            return finish(r, STATUS_INVALID_CONNECTION, 0, 0);
        /* An abort, also while a release is pending: closed at once. */
        if (ep->release)
            disc_done(c, ep->disc, STATUS_CANCELLED);
        c->abort = disc_new(c, ep, tdi->name_abort);
        disc_done(c, c->abort, STATUS_SUCCESS);
        abort_half(h, STATUS_CANCELLED);
        break;
    }
    finish(r, st, 0, 0);
    conn_reap(c);
    return st;
}

/* ---- end of run ---- */

/* The requests still open at the end, by issue time, then endpoint. */
static gint cmp_open_req(gconstpointer pa, gconstpointer pb)
{
    const Req *a = *(Req *const *)pa, *b = *(Req *const *)pb;
    if (a->t0 != b->t0)
        return a->t0 < b->t0 ? -1 : 1;
    return (a->ep->name_id > b->ep->name_id) - (a->ep->name_id < b->ep->name_id);
}

void tdi_flush_trace(Tdi *tdi)
{
    GPtrArray *open = g_ptr_array_new();
    for (GList *l = tdi->reqs.head; l; l = l->next)
        if (!((Req *)l->data)->finished)
            g_ptr_array_add(open, l->data);
    g_ptr_array_sort(open, cmp_open_req); /* stable: ties stay in issue order */
    for (guint i = 0; i < open->len; i++) {
        Req *r = g_ptr_array_index(open, i);
        trace_req(tdi, r, -1, STATUS_PENDING);
    }
    g_ptr_array_unref(open);
    for (guint i = 0; i < tdi->conns->len; i++) {
        Conn *c = g_ptr_array_index(tdi->conns, i);
        if (c)
            write_discs(c);
    }
}

static int cmp_status(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void tdi_write_metrics(Tdi *tdi, Trace *trace) { tdi_write_metrics_of(&tdi, 1, trace); }

void tdi_write_metrics_of(Tdi *const *tdis, int n, Trace *trace)
{
    GArray *v = g_array_new(FALSE, FALSE, sizeof(double));
    uint64_t timed_out = 0, aborts = 0;
    GHashTable *statuses = g_hash_table_new(g_direct_hash, g_direct_equal); /* code -> count */
    for (int i = 0; i < n; i++) {
        g_array_append_vals(v, tdis[i]->release_ns->data, tdis[i]->release_ns->len);
        timed_out += tdis[i]->releases_timed_out;
        aborts += tdis[i]->aborts;
        GHashTableIter it;
        gpointer k, c;
        g_hash_table_iter_init(&it, tdis[i]->statuses);
        while (g_hash_table_iter_next(&it, &k, &c))
            g_hash_table_insert(statuses, k,
                                GSIZE_TO_POINTER(GPOINTER_TO_SIZE(g_hash_table_lookup(statuses, k)) +
                                                 GPOINTER_TO_SIZE(c)));
    }
    stats_sort((double *)(void *)v->data, v->len);
    const double *d = (const double *)(void *)v->data;
    trace_metric(trace, "tdi.release.count", v->len);
    if (v->len) {
        trace_metric(trace, "tdi.release.p50_ns", stats_quantile(d, v->len, 0.50));
        trace_metric(trace, "tdi.release.p95_ns", stats_quantile(d, v->len, 0.95));
        trace_metric(trace, "tdi.release.p99_ns", stats_quantile(d, v->len, 0.99));
        trace_metric(trace, "tdi.release.max_ns", d[v->len - 1]);
    }
    g_array_unref(v);
    trace_metric(trace, "tdi.release.timed_out", (double)timed_out);
    trace_metric(trace, "tdi.abort.count", (double)aborts);
    /* Error statuses, in code order (hash order is not deterministic). */
    GArray *codes = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    GHashTableIter it;
    gpointer k, c;
    g_hash_table_iter_init(&it, statuses);
    while (g_hash_table_iter_next(&it, &k, &c)) {
        uint32_t code = GPOINTER_TO_UINT(k);
        if (code != STATUS_SUCCESS && code != STATUS_PENDING)
            g_array_append_val(codes, code);
    }
    g_array_sort(codes, cmp_status);
    uint64_t timeouts = 0;
    for (guint i = 0; i < codes->len; i++) {
        uint32_t code = g_array_index(codes, uint32_t, i);
        uint64_t count = GPOINTER_TO_SIZE(g_hash_table_lookup(statuses, GUINT_TO_POINTER(code)));
        char *name = g_strdup_printf("status.%s", ntstatus_name(code) ? ntstatus_name(code) : "?");
        trace_metric(trace, name, (double)count);
        g_free(name);
        if (code == STATUS_IO_TIMEOUT || code == STATUS_REQUEST_TIMED_OUT)
            timeouts += count;
    }
    trace_metric(trace, "tdi.timeouts", (double)timeouts);
    g_array_unref(codes);
    g_hash_table_unref(statuses);
}

int64_t tdi_conns_made(const Tdi *tdi) { return tdi->next_conn - 1; }

void tdi_free(Tdi *tdi)
{
    if (!tdi)
        return;
    for (guint i = 0; i < tdi->conns->len; i++)
        if (g_ptr_array_index(tdi->conns, i))
            conn_free(g_ptr_array_index(tdi->conns, i));
    g_ptr_array_unref(tdi->conns);
    q_free_all(&tdi->reqs, &tdi->req_pool);
    q_free_all(&tdi->notices, &tdi->notice_pool);
    for (guint i = 0; i < tdi->endpoints->len; i++) {
        TdiEndpoint *ep = g_ptr_array_index(tdi->endpoints, i);
        /* sends and receives link requests freed with tdi->reqs */
        clear_rx(ep);
        g_free(ep->name);
        g_aligned_free(ep);
    }
    g_ptr_array_unref(tdi->endpoints);
    GHashTableIter it;
    gpointer key, val;
    g_hash_table_iter_init(&it, tdi->nodes);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        TdiNode *tn = val;
        GHashTableIter ai;
        gpointer ak, av;
        g_hash_table_iter_init(&ai, tn->addresses);
        while (g_hash_table_iter_next(&ai, &ak, &av))
            g_queue_clear(&((Address *)av)->listeners);
        g_hash_table_unref(tn->addresses);
        g_free(tn);
    }
    g_hash_table_unref(tdi->nodes);
    g_array_unref(tdi->release_ns);
    g_hash_table_unref(tdi->statuses);
    pool_clear(&tdi->req_pool);
    pool_clear(&tdi->notice_pool);
    pool_clear(&tdi->record_pool);
    g_free(tdi);
}
