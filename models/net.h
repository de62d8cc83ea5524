/* net: nodes joined by full-duplex links.
 *
 * Each direction of a link serializes packets at its bandwidth behind a
 * finite queue (a full queue drops), then delays them by latency plus
 * jitter; it may lose them (Bernoulli, or Gilbert-Elliott bursts), duplicate
 * them, or hold one back so that later packets overtake it.  A link that
 * goes down drops what is queued and in flight.  Packets keep FIFO order
 * per direction unless reordering is asked for.
 *
 * Every packet is traced once, when its fate is known: delivered, lost,
 * queue_drop, link_down, too_big, or duplicate (the extra copy). */
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
} NetPacket;

typedef void (*NetReceive)(Net *net, NetNode *at, NetNode *from, const NetPacket *pkt, void *ctx);

Net *net_new(Sim *sim, Trace *trace, uint64_t seed);
void net_free(Net *net);

NetNode *net_add_node(Net *net, const char *name);
NetNode *net_find_node(Net *net, const char *name);
const char *net_node_name(const NetNode *node);
uint32_t net_node_trace_id(const NetNode *node);
void net_node_set_receiver(NetNode *node, int proto, NetReceive fn, void *ctx);

/* Both directions get the same parameters; the jitter dist is copied. */
NetLink *net_add_link(Net *net, NetNode *a, NetNode *b, const LinkParams *p);
NetLink *net_find_link(Net *net, const NetNode *a, const NetNode *b);
void net_link_set_params(NetLink *link, const LinkParams *p);
const LinkParams *net_link_params(const NetLink *link);
void net_link_set_up(NetLink *link, bool up);
bool net_link_is_up(const NetLink *link);

/* Send a packet from src to dst over the link between them.  Returns false
 * (and sends nothing) only when no link joins them; every other outcome is
 * the packet's traced fate. */
bool net_send(Net *net, NetNode *src, NetNode *dst, const NetPacket *pkt);
/* The same, over a link the caller already holds (a connection keeps its
 * link rather than look it up for every packet): src is one of its ends,
 * the packet goes to the other.  A NULL link sends nothing. */
bool net_send_on(Net *net, NetLink *link, NetNode *src, const NetPacket *pkt);

/* A capture of the wires (rdrsim pcap): called for every packet as it
 * comes off a link at the receiving end, with the time it arrives: what a
 * capture on the receiving host sees (a lost packet is not seen; a
 * duplicated one is seen twice; the sender's retransmission is seen once).
 * A capture at the sending end would show a lost segment and then its
 * retransmission with the same bytes, which Wireshark's reassembly reports
 * as an error. */
typedef void (*NetCapture)(void *ctx, const NetLink *link, const NetNode *from, const NetNode *to, SimTime t,
                           const NetPacket *pkt);
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
