#include "rto.h"

static SimTime clamp(const RtoParams *p, SimTime rto)
{
    if (rto < p->min)
        rto = p->min;
    if (rto > p->max)
        rto = p->max;
    return rto;
}

void rto_init(Rto *r, const RtoParams *p)
{
    r->p = *p;
    r->measured = false;
    r->srtt = r->rttvar = 0;
    r->rto = clamp(p, p->initial);
}

static SimTime abs_time(SimTime t) { return t < 0 ? -t : t; }

void rto_sample(Rto *r, SimTime rtt)
{
    if (!r->measured) {
        r->srtt = rtt;
        r->rttvar = rtt / 2;
        r->measured = true;
    } else {
        /* RTTVAR first: it uses the SRTT from before this sample. */
        r->rttvar = (3 * r->rttvar + abs_time(r->srtt - rtt)) / 4;
        r->srtt = (7 * r->srtt + rtt) / 8;
    }
    SimTime k_var = 4 * r->rttvar;
    r->rto = clamp(&r->p, r->srtt + (k_var > r->p.granularity ? k_var : r->p.granularity));
}

void rto_backoff(Rto *r)
{
    r->rto = r->rto > r->p.max / 2 ? r->p.max : 2 * r->rto;
}

void rto_after_syn_retransmit(Rto *r)
{
    if (r->rto < RTO_SYN_FLOOR)
        r->rto = clamp(&r->p, RTO_SYN_FLOOR);
}
