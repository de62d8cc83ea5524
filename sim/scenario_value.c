/* scenario_value.c: the values of attributes: items (words, strings and
 * calls such as normal(0,200us)), their conversion to the declared type
 * with units and bounds, distributions, and empirical distributions read
 * from a file. */

#include "scenario_int.h"

static void item_free(gpointer p)
{
    Item *it = p;
    if (!it)
        return;
    g_free(it->text);
    if (it->args)
        g_ptr_array_unref(it->args);
    g_free(it);
}

static Item *parse_item(Line *l)
{
    Tok *t = scn_peek(l);
    if (!t || t->kind == TK_SYM) {
        scn_line_error(l, t, "expected a value, got '%s'", scn_describe(t));
        return NULL;
    }
    l->pos++;
    Item *it = g_new0(Item, 1);
    it->text = g_strdup(t->text);
    it->quoted = t->kind == TK_STRING;
    it->col = t->col;
    it->end = t->end;
    if (t->kind != TK_WORD || !scn_peek_sym(l, "("))
        return it;
    l->pos++;
    it->call = true;
    it->args = g_ptr_array_new_with_free_func(item_free);
    if (!scn_peek_sym(l, ")")) {
        for (;;) {
            Item *a = parse_item(l);
            if (!a)
                goto fail;
            if (a->call) {
                scenario_error(l->sc, l->line, a->col, "expected a number or a string as argument of %s()", it->text);
                item_free(a);
                goto fail;
            }
            g_ptr_array_add(it->args, a);
            if (!scn_peek_sym(l, ","))
                break;
            l->pos++;
        }
    }
    if (!scn_peek_sym(l, ")")) {
        scn_line_error(l, scn_peek(l), "expected ',' or ')' in %s(...), got '%s'", it->text, scn_describe(scn_peek(l)));
        goto fail;
    }
    it->end = scn_peek(l)->end;
    l->pos++;
    return it;
fail:
    item_free(it);
    return NULL;
}

/* item (',' item)* */
GPtrArray *scn_parse_items(Line *l)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(item_free);
    for (;;) {
        Item *it = parse_item(l);
        if (!it) {
            g_ptr_array_unref(items);
            return NULL;
        }
        g_ptr_array_add(items, it);
        if (!scn_peek_sym(l, ","))
            return items;
        l->pos++;
    }
}

void scn_value_clear(ParamValue *v)
{
    g_free(v->text);
    g_free(v->s);
    g_strfreev(v->list);
    dist_clear(&v->dist);
    memset(v, 0, sizeof *v);
}

bool scn_type_is_int(ParamType t)
{
    return t == PT_INT || t == PT_TIME || t == PT_SIZE || t == PT_RATE;
}

QtyKind scn_qty_of(const ParamSpec *p)
{
    switch (p->type) {
    case PT_INT: return QTY_INT;
    case PT_TIME: return QTY_TIME;
    case PT_SIZE: return QTY_SIZE;
    case PT_RATE: return QTY_RATE;
    case PT_PROB: return QTY_PROB;
    case PT_DIST: return p->qty;
    default: return QTY_REAL;
    }
}

static char *check_bounds(const ParamSpec *p, double v, const char *text)
{
    if (p->min == 0 && p->max == 0)
        return NULL;
    if (v < p->min)
        return g_strdup_printf("%s=%s is too small", p->key, text);
    if (p->max != 0 && v > p->max)
        return g_strdup_printf("%s=%s is too large", p->key, text);
    return NULL;
}

/* Values in an empirical file: one quantity a line, '#' comments. */
static char *load_empirical(const char *path, const char *base_dir, QtyKind q, Dist *d)
{
    char *full = g_path_is_absolute(path) || !base_dir ? g_strdup(path) : g_build_filename(base_dir, path, NULL);
    char *text = NULL, *rerr = NULL;
    size_t len = 0;
    if (!scn_read_bounded(full, MAX_FILE_BYTES, &text, &len, &rerr)) {
        char *msg = g_strdup_printf("empirical file: %s", rerr);
        g_free(rerr);
        g_free(full);
        return msg;
    }
    GArray *vals = g_array_new(FALSE, FALSE, sizeof(double));
    char **lines = scn_split_lines(text);
    char *err = NULL;
    for (int i = 0; lines[i] && !err; i++) {
        char *s = g_strstrip(lines[i]);
        char *hash = strchr(s, '#');
        if (hash)
            *hash = '\0', g_strstrip(s);
        if (!*s)
            continue;
        double v;
        char *uerr = NULL;
        if (!units_parse(s, q, &v, &uerr)) {
            err = g_strdup_printf("%s:%d: %s", full, i + 1, uerr);
            g_free(uerr);
        } else {
            g_array_append_val(vals, v);
        }
    }
    g_strfreev(lines);
    g_free(text);
    g_free(full);
    if (!err && vals->len == 0)
        err = g_strdup_printf("empirical file %s holds no values", path);
    d->kind = DIST_EMPIRICAL;
    d->n_values = vals->len;
    d->values = (double *)g_array_free(vals, FALSE);
    return err;
}

static char *convert_dist(const ParamSpec *p, Item *it, const char *base_dir, Dist *d, int *err_col)
{
    char *err = NULL;
    *err_col = it->col;
    if (!it->call) {
        double v;
        if (it->quoted || !units_parse(it->text, p->qty, &v, &err))
            return err ? err : g_strdup_printf("expected %s or a distribution", units_kind_name(p->qty));
        *d = dist_constant(v);
        return NULL;
    }
    int scn_n_params;
    int kind = dist_kind_from_name(it->text, &scn_n_params);
    if (kind < 0)
        return g_strdup_printf("unknown distribution '%s': expected constant, uniform, exponential, normal, "
                               "lognormal, pareto or empirical", it->text);
    if ((int)it->args->len != scn_n_params)
        return g_strdup_printf("%s() takes %d argument%s, got %u", it->text, scn_n_params, scn_n_params == 1 ? "" : "s",
                               it->args->len);
    d->kind = (DistKind)kind;
    if (kind == DIST_EMPIRICAL) {
        Item *a = g_ptr_array_index(it->args, 0);
        *err_col = a->col;
        return load_empirical(a->text, base_dir, p->qty, d);
    }
    double v[2] = { 0, 0 };
    for (int i = 0; i < scn_n_params; i++) {
        Item *a = g_ptr_array_index(it->args, i);
        /* The second parameter of lognormal and pareto is a shape: no unit. */
        bool shape = i == 1 && (kind == DIST_LOGNORMAL || kind == DIST_PARETO);
        *err_col = a->col;
        if (a->quoted || !units_parse(a->text, shape ? QTY_REAL : p->qty, &v[i], &err))
            return err ? err : g_strdup_printf("expected %s", units_kind_name(shape ? QTY_REAL : p->qty));
    }
    d->a = v[0];
    d->b = v[1];
    *err_col = it->col;
    const char *bad = dist_check(d);
    return bad ? g_strdup(bad) : NULL;
}

/* Turn parsed items into a typed value.  Returns NULL or an error message,
 * with *err_col the column it concerns. */
char *scn_convert(const ParamSpec *p, GPtrArray *items, const char *base_dir, ParamValue *out, int *err_col)
{
    Item *first = g_ptr_array_index(items, 0);
    *err_col = first->col;
    if (p->type != PT_LIST && items->len > 1) {
        *err_col = ((Item *)g_ptr_array_index(items, 1))->col;
        return g_strdup_printf("%s takes one value, not a list", p->key);
    }
    if (p->type == PT_DIST) {
        char *err = convert_dist(p, first, base_dir, &out->dist, err_col);
        if (!err && out->dist.kind == DIST_CONSTANT)
            err = check_bounds(p, out->dist.a, first->text);
        return err;
    }
    if (p->type == PT_LIST) {
        GPtrArray *words = g_ptr_array_new_with_free_func(g_free); /* an error frees what was copied */
        for (guint i = 0; i < items->len; i++) {
            Item *it = g_ptr_array_index(items, i);
            if (it->call) {
                *err_col = it->col;
                g_ptr_array_unref(words);
                return g_strdup_printf("expected a name in the list of %s", p->key);
            }
            g_ptr_array_add(words, g_strdup(it->text));
        }
        g_ptr_array_add(words, NULL);
        out->list = (char **)g_ptr_array_free(words, FALSE);
        return NULL;
    }
    if (first->call)
        return g_strdup_printf("%s takes %s, not a function", p->key,
                               p->type == PT_STRING ? "a string" : units_kind_name(scn_qty_of(p)));
    if (p->type == PT_STRING) {
        out->s = g_strdup(first->text);
        return NULL;
    }
    if (p->type == PT_BOOL) {
        static const char *yes[] = { "yes", "true", "on", "1" }, *no[] = { "no", "false", "off", "0" };
        for (int i = 0; i < 4; i++) {
            if (strcmp(first->text, yes[i]) == 0)
                return out->i = 1, NULL;
            if (strcmp(first->text, no[i]) == 0)
                return out->i = 0, NULL;
        }
        return g_strdup_printf("%s takes yes or no, got '%s'", p->key, first->text);
    }
    char *err = NULL;
    if (first->quoted)
        return g_strdup_printf("%s takes %s, not a string", p->key, units_kind_name(scn_qty_of(p)));
    if (scn_type_is_int(p->type)) {
        if (!units_parse_int(first->text, scn_qty_of(p), &out->i, &err))
            return err;
        return check_bounds(p, (double)out->i, first->text);
    }
    if (!units_parse(first->text, scn_qty_of(p), &out->r, &err))
        return err;
    return check_bounds(p, out->r, first->text);
}

