/* The event queue against a plain reference: a balanced tree ordered by
 * (time, insertion sequence), on a long random mix of schedule, cancel
 * (live, already run, already cancelled, and made-up handles) and run. */
#include <glib.h>

#include "engine.h"
#include "rng.h"

typedef struct {
    SimTime t;
    uint64_t seq;
    uint64_t id;  /* the event's own number, passed as its arg */
} RefKey;

static gint ref_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    const RefKey *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct {
    GArray *ran; /* ids in the order the engine ran them */
} Log;

static void record(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    Log *log = ctx;
    g_array_append_val(log->ran, arg);
}

/* mix: percent of operations that schedule, then that cancel.  With
 * timeouts, half the events scheduled are time-outs `after` later and
 * cancels go to a live one of them: the pattern of a request's time-out
 * cancelled by its response, which leaves the heap mostly dead entries
 * unless the engine sweeps them (and, `after` a second or more, the
 * engine's far list).  Times are drawn from [now, now + span). */
static void against_reference(int p_sched, int p_cancel, bool timeouts, uint64_t span, SimTime after)
{
    const int OPS = 1000000;
    Sim *sim = sim_new();
    Log log = { g_array_new(FALSE, FALSE, sizeof(uint64_t)) };
    GTree *ref = g_tree_new_full(ref_cmp, NULL, g_free, NULL);
    /* Every handle ever issued, with the reference key it maps to (NULL
     * once it ran or was cancelled). */
    GArray *handles = g_array_new(FALSE, FALSE, sizeof(SimEventId));
    GPtrArray *keys = g_ptr_array_new();
    Rng rng;
    rng_stream(&rng, 12345, "engine-test");
    uint64_t seq = 0, next_id = 0, ran = 0, cancelled = 0, stale = 0;
    size_t most_queued = 0;
    GArray *live_timeouts = g_array_new(FALSE, FALSE, sizeof(guint)); /* indexes into handles */

    for (int op = 0; op < OPS; op++) {
        uint64_t r = rng_below(&rng, 100);
        if (r < (uint64_t)p_sched) {
            /* Times from a small range so that ties are common. */
            SimTime t = sim_now(sim) + (SimTime)rng_below(&rng, span);
            bool timeout = timeouts && rng_below(&rng, 2);
            if (timeout) {
                t += after;
                g_array_append_val(live_timeouts, handles->len);
            }
            SimEventId h = sim_at(sim, t, record, &log, next_id);
            RefKey *k = g_new(RefKey, 1);
            *k = (RefKey){ t, seq++, next_id++ };
            g_tree_insert(ref, k, k);
            g_array_append_val(handles, h);
            g_ptr_array_add(keys, k);
        } else if (r < (uint64_t)(p_sched + p_cancel) && handles->len) {
            guint i = (guint)rng_below(&rng, handles->len);
            if (timeouts && live_timeouts->len) {
                guint j = (guint)rng_below(&rng, live_timeouts->len);
                i = g_array_index(live_timeouts, guint, j);
                g_array_remove_index_fast(live_timeouts, j);
            }
            RefKey *k = g_ptr_array_index(keys, i);
            bool ok = sim_cancel(sim, g_array_index(handles, SimEventId, i));
            g_assert_cmpint(ok, ==, k != NULL);
            if (k) {
                g_tree_remove(ref, k);
                keys->pdata[i] = NULL;
                cancelled++;
            } else {
                stale++;
            }
        } else if (r < 72) {
            /* A handle never issued, or SIM_NO_EVENT: always refused. */
            g_assert_false(sim_cancel(sim, SIM_NO_EVENT));
            g_assert_false(sim_cancel(sim, rng_u64(&rng) | 1));
        } else {
            g_assert_cmpuint(sim_pending(sim), ==, (guint64)g_tree_nnodes(ref));
            if (!g_tree_nnodes(ref)) {
                g_assert_cmpint(sim_run(sim, SIM_TIME_MAX, 1, NULL), ==, SIM_DONE_EMPTY);
                continue;
            }
            RefKey *min = g_tree_node_key(g_tree_node_first(ref));
            g_assert_cmpint(sim_next_time(sim), ==, min->t);
            guint before = log.ran->len;
            g_assert_cmpint(sim_run(sim, SIM_TIME_MAX, 1, NULL), ==, SIM_DONE_MAX_EVENTS);
            g_assert_cmpuint(log.ran->len, ==, before + 1);
            g_assert_cmpuint(g_array_index(log.ran, uint64_t, before), ==, min->id);
            g_assert_cmpint(sim_now(sim), ==, min->t);
            keys->pdata[min->id] = NULL;
            g_tree_remove(ref, min);
            ran++;
        }
        size_t q = sim_queued(sim);
        most_queued = q > most_queued ? q : most_queued;
        /* Dead entries never outnumber live ones past the sweep's minimum. */
        g_assert_cmpuint(q, <=, 2 * sim_pending(sim) + 4096);
    }
    /* Drain: the rest comes out in reference order too. */
    while (g_tree_nnodes(ref)) {
        RefKey *min = g_tree_node_key(g_tree_node_first(ref));
        guint before = log.ran->len;
        sim_run(sim, SIM_TIME_MAX, 1, NULL);
        g_assert_cmpuint(g_array_index(log.ran, uint64_t, before), ==, min->id);
        g_tree_remove(ref, min);
        ran++;
    }
    g_assert_cmpint(sim_run(sim, SIM_TIME_MAX, 0, NULL), ==, SIM_DONE_EMPTY);
    g_assert_cmpuint(sim_pending(sim), ==, 0);
    /* The mix exercised every path. */
    g_assert_cmpuint(ran, >, 100000);
    g_assert_cmpuint(cancelled, >, 50000);
    g_assert_cmpuint(stale, >, 10000);
    if (timeouts) /* the sweep ran, on a heap large enough to need it */
        g_assert_cmpuint(most_queued, >, 4096);

    g_array_unref(live_timeouts);
    g_ptr_array_unref(keys);
    g_array_unref(handles);
    g_tree_unref(ref);
    g_array_unref(log.ran);
    sim_free(sim);
}

static void test_against_reference(void) { against_reference(50, 20, false, 64, 0); }
static void test_against_reference_timeouts(void) { against_reference(50, 30, true, 64, SIM_MS); }
/* Time-outs well past the heap's fence, with many ties among them. */
static void test_against_reference_far(void) { against_reference(50, 30, true, 64, 10 * SIM_SEC); }
/* Times spread wider than the fence's window, so that events keep
 * crossing it. */
static void test_against_reference_wide(void) { against_reference(50, 20, true, 300 * SIM_MS, 2 * SIM_SEC); }
/* Half the events for the current instant: they take the engine's FIFO,
 * mixed with heap events of the same instant scheduled before it. */
static void test_against_reference_now(void) { against_reference(50, 20, false, 2, 0); }

static void bump(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    (*(int *)ctx)++;
}

static void test_stop_time_and_cap(void)
{
    Sim *sim = sim_new();
    int n = 0;
    for (int i = 0; i < 10; i++)
        sim_at(sim, i * SIM_MS, bump, &n, 0);
    g_assert_cmpint(sim_run(sim, 4 * SIM_MS, 0, NULL), ==, SIM_DONE_STOP_TIME);
    g_assert_cmpint(n, ==, 5); /* events at exactly the stop time run */
    g_assert_cmpint(sim_run(sim, SIM_TIME_MAX, 2, NULL), ==, SIM_DONE_MAX_EVENTS);
    g_assert_cmpint(n, ==, 7);
    volatile sig_atomic_t flag = 1;
    g_assert_cmpint(sim_run(sim, SIM_TIME_MAX, 0, &flag), ==, SIM_DONE_STOPPED);
    g_assert_cmpint(n, ==, 7);
    g_assert_cmpint(sim_run(sim, SIM_TIME_MAX, 0, NULL), ==, SIM_DONE_EMPTY);
    g_assert_cmpint(n, ==, 10);
    g_assert_cmpuint(sim_events_run(sim), ==, 10);
    sim_free(sim);
}

static void cancel_self(Sim *sim, void *ctx, uint64_t arg)
{
    (void)arg;
    /* The running event's own handle is already stale. */
    g_assert_false(sim_cancel(sim, *(SimEventId *)ctx));
}

static void failing(Sim *sim, void *ctx, uint64_t arg)
{
    (void)ctx;
    (void)arg;
    sim_fail(sim, "broken %s", "invariant");
    sim_fail(sim, "second failure is not kept");
}

static void test_self_cancel_and_fail(void)
{
    Sim *sim = sim_new();
    SimEventId id = 0;
    id = sim_at(sim, 5, cancel_self, &id, 0);
    sim_at(sim, 7, failing, NULL, 0);
    int n = 0;
    sim_at(sim, 9, bump, &n, 0);
    g_assert_cmpint(sim_run(sim, SIM_TIME_MAX, 0, NULL), ==, SIM_DONE_STOPPED);
    g_assert_cmpstr(sim_failure(sim), ==, "at 7 ns: broken invariant");
    g_assert_cmpint(n, ==, 0);
    sim_free(sim);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/engine/against-reference", test_against_reference);
    g_test_add_func("/engine/against-reference-timeouts", test_against_reference_timeouts);
    g_test_add_func("/engine/against-reference-far", test_against_reference_far);
    g_test_add_func("/engine/against-reference-wide", test_against_reference_wide);
    g_test_add_func("/engine/against-reference-now", test_against_reference_now);
    g_test_add_func("/engine/stop-time-and-cap", test_stop_time_and_cap);
    g_test_add_func("/engine/self-cancel-and-fail", test_self_cancel_and_fail);
    return g_test_run();
}
