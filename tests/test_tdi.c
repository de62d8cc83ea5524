/* The RTO estimator against the rules of RFC 6298, and the TDI requests
 * through the API: Karn's rule on a real connection, the statuses the
 * documentation gives, and each choice made where it is silent. */
#include <glib.h>

#include "net.h"
#include "rto.h"
#include "tdi.h"

#define MS SIM_MS

static RtoParams rfc_params(void)
{
    RtoParams p = { SIM_SEC, SIM_SEC, 60 * SIM_SEC, MS };
    return p;
}

/* 2.1: before any measurement, RTO is the initial value. */
static void test_rto_initial(void)
{
    RtoParams p = rfc_params();
    Rto r;
    rto_init(&r, &p);
    g_assert_cmpint(r.rto, ==, SIM_SEC);
    g_assert_false(r.measured);
}

/* 2.2 and 2.3, with the minimum out of the way. */
static void test_rto_samples(void)
{
    RtoParams p = rfc_params();
    p.min = MS;
    Rto r;
    rto_init(&r, &p);
    rto_sample(&r, 100 * MS);
    g_assert_cmpint(r.srtt, ==, 100 * MS);
    g_assert_cmpint(r.rttvar, ==, 50 * MS);
    g_assert_cmpint(r.rto, ==, 300 * MS); /* 100 + 4 x 50 */
    rto_sample(&r, 200 * MS);
    /* RTTVAR from the old SRTT: 3/4 x 50 + 1/4 x |100 - 200| = 62.5 ms */
    g_assert_cmpint(r.rttvar, ==, 62500 * SIM_US);
    g_assert_cmpint(r.srtt, ==, 112500 * SIM_US); /* 7/8 x 100 + 1/8 x 200 */
    g_assert_cmpint(r.rto, ==, 362500 * SIM_US);
}

/* 2.3: the variance term is at least the clock granularity G. */
static void test_rto_granularity(void)
{
    RtoParams p = rfc_params();
    p.min = SIM_US;
    p.granularity = 10 * MS;
    Rto r;
    rto_init(&r, &p);
    for (int i = 0; i < 100; i++)
        rto_sample(&r, 20 * MS); /* RTTVAR decays towards 0 */
    g_assert_cmpint(4 * r.rttvar, <, 10 * MS);
    g_assert_cmpint(r.rto, ==, 30 * MS);
}

/* 2.4 and 2.5: rounded up to the minimum, cut down to the maximum. */
static void test_rto_bounds(void)
{
    RtoParams p = rfc_params();
    Rto r;
    rto_init(&r, &p);
    rto_sample(&r, 10 * MS);
    g_assert_cmpint(r.rto, ==, SIM_SEC);
    rto_init(&r, &p);
    rto_sample(&r, 100 * SIM_SEC);
    g_assert_cmpint(r.rto, ==, 60 * SIM_SEC);
}

/* 5.5: each expiry doubles the RTO up to the maximum; a new measurement
 * collapses it again. */
static void test_rto_backoff(void)
{
    RtoParams p = rfc_params();
    Rto r;
    rto_init(&r, &p);
    SimTime want[] = { 2, 4, 8, 16, 32, 60, 60 };
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        rto_backoff(&r);
        g_assert_cmpint(r.rto, ==, want[i] * SIM_SEC);
    }
    rto_sample(&r, 100 * MS);
    g_assert_cmpint(r.rto, ==, SIM_SEC);
}

/* 5.7: established after a retransmitted SYN, RTO < 3 s becomes 3 s. */
static void test_rto_syn(void)
{
    RtoParams p = rfc_params();
    Rto r;
    rto_init(&r, &p);
    rto_after_syn_retransmit(&r);
    g_assert_cmpint(r.rto, ==, 3 * SIM_SEC);
    rto_init(&r, &p);
    for (int i = 0; i < 3; i++)
        rto_backoff(&r);
    rto_after_syn_retransmit(&r);
    g_assert_cmpint(r.rto, ==, 8 * SIM_SEC);
}

/* ---- a two-node world ---- */

typedef struct {
    Sim *sim;
    Net *net;
    Tdi *tdi;
    NetNode *c, *s;
    NetLink *link;
    TdiEndpoint *a, *b;
    GArray *ios;       /* TdiIo of every completion, in order */
    GPtrArray *who;    /* the endpoint of each */
    GArray *times;     /* SimTime of each completion */
    TdiEndpoint *replier;
    int disconnects;   /* ClientEventDisconnect calls */
    uint32_t disc_flags;
    TdiConnInfo disc_info;
    bool in_call;      /* a request call is on the stack */
} World;

static void on_done(void *ctx, TdiEndpoint *ep, const TdiIo *io)
{
    World *w = ctx;
    g_assert_false(w->in_call); /* never from inside the issuing call */
    g_array_append_val(w->ios, *io);
    g_ptr_array_add(w->who, ep);
    SimTime now = sim_now(w->sim);
    g_array_append_val(w->times, now);
}

static void on_disc(void *ctx, TdiEndpoint *ep, uint32_t flags, const TdiConnInfo *info)
{
    (void)ep;
    World *w = ctx;
    w->disconnects++;
    w->disc_flags = flags;
    w->disc_info = *info;
}

static void world_init(World *w, const TdiParams *p)
{
    w->sim = sim_new();
    w->net = net_new(w->sim, NULL, 1);
    w->c = net_add_node(w->net, "c");
    w->s = net_add_node(w->net, "s");
    LinkParams lp = { .latency = 5 * MS, .mtu = 1500 };
    w->link = net_add_link(w->net, w->c, w->s, &lp);
    w->tdi = tdi_new(w->net);
    tdi_set_node_params(w->tdi, w->c, p);
    tdi_set_node_params(w->tdi, w->s, p);
    w->a = tdi_endpoint_open(w->tdi, w->c, 0, "a");
    w->b = tdi_endpoint_open(w->tdi, w->s, 445, "b");
    TdiHandlers h = { NULL, on_disc, w };
    tdi_endpoint_set_handlers(w->b, &h);
    w->ios = g_array_new(FALSE, FALSE, sizeof(TdiIo));
    w->who = g_ptr_array_new();
    w->times = g_array_new(FALSE, FALSE, sizeof(SimTime));
}

static void world_fini(World *w)
{
    tdi_free(w->tdi);
    net_free(w->net);
    sim_free(w->sim);
    g_array_unref(w->ios);
    g_ptr_array_unref(w->who);
    g_array_unref(w->times);
}

static void run_for(World *w, SimTime t) { sim_run(w->sim, sim_now(w->sim) + t, 0, NULL); }

static const TdiIo *last_io(World *w) { return &g_array_index(w->ios, TdiIo, w->ios->len - 1); }

#define CALL(w, expr)             \
    ({                            \
        (w)->in_call = true;      \
        NTSTATUS st_ = (expr);    \
        (w)->in_call = false;     \
        st_;                      \
    })

static void connect_pair(World *w)
{
    g_assert_cmpuint(CALL(w, tdi_listen(w->b, 0, on_done, w)), ==, STATUS_PENDING);
    g_assert_cmpuint(CALL(w, tdi_connect(w->a, w->s, 445, NULL, on_done, w)), ==, STATUS_PENDING);
    run_for(w, 20 * MS);
    g_assert_cmpint(tdi_endpoint_state(w->a), ==, TDI_EP_ESTABLISHED);
    g_assert_cmpint(tdi_endpoint_state(w->b), ==, TDI_EP_ESTABLISHED);
}

/* Karn's rule on a connection: the acknowledgement of a retransmitted
 * segment gives no sample, so the backed-off RTO stays; the next segment
 * sent once gives one, and the RTO collapses. */
static void test_karn(void)
{
    TdiParams p;
    tdi_default_params(&p);
    p.rto.min = MS;
    p.delayed_ack = 0; /* every segment acknowledged on arrival: the times below are RTTs */
    World w = { 0 };
    world_init(&w, &p);
    connect_pair(&w);
    SimTime after_syn = tdi_endpoint_rto(w.a); /* one 10 ms sample: 10 + 4 x 5 */
    g_assert_cmpint(after_syn, ==, 30 * MS);
    net_link_set_up(w.link, false);
    tdi_send(w.a, 1000, 1, on_done, &w);
    run_for(&w, 100 * MS); /* expiries at +30 and +90 ms: 30 -> 60 -> 120 */
    g_assert_cmpint(tdi_endpoint_rto(w.a), ==, 120 * MS);
    net_link_set_up(w.link, true);
    run_for(&w, 300 * MS); /* the retransmission at +210 ms is acknowledged */
    g_assert_cmpuint(last_io(&w)->status, ==, STATUS_SUCCESS);
    g_assert_cmpuint(last_io(&w)->tag, ==, 1);
    g_assert_cmpint(tdi_endpoint_rto(w.a), ==, 240 * MS); /* backed off once more, no sample */
    tdi_send(w.a, 1000, 2, on_done, &w);
    run_for(&w, 100 * MS);
    g_assert_cmpint(tdi_endpoint_rto(w.a), <, 40 * MS);
    world_fini(&w);
}

static void reply(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    World *w = ctx;
    tdi_send(w->replier, 100, 99, on_done, w);
}

/* Delayed acknowledgements (RFC 9293 3.8.6.3), seen in when a TDI_SEND
 * completes, which is when its last byte is acknowledged (5 ms each way).
 * `count` sends from `from` (tags 1..count), and when reply_after > 0 a
 * send of the peer's (tag 99) that much later; returns how long after the
 * first send the completion with tag `tag` came. */
static SimTime completed_after(World *w, TdiEndpoint *from, int count, SimTime reply_after, uint64_t tag)
{
    SimTime t0 = sim_now(w->sim);
    guint before = w->ios->len;
    for (int i = 0; i < count; i++)
        tdi_send(from, 1000, (uint64_t)i + 1, on_done, w);
    w->replier = from == w->a ? w->b : w->a;
    if (reply_after > 0)
        sim_at(w->sim, t0 + reply_after, reply, w, 0);
    run_for(w, SIM_SEC);
    for (guint i = before; i < w->ios->len; i++) {
        const TdiIo *io = &g_array_index(w->ios, TdiIo, i);
        if (io->tag == tag) {
            g_assert_cmpuint(io->status, ==, STATUS_SUCCESS);
            return g_array_index(w->times, SimTime, i) - t0;
        }
    }
    g_assert_not_reached();
}

static void test_delayed_ack(void)
{
    TdiParams p;
    tdi_default_params(&p);
    g_assert_cmpint(p.delayed_ack, ==, 40 * MS); /* Windows' DelayedAckTimeout */
    World w = { 0 };
    world_init(&w, &p);
    connect_pair(&w);
    /* one segment, nothing to ride on: acknowledged when the timer runs out */
    g_assert_cmpint(completed_after(&w, w.a, 1, 0, 1), ==, 50 * MS);
    /* the peer sends 20 ms after: the ACK rides on its data, here at 25 ms;
     * the peer's segment is acknowledged by our timer, 40 ms after it came */
    g_assert_cmpint(completed_after(&w, w.a, 1, 20 * MS, 1), ==, 25 * MS);
    g_assert_cmpint(g_array_index(w.times, SimTime, w.times->len - 1) -
                        g_array_index(w.times, SimTime, w.times->len - 2), ==, 45 * MS);
    /* two segments: the second is acknowledged at once, both done at 10 ms */
    g_assert_cmpint(completed_after(&w, w.a, 2, 0, 2), ==, 10 * MS);
    world_fini(&w);

    /* delayed_ack 0: every segment acknowledged on arrival */
    p.delayed_ack = 0;
    world_init(&w, &p);
    connect_pair(&w);
    g_assert_cmpint(completed_after(&w, w.a, 1, 0, 1), ==, 10 * MS);
    world_fini(&w);
}

/* Statuses of requests in the wrong state, and of malformed ones. */
static void test_invalid_requests(void)
{
    TdiParams p;
    tdi_default_params(&p);
    World w = { 0 };
    world_init(&w, &p);
    int64_t positive = 10, zero = 0;
    struct {
        NTSTATUS got, want;
    } cases[] = {
        { CALL(&w, tdi_disconnect(w.a, TDI_DISCONNECT_ABORT, NULL, NULL, on_done, &w)), STATUS_INVALID_CONNECTION },
        { CALL(&w, tdi_send(w.a, 10, 0, on_done, &w)), STATUS_INVALID_CONNECTION },
        { CALL(&w, tdi_receive(w.a, 10, on_done, &w)), STATUS_INVALID_CONNECTION },
        { CALL(&w, tdi_accept(w.b, on_done, &w)), STATUS_INVALID_CONNECTION },
        { CALL(&w, tdi_connect(w.a, w.s, 445, &positive, on_done, &w)), STATUS_INVALID_PARAMETER },
        { CALL(&w, tdi_connect(w.a, w.s, 445, &zero, on_done, &w)), STATUS_INVALID_PARAMETER },
        { CALL(&w, tdi_disconnect(w.a, TDI_DISCONNECT_ABORT | TDI_DISCONNECT_RELEASE, NULL, NULL, on_done, &w)),
          STATUS_INVALID_PARAMETER },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        g_assert_cmpuint(cases[i].got, ==, cases[i].want);
    g_assert_cmpuint(w.ios->len, ==, 0); /* not yet: completions come from events */
    run_for(&w, MS);
    g_assert_cmpuint(w.ios->len, ==, G_N_ELEMENTS(cases));
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        g_assert_cmpuint(g_array_index(w.ios, TdiIo, i).status, ==, cases[i].want);
    /* A listen without TDI_QUERY_ACCEPT cannot be accepted. */
    tdi_listen(w.b, 0, on_done, &w);
    g_assert_cmpuint(CALL(&w, tdi_accept(w.b, on_done, &w)), ==, STATUS_INVALID_CONNECTION);
    /* No link at all: the path is unknown. */
    NetNode *far = net_add_node(w.net, "far");
    g_assert_cmpuint(CALL(&w, tdi_connect(w.a, far, 445, NULL, on_done, &w)), ==, STATUS_BAD_NETWORK_PATH);
    world_fini(&w);
}

/* The half-closed states: a release by A closes A's sending side; the
 * peer's receive side closes when it is told. */
static void test_half_close(void)
{
    TdiParams p;
    tdi_default_params(&p);
    World w = { 0 };
    world_init(&w, &p);
    connect_pair(&w);
    TdiConnInfo a_data = { 16, 0xa }, b_data = { 8, 0xb };
    g_assert_cmpuint(CALL(&w, tdi_disconnect(w.a, TDI_DISCONNECT_RELEASE, NULL, &a_data, on_done, &w)), ==,
                     STATUS_PENDING);
    g_assert_cmpint(tdi_endpoint_state(w.a), ==, TDI_EP_LOCAL_RELEASE);
    g_assert_cmpuint(CALL(&w, tdi_send(w.a, 10, 0, on_done, &w)), ==, STATUS_INVALID_CONNECTION);
    g_assert_cmpuint(CALL(&w, tdi_disconnect(w.a, TDI_DISCONNECT_RELEASE, NULL, NULL, on_done, &w)), ==,
                     STATUS_INVALID_CONNECTION);
    g_assert_cmpuint(CALL(&w, tdi_receive(w.a, 100, on_done, &w)), ==, STATUS_PENDING);
    run_for(&w, 6 * MS);
    /* Step 2: B told through its handler, with A's disconnect data. */
    g_assert_cmpint(tdi_endpoint_state(w.b), ==, TDI_EP_REMOTE_RELEASE);
    g_assert_cmpint(w.disconnects, ==, 1);
    g_assert_cmpuint(w.disc_flags, ==, TDI_DISCONNECT_RELEASE);
    g_assert_cmpuint(w.disc_info.user_data, ==, 0xa);
    g_assert_cmpuint(CALL(&w, tdi_receive(w.b, 100, on_done, &w)), ==, STATUS_GRACEFUL_DISCONNECT);
    /* B can still send; A can still receive it. */
    g_assert_cmpuint(CALL(&w, tdi_send(w.b, 50, 7, on_done, &w)), ==, STATUS_PENDING);
    run_for(&w, 20 * MS);
    guint n = w.ios->len;
    gboolean got_data = FALSE;
    for (guint i = 0; i < n; i++) {
        const TdiIo *io = &g_array_index(w.ios, TdiIo, i);
        if (io->kind == TDI_REQ_RECEIVE && g_ptr_array_index(w.who, i) == w.a) {
            g_assert_cmpuint(io->status, ==, STATUS_SUCCESS);
            g_assert_cmpuint(io->information, ==, 50);
            g_assert_cmpuint(io->tag, ==, 7);
            got_data = TRUE;
        }
    }
    g_assert_true(got_data);
    g_assert_cmpint(tdi_endpoint_state(w.a), ==, TDI_EP_LOCAL_RELEASE);
    /* Step 3 and 4: B confirms with its data; A's request returns it. */
    tdi_disconnect(w.b, TDI_DISCONNECT_RELEASE, NULL, &b_data, on_done, &w);
    run_for(&w, 20 * MS);
    g_assert_cmpint(tdi_endpoint_state(w.a), ==, TDI_EP_IDLE);
    g_assert_cmpint(tdi_endpoint_state(w.b), ==, TDI_EP_IDLE);
    const TdiIo *a_done = NULL;
    for (guint i = 0; i < w.ios->len; i++) {
        const TdiIo *io = &g_array_index(w.ios, TdiIo, i);
        if (io->kind == TDI_REQ_DISCONNECT && io->status == STATUS_SUCCESS && g_ptr_array_index(w.who, i) == w.a)
            a_done = io;
    }
    g_assert_nonnull(a_done);
    g_assert_cmpuint(a_done->info.user_data, ==, 0xb);
    g_assert_cmpuint(a_done->info.user_data_length, ==, 8);
    world_fini(&w);
}

/* A record larger than the receive buffer: STATUS_BUFFER_OVERFLOW with what
 * fits, the rest for the next receive. */
static void test_buffer_overflow(void)
{
    TdiParams p;
    tdi_default_params(&p);
    World w = { 0 };
    world_init(&w, &p);
    connect_pair(&w);
    tdi_send(w.a, 3000, 9, on_done, &w);
    run_for(&w, 20 * MS);
    tdi_receive(w.b, 1000, on_done, &w);
    tdi_receive(w.b, 5000, on_done, &w);
    run_for(&w, MS);
    const TdiIo *r1 = &g_array_index(w.ios, TdiIo, w.ios->len - 2), *r2 = last_io(&w);
    g_assert_cmpuint(r1->status, ==, STATUS_BUFFER_OVERFLOW);
    g_assert_cmpuint(r1->information, ==, 1000);
    g_assert_cmpuint(r2->status, ==, STATUS_SUCCESS);
    g_assert_cmpuint(r2->information, ==, 2000);
    g_assert_cmpuint(r2->tag, ==, 9);
    world_fini(&w);
}

/* A connection lost to the retry limit: pending requests fail with
 * STATUS_IO_TIMEOUT, the client is told by ClientEventDisconnect(ABORT). */
static void test_retry_limit(void)
{
    TdiParams p;
    tdi_default_params(&p);
    p.data_retries = 2;
    World w = { 0 };
    world_init(&w, &p);
    connect_pair(&w);
    net_link_set_up(w.link, false);
    tdi_send(w.b, 100, 1, on_done, &w);
    run_for(&w, 10 * SIM_SEC); /* RTO 1 s: expiries at 1, 3, 7 s */
    g_assert_cmpuint(last_io(&w)->status, ==, STATUS_IO_TIMEOUT);
    g_assert_cmpint(w.disconnects, ==, 1);
    g_assert_cmpuint(w.disc_flags, ==, TDI_DISCONNECT_ABORT);
    g_assert_cmpint(tdi_endpoint_state(w.b), ==, TDI_EP_IDLE);
    world_fini(&w);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rto/initial", test_rto_initial);
    g_test_add_func("/rto/samples", test_rto_samples);
    g_test_add_func("/rto/granularity", test_rto_granularity);
    g_test_add_func("/rto/bounds", test_rto_bounds);
    g_test_add_func("/rto/backoff", test_rto_backoff);
    g_test_add_func("/rto/syn", test_rto_syn);
    g_test_add_func("/tdi/karn", test_karn);
    g_test_add_func("/tdi/delayed-ack", test_delayed_ack);
    g_test_add_func("/tdi/invalid-requests", test_invalid_requests);
    g_test_add_func("/tdi/half-close", test_half_close);
    g_test_add_func("/tdi/buffer-overflow", test_buffer_overflow);
    g_test_add_func("/tdi/retry-limit", test_retry_limit);
    return g_test_run();
}
