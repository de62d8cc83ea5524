/* create.c: IRP_MJ_CREATE (SEQUENCES.md a.2): FCBs and SRV_OPENs,
 * share-access checks, and collapsing a second open onto an existing
 * SRV_OPEN (b); the handle (FOBX) checks every later IRP makes. */

#include "rdbss_int.h"

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
    ilist_push_tail(&rx_rdr_of_fcb(f)->rdbss->fcbs, &f->live);
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
    ilist_push_tail(&rx_rdr_of_fcb(f)->rdbss->srv_opens, &so->live);
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
                rx_fobx_deref(x);
            rx_so_deref(so);
        }
        f->refs++;
        rx_fcb_deref(f);
        rx_irp_done(o, rx->status, 0);
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
    rx_irp_done(o, STATUS_SUCCESS, x->id);
}

static void create_new_srv_open(RxContext *rx)
{
    SrvOpen *so = srv_open_new(rx->fcb, rx->vnet_root, rx);
    rx->srv_open = so;
    rx->fobx = NULL;
    rx->fcb->net_root->srv_call->opens_in_flight++;
    rx_call(rx, ID_MRxCreate, opened);
}

void rx_collapsed(RxContext *rx)
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

SrvOpen *rx_collapse_candidate(RxContext *rx)
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
        rx_call(rx, ID_MRxCollapseOpen, rx_collapsed);
    else
        create_new_srv_open(rx);
}

static void probe_answered(RxContext *rx)
{
    /* MORE_PROCESSING_REQUIRED vetoes collapsing (b.4) */
    SrvOpen *cand = rx->status == STATUS_MORE_PROCESSING_REQUIRED ? NULL : rx_collapse_candidate(rx);
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
        rx_fcb_deref(f);
        rx_irp_done((Op *)rx, rx->disposition == 2 ? STATUS_OBJECT_NAME_COLLISION : STATUS_SHARING_VIOLATION, 0);
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
        /* Provider order (STRUCTURES.md 7, SEQUENCES.md a.1 step 1): while
         * no provider has claimed the server, each in turn is asked until
         * one makes the connection; when none does, the application sees
         * the most significant failure (rx_mup_status).  A server already
         * claimed goes straight to its provider, and its failure is final. */
        rx->mup_status = rx_mup_status(rx->mup_status, rx->status);
        MiniRdr *next = rx->resolving ? rx_next_provider(rx) : NULL;
        if (next) {
            rx->rdr = next;
            rx_obtain_connection(rx, create_connected);
            return;
        }
        rx_irp_done((Op *)rx, rx->mup_status, 0);
        return;
    }
    /* a.2 step 7: MRxGetConnectionId again with the lookup, then MRxPreparseName */
    rx_call(rx, ID_MRxPreparseName, name_preparsed);
}

void rdbss_create(Rdbss *r, const char *path, uint32_t access, uint32_t share, uint32_t disposition,
                  OplockLevel oplock, bool delete_on_close, const char *user, const char *password, RxIrpDone done,
                  void *ctx)
{
    rdbss_create_ex(r, path, access, share, disposition, oplock, delete_on_close, false, user, password, done, ctx);
}

void rdbss_create_ex(Rdbss *r, const char *path, uint32_t access, uint32_t share, uint32_t disposition,
                     OplockLevel oplock, bool delete_on_close, bool directory, const char *user, const char *password,
                     RxIrpDone done, void *ctx)
{
    Op *o = rx_op_new(r, rx_first_started(r), done, ctx);
    RxContext *rx = &o->rx;
    rx->directory = directory;
    rx->access = access;
    rx->share_access = share;
    rx->disposition = disposition;
    rx->oplock = oplock;
    rx->delete_on_close = delete_on_close;
    rx->user = user;
    rx->password = password;
    if (!rx->rdr) {
        rx->routine = ID_MRxCreate;
        rx_irp_done(o, STATUS_REDIRECTOR_NOT_STARTED, 0); /* a.2 step 6 */
        return;
    }
    if (g_ascii_isalpha(path[0]) && path[1] == ':') {
        char drive[3] = { (char)g_ascii_toupper(path[0]), ':', 0 };
        Drive *d = g_hash_table_lookup(r->drives, drive);
        VNetRoot *v = d ? d->v : NULL;
        if (!v || v->finalized) {
            rx_irp_done(o, STATUS_OBJECT_PATH_NOT_FOUND, 0);
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
            rx_irp_done(o, STATUS_OBJECT_NAME_INVALID, 0);
            return;
        }
        rx->path = rest;
        rx->subpath = g_strdup("");
        rx->rdr = rx_serving(r, rx->server, 0);
        rx_begin_resolution(rx);
    }
    rx_obtain_connection(rx, create_connected);
}

/* A handle that can take I/O: not closed, FCB not orphaned by a forced
 * connection deletion (e.3: only cleanup and close get through then). */
NTSTATUS rx_usable(Fobx *x)
{
    if (!x || x->cleaned_up || x->finalized)
        return STATUS_INVALID_HANDLE;
    if (x->fcb->orphaned)
        return STATUS_UNEXPECTED_NETWORK_ERROR;
    return STATUS_SUCCESS;
}

Op *rx_io_op(Rdbss *r, Fobx *x, RxIrpDone done, void *ctx)
{
    Op *o = rx_op_new(r, x && !x->finalized ? rx_rdr_of_fcb(x->fcb) : rx_first_started(r), done, ctx);
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

