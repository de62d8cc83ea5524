/* dav.c: the WebDAV service of the file server (RFC 4918 over HTTP/1.1,
 * RFC 9110), on the same shares and files as SMB.
 *
 * A URL path "/share/dir/a.doc" names the file "dir\a.doc" of the share.
 * Requests are served one at a time per connection after the server's
 * service time, and authenticated one by one (Basic, RFC 7617): a user the
 * server knows with its password, else 401.
 *
 * Where WebDAV meets SMB, the service behaves as IIS's file-system WebDAV
 * (DAVFS) does, from its LOCK code (fslock.cpp, CLockRequest::DoLock):
 *   - an exclusive write LOCK is an open of the server's own with read and
 *     write access sharing read only (never delete), made with OPEN_ALWAYS
 *     (a LOCK on a missing file creates it: 201) and held for the lock's
 *     life;  a sharing violation on it answers 423 Locked;
 *   - as any open, the service's breaks oplocks first and waits for the
 *     breaks (a batch holder may close, OPLOCKS.md R6, R7), then the share
 *     modes decide;
 *   - the other methods open the file as they need it for the request's
 *     time: GET for read sharing all, PUT for write sharing read, DELETE and
 *     MOVE for delete; a sharing violation answers 423 as well (rdrsim's
 *     generalisation of the LOCK rule: the service has no other answer for
 *     a file in use).
 * So SMB's share modes (MS-FSA 2.1.5.1.2.1) decide both ways: an SMB open
 * for write, or one that does not share write, fails with
 * STATUS_SHARING_VIOLATION while a WebDAV lock is held, and a LOCK on a file
 * an SMB client holds open for write, or without sharing read, gets 423.
 * An open of the service breaks SMB oplocks and leases as any open does
 * (OPLOCKS.md R1-R8) and waits for the breaks: a batch-oplock holder
 * flushes its dirty data before a GET is served.
 * Locks (RFC 4918 6, 9.10, 9.11): exclusive write locks on files, with a
 * time-out; a request that would change a locked file must carry its
 * token in If (else 423); a LOCK carrying its token refreshes it. */

#include "server_int.h"

#include "http.h"

typedef struct {
    uint64_t token;
    File *file;
    Open *open;      /* the service's open that holds the file */
    SimEventId timer;
    SimTime timeout;
} DavLock;

typedef struct {
    Dav *dav;
    TdiEndpoint *ep;
    NetNode *peer;
    HttpRx rx;
    bool dead;
} DavConn;

/* A request between arrival and answer (its service time, breaks). */
typedef struct {
    DavConn *c;
    HttpMsg *req;
    GList link;   /* in the service's jobs while it waits for its service time */
    bool waited;  /* it waited for breaks once: tried again (B6's retry, as SMB's CREATE) */
} DavJob;

struct Dav {
    SmbServer *srv;
    HttpWire *wire;
    uint16_t port;
    GPtrArray *conns;  /* DavConn*, kept to the end */
    GHashTable *locks; /* token -> DavLock* */
    GQueue jobs;       /* DavJob* waiting for their service time */
    uint64_t next_token;
    int endpoints;
};

static void reply(DavConn *c, HttpMsg *r)
{
    if (c->dead) {
        http_msg_free(r);
        return;
    }
    http_send(c->dav->wire, c->ep, c->dav->srv->node, c->peer, r);
}

static void reply_status(DavConn *c, const HttpMsg *req, int status)
{
    reply(c, http_response_to(req, status));
}

/* "/share/dir/a.doc" into the share and "dir\a.doc" ("" for the share). */
static Share *resolve(Dav *d, const char *url, char **path)
{
    const char *p = url;
    while (*p == '/')
        p++;
    const char *slash = strchr(p, '/');
    char *name = slash ? g_strndup(p, (gsize)(slash - p)) : g_strdup(p);
    Share *sh = g_hash_table_lookup(d->srv->shares, name);
    g_free(name);
    if (!sh || sh->deleted)
        return NULL;
    GString *rel = g_string_new(slash ? slash + 1 : "");
    while (rel->len && rel->str[rel->len - 1] == '/')
        g_string_truncate(rel, rel->len - 1);
    for (gsize i = 0; i < rel->len; i++)
        if (rel->str[i] == '/')
            rel->str[i] = '\\';
    *path = g_string_free(rel, FALSE);
    return sh;
}

static bool authorized(Dav *d, DavConn *c, const HttpMsg *req, int *status)
{
    User *u = req->user ? g_hash_table_lookup(d->srv->users, req->user) : NULL;
    if (!u || g_strcmp0(u->password, req->password) != 0) {
        *status = 401;
        return false;
    }
    for (char **w = u->workstations; w && *w; w++)
        if (strcmp(*w, net_node_name(c->peer)) == 0)
            return true;
    if (u->workstations) {
        *status = 403;
        return false;
    }
    return true;
}

static DavLock *lock_of(Dav *d, File *f)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, d->locks);
    while (g_hash_table_iter_next(&it, NULL, &v))
        if (((DavLock *)v)->file == f)
            return v;
    return NULL;
}

static void lock_release(Dav *d, DavLock *l)
{
    sim_cancel(d->srv->sim, l->timer);
    File *f = srv_close_open(d->srv, l->open);
    g_hash_table_remove(d->locks, &l->token); /* frees it */
    if (f)
        srv_resolve_waiters(f);
}

static void on_lock_expired(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    Dav *d = ctx;
    DavLock *l = g_hash_table_lookup(d->locks, &arg);
    if (l) {
        l->timer = SIM_NO_EVENT;
        lock_release(d, l);
    }
}

/* The file a request may change: not locked, or locked with the token it
 * carries (RFC 4918 7.1). */
static bool may_change(Dav *d, File *f, const HttpMsg *req)
{
    DavLock *l = f ? lock_of(d, f) : NULL;
    return !l || l->token == req->lock_token;
}

static void job_free(void *ctx)
{
    DavJob *j = ctx;
    http_msg_free(j->req);
    g_free(j);
}

static bool serve(DavJob *j);

/* A file a PUT or LOCK makes (empty, as CREATE makes one). */
static File *file_made(Share *sh, const char *path)
{
    File *f = srv_file_new(sh, path, 0);
    srv_share_changed(sh);
    return f;
}

/* The directory holding a share path, in the share's '\' spelling. */
static bool parent_exists(Share *sh, const char *path)
{
    const char *slash = strrchr(path, '\\');
    if (!slash)
        return true;
    char *parent = g_strndup(path, (gsize)(slash - path));
    bool ok = srv_directory_exists(sh, parent);
    g_free(parent);
    return ok;
}

static bool retry(void *ctx) { return serve(ctx); }

/* Breaks the service's open causes (MS-FSA 2.1.5.1.2: an open breaks
 * oplocks that conflict with it).  True when the request must wait for
 * them: it is then parked on the file, and tried again when they end. */
static bool must_wait(DavJob *j, File *f, uint32_t access, uint32_t share, bool overwrite)
{
    SmbServer *s = j->c->dav->srv;
    OplockCause cause = { .trigger = TRIGGER_OPEN, .key = UINT64_MAX - 2, .access = access, .overwrite = overwrite,
                          .retry = j->waited };
    GArray *outbox = g_array_new(FALSE, FALSE, sizeof(OutMsg));
    bool wait = srv_break_owners(s, f, &cause, access, share, NULL, outbox);
    srv_flush_outbox(outbox);
    g_array_unref(outbox);
    if (wait) {
        j->waited = true;
        Waiter *w = g_new0(Waiter, 1);
        w->retry = retry;
        w->drop = job_free;
        w->ctx = j;
        g_queue_push_tail(&f->waiters, w);
    }
    return wait;
}

#define READ_ACCESS (ACCESS_READ_DATA | ACCESS_READ_ATTR | ACCESS_SYNCHRONIZE)
#define WRITE_ACCESS (ACCESS_WRITE_DATA | ACCESS_APPEND_DATA | ACCESS_WRITE_ATTR | ACCESS_SYNCHRONIZE)

/* A strong entity tag (RFC 9110 8.8.3): it changes with every write (the
 * file's write version) and every change of size; never 0, which the
 * messages use for "none". */
static uint64_t etag_of(const File *f) { return (f->next_version << 40 ^ f->size) | UINT64_C(1) << 63; }

static void do_propfind(DavJob *j, Share *sh, const char *path)
{
    File *f = g_hash_table_lookup(sh->files, path);
    bool dir = !f && srv_directory_exists(sh, path);
    if (!f && !dir) {
        reply_status(j->c, j->req, 404);
        return;
    }
    HttpMsg *r = http_response_to(j->req, 207);
    r->collection = dir;
    r->size = f ? f->size : 0;
    r->etag = f ? etag_of(f) : 0;
    r->entries = 1;
    if (dir && j->req->depth == 1) { /* the members directly below (RFC 4918 9.1) */
        size_t n = strlen(path);
        GHashTableIter it;
        gpointer k;
        for (int t = 0; t < 2; t++) {
            g_hash_table_iter_init(&it, t ? sh->dirs : sh->files);
            while (g_hash_table_iter_next(&it, &k, NULL)) {
                const char *m = k;
                const char *rest = !n ? m : g_ascii_strncasecmp(m, path, n) == 0 && m[n] == '\\' ? m + n + 1 : NULL;
                if (rest && *rest && !strchr(rest, '\\') && !strchr(rest, ':'))
                    r->entries++;
            }
        }
    }
    reply(j->c, r);
}

static bool do_get(DavJob *j, Share *sh, const char *path)
{
    HttpMsg *req = j->req;
    File *f = g_hash_table_lookup(sh->files, path);
    if (!f) {
        reply_status(j->c, req, srv_directory_exists(sh, path) ? 405 : 404);
        return true;
    }
    uint32_t share = SHARE_READ | SHARE_WRITE | SHARE_DELETE;
    if (must_wait(j, f, READ_ACCESS, share, false))
        return false;
    if (srv_file_share_conflict(f, READ_ACCESS, share)) {
        reply_status(j->c, req, 423);
        return true;
    }
    uint64_t start = 0, end = f->size;
    /* A Range of a file whose entity tag is still If-Range's: 206 with that
     * part (RFC 9110 14.2, 13.1.5); else the whole file, 200. */
    bool partial = req->has_range && (!req->if_range || req->if_range == etag_of(f)) && req->range_start < f->size;
    if (partial) {
        start = req->range_start;
        end = MIN(req->range_end, f->size);
    }
    HttpMsg *r = http_response_to(req, partial ? 206 : 200);
    r->has_range = partial;
    r->range_start = start;
    r->range_end = end;
    r->size = f->size;
    r->etag = etag_of(f);
    r->body = end - start;
    r->stamps = ranges_slice(f->extents, start, end);
    reply(j->c, r);
    return true;
}

/* The whole contents replaced by the body: its bytes keep the stamps the
 * client's copy gave them (bytes it read and did not change keep theirs). */
static void replace_contents(File *f, const HttpMsg *req)
{
    uint64_t version = f->next_version++;
    if (req->body < f->size)
        srv_file_truncated(f, req->body);
    f->size = req->body;
    for (guint i = 0; req->stamps && i < req->stamps->len; i++) {
        Range n = g_array_index(req->stamps, Range, i);
        if (n.start >= req->body)
            continue;
        n.end = MIN(n.end, req->body);
        n.aux = version;
        ranges_put(f->extents, n);
    }
}

static bool do_put(DavJob *j, Share *sh, const char *path)
{
    HttpMsg *req = j->req;
    if (req->content_range) { /* RFC 9110 14.5: a partial PUT is refused */
        reply_status(j->c, req, 400);
        return true;
    }
    File *f = g_hash_table_lookup(sh->files, path);
    if (!f && srv_directory_exists(sh, path)) {
        reply_status(j->c, req, 405);
        return true;
    }
    if (!f && !parent_exists(sh, path)) { /* RFC 4918 9.7.1: no collection to put it in */
        reply_status(j->c, req, 409);
        return true;
    }
    if (f && !may_change(j->c->dav, f, req)) {
        reply_status(j->c, req, 423);
        return true;
    }
    DavLock *l = f ? lock_of(j->c->dav, f) : NULL;
    if (f && must_wait(j, f, WRITE_ACCESS, l ? SHARE_READ | SHARE_WRITE : SHARE_READ, true))
        return false;
    /* without the lock's own open, a PUT opens the file for writing */
    if (f && !l && srv_file_share_conflict(f, WRITE_ACCESS, SHARE_READ)) {
        reply_status(j->c, req, 423);
        return true;
    }
    bool created = !f;
    f = f ? f : file_made(sh, path);
    replace_contents(f, req);
    HttpMsg *r = http_response_to(req, created ? 201 : 204);
    r->etag = etag_of(f);
    reply(j->c, r);
    return true;
}

static bool do_lock(DavJob *j, Share *sh, const char *path)
{
    Dav *d = j->c->dav;
    HttpMsg *req = j->req;
    File *f = g_hash_table_lookup(sh->files, path);
    if (!f && srv_directory_exists(sh, path)) { /* DAVFS locks no collections */
        reply_status(j->c, req, 405);
        return true;
    }
    DavLock *l = f ? lock_of(d, f) : NULL;
    if (l && req->lock_token == l->token) { /* a refresh (RFC 4918 9.10.2) */
        sim_cancel(d->srv->sim, l->timer);
        l->timeout = req->timeout;
        l->timer = sim_after(d->srv->sim, l->timeout, on_lock_expired, d, l->token);
        HttpMsg *r = http_response_to(req, 200);
        r->lock_token = l->token;
        r->timeout = l->timeout;
        reply(j->c, r);
        return true;
    }
    uint32_t access = ACCESS_READ_DATA | WRITE_ACCESS;
    if (l) {
        reply_status(j->c, req, 423);
        return true;
    }
    /* as an open: a batch oplock is broken first, its holder may close
     * (OPLOCKS.md R6, R7), then the share modes decide */
    if (f && must_wait(j, f, access, SHARE_READ, false))
        return false;
    if (f && srv_file_share_conflict(f, access, SHARE_READ)) {
        reply_status(j->c, req, 423);
        return true;
    }
    bool created = !f;
    f = f ? f : file_made(sh, path);
    l = g_new0(DavLock, 1);
    l->token = ++d->next_token;
    l->file = f;
    l->open = srv_own_open(d->srv, f, access, SHARE_READ);
    l->timeout = req->timeout > 0 ? req->timeout : 3600 * SIM_SEC;
    l->timer = sim_after(d->srv->sim, l->timeout, on_lock_expired, d, l->token);
    g_hash_table_insert(d->locks, &l->token, l);
    HttpMsg *r = http_response_to(req, created ? 201 : 200);
    r->lock_token = l->token;
    r->timeout = l->timeout;
    reply(j->c, r);
    return true;
}

static void do_unlock(DavJob *j, Share *sh, const char *path)
{
    Dav *d = j->c->dav;
    File *f = g_hash_table_lookup(sh->files, path);
    DavLock *l = g_hash_table_lookup(d->locks, &j->req->lock_token);
    if (!l || l->file != f) { /* RFC 4918 9.11.1: lock-token-matches-request-uri */
        reply_status(j->c, j->req, 409);
        return;
    }
    lock_release(d, l);
    reply_status(j->c, j->req, 204);
}

/* The file goes as an open with DELETE that closes at once would make it
 * go (files.c: the oracle hears of it there). */
static void remove_now(SmbServer *s, File *f)
{
    f->delete_pending = true;
    Open *op = srv_own_open(s, f, ACCESS_DELETE, 0);
    op->delete_on_close = true;
    srv_close_open(s, op);
}

static void do_delete(DavJob *j, Share *sh, const char *path)
{
    Dav *d = j->c->dav;
    File *f = g_hash_table_lookup(sh->files, path);
    DavLock *l = f ? lock_of(d, f) : NULL;
    int status = !f                         ? 404
                 : !may_change(d, f, j->req) ? 423
                 : f->opens->len > (l ? 1u : 0u) ? 423 /* open over SMB: a DELETE open would not share */
                                             : 204;
    if (status == 204) {
        if (l) /* the lock goes with its file (RFC 4918 9.6.1) */
            lock_release(d, l);
        remove_now(d->srv, f);
    }
    reply_status(j->c, j->req, status);
}

static bool do_move(DavJob *j, Share *sh, const char *path)
{
    Dav *d = j->c->dav;
    HttpMsg *req = j->req;
    File *f = g_hash_table_lookup(sh->files, path);
    char *to = NULL;
    Share *dsh = req->destination ? resolve(d, req->destination, &to) : NULL;
    int status = 0;
    File *old = dsh == sh ? g_hash_table_lookup(sh->files, to) : NULL;
    if (!f)
        status = 404;
    else if (dsh != sh)
        status = 502; /* RFC 4918 9.9.4: a destination on another server (share, here) */
    else if (!may_change(d, f, req) || (old && !may_change(d, old, req)))
        status = 423;
    else if (old && !req->overwrite)
        status = 412;
    else if (f->opens->len > (lock_of(d, f) ? 1u : 0u) || (old && old->opens->len))
        status = 423;
    if (status) {
        reply_status(j->c, req, status);
        g_free(to);
        return true;
    }
    if (old)
        remove_now(d->srv, old);
    DavLock *l = lock_of(d, f);
    if (l) /* a lock stays with its resource, not the file moved (RFC 4918 9.9.4) */
        lock_release(d, l);
    char *from_key = srv_file_key(f);
    g_hash_table_steal(sh->files, f->path);
    g_free(f->path);
    f->path = g_strdup(to);
    f->path_name = 0;
    g_hash_table_insert(sh->files, f->path, f);
    if (d->srv->coh) {
        char *to_key = srv_file_key(f);
        coh_rename(d->srv->coh, from_key, to_key);
        g_free(to_key);
    }
    g_free(from_key);
    srv_share_changed(sh);
    reply_status(j->c, req, old ? 204 : 201);
    g_free(to);
    return true;
}

static void do_mkcol(DavJob *j, Share *sh, const char *path)
{
    bool parent_ok = parent_exists(sh, path);
    int status = !*path || g_hash_table_lookup(sh->files, path) || srv_directory_exists(sh, path) ? 405
                 : !parent_ok                                                                        ? 409
                                                                                                     : 201;
    if (status == 201) {
        char *p = g_strdup(path);
        g_hash_table_insert(sh->dirs, p, p);
        srv_share_changed(sh);
    }
    reply_status(j->c, j->req, status);
}

/* Answer a request (true), or park it for breaks (false: it is the
 * file's waiter's now). */
static bool serve(DavJob *j)
{
    DavConn *c = j->c;
    Dav *d = c->dav;
    HttpMsg *req = j->req;
    if (c->dead) {
        job_free(j);
        return true;
    }
    int status = 0;
    bool done = true;
    if (req->method == HTTP_OPTIONS) {
        HttpMsg *r = http_response_to(req, 200);
        r->dav = true;
        reply(c, r);
    } else if (!authorized(d, c, req, &status)) {
        reply_status(c, req, status);
    } else {
        char *path = NULL;
        Share *sh = resolve(d, req->path, &path);
        if (!sh)
            reply_status(c, req, 404);
        else
            switch (req->method) {
            case HTTP_PROPFIND: do_propfind(j, sh, path); break;
            case HTTP_GET: done = do_get(j, sh, path); break;
            case HTTP_PUT: done = do_put(j, sh, path); break;
            case HTTP_LOCK: done = do_lock(j, sh, path); break;
            case HTTP_UNLOCK: do_unlock(j, sh, path); break;
            case HTTP_DELETE: do_delete(j, sh, path); break;
            case HTTP_MOVE: done = do_move(j, sh, path); break;
            case HTTP_MKCOL: do_mkcol(j, sh, path); break;
            default: reply_status(c, req, 405); break;
            }
        g_free(path);
    }
    if (done)
        job_free(j);
    return done;
}

static void on_service(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    DavJob *j = ctx;
    ilist_unlink(&j->c->dav->jobs, &j->link);
    serve(j);
}

static void on_receive(void *ctx, TdiEndpoint *ep, uint32_t bytes, uint64_t tag)
{
    (void)ep;
    (void)bytes;
    DavConn *c = ctx;
    SmbServer *s = c->dav->srv;
    HttpMsg *rec = http_receive(c->dav->wire, tag);
    HttpMsg *m = rec ? http_assemble(&c->rx, rec) : NULL;
    if (!m)
        return;
    DavJob *j = g_new0(DavJob, 1);
    j->c = c;
    j->req = m;
    j->link.data = j;
    ilist_push_tail(&c->dav->jobs, &j->link);
    double t = dist_sample(&s->p.service, &s->rng);
    sim_after(s->sim, t > 0 ? (SimTime)t : 0, on_service, j, 0);
}

static void on_disconnect(void *ctx, TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info)
{
    (void)info;
    DavConn *c = ctx;
    if (flags & TDI_DISCONNECT_RELEASE)
        tdi_disconnect(ep, TDI_DISCONNECT_RELEASE, NULL, NULL, NULL, NULL);
    c->dead = true; /* locks are not the connection's: they stay (RFC 4918 6.1) */
    http_rx_clear(&c->rx);
}

static TdiEndpoint *on_offer(void *ctx, NetNode *remote)
{
    Dav *d = ctx;
    DavConn *c = g_new0(DavConn, 1);
    c->dav = d;
    c->peer = remote;
    char *name = g_strdup_printf("%s:http%d", net_node_name(d->srv->node), ++d->endpoints);
    c->ep = tdi_endpoint_open(d->srv->tdi, d->srv->node, d->port, name);
    g_free(name);
    TdiHandlers h = { on_receive, on_disconnect, c };
    tdi_endpoint_set_handlers(c->ep, &h);
    g_ptr_array_add(d->conns, c);
    return c->ep;
}

static void conn_free(gpointer p)
{
    DavConn *c = p;
    http_rx_clear(&c->rx);
    g_free(c);
}

void server_enable_webdav(SmbServer *s, HttpWire *wire, uint16_t port)
{
    Dav *d = g_new0(Dav, 1);
    d->srv = s;
    d->wire = wire;
    d->port = port;
    d->conns = g_ptr_array_new_with_free_func(conn_free);
    d->locks = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    s->dav = d;
    tdi_set_connect_handler(s->tdi, s->node, port, on_offer, d);
}

/* A restart loses the locks (DAVFS keeps them in memory) and the
 * connections. */
void srv_dav_restart(SmbServer *s)
{
    Dav *d = s->dav;
    if (!d)
        return;
    for (guint i = 0; i < d->conns->len; i++) {
        DavConn *c = g_ptr_array_index(d->conns, i);
        if (!c->dead) {
            c->dead = true;
            tdi_disconnect(c->ep, TDI_DISCONNECT_ABORT, NULL, NULL, NULL, NULL);
        }
    }
    for (uint64_t t = 1; t <= d->next_token; t++) { /* in the order they were taken */
        DavLock *l = g_hash_table_lookup(d->locks, &t);
        if (l)
            lock_release(d, l);
    }
}

void srv_dav_free(SmbServer *s)
{
    Dav *d = s->dav;
    if (!d)
        return;
    for (GList *l; (l = ilist_pop_head(&d->jobs));)
        job_free(l->data);
    g_hash_table_unref(d->locks);
    g_ptr_array_unref(d->conns);
    g_free(d);
    s->dav = NULL;
}
