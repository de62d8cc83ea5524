#include "rdbss.h"

#include <stdio.h>
#include <string.h>

#include "ntstatus.h"
#include "ilist.h"
#include "pool.h"
#include "ranges.h"

/* RDBSS's scavenger time limit when the mini-redirector gives none
 * (scavengr.h: 10 s). */
#define DEFAULT_SCAVENGER_LIMIT (10 * SIM_SEC)
/* MaximumNumberOfCloseDelayedFiles (NFSv4.1's value). */
#define MAX_CLOSE_DELAYED 1023

typedef enum { RDR_STARTABLE, RDR_START_IN_PROGRESS, RDR_STARTED, RDR_STOP_IN_PROGRESS } RdrState;

struct MiniRdr {
    Rdbss *rdbss;
    char *name;
    uint32_t name_id;
    const MINIRDR_DISPATCH *d; /* the redirector's, shared by its instances */
    void *ctx;
    RdrState state;
    SimTime request_timeout;
    bool delayed_close;
    GPtrArray *srv_calls, *net_roots, *vnet_roots; /* the net-name table */
    GPtrArray *scavenge;                           /* structures marked for scavenged finalization */
    SimEventId scavenger;
};

struct Rdbss {
    Sim *sim;
    Trace *trace;
    NetNode *node;
    GPtrArray *rdrs; /* provider order */
    GHashTable *drives; /* "X:" -> Drive* */
    /* What is still out, freed at the end if a run stops in the middle; each
     * is linked through a node of its own, so joining and leaving cost no
     * search and no allocation: */
    GQueue ops;     /* Op* not yet finished */
    GQueue sides;   /* Op* of RDBSS's own contexts (finalizations, creations) */
    GQueue records; /* continuation records (flushes, closes, deletes) */
    uint64_t next_id;
    uint32_t routine_names[MRX_N_ROUTINES]; /* trace name ids, interned when first called */
    GQueue fcbs, srv_opens, fobxs;   /* not yet finalized, oldest first */
    GPtrArray *finalized;            /* FCB, SRV_OPEN, FOBX: finalized, memory not yet reclaimed */
    GPtrArray *vnr_all, *nr_all, *sc_all; /* every one made (few): freed at the end */
    Coherence *coh; /* NULL: nobody judges the data */
    SimTime flush_interval; /* the lazy writer's delay (write-behind) */
    GArray *on_started; /* Waiting: run when no start is in progress */
    bool failed;
    RdbssPools *pools; /* shared by the run's clients */
};

/* A mapped drive: its V_NET_ROOT and the directory under the share it
 * names ("" for the share itself). */
typedef struct {
    VNetRoot *v;
    char *subpath;
} Drive;

static void drive_free(gpointer p)
{
    Drive *d = p;
    g_free(d->subpath);
    g_free(d);
}

static VNetRoot *drive_vnet_root(Rdbss *r, const char *name)
{
    Drive *d = g_hash_table_lookup(r->drives, name);
    return d ? d->v : NULL;
}

typedef struct {
    void (*fn)(void *ctx);
    void *ctx;
    void (*drop)(void *ctx);
} Waiting;

/* An IRP being processed: its RX_CONTEXT and where its completion goes. */
typedef struct {
    RxContext rx;
    RxIrpDone done;
    void *ctx;
    bool completed;
    Fobx *result;
    GArray *expect;  /* a read: what the oracle said it must not be older than */
    uint64_t epoch;
    int waiting; /* sub-requests (flush writes) still out */
    GList link;  /* in the Rdbss's ops or sides */
} Op;

/* What precedes a continuation record, keeping its payload aligned as
 * g_malloc's own blocks are. */
typedef union {
    GList link; /* in the Rdbss's records */
    max_align_t align;
} RecordHead;


static void fail(Rdbss *r, const char *fmt, const char *a)
{
    if (!r->failed)
        sim_fail(r->sim, fmt, a);
    r->failed = true;
}

/* ---- routine calls ---- */

/* What a routine call is about, as the callbacks table names it: its kind
 * and the name of the structure it acts on. */
typedef enum { OBJ_DEVICE, OBJ_SRV_CALL, OBJ_NET_ROOT, OBJ_V_NET_ROOT, OBJ_FCB, OBJ_SRV_OPEN, OBJ_FOBX } ObjKind;
static const char *const obj_kind_name[] = { "device", "SrvCall", "NetRoot", "VNetRoot", "Fcb", "SrvOpen", "Fobx" };

static ObjKind object_kind(const RxContext *rx)
{
    switch (rx->routine) {
    case ID_MRxStart: case ID_MRxStop: case ID_MRxDevFcbXXXControlFile:
        return OBJ_DEVICE;
    case ID_MRxCreateSrvCall: case ID_MRxSrvCallWinnerNotify: case ID_MRxFinalizeSrvCall:
    case ID_MRxExtractNetRootName:
        return OBJ_SRV_CALL;
    case ID_MRxFinalizeNetRoot:
        return OBJ_NET_ROOT;
    case ID_MRxCreateVNetRoot: case ID_MRxFinalizeVNetRoot: case ID_MRxGetConnectionId:
    case ID_MRxIsValidDirectory:
        return OBJ_V_NET_ROOT;
    case ID_MRxCreate: case ID_MRxCollapseOpen: case ID_MRxCloseSrvOpen: case ID_MRxForceClosed:
    case ID_MRxComputeNewBufferingState: case ID_MRxCompleteBufferingStateChangeRequest:
        return OBJ_SRV_OPEN;
    case ID_MRxShouldTryToCollapseThisOpen:
        return rx->srv_open ? OBJ_SRV_OPEN : OBJ_FCB;
    case ID_MRxCleanupFobx: case ID_MRxDeallocateForFobx:
        return OBJ_FOBX;
    default:
        return rx->routine >= ID_LOWIO_FIRST ? OBJ_FOBX : OBJ_FCB;
    }
}

static const char *object_subject(const RxContext *rx, ObjKind k)
{
    switch (k) {
    case OBJ_DEVICE:
        return NULL;
    case OBJ_SRV_CALL:
        return rx->srv_call ? rx->srv_call->name : "?";
    case OBJ_NET_ROOT:
        return rx->net_root ? rx->net_root->name : "?";
    case OBJ_V_NET_ROOT:
        return rx->vnet_root ? rx->vnet_root->name : rx->server ? rx->server : "?";
    case OBJ_FCB:
        if (!rx->fcb && rx->routine != ID_MRxShouldTryToCollapseThisOpen && rx->path)
            return rx->path;
        /* fall through */
    default:
        return rx->fcb ? rx->fcb->path : "?";
    }
}

/* The trace name of the call's object ("Fobx \\srv\\share\\f").  Names of
 * an FCB's objects are interned once, when first used, and kept with the
 * FCB: most calls are about files, and formatting and hashing the name
 * on every call was a tenth of the model's time at --trace all.  Interning
 * happens at the same call as before, so name ids do not change. */
static uint32_t object_name(const RxContext *rx)
{
    Trace *tr = rx->rdbss->trace;
    ObjKind k = object_kind(rx);
    uint32_t *cached = k >= OBJ_FCB && rx->fcb ? &rx->fcb->trace_names[k - OBJ_FCB] : NULL;
    if (cached && *cached)
        return *cached;
    const char *subject = object_subject(rx, k);
    /* g_strconcat: a third of g_strdup_printf's cost, for an FCB's three
     * names at every open at --trace all */
    char *name = subject ? g_strconcat(obj_kind_name[k], " ", subject, NULL) : g_strdup(obj_kind_name[k]);
    uint32_t id = trace_name(tr, name);
    g_free(name);
    if (cached)
        *cached = id;
    return id;
}

static void trace_call(RxContext *rx, bool pending)
{
    Rdbss *r = rx->rdbss;
    if (trace_level(r->trace) < TRACE_MESSAGES)
        return; /* no row: neither format the object's name nor intern it */
    /* The object's name first: the order names were always interned in
     * (gcc evaluated the arguments of the call that did both right to
     * left), so name ids stay what they were. */
    uint32_t object = object_name(rx);
    uint32_t *routine = &r->routine_names[rx->routine];
    if (!*routine)
        *routine = trace_name(r->trace, mrx_name(rx->routine));
    trace_callback(r->trace, net_node_trace_id(r->node), rx->rdr->name_id, *routine, object, rx->t0,
                   sim_now(r->sim), pending, rx->status);
}

void rx_complete(RxContext *rx, NTSTATUS status)
{
    if (rx->done) {
        fail(rx->rdbss, "%s completed twice", mrx_name(rx->routine));
        return;
    }
    rx->done = true;
    rx->status = status;
    trace_call(rx, mrx_async(rx->routine));
    if (rx->k)
        rx->k(rx);
}

/* Call a routine; `k` runs when it is done.  A NULL routine is not called:
 * the call-through gives STATUS_NOT_IMPLEMENTED (CALLBACKS.md section 1). */
static void rx_call(RxContext *rx, MrxId id, void (*k)(RxContext *))
{
    MRxRoutine fn = mrx_get(rx->rdr->d, id);
    if (mrx_never_called(id)) {
        fail(rx->rdbss, "RDBSS called %s, which it never calls", mrx_name(id));
        return;
    }
    rx->routine = id;
    rx->k = k;
    rx->done = false;
    rx->t0 = sim_now(rx->rdbss->sim);
    if (!fn) {
        rx->status = STATUS_NOT_IMPLEMENTED;
        rx->done = true;
        if (k)
            k(rx);
        return;
    }
    NTSTATUS st = fn(rx);
    if (st == STATUS_PENDING)
        return; /* rx_complete follows */
    if (mrx_async(id) && (id == ID_MRxCreateSrvCall || id == ID_MRxCreateVNetRoot)) {
        fail(rx->rdbss, "%s must return STATUS_PENDING", mrx_name(id));
        return;
    }
    rx_complete(rx, st);
}

/* ---- IRPs ---- */

static Op *op_new(Rdbss *r, MiniRdr *m, RxIrpDone done, void *ctx)
{
    Op *o = pool_alloc0(&r->pools->op);
    o->rx.rdbss = r;
    o->rx.rdr = m;
    o->done = done;
    o->ctx = ctx;
    o->link.data = o;
    ilist_push_tail(&r->ops, &o->link);
    return o;
}

static void op_free(Op *o)
{
    g_free(o->rx.server);
    g_free(o->rx.share);
    g_free(o->rx.subpath);
    g_free(o->rx.path);
    g_free(o->rx.new_name);
    if (o->rx.lock_list)
        g_array_unref(o->rx.lock_list);
    if (o->rx.stamps)
        g_array_unref(o->rx.stamps);
    if (o->expect)
        g_array_unref(o->expect);
    pool_free(&o->rx.rdbss->pools->op, o);
}

/* Every IRP completes exactly once. */
static void irp_done(Op *o, NTSTATUS st, uint64_t info)
{
    Rdbss *r = o->rx.rdbss;
    if (o->completed) {
        fail(r, "an IRP (%s) completed twice", mrx_name(o->rx.routine));
        return;
    }
    o->completed = true;
    ilist_unlink(&r->ops, &o->link);
    if (o->done)
        o->done(o->ctx, st, info, o->result);
    op_free(o);
}

static void irp_done_rx(RxContext *rx) { irp_done((Op *)rx, rx->status, rx->information); }

/* ---- structures: references and finalization ---- */

static void sc_deref(SrvCall *sc, bool now);
static void nr_deref(NetRoot *nr, bool now);
static void vnr_deref(VNetRoot *v, bool now);
static void fcb_deref(Fcb *f);
static void so_deref(SrvOpen *so);

static RxContext *side_rx(MiniRdr *m)
{
    Op *o = op_new(m->rdbss, m, NULL, NULL);
    o->completed = true; /* an internal context: no IRP to complete */
    ilist_unlink(&m->rdbss->ops, &o->link);
    ilist_push_tail(&m->rdbss->sides, &o->link);
    return &o->rx;
}

/* A record that carries a flow across a routine's completion; one that a
 * stopped run leaves out is freed by rdbss_free. */
static void *record_new(Rdbss *r, size_t size)
{
    RecordHead *h = g_malloc0(sizeof *h + size);
    h->link.data = h;
    ilist_push_tail(&r->records, &h->link);
    return h + 1;
}

static void record_free(Rdbss *r, void *p)
{
    RecordHead *h = (RecordHead *)p - 1;
    ilist_unlink(&r->records, &h->link);
    g_free(h);
}

static void side_free(RxContext *rx)
{
    ilist_unlink(&rx->rdbss->sides, &((Op *)rx)->link);
    op_free((Op *)rx);
}

static void refs_check(Rdbss *r, int refs, const char *what)
{
    if (refs < 0)
        fail(r, "reference count of a %s went negative", what);
}

static SimTime scavenger_limit(MiniRdr *m)
{
    return m->d->ScavengerTimeout ? (SimTime)m->d->ScavengerTimeout * SIM_SEC : DEFAULT_SCAVENGER_LIMIT;
}

static void on_scavenger(Sim *sim, void *ctx, uint64_t arg);

/* Mark a structure at its finalization threshold for the scavenger
 * (RxpMarkInstanceForScavengedFinalization): a one-shot timer. */
static void scavenge_later(MiniRdr *m, void *obj)
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
        fail(m->rdbss, "SRV_CALL %s finalized twice", sc->name);
        return;
    }
    sc->finalized = true;
    table_remove(m->srv_calls, sc);
    g_ptr_array_remove(m->scavenge, sc);
    RxContext *rx = side_rx(m);
    rx->srv_call = sc;
    rx->force = force;
    rx_call(rx, ID_MRxFinalizeSrvCall, NULL);
    side_free(rx);
    sc->refs--;
}

static void finalize_net_root(NetRoot *nr, bool now)
{
    MiniRdr *m = nr->srv_call->rdr;
    if (nr->finalized) {
        fail(m->rdbss, "NET_ROOT %s finalized twice", nr->name);
        return;
    }
    nr->finalized = true;
    table_remove(m->net_roots, nr);
    g_ptr_array_remove(m->scavenge, nr);
    RxContext *rx = side_rx(m);
    rx->srv_call = nr->srv_call;
    rx->net_root = nr;
    rx_call(rx, ID_MRxFinalizeNetRoot, NULL);
    side_free(rx);
    nr->refs--;
    sc_deref(nr->srv_call, now);
}

static void finalize_vnet_root(VNetRoot *v, bool now)
{
    MiniRdr *m = v->net_root->srv_call->rdr;
    if (v->finalized) {
        fail(m->rdbss, "V_NET_ROOT %s finalized twice", v->name);
        return;
    }
    v->finalized = true;
    table_remove(m->vnet_roots, v);
    g_ptr_array_remove(m->scavenge, v);
    g_ptr_array_remove(v->net_root->vnet_roots, v);
    RxContext *rx = side_rx(m);
    rx->srv_call = v->net_root->srv_call;
    rx->net_root = v->net_root;
    rx->vnet_root = v;
    rx_call(rx, ID_MRxFinalizeVNetRoot, NULL);
    side_free(rx);
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
        now ? finalize_srv_call(sc, false) : scavenge_later(sc->rdr, sc);
}

static void nr_deref(NetRoot *nr, bool now)
{
    nr->refs--;
    refs_check(nr->srv_call->rdr->rdbss, nr->refs, "NET_ROOT");
    if (nr->refs == 1 && !nr->finalized)
        now ? finalize_net_root(nr, now) : scavenge_later(nr->srv_call->rdr, nr);
}

static void vnr_deref(VNetRoot *v, bool now)
{
    v->refs--;
    refs_check(v->net_root->srv_call->rdr->rdbss, v->refs, "V_NET_ROOT");
    if (v->refs == 1 && !v->finalized)
        now ? finalize_vnet_root(v, now) : scavenge_later(v->net_root->srv_call->rdr, v);
}

static MiniRdr *rdr_of_fcb(const Fcb *f) { return f->rdr; }

static void finalize_fcb(Fcb *f)
{
    MiniRdr *m = rdr_of_fcb(f);
    if (f->finalized) {
        fail(m->rdbss, "FCB %s finalized twice", f->path);
        return;
    }
    f->finalized = true;
    ilist_unlink(&m->rdbss->fcbs, &f->live);
    g_ptr_array_add(m->rdbss->finalized, f);
    if (g_hash_table_lookup(f->net_root->fcbs, f->path) == f)
        g_hash_table_remove(f->net_root->fcbs, f->path);
    RxContext *rx = side_rx(m);
    rx->fcb = f;
    rx->net_root = f->net_root;
    rx_call(rx, ID_MRxDeallocateForFcb, NULL);
    side_free(rx);
    f->refs--;
    nr_deref(f->net_root, false);
}

/* FCBs have their own dereference-and-finalize: not while handles remain. */
static void fcb_deref(Fcb *f)
{
    f->refs--;
    refs_check(rdr_of_fcb(f)->rdbss, f->refs, "FCB");
    if (f->refs == 1 && f->opens == 0 && f->uncleans == 0 && !f->finalized)
        finalize_fcb(f);
}

static void finalize_srv_open(SrvOpen *so)
{
    Fcb *f = so->fcb;
    MiniRdr *m = rdr_of_fcb(f);
    if (so->finalized) {
        fail(m->rdbss, "SRV_OPEN of %s finalized twice", f->path);
        return;
    }
    so->finalized = true;
    ilist_unlink(&m->rdbss->srv_opens, &so->live);
    g_ptr_array_add(m->rdbss->finalized, so);
    g_ptr_array_remove(f->net_root->srv_call->opens, so);
    /* MRxForceClosed when the SRV_OPEN is not Good or is marked closed,
     * unless its FCB is orphaned (SEQUENCES.md h; ReactOS). */
    if ((so->condition != COND_GOOD || (so->flags & SRVOPEN_FLAG_CLOSED)) && !f->orphaned) {
        RxContext *rx = side_rx(m);
        rx->fcb = f;
        rx->srv_open = so;
        rx_call(rx, ID_MRxForceClosed, NULL);
        side_free(rx);
    }
    g_ptr_array_remove(f->srv_opens, so);
    vnr_deref(so->vnet_root, false);
    fcb_deref(f);
}

static void so_deref(SrvOpen *so)
{
    so->refs--;
    refs_check(rdr_of_fcb(so->fcb)->rdbss, so->refs, "SRV_OPEN");
    if (so->refs == 0 && !so->finalized)
        finalize_srv_open(so);
}

static void finalize_fobx(Fobx *x)
{
    MiniRdr *m = rdr_of_fcb(x->fcb);
    if (x->finalized) {
        fail(m->rdbss, "FOBX of %s finalized twice", x->fcb->path);
        return;
    }
    x->finalized = true;
    ilist_unlink(&m->rdbss->fobxs, &x->live);
    g_ptr_array_add(m->rdbss->finalized, x);
    g_ptr_array_remove(x->srv_open->fobxs, x);
    RxContext *rx = side_rx(m);
    rx->fcb = x->fcb;
    rx->srv_open = x->srv_open;
    rx->fobx = x;
    rx_call(rx, ID_MRxDeallocateForFobx, NULL);
    side_free(rx);
    so_deref(x->srv_open);
}

static void fobx_deref(Fobx *x)
{
    x->refs--;
    refs_check(rdr_of_fcb(x->fcb)->rdbss, x->refs, "FOBX");
    if (x->refs == 0 && !x->finalized)
        finalize_fobx(x);
}

/* ---- the server-side close of a SRV_OPEN ---- */

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
    side_free(rx);
    void (*then)(void *) = c->then;
    void *ctx = c->ctx;
    record_free(rdr_of_fcb(so->fcb)->rdbss, c);
    so_deref(so); /* the creation reference goes with the close */
    if (then)
        then(ctx);
}

/* MRxCloseSrvOpen, then mark it closed and drop its creation reference. */
static void close_srv_open(SrvOpen *so, void (*then)(void *), void *ctx)
{
    MiniRdr *m = rdr_of_fcb(so->fcb);
    if (so->flags & SRVOPEN_FLAG_CLOSE_DELAYED) {
        so->flags &= ~(uint32_t)SRVOPEN_FLAG_CLOSE_DELAYED;
        so->fcb->net_root->srv_call->close_delayed--;
    }
    /* Closing from now on: no new open collapses onto it while the server
     * close is on its way (collapse_candidate wants a Good SRV_OPEN). */
    so->condition = COND_CLOSING;
    RxContext *rx = side_rx(m);
    rx->fcb = so->fcb;
    rx->srv_open = so;
    rx->srv_call = so->fcb->net_root->srv_call;
    rx->vnet_root = so->vnet_root;
    CloseStep *c = record_new(m->rdbss, sizeof *c);
    c->so = so;
    c->then = then;
    c->ctx = ctx;
    rx->k_ctx = c;
    rx_call(rx, ID_MRxCloseSrvOpen, after_close_srv_open);
}

/* A delayed close ends: FOBX first, then the server close (d.3) -- unless
 * a new open collapsed onto the SRV_OPEN meanwhile (b.4), which then keeps
 * it. */
static void end_delayed_close(Fobx *x, void (*then)(void *), void *ctx)
{
    SrvOpen *so = x->srv_open;
    x->scavenge_pending = false;
    so->refs++; /* keep it while its FOBX goes */
    fobx_deref(x);
    so->refs--;
    if ((so->flags & SRVOPEN_FLAG_CLOSE_DELAYED) && so->open_count == 0 && !(so->flags & SRVOPEN_FLAG_CLOSED)) {
        close_srv_open(so, then, ctx);
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
            end_delayed_close(x, NULL, NULL);
    }
    /* The scavenger holds the name-table lock exclusively: what its
     * finalizations dereference to the threshold goes at once, too. */
    for (guint i = 0; i < items->len; i++) {
        void *o = g_ptr_array_index(items, i);
        if (g_ptr_array_find(m->vnet_roots, o, NULL) && ((VNetRoot *)o)->refs == 1)
            finalize_vnet_root(o, true);
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

/* ---- set-up, start, stop ---- */

void rdbss_pools_init(RdbssPools *p)
{
    pool_init(&p->op, sizeof(Op));
    pool_init(&p->fcb, sizeof(Fcb));
    pool_init(&p->srv_open, sizeof(SrvOpen));
    pool_init(&p->fobx, sizeof(Fobx));
}

void rdbss_pools_clear(RdbssPools *p)
{
    pool_clear(&p->op);
    pool_clear(&p->fcb);
    pool_clear(&p->srv_open);
    pool_clear(&p->fobx);
}

Rdbss *rdbss_new(Sim *sim, Trace *trace, NetNode *node, RdbssPools *pools)
{
    Rdbss *r = g_new0(Rdbss, 1);
    r->sim = sim;
    r->trace = trace;
    r->node = node;
    r->rdrs = g_ptr_array_new();
    r->flush_interval = SIM_SEC;
    r->on_started = g_array_new(FALSE, FALSE, sizeof(Waiting));
    r->pools = pools;
    r->drives = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, drive_free);
    r->finalized = g_ptr_array_new();
    r->vnr_all = g_ptr_array_new();
    r->nr_all = g_ptr_array_new();
    r->sc_all = g_ptr_array_new();
    r->next_id = 1;
    return r;
}

MiniRdr *rdbss_register(Rdbss *r, const char *name, const MINIRDR_DISPATCH *d, void *ctx, SimTime request_timeout,
                        bool delayed_close)
{
    MiniRdr *m = g_new0(MiniRdr, 1);
    m->rdbss = r;
    m->name = g_strdup(name);
    m->name_id = trace_name(r->trace, name);
    m->d = d;
    m->ctx = ctx;
    m->state = RDR_STARTABLE;
    m->request_timeout = request_timeout;
    m->delayed_close = delayed_close;
    m->srv_calls = g_ptr_array_new();
    m->net_roots = g_ptr_array_new();
    m->vnet_roots = g_ptr_array_new();
    m->scavenge = g_ptr_array_new();
    g_ptr_array_add(r->rdrs, m);
    return m;
}

void *rdbss_rdr_context(const MiniRdr *m) { return m->ctx; }

void rdbss_set_coherence(Rdbss *r, Coherence *coh) { r->coh = coh; }

void rdbss_set_flush_interval(Rdbss *r, SimTime t) { r->flush_interval = t; }

static void starts_ended(Rdbss *r);

bool rdbss_starting(const Rdbss *r)
{
    for (guint i = 0; i < r->rdrs->len; i++)
        if (((MiniRdr *)g_ptr_array_index(r->rdrs, i))->state == RDR_START_IN_PROGRESS)
            return true;
    return false;
}

void rdbss_when_started(Rdbss *r, void (*fn)(void *ctx), void *ctx, void (*drop)(void *ctx))
{
    Waiting w = { fn, ctx, drop };
    g_array_append_val(r->on_started, w);
    starts_ended(r);
}

const char *rdbss_rdr_name(const MiniRdr *m) { return m->name; }
Rdbss *rdbss_of_context(const RxContext *rx) { return rx->rdbss; }
NetNode *rdbss_node(const Rdbss *r) { return r->node; }
Sim *rdbss_sim(const Rdbss *r) { return r->sim; }
SimTime rdbss_request_timeout(const MiniRdr *m) { return m->request_timeout; }

/* (g): the private start request reaches MRxDevFcbXXXControlFile from the
 * user-mode service, is posted to the system process (the first call
 * answers STATUS_PENDING: post me), runs again, and RxStartMinirdr calls
 * MRxStart.  Application statements that come meanwhile wait for it. */

/* When the last start in progress has ended, what waited for it runs. */
static void starts_ended(Rdbss *r)
{
    if (rdbss_starting(r) || !r->on_started->len)
        return;
    GArray *w = r->on_started;
    r->on_started = g_array_new(FALSE, FALSE, sizeof(Waiting));
    for (guint i = 0; i < w->len; i++)
        g_array_index(w, Waiting, i).fn(g_array_index(w, Waiting, i).ctx);
    g_array_unref(w);
}

static void start_done(RxContext *rx)
{
    Rdbss *r = rx->rdbss;
    rx->rdr->state = rx->status == STATUS_SUCCESS ? RDR_STARTED : RDR_STARTABLE;
    irp_done_rx(rx);
    starts_ended(r);
}

static void start_step2(RxContext *rx)
{
    if (rx->status != STATUS_SUCCESS && rx->status != STATUS_NOT_IMPLEMENTED) {
        start_done(rx);
        return;
    }
    rx_call(rx, ID_MRxStart, start_done);
}

static void start_step1(RxContext *rx) { rx_call(rx, ID_MRxDevFcbXXXControlFile, start_step2); }

void rdbss_start(Rdbss *r, MiniRdr *m, RxIrpDone done, void *ctx)
{
    Op *o = op_new(r, m, done, ctx);
    if (m->state == RDR_STARTED) {
        irp_done(o, STATUS_SUCCESS, 0); /* REDIRECTOR_STARTED: already running */
        return;
    }
    o->rx.information = 1; /* the first pass comes from a user process */
    m->state = RDR_START_IN_PROGRESS;
    rx_call(&o->rx, ID_MRxDevFcbXXXControlFile, start_step1);
}

static bool has_fcbs(MiniRdr *m)
{
    for (guint i = 0; i < m->net_roots->len; i++)
        if (g_hash_table_size(((NetRoot *)g_ptr_array_index(m->net_roots, i))->fcbs))
            return true;
    return false;
}

static void stop_step2(RxContext *rx)
{
    /* The state goes back to STARTABLE whatever MRxStop said (RxStopMinirdr's
     * page; MRxStop's page disagrees; SEQUENCES.md g.6). */
    rx->rdr->state = RDR_STARTABLE;
    if (rx->status == STATUS_SUCCESS && has_fcbs(rx->rdr))
        rx->status = STATUS_REDIRECTOR_HAS_OPEN_HANDLES;
    irp_done_rx(rx);
}

static void stop_step1(RxContext *rx)
{
    rx->rdr->state = RDR_STOP_IN_PROGRESS;
    rx_call(rx, ID_MRxStop, stop_step2);
}

void rdbss_stop(Rdbss *r, MiniRdr *m, RxIrpDone done, void *ctx)
{
    Op *o = op_new(r, m, done, ctx);
    if (m->state != RDR_STARTED) {
        irp_done(o, STATUS_REDIRECTOR_NOT_STARTED, 0);
        return;
    }
    rx_call(&o->rx, ID_MRxDevFcbXXXControlFile, stop_step1);
}

/* ---- names ---- */

/* Split "\\srv\share\rest" (or "\srv\share\rest") into its parts. */
bool rdbss_split_unc(const char *unc, char **server, char **share, char **rest)
{
    while (*unc == '\\')
        unc++;
    char **parts = g_strsplit(unc, "\\", 3);
    bool ok = parts[0] && *parts[0] && parts[1] && *parts[1];
    if (ok) {
        *server = g_strdup_printf("\\%s", parts[0]);
        *share = g_strdup(parts[1]);
        *rest = g_strdup(parts[2] ? parts[2] : "");
    }
    g_strfreev(parts);
    return ok;
}

/* One SRV_CALL per server for all users: the connection id separates
 * V_NET_ROOTs, not server connections. */
static SrvCall *find_srv_call(MiniRdr *m, const char *name)
{
    for (guint i = 0; i < m->srv_calls->len; i++) {
        SrvCall *sc = g_ptr_array_index(m->srv_calls, i);
        if (strcmp(sc->name, name) == 0)
            return sc;
    }
    return NULL;
}

static NetRoot *find_net_root(MiniRdr *m, SrvCall *sc, const char *name)
{
    for (guint i = 0; i < m->net_roots->len; i++) {
        NetRoot *nr = g_ptr_array_index(m->net_roots, i);
        if (nr->srv_call == sc && g_ascii_strcasecmp(nr->name, name) == 0)
            return nr;
    }
    return NULL;
}

/* The V_NET_ROOT of the NET_ROOT with this connection id, compared byte
 * for byte (STRUCTURES.md 4.2).  The credentials travel in the id: a
 * redirector without MRxGetConnectionId (id 0 for everyone) gets one
 * V_NET_ROOT per share, whose credentials then serve every user. */
static VNetRoot *find_vnet_root(NetRoot *nr, uint64_t id)
{
    for (guint i = 0; i < nr->vnet_roots->len; i++) {
        VNetRoot *v = g_ptr_array_index(nr->vnet_roots, i);
        if (v->connection_id == id && !v->finalized && !v->upper_done)
            return v;
    }
    return NULL;
}

/* ---- connection construction (a.1 step 4, e.1) ---- */

static void construct(RxContext *rx);

static void wake_waiters(SrvCall *sc)
{
    GPtrArray *w = sc->waiters;
    sc->waiters = g_ptr_array_new();
    for (guint i = 0; i < w->len; i++)
        construct(g_ptr_array_index(w, i));
    g_ptr_array_unref(w);
}

static void winner_notified(RxContext *rx)
{
    SrvCall *sc = rx->srv_call;
    /* success -> Good, anything else -> Bad (a.1 step 4.3.5) */
    sc->condition = rx->status == STATUS_SUCCESS || rx->status == STATUS_NOT_IMPLEMENTED ? COND_GOOD : COND_BAD;
    if (sc->condition == COND_BAD)
        sc->status = rx->status;
    wake_waiters(sc);
}

static void srv_call_created(RxContext *rx)
{
    SrvCall *sc = rx->srv_call;
    if (rx->status != STATUS_SUCCESS) {
        sc->condition = COND_BAD;
        sc->status = rx->status;
        side_free(rx);
        wake_waiters(sc);
        /* The failed construction is dereferenced: a Bad SRV_CALL answers
         * with its status until the scavenger finalizes it; the next
         * attempt after that connects anew. */
        scavenge_later(sc->rdr, sc);
        return;
    }
    /* MRxSrvCallWinnerNotify after every successful SRV_CALL creation (seed 003). */
    RxContext *w = side_rx(sc->rdr);
    w->srv_call = sc;
    side_free(rx);
    rx_call(w, ID_MRxSrvCallWinnerNotify, winner_notified);
    side_free(w);
}

static void vnet_root_created(RxContext *rx)
{
    VNetRoot *v = rx->vnet_root;
    NetRoot *nr = v->net_root;
    NTSTATUS st = rx->status == STATUS_SUCCESS ? rx->vnet_root_status : rx->status;
    NTSTATUS nst = rx->status == STATUS_SUCCESS ? rx->net_root_status : rx->status;
    if (nst == STATUS_SUCCESS && st == STATUS_SUCCESS) {
        nr->condition = COND_GOOD;
        v->condition = COND_GOOD;
    } else if (nst == STATUS_SUCCESS) {
        nr->condition = COND_GOOD;
        v->condition = COND_BAD;
    } else {
        nr->condition = COND_BAD;
        v->condition = COND_BAD;
    }
    v->status = st != STATUS_SUCCESS ? st : nst;
    if (v->condition == COND_BAD)
        scavenge_later(rx->rdr, v); /* as a Bad SRV_CALL: finalized by the scavenger */
    wake_waiters(nr->srv_call);
    construct(rx); /* finds the V_NET_ROOT now, Good or Bad */
}

/* The continuation of whoever asked for the connection. */
static void construct_done(RxContext *rx, NTSTATUS st)
{
    rx->status = st;
    void (*k)(RxContext *) = (void (*)(RxContext *))rx->k_ctx;
    k(rx);
}

static VNetRoot *vnet_root_new(MiniRdr *m, NetRoot *nr, RxContext *rx)
{
    VNetRoot *v = g_new0(VNetRoot, 1);
    v->node_type = RX_NTC_V_NETROOT;
    v->name = rx->connection_id ? g_strdup_printf("%s;%llu", nr->name, (unsigned long long)rx->connection_id)
                                : g_strdup(nr->name);
    v->net_root = nr;
    v->user = g_strdup(rx->user);
    v->password = g_strdup(rx->password);
    v->connection_id = rx->connection_id;
    v->condition = COND_IN_TRANSITION;
    v->refs = 1; /* the name table's */
    nr->refs++;
    g_ptr_array_add(nr->vnet_roots, v);
    g_ptr_array_add(m->vnet_roots, v);
    g_ptr_array_add(m->rdbss->vnr_all, v);
    return v;
}

static void net_root_named(RxContext *rx)
{
    MiniRdr *m = rx->rdr;
    SrvCall *sc = rx->srv_call;
    char *name = g_strconcat(sc->name, "\\", rx->share, NULL);
    NetRoot *nr = find_net_root(m, sc, name);
    if (!nr) {
        nr = g_new0(NetRoot, 1);
        nr->node_type = RX_NTC_NETROOT;
        nr->name = name;
        nr->srv_call = sc;
        nr->condition = COND_IN_TRANSITION;
        nr->fcbs = g_hash_table_new(g_str_hash, g_str_equal);
        nr->vnet_roots = g_ptr_array_new();
        nr->refs = 1;
        sc->refs++;
        g_ptr_array_add(m->net_roots, nr);
        g_ptr_array_add(m->rdbss->nr_all, nr);
    } else {
        g_free(name);
    }
    rx->net_root = nr;
    rx->vnet_root = vnet_root_new(m, nr, rx);
    rx->net_root_status = rx->vnet_root_status = STATUS_SUCCESS;
    rx_call(rx, ID_MRxCreateVNetRoot, vnet_root_created);
}

/* Find or construct SRV_CALL -> NET_ROOT -> V_NET_ROOT for rx->server,
 * rx->share with rx's credentials; waits while anything is in transition;
 * ends in construct_done. */
static void construct(RxContext *rx)
{
    MiniRdr *m = rx->rdr;
    SrvCall *sc = find_srv_call(m, rx->server);
    if (!sc) {
        sc = g_new0(SrvCall, 1);
        sc->node_type = RX_NTC_SRVCALL;
        sc->name = g_strdup(rx->server);
        sc->condition = COND_IN_TRANSITION;
        sc->status = STATUS_BAD_NETWORK_PATH; /* pre-set in the callback context */
        sc->rdr = m;
        sc->refs = 1;
        sc->waiters = g_ptr_array_new();
        sc->opens = g_ptr_array_new();
        sc->parked_breaks = g_ptr_array_new();
        g_ptr_array_add(m->srv_calls, sc);
        g_ptr_array_add(m->rdbss->sc_all, sc);
        g_ptr_array_add(sc->waiters, rx);
        RxContext *c = side_rx(m);
        c->srv_call = sc;
        c->server = g_strdup(rx->server);
        rx_call(c, ID_MRxCreateSrvCall, srv_call_created);
        return;
    }
    rx->srv_call = sc;
    if (sc->condition == COND_IN_TRANSITION) {
        g_ptr_array_add(sc->waiters, rx);
        return;
    }
    if (sc->condition != COND_GOOD) {
        construct_done(rx, sc->status); /* a Bad SRV_CALL answers with its stored status */
        return;
    }
    char *name = g_strconcat(sc->name, "\\", rx->share, NULL);
    NetRoot *nr = find_net_root(m, sc, name);
    g_free(name);
    VNetRoot *v = nr ? find_vnet_root(nr, rx->connection_id) : NULL;
    if (v && v->condition == COND_IN_TRANSITION) {
        g_ptr_array_add(sc->waiters, rx);
        return;
    }
    if (v) {
        rx->net_root = nr;
        rx->vnet_root = v;
        /* The V_NET_ROOT's own status reaches the caller (where ReactOS
         * returns STATUS_BAD_NETWORK_PATH for any Bad V_NET_ROOT, the
         * application here sees why: LOGON_FAILURE, BAD_NETWORK_PATH...). */
        construct_done(rx, v->condition == COND_GOOD ? STATUS_SUCCESS : v->status);
        return;
    }
    if (nr && nr->condition == COND_IN_TRANSITION) {
        g_ptr_array_add(sc->waiters, rx);
        return;
    }
    /* A NET_ROOT or V_NET_ROOT to build: its name first. */
    rx_call(rx, ID_MRxExtractNetRootName, net_root_named);
}

static void got_connection_id(RxContext *rx)
{
    if (rx->status != STATUS_SUCCESS)
        rx->connection_id = 0; /* default: session 0 */
    construct(rx);
}

/* MRxGetConnectionId, then find or construct (a.1 step 4). */
static void obtain_connection(RxContext *rx, void (*k)(RxContext *))
{
    rx->k_ctx = (void *)k;
    rx->connection_id = 0;
    rx_call(rx, ID_MRxGetConnectionId, got_connection_id);
}

/* ---- net use ---- */

static void use_done(RxContext *rx)
{
    Op *o = (Op *)rx;
    if (rx->status != STATUS_SUCCESS) {
        irp_done(o, rx->status, 0);
        return;
    }
    VNetRoot *v = rx->vnet_root;
    if (!v->extra_ref) {
        v->extra_ref = true; /* the "add connection" reference */
        v->refs++;
    }
    const char *drive = (const char *)(uintptr_t)rx->k_arg;
    if (drive) {
        Drive *d = g_new0(Drive, 1);
        d->v = v;
        d->subpath = g_strdup(rx->subpath);
        g_hash_table_insert(rx->rdbss->drives, g_strdup(drive), d);
    }
    if (*rx->subpath) {
        rx->path = g_strdup(rx->subpath);
        rx_call(rx, ID_MRxIsValidDirectory, irp_done_rx);
        return;
    }
    irp_done(o, STATUS_SUCCESS, 0);
}

static void use_step1(RxContext *rx)
{
    obtain_connection(rx, use_done);
}

static MiniRdr *first_started(Rdbss *r)
{
    for (guint i = 0; i < r->rdrs->len; i++) {
        MiniRdr *m = g_ptr_array_index(r->rdrs, i);
        if (m->state == RDR_STARTED)
            return m;
    }
    return NULL;
}

/* The redirector that serves a server: one whose table already holds a Good
 * SRV_CALL for it, else the first started one in provider order (a failure
 * moves on to the next, see create_resolved). */
static MiniRdr *serving(Rdbss *r, const char *server, guint from)
{
    for (guint i = from; i < r->rdrs->len; i++) {
        MiniRdr *m = g_ptr_array_index(r->rdrs, i);
        for (guint j = 0; j < m->srv_calls->len; j++) {
            SrvCall *sc = g_ptr_array_index(m->srv_calls, j);
            if (m->state == RDR_STARTED && strcmp(sc->name, server) == 0 && sc->condition == COND_GOOD)
                return m;
        }
    }
    for (guint i = from; i < r->rdrs->len; i++) {
        MiniRdr *m = g_ptr_array_index(r->rdrs, i);
        if (m->state == RDR_STARTED)
            return m;
    }
    return NULL;
}

void rdbss_use(Rdbss *r, const char *drive, const char *unc, const char *user, const char *password, RxIrpDone done,
               void *ctx)
{
    MiniRdr *m = serving(r, "", 0);
    Op *o = op_new(r, m ? m : first_started(r), done, ctx);
    if (!m) {
        o->rx.routine = ID_MRxDevFcbXXXControlFile;
        irp_done(o, STATUS_REDIRECTOR_NOT_STARTED, 0);
        return;
    }
    RxContext *rx = &o->rx;
    if (!rdbss_split_unc(unc, &rx->server, &rx->share, &rx->subpath)) {
        irp_done(o, STATUS_BAD_NETWORK_PATH, 0);
        return;
    }
    m = serving(r, rx->server, 0);
    rx->rdr = m;
    rx->user = user;
    rx->password = password;
    rx->k_arg = (uint64_t)(uintptr_t)(drive ? g_intern_string(drive) : NULL);
    /* e.1: the provider DLL's private request, then the tree connect. */
    rx_call(rx, ID_MRxDevFcbXXXControlFile, use_step1);
}

/* ---- opens (a.2, b) ---- */

static Fcb *fcb_new(NetRoot *nr, VNetRoot *v, const char *path)
{
    MiniRdr *m = nr->srv_call->rdr;
    Fcb *f = pool_alloc0(&m->rdbss->pools->fcb);
    f->node_type = RX_NTC_FCB;
    f->path = g_strdup(path);
    f->key = g_strconcat(nr->name, "\\", path, NULL);
    f->net_root = nr;
    f->vnet_root = v;
    f->rdr = m;
    f->srv_opens = g_ptr_array_new();
    f->cached = ranges_new();
    f->lost = ranges_new();
    f->writing = g_array_new(FALSE, FALSE, sizeof(Range));
    f->locks = g_array_new(FALSE, FALSE, sizeof(BufferedLock));
    f->server_locks = g_array_new(FALSE, FALSE, sizeof(BufferedLock));
    f->refs = 1; /* the FCB table's */
    f->state = FCB_STATE_HANDLECACHING;
    nr->refs++;
    /* replace, not insert: the table's key must be this FCB's own path,
     * which lives as long as the FCB */
    g_hash_table_replace(nr->fcbs, f->path, f);
    f->live.data = f;
    ilist_push_tail(&rdr_of_fcb(f)->rdbss->fcbs, &f->live);
    return f;
}

static SrvOpen *srv_open_new(Fcb *f, VNetRoot *v, RxContext *rx)
{
    SrvOpen *so = pool_alloc0(&rx->rdbss->pools->srv_open);
    so->node_type = RX_NTC_SRVOPEN;
    so->fcb = f;
    so->vnet_root = v;
    so->condition = COND_IN_TRANSITION;
    so->access = rx->access;
    so->share_access = rx->share_access;
    so->fobxs = g_ptr_array_new();
    so->refs = 1; /* dropped at close */
    v->refs++;
    f->refs++;
    g_ptr_array_add(f->srv_opens, so);
    so->live.data = so;
    ilist_push_tail(&rdr_of_fcb(f)->rdbss->srv_opens, &so->live);
    return so;
}

Fobx *rx_create_fobx(RxContext *rx)
{
    Fobx *x = pool_alloc0(&rx->rdbss->pools->fobx);
    x->node_type = RX_NTC_FOBX;
    x->srv_open = rx->srv_open;
    x->fcb = rx->fcb;
    x->id = rx->rdbss->next_id++;
    x->refs = 1;
    rx->srv_open->refs++;
    g_ptr_array_add(rx->srv_open->fobxs, x);
    x->live.data = x;
    ilist_push_tail(&rx->rdbss->fobxs, &x->live);
    rx->fobx = x;
    return x;
}

static bool fcb_share_conflict(Fcb *f, uint32_t access, uint32_t share)
{
    for (guint i = 0; i < f->srv_opens->len; i++) {
        SrvOpen *so = g_ptr_array_index(f->srv_opens, i);
        for (guint j = 0; j < so->fobxs->len; j++) {
            Fobx *x = g_ptr_array_index(so->fobxs, j);
            if (x->cleaned_up)
                continue;
            bool r = access & 1, w = access & 6, d = access & 0x10000;
            bool or_ = so->access & 1, ow = so->access & 6, od = so->access & 0x10000;
            if ((r && !(so->share_access & 1)) || (w && !(so->share_access & 2)) || (d && !(so->share_access & 4)) ||
                (or_ && !(share & 1)) || (ow && !(share & 2)) || (od && !(share & 4)))
                return true;
        }
    }
    return false;
}

/* The FCB's buffering state from the SRV_OPEN's flags, set on the first
 * open without calling the mini-redirector (a.2 step 8.8, f.6). */
static void initial_buffering(Fcb *f, SrvOpen *so)
{
    if (f->opens == 1)
        f->state = (f->state & ~0x0fe00000u) | so->buffering_flags;
}

static void opened(RxContext *rx)
{
    Op *o = (Op *)rx;
    Fcb *f = rx->fcb;
    SrvOpen *so = rx->srv_open;
    Fobx *x = rx->fobx;
    if (rx->status != STATUS_SUCCESS) {
        if (so && so->condition == COND_IN_TRANSITION) {
            /* h.2: a failed create: its FOBX, then MRxForceClosed, then the FCB */
            so->condition = COND_BAD;
            f->net_root->srv_call->opens_in_flight--;
            if (x)
                fobx_deref(x);
            so_deref(so);
        }
        f->refs++;
        fcb_deref(f);
        irp_done(o, rx->status, 0);
        return;
    }
    if (so->condition == COND_IN_TRANSITION) {
        so->condition = COND_GOOD;
        SrvCall *sc = f->net_root->srv_call;
        sc->opens_in_flight--;
        g_ptr_array_add(sc->opens, so);
    }
    so->open_count++;
    f->uncleans++;
    f->opens++;
    if (rx->delete_on_close)
        f->delete_on_close = true;
    initial_buffering(f, so);
    o->result = x;
    /* Breaks that arrived for this open before its key was known. */
    SrvCall *sc = f->net_root->srv_call;
    for (guint i = 0; i < sc->parked_breaks->len;) {
        uint64_t *b = g_ptr_array_index(sc->parked_breaks, i);
        if (b[0] == so->key) {
            g_ptr_array_remove_index(sc->parked_breaks, i);
            rx_indicate_buffering_change(sc, b[0], (OplockLevel)b[1], (SimTime)b[2]);
            g_free(b);
        } else {
            i++;
        }
    }
    irp_done(o, STATUS_SUCCESS, x->id);
}

static void create_new_srv_open(RxContext *rx)
{
    SrvOpen *so = srv_open_new(rx->fcb, rx->vnet_root, rx);
    rx->srv_open = so;
    rx->fobx = NULL;
    rx->fcb->net_root->srv_call->opens_in_flight++;
    rx_call(rx, ID_MRxCreate, opened);
}

static void collapsed(RxContext *rx)
{
    if (rx->status != STATUS_SUCCESS) {
        create_new_srv_open(rx);
        return;
    }
    SrvOpen *so = rx->srv_open;
    if (so->flags & SRVOPEN_FLAG_CLOSE_DELAYED) {
        /* revived from delayed close (b.4): its waiting FOBX goes now */
        so->flags &= ~(uint32_t)SRVOPEN_FLAG_CLOSE_DELAYED;
        so->fcb->net_root->srv_call->close_delayed--;
    }
    opened(rx);
}

static SrvOpen *collapse_candidate(RxContext *rx)
{
    Fcb *f = rx->fcb;
    for (guint i = 0; i < f->srv_opens->len; i++) {
        SrvOpen *so = g_ptr_array_index(f->srv_opens, i);
        if (so->vnet_root == rx->vnet_root && so->access == rx->access && so->share_access == rx->share_access &&
            so->condition == COND_GOOD && !(so->flags & (SRVOPEN_FLAG_CLOSED | SRVOPEN_FLAG_COLLAPSING_DISABLED)))
            return so;
    }
    return NULL;
}

static void candidate_answered(RxContext *rx)
{
    if (rx->status == STATUS_SUCCESS)
        rx_call(rx, ID_MRxCollapseOpen, collapsed);
    else
        create_new_srv_open(rx);
}

static void probe_answered(RxContext *rx)
{
    /* MORE_PROCESSING_REQUIRED vetoes collapsing (b.4) */
    SrvOpen *cand = rx->status == STATUS_MORE_PROCESSING_REQUIRED ? NULL : collapse_candidate(rx);
    if (!cand) {
        create_new_srv_open(rx);
        return;
    }
    rx->srv_open = cand;
    rx_call(rx, ID_MRxShouldTryToCollapseThisOpen, candidate_answered);
}

static void name_preparsed(RxContext *rx)
{
    NetRoot *nr = rx->net_root;
    Fcb *f = g_hash_table_lookup(nr->fcbs, rx->path);
    if (f && f->orphaned)
        f = NULL;
    if (!f)
        f = fcb_new(nr, rx->vnet_root, rx->path);
    rx->fcb = f;
    if (fcb_share_conflict(f, rx->access, rx->share_access)) {
        f->refs++;
        fcb_deref(f);
        irp_done((Op *)rx, rx->disposition == 2 ? STATUS_OBJECT_NAME_COLLISION : STATUS_SHARING_VIOLATION, 0);
        return;
    }
    bool may_collapse = (rx->disposition == 1 || rx->disposition == 3) && !rx->delete_on_close;
    if (!may_collapse) {
        create_new_srv_open(rx);
        return;
    }
    rx->srv_open = NULL; /* the general probe */
    rx_call(rx, ID_MRxShouldTryToCollapseThisOpen, probe_answered);
}

static void create_connected(RxContext *rx)
{
    if (rx->status != STATUS_SUCCESS) {
        /* provider order: the next redirector may serve the name */
        guint i = 0;
        while (i < rx->rdbss->rdrs->len && g_ptr_array_index(rx->rdbss->rdrs, i) != rx->rdr)
            i++;
        MiniRdr *next = serving(rx->rdbss, rx->server, i + 1);
        if (next && !rx->srv_call->opens->len && rx->k_arg == 0 &&
            rx->srv_call->condition == COND_BAD) {
            rx->rdr = next;
            rx->k_arg = 1;
            obtain_connection(rx, create_connected);
            return;
        }
        irp_done((Op *)rx, rx->status, 0);
        return;
    }
    /* a.2 step 7: MRxGetConnectionId again with the lookup, then MRxPreparseName */
    rx_call(rx, ID_MRxPreparseName, name_preparsed);
}

void rdbss_create(Rdbss *r, const char *path, uint32_t access, uint32_t share, uint32_t disposition,
                  OplockLevel oplock, bool delete_on_close, const char *user, const char *password, RxIrpDone done,
                  void *ctx)
{
    Op *o = op_new(r, first_started(r), done, ctx);
    RxContext *rx = &o->rx;
    rx->access = access;
    rx->share_access = share;
    rx->disposition = disposition;
    rx->oplock = oplock;
    rx->delete_on_close = delete_on_close;
    rx->user = user;
    rx->password = password;
    if (!rx->rdr) {
        rx->routine = ID_MRxCreate;
        irp_done(o, STATUS_REDIRECTOR_NOT_STARTED, 0); /* a.2 step 6 */
        return;
    }
    if (g_ascii_isalpha(path[0]) && path[1] == ':') {
        char drive[3] = { (char)g_ascii_toupper(path[0]), ':', 0 };
        Drive *d = g_hash_table_lookup(r->drives, drive);
        VNetRoot *v = d ? d->v : NULL;
        if (!v || v->finalized) {
            irp_done(o, STATUS_OBJECT_PATH_NOT_FOUND, 0);
            return;
        }
        rx->rdr = v->net_root->srv_call->rdr;
        rx->server = g_strdup(v->net_root->srv_call->name);
        const char *sh = strrchr(v->net_root->name, '\\');
        rx->share = g_strdup(sh + 1);
        rx->subpath = g_strdup("");
        const char *rest = path + 2;
        while (*rest == '\\')
            rest++;
        rx->path = *d->subpath ? g_strconcat(d->subpath, "\\", rest, NULL) : g_strdup(rest);
        rx->user = v->user;
        rx->password = v->password;
    } else {
        char *rest = NULL;
        if (!rdbss_split_unc(path, &rx->server, &rx->share, &rest) || !*rest) {
            g_free(rest);
            irp_done(o, STATUS_OBJECT_NAME_INVALID, 0);
            return;
        }
        rx->path = rest;
        rx->subpath = g_strdup("");
        rx->rdr = serving(r, rx->server, 0);
    }
    obtain_connection(rx, create_connected);
}

/* ---- handles ---- */

/* A handle that can take I/O: not closed, FCB not orphaned by a forced
 * connection deletion (e.3: only cleanup and close get through then). */
static NTSTATUS usable(Fobx *x)
{
    if (!x || x->cleaned_up || x->finalized)
        return STATUS_INVALID_HANDLE;
    if (x->fcb->orphaned)
        return STATUS_UNEXPECTED_NETWORK_ERROR;
    return STATUS_SUCCESS;
}

static Op *io_op(Rdbss *r, Fobx *x, RxIrpDone done, void *ctx)
{
    Op *o = op_new(r, x && !x->finalized ? rdr_of_fcb(x->fcb) : first_started(r), done, ctx);
    if (x && !x->finalized) {
        o->rx.fobx = x;
        o->rx.fcb = x->fcb;
        o->rx.srv_open = x->srv_open;
        o->rx.vnet_root = x->srv_open->vnet_root;
        o->rx.net_root = x->fcb->net_root;
        o->rx.srv_call = x->fcb->net_root->srv_call;
    }
    return o;
}

/* ---- the client cache ---- */

/* The client cache: Range with the stamp of the bytes and aux 1 when
 * dirty (written by an application, not yet by the lazy writer). */
static void cache_put(Fcb *f, uint64_t start, uint64_t end, bool dirty, uint64_t stamp)
{
    Range n = { start, end, stamp, dirty };
    ranges_put(f->cached, n);
}

static void cache_purge(Fcb *f) { g_array_set_size(f->cached, 0); }


/* Dirty data that will never reach the server (a failed paging write, an
 * orphaned file): kept until an application of the file can be told. */
static void lose_dirty(Fcb *f, uint64_t start, uint64_t end)
{
    Range n = { start, end, 0, 0 };
    ranges_put(f->lost, n);
}

/* Lost data not yet reported: the IRP that reports it completes with
 * STATUS_LOST_WRITEBEHIND_DATA, and the oracle no longer expects it. */
static NTSTATUS take_lost(Fcb *f, NTSTATUS st)
{
    if (!f->lost->len)
        return st;
    Coherence *coh = rdr_of_fcb(f)->rdbss->coh;
    for (guint i = 0; coh && i < f->lost->len; i++) {
        const Range *r = &g_array_index(f->lost, Range, i);
        coh_lost(coh, f->key, r->start, r->end);
    }
    g_array_set_size(f->lost, 0);
    return st == STATUS_SUCCESS ? STATUS_LOST_WRITEBEHIND_DATA : st;
}

/* Write the dirty cached ranges to the server as paging writes
 * (MRxLowIOSubmit[WRITE]), then call `then`. */
typedef struct {
    Fcb *f;
    Fobx *x;
    int left;
    void (*then)(void *ctx);
    void *ctx;
} Flush;

static void flush_write_done(RxContext *rx)
{
    Flush *fl = rx->k_ctx;
    Fcb *f = fl->f;
    for (guint i = 0; i < f->writing->len; i++) {
        const Range *w = &g_array_index(f->writing, Range, i);
        if (w->start == rx->offset && w->stamp == rx->stamp) {
            g_array_remove_index(f->writing, i);
            break;
        }
    }
    if (rx->status != STATUS_SUCCESS)
        lose_dirty(f, rx->offset, rx->offset + rx->length);
    side_free(rx);
    if (--fl->left == 0) {
        void (*then)(void *) = fl->then;
        void *ctx = fl->ctx;
        record_free(rdr_of_fcb(f)->rdbss, fl);
        if (then)
            then(ctx);
    }
}

static void flush_dirty(Fcb *f, Fobx *x, void (*then)(void *), void *ctx)
{
    Rdbss *r = rdr_of_fcb(f)->rdbss;
    Flush *fl = record_new(r, sizeof *fl);
    fl->f = f;
    fl->x = x;
    fl->then = then;
    fl->ctx = ctx;
    fl->left = 1;
    for (guint i = 0; x && !x->finalized && i < f->cached->len; i++) {
        Range *e = &g_array_index(f->cached, Range, i);
        if (!e->aux)
            continue;
        e->aux = 0;
        RxContext *rx = side_rx(rdr_of_fcb(f));
        rx->fcb = f;
        rx->fobx = x;
        rx->srv_open = x->srv_open;
        rx->srv_call = f->net_root->srv_call;
        rx->op = LOWIO_OP_WRITE;
        rx->offset = e->start;
        rx->length = e->end - e->start;
        rx->stamp = e->stamp;
        rx->k_ctx = fl;
        Range w = { e->start, e->end, e->stamp, 0 };
        g_array_append_val(f->writing, w);
        fl->left++;
        rx_call(rx, MRX_LOWIO(LOWIO_OP_WRITE), flush_write_done);
    }
    if (--fl->left == 0) {
        record_free(r, fl);
        if (then)
            then(ctx);
    }
}

static bool has_dirty(Fcb *f)
{
    for (guint i = 0; i < f->cached->len; i++)
        if (g_array_index(f->cached, Range, i).aux)
            return true;
    return false;
}

/* Any handle of the FCB that can still carry I/O for the lazy writer. */
static Fobx *some_fobx(Fcb *f)
{
    for (guint i = 0; i < f->srv_opens->len; i++) {
        SrvOpen *so = g_ptr_array_index(f->srv_opens, i);
        if (so->flags & SRVOPEN_FLAG_CLOSED)
            continue;
        for (guint j = 0; j < so->fobxs->len; j++)
            return g_ptr_array_index(so->fobxs, j);
    }
    return NULL;
}

static void on_write_behind(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Fcb *f = ctx;
    f->context = NULL; /* the timer mark */
    if (!f->finalized && has_dirty(f))
        flush_dirty(f, some_fobx(f), NULL, NULL);
}

static void write_behind(Fcb *f)
{
    if (f->context)
        return;
    f->context = f;
    Rdbss *r = rdr_of_fcb(f)->rdbss;
    sim_after(r->sim, r->flush_interval, on_write_behind, f, 0);
}

/* ---- read, write, locks (c) ---- */

/* The oracle judges what a read returned: the bytes from the cache as a
 * cache read (a break may be on its way), the rest as the server's. */
static void judge_read(Op *o, GArray *from_cache, GArray *from_server)
{
    Rdbss *r = o->rx.rdbss;
    const char *k = o->rx.fcb->key;
    const char *node = net_node_name(r->node);
    coh_count_read(r->coh);
    if (from_cache && from_cache->len)
        coh_judge_read(r->coh, node, k, o->expect, o->epoch, from_cache, o->rx.t0, true);
    if (from_server && from_server->len)
        coh_judge_read(r->coh, node, k, o->expect, o->epoch, from_server, o->rx.t0, false);
}

static void read_done(RxContext *rx)
{
    Op *o = (Op *)rx;
    Fcb *f = rx->fcb;
    if (rx->status == STATUS_SUCCESS) {
        uint64_t end = rx->offset + rx->information;
        /* the cache manager serves what it holds (the application's own
         * dirty data among it) and fills in the rest from the server */
        GArray *cached = ranges_slice(f->cached, rx->offset, end);
        GArray *fetched = rx->stamps ? ranges_slice(rx->stamps, rx->offset, end) : ranges_new();
        for (guint i = 0; i < cached->len; i++)
            ranges_cut(fetched, g_array_index(cached, Range, i).start, g_array_index(cached, Range, i).end);
        if (f->state & FCB_STATE_READCACHING_ENABLED)
            for (guint i = 0; i < fetched->len; i++) {
                Range clean = g_array_index(fetched, Range, i);
                clean.aux = 0; /* the server's aux is its version; in the cache it would mean dirty */
                ranges_fill(f->cached, clean);
            }
        if (rx->rdbss->coh && o->expect)
            judge_read(o, cached, fetched);
        g_array_unref(cached);
        g_array_unref(fetched);
    }
    irp_done_rx(rx);
}

void rdbss_read(Rdbss *r, Fobx *x, uint64_t offset, uint64_t length, RxIrpDone done, void *ctx)
{
    Op *o = io_op(r, x, done, ctx);
    NTSTATUS st = usable(x);
    if (st != STATUS_SUCCESS || length == 0) {
        irp_done(o, st, 0);
        return;
    }
    Fcb *f = x->fcb;
    RxContext *rx = &o->rx;
    rx->op = LOWIO_OP_READ;
    rx->offset = offset;
    rx->length = length;
    rx->t0 = sim_now(r->sim);
    if (r->coh)
        o->expect = coh_expect(r->coh, f->key, offset, offset + length, &o->epoch);
    /* c.1: a cached read is served from the cache, no mini-redirector call. */
    uint64_t end = MIN(offset + length, MAX(f->size, offset));
    if ((f->state & FCB_STATE_READCACHING_ENABLED) && end > offset && ranges_cover(f->cached, offset, end)) {
        if (r->coh) {
            GArray *got = ranges_slice(f->cached, offset, end);
            judge_read(o, got, NULL);
            g_array_unref(got);
        }
        irp_done(o, STATUS_SUCCESS, end - offset);
        return;
    }
    rx_call(rx, MRX_LOWIO(LOWIO_OP_READ), read_done);
}

/* A write acknowledged to its application. */
static void write_acked(RxContext *rx, uint64_t bytes)
{
    Coherence *coh = rx->rdbss->coh;
    if (!coh || !bytes)
        return;
    coh_acked(coh, rx->fcb->key, rx->offset, rx->offset + bytes, rx->stamp);
}

/* Writes go into the cache while the FCB may cache them and no change of
 * its buffering state is in progress: RDBSS holds the FCB exclusively
 * for the change (f.4), so a write cannot slip into a cache that is being
 * flushed and may lose write caching. */
static bool write_caching(const Fcb *f)
{
    return (f->state & FCB_STATE_WRITECACHING_ENABLED) && !(f->state & FCB_STATE_BUFFERSTATE_CHANGING);
}

static void write_cached(RxContext *rx)
{
    Fcb *f = rx->fcb;
    cache_put(f, rx->offset, rx->offset + rx->length, true, rx->stamp);
    f->modified = true;
    write_behind(f);
    write_acked(rx, rx->length);
    irp_done((Op *)rx, STATUS_SUCCESS, rx->length);
}

static void write_done(RxContext *rx)
{
    if (rx->status == STATUS_SUCCESS) {
        rx->fcb->modified = true;
        if (rx->fcb->state & FCB_STATE_READCACHING_ENABLED)
            cache_put(rx->fcb, rx->offset, rx->offset + rx->length, false, rx->stamp);
        write_acked(rx, rx->information);
    }
    irp_done_rx(rx);
}

static void write_extended(RxContext *rx)
{
    Fcb *f = rx->fcb;
    f->size = MAX(f->size, rx->offset + rx->length);
    f->valid_data_length = MAX(f->valid_data_length, rx->offset + rx->length);
    if (write_caching(f))
        write_cached(rx);
    else
        rx_call(rx, MRX_LOWIO(LOWIO_OP_WRITE), write_done);
}

void rdbss_write(Rdbss *r, Fobx *x, uint64_t offset, uint64_t length, RxIrpDone done, void *ctx)
{
    Op *o = io_op(r, x, done, ctx);
    NTSTATUS st = usable(x);
    if (st != STATUS_SUCCESS || length == 0) {
        irp_done(o, st, 0);
        return;
    }
    RxContext *rx = &o->rx;
    Fcb *f = x->fcb;
    rx->op = LOWIO_OP_WRITE;
    rx->offset = offset;
    rx->length = length;
    rx->stamp = r->coh ? coh_stamp(r->coh) : 0;
    bool cached = write_caching(f);
    if (offset + length > f->size) {
        /* c.2: extending writes first ask the mini-redirector */
        rx_call(rx, cached ? ID_MRxExtendForCache : ID_MRxExtendForNonCache, write_extended);
        return;
    }
    if (cached)
        write_cached(rx);
    else
        rx_call(rx, MRX_LOWIO(LOWIO_OP_WRITE), write_done);
}

static void lock_granted(RxContext *rx)
{
    if (rx->status == STATUS_SUCCESS) {
        BufferedLock l = { rx->offset, rx->length, rx->exclusive, rx->fobx->id };
        g_array_append_val(rx->fcb->server_locks, l);
    }
    irp_done_rx(rx);
}

/* Remove the lock of handle `fobx` on exactly this range; false if none. */
static bool lock_remove(GArray *locks, uint64_t fobx, uint64_t offset, uint64_t length)
{
    for (guint i = 0; i < locks->len; i++) {
        BufferedLock *l = &g_array_index(locks, BufferedLock, i);
        if (l->fobx == fobx && l->offset == offset && l->length == length) {
            g_array_remove_index(locks, i);
            return true;
        }
    }
    return false;
}

/* Take the locks of handle `fobx` out of `locks`; NULL when it has none. */
static GArray *locks_take(GArray *locks, uint64_t fobx)
{
    GArray *out = NULL;
    for (guint i = 0; i < locks->len;) {
        BufferedLock *l = &g_array_index(locks, BufferedLock, i);
        if (l->fobx != fobx) {
            i++;
            continue;
        }
        if (!out)
            out = g_array_new(FALSE, FALSE, sizeof(BufferedLock));
        g_array_append_val(out, *l);
        g_array_remove_index(locks, i);
    }
    return out;
}

static void lock_realizable(RxContext *rx)
{
    if (rx->status != STATUS_SUCCESS && rx->status != STATUS_NOT_IMPLEMENTED) {
        irp_done_rx(rx);
        return;
    }
    Fcb *f = rx->fcb;
    BufferedLock l = { rx->offset, rx->length, rx->exclusive, rx->fobx->id };
    if (f->state & FCB_STATE_LOCK_BUFFERING_ENABLED) {
        /* kept locally; pushed to the server when buffering is revoked (c.3) */
        g_array_append_val(f->locks, l);
        irp_done((Op *)rx, STATUS_SUCCESS, 0);
        return;
    }
    LowIoOp op = rx->exclusive ? LOWIO_OP_EXCLUSIVELOCK : LOWIO_OP_SHAREDLOCK;
    rx->op = op;
    rx_call(rx, MRX_LOWIO(op), lock_granted);
}

void rdbss_lock(Rdbss *r, Fobx *x, uint64_t offset, uint64_t length, bool exclusive, RxIrpDone done, void *ctx)
{
    Op *o = io_op(r, x, done, ctx);
    NTSTATUS st = usable(x);
    if (st != STATUS_SUCCESS) {
        irp_done(o, st, 0);
        return;
    }
    o->rx.offset = offset;
    o->rx.length = length;
    o->rx.exclusive = exclusive;
    rx_call(&o->rx, ID_MRxIsLockRealizable, lock_realizable);
}

static void unlocked(RxContext *rx)
{
    if (rx->status == STATUS_SUCCESS)
        lock_remove(rx->fcb->server_locks, rx->fobx->id, rx->offset, rx->length);
    irp_done_rx(rx);
}

void rdbss_unlock(Rdbss *r, Fobx *x, uint64_t offset, uint64_t length, RxIrpDone done, void *ctx)
{
    Op *o = io_op(r, x, done, ctx);
    NTSTATUS st = usable(x);
    if (st != STATUS_SUCCESS) {
        irp_done(o, st, 0);
        return;
    }
    Fcb *f = x->fcb;
    if (lock_remove(f->locks, x->id, offset, length)) {
        irp_done(o, STATUS_SUCCESS, 0); /* a buffered lock: the server never saw it */
        return;
    }
    o->rx.op = LOWIO_OP_UNLOCK;
    o->rx.offset = offset;
    o->rx.length = length;
    rx_call(&o->rx, MRX_LOWIO(LOWIO_OP_UNLOCK), unlocked);
}

static void flush_reported(RxContext *rx) { irp_done((Op *)rx, take_lost(rx->fcb, rx->status), 0); }

static void flushed_then_mrx(void *ctx)
{
    RxContext *rx = ctx;
    rx_call(rx, ID_MRxFlush, flush_reported);
}

void rdbss_flush(Rdbss *r, Fobx *x, RxIrpDone done, void *ctx)
{
    Op *o = io_op(r, x, done, ctx);
    NTSTATUS st = usable(x);
    if (st != STATUS_SUCCESS) {
        irp_done(o, st, 0);
        return;
    }
    flush_dirty(x->fcb, x, flushed_then_mrx, &o->rx);
}

/* ---- information ---- */

static void set_done(RxContext *rx)
{
    Fcb *f = rx->fcb;
    if (rx->status == STATUS_SUCCESS) {
        if (rx->info_class == 1) {
            if (rx->length < f->size) {
                f->truncate_on_close = true; /* shrunk: truncate at the last cleanup */
                ranges_trim(f->cached, rx->length);
                if (rx->rdbss->coh) /* the application cut its own data: not a loss */
                    coh_truncate(rx->rdbss->coh, f->key, rx->length);
            }
            f->size = rx->length;
            f->valid_data_length = MIN(f->valid_data_length, f->size);
            f->modified = true;
        } else if (rx->info_class == 3) {
            f->delete_on_close = true;
        } else if (rx->info_class == 2) {
            for (guint i = 0; i < f->srv_opens->len; i++)
                ((SrvOpen *)g_ptr_array_index(f->srv_opens, i))->flags |= SRVOPEN_FLAG_COLLAPSING_DISABLED;
        }
    }
    irp_done_rx(rx);
}

/* Rename and delete-disposition first scavenge the delayed-close FOBXs of
 * the NET_ROOT, asking MRxAreFilesAliased for those of other FCBs
 * (d.3, RxScavengeFobxsForNetRoot with a purging FCB). */
static void before_set(void *ctx);

static void aliased_answered(RxContext *rx)
{
    Fobx *x = (Fobx *)(uintptr_t)rx->k_arg;
    RxContext *orig = rx->k_ctx;
    side_free(rx);
    end_delayed_close(x, before_set, orig);
}

static void before_set(void *ctx)
{
    RxContext *rx = ctx;
    Rdbss *r = rx->rdbss;
    for (GList *l = r->fobxs.head; l; l = l->next) {
        Fobx *x = l->data;
        if (x->scavenge_pending && x->fcb->net_root == rx->fcb->net_root) {
            g_ptr_array_remove(rdr_of_fcb(x->fcb)->scavenge, x);
            x->scavenge_pending = false;
            if (x->fcb != rx->fcb) {
                RxContext *a = side_rx(rx->rdr);
                a->fcb = rx->fcb;
                a->k_ctx = rx;
                a->k_arg = (uint64_t)(uintptr_t)x;
                rx_call(a, ID_MRxAreFilesAliased, aliased_answered);
            } else {
                end_delayed_close(x, before_set, rx);
            }
            return;
        }
    }
    rx_call(rx, ID_MRxSetFileInfo, set_done);
}

void rdbss_info(Rdbss *r, Fobx *x, const char *what, uint64_t length, const char *new_name, RxIrpDone done,
                void *ctx)
{
    Op *o = io_op(r, x, done, ctx);
    NTSTATUS st = usable(x);
    if (st != STATUS_SUCCESS) {
        irp_done(o, st, 0);
        return;
    }
    RxContext *rx = &o->rx;
    rx->length = length;
    rx->new_name = g_strdup(new_name);
    static const struct {
        const char *what;
        MrxId id;
        int cls;
    } map[] = {
        { "query_file", ID_MRxQueryFileInfo, 0 },   { "query_dir", ID_MRxQueryDirectory, 0 },
        { "query_ea", ID_MRxQueryEaInfo, 0 },       { "set_ea", ID_MRxSetEaInfo, 0 },
        { "query_sd", ID_MRxQuerySdInfo, 0 },       { "set_sd", ID_MRxSetSdInfo, 0 },
        { "query_quota", ID_MRxQueryQuotaInfo, 0 }, { "set_quota", ID_MRxSetQuotaInfo, 0 },
        { "query_volume", ID_MRxQueryVolumeInfo, 0 }, { "set_volume", ID_MRxSetVolumeInfo, 0 },
        { "notify", MRX_LOWIO(LOWIO_OP_NOTIFY_CHANGE_DIRECTORY), 0 },
        { "ioctl", MRX_LOWIO(LOWIO_OP_IOCTL), 0 },  { "fsctl", MRX_LOWIO(LOWIO_OP_FSCTL), 0 },
        { "set_eof", ID_MRxSetFileInfo, 1 },        { "rename", ID_MRxSetFileInfo, 2 },
        { "delete", ID_MRxSetFileInfo, 3 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        if (strcmp(map[i].what, what) != 0)
            continue;
        rx->info_class = (uint32_t)map[i].cls;
        if (map[i].id >= ID_LOWIO_FIRST)
            rx->op = (LowIoOp)(map[i].id - ID_LOWIO_FIRST);
        if (map[i].id == ID_MRxSetFileInfo && map[i].cls >= 2)
            before_set(rx);
        else
            rx_call(rx, map[i].id, map[i].id == ID_MRxSetFileInfo ? set_done : irp_done_rx);
        return;
    }
    irp_done(o, STATUS_INVALID_PARAMETER, 0);
}

/* ---- cleanup and close (d) ---- */

static void close_step(RxContext *rx);

static void close_final(void *ctx)
{
    RxContext *rx = ctx;
    irp_done((Op *)rx, take_lost(rx->fcb, STATUS_SUCCESS), 0);
}

static void closed_then_fobx(void *ctx)
{
    RxContext *rx = ctx;
    fobx_deref(rx->fobx);
    close_final(rx);
}

/* IRP_MJ_CLOSE (d.2, d.3). */
static void close_step(RxContext *rx)
{
    Fobx *x = rx->fobx;
    SrvOpen *so = x->srv_open;
    Fcb *f = x->fcb;
    MiniRdr *m = rdr_of_fcb(f);
    SrvCall *sc = f->net_root->srv_call;
    x->closed = true;
    f->opens--;
    so->open_count--;
    bool delay = m->delayed_close && so->open_count == 0 && !f->delete_on_close && !f->orphaned &&
                 (f->state & FCB_STATE_HANDLECACHING) && (so->buffering_flags & FCB_STATE_HANDLECACHING) &&
                 !(so->flags & (SRVOPEN_FLAG_COLLAPSING_DISABLED | SRVOPEN_FLAG_CLOSED)) &&
                 sc->close_delayed + 1 < MAX_CLOSE_DELAYED;
    if (delay) {
        /* d.3: no mini-redirector call now; the FOBX waits for the scavenger */
        so->flags |= SRVOPEN_FLAG_CLOSE_DELAYED;
        sc->close_delayed++;
        x->scavenge_pending = true;
        scavenge_later(m, x);
        close_final(rx);
        return;
    }
    if (so->open_count == 0 && !(so->flags & SRVOPEN_FLAG_CLOSED) && !f->orphaned) {
        /* d.2: MRxCloseSrvOpen, then the FOBX, MRxForceClosed, the FCB */
        close_srv_open(so, closed_then_fobx, rx);
        return;
    }
    if (so->open_count == 0 && !(so->flags & SRVOPEN_FLAG_CLOSED)) {
        /* An orphaned SRV_OPEN is not closed on the server (its tree goes
         * with the V_NET_ROOT); its creation reference goes with the last
         * handle (ReactOS RxCloseAssociatedSrvOpen skips orphaned FCBs). */
        so->flags |= SRVOPEN_FLAG_CLOSED;
        so->refs++;
        fobx_deref(x);
        so->refs--;
        so_deref(so);
        close_final(rx);
        return;
    }
    fobx_deref(x);
    close_final(rx);
}

static void cleanup_flushed(void *ctx)
{
    RxContext *rx = ctx;
    Fcb *f = rx->fcb;
    if (f->delete_on_close && f->uncleans == 0 && g_hash_table_lookup(f->net_root->fcbs, f->path) == f) {
        g_hash_table_remove(f->net_root->fcbs, f->path);
        f->orphaned = false;
    }
    close_step(rx);
}

static void cleanup_done(RxContext *rx)
{
    /* d.1 step 8: the flush of cached data comes after MRxCleanupFobx */
    Fcb *f = rx->fcb;
    if (f->orphaned) {
        close_step(rx);
        return;
    }
    flush_dirty(f, rx->fobx, cleanup_flushed, rx);
}

static void cleanup_truncated(RxContext *rx) { rx_call(rx, ID_MRxCleanupFobx, cleanup_done); }

static void cleanup_zeroed(RxContext *rx)
{
    Fcb *f = rx->fcb;
    if (f->uncleans == 0 && f->truncate_on_close) {
        f->truncate_on_close = false;
        rx_call(rx, ID_MRxTruncate, cleanup_truncated);
        return;
    }
    cleanup_truncated(rx);
}

static void cleanup_times_set(RxContext *rx)
{
    Fcb *f = rx->fcb;
    if (f->uncleans == 0 && !f->delete_on_close && f->valid_data_length < f->size) {
        f->valid_data_length = f->size;
        rx_call(rx, ID_MRxZeroExtend, cleanup_zeroed);
        return;
    }
    cleanup_zeroed(rx);
}

static void cleanup_size_set(RxContext *rx) { cleanup_times_set(rx); }

static void cleanup_basic_set(RxContext *rx)
{
    rx->info_class = 1; /* FileEndOfFileInformation */
    rx_call(rx, ID_MRxSetFileInfoAtCleanup, cleanup_size_set);
}

static void cleanup_unlocked(RxContext *rx)
{
    Fcb *f = rx->fcb;
    if (f->modified) {
        /* one call per change: times, then size (d.1 step 5) */
        f->modified = false;
        rx->info_class = 0;
        rx_call(rx, ID_MRxSetFileInfoAtCleanup, cleanup_basic_set);
        return;
    }
    cleanup_times_set(rx);
}

void rdbss_close(Rdbss *r, Fobx *x, RxIrpDone done, void *ctx)
{
    Op *o = io_op(r, x, done, ctx);
    if (!x || x->cleaned_up || x->finalized) {
        irp_done(o, STATUS_INVALID_HANDLE, 0);
        return;
    }
    RxContext *rx = &o->rx;
    Fcb *f = x->fcb;
    x->cleaned_up = true;
    f->uncleans--;
    if (f->orphaned) {
        /* e.3: an orphaned FCB's cleanup calls only MRxCleanupFobx */
        rx_call(rx, ID_MRxCleanupFobx, cleanup_done);
        return;
    }
    GArray *local = locks_take(f->locks, x->id);
    if (local)
        g_array_unref(local); /* buffered locks end here: the server never had them */
    rx->lock_list = locks_take(f->server_locks, x->id);
    if (rx->lock_list) {
        /* the handle's locks on the server go in one UNLOCK_MULTIPLE (d.1 step 5) */
        rx->op = LOWIO_OP_UNLOCK_MULTIPLE;
        rx_call(rx, MRX_LOWIO(LOWIO_OP_UNLOCK_MULTIPLE), cleanup_unlocked);
        return;
    }
    cleanup_unlocked(rx);
}

/* ---- buffering-state change (f) ---- */

typedef struct {
    SrvOpen *so;
    OplockLevel level;
} Change;

/* Step f.5.7: the new buffering state is the FCB's, the change is over. */
static void install_buffering(Fcb *f, uint32_t new_state)
{
    f->state = (f->state & ~(0x0fe00000u | FCB_STATE_BUFFERSTATE_CHANGING)) | new_state;
}

static void change_done(RxContext *rx)
{
    SrvOpen *so = rx->srv_open;
    Fcb *f = so->fcb;
    install_buffering(f, rx->new_state);
    so->buffering_flags = rx->new_state;
    if (rx->lock_list) /* the LockList went to the server with the acknowledgement */
        g_array_append_vals(f->server_locks, rx->lock_list->data, rx->lock_list->len);
    side_free(rx);
}

/* After the server close that replaced an acknowledgement, the waiting FOBX goes. */
static void break_closed(void *ctx) { fobx_deref(ctx); }

static void change_flushed(void *ctx)
{
    RxContext *rx = ctx;
    SrvOpen *so = rx->srv_open;
    Fcb *f = so->fcb;
    uint32_t old = f->state;
    if ((old & FCB_STATE_READCACHING_ENABLED) && !(rx->new_state & FCB_STATE_READCACHING_ENABLED))
        cache_purge(f);
    if ((old & FCB_STATE_LOCK_BUFFERING_ENABLED) && !(rx->new_state & FCB_STATE_LOCK_BUFFERING_ENABLED) &&
        f->locks->len) {
        rx->lock_list = g_array_copy(f->locks); /* LowIoContext.ParamsFor.Locks.LockList */
        g_array_set_size(f->locks, 0);
    }
    if (so->flags & SRVOPEN_FLAG_CLOSE_DELAYED) {
        /* closing replaces the acknowledgement (f.5.6) */
        Fobx *x = so->fobxs->len ? g_ptr_array_index(so->fobxs, 0) : NULL;
        install_buffering(f, rx->new_state);
        side_free(rx);
        if (x && x->scavenge_pending) {
            g_ptr_array_remove(rdr_of_fcb(f)->scavenge, x);
            x->scavenge_pending = false;
            close_srv_open(so, break_closed, x);
        }
        return;
    }
    rx->fobx = so->fobxs->len ? g_ptr_array_index(so->fobxs, 0) : NULL;
    rx_call(rx, ID_MRxCompleteBufferingStateChangeRequest, change_done);
}

static void new_state_computed(RxContext *rx)
{
    SrvOpen *so = rx->srv_open;
    Fcb *f = so->fcb;
    if (rx->status != STATUS_SUCCESS)
        rx->new_state = 0; /* failure: no buffering */
    /* f.5.4: write caching off, so the cached data goes out first */
    if (has_dirty(f) && !(rx->new_state & FCB_STATE_WRITECACHING_ENABLED)) {
        flush_dirty(f, some_fobx(f), change_flushed, rx);
        return;
    }
    change_flushed(rx);
}

void rx_indicate_buffering_change(SrvCall *sc, uint64_t key, OplockLevel level, SimTime sent)
{
    SrvOpen *so = NULL;
    for (guint i = 0; i < sc->opens->len; i++) {
        SrvOpen *s = g_ptr_array_index(sc->opens, i);
        if (s->key == key && !(s->flags & SRVOPEN_FLAG_CLOSED))
            so = s;
    }
    if (!so) {
        /* D3: a break can overtake the open that granted it: park it while
         * opens are in flight, else drop it. */
        if (sc->opens_in_flight > 0) {
            uint64_t *b = g_new(uint64_t, 3);
            b[0] = key;
            b[1] = level;
            b[2] = (uint64_t)sent;
            g_ptr_array_add(sc->parked_breaks, b);
        }
        return;
    }
    Rdbss *r = sc->rdr->rdbss;
    if (r->coh)
        coh_break_arrived(r->coh, net_node_name(r->node), so->fcb->key, sent);
    RxContext *rx = side_rx(sc->rdr);
    rx->srv_call = sc;
    rx->srv_open = so;
    rx->fcb = so->fcb;
    rx->vnet_root = so->vnet_root;
    rx->mrx_context = level;
    so->fcb->state |= FCB_STATE_BUFFERSTATE_CHANGING; /* f.5.1 */
    rx_call(rx, ID_MRxComputeNewBufferingState, new_state_computed);
}

/* The server connection is lost: the SRV_CALL turns Bad, and requests
 * parked on it fail with the status. */
void rx_srv_call_lost(SrvCall *sc, NTSTATUS status)
{
    sc->condition = COND_BAD;
    sc->status = status;
    wake_waiters(sc);
}

/* ---- connection deletion (e.2, e.3) ---- */

typedef struct {
    Op *o;
    VNetRoot *v;
    bool force;
} Unuse;

/* Whether a SRV_OPEN made through this V_NET_ROOT still has handles. */
static bool vnr_has_open_files(VNetRoot *v)
{
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, v->net_root->fcbs);
    while (g_hash_table_iter_next(&it, &k, &val)) {
        Fcb *f = val;
        for (guint i = 0; i < f->srv_opens->len; i++) {
            SrvOpen *so = g_ptr_array_index(f->srv_opens, i);
            if (so->vnet_root == v && so->open_count > 0)
                return true;
        }
    }
    return false;
}

/* e.3: forced finalization orphans the FCBs still open through the
 * V_NET_ROOT.  They leave the FCB table (a later open of the name builds a
 * new FCB) and accept only cleanup and close. */
static void orphan_open_files(VNetRoot *v)
{
    GPtrArray *orphans = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, v->net_root->fcbs);
    while (g_hash_table_iter_next(&it, &k, &val)) {
        Fcb *f = val;
        for (guint i = 0; i < f->srv_opens->len; i++)
            if (((SrvOpen *)g_ptr_array_index(f->srv_opens, i))->vnet_root == v) {
                g_ptr_array_add(orphans, f);
                break;
            }
    }
    for (guint i = 0; i < orphans->len; i++) {
        Fcb *f = g_ptr_array_index(orphans, i);
        f->orphaned = true;
        for (guint j = 0; j < f->cached->len; j++) { /* its dirty data can no longer be written */
            const Range *e = &g_array_index(f->cached, Range, j);
            if (e->aux)
                lose_dirty(f, e->start, e->end);
        }
        cache_purge(f);
        for (guint j = 0; j < f->srv_opens->len; j++)
            ((SrvOpen *)g_ptr_array_index(f->srv_opens, j))->flags |= SRVOPEN_FLAG_ORPHANED;
        g_hash_table_remove(v->net_root->fcbs, f->path);
    }
    g_ptr_array_unref(orphans);
}

static void unuse_finish(void *ctx);

/* Purge and scavenge the delayed closes of the NET_ROOT, one at a time. */
static void unuse_scavenge(void *ctx)
{
    Unuse *u = ctx;
    Rdbss *r = u->o->rx.rdbss;
    for (GList *l = r->fobxs.head; l; l = l->next) {
        Fobx *x = l->data;
        if (x->scavenge_pending && x->fcb->net_root == u->v->net_root) {
            g_ptr_array_remove(rdr_of_fcb(x->fcb)->scavenge, x);
            end_delayed_close(x, unuse_scavenge, u);
            return;
        }
    }
    unuse_finish(u);
}

static void unuse_finish(void *ctx)
{
    Unuse *u = ctx;
    Op *o = u->o;
    VNetRoot *v = u->v;
    if (vnr_has_open_files(v) && !u->force) {
        record_free(o->rx.rdbss, u);
        irp_done(o, STATUS_FILES_OPEN, 0); /* NFSv4.1's answer; RxFinalizeConnection says CONNECTION_IN_USE */
        return;
    }
    if (u->force) {
        /* RxFinalizeVNetRoot(force): its upper finalization now (the
         * files orphaned, the name gone from lookups); MRxFinalizeVNetRoot
         * when the orphaned handles have closed and only the name table's
         * reference is left (SEQUENCES.md e.2 step 3, e.3). */
        orphan_open_files(v);
        v->upper_done = true;
    }
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, o->rx.rdbss->drives);
    while (g_hash_table_iter_next(&it, &k, &val))
        if (((Drive *)val)->v == v)
            g_hash_table_iter_remove(&it);
    record_free(o->rx.rdbss, u);
    if (v->extra_ref) {
        v->extra_ref = false;
        vnr_deref(v, true);
    }
    if (!v->finalized && v->refs == 1)
        finalize_vnet_root(v, true);
    irp_done(o, STATUS_SUCCESS, 0);
}

static void unuse_step2(RxContext *rx)
{
    Unuse *u = record_new(rx->rdbss, sizeof *u);
    u->o = (Op *)rx;
    u->v = (VNetRoot *)(uintptr_t)rx->k_arg;
    u->force = rx->force;
    unuse_scavenge(u);
}

static void unuse_step1(RxContext *rx)
{
    /* the connection is looked up again: MRxGetConnectionId, no creation */
    rx_call(rx, ID_MRxGetConnectionId, unuse_step2);
}

void rdbss_unuse(Rdbss *r, const char *name, bool force, RxIrpDone done, void *ctx)
{
    VNetRoot *v = drive_vnet_root(r, name);
    if (!v) {
        char *server = NULL, *share = NULL, *rest = NULL;
        if (rdbss_split_unc(name, &server, &share, &rest)) {
            char *nrname = g_strconcat(server, "\\", share, NULL);
            for (guint i = 0; i < r->rdrs->len && !v; i++) {
                MiniRdr *m = g_ptr_array_index(r->rdrs, i);
                for (guint j = 0; j < m->vnet_roots->len && !v; j++) {
                    VNetRoot *c = g_ptr_array_index(m->vnet_roots, j);
                    if (c->extra_ref && g_ascii_strcasecmp(c->net_root->name, nrname) == 0)
                        v = c;
                }
            }
            g_free(nrname);
        }
        g_free(server);
        g_free(share);
        g_free(rest);
    }
    Op *o = op_new(r, v ? v->net_root->srv_call->rdr : first_started(r), done, ctx);
    if (!v || v->finalized) {
        irp_done(o, STATUS_NOT_FOUND, 0);
        return;
    }
    o->rx.vnet_root = v;
    o->rx.net_root = v->net_root;
    o->rx.srv_call = v->net_root->srv_call;
    o->rx.force = force;
    o->rx.k_arg = (uint64_t)(uintptr_t)v;
    rx_call(&o->rx, ID_MRxDevFcbXXXControlFile, unuse_step1);
}

/* ---- the end ---- */

/* The end-of-run audit of every structure ever made: finalized exactly
 * once (the flags catch a second time as it happens) and then holding no
 * reference; or not finalized and still referenced by something that
 * will finalize it: a handle, a child structure, a construction still in
 * progress, or the scavenger for one at its threshold.  A structure that
 * nothing holds but was never finalized is a leak of the model. */
static bool audit_refs(Rdbss *r, const char *what, const char *name, bool finalized, int refs, bool held)
{
    char *msg = NULL;
    if (refs < 0)
        msg = g_strdup_printf("%s %s ends with %d references", what, name, refs);
    else if (finalized && refs != 0)
        msg = g_strdup_printf("%s %s was finalized with %d references left", what, name, refs);
    else if (!finalized && !held)
        msg = g_strdup_printf("%s %s has nothing left that holds it but was never finalized", what, name);
    if (msg)
        fail(r, "RDBSS teardown: %s", msg);
    g_free(msg);
    return msg == NULL;
}

static bool scavenger_holds(SrvCall *sc, void *obj) { return g_ptr_array_find(sc->rdr->scavenge, obj, NULL); }

/* The audit of one FCB, SRV_OPEN or FOBX, finalized or not. */
static bool audit_file_object(Rdbss *r, void *obj)
{
    switch (*(RxNodeType *)obj) {
    case RX_NTC_FOBX: {
        Fobx *x = obj;
        return audit_refs(r, "FOBX of", x->fcb->path, x->finalized, x->refs, x->refs > 0);
    }
    case RX_NTC_SRVOPEN: {
        SrvOpen *so = obj;
        return audit_refs(r, "SRV_OPEN of", so->fcb->path, so->finalized, so->refs, so->refs > 0);
    }
    default: {
        Fcb *f = obj;
        bool held = f->refs > 1 || f->opens > 0 || f->uncleans > 0;
        return audit_refs(r, "FCB", f->path, f->finalized, f->refs, held);
    }
    }
}

static void srv_open_free(Rdbss *r, SrvOpen *so)
{
    g_ptr_array_unref(so->fobxs);
    pool_free(&r->pools->srv_open, so);
}

static void fcb_free(Rdbss *r, Fcb *f)
{
    g_ptr_array_unref(f->srv_opens);
    g_array_unref(f->cached);
    g_array_unref(f->lost);
    g_array_unref(f->writing);
    g_array_unref(f->locks);
    g_array_unref(f->server_locks);
    g_free(f->path);
    g_free(f->key);
    pool_free(&r->pools->fcb, f);
}

static void file_object_free(Rdbss *r, void *obj)
{
    switch (*(RxNodeType *)obj) {
    case RX_NTC_FOBX: pool_free(&r->pools->fobx, obj); break;
    case RX_NTC_SRVOPEN: srv_open_free(r, obj); break;
    default: fcb_free(r, obj); break;
    }
}

/* Still pointed at from outside any context: a lazy-writer timer (its
 * mark is f->context) or the scavenger's list. */
static bool still_pointed_at(void *obj)
{
    RxNodeType t = *(RxNodeType *)obj;
    return (t == RX_NTC_FCB && ((Fcb *)obj)->context) || (t == RX_NTC_FOBX && ((Fobx *)obj)->scavenge_pending);
}

void rdbss_reclaim(Rdbss *r)
{
    if (!r->finalized->len || r->failed || r->ops.length || r->sides.length || r->records.length)
        return;
    /* The audit's check of a finalized structure, made now instead of at
     * the end; nothing is freed if one fails (the run stops on it). */
    for (guint i = 0; i < r->finalized->len; i++)
        if (!audit_file_object(r, g_ptr_array_index(r->finalized, i)))
            return;
    guint kept = 0;
    for (guint i = 0; i < r->finalized->len; i++) {
        void *obj = g_ptr_array_index(r->finalized, i);
        if (still_pointed_at(obj))
            g_ptr_array_index(r->finalized, kept++) = obj;
        else
            file_object_free(r, obj);
    }
    g_ptr_array_set_size(r->finalized, kept);
}

size_t rdbss_file_objects(const Rdbss *r)
{
    return r->fcbs.length + r->srv_opens.length + r->fobxs.length + r->finalized->len;
}

bool rdbss_check_teardown(Rdbss *r)
{
    for (GList *l = r->fobxs.head; l && !r->failed; l = l->next)
        audit_file_object(r, l->data);
    for (GList *l = r->srv_opens.head; l && !r->failed; l = l->next)
        audit_file_object(r, l->data);
    for (GList *l = r->fcbs.head; l && !r->failed; l = l->next)
        audit_file_object(r, l->data);
    for (guint i = 0; i < r->finalized->len && !r->failed; i++)
        audit_file_object(r, g_ptr_array_index(r->finalized, i));
    for (guint i = 0; i < r->vnr_all->len && !r->failed; i++) {
        VNetRoot *v = g_ptr_array_index(r->vnr_all, i);
        SrvCall *sc = v->net_root->srv_call;
        bool building = v->condition == COND_IN_TRANSITION; /* its construction holds it */
        audit_refs(r, "V_NET_ROOT", v->name, v->finalized, v->refs, v->refs > 1 || building || scavenger_holds(sc, v));
    }
    for (guint i = 0; i < r->nr_all->len && !r->failed; i++) {
        NetRoot *nr = g_ptr_array_index(r->nr_all, i);
        bool building = nr->condition == COND_IN_TRANSITION;
        audit_refs(r, "NET_ROOT", nr->name, nr->finalized, nr->refs,
                   nr->refs > 1 || building || scavenger_holds(nr->srv_call, nr));
    }
    for (guint i = 0; i < r->sc_all->len && !r->failed; i++) {
        SrvCall *sc = g_ptr_array_index(r->sc_all, i);
        bool building = sc->condition == COND_IN_TRANSITION;
        audit_refs(r, "SRV_CALL", sc->name, sc->finalized, sc->refs, sc->refs > 1 || building || scavenger_holds(sc, sc));
    }
    return !r->failed;
}

void rdbss_collect_dirty(Rdbss *r, GHashTable *by_file)
{
    for (GList *l = r->fcbs.head; l; l = l->next) {
        Fcb *f = l->data;
        if (!has_dirty(f) && !f->writing->len)
            continue;
        GArray *out = g_hash_table_lookup(by_file, f->key);
        if (!out) {
            out = ranges_new();
            g_hash_table_insert(by_file, g_strdup(f->key), out);
        }
        for (guint j = 0; j < f->cached->len; j++)
            if (g_array_index(f->cached, Range, j).aux)
                g_array_append_val(out, g_array_index(f->cached, Range, j));
        g_array_append_vals(out, f->writing->data, f->writing->len);
    }
}

void rdbss_free(Rdbss *r)
{
    if (!r)
        return;
    GList *l;
    while ((l = ilist_pop_head(&r->ops)))
        op_free(l->data);
    while ((l = ilist_pop_head(&r->sides))) /* contexts a run stopped in the middle of */
        op_free(l->data);
    while ((l = ilist_pop_head(&r->records)))
        g_free(l->data);
    GQueue *live[] = { &r->fobxs, &r->srv_opens, &r->fcbs };
    for (int i = 0; i < 3; i++) {
        GList *l;
        while ((l = ilist_pop_head(live[i])))
            file_object_free(r, l->data);
    }
    for (guint i = 0; i < r->finalized->len; i++)
        file_object_free(r, g_ptr_array_index(r->finalized, i));
    g_ptr_array_unref(r->finalized);
    for (guint i = 0; i < r->vnr_all->len; i++) {
        VNetRoot *v = g_ptr_array_index(r->vnr_all, i);
        g_free(v->name);
        g_free(v->user);
        g_free(v->password);
        g_free(v);
    }
    for (guint i = 0; i < r->nr_all->len; i++) {
        NetRoot *nr = g_ptr_array_index(r->nr_all, i);
        g_hash_table_unref(nr->fcbs);
        g_ptr_array_unref(nr->vnet_roots);
        g_free(nr->name);
        g_free(nr);
    }
    for (guint i = 0; i < r->sc_all->len; i++) {
        SrvCall *sc = g_ptr_array_index(r->sc_all, i);
        g_ptr_array_unref(sc->waiters);
        g_ptr_array_unref(sc->opens);
        g_ptr_array_free(sc->parked_breaks, TRUE);
        g_free(sc->name);
        g_free(sc);
    }
    for (guint i = 0; i < r->rdrs->len; i++) {
        MiniRdr *m = g_ptr_array_index(r->rdrs, i);
        g_ptr_array_unref(m->srv_calls);
        g_ptr_array_unref(m->net_roots);
        g_ptr_array_unref(m->vnet_roots);
        g_ptr_array_unref(m->scavenge);
        g_free(m->name);
        g_free(m);
    }
    g_ptr_array_unref(r->rdrs);
    g_hash_table_unref(r->drives);
    for (guint i = 0; i < r->on_started->len; i++) { /* the run ended before the start */
        Waiting *w = &g_array_index(r->on_started, Waiting, i);
        if (w->drop)
            w->drop(w->ctx);
    }
    g_array_unref(r->on_started);
    g_ptr_array_unref(r->vnr_all);
    g_ptr_array_unref(r->nr_all);
    g_ptr_array_unref(r->sc_all);
    g_free(r);
}
