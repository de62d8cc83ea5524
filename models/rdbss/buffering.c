/* buffering.c: the buffering manager (SEQUENCES.md f, OPLOCKS.md): a
 * break from the server becomes MRxComputeNewBufferingState, a flush and
 * purge of what the new state no longer allows, and
 * MRxCompleteBufferingStateChangeRequest; breaks for opens still in
 * flight wait for them.  A lost server connection fails what waits on it. */

#include "rdbss_int.h"

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
    rx_side_free(rx);
    /* A file no longer in use (a delayed close) was closed by the
     * mini-redirector instead of acknowledged: its delayed close is over. */
    if ((so->flags & SRVOPEN_FLAG_CLOSED) && (so->flags & SRVOPEN_FLAG_CLOSE_DELAYED))
        rx_srv_open_closed(so);
}

static void change_flushed(void *ctx)
{
    RxContext *rx = ctx;
    SrvOpen *so = rx->srv_open;
    Fcb *f = so->fcb;
    uint32_t old = f->state;
    if ((old & FCB_STATE_READCACHING_ENABLED) && !(rx->new_state & FCB_STATE_READCACHING_ENABLED))
        rx_cache_purge(f);
    if ((old & FCB_STATE_LOCK_BUFFERING_ENABLED) && !(rx->new_state & FCB_STATE_LOCK_BUFFERING_ENABLED) &&
        f->locks->len) {
        rx->lock_list = g_array_copy(f->locks); /* LowIoContext.ParamsFor.Locks.LockList */
        g_array_set_size(f->locks, 0);
    }
    /* f.5.6: MRxCompleteBufferingStateChangeRequest, also for a SRV_OPEN in
     * delayed close.  Where SEQUENCES.md (after ReactOS) has RDBSS call
     * MRxCloseSrvOpen itself there, the miscellaneous-routines page (000)
     * gives the break to the mini-redirector: "used by the SMB redirector
     * as part of the mechanism to send an oplock break to the server", and
     * the SMB redirector closes a file no longer in use instead of
     * acknowledging (smbrdr.c); change_done ends the delayed close. */
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
    if (rx_has_dirty(f) && !(rx->new_state & FCB_STATE_WRITECACHING_ENABLED)) {
        rx_flush_dirty(f, rx_some_fobx(f), change_flushed, rx);
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
    RxContext *rx = rx_side_new(sc->rdr);
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
    /* The connection took the server's opens with it (MS-SMB2 3.3.7.1: the
     * server closes the opens of a lost connection; rdrsim has no durable
     * handles), and with them the oplocks RDBSS buffered under: dirty data
     * can no longer be written through those opens (lost, and announced:
     * rx_lose_dirty), cached data and buffered locks are no longer
     * protected by anything, and the FCB buffers nothing more.  A later
     * request on the handle goes to the server and fails there.  (rdrsim
     * explore found the run where an FCB kept caching writes after its
     * server restarted, and another client read what it had overwritten.) */
    for (guint i = 0; i < sc->opens->len; i++) {
        SrvOpen *so = g_ptr_array_index(sc->opens, i);
        Fcb *f = so->fcb;
        if ((so->flags & SRVOPEN_FLAG_CLOSED) || !so->buffering_flags)
            continue;
        for (guint j = 0; j < f->cached->len; j++) {
            const Range *e = &g_array_index(f->cached, Range, j);
            if (e->aux)
                rx_lose_dirty(f, e->start, e->end);
        }
        rx_cache_purge(f);
        g_array_set_size(f->locks, 0);
        install_buffering(f, 0);
        so->buffering_flags = 0;
    }
    rx_wake_waiters(sc);
}

