#include "smbclient.h"

#include <glib.h>
#include <string.h>

#include "trace.h"

typedef struct {
    char *name;
    uint64_t file;   /* server FileId; 0 while the create is under way */
    char *path;
    bool lease;
    uint64_t lease_key;
    OplockLevel level; /* the oplock held: whether a break needs an acknowledgement */
    int policy;        /* BreakPolicy of this handle, or -1: the client's */
    bool ack_level_set; /* acknowledge to ack_level, not to the level offered */
    OplockLevel ack_level;
    CacheState ack_lease;
    SimTime ack_delay; /* answer a break this long after it arrives */
} Handle;

/* A break waiting out its handle's ack_delay. */
typedef struct {
    SmbClient *c;
    char *handle;
    SmbMsg *brk;
} DelayedBreak;

/* A request sent, waiting for its final response. */
typedef struct {
    char *op;
    int handle; /* index + 1, 0: none */
    char *path;
    SimTime t0;
    uint64_t bytes, offset;
    const char *arg0; /* the action's first word, NULL for the client's own (acks) */
    bool action;      /* from a timeline action: its completion is an event */
} Pending;

struct SmbClient {
    Tdi *tdi;
    SmbWire *wire;
    Sim *sim;
    Trace *trace;
    char *name;
    NetNode *node, *server;
    BreakPolicy policy;
    bool level2;
    TdiEndpoint *ep;
    bool connected;
    GQueue queued;       /* SmbMsg* waiting for the connection */
    uint64_t next_mid, session, tree;
    GPtrArray *handles;  /* Handle* */
    GHashTable *pending; /* msg_id -> Pending* */
    Waits *waits;        /* NULL: nobody waits for an operation */
    const Action *acting; /* the timeline action being run, while it is */
};

bool smbclient_parse_policy(const char *s, BreakPolicy *out)
{
    static const char *const names[] = { "ack", "ack_none", "close", "ignore", "ack_always" };
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (BreakPolicy)i;
            return true;
        }
    return false;
}

static void pending_free(gpointer p)
{
    Pending *q = p;
    g_free(q->op);
    g_free(q->path);
    g_free(q);
}

static void handle_free(gpointer p)
{
    Handle *h = p;
    g_free(h->name);
    g_free(h->path);
    g_free(h);
}

static void on_receive(void *ctx, TdiEndpoint *ep, uint32_t bytes, uint64_t tag);
static void on_disconnect(void *ctx, TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info);

SmbClient *smbclient_new(Tdi *tdi, SmbWire *wire, Sim *sim, Trace *trace, const char *name, NetNode *node,
                         NetNode *server, BreakPolicy policy, bool level2)
{
    SmbClient *c = g_new0(SmbClient, 1);
    c->tdi = tdi;
    c->wire = wire;
    c->sim = sim;
    c->trace = trace;
    c->name = g_strdup(name);
    c->node = node;
    c->server = server;
    c->policy = policy;
    c->level2 = level2;
    c->ep = tdi_endpoint_open(tdi, node, 0, name);
    TdiHandlers h = { on_receive, on_disconnect, c };
    tdi_endpoint_set_handlers(c->ep, &h);
    g_queue_init(&c->queued);
    c->next_mid = 1;
    c->handles = g_ptr_array_new_with_free_func(handle_free);
    c->pending = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, pending_free);
    return c;
}

void smbclient_free(SmbClient *c)
{
    if (!c)
        return;
    g_queue_clear_full(&c->queued, (GDestroyNotify)smb_msg_free);
    g_ptr_array_unref(c->handles);
    g_hash_table_unref(c->pending);
    g_free(c->name);
    g_free(c);
}

/* ---- operations ---- */

/* An operation's row; a timeline action's completion is also the event
 * "smbclient NAME VERB [WORD] done" (`after`). */
static void trace_op_row(SmbClient *c, const Pending *q, SimTime t_done, NTSTATUS st)
{
    trace_op(c->trace, net_node_trace_id(c->node), trace_name(c->trace, q->op), q->handle,
             trace_name(c->trace, q->path ? q->path : ""), q->t0, t_done, st, (int64_t)q->bytes);
    if (q->action && t_done >= 0 && waits_wanted(c->waits)) {
        char *event = q->arg0 ? g_strdup_printf("smbclient %s %s %s done", c->name, q->op, q->arg0)
                              : g_strdup_printf("smbclient %s %s done", c->name, q->op);
        waits_signal(c->waits, event);
        g_free(event);
    }
}

static const char *acting_arg0(const SmbClient *c)
{
    return c->acting && c->acting->spec->n_args > 0 ? c->acting->args[0] : NULL;
}

/* An operation that ends without a message (no handle, not connected). */
static void fail_now(SmbClient *c, const char *op, int handle, const char *path, NTSTATUS st)
{
    Pending q = { (char *)op, handle, (char *)path, sim_now(c->sim), 0, 0, acting_arg0(c), c->acting != NULL };
    trace_op_row(c, &q, sim_now(c->sim), st);
}

static void flush_queue(SmbClient *c)
{
    SmbMsg *m;
    while ((m = g_queue_pop_head(&c->queued)))
        smb_send(c->wire, c->ep, c->node, c->server, m);
}

static void on_connected(void *ctx, TdiEndpoint *ep, const TdiIo *io)
{
    (void)ep;
    SmbClient *c = ctx;
    if (io->status == STATUS_SUCCESS) {
        c->connected = true;
        flush_queue(c);
        return;
    }
    /* Every request waiting for the connection fails with its status. */
    SmbMsg *m;
    while ((m = g_queue_pop_head(&c->queued))) {
        Pending *q = g_hash_table_lookup(c->pending, SMB_ID_KEY(m->msg_id));
        if (q)
            trace_op_row(c, q, sim_now(c->sim), io->status);
        g_hash_table_remove(c->pending, SMB_ID_KEY(m->msg_id));
        smb_msg_free(m);
    }
}

/* Send a request as operation `op`; the connection is made on first use. */
static void request(SmbClient *c, SmbMsg *m, const char *op, int handle, const char *path, uint64_t bytes)
{
    m->msg_id = c->next_mid++;
    m->session = c->session;
    m->tree = c->tree;
    Pending *q = g_new0(Pending, 1);
    q->op = g_strdup(op);
    q->handle = handle;
    q->path = g_strdup(path);
    q->t0 = sim_now(c->sim);
    q->bytes = bytes;
    q->offset = m->offset;
    q->arg0 = acting_arg0(c);
    q->action = c->acting != NULL;
    g_hash_table_insert(c->pending, SMB_ID_KEY(m->msg_id), q);
    if (c->connected) {
        smb_send(c->wire, c->ep, c->node, c->server, m);
        return;
    }
    g_queue_push_tail(&c->queued, m);
    if (tdi_endpoint_state(c->ep) == TDI_EP_IDLE)
        tdi_connect(c->ep, c->server, 445, NULL, on_connected, c);
}

static Handle *handle_named(SmbClient *c, const char *name, int *index)
{
    for (guint i = 0; i < c->handles->len; i++) {
        Handle *h = g_ptr_array_index(c->handles, i);
        if (strcmp(h->name, name) == 0) {
            *index = (int)i + 1;
            return h;
        }
    }
    return NULL;
}

static Handle *handle_by_file(SmbClient *c, uint64_t file)
{
    for (guint i = 0; i < c->handles->len; i++) {
        Handle *h = g_ptr_array_index(c->handles, i);
        if (h->file == file)
            return h;
    }
    return NULL;
}

static uint32_t parse_access(const char *s)
{
    uint32_t a = 0;
    smb_parse_access(s, &a); /* checked when the scenario was read */
    return a;
}

static uint32_t parse_share(const char *s)
{
    uint32_t a = 0;
    for (; *s; s++)
        a |= *s == 'r' ? SHARE_READ : *s == 'w' ? SHARE_WRITE : *s == 'd' ? SHARE_DELETE : 0;
    return a;
}

static uint32_t parse_disposition(const char *s)
{
    static const char *const names[] = { "supersede", "open", "create", "open_if", "overwrite", "overwrite_if" };
    for (uint32_t i = 0; i < 6; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return DISP_OPEN_IF;
}

static OplockLevel parse_oplock(const char *s)
{
    if (strcmp(s, "level2") == 0 || strcmp(s, "level_ii") == 0)
        return OPLOCK_LEVEL_II;
    if (strcmp(s, "exclusive") == 0)
        return OPLOCK_LEVEL_EXCLUSIVE;
    if (strcmp(s, "batch") == 0)
        return OPLOCK_LEVEL_BATCH;
    return OPLOCK_LEVEL_NONE;
}

static CacheState parse_lease(const char *s)
{
    CacheState st = 0;
    for (; *s; s++)
        st |= *s == 'R' ? CACHE_R : *s == 'H' ? CACHE_H : *s == 'W' ? CACHE_W : 0;
    return st;
}

static const char *sval(const Action *a, const char *k) { return action_param(a, k)->s; }
static int64_t ival(const Action *a, const char *k) { return action_param(a, k)->i; }

static void do_create(SmbClient *c, const Action *a)
{
    int idx;
    Handle *h = handle_named(c, a->args[0], &idx);
    if (!h) {
        h = g_new0(Handle, 1);
        h->name = g_strdup(a->args[0]);
        g_ptr_array_add(c->handles, h);
        idx = (int)c->handles->len;
    }
    g_free(h->path);
    h->path = g_strdup(sval(a, "path"));
    h->file = 0;
    h->lease = false;
    h->policy = -1;
    BreakPolicy pol;
    if (smbclient_parse_policy(sval(a, "on_break"), &pol))
        h->policy = (int)pol;
    const char *al = sval(a, "ack_level");
    h->ack_level_set = *al != 0;
    h->ack_level = parse_oplock(al);
    h->ack_lease = parse_lease(al);
    h->ack_delay = ival(a, "ack_delay");
    SmbMsg *m = smb_msg_new(c->wire, SMB2_CREATE);
    m->path = g_strdup(h->path);
    m->access = parse_access(sval(a, "access"));
    m->share_access = parse_share(sval(a, "share"));
    m->disposition = parse_disposition(sval(a, "disposition"));
    m->delete_on_close = ival(a, "delete_on_close");
    m->directory = ival(a, "directory");
    const char *lease = sval(a, "lease");
    if (*lease) {
        /* A lease context; "none" asks for no caching (MS-SMB2 2.2.13.2.8). */
        m->oplock = OPLOCK_LEVEL_LEASE;
        m->lease_ctx = true;
        m->lease_state = strcmp(lease, "none") == 0 ? 0 : parse_lease(lease);
        m->lease_key = (uint64_t)ival(a, "lease_key");
        m->lease_version = (uint8_t)ival(a, "lease_version");
        if (m->lease_version == 2) {
            m->parent_lease_key = (uint64_t)ival(a, "parent_key");
            m->parent_set = m->parent_lease_key != 0;
            m->epoch = (uint16_t)ival(a, "epoch");
        }
        h->lease = true;
        h->lease_key = m->lease_key;
    } else {
        m->oplock = parse_oplock(sval(a, "oplock"));
    }
    request(c, m, "create", idx, h->path, 0);
}

/* A statement on an open handle. */
static void do_on_handle(SmbClient *c, const Action *a, const char *verb)
{
    int idx;
    Handle *h = handle_named(c, a->args[0], &idx);
    if (!h || !h->file) {
        fail_now(c, verb, h ? idx : 0, h ? h->path : a->args[0], STATUS_INVALID_HANDLE);
        return;
    }
    SmbMsg *m;
    uint64_t bytes = 0;
    if (strcmp(verb, "read") == 0 || strcmp(verb, "write") == 0) {
        m = smb_msg_new(c->wire, verb[0] == 'r' ? SMB2_READ : SMB2_WRITE);
        m->offset = (uint64_t)ival(a, "offset");
        m->length = (uint64_t)ival(a, "length");
        bytes = m->length;
    } else if (strcmp(verb, "lock") == 0 || strcmp(verb, "unlock") == 0) {
        m = smb_msg_new(c->wire, SMB2_LOCK);
        m->offset = (uint64_t)ival(a, "offset");
        m->length = (uint64_t)ival(a, "length");
        m->exclusive = verb[0] == 'l' && ival(a, "exclusive");
        m->unlock = verb[0] == 'u';
        m->fail_immediately = true;
    } else if (strcmp(verb, "close") == 0) {
        m = smb_msg_new(c->wire, SMB2_CLOSE);
    } else if (strcmp(verb, "flush") == 0) {
        m = smb_msg_new(c->wire, SMB2_FLUSH);
    } else if (strcmp(verb, "query") == 0) {
        m = smb_msg_new(c->wire, SMB2_QUERY_INFO);
    } else if (strcmp(verb, "rename") == 0) {
        m = smb_msg_new(c->wire, SMB2_SET_INFO);
        m->info_class = INFO_RENAME;
        m->new_path = g_strdup(sval(a, "to"));
    } else if (strcmp(verb, "delete") == 0) {
        m = smb_msg_new(c->wire, SMB2_SET_INFO);
        m->info_class = INFO_DISPOSITION;
        m->delete_on_close = true;
    } else if (strcmp(verb, "set_eof") == 0 || strcmp(verb, "set_alloc") == 0) {
        m = smb_msg_new(c->wire, SMB2_SET_INFO);
        m->info_class = verb[4] == 'e' ? INFO_EOF : INFO_ALLOCATION;
        m->length = (uint64_t)ival(a, "length");
    } else if (strcmp(verb, "set_basic") == 0) {
        m = smb_msg_new(c->wire, SMB2_SET_INFO);
        m->info_class = INFO_BASIC;
        m->attributes = (uint32_t)ival(a, "attributes");
    } else { /* ack: an acknowledgement sent by hand */
        m = smb_msg_new(c->wire, SMB2_OPLOCK_BREAK);
        const char *lv = sval(a, "level");
        if (h->lease) {
            m->oplock = OPLOCK_LEVEL_LEASE;
            m->lease_state = parse_lease(lv);
            m->lease_key = h->lease_key;
        } else {
            m->oplock = parse_oplock(lv);
        }
    }
    m->file = h->file;
    request(c, m, verb, idx, h->path, bytes);
}

static void smbclient_act(SmbClient *c, const Action *a);

void smbclient_set_waits(SmbClient *c, Waits *waits) { c->waits = waits; }

void smbclient_action(SmbClient *c, const Action *a)
{
    c->acting = a;
    smbclient_act(c, a);
    c->acting = NULL;
}

static void smbclient_act(SmbClient *c, const Action *a)
{
    const char *verb = a->spec->verb;
    SmbMsg *m;
    if (strcmp(verb, "negotiate") == 0) {
        m = smb_msg_new(c->wire, SMB2_NEGOTIATE);
        m->dialect = smb_dialect(sval(a, "dialect"));
        m->no_level2 = !c->level2;
        request(c, m, verb, 0, "", 0);
    } else if (strcmp(verb, "session") == 0) {
        m = smb_msg_new(c->wire, SMB2_SESSION_SETUP);
        m->user = g_strdup(sval(a, "user"));
        m->password = g_strdup(sval(a, "password"));
        request(c, m, verb, 0, m->user, 0);
    } else if (strcmp(verb, "logoff") == 0) {
        request(c, smb_msg_new(c->wire, SMB2_LOGOFF), verb, 0, "", 0);
    } else if (strcmp(verb, "tree") == 0) {
        m = smb_msg_new(c->wire, SMB2_TREE_CONNECT);
        m->share = g_strdup(sval(a, "share"));
        request(c, m, verb, 0, m->share, 0);
    } else if (strcmp(verb, "tree_disconnect") == 0) {
        request(c, smb_msg_new(c->wire, SMB2_TREE_DISCONNECT), verb, 0, "", 0);
    } else if (strcmp(verb, "echo") == 0) {
        request(c, smb_msg_new(c->wire, SMB2_ECHO), verb, 0, "", 0);
    } else if (strcmp(verb, "dir") == 0) {
        request(c, smb_msg_new(c->wire, SMB2_QUERY_DIRECTORY), verb, 0, "", 0);
    } else if (strcmp(verb, "notify") == 0) {
        request(c, smb_msg_new(c->wire, SMB2_CHANGE_NOTIFY), verb, 0, "", 0);
    } else if (strcmp(verb, "ioctl") == 0) {
        request(c, smb_msg_new(c->wire, SMB2_IOCTL), verb, 0, "", 0);
    } else if (strcmp(verb, "create") == 0) {
        do_create(c, a);
    } else {
        do_on_handle(c, a, verb);
    }
}

/* ---- responses and breaks ---- */

/* Acknowledge a break: to the level offered, to none, or to the handle's
 * ack_level. */
static void send_ack(SmbClient *c, Handle *h, const SmbMsg *brk, bool none)
{
    SmbMsg *m = smb_msg_new(c->wire, SMB2_OPLOCK_BREAK);
    m->file = brk->file;
    if (brk->oplock == OPLOCK_LEVEL_LEASE) {
        m->oplock = OPLOCK_LEVEL_LEASE;
        m->lease_key = brk->lease_key;
        m->lease_state = none ? 0 : h->ack_level_set ? h->ack_lease : brk->lease_state;
    } else {
        m->oplock = none ? OPLOCK_LEVEL_NONE : h->ack_level_set ? h->ack_level : brk->oplock;
    }
    int idx = 0;
    handle_named(c, h->name, &idx);
    request(c, m, "ack", idx, h->path, 0);
}

/* A handle answers a break by its policy (OPLOCKS.md C3: acknowledge to
 * the offered level, to none, close instead, or ignore it). */
static void answer_break(SmbClient *c, Handle *h, const SmbMsg *brk, bool required)
{
    BreakPolicy policy = h->policy >= 0 ? (BreakPolicy)h->policy : c->policy;
    switch (policy) {
    case ON_BREAK_ACK:
        if (required)
            send_ack(c, h, brk, false);
        break;
    case ON_BREAK_ACK_NONE:
        if (required)
            send_ack(c, h, brk, true);
        break;
    case ON_BREAK_ACK_ALWAYS:
        send_ack(c, h, brk, false);
        break;
    case ON_BREAK_CLOSE:
        if (required && h->file) {
            SmbMsg *m = smb_msg_new(c->wire, SMB2_CLOSE);
            m->file = h->file;
            int idx = 0;
            handle_named(c, h->name, &idx);
            request(c, m, "close", idx, h->path, 0);
        }
        break;
    case ON_BREAK_IGNORE:
        break;
    }
}

static bool break_required(const Handle *h, const SmbMsg *brk)
{
    /* B4: only a break from EXCLUSIVE or BATCH is acknowledged. */
    return brk->oplock == OPLOCK_LEVEL_LEASE ? brk->ack_required
                                             : h->level == OPLOCK_LEVEL_EXCLUSIVE || h->level == OPLOCK_LEVEL_BATCH;
}

static void on_delayed_break(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    DelayedBreak *d = ctx;
    int idx;
    Handle *h = handle_named(d->c, d->handle, &idx);
    if (h && h->file == d->brk->file)
        answer_break(d->c, h, d->brk, arg != 0);
    smb_msg_free(d->brk);
    g_free(d->handle);
    g_free(d);
}

static void on_break(SmbClient *c, SmbMsg *brk, bool *kept)
{
    Handle *h = handle_by_file(c, brk->file);
    if (!h)
        return;
    bool required = break_required(h, brk);
    if (brk->oplock != OPLOCK_LEVEL_LEASE)
        h->level = brk->oplock;
    if (h->ack_delay > 0) {
        /* The message is kept for the answer (the wire's pool holds it
         * until it is freed, before the wire goes at the end of the run). */
        DelayedBreak *d = g_new0(DelayedBreak, 1);
        d->c = c;
        d->handle = g_strdup(h->name);
        d->brk = brk;
        *kept = true;
        sim_after(c->sim, h->ack_delay, on_delayed_break, d, required);
        return;
    }
    answer_break(c, h, brk, required);
}

static void on_receive(void *ctx, TdiEndpoint *ep, uint32_t bytes, uint64_t tag)
{
    (void)ep;
    (void)bytes;
    SmbClient *c = ctx;
    SmbMsg *m = smb_receive(c->wire, tag);
    if (!m)
        return;
    bool kept = false;
    if (m->cmd == SMB2_OPLOCK_BREAK && m->msg_id == SMB2_UNSOLICITED) {
        on_break(c, m, &kept);
    } else if (!(m->async && m->status == STATUS_PENDING)) { /* interim responses only say "pending" */
        Pending *q = g_hash_table_lookup(c->pending, SMB_ID_KEY(m->msg_id));
        if (q) {
            if (m->status == STATUS_SUCCESS) {
                if (m->cmd == SMB2_SESSION_SETUP)
                    c->session = m->session;
                else if (m->cmd == SMB2_TREE_CONNECT)
                    c->tree = m->tree;
                else if (m->cmd == SMB2_CREATE && q->handle) {
                    Handle *h = g_ptr_array_index(c->handles, q->handle - 1);
                    h->file = m->file;
                    h->level = m->oplock;
                }
                else if (m->cmd == SMB2_CLOSE && q->handle)
                    ((Handle *)g_ptr_array_index(c->handles, q->handle - 1))->file = 0;
                if (m->cmd == SMB2_READ) {
                    q->bytes = m->length;
                    trace_read(c->trace, sim_now(c->sim), net_node_trace_id(c->node), q->handle,
                               trace_name(c->trace, q->path), q->offset, m->length, m->version);
                }
            }
            if (m->cmd == SMB2_CREATE && m->status == STATUS_SUCCESS) {
                bool lease = m->oplock == OPLOCK_LEVEL_LEASE;
                CacheState st = lease ? m->lease_state : oplock_level_state(m->oplock);
                trace_grant(c->trace, sim_now(c->sim), net_node_trace_id(c->node), q->handle,
                            trace_name(c->trace, q->path), trace_name(c->trace, oplock_state_name(lease, st)),
                            m->lease_break_in_progress);
            }
            trace_op_row(c, q, sim_now(c->sim), m->status);
            g_hash_table_remove(c->pending, SMB_ID_KEY(m->msg_id));
        }
    }
    if (!kept)
        smb_msg_free(m);
}

static void on_disconnect(void *ctx, TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info)
{
    (void)info;
    SmbClient *c = ctx;
    c->connected = false;
    if (flags & TDI_DISCONNECT_RELEASE)
        tdi_disconnect(ep, TDI_DISCONNECT_RELEASE, NULL, NULL, NULL, NULL);
    /* Requests in flight are lost with the connection. */
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, c->pending);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        trace_op_row(c, v, sim_now(c->sim), STATUS_CONNECTION_DISCONNECTED);
        g_hash_table_iter_remove(&it);
    }
    for (guint i = 0; i < c->handles->len; i++)
        ((Handle *)g_ptr_array_index(c->handles, i))->file = 0;
    c->session = c->tree = 0;
}

void smbclient_flush_trace(SmbClient *c)
{
    GPtrArray *ids = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, c->pending);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_ptr_array_add(ids, k);
    /* message ids in order: the trace must not depend on hash order */
    for (guint i = 0; i < ids->len; i++)
        for (guint j = i + 1; j < ids->len; j++)
            if (GPOINTER_TO_SIZE(g_ptr_array_index(ids, j)) < GPOINTER_TO_SIZE(g_ptr_array_index(ids, i))) {
                gpointer t = g_ptr_array_index(ids, i);
                g_ptr_array_index(ids, i) = g_ptr_array_index(ids, j);
                g_ptr_array_index(ids, j) = t;
            }
    for (guint i = 0; i < ids->len; i++)
        trace_op_row(c, g_hash_table_lookup(c->pending, g_ptr_array_index(ids, i)), -1, STATUS_PENDING);
    g_ptr_array_unref(ids);
}
