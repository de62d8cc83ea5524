/* ping: echo request and reply straight over a link, below any transport.
 *
 * The smallest application there is: it measures what a link does to
 * packets (delay, loss, queueing) and gives the foundation scenarios
 * something real to run before the transport exists.  Both ends of a
 * ping answer echo requests. */
#ifndef RDRSIM_PING_H
#define RDRSIM_PING_H

#include "net.h"

typedef struct PingApp PingApp;

/* An echo packet (NET_PROTO_PING) carries hdr[0] its kind, hdr[1] the pair
 * of nodes, hdr[2] its sequence number, hdr[3] when the request was sent. */
enum { PING_ECHO_REQUEST, PING_ECHO_REPLY };

PingApp *ping_new(Net *net);
void ping_free(PingApp *app);

/* From now on, send `count` echo requests of `bytes` bytes from src to dst,
 * `interval` apart. */
void ping_start(PingApp *app, NetNode *src, NetNode *dst, int64_t count, SimTime interval, uint32_t bytes);

/* Write per-pair metrics: ping.SRC.DST.{sent,received,rtt_min_ns,rtt_avg_ns,rtt_max_ns}. */
void ping_write_metrics(PingApp *app, Trace *trace);

#endif
