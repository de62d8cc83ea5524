#include "latency.h"

#include <glib.h>
#include <stdbool.h>
#include <math.h>
#include <string.h>

#include "ntstatus.h"
#include "stats.h"

/* Log-linear buckets: values below 128 exactly, above that 128 buckets
 * for each power of two (the top 7 bits of the value after its leading 1),
 * so a bucket's lower bound is within 1/128 of any value in it. */
#define SUB_BITS 7
#define SUB (1 << SUB_BITS)
#define N_BUCKETS (SUB + (63 - SUB_BITS) * SUB)

typedef struct {
    uint64_t n;
    int64_t max;
    int64_t *exact;    /* the first LATENCY_EXACT samples; NULL once bucketed */
    uint32_t *buckets; /* N_BUCKETS counts, after that */
} Hist;

typedef struct {
    uint32_t f, a, b, c;
} Key;

typedef struct {
    Key key;
    uint64_t n[LAT_N_OUTCOMES];
    Hist done;
} Entry;

/* Kinds are few and each operation looks its own up: a small direct-mapped
 * cache in front of the table keeps that to a compare. */
#define CACHE_SLOTS 64

struct Latencies {
    GHashTable *entries; /* Key* (inside the Entry) -> Entry* */
    Entry *cache[CACHE_SLOTS];
};

static guint key_hash(gconstpointer p)
{
    const Key *k = p;
    uint64_t h = ((uint64_t)k->f << 56) ^ ((uint64_t)k->a * 0x9E3779B97F4A7C15u) ^ ((uint64_t)k->b << 21) ^
                 ((uint64_t)k->c << 42);
    return (guint)(h ^ (h >> 29));
}

static gboolean key_equal(gconstpointer x, gconstpointer y) { return memcmp(x, y, sizeof(Key)) == 0; }

static void entry_free(gpointer p)
{
    Entry *e = p;
    g_free(e->done.exact);
    g_free(e->done.buckets);
    g_free(e);
}

Latencies *latencies_new(void)
{
    Latencies *l = g_new0(Latencies, 1);
    l->entries = g_hash_table_new_full(key_hash, key_equal, NULL, entry_free);
    return l;
}

void latencies_free(Latencies *l)
{
    if (!l)
        return;
    g_hash_table_unref(l->entries);
    g_free(l);
}

static unsigned bucket_of(int64_t v)
{
    if (v < SUB)
        return (unsigned)(v < 0 ? 0 : v);
    int e = 63 - __builtin_clzll((unsigned long long)v);
    return (unsigned)(SUB + (e - SUB_BITS) * SUB + (int)((v >> (e - SUB_BITS)) - SUB));
}

static int64_t bucket_low(unsigned i)
{
    if (i < SUB)
        return i;
    unsigned e = (i - SUB) / SUB + SUB_BITS, sub = (i - SUB) % SUB;
    return (int64_t)(SUB + sub) << (e - SUB_BITS);
}

static void hist_add_n(Hist *h, int64_t v, uint64_t times)
{
    if (h->n == 0 || v > h->max)
        h->max = v;
    for (uint64_t t = 0; t < times; t++) {
        if (!h->buckets && h->n < LATENCY_EXACT) {
            if (!h->exact)
                h->exact = g_new(int64_t, LATENCY_EXACT);
            h->exact[h->n++] = v;
            continue;
        }
        if (!h->buckets) { /* the exact samples go into buckets once */
            h->buckets = g_new0(uint32_t, N_BUCKETS);
            for (uint64_t i = 0; i < h->n; i++)
                h->buckets[bucket_of(h->exact[i])]++;
            g_free(h->exact);
            h->exact = NULL;
        }
        h->buckets[bucket_of(v)]++;
        h->n++;
    }
}

static void hist_merge(Hist *into, const Hist *from)
{
    if (from->exact) {
        for (uint64_t i = 0; i < from->n; i++)
            hist_add_n(into, from->exact[i], 1);
        return;
    }
    if (!from->buckets)
        return;
    for (unsigned i = 0; i < N_BUCKETS; i++)
        if (from->buckets[i])
            hist_add_n(into, bucket_low(i), from->buckets[i]);
    if (from->max > into->max) /* the exact maximum, not its bucket's bound */
        into->max = from->max;
}

/* Nearest rank, as stats_quantile. */
static double hist_quantile(const Hist *h, double q)
{
    if (h->n == 0)
        return NAN;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank == 0)
        rank = 1;
    if (h->exact) {
        double *v = g_new(double, h->n);
        for (uint64_t i = 0; i < h->n; i++)
            v[i] = (double)h->exact[i];
        stats_sort(v, h->n);
        double r = v[rank - 1];
        g_free(v);
        return r;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < N_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank)
            return (double)MIN(bucket_low(i), h->max);
    }
    return (double)h->max;
}

static Entry *entry(Latencies *l, Key k)
{
    Entry **slot = &l->cache[(k.f * 31u + k.a * 7u + k.b * 3u + k.c) % CACHE_SLOTS];
    if (*slot && key_equal(&(*slot)->key, &k))
        return *slot;
    Entry *e = g_hash_table_lookup(l->entries, &k);
    if (!e) {
        e = g_new0(Entry, 1);
        e->key = k;
        g_hash_table_insert(l->entries, &e->key, e);
    }
    *slot = e;
    return e;
}

void latencies_add(Latencies *l, LatFamily f, uint32_t a, LatOutcome o, int64_t ns)
{
    Entry *e = entry(l, (Key){ f, a, 0, 0 });
    e->n[o]++;
    if (o == LAT_DONE)
        hist_add_n(&e->done, ns, 1);
}

void latencies_add_break(Latencies *l, uint32_t from, uint32_t to, uint32_t outcome, int64_t ns)
{
    Entry *e = entry(l, (Key){ LAT_BREAK, from, to, outcome });
    e->n[LAT_DONE]++;
    if (ns >= 0)
        hist_add_n(&e->done, ns, 1);
}

/* STATUS_IO_TIMEOUT is what a redirector's request time-out gives the
 * application; STATUS_REQUEST_TIMED_OUT is TDI's; STATUS_LINK_TIMEOUT a
 * transport's. */
LatOutcome latency_outcome_of_status(uint32_t st)
{
    switch (st) {
    case STATUS_PENDING:
        return LAT_PENDING;
    case STATUS_IO_TIMEOUT:
    case STATUS_REQUEST_TIMED_OUT:
    case STATUS_LINK_TIMEOUT:
        return LAT_TIMED_OUT;
    case STATUS_CANCELLED:
        return LAT_CANCELLED;
    default:
        return LAT_DONE;
    }
}

void latencies_merge(Latencies *into, const Latencies *from, LatNameOf from_name, void *from_ctx, LatIdOf into_id,
                     void *into_ctx)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, from->entries);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const Entry *src = v;
        Key key = src->key;
        key.a = into_id(into_ctx, from_name(from_ctx, key.a));
        if (key.f == LAT_BREAK) {
            key.b = into_id(into_ctx, from_name(from_ctx, key.b));
            key.c = into_id(into_ctx, from_name(from_ctx, key.c));
        }
        Entry *dst = entry(into, key);
        for (int o = 0; o < LAT_N_OUTCOMES; o++)
            dst->n[o] += src->n[o];
        hist_merge(&dst->done, &src->done);
    }
}

/* ---- the metrics ---- */

/* What one kind adds up to, over the entries that name it. */
typedef struct {
    uint64_t n[LAT_N_OUTCOMES];
    uint64_t no_ack; /* breaks that needed no acknowledgement */
    Hist done;
    bool is_break, is_op;
} Kind;

static void kind_free(gpointer p)
{
    Kind *k = p;
    g_free(k->done.exact);
    g_free(k->done.buckets);
    g_free(k);
}

static const char *const family_name[] = { "op", "break", "disconnect", "http" };

void latencies_write(const Latencies *l, LatNameOf name_of, void *ctx,
                     void (*emit)(void *ctx, const char *name, double value), void *emit_ctx)
{
    GHashTable *kinds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, kind_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, l->entries);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const Entry *e = v;
        char *name = e->key.f == LAT_BREAK
                         ? g_strdup_printf("break.%s_to_%s", name_of(ctx, e->key.a), name_of(ctx, e->key.b))
                         : g_strdup_printf("%s.%s", family_name[e->key.f], name_of(ctx, e->key.a));
        Kind *kd = g_hash_table_lookup(kinds, name);
        if (!kd) {
            kd = g_new0(Kind, 1);
            kd->is_break = e->key.f == LAT_BREAK;
            kd->is_op = e->key.f == LAT_OP;
            g_hash_table_insert(kinds, name, kd);
        } else {
            g_free(name);
        }
        if (e->key.f == LAT_BREAK) {
            /* the outcomes models/server.c writes: acked, closed, timeout,
             * none_needed, pending */
            const char *out = name_of(ctx, e->key.c);
            uint64_t n = e->n[LAT_DONE];
            if (strcmp(out, "timeout") == 0)
                kd->n[LAT_TIMED_OUT] += n;
            else if (strcmp(out, "pending") == 0)
                kd->n[LAT_PENDING] += n;
            else if (strcmp(out, "none_needed") == 0)
                kd->no_ack += n;
            else
                kd->n[LAT_DONE] += e->done.n;
        } else {
            for (int o = 0; o < LAT_N_OUTCOMES; o++)
                kd->n[o] += e->n[o];
        }
        hist_merge(&kd->done, &e->done);
    }
    GList *names = g_list_sort(g_hash_table_get_keys(kinds), (GCompareFunc)strcmp);
    for (GList *n = names; n; n = n->next) {
        const char *base = n->data;
        const Kind *kd = g_hash_table_lookup(kinds, base);
        uint64_t all = kd->n[LAT_DONE] + kd->n[LAT_TIMED_OUT] + kd->n[LAT_CANCELLED] + kd->n[LAT_PENDING];
        struct {
            const char *what;
            double value;
            bool when;
        } rows[] = {
            { "count", (double)kd->n[LAT_DONE], true },
            { "p50_ns", hist_quantile(&kd->done, 0.50), kd->done.n > 0 },
            { "p95_ns", hist_quantile(&kd->done, 0.95), kd->done.n > 0 },
            { "p99_ns", hist_quantile(&kd->done, 0.99), kd->done.n > 0 },
            { "max_ns", (double)kd->done.max, kd->done.n > 0 },
            { "timed_out", (double)kd->n[LAT_TIMED_OUT], true },
            { "timed_out_share", all ? (double)kd->n[LAT_TIMED_OUT] / (double)all : 0, true },
            { "cancelled", (double)kd->n[LAT_CANCELLED], kd->is_op },
            { "cancelled_share", all ? (double)kd->n[LAT_CANCELLED] / (double)all : 0, kd->is_op },
            { "pending", (double)kd->n[LAT_PENDING], true },
            { "pending_share", all ? (double)kd->n[LAT_PENDING] / (double)all : 0, true },
            { "no_ack", (double)kd->no_ack, kd->is_break },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
            if (!rows[i].when)
                continue;
            char *m = g_strdup_printf("%s.%s", base, rows[i].what);
            emit(emit_ctx, m, rows[i].value);
            g_free(m);
        }
    }
    g_list_free(names);
    g_hash_table_unref(kinds);
}
