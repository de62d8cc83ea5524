/* tcp.c: the TCP engine under TDI: connections and their two halves,
 * segments with byte sequence numbers and cumulative acknowledgements,
 * the receiver's out-of-order list, congestion control (cc.c: NewReno or
 * CUBIC, fast retransmit and NewReno recovery, RFC 5681/6582, or SACK loss
 * recovery, RFC 2018/6675) within the peer's receive window -- or, with
 * congestion=none, the fixed send window of old --, retransmission on the
 * RFC 6298 time-out (rto.c) with Karn's rule, delayed ACKs, the three-way
 * handshake, FIN
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

/* What the SYN and SYN-ACK settle: the peer's receive window (scaled, RFC
 * 7323), SACK when both offer it (RFC 2018 3), the initial window. */
static void half_negotiate(Half *h, Half *peer)
{
    const TdiParams *p = &h->tn->p;
    h->peer_rwnd = peer->tn->p.window;
    h->sack = p->congestion != CC_NONE && p->sack && peer->tn->p.sack;
    int64_t mtu = net_route_mtu(h->conn->tdi->net, h->node, peer->node, &h->hop);
    cc_init(&h->cc, (CcKind)p->congestion, mtu > HDR_BYTES ? (uint32_t)(mtu - HDR_BYTES) : 1, p->initial_window,
            h->peer_rwnd);
}

Conn *tcp_conn_new(Tdi *tdi, TdiNode *a, TdiNode *b, uint16_t port)
{
    Conn *c = g_aligned_alloc0(1, sizeof(Conn), _Alignof(Conn));
    c->tdi = tdi;
    c->id = tdi->next_conn++;
    c->port = port;
    half_init(&c->h[0], c, 0, a);
    half_init(&c->h[1], c, 1, b);
    half_negotiate(&c->h[0], &c->h[1]);
    half_negotiate(&c->h[1], &c->h[0]);
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
        if (c->h[i].sacked)
            g_array_unref(c->h[i].sacked);
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

/* The SACK blocks of an acknowledgement (RFC 2018 4): the block holding the
 * latest out-of-order segment first, then the highest others, three in all
 * (what fits beside the timestamps option Windows does not send).  Returns
 * how many. */
static int sack_blocks(const Half *h, NetPacket *pkt)
{
    Range first = { 0, 0 }, other[2] = { { 0, 0 }, { 0, 0 } };
    Range cur = { 0, 0 };
    bool have = false;
    for (guint i = 0; i <= h->ooo->len; i++) {
        const Range *r = i < h->ooo->len ? &g_array_index(h->ooo, Range, i) : NULL;
        if (r && have && r->start <= cur.end) {
            cur.end = MAX(cur.end, r->end);
            continue;
        }
        if (have) { /* a merged block is complete */
            if (h->last_ooo >= cur.start && h->last_ooo < cur.end) {
                first = cur;
            } else {
                other[0] = other[1];
                other[1] = cur;
            }
        }
        if (r) {
            cur = *r;
            have = true;
        }
    }
    Range out[3] = { first, other[1], other[0] };
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (out[i].end <= out[i].start || out[i].start <= h->rcv_nxt)
            continue;
        pkt->sack[2 * n] = (uint32_t)MIN(out[i].start - h->rcv_nxt, UINT32_MAX);
        pkt->sack[2 * n + 1] = (uint32_t)MIN(out[i].end - h->rcv_nxt, UINT32_MAX);
        n++;
    }
    return n;
}

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
    if (h->sack && h->ooo && (flags & SEG_ACK)) {
        int n = sack_blocks(h, &pkt);
        if (n) /* the option on the wire: two NOPs, kind and length, 8 bytes a block (RFC 2018 3) */
            pkt.bytes += 4 + 8 * (uint32_t)n;
    }
    h->unacked_segs = 0; /* this segment acknowledges all we have */
    net_send_via(tdi->net, h->node, peer_of(h)->node, &pkt, &h->hop);
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

/* How many SACK blocks this side's next segment carries (sack_blocks). */
static int sack_count(const Half *h)
{
    if (!h->sack || !h->ooo)
        return 0;
    int n = 0;
    uint64_t end = 0;
    for (guint i = 0; i < h->ooo->len && n < 3; i++) {
        const Range *r = &g_array_index(h->ooo, Range, i);
        if (i == 0 || r->start > end)
            n++;
        end = MAX(end, r->end);
    }
    return n;
}

/* The data a segment may carry: the path's first MTU less the headers and
 * the options this segment carries (the SACK blocks, RFC 2018 3: a sender
 * shrinks its segments rather than exceed the MTU). */
static uint32_t mss(Half *h)
{
    int64_t mtu = net_route_mtu(h->conn->tdi->net, h->node, peer_of(h)->node, &h->hop);
    int n = sack_count(h);
    int64_t hdr = HDR_BYTES + (n ? 4 + 8 * n : 0);
    return mtu > hdr ? (uint32_t)(mtu - hdr) : 1;
}

/* One segment from snd_nxt (new data, or after a time-out data sent
 * before), timed when nothing is and it is new. */
static void send_new(Half *h, uint64_t len)
{
    bool fresh = h->snd_nxt >= h->snd_max; /* Karn: no sample from data sent before (after a time-out) */
    tcp_send_seg(h, SEG_ACK, h->snd_nxt, (uint32_t)len, K_DATA);
    if (!h->timing && fresh) {
        h->timing = true;
        h->timed_end = h->snd_nxt + len;
        h->timed_at = sim_now(h->conn->tdi->sim);
    }
    h->snd_nxt += len;
    if (h->snd_nxt > h->snd_hi)
        h->snd_hi = h->snd_nxt;
    if (h->rtx_timer == SIM_NO_EVENT)
        tcp_arm_rtx(h);
}

/* ---- the SACK scoreboard (RFC 6675) ---- */

/* Add [s, e) to the scoreboard; whether it SACKed anything new. */
static bool sb_add(Half *h, uint64_t s, uint64_t e)
{
    if (!h->sacked)
        h->sacked = g_array_new(FALSE, FALSE, sizeof(Range));
    GArray *a = h->sacked;
    guint i = 0;
    while (i < a->len && g_array_index(a, Range, i).end < s)
        i++;
    if (i < a->len && g_array_index(a, Range, i).start <= s && g_array_index(a, Range, i).end >= e)
        return false;
    Range r = { s, e };
    /* swallow every block [s, e) touches */
    while (i < a->len && g_array_index(a, Range, i).start <= r.end) {
        Range *x = &g_array_index(a, Range, i);
        r.start = MIN(r.start, x->start);
        r.end = MAX(r.end, x->end);
        g_array_remove_index(a, i);
    }
    g_array_insert_val(a, i, r);
    return true;
}

static void sb_trim(Half *h)
{
    GArray *a = h->sacked;
    while (a && a->len && g_array_index(a, Range, 0).start < h->snd_una) {
        Range *x = &g_array_index(a, Range, 0);
        if (x->end <= h->snd_una)
            g_array_remove_index(a, 0);
        else
            x->start = h->snd_una;
    }
}

static void sb_clear(Half *h)
{
    if (h->sacked)
        g_array_set_size(h->sacked, 0);
}

static uint64_t sb_above(const Half *h, uint64_t seq)
{
    uint64_t n = 0;
    for (guint i = 0; h->sacked && i < h->sacked->len; i++) {
        const Range *x = &g_array_index(h->sacked, Range, i);
        if (x->start >= seq)
            n += x->end - x->start;
    }
    return n;
}

/* RFC 6675 IsLost: more than (DupThresh - 1) * SMSS bytes SACKed above. */
static bool sb_lost(const Half *h, uint64_t seq) { return sb_above(h, seq) > 2 * (uint64_t)h->cc.mss; }

/* RFC 6675 SetPipe and NextSeg rule 1 at once: the bytes in flight, and
 * the first lost byte not yet retransmitted (*rtx, or UINT64_MAX), with
 * how many follow it in its hole. */
static uint64_t sb_pipe(const Half *h, uint64_t *rtx, uint64_t *rtx_len)
{
    uint64_t pipe = 0, at = h->snd_una;
    *rtx = UINT64_MAX;
    *rtx_len = 0;
    guint n = h->sacked ? h->sacked->len : 0;
    for (guint i = 0; i <= n; i++) {
        uint64_t hole_end = i < n ? g_array_index(h->sacked, Range, i).start : h->snd_nxt;
        if (hole_end > at) {
            bool lost = i < n && sb_lost(h, at);
            if (!lost)
                pipe += hole_end - at;
            if (h->high_rxt > at) /* retransmitted: in flight again */
                pipe += MIN(h->high_rxt, hole_end) - at;
            uint64_t from = MAX(at, h->high_rxt);
            if (lost && from < hole_end && *rtx == UINT64_MAX) {
                *rtx = from;
                *rtx_len = hole_end - from;
            }
        }
        if (i < n)
            at = MAX(at, g_array_index(h->sacked, Range, i).end);
    }
    return pipe;
}

/* Recovery with SACK: while the pipe leaves room for a segment, the next
 * lost segment again, else new data (RFC 6675 5, steps C.1-C.5). */
static void sack_send(Half *h, uint32_t seg)
{
    for (;;) {
        uint64_t rtx, rtx_len;
        uint64_t pipe = sb_pipe(h, &rtx, &rtx_len);
        if ((double)pipe + seg > h->cc.cwnd)
            return;
        if (rtx < h->snd_end) { /* (a lost FIN is the time-out's) */
            uint32_t len = (uint32_t)MIN(MIN(rtx_len, (uint64_t)seg), h->snd_end - rtx);
            h->tn->retransmits++;
            h->timing = false; /* Karn */
            tcp_send_seg(h, SEG_ACK, rtx, len, K_DATA);
            h->high_rxt = rtx + len;
        } else if (h->snd_nxt < h->snd_end && h->snd_nxt - h->snd_una < h->peer_rwnd) {
            send_new(h, MIN(MIN(h->snd_end - h->snd_nxt, (uint64_t)seg), h->peer_rwnd - (h->snd_nxt - h->snd_una)));
        } else {
            return;
        }
    }
}

/* Put on the wire what the window allows, then the FIN once all data is out. */
void tcp_try_send(Half *h)
{
    if (h->st != H_OPEN)
        return;
    /* (the segment size only when there is data to send or to resend: an
     * ACK that leaves nothing to send asks nothing of the route) */
    uint32_t seg = h->snd_nxt < h->snd_end || (h->sack && h->in_recovery) ? mss(h) : 0;
    if (h->cc.kind == CC_NONE) {
        /* the fixed send window of the node */
        uint32_t window = h->window;
        while (h->snd_nxt < h->snd_end && h->snd_nxt - h->snd_una < window) {
            uint64_t len = h->snd_end - h->snd_nxt;
            uint64_t room = window - (h->snd_nxt - h->snd_una);
            send_new(h, MIN(len, MIN(room, seg)));
        }
    } else if (h->sack && h->in_recovery) {
        sack_send(h, seg);
    } else {
        /* the congestion window, within the peer's receive window; no
         * segment shorter than it need be while data is in flight (the
         * sender's silly window avoidance, RFC 9293 3.8.6.2.1) */
        uint64_t window = MIN((uint64_t)h->cc.cwnd, h->peer_rwnd);
        while (h->snd_nxt < h->snd_end && h->snd_nxt - h->snd_una < window) {
            uint64_t len = MIN(h->snd_end - h->snd_nxt, (uint64_t)seg);
            uint64_t room = window - (h->snd_nxt - h->snd_una);
            if (room < len && h->snd_nxt > h->snd_una)
                break;
            send_new(h, MIN(len, room));
        }
    }
    if (h->fin_queued && !h->fin_sent && h->snd_nxt == h->snd_end) {
        tcp_send_seg(h, SEG_FIN | SEG_ACK, h->snd_end, 0, K_FIN);
        h->fin_sent = true;
        h->snd_nxt = h->snd_end + 1;
        if (h->snd_nxt > h->snd_hi)
            h->snd_hi = h->snd_nxt;
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

static void on_ack_legacy(Half *h, uint64_t ack, bool pure)
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

/* The SACK blocks of a segment into the scoreboard; whether any was new. */
static bool sack_take(Half *h, uint64_t ack, const NetPacket *pkt)
{
    bool added = false;
    for (int i = 0; i < 3; i++) {
        uint64_t s = ack + pkt->sack[2 * i], e = ack + pkt->sack[2 * i + 1];
        if (e <= s)
            continue;
        s = MAX(s, MAX(ack, h->snd_una));
        e = MIN(e, h->snd_hi);
        if (e > s)
            added |= sb_add(h, s, e);
    }
    return added;
}

/* Loss detected (three duplicate ACKs, or SACK: RFC 6675 5 step 4): fast
 * retransmit, and recovery until what was sent by now is acknowledged. */
static void enter_recovery(Half *h)
{
    cc_on_loss(&h->cc, h->snd_hi - h->snd_una);
    h->in_recovery = true;
    h->recover = h->snd_hi;
    h->high_rxt = h->snd_una;
    retransmit_first(h);
    if (h->sack) {
        uint64_t upto = MIN(h->snd_nxt, h->snd_end);
        h->high_rxt = h->snd_una + MIN(upto - h->snd_una, (uint64_t)mss(h));
    } else {
        h->cc.cwnd += 3.0 * h->cc.mss; /* RFC 6582 3.2 step 2 */
    }
    tcp_try_send(h);
}

/* With congestion control (cc.h). */
static void on_ack_cc(Half *h, uint64_t ack, bool pure, const NetPacket *pkt)
{
    bool new_sack = h->sack && sack_take(h, ack, pkt);
    if (ack > h->snd_una && ack <= h->snd_hi) {
        uint64_t acked = ack - h->snd_una;
        SimTime now = sim_now(h->conn->tdi->sim);
        if (h->timing && ack >= h->timed_end) {
            rto_sample(&h->rto, now - h->timed_at);
            h->timing = false;
        }
        h->snd_una = ack;
        if (h->snd_nxt < ack) /* sent before a time-out sent it again */
            h->snd_nxt = ack;
        if (h->fin_queued && ack > h->snd_end)
            h->fin_sent = true;
        h->retries = 0;
        h->dupacks = 0;
        sb_trim(h);
        complete_sends(h);
        if (h->in_recovery) {
            if (ack >= h->recover) {
                h->in_recovery = false;
                cc_end_recovery(&h->cc);
            } else if (!h->sack) {
                /* RFC 6582 3.2 step 4, a partial acknowledgement: the next
                 * hole again; deflate by what was acknowledged, add a segment */
                retransmit_first(h);
                h->cc.cwnd = MAX(h->cc.cwnd - (double)acked + h->cc.mss, (double)h->cc.mss);
            }
        } else {
            cc_on_ack(&h->cc, acked, now, h->rto.srtt);
        }
        if (h->snd_una >= h->snd_hi)
            stop_rtx(h);
        else
            tcp_arm_rtx(h); /* 5.3: new data acknowledged, restart the timer */
        tcp_try_send(h);
        tcp_check_release(h);
        maybe_close(h);
    } else if (ack == h->snd_una && h->snd_una < h->snd_hi && (pure || new_sack)) {
        h->dupacks++;
        if (!h->in_recovery) {
            /* not for what was sent before the last recovery or time-out (RFC 6582 4) */
            if ((h->dupacks >= 3 || (h->sack && sb_lost(h, h->snd_una))) && h->snd_una >= h->recover)
                enter_recovery(h);
        } else {
            if (!h->sack)
                h->cc.cwnd += h->cc.mss; /* RFC 6582 3.2 step 3: inflate */
            tcp_try_send(h);
        }
    }
}

static void on_ack(Half *h, uint64_t ack, bool pure, const NetPacket *pkt)
{
    if (h->cc.kind == CC_NONE)
        on_ack_legacy(h, ack, pure);
    else
        on_ack_cc(h, ack, pure, pkt);
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
            h->last_ooo = seq;
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
    } else if (h->st == H_OPEN && h->snd_una < MAX(h->snd_nxt, h->snd_hi)) {
        if (h->retries >= h->tn->p.data_retries) {
            if (h->ep && h->ep->release)
                tcp_disc_done(c, h->ep->disc, STATUS_IO_TIMEOUT);
            end_under(h, STATUS_IO_TIMEOUT);
        } else if (h->cc.kind == CC_NONE) {
            h->retries++;
            rto_backoff(&h->rto);
            retransmit_first(h);
            h->in_recovery = true;
            h->recover = h->snd_nxt;
            tcp_arm_rtx(h);
        } else {
            /* RFC 5681 3.1 and 5.1 of RFC 6298: the loss window, slow start
             * again from the first unacknowledged byte (what the peer already
             * has is acknowledged as it comes); the scoreboard is forgotten
             * (RFC 6675 5.1); no fast retransmit for what was sent before
             * (RFC 6582 4). */
            h->retries++;
            rto_backoff(&h->rto);
            cc_on_timeout(&h->cc, h->snd_hi - h->snd_una);
            h->in_recovery = false;
            h->dupacks = 0;
            h->recover = h->snd_hi;
            sb_clear(h);
            h->high_rxt = h->snd_una;
            h->timing = false;
            h->tn->retransmits++;
            h->snd_nxt = h->snd_una;
            if (h->fin_sent && h->snd_una <= h->snd_end)
                h->fin_sent = false;
            tcp_try_send(h);
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
        on_ack(h, ack, len == 0 && !(flags & SEG_FIN), pkt);
        if (h->st == H_OPEN && (len > 0 || (flags & SEG_FIN)))
            on_data(h, seq, len, flags & SEG_FIN);
    }
    if (half_done(h)) /* asked first: the other half's state is a cold line */
        tcp_conn_reap(c);
}


void tcp_describe(void *ctx, const NetPacket *pkt, NetPacketInfo *info)
{
    Tdi *tdi = ctx;
    if (pkt->proto != NET_PROTO_TDI)
        return;
    uint32_t f = pkt->hdr[0] & 0xff;
    /* the flag bits as RFC 9293 3.1 numbers them */
    info->flags = (f & SEG_FIN ? 1 : 0) | (f & SEG_SYN ? 2 : 0) | (f & SEG_RST ? 4 : 0) | (f & SEG_ACK ? 16 : 0) |
                  (pkt->kind == tdi->name_kind[K_RETRANSMIT] ? 256 : 0);
    info->seq = (int64_t)pkt->hdr[1];
    info->ack = f & SEG_ACK ? (int64_t)pkt->hdr[2] : -1;
    uint64_t len = pkt->hdr[3];
    Conn *c = conn_by_id(tdi, pkt->conn);
    if (!len || !c || !tdi->label)
        return;
    /* the record (the session protocol's message) its first byte is of,
     * while the record is still on its way */
    const Half *h = &c->h[(pkt->hdr[0] >> 8) & 1];
    for (GList *l = h->records.head; l; l = l->next) {
        const Record *r = l->data;
        if (pkt->hdr[1] >= r->end - r->bytes && pkt->hdr[1] < r->end) {
            info->msg = tdi->label(tdi->label_ctx, r->tag, &info->has_msg);
            return;
        }
    }
}
