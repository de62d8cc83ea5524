#include "smbsetup.h"

#include <glib.h>
#include <string.h>

#include "rdbss.h"
#include "server.h"
#include "smbclient.h"
#include "smbrdr.h"
#include "davrdr.h"
#include "http.h"
#include "loadgen.h"
#include "tdiapp.h"
#include "workload.h"

struct SmbSetup {
    SmbWire *wire;
    HttpWire *http;
    GHashTable *servers; /* server decl id -> SmbServer* */
    GHashTable *clients; /* smbclient decl id -> SmbClient* */
    GPtrArray *order;    /* servers and clients in declaration order, for the trace */
    GHashTable *rdbss;     /* client node id -> Rdbss* */
    GHashTable *workloads; /* client node id -> Workload* */
    GPtrArray *rdrs;       /* SmbRdr* */
    GHashTable *dispatch;  /* redirector decl id -> its MINIRDR_DISPATCH, shared by its clients */
    GPtrArray *client_order; /* client Decl* with redirectors, in declaration order */
    GPtrArray *loadgens;     /* LoadGen*, in declaration order */
    LoadGenShared *lg_shared;  /* shared by the loadgens */
    RdbssPools rx_pools;     /* RDBSS's contexts and structures, shared by the clients */
    Pool rdr_req_pool;       /* the redirectors' requests in flight, shared */
    GHashTable *zipfs;       /* "N s" -> ZipfTable*, shared by the workloads */
    GHashTable *dirty;       /* while the end check runs: file -> the clients' dirty Range */
    Coherence *coh;          /* the run's coherence oracle */
    Sim *sim;
    Trace *trace;
};

typedef struct {
    SmbSetup *s;
    const char *node;
} RdrLookup;

static bool one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return true;
    return false;
}

static void need(Scenario *sc, const Decl *d, const char *key, const char *kind)
{
    const ParamValue *v = decl_param(d, key);
    bool ok = strcmp(kind, "node") == 0 ? scenario_find_node(sc, v->s) != NULL
                                        : scenario_find_decl(sc, kind, v->s) != NULL;
    if (ok && strcmp(kind, "server") == 0)
        ok = strcmp(scenario_find_decl(sc, "server", v->s)->spec->kind, "server") == 0;
    if (!ok)
        scenario_error(sc, v->line ? v->line : d->line, v->col ? v->col : d->col, "%s=%s: no %s '%s' is declared",
                       key, v->s, kind, v->s);
    else if (strcmp(kind, "node") == 0 && tdiapp_is_router(scenario_find_node(sc, v->s)))
        scenario_error(sc, v->line ? v->line : d->line, v->col ? v->col : d->col,
                       "%s=%s: a router runs no client of its own", key, v->s);
}

static void value_in(Scenario *sc, const Action *a, const char *key, const char *const *set, const char *what)
{
    const ParamValue *v = action_param(a, key);
    if (*v->s && !one_of(v->s, set))
        scenario_error(sc, v->line ? v->line : a->line, v->col ? v->col : a->col, "%s=%s: expected %s", key, v->s,
                       what);
}

static const char *const info_whats[] = {
    "query_file", "set_eof", "rename", "delete", "query_dir", "notify", "ioctl", "fsctl", "query_ea", "set_ea",
    "query_sd", "set_sd", "query_quota", "set_quota", "query_volume", "set_volume", NULL,
};

/* A workload's share, "\\srv\share" and nothing after it, into the server's
 * name (without the backslash) and the share's. */
static bool unc_parts(const char *unc, char **server, char **share)
{
    char *srv = NULL, *rest = NULL;
    bool ok = strncmp(unc, "\\\\", 2) == 0 && rdbss_split_unc(unc, &srv, share, &rest);
    if (ok && *rest) {
        g_clear_pointer(share, g_free);
        ok = false;
    }
    if (ok)
        *server = g_strdup(srv + 1);
    g_free(srv);
    g_free(rest);
    return ok;
}

static void value_error(Scenario *sc, const Decl *d, const char *key, const char *msg)
{
    const ParamValue *v = decl_param(d, key);
    scenario_error(sc, v->line ? v->line : d->line, v->col ? v->col : d->col, "%s", msg);
}

static bool has_redirectors(const Decl *d);

/* A workload: on a client that runs a redirector, on a declared share,
 * with a mix and an oplock the model knows. */
static void check_workload(Scenario *sc, const Decl *d, const char *const *oplocks)
{
    const Decl *node = scenario_find_node(sc, d->id);
    if (!node || !has_redirectors(node))
        scenario_error(sc, d->line, d->col, "workload %s: '%s' is not a client with redirectors=", d->id, d->id);
    char *server = NULL, *share = NULL;
    const char *unc = decl_param(d, "share")->s;
    if (!unc_parts(unc, &server, &share)) {
        char *m = g_strdup_printf("share=%s: expected \\\\SERVER\\SHARE", unc);
        value_error(sc, d, "share", m);
        g_free(m);
    } else {
        const Decl *sh = scenario_find_decl(sc, "share", share);
        if (!sh || strcmp(decl_param(sh, "server")->s, server) != 0) {
            char *m = g_strdup_printf("share=%s: no share '%s' is declared on server '%s'", unc, share, server);
            value_error(sc, d, "share", m);
            g_free(m);
        }
    }
    g_free(server);
    g_free(share);
    double w[LG_N_OPS];
    char *err = NULL;
    if (!loadgen_parse_mix(decl_param(d, "mix")->list, w, &err)) {
        value_error(sc, d, "mix", err);
        g_free(err);
    }
    if (!one_of(decl_param(d, "oplock")->s, oplocks))
        value_error(sc, d, "oplock", "oplock: expected none, level2, exclusive or batch");
}

static bool has_redirectors(const Decl *d)
{
    if (strcmp(d->spec->kind, "client") != 0)
        return false;
    char **l = decl_param(d, "redirectors")->list;
    return l && *l && **l;
}

void smbsetup_check(Scenario *sc)
{
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        if (has_redirectors(d))
            for (char **l = decl_param(d, "redirectors")->list; *l; l++)
                if (!scenario_find_decl(sc, "redirector", *l)) {
                    const ParamValue *p = decl_param(d, "redirectors");
                    scenario_error(sc, p->line ? p->line : d->line, p->col ? p->col : d->col,
                                   "redirectors: no redirector '%s' is declared", *l);
                }
        if (strcmp(d->spec->kind, "redirector") == 0) {
            static const char *const kinds[] = { "smb", "webdav", NULL };
            if (!one_of(decl_param(d, "kind")->s, kinds))
                value_error(sc, d, "kind", "kind: expected smb or webdav");
        }
        if (strcmp(d->spec->kind, "server") == 0) {
            static const char *const protos[] = { "smb", "webdav", NULL };
            char **l = decl_param(d, "services")->list;
            if (!l || !*l || !**l)
                value_error(sc, d, "services", "services: expected smb, webdav or both (smb,webdav)");
            for (; l && *l && **l; l++)
                if (!one_of(*l, protos)) {
                    char *m = g_strdup_printf("services: '%s' is not a protocol rdrsim serves (smb, webdav)", *l);
                    value_error(sc, d, "services", m);
                    g_free(m);
                    break;
                }
        }
        if (strcmp(d->spec->kind, "redirector") == 0)
            for (char **l = decl_param(d, "null")->list; l && *l; l++)
                if (**l && mrx_by_name(*l) == MRX_N_ROUTINES) {
                    const ParamValue *p = decl_param(d, "null");
                    scenario_error(sc, p->line ? p->line : d->line, p->col ? p->col : d->col,
                                   "null: '%s' is not a MINIRDR_DISPATCH routine", *l);
                }
    }
    for (guint i = 0; i < sc->actions->len; i++) {
        Action *a = g_ptr_array_index(sc->actions, i);
        if (strcmp(a->spec->subject, "node") != 0 || !a->spec->verb || !workload_is_verb(a->spec->verb))
            continue;
        if (!has_redirectors(a->target))
            scenario_error(sc, a->line, a->col, "%s runs no redirector (declare it with redirectors=...)",
                           a->target->id);
        if (strcmp(a->spec->verb, "info") == 0)
            value_in(sc, a, "what", info_whats, "query_file, set_eof, rename, delete, query_dir, notify, ioctl, "
                                                "fsctl, query_ea, set_ea, query_sd, set_sd, query_quota, "
                                                "set_quota, query_volume or set_volume");
        if (strcmp(a->spec->verb, "stop") == 0 && !scenario_find_decl(sc, "redirector", a->args[0]))
            scenario_error(sc, a->line, a->arg_cols[0], "no redirector '%s' is declared", a->args[0]);
    }
    static const char *const dialects[] = { "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1", NULL };
    static const char *const policies[] = { "ack", "ack_none", "close", "ignore", "ack_always", NULL };
    static const char *const disps[] = { "supersede", "open", "create", "open_if", "overwrite", "overwrite_if", NULL };
    static const char *const oplocks[] = { "none", "level2", "level_ii", "exclusive", "batch", NULL };
    static const char *const leases[] = { "R", "RH", "RW", "RWH", "H", "W", "HW", "none", NULL };
    static const char *const acks[] = { "none", "level2", "level_ii", "R", "RH", "RW", "RWH", NULL };
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        const char *k = d->spec->kind;
        if (strcmp(k, "workload") == 0)
            check_workload(sc, d, oplocks);
        else if (strcmp(k, "share") == 0 || strcmp(k, "user") == 0)
            need(sc, d, "server", "server");
        else if (strcmp(k, "file") == 0)
            need(sc, d, "share", "share");
        else if (strcmp(k, "smbclient") == 0) {
            need(sc, d, "node", "node");
            need(sc, d, "server", "server");
            const ParamValue *p = decl_param(d, "on_break");
            if (!one_of(p->s, policies))
                scenario_error(sc, p->line ? p->line : d->line, p->col ? p->col : d->col,
                               "on_break=%s: expected ack, ack_none, close, ignore or ack_always", p->s);
        } else if (strcmp(k, "server") == 0 || strcmp(k, "redirector") == 0) {
            bool srv = k[0] == 's';
            for (int j = 0; j < (srv ? 2 : 1); j++) {
                const ParamValue *p = decl_param(d, !srv ? "dialect" : j ? "max_dialect" : "min_dialect");
                if (!smb_dialect(p->s))
                    scenario_error(sc, p->line ? p->line : d->line, p->col ? p->col : d->col,
                                   "%s: expected 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1", p->text);
            }
        }
    }
    for (guint i = 0; i < sc->actions->len; i++) {
        Action *a = g_ptr_array_index(sc->actions, i);
        if (strcmp(a->spec->subject, "smbclient") != 0)
            continue;
        const char *v = a->spec->verb;
        if (strcmp(v, "negotiate") == 0)
            value_in(sc, a, "dialect", dialects, "2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1");
        if (strcmp(v, "create") == 0) {
            value_in(sc, a, "disposition", disps, "supersede, open, create, open_if, overwrite or overwrite_if");
            value_in(sc, a, "oplock", oplocks, "none, level2, exclusive or batch");
            value_in(sc, a, "lease", leases, "a lease state: R, RH, RW, RWH or none");
            value_in(sc, a, "on_break", policies, "ack, ack_none, close, ignore or ack_always");
            value_in(sc, a, "ack_level", acks, "none, level2 or a lease state (R, RH, RW, RWH)");
            const ParamValue *acc = action_param(a, "access");
            uint32_t mask;
            if (!smb_parse_access(acc->s, &mask))
                scenario_error(sc, acc->line ? acc->line : a->line, acc->col ? acc->col : a->col,
                               "access=%s: expected a mask (0x12019f), access names joined by | (read_data, "
                               "write_data, append_data, read_ea, write_ea, execute, delete_child, read_attributes, "
                               "write_attributes, delete, read_control, write_dac, write_owner, synchronize, "
                               "maximum_allowed) or the letters r, w, d, a, c", acc->s);
        }
    }
}

static void server_free_cb(gpointer p) { server_free(p); }
static void client_free_cb(gpointer p) { smbclient_free(p); }

static void on_started(void *ctx, NTSTATUS st, uint64_t info, Fobx *fobx)
{
    (void)ctx;
    (void)st;
    (void)info;
    (void)fobx;
}

typedef struct {
    SmbRdr *rdr;
    DavRdr *dav;   /* or a WebDAV redirector */
    Rdbss *rdbss;
    const char *node, *name;
} RdrEntry;

static MiniRdr *entry_minirdr(const RdrEntry *e) { return e->dav ? davrdr_minirdr(e->dav) : smbrdr_minirdr(e->rdr); }

static bool is_webdav(const Decl *rd) { return strcmp(decl_param(rd, "kind")->s, "webdav") == 0; }

static bool serves(const Decl *srv, const char *proto)
{
    char **l = decl_param(srv, "services")->list;
    for (; l && *l; l++)
        if (strcmp(*l, proto) == 0)
            return true;
    return false;
}

/* The session protocol a record's tag belongs to names its message. */
static int64_t wire_label(void *ctx, uint64_t tag, bool *has)
{
    SmbSetup *s = ctx;
    return http_is_tag(tag) ? http_wire_label(s->http, tag, has) : smb_wire_label(s->wire, tag, has);
}

/* Every client's redirectors start when the run does (their service sends
 * the start request), in provider order. */
static void start_redirectors(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    SmbSetup *s = ctx;
    for (guint i = 0; i < s->rdrs->len; i++) {
        RdrEntry *e = g_ptr_array_index(s->rdrs, i);
        rdbss_start(e->rdbss, entry_minirdr(e), on_started, NULL);
    }
}

static MiniRdr *find_rdr(void *ctx, const char *name)
{
    RdrLookup *l = ctx;
    for (guint i = 0; i < l->s->rdrs->len; i++) {
        RdrEntry *e = g_ptr_array_index(l->s->rdrs, i);
        if (strcmp(e->node, l->node) == 0 && strcmp(e->name, name) == 0)
            return entry_minirdr(e);
    }
    return NULL;
}

static OplockLevel oplock_named(const char *s)
{
    return strcmp(s, "batch") == 0       ? OPLOCK_LEVEL_BATCH
           : strcmp(s, "exclusive") == 0 ? OPLOCK_LEVEL_EXCLUSIVE
           : strcmp(s, "level2") == 0    ? OPLOCK_LEVEL_II
                                         : OPLOCK_LEVEL_NONE;
}

/* The workloads: their files made on the server (once per share and
 * file set), their popularity tables shared, one generator a client. */
static void add_workloads(SmbSetup *s, const Scenario *sc, uint64_t seed)
{
    GHashTable *made = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < sc->decls->len; i++) {
        const Decl *d = g_ptr_array_index(sc->decls, i);
        if (strcmp(d->spec->kind, "workload") != 0)
            continue;
        const char *unc = decl_param(d, "share")->s;
        int64_t files = decl_param(d, "files")->i, size = decl_param(d, "file_size")->i;
        char *server = NULL, *share = NULL;
        unc_parts(unc, &server, &share); /* checked before */
        char *key = g_strdup_printf("%s\n%lld\n%lld", unc, (long long)files, (long long)size);
        if (!g_hash_table_contains(made, key)) {
            SmbServer *srv = g_hash_table_lookup(s->servers, server);
            for (int64_t k = 1; k <= files; k++) {
                char *path = loadgen_file_path(k);
                server_add_file(srv, share, path, (uint64_t)size);
                g_free(path);
            }
            g_hash_table_add(made, key);
        } else {
            g_free(key);
        }
        g_free(server);
        g_free(share);
        double zipf = decl_param(d, "zipf")->r;
        char *zkey = g_strdup_printf("%lld %.17g", (long long)files, zipf);
        ZipfTable *z = g_hash_table_lookup(s->zipfs, zkey);
        if (!z) {
            z = zipf_table_new(files, zipf);
            g_hash_table_insert(s->zipfs, zkey, z);
        } else {
            g_free(zkey);
        }
        LoadGenParams p = {
            .share = unc,
            .user = *decl_param(d, "user")->s ? decl_param(d, "user")->s : NULL,
            .password = decl_param(d, "password")->s,
            .rate = decl_param(d, "rate")->r,
            .think = &decl_param(d, "think")->dist,
            .size = &decl_param(d, "size")->dist,
            .popularity = z,
            .file_size = size,
            .max_open = decl_param(d, "max_open")->i,
            .oplock = oplock_named(decl_param(d, "oplock")->s),
            .session = decl_param(d, "session")->i,
            .start = decl_param(d, "start")->i,
            .stop = decl_param(d, "stop")->i,
        };
        char *err = NULL;
        loadgen_parse_mix(decl_param(d, "mix")->list, p.weights, &err);
        g_free(err);
        g_ptr_array_add(s->loadgens, loadgen_new(g_hash_table_lookup(s->rdbss, d->id), s->trace, s->sim, d->id, &p,
                                                 seed, s->lg_shared));
    }
    g_hash_table_unref(made);
}

SmbSetup *smbsetup_new(Tdi *tdi, Net *net, const Scenario *sc, uint64_t seed)
{
    SmbSetup *s = g_new0(SmbSetup, 1);
    Sim *sim = net_sim(net);
    Trace *trace = net_trace(net);
    s->wire = smb_wire_new(trace, sim, net);
    s->http = http_wire_new(trace, sim);
    tdi_set_label(tdi, wire_label, s);
    s->sim = sim;
    s->trace = trace;
    s->coh = coh_new();
    s->loadgens = g_ptr_array_new_with_free_func((GDestroyNotify)loadgen_free);
    s->lg_shared = loadgen_shared_new();
    s->zipfs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)zipf_table_free);
    s->servers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, server_free_cb);
    s->clients = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, client_free_cb);
    s->order = g_ptr_array_new();
    for (guint i = 0; i < sc->decls->len; i++) {
        const Decl *d = g_ptr_array_index(sc->decls, i);
        if (strcmp(d->spec->kind, "server") != 0)
            continue;
        ServerParams p = {
            .min_dialect = smb_dialect(decl_param(d, "min_dialect")->s),
            .max_dialect = smb_dialect(decl_param(d, "max_dialect")->s),
            .multi_credentials = decl_param(d, "multi_credentials")->i,
            .session_expiry = decl_param(d, "session_expiry")->i,
            .break_timeout = decl_param(d, "break_timeout")->i,
            .interim_delay = decl_param(d, "interim_delay")->i,
            .service = decl_param(d, "service")->dist,
            .no_smb = !serves(d, "smb"),
        };
        SmbServer *srv = server_new(tdi, s->wire, sim, trace, net_find_node(net, d->id), &p, seed);
        if (serves(d, "webdav"))
            server_enable_webdav(srv, s->http, (uint16_t)decl_param(d, "webdav_port")->i);
        server_set_coherence(srv, s->coh);
        g_hash_table_insert(s->servers, d->id, srv);
        g_ptr_array_add(s->order, (gpointer)d);
    }
    for (guint i = 0; i < sc->decls->len; i++) {
        const Decl *d = g_ptr_array_index(sc->decls, i);
        const char *k = d->spec->kind;
        if (strcmp(k, "share") == 0) {
            server_add_share(g_hash_table_lookup(s->servers, decl_param(d, "server")->s), d->id);
        } else if (strcmp(k, "file") == 0) {
            const Decl *sh = scenario_find_decl(sc, "share", decl_param(d, "share")->s);
            const char *path = *decl_param(d, "path")->s ? decl_param(d, "path")->s : d->id;
            server_add_file(g_hash_table_lookup(s->servers, decl_param(sh, "server")->s), sh->id, path,
                            (uint64_t)decl_param(d, "size")->i);
        } else if (strcmp(k, "user") == 0) {
            char **ws = decl_param(d, "workstations")->list;
            bool any = !ws || !*ws || !**ws; /* the default '' */
            server_add_user(g_hash_table_lookup(s->servers, decl_param(d, "server")->s), d->id,
                            decl_param(d, "password")->s, any ? NULL : ws);
        } else if (strcmp(k, "smbclient") == 0) {
            BreakPolicy pol = ON_BREAK_ACK;
            smbclient_parse_policy(decl_param(d, "on_break")->s, &pol);
            SmbClient *c = smbclient_new(tdi, s->wire, sim, trace, d->id, net_find_node(net, decl_param(d, "node")->s),
                                         net_find_node(net, decl_param(d, "server")->s), pol,
                                         decl_param(d, "level2")->i != 0);
            g_hash_table_insert(s->clients, d->id, c);
            g_ptr_array_add(s->order, (gpointer)d);
        }
    }
    s->rdbss = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)rdbss_free);
    s->workloads = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)workload_free);
    s->rdrs = g_ptr_array_new_with_free_func(g_free);
    s->dispatch = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    rdbss_pools_init(&s->rx_pools);
    pool_init(&s->rdr_req_pool, smbrdr_req_size());
    s->client_order = g_ptr_array_new();
    for (guint i = 0; i < sc->decls->len; i++) {
        const Decl *d = g_ptr_array_index(sc->decls, i);
        if (!has_redirectors(d))
            continue;
        NetNode *node = net_find_node(net, d->id);
        Rdbss *r = rdbss_new(sim, trace, node, &s->rx_pools);
        rdbss_set_coherence(r, s->coh);
        rdbss_set_flush_interval(r, decl_param(d, "flush_interval")->i);
        g_hash_table_insert(s->rdbss, d->id, r);
        g_hash_table_insert(s->workloads, d->id, workload_new(r, trace, sim, d->id));
        g_ptr_array_add(s->client_order, (gpointer)d);
        for (char **l = decl_param(d, "redirectors")->list; *l; l++) {
            const Decl *rd = scenario_find_decl(sc, "redirector", *l);
            char **nulls = decl_param(rd, "null")->list;
            const ParamValue *port = decl_param(rd, "port");
            RdrEntry *e = g_new0(RdrEntry, 1);
            MINIRDR_DISPATCH *table = g_hash_table_lookup(s->dispatch, rd->id);
            bool made = table != NULL;
            if (!table)
                table = g_new(MINIRDR_DISPATCH, 1);
            if (is_webdav(rd)) {
                DavRdrParams p = {
                    .request_timeout = decl_param(rd, "timeout")->i,
                    .lock_timeout = decl_param(rd, "lock_timeout")->i,
                    .scavenger_timeout = (uint32_t)(decl_param(rd, "scavenger")->i / SIM_SEC),
                    .null_routines = nulls && *nulls && **nulls ? nulls : NULL,
                    .port = (uint16_t)(port->line ? port->i : HTTP_PORT),
                };
                if (!made)
                    davrdr_dispatch_for(&p, table);
                e->dav = davrdr_new(r, tdi, s->http, net, s->coh, rd->id, &p, table,
                                    decl_param(rd, "delayed_close")->i);
            } else {
                SmbRdrParams p = {
                    .request_timeout = decl_param(rd, "timeout")->i,
                    .connection_ids = decl_param(rd, "connection_ids")->i,
                    .scavenger_timeout = (uint32_t)(decl_param(rd, "scavenger")->i / SIM_SEC),
                    .null_routines = nulls && *nulls && **nulls ? nulls : NULL,
                    .port = (uint16_t)port->i,
                    .dialect = smb_dialect(decl_param(rd, "dialect")->s),
                };
                if (!made)
                    smbrdr_dispatch_for(&p, table);
                e->rdr = smbrdr_new(r, tdi, s->wire, net, rd->id, &p, table, decl_param(rd, "delayed_close")->i,
                                    &s->rdr_req_pool);
            }
            if (!made)
                g_hash_table_insert(s->dispatch, rd->id, table);
            e->rdbss = r;
            e->node = d->id;
            e->name = rd->id;
            g_ptr_array_add(s->rdrs, e);
        }
    }
    if (s->rdrs->len)
        sim_at(sim, 0, start_redirectors, s, 0);
    add_workloads(s, sc, seed);
    return s;
}

void smbsetup_free(SmbSetup *s)
{
    if (!s)
        return;
    g_hash_table_unref(s->clients);
    g_hash_table_unref(s->workloads);
    for (guint i = 0; i < s->rdrs->len; i++)
    {
        RdrEntry *e = g_ptr_array_index(s->rdrs, i);
        smbrdr_free(e->rdr);
        davrdr_free(e->dav);
    }
    g_ptr_array_unref(s->rdrs);
    g_hash_table_unref(s->rdbss);
    rdbss_pools_clear(&s->rx_pools); /* after the clients and redirectors that give blocks back */
    pool_clear(&s->rdr_req_pool);
    g_hash_table_unref(s->dispatch); /* after the redirectors and RDBSS that point at them */
    g_ptr_array_unref(s->client_order);
    g_hash_table_unref(s->servers);
    g_ptr_array_unref(s->order);
    smb_wire_free(s->wire);
    http_wire_free(s->http);
    g_ptr_array_unref(s->loadgens);
    loadgen_shared_free(s->lg_shared);
    g_hash_table_unref(s->zipfs);
    coh_free(s->coh);
    g_free(s);
}

/* An application statement that came while its machine's redirectors
 * were still starting: it runs when they are up, in its order. */
typedef struct {
    SmbSetup *s;
    const Action *a;
} Deferred;

static void run_deferred(void *ctx)
{
    Deferred *d = ctx;
    smbsetup_action(d->s, d->a);
    g_free(d);
}

void smbsetup_set_waits(SmbSetup *s, Waits *waits)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, s->clients);
    while (g_hash_table_iter_next(&it, NULL, &v))
        smbclient_set_waits(v, waits);
    g_hash_table_iter_init(&it, s->workloads);
    while (g_hash_table_iter_next(&it, NULL, &v))
        workload_set_waits(v, waits);
}

bool smbsetup_action(SmbSetup *s, const Action *a)
{
    const char *subj = a->spec->subject;
    if (strcmp(subj, "node") == 0 && a->spec->verb && workload_is_verb(a->spec->verb)) {
        Rdbss *r = g_hash_table_lookup(s->rdbss, a->target->id);
        if (r && rdbss_starting(r) && strcmp(a->spec->verb, "stop") != 0) {
            Deferred *d = g_new(Deferred, 1);
            d->s = s;
            d->a = a;
            rdbss_when_started(r, run_deferred, d, g_free);
            return true;
        }
        RdrLookup l = { s, a->target->id };
        return workload_action(g_hash_table_lookup(s->workloads, a->target->id), a, find_rdr, &l);
    }
    if (strcmp(subj, "smbclient") == 0) {
        smbclient_action(g_hash_table_lookup(s->clients, a->target->id), a);
        return true;
    }
    if (strcmp(subj, "server") == 0) {
        SmbServer *srv = g_hash_table_lookup(s->servers, a->target->id);
        if (strcmp(a->spec->verb, "restart") == 0)
            server_restart(srv);
        else if (strcmp(a->spec->verb, "lose_acks") == 0)
            server_lose_acks(srv, action_param(a, "for")->i);
        else
            server_expire_sessions(srv);
        return true;
    }
    if (strcmp(subj, "share") == 0) {
        const char *server = decl_param(a->target, "server")->s;
        server_delete_share(g_hash_table_lookup(s->servers, server), a->target->id);
        return true;
    }
    return false;
}

/* Where an acknowledged write may be at the end of a run: the server's
 * copy of the file, or a client's cache not yet written back. */
static GPtrArray *stores_of(void *ctx, const char *file, uint64_t start, uint64_t end)
{
    SmbSetup *s = ctx;
    char *server = NULL, *share = NULL, *path = NULL; /* "\srv\share\path" */
    SmbServer *srv = NULL;
    if (rdbss_split_unc(file, &server, &share, &path))
        srv = g_hash_table_lookup(s->servers, server + 1);
    GArray *on_server = srv ? server_file_stamps(srv, share, path, start, end) : NULL;
    g_free(server);
    g_free(share);
    g_free(path);
    if (!on_server)
        return NULL;
    GPtrArray *stores = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    g_ptr_array_add(stores, on_server);
    GArray *dirty = g_hash_table_lookup(s->dirty, file);
    if (dirty)
        g_ptr_array_add(stores, g_array_ref(dirty));
    return stores;
}

/* In declaration order, not hash order: the trace must be deterministic.
 * Clients first: their pending operations, then the servers' breaks. */
void smbsetup_flush_trace(SmbSetup *s)
{
    for (guint i = 0; i < s->rdrs->len; i++) {
        RdrEntry *e = g_ptr_array_index(s->rdrs, i);
        if (e->dav)
            davrdr_flush_trace(e->dav);
    }
    /* the clients' dirty data, gathered once for the coherence check */
    s->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
    for (guint i = 0; i < s->client_order->len; i++)
        rdbss_collect_dirty(g_hash_table_lookup(s->rdbss, ((const Decl *)g_ptr_array_index(s->client_order, i))->id),
                            s->dirty);
    if (!coh_check_end(s->coh, stores_of, s) && !sim_failure(s->sim))
        sim_fail(s->sim, "%s", coh_violation(s->coh));
    g_hash_table_unref(s->dirty);
    s->dirty = NULL;
    coh_write_metrics(s->coh, s->trace);
    uint64_t ops = 0;
    for (guint i = 0; i < s->loadgens->len; i++) {
        loadgen_flush_trace(g_ptr_array_index(s->loadgens, i));
        ops += loadgen_ops_done(g_ptr_array_index(s->loadgens, i));
    }
    if (s->loadgens->len)
        trace_metric(s->trace, "loadgen.ops", (double)ops);
    size_t held = 0;
    for (guint i = 0; i < s->client_order->len; i++)
        held += rdbss_file_objects(g_hash_table_lookup(s->rdbss, ((const Decl *)g_ptr_array_index(s->client_order, i))->id));
    if (s->client_order->len)
        trace_metric(s->trace, "rdbss.file_objects_held", (double)held);
    for (guint i = 0; i < s->client_order->len; i++) {
        const Decl *d = g_ptr_array_index(s->client_order, i);
        workload_flush_trace(g_hash_table_lookup(s->workloads, d->id));
        if (!rdbss_check_teardown(g_hash_table_lookup(s->rdbss, d->id)))
            break;
    }
    for (int pass = 0; pass < 2; pass++)
        for (guint i = 0; i < s->order->len; i++) {
            const Decl *d = g_ptr_array_index(s->order, i);
            bool client = strcmp(d->spec->kind, "smbclient") == 0;
            if (pass == 0 && client)
                smbclient_flush_trace(g_hash_table_lookup(s->clients, d->id));
            else if (pass == 1 && !client)
                server_flush_trace(g_hash_table_lookup(s->servers, d->id));
        }
}

SmbWire *smbsetup_wire(const SmbSetup *s) { return s->wire; }
HttpWire *smbsetup_http(const SmbSetup *s) { return s->http; }
