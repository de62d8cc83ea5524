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

/* Make room for [start, end): trim the range that overlaps its start and
 * the one that overlaps its end, and split one that holds the whole span.
 * Returns the index the span begins at; *covered counts the ranges from
 * there that lie wholly inside it, left for the caller to overwrite or
 * remove in one move of the array's tail (removing them one at a time
 * moved the tail once for each). */
static guint open_span(GArray *r, uint64_t start, uint64_t end, guint *covered)
{
    guint i = first_after(r, start);
    *covered = 0;
    if (i < r->len) {
        Range *e = &g_array_index(r, Range, i);
        if (e->start < start && e->end > end) {
            Range right = *e;
            right.start = end;
            e->end = start;
            g_array_insert_val(r, i + 1, right);
            return i + 1;
        }
        if (e->start < start) {
            e->end = start;
            i++;
        }
    }
    guint j = i;
    while (j < r->len && g_array_index(r, Range, j).end <= end)
        j++;
    if (j < r->len && g_array_index(r, Range, j).start < end)
        g_array_index(r, Range, j).start = end;
    *covered = j - i;
    return i;
}

void ranges_cut(GArray *r, uint64_t start, uint64_t end)
{
    if (end <= start)
        return;
    guint covered;
    guint i = open_span(r, start, end, &covered);
    if (covered)
        g_array_remove_range(r, i, covered);
}

/* The new range takes the place of the first one it covers: a write over
 * bytes written before moves nothing. */
void ranges_put(GArray *r, Range n)
{
    if (n.end <= n.start)
        return;
    guint covered;
    guint i = open_span(r, n.start, n.end, &covered);
    if (!covered) {
        g_array_insert_val(r, i, n);
        return;
    }
    g_array_index(r, Range, i) = n;
    if (covered > 1)
        g_array_remove_range(r, i + 1, covered - 1);
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
