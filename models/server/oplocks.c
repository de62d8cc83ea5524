/* oplocks.c: who holds caching rights on each file (an Owner: the lease of
 * one key, or the plain oplock of one open), the breaks sent to them, their
 * acknowledgements and time-outs, and the operations waiting on a file.
 *
 * Guarantees: every change of a holder's state goes through
 * srv_owner_set_state; one notification per holder until it is resolved
 * (B6); an operation that must wait is answered STATUS_PENDING and retried,
 * in arrival order, whenever a holder acknowledges, closes or times out
 * (MS-SMB2 3.3.6.1); each break is one row of `oplock_breaks`.  The rules
 * themselves are models/oplock.c's pure functions. */

#include "server_int.h"


/* ---- breaks ---- */

static uint32_t fixed_name(SmbServer *s, const char *n) { return trace_name_fixed(s->trace, &s->fixed, n); }

static uint32_t file_name(SmbServer *s, File *f)
{
    if (!f->path_name)
        f->path_name = trace_name(s->trace, f->path);
    return f->path_name;
}

void srv_write_break_row(SmbServer *s, Owner *o, CacheState to, SimTime acked, int outcome)
{
    static const char *const outcomes[] = { "acked", "closed", "timeout", "none_needed", "pending" };
    /* Interned in the order they always were, last argument first: so a
     * new name gets the id it always got. */
    uint32_t out = fixed_name(s, outcomes[outcome]);
    uint32_t to_name = fixed_name(s, oplock_state_name(o->lease, to));
    uint32_t from_name = fixed_name(s, oplock_state_name(o->lease, o->row_from));
    uint32_t file = file_name(s, o->file);
    trace_oplock_break(s->trace, net_node_trace_id(s->node), file,
                       net_node_trace_id(o->conn ? o->conn->peer : s->node), o->row_open, from_name, to_name,
                       o->row_trigger, o->row_sent, acked, out);
}


/* Every change of an owner's state goes through here, to keep the file's
 * list of caching owners (in the order of its owners). */
void srv_owner_set_state(Owner *o, CacheState state)
{
    GPtrArray *c = o->file->cachers;
    if (o->state && !state) {
        g_ptr_array_remove(c, o);
    } else if (!o->state && state) {
        guint i = c->len;
        while (i > 0 && ((Owner *)g_ptr_array_index(c, i - 1))->seq > o->seq)
            i--;
        g_ptr_array_insert(c, (gint)i, o);
    }
    o->state = state;
}

static void on_break_timeout(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Owner *o = ctx;
    SmbServer *s = o->conn->srv;
    o->timer = SIM_NO_EVENT;
    /* MS-SMB2 3.3.6.1: the server sets the oplock (or lease) to none. */
    srv_write_break_row(s, o, 0, -1, OUT_TIMEOUT);
    srv_owner_set_state(o, 0);
    o->breaking = false;
    srv_resolve_waiters(o->file);
}

static const char *const trigger_names[] = { "open", "read", "write", "lock" };

/* Send a break notification (B1, B5) and arm the acknowledgement timer. */
static void send_break(SmbServer *s, Owner *o, const OplockBreak *b, OplockTrigger why)
{
    SmbMsg *m = smb_msg_new(s->wire, SMB2_OPLOCK_BREAK);
    m->msg_id = SMB2_UNSOLICITED;
    m->response = true;
    m->file = o->notify_file;
    m->lease_key = o->lease ? o->key : 0;
    if (o->lease) {
        m->oplock = OPLOCK_LEVEL_LEASE;
        m->lease_state = b->to;
        m->ack_required = b->ack;
    } else {
        m->oplock = oplock_state_level(b->to);
    }
    o->row_from = o->state;
    o->row_trigger = fixed_name(s, trigger_names[why]);
    o->row_sent = sim_now(s->sim);
    srv_send_msg(o->conn, m);
    if (!b->ack) {
        /* B4: LEVEL_II -> NONE (or a lease R -> none) takes effect at once. */
        srv_write_break_row(s, o, b->to, -1, OUT_NONE_NEEDED);
        srv_owner_set_state(o, b->to);
        return;
    }
    o->breaking = true;
    o->ack_required = true;
    o->to = b->to;
    o->timer = sim_after(s->sim, s->p.break_timeout, on_break_timeout, o, 0);
}

/* Does the owner have an open that conflicts with this share mode?  A plain
 * oplock belongs to exactly one open, whose id is its key. */
static bool owner_conflicts(SmbServer *s, File *f, Owner *o, uint32_t access, uint32_t share)
{
    if (!o->lease) {
        Open *op = g_hash_table_lookup(s->opens, SMB_ID_KEY(o->key));
        return op && srv_share_conflict(op, access, share);
    }
    for (guint i = 0; i < f->opens->len; i++) {
        Open *op = g_ptr_array_index(f->opens, i);
        if (op->owner == o && srv_share_conflict(op, access, share))
            return true;
    }
    return false;
}

/* Break what the cause needs broken; true when it must wait.  An owner whose
 * state is none can neither be broken nor be waited for (oplock.c: on_open
 * and on_io return nothing for state 0), so only f->cachers are visited: a
 * hot file's opens that lost their oplocks cost nothing.  They are visited
 * from a copy, since a break to none takes its owner off the list. */
bool srv_break_owners(SmbServer *s, File *f, OplockCause *c, uint32_t access, uint32_t share, Open *self)
{
    bool wait = false;
    guint n = f->cachers->len;
    if (!n)
        return false;
    Owner **visit = g_memdup2(f->cachers->pdata, n * sizeof(Owner *));
    for (guint i = 0; i < n; i++) {
        Owner *o = visit[i];
        if (self && self->owner == o && c->trigger == TRIGGER_OPEN)
            continue;
        OplockHolder h = { o->lease, o->key, o->state, o->breaking };
        if (c->trigger == TRIGGER_OPEN)
            c->sharing_violation = owner_conflicts(s, f, o, access, share);
        OplockBreak b = oplock_break_for(&h, c);
        if (b.notify)
            send_break(s, o, &b, c->trigger);
        wait = wait || b.wait;
    }
    g_free(visit);
    return wait;
}

/* ---- opens ---- */

Owner *srv_owner_for(File *f, bool lease, uint64_t key)
{
    if (lease)
        for (guint i = 0; i < f->owners->len; i++) {
            Owner *o = g_ptr_array_index(f->owners, i);
            if (o->lease && o->key == key)
                return o;
        }
    return NULL;
}

void srv_drop_owner(File *f, Owner *o)
{
    if (--o->refs > 0)
        return;
    SmbServer *s = o->conn->srv;
    if (o->breaking) {
        /* The holder's close counts as its acknowledgement. */
        sim_cancel(s->sim, o->timer);
        srv_write_break_row(s, o, o->to, sim_now(s->sim), OUT_CLOSED);
    }
    srv_owner_set_state(o, 0);
    g_ptr_array_remove(f->owners, o);
    g_free(o);
}

void srv_defer(Conn *c, File *f, SmbMsg *req, Waiter *w)
{
    if (!w) {
        w = g_new0(Waiter, 1);
        w->conn = c;
        w->req = req;
        g_queue_push_tail(&f->waiters, w);
    }
    if (!w->interim_sent) {
        /* B8: an interim response while the operation waits. */
        SmbMsg *r = srv_response_to(req, STATUS_PENDING);
        r->async = true;
        srv_send_msg(c, r);
        w->interim_sent = true;
    }
}

/* Operations waiting on a file try again, in arrival order. */
void srv_resolve_waiters(File *f)
{
    guint n = g_queue_get_length(&f->waiters);
    for (guint i = 0; i < n; i++) {
        Waiter *w = g_queue_pop_head(&f->waiters);
        bool done = w->req->cmd == SMB2_CREATE ? srv_try_create(w->conn, w->req, w) : srv_try_io(w->conn, w->req, w);
        if (done)
            srv_waiter_free(w);
        else
            g_queue_push_tail(&f->waiters, w);
    }
}

void srv_do_oplock_ack(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    Open *op = srv_find_open(c, req->file);
    Owner *o = op ? op->owner : NULL;
    if (req->oplock == OPLOCK_LEVEL_LEASE && !o) {
        /* a lease ack names its key; find the lease through any file */
        srv_reply(c, req, STATUS_UNSUCCESSFUL);
        return;
    }
    if (!op) {
        srv_reply(c, req, STATUS_FILE_CLOSED);
        return;
    }
    CacheState result = 0;
    NTSTATUS st = !o ? STATUS_INVALID_OPLOCK_PROTOCOL
                  : o->lease ? lease_check_ack(o->breaking, o->ack_required, o->to, req->lease_state, &result)
                             : oplock_check_ack(o->breaking, o->ack_required, o->to, req->oplock, &result);
    if (st != STATUS_SUCCESS) {
        srv_reply(c, req, st);
        return;
    }
    sim_cancel(s->sim, o->timer);
    srv_write_break_row(s, o, result, sim_now(s->sim), OUT_ACKED);
    srv_owner_set_state(o, result);
    o->breaking = false;
    SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
    r->oplock = o->lease ? OPLOCK_LEVEL_LEASE : oplock_state_level(result);
    r->lease_state = o->lease ? result : 0;
    srv_send_msg(c, r);
    srv_resolve_waiters(o->file);
}
