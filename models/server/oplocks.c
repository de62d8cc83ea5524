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

static uint32_t fixed_name(SmbServer *s, const char *n) { return trace_name_fixed(s->trace, &s->fixed, n); }

static uint32_t file_name(SmbServer *s, File *f)
{
    if (!f->path_name)
        f->path_name = trace_name(s->trace, f->path);
    return f->path_name;
}

/* One row of `oplock_breaks`: `to` the state the break ended at (NONE after
 * a time-out, MS-SMB2 3.3.6.1), `acked` the level of the acknowledgement
 * (-1: none came). */
void srv_write_break_row(SmbServer *s, Owner *o, CacheState to, int acked, SimTime t_acked, int outcome)
{
    static const char *const outcomes[] = { "acked", "closed", "timeout", "none_needed", "pending" };
    /* Interned in the order they always were, last argument first: so a
     * new name gets the id it always got. */
    uint32_t out = fixed_name(s, outcomes[outcome]);
    uint32_t to_name = fixed_name(s, oplock_state_name(o->lease, to));
    uint32_t from_name = fixed_name(s, oplock_state_name(o->lease, o->row_from));
    uint32_t file = file_name(s, o->file);
    uint32_t offered = fixed_name(s, oplock_state_name(o->lease, o->row_offered));
    int64_t acked_name = acked < 0 ? -1 : (int64_t)fixed_name(s, oplock_state_name(o->lease, (CacheState)acked));
    trace_oplock_break(s->trace, net_node_trace_id(s->node), file,
                       net_node_trace_id(o->conn ? o->conn->peer : s->node), o->row_open, from_name, to_name,
                       o->row_trigger, o->row_sent, t_acked, out, offered, acked_name);
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
    if (o->lease && o->version == 2 && state != o->state)
        o->epoch++; /* MS-SMB2 3.3.4.7, 3.3.5.9.11: a v2 lease's epoch counts its changes of state */
    o->state = state;
}

static void on_break_timeout(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Owner *o = ctx;
    SmbServer *s = o->conn->srv;
    o->timer = SIM_NO_EVENT;
    /* MS-SMB2 3.3.6.1 (T2): the server sets the oplock or lease to none. */
    srv_write_break_row(s, o, 0, -1, -1, OUT_TIMEOUT);
    srv_owner_set_state(o, 0);
    o->breaking = false;
    srv_resolve_waiters(o->file);
}

static const char *const trigger_names[] = { "open", "read", "write", "lock", "set_size" };

/* Send a break notification (B1, B5) and arm the acknowledgement timer;
 * with an outbox, the message waits there for the caller to send it. */
static void send_break(SmbServer *s, Owner *o, const OplockBreak *b, OplockTrigger why, GArray *outbox)
{
    SmbMsg *m = smb_msg_new(s->wire, SMB2_OPLOCK_BREAK);
    m->msg_id = SMB2_UNSOLICITED;
    m->response = true;
    m->file = o->notify_file;
    m->lease_key = o->lease ? o->key : 0;
    o->row_from = o->state;
    o->row_offered = b->to;
    o->row_trigger = fixed_name(s, trigger_names[why]);
    o->row_sent = sim_now(s->sim);
    o->why = why;
    if (b->ack) {
        o->breaking = true;
        o->ack_required = true;
        o->to = o->required = b->to;
        o->timer = sim_after(s->sim, s->p.break_timeout, on_break_timeout, o, 0);
    } else {
        /* B4: LEVEL_II -> NONE (or a lease R -> none) takes effect at once. */
        srv_write_break_row(s, o, b->to, -1, -1, OUT_NONE_NEEDED);
        srv_owner_set_state(o, b->to);
    }
    if (o->lease) {
        /* MS-SMB2 2.2.23.2: CurrentLeaseState, NewLeaseState, the flag, and
         * for a v2 lease the epoch it will have (3.3.4.7). */
        m->oplock = OPLOCK_LEVEL_LEASE;
        m->lease_from = o->row_from;
        m->lease_state = b->to;
        m->ack_required = b->ack;
        m->epoch = o->version == 2 ? (uint16_t)(o->epoch + (b->ack ? 1 : 0)) : 0;
    } else {
        m->oplock = oplock_state_level(b->to);
    }
    if (outbox) {
        OutMsg om = { o->conn, m };
        g_array_append_val(outbox, om);
    } else {
        srv_send_msg(o->conn, m);
    }
}

void srv_flush_outbox(GArray *outbox)
{
    for (guint i = 0; i < outbox->len; i++) {
        OutMsg *om = &g_array_index(outbox, OutMsg, i);
        srv_send_msg(om->conn, om->msg);
    }
    g_array_set_size(outbox, 0);
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
 * from a copy, since a break to none takes its owner off the list.  A
 * holder whose break is under way is not notified again; the break must
 * now end lower (B6, Samba's breaking_to_required). */
bool srv_break_owners(SmbServer *s, File *f, OplockCause *c, uint32_t access, uint32_t share, Open *self,
                      GArray *outbox)
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
        OplockHolder h = { o->lease, o->key, o->state, o->breaking, o->conn->no_level2 };
        if (c->trigger == TRIGGER_OPEN)
            c->sharing_violation = owner_conflicts(s, f, o, access, share);
        OplockBreak b = oplock_break_for(&h, c);
        if (b.notify)
            send_break(s, o, &b, c->trigger, outbox);
        else if (b.extend && o->lease)
            o->required &= b.to;
        wait = wait || b.wait;
    }
    g_free(visit);
    return wait;
}

/* ---- holders ---- */

Owner *srv_owner_for(File *f, Conn *c, bool lease, uint64_t key)
{
    if (lease)
        for (guint i = 0; i < f->owners->len; i++) {
            Owner *o = g_ptr_array_index(f->owners, i);
            if (o->lease && o->key == key && o->conn == c)
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
        srv_write_break_row(s, o, o->to, -1, sim_now(s->sim), OUT_CLOSED);
    }
    if (o->lease && o->conn->lease_files)
        g_hash_table_remove(o->conn->lease_files, SMB_ID_KEY(o->key));
    srv_owner_set_state(o, 0);
    g_ptr_array_remove(f->owners, o);
    g_free(o);
}

/* ---- operations waiting on a file ---- */

/* B8: the interim response goes only to an operation still waiting after
 * the server's interim delay (SAMBA-TRACES.md: 1.1-1.7 ms after the break;
 * none when the holder answered sooner).  Its AsyncId is the one the final
 * response carries (MS-SMB2 3.3.4.2). */
static void on_interim(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Waiter *w = ctx;
    w->interim = SIM_NO_EVENT;
    SmbMsg *r = srv_response_to(w->req, STATUS_PENDING);
    r->async = true;
    r->async_id = w->async_id;
    w->interim_sent = true;
    srv_send_msg(w->conn, r);
}

void srv_defer(Conn *c, File *f, SmbMsg *req, Waiter *w)
{
    if (w)
        return; /* waiting already */
    SmbServer *s = c->srv;
    w = g_new0(Waiter, 1);
    w->conn = c;
    w->req = req;
    w->async_id = ++s->next_async;
    g_queue_push_tail(&f->waiters, w);
    w->interim = sim_after(s->sim, s->p.interim_delay, on_interim, w, 0);
}

void srv_waiter_free(gpointer p)
{
    Waiter *w = p;
    if (w->interim != SIM_NO_EVENT)
        sim_cancel(w->conn->srv->sim, w->interim);
    smb_msg_free(w->req);
    g_free(w);
}

/* Operations waiting on a file try again, in arrival order.  While one is
 * tried, its connection knows it: a final response to a request that had
 * its interim response goes out async, with the interim's AsyncId. */
void srv_resolve_waiters(File *f)
{
    guint n = g_queue_get_length(&f->waiters);
    for (guint i = 0; i < n; i++) {
        Waiter *w = g_queue_pop_head(&f->waiters);
        if (w->retry) { /* the WebDAV service's */
            if (w->retry(w->ctx))
                g_free(w);
            else
                g_queue_push_tail(&f->waiters, w);
            continue;
        }
        Conn *c = w->conn;
        c->answering = w;
        bool done = w->req->cmd == SMB2_CREATE     ? srv_try_create(c, w->req, w)
                    : w->req->cmd == SMB2_SET_INFO ? srv_try_set_info(c, w->req, w)
                                                   : srv_try_io(c, w->req, w);
        c->answering = NULL;
        if (done)
            srv_waiter_free(w);
        else
            g_queue_push_tail(&f->waiters, w);
    }
}

/* ---- acknowledgements ---- */

void srv_do_oplock_ack(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    Owner *o = NULL;
    if (req->oplock == OPLOCK_LEVEL_LEASE) {
        /* A lease acknowledgement names its key (MS-SMB2 2.2.24.2): look
         * it up in this client's lease table. */
        File *f = c->lease_files ? g_hash_table_lookup(c->lease_files, SMB_ID_KEY(req->lease_key)) : NULL;
        o = f ? srv_owner_for(f, c, true, req->lease_key) : NULL;
        if (!o) {
            srv_reply(c, req, STATUS_UNSUCCESSFUL);
            return;
        }
    } else {
        Open *op = srv_find_open(c, req->file);
        if (!op) {
            srv_reply(c, req, STATUS_FILE_CLOSED);
            return;
        }
        o = op->owner;
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
    int acked = o->lease ? req->lease_state : oplock_level_state(req->oplock);
    srv_write_break_row(s, o, result, acked, sim_now(s->sim), OUT_ACKED);
    srv_owner_set_state(o, result);
    o->breaking = false;
    SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
    r->oplock = o->lease ? OPLOCK_LEVEL_LEASE : oplock_state_level(result);
    r->lease_key = o->lease ? o->key : 0;
    r->lease_state = o->lease ? result : 0;
    srv_send_msg(c, r);
    /* A lease that must go lower still breaks again, in steps (B6,
     * smbtorture lease.breaking3). */
    OplockBreak next;
    if (o->lease && lease_next_step(result, o->required, &next))
        send_break(s, o, &next, o->why, NULL);
    srv_resolve_waiters(o->file);
}
