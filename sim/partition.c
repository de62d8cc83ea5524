#include "partition.h"

#include <string.h>

/* Union-find over node numbers. */
static int uf_find(GArray *up, int x)
{
    while (g_array_index(up, int, x) != x) {
        int p = g_array_index(up, int, x);
        g_array_index(up, int, x) = g_array_index(up, int, p); /* halve the path */
        x = p;
    }
    return x;
}

static void uf_join(GArray *up, int a, int b)
{
    a = uf_find(up, a);
    b = uf_find(up, b);
    if (a != b)
        g_array_index(up, int, a > b ? a : b) = a < b ? a : b; /* the root is the first node */
}

typedef struct {
    const Scenario *sc;
    GHashTable *node_of;  /* node name -> its number + 1 */
    GHashTable *decls_of; /* id -> GArray of indices of declarations that are not nodes */
    GHashTable *index_of; /* Decl* -> its index */
    GPtrArray *direct;    /* per declaration: GArray of node numbers its own words name */
} Refs;

/* A word names a node (add it to `nodes`) or, failing that, maybe a
 * declaration (add its index to `decls`, when asked). */
static void word(const Refs *r, const char *w, GArray *nodes, GArray *decls)
{
    int n = GPOINTER_TO_INT(g_hash_table_lookup(r->node_of, w));
    if (n) {
        int k = n - 1;
        g_array_append_val(nodes, k);
        return;
    }
    GArray *ds = decls ? g_hash_table_lookup(r->decls_of, w) : NULL;
    if (ds)
        g_array_append_vals(decls, ds->data, ds->len);
}

/* A value's words: itself, and each part of a path (\\srv\share\dir). */
static void value_words(const Refs *r, const char *s, GArray *nodes, GArray *decls)
{
    if (!s)
        return;
    word(r, s, nodes, decls);
    if (!strchr(s, '\\'))
        return;
    char **parts = g_strsplit(s, "\\", -1);
    for (char **p = parts; *p; p++)
        if (**p)
            word(r, *p, nodes, decls);
    g_strfreev(parts);
}

static void values_words(const Refs *r, const ParamSpec *specs, const ParamValue *vals, GArray *nodes,
                         GArray *decls)
{
    for (int i = 0; specs && specs[i].key; i++) {
        if (specs[i].type == PT_STRING)
            value_words(r, vals[i].s, nodes, decls);
        else if (specs[i].type == PT_LIST)
            for (char **l = vals[i].list; l && *l; l++)
                value_words(r, *l, nodes, decls);
    }
}

/* The nodes a declaration names through the declarations it names. */
static void through(const Refs *r, GArray *decls, GArray *nodes)
{
    for (guint i = 0; i < decls->len; i++) {
        GArray *d = g_ptr_array_index(r->direct, g_array_index(decls, int, i));
        g_array_append_vals(nodes, d->data, d->len);
    }
}

static GArray *decl_nodes(const Refs *r, guint i, bool indirect)
{
    const Decl *d = g_ptr_array_index(r->sc->decls, i);
    GArray *nodes = g_array_new(FALSE, FALSE, sizeof(int));
    GArray *decls = indirect ? g_array_new(FALSE, FALSE, sizeof(int)) : NULL;
    for (int k = 0; k < d->spec->n_names; k++)
        word(r, d->names[k], nodes, decls);
    word(r, d->id, nodes, decls);
    values_words(r, d->spec->params, d->values, nodes, decls);
    if (indirect) {
        through(r, decls, nodes);
        g_array_unref(decls);
    }
    return nodes;
}

/* The nodes an action names: its target's (dnodes: per declaration, the
 * nodes it names), those of its words, and those of the event it waits
 * for. */
static GArray *action_nodes(const Refs *r, const GPtrArray *dnodes, const Action *a)
{
    GArray *nodes = g_array_new(FALSE, FALSE, sizeof(int));
    GArray *decls = g_array_new(FALSE, FALSE, sizeof(int));
    gpointer i;
    if (a->target && g_hash_table_lookup_extended(r->index_of, a->target, NULL, &i)) {
        const GArray *d = g_ptr_array_index(dnodes, GPOINTER_TO_UINT(i));
        g_array_append_vals(nodes, d->data, d->len);
    }
    for (int k = 0; k < a->spec->n_args; k++)
        value_words(r, a->args[k], nodes, decls);
    /* a parameter change carries the target's keys, an action its own */
    const ParamSpec *specs = a->spec->params ? a->spec->params : a->target ? a->target->spec->params : NULL;
    values_words(r, specs, a->values, nodes, decls);
    /* an `after` action is tied to whatever its event names (the endpoint,
     * the node, the scripted client) */
    if (a->after) {
        char **ws = g_strsplit(a->after, " ", -1);
        for (char **w = ws; *w; w++)
            word(r, *w, nodes, decls);
        g_strfreev(ws);
    }
    through(r, decls, nodes);
    g_array_unref(decls);
    return nodes;
}

static void join_all(GArray *up, GArray *nodes)
{
    for (guint i = 1; i < nodes->len; i++)
        uf_join(up, g_array_index(nodes, int, 0), g_array_index(nodes, int, i));
}

/* The part of something that names `nodes` (-1: none, so every part). */
static int part_of(GArray *up, GArray *nodes, GArray *part_of_root)
{
    if (!nodes->len)
        return -1;
    return g_array_index(part_of_root, int, uf_find(up, g_array_index(nodes, int, 0)));
}

static Scenario *view_new(const Scenario *sc)
{
    Scenario *v = g_new0(Scenario, 1);
    v->path = sc->path;
    v->text = sc->text;
    v->name = sc->name;
    v->schema = sc->schema;
    v->decls = g_ptr_array_new();
    v->actions = g_ptr_array_new();
    v->expects = g_ptr_array_new();
    v->errors = g_ptr_array_new();
    v->overrides = g_ptr_array_ref(sc->overrides);
    v->index = g_hash_table_ref(sc->index);
    v->groups = g_hash_table_ref(sc->groups);
    return v;
}

void scenario_part_free(Scenario *v)
{
    if (!v)
        return;
    g_ptr_array_unref(v->decls);
    g_ptr_array_unref(v->actions);
    g_ptr_array_unref(v->expects);
    g_ptr_array_unref(v->errors);
    g_ptr_array_unref(v->overrides);
    g_hash_table_unref(v->index);
    g_hash_table_unref(v->groups);
    g_free(v);
}

static void refs_init(Refs *r, const Scenario *sc)
{
    r->sc = sc;
    r->node_of = g_hash_table_new(g_str_hash, g_str_equal);
    r->decls_of = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_array_unref);
    r->index_of = g_hash_table_new(g_direct_hash, g_direct_equal);
    int n = 0;
    for (guint i = 0; i < sc->decls->len; i++) {
        const Decl *d = g_ptr_array_index(sc->decls, i);
        g_hash_table_insert(r->index_of, (gpointer)d, GUINT_TO_POINTER(i));
        if (d->spec->is_node) {
            g_hash_table_insert(r->node_of, d->id, GINT_TO_POINTER(++n));
            continue;
        }
        GArray *ds = g_hash_table_lookup(r->decls_of, d->id);
        if (!ds) {
            ds = g_array_new(FALSE, FALSE, sizeof(int));
            g_hash_table_insert(r->decls_of, d->id, ds);
        }
        int k = (int)i;
        g_array_append_val(ds, k);
    }
    r->direct = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    for (guint i = 0; i < sc->decls->len; i++)
        g_ptr_array_add(r->direct, decl_nodes(r, i, false));
}

static void refs_clear(Refs *r)
{
    g_hash_table_unref(r->node_of);
    g_hash_table_unref(r->decls_of);
    g_hash_table_unref(r->index_of);
    g_ptr_array_unref(r->direct);
}

GPtrArray *scenario_partition(const Scenario *sc)
{
    Refs r;
    refs_init(&r, sc);
    int n_nodes = (int)g_hash_table_size(r.node_of);
    GArray *up = g_array_sized_new(FALSE, FALSE, sizeof(int), (guint)n_nodes);
    for (int i = 0; i < n_nodes; i++)
        g_array_append_val(up, i);

    GPtrArray *dnodes = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    for (guint i = 0; i < sc->decls->len; i++) {
        GArray *nodes = decl_nodes(&r, i, true);
        join_all(up, nodes);
        g_ptr_array_add(dnodes, nodes);
    }
    GPtrArray *anodes = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    bool splittable = true;
    for (guint i = 0; i < sc->actions->len && splittable; i++) {
        GArray *nodes = action_nodes(&r, dnodes, g_ptr_array_index(sc->actions, i));
        splittable = nodes->len > 0;
        join_all(up, nodes);
        g_ptr_array_add(anodes, nodes);
    }

    /* Number the parts by their first node (nodes are numbered in file
     * order, and a root is its part's first node). */
    GArray *part_of_root = g_array_sized_new(FALSE, FALSE, sizeof(int), (guint)n_nodes);
    int n_parts = 0;
    for (int i = 0; i < n_nodes; i++) {
        int p = uf_find(up, i) == i ? n_parts++ : -1;
        g_array_append_val(part_of_root, p);
    }

    GPtrArray *parts = NULL;
    if (splittable && n_parts > 1) {
        parts = g_ptr_array_new_with_free_func((GDestroyNotify)scenario_part_free);
        for (int p = 0; p < n_parts; p++)
            g_ptr_array_add(parts, view_new(sc));
        for (guint i = 0; i < sc->decls->len; i++) {
            int p = part_of(up, g_ptr_array_index(dnodes, i), part_of_root);
            for (int q = 0; q < n_parts; q++)
                if (p < 0 || p == q)
                    g_ptr_array_add(((Scenario *)g_ptr_array_index(parts, q))->decls,
                                    g_ptr_array_index(sc->decls, i));
        }
        for (guint i = 0; i < sc->actions->len; i++) {
            int p = part_of(up, g_ptr_array_index(anodes, i), part_of_root);
            g_ptr_array_add(((Scenario *)g_ptr_array_index(parts, p))->actions, g_ptr_array_index(sc->actions, i));
        }
    }
    g_array_unref(part_of_root);
    g_ptr_array_unref(anodes);
    g_ptr_array_unref(dnodes);
    g_array_unref(up);
    refs_clear(&r);
    return parts;
}
