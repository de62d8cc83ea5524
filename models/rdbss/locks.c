/* locks.c: byte-range locks (SEQUENCES.md c.3): kept locally under lock
 * buffering, pushed to the server when buffering ends, and released with
 * their handle. */

#include "rdbss_int.h"

static void lock_granted(RxContext *rx)
{
    if (rx->status == STATUS_SUCCESS) {
        BufferedLock l = { rx->offset, rx->length, rx->exclusive, rx->fobx->id };
        g_array_append_val(rx->fcb->server_locks, l);
    }
    rx_irp_done_k(rx);
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
GArray *rx_locks_take(GArray *locks, uint64_t fobx)
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
        rx_irp_done_k(rx);
        return;
    }
    Fcb *f = rx->fcb;
    BufferedLock l = { rx->offset, rx->length, rx->exclusive, rx->fobx->id };
    if (f->state & FCB_STATE_LOCK_BUFFERING_ENABLED) {
        /* kept locally; pushed to the server when buffering is revoked (c.3) */
        g_array_append_val(f->locks, l);
        rx_irp_done((Op *)rx, STATUS_SUCCESS, 0);
        return;
    }
    LowIoOp op = rx->exclusive ? LOWIO_OP_EXCLUSIVELOCK : LOWIO_OP_SHAREDLOCK;
    rx->op = op;
    rx_call(rx, MRX_LOWIO(op), lock_granted);
}

void rdbss_lock(Rdbss *r, Fobx *x, uint64_t offset, uint64_t length, bool exclusive, RxIrpDone done, void *ctx)
{
    Op *o = rx_io_op(r, x, done, ctx);
    NTSTATUS st = rx_usable(x);
    if (st != STATUS_SUCCESS) {
        rx_irp_done(o, st, 0);
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
    rx_irp_done_k(rx);
}

void rdbss_unlock(Rdbss *r, Fobx *x, uint64_t offset, uint64_t length, RxIrpDone done, void *ctx)
{
    Op *o = rx_io_op(r, x, done, ctx);
    NTSTATUS st = rx_usable(x);
    if (st != STATUS_SUCCESS) {
        rx_irp_done(o, st, 0);
        return;
    }
    Fcb *f = x->fcb;
    if (lock_remove(f->locks, x->id, offset, length)) {
        rx_irp_done(o, STATUS_SUCCESS, 0); /* a buffered lock: the server never saw it */
        return;
    }
    o->rx.op = LOWIO_OP_UNLOCK;
    o->rx.offset = offset;
    o->rx.length = length;
    rx_call(&o->rx, MRX_LOWIO(LOWIO_OP_UNLOCK), unlocked);
}

void rx_flush_reported(RxContext *rx) { rx_irp_done((Op *)rx, rx_take_lost(rx->fcb, rx->status), 0); }

