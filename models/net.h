/* net: nodes joined by full-duplex links.
 *
 * Each direction of a link serializes packets at its bandwidth behind a
 * finite queue (a full queue drops), then delays them by latency plus
 * jitter; it may lose them (Bernoulli, or Gilbert-Elliott bursts), duplicate
 * them, or hold one back so that later packets overtake it.  A link that
 * goes down drops what is queued and in flight.  Packets keep FIFO order
 * per direction unless reordering is asked for.
 *
 * Nodes declared routers forward packets; a packet between two nodes
 * that no link joins directly follows the path of least total latency
 * through routers (ties: the next hop whose name sorts first), hop by hop,
 * each link with its own bandwidth, queue, loss and faults.  Routes follow
 * a link going down or up at once (no convergence delay).  A host forwards
 * nothing.
 *
 * Every packet is traced once per hop, when its fate there is known:
 * delivered (to the hop's far end), lost, queue_drop, link_down, too_big,
 * duplicate (the extra copy), or no_route (a router had no path onward). */
#ifndef RDRSIM_NET_H
#define RDRSIM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "dist.h"
#include "engine.h"
#include "trace.h"

typedef struct Net Net;
typedef struct NetNode NetNode;
typedef struct NetLink NetLink;

typedef struct {
    SimTime latency;
    Dist jitter;           /* added to latency; the sum is clamped at 0 */
    int64_t bandwidth;     /* bit/s; 0: no serialization delay */
    int64_t queue;         /* bytes that may wait for the wire; 0: no limit */
    int64_t mtu;           /* largest packet, bytes */
    double loss;           /* Bernoulli loss, when ge_p == 0 */
    double ge_p, ge_r;     /* Gilbert-Elliott: P(good->bad), P(bad->good) */
    double ge_good_loss, ge_bad_loss;
    double duplicate;
    double reorder;        /* P(a packet is held back by reorder_delay) */
    SimTime reorder_delay;
    int tamper;            /* a man in the middle rewriting SMB NEGOTIATEs (TAMPER_* of smb.h), 0: none */
} LinkParams;

/* Protocols a node can receive; each has one receiver per node. */
enum { NET_PROTO_PING, NET_PROTO_TDI, NET_PROTO_COUNT };

typedef struct {
    int proto;
    uint32_t kind;     /* trace name id of the packet's kind */
    int64_t conn;      /* connection id for the trace, 0 for none */
    uint32_t bytes;
    uint64_t hdr[4];   /* the protocol's header, carried by value */
    uint32_t sack[6];  /* TCP's SACK blocks, as offsets from its acknowledgement (start, end) */
} NetPacket;

/* What a packet's trace row shows of its transport header; -1: none. */
typedef struct {
    int64_t seq, ack;
    int64_t flags;     /* TCP flag bits as RFC 9293 numbers them (FIN 1, SYN 2, RST 4, ACK 16), 256: a
                        * retransmission */
    int64_t msg;       /* the SMB MessageId of the message whose bytes it carries first, */
    bool has_msg;      /* when it carries one */
} NetPacketInfo;
typedef void (*NetDescribe)(void *ctx, const NetPacket *pkt, NetPacketInfo *info);

/* A cache of a sender's first hop towards one destination (a connection
 * keeps one per side): valid until a link changes state.  Zero it first. */
typedef struct {
    void *dir;     /* the first hop, NULL: none now */
    uint32_t gen;
    bool valid;    /* filled in for generation gen */
    bool joined;   /* the topology joins the two nodes at all */
} NetHop;

/* from: the node that sent the packet first (not the last router). */
typedef void (*NetReceive)(Net *net, NetNode *at, NetNode *from, const NetPacket *pkt, void *ctx);

Net *net_new(Sim *sim, Trace *trace, uint64_t seed);
void net_free(Net *net);

NetNode *net_add_node(Net *net, const char *name);
NetNode *net_find_node(Net *net, const char *name);
const char *net_node_name(const NetNode *node);
uint32_t net_node_trace_id(const NetNode *node);
void net_node_set_receiver(NetNode *node, int proto, NetReceive fn, void *ctx);
/* A router forwards packets for others; only routers do. */
void net_node_set_router(NetNode *node, bool router);
bool net_node_is_router(const NetNode *node);
/* Whether links (up or down) and routers join a and b at all. */
bool net_path_exists(Net *net, NetNode *a, NetNode *b);
/* The parameters of the i-th link (0: the first) of the path a packet
 * from src to dst takes now; NULL past its end or when there is none. */
const LinkParams *net_path_params(Net *net, NetNode *src, NetNode *dst, unsigned i);
/* Whether a packet from a would reach b now: a path of links that are up. */
bool net_reachable(Net *net, NetNode *a, NetNode *b);

/* Both directions get the same parameters; the jitter dist is copied. */
NetLink *net_add_link(Net *net, NetNode *a, NetNode *b, const LinkParams *p);
NetLink *net_find_link(Net *net, const NetNode *a, const NetNode *b);
void net_link_set_params(NetLink *link, const LinkParams *p);
const LinkParams *net_link_params(const NetLink *link);
void net_link_set_up(NetLink *link, bool up);
bool net_link_is_up(const NetLink *link);

/* Send a packet from src to dst along its route.  Returns false (and
 * sends nothing) only when no path joins them (net_path_exists); every
 * other outcome is the packet's traced fate. */
bool net_send(Net *net, NetNode *src, NetNode *dst, const NetPacket *pkt);
/* The same, keeping the first hop in *hop for the next packet. */
bool net_send_via(Net *net, NetNode *src, NetNode *dst, const NetPacket *pkt, NetHop *hop);
/* The MTU of the first link a packet from src to dst takes (1500 when
 * there is none): what a TCP sender derives its MSS from. */
int64_t net_route_mtu(Net *net, NetNode *src, NetNode *dst, NetHop *hop);
/* The transport's: what a packet's row shows of its header. */
void net_set_describe(Net *net, NetDescribe fn, void *ctx);
/* Per direction of each link with a bandwidth (or with drops):
 * link.A>B.utilisation (time serializing / end, the run's length),
 * link.A>B.queue_drops, link.A>B.peak_queue_bytes. */
void net_write_metrics(Net *net, Trace *trace, SimTime end);

/* A capture of the wires (rdrsim pcap): called for every packet as it
 * comes off a link at the receiving end, with the time it arrives: what a
 * capture on the receiving host sees (a lost packet is not seen; a
 * duplicated one is seen twice; the sender's retransmission is seen once).
 * A capture at the sending end would show a lost segment and then its
 * retransmission with the same bytes, which Wireshark's reassembly reports
 * as an error. */
typedef void (*NetCapture)(void *ctx, const NetLink *link, const NetNode *from, const NetNode *to, SimTime t,
                           const NetPacket *pkt); /* link: the last hop; from: the first sender */
void net_set_capture(Net *net, NetCapture fn, void *ctx);
/* The links and nodes, in the order they were added; a link's two ends. */
unsigned net_link_count(const Net *net);
NetLink *net_link_at(const Net *net, unsigned i);
NetNode *net_link_end(const NetLink *link, int i);
unsigned net_node_count(const Net *net);
NetNode *net_node_at(const Net *net, unsigned i);

Sim *net_sim(Net *net);
Trace *net_trace(Net *net);

#endif
