/* tdi: a reliable connection-oriented transport over net, and the TDI
 * requests on its connection endpoints.
 *
 * The transport (tcp.c, under tdi.c; tcp.h is the contract between them)
 * is TCP-like: a three-way handshake (SYN, SYN-ACK, ACK), byte sequence
 * numbers with cumulative acknowledgements, a receiver that keeps
 * out-of-order segments, retransmission on the RFC 6298 time-out (rto.h)
 * with Karn's rule, fast retransmit after three duplicate
 * acknowledgements, congestion control (NewReno or CUBIC, cc.h) with
 * optional SACK loss recovery (RFC 2018, RFC 6675) under the peer's receive
 * window, or, with congestion=none, the fixed send window of rdrsim before
 * congestion control; and a retry limit after which the connection is lost.  FIN carries the
 * controlled disconnect, RST the abortive one.
 *
 * On top, the TDI requests with the behaviour of the TDI documentation
 * (../shared/reference/TDI.md, 004_*.txt): TDI_CONNECT, TDI_LISTEN (with
 * TDI_QUERY_ACCEPT), TDI_ACCEPT, TDI_SEND, TDI_RECEIVE, TDI_DISCONNECT with
 * TDI_DISCONNECT_ABORT or the four-step TDI_DISCONNECT_RELEASE, and the
 * ClientEventConnect / ClientEventReceive / ClientEventDisconnect handlers.
 * The choices where the documents are silent are listed in docs/models.md
 * ("TDI: documented gaps and the choices made").
 *
 * Each send is a record: the receiver gets it whole, in order, with the
 * tag the sender gave it (the framing of a session protocol such as the
 * 4-byte header of direct-hosted SMB).
 *
 * Every request completes exactly once, through its TdiComplete, always
 * from an event of its own (never from inside the call that issued it), so
 * a completion routine may issue new requests freely.  Handlers are called
 * the same way. */
#ifndef RDRSIM_TDI_H
#define RDRSIM_TDI_H

#include <stdbool.h>
#include <stdint.h>

#include "net.h"
#include "ntstatus.h"
#include "rto.h"
#include "trace.h"

/* Request flags, with their TdiKrnl.h values. */
#define TDI_DISCONNECT_WAIT    0x1
#define TDI_DISCONNECT_ABORT   0x2
#define TDI_DISCONNECT_RELEASE 0x4
#define TDI_QUERY_ACCEPT       0x1

typedef struct Tdi Tdi;
typedef struct TdiEndpoint TdiEndpoint;

typedef struct {
    RtoParams rto;
    int syn_retries;             /* SYN retransmissions before TDI_CONNECT fails */
    int data_retries;            /* retransmissions of one segment before the connection is lost */
    SimTime disconnect_timeout;  /* used when a TDI_DISCONNECT gives none (< 1 s) */
    SimTime delayed_ack;         /* longest an ACK waits for data to ride on; 0: ACK every segment at once */
    SimTime accept_timeout;      /* how long an offer waits for TDI_ACCEPT */
    uint32_t window;             /* the receive window it advertises (congestion=none: its fixed send window) */
    int congestion;              /* CcKind of cc.h: CC_NONE, CC_NEWRENO, CC_CUBIC */
    bool sack;                   /* SACK (RFC 2018) offered; used when both sides offer it */
    int initial_window;          /* segments (RFC 6928) */
    bool orderly_release;        /* false: a RELEASE terminates all activity, as an ABORT (TDI_DISCONNECT: "some
                                  * transport drivers simply terminate all activity"; no TDI_SERVICE_ORDERLY_RELEASE) */
} TdiParams;

typedef enum {
    TDI_EP_IDLE,
    TDI_EP_CONNECTING,
    TDI_EP_LISTENING,
    TDI_EP_OFFERED,        /* a TDI_QUERY_ACCEPT listen completed; awaiting ACCEPT or rejection */
    TDI_EP_ESTABLISHED,
    TDI_EP_LOCAL_RELEASE,  /* this side released: cannot send, can receive */
    TDI_EP_REMOTE_RELEASE, /* the peer released: can send, cannot receive */
} TdiState;

typedef enum {
    TDI_REQ_CONNECT, TDI_REQ_LISTEN, TDI_REQ_ACCEPT, TDI_REQ_SEND, TDI_REQ_RECEIVE, TDI_REQ_DISCONNECT,
} TdiRequestKind;

/* TDI_CONNECTION_INFORMATION, as far as the model carries it: the length of
 * the user data (it costs bytes on the wire) and an opaque value standing
 * for its contents. */
typedef struct {
    uint32_t user_data_length;
    uint64_t user_data;
} TdiConnInfo;

/* What a completed request returns: IoStatus.Status and .Information (bytes
 * sent or received), the tag of the record received, and for a
 * TDI_DISCONNECT that ends a controlled disconnect the disconnect data the
 * peer sent (ReturnConnectionInformation). */
typedef struct {
    TdiRequestKind kind;
    NTSTATUS status;
    uint64_t information;
    uint64_t tag;
    TdiConnInfo info;
} TdiIo;

typedef void (*TdiComplete)(void *ctx, TdiEndpoint *ep, const TdiIo *io);

/* Event handlers of an endpoint; a NULL member is not registered. */
typedef struct {
    /* ClientEventReceive: a whole record arrived; the client takes it all. */
    void (*receive)(void *ctx, TdiEndpoint *ep, uint32_t bytes, uint64_t tag);
    /* ClientEventDisconnect: flags TDI_DISCONNECT_RELEASE or _ABORT; info:
     * the disconnect data the peer sent. */
    void (*disconnect)(void *ctx, TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info);
    void *ctx;
} TdiHandlers;

/* ClientEventConnect on an address (node, port): an offer from `remote`
 * arrived and no listen was pending.  Return an idle endpoint of that
 * address to accept on, or NULL to reject. */
typedef TdiEndpoint *(*TdiConnectHandler)(void *ctx, NetNode *remote);

Tdi *tdi_new(Net *net);
void tdi_free(Tdi *tdi);
/* Write what is still open at the end of the run: requests never
 * completed (STATUS_PENDING) and disconnects still under way. */
void tdi_flush_trace(Tdi *tdi);
/* Run metrics (after tdi_flush_trace): tdi.release.{count,p50_ns,p95_ns,
 * p99_ns,max_ns,timed_out}, tdi.abort.count, tdi.timeouts, and
 * status.STATUS_X: how many requests completed with each error status. */
void tdi_write_metrics(Tdi *tdi, Trace *trace);
/* The same metrics over the parts of a run that ran apart, each with its
 * own Tdi (rdrsim run --jobs): counts add up, quantiles are of all of
 * their disconnects together. */
void tdi_write_metrics_of(Tdi *const *tdis, int n, Trace *trace);
/* Connections made so far (their ids are 1 to this). */
int64_t tdi_conns_made(const Tdi *tdi);

/* Windows' defaults (the Internet TCP template of Windows Server 2016 and
 * later; tdi.c cites each), with CUBIC and SACK. */
void tdi_default_params(TdiParams *p);
/* rdrsim's transport before congestion control, kept for comparison:
 * congestion=none, RFC 6298's 1 s minimum RTO, 200 ms delayed ACKs, a 500 ms
 * disconnect default and a fixed 64 KiB send window. */
void tdi_legacy_params(TdiParams *p);
/* Before the node's first connection: a connection keeps what it uses. */
void tdi_set_node_params(Tdi *tdi, NetNode *node, const TdiParams *p);
void tdi_set_connect_handler(Tdi *tdi, NetNode *node, uint16_t port, TdiConnectHandler fn, void *ctx);

/* Open a connection endpoint associated with address (node, port). */
TdiEndpoint *tdi_endpoint_open(Tdi *tdi, NetNode *node, uint16_t port, const char *name);
void tdi_endpoint_set_handlers(TdiEndpoint *ep, const TdiHandlers *h);

/* The requests.  Each returns STATUS_PENDING, or the status it completed
 * with at once; either way `done` is called once, later.  A time-out is a
 * LARGE_INTEGER as TDI takes it: negative 100 ns units relative to now;
 * NULL lets the transport choose; zero or positive values are refused
 * with STATUS_INVALID_PARAMETER. */
NTSTATUS tdi_connect(TdiEndpoint *ep, NetNode *remote, uint16_t port, const int64_t *timeout, TdiComplete done,
                     void *ctx);
NTSTATUS tdi_listen(TdiEndpoint *ep, uint32_t flags, TdiComplete done, void *ctx);
NTSTATUS tdi_accept(TdiEndpoint *ep, TdiComplete done, void *ctx);
NTSTATUS tdi_send(TdiEndpoint *ep, uint32_t bytes, uint64_t tag, TdiComplete done, void *ctx);
NTSTATUS tdi_receive(TdiEndpoint *ep, uint32_t buffer_bytes, TdiComplete done, void *ctx);
NTSTATUS tdi_disconnect(TdiEndpoint *ep, uint32_t flags, const int64_t *timeout, const TdiConnInfo *info,
                        TdiComplete done, void *ctx);

TdiState tdi_endpoint_state(const TdiEndpoint *ep);
const char *tdi_state_name(TdiState s);
int64_t tdi_endpoint_conn(const TdiEndpoint *ep);
const char *tdi_endpoint_name(const TdiEndpoint *ep);
NetNode *tdi_endpoint_node(const TdiEndpoint *ep);
uint64_t tdi_endpoint_bytes_received(const TdiEndpoint *ep);
uint64_t tdi_endpoint_bytes_sent(const TdiEndpoint *ep);
/* The retransmission time-out of the endpoint's connection now (0: none). */
SimTime tdi_endpoint_rto(const TdiEndpoint *ep);
/* Segments this node's transport retransmitted. */
uint64_t tdi_node_retransmits(Tdi *tdi, NetNode *node);

/* A relative time-out as TDI encodes it. */
static inline int64_t tdi_relative_timeout(SimTime t) { return -(t / 100); }

/* A capture of the streams (rdrsim pcap): called for each record a
 * TDI_SEND puts in a connection's stream (side 0 the connecting end, 1 the
 * accepting one), with its stream offset, size and tag.  Sequence numbers
 * of segments (NetPacket hdr[1], SYN and data from 0, the FIN one past the
 * data) are offsets of the same streams.  A segment's NetPacket (proto
 * NET_PROTO_TDI) carries hdr[0] = flags | side << 8 | server port << 16,
 * hdr[1] its sequence offset, hdr[2] the offset it acknowledges, hdr[3] its
 * payload length; pkt.conn is the connection. */
enum { TDI_SEG_SYN = 1, TDI_SEG_ACK = 2, TDI_SEG_FIN = 4, TDI_SEG_RST = 8 };
typedef void (*TdiCapture)(void *ctx, int64_t conn, int side, uint64_t offset, uint32_t bytes, uint64_t tag);
void tdi_set_capture(Tdi *tdi, TdiCapture fn, void *ctx);
/* The session protocol names the message a record carries, for the
 * packets view's msg_id (*has false: none); asked only when packets are
 * traced. */
typedef int64_t (*TdiLabel)(void *ctx, uint64_t tag, bool *has);
void tdi_set_label(Tdi *tdi, TdiLabel fn, void *ctx);
/* The node crashed: every connection it had is forgotten
 * without a segment sent; the endpoints' clients learn of it as of a
 * reset (ClientEventDisconnect ABORT, pending requests fail with
 * STATUS_CONNECTION_ABORTED), and the peers get a reset when they next send. */
void tdi_node_reboot(Tdi *tdi, NetNode *node);
/* The receive window a node advertises (its `window` key), in bytes. */
uint32_t tdi_node_window(Tdi *tdi, NetNode *node);
/* Whether the node's transport offers SACK (its SYNs carry SACK-permitted). */
bool tdi_node_sack(Tdi *tdi, NetNode *node);

#endif
