#include "server.h"

#include <glib.h>
#include <string.h>

#include "ilist.h"
#include "pool.h"
#include "rng.h"
#include "trace.h"

#define SMB_PORT 445

typedef struct Conn Conn;
typedef struct File File;

typedef struct {
    char *name;
    SmbServer *srv;
    GHashTable *files; /* path -> File* */
    bool deleted;
    GQueue notifies;   /* Waiter*: CHANGE_NOTIFY requests waiting for a change */
} Share;

typedef struct {
    char *name, *password;
    char **workstations;
} User;

typedef struct {
    uint64_t id;
    User *user;
    Conn *conn;
    bool valid;
    SimEventId expiry;
} Session;

typedef struct {
    uint64_t id;
    Share *share;
    Session *session;
} Tree;

/* Who holds caching rights: a lease shared by the opens of one key, or
 * the plain oplock of one open. */
typedef struct {
    bool lease;
    uint64_t key;
    CacheState state;
    bool breaking, ack_required;
    CacheState to;
    SimEventId timer;
    int refs;               /* opens holding it */
    Conn *conn;             /* where its notifications go */
    uint64_t notify_file;   /* FileId a notification names */
    File *file;
    uint64_t seq;           /* order of making, which is the order of file->owners */
    /* the break under way, for the trace */
    uint32_t row_from, row_trigger;
    SimTime row_sent;
    int64_t row_open;
} Owner;

typedef struct {
    uint64_t id;
    File *file;
    Session *session;
    Tree *tree;
    Conn *conn;
    uint32_t access, share_access;
    bool delete_on_close;
    Owner *owner; /* NULL: no oplock or lease */
    guint at;     /* its index in file->opens */
} Open;

typedef struct {
    Open *open;
    uint64_t start, len;
    bool exclusive;
} Lock;

/* An operation waiting for breaks on its file. */
typedef struct {
    Conn *conn;
    SmbMsg *req;
    bool interim_sent;
} Waiter;

struct File {
    char *path;
    uint32_t path_name; /* its trace name id, 0 until a row first needs it */
    Share *share;
    uint64_t size, next_version;
    GArray *extents;    /* Range: stamp for the coherence oracle, aux the server's own write version */
    GPtrArray *opens;   /* Open*, in no particular order (nothing depends on it): removal swaps in the last */
    GPtrArray *owners;  /* Owner* */
    GPtrArray *cachers; /* the owners whose state is not none, in the order of owners:
                           the only ones a break can touch */
    /* Over the opens with data access, for the share check of a new open:
     * how many hold read, write, delete access, and how many do not share
     * each.  (Index 0 read, 1 write or append, 2 delete.) */
    uint32_t holding[3], not_sharing[3];
    GPtrArray *locks;   /* Lock* */
    GQueue waiters;     /* Waiter* */
    bool delete_pending;
};

struct Conn {
    SmbServer *srv;
    TdiEndpoint *ep;
    NetNode *peer;
    uint16_t dialect;
    uint64_t negotiated; /* the NEGOTIATE as received (smb_negotiate_digest): what validation compares */
    bool dead;
    /* What this connection's last requests named, to skip the server-wide
     * tables, which at a thousand clients cost three cold lines a lookup.
     * Session and tree hints hold while srv->forgets is hint_forgets; an
     * open's is dropped when it closes. */
    Session *hint_session;
    Tree *hint_tree;
    Open *hint_open;
    uint64_t hint_forgets;
};

/* A request waiting for its service time. */
typedef struct {
    Conn *c;
    SmbMsg *req;
    GList link; /* in the server's jobs */
} Job;

struct SmbServer {
    Tdi *tdi;
    SmbWire *wire;
    NetNode *node;
    Sim *sim;
    Trace *trace;
    ServerParams p;
    Rng rng;
    GHashTable *shares; /* name -> Share* */
    GHashTable *users;  /* name -> User* */
    GPtrArray *conns;   /* Conn*, kept to the end: endpoints and events refer to them */
    GHashTable *sessions, *trees, *opens; /* id -> */
    GHashTable *dir_opens; /* id -> Tree*: opens of directories (MRxIsValidDirectory's), which hold no file */
    uint64_t forgets; /* sessions and trees taken out of the tables so far */
    uint64_t next_id;
    int endpoints;
    GQueue jobs; /* Job*: requests waiting for their service time (linked
                  * through the job: a hash set cost 300 instructions a request) */
    Pool job_pool;
    Coherence *coh;
    TraceFixedNames fixed; /* levels, outcomes, triggers: a break row named four */
};

enum { OUT_ACKED, OUT_CLOSED, OUT_TIMEOUT, OUT_NONE_NEEDED, OUT_PENDING };

/* ---- set-up ---- */

static void share_free(gpointer p);
static TdiEndpoint *on_offer(void *ctx, NetNode *remote);

SmbServer *server_new(Tdi *tdi, SmbWire *wire, Sim *sim, Trace *trace, NetNode *node, const ServerParams *p,
                      uint64_t seed)
{
    SmbServer *s = g_new0(SmbServer, 1);
    pool_init(&s->job_pool, sizeof(Job));
    s->tdi = tdi;
    s->sim = sim;
    s->trace = trace;
    s->wire = wire;
    s->node = node;
    s->p = *p;
    dist_copy(&s->p.service, &p->service);
    char *stream = g_strdup_printf("server:%s", net_node_name(node));
    rng_stream(&s->rng, seed, stream);
    g_free(stream);
    s->shares = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, share_free);
    s->users = g_hash_table_new(g_str_hash, g_str_equal);
    s->conns = g_ptr_array_new_with_free_func(g_free);
    s->sessions = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    s->trees = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    s->opens = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    s->dir_opens = g_hash_table_new(g_direct_hash, g_direct_equal);
    s->next_id = 1;
    tdi_set_connect_handler(tdi, node, SMB_PORT, on_offer, s);
    return s;
}

NetNode *server_node(const SmbServer *s) { return s->node; }

void server_set_coherence(SmbServer *s, Coherence *coh) { s->coh = coh; }

GArray *server_file_stamps(SmbServer *s, const char *share, const char *path, uint64_t start, uint64_t end)
{
    Share *sh = g_hash_table_lookup(s->shares, share);
    File *f = sh && !sh->deleted ? g_hash_table_lookup(sh->files, path) : NULL;
    return f ? ranges_slice(f->extents, start, end) : NULL;
}

void server_add_share(SmbServer *s, const char *name)
{
    Share *sh = g_new0(Share, 1);
    sh->name = g_strdup(name);
    sh->srv = s;
    sh->files = g_hash_table_new(g_str_hash, g_str_equal);
    g_queue_init(&sh->notifies);
    g_hash_table_insert(s->shares, sh->name, sh);
}

/* A change in a share's namespace completes its CHANGE_NOTIFY requests. */
static void send_msg(Conn *c, SmbMsg *m);
static SmbMsg *response_to(const SmbMsg *req, NTSTATUS st);
static void share_changed(Share *sh)
{
    Waiter *w;
    while ((w = g_queue_pop_head(&sh->notifies))) {
        send_msg(w->conn, response_to(w->req, STATUS_SUCCESS));
        smb_msg_free(w->req);
        g_free(w);
    }
}

/* "\srv\share\path", the oracle's name of a file. */
static char *file_key(const File *f)
{
    return g_strdup_printf("\\%s\\%s\\%s", net_node_name(f->share->srv->node), f->share->name, f->path);
}

/* The oracle hears of a change the server makes to a file itself. */
static void coh_file_truncated(File *f, uint64_t size)
{
    ranges_trim(f->extents, size);
    if (!f->share->srv->coh)
        return;
    char *k = file_key(f);
    coh_truncate(f->share->srv->coh, k, size);
    g_free(k);
}

static File *file_new(Share *sh, const char *path, uint64_t size)
{
    File *f = g_new0(File, 1);
    f->path = g_strdup(path);
    f->share = sh;
    f->size = size;
    f->extents = ranges_new();
    Range e = { 0, size, 0, 0 }; /* stamp and version 0: the initial contents */
    ranges_put(f->extents, e);
    f->next_version = 1;
    f->opens = g_ptr_array_new();
    f->owners = g_ptr_array_new();
    f->cachers = g_ptr_array_new();
    f->locks = g_ptr_array_new_with_free_func(g_free);
    g_queue_init(&f->waiters);
    g_hash_table_insert(sh->files, f->path, f);
    return f;
}

static void waiter_free(gpointer p)
{
    Waiter *w = p;
    smb_msg_free(w->req);
    g_free(w);
}

static void file_free(File *f)
{
    g_array_unref(f->extents);
    g_ptr_array_unref(f->opens);
    for (guint i = 0; i < f->owners->len; i++)
        g_free(g_ptr_array_index(f->owners, i));
    g_ptr_array_unref(f->owners);
    g_ptr_array_unref(f->cachers);
    g_ptr_array_unref(f->locks);
    g_queue_clear_full(&f->waiters, waiter_free);
    g_free(f->path);
    g_free(f);
}

static void share_free(gpointer p)
{
    Share *sh = p;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, sh->files);
    while (g_hash_table_iter_next(&it, &k, &v))
        file_free(v);
    g_hash_table_unref(sh->files);
    g_queue_clear_full(&sh->notifies, waiter_free);
    g_free(sh->name);
    g_free(sh);
}

void server_add_file(SmbServer *s, const char *share, const char *path, uint64_t size)
{
    Share *sh = g_hash_table_lookup(s->shares, share);
    if (sh && !g_hash_table_lookup(sh->files, path))
        file_new(sh, path, size);
}

void server_add_user(SmbServer *s, const char *user, const char *password, char **workstations)
{
    User *u = g_new0(User, 1);
    u->name = g_strdup(user);
    u->password = g_strdup(password);
    u->workstations = g_strdupv(workstations);
    g_hash_table_insert(s->users, u->name, u);
}

/* ---- sending ---- */

static SmbMsg *response_to(const SmbMsg *req, NTSTATUS st)
{
    SmbMsg *r = smb_msg_new(req->wire, req->cmd);
    r->msg_id = req->msg_id;
    r->response = true;
    r->status = st;
    r->session = req->session;
    r->tree = req->tree;
    r->file = req->file;
    return r;
}

static void send_msg(Conn *c, SmbMsg *m)
{
    if (c->dead) {
        smb_msg_free(m);
        return;
    }
    smb_send(c->srv->wire, c->ep, c->srv->node, c->peer, m);
}

static void reply(Conn *c, const SmbMsg *req, NTSTATUS st) { send_msg(c, response_to(req, st)); }

/* ---- breaks ---- */

static uint32_t fixed_name(SmbServer *s, const char *n) { return trace_name_fixed(s->trace, &s->fixed, n); }

static uint32_t file_name(SmbServer *s, File *f)
{
    if (!f->path_name)
        f->path_name = trace_name(s->trace, f->path);
    return f->path_name;
}

static void write_break_row(SmbServer *s, Owner *o, CacheState to, SimTime acked, int outcome)
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

static void resolve_waiters(File *f);

/* Every change of an owner's state goes through here, to keep the file's
 * list of caching owners (in the order of its owners). */
static void owner_set_state(Owner *o, CacheState state)
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
    write_break_row(s, o, 0, -1, OUT_TIMEOUT);
    owner_set_state(o, 0);
    o->breaking = false;
    resolve_waiters(o->file);
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
    send_msg(o->conn, m);
    if (!b->ack) {
        /* B4: LEVEL_II -> NONE (or a lease R -> none) takes effect at once. */
        write_break_row(s, o, b->to, -1, OUT_NONE_NEEDED);
        owner_set_state(o, b->to);
        return;
    }
    o->breaking = true;
    o->ack_required = true;
    o->to = b->to;
    o->timer = sim_after(s->sim, s->p.break_timeout, on_break_timeout, o, 0);
}

/* ---- share modes ---- */

static bool data_access(uint32_t a) { return a & (ACCESS_READ_DATA | ACCESS_WRITE_DATA | ACCESS_APPEND_DATA | ACCESS_DELETE); }

static const uint32_t access_bits[3] = { ACCESS_READ_DATA, ACCESS_WRITE_DATA | ACCESS_APPEND_DATA, ACCESS_DELETE };
static const uint32_t share_bits[3] = { SHARE_READ, SHARE_WRITE, SHARE_DELETE };

/* An open joins (delta 1) or leaves (-1) the file's share counts. */
static void count_share(File *f, const Open *o, int delta)
{
    if (!data_access(o->access))
        return;
    for (int i = 0; i < 3; i++) {
        if (o->access & access_bits[i])
            f->holding[i] += (uint32_t)delta;
        if (!(o->share_access & share_bits[i]))
            f->not_sharing[i] += (uint32_t)delta;
    }
}

/* Would a new open conflict with any open of the file?  The same test as
 * share_conflict against every open in turn, from the counts: "some open
 * does not share read" is not_sharing[0] > 0, and so on. */
static bool file_share_conflict(const File *f, uint32_t access, uint32_t share)
{
    if (!data_access(access))
        return false;
    for (int i = 0; i < 3; i++)
        if (((access & access_bits[i]) && f->not_sharing[i]) || (f->holding[i] && !(share & share_bits[i])))
            return true;
    return false;
}

static bool share_conflict(const Open *o, uint32_t access, uint32_t share)
{
    if (!data_access(access) || !data_access(o->access))
        return false; /* attribute-only opens share with anything */
    bool r = access & ACCESS_READ_DATA, w = access & (ACCESS_WRITE_DATA | ACCESS_APPEND_DATA),
         d = access & ACCESS_DELETE;
    bool or_ = o->access & ACCESS_READ_DATA, ow = o->access & (ACCESS_WRITE_DATA | ACCESS_APPEND_DATA),
         od = o->access & ACCESS_DELETE;
    return (r && !(o->share_access & SHARE_READ)) || (w && !(o->share_access & SHARE_WRITE)) ||
           (d && !(o->share_access & SHARE_DELETE)) || (or_ && !(share & SHARE_READ)) ||
           (ow && !(share & SHARE_WRITE)) || (od && !(share & SHARE_DELETE));
}

/* Does the owner have an open that conflicts with this share mode?  A plain
 * oplock belongs to exactly one open, whose id is its key. */
static bool owner_conflicts(SmbServer *s, File *f, Owner *o, uint32_t access, uint32_t share)
{
    if (!o->lease) {
        Open *op = g_hash_table_lookup(s->opens, SMB_ID_KEY(o->key));
        return op && share_conflict(op, access, share);
    }
    for (guint i = 0; i < f->opens->len; i++) {
        Open *op = g_ptr_array_index(f->opens, i);
        if (op->owner == o && share_conflict(op, access, share))
            return true;
    }
    return false;
}

/* Break what the cause needs broken; true when it must wait.  An owner whose
 * state is none can neither be broken nor be waited for (oplock.c: on_open
 * and on_io return nothing for state 0), so only f->cachers are visited: a
 * hot file's opens that lost their oplocks cost nothing.  They are visited
 * from a copy, since a break to none takes its owner off the list. */
static bool break_owners(SmbServer *s, File *f, OplockCause *c, uint32_t access, uint32_t share, Open *self)
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

/* ---- sessions and trees ---- */

static void hints_check(Conn *c)
{
    if (c->hint_forgets != c->srv->forgets) {
        c->hint_session = NULL;
        c->hint_tree = NULL;
        c->hint_forgets = c->srv->forgets;
    }
}

static Session *session_of(Conn *c, const SmbMsg *m)
{
    hints_check(c);
    Session *ss = c->hint_session;
    if (!ss || ss->id != m->session) {
        ss = g_hash_table_lookup(c->srv->sessions, SMB_ID_KEY(m->session));
        c->hint_session = ss;
    }
    return ss && ss->valid ? ss : NULL;
}

static Tree *tree_of(Conn *c, const SmbMsg *m, NTSTATUS *st)
{
    if (!session_of(c, m)) {
        *st = STATUS_USER_SESSION_DELETED;
        return NULL;
    }
    Tree *t = c->hint_tree;
    if (!t || t->id != m->tree) {
        t = g_hash_table_lookup(c->srv->trees, SMB_ID_KEY(m->tree));
        c->hint_tree = t;
    }
    if (!t || t->share->deleted) {
        *st = STATUS_NETWORK_NAME_DELETED;
        return NULL;
    }
    return t;
}

static void on_session_expiry(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Session *ss = ctx;
    ss->expiry = SIM_NO_EVENT;
    ss->valid = false;
}

static bool allowed_from(const User *u, const char *node)
{
    if (!u->workstations)
        return true;
    for (char **w = u->workstations; *w; w++)
        if (strcmp(*w, node) == 0)
            return true;
    return false;
}

static void conn_gone(Conn *c);

/* The server capabilities it answers with (MS-SMB2 2.2.4). */
#define SERVER_CAPABILITIES 0x7fu

static void do_negotiate(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    /* MS-SMB2 3.3.5.4: no dialect in common, STATUS_NOT_SUPPORTED.  (A
     * downgrade is detected by the client, not here: see validation.) */
    uint16_t lowest = req->min_dialect ? req->min_dialect : SMB2_DIALECT_202;
    if (req->dialect < s->p.min_dialect || lowest > s->p.max_dialect) {
        reply(c, req, STATUS_NOT_SUPPORTED);
        return;
    }
    c->dialect = MIN(req->dialect, s->p.max_dialect);
    c->negotiated = smb_negotiate_digest(req);
    SmbMsg *r = response_to(req, STATUS_SUCCESS);
    r->dialect = c->dialect;
    r->capabilities = SERVER_CAPABILITIES;
    send_msg(c, r);
}

/* FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.3.5.15.12): the client repeats
 * what its NEGOTIATE offered; when that is not what this connection
 * received, the server terminates the transport connection. */
static bool validate_negotiate(Conn *c, const SmbMsg *req)
{
    if (smb_negotiate_digest(req) == c->negotiated) {
        SmbMsg *r = response_to(req, STATUS_SUCCESS);
        r->dialect = c->dialect;
        r->capabilities = SERVER_CAPABILITIES;
        send_msg(c, r);
        return true;
    }
    conn_gone(c);
    tdi_disconnect(c->ep, TDI_DISCONNECT_ABORT, NULL, NULL, NULL, NULL);
    return false;
}

static void do_session_setup(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    User *u = req->user ? g_hash_table_lookup(s->users, req->user) : NULL;
    if (!c->dialect) {
        reply(c, req, STATUS_INVALID_PARAMETER);
        return;
    }
    if (!u || g_strcmp0(u->password, req->password) != 0) {
        reply(c, req, STATUS_LOGON_FAILURE);
        return;
    }
    if (!allowed_from(u, net_node_name(c->peer))) {
        reply(c, req, STATUS_LOGIN_WKSTA_RESTRICTION);
        return;
    }
    if (!s->p.multi_credentials) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, s->sessions);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            Session *o = v;
            if (o->valid && o->conn->peer == c->peer && o->user != u) {
                reply(c, req, STATUS_NETWORK_CREDENTIAL_CONFLICT);
                return;
            }
        }
    }
    Session *ss = g_new0(Session, 1);
    ss->id = s->next_id++;
    ss->user = u;
    ss->conn = c;
    ss->valid = true;
    if (s->p.session_expiry > 0)
        ss->expiry = sim_after(s->sim, s->p.session_expiry, on_session_expiry, ss, 0);
    g_hash_table_insert(s->sessions, SMB_ID_KEY(ss->id), ss);
    SmbMsg *r = response_to(req, STATUS_SUCCESS);
    r->session = ss->id;
    /* 3.1.1: the final response is signed with a key derived from the
     * pre-authentication integrity value, which covers the NEGOTIATE as
     * this side received it (MS-SMB2 3.3.5.5.3). */
    if (c->dialect == SMB2_DIALECT_311)
        r->preauth = c->negotiated;
    send_msg(c, r);
}

static void do_tree_connect(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    Session *ss = session_of(c, req);
    if (!ss) {
        reply(c, req, STATUS_USER_SESSION_DELETED);
        return;
    }
    Share *sh = req->share ? g_hash_table_lookup(s->shares, req->share) : NULL;
    if (!sh || sh->deleted) {
        /* MS-SMB2 3.3.5.7: no share of that name, STATUS_BAD_NETWORK_NAME */
        reply(c, req, STATUS_BAD_NETWORK_NAME);
        return;
    }
    Tree *t = g_new0(Tree, 1);
    t->id = s->next_id++;
    t->share = sh;
    t->session = ss;
    g_hash_table_insert(s->trees, SMB_ID_KEY(t->id), t);
    SmbMsg *r = response_to(req, STATUS_SUCCESS);
    r->tree = t->id;
    send_msg(c, r);
}

/* ---- opens ---- */

static Owner *owner_for(File *f, bool lease, uint64_t key)
{
    if (lease)
        for (guint i = 0; i < f->owners->len; i++) {
            Owner *o = g_ptr_array_index(f->owners, i);
            if (o->lease && o->key == key)
                return o;
        }
    return NULL;
}

static void drop_owner(File *f, Owner *o)
{
    if (--o->refs > 0)
        return;
    SmbServer *s = o->conn->srv;
    if (o->breaking) {
        /* The holder's close counts as its acknowledgement. */
        sim_cancel(s->sim, o->timer);
        write_break_row(s, o, o->to, sim_now(s->sim), OUT_CLOSED);
    }
    owner_set_state(o, 0);
    g_ptr_array_remove(f->owners, o);
    g_free(o);
}

static void remove_file(File *f)
{
    Share *sh = f->share;
    if (sh->srv->coh) {
        char *k = file_key(f);
        coh_remove(sh->srv->coh, k);
        g_free(k);
    }
    g_hash_table_remove(sh->files, f->path);
    file_free(f);
    share_changed(sh);
}

/* Close an open: its locks go, its oplock or lease reference goes, and a
 * pending delete happens with the last open. */
static void close_open(SmbServer *s, Open *op)
{
    File *f = op->file;
    for (guint i = f->locks->len; i-- > 0;)
        if (((Lock *)g_ptr_array_index(f->locks, i))->open == op)
            g_ptr_array_remove_index(f->locks, i);
    if (op->delete_on_close)
        f->delete_pending = true;
    Open *last = g_ptr_array_index(f->opens, f->opens->len - 1);
    g_ptr_array_index(f->opens, op->at) = last;
    last->at = op->at;
    g_ptr_array_set_size(f->opens, f->opens->len - 1);
    count_share(f, op, -1);
    if (op->owner)
        drop_owner(f, op->owner);
    if (op->conn && op->conn->hint_open == op)
        op->conn->hint_open = NULL;
    g_hash_table_remove(s->opens, SMB_ID_KEY(op->id));
    if (f->opens->len == 0 && f->delete_pending && g_queue_is_empty(&f->waiters))
        remove_file(f);
    else
        resolve_waiters(f);
}

static bool is_overwrite(uint32_t disp)
{
    return disp == DISP_SUPERSEDE || disp == DISP_OVERWRITE || disp == DISP_OVERWRITE_IF;
}

static void defer(Conn *c, File *f, SmbMsg *req, Waiter *w)
{
    if (!w) {
        w = g_new0(Waiter, 1);
        w->conn = c;
        w->req = req;
        g_queue_push_tail(&f->waiters, w);
    }
    if (!w->interim_sent) {
        /* B8: an interim response while the operation waits. */
        SmbMsg *r = response_to(req, STATUS_PENDING);
        r->async = true;
        send_msg(c, r);
        w->interim_sent = true;
    }
}

/* Try a create.  Returns true when it was answered (the caller still owns
 * the request), false when it waits (the waiter owns the request). */
static bool try_create(Conn *c, SmbMsg *req, Waiter *w)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    Tree *t = tree_of(c, req, &st);
    if (!t) {
        reply(c, req, st);
        return true;
    }
    File *f = g_hash_table_lookup(t->share->files, req->path);
    uint32_t disp = req->disposition;
    if (!f && (disp == DISP_OPEN || disp == DISP_OVERWRITE)) {
        reply(c, req, STATUS_OBJECT_NAME_NOT_FOUND);
        return true;
    }
    if (f && disp == DISP_CREATE) {
        reply(c, req, STATUS_OBJECT_NAME_COLLISION);
        return true;
    }
    if (f && f->delete_pending) {
        reply(c, req, STATUS_DELETE_PENDING); /* R9: no break */
        return true;
    }
    bool lease = req->oplock == OPLOCK_LEVEL_LEASE;
    if (f) {
        OplockCause cause = { .trigger = TRIGGER_OPEN, .key = lease ? req->lease_key : UINT64_MAX - 1,
                              .lease = lease, .stat_open = oplock_is_stat_open(req->access, lease),
                              .overwrite = is_overwrite(disp) };
        if (break_owners(s, f, &cause, req->access, req->share_access, NULL)) {
            defer(c, f, req, w);
            return false;
        }
        if (file_share_conflict(f, req->access, req->share_access)) {
            reply(c, req, STATUS_SHARING_VIOLATION);
            return true;
        }
    } else {
        f = file_new(t->share, req->path, 0);
        share_changed(t->share);
    }
    if (is_overwrite(disp)) {
        f->size = 0;
        coh_file_truncated(f, 0);
    }
    /* The grant (R4, R5). */
    bool others = false, plain = false, hlease = false;
    for (guint i = 0; i < f->opens->len; i++) {
        Open *o = g_ptr_array_index(f->opens, i);
        if (!oplock_is_stat_open(o->access, false) || o->owner) {
            others = true;
            break;
        }
    }
    for (guint i = 0; i < f->cachers->len; i++) {
        Owner *o = g_ptr_array_index(f->cachers, i);
        plain = plain || (!o->lease && o->state);
        hlease = hlease || (o->lease && (o->state & CACHE_H) && !(lease && o->key == req->lease_key));
    }
    Open *op = g_new0(Open, 1);
    op->id = s->next_id++;
    op->file = f;
    op->session = t->session;
    op->tree = t;
    op->conn = c;
    op->access = req->access;
    op->share_access = req->share_access;
    op->delete_on_close = req->delete_on_close;
    SmbMsg *r = response_to(req, STATUS_SUCCESS);
    r->file = op->id;
    r->length = f->size; /* EndOfFile */
    Owner *own = lease ? owner_for(f, true, req->lease_key) : NULL;
    if (own) {
        /* Same key: the open joins the lease (B6: reports the state it had
         * while a break is under way). */
        own->refs++;
        op->owner = own;
        r->oplock = OPLOCK_LEVEL_LEASE;
        r->lease_state = own->state;
        r->lease_break_in_progress = own->breaking;
    } else {
        CacheState requested = lease ? req->lease_state : oplock_level_state(req->oplock);
        CacheState g = requested ? oplock_grant(lease, requested, others, plain, hlease) : 0;
        if (g) {
            own = g_new0(Owner, 1);
            own->lease = lease;
            own->key = lease ? req->lease_key : op->id;
            own->refs = 1;
            own->conn = c;
            own->file = f;
            own->seq = s->next_id; /* ids only grow: a making order */
            owner_set_state(own, g);
            own->notify_file = op->id;
            own->row_open = (int64_t)op->id;
            g_ptr_array_add(f->owners, own);
            op->owner = own;
        }
        r->oplock = lease ? OPLOCK_LEVEL_LEASE : oplock_state_level(g);
        r->lease_state = lease ? g : 0;
    }
    r->lease_key = req->lease_key;
    op->at = f->opens->len;
    g_ptr_array_add(f->opens, op);
    count_share(f, op, 1);
    g_hash_table_insert(s->opens, SMB_ID_KEY(op->id), op);
    send_msg(c, r);
    return true;
}

/* The open a request names; the hint is kept only for an open of this
 * connection, so that closing it knows the one hint to drop. */
static Open *find_open(Conn *c, uint64_t id)
{
    Open *op = c->hint_open;
    if (op && op->id == id)
        return op;
    op = g_hash_table_lookup(c->srv->opens, SMB_ID_KEY(id));
    if (op && op->conn == c)
        c->hint_open = op;
    return op;
}

static Open *open_of(Conn *c, const SmbMsg *m, NTSTATUS *st)
{
    if (!tree_of(c, m, st))
        return NULL;
    Open *op = find_open(c, m->file);
    if (!op) {
        *st = STATUS_FILE_CLOSED;
        return NULL;
    }
    return op;
}

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
        char *k = file_key(f);
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
 * try_create. */
static bool try_io(Conn *c, SmbMsg *req, Waiter *w)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    Open *op = open_of(c, req, &st);
    if (!op) {
        reply(c, req, st);
        return true;
    }
    File *f = op->file;
    OplockTrigger trig = req->cmd == SMB2_READ ? TRIGGER_READ : req->cmd == SMB2_WRITE ? TRIGGER_WRITE : TRIGGER_LOCK;
    if (!(req->cmd == SMB2_LOCK && req->unlock)) {
        OplockCause cause = { .trigger = trig, .key = op->owner ? op->owner->key : op->id,
                              .other_opens = f->opens->len > 1 };
        if (!op->owner)
            cause.key = UINT64_MAX - 2 - op->id; /* a key no owner has */
        if (break_owners(s, f, &cause, 0, 0, op)) {
            defer(c, f, req, w);
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
            r = response_to(req, STATUS_SUCCESS);
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
            r = response_to(req, STATUS_SUCCESS);
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
        r = response_to(req, st);
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
        r = response_to(req, st);
    }
    send_msg(c, r ? r : response_to(req, st));
    return true;
}

/* Operations waiting on a file try again, in arrival order. */
static void resolve_waiters(File *f)
{
    guint n = g_queue_get_length(&f->waiters);
    for (guint i = 0; i < n; i++) {
        Waiter *w = g_queue_pop_head(&f->waiters);
        bool done = w->req->cmd == SMB2_CREATE ? try_create(w->conn, w->req, w) : try_io(w->conn, w->req, w);
        if (done)
            waiter_free(w);
        else
            g_queue_push_tail(&f->waiters, w);
    }
}

static void do_oplock_ack(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    Open *op = find_open(c, req->file);
    Owner *o = op ? op->owner : NULL;
    if (req->oplock == OPLOCK_LEVEL_LEASE && !o) {
        /* a lease ack names its key; find the lease through any file */
        reply(c, req, STATUS_UNSUCCESSFUL);
        return;
    }
    if (!op) {
        reply(c, req, STATUS_FILE_CLOSED);
        return;
    }
    CacheState result = 0;
    NTSTATUS st = !o ? STATUS_INVALID_OPLOCK_PROTOCOL
                  : o->lease ? lease_check_ack(o->breaking, o->ack_required, o->to, req->lease_state, &result)
                             : oplock_check_ack(o->breaking, o->ack_required, o->to, req->oplock, &result);
    if (st != STATUS_SUCCESS) {
        reply(c, req, st);
        return;
    }
    sim_cancel(s->sim, o->timer);
    write_break_row(s, o, result, sim_now(s->sim), OUT_ACKED);
    owner_set_state(o, result);
    o->breaking = false;
    SmbMsg *r = response_to(req, STATUS_SUCCESS);
    r->oplock = o->lease ? OPLOCK_LEVEL_LEASE : oplock_state_level(result);
    r->lease_state = o->lease ? result : 0;
    send_msg(c, r);
    resolve_waiters(o->file);
}

static void do_close(Conn *c, const SmbMsg *req)
{
    if (g_hash_table_remove(c->srv->dir_opens, SMB_ID_KEY(req->file))) {
        reply(c, req, STATUS_SUCCESS);
        return;
    }
    NTSTATUS st;
    Open *op = open_of(c, req, &st);
    if (!op) {
        reply(c, req, st);
        return;
    }
    close_open(c->srv, op);
    reply(c, req, STATUS_SUCCESS);
}

static void do_set_info(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    Open *op = open_of(c, req, &st);
    if (!op) {
        reply(c, req, st);
        return;
    }
    /* EAs, security, quota, the volume (MS-SMB2 3.3.5.21): accepted on a
     * valid open; the model keeps none of them. */
    if (req->info_type) {
        reply(c, req, STATUS_SUCCESS);
        return;
    }
    File *f = op->file;
    if (req->new_path) { /* rename (FileRenameInformation) */
        if (!(op->access & ACCESS_DELETE))
            st = STATUS_ACCESS_DENIED;
        else if (g_hash_table_lookup(f->share->files, req->new_path))
            st = STATUS_OBJECT_NAME_COLLISION;
        else {
            st = STATUS_SUCCESS;
            for (guint i = 0; i < f->opens->len; i++) {
                Open *o = g_ptr_array_index(f->opens, i);
                if (o != op && !(o->share_access & SHARE_DELETE) && data_access(o->access))
                    st = STATUS_SHARING_VIOLATION;
            }
        }
        if (st == STATUS_SUCCESS) {
            char *from = file_key(f);
            g_hash_table_steal(f->share->files, f->path);
            g_free(f->path);
            f->path = g_strdup(req->new_path);
            if (s->coh) {
                char *to = file_key(f);
                coh_rename(s->coh, from, to);
                g_free(to);
            }
            g_free(from);
            g_hash_table_insert(f->share->files, f->path, f);
            share_changed(f->share);
        }
    } else if (req->delete_on_close) { /* FileDispositionInformation */
        st = (op->access & ACCESS_DELETE) ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
        if (st == STATUS_SUCCESS)
            op->delete_on_close = true;
    } else { /* end of file */
        st = STATUS_SUCCESS;
        if (req->length < f->size)
            coh_file_truncated(f, req->length);
        f->size = req->length;
    }
    reply(c, req, st);
}

/* The session's opens and trees go with it. */
static void drop_session(SmbServer *s, Session *ss)
{
    GPtrArray *mine = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->opens);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (((Open *)v)->session == ss)
            g_ptr_array_add(mine, v);
    for (guint i = 0; i < mine->len; i++)
        close_open(s, g_ptr_array_index(mine, i));
    g_ptr_array_unref(mine);
    g_hash_table_iter_init(&it, s->trees);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (((Tree *)v)->session == ss)
            g_hash_table_iter_remove(&it);
    sim_cancel(s->sim, ss->expiry);
    g_hash_table_remove(s->sessions, SMB_ID_KEY(ss->id));
    s->forgets++;
}

/* A directory exists when it is the share itself or the parent of a file
 * of the share: directories are the paths' own (a rename that moves every
 * file out of one takes it away). */
static bool directory_exists(Share *sh, const char *path)
{
    if (!*path)
        return true;
    size_t n = strlen(path);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, sh->files);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        const char *f = k;
        if (g_ascii_strncasecmp(f, path, n) == 0 && f[n] == '\\')
            return true;
    }
    return false;
}

/* CREATE of a directory (FILE_DIRECTORY_FILE): it opens when it exists,
 * else STATUS_OBJECT_NAME_NOT_FOUND (MS-FSA 2.1.5.1); the open holds no
 * file, no oplock and breaks nothing. */
static void open_directory(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    Tree *t = tree_of(c, req, &st);
    if (!t) {
        reply(c, req, st);
        return;
    }
    if (!directory_exists(t->share, req->path ? req->path : "")) {
        reply(c, req, STATUS_OBJECT_NAME_NOT_FOUND);
        return;
    }
    uint64_t id = s->next_id++;
    g_hash_table_insert(s->dir_opens, SMB_ID_KEY(id), t);
    SmbMsg *r = response_to(req, STATUS_SUCCESS);
    r->file = id;
    send_msg(c, r);
}

static void serve(Conn *c, SmbMsg *req)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    switch (req->cmd) {
    case SMB2_NEGOTIATE: do_negotiate(c, req); break;
    case SMB2_SESSION_SETUP: do_session_setup(c, req); break;
    case SMB2_LOGOFF: {
        Session *ss = session_of(c, req);
        if (ss)
            drop_session(s, ss);
        reply(c, req, ss ? STATUS_SUCCESS : STATUS_USER_SESSION_DELETED);
        break;
    }
    case SMB2_TREE_CONNECT: do_tree_connect(c, req); break;
    case SMB2_TREE_DISCONNECT: {
        Tree *t = tree_of(c, req, &st);
        if (t) {
            g_hash_table_remove(s->trees, SMB_ID_KEY(req->tree));
            s->forgets++;
        }
        reply(c, req, t ? STATUS_SUCCESS : st);
        break;
    }
    case SMB2_CREATE:
        if (req->directory) {
            open_directory(c, req);
            break;
        }
        if (try_create(c, req, NULL))
            smb_msg_free(req);
        return; /* else a waiter owns it */
    case SMB2_READ:
    case SMB2_WRITE:
    case SMB2_LOCK:
        if (try_io(c, req, NULL))
            smb_msg_free(req);
        return;
    case SMB2_CLOSE: do_close(c, req); break;
    case SMB2_OPLOCK_BREAK: do_oplock_ack(c, req); break;
    case SMB2_SET_INFO: do_set_info(c, req); break;
    case SMB2_ECHO: reply(c, req, STATUS_SUCCESS); break;
    case SMB2_FLUSH:
    case SMB2_QUERY_INFO: {
        Open *op = open_of(c, req, &st);
        reply(c, req, op ? STATUS_SUCCESS : st);
        break;
    }
    case SMB2_CHANGE_NOTIFY: {
        Tree *t = tree_of(c, req, &st);
        if (!t) {
            reply(c, req, st);
            break;
        }
        /* It completes when the share's namespace changes. */
        Waiter *w = g_new0(Waiter, 1);
        w->conn = c;
        w->req = req;
        g_queue_push_tail(&t->share->notifies, w);
        SmbMsg *r = response_to(req, STATUS_PENDING);
        r->async = true;
        send_msg(c, r);
        return;
    }
    case SMB2_IOCTL:
        if (req->ctl_code == FSCTL_VALIDATE_NEGOTIATE_INFO && !validate_negotiate(c, req)) {
            smb_msg_free(req);
            return; /* the connection is gone */
        }
        if (req->ctl_code == FSCTL_VALIDATE_NEGOTIATE_INFO)
            break;
        /* fall through */
    case SMB2_QUERY_DIRECTORY: {
        Tree *t = tree_of(c, req, &st);
        reply(c, req, t ? STATUS_SUCCESS : st);
        break;
    }
    default: reply(c, req, STATUS_NOT_SUPPORTED); break;
    }
    smb_msg_free(req);
}

/* ---- connections ---- */

static void on_service(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Job *j = ctx;
    SmbServer *s = j->c->srv;
    ilist_unlink(&s->jobs, &j->link);
    if (j->c->dead)
        smb_msg_free(j->req);
    else
        serve(j->c, j->req);
    pool_free(&s->job_pool, j);
}

static void on_receive(void *ctx, TdiEndpoint *ep, uint32_t bytes, uint64_t tag)
{
    (void)ep;
    (void)bytes;
    Conn *c = ctx;
    SmbServer *s = c->srv;
    SmbMsg *m = smb_receive(s->wire, tag);
    if (!m)
        return;
    Job *j = pool_alloc0(&s->job_pool);
    j->c = c;
    j->req = m;
    j->link.data = j;
    ilist_push_tail(&s->jobs, &j->link);
    double t = dist_sample(&s->p.service, &s->rng);
#ifdef RDRSIM_REGRESS_DEMO
    /* A deliberate regression for the test of `rdrsim regress` (a build
     * with -DRDRSIM_REGRESS_DEMO, never the program): every CREATE waits
     * 30 ms more for service. */
    if (m->cmd == SMB2_CREATE)
        t += 30e6;
#endif
    sim_after(s->sim, t > 0 ? (SimTime)t : 0, on_service, j, 0);
}

static void conn_gone(Conn *c)
{
    SmbServer *s = c->srv;
    c->dead = true;
    GPtrArray *gone = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->sessions);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (((Session *)v)->conn == c)
            g_ptr_array_add(gone, v);
    for (guint i = 0; i < gone->len; i++)
        drop_session(s, g_ptr_array_index(gone, i));
    g_ptr_array_unref(gone);
}

static void on_disconnect(void *ctx, TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info)
{
    (void)info;
    Conn *c = ctx;
    if (flags & TDI_DISCONNECT_RELEASE)
        tdi_disconnect(ep, TDI_DISCONNECT_RELEASE, NULL, NULL, NULL, NULL);
    conn_gone(c);
}

static TdiEndpoint *on_offer(void *ctx, NetNode *remote)
{
    SmbServer *s = ctx;
    Conn *c = g_new0(Conn, 1);
    c->srv = s;
    c->peer = remote;
    char *name = g_strdup_printf("%s:smb%d", net_node_name(s->node), ++s->endpoints);
    c->ep = tdi_endpoint_open(s->tdi, s->node, SMB_PORT, name);
    g_free(name);
    TdiHandlers h = { on_receive, on_disconnect, c };
    tdi_endpoint_set_handlers(c->ep, &h);
    g_ptr_array_add(s->conns, c);
    return c->ep;
}

/* ---- faults ---- */

void server_restart(SmbServer *s)
{
    for (guint i = 0; i < s->conns->len; i++) {
        Conn *c = g_ptr_array_index(s->conns, i);
        if (!c->dead) {
            conn_gone(c);
            tdi_disconnect(c->ep, TDI_DISCONNECT_ABORT, NULL, NULL, NULL, NULL);
        }
    }
}

void server_delete_share(SmbServer *s, const char *name)
{
    Share *sh = g_hash_table_lookup(s->shares, name);
    if (sh)
        sh->deleted = true;
}

void server_expire_sessions(SmbServer *s)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->sessions);
    while (g_hash_table_iter_next(&it, &k, &v))
        ((Session *)v)->valid = false;
}

void server_flush_trace(SmbServer *s)
{
    GHashTableIter it, fi;
    gpointer k, v, fk, fv;
    g_hash_table_iter_init(&it, s->shares);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_hash_table_iter_init(&fi, ((Share *)v)->files);
        while (g_hash_table_iter_next(&fi, &fk, &fv)) {
            File *f = fv;
            for (guint i = 0; i < f->owners->len; i++) {
                Owner *o = g_ptr_array_index(f->owners, i);
                if (o->breaking) /* still waiting when the run stopped */
                    write_break_row(s, o, o->to, -1, OUT_PENDING);
            }
        }
    }
}

void server_free(SmbServer *s)
{
    if (!s)
        return;
    g_hash_table_unref(s->shares);
    GHashTableIter it;
    gpointer k, v;
    for (GList *l; (l = ilist_pop_head(&s->jobs));) {
        Job *j = l->data;
        smb_msg_free(j->req);
        pool_free(&s->job_pool, j);
    }
    pool_clear(&s->job_pool);
    g_hash_table_iter_init(&it, s->users);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        User *u = v;
        g_free(u->name);
        g_free(u->password);
        g_strfreev(u->workstations);
        g_free(u);
    }
    g_hash_table_unref(s->users);
    g_hash_table_unref(s->opens);
    g_hash_table_unref(s->dir_opens);
    g_hash_table_unref(s->trees);
    g_hash_table_unref(s->sessions);
    g_ptr_array_unref(s->conns);
    dist_clear(&s->p.service);
    g_free(s);
}
