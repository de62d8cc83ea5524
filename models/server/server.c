/* server.c: the file server's connections, sessions and tree connects,
 * and the dispatch of each request after its service time.
 *
 * Guarantees: a request is served in the order it arrived, after a
 * service time drawn from the server's distribution (MS-SMB2 3.3.5); a
 * connection's loss drops its sessions, and with them their opens
 * (3.3.7.1); NEGOTIATE, SESSION_SETUP and TREE_CONNECT follow 3.3.5.4,
 * 3.3.5.5 and 3.3.5.7.  Files and opens are files.c's, oplocks and
 * leases oplocks.c's, I/O io.c's (server_int.h). */

#include "server_int.h"

static TdiEndpoint *on_offer(void *ctx, NetNode *remote);

static void conn_free(gpointer p)
{
    Conn *c = p;
    if (c->lease_files)
        g_hash_table_unref(c->lease_files);
    g_free(c);
}

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
    s->shares = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, srv_share_free);
    s->users = g_hash_table_new(g_str_hash, g_str_equal);
    s->conns = g_ptr_array_new_with_free_func(conn_free);
    s->sessions = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    s->trees = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    s->opens = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    s->dir_opens = srv_dir_opens_new();
    s->next_id = 1;
    if (!p->no_smb)
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
    sh->dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_hash_table_insert(s->shares, sh->name, sh);
}

void server_add_file(SmbServer *s, const char *share, const char *path, uint64_t size)
{
    Share *sh = g_hash_table_lookup(s->shares, share);
    if (sh && !g_hash_table_lookup(sh->files, path))
        srv_file_new(sh, path, size);
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

SmbMsg *srv_response_to(const SmbMsg *req, NTSTATUS st)
{
    SmbMsg *r = smb_msg_new(req->wire, req->cmd);
    r->msg_id = req->msg_id;
    r->response = true;
    r->status = st;
    r->session = req->session;
    r->tree = req->tree;
    r->file = req->file;
    /* what the response's body is shaped by (a QUERY_INFO's class, an IOCTL's code) */
    r->info_type = req->info_type;
    r->info_class = req->info_class;
    r->ctl_code = req->ctl_code;
    return r;
}

void srv_send_msg(Conn *c, SmbMsg *m)
{
    if (c->dead) {
        smb_msg_free(m);
        return;
    }
    /* The final response of a request that had its interim response is
     * async too, with the same AsyncId (MS-SMB2 3.3.4.2). */
    Waiter *w = c->answering;
    if (w && w->interim_sent && m->response && m->msg_id == w->req->msg_id) {
        m->async = true;
        m->async_id = w->async_id;
    }
    smb_send(c->srv->wire, c->ep, c->srv->node, c->peer, m);
}

void srv_reply(Conn *c, const SmbMsg *req, NTSTATUS st) { srv_send_msg(c, srv_response_to(req, st)); }

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

Tree *srv_tree_of(Conn *c, const SmbMsg *m, NTSTATUS *st)
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

/* The server capabilities it answers with (MS-SMB2 2.2.4): DFS, leasing,
 * large MTU, multi-channel, persistent handles and encryption; not
 * directory leasing (0x20), which it does not model (directory opens get no
 * lease, as smbtorture lease.request expects of such a server). */
#define SERVER_CAPABILITIES 0x5fu

static void do_negotiate(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    /* MS-SMB2 3.3.5.4: no dialect in common, STATUS_NOT_SUPPORTED.  (A
     * downgrade is detected by the client, not here: see validation.) */
    uint16_t lowest = req->min_dialect ? req->min_dialect : SMB2_DIALECT_202;
    if (req->dialect < s->p.min_dialect || lowest > s->p.max_dialect) {
        srv_reply(c, req, STATUS_NOT_SUPPORTED);
        return;
    }
    c->dialect = MIN(req->dialect, s->p.max_dialect);
    c->negotiated = smb_negotiate_digest(req);
    c->no_level2 = req->no_level2;
    SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
    r->dialect = c->dialect;
    r->capabilities = SERVER_CAPABILITIES;
    srv_send_msg(c, r);
}

/* FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.3.5.15.12): the client repeats
 * what its NEGOTIATE offered; when that is not what this connection
 * received, the server terminates the transport connection. */
static bool validate_negotiate(Conn *c, const SmbMsg *req)
{
    if (smb_negotiate_digest(req) == c->negotiated) {
        SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
        r->dialect = c->dialect;
        r->capabilities = SERVER_CAPABILITIES;
        srv_send_msg(c, r);
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
        srv_reply(c, req, STATUS_INVALID_PARAMETER);
        return;
    }
    if (!u || g_strcmp0(u->password, req->password) != 0) {
        srv_reply(c, req, STATUS_LOGON_FAILURE);
        return;
    }
    if (!allowed_from(u, net_node_name(c->peer))) {
        srv_reply(c, req, STATUS_LOGIN_WKSTA_RESTRICTION);
        return;
    }
    if (!s->p.multi_credentials) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, s->sessions);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            Session *o = v;
            if (o->valid && o->conn->peer == c->peer && o->user != u) {
                srv_reply(c, req, STATUS_NETWORK_CREDENTIAL_CONFLICT);
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
    SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
    r->session = ss->id;
    /* 3.1.1: the final response is signed with a key derived from the
     * pre-authentication integrity value, which covers the NEGOTIATE as
     * this side received it (MS-SMB2 3.3.5.5.3). */
    if (c->dialect == SMB2_DIALECT_311)
        r->preauth = c->negotiated;
    srv_send_msg(c, r);
}

static void do_tree_connect(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    Session *ss = session_of(c, req);
    if (!ss) {
        srv_reply(c, req, STATUS_USER_SESSION_DELETED);
        return;
    }
    Share *sh = req->share ? g_hash_table_lookup(s->shares, req->share) : NULL;
    if (!sh || sh->deleted) {
        /* MS-SMB2 3.3.5.7: no share of that name, STATUS_BAD_NETWORK_NAME */
        srv_reply(c, req, STATUS_BAD_NETWORK_NAME);
        return;
    }
    Tree *t = g_new0(Tree, 1);
    t->id = s->next_id++;
    t->share = sh;
    t->session = ss;
    g_hash_table_insert(s->trees, SMB_ID_KEY(t->id), t);
    SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
    r->tree = t->id;
    srv_send_msg(c, r);
}

/* The directory opens of a tree (or of every tree of a session) go with it. */
static void drop_dir_opens(SmbServer *s, Tree *t, Session *ss)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->dir_opens);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        DirOpen *d = v;
        if (d->tree == t || (ss && d->tree->session == ss))
            g_hash_table_iter_remove(&it);
    }
}

/* The session's opens and trees go with it. */
static void drop_session(SmbServer *s, Session *ss)
{
    GPtrArray *mine = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    File *f;
    drop_dir_opens(s, NULL, ss);
    g_hash_table_iter_init(&it, s->opens);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (((Open *)v)->session == ss)
            g_ptr_array_add(mine, v);
    for (guint i = 0; i < mine->len; i++)
        if ((f = srv_close_open(s, g_ptr_array_index(mine, i))))
            srv_resolve_waiters(f);
    g_ptr_array_unref(mine);
    g_hash_table_iter_init(&it, s->trees);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (((Tree *)v)->session == ss)
            g_hash_table_iter_remove(&it);
    sim_cancel(s->sim, ss->expiry);
    g_hash_table_remove(s->sessions, SMB_ID_KEY(ss->id));
    s->forgets++;
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
        srv_reply(c, req, ss ? STATUS_SUCCESS : STATUS_USER_SESSION_DELETED);
        break;
    }
    case SMB2_TREE_CONNECT: do_tree_connect(c, req); break;
    case SMB2_TREE_DISCONNECT: {
        Tree *t = srv_tree_of(c, req, &st);
        if (t) {
            drop_dir_opens(s, t, NULL);
            g_hash_table_remove(s->trees, SMB_ID_KEY(req->tree));
            s->forgets++;
        }
        srv_reply(c, req, t ? STATUS_SUCCESS : st);
        break;
    }
    case SMB2_CREATE:
        if (req->directory) {
            srv_open_directory(c, req);
            break;
        }
        if (srv_try_create(c, req, NULL))
            smb_msg_free(req);
        return; /* else a waiter owns it */
    case SMB2_READ:
    case SMB2_WRITE:
    case SMB2_LOCK:
        if (srv_try_io(c, req, NULL))
            smb_msg_free(req);
        return;
    case SMB2_CLOSE: srv_do_close(c, req); break;
    case SMB2_OPLOCK_BREAK:
        if (sim_now(s->sim) >= s->lose_acks_until)
            srv_do_oplock_ack(c, req);
        break; /* else lost, unanswered */
    case SMB2_SET_INFO:
        if (srv_try_set_info(c, req, NULL))
            smb_msg_free(req);
        return; /* else a waiter owns it */
    case SMB2_ECHO: srv_reply(c, req, STATUS_SUCCESS); break;
    case SMB2_FLUSH:
    case SMB2_QUERY_INFO: {
        Open *op = srv_open_of(c, req, &st);
        srv_reply(c, req, op ? STATUS_SUCCESS : st);
        break;
    }
    case SMB2_CHANGE_NOTIFY: {
        Tree *t = srv_tree_of(c, req, &st);
        if (!t) {
            srv_reply(c, req, st);
            break;
        }
        /* It completes when the share's namespace changes. */
        Waiter *w = g_new0(Waiter, 1);
        w->conn = c;
        w->req = req;
        g_queue_push_tail(&t->share->notifies, w);
        SmbMsg *r = srv_response_to(req, STATUS_PENDING);
        r->async = true;
        r->async_id = w->async_id = ++s->next_async;
        srv_send_msg(c, r);
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
        Tree *t = srv_tree_of(c, req, &st);
        srv_reply(c, req, t ? STATUS_SUCCESS : st);
        break;
    }
    default: srv_reply(c, req, STATUS_NOT_SUPPORTED); break;
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
    srv_dav_restart(s);
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
                    srv_write_break_row(s, o, o->to, -1, -1, OUT_PENDING);
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
    if (s->spare_outbox)
        g_array_unref(s->spare_outbox);
    g_hash_table_unref(s->trees);
    g_hash_table_unref(s->sessions);
    g_ptr_array_unref(s->conns);
    dist_clear(&s->p.service);
    srv_dav_free(s);
    g_free(s);
}

void server_lose_acks(SmbServer *s, SimTime duration) { s->lose_acks_until = sim_now(s->sim) + duration; }
