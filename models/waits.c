#include "waits.h"

#include <glib.h>

typedef struct {
    void (*fn)(void *ctx);
    void *ctx;
} Waiter;

struct Waits {
    GHashTable *by_event; /* char* -> GArray of Waiter */
};

Waits *waits_new(void)
{
    Waits *w = g_new0(Waits, 1);
    w->by_event = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
    return w;
}

void waits_free(Waits *w)
{
    if (!w)
        return;
    g_hash_table_unref(w->by_event);
    g_free(w);
}

void waits_on(Waits *w, const char *event, void (*fn)(void *ctx), void *ctx)
{
    GArray *a = g_hash_table_lookup(w->by_event, event);
    if (!a) {
        a = g_array_new(FALSE, FALSE, sizeof(Waiter));
        g_hash_table_insert(w->by_event, g_strdup(event), a);
    }
    Waiter x = { fn, ctx };
    g_array_append_val(a, x);
}

bool waits_wanted(const Waits *w) { return w && g_hash_table_size(w->by_event) > 0; }

void waits_signal(Waits *w, const char *event)
{
    if (!waits_wanted(w))
        return;
    GArray *a = NULL;
    char *key = NULL;
    /* taken out first: a waiter may wait again for the same event */
    if (!g_hash_table_steal_extended(w->by_event, event, (gpointer *)&key, (gpointer *)&a))
        return;
    for (guint i = 0; i < a->len; i++)
        g_array_index(a, Waiter, i).fn(g_array_index(a, Waiter, i).ctx);
    g_array_unref(a);
    g_free(key);
}
