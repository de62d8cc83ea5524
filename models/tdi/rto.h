/* rto: the retransmission time-out of one connection, computed as RFC 6298
 * prescribes.
 *
 *   2.1  until an RTT is measured, RTO = the initial value (1 s);
 *   2.2  first measurement R: SRTT = R, RTTVAR = R/2;
 *   2.3  later R': RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|, then
 *                  SRTT   = 7/8 SRTT   + 1/8 R';
 *        RTO = SRTT + max(G, 4 RTTVAR), G the clock granularity;
 *   2.4  an RTO below the minimum (1 s) is rounded up to it;
 *   2.5  and one above the maximum (at least 60 s) is cut down to it;
 *   5.5  each expiry of the timer doubles the RTO ("back off"), up to the
 *        maximum; the backed-off value stays until a new measurement;
 *   5.7  when a SYN had to be retransmitted and RTO < 3 s, RTO becomes
 *        3 s once the connection is established.
 * Karn's rule (section 3: no sample from a retransmitted segment) is the
 * caller's: it only calls rto_sample for segments sent once. */
#ifndef RDRSIM_RTO_H
#define RDRSIM_RTO_H

#include <stdbool.h>

#include "engine.h"

typedef struct {
    SimTime initial;     /* RFC 6298: 1 s */
    SimTime min;         /* RFC 6298: 1 s (a SHOULD; stacks often use less) */
    SimTime max;         /* at least 60 s */
    SimTime granularity; /* G, the clock granularity */
} RtoParams;

typedef struct {
    RtoParams p;
    bool measured;   /* at least one sample taken */
    SimTime srtt, rttvar;
    SimTime rto;
} Rto;

#define RTO_SYN_FLOOR (3 * SIM_SEC)

void rto_init(Rto *r, const RtoParams *p);
/* A round-trip time measured on a segment that was sent once. */
void rto_sample(Rto *r, SimTime rtt);
/* The timer expired: double the RTO (5.5). */
void rto_backoff(Rto *r);
/* Established after a retransmitted SYN (5.7). */
void rto_after_syn_retransmit(Rto *r);

#endif
