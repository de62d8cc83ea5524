/* sim/ranges against a byte-per-byte reference, and the coherence
 * oracle's verdicts: each kind of violation is caught, the documented
 * break window is excused, and nothing else is. */
#include <glib.h>
#include <string.h>

#include "coherence.h"
#include "ranges.h"
#include "rng.h"

#define SPAN 96

typedef struct {
    bool set;
    uint64_t stamp, aux;
} Byte;

static void check_same(const GArray *r, const Byte *ref)
{
    Byte got[SPAN] = { { 0 } };
    uint64_t last_end = 0;
    for (guint i = 0; i < r->len; i++) {
        const Range *e = &g_array_index(r, Range, i);
        g_assert_cmpuint(e->start, <, e->end); /* no empty ranges */
        g_assert_cmpuint(e->start, >=, last_end); /* sorted, disjoint */
        last_end = e->end;
        for (uint64_t b = e->start; b < e->end && b < SPAN; b++)
            got[b] = (Byte){ true, e->stamp, e->aux };
    }
    for (int b = 0; b < SPAN; b++) {
        g_assert_cmpint(got[b].set, ==, ref[b].set);
        if (ref[b].set) {
            g_assert_cmpuint(got[b].stamp, ==, ref[b].stamp);
            g_assert_cmpuint(got[b].aux, ==, ref[b].aux);
        }
    }
}

static void test_ranges_reference(void)
{
    Rng rng;
    rng_stream(&rng, 7, "ranges");
    GArray *r = ranges_new();
    Byte ref[SPAN] = { { 0 } };
    for (int step = 0; step < 20000; step++) {
        uint64_t a = rng_below(&rng, SPAN), b = rng_below(&rng, SPAN);
        uint64_t lo = MIN(a, b), hi = MAX(a, b) + 1;
        Range n = { lo, hi, (uint64_t)step + 1, rng_below(&rng, 2) };
        switch (rng_below(&rng, 6)) {
        case 0:
        case 1:
            ranges_put(r, n);
            for (uint64_t i = lo; i < hi; i++)
                ref[i] = (Byte){ true, n.stamp, n.aux };
            break;
        case 2:
            ranges_fill(r, n);
            for (uint64_t i = lo; i < hi; i++)
                if (!ref[i].set)
                    ref[i] = (Byte){ true, n.stamp, n.aux };
            break;
        case 3:
            ranges_cut(r, lo, hi);
            for (uint64_t i = lo; i < hi; i++)
                ref[i].set = false;
            break;
        case 4:
            if (step % 50 == 0) {
                ranges_trim(r, lo);
                for (uint64_t i = lo; i < SPAN; i++)
                    ref[i].set = false;
            }
            break;
        default: {
            GArray *s = ranges_slice(r, lo, hi);
            Byte want[SPAN] = { { 0 } };
            for (uint64_t i = lo; i < hi; i++)
                want[i] = ref[i];
            check_same(s, want);
            bool all = true;
            for (uint64_t i = lo; i < hi; i++)
                all = all && ref[i].set;
            g_assert_cmpint(ranges_cover(r, lo, hi), ==, all);
            const Range *at = ranges_at(r, lo);
            g_assert_cmpint(at != NULL, ==, ref[lo].set);
            if (at)
                g_assert_cmpuint(at->stamp, ==, ref[lo].stamp);
            g_array_unref(s);
        }
        }
        check_same(r, ref);
    }
    g_array_unref(r);
}

/* Ranges of one stamp each, for a read's result. */
static GArray *got_of(uint64_t start, uint64_t end, uint64_t stamp)
{
    GArray *g = ranges_new();
    Range n = { start, end, stamp, 0 };
    ranges_put(g, n);
    return g;
}

static const char *F = "\\srv\\share\\f";

static GPtrArray *no_stores(void *ctx, const char *file, uint64_t start, uint64_t end)
{
    (void)ctx, (void)file, (void)start, (void)end;
    return NULL;
}

/* The server returned bytes older than an acknowledged write. */
/* A stale read is no violation when the write that superseded it is
 * reported lost, even after the read (its client had acknowledged it from
 * a cache the server no longer backed). */
static void test_stale_read_of_lost_write(void)
{
    Coherence *c = coh_new();
    uint64_t w1 = coh_stamp(c);
    coh_acked(c, F, 0, 100, w1);
    uint64_t w2 = coh_stamp(c);
    coh_acked(c, F, 0, 100, w2);
    uint64_t epoch;
    GArray *want = coh_expect(c, F, 0, 100, &epoch);
    GArray *old = got_of(0, 100, w1);
    coh_judge_read(c, "c2", F, want, epoch, old, 10, false);
    coh_lost(c, F, 0, 100); /* w2 never reached the server, and its application is told */
    g_assert_true(coh_check_end(c, no_stores, NULL));
    g_assert_null(coh_violation(c));
    g_array_unref(want);
    g_array_unref(old);
    coh_free(c);
}

static void test_stale_server_read(void)
{
    Coherence *c = coh_new();
    uint64_t w1 = coh_stamp(c);
    coh_acked(c, F, 0, 100, w1);
    uint64_t w2 = coh_stamp(c); /* issued after w1 was acknowledged: it supersedes w1 */
    coh_acked(c, F, 50, 100, w2);
    uint64_t epoch;
    GArray *want = coh_expect(c, F, 0, 100, &epoch);
    GArray *ok = ranges_new();
    Range a = { 0, 50, w1, 0 }, b = { 50, 100, w2, 0 };
    ranges_put(ok, a);
    ranges_put(ok, b);
    coh_judge_read(c, "c1", F, want, epoch, ok, 10, false);
    g_assert_null(coh_violation(c));
    GArray *newer = got_of(0, 100, w2 + 5); /* newer than asked: fine */
    coh_judge_read(c, "c1", F, want, epoch, newer, 10, false);
    g_assert_null(coh_violation(c));
    GArray *old = got_of(0, 100, w1); /* bytes 50.. are w1's: stale */
    coh_judge_read(c, "c1", F, want, epoch, old, 10, false);
    /* judged at the end: the superseding write might yet be reported lost */
    g_assert_null(coh_violation(c));
    g_assert_false(coh_check_end(c, no_stores, NULL));
    g_assert_nonnull(coh_violation(c));
    g_assert_nonnull(strstr(coh_violation(c), "bytes 50..100 of write #1"));
    g_array_unref(want);
    g_array_unref(ok);
    g_array_unref(newer);
    g_array_unref(old);
    coh_free(c);
}


/* A stale cache read: excused by a break sent before it began, a
 * violation when the break was sent after it or never arrives. */
static void test_break_window(void)
{
    for (int kase = 0; kase < 3; kase++) {
        Coherence *c = coh_new();
        uint64_t w1 = coh_stamp(c);
        coh_acked(c, F, 0, 10, w1);
        uint64_t w2 = coh_stamp(c);
        coh_acked(c, F, 0, 10, w2);
        uint64_t epoch;
        GArray *want = coh_expect(c, F, 0, 10, &epoch);
        GArray *old = got_of(0, 10, w1);
        coh_judge_read(c, "c1", F, want, epoch, old, 1000, true);
        g_assert_null(coh_violation(c)); /* a suspect, not yet a verdict */
        coh_break_arrived(c, "c2", F, 10); /* another node's break settles nothing */
        if (kase == 0)
            coh_break_arrived(c, "c1", F, 900); /* sent before the read: the window */
        else if (kase == 1)
            coh_break_arrived(c, "c1", F, 1100); /* sent after the read: no excuse */
        coh_check_end(c, no_stores, NULL); /* case 2: never arrived */
        if (kase == 0)
            g_assert_null(coh_violation(c));
        else
            g_assert_nonnull(coh_violation(c));
        g_array_unref(want);
        g_array_unref(old);
        coh_free(c);
    }
}

typedef struct {
    GArray *server, *dirty;
} Stores;

static GPtrArray *stores_of(void *ctx, const char *file, uint64_t start, uint64_t end)
{
    (void)file;
    Stores *s = ctx;
    if (!s->server)
        return NULL;
    GPtrArray *p = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    g_ptr_array_add(p, ranges_slice(s->server, start, end));
    g_ptr_array_add(p, ranges_slice(s->dirty, start, end));
    return p;
}

/* An acknowledged write must end on the server or dirty in a cache,
 * unless its loss was reported or the file is gone. */
static void test_lost_writes(void)
{
    for (int kase = 0; kase < 5; kase++) {
        Coherence *c = coh_new();
        uint64_t w1 = coh_stamp(c);
        coh_acked(c, F, 0, 20, w1);
        uint64_t w2 = coh_stamp(c);
        coh_acked(c, F, 10, 20, w2);
        Stores s = { ranges_new(), ranges_new() };
        Range on_server = { 0, 20, w1, 0 }, in_cache = { 10, 20, w2, 1 };
        ranges_put(s.server, on_server);
        if (kase == 1)
            ranges_put(s.dirty, in_cache); /* not written back yet: not lost */
        if (kase == 2)
            coh_lost(c, F, 10, 20); /* its application was told */
        if (kase == 3) {
            g_array_unref(s.server);
            s.server = NULL; /* the share was deleted */
        }
        if (kase == 4)
            coh_truncate(c, F, 10); /* the file was cut before it */
        bool ok = coh_check_end(c, stores_of, &s);
        g_assert_cmpint(ok, ==, kase != 0);
        if (kase == 0)
            g_assert_nonnull(strstr(coh_violation(c), "write #2"));
        if (s.server)
            g_array_unref(s.server);
        g_array_unref(s.dirty);
        coh_free(c);
    }
}

/* Writes that overlap in time may land in either order: after both were
 * acknowledged a read may return either, and the server may keep either;
 * but not a write that a later-issued, acknowledged one superseded. */
static void test_concurrent_writes(void)
{
    Coherence *c = coh_new();
    uint64_t w1 = coh_stamp(c), w2 = coh_stamp(c); /* both in flight */
    coh_acked(c, F, 0, 10, w2);
    coh_acked(c, F, 0, 10, w1); /* w1's answer came last */
    uint64_t epoch;
    GArray *want = coh_expect(c, F, 0, 10, &epoch);
    g_assert_cmpuint(g_array_index(want, Range, 0).stamp, ==, w2); /* the latest issued */
    GArray *one = got_of(0, 10, w1), *two = got_of(0, 10, w2);
    coh_judge_read(c, "c1", F, want, epoch, one, 5, false);
    coh_judge_read(c, "c1", F, want, epoch, two, 5, false);
    g_assert_null(coh_violation(c));
    Stores s = { got_of(0, 10, w1), ranges_new() };
    g_assert_true(coh_check_end(c, stores_of, &s));
    uint64_t w3 = coh_stamp(c); /* issued after both: supersedes them */
    coh_acked(c, F, 0, 10, w3);
    g_assert_false(coh_check_end(c, stores_of, &s));
    g_array_unref(s.server);
    g_array_unref(s.dirty);
    g_array_unref(want);
    g_array_unref(one);
    g_array_unref(two);
    coh_free(c);
}

/* A read across a truncation or rename is not judged; a rename carries
 * the file's acknowledged data along. */
static void test_epochs(void)
{
    Coherence *c = coh_new();
    uint64_t w1 = coh_stamp(c);
    coh_acked(c, F, 0, 10, w1);
    uint64_t epoch;
    GArray *want = coh_expect(c, F, 0, 10, &epoch);
    coh_truncate(c, F, 0);
    GArray *zero = got_of(0, 10, 0);
    coh_judge_read(c, "c1", F, want, epoch, zero, 5, false);
    g_assert_null(coh_violation(c));
    coh_acked(c, F, 0, 10, w1);
    coh_rename(c, F, "\\srv\\share\\g");
    g_array_unref(want);
    want = coh_expect(c, "\\srv\\share\\g", 0, 10, &epoch);
    g_assert_cmpuint(want->len, ==, 1);
    g_assert_cmpuint(g_array_index(want, Range, 0).stamp, ==, w1);
    g_array_unref(want);
    want = coh_expect(c, F, 0, 10, &epoch);
    g_assert_cmpuint(want->len, ==, 0);
    g_array_unref(want);
    g_array_unref(zero);
    coh_free(c);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ranges/reference", test_ranges_reference);
    g_test_add_func("/coherence/stale-server-read", test_stale_server_read);
    g_test_add_func("/coherence/stale-read-of-lost-write", test_stale_read_of_lost_write);
    g_test_add_func("/coherence/break-window", test_break_window);
    g_test_add_func("/coherence/lost-writes", test_lost_writes);
    g_test_add_func("/coherence/epochs", test_epochs);
    g_test_add_func("/coherence/concurrent-writes", test_concurrent_writes);
    return g_test_run();
}
