/* structures.c: references and two-phase finalization of the six
 * structures (STRUCTURES.md), the server-side close of a SRV_OPEN, delayed
 * close, and the scavenger (SEQUENCES.md d.3, e.2).  A structure is
 * finalized exactly once, in the documented order V_NET_ROOT, NET_ROOT,
 * SRV_CALL; a count that goes negative fails the run. */

#include "rdbss_int.h"

static void sc_deref(SrvCall *sc, bool now);

static void nr_deref(NetRoot *nr, bool now);

static void refs_check(Rdbss *r, int refs, const char *what)
{
    if (refs < 0)
        rx_fail(r, "reference count of a %s went negative", what);
}

static SimTime scavenger_limit(MiniRdr *m)
{
    return m->d->ScavengerTimeout ? (SimTime)m->d->ScavengerTimeout * SIM_SEC : DEFAULT_SCAVENGER_LIMIT;
}

static void on_scavenger(Sim *sim, void *ctx, uint64_t arg);

/* Mark a structure at its finalization threshold for the scavenger
 * (RxpMarkInstanceForScavengedFinalization): a one-shot timer. */
void rx_scavenge_later(MiniRdr *m, void *obj)
{
    if (!g_ptr_array_find(m->scavenge, obj, NULL))
        g_ptr_array_add(m->scavenge, obj);
    if (m->scavenger == SIM_NO_EVENT)
        m->scavenger = sim_after(m->rdbss->sim, scavenger_limit(m), on_scavenger, m, 0);
}

static void table_remove(GPtrArray *t, void *obj) { g_ptr_array_remove(t, obj); }

/* Documented order (IFS connection and name resolution): MRxFinalizeVNetRoot,
 * then MRxFinalizeNetRoot, then MRxFinalizeSrvCall, each when its last
 * reference but the name table's goes.  ReactOS calls MRxFinalizeNetRoot
 * before MRxFinalizeVNetRoot of the last V_NET_ROOT; the documented order
 * is the one kept (SEQUENCES.md e.2 item 4). */
static void finalize_srv_call(SrvCall *sc, bool force)
{
    MiniRdr *m = sc->rdr;
    if (sc->finalized) {
        rx_fail(m->rdbss, "SRV_CALL %s finalized twice", sc->name);
        return;
    }
    sc->finalized = true;
    table_remove(m->srv_calls, sc);
    g_ptr_array_remove(m->scavenge, sc);
    RxContext *rx = rx_side_new(m);
    rx->srv_call = sc;
    rx->force = force;
    rx_call(rx, ID_MRxFinalizeSrvCall, NULL);
    rx_side_free(rx);
    sc->refs--;
}

static void finalize_net_root(NetRoot *nr, bool now)
{
    MiniRdr *m = nr->srv_call->rdr;
    if (nr->finalized) {
        rx_fail(m->rdbss, "NET_ROOT %s finalized twice", nr->name);
        return;
    }
    nr->finalized = true;
    table_remove(m->net_roots, nr);
    g_ptr_array_remove(m->scavenge, nr);
    RxContext *rx = rx_side_new(m);
    rx->srv_call = nr->srv_call;
    rx->net_root = nr;
    rx_call(rx, ID_MRxFinalizeNetRoot, NULL);
    rx_side_free(rx);
    nr->refs--;
    sc_deref(nr->srv_call, now);
}

void rx_finalize_vnet_root(VNetRoot *v, bool now)
{
    MiniRdr *m = v->net_root->srv_call->rdr;
    if (v->finalized) {
        rx_fail(m->rdbss, "V_NET_ROOT %s finalized twice", v->name);
        return;
    }
    v->finalized = true;
    table_remove(m->vnet_roots, v);
    g_ptr_array_remove(m->scavenge, v);
    g_ptr_array_remove(v->net_root->vnet_roots, v);
    RxContext *rx = rx_side_new(m);
    rx->srv_call = v->net_root->srv_call;
    rx->net_root = v->net_root;
    rx->vnet_root = v;
    rx_call(rx, ID_MRxFinalizeVNetRoot, NULL);
    rx_side_free(rx);
    v->refs--;
    nr_deref(v->net_root, now);
}

/* A table-held structure at 1 (the table's reference) finalizes at once
 * when the caller tears the connection down, else through the scavenger. */
static void sc_deref(SrvCall *sc, bool now)
{
    sc->refs--;
    refs_check(sc->rdr->rdbss, sc->refs, "SRV_CALL");
    if (sc->refs == 1 && !sc->finalized)
        now ? finalize_srv_call(sc, false) : rx_scavenge_later(sc->rdr, sc);
}

static void nr_deref(NetRoot *nr, bool now)
{
    nr->refs--;
    refs_check(nr->srv_call->rdr->rdbss, nr->refs, "NET_ROOT");
    if (nr->refs == 1 && !nr->finalized)
        now ? finalize_net_root(nr, now) : rx_scavenge_later(nr->srv_call->rdr, nr);
}

void rx_vnr_deref(VNetRoot *v, bool now)
{
    v->refs--;
    refs_check(v->net_root->srv_call->rdr->rdbss, v->refs, "V_NET_ROOT");
    if (v->refs == 1 && !v->finalized)
        now ? rx_finalize_vnet_root(v, now) : rx_scavenge_later(v->net_root->srv_call->rdr, v);
}

MiniRdr *rx_rdr_of_fcb(const Fcb *f) { return f->rdr; }

static void finalize_fcb(Fcb *f)
{
    MiniRdr *m = rx_rdr_of_fcb(f);
    if (f->finalized) {
        rx_fail(m->rdbss, "FCB %s finalized twice", f->path);
        return;
    }
    f->finalized = true;
    ilist_unlink(&m->rdbss->fcbs, &f->live);
    g_ptr_array_add(m->rdbss->finalized, f);
    if (g_hash_table_lookup(f->net_root->fcbs, f->path) == f)
        g_hash_table_remove(f->net_root->fcbs, f->path);
    RxContext *rx = rx_side_new(m);
    rx->fcb = f;
    rx->net_root = f->net_root;
    rx_call(rx, ID_MRxDeallocateForFcb, NULL);
    rx_side_free(rx);
    f->refs--;
    nr_deref(f->net_root, false);
}

/* FCBs have their own dereference-and-finalize: not while handles remain. */
void rx_fcb_deref(Fcb *f)
{
    f->refs--;
    refs_check(rx_rdr_of_fcb(f)->rdbss, f->refs, "FCB");
    if (f->refs == 1 && f->opens == 0 && f->uncleans == 0 && !f->finalized)
        finalize_fcb(f);
}

static void finalize_srv_open(SrvOpen *so)
{
    Fcb *f = so->fcb;
    MiniRdr *m = rx_rdr_of_fcb(f);
    if (so->finalized) {
        rx_fail(m->rdbss, "SRV_OPEN of %s finalized twice", f->path);
        return;
    }
    so->finalized = true;
    ilist_unlink(&m->rdbss->srv_opens, &so->live);
    g_ptr_array_add(m->rdbss->finalized, so);
    g_ptr_array_remove(f->net_root->srv_call->opens, so);
    /* MRxForceClosed when the SRV_OPEN is not Good or is marked closed,
     * unless its FCB is orphaned (SEQUENCES.md h; ReactOS). */
    if ((so->condition != COND_GOOD || (so->flags & SRVOPEN_FLAG_CLOSED)) && !f->orphaned) {
        RxContext *rx = rx_side_new(m);
        rx->fcb = f;
        rx->srv_open = so;
        rx_call(rx, ID_MRxForceClosed, NULL);
        rx_side_free(rx);
    }
    g_ptr_array_remove(f->srv_opens, so);
    rx_vnr_deref(so->vnet_root, false);
    rx_fcb_deref(f);
}

void rx_so_deref(SrvOpen *so)
{
    so->refs--;
    refs_check(rx_rdr_of_fcb(so->fcb)->rdbss, so->refs, "SRV_OPEN");
    if (so->refs == 0 && !so->finalized)
        finalize_srv_open(so);
}

static void finalize_fobx(Fobx *x)
{
    MiniRdr *m = rx_rdr_of_fcb(x->fcb);
    if (x->finalized) {
        rx_fail(m->rdbss, "FOBX of %s finalized twice", x->fcb->path);
        return;
    }
    x->finalized = true;
    ilist_unlink(&m->rdbss->fobxs, &x->live);
    g_ptr_array_add(m->rdbss->finalized, x);
    g_ptr_array_remove(x->srv_open->fobxs, x);
    RxContext *rx = rx_side_new(m);
    rx->fcb = x->fcb;
    rx->srv_open = x->srv_open;
    rx->fobx = x;
    rx_call(rx, ID_MRxDeallocateForFobx, NULL);
    rx_side_free(rx);
    rx_so_deref(x->srv_open);
}

void rx_fobx_deref(Fobx *x)
{
    x->refs--;
    refs_check(rx_rdr_of_fcb(x->fcb)->rdbss, x->refs, "FOBX");
    if (x->refs == 0 && !x->finalized)
        finalize_fobx(x);
}

typedef struct {
    SrvOpen *so;
    void (*then)(void *ctx);
    void *ctx;
} CloseStep;

static void after_close_srv_open(RxContext *rx)
{
    CloseStep *c = (CloseStep *)rx->k_ctx;
    SrvOpen *so = c->so;
    so->flags |= SRVOPEN_FLAG_CLOSED;
    rx_side_free(rx);
    void (*then)(void *) = c->then;
    void *ctx = c->ctx;
    rx_record_free(rx_rdr_of_fcb(so->fcb)->rdbss, c);
    rx_so_deref(so); /* the creation reference goes with the close */
    if (then)
        then(ctx);
}

static void end_close_delay(SrvOpen *so)
{
    if (so->flags & SRVOPEN_FLAG_CLOSE_DELAYED) {
        so->flags &= ~(uint32_t)SRVOPEN_FLAG_CLOSE_DELAYED;
        so->fcb->net_root->srv_call->close_delayed--;
    }
}

/* The mini-redirector closed a delayed-close SRV_OPEN itself (on a break,
 * from MRxCompleteBufferingStateChangeRequest): the delayed close ends as
 * a close through MRxCloseSrvOpen would, without calling it. */
void rx_srv_open_closed(SrvOpen *so)
{
    Fobx *x = so->fobxs->len ? g_ptr_array_index(so->fobxs, 0) : NULL;
    end_close_delay(so);
    so->condition = COND_CLOSING;
    if (x && x->scavenge_pending) {
        g_ptr_array_remove(rx_rdr_of_fcb(so->fcb)->scavenge, x);
        x->scavenge_pending = false;
    }
    rx_so_deref(so); /* the creation reference goes with the close */
    if (x)
        rx_fobx_deref(x);
}

/* MRxCloseSrvOpen, then mark it closed and drop its creation reference. */
void rx_close_srv_open(SrvOpen *so, void (*then)(void *), void *ctx)
{
    MiniRdr *m = rx_rdr_of_fcb(so->fcb);
    end_close_delay(so);
    /* Closing from now on: no new open collapses onto it while the server
     * close is on its way (rx_collapse_candidate wants a Good SRV_OPEN). */
    so->condition = COND_CLOSING;
    RxContext *rx = rx_side_new(m);
    rx->fcb = so->fcb;
    rx->srv_open = so;
    rx->srv_call = so->fcb->net_root->srv_call;
    rx->vnet_root = so->vnet_root;
    CloseStep *c = rx_record_new(m->rdbss, sizeof *c);
    c->so = so;
    c->then = then;
    c->ctx = ctx;
    rx->k_ctx = c;
    rx_call(rx, ID_MRxCloseSrvOpen, after_close_srv_open);
}

/* A delayed close ends: FOBX first, then the server close (d.3) -- unless
 * a new open collapsed onto the SRV_OPEN meanwhile (b.4), which then keeps
 * it. */
void rx_end_delayed_close(Fobx *x, void (*then)(void *), void *ctx)
{
    SrvOpen *so = x->srv_open;
    x->scavenge_pending = false;
    so->refs++; /* keep it while its FOBX goes */
    rx_fobx_deref(x);
    so->refs--;
    if ((so->flags & SRVOPEN_FLAG_CLOSE_DELAYED) && so->open_count == 0 && !(so->flags & SRVOPEN_FLAG_CLOSED)) {
        rx_close_srv_open(so, then, ctx);
        return;
    }
    if (so->refs == 0 && !so->finalized)
        finalize_srv_open(so);
    if (then)
        then(ctx);
}

static void on_scavenger(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    MiniRdr *m = ctx;
    m->scavenger = SIM_NO_EVENT;
    GPtrArray *items = m->scavenge;
    m->scavenge = g_ptr_array_new();
    /* Delayed closes first, then the connection structures still at their threshold. */
    for (guint i = 0; i < items->len; i++) {
        Fobx *x = g_ptr_array_index(items, i);
        if (x->node_type == RX_NTC_FOBX && x->scavenge_pending)
            rx_end_delayed_close(x, NULL, NULL);
    }
    /* The scavenger holds the name-table lock exclusively: what its
     * finalizations dereference to the threshold goes at once, too. */
    for (guint i = 0; i < items->len; i++) {
        void *o = g_ptr_array_index(items, i);
        if (g_ptr_array_find(m->vnet_roots, o, NULL) && ((VNetRoot *)o)->refs == 1)
            rx_finalize_vnet_root(o, true);
    }
    for (guint i = 0; i < items->len; i++) {
        void *o = g_ptr_array_index(items, i);
        if (g_ptr_array_find(m->net_roots, o, NULL) && ((NetRoot *)o)->refs == 1)
            finalize_net_root(o, true);
    }
    for (guint i = 0; i < items->len; i++) {
        void *o = g_ptr_array_index(items, i);
        if (g_ptr_array_find(m->srv_calls, o, NULL) && ((SrvCall *)o)->refs == 1)
            finalize_srv_call(o, false);
    }
    g_ptr_array_unref(items);
}

