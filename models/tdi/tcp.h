/* tcp.h: the contract between the TDI request layer (tdi.c) and the TCP
 * engine under it (tcp.c), private to the two.  It holds what both touch:
 * a connection and its two halves (the transport's control blocks), the
 * endpoint and its queued requests and received records, and the few calls
 * each makes into the other: TDI asks the engine to connect, send, release
 * and abort; the engine tells TDI of arrivals, completions and
 * disconnections through the upcalls at the end.  Nothing outside
 * models/tdi/ includes it: the rest of rdrsim sees only tdi.h. */
#ifndef RDRSIM_TCP_H
#define RDRSIM_TCP_H

#include "tdi.h"

#include <glib.h>
#include <string.h>

#include "cc.h"
#include "ilist.h"
#include "pool.h"
#include "stats.h"
#include "trace.h"

/* IP + TCP headers of every segment. */
#define HDR_BYTES 40

/* Segment flags, carried in hdr[0] with the sender's side (bit 8). */
enum { SEG_SYN = TDI_SEG_SYN, SEG_ACK = TDI_SEG_ACK, SEG_FIN = TDI_SEG_FIN, SEG_RST = TDI_SEG_RST };

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
    int64_t conn;     /* a disconnect's connection, taken when it was indicated (an abort
                       * has torn the endpoint's down by the time the handler runs) */
    GList link;       /* in tdi->notices */
} Notice;

/* A record (one TDI_SEND) on its way: the framing of the stream. */
typedef struct {
    uint64_t end;
    uint32_t bytes;
    uint64_t tag;
    GList link;       /* in the sender's records, then the receiver's rx */
} Record;

typedef struct {
    uint64_t start, end;
} Range;

/* One disconnect of a connection, a row of the `disconnects` view. */
typedef struct {
    uint32_t initiator, endpoint, mode;
    SimTime t_start, t_done;
    int step;
    NTSTATUS outcome;
    /* a controlled disconnect's data, in bytes: what the initiator sent,
     * what its peer was told of, what came back to the initiator */
    uint32_t data_sent, data_received, data_returned;
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
    uint64_t snd_max; /* one past the highest offset ever sent: a data segment below it is a retransmission */
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
    /* congestion control (none of it is read with congestion=none) */
    Cc cc;
    uint64_t snd_hi;    /* one past the highest offset sent (snd_nxt goes back after a time-out) */
    uint64_t peer_rwnd; /* the receive window the peer advertised */
    bool sack;          /* both sides offered SACK */
    GArray *sacked;     /* Range: the scoreboard, what the peer SACKed above snd_una, merged; or NULL */
    uint64_t high_rxt;  /* RFC 6675 HighRxt: retransmitted up to here in this recovery */
    uint64_t last_ooo;  /* receiver: start of the latest out-of-order segment (the first SACK block) */
    NetHop hop;         /* the first hop towards the peer */
};

struct Conn {
    Half h[2];
    Tdi *tdi;
    int64_t id;
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

/* Kinds of segment, as the trace names them (tdi.c). */
enum { K_SYN, K_SYN_ACK, K_ACK, K_DATA, K_FIN, K_RST, K_RETRANSMIT, K_COUNT };

struct Tdi {
    Net *net;
    Sim *sim;
    Trace *trace;
    TdiCapture capture; /* rdrsim pcap's: each record as it enters a stream */
    void *capture_ctx;
    TdiLabel label;     /* the session protocol's: the message id of a record's tag */
    void *label_ctx;
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
    uint32_t name_req[6], name_state[7], name_kind[K_COUNT], name_release, name_abort, name_noflags;
    uint32_t name_flag_release, name_flag_abort, name_flag_qa, name_flag_both;
};


/* Requests and records sit in one queue at a time, linked through a node
 * of their own: queuing them allocates nothing.  (So these queues are
 * never cleared with g_queue_clear, which would free the nodes.) */
static inline void q_push(GQueue *q, GList *node, void *item)
{
    node->data = item;
    ilist_push_tail(q, node);
}

static inline void *q_pop(GQueue *q)
{
    GList *node = ilist_pop_head(q);
    return node ? node->data : NULL;
}

static inline void q_free_all(GQueue *q, Pool *pool)
{
    void *item;
    while ((item = q_pop(q)))
        pool_free(pool, item);
}

/* tcp.c: the engine, as TDI drives it */
int tcp_disc_new(Conn *c, TdiEndpoint *ep, uint32_t mode);
Disc *tcp_disc_at(Conn *c, int i);
void tcp_disc_step(Conn *c, int i, int step);
void tcp_disc_done(Conn *c, int i, NTSTATUS st);
void tcp_write_discs(Conn *c);
Conn *tcp_conn_new(Tdi *tdi, TdiNode *a, TdiNode *b, uint16_t port);
/* What a segment's trace row shows (net_set_describe). */
void tcp_describe(void *ctx, const NetPacket *pkt, NetPacketInfo *info);
void tcp_conn_free(Conn *c);
void tcp_conn_reap(Conn *c);
void tcp_send_seg(Half *h, uint32_t flags, uint64_t seq, uint32_t len, int kind);
void tcp_arm_rtx(Half *h);
void tcp_close_half(Half *h);
void tcp_try_send(Half *h);
void tcp_check_release(Half *h);
void tcp_establish(Half *h);
void tcp_connect_failed(Half *h, NTSTATUS st);
/* The half's node rebooted: the connection is forgotten without a word. */
void tcp_forget_half(Half *h);
void tcp_abort_half(Half *h, NTSTATUS cancel);
void tcp_on_segment(Net *net, NetNode *at, NetNode *from, const NetPacket *pkt, void *ctx);

/* tdi.c: what the engine calls upward */
Address *tdi_address(TdiNode *tn, uint16_t port, bool create);
NTSTATUS tdi_finish(Req *r, NTSTATUS st, uint64_t information, uint64_t tag);
void tdi_post_notice(TdiEndpoint *ep, Notice *n);
void tdi_indicate_disconnect(TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info);
void tdi_set_state(TdiEndpoint *ep, TdiState s);
void tdi_fail_all(TdiEndpoint *ep, NTSTATUS st);
void tdi_detach(TdiEndpoint *ep);
void tdi_serve_receives(TdiEndpoint *ep);
void tdi_on_accept_timeout(Sim *sim, void *ctx, uint64_t arg);

#endif
