/* cache.c: the client cache of one FCB: what is cached and dirty, the
 * flush of dirty data before a buffering change or close, the lazy
 * writer's write-behind, and dirty data lost with its connection, which is
 * reported to the application once, never silently dropped. */

#include "rdbss_int.h"

/* The client cache: Range with the stamp of the bytes and aux 1 when
 * dirty (written by an application, not yet by the lazy writer). */
void rx_cache_put(Fcb *f, uint64_t start, uint64_t end, bool dirty, uint64_t stamp)
{
    Range n = { start, end, stamp, dirty };
    ranges_put(f->cached, n);
}

void rx_cache_purge(Fcb *f) { g_array_set_size(f->cached, 0); }

/* Dirty data that will never reach the server (a failed paging write, an
 * orphaned file): the loss is announced at once, as Windows raises its
 * "Delayed Write Failed" informational hard error when a write-behind
 * fails (STATUS_LOST_WRITEBEHIND_DATA through IoRaiseInformationalHardError),
 * so the oracle no longer expects the data; the next IRP of the file also
 * completes with that status (rx_take_lost). */
void rx_lose_dirty(Fcb *f, uint64_t start, uint64_t end)
{
    Range n = { start, end, 0, 0 };
    ranges_put(f->lost, n);
    Coherence *coh = rx_rdr_of_fcb(f)->rdbss->coh;
    if (coh)
        coh_lost(coh, f->key, start, end);
}

/* Lost data not yet reported to an application of the file: the IRP that
 * reports it completes with STATUS_LOST_WRITEBEHIND_DATA. */
NTSTATUS rx_take_lost(Fcb *f, NTSTATUS st)
{
    if (!f->lost->len)
        return st;
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
        rx_lose_dirty(f, rx->offset, rx->offset + rx->length);
    rx_side_free(rx);
    if (--fl->left == 0) {
        void (*then)(void *) = fl->then;
        void *ctx = fl->ctx;
        rx_record_free(rx_rdr_of_fcb(f)->rdbss, fl);
        if (then)
            then(ctx);
    }
}

void rx_flush_dirty(Fcb *f, Fobx *x, void (*then)(void *), void *ctx)
{
    Rdbss *r = rx_rdr_of_fcb(f)->rdbss;
    Flush *fl = rx_record_new(r, sizeof *fl);
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
        RxContext *rx = rx_side_new(rx_rdr_of_fcb(f));
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
        rx_record_free(r, fl);
        if (then)
            then(ctx);
    }
}

bool rx_has_dirty(Fcb *f)
{
    for (guint i = 0; i < f->cached->len; i++)
        if (g_array_index(f->cached, Range, i).aux)
            return true;
    return false;
}

/* Any handle of the FCB that can still carry I/O for the lazy writer. */
Fobx *rx_some_fobx(Fcb *f)
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
    if (!f->finalized && rx_has_dirty(f))
        rx_flush_dirty(f, rx_some_fobx(f), NULL, NULL);
}

void rx_write_behind(Fcb *f)
{
    if (f->context)
        return;
    f->context = f;
    Rdbss *r = rx_rdr_of_fcb(f)->rdbss;
    sim_after(r->sim, r->flush_interval, on_write_behind, f, 0);
}

