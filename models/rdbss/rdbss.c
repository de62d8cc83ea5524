/* rdbss.c: an RDBSS instance and its mini-redirectors' registrations, the
 * driver start and stop (SEQUENCES.md g), and the end of a run: the
 * teardown audit of every structure's references and finalization, the
 * reclaiming of finalized FCBs, SRV_OPENs and FOBXs, and freeing.
 *
 * The rest of RDBSS is split as RDBSS's own sources are: RX_CONTEXTs and
 * routine calls (rxcontext.c), references and finalization (structures.c),
 * the name table and connections (connect.c), create and collapsing
 * (create.c), the client cache (cache.c), read and write (readwrite.c),
 * locks (locks.c), information (info.c), cleanup and close (close.c) and
 * the buffering manager (buffering.c).  rdbss_int.h is what they share. */

#include "rdbss_int.h"

typedef struct {
    void (*fn)(void *ctx);
    void *ctx;
    void (*drop)(void *ctx);
} Waiting;

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
    r->drives = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, rx_drive_free);
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
    rx_irp_done_k(rx);
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
    Op *o = rx_op_new(r, m, done, ctx);
    if (m->state == RDR_STARTED) {
        rx_irp_done(o, STATUS_SUCCESS, 0); /* REDIRECTOR_STARTED: already running */
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
    rx_irp_done_k(rx);
}

static void stop_step1(RxContext *rx)
{
    rx->rdr->state = RDR_STOP_IN_PROGRESS;
    rx_call(rx, ID_MRxStop, stop_step2);
}

void rdbss_stop(Rdbss *r, MiniRdr *m, RxIrpDone done, void *ctx)
{
    Op *o = rx_op_new(r, m, done, ctx);
    if (m->state != RDR_STARTED) {
        rx_irp_done(o, STATUS_REDIRECTOR_NOT_STARTED, 0);
        return;
    }
    rx_call(&o->rx, ID_MRxDevFcbXXXControlFile, stop_step1);
}

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
        rx_fail(r, "RDBSS teardown: %s", msg);
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
        if (!rx_has_dirty(f) && !f->writing->len)
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
        rx_op_free(l->data);
    while ((l = ilist_pop_head(&r->sides))) /* contexts a run stopped in the middle of */
        rx_op_free(l->data);
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
        if (nr->connection_id)
            g_bytes_unref(nr->connection_id);
        g_free(nr->table_name);
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

