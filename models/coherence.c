#include "coherence.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    GArray *acked; /* Range: stamp = last acknowledged write; aux = 1 once its loss was reported */
    uint64_t epoch;
} CohFile;

typedef struct {
    char *node, *file;
    SimTime t0;
    char *what;
} Suspect;

/* When a write was issued and acknowledged, on a logical clock that
 * follows the order of events (a run processes them in time order). */
typedef struct {
    uint64_t issued, acked; /* acked: UINT64_MAX until it is */
} CohWrite;

struct Coherence {
    GHashTable *files; /* name -> CohFile* */
    uint64_t next_stamp, next_epoch;
    GArray *writes;    /* CohWrite, by stamp; stamp 0 is the initial contents */
    uint64_t clock;
    GPtrArray *suspects;
    uint64_t reads_judged, excused;
    char *violation;
    GHashTable *lost;  /* stamps of writes reported lost to their applications */
    GPtrArray *stale_reads; /* Stale: reads that returned bytes older than a write, judged at the end */
};

/* A read that returned bytes superseded by write `stamp`: a violation,
 * unless that write is reported lost by the end of the run.  (A client
 * may acknowledge a write from its cache under an oplock the server has
 * already dropped, its link being down when the server restarted: another
 * client then reads the server's older bytes, and the write is lost and
 * announced only later.  rdrsim explore found that run.) */
typedef struct {
    uint64_t stamp;
    char *msg;
} Stale;

static void stale_free(gpointer p)
{
    Stale *s = p;
    g_free(s->msg);
    g_free(s);
}

static void file_free(gpointer p)
{
    CohFile *f = p;
    g_array_unref(f->acked);
    g_free(f);
}

static void suspect_free(gpointer p)
{
    Suspect *s = p;
    g_free(s->node);
    g_free(s->file);
    g_free(s->what);
    g_free(s);
}

Coherence *coh_new(void)
{
    Coherence *c = g_new0(Coherence, 1);
    c->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, file_free);
    c->suspects = g_ptr_array_new_with_free_func(suspect_free);
    c->next_epoch = 1;
    c->writes = g_array_new(FALSE, FALSE, sizeof(CohWrite));
    c->lost = g_hash_table_new(g_direct_hash, g_direct_equal);
    c->stale_reads = g_ptr_array_new_with_free_func(stale_free);
    CohWrite initial = { 0, 0 };
    g_array_append_val(c->writes, initial);
    return c;
}

void coh_free(Coherence *c)
{
    if (!c)
        return;
    g_hash_table_unref(c->files);
    g_ptr_array_unref(c->suspects);
    g_array_unref(c->writes);
    g_hash_table_unref(c->lost);
    g_ptr_array_unref(c->stale_reads);
    g_free(c->violation);
    g_free(c);
}

static CohFile *file_get(Coherence *c, const char *name)
{
    CohFile *f = g_hash_table_lookup(c->files, name);
    if (!f) {
        f = g_new0(CohFile, 1);
        f->acked = ranges_new();
        f->epoch = c->next_epoch++;
        g_hash_table_insert(c->files, g_strdup(name), f);
    }
    return f;
}

static void violate(Coherence *c, char *msg)
{
    if (!c->violation)
        c->violation = msg;
    else
        g_free(msg);
}

uint64_t coh_stamp(Coherence *c)
{
    CohWrite w = { ++c->clock, UINT64_MAX };
    g_array_append_val(c->writes, w);
    return ++c->next_stamp;
}

static const CohWrite *write_of(const Coherence *c, uint64_t stamp)
{
    static const CohWrite unknown = { 0, UINT64_MAX };
    return stamp < c->writes->len ? &g_array_index(c->writes, CohWrite, stamp) : &unknown;
}

/* Write g is superseded by write e: g was acknowledged before e was even
 * issued.  Writes that overlap in time may land in either order. */
static bool superseded(const Coherence *c, uint64_t g, uint64_t e)
{
    return g < e && write_of(c, g)->acked < write_of(c, e)->issued;
}

void coh_count_read(Coherence *c) { c->reads_judged++; }

/* The oracle keeps, per byte, the latest-issued acknowledged write: the
 * one a read must not be superseded by. */
void coh_acked(Coherence *c, const char *file, uint64_t start, uint64_t end, uint64_t stamp)
{
    if (stamp < c->writes->len)
        g_array_index(c->writes, CohWrite, stamp).acked = ++c->clock;
    GArray *a = file_get(c, file)->acked;
    GArray *old = ranges_slice(a, start, end);
    Range n = { start, end, stamp, 0 };
    ranges_put(a, n);
    for (guint i = 0; i < old->len; i++) /* a later-issued write already there stays */
        if (g_array_index(old, Range, i).stamp > stamp)
            ranges_put(a, g_array_index(old, Range, i));
    g_array_unref(old);
}

void coh_lost(Coherence *c, const char *file, uint64_t start, uint64_t end)
{
    GArray *a = file_get(c, file)->acked;
    GArray *part = ranges_slice(a, start, end);
    for (guint i = 0; i < part->len; i++) {
        Range r = g_array_index(part, Range, i);
        r.aux = 1;
        ranges_put(a, r);
        g_hash_table_add(c->lost, GSIZE_TO_POINTER(r.stamp));
    }
    g_array_unref(part);
}

GArray *coh_expect(Coherence *c, const char *file, uint64_t start, uint64_t end, uint64_t *epoch)
{
    CohFile *f = file_get(c, file);
    *epoch = f->epoch;
    return ranges_slice(f->acked, start, end);
}

/* The first bytes of `expect` that `got` returns older; NULL if none.
 * Bytes not returned (past the end of the file) are not judged. */
static char *stale(const Coherence *c, const char *file, const GArray *expect, const GArray *got, uint64_t *by)
{
    char *msg = NULL;
    for (guint i = 0; i < expect->len && !msg; i++) {
        const Range *e = &g_array_index(expect, Range, i);
        /* A write reported lost, before the read or while it was under way,
         * never reached the server: an older version is what there is
         * (rdrsim explore found a read judged against a write-behind that
         * a server restart had just taken away). */
        if (e->aux || g_hash_table_contains(c->lost, GSIZE_TO_POINTER(e->stamp)))
            continue;
        GArray *part = ranges_slice(got, e->start, e->end);
        for (guint j = 0; j < part->len && !msg; j++) {
            const Range *g = &g_array_index(part, Range, j);
            if (superseded(c, g->stamp, e->stamp)) {
                *by = e->stamp;
                msg = g_strdup_printf("a read of %s returned bytes %llu..%llu of write #%llu, superseded by write "
                                      "#%llu (issued after #%llu was acknowledged, acknowledged before the read began)",
                                      file, (unsigned long long)g->start, (unsigned long long)g->end,
                                      (unsigned long long)g->stamp, (unsigned long long)e->stamp,
                                      (unsigned long long)g->stamp);
            }
        }
        g_array_unref(part);
    }
    return msg;
}

void coh_judge_read(Coherence *c, const char *node, const char *file, const GArray *expect, uint64_t epoch,
                    const GArray *got, SimTime t0, bool from_cache)
{
    CohFile *f = file_get(c, file);
    if (f->epoch != epoch)
        return; /* truncated, deleted or renamed meanwhile */
    uint64_t by = 0;
    char *what = stale(c, file, expect, got, &by);
    if (!what)
        return;
    char *msg = g_strdup_printf("coherence: %s (%s at %lld ns)", what, node, (long long)t0);
    g_free(what);
    if (!from_cache) {
        Stale *s = g_new0(Stale, 1);
        s->stamp = by;
        s->msg = msg;
        g_ptr_array_add(c->stale_reads, s);
        return;
    }
    Suspect *s = g_new0(Suspect, 1);
    s->node = g_strdup(node);
    s->file = g_strdup(file);
    s->t0 = t0;
    s->what = msg;
    g_ptr_array_add(c->suspects, s);
}

void coh_break_arrived(Coherence *c, const char *node, const char *file, SimTime t_sent)
{
    for (guint i = 0; i < c->suspects->len;) {
        Suspect *s = g_ptr_array_index(c->suspects, i);
        if (strcmp(s->node, node) != 0 || strcmp(s->file, file) != 0) {
            i++;
            continue;
        }
        if (s->t0 >= t_sent)
            c->excused++;
        else
            violate(c, g_strdup_printf("%s; the break of that cache was sent only at %lld ns", s->what,
                                       (long long)t_sent));
        g_ptr_array_remove_index(c->suspects, i);
    }
}

void coh_truncate(Coherence *c, const char *file, uint64_t size)
{
    CohFile *f = file_get(c, file);
    ranges_trim(f->acked, size);
    f->epoch = c->next_epoch++;
}

void coh_remove(Coherence *c, const char *file) { g_hash_table_remove(c->files, file); }

void coh_rename(Coherence *c, const char *from, const char *to)
{
    gpointer key, val;
    g_hash_table_remove(c->files, to);
    if (!g_hash_table_steal_extended(c->files, from, &key, &val))
        return;
    g_free(key);
    CohFile *f = val;
    f->epoch = c->next_epoch++;
    g_hash_table_insert(c->files, g_strdup(to), f);
}

/* Whether the stores hold all of r: each byte with r's write or one it
 * does not supersede. */
static bool held(const Coherence *c, const Range *r, GPtrArray *stores)
{
    GArray *missing = ranges_new();
    g_array_append_val(missing, *r);
    for (guint i = 0; i < stores->len; i++) {
        GArray *s = g_ptr_array_index(stores, i);
        for (guint j = 0; j < s->len; j++) {
            const Range *p = &g_array_index(s, Range, j);
            if (!superseded(c, p->stamp, r->stamp))
                ranges_cut(missing, p->start, p->end);
        }
    }
    bool ok = missing->len == 0;
    g_array_unref(missing);
    return ok;
}

bool coh_check_end(Coherence *c, CohStores stores, void *ctx)
{
    for (guint i = 0; i < c->stale_reads->len && !c->violation; i++) {
        Stale *s = g_ptr_array_index(c->stale_reads, i);
        if (!g_hash_table_contains(c->lost, GSIZE_TO_POINTER(s->stamp))) {
            violate(c, s->msg);
            s->msg = NULL;
        }
    }
    g_ptr_array_set_size(c->stale_reads, 0);
    for (guint i = 0; i < c->suspects->len; i++)
        violate(c, g_strdup_printf("%s; no break of that cache ever arrived",
                                   ((Suspect *)g_ptr_array_index(c->suspects, i))->what));
    g_ptr_array_set_size(c->suspects, 0);
    /* in name order: the message must not depend on hash order */
    GList *names = g_list_sort(g_hash_table_get_keys(c->files), (GCompareFunc)strcmp);
    for (GList *l = names; l && !c->violation; l = l->next) {
        CohFile *f = g_hash_table_lookup(c->files, l->data);
        for (guint j = 0; j < f->acked->len && !c->violation; j++) {
            const Range *r = &g_array_index(f->acked, Range, j);
            if (r->aux || r->stamp == 0)
                continue;
            GPtrArray *st = stores(ctx, l->data, r->start, r->end);
            if (st && !held(c, r, st))
                violate(c, g_strdup_printf("coherence: write #%llu to %s bytes %llu..%llu was acknowledged and "
                                           "then lost without an error to its application",
                                           (unsigned long long)r->stamp, (const char *)l->data,
                                           (unsigned long long)r->start, (unsigned long long)r->end));
            if (st)
                g_ptr_array_unref(st);
        }
    }
    g_list_free(names);
    return c->violation == NULL;
}

const char *coh_violation(const Coherence *c) { return c->violation; }

void coh_write_metrics(const Coherence *c, Trace *trace)
{
    if (!c->next_stamp)
        return; /* no application wrote anything */
    trace_metric(trace, "coherence.writes", (double)c->next_stamp);
    trace_metric(trace, "coherence.reads_judged", (double)c->reads_judged);
    trace_metric(trace, "coherence.break_window_reads", (double)c->excused);
}
