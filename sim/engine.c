/* engine: a 4-ary min-heap of small (time, seq, slot, gen) entries over a
 * pool of event records.
 *
 * Cancellation is lazy: cancelling frees the record at once (its generation
 * moves on) and leaves the heap entry behind; the entry is recognised as
 * stale by its generation when it reaches the top and is dropped.  That
 * makes cancel O(1) and keeps every heap move a 24-byte copy with no back
 * pointer to update, which is what the timer-heavy models want. */
#include "engine.h"

#include <glib.h>
#include <stdarg.h>
#include <stdlib.h>

#define ARITY 4

typedef struct {
    SimTime t;
    uint64_t seq;
    uint32_t slot;
    uint32_t gen;
} HeapEntry;

typedef struct {
    SimHandler fn;
    void *ctx;
    uint64_t arg;
    uint32_t gen;       /* bumped whenever the record is freed */
    uint32_t next_free; /* free-list link, valid while free */
} EventRecord;

#define NO_SLOT UINT32_MAX

struct Sim {
    SimTime now;
    uint64_t seq;
    uint64_t events_run;
    size_t live;         /* scheduled and not cancelled */
    bool stop;
    char *failure;

    HeapEntry *heap;
    size_t heap_len, heap_cap;

    EventRecord *rec;
    uint32_t rec_len, rec_cap;
    uint32_t free_head;
};

Sim *sim_new(void)
{
    Sim *sim = g_new0(Sim, 1);
    sim->free_head = NO_SLOT;
    return sim;
}

void sim_free(Sim *sim)
{
    if (!sim)
        return;
    g_free(sim->heap);
    g_free(sim->rec);
    g_free(sim->failure);
    g_free(sim);
}

SimTime sim_now(const Sim *sim) { return sim->now; }
uint64_t sim_events_run(const Sim *sim) { return sim->events_run; }
size_t sim_pending(const Sim *sim) { return sim->live; }
void sim_stop(Sim *sim) { sim->stop = true; }
const char *sim_failure(const Sim *sim) { return sim->failure; }

void sim_fail(Sim *sim, const char *fmt, ...)
{
    if (!sim->failure) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        sim->failure = g_strdup_printf("at %lld ns: %s", (long long)sim->now, msg);
        g_free(msg);
    }
    sim->stop = true;
}

static inline bool entry_less(const HeapEntry *a, const HeapEntry *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static inline void sift_up(HeapEntry *h, size_t i, HeapEntry x)
{
    while (i > 0) {
        size_t p = (i - 1) / ARITY;
        if (!entry_less(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static inline void sift_down(HeapEntry *h, size_t n, size_t i, HeapEntry x)
{
    for (;;) {
        size_t c = i * ARITY + 1;
        if (c >= n)
            break;
        size_t end = c + ARITY < n ? c + ARITY : n;
        size_t best = c;
        for (size_t k = c + 1; k < end; k++)
            if (entry_less(&h[k], &h[best]))
                best = k;
        if (!entry_less(&h[best], &x))
            break;
        h[i] = h[best];
        i = best;
    }
    h[i] = x;
}

static void heap_pop(Sim *sim)
{
    HeapEntry last = sim->heap[--sim->heap_len];
    if (sim->heap_len)
        sift_down(sim->heap, sim->heap_len, 0, last);
}

static uint32_t rec_alloc(Sim *sim)
{
    if (sim->free_head != NO_SLOT) {
        uint32_t s = sim->free_head;
        sim->free_head = sim->rec[s].next_free;
        return s;
    }
    if (sim->rec_len == sim->rec_cap) {
        /* The record index must fit a handle's low 32 bits. */
        if (sim->rec_cap >= NO_SLOT / 2)
            g_error("engine: more than 2^31 pending events");
        sim->rec_cap = sim->rec_cap ? sim->rec_cap * 2 : 1024;
        sim->rec = g_renew(EventRecord, sim->rec, sim->rec_cap);
    }
    uint32_t s = sim->rec_len++;
    sim->rec[s].gen = 1;
    return s;
}

static inline void rec_free(Sim *sim, uint32_t s)
{
    EventRecord *r = &sim->rec[s];
    r->gen = r->gen == UINT32_MAX ? 1 : r->gen + 1; /* generation 0 never names a live record */
    r->next_free = sim->free_head;
    sim->free_head = s;
}

SimEventId sim_at(Sim *sim, SimTime t, SimHandler fn, void *ctx, uint64_t arg)
{
    g_assert(t >= sim->now);
    uint32_t s = rec_alloc(sim);
    EventRecord *r = &sim->rec[s];
    r->fn = fn;
    r->ctx = ctx;
    r->arg = arg;

    if (sim->heap_len == sim->heap_cap) {
        sim->heap_cap = sim->heap_cap ? sim->heap_cap * 2 : 1024;
        sim->heap = g_renew(HeapEntry, sim->heap, sim->heap_cap);
    }
    HeapEntry e = { t, sim->seq++, s, r->gen };
    sift_up(sim->heap, sim->heap_len++, e);
    sim->live++;
    return ((uint64_t)r->gen << 32) | s;
}

SimEventId sim_after(Sim *sim, SimTime delay, SimHandler fn, void *ctx, uint64_t arg)
{
    g_assert(delay >= 0 && delay <= SIM_TIME_MAX - sim->now);
    return sim_at(sim, sim->now + delay, fn, ctx, arg);
}

bool sim_cancel(Sim *sim, SimEventId id)
{
    uint32_t s = (uint32_t)id;
    uint32_t gen = (uint32_t)(id >> 32);
    if (gen == 0 || s >= sim->rec_len || sim->rec[s].gen != gen)
        return false;
    rec_free(sim, s);
    sim->live--;
    return true;
}

/* Drop stale entries from the top so that heap[0], if any, is live. */
static inline void skip_stale(Sim *sim)
{
    while (sim->heap_len && sim->rec[sim->heap[0].slot].gen != sim->heap[0].gen)
        heap_pop(sim);
}

SimTime sim_next_time(Sim *sim)
{
    skip_stale(sim);
    return sim->heap_len ? sim->heap[0].t : SIM_TIME_MAX;
}

SimDone sim_run(Sim *sim, SimTime stop, uint64_t max_events,
                volatile sig_atomic_t *interrupt)
{
    uint64_t ran = 0;
    sim->stop = false;
    for (;;) {
        if (sim->stop || (interrupt && *interrupt))
            return SIM_DONE_STOPPED;
        if (max_events && ran >= max_events)
            return SIM_DONE_MAX_EVENTS;
        skip_stale(sim);
        if (!sim->heap_len)
            return SIM_DONE_EMPTY;
        HeapEntry top = sim->heap[0];
        if (top.t > stop)
            return SIM_DONE_STOP_TIME;
        heap_pop(sim);

        EventRecord *r = &sim->rec[top.slot];
        SimHandler fn = r->fn;
        void *ctx = r->ctx;
        uint64_t arg = r->arg;
        rec_free(sim, top.slot);
        sim->live--;

        sim->now = top.t;
        sim->events_run++;
        ran++;
        fn(sim, ctx, arg);
    }
}
