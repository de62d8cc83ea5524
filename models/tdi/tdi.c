/* tdi.c: the TDI request interface on connection endpoints (TDI.md,
 * 004_*.txt): parameters and nodes, requests and their completions,
 * notices to the ClientEvent* handlers, TDI_CONNECT, TDI_LISTEN,
 * TDI_ACCEPT, TDI_SEND, TDI_RECEIVE and TDI_DISCONNECT (abortive and the
 * four-step release, with its time-out), and the end-of-run flush and
 * metrics.  The transport under it is tcp.c.  Every request completes
 * exactly once, from an event of its own (tdi.h). */

#include "tcp.h"

static const char *const req_names[] = {
    "TDI_CONNECT", "TDI_LISTEN", "TDI_ACCEPT", "TDI_SEND", "TDI_RECEIVE", "TDI_DISCONNECT",
};

static const char *const state_names[] = {
    "IDLE", "CONNECTING", "LISTENING", "OFFERED", "ESTABLISHED", "LOCAL_RELEASE", "REMOTE_RELEASE",
};

const char *tdi_state_name(TdiState s) { return state_names[s]; }

void tdi_legacy_params(TdiParams *p)
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
     * least every second segment, within 0.5 s; Windows 2000/2003 waited
     * 200 ms (TcpDelAckTicks 2) and acknowledged every second segment
     * (TcpAckFrequency 2). */
    p->delayed_ack = 200 * SIM_MS;
    p->window = 64 * 1024;
    p->orderly_release = true;
    p->congestion = CC_NONE;
    p->sack = false;
    p->initial_window = 10;
}

void tdi_default_params(TdiParams *p)
{
    tdi_legacy_params(p);
    /* The Internet template of Windows Server 2016/2019 (Get-NetTCPSetting
     * -SettingName InternetCustom, as Microsoft's networking blog "TCP
     * Templates for Windows Server 2019" prints it): MinRto 300 ms,
     * InitialCongestionWindow 10 MSS, CongestionProvider CUBIC,
     * DelayedAckTimeout 40 ms, DelayedAckFrequency 2.  SACK is on in
     * Windows' TCP since Windows 2000 (SackOpts, default 1). */
    p->rto.min = 300 * SIM_MS;
    p->delayed_ack = 40 * SIM_MS;
    p->congestion = CC_CUBIC;
    p->sack = true;
    p->initial_window = 10;
    /* Not in what could be read: the initial RTO (InitialRtoMs) and SYN
     * retries of recent Windows.  rdrsim keeps RFC 6298's 1 s and the
     * documented TcpMaxConnectRetransmissions 2 (README, "Transport
     * defaults").  Receive window auto-tuning ("Normal": the 64 KiB window
     * scaled by up to 2^8) is taken as a fixed 16 MiB, about its largest. */
    p->window = 16u << 20;
    /* TDI_DISCONNECT without a time-out: "usually something less than one
     * second".  500 ms was below the 1 s minimum RTO, so a single lost FIN
     * timed the release out with no retransmission; 900 ms leaves room for
     * a retransmission at the 300 ms minimum RTO and its answer. */
    p->disconnect_timeout = 900 * SIM_MS;
}

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
    net_node_set_receiver(node, NET_PROTO_TDI, tcp_on_segment, tdi);
    return tn;
}

Address *tdi_address(TdiNode *tn, uint16_t port, bool create)
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
    Address *a = tdi_address(tdi_node(tdi, node), port, true);
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
    net_set_describe(net, tcp_describe, tdi);
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
    static const char *const kinds[K_COUNT] = { "syn", "syn_ack", "ack", "data", "fin", "rst", "retransmit" };
    for (int i = 0; i < K_COUNT; i++)
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
NTSTATUS tdi_finish(Req *r, NTSTATUS st, uint64_t information, uint64_t tag)
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
        if (ep->h.disconnect && trace_level(tdi->trace) >= TRACE_MESSAGES) {
            Trace *tr = tdi->trace;
            trace_indication(tr, sim_now(tdi->sim), net_node_trace_id(ep->tn->node), n->conn,
                             trace_name(tr, "ClientEventDisconnect"),
                             trace_name(tr, n->flags & TDI_DISCONNECT_ABORT ? "TDI_DISCONNECT_ABORT"
                                                                            : "TDI_DISCONNECT_RELEASE"));
        }
        if (ep->h.disconnect)
            ep->h.disconnect(ep->h.ctx, ep, n->flags, &n->info);
    } else if (ep->h.receive) {
        ep->h.receive(ep->h.ctx, ep, n->bytes, n->tag);
    }
    ilist_unlink(&tdi->notices, &n->link);
    pool_free(&tdi->notice_pool, n);
}

void tdi_post_notice(TdiEndpoint *ep, Notice *n)
{
    n->ep = ep;
    n->link.data = n;
    ilist_push_tail(&ep->tdi->notices, &n->link);
    sim_after(ep->tdi->sim, 0, on_notice, ep->tdi, (uint64_t)(uintptr_t)n);
}

void tdi_indicate_disconnect(TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info)
{
    if (!ep->h.disconnect)
        return;
    Notice *n = pool_alloc0(&ep->tdi->notice_pool);
    n->is_disconnect = true;
    n->conn = tdi_endpoint_conn(ep);
    n->flags = flags;
    if (info)
        n->info = *info;
    tdi_post_notice(ep, n);
}

TdiEndpoint *tdi_endpoint_open(Tdi *tdi, NetNode *node, uint16_t port, const char *name)
{
    TdiEndpoint *ep = g_aligned_alloc0(1, sizeof(TdiEndpoint), _Alignof(TdiEndpoint));
    ep->tdi = tdi;
    ep->tn = tdi_node(tdi, node);
    ep->port = port;
    ep->name = g_strdup(name);
    ep->name_id = trace_name(tdi->trace, name);
    ep->disc = -1;
    tdi_address(ep->tn, port, true);
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

void tdi_set_state(TdiEndpoint *ep, TdiState s)
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
void tdi_fail_all(TdiEndpoint *ep, NTSTATUS st)
{
    Req *r;
    if (ep->connect)
        tdi_finish(ep->connect, st, 0, 0), ep->connect = NULL;
    if (ep->listen) {
        g_queue_remove(&tdi_address(ep->tn, ep->port, true)->listeners, ep);
        tdi_finish(ep->listen, st, 0, 0), ep->listen = NULL;
    }
    while ((r = q_pop(&ep->sends)))
        tdi_finish(r, st, 0, 0);
    while ((r = q_pop(&ep->receives)))
        tdi_finish(r, st, 0, 0);
    if (ep->release)
        tdi_finish(ep->release, st, 0, 0), ep->release = NULL;
}

/* The endpoint is done with its connection: back to IDLE, reusable. */
void tdi_detach(TdiEndpoint *ep)
{
    sim_cancel(ep->tdi->sim, ep->accept_timer);
    if (ep->half)
        ep->half->ep = NULL;
    ep->half = NULL;
    ep->disc = -1;
    clear_rx(ep);
    tdi_set_state(ep, TDI_EP_IDLE);
}

void tdi_serve_receives(TdiEndpoint *ep)
{
    Req *r;
    Record *rec;
    while ((r = ilist_peek_head(&ep->receives)) && (rec = ilist_peek_head(&ep->rx))) {
        q_pop(&ep->receives);
        if (rec->bytes <= r->bytes) {
            q_pop(&ep->rx);
            tdi_finish(r, STATUS_SUCCESS, rec->bytes, rec->tag);
            pool_free(&ep->tdi->record_pool, rec);
        } else {
            /* The rest of the record stays for the next receive. */
            rec->bytes -= r->bytes;
            tdi_finish(r, STATUS_BUFFER_OVERFLOW, r->bytes, rec->tag);
        }
    }
}

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
    tcp_connect_failed(h, STATUS_REQUEST_TIMED_OUT);
    tcp_conn_reap(c);
}

NTSTATUS tdi_connect(TdiEndpoint *ep, NetNode *remote, uint16_t port, const int64_t *timeout, TdiComplete done,
                     void *ctx)
{
    Tdi *tdi = ep->tdi;
    Req *r = req_new(ep, TDI_REQ_CONNECT, tdi->name_noflags, done, ctx);
    if (bad_timeout(timeout))
        return tdi_finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    if (ep->state != TDI_EP_IDLE)
        return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    /* No path at all: the name resolves to nothing reachable; a path whose
     * links are down now: the network is unreachable (as a direct link
     * that is down always was). */
    if (!net_path_exists(tdi->net, ep->tn->node, remote))
        return tdi_finish(r, STATUS_BAD_NETWORK_PATH, 0, 0);
    if (!net_reachable(tdi->net, ep->tn->node, remote))
        return tdi_finish(r, STATUS_NETWORK_UNREACHABLE, 0, 0);
    Conn *c = tcp_conn_new(tdi, ep->tn, tdi_node(tdi, remote), port);
    Half *h = &c->h[0];
    h->ep = ep;
    ep->half = h;
    ep->conn_id = r->conn = c->id;
    ep->connect = r;
    tdi_set_state(ep, TDI_EP_CONNECTING);
    h->st = H_SYN_SENT;
    h->timed_at = sim_now(tdi->sim);
    tcp_send_seg(h, SEG_SYN, 0, 0, K_SYN);
    tcp_arm_rtx(h);
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
        return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    ep->listen = r;
    ep->listen_flags = flags;
    ep->conn_id = r->conn = 0;
    g_queue_push_tail(&tdi_address(ep->tn, ep->port, true)->listeners, ep);
    tdi_set_state(ep, TDI_EP_LISTENING);
    return STATUS_PENDING;
}

/* Reject the offer on an OFFERED endpoint: a reset to the initiator. */
static void reject_offer(TdiEndpoint *ep)
{
    Half *h = ep->half;
    tcp_send_seg(h, SEG_RST, 0, 0, K_RST);
    tcp_close_half(h);
    tdi_detach(ep);
}

void tdi_on_accept_timeout(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    TdiEndpoint *ep = ctx;
    ep->accept_timer = SIM_NO_EVENT;
    Conn *c = ep->half->conn;
    reject_offer(ep);
    tcp_conn_reap(c);
}

NTSTATUS tdi_accept(TdiEndpoint *ep, TdiComplete done, void *ctx)
{
    Req *r = req_new(ep, TDI_REQ_ACCEPT, ep->tdi->name_noflags, done, ctx);
    if (ep->state != TDI_EP_OFFERED)
        return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    sim_cancel(ep->tdi->sim, ep->accept_timer);
    Half *h = ep->half;
    tcp_establish(h);
    tcp_send_seg(h, SEG_SYN | SEG_ACK, 0, 0, K_SYN_ACK);
    return tdi_finish(r, STATUS_SUCCESS, 0, 0);
}

NTSTATUS tdi_send(TdiEndpoint *ep, uint32_t bytes, uint64_t tag, TdiComplete done, void *ctx)
{
    Req *r = req_new(ep, TDI_REQ_SEND, ep->tdi->name_noflags, done, ctx);
    if (bytes == 0)
        return tdi_finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    /* A release by this side closed its sending half (design choice: the
     * request fails at once, INVALID_CONNECTION being in its status list). */
    if (ep->state != TDI_EP_ESTABLISHED && ep->state != TDI_EP_REMOTE_RELEASE)
        return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    if (ep->release)
        return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    Half *h = ep->half;
    Record *rec = pool_alloc0(&ep->tdi->record_pool);
    h->snd_end += bytes;
    rec->end = h->snd_end;
    rec->bytes = bytes;
    rec->tag = tag;
    q_push(&h->records, &rec->link, rec);
    if (ep->tdi->capture)
        ep->tdi->capture(ep->tdi->capture_ctx, h->conn->id, h->side, h->snd_end - bytes, bytes, tag);
    r->bytes = bytes;
    r->tag = tag;
    r->end = h->snd_end;
    q_push(&ep->sends, &r->qlink, r);
    tcp_try_send(h);
    return STATUS_PENDING;
}

NTSTATUS tdi_receive(TdiEndpoint *ep, uint32_t buffer_bytes, TdiComplete done, void *ctx)
{
    Req *r = req_new(ep, TDI_REQ_RECEIVE, ep->tdi->name_noflags, done, ctx);
    if (buffer_bytes == 0)
        return tdi_finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    r->bytes = buffer_bytes;
    switch (ep->state) {
    case TDI_EP_ESTABLISHED:
    case TDI_EP_LOCAL_RELEASE:
        q_push(&ep->receives, &r->qlink, r);
        tdi_serve_receives(ep);
        return r->finished ? r->io.status : STATUS_PENDING;
    case TDI_EP_REMOTE_RELEASE:
        /* What arrived before the peer's release can still be read; after
         * that the receive side is closed (design choice: the status that
         * tells a graceful close). */
        if (g_queue_is_empty(&ep->rx))
            return tdi_finish(r, STATUS_GRACEFUL_DISCONNECT, 0, 0);
        q_push(&ep->receives, &r->qlink, r);
        tdi_serve_receives(ep);
        return r->io.status;
    default:
        return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
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
    tcp_disc_done(c, ep->disc, STATUS_REQUEST_TIMED_OUT);
    tdi_finish(r, STATUS_REQUEST_TIMED_OUT, 0, 0);
    /* Not confirmed in time: the connection is torn down abortively and the
     * peer told by a reset (TDI.md 3.4, "state after a RELEASE time-out"). */
    tcp_abort_half(h, STATUS_CANCELLED);
    tcp_conn_reap(c);
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
        tdi_set_state(ep, TDI_EP_LOCAL_RELEASE);
        ep->disc = tcp_disc_new(c, ep, ep->tdi->name_release);
        tcp_disc_at(c, ep->disc)->data_sent = info ? info->user_data_length : 0; /* RequestConnectionInformation */
        if (c->release < 0)
            c->release = ep->disc; /* else both sides released at once */
    } else {
        tcp_disc_step(c, c->release, 3); /* step 3: the peer's client confirms */
    }
    ep->release = r;
    if (info)
        h->fin_info = *info;
    h->fin_queued = true;
    r->timer = sim_after(ep->tdi->sim, timeout_ns(timeout, h->tn->p.disconnect_timeout), on_release_timeout, r, 0);
    tcp_try_send(h);
    tcp_check_release(h);
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
        return tdi_finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    if (bad_timeout(timeout))
        return tdi_finish(r, STATUS_INVALID_PARAMETER, 0, 0);
    /* A transport without controlled disconnects terminates all activity
     * whatever the flags ask (TDI_DISCONNECT; TDI.md 1): a release is an
     * abort there, and the request is traced as the client made it. */
    if (release && !ep->tn->p.orderly_release)
        release = false;
    Half *h = ep->half;
    Conn *c = h ? h->conn : NULL;
    NTSTATUS st = STATUS_SUCCESS;
    switch (ep->state) {
    case TDI_EP_IDLE:
        return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
    case TDI_EP_LISTENING:
    case TDI_EP_CONNECTING:
        if (release)
            return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
        if (c) {
            tcp_disc_done(c, tcp_disc_new(c, ep, tdi->name_abort), STATUS_SUCCESS);
            tcp_close_half(h);
        }
        tdi_fail_all(ep, STATUS_CANCELLED);
        tdi_detach(ep);
        break;
    case TDI_EP_OFFERED:
        tcp_disc_done(c, tcp_disc_new(c, ep, tdi->name_abort), STATUS_SUCCESS);
        reject_offer(ep);
        break;
    case TDI_EP_ESTABLISHED:
    case TDI_EP_REMOTE_RELEASE:
        if (release && !ep->release) {
            st = start_release(ep, r, timeout, info);
            tcp_conn_reap(c);
            return st;
        }
        if (release)
            return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
        /* an abort */
        /* fall through */
    case TDI_EP_LOCAL_RELEASE:
        if (release)
            return tdi_finish(r, STATUS_INVALID_CONNECTION, 0, 0);
        /* An abort, also while a release is pending: closed at once. */
        if (ep->release)
            tcp_disc_done(c, ep->disc, STATUS_CANCELLED);
        c->abort = tcp_disc_new(c, ep, tdi->name_abort);
        tcp_disc_done(c, c->abort, STATUS_SUCCESS);
        tcp_abort_half(h, STATUS_CANCELLED);
        break;
    }
    tdi_finish(r, st, 0, 0);
    tcp_conn_reap(c);
    return st;
}

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
            tcp_write_discs(c);
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
            tcp_conn_free(g_ptr_array_index(tdi->conns, i));
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


void tdi_set_label(Tdi *tdi, TdiLabel fn, void *ctx)
{
    tdi->label = fn;
    tdi->label_ctx = ctx;
}

void tdi_set_capture(Tdi *tdi, TdiCapture fn, void *ctx)
{
    tdi->capture = fn;
    tdi->capture_ctx = ctx;
}

bool tdi_node_sack(Tdi *tdi, NetNode *node)
{
    TdiNode *tn = g_hash_table_lookup(tdi->nodes, node);
    return tn && tn->p.sack && tn->p.congestion != CC_NONE;
}

uint32_t tdi_node_window(Tdi *tdi, NetNode *node)
{
    TdiNode *tn = g_hash_table_lookup(tdi->nodes, node);
    return tn ? tn->p.window : 65535;
}

void tdi_node_reboot(Tdi *tdi, NetNode *node)
{
    for (guint i = 0; i < tdi->conns->len; i++) {
        Conn *c = g_ptr_array_index(tdi->conns, i);
        for (int side = 0; c && side < 2; side++)
            if (c->h[side].node == node)
                tcp_forget_half(&c->h[side]);
    }
}
