/* rxcontext.c: RX_CONTEXTs and the calls through the MINIRDR_DISPATCH
 * table.  Guarantees: every routine call is traced once, when it is done;
 * a NULL routine is never called (the call-through answers
 * STATUS_NOT_IMPLEMENTED, CALLBACKS.md section 1) nor is one RDBSS never
 * calls; every IRP completes exactly once (DESIGN.md's invariants). */

#include "rdbss_int.h"

/* What precedes a continuation record, keeping its payload aligned as
 * g_malloc's own blocks are. */
typedef union {
    GList link; /* in the Rdbss's records */
    max_align_t align;
} RecordHead;

void rx_fail(Rdbss *r, const char *fmt, const char *a)
{
    if (!r->failed)
        sim_fail(r->sim, fmt, a);
    r->failed = true;
}

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
        return rx->net_root ? rx->net_root->table_name : "?";
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
    /* MRxSrvCallWinnerNotify's ThisMinirdrIsTheWinner, in its row: which
     * provider won the name (SEQUENCES.md a.1 step 4.3) */
    const char *winner = rx->routine != ID_MRxSrvCallWinnerNotify ? NULL
                         : rx->winner                           ? " (winner)"
                                                                : " (not the winner)";
    char *name = subject ? g_strconcat(obj_kind_name[k], " ", subject, winner, NULL) : g_strdup(obj_kind_name[k]);
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
        rx_fail(rx->rdbss, "%s completed twice", mrx_name(rx->routine));
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
void rx_call(RxContext *rx, MrxId id, void (*k)(RxContext *))
{
    MRxRoutine fn = mrx_get(rx->rdr->d, id);
    if (mrx_never_called(id)) {
        rx_fail(rx->rdbss, "RDBSS called %s, which it never calls", mrx_name(id));
        return;
    }
    rx->routine = id;
    if (id >= ID_LOWIO_FIRST) /* RxLowIoSubmit: LowIoContext.Operation names the operation */
        rx->op = (LowIoOp)(id - ID_LOWIO_FIRST);
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
        rx_fail(rx->rdbss, "%s must return STATUS_PENDING", mrx_name(id));
        return;
    }
    rx_complete(rx, st);
}

Op *rx_op_new(Rdbss *r, MiniRdr *m, RxIrpDone done, void *ctx)
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

void rx_op_free(Op *o)
{
    g_free(o->rx.server);
    g_free(o->rx.share);
    g_free(o->rx.subpath);
    g_free(o->rx.path);
    g_free(o->rx.new_name);
    g_free(o->rx.file_path);
    g_free(o->rx.net_root_name);
    if (o->rx.connection_id)
        g_bytes_unref(o->rx.connection_id);
    if (o->rx.lock_list)
        g_array_unref(o->rx.lock_list);
    if (o->rx.stamps)
        g_array_unref(o->rx.stamps);
    if (o->rx.copy_expect)
        g_array_unref(o->rx.copy_expect);
    if (o->expect)
        g_array_unref(o->expect);
    pool_free(&o->rx.rdbss->pools->op, o);
}

/* Every IRP completes exactly once. */
void rx_irp_done(Op *o, NTSTATUS st, uint64_t info)
{
    Rdbss *r = o->rx.rdbss;
    if (o->completed) {
        rx_fail(r, "an IRP (%s) completed twice", mrx_name(o->rx.routine));
        return;
    }
    o->completed = true;
    ilist_unlink(&r->ops, &o->link);
    if (o->done)
        o->done(o->ctx, st, info, o->result);
    rx_op_free(o);
}

void rx_irp_done_k(RxContext *rx) { rx_irp_done((Op *)rx, rx->status, rx->information); }

RxContext *rx_side_new(MiniRdr *m)
{
    Op *o = rx_op_new(m->rdbss, m, NULL, NULL);
    o->completed = true; /* an internal context: no IRP to complete */
    ilist_unlink(&m->rdbss->ops, &o->link);
    ilist_push_tail(&m->rdbss->sides, &o->link);
    return &o->rx;
}

/* A record that carries a flow across a routine's completion; one that a
 * stopped run leaves out is freed by rdbss_free. */
void *rx_record_new(Rdbss *r, size_t size)
{
    RecordHead *h = g_malloc0(sizeof *h + size);
    h->link.data = h;
    ilist_push_tail(&r->records, &h->link);
    return h + 1;
}

void rx_record_free(Rdbss *r, void *p)
{
    RecordHead *h = (RecordHead *)p - 1;
    ilist_unlink(&r->records, &h->link);
    g_free(h);
}

void rx_side_free(RxContext *rx)
{
    ilist_unlink(&rx->rdbss->sides, &((Op *)rx)->link);
    rx_op_free((Op *)rx);
}

