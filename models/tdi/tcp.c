/* tcp.c: the TCP engine under TDI: connections and their two halves,
 * segments with byte sequence numbers and cumulative acknowledgements,
 * the receiver's out-of-order list, the fixed send window, retransmission
 * on the RFC 6298 time-out (rto.c) with Karn's rule and fast retransmit
 * after three duplicate ACKs, delayed ACKs, the three-way handshake, FIN
 * (the controlled disconnect, TDI.md's mapping onto TCP), RST (the
 * abortive one) and the retry limit after which a connection is lost.
 * It guarantees in-order, whole-record delivery to the endpoint and tells
 * the TDI layer (tdi.c) of every change through the upcalls in tcp.h; it
 * completes no request itself except through them. */

#include "tcp.h"

Disc *tcp_disc_at(Conn *c, int i) { return i < 0 ? NULL : &g_array_index(c->discs, Disc, i); }

int tcp_disc_new(Conn *c, TdiEndpoint *ep, uint32_t mode)
{
    Disc d = { net_node_trace_id(ep->tn->node), ep->name_id, mode, sim_now(c->tdi->sim), -1, 1, STATUS_PENDING, 0, 0, 0 };
    g_array_append_val(c->discs, d);
    return (int)c->discs->len - 1;
}

void tcp_disc_step(Conn *c, int i, int step)
{
    Disc *d = tcp_disc_at(c, i);
    if (d && d->step < step)
        d->step = step;
}

void tcp_disc_done(Conn *c, int i, NTSTATUS st)
{
    Disc *d = tcp_disc_at(c, i);
    if (d && d->t_done < 0) {
        d->t_done = sim_now(c->tdi->sim);
        d->outcome = st;
    }
}

void tcp_write_discs(Conn *c)
{
    Tdi *tdi = c->tdi;
    for (guint i = 0; i < c->discs->len; i++) {
        Disc *d = tcp_disc_at(c, (int)i);
        if (d->mode == tdi->name_release && d->t_done >= 0) {
            double ns = (double)(d->t_done - d->t_start);
            g_array_append_val(tdi->release_ns, ns);
            tdi->releases_timed_out += d->outcome == STATUS_REQUEST_TIMED_OUT;
        } else if (d->mode == tdi->name_abort) {
            tdi->aborts++;
        }
        trace_disconnect(c->tdi->trace, c->id, d->initiator, d->endpoint, d->mode, d->t_start, d->t_done, d->step,
                         d->outcome);
        if (d->mode == tdi->name_release)
            trace_disconnect_data(c->tdi->trace, c->id, d->endpoint, d->data_sent, d->data_received, d->data_returned);
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

Conn *tcp_conn_new(Tdi *tdi, TdiNode *a, TdiNode *b, NetLink *link, uint16_t port)
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

void tcp_conn_free(Conn *c)
{
    tcp_write_discs(c);
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
void tcp_conn_reap(Conn *c)
{
    if (c && half_done(&c->h[0]) && half_done(&c->h[1])) {
        g_ptr_array_index(c->tdi->conns, c->id - 1) = NULL;
        tcp_conn_free(c);
    }
}

static Conn *conn_by_id(Tdi *tdi, int64_t id)
{
    return id >= 1 && id <= (int64_t)tdi->conns->len ? g_ptr_array_index(tdi->conns, id - 1) : NULL;
}

static Half *peer_of(Half *h) { return &h->conn->h[1 - h->side]; }

void tcp_send_seg(Half *h, uint32_t flags, uint64_t seq, uint32_t len, int kind)
{
    Tdi *tdi = h->conn->tdi;
    uint32_t extra = (flags & SEG_FIN) ? h->fin_info.user_data_length : 0;
    if (len) { /* data sent before goes again: the trace says so */
        if (seq < h->snd_max)
            kind = K_RETRANSMIT;
        if (seq + len > h->snd_max)
            h->snd_max = seq + len;
    }
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

static void send_ack(Half *h) { tcp_send_seg(h, SEG_ACK, h->snd_nxt, 0, K_ACK); }

static void on_rtx(Sim *sim, void *ctx, uint64_t arg);

/* (Re)start the retransmission timer: it expires one RTO from now.  Every
 * acknowledgement of new data restarts it (RFC 6298 5.3), so instead of a
 * cancel and a new event each time -- an RTO's worth of dead entries in the
 * event queue per connection -- a timer already due no later stays, and
 * on_rtx re-arms it for the real deadline when it fires early. */
void tcp_arm_rtx(Half *h)
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

void tcp_close_half(Half *h)
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
void tcp_try_send(Half *h)
{
    if (h->st != H_OPEN)
        return;
    uint32_t window = h->window;
    uint32_t seg = mss(h);
    while (h->snd_nxt < h->snd_end && h->snd_nxt - h->snd_una < window) {
        uint64_t len = h->snd_end - h->snd_nxt;
        uint64_t room = window - (h->snd_nxt - h->snd_una);
        len = MIN(len, MIN(room, seg));
        tcp_send_seg(h, SEG_ACK, h->snd_nxt, (uint32_t)len, K_DATA);
        if (!h->timing) {
            h->timing = true;
            h->timed_end = h->snd_nxt + len;
            h->timed_at = sim_now(h->conn->tdi->sim);
        }
        h->snd_nxt += len;
        if (h->rtx_timer == SIM_NO_EVENT)
            tcp_arm_rtx(h);
    }
    if (h->fin_queued && !h->fin_sent && h->snd_nxt == h->snd_end) {
        tcp_send_seg(h, SEG_FIN | SEG_ACK, h->snd_end, 0, K_FIN);
        h->fin_sent = true;
        h->snd_nxt = h->snd_end + 1;
        if (h->rtx_timer == SIM_NO_EVENT)
            tcp_arm_rtx(h);
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
        tcp_send_seg(h, SEG_ACK, h->snd_una, len, K_DATA);
    } else if (h->fin_sent) {
        tcp_send_seg(h, SEG_FIN | SEG_ACK, h->snd_end, 0, K_FIN);
    }
}

static bool fin_acked(const Half *h) { return h->fin_sent && h->snd_una > h->snd_end; }

/* A half whose endpoint has left closes once both FINs are through. */
static void maybe_close(Half *h)
{
    if (h->st == H_OPEN && !h->ep && fin_acked(h) && h->fin_rcvd)
        tcp_close_half(h);
}

/* An endpoint's pending TDI_DISCONNECT(RELEASE), once its conditions hold:
 * the initiator's waits for its sends and FIN to be acknowledged and for
 * the peer's confirmation (step 4); the responder's waits for its own
 * sends to complete (step 3). */
void tcp_check_release(Half *h)
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
        r->io.info = peer_of(h)->fin_info; /* ReturnConnectionInformation */
        Disc *d = tcp_disc_at(c, ep->disc);
        if (d && ep->disc == c->release)
            d->data_returned = r->io.info.user_data_length;
        tcp_disc_step(c, ep->disc, 4);
        tcp_disc_done(c, ep->disc, STATUS_SUCCESS);
        tdi_finish(r, STATUS_SUCCESS, 0, 0);
        /* Completion means all activity on the connection has stopped. */
        tdi_fail_all(ep, STATUS_GRACEFUL_DISCONNECT);
        tdi_detach(ep);
    } else {
        Req *r = ep->release;
        ep->release = NULL;
        tdi_finish(r, STATUS_SUCCESS, 0, 0);
        tdi_fail_all(ep, STATUS_GRACEFUL_DISCONNECT);
        tdi_detach(ep);
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
        tdi_finish(r, STATUS_SUCCESS, r->bytes, r->tag);
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
            tcp_arm_rtx(h); /* 5.3: new data acknowledged, restart the timer */
            if (h->in_recovery && ack < h->recover)
                retransmit_first(h); /* partial acknowledgement: the next hole */
            else
                h->in_recovery = false;
        }
        tcp_try_send(h);
        tcp_check_release(h);
        maybe_close(h);
    } else if (pure && ack == h->snd_una && h->snd_una < h->snd_nxt) {
        if (++h->dupacks == 3 && !h->in_recovery) {
            retransmit_first(h);
            h->in_recovery = true;
            h->recover = h->snd_nxt;
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
    tdi_serve_receives(ep);
    if (!ep->h.receive || !g_queue_is_empty(&ep->receives))
        return;
    while ((rec = q_pop(&ep->rx))) {
        Notice *n = pool_alloc0(&ep->tdi->notice_pool);
        n->bytes = rec->bytes;
        n->tag = rec->tag;
        tdi_post_notice(ep, n);
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
        tdi_set_state(ep, TDI_EP_REMOTE_RELEASE);
        tcp_disc_step(c, c->release, 2);
        Req *r;
        if (g_queue_is_empty(&ep->rx))
            while ((r = q_pop(&ep->receives)))
                tdi_finish(r, STATUS_GRACEFUL_DISCONNECT, 0, 0);
        Disc *d = tcp_disc_at(c, c->release);
        if (d)
            d->data_received = peer_of(h)->fin_info.user_data_length;
        tdi_indicate_disconnect(ep, TDI_DISCONNECT_RELEASE, &peer_of(h)->fin_info);
    } else if (ep->state == TDI_EP_LOCAL_RELEASE) {
        tcp_check_release(h); /* the confirmation, or the peer released too */
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

void tcp_establish(Half *h)
{
    h->st = H_OPEN;
    TdiEndpoint *ep = h->ep;
    tdi_set_state(ep, TDI_EP_ESTABLISHED);
}

/* An offer (SYN) reached a node: a pending listen takes it, else the
 * tdi_address's ClientEventConnect, else it is refused with a reset. */
static void on_offer(Half *h, NetNode *from)
{
    Tdi *tdi = h->conn->tdi;
    Address *a = tdi_address(h->tn, h->conn->port, false);
    TdiEndpoint *ep = a ? g_queue_pop_head(&a->listeners) : NULL;
    if (ep) {
        Req *listen = ep->listen;
        ep->listen = NULL;
        h->ep = ep;
        ep->half = h;
        ep->conn_id = h->conn->id;
        if (ep->listen_flags & TDI_QUERY_ACCEPT) {
            h->st = H_OFFERED;
            tdi_set_state(ep, TDI_EP_OFFERED);
            ep->accept_timer = sim_after(tdi->sim, h->tn->p.accept_timeout, tdi_on_accept_timeout, ep, 0);
        } else {
            tcp_establish(h);
            tcp_send_seg(h, SEG_SYN | SEG_ACK, 0, 0, K_SYN_ACK);
        }
        tdi_finish(listen, STATUS_SUCCESS, 0, 0);
        return;
    }
    ep = a && a->on_connect ? a->on_connect(a->ctx, from) : NULL;
    if (ep && ep->state == TDI_EP_IDLE && ep->tn == h->tn && ep->port == h->conn->port) {
        h->ep = ep;
        ep->half = h;
        ep->conn_id = h->conn->id;
        tcp_establish(h);
        tcp_send_seg(h, SEG_SYN | SEG_ACK, 0, 0, K_SYN_ACK);
        return;
    }
    h->st = H_CLOSED;
    tcp_send_seg(h, SEG_RST, 0, 0, K_RST);
}

void tcp_connect_failed(Half *h, NTSTATUS st)
{
    TdiEndpoint *ep = h->ep;
    tcp_close_half(h);
    if (ep) {
        tdi_finish(ep->connect, st, 0, 0);
        ep->connect = NULL;
        tdi_detach(ep);
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
    tcp_establish(h);
    send_ack(h);
    tdi_finish(ep->connect, STATUS_SUCCESS, 0, 0);
    ep->connect = NULL;
}

/* This side aborts: a reset to the peer, every request cancelled. */
void tcp_abort_half(Half *h, NTSTATUS cancel)
{
    if (h->st == H_OPEN || h->st == H_OFFERED)
        tcp_send_seg(h, SEG_RST | SEG_ACK, h->snd_nxt, 0, K_RST);
    tcp_close_half(h);
    TdiEndpoint *ep = h->ep;
    if (ep) {
        tdi_fail_all(ep, cancel);
        tdi_detach(ep);
    }
}

/* The connection ended under the endpoint (reset by the peer, or lost):
 * its client learns through ClientEventDisconnect(ABORT) and the failure
 * of whatever it had pending. */
static void end_under(Half *h, NTSTATUS st)
{
    tcp_close_half(h);
    TdiEndpoint *ep = h->ep;
    if (!ep)
        return;
    tdi_fail_all(ep, st);
    tdi_indicate_disconnect(ep, TDI_DISCONNECT_ABORT, NULL);
    tdi_detach(ep);
}

/* A crashed host sends nothing, and after its reboot knows no connection:
 * its client learns of each as of a reset, and a segment of the peer gets
 * a reset (the half is closed). */
void tcp_forget_half(Half *h)
{
    if (h->st == H_NONE || h->st == H_CLOSED)
        return;
    if (h->st == H_SYN_SENT)
        tcp_connect_failed(h, STATUS_CONNECTION_ABORTED);
    else
        end_under(h, STATUS_CONNECTION_ABORTED);
}

static void on_rst(Half *h)
{
    Conn *c = h->conn;
    if (h->st == H_SYN_SENT) {
        tcp_connect_failed(h, STATUS_REMOTE_NOT_LISTENING);
        return;
    }
    if (h->ep) {
        tcp_disc_step(c, c->abort, 2);
        if (h->ep->release)
            tcp_disc_done(c, h->ep->disc, STATUS_CONNECTION_RESET);
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
            tcp_connect_failed(h, STATUS_IO_TIMEOUT);
        } else {
            h->syn_retransmits++;
            h->tn->retransmits++;
            rto_backoff(&h->rto);
            tcp_send_seg(h, SEG_SYN, 0, 0, K_SYN);
            tcp_arm_rtx(h);
        }
    } else if (h->st == H_OPEN && h->snd_una < h->snd_nxt) {
        if (h->retries >= h->tn->p.data_retries) {
            if (h->ep && h->ep->release)
                tcp_disc_done(c, h->ep->disc, STATUS_IO_TIMEOUT);
            end_under(h, STATUS_IO_TIMEOUT);
        } else {
            h->retries++;
            rto_backoff(&h->rto);
            retransmit_first(h);
            h->in_recovery = true;
            h->recover = h->snd_nxt;
            tcp_arm_rtx(h);
        }
    }
    tcp_conn_reap(c);
}

void tcp_on_segment(Net *net, NetNode *at, NetNode *from, const NetPacket *pkt, void *ctx)
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
            tcp_send_seg(h, SEG_RST, 0, 0, K_RST);
    } else if (flags & SEG_RST) {
        on_rst(h);
    } else if (flags & SEG_SYN) {
        if (flags & SEG_ACK)
            on_syn_ack(h);
        else if (h->st == H_OPEN)
            tcp_send_seg(h, SEG_SYN | SEG_ACK, 0, 0, K_SYN_ACK); /* our SYN-ACK was lost */
    } else if (h->st == H_OPEN) {
        on_ack(h, ack, len == 0 && !(flags & SEG_FIN));
        if (h->st == H_OPEN && (len > 0 || (flags & SEG_FIN)))
            on_data(h, seq, len, flags & SEG_FIN);
    }
    if (half_done(h)) /* asked first: the other half's state is a cold line */
        tcp_conn_reap(c);
}

