/* readwrite.c: read, write and flush of a handle through
 * MRxLowIOSubmit (SEQUENCES.md c.1, c.2): from and into the client cache
 * while the FCB's buffering state allows, else to the server; every read
 * is judged by the coherence oracle. */

#include "rdbss_int.h"

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
        if (rx->rdbss->coh && o->expect && rx->copy_expect) {
            /* from the redirector's copy (WebDAV): close-to-open, so judged
             * against what was published when the copy was made */
            g_array_unref(o->expect);
            o->expect = ranges_slice(rx->copy_expect, rx->offset, end);
            o->epoch = rx->copy_epoch;
        }
        if (rx->rdbss->coh && o->expect)
            judge_read(o, cached, fetched);
        g_array_unref(cached);
        g_array_unref(fetched);
    }
    rx_irp_done_k(rx);
}

void rdbss_read(Rdbss *r, Fobx *x, uint64_t offset, uint64_t length, RxIrpDone done, void *ctx)
{
    Op *o = rx_io_op(r, x, done, ctx);
    NTSTATUS st = rx_usable(x);
    if (st != STATUS_SUCCESS || length == 0) {
        rx_irp_done(o, st, 0);
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
        rx_irp_done(o, STATUS_SUCCESS, end - offset);
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
    rx_cache_put(f, rx->offset, rx->offset + rx->length, true, rx->stamp);
    f->modified = true;
    rx_write_behind(f);
    write_acked(rx, rx->length);
    rx_irp_done((Op *)rx, STATUS_SUCCESS, rx->length);
}

static void write_done(RxContext *rx)
{
    if (rx->status == STATUS_SUCCESS) {
        rx->fcb->modified = true;
        if (rx->fcb->state & FCB_STATE_READCACHING_ENABLED)
            rx_cache_put(rx->fcb, rx->offset, rx->offset + rx->length, false, rx->stamp);
        if (!rx->unpublished)
            write_acked(rx, rx->information);
    }
    rx_irp_done_k(rx);
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
    Op *o = rx_io_op(r, x, done, ctx);
    NTSTATUS st = rx_usable(x);
    if (st != STATUS_SUCCESS || length == 0) {
        rx_irp_done(o, st, 0);
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

static void flushed_then_mrx(void *ctx)
{
    RxContext *rx = ctx;
    rx_call(rx, ID_MRxFlush, rx_flush_reported);
}

void rdbss_flush(Rdbss *r, Fobx *x, RxIrpDone done, void *ctx)
{
    Op *o = rx_io_op(r, x, done, ctx);
    NTSTATUS st = rx_usable(x);
    if (st != STATUS_SUCCESS) {
        rx_irp_done(o, st, 0);
        return;
    }
    rx_flush_dirty(x->fcb, x, flushed_then_mrx, &o->rx);
}

