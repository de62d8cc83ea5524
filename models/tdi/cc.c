/* cc.c: NewReno and CUBIC window arithmetic (cc.h). */
#include "cc.h"

#include <math.h>

#define CUBIC_C 0.4    /* RFC 9438 4.1: C = 0.4 (segments per second cubed) */
#define CUBIC_BETA 0.7 /* RFC 9438 4.6: beta_cubic */

void cc_init(Cc *c, CcKind kind, uint32_t mss, int iw, uint64_t rwnd)
{
    *c = (Cc){ .kind = kind, .mss = mss ? mss : 1, .epoch = -1 };
    c->cwnd = (double)iw * c->mss;
    /* RFC 5681 3.1: the initial ssthresh may be arbitrarily high; the
     * largest window the peer advertises is what it is set to here. */
    c->ssthresh = (double)(rwnd ? rwnd : UINT32_MAX);
}

static double w_cubic(const Cc *c, double t)
{
    /* RFC 9438 eq. 1, in segments; the result in bytes */
    double d = t - c->k;
    return (CUBIC_C * d * d * d) * c->mss + c->w_max;
}

static void cubic_ack(Cc *c, uint64_t acked, SimTime now, SimTime srtt)
{
    double mss = c->mss;
    if (c->epoch < 0) {
        /* RFC 9438 4.2: a new epoch starts at the first ACK in congestion
         * avoidance; K is when W_cubic reaches W_max again. */
        c->epoch = now;
        c->cwnd_epoch = c->cwnd;
        c->w_est = c->cwnd;
        if (c->w_max < c->cwnd)
            c->w_max = c->cwnd;
        c->k = cbrt((c->w_max - c->cwnd) / mss / CUBIC_C);
    }
    double t = (double)(now - c->epoch) / 1e9;
    double rtt = (double)srtt / 1e9;
    /* 4.3: the Reno-friendly region, alpha = 3 (1 - beta) / (1 + beta) */
    double alpha = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
    c->w_est += alpha * ((double)acked / c->cwnd) * mss;
    double cubic = w_cubic(c, t);
    if (cubic < c->w_est) {
        c->cwnd = c->w_est;
        return;
    }
    /* 4.4, 4.5: grow towards the window one RTT ahead, within [cwnd, 1.5 cwnd] */
    double target = w_cubic(c, t + rtt);
    if (target < c->cwnd)
        target = c->cwnd;
    if (target > 1.5 * c->cwnd)
        target = 1.5 * c->cwnd;
    c->cwnd += (target - c->cwnd) / c->cwnd * (double)acked;
}

void cc_on_ack(Cc *c, uint64_t acked, SimTime now, SimTime srtt)
{
    if (c->kind == CC_NONE || !acked)
        return;
    if (c->cwnd < c->ssthresh) {
        c->cwnd += (double)(acked < c->mss ? acked : c->mss);
        return;
    }
    if (c->kind == CC_CUBIC)
        cubic_ack(c, acked, now, srtt);
    else
        c->cwnd += (double)c->mss * c->mss / c->cwnd; /* about one SMSS a round trip */
}

static void set_ssthresh(Cc *c, uint64_t flight)
{
    double floor = 2.0 * c->mss;
    if (c->kind == CC_CUBIC) {
        /* 4.7 fast convergence: a flow that lost before reaching its last
         * W_max releases bandwidth to newer flows */
        c->w_max = c->cwnd < c->w_last_max ? c->cwnd * (1.0 + CUBIC_BETA) / 2.0 : c->cwnd;
        c->w_last_max = c->cwnd;
        c->ssthresh = c->cwnd * CUBIC_BETA;
        c->epoch = -1;
    } else {
        c->ssthresh = (double)flight / 2.0;
    }
    if (c->ssthresh < floor)
        c->ssthresh = floor;
}

void cc_on_loss(Cc *c, uint64_t flight)
{
    if (c->kind == CC_NONE)
        return;
    set_ssthresh(c, flight);
    c->cwnd = c->ssthresh;
}

void cc_on_timeout(Cc *c, uint64_t flight)
{
    if (c->kind == CC_NONE)
        return;
    set_ssthresh(c, flight);
    c->cwnd = c->mss;
}

void cc_end_recovery(Cc *c)
{
    if (c->kind != CC_NONE)
        c->cwnd = c->ssthresh;
}
