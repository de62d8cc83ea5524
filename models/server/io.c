/* io.c: READ, WRITE and LOCK on an open.
 *
 * Guarantees: each first breaks what R10-R12 say it breaks (and waits when
 * a holder must acknowledge first, B7), then is checked against access and
 * byte-range locks (FILE_LOCK_CONFLICT, LOCK_NOT_GRANTED: this model has
 * no blocking locks) and applied; every write is a new version of the bytes
 * it covers, for the coherence oracle. */

#include "server_int.h"


static bool overlaps(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
    return al && bl && a < b + bl && b < a + al;
}

/* A byte-range lock of another open in the way of I/O (FILE_LOCK_CONFLICT). */
static bool io_blocked(File *f, Open *op, uint64_t off, uint64_t len, bool write)
{
    for (guint i = 0; i < f->locks->len; i++) {
        Lock *l = g_ptr_array_index(f->locks, i);
        if (l->open != op && overlaps(l->start, l->len, off, len) && (l->exclusive || write))
            return true;
    }
    return false;
}

/* A write applied; a client that gave no stamp (it caches nothing) is
 * acknowledged here, as the response leaves. */
static void write_extent(File *f, uint64_t off, uint64_t len, uint64_t version, uint64_t stamp)
{
    Coherence *coh = f->share->srv->coh;
    if (!stamp && coh) {
        char *k = srv_file_key(f);
        stamp = coh_stamp(coh);
        coh_acked(coh, k, off, off + len, stamp);
        g_free(k);
    }
    Range n = { off, off + len, stamp, version };
    ranges_put(f->extents, n);
}

static uint64_t version_at(File *f, uint64_t off)
{
    const Range *e = ranges_at(f->extents, off);
    return e ? e->aux : 0;
}

/* READ, WRITE and LOCK, answered (true) or waiting for breaks (false), as
 * srv_try_create. */
bool srv_try_io(Conn *c, SmbMsg *req, Waiter *w)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    Open *op = srv_open_of(c, req, &st);
    if (!op) {
        srv_reply(c, req, st);
        return true;
    }
    File *f = op->file;
    OplockTrigger trig = req->cmd == SMB2_READ ? TRIGGER_READ : req->cmd == SMB2_WRITE ? TRIGGER_WRITE : TRIGGER_LOCK;
    if (!(req->cmd == SMB2_LOCK && req->unlock)) {
        OplockCause cause = { .trigger = trig, .key = op->owner ? op->owner->key : op->id,
                              .other_opens = f->opens->len > 1 };
        if (!op->owner)
            cause.key = UINT64_MAX - 2 - op->id; /* a key no owner has */
        if (srv_break_owners(s, f, &cause, 0, 0, op, NULL)) {
            srv_defer(c, f, req, w);
            return false;
        }
    }
    SmbMsg *r = NULL;
    if (req->cmd == SMB2_READ) {
        if (!(op->access & ACCESS_READ_DATA))
            st = STATUS_ACCESS_DENIED;
        else if (req->offset >= f->size && req->length)
            st = STATUS_END_OF_FILE;
        else if (io_blocked(f, op, req->offset, req->length, false))
            st = STATUS_FILE_LOCK_CONFLICT;
        else {
            r = srv_response_to(req, STATUS_SUCCESS);
            r->length = MIN(req->length, f->size - req->offset);
            r->version = version_at(f, req->offset);
            r->stamps = ranges_slice(f->extents, req->offset, req->offset + r->length);
        }
    } else if (req->cmd == SMB2_WRITE) {
        if (!(op->access & (ACCESS_WRITE_DATA | ACCESS_APPEND_DATA)))
            st = STATUS_ACCESS_DENIED;
        else if (io_blocked(f, op, req->offset, req->length, true))
            st = STATUS_FILE_LOCK_CONFLICT;
        else {
            uint64_t v = f->next_version++;
            write_extent(f, req->offset, req->length, v, req->stamp);
            f->size = MAX(f->size, req->offset + req->length);
            r = srv_response_to(req, STATUS_SUCCESS);
            r->length = req->length;
            r->version = v;
        }
    } else if (req->unlock) {
        st = STATUS_RANGE_NOT_LOCKED;
        for (guint i = 0; i < f->locks->len; i++) {
            Lock *l = g_ptr_array_index(f->locks, i);
            if (l->open == op && l->start == req->offset && l->len == req->length) {
                g_ptr_array_remove_index(f->locks, i);
                st = STATUS_SUCCESS;
                break;
            }
        }
        r = srv_response_to(req, st);
    } else {
        st = STATUS_SUCCESS;
        for (guint i = 0; i < f->locks->len && st == STATUS_SUCCESS; i++) {
            Lock *l = g_ptr_array_index(f->locks, i);
            if (overlaps(l->start, l->len, req->offset, req->length) && (l->exclusive || req->exclusive) &&
                !(l->open == op && !l->exclusive && !req->exclusive))
                st = STATUS_LOCK_NOT_GRANTED; /* no blocking locks in this model: fail at once */
        }
        if (st == STATUS_SUCCESS) {
            Lock *l = g_new0(Lock, 1);
            l->open = op, l->start = req->offset, l->len = req->length, l->exclusive = req->exclusive;
            g_ptr_array_add(f->locks, l);
        }
        r = srv_response_to(req, st);
    }
    srv_send_msg(c, r ? r : srv_response_to(req, st));
    return true;
}
