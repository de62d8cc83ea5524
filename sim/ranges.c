#include "ranges.h"

GArray *ranges_new(void) { return g_array_new(FALSE, FALSE, sizeof(Range)); }

/* Index of the first range that ends after `at`. */
static guint first_after(const GArray *r, uint64_t at)
{
    guint lo = 0, hi = r->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        if (g_array_index(r, Range, mid).end <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void ranges_cut(GArray *r, uint64_t start, uint64_t end)
{
    if (end <= start)
        return;
    guint i = first_after(r, start);
    while (i < r->len) {
        Range *e = &g_array_index(r, Range, i);
        if (e->start >= end)
            break;
        if (e->start < start && e->end > end) { /* splits in two */
            Range right = *e;
            right.start = end;
            e->end = start;
            g_array_insert_val(r, i + 1, right);
            return;
        }
        if (e->start < start) {
            e->end = start;
            i++;
        } else if (e->end > end) {
            e->start = end;
            return;
        } else {
            g_array_remove_index(r, i);
        }
    }
}

void ranges_put(GArray *r, Range n)
{
    if (n.end <= n.start)
        return;
    ranges_cut(r, n.start, n.end);
    g_array_insert_val(r, first_after(r, n.start), n);
}

void ranges_fill(GArray *r, Range n)
{
    /* the gaps first: inserting moves the array */
    GArray *gaps = ranges_new();
    uint64_t at = n.start;
    for (guint i = first_after(r, n.start); i < r->len && at < n.end; i++) {
        const Range *e = &g_array_index(r, Range, i);
        if (e->start >= n.end)
            break;
        if (e->start > at) {
            Range part = n;
            part.start = at;
            part.end = e->start;
            g_array_append_val(gaps, part);
        }
        at = MAX(at, e->end);
    }
    if (at < n.end) {
        Range part = n;
        part.start = at;
        g_array_append_val(gaps, part);
    }
    for (guint i = 0; i < gaps->len; i++)
        ranges_put(r, g_array_index(gaps, Range, i));
    g_array_unref(gaps);
}

void ranges_trim(GArray *r, uint64_t size) { ranges_cut(r, size, UINT64_MAX); }

GArray *ranges_slice(const GArray *r, uint64_t start, uint64_t end)
{
    GArray *out = ranges_new();
    for (guint i = first_after(r, start); i < r->len; i++) {
        Range e = g_array_index(r, Range, i);
        if (e.start >= end)
            break;
        e.start = MAX(e.start, start);
        e.end = MIN(e.end, end);
        g_array_append_val(out, e);
    }
    return out;
}

bool ranges_cover(const GArray *r, uint64_t start, uint64_t end)
{
    uint64_t at = start;
    for (guint i = first_after(r, start); i < r->len && at < end; i++) {
        const Range *e = &g_array_index(r, Range, i);
        if (e->start > at)
            return false;
        at = e->end;
    }
    return at >= end;
}

const Range *ranges_at(const GArray *r, uint64_t at)
{
    guint i = first_after(r, at);
    if (i < r->len && g_array_index(r, Range, i).start <= at)
        return &g_array_index(r, Range, i);
    return NULL;
}
