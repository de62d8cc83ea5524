/* cc: the congestion window of one side of a connection, as NewReno (RFC
 * 5681, RFC 6582) or CUBIC (RFC 9438) moves it.  Pure arithmetic on the
 * window: tcp.c decides when an acknowledgement, a loss or a time-out has
 * happened and what is sent; this file only says how large the window is
 * afterwards.
 *
 *   slow start      cwnd += min(acked, SMSS) per ACK while cwnd < ssthresh
 *                   (RFC 5681 3.1, eq. 2);
 *   NewReno CA      cwnd += SMSS*SMSS/cwnd per ACK (RFC 5681 eq. 3);
 *   CUBIC CA        W_cubic(t) = C (t - K)^3 + W_max, C = 0.4, growing
 *                   towards W_cubic(t + RTT) and never below the
 *                   Reno-friendly estimate W_est (RFC 9438 4.2-4.5);
 *   loss            ssthresh = max(FlightSize/2, 2 SMSS) (RFC 5681 eq. 4),
 *                   CUBIC: cwnd * beta, beta = 0.7, with fast convergence
 *                   (RFC 9438 4.6, 4.7); cwnd = ssthresh;
 *   time-out        the same ssthresh, cwnd = 1 SMSS (RFC 5681 3.1, the loss
 *                   window; RFC 9438 4.8).
 * CC_NONE is the transport before congestion control: no window of its own
 * (the fixed send window of the node applies). */
#ifndef RDRSIM_CC_H
#define RDRSIM_CC_H

#include <stdint.h>

#include "engine.h"

typedef enum { CC_NONE, CC_NEWRENO, CC_CUBIC } CcKind;

typedef struct {
    CcKind kind;
    uint32_t mss;
    double cwnd, ssthresh; /* bytes */
    /* CUBIC (RFC 9438): W_max and its previous value, in bytes; K in
     * seconds; the start of the current congestion-avoidance epoch (-1:
     * none yet) and the window then; the Reno-friendly estimate */
    double w_max, w_last_max, k, cwnd_epoch, w_est;
    SimTime epoch;
} Cc;

/* iw: the initial window in segments (RFC 6928's 10, as Windows sets it). */
void cc_init(Cc *c, CcKind kind, uint32_t mss, int iw, uint64_t rwnd);
/* New data acknowledged outside recovery. */
void cc_on_ack(Cc *c, uint64_t acked, SimTime now, SimTime srtt);
/* Loss detected by duplicate acknowledgements or SACK. */
void cc_on_loss(Cc *c, uint64_t flight);
/* The retransmission timer expired. */
void cc_on_timeout(Cc *c, uint64_t flight);
/* Leaving fast recovery: the window is ssthresh (RFC 6582 3.2 step 3). */
void cc_end_recovery(Cc *c);

#endif
