/* engine: a 4-ary min-heap of 16-byte (time, slot) entries over a pool of
 * event records.
 *
 * A record's generation, kept apart in a dense array, says whether its
 * event is live: odd from scheduling until the event runs or is cancelled,
 * even after.  Cancellation is lazy: it moves the generation on, so the
 * handle goes stale at once; the heap entry stays until it reaches the top,
 * and only then is the record freed.  Neither step reads the record, which
 * by then is usually out of cache (a 1,000-client part cancels a sixth of
 * the events it schedules, and its records span half a megabyte).  A record is
 * therefore never reused while an entry points at it, which lets the entry
 * leave out both generation and sequence number: the sequence number lives
 * in the record and is read only to break a tie in time.  Small entries
 * make the sifts, which are where the time goes in a large pending set,
 * move less memory.
 *
 * Models arm long time-outs and cancel nearly all of them (a request's
 * time-out when its response comes), so dead entries would pile up for a
 * whole time-out period and outnumber the live ones many times over.  When
 * they are more than a quarter of the heap, the heap is rebuilt without
 * them: the order events run in is fixed by (time, sequence) alone, so the
 * rebuild changes nothing a model can see.  (A quarter, not a half: the
 * rebuild is a sequential pass, while every dead entry deepens the sifts;
 * cachegrind, one 1,000-client part: 1% fewer last-level misses.)
 *
 * An event for the current instant (a third of a full-stack run's: request
 * completions, indications) skips the heap for a FIFO.  The order stays
 * (time, sequence): whatever the heap holds for this instant was scheduled
 * before the instant began, so before anything in the FIFO, and runs
 * first; the clock moves on only once the FIFO is empty.
 *
 * An event later than the heap's fence (at most FAR_WINDOW past the
 * earliest event when the fence was set) waits unsorted in the far list.
 * More than a quarter of the events a full-stack run schedules for later
 * are time-outs a second or more ahead (a request's, a retransmission's),
 * nearly all cancelled before they are due; in the far list they cost an
 * append and never enter the heap, which stays small and shallow.  When
 * the heap runs dry the fence moves on and whatever is live and within it
 * moves into the heap.  The heap holds every event up to the fence and the
 * far list only later ones, so the heap's top is still the earliest event:
 * the order is unchanged. */
#include "engine.h"

#include <glib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ARITY 4
#define FAR_WINDOW (100 * SIM_MS)

typedef struct {
    SimTime t;
    uint32_t slot;
} HeapEntry;

/* Four children, 64 bytes: a level of a sift reads about one cache line. */
G_STATIC_ASSERT(sizeof(HeapEntry) == 16);

typedef struct {
    SimHandler fn;
    void *ctx;
    uint64_t arg;
    uint64_t seq;   /* insertion order, for equal times */
} EventRecord;

#define NO_SLOT UINT32_MAX

struct Sim {
    SimTime now;
    uint64_t seq;
    uint64_t events_run;
    size_t live;         /* scheduled and not cancelled */
    bool stop;
    char *failure;

    HeapEntry *heap;     /* inside heap_mem: see heap_grow */
    void *heap_mem;
    size_t heap_len, heap_cap;

    HeapEntry *far;      /* events after `fence`, unsorted */
    size_t far_len, far_cap;
    SimTime fence;       /* the heap holds every event up to here */

    uint32_t *fifo;      /* slots of events at `now`, a ring of fifo_cap (a power of two) */
    size_t fifo_head, fifo_len, fifo_cap;

    EventRecord *rec;
    uint32_t *gen;       /* per record: odd while its event is live */
    uint32_t rec_len, rec_cap;
    uint32_t *free_slots; /* a stack: the last record freed is the next used */
    uint32_t n_free;
};

Sim *sim_new(void)
{
    Sim *sim = g_new0(Sim, 1);
    sim->fence = FAR_WINDOW;
    return sim;
}

void sim_free(Sim *sim)
{
    if (!sim)
        return;
    free(sim->heap_mem);
    g_free(sim->far);
    g_free(sim->fifo);
    g_free(sim->rec);
    g_free(sim->gen);
    g_free(sim->free_slots);
    g_free(sim->failure);
    g_free(sim);
}

SimTime sim_now(const Sim *sim) { return sim->now; }
uint64_t sim_events_run(const Sim *sim) { return sim->events_run; }
size_t sim_pending(const Sim *sim) { return sim->live; }
size_t sim_queued(const Sim *sim) { return sim->heap_len + sim->fifo_len + sim->far_len; }
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

static inline bool entry_less(const Sim *sim, const HeapEntry *a, const HeapEntry *b)
{
    if (a->t != b->t)
        return a->t < b->t;
    return sim->rec[a->slot].seq < sim->rec[b->slot].seq;
}

static inline void sift_up(const Sim *sim, HeapEntry *h, size_t i, HeapEntry x)
{
    while (i > 0) {
        size_t p = (i - 1) / ARITY;
        if (!entry_less(sim, &x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

/* The smallest of node i's children, or n when it has none.
 *
 * Which of four children is smallest is a coin toss for a branch
 * predictor: compared with branches, a pop mispredicted about six times
 * (callgrind's branch simulation, one 1,000-client part).  A node with all
 * four children picks by time with conditional moves instead, and takes
 * the general path only when two times it weighed are equal (about one
 * comparison in a hundred), where the sequence number must decide. */
static inline size_t min_child(const Sim *sim, const HeapEntry *h, size_t n, size_t i)
{
    size_t c = i * ARITY + 1;
    if (c >= n)
        return n;
    if (c + ARITY <= n) {
        SimTime t0 = h[c].t, t1 = h[c + 1].t, t2 = h[c + 2].t, t3 = h[c + 3].t;
        size_t a = t1 < t0 ? c + 1 : c;
        SimTime ta = t1 < t0 ? t1 : t0;
        size_t b = t3 < t2 ? c + 3 : c + 2;
        SimTime tb = t3 < t2 ? t3 : t2;
        bool tie = (t0 == t1) | (t2 == t3) | (ta == tb);
        if (__builtin_expect(!tie, 1))
            return tb < ta ? b : a;
    }
    size_t end = c + ARITY < n ? c + ARITY : n;
    size_t best = c;
    for (size_t k = c + 1; k < end; k++)
        if (entry_less(sim, &h[k], &h[best]))
            best = k;
    return best;
}

static inline void sift_down(const Sim *sim, HeapEntry *h, size_t n, size_t i, HeapEntry x)
{
    for (;;) {
        size_t best = min_child(sim, h, n, i);
        if (best == n || !entry_less(sim, &h[best], &x))
            break;
        h[i] = h[best];
        i = best;
    }
    h[i] = x;
}

/* The children of node i are entries 4i+1 .. 4i+4: 64 bytes, one cache
 * line, provided entry 1 starts a line.  So the array lives in a
 * line-aligned block, three entries in (ROOT_PAD), and a sift reads one
 * line a level, not two. */
#define LINE 64
#define ROOT_PAD (LINE / sizeof(HeapEntry) - 1)

static void heap_grow(Sim *sim)
{
    size_t cap = sim->heap_cap ? sim->heap_cap * 2 : 1024;
    void *mem = NULL;
    if (posix_memalign(&mem, LINE, (cap + ROOT_PAD) * sizeof(HeapEntry)) != 0)
        g_error("engine: out of memory for %zu pending events", cap);
    HeapEntry *heap = (HeapEntry *)mem + ROOT_PAD;
    if (sim->heap_len)
        memcpy(heap, sim->heap, sim->heap_len * sizeof(HeapEntry));
    free(sim->heap_mem);
    sim->heap_mem = mem;
    sim->heap = heap;
    sim->heap_cap = cap;
}

/* Remove the top.  The last entry, which must fill the gap, nearly always
 * belongs near the bottom, so the hole first walks down along the smaller
 * children to a leaf, and the last entry rises from there: a level costs
 * the three comparisons among four children, not a fourth against the
 * entry too (Floyd's bottom-up variant: a 1,000-client run spent 17% fewer
 * instructions popping).  The heap's shape differs, never the order events
 * leave it in, which (time, sequence) alone fixes. */
static void heap_pop(Sim *sim)
{
    HeapEntry last = sim->heap[--sim->heap_len];
    size_t n = sim->heap_len;
    if (!n)
        return;
    HeapEntry *h = sim->heap;
    size_t i = 0;
    for (size_t best; (best = min_child(sim, h, n, i)) < n; i = best)
        h[i] = h[best];
    sift_up(sim, h, i, last);
}

/* A free record, its generation moved on to odd: live. */
static uint32_t rec_alloc(Sim *sim)
{
    uint32_t s;
    if (sim->n_free) {
        s = sim->free_slots[--sim->n_free];
    } else {
        if (sim->rec_len == sim->rec_cap) {
            /* The record index must fit a handle's low 32 bits. */
            if (sim->rec_cap >= NO_SLOT / 2)
                g_error("engine: more than 2^31 pending events");
            sim->rec_cap = sim->rec_cap ? sim->rec_cap * 2 : 1024;
            sim->rec = g_renew(EventRecord, sim->rec, sim->rec_cap);
            sim->gen = g_renew(uint32_t, sim->gen, sim->rec_cap);
            sim->free_slots = g_renew(uint32_t, sim->free_slots, sim->rec_cap);
        }
        s = sim->rec_len++;
        sim->gen[s] = 0;
    }
    sim->gen[s]++;
    return s;
}

static inline bool is_live(const Sim *sim, uint32_t s) { return sim->gen[s] & 1; }

/* The event ran or was cancelled: every handle to it goes stale, and the
 * generation is even.  (It wraps from UINT32_MAX to 0, which is even and
 * names no handle, as SIM_NO_EVENT's is.) */
static inline void mark_dead(Sim *sim, uint32_t s) { sim->gen[s]++; }

/* Back to the free stack: only once the record's heap entry is gone. */
static inline void rec_free(Sim *sim, uint32_t s) { sim->free_slots[sim->n_free++] = s; }

static void fifo_push(Sim *sim, uint32_t slot)
{
    if (sim->fifo_len == sim->fifo_cap) {
        size_t cap = sim->fifo_cap ? sim->fifo_cap * 2 : 256;
        uint32_t *ring = g_new(uint32_t, cap);
        for (size_t i = 0; i < sim->fifo_len; i++)
            ring[i] = sim->fifo[(sim->fifo_head + i) & (sim->fifo_cap - 1)];
        g_free(sim->fifo);
        sim->fifo = ring;
        sim->fifo_cap = cap;
        sim->fifo_head = 0;
    }
    sim->fifo[(sim->fifo_head + sim->fifo_len++) & (sim->fifo_cap - 1)] = slot;
}

static inline uint32_t fifo_front(const Sim *sim) { return sim->fifo[sim->fifo_head]; }

static inline void fifo_pop(Sim *sim)
{
    sim->fifo_head = (sim->fifo_head + 1) & (sim->fifo_cap - 1);
    sim->fifo_len--;
}

static void heap_push(Sim *sim, HeapEntry e)
{
    if (sim->heap_len == sim->heap_cap)
        heap_grow(sim);
    sift_up(sim, sim->heap, sim->heap_len++, e);
}

static void far_push(Sim *sim, HeapEntry e)
{
    if (sim->far_len == sim->far_cap) {
        sim->far_cap = sim->far_cap ? sim->far_cap * 2 : 1024;
        sim->far = g_renew(HeapEntry, sim->far, sim->far_cap);
    }
    sim->far[sim->far_len++] = e;
}

/* Drop the cancelled entries of a[0..n), keeping the others in order, and
 * free their records; the count kept. */
static size_t drop_dead(Sim *sim, HeapEntry *a, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_live(sim, a[i].slot))
            a[kept++] = a[i];
        else
            rec_free(sim, a[i].slot);
    }
    return kept;
}

/* The heap is empty: move the fence to FAR_WINDOW past the earliest live
 * far event and bring every live far event up to it into the heap.  The
 * dead ones go, their records freed. */
static void refill(Sim *sim)
{
    size_t n = sim->far_len = drop_dead(sim, sim->far, sim->far_len);
    if (!n)
        return;
    SimTime first = SIM_TIME_MAX;
    for (size_t i = 0; i < n; i++)
        if (sim->far[i].t < first)
            first = sim->far[i].t;
    sim->fence = first > SIM_TIME_MAX - FAR_WINDOW ? SIM_TIME_MAX : first + FAR_WINDOW;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        HeapEntry e = sim->far[i];
        if (e.t <= sim->fence)
            heap_push(sim, e);
        else
            sim->far[kept++] = e;
    }
    sim->far_len = kept;
}

SimEventId sim_at(Sim *sim, SimTime t, SimHandler fn, void *ctx, uint64_t arg)
{
    g_assert(t >= sim->now && fn);
    uint32_t s = rec_alloc(sim);
    EventRecord *r = &sim->rec[s];
    r->fn = fn;
    r->ctx = ctx;
    r->arg = arg;
    r->seq = sim->seq++;
    sim->live++;
    if (t == sim->now) {
        fifo_push(sim, s);
        return ((uint64_t)sim->gen[s] << 32) | s;
    }

    HeapEntry e = { t, s };
    if (t > sim->fence)
        far_push(sim, e);
    else
        heap_push(sim, e);
    return ((uint64_t)sim->gen[s] << 32) | s;
}

SimEventId sim_after(Sim *sim, SimTime delay, SimHandler fn, void *ctx, uint64_t arg)
{
    g_assert(delay >= 0 && delay <= SIM_TIME_MAX - sim->now);
    return sim_at(sim, sim->now + delay, fn, ctx, arg);
}

/* Drop every cancelled entry of the FIFO (keeping its order), the far list
 * and the heap, and restore the heap order (Floyd's build). */
static void heap_compact(Sim *sim)
{
    size_t kept = 0;
    for (size_t i = 0; i < sim->fifo_len; i++) {
        uint32_t slot = sim->fifo[(sim->fifo_head + i) & (sim->fifo_cap - 1)];
        if (is_live(sim, slot))
            sim->fifo[(sim->fifo_head + kept++) & (sim->fifo_cap - 1)] = slot;
        else
            rec_free(sim, slot);
    }
    sim->fifo_len = kept;
    sim->far_len = drop_dead(sim, sim->far, sim->far_len);
    size_t n = sim->heap_len = drop_dead(sim, sim->heap, sim->heap_len);
    if (n < 2)
        return;
    for (size_t i = (n - 2) / ARITY + 1; i-- > 0;)
        sift_down(sim, sim->heap, n, i, sim->heap[i]);
}

#define COMPACT_MIN 4096 /* below this, dead entries cost less than a rebuild */

bool sim_cancel(Sim *sim, SimEventId id)
{
    uint32_t s = (uint32_t)id;
    uint32_t gen = (uint32_t)(id >> 32);
    if (!(gen & 1) || s >= sim->rec_len || sim->gen[s] != gen)
        return false;
    mark_dead(sim, s);
    sim->live--;
    size_t queued = sim_queued(sim);
    if (queued >= COMPACT_MIN && queued - sim->live > queued / 4)
        heap_compact(sim);
    return true;
}

/* Drop cancelled entries from the front of the FIFO and the top of the
 * heap, refilling the heap from the far list when it runs dry, so that each
 * front, if any, is live and the heap is empty only if the far list is. */
static void skip_cancelled(Sim *sim)
{
    while (sim->fifo_len && !is_live(sim, fifo_front(sim))) {
        uint32_t s = fifo_front(sim);
        fifo_pop(sim);
        rec_free(sim, s);
    }
    for (;;) {
        while (sim->heap_len && !is_live(sim, sim->heap[0].slot)) {
            uint32_t s = sim->heap[0].slot;
            heap_pop(sim);
            rec_free(sim, s);
        }
        if (sim->heap_len || !sim->far_len)
            return;
        refill(sim);
    }
}

SimTime sim_next_time(Sim *sim)
{
    skip_cancelled(sim);
    if (sim->fifo_len)
        return sim->now;
    return sim->heap_len ? sim->heap[0].t : SIM_TIME_MAX;
}

/* Run the event in slot (already off its queue) at time t. */
static inline void run_slot(Sim *sim, uint32_t slot, SimTime t)
{
    EventRecord *r = &sim->rec[slot];
    SimHandler fn = r->fn;
    void *ctx = r->ctx;
    uint64_t arg = r->arg;
    mark_dead(sim, slot);
    rec_free(sim, slot);
    sim->live--;
    sim->now = t;
    sim->events_run++;
    fn(sim, ctx, arg);
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
        if (!sim->heap_len && sim->far_len)
            refill(sim);
        if (sim->fifo_len && (!sim->heap_len || sim->heap[0].t > sim->now) && sim->now <= stop) {
            uint32_t slot = fifo_front(sim);
            fifo_pop(sim);
            if (!is_live(sim, slot)) {
                rec_free(sim, slot); /* cancelled */
                continue;
            }
            ran++;
            run_slot(sim, slot, sim->now);
            continue;
        }
        if (!sim->heap_len && !sim->fifo_len)
            return SIM_DONE_EMPTY;
        HeapEntry top = sim->heap_len ? sim->heap[0] : (HeapEntry){ sim->now, 0 };
        if (!sim->heap_len || top.t > stop) {
            /* Everything left is later than stop; only cancelled entries
             * would make "empty" the true answer. */
            skip_cancelled(sim);
            return sim->heap_len || sim->fifo_len ? SIM_DONE_STOP_TIME : SIM_DONE_EMPTY;
        }
        /* The record and its generation are cache misses in a large
         * pending set; so is the pop.  Ask for them first so that the
         * misses overlap, and ask for the next event's as soon as it is on
         * top, so that they arrive while this handler runs. */
        __builtin_prefetch(&sim->rec[top.slot]);
        __builtin_prefetch(&sim->gen[top.slot]);
        heap_pop(sim);
        if (sim->heap_len) {
            __builtin_prefetch(&sim->rec[sim->heap[0].slot]);
            __builtin_prefetch(&sim->gen[sim->heap[0].slot]);
        }
        if (!is_live(sim, top.slot)) {
            rec_free(sim, top.slot); /* cancelled */
            continue;
        }
        ran++;
        run_slot(sim, top.slot, top.t);
    }
}
