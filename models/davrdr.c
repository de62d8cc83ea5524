#include "davrdr.h"

#include <string.h>

#include "mrxcommon.h"

#include "smb.h" /* the NT access, disposition and information-class values (MS-SMB2 carries them as they are) */

struct DavRdr {
    Rdbss *rdbss;
    Tdi *tdi;
    HttpWire *wire;
    Net *net;
    Sim *sim;
    Coherence *coh;
    MiniRdr *m;
    DavRdrParams p;
    GPtrArray *conns;
    GPtrArray *files; /* DavFile*, owned here */
    int endpoints;
    uint32_t method_names[HTTP_N_METHODS]; /* trace name ids, 0 until first needed */
};

/* The connection of a SRV_CALL: requests go one at a time. */
typedef struct DavReq DavReq;
typedef struct {
    DavRdr *rdr;
    SrvCall *sc;
    NetNode *server;
    TdiEndpoint *ep;
    bool up, connecting, gone;
    HttpRx rx;
    uint64_t next_request;
    GQueue queue;         /* DavReq*: the first is on the wire (or waits for the connection) */
    SimEventId retry;     /* the next attempt to connect again */
} DavConn;

/* What the redirector keeps of a file (the FCB's context). */
typedef struct {
    GArray *copy;         /* Range: the file's bytes (stamps; aux 1: written, not yet PUT) */
    uint64_t size, etag;
    bool have, dirty, delete_on_close;
    uint64_t lock_token;  /* 0: no lock */
    int writers;          /* SRV_OPENs open for writing, sharing the lock */
    GArray *expect;       /* what reads of the copy must not be older than (coherence.h), as of the download */
    uint64_t epoch;
} DavFile;

typedef void (*DavDone)(DavReq *q, HttpMsg *resp, NTSTATUS st);

struct DavReq {
    DavConn *c;
    HttpMsg *msg;         /* as sent; kept to be sent again */
    RxContext *rx;
    DavDone done;
    SimEventId timer;
    bool sent;            /* on the present connection */
    int attempts;         /* connections it was sent on that failed it */
    SimTime born;
    uint64_t got;         /* GET: body bytes that arrived before the connection went */
    HttpMsg *first;       /* GET: the response whose body was cut short */
};

static DavRdr *rdr_of(RxContext *rx) { return rdbss_rdr_context(rx->rdr); }
static DavConn *conn_of(RxContext *rx) { return rx->srv_call ? rx->srv_call->context : NULL; }
static DavFile *file_of(RxContext *rx) { return rx->fcb ? rx->fcb->context : NULL; }

/* "/share/dir/a.doc" of "\srv\share" and "dir\a.doc". */
static char *url_of(const char *net_root, const char *path)
{
    const char *share = strchr(net_root + 1, '\\');
    GString *u = g_string_new("/");
    g_string_append(u, share ? share + 1 : "");
    if (path && *path) {
        g_string_append_c(u, '/');
        g_string_append(u, path);
    } else {
        g_string_append_c(u, '/');
    }
    for (gsize i = 0; i < u->len; i++)
        if (u->str[i] == '\\')
            u->str[i] = '/';
    return g_string_free(u, FALSE);
}

static const VNetRoot *vnet_of(RxContext *rx)
{
    return rx->vnet_root ? rx->vnet_root : rx->srv_open ? rx->srv_open->vnet_root : rx->fcb ? rx->fcb->vnet_root : NULL;
}

/* A request of rx's, with the credentials of its V_NET_ROOT (or those it presents). */
static HttpMsg *request(RxContext *rx, HttpMethod m, const char *path)
{
    const VNetRoot *v = vnet_of(rx);
    const char *root = v ? v->net_root->name : rx->net_root ? rx->net_root->name : rx->file_path;
    char *url = url_of(root, path);
    HttpMsg *h = http_msg_new(rdr_of(rx)->wire, m, url);
    g_free(url);
    const char *user = rx->user ? rx->user : v ? v->user : NULL;
    const char *password = rx->user ? rx->password : v ? v->password : NULL;
    /* Invariant: an open's requests carry the credentials it presented,
     * which are its V_NET_ROOT's (RDBSS compares them, STRUCTURES.md 4.3). */
    if (rx->user && v && (g_strcmp0(rx->user, v->user) != 0 || g_strcmp0(rx->password, v->password) != 0))
        sim_fail(rdr_of(rx)->sim, "an open of %s by user '%s' would go with the credentials of V_NET_ROOT %s",
                 path ? path : "", rx->user, v->name);
    h->user = g_strdup(user);
    h->password = g_strdup(password);
    return h;
}

/* ---- the connection ---- */

static void conn_connect(DavConn *c);
static void conn_down(DavConn *c, NTSTATUS st);
static void req_finish(DavReq *q, HttpMsg *resp, NTSTATUS st);
static void on_timeout(Sim *sim, void *ctx, uint64_t arg);

/* A request is sent again on a new connection this many times in all: a
 * connection that carries nothing for the time-out is taken for dead (the
 * peer may have given up on it while the link was down, its reset lost).
 * Connecting again goes on every second for as long (this many
 * time-outs from the request's first sending). */
#define DAV_ATTEMPTS 4

static void send_current(DavConn *c)
{
    DavReq *q = g_queue_peek_head(&c->queue);
    if (!q || !c->up || q->sent)
        return;
    q->sent = true;
    sim_cancel(c->rdr->sim, q->timer);
    q->timer = c->rdr->p.request_timeout > 0 ? sim_after(c->rdr->sim, c->rdr->p.request_timeout, on_timeout, q, 0)
                                             : SIM_NO_EVENT;
    HttpMsg *m = q->msg;
    /* sent again after a GET was cut short: go on from where it got */
    if (q->first && m->method == HTTP_GET) {
        uint64_t end = q->first->has_range ? q->first->range_end : q->first->body;
        uint64_t start = (q->first->has_range ? q->first->range_start : 0) + q->got;
        m->has_range = true;
        m->range_start = start;
        m->range_end = end;
        m->if_range = q->first->etag;
    }
    HttpMsg *copy = http_msg_new(c->rdr->wire, m->method, m->path);
    copy->request = ++c->next_request;
    copy->host = g_strdup(c->sc ? c->sc->name + 1 : net_node_name(c->server));
    copy->user = g_strdup(m->user);
    copy->password = g_strdup(m->password);
    copy->depth = m->depth;
    copy->has_range = m->has_range;
    copy->range_start = m->range_start;
    copy->range_end = m->range_end;
    copy->if_range = m->if_range;
    copy->body = m->body;
    copy->lock_token = m->lock_token;
    copy->timeout = m->timeout;
    copy->destination = g_strdup(m->destination);
    copy->overwrite = m->overwrite;
    copy->stamps = m->stamps ? g_array_ref(m->stamps) : NULL;
    m->request = copy->request;
    http_send(c->rdr->wire, c->ep, rdbss_node(c->rdr->rdbss), c->server, copy);
}

static void enqueue(DavConn *c, DavReq *q)
{
    g_queue_push_tail(&c->queue, q);
    if (g_queue_get_length(&c->queue) == 1) {
        if (c->up)
            send_current(c);
        else if (!c->connecting && c->retry == SIM_NO_EVENT)
            conn_connect(c);
    }
}

static void on_timeout(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    DavReq *q = ctx;
    DavConn *c = q->c;
    q->timer = SIM_NO_EVENT;
    bool current = g_queue_peek_head(&c->queue) == q;
    if (current && c->up && q->msg->method != HTTP_LOCK && ++q->attempts < DAV_ATTEMPTS) {
        tdi_disconnect(c->ep, TDI_DISCONNECT_ABORT, NULL, NULL, NULL, NULL);
        conn_down(c, STATUS_IO_TIMEOUT);
        return;
    }
    g_queue_remove(&c->queue, q);
    /* HTTP/1.1 cannot take back a request on its connection: close it */
    if (current && c->up) {
        c->up = false;
        http_rx_clear(&c->rx);
        tdi_disconnect(c->ep, TDI_DISCONNECT_ABORT, NULL, NULL, NULL, NULL);
    }
    req_finish(q, NULL, STATUS_IO_TIMEOUT);
    if (current && g_queue_get_length(&c->queue) && !c->up && !c->connecting && c->retry == SIM_NO_EVENT && !c->gone)
        conn_connect(c);
}

static DavReq *send_req(RxContext *rx, DavConn *c, HttpMsg *m, DavDone done)
{
    DavReq *q = g_new0(DavReq, 1);
    q->c = c;
    q->msg = m;
    q->rx = rx;
    q->done = done;
    q->born = sim_now(c->rdr->sim);
    enqueue(c, q);
    return q;
}

/* The request's time, from its first sending to its end, for the
 * http.METHOD.* metrics (STATUS_PENDING: it was still waiting). */
static void record_done(DavRdr *s, const DavReq *q, NTSTATUS st)
{
    Trace *tr = net_trace(s->net);
    HttpMethod m = q->msg->method;
    if (!s->method_names[m])
        s->method_names[m] = trace_name(tr, http_method_name(m));
    trace_http_done(tr, s->method_names[m], st, sim_now(s->sim) - q->born);
}

static void req_finish(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    record_done(q->c->rdr, q, st);
    sim_cancel(q->c->rdr->sim, q->timer);
    q->done(q, resp, st);
    http_msg_free(q->first);
    http_msg_free(q->msg);
    g_free(q);
}

static void next_request(DavConn *c)
{
    if (g_queue_get_length(&c->queue))
        send_current(c);
}

static void on_receive(void *ctx, TdiEndpoint *ep, uint32_t bytes, uint64_t tag)
{
    (void)bytes;
    DavConn *c = ctx;
    if (ep != c->ep)
        return;
    HttpMsg *rec = http_receive(c->rdr->wire, tag);
    HttpMsg *m = rec ? http_assemble(&c->rx, rec) : NULL;
    if (!m)
        return;
    DavReq *q = g_queue_peek_head(&c->queue);
    if (!q || m->request != q->msg->request) {
        http_msg_free(m);
        return;
    }
    g_queue_pop_head(&c->queue);
    req_finish(q, m, http_to_ntstatus(m->status));
    http_msg_free(m);
    next_request(c);
}

/* Every request waiting fails with st. */
static void fail_all(DavConn *c, NTSTATUS st)
{
    for (DavReq *q; (q = g_queue_pop_head(&c->queue));)
        req_finish(q, NULL, st);
}

static void on_retry(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    DavConn *c = ctx;
    c->retry = SIM_NO_EVENT;
    if (g_queue_get_length(&c->queue))
        conn_connect(c);
}

/* The connection went with a request under way: keep what of a GET's
 * body arrived, and connect again (HTTP's requests other than LOCK are
 * idempotent, RFC 9110 9.2.2, so they may be sent again). */
static void conn_down(DavConn *c, NTSTATUS st)
{
    c->up = false;
    DavReq *q = g_queue_peek_head(&c->queue);
    if (q) { /* its time-out starts again when it is sent again; till then the connecting budget holds */
        q->sent = false;
        sim_cancel(c->rdr->sim, q->timer);
        q->timer = SIM_NO_EVENT;
    }
    if (q && q->msg->method == HTTP_GET && c->rx.partial && c->rx.partial->request == q->msg->request &&
        (c->rx.partial->status == 200 || c->rx.partial->status == 206) && c->rx.got) {
        if (!q->first) {
            q->first = c->rx.partial;
            c->rx.partial = NULL;
            q->got = c->rx.got;
        } else {
            q->got += c->rx.got; /* a resumed GET cut short again: its 206 goes on the first */
        }
    }
    http_rx_clear(&c->rx);
    if (q && q->msg->method == HTTP_LOCK) {
        g_queue_pop_head(&c->queue);
        req_finish(q, NULL, st);
    }
    if (g_queue_get_length(&c->queue) && !c->gone)
        conn_connect(c);
}

static void on_disconnect(void *ctx, TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info)
{
    (void)info;
    DavConn *c = ctx;
    if (flags & TDI_DISCONNECT_RELEASE)
        tdi_disconnect(ep, TDI_DISCONNECT_RELEASE, NULL, NULL, NULL, NULL);
    if (ep == c->ep && c->up)
        conn_down(c, flags & TDI_DISCONNECT_ABORT ? STATUS_CONNECTION_RESET : STATUS_CONNECTION_DISCONNECTED);
}

static void on_connected(void *ctx, TdiEndpoint *ep, const TdiIo *io)
{
    DavConn *c = ctx;
    if (ep != c->ep)
        return;
    c->connecting = false;
    if (io->status == STATUS_SUCCESS) {
        c->up = true;
        send_current(c);
        return;
    }
    /* Again in a second while a request still has time; the first
     * connection of a SRV_CALL fails at once (the next provider's turn). */
    DavReq *q = g_queue_peek_head(&c->queue);
    bool first = c->next_request == 0;
    SimTime budget = c->rdr->p.request_timeout * DAV_ATTEMPTS;
    if (!q || first || c->gone || sim_now(c->rdr->sim) + SIM_SEC >= q->born + budget) {
        fail_all(c, io->status);
        return;
    }
    c->retry = sim_after(c->rdr->sim, SIM_SEC, on_retry, c, 0);
}

static void conn_connect(DavConn *c)
{
    DavRdr *s = c->rdr;
    char *name = g_strdup_printf("%s:%s%d", net_node_name(rdbss_node(s->rdbss)), rdbss_rdr_name(s->m), ++s->endpoints);
    c->ep = tdi_endpoint_open(s->tdi, rdbss_node(s->rdbss), 0, name);
    g_free(name);
    TdiHandlers h = { on_receive, on_disconnect, c };
    tdi_endpoint_set_handlers(c->ep, &h);
    c->connecting = true;
    tdi_connect(c->ep, c->server, s->p.port, NULL, on_connected, c);
}

/* ---- SRV_CALL, NET_ROOT, V_NET_ROOT ---- */

/* OPTIONS answered: a DAV header makes it a WebDAV server; an HTTP server
 * without one is not (the WebClient service's DavrDoesServerDoDav:
 * ERROR_BAD_NETPATH). */
static void options_done(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    if (resp && st == STATUS_SUCCESS && !resp->dav)
        st = STATUS_BAD_NETWORK_PATH;
    if (st != STATUS_SUCCESS)
        q->c->gone = true;
    rx_complete(q->rx, st);
}

static NTSTATUS create_srv_call(RxContext *rx)
{
    DavRdr *s = rdr_of(rx);
    SrvCall *sc = rx->srv_call;
    NetNode *server = net_find_node(s->net, sc->name + 1);
    if (!server) {
        mrx_complete_soon(rx, STATUS_BAD_NETWORK_PATH);
        return STATUS_PENDING;
    }
    DavConn *c = g_new0(DavConn, 1);
    c->rdr = s;
    c->sc = sc;
    c->server = server;
    g_queue_init(&c->queue);
    g_ptr_array_add(s->conns, c);
    sc->context = c;
    HttpMsg *m = http_msg_new(s->wire, HTTP_OPTIONS, "/");
    send_req(rx, c, m, options_done);
    return STATUS_PENDING;
}

static NTSTATUS finalize_srv_call(RxContext *rx)
{
    DavConn *c = conn_of(rx);
    if (c) {
        c->gone = true;
        sim_cancel(c->rdr->sim, c->retry);
        c->retry = SIM_NO_EVENT;
        if (c->up) {
            c->up = false;
            tdi_disconnect(c->ep, TDI_DISCONNECT_RELEASE, NULL, NULL, NULL, NULL);
        }
        c->sc = NULL;
    }
    return STATUS_SUCCESS;
}

/* The share answers a PROPFIND as a collection: 404 is a missing share,
 * 401 and 403 credentials it does not take. */
static void share_checked(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    RxContext *rx = q->rx;
    if (resp && resp->status == 404)
        rx->net_root_status = rx->vnet_root_status = STATUS_BAD_NETWORK_NAME;
    else if (st != STATUS_SUCCESS && resp)
        rx->vnet_root_status = st;
    else if (st != STATUS_SUCCESS)
        rx->net_root_status = rx->vnet_root_status = st;
    rx_complete(rx, STATUS_SUCCESS);
}

static NTSTATUS create_vnet_root(RxContext *rx)
{
    HttpMsg *m = request(rx, HTTP_PROPFIND, "");
    send_req(rx, conn_of(rx), m, share_checked);
    return STATUS_PENDING;
}

/* ---- opens ---- */

static DavFile *file_for(RxContext *rx)
{
    DavFile *f = file_of(rx);
    if (!f) {
        f = g_new0(DavFile, 1);
        f->copy = ranges_new();
        rx->fcb->context = f;
        g_ptr_array_add(rdr_of(rx)->files, f);
    }
    return f;
}

static bool writes(uint32_t access) { return access & (ACCESS_WRITE_DATA | ACCESS_APPEND_DATA | ACCESS_DELETE); }

static void create_get(RxContext *rx);

static void create_done(RxContext *rx)
{
    DavFile *f = file_of(rx);
    SrvOpen *so = rx->srv_open;
    so->key = (uint64_t)(uintptr_t)so;
    so->level = OPLOCK_LEVEL_NONE;
    so->buffering_flags = 0;
    rx->oplock = OPLOCK_LEVEL_NONE;
    if (writes(rx->access))
        f->writers++;
    if (rx->delete_on_close)
        f->delete_on_close = true;
    if (rx->fcb->opens == 0)
        rx->fcb->size = rx->fcb->valid_data_length = f->size;
    rx_create_fobx(rx);
    rx_complete(rx, STATUS_SUCCESS);
}

static void got_file(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    RxContext *rx = q->rx;
    if (st != STATUS_SUCCESS) {
        rx_complete(rx, st);
        return;
    }
    DavFile *f = file_of(rx);
    GArray *copy = ranges_new();
    if (q->first && resp->status == 206) { /* the first part of the body, then the rest; a 200 is a new
                                            * version whole (If-Range did not match) */
        uint64_t start = q->first->has_range ? q->first->range_start : 0;
        GArray *head = q->first->stamps ? ranges_slice(q->first->stamps, start, start + q->got) : ranges_new();
        for (guint i = 0; i < head->len; i++)
            ranges_put(copy, g_array_index(head, Range, i));
        g_array_unref(head);
    }
    for (guint i = 0; resp->stamps && i < resp->stamps->len; i++)
        ranges_put(copy, g_array_index(resp->stamps, Range, i));
    g_array_unref(f->copy);
    f->copy = copy;
    f->size = resp->size ? resp->size : resp->body;
    f->etag = resp->etag;
    f->have = true;
    f->dirty = false;
    create_done(rx);
}

/* The whole file, unless the copy is of this very version. */
static void create_get(RxContext *rx)
{
    DavFile *f = file_of(rx);
    DavRdr *s = rdr_of(rx);
    if (s->coh) { /* what a read of the copy must show: the writes published by now */
        if (f->expect)
            g_array_unref(f->expect);
        f->expect = coh_expect(s->coh, rx->fcb->key, 0, UINT64_MAX / 2, &f->epoch);
    }
    if (f->have || f->size == 0) {
        if (f->size == 0) {
            g_array_set_size(f->copy, 0);
            f->have = true;
        }
        create_done(rx);
        return;
    }
    send_req(rx, conn_of(rx), request(rx, HTTP_GET, rx->path), got_file);
}

static void locked(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    RxContext *rx = q->rx;
    if (st != STATUS_SUCCESS) {
        rx_complete(rx, st); /* 423: STATUS_ACCESS_DENIED, as the WebClient maps it */
        return;
    }
    file_of(rx)->lock_token = resp->lock_token;
    create_get(rx);
}

static void create_lock(RxContext *rx)
{
    DavFile *f = file_of(rx);
    if (!writes(rx->access) || f->lock_token) {
        create_get(rx);
        return;
    }
    HttpMsg *m = request(rx, HTTP_LOCK, rx->path);
    m->timeout = rdr_of(rx)->p.lock_timeout;
    send_req(rx, conn_of(rx), m, locked);
}

static void put_empty_done(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    RxContext *rx = q->rx;
    if (st != STATUS_SUCCESS) {
        rx_complete(rx, st);
        return;
    }
    DavFile *f = file_of(rx);
    f->size = 0;
    f->etag = resp->etag;
    g_array_set_size(f->copy, 0);
    f->have = true;
    f->dirty = false;
    create_lock(rx);
}

/* What is there decides with the disposition (MS-FSA 2.1.5.1). */
static void create_found(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    RxContext *rx = q->rx;
    DavFile *f = file_for(rx);
    bool exists = resp && resp->status == 207;
    if (!exists && !(resp && resp->status == 404)) {
        rx_complete(rx, st);
        return;
    }
    uint32_t d = rx->disposition;
    if (exists && resp->collection) {
        rx_complete(rx, STATUS_FILE_IS_A_DIRECTORY);
        return;
    }
    if (!exists && (d == DISP_OPEN || d == DISP_OVERWRITE)) {
        rx_complete(rx, STATUS_OBJECT_NAME_NOT_FOUND);
        return;
    }
    if (exists && d == DISP_CREATE) {
        rx_complete(rx, STATUS_OBJECT_NAME_COLLISION);
        return;
    }
    if (exists && !f->dirty && (f->etag != resp->etag || !f->have)) {
        f->have = false;
        f->size = resp->size;
    }
    bool empty = !exists || d == DISP_SUPERSEDE || d == DISP_OVERWRITE || d == DISP_OVERWRITE_IF;
    if (empty) { /* made or emptied by a PUT of nothing */
        HttpMsg *m = request(rx, HTTP_PUT, rx->path);
        m->lock_token = f->lock_token;
        m->stamps = ranges_new();
        send_req(rx, conn_of(rx), m, put_empty_done);
        return;
    }
    create_lock(rx);
}

/* A directory: a collection, made by MKCOL (RFC 4918 9.3). */
static void dir_made(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    (void)resp;
    if (st != STATUS_SUCCESS) {
        rx_complete(q->rx, st); /* 405: one is there; 409: no parent (STATUS_INVALID_PARAMETER) */
        return;
    }
    DavFile *f = file_for(q->rx);
    f->have = true;
    create_done(q->rx);
}

static void dir_found(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    RxContext *rx = q->rx;
    uint32_t d = rx->disposition;
    bool exists = resp && resp->status == 207;
    if (exists && !resp->collection)
        st = STATUS_NOT_A_DIRECTORY;
    else if (exists && d == DISP_CREATE)
        st = STATUS_OBJECT_NAME_COLLISION;
    else if (exists)
        st = STATUS_SUCCESS;
    else if (resp && resp->status == 404 && (d == DISP_CREATE || d == DISP_OPEN_IF)) {
        send_req(rx, conn_of(rx), request(rx, HTTP_MKCOL, rx->path), dir_made);
        return;
    }
    if (st != STATUS_SUCCESS) {
        rx_complete(rx, st);
        return;
    }
    file_for(rx)->have = true;
    create_done(rx);
}

static NTSTATUS mrx_create(RxContext *rx)
{
    DavConn *c = conn_of(rx);
    if (!c)
        return STATUS_INVALID_CONNECTION;
    HttpMsg *m = request(rx, HTTP_PROPFIND, rx->path);
    send_req(rx, c, m, rx->directory ? dir_found : create_found);
    return STATUS_PENDING;
}

static NTSTATUS collapse_open(RxContext *rx)
{
    rx_create_fobx(rx);
    return STATUS_SUCCESS;
}

/* The redirector's copy is published: its written ranges are now the
 * file's for every client (the coherence oracle hears of them here, not
 * when the application wrote them). */
static void publish(DavRdr *s, RxContext *rx, DavFile *f)
{
    for (guint i = 0; i < f->copy->len; i++) {
        Range *r = &g_array_index(f->copy, Range, i);
        if (r->aux && s->coh && r->stamp)
            coh_acked(s->coh, rx->fcb->key, r->start, r->end, r->stamp);
        r->aux = 0;
    }
    f->dirty = false;
}

static void put_done(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    RxContext *rx = q->rx;
    DavFile *f = file_of(rx);
    if (st == STATUS_SUCCESS) {
        f->etag = resp->etag;
        publish(rdr_of(rx), rx, f);
    }
    rx_complete(rx, st);
}

static HttpMsg *put_of(RxContext *rx, DavFile *f)
{
    HttpMsg *m = request(rx, HTTP_PUT, rx->fcb->path);
    m->body = f->size;
    m->lock_token = f->lock_token;
    m->stamps = ranges_slice(f->copy, 0, f->size);
    return m;
}

static NTSTATUS flush(RxContext *rx)
{
    DavFile *f = file_of(rx);
    if (!f || !f->dirty)
        return STATUS_SUCCESS;
    send_req(rx, conn_of(rx), put_of(rx, f), put_done);
    return STATUS_PENDING;
}

static void close_done(DavReq *q, HttpMsg *resp, NTSTATUS st);

/* The steps of a close, each a request or none: PUT what was written,
 * DELETE a file to go, UNLOCK with the last writer. */
static void close_next(RxContext *rx, NTSTATUS st)
{
    DavFile *f = file_of(rx);
    DavConn *c = conn_of(rx);
    SrvOpen *so = rx->srv_open;
    bool last = rx->fcb->opens <= 1;
    if (st != STATUS_SUCCESS || !c) {
        rx_complete(rx, c ? st : STATUS_INVALID_CONNECTION);
        return;
    }
    if (f->dirty && !f->delete_on_close) {
        send_req(rx, c, put_of(rx, f), close_done);
        return;
    }
    if (f->delete_on_close && last && !(so->flags & SRVOPEN_FLAG_ORPHANED)) {
        f->delete_on_close = false;
        f->dirty = false;
        HttpMsg *m = request(rx, HTTP_DELETE, rx->fcb->path);
        m->lock_token = f->lock_token;
        f->lock_token = 0; /* the lock goes with the file */
        f->have = false;
        send_req(rx, c, m, close_done);
        return;
    }
    if (writes(so->access) && f->writers > 0) {
        if (--f->writers == 0 && f->lock_token) {
            HttpMsg *m = request(rx, HTTP_UNLOCK, rx->fcb->path);
            m->lock_token = f->lock_token;
            f->lock_token = 0;
            send_req(rx, c, m, close_done);
            return;
        }
    }
    rx_complete(rx, STATUS_SUCCESS);
}

static void close_done(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    RxContext *rx = q->rx;
    DavFile *f = file_of(rx);
    if (st == STATUS_SUCCESS && q->msg->method == HTTP_PUT) {
        f->etag = resp->etag;
        publish(rdr_of(rx), rx, f);
    }
    if (q->msg->method == HTTP_UNLOCK || q->msg->method == HTTP_DELETE) /* done, whatever it said */
        st = q->msg->method == HTTP_DELETE ? st : STATUS_SUCCESS;
    close_next(rx, st);
}

static NTSTATUS close_srv_open(RxContext *rx)
{
    close_next(rx, STATUS_SUCCESS);
    return STATUS_PENDING;
}

static NTSTATUS deallocate_for_fcb(RxContext *rx)
{
    /* the copy stays with the redirector (its cache) until the run ends */
    if (rx->fcb)
        rx->fcb->context = NULL;
    return STATUS_SUCCESS;
}

/* ---- reads and writes: the copy ---- */

static NTSTATUS lowio_read(RxContext *rx)
{
    DavFile *f = file_of(rx);
    uint64_t end = MIN(rx->offset + rx->length, MAX(f->size, rx->offset));
    rx->information = end - rx->offset;
    if (rx->stamps)
        g_array_unref(rx->stamps);
    rx->stamps = ranges_slice(f->copy, rx->offset, end);
    if (f->expect) { /* judged against the writes published when it was downloaded */
        rx->copy_expect = g_array_ref(f->expect);
        rx->copy_epoch = f->epoch;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS lowio_write(RxContext *rx)
{
    DavFile *f = file_of(rx);
    Range n = { rx->offset, rx->offset + rx->length, rx->stamp, 1 };
    ranges_put(f->copy, n);
    f->size = MAX(f->size, n.end);
    f->dirty = true;
    rx->unpublished = true; /* acknowledged to the oracle when a PUT publishes it */
    rx->information = rx->length;
    return STATUS_SUCCESS;
}

/* ---- information ---- */

static void answered(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    (void)resp;
    rx_complete(q->rx, st);
}

static NTSTATUS propfind(RxContext *rx, const char *path, int depth)
{
    HttpMsg *m = request(rx, HTTP_PROPFIND, path);
    m->depth = depth;
    send_req(rx, conn_of(rx), m, answered);
    return STATUS_PENDING;
}

static NTSTATUS query_file(RxContext *rx) { return propfind(rx, rx->fcb->path, 0); }

static NTSTATUS query_dir(RxContext *rx)
{
    const char *slash = strrchr(rx->fcb->path, '\\');
    char *dir = slash ? g_strndup(rx->fcb->path, (gsize)(slash - rx->fcb->path)) : g_strdup("");
    NTSTATUS st = propfind(rx, dir, 1);
    g_free(dir);
    return st;
}

/* RFC 4331's quota properties of the share's root. */
static NTSTATUS query_volume(RxContext *rx) { return propfind(rx, "", 0); }

static void directory_checked(DavReq *q, HttpMsg *resp, NTSTATUS st)
{
    rx_complete(q->rx, st == STATUS_SUCCESS && resp->collection ? STATUS_SUCCESS : STATUS_BAD_NETWORK_PATH);
}

static NTSTATUS is_valid_directory(RxContext *rx)
{
    HttpMsg *m = request(rx, HTTP_PROPFIND, rx->path ? rx->path : "");
    send_req(rx, conn_of(rx), m, directory_checked);
    return STATUS_PENDING;
}

static NTSTATUS set_file(RxContext *rx)
{
    DavFile *f = file_of(rx);
    switch (rx->info_class) {
    case INFO_RENAME: {
        HttpMsg *m = request(rx, HTTP_MOVE, rx->fcb->path);
        char *to = url_of(vnet_of(rx)->net_root->name, rx->new_name);
        m->destination = to;
        m->overwrite = false; /* FileRenameInformation without ReplaceIfExists */
        m->lock_token = f->lock_token;
        send_req(rx, conn_of(rx), m, answered);
        return STATUS_PENDING;
    }
    case INFO_DISPOSITION:
        f->delete_on_close = true; /* the DELETE goes with the last close */
        return STATUS_SUCCESS;
    case INFO_EOF:
        ranges_trim(f->copy, rx->length);
        f->size = rx->length;
        f->dirty = true;
        return STATUS_SUCCESS;
    default:
        return STATUS_SUCCESS; /* times and attributes: kept by the copy (no PROPPATCH) */
    }
}

/* ---- the rest ---- */

static NTSTATUS ok(RxContext *rx)
{
    (void)rx;
    return STATUS_SUCCESS;
}

/* MRxPreparseName: '/' separates as '\' does in a WebDAV name too. */
static NTSTATUS preparse_name(RxContext *rx)
{
    if (!rx->path || !strchr(rx->path, '/'))
        return STATUS_SUCCESS;
    for (char *c = rx->path; *c; c++)
        if (*c == '/')
            *c = '\\';
    return STATUS_SUCCESS;
}

void davrdr_dispatch(MINIRDR_DISPATCH *d)
{
    memset(d, 0, sizeof *d);
    d->MRxStart = ok;
    d->MRxStop = ok;
    d->MRxCreate = mrx_create;
    d->MRxCollapseOpen = collapse_open;
    d->MRxShouldTryToCollapseThisOpen = ok;
    d->MRxFlush = flush;
    d->MRxTruncate = ok;
    d->MRxCleanupFobx = ok;
    d->MRxCloseSrvOpen = close_srv_open;
    d->MRxDeallocateForFcb = deallocate_for_fcb;
    d->MRxDeallocateForFobx = ok;
    d->MRxForceClosed = ok;
    d->MRxQueryDirectory = query_dir;
    d->MRxQueryFileInfo = query_file;
    d->MRxSetFileInfo = set_file;
    d->MRxSetFileInfoAtCleanup = ok;
    d->MRxQueryVolumeInfo = query_volume;
    d->MRxIsValidDirectory = is_valid_directory;
    d->MRxExtendForNonCache = ok;
    d->MRxCreateVNetRoot = create_vnet_root;
    d->MRxFinalizeVNetRoot = ok;
    d->MRxFinalizeNetRoot = ok;
    d->MRxExtractNetRootName = mrx_extract_unc_net_root_name;
    d->MRxCreateSrvCall = create_srv_call;
    d->MRxSrvCallWinnerNotify = ok;
    d->MRxFinalizeSrvCall = finalize_srv_call;
    d->MRxDevFcbXXXControlFile = mrx_dev_fcb_control;
    d->MRxPreparseName = preparse_name;
    d->MRxLowIOSubmit[LOWIO_OP_READ] = lowio_read;
    d->MRxLowIOSubmit[LOWIO_OP_WRITE] = lowio_write;
}

void davrdr_dispatch_for(const DavRdrParams *p, MINIRDR_DISPATCH *d)
{
    davrdr_dispatch(d);
    d->ScavengerTimeout = p->scavenger_timeout;
    for (char **n = p->null_routines; n && *n; n++) {
        MrxId id = mrx_by_name(*n);
        if (id < MRX_N_ROUTINES)
            mrx_set(d, id, NULL);
    }
}

DavRdr *davrdr_new(Rdbss *r, Tdi *tdi, HttpWire *wire, Net *net, Coherence *coh, const char *name,
                   const DavRdrParams *p, const MINIRDR_DISPATCH *d, bool delayed_close)
{
    DavRdr *s = g_new0(DavRdr, 1);
    s->rdbss = r;
    s->tdi = tdi;
    s->wire = wire;
    s->net = net;
    s->coh = coh;
    s->sim = rdbss_sim(r);
    s->p = *p;
    s->conns = g_ptr_array_new();
    s->files = g_ptr_array_new();
    s->m = rdbss_register(r, name, d, s, p->request_timeout, delayed_close);
    return s;
}

MiniRdr *davrdr_minirdr(DavRdr *s) { return s->m; }

void davrdr_flush_trace(DavRdr *s)
{
    for (guint i = 0; i < s->conns->len; i++) {
        DavConn *c = g_ptr_array_index(s->conns, i);
        for (GList *l = c->queue.head; l; l = l->next)
            record_done(s, l->data, STATUS_PENDING);
    }
}

void davrdr_free(DavRdr *s)
{
    if (!s)
        return;
    for (guint i = 0; i < s->conns->len; i++) {
        DavConn *c = g_ptr_array_index(s->conns, i);
        for (DavReq *q; (q = g_queue_pop_head(&c->queue));) {
            http_msg_free(q->first);
            http_msg_free(q->msg);
            g_free(q);
        }
        http_rx_clear(&c->rx);
        g_free(c);
    }
    g_ptr_array_unref(s->conns);
    for (guint i = 0; i < s->files->len; i++) {
        DavFile *f = g_ptr_array_index(s->files, i);
        g_array_unref(f->copy);
        if (f->expect)
            g_array_unref(f->expect);
        g_free(f);
    }
    g_ptr_array_unref(s->files);
    g_free(s);
}
