/* close.c: IRP_MJ_CLEANUP and IRP_MJ_CLOSE (SEQUENCES.md d.1, d.2): the
 * flush, the lock release and the cleanup routines, then the close,
 * immediate or delayed (d.3) when the redirector allows it. */

#include "rdbss_int.h"

static void close_step(RxContext *rx);

static void close_final(void *ctx)
{
    RxContext *rx = ctx;
    rx_irp_done((Op *)rx, rx_take_lost(rx->fcb, STATUS_SUCCESS), 0);
}

static void closed_then_fobx(void *ctx)
{
    RxContext *rx = ctx;
    rx_fobx_deref(rx->fobx);
    close_final(rx);
}

/* IRP_MJ_CLOSE (d.2, d.3). */
static void close_step(RxContext *rx)
{
    Fobx *x = rx->fobx;
    SrvOpen *so = x->srv_open;
    Fcb *f = x->fcb;
    MiniRdr *m = rx_rdr_of_fcb(f);
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
        rx_scavenge_later(m, x);
        close_final(rx);
        return;
    }
    if (so->open_count == 0 && !(so->flags & SRVOPEN_FLAG_CLOSED) && !f->orphaned) {
        /* d.2: MRxCloseSrvOpen, then the FOBX, MRxForceClosed, the FCB */
        rx_close_srv_open(so, closed_then_fobx, rx);
        return;
    }
    if (so->open_count == 0 && !(so->flags & SRVOPEN_FLAG_CLOSED)) {
        /* An orphaned SRV_OPEN is not closed on the server (its tree goes
         * with the V_NET_ROOT); its creation reference goes with the last
         * handle (ReactOS RxCloseAssociatedSrvOpen skips orphaned FCBs). */
        so->flags |= SRVOPEN_FLAG_CLOSED;
        so->refs++;
        rx_fobx_deref(x);
        so->refs--;
        rx_so_deref(so);
        close_final(rx);
        return;
    }
    rx_fobx_deref(x);
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
    rx_flush_dirty(f, rx->fobx, cleanup_flushed, rx);
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
    Op *o = rx_io_op(r, x, done, ctx);
    if (!x || x->cleaned_up || x->finalized) {
        rx_irp_done(o, STATUS_INVALID_HANDLE, 0);
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
    GArray *local = rx_locks_take(f->locks, x->id);
    if (local)
        g_array_unref(local); /* buffered locks end here: the server never had them */
    rx->lock_list = rx_locks_take(f->server_locks, x->id);
    if (rx->lock_list) {
        /* the handle's locks on the server go in one UNLOCK_MULTIPLE (d.1 step 5) */
        rx->op = LOWIO_OP_UNLOCK_MULTIPLE;
        rx_call(rx, MRX_LOWIO(LOWIO_OP_UNLOCK_MULTIPLE), cleanup_unlocked);
        return;
    }
    cleanup_unlocked(rx);
}

