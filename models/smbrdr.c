#include "smbrdr.h"

#include <string.h>

#include "mrxcommon.h"

struct SmbRdr {
    /* what every request and response reads, in one line */
    Rdbss *rdbss;
    SmbWire *wire;
    Sim *sim;
    Pool *req_pool;   /* Req, shared by the run's redirectors (see smbrdr_new) */
    SimTime request_timeout; /* p's */
    Tdi *tdi;
    Net *net;
    MiniRdr *m;
    SmbRdrParams p;
    GPtrArray *conns;
    GPtrArray *trees; /* Tree*, owned here: a V_NET_ROOT alive at the end of a run still has one */
    GHashTable *ids;  /* user -> GBytes: the connection id of each user, made once */
    int endpoints;
};

/* The connection of a SRV_CALL. */
typedef struct {
    SmbRdr *rdr;
    SrvCall *sc;
    TdiEndpoint *ep;
    NetNode *server;
    bool up, lost;
    uint64_t next_mid;
    GArray *pending;      /* Pending, by message id: ids only grow, so a
                           * request joins at the end; a handful wait at a
                           * time, and a lookup reads one line where a hash
                           * table read three */
    GHashTable *sessions; /* "user\npassword" -> session id: a session is its credentials' */
    uint16_t dialect;     /* negotiated */
    uint64_t offered;     /* its NEGOTIATE as sent (smb_negotiate_digest) */
    SmbMsg offer;         /* the offer's fields, repeated by FSCTL_VALIDATE_NEGOTIATE_INFO */
    bool validated;       /* 3.0 / 3.0.2: the negotiation was validated once */
} Conn;

typedef struct {
    uint64_t session, tree;
    char *credentials; /* "user\npassword" of its session */
} Tree;

static void tree_free(gpointer p)
{
    Tree *t = p;
    g_free(t->credentials);
    g_free(t);
}

/* K_WAIT: a request that waits for an event (CHANGE_NOTIFY), to which the
 * request time-out does not apply. */
typedef enum { K_NEGOTIATE, K_SESSION, K_TREE, K_VALIDATE, K_DIRECTORY, K_CREATE, K_SIMPLE, K_WAIT, K_IO, K_COUNTDOWN } ReqKind;

typedef struct {
    Conn *c;
    RxContext *rx;
    ReqKind kind;
    uint64_t mid;
    SimEventId timer;
} Req;

static SmbRdr *rdr_of(RxContext *rx) { return rdbss_rdr_context(rx->rdr); }
static Conn *conn_of(RxContext *rx) { return rx->srv_call ? rx->srv_call->context : NULL; }

static uint32_t buffering_for(OplockLevel level)
{
    switch (level) {
    case OPLOCK_LEVEL_BATCH:
        return FCB_STATE_READCACHING_ENABLED | FCB_STATE_WRITECACHING_ENABLED | FCB_STATE_LOCK_BUFFERING_ENABLED |
               FCB_STATE_HANDLECACHING;
    case OPLOCK_LEVEL_EXCLUSIVE:
        return FCB_STATE_READCACHING_ENABLED | FCB_STATE_WRITECACHING_ENABLED | FCB_STATE_LOCK_BUFFERING_ENABLED;
    case OPLOCK_LEVEL_II:
        return FCB_STATE_READCACHING_ENABLED;
    default:
        return 0;
    }
}

/* ---- requests ---- */

static void on_timeout(Sim *sim, void *ctx, uint64_t arg);

static void finish_req(Req *q, NTSTATUS st);

typedef struct {
    uint64_t mid;
    Req *q;
} Pending;

static void pending_add(Conn *c, Req *q)
{
    Pending p = { q->mid, q };
    g_array_append_val(c->pending, p);
}

/* The request waiting for message id `mid`, now off the list; NULL if none. */
static Req *pending_take(Conn *c, uint64_t mid)
{
    guint lo = 0, hi = c->pending->len;
    while (lo < hi) {
        guint k = (lo + hi) / 2;
        if (g_array_index(c->pending, Pending, k).mid < mid)
            lo = k + 1;
        else
            hi = k;
    }
    if (lo == c->pending->len || g_array_index(c->pending, Pending, lo).mid != mid)
        return NULL;
    Req *q = g_array_index(c->pending, Pending, lo).q;
    g_array_remove_index(c->pending, lo);
    return q;
}

/* Send a request; its response (or time-out) comes back to finish. */
static void send_req(Conn *c, SmbMsg *m, RxContext *rx, ReqKind kind)
{
    m->msg_id = c->next_mid++;
    if (c->lost || !c->up) {
        uint64_t mid = m->msg_id;
        smb_msg_free(m);
        if (rx) {
            Req q = { c, rx, kind, mid, SIM_NO_EVENT };
            finish_req(&q, STATUS_CONNECTION_DISCONNECTED);
        }
        return;
    }
    if (rx) {
        Req *q = pool_alloc0(c->rdr->req_pool);
        q->c = c;
        q->rx = rx;
        q->kind = kind;
        q->mid = m->msg_id;
        if (c->rdr->request_timeout > 0 && kind != K_WAIT)
            q->timer = sim_after(c->rdr->sim, c->rdr->request_timeout, on_timeout, q, 0);
        pending_add(c, q);
    }
    smb_send(c->rdr->wire, c->ep, rdbss_node(c->rdr->rdbss), c->server, m);
}

static SmbMsg *request(SmbCommand cmd, RxContext *rx)
{
    SmbMsg *m = smb_msg_new(rdr_of(rx)->wire, cmd);
    Tree *t = rx->vnet_root ? rx->vnet_root->context : NULL;
    if (!t && rx->srv_open && rx->srv_open->vnet_root)
        t = rx->srv_open->vnet_root->context;
    if (t) {
        m->session = t->session;
        m->tree = t->tree;
    }
    if (rx->srv_open)
        m->file = rx->srv_open->key;
    return m;
}

/* A request whose routine ends with its answer. */
static NTSTATUS call(RxContext *rx, SmbMsg *m, ReqKind kind)
{
    Conn *c = conn_of(rx);
    if (!c) {
        smb_msg_free(m);
        return STATUS_INVALID_CONNECTION;
    }
    send_req(c, m, rx, kind);
    return STATUS_PENDING;
}

static char *credentials_key(const char *user, const char *password)
{
    return g_strconcat(user ? user : "", "\n", password ? password : "", NULL);
}

static void send_tree_connect(Conn *c, RxContext *rx, uint64_t session)
{
    SmbMsg *m = smb_msg_new(c->rdr->wire, SMB2_TREE_CONNECT);
    m->session = session;
    m->share = g_strdup(rx->share);
    Tree *t = rx->vnet_root->context;
    t->session = session;
    g_free(t->credentials);
    t->credentials = credentials_key(rx->user, rx->password);
    send_req(c, m, rx, K_TREE);
}

static void on_response(Req *q, const SmbMsg *m)
{
    RxContext *rx = q->rx;
    Conn *c = q->c;
    NTSTATUS st = m->status;
    switch (q->kind) {
    case K_NEGOTIATE:
        if (st == STATUS_SUCCESS)
            c->dialect = m->dialect;
        rx_complete(rx, st);
        return;
    case K_SESSION:
        /* 3.1.1: the server's final response is signed with its
         * pre-authentication integrity value; a NEGOTIATE rewritten on the
         * way makes it differ from ours, and the signature fail (MS-SMB2
         * 3.2.5.3.1): the session is refused as a detected downgrade. */
        if (st == STATUS_SUCCESS && c->dialect == SMB2_DIALECT_311 && m->preauth != c->offered)
            st = STATUS_DOWNGRADE_DETECTED;
        if (st == STATUS_SUCCESS) {
            g_hash_table_insert(c->sessions, credentials_key(rx->user, rx->password), GSIZE_TO_POINTER(m->session));
            send_tree_connect(c, rx, m->session);
            return;
        }
        rx->vnet_root_status = st;
        rx_complete(rx, STATUS_SUCCESS);
        return;
    case K_TREE:
        if (st == STATUS_SUCCESS)
            ((Tree *)rx->vnet_root->context)->tree = m->tree;
        else
            rx->net_root_status = rx->vnet_root_status = st;
        /* 3.0 and 3.0.2: after the first tree connect, validate the
         * negotiation (MS-SMB2 3.2.5.5) before the share is used. */
        if (st == STATUS_SUCCESS && !c->validated &&
            (c->dialect == SMB2_DIALECT_300 || c->dialect == SMB2_DIALECT_302)) {
            SmbMsg *v = smb_msg_new(c->rdr->wire, SMB2_IOCTL);
            v->session = m->session;
            v->tree = m->tree;
            v->ctl_code = FSCTL_VALIDATE_NEGOTIATE_INFO;
            v->dialect = c->offer.dialect;
            v->min_dialect = c->offer.min_dialect;
            v->capabilities = c->offer.capabilities;
            send_req(c, v, rx, K_VALIDATE);
            return;
        }
        rx_complete(rx, STATUS_SUCCESS);
        return;
    case K_VALIDATE:
        /* the server answers with what it negotiated; a difference, or a
         * refusal, is a detected downgrade (MS-SMB2 3.2.5.14.12) */
        if (st == STATUS_SUCCESS && m->dialect == c->dialect)
            c->validated = true;
        else
            rx->net_root_status = rx->vnet_root_status = STATUS_DOWNGRADE_DETECTED;
        rx_complete(rx, STATUS_SUCCESS);
        return;
    case K_DIRECTORY:
        /* the directory exists: close its open; a missing (or renamed) one
         * is STATUS_BAD_NETWORK_PATH to RDBSS (the network errors list) */
        if (st == STATUS_SUCCESS) {
            SmbMsg *cl = request(SMB2_CLOSE, rx);
            cl->file = m->file;
            send_req(c, cl, NULL, K_SIMPLE);
        }
        rx_complete(rx, st == STATUS_SUCCESS ? STATUS_SUCCESS
                        : st == STATUS_OBJECT_NAME_NOT_FOUND || st == STATUS_OBJECT_PATH_NOT_FOUND
                            ? STATUS_BAD_NETWORK_PATH
                            : st);
        return;
    case K_CREATE:
        if (st == STATUS_SUCCESS) {
            SrvOpen *so = rx->srv_open;
            so->key = m->file;
            so->level = m->oplock;
            so->buffering_flags = buffering_for(m->oplock);
            rx->oplock = m->oplock;
            if (rx->fcb->opens == 0) /* RxFinishFcbInitialization: the sizes */
                rx->fcb->size = rx->fcb->valid_data_length = m->length;
            rx_create_fobx(rx);
        }
        rx_complete(rx, st);
        return;
    case K_IO:
        rx->information = st == STATUS_SUCCESS ? m->length : 0;
        if (m->stamps) { /* the READ's data, for the coherence oracle */
            if (rx->stamps)
                g_array_unref(rx->stamps);
            rx->stamps = g_array_ref(m->stamps);
        }
        rx_complete(rx, st);
        return;
    default:
        rx_complete(rx, st);
        return;
    }
}

static void finish_req(Req *q, NTSTATUS st)
{
    RxContext *rx = q->rx;
    /* the server ends the connection when the validation fails (MS-SMB2
     * 3.3.5.15.12): to the client that is the detected downgrade */
    if (q->kind == K_VALIDATE && st != STATUS_IO_TIMEOUT)
        st = STATUS_DOWNGRADE_DETECTED;
    if (q->kind == K_SESSION || q->kind == K_TREE || q->kind == K_VALIDATE) {
        rx->net_root_status = rx->vnet_root_status = st;
        rx_complete(rx, STATUS_SUCCESS);
        return;
    }
    if (q->kind == K_COUNTDOWN) {
        /* UNLOCK_MULTIPLE: one answer per lock; rx->information counts them down */
        if (--rx->information == 0)
            rx_complete(rx, st);
        return;
    }
    rx_complete(rx, st);
}

static void on_timeout(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Req *q = ctx;
    Conn *c = q->c;
    q->timer = SIM_NO_EVENT;
    pending_take(c, q->mid);
    Req copy = *q;
    pool_free(c->rdr->req_pool, q);
    finish_req(&copy, STATUS_IO_TIMEOUT);
}

/* ---- the connection ---- */

/* The path a break notification takes upward, for the sequence chart: the
 * mini-redirector hands the break to RDBSS (SEQUENCES.md, oplock break:
 * RxIndicateChangeOfBufferingState), inside the transport's receive
 * indication that brought it.  One row: the receive indication is implied
 * (it is how the mini-redirector gets any data) and the chart draws it. */
static void trace_break_path_up(Conn *c, TdiEndpoint *ep, const SmbMsg *m)
{
    Trace *tr = net_trace(c->rdr->net);
    if (trace_level(tr) < TRACE_MESSAGES)
        return;
    bool lease = m->oplock == OPLOCK_LEVEL_LEASE;
    trace_indication(tr, sim_now(c->rdr->sim), net_node_trace_id(rdbss_node(c->rdr->rdbss)), tdi_endpoint_conn(ep),
                     trace_name(tr, "RxIndicateChangeOfBufferingState"),
                     trace_name(tr, oplock_state_name(lease, lease ? m->lease_state : oplock_level_state(m->oplock))));
}

static void on_receive(void *ctx, TdiEndpoint *ep, uint32_t bytes, uint64_t tag)
{
    (void)ep;
    (void)bytes;
    Conn *c = ctx;
    Pool *req_pool = c->rdr->req_pool; /* the response may end the connection */
    SmbMsg *m = smb_receive(c->rdr->wire, tag);
    if (!m)
        return;
    if (m->cmd == SMB2_OPLOCK_BREAK && m->msg_id == SMB2_UNSOLICITED) {
        /* the key is the server's file id (RxIndicateChangeOfBufferingState) */
        OplockLevel to = m->oplock == OPLOCK_LEVEL_LEASE ? oplock_state_level(m->lease_state) : m->oplock;
        trace_break_path_up(c, ep, m);
        rx_indicate_buffering_change(c->sc, m->file, to, m->t_sent);
    } else if (!(m->async && m->status == STATUS_PENDING)) { /* not an interim response */
        uint64_t mid = m->msg_id;
        Req *q = pending_take(c, mid);
        if (q) {
            sim_cancel(c->rdr->sim, q->timer);
            if (q->kind == K_COUNTDOWN)
                finish_req(q, m->status);
            else
                on_response(q, m);
            pool_free(req_pool, q);
        }
    }
    smb_msg_free(m);
}

/* Every request still waiting fails; RDBSS learns that the SRV_CALL is gone. */
static void conn_lost(Conn *c, NTSTATUS st)
{
    if (c->lost)
        return;
    c->lost = true;
    c->up = false;
    /* in message-id order, the list's own */
    GArray *qs = c->pending;
    c->pending = g_array_new(FALSE, FALSE, sizeof(Pending));
    for (guint i = 0; i < qs->len; i++) {
        Req *q = g_array_index(qs, Pending, i).q;
        sim_cancel(c->rdr->sim, q->timer);
        finish_req(q, st);
        pool_free(c->rdr->req_pool, q);
    }
    g_array_unref(qs);
    if (c->sc)
        rx_srv_call_lost(c->sc, st);
}

static void on_disconnect(void *ctx, TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info)
{
    (void)info;
    Conn *c = ctx;
    if (flags & TDI_DISCONNECT_RELEASE)
        tdi_disconnect(ep, TDI_DISCONNECT_RELEASE, NULL, NULL, NULL, NULL);
    conn_lost(c, STATUS_CONNECTION_DISCONNECTED);
}

static void on_connected(void *ctx, TdiEndpoint *ep, const TdiIo *io)
{
    (void)ep;
    RxContext *rx = ctx;
    Conn *c = conn_of(rx);
    if (io->status != STATUS_SUCCESS) {
        c->lost = true;
        rx_complete(rx, io->status); /* REMOTE_NOT_LISTENING, NETWORK_UNREACHABLE, IO_TIMEOUT... */
        return;
    }
    c->up = true;
    SmbMsg *m = smb_msg_new(c->rdr->wire, SMB2_NEGOTIATE);
    m->dialect = c->rdr->p.dialect;
    m->min_dialect = SMB2_DIALECT_202;
    m->capabilities = SMB2_CLIENT_CAPABILITIES;
    c->offer.dialect = m->dialect;
    c->offer.min_dialect = m->min_dialect;
    c->offer.capabilities = m->capabilities;
    c->offered = smb_negotiate_digest(m);
    send_req(c, m, rx, K_NEGOTIATE);
}

/* ---- the routines ---- */

static NTSTATUS ok(RxContext *rx)
{
    (void)rx;
    return STATUS_SUCCESS;
}

static NTSTATUS create_srv_call(RxContext *rx)
{
    SmbRdr *s = rdr_of(rx);
    SrvCall *sc = rx->srv_call;
    NetNode *server = net_find_node(s->net, sc->name + 1);
    if (!server) {
        mrx_complete_soon(rx, STATUS_BAD_NETWORK_PATH);
        return STATUS_PENDING;
    }
    Conn *c = g_new0(Conn, 1);
    c->rdr = s;
    c->sc = sc;
    c->server = server;
    c->next_mid = 1;
    c->pending = g_array_new(FALSE, FALSE, sizeof(Pending)); /* its Req* owned here */
    c->sessions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    char *name = g_strdup_printf("%s:%s%d", net_node_name(rdbss_node(s->rdbss)), rdbss_rdr_name(s->m), ++s->endpoints);
    c->ep = tdi_endpoint_open(s->tdi, rdbss_node(s->rdbss), 0, name);
    g_free(name);
    TdiHandlers h = { on_receive, on_disconnect, c };
    tdi_endpoint_set_handlers(c->ep, &h);
    g_ptr_array_add(s->conns, c);
    sc->context = c;
    tdi_connect(c->ep, server, s->p.port, NULL, on_connected, rx);
    return STATUS_PENDING;
}

static NTSTATUS finalize_srv_call(RxContext *rx)
{
    Conn *c = conn_of(rx);
    /* nothing else uses the server connection: a controlled disconnect */
    if (c && c->up && !c->lost) {
        c->up = false;
        tdi_disconnect(c->ep, TDI_DISCONNECT_RELEASE, NULL, NULL, NULL, NULL);
    }
    if (c)
        c->sc = NULL;
    return STATUS_SUCCESS;
}

/* A V_NET_ROOT reuses a session only when it was set up with the very
 * same credentials: a wrong password gets a SESSION_SETUP of its own, and
 * STATUS_LOGON_FAILURE from the server, never the session of the right
 * one. */
static NTSTATUS create_vnet_root(RxContext *rx)
{
    Conn *c = conn_of(rx);
    Tree *t = g_new0(Tree, 1);
    g_ptr_array_add(rdr_of(rx)->trees, t);
    rx->vnet_root->context = t;
    gpointer session;
    char *key = credentials_key(rx->user, rx->password);
    bool known = g_hash_table_lookup_extended(c->sessions, key, NULL, &session);
    g_free(key);
    if (known) {
        send_tree_connect(c, rx, GPOINTER_TO_SIZE(session));
        return STATUS_PENDING;
    }
    SmbMsg *m = smb_msg_new(c->rdr->wire, SMB2_SESSION_SETUP);
    m->user = g_strdup(rx->user ? rx->user : "");
    m->password = g_strdup(rx->password ? rx->password : "");
    send_req(c, m, rx, K_SESSION);
    return STATUS_PENDING;
}

static NTSTATUS finalize_vnet_root(RxContext *rx)
{
    Conn *c = conn_of(rx);
    Tree *t = rx->vnet_root->context;
    if (c && t && t->tree) {
        SmbMsg *m = smb_msg_new(c->rdr->wire, SMB2_TREE_DISCONNECT);
        m->session = t->session;
        m->tree = t->tree;
        send_req(c, m, NULL, K_SIMPLE);
    }
    if (t)
        g_ptr_array_remove_fast(rdr_of(rx)->trees, t); /* frees it */
    rx->vnet_root->context = NULL;
    return STATUS_SUCCESS;
}

/* The id is the user's name itself, byte for byte (an opaque blob of the
 * redirector's choosing, STRUCTURES.md 4.2): distinct users never share
 * one (a 32-bit hash of the name could), and each gets its own NET_ROOT
 * over the one SRV_CALL.  rdrsim has no logon sessions apart from users. */
static NTSTATUS get_connection_id(RxContext *rx)
{
    if (!rx->user || !*rx->user) {
        rx->connection_id = NULL;
        return STATUS_SUCCESS;
    }
    GHashTable *ids = rdr_of(rx)->ids;
    GBytes *id = g_hash_table_lookup(ids, rx->user);
    if (!id) {
        id = g_bytes_new(rx->user, strlen(rx->user));
        g_hash_table_insert(ids, g_strdup(rx->user), id);
    }
    rx->connection_id = g_bytes_ref(id);
    return STATUS_SUCCESS;
}

static NTSTATUS mrx_create(RxContext *rx)
{
    /* Invariant: no open proceeds on a session whose credentials it did
     * not present (an open by drive presents its drive's). */
    Tree *t = rx->vnet_root ? rx->vnet_root->context : NULL;
    char *presented = credentials_key(rx->user, rx->password);
    if (t && t->credentials && strcmp(t->credentials, presented) != 0)
        sim_fail(rdbss_sim(rdbss_of_context(rx)), "an open of %s by user '%s' proceeded on a session set up with "
                                                  "other credentials", rx->path, rx->user ? rx->user : "");
    g_free(presented);
    SmbMsg *m = request(SMB2_CREATE, rx);
    m->file = 0;
    m->path = g_strdup(rx->path);
    m->access = rx->access;
    m->share_access = rx->share_access;
    m->disposition = rx->disposition;
    m->delete_on_close = rx->delete_on_close;
    m->oplock = rx->directory ? OPLOCK_LEVEL_NONE : rx->oplock; /* no directory leasing (server.c) */
    m->directory = rx->directory;
    return call(rx, m, K_CREATE);
}

static NTSTATUS collapse_open(RxContext *rx)
{
    rx_create_fobx(rx);
    return STATUS_SUCCESS;
}

static NTSTATUS close_srv_open(RxContext *rx) { return call(rx, request(SMB2_CLOSE, rx), K_SIMPLE); }
static NTSTATUS flush(RxContext *rx) { return call(rx, request(SMB2_FLUSH, rx), K_SIMPLE); }
static NTSTATUS query_file(RxContext *rx) { return call(rx, request(SMB2_QUERY_INFO, rx), K_SIMPLE); }
static NTSTATUS query_dir(RxContext *rx) { return call(rx, request(SMB2_QUERY_DIRECTORY, rx), K_SIMPLE); }

static NTSTATUS set_file(RxContext *rx)
{
    SmbMsg *m = request(SMB2_SET_INFO, rx);
    m->info_class = rx->info_class;
    if (rx->info_class == INFO_RENAME)
        m->new_path = g_strdup(rx->new_name);
    else if (rx->info_class == INFO_DISPOSITION)
        m->delete_on_close = true;
    else if (rx->info_class == INFO_EOF)
        m->length = rx->length;
    return call(rx, m, K_SIMPLE);
}

/* EAs, security descriptors, quotas and the volume: each a QUERY_INFO or
 * SET_INFO round trip with its InfoType and class (MS-SMB2 2.2.37, 2.2.39;
 * MS-FSCC 2.4, 2.5). */
static NTSTATUS info_round_trip(RxContext *rx, SmbCommand cmd, uint8_t type, uint32_t cls)
{
    SmbMsg *m = request(cmd, rx);
    m->info_type = type;
    m->info_class = cls;
    return call(rx, m, K_SIMPLE);
}

static NTSTATUS query_ea(RxContext *rx)
{
    return info_round_trip(rx, SMB2_QUERY_INFO, SMB2_0_INFO_FILE, FILE_FULL_EA_INFORMATION);
}
static NTSTATUS set_ea(RxContext *rx)
{
    return info_round_trip(rx, SMB2_SET_INFO, SMB2_0_INFO_FILE, FILE_FULL_EA_INFORMATION);
}
static NTSTATUS query_sd(RxContext *rx) { return info_round_trip(rx, SMB2_QUERY_INFO, SMB2_0_INFO_SECURITY, 0); }
static NTSTATUS set_sd(RxContext *rx) { return info_round_trip(rx, SMB2_SET_INFO, SMB2_0_INFO_SECURITY, 0); }
static NTSTATUS query_quota(RxContext *rx)
{
    return info_round_trip(rx, SMB2_QUERY_INFO, SMB2_0_INFO_QUOTA, FILE_QUOTA_INFORMATION);
}
static NTSTATUS set_quota(RxContext *rx)
{
    return info_round_trip(rx, SMB2_SET_INFO, SMB2_0_INFO_QUOTA, FILE_QUOTA_INFORMATION);
}
static NTSTATUS query_volume(RxContext *rx)
{
    return info_round_trip(rx, SMB2_QUERY_INFO, SMB2_0_INFO_FILESYSTEM, FILE_FS_VOLUME_INFORMATION);
}
static NTSTATUS set_volume(RxContext *rx)
{
    return info_round_trip(rx, SMB2_SET_INFO, SMB2_0_INFO_FILESYSTEM, FILE_FS_CONTROL_INFORMATION);
}

/* MRxIsValidDirectory: asks the server by opening the directory. */
static NTSTATUS is_valid_directory(RxContext *rx)
{
    SmbMsg *m = request(SMB2_CREATE, rx);
    m->file = 0;
    m->directory = true;
    m->path = g_strdup(rx->path ? rx->path : "");
    m->access = ACCESS_READ_ATTR;
    m->share_access = SHARE_READ | SHARE_WRITE | SHARE_DELETE;
    m->disposition = DISP_OPEN;
    return call(rx, m, K_DIRECTORY);
}

/* MRxPreparseName may rewrite the name before RDBSS looks it up: the SMB
 * redirector takes '/' as a separator and folds repeated separators, so
 * "dir/a.doc" and "dir\\a.doc" name the FCB of "dir\a.doc". */
static NTSTATUS preparse_name(RxContext *rx)
{
    /* most names need nothing: look before copying */
    if (!rx->path || (!strchr(rx->path, '/') && !strstr(rx->path, "\\\\") && rx->path[0] != '\\'))
        return STATUS_SUCCESS;
    GString *n = g_string_sized_new(strlen(rx->path));
    for (const char *c = rx->path; *c; c++) {
        char ch = *c == '/' ? '\\' : *c;
        if (ch == '\\' && (n->len == 0 || n->str[n->len - 1] == '\\'))
            continue;
        g_string_append_c(n, ch);
    }
    g_free(rx->path);
    rx->path = g_string_free(n, FALSE);
    return STATUS_SUCCESS;
}

static NTSTATUS is_lock_realizable(RxContext *rx)
{
    return rx->length == 0 ? STATUS_NOT_SUPPORTED : STATUS_SUCCESS; /* zero-length locks (NFSv4.1 too) */
}

static NTSTATUS compute_new_buffering(RxContext *rx)
{
    rx->new_state = buffering_for(rx->mrx_context);
    return STATUS_SUCCESS;
}

/* The break's answer.  A file no longer in use (its SRV_OPEN in delayed
 * close) is closed instead of acknowledged: a CLOSE releases the oplock
 * and the file at once (OPLOCKS.md: a close answers a break), and RDBSS
 * sees the SRV_OPEN marked closed. */
static NTSTATUS complete_buffering_change(RxContext *rx)
{
    Conn *c = conn_of(rx);
    SrvOpen *so = rx->srv_open;
    if (so->flags & SRVOPEN_FLAG_CLOSE_DELAYED) {
        if (c)
            send_req(c, request(SMB2_CLOSE, rx), NULL, K_SIMPLE);
        so->flags |= SRVOPEN_FLAG_CLOSED;
        so->level = OPLOCK_LEVEL_NONE;
        return STATUS_SUCCESS;
    }
    /* the cached locks first (LockList), then the acknowledgement */
    for (guint i = 0; c && rx->lock_list && i < rx->lock_list->len; i++) {
        BufferedLock *l = &g_array_index(rx->lock_list, BufferedLock, i);
        SmbMsg *m = request(SMB2_LOCK, rx);
        m->offset = l->offset;
        m->length = l->length;
        m->exclusive = l->exclusive;
        send_req(c, m, NULL, K_SIMPLE);
    }
    bool needs_ack = so->level == OPLOCK_LEVEL_BATCH || so->level == OPLOCK_LEVEL_EXCLUSIVE;
    if (c && needs_ack) {
        SmbMsg *m = request(SMB2_OPLOCK_BREAK, rx);
        m->oplock = rx->mrx_context;
        send_req(c, m, NULL, K_SIMPLE);
    }
    so->level = rx->mrx_context;
    return STATUS_SUCCESS;
}

/* One routine serves several low I/O operations and tells them apart by
 * LowIoContext.Operation, as the kernel network mini-redirector page
 * (001) describes the shared MRxLowIOSubmit entries. */
static NTSTATUS lowio_rw(RxContext *rx)
{
    SmbMsg *m = request(rx->op == LOWIO_OP_READ ? SMB2_READ : SMB2_WRITE, rx);
    m->offset = rx->offset;
    m->length = rx->length;
    m->stamp = rx->stamp;
    return call(rx, m, K_IO);
}

static NTSTATUS lowio_lock(RxContext *rx)
{
    SmbMsg *m = request(SMB2_LOCK, rx);
    m->offset = rx->offset;
    m->length = rx->length;
    m->exclusive = rx->op == LOWIO_OP_EXCLUSIVELOCK;
    m->unlock = rx->op == LOWIO_OP_UNLOCK;
    m->fail_immediately = true;
    return call(rx, m, K_SIMPLE);
}

static NTSTATUS lowio_unlock_multiple(RxContext *rx)
{
    Conn *c = conn_of(rx);
    guint n = rx->lock_list ? rx->lock_list->len : 0;
    if (!c || n == 0)
        return STATUS_SUCCESS;
    rx->information = n;
    for (guint i = 0; i < n; i++) {
        BufferedLock *l = &g_array_index(rx->lock_list, BufferedLock, i);
        SmbMsg *m = request(SMB2_LOCK, rx);
        m->offset = l->offset;
        m->length = l->length;
        m->unlock = true;
        send_req(c, m, rx, K_COUNTDOWN);
    }
    return STATUS_PENDING;
}

static NTSTATUS lowio_ioctl(RxContext *rx) { return call(rx, request(SMB2_IOCTL, rx), K_SIMPLE); }
static NTSTATUS lowio_notify(RxContext *rx) { return call(rx, request(SMB2_CHANGE_NOTIFY, rx), K_WAIT); }

void smbrdr_dispatch(MINIRDR_DISPATCH *d)
{
    memset(d, 0, sizeof *d);
    d->MRxStart = ok;
    d->MRxStop = ok;
    d->MRxCreate = mrx_create;
    d->MRxCollapseOpen = collapse_open;
    d->MRxShouldTryToCollapseThisOpen = ok;
    d->MRxFlush = flush;
    d->MRxZeroExtend = ok;
    d->MRxTruncate = ok;
    d->MRxCleanupFobx = ok;
    d->MRxCloseSrvOpen = close_srv_open;
    d->MRxDeallocateForFcb = ok;
    d->MRxDeallocateForFobx = ok;
    d->MRxIsLockRealizable = is_lock_realizable;
    d->MRxForceClosed = ok;
    d->MRxAreFilesAliased = ok;
    d->MRxQueryDirectory = query_dir;
    d->MRxQueryFileInfo = query_file;
    d->MRxSetFileInfo = set_file;
    d->MRxSetFileInfoAtCleanup = ok;
    d->MRxQueryEaInfo = query_ea;
    d->MRxSetEaInfo = set_ea;
    d->MRxQuerySdInfo = query_sd;
    d->MRxSetSdInfo = set_sd;
    d->MRxQueryQuotaInfo = query_quota;
    d->MRxSetQuotaInfo = set_quota;
    d->MRxQueryVolumeInfo = query_volume;
    d->MRxSetVolumeInfo = set_volume;
    d->MRxIsValidDirectory = is_valid_directory;
    d->MRxComputeNewBufferingState = compute_new_buffering;
    d->MRxExtendForCache = ok;
    d->MRxExtendForNonCache = ok;
    d->MRxCompleteBufferingStateChangeRequest = complete_buffering_change;
    d->MRxCreateVNetRoot = create_vnet_root;
    d->MRxFinalizeVNetRoot = finalize_vnet_root;
    d->MRxFinalizeNetRoot = ok;
    d->MRxExtractNetRootName = mrx_extract_unc_net_root_name;
    d->MRxCreateSrvCall = create_srv_call;
    d->MRxSrvCallWinnerNotify = ok;
    d->MRxFinalizeSrvCall = finalize_srv_call;
    d->MRxDevFcbXXXControlFile = mrx_dev_fcb_control;
    d->MRxPreparseName = preparse_name;
    d->MRxGetConnectionId = get_connection_id;
    d->MRxLowIOSubmit[LOWIO_OP_READ] = lowio_rw;
    d->MRxLowIOSubmit[LOWIO_OP_WRITE] = lowio_rw;
    d->MRxLowIOSubmit[LOWIO_OP_SHAREDLOCK] = lowio_lock;
    d->MRxLowIOSubmit[LOWIO_OP_EXCLUSIVELOCK] = lowio_lock;
    d->MRxLowIOSubmit[LOWIO_OP_UNLOCK] = lowio_lock;
    d->MRxLowIOSubmit[LOWIO_OP_UNLOCK_MULTIPLE] = lowio_unlock_multiple;
    d->MRxLowIOSubmit[LOWIO_OP_FSCTL] = lowio_ioctl;
    d->MRxLowIOSubmit[LOWIO_OP_IOCTL] = lowio_ioctl;
    d->MRxLowIOSubmit[LOWIO_OP_NOTIFY_CHANGE_DIRECTORY] = lowio_notify;
}

void smbrdr_dispatch_for(const SmbRdrParams *p, MINIRDR_DISPATCH *d)
{
    smbrdr_dispatch(d);
    if (!p->connection_ids)
        d->MRxGetConnectionId = NULL;
    d->ScavengerTimeout = p->scavenger_timeout;
    for (char **n = p->null_routines; n && *n; n++) {
        MrxId id = mrx_by_name(*n);
        if (id < MRX_N_ROUTINES)
            mrx_set(d, id, NULL);
    }
}

size_t smbrdr_req_size(void) { return sizeof(Req); }

SmbRdr *smbrdr_new(Rdbss *r, Tdi *tdi, SmbWire *wire, Net *net, const char *name, const SmbRdrParams *p,
                   const MINIRDR_DISPATCH *d, bool delayed_close, Pool *req_pool)
{
    SmbRdr *s = g_new0(SmbRdr, 1);
    s->rdbss = r;
    s->tdi = tdi;
    s->wire = wire;
    s->net = net;
    s->sim = rdbss_sim(r);
    s->p = *p;
    s->request_timeout = p->request_timeout;
    s->req_pool = req_pool;
    s->conns = g_ptr_array_new();
    s->trees = g_ptr_array_new_with_free_func(tree_free);
    s->ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
    s->m = rdbss_register(r, name, d, s, p->request_timeout, delayed_close);
    return s;
}

MiniRdr *smbrdr_minirdr(SmbRdr *s) { return s->m; }

void smbrdr_free(SmbRdr *s)
{
    if (!s)
        return;
    for (guint i = 0; i < s->conns->len; i++) {
        Conn *c = g_ptr_array_index(s->conns, i);
        for (guint j = 0; j < c->pending->len; j++)
            pool_free(s->req_pool, g_array_index(c->pending, Pending, j).q);
        g_array_unref(c->pending);
        g_hash_table_unref(c->sessions);
        g_free(c);
    }
    g_ptr_array_unref(s->conns);
    g_ptr_array_unref(s->trees);
    g_hash_table_unref(s->ids);
    g_free(s);
}
