/* connect.c: the name table and connection construction, as RDBSS's
 * connection engine does them: find or build SRV_CALL -> NET_ROOT ->
 * V_NET_ROOT (SEQUENCES.md a.1 step 4, e.1), with the winner notification
 * and connection IDs; `net use` and its deletion, plain and forced (e.2,
 * e.3).  Provider order decides which redirector serves a server. */

#include "rdbss_int.h"

void rx_drive_free(gpointer p)
{
    Drive *d = p;
    g_free(d->subpath);
    g_free(d);
}

static VNetRoot *drive_vnet_root(Rdbss *r, const char *name)
{
    Drive *d = g_hash_table_lookup(r->drives, name);
    return d ? d->v : NULL;
}

/* Split "\\srv\share\rest" (or "\srv\share\rest") into its parts. */
bool rdbss_split_unc(const char *unc, char **server, char **share, char **rest)
{
    while (*unc == '\\')
        unc++;
    char **parts = g_strsplit(unc, "\\", 3);
    bool ok = parts[0] && *parts[0] && parts[1] && *parts[1];
    if (ok) {
        *server = g_strdup_printf("\\%s", parts[0]);
        *share = g_strdup(parts[1]);
        *rest = g_strdup(parts[2] ? parts[2] : "");
    }
    g_strfreev(parts);
    return ok;
}

/* One SRV_CALL per server for all users: the connection id separates
 * V_NET_ROOTs, not server connections. */
static SrvCall *find_srv_call(MiniRdr *m, const char *name)
{
    for (guint i = 0; i < m->srv_calls->len; i++) {
        SrvCall *sc = g_ptr_array_index(m->srv_calls, i);
        if (strcmp(sc->name, name) == 0)
            return sc;
    }
    return NULL;
}

/* Connection ids are opaque bytes of the mini-redirector's choosing,
 * compared byte for byte; no id and an empty one are the zero id
 * (STRUCTURES.md 4.2). */
static bool same_id(GBytes *a, GBytes *b)
{
    gsize na = a ? g_bytes_get_size(a) : 0, nb = b ? g_bytes_get_size(b) : 0;
    return na == nb && (na == 0 || memcmp(g_bytes_get_data(a, NULL), g_bytes_get_data(b, NULL), na) == 0);
}

/* The NET_ROOT of this name entered under this id: each connection id has
 * its own NET_ROOT, V_NET_ROOTs and FCB table (STRUCTURES.md 4.2, every
 * prefix entry keeps the id it was inserted with and a lookup matches
 * only equal ids).  The SRV_CALL, the connection to the server, is
 * shared. */
static NetRoot *find_net_root(MiniRdr *m, SrvCall *sc, const char *name, GBytes *id)
{
    for (guint i = 0; i < m->net_roots->len; i++) {
        NetRoot *nr = g_ptr_array_index(m->net_roots, i);
        if (nr->srv_call == sc && g_ascii_strcasecmp(nr->name, name) == 0 && same_id(nr->connection_id, id))
            return nr;
    }
    return NULL;
}

static bool same_credential(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* The V_NET_ROOT of the NET_ROOT whose credentials are the caller's
 * (STRUCTURES.md 4.3: user and password compared with each V_NET_ROOT of
 * the NET_ROOT; none matching, a new one is built).  So a wrong password
 * never rides on a V_NET_ROOT, or a session, built with the right one,
 * with or without MRxGetConnectionId. */
static VNetRoot *find_vnet_root(NetRoot *nr, const RxContext *rx)
{
    for (guint i = 0; i < nr->vnet_roots->len; i++) {
        VNetRoot *v = g_ptr_array_index(nr->vnet_roots, i);
        if (!v->finalized && !v->upper_done && same_credential(v->user, rx->user) &&
            same_credential(v->password, rx->password))
            return v;
    }
    return NULL;
}

/* An id as the trace shows it: printable ASCII as is, other bytes \xHH. */
static void append_id(GString *s, GBytes *id)
{
    gsize n = 0;
    const unsigned char *b = id ? g_bytes_get_data(id, &n) : NULL;
    if (!n)
        return;
    g_string_append_c(s, ';');
    for (gsize i = 0; i < n; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
            g_string_append_c(s, (char)b[i]);
        else
            g_string_append_printf(s, "\\x%02x", b[i]);
    }
}

static void construct(RxContext *rx);

void rx_wake_waiters(SrvCall *sc)
{
    GPtrArray *w = sc->waiters;
    sc->waiters = g_ptr_array_new();
    for (guint i = 0; i < w->len; i++)
        construct(g_ptr_array_index(w, i));
    g_ptr_array_unref(w);
}

static void winner_notified(RxContext *rx)
{
    SrvCall *sc = rx->srv_call;
    /* success -> Good, anything else -> Bad (a.1 step 4.3.5) */
    if (!rx->winner)
        return; /* the creation failed: the SRV_CALL is Bad already, its waiters woken */
    sc->condition = rx->status == STATUS_SUCCESS || rx->status == STATUS_NOT_IMPLEMENTED ? COND_GOOD : COND_BAD;
    if (sc->condition == COND_BAD)
        sc->status = rx->status;
    rx_wake_waiters(sc);
}

/* MRxSrvCallWinnerNotify follows every request to create a SRV_CALL, as
 * the connection and name resolution page (003) says ("called after every
 * request to create a SRV_CALL structure"): with ThisMinirdrIsTheWinner
 * TRUE after a successful creation, FALSE after a failed one, which the
 * redirector learns of so.  Where that page also says "before", and
 * ReactOS calls it only after a success, the choice is in docs/models.md
 * ("RDBSS: choices"). */
static void srv_call_created(RxContext *rx)
{
    SrvCall *sc = rx->srv_call;
    bool won = rx->status == STATUS_SUCCESS;
    if (!won) {
        sc->condition = COND_BAD;
        sc->status = rx->status;
    }
    RxContext *w = rx_side_new(sc->rdr);
    w->srv_call = sc;
    w->winner = won;
    rx_side_free(rx);
    rx_call(w, ID_MRxSrvCallWinnerNotify, winner_notified);
    rx_side_free(w);
    if (!won) {
        rx_wake_waiters(sc);
        /* The failed construction is dereferenced: a Bad SRV_CALL answers
         * with its status until the scavenger finalizes it; the next
         * attempt after that connects anew. */
        rx_scavenge_later(sc->rdr, sc);
    }
}

static void vnet_root_created(RxContext *rx)
{
    VNetRoot *v = rx->vnet_root;
    NetRoot *nr = v->net_root;
    NTSTATUS st = rx->status == STATUS_SUCCESS ? rx->vnet_root_status : rx->status;
    NTSTATUS nst = rx->status == STATUS_SUCCESS ? rx->net_root_status : rx->status;
    if (nst == STATUS_SUCCESS && st == STATUS_SUCCESS) {
        nr->condition = COND_GOOD;
        v->condition = COND_GOOD;
    } else if (nst == STATUS_SUCCESS) {
        nr->condition = COND_GOOD;
        v->condition = COND_BAD;
    } else {
        nr->condition = COND_BAD;
        v->condition = COND_BAD;
    }
    v->status = st != STATUS_SUCCESS ? st : nst;
    if (v->condition == COND_BAD)
        rx_scavenge_later(rx->rdr, v); /* as a Bad SRV_CALL: finalized by the scavenger */
    rx_wake_waiters(nr->srv_call);
    construct(rx); /* finds the V_NET_ROOT now, Good or Bad */
}

/* The continuation of whoever asked for the connection. */
static void construct_done(RxContext *rx, NTSTATUS st)
{
    rx->status = st;
    void (*k)(RxContext *) = (void (*)(RxContext *))rx->k_ctx;
    k(rx);
}

static VNetRoot *vnet_root_new(MiniRdr *m, NetRoot *nr, RxContext *rx)
{
    VNetRoot *v = g_new0(VNetRoot, 1);
    v->node_type = RX_NTC_V_NETROOT;
    GString *name = g_string_new(nr->name);
    append_id(name, nr->connection_id);
    v->name = g_string_free(name, FALSE);
    v->net_root = nr;
    v->user = g_strdup(rx->user);
    v->password = g_strdup(rx->password);
    v->condition = COND_IN_TRANSITION;
    v->refs = 1; /* the name table's */
    nr->refs++;
    g_ptr_array_add(nr->vnet_roots, v);
    g_ptr_array_add(m->vnet_roots, v);
    g_ptr_array_add(m->rdbss->vnr_all, v);
    return v;
}

static void net_root_named(RxContext *rx)
{
    MiniRdr *m = rx->rdr;
    SrvCall *sc = rx->srv_call;
    /* The NET_ROOT's name is the mini-redirector's answer (a.1 step 4.2);
     * RDBSS splits at the share only when the routine gave none (NULL,
     * not implemented, or failed). */
    char *name = rx->status == STATUS_SUCCESS && rx->net_root_name ? g_strdup(rx->net_root_name)
                                                                    : g_strconcat(sc->name, "\\", rx->share, NULL);
    NetRoot *nr = find_net_root(m, sc, name, rx->connection_id);
    if (!nr) {
        nr = g_new0(NetRoot, 1);
        nr->node_type = RX_NTC_NETROOT;
        nr->name = name;
        nr->connection_id = rx->connection_id ? g_bytes_ref(rx->connection_id) : NULL;
        GString *table_name = g_string_new(name);
        append_id(table_name, nr->connection_id);
        nr->table_name = g_string_free(table_name, FALSE);
        nr->srv_call = sc;
        nr->condition = COND_IN_TRANSITION;
        nr->fcbs = g_hash_table_new(g_str_hash, g_str_equal);
        nr->vnet_roots = g_ptr_array_new();
        nr->refs = 1;
        sc->refs++;
        g_ptr_array_add(m->net_roots, nr);
        g_ptr_array_add(m->rdbss->nr_all, nr);
    } else {
        g_free(name);
    }
    rx->net_root = nr;
    rx->vnet_root = vnet_root_new(m, nr, rx);
    rx->net_root_status = rx->vnet_root_status = STATUS_SUCCESS;
    rx_call(rx, ID_MRxCreateVNetRoot, vnet_root_created);
}

/* Find or construct SRV_CALL -> NET_ROOT -> V_NET_ROOT for rx->server,
 * rx->share with rx's credentials; waits while anything is in transition;
 * ends in construct_done. */
static void construct(RxContext *rx)
{
    MiniRdr *m = rx->rdr;
    SrvCall *sc = find_srv_call(m, rx->server);
    if (!sc) {
        sc = g_new0(SrvCall, 1);
        sc->node_type = RX_NTC_SRVCALL;
        sc->name = g_strdup(rx->server);
        sc->condition = COND_IN_TRANSITION;
        sc->status = STATUS_BAD_NETWORK_PATH; /* pre-set in the callback context */
        sc->rdr = m;
        sc->refs = 1;
        sc->waiters = g_ptr_array_new();
        sc->opens = g_ptr_array_new();
        sc->parked_breaks = g_ptr_array_new();
        g_ptr_array_add(m->srv_calls, sc);
        g_ptr_array_add(m->rdbss->sc_all, sc);
        g_ptr_array_add(sc->waiters, rx);
        RxContext *c = rx_side_new(m);
        c->srv_call = sc;
        c->server = g_strdup(rx->server);
        rx_call(c, ID_MRxCreateSrvCall, srv_call_created);
        return;
    }
    rx->srv_call = sc;
    if (sc->condition == COND_IN_TRANSITION) {
        g_ptr_array_add(sc->waiters, rx);
        return;
    }
    if (sc->condition != COND_GOOD) {
        construct_done(rx, sc->status); /* a Bad SRV_CALL answers with its stored status */
        return;
    }
    char *name = g_strconcat(sc->name, "\\", rx->share, NULL);
    NetRoot *nr = find_net_root(m, sc, name, rx->connection_id);
    g_free(name);
    VNetRoot *v = nr ? find_vnet_root(nr, rx) : NULL;
    if (v && v->condition == COND_IN_TRANSITION) {
        g_ptr_array_add(sc->waiters, rx);
        return;
    }
    if (v) {
        rx->net_root = nr;
        rx->vnet_root = v;
        /* The V_NET_ROOT's own status reaches the caller (where ReactOS
         * returns STATUS_BAD_NETWORK_PATH for any Bad V_NET_ROOT, the
         * application here sees why: LOGON_FAILURE, BAD_NETWORK_PATH...). */
        construct_done(rx, v->condition == COND_GOOD ? STATUS_SUCCESS : v->status);
        return;
    }
    if (nr && nr->condition == COND_IN_TRANSITION) {
        g_ptr_array_add(sc->waiters, rx);
        return;
    }
    /* A NET_ROOT or V_NET_ROOT to build: its name first, from the whole
     * path (MRxExtractNetRootName, CALLBACKS.md). */
    g_free(rx->file_path);
    g_free(rx->net_root_name);
    rx->net_root_name = NULL;
    rx->file_path = g_strconcat(sc->name, "\\", rx->share, *rx->subpath ? "\\" : "", rx->subpath, NULL);
    rx_call(rx, ID_MRxExtractNetRootName, net_root_named);
}

static void got_connection_id(RxContext *rx)
{
    if (rx->status != STATUS_SUCCESS && rx->connection_id) {
        g_bytes_unref(rx->connection_id); /* default: the zero id */
        rx->connection_id = NULL;
    }
    construct(rx);
}

/* MRxGetConnectionId, then find or construct (a.1 step 4). */
void rx_obtain_connection(RxContext *rx, void (*k)(RxContext *))
{
    rx->k_ctx = (void *)k;
    if (rx->connection_id)
        g_bytes_unref(rx->connection_id);
    rx->connection_id = NULL;
    rx_call(rx, ID_MRxGetConnectionId, got_connection_id);
}

/* The connection is made (and its directory, if it names one, exists):
 * the "add connection" reference, and the drive. */
static void use_map(RxContext *rx)
{
    Op *o = (Op *)rx;
    /* a redirector without MRxIsValidDirectory checks nothing */
    if (rx->status != STATUS_SUCCESS && rx->status != STATUS_NOT_IMPLEMENTED) {
        rx_irp_done(o, rx->status, 0);
        return;
    }
    VNetRoot *v = rx->vnet_root;
    if (!v->extra_ref) {
        v->extra_ref = true; /* the "add connection" reference */
        v->refs++;
    }
    const char *drive = (const char *)(uintptr_t)rx->k_arg;
    if (drive) {
        Drive *d = g_new0(Drive, 1);
        d->v = v;
        d->subpath = g_strdup(rx->subpath);
        g_hash_table_insert(rx->rdbss->drives, g_strdup(drive), d);
    }
    rx_irp_done(o, STATUS_SUCCESS, 0);
}

static void use_done(RxContext *rx)
{
    Op *o = (Op *)rx;
    if (rx->status != STATUS_SUCCESS) {
        /* MPR, like MUP, offers the connection to each provider in order
         * until one makes it; none: the most significant failure */
        rx->mup_status = rx_mup_status(rx->mup_status, rx->status);
        MiniRdr *next = rx->resolving ? rx_next_provider(rx) : NULL;
        if (next) {
            rx->rdr = next;
            rx_obtain_connection(rx, use_done);
            return;
        }
        rx_irp_done(o, rx->mup_status, 0);
        return;
    }
    /* e.1: a use of a directory under the share asks the redirector
     * whether it is one (the server, for SMB) before the drive is mapped:
     * a missing directory maps nothing. */
    if (*rx->subpath) {
        rx->path = g_strdup(rx->subpath);
        rx_call(rx, ID_MRxIsValidDirectory, use_map);
        return;
    }
    use_map(rx);
}

static void use_step1(RxContext *rx)
{
    rx_obtain_connection(rx, use_done);
}

MiniRdr *rx_first_started(Rdbss *r)
{
    for (guint i = 0; i < r->rdrs->len; i++) {
        MiniRdr *m = g_ptr_array_index(r->rdrs, i);
        if (m->state == RDR_STARTED)
            return m;
    }
    return NULL;
}

/* The redirector that serves a server: one whose table already holds a Good
 * SRV_CALL for it, else the first started one in provider order (a failure
 * moves on to the next, see create_resolved). */
/* MUP's choice of the one status an application sees when every provider
 * failed (ReactOS's and the NT sources' MupOrderedErrorList, least to
 * most significant): a later status replaces the kept one unless it is
 * in this list below it; a status not in the list outranks every one in
 * it.  So a provider's own reason (LOGON_FAILURE, REMOTE_NOT_LISTENING,
 * NETWORK_UNREACHABLE) wins over "no such name", and BAD_NETWORK_PATH over
 * BAD_NETWORK_NAME. */
static int mup_rank(NTSTATUS st)
{
    static const NTSTATUS order[] = { STATUS_UNSUCCESSFUL, STATUS_INVALID_PARAMETER, STATUS_REDIRECTOR_NOT_STARTED,
                                      STATUS_BAD_NETWORK_NAME, STATUS_BAD_NETWORK_PATH };
    for (int i = 0; i < (int)G_N_ELEMENTS(order); i++)
        if (order[i] == st)
            return i;
    return (int)G_N_ELEMENTS(order);
}

NTSTATUS rx_mup_status(NTSTATUS kept, NTSTATUS failed)
{
    if (kept == STATUS_SUCCESS)
        return failed;
    return mup_rank(failed) < mup_rank(kept) ? kept : failed;
}

/* Whether some started redirector already claimed this server (MUP's
 * prefix cache: it then goes straight to that provider). */
static bool claimed(Rdbss *r, const char *server)
{
    for (guint i = 0; i < r->rdrs->len; i++) {
        MiniRdr *m = g_ptr_array_index(r->rdrs, i);
        for (guint j = 0; m->state == RDR_STARTED && j < m->srv_calls->len; j++) {
            SrvCall *sc = g_ptr_array_index(m->srv_calls, j);
            if (strcmp(sc->name, server) == 0 && sc->condition == COND_GOOD)
                return true;
        }
    }
    return false;
}

/* The started redirector after rx's in provider order, or NULL. */
MiniRdr *rx_next_provider(RxContext *rx)
{
    Rdbss *r = rx->rdbss;
    guint i = 0;
    while (i < r->rdrs->len && g_ptr_array_index(r->rdrs, i) != rx->rdr)
        i++;
    for (i++; i < r->rdrs->len; i++) {
        MiniRdr *m = g_ptr_array_index(r->rdrs, i);
        if (m->state == RDR_STARTED)
            return m;
    }
    return NULL;
}

void rx_begin_resolution(RxContext *rx)
{
    rx->mup_status = STATUS_SUCCESS;
    rx->resolving = !claimed(rx->rdbss, rx->server);
}

MiniRdr *rx_serving(Rdbss *r, const char *server, guint from)
{
    for (guint i = from; i < r->rdrs->len; i++) {
        MiniRdr *m = g_ptr_array_index(r->rdrs, i);
        for (guint j = 0; j < m->srv_calls->len; j++) {
            SrvCall *sc = g_ptr_array_index(m->srv_calls, j);
            if (m->state == RDR_STARTED && strcmp(sc->name, server) == 0 && sc->condition == COND_GOOD)
                return m;
        }
    }
    for (guint i = from; i < r->rdrs->len; i++) {
        MiniRdr *m = g_ptr_array_index(r->rdrs, i);
        if (m->state == RDR_STARTED)
            return m;
    }
    return NULL;
}

void rdbss_use(Rdbss *r, const char *drive, const char *unc, const char *user, const char *password, RxIrpDone done,
               void *ctx)
{
    MiniRdr *m = rx_serving(r, "", 0);
    Op *o = rx_op_new(r, m ? m : rx_first_started(r), done, ctx);
    if (!m) {
        o->rx.routine = ID_MRxDevFcbXXXControlFile;
        rx_irp_done(o, STATUS_REDIRECTOR_NOT_STARTED, 0);
        return;
    }
    RxContext *rx = &o->rx;
    if (!rdbss_split_unc(unc, &rx->server, &rx->share, &rx->subpath)) {
        rx_irp_done(o, STATUS_BAD_NETWORK_PATH, 0);
        return;
    }
    m = rx_serving(r, rx->server, 0);
    rx->rdr = m;
    rx->user = user;
    rx->password = password;
    rx_begin_resolution(rx);
    rx->k_arg = (uint64_t)(uintptr_t)(drive ? g_intern_string(drive) : NULL);
    /* e.1: the provider DLL's private request, then the tree connect. */
    rx_call(rx, ID_MRxDevFcbXXXControlFile, use_step1);
}

typedef struct {
    Op *o;
    VNetRoot *v;
    bool force;
} Unuse;

/* Whether a SRV_OPEN made through this V_NET_ROOT still has handles. */
static bool vnr_has_open_files(VNetRoot *v)
{
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, v->net_root->fcbs);
    while (g_hash_table_iter_next(&it, &k, &val)) {
        Fcb *f = val;
        for (guint i = 0; i < f->srv_opens->len; i++) {
            SrvOpen *so = g_ptr_array_index(f->srv_opens, i);
            if (so->vnet_root == v && so->open_count > 0)
                return true;
        }
    }
    return false;
}

/* e.3: forced finalization orphans the FCBs still open through the
 * V_NET_ROOT.  They leave the FCB table (a later open of the name builds a
 * new FCB) and accept only cleanup and close. */
static void orphan_open_files(VNetRoot *v)
{
    GPtrArray *orphans = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, v->net_root->fcbs);
    while (g_hash_table_iter_next(&it, &k, &val)) {
        Fcb *f = val;
        for (guint i = 0; i < f->srv_opens->len; i++)
            if (((SrvOpen *)g_ptr_array_index(f->srv_opens, i))->vnet_root == v) {
                g_ptr_array_add(orphans, f);
                break;
            }
    }
    for (guint i = 0; i < orphans->len; i++) {
        Fcb *f = g_ptr_array_index(orphans, i);
        f->orphaned = true;
        for (guint j = 0; j < f->cached->len; j++) { /* its dirty data can no longer be written */
            const Range *e = &g_array_index(f->cached, Range, j);
            if (e->aux)
                rx_lose_dirty(f, e->start, e->end);
        }
        rx_cache_purge(f);
        for (guint j = 0; j < f->srv_opens->len; j++)
            ((SrvOpen *)g_ptr_array_index(f->srv_opens, j))->flags |= SRVOPEN_FLAG_ORPHANED;
        g_hash_table_remove(v->net_root->fcbs, f->path);
    }
    g_ptr_array_unref(orphans);
}

static void unuse_finish(void *ctx);

/* Purge and scavenge the delayed closes of the NET_ROOT, one at a time. */
static void unuse_scavenge(void *ctx)
{
    Unuse *u = ctx;
    Rdbss *r = u->o->rx.rdbss;
    for (GList *l = r->fobxs.head; l; l = l->next) {
        Fobx *x = l->data;
        if (x->scavenge_pending && x->fcb->net_root == u->v->net_root) {
            g_ptr_array_remove(rx_rdr_of_fcb(x->fcb)->scavenge, x);
            rx_end_delayed_close(x, unuse_scavenge, u);
            return;
        }
    }
    unuse_finish(u);
}

static void unuse_finish(void *ctx)
{
    Unuse *u = ctx;
    Op *o = u->o;
    VNetRoot *v = u->v;
    if (vnr_has_open_files(v) && !u->force) {
        rx_record_free(o->rx.rdbss, u);
        rx_irp_done(o, STATUS_FILES_OPEN, 0); /* NFSv4.1's answer; RxFinalizeConnection says CONNECTION_IN_USE */
        return;
    }
    if (u->force) {
        /* RxFinalizeVNetRoot(force): its upper finalization now (the
         * files orphaned, the name gone from lookups); MRxFinalizeVNetRoot
         * when the orphaned handles have closed and only the name table's
         * reference is left (SEQUENCES.md e.2 step 3, e.3). */
        orphan_open_files(v);
        v->upper_done = true;
    }
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, o->rx.rdbss->drives);
    while (g_hash_table_iter_next(&it, &k, &val))
        if (((Drive *)val)->v == v)
            g_hash_table_iter_remove(&it);
    rx_record_free(o->rx.rdbss, u);
    if (v->extra_ref) {
        v->extra_ref = false;
        rx_vnr_deref(v, true);
    }
    if (!v->finalized && v->refs == 1)
        rx_finalize_vnet_root(v, true);
    rx_irp_done(o, STATUS_SUCCESS, 0);
}

static void unuse_step2(RxContext *rx)
{
    Unuse *u = rx_record_new(rx->rdbss, sizeof *u);
    u->o = (Op *)rx;
    u->v = (VNetRoot *)(uintptr_t)rx->k_arg;
    u->force = rx->force;
    unuse_scavenge(u);
}

static void unuse_step1(RxContext *rx)
{
    /* the connection is looked up again: MRxGetConnectionId, no creation */
    rx_call(rx, ID_MRxGetConnectionId, unuse_step2);
}

void rdbss_unuse(Rdbss *r, const char *name, bool force, RxIrpDone done, void *ctx)
{
    VNetRoot *v = drive_vnet_root(r, name);
    if (!v) {
        char *server = NULL, *share = NULL, *rest = NULL;
        if (rdbss_split_unc(name, &server, &share, &rest)) {
            char *nrname = g_strconcat(server, "\\", share, NULL);
            for (guint i = 0; i < r->rdrs->len && !v; i++) {
                MiniRdr *m = g_ptr_array_index(r->rdrs, i);
                for (guint j = 0; j < m->vnet_roots->len && !v; j++) {
                    VNetRoot *c = g_ptr_array_index(m->vnet_roots, j);
                    if (c->extra_ref && g_ascii_strcasecmp(c->net_root->name, nrname) == 0)
                        v = c;
                }
            }
            g_free(nrname);
        }
        g_free(server);
        g_free(share);
        g_free(rest);
    }
    Op *o = rx_op_new(r, v ? v->net_root->srv_call->rdr : rx_first_started(r), done, ctx);
    if (!v || v->finalized) {
        rx_irp_done(o, STATUS_NOT_FOUND, 0);
        return;
    }
    o->rx.vnet_root = v;
    o->rx.net_root = v->net_root;
    o->rx.srv_call = v->net_root->srv_call;
    o->rx.force = force;
    o->rx.k_arg = (uint64_t)(uintptr_t)v;
    rx_call(&o->rx, ID_MRxDevFcbXXXControlFile, unuse_step1);
}

