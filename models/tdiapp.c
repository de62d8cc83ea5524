#include "tdiapp.h"

#include <glib.h>
#include <string.h>

#include "cc.h"

/* The client of one endpoint. */
typedef struct {
    TdiApp *app;
    const Decl *decl;
    TdiEndpoint *ep;
    bool connect_handler, confirm;
    SimTime confirm_after;
    bool confirming;          /* a confirmation is scheduled or issued on this connection */
    int64_t send_conn, recv_conn;
    uint64_t next_tag, last_tag;
    uint64_t records_received, out_of_order;
} Client;

struct TdiApp {
    Tdi *tdi;
    Net *net;
    Sim *sim;
    GPtrArray *clients; /* Client*, in declaration order */
    GPtrArray *repeats; /* Repeat*, owned here so that a run cut short frees them */
    const Scenario *sc;
    Waits *waits;       /* NULL: nobody waits for an endpoint */
};

/* "endpoint NAME connected" or "... disconnected", for `after`. */
static void announce(Client *c, const char *what)
{
    if (!waits_wanted(c->app->waits))
        return;
    char *event = g_strdup_printf("endpoint %s %s", c->decl->id, what);
    waits_signal(c->app->waits, event);
    g_free(event);
}

void tdiapp_set_waits(TdiApp *app, Waits *waits) { app->waits = waits; }

bool tdiapp_is_router(const Decl *d) { return strcmp(d->spec->kind, "router") == 0; }

static int congestion_of(const char *s)
{
    return strcmp(s, "none") == 0 ? CC_NONE : strcmp(s, "newreno") == 0 ? CC_NEWRENO
                                            : strcmp(s, "cubic") == 0   ? CC_CUBIC
                                                                        : -1;
}

/* congestion=none keeps the transport of old as it was, defaults and all:
 * the keys it leaves out take their values from before congestion control
 * (tdi_legacy_params), so that its traces are those of older builds. */
static void legacy_defaults(Decl *d)
{
    static const struct {
        const char *key, *text;
    } old[] = { { "rto_min", "1s" }, { "delayed_ack", "200ms" }, { "disconnect_timeout", "500ms" },
                { "window", "64KiB" } };
    TdiParams lp;
    tdi_legacy_params(&lp);
    const int64_t vals[] = { lp.rto.min, lp.delayed_ack, lp.disconnect_timeout, lp.window };
    for (size_t i = 0; i < G_N_ELEMENTS(old); i++) {
        ParamValue *v = &d->values[decl_param_index(d->spec, old[i].key)];
        if (v->given)
            continue;
        v->i = vals[i];
        g_free(v->text);
        v->text = g_strdup(old[i].text);
    }
}

void tdiapp_node_params(const Decl *node, TdiParams *p)
{
    tdi_default_params(p);
    p->rto.initial = decl_param(node, "rto_initial")->i;
    p->rto.min = decl_param(node, "rto_min")->i;
    p->rto.max = decl_param(node, "rto_max")->i;
    p->rto.granularity = decl_param(node, "rto_granularity")->i;
    p->syn_retries = (int)decl_param(node, "syn_retries")->i;
    p->data_retries = (int)decl_param(node, "data_retries")->i;
    p->disconnect_timeout = decl_param(node, "disconnect_timeout")->i;
    p->accept_timeout = decl_param(node, "accept_timeout")->i;
    p->delayed_ack = decl_param(node, "delayed_ack")->i;
    p->window = (uint32_t)decl_param(node, "window")->i;
    p->orderly_release = strcmp(decl_param(node, "release")->s, "abort") != 0;
    p->congestion = congestion_of(decl_param(node, "congestion")->s);
    p->sack = decl_param(node, "sack")->i != 0;
    p->initial_window = (int)decl_param(node, "initial_window")->i;
}

static bool is_endpoint_action(const Action *a) { return strcmp(a->spec->subject, "endpoint") == 0; }

void tdiapp_check(Scenario *sc)
{
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        if (d->spec->is_node) {
            if (tdiapp_is_router(d))
                continue;
            const ParamValue *r = decl_param(d, "release");
            if (strcmp(r->s, "orderly") != 0 && strcmp(r->s, "abort") != 0)
                scenario_error(sc, r->line ? r->line : d->line, r->col ? r->col : d->col,
                               "release=%s: expected orderly or abort", r->s);
            const ParamValue *cg = decl_param(d, "congestion");
            if (congestion_of(cg->s) < 0)
                scenario_error(sc, cg->line ? cg->line : d->line, cg->col ? cg->col : d->col,
                               "congestion=%s: expected cubic, newreno or none", cg->s);
            else if (congestion_of(cg->s) == CC_NONE)
                legacy_defaults(d);
            continue;
        }
        if (strcmp(d->spec->kind, "endpoint") != 0)
            continue;
        const ParamValue *node = decl_param(d, "node");
        const Decl *nd = scenario_find_node(sc, node->s);
        if (!nd)
            scenario_error(sc, node->line ? node->line : d->line, node->col ? node->col : d->col,
                           "unknown node '%s' for endpoint %s", node->s, d->id);
        else if (tdiapp_is_router(nd))
            scenario_error(sc, node->line ? node->line : d->line, node->col ? node->col : d->col,
                           "endpoint %s: %s is a router, which runs no transport of its own", d->id, node->s);
    }
    for (guint i = 0; i < sc->actions->len; i++) {
        Action *a = g_ptr_array_index(sc->actions, i);
        if (!is_endpoint_action(a))
            continue;
        const char *verb = a->spec->verb;
        if (strcmp(verb, "connect") == 0) {
            const char *own = decl_param(a->target, "node")->s;
            Decl *peer = scenario_find_node(sc, a->args[0]);
            if (!peer)
                scenario_error(sc, a->line, a->arg_cols[0], "unknown node '%s'", a->args[0]);
            else if (strcmp(own, peer->id) == 0)
                scenario_error(sc, a->line, a->arg_cols[0], "endpoint %s is on %s already: connect to another node",
                               a->target->id, own);
        } else if (strcmp(verb, "disconnect") == 0) {
            const ParamValue *m = action_param(a, "mode");
            if (strcmp(m->s, "release") != 0 && strcmp(m->s, "abort") != 0)
                scenario_error(sc, m->line ? m->line : a->line, m->col ? m->col : a->col,
                               "mode=%s: expected release or abort", m->s);
        }
    }
}

static Client *client_of(TdiApp *app, const Decl *d)
{
    for (guint i = 0; i < app->clients->len; i++) {
        Client *c = g_ptr_array_index(app->clients, i);
        if (c->decl == d)
            return c;
    }
    return NULL;
}

static void on_done(void *ctx, TdiEndpoint *ep, const TdiIo *io);

static void check_order(Client *c, uint64_t tag)
{
    int64_t conn = tdi_endpoint_conn(c->ep);
    if (conn != c->recv_conn) {
        c->recv_conn = conn;
        c->last_tag = 0;
    }
    c->records_received++;
    if (tag != c->last_tag + 1)
        c->out_of_order++;
    c->last_tag = tag;
}

static void on_confirm(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Client *c = ctx;
    if (tdi_endpoint_state(c->ep) == TDI_EP_REMOTE_RELEASE)
        tdi_disconnect(c->ep, TDI_DISCONNECT_RELEASE, NULL, NULL, on_done, c);
}

/* The peer released: confirm with our own release when the endpoint's
 * client is one that does (step 3). */
static void peer_released(Client *c)
{
    if (!c->confirm || c->confirming)
        return;
    c->confirming = true;
    sim_after(c->app->sim, c->confirm_after, on_confirm, c, 0);
}

static void on_receive(void *ctx, TdiEndpoint *ep, uint32_t bytes, uint64_t tag)
{
    (void)ep;
    (void)bytes;
    check_order(ctx, tag);
}

static void on_disconnect(void *ctx, TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info)
{
    (void)ep;
    (void)info;
    if (flags & TDI_DISCONNECT_RELEASE)
        peer_released(ctx);
    else
        announce(ctx, "disconnected"); /* the connection was aborted under it */
}

static void on_done(void *ctx, TdiEndpoint *ep, const TdiIo *io)
{
    Client *c = ctx;
    if (io->kind == TDI_REQ_RECEIVE) {
        if (io->status == STATUS_SUCCESS)
            check_order(c, io->tag);
        /* Without a disconnect handler, a failed receive is how the client
         * learns that the peer released. */
        if (io->status == STATUS_GRACEFUL_DISCONNECT && tdi_endpoint_state(ep) == TDI_EP_REMOTE_RELEASE)
            peer_released(c);
    }
    if ((io->kind == TDI_REQ_CONNECT || io->kind == TDI_REQ_LISTEN || io->kind == TDI_REQ_ACCEPT) &&
        io->status == STATUS_SUCCESS) {
        c->confirming = false; /* a new connection */
        if (tdi_endpoint_state(ep) == TDI_EP_ESTABLISHED)
            announce(c, "connected");
    }
    if (io->kind == TDI_REQ_DISCONNECT)
        announce(c, "disconnected");
}

/* ClientEventConnect: accept on the first idle endpoint of this address
 * whose client registered the handler. */
static TdiEndpoint *on_connect_offer(void *ctx, NetNode *remote)
{
    (void)remote;
    Client *first = ctx;
    TdiApp *app = first->app;
    for (guint i = 0; i < app->clients->len; i++) {
        Client *c = g_ptr_array_index(app->clients, i);
        if (c->connect_handler && tdi_endpoint_node(c->ep) == tdi_endpoint_node(first->ep) &&
            decl_param(c->decl, "port")->i == decl_param(first->decl, "port")->i &&
            tdi_endpoint_state(c->ep) == TDI_EP_IDLE) {
            c->confirming = false;
            return c->ep;
        }
    }
    return NULL;
}

TdiApp *tdiapp_new(Tdi *tdi, Net *net, const Scenario *sc)
{
    TdiApp *app = g_new0(TdiApp, 1);
    app->sc = sc;
    app->tdi = tdi;
    app->net = net;
    app->sim = net_sim(net);
    app->clients = g_ptr_array_new_with_free_func(g_free);
    app->repeats = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < sc->decls->len; i++) {
        const Decl *d = g_ptr_array_index(sc->decls, i);
        if (strcmp(d->spec->kind, "endpoint") != 0)
            continue;
        Client *c = g_new0(Client, 1);
        c->app = app;
        c->decl = d;
        NetNode *node = net_find_node(net, decl_param(d, "node")->s);
        uint16_t port = (uint16_t)decl_param(d, "port")->i;
        c->ep = tdi_endpoint_open(tdi, node, port, d->id);
        c->connect_handler = decl_param(d, "connect_handler")->i;
        c->confirm = decl_param(d, "confirm")->i;
        c->confirm_after = decl_param(d, "confirm_after")->i;
        TdiHandlers h = { NULL, NULL, c };
        if (decl_param(d, "receive_handler")->i)
            h.receive = on_receive;
        if (decl_param(d, "disconnect_handler")->i)
            h.disconnect = on_disconnect;
        tdi_endpoint_set_handlers(c->ep, &h);
        if (c->connect_handler)
            tdi_set_connect_handler(tdi, node, port, on_connect_offer, c);
        g_ptr_array_add(app->clients, c);
    }
    return app;
}

void tdiapp_free(TdiApp *app)
{
    if (!app)
        return;
    g_ptr_array_unref(app->clients);
    g_ptr_array_unref(app->repeats);
    g_free(app);
}

/* A TDI time-out from a scenario value: 0 means none (the transport's). */
static const int64_t *timeout_of(const Action *a, int64_t *buf)
{
    SimTime t = action_param(a, "timeout")->i;
    if (t <= 0)
        return NULL;
    *buf = tdi_relative_timeout(t);
    return buf;
}

typedef struct {
    Client *c;
    int64_t left;
    SimTime interval;
    uint32_t bytes;
    bool is_send;
} Repeat;

static void repeat_step(Sim *sim, void *ctx, uint64_t arg)
{
    (void)arg;
    Repeat *r = ctx;
    Client *c = r->c;
    if (r->is_send) {
        int64_t conn = tdi_endpoint_conn(c->ep);
        if (conn != c->send_conn) {
            c->send_conn = conn;
            c->next_tag = 0;
        }
        tdi_send(c->ep, r->bytes, ++c->next_tag, on_done, c);
    } else {
        tdi_receive(c->ep, r->bytes, on_done, c);
    }
    /* With no interval, all are issued now, in order, before anything
     * else the timeline holds for this instant. */
    if (--r->left > 0) {
        if (r->interval == 0)
            repeat_step(sim, r, 0);
        else
            sim_after(sim, r->interval, repeat_step, r, 0);
    }
}

bool tdiapp_action(TdiApp *app, const Action *a)
{
    if (!is_endpoint_action(a))
        return false;
    Client *c = client_of(app, a->target);
    const char *verb = a->spec->verb;
    int64_t tbuf;
    if (strcmp(verb, "listen") == 0) {
        tdi_listen(c->ep, action_param(a, "query_accept")->i ? TDI_QUERY_ACCEPT : 0, on_done, c);
    } else if (strcmp(verb, "accept") == 0) {
        tdi_accept(c->ep, on_done, c);
    } else if (strcmp(verb, "connect") == 0) {
        tdi_connect(c->ep, net_find_node(app->net, a->args[0]), (uint16_t)action_param(a, "port")->i,
                    timeout_of(a, &tbuf), on_done, c);
    } else if (strcmp(verb, "send") == 0 || strcmp(verb, "receive") == 0) {
        Repeat *r = g_new0(Repeat, 1);
        r->c = c;
        r->left = action_param(a, "count")->i;
        r->interval = action_param(a, "interval")->i;
        r->bytes = (uint32_t)action_param(a, "bytes")->i;
        r->is_send = strcmp(verb, "send") == 0;
        g_ptr_array_add(app->repeats, r);
        repeat_step(app->sim, r, 0);
    } else {
        bool release = strcmp(action_param(a, "mode")->s, "release") == 0;
        TdiConnInfo info = { (uint32_t)action_param(a, "data")->i, (uint64_t)a->line };
        tdi_disconnect(c->ep, release ? TDI_DISCONNECT_RELEASE : TDI_DISCONNECT_ABORT, timeout_of(a, &tbuf), &info,
                       on_done, c);
    }
    return true;
}

static void metric(Trace *tr, const Client *c, const char *what, double v)
{
    char *name = g_strdup_printf("tdi.%s.%s", c->decl->id, what);
    trace_metric(tr, name, v);
    g_free(name);
}

void tdiapp_write_metrics(TdiApp *app, Trace *trace)
{
    for (guint i = 0; i < app->sc->decls->len; i++) {
        const Decl *d = g_ptr_array_index(app->sc->decls, i);
        if (!d->spec->is_node || tdiapp_is_router(d))
            continue;
        char *name = g_strdup_printf("tdi.%s.retransmits", d->id);
        trace_metric(trace, name, (double)tdi_node_retransmits(app->tdi, net_find_node(app->net, d->id)));
        g_free(name);
    }
    for (guint i = 0; i < app->clients->len; i++) {
        Client *c = g_ptr_array_index(app->clients, i);
        metric(trace, c, "bytes_sent", (double)tdi_endpoint_bytes_sent(c->ep));
        metric(trace, c, "bytes_received", (double)tdi_endpoint_bytes_received(c->ep));
        metric(trace, c, "records_received", (double)c->records_received);
        metric(trace, c, "records_out_of_order", (double)c->out_of_order);
    }
}
