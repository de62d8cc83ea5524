/* scenario: the parser and validation of the scenario language, and the
 * scenario's lookups, overrides and group members.  The tokenizer is
 * scenario_lex.c, attribute values scenario_value.c.
 *
 * Each line is tokenized on its own, so a statement can never run on into
 * the next line and every token knows its column.  The grammar of a line:
 *
 *   line    := decl | 'at' TIME action | 'after' EVENT '+'TIME action
 *            | 'expect' STRING OP result | 'metric' NAME STRING
 *   EVENT   := 'endpoint' NAME ('connected' | 'disconnected')
 *            | SUBJECT VERB [WORD] 'done'
 *   decl    := KIND NAME{n_names} attr*
 *   action  := SUBJECT [VERB] WORD* attr*
 *   attr    := KEY '=' item (',' item)*
 *   item    := WORD | STRING | WORD '(' [item (',' item)*] ')'
 */

#include "scenario_int.h"

/* The language's own declaration: the run as a whole. */
static const ParamSpec scenario_keys[] = {
    { "seed", PT_INT, 0, "1", "seed of every random stream of the run", 0, 0 },
    { "stop", PT_TIME, 0, "60s", "simulated time at which the run ends", 1, 0 },
    { "query_budget", PT_TIME, 0, "60s",
      "wall-clock time one expect or metric query may take before it fails (a runaway query must not hang a run)",
      1e6, 86400e9 },
    { NULL, 0, 0, NULL, NULL, 0, 0 },
};

static const DeclSpec scenario_spec = {
    "scenario", 1, false, true, scenario_keys, "the run: name, seed and stop time",
};

/* Read a whole regular file of at most max bytes.  g_file_get_contents
 * would read a device or a FIFO (/dev/zero, a pipe) without end. */
bool scn_read_bounded(const char *path, size_t max, char **text, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = g_strdup_printf("cannot read %s: %s", path, g_strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        *err = g_strdup_printf("cannot read %s: not a regular file", path);
        fclose(f);
        return false;
    }
    if ((uint64_t)st.st_size > max) {
        *err = g_strdup_printf("%s is larger than %zu MiB", path, max >> 20);
        fclose(f);
        return false;
    }
    char *buf = g_malloc((size_t)st.st_size + 1);
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        *err = g_strdup_printf("cannot read %s: %s", path, g_strerror(errno));
        g_free(buf);
        return false;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return true;
}

/* The lines of a text.  (g_strsplit searches with strstr, which a
 * sanitizer's interceptor makes quadratic on a long file.) */
char **scn_split_lines(const char *text)
{
    GPtrArray *lines = g_ptr_array_new();
    const char *p = text;
    for (;;) {
        const char *nl = strchr(p, '\n');
        if (!nl) {
            g_ptr_array_add(lines, g_strdup(p));
            break;
        }
        g_ptr_array_add(lines, g_strndup(p, (gsize)(nl - p)));
        p = nl + 1;
    }
    g_ptr_array_add(lines, NULL);
    return (char **)g_ptr_array_free(lines, FALSE);
}

size_t scn_n_params(const ParamSpec *p)
{
    size_t n = 0;
    while (p && p[n].key)
        n++;
    return n;
}

int decl_param_index(const DeclSpec *spec, const char *key)
{
    for (size_t i = 0; spec->params[i].key; i++)
        if (strcmp(spec->params[i].key, key) == 0)
            return (int)i;
    return -1;
}

static int spec_index(const ParamSpec *params, const char *key)
{
    for (size_t i = 0; params && params[i].key; i++)
        if (strcmp(params[i].key, key) == 0)
            return (int)i;
    return -1;
}

const ParamValue *decl_param(const Decl *d, const char *key)
{
    int i = decl_param_index(d->spec, key);
    g_assert(i >= 0); /* a model asked for a key its own schema lacks */
    return &d->values[i];
}

const ParamValue *action_param(const Action *a, const char *key)
{
    int i = spec_index(a->spec->params, key);
    g_assert(i >= 0); /* a model asked for a key its own schema lacks */
    return &a->values[i];
}

static void decl_free(gpointer p)
{
    Decl *d = p;
    size_t n = scn_n_params(d->spec->params);
    for (size_t i = 0; i < n; i++)
        scn_value_clear(&d->values[i]);
    g_free(d->values);
    g_free(d->names[0]);
    g_free(d->names[1]);
    g_free(d->id);
    g_free(d);
}

static void action_free(gpointer p)
{
    Action *a = p;
    g_free(a->after);
    const ParamSpec *params = a->spec->params ? a->spec->params : a->target->spec->params;
    size_t n = a->values ? scn_n_params(params) : 0; /* values come after the arguments */
    for (size_t i = 0; i < n; i++)
        scn_value_clear(&a->values[i]);
    g_free(a->values);
    g_free(a->changed);
    g_strfreev(a->args);
    g_free(a->arg_cols);
    g_free(a);
}

static void expect_free(gpointer p)
{
    Expect *e = p;
    g_free(e->sql);
    g_free(e->value);
    g_free(e);
}

static void user_metric_free(gpointer p)
{
    UserMetric *m = p;
    g_free(m->name);
    g_free(m->sql);
    g_free(m);
}

static void error_free(gpointer p)
{
    ScenarioError *e = p;
    g_free(e->file);
    g_free(e->msg);
    g_free(e);
}

void scenario_error(Scenario *sc, int line, int col, const char *fmt, ...)
{
    ScenarioError *e = g_new0(ScenarioError, 1);
    va_list ap;
    va_start(ap, fmt);
    e->msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    e->file = g_strdup(sc->path);
    e->line = line;
    e->col = col;
    g_ptr_array_add(sc->errors, e);
}

static gint error_cmp(gconstpointer pa, gconstpointer pb)
{
    const ScenarioError *a = *(ScenarioError *const *)pa, *b = *(ScenarioError *const *)pb;
    return a->line != b->line ? a->line - b->line : a->col - b->col;
}

void scenario_print_errors(const Scenario *sc, FILE *out)
{
    /* Checks run in passes (syntax, then meaning, then queries): show their
     * findings in file order, as a reader goes through the file. */
    g_ptr_array_sort(sc->errors, error_cmp);
    for (guint i = 0; i < sc->errors->len; i++) {
        ScenarioError *e = g_ptr_array_index(sc->errors, i);
        if (e->line > 0)
            fprintf(out, "%s:%d:%d: %s\n", e->file, e->line, e->col, e->msg);
        else
            fprintf(out, "%s: %s\n", e->file, e->msg);
    }
}

/* Keys of the index: "KIND\nID" for every declaration (a link also under
 * its reversed id), "\nNAME" for every node. */
static char *index_key(const char *kind, const char *id)
{
    return g_strconcat(kind, "\n", id, NULL);
}

static void index_decl(Scenario *sc, Decl *d)
{
    g_hash_table_insert(sc->index, index_key(d->spec->kind, d->id), d);
    if (d->spec->n_names == 2) {
        char *rev = g_strdup_printf("%s-%s", d->names[1], d->names[0]);
        g_hash_table_insert(sc->index, index_key(d->spec->kind, rev), d);
        g_free(rev);
    }
    if (d->spec->is_node)
        g_hash_table_insert(sc->index, index_key("", d->id), d);
}

Decl *scenario_find_decl(const Scenario *sc, const char *kind, const char *id)
{
    char *key = index_key(kind, id);
    Decl *d = g_hash_table_lookup(sc->index, key);
    g_free(key);
    return d;
}

Decl *scenario_find_node(const Scenario *sc, const char *name)
{
    return scenario_find_decl(sc, "", name);
}

static const DeclSpec *find_decl_spec(const Scenario *sc, const char *kind)
{
    if (strcmp(kind, scenario_spec.kind) == 0)
        return &scenario_spec;
    for (const DeclSpec *d = sc->schema->decls; d && d->kind; d++)
        if (strcmp(d->kind, kind) == 0)
            return d;
    return NULL;
}

static bool valid_name(const char *s)
{
    if (!g_ascii_isalpha(*s) && *s != '_')
        return false;
    for (s++; *s; s++)
        if (!g_ascii_isalnum(*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

static char *kinds_list(const Scenario *sc)
{
    GString *s = g_string_new("scenario");
    for (const DeclSpec *d = sc->schema->decls; d && d->kind; d++)
        g_string_append_printf(s, ", %s", d->kind);
    return g_string_free(s, FALSE);
}

static char *keys_list(const ParamSpec *p)
{
    GString *s = g_string_new("");
    for (; p && p->key; p++)
        g_string_append_printf(s, "%s%s", s->len ? ", " : "", p->key);
    return g_string_free(s, FALSE);
}

/* Text of a value as written: from its first column to its last. */
static char *items_text(Line *l, GPtrArray *items)
{
    Item *a = g_ptr_array_index(items, 0), *b = g_ptr_array_index(items, items->len - 1);
    return g_strndup(l->src + a->col - 1, (gsize)(b->end - a->col + 1));
}

/* In a group declaration a numeric key may be a distribution: each member
 * draws its own value (scenario_draw_members). */
static bool drawable(const ParamSpec *p, GPtrArray *items)
{
    bool numeric = p->type == PT_INT || p->type == PT_REAL || p->type == PT_TIME || p->type == PT_SIZE ||
                   p->type == PT_RATE || p->type == PT_PROB;
    return numeric && items->len == 1 && ((Item *)g_ptr_array_index(items, 0))->call;
}

static char *convert_drawn(const ParamSpec *p, GPtrArray *items, const char *base_dir, ParamValue *out,
                           int *err_col)
{
    ParamSpec as_dist = *p;
    as_dist.type = PT_DIST;
    as_dist.qty = scn_qty_of(p);
    char *err = scn_convert(&as_dist, items, base_dir, out, err_col);
    if (!err)
        out->drawn = true;
    return err;
}

/* KEY=VALUE pairs until the end of the line, into values[] per params. */
static void parse_attrs(Line *l, const ParamSpec *params, ParamValue *values, bool *seen, const char *what)
{
    char *base_dir = g_path_get_dirname(l->sc->path);
    while (scn_peek(l)) {
        Tok *key = scn_peek(l);
        if (key->kind != TK_WORD || l->pos + 1 >= l->toks->len ||
            !(g_array_index(l->toks, Tok, l->pos + 1).kind == TK_SYM &&
              strcmp(g_array_index(l->toks, Tok, l->pos + 1).text, "=") == 0)) {
            scn_line_error(l, key, "expected KEY=VALUE, got '%s'", scn_describe(key));
            break;
        }
        int idx = spec_index(params, key->text);
        if (idx < 0) {
            char *keys = keys_list(params);
            if (*keys)
                scn_line_error(l, key, "unknown key '%s' for %s (expected one of: %s)", key->text, what, keys);
            else
                scn_line_error(l, key, "unknown key '%s': %s takes no keys", key->text, what);
            g_free(keys);
            break;
        }
        if (seen[idx]) {
            scn_line_error(l, key, "key '%s' given twice", key->text);
            break;
        }
        l->pos += 2;
        GPtrArray *items = scn_parse_items(l);
        if (!items)
            break;
        ParamValue *v = &values[idx];
        int err_col;
        char *err = l->member && drawable(&params[idx], items) ? convert_drawn(&params[idx], items, base_dir, v, &err_col)
                                                              : scn_convert(&params[idx], items, base_dir, v, &err_col);
        if (err) {
            scenario_error(l->sc, l->line, err_col, "%s", err);
            g_free(err);
            scn_value_clear(v);
            g_ptr_array_unref(items);
            break;
        }
        seen[idx] = true;
        v->given = true;
        v->line = l->line;
        v->col = key->col;
        v->text = items_text(l, items);
        g_ptr_array_unref(items);
    }
    g_free(base_dir);
}

static Decl *new_decl(const DeclSpec *spec)
{
    Decl *d = g_new0(Decl, 1);
    d->spec = spec;
    d->values = g_new0(ParamValue, scn_n_params(spec->params) + 1);
    return d;
}

/* The largest group: 10^5 members (about 150 MiB of declarations). */
#define MAX_GROUP 100000

/* "c[1..10]" (members c1 .. c10) or "c[*]" (every member of group c);
 * false for a word of neither form. */
static bool group_form(const char *w, char **base, long *lo, long *hi, bool *star)
{
    const char *open = strchr(w, '[');
    size_t n = strlen(w);
    if (!open || open == w || n < 4 || w[n - 1] != ']')
        return false;
    *base = g_strndup(w, (gsize)(open - w));
    *star = strcmp(open, "[*]") == 0;
    if (*star)
        return true;
    char *end;
    *lo = strtol(open + 1, &end, 10);
    if (end == open + 1 || strncmp(end, "..", 2) != 0)
        goto bad;
    const char *second = end + 2;
    *hi = strtol(second, &end, 10);
    if (end == second || *end != ']')
        goto bad;
    return true;
bad:
    g_free(*base);
    *base = NULL;
    return false;
}

/* One declaration with its names decided: checks, values, the index.
 * The values are parsed from attrs_pos (again for every group member). */
static bool decl_one(Line *l, const DeclSpec *spec, Tok *kw, char **names, Tok **name_toks, guint attrs_pos,
                     bool member)
{
    Scenario *sc = l->sc;
    Decl *d = new_decl(spec);
    d->line = l->line;
    d->col = kw->col;
    for (int i = 0; i < spec->n_names; i++) {
        Tok *t = name_toks[i];
        if (!valid_name(names[i])) {
            scn_line_error(l, t, "invalid name '%s': expected a letter or '_' then letters, digits, '_' or '-'",
                       names[i]);
            goto fail;
        }
        if (strcmp(names[i], "at") == 0 || strcmp(names[i], "expect") == 0 || strcmp(names[i], "metric") == 0 || strcmp(names[i], "after") == 0 ||
            find_decl_spec(sc, names[i])) {
            scn_line_error(l, t, "'%s' is a keyword and cannot name a %s", names[i], spec->kind);
            goto fail;
        }
        if (spec->n_names == 2 && !scenario_find_node(sc, names[i])) {
            scn_line_error(l, t, "unknown node '%s' (declare it before the %s)", names[i], spec->kind);
            goto fail;
        }
        d->names[i] = g_strdup(names[i]);
    }
    if (spec->n_names == 2) {
        if (strcmp(d->names[0], d->names[1]) == 0) {
            scn_line_error(l, name_toks[1], "a %s joins two different nodes", spec->kind);
            goto fail;
        }
        d->id = g_strdup_printf("%s-%s", d->names[0], d->names[1]);
        if (scenario_find_decl(sc, spec->kind, d->id)) {
            scn_line_error(l, kw, "%s %s %s is declared twice", spec->kind, d->names[0], d->names[1]);
            goto fail;
        }
    } else {
        d->id = g_strdup(d->names[0]);
        bool clash = spec->is_node ? scenario_find_node(sc, d->id) != NULL
                                   : scenario_find_decl(sc, spec->kind, d->id) != NULL;
        if (clash) {
            scn_line_error(l, name_toks[0], "'%s' is declared twice", d->id);
            goto fail;
        }
    }
    guint errors_before = sc->errors->len;
    bool *seen = g_new0(bool, scn_n_params(spec->params) + 1);
    l->pos = attrs_pos;
    l->member = member;
    parse_attrs(l, spec->params, d->values, seen, spec->kind);
    l->member = false;
    g_free(seen);
    if (sc->errors->len != errors_before)
        goto fail;
    if (spec == &scenario_spec)
        g_ptr_array_insert(sc->decls, 0, d);
    else
        g_ptr_array_add(sc->decls, d);
    index_decl(sc, d);
    return true;
fail:
    decl_free(d);
    return false;
}

/* The member names a group form stands for; NULL after an error. */
static GPtrArray *group_members(Line *l, const DeclSpec *spec, Tok *t, bool declares)
{
    char *base = NULL;
    long lo = 0, hi = 0;
    bool star = false;
    if (!group_form(t->text, &base, &lo, &hi, &star)) {
        scn_line_error(l, t, "invalid name '%s': expected a name, NAME[FIRST..LAST] or NAME[*]", t->text);
        return NULL;
    }
    GPtrArray *names = NULL;
    if (star) {
        GPtrArray *g = g_hash_table_lookup(l->sc->groups, base);
        if (!g || declares)
            scn_line_error(l, t, declares ? "'%s': a group is declared with a range, as %s[1..10]"
                                      : "no group '%s' is declared before this %s",
                       base, declares ? base : spec->kind);
        else
            names = g_ptr_array_ref(g);
    } else if (lo < 1 || hi < lo || hi - lo >= MAX_GROUP) {
        scn_line_error(l, t, "group range %s: expected [FIRST..LAST] with 1 <= FIRST <= LAST and at most %d members",
                   t->text, MAX_GROUP);
    } else {
        names = g_ptr_array_new_with_free_func(g_free);
        for (long k = lo; k <= hi; k++)
            g_ptr_array_add(names, g_strdup_printf("%s%ld", base, k));
        if (declares && spec->is_node && !g_hash_table_contains(l->sc->groups, base))
            g_hash_table_insert(l->sc->groups, g_strdup(base), g_ptr_array_ref(names));
    }
    g_free(base);
    return names;
}

static void parse_decl(Line *l, const DeclSpec *spec)
{
    Scenario *sc = l->sc;
    Tok *kw = scn_peek(l);
    l->pos++;
    if (spec->unique) {
        for (guint i = 0; i < sc->decls->len; i++)
            if (((Decl *)g_ptr_array_index(sc->decls, i))->spec == spec) {
                scn_line_error(l, kw, "'%s' may be declared only once", spec->kind);
                return;
            }
    }
    char *names[2] = { NULL, NULL };
    Tok *name_toks[2] = { NULL, NULL };
    GPtrArray *members = NULL; /* the names a group form in the name position `at` stands for */
    int at = -1;
    for (int i = 0; i < spec->n_names; i++) {
        Tok *t = scn_peek(l);
        if (!t || t->kind == TK_SYM || (l->pos + 1 < l->toks->len &&
                                       strcmp(g_array_index(l->toks, Tok, l->pos + 1).text, "=") == 0)) {
            scn_line_error(l, t, "expected a %s name after '%s', got '%s'", spec->n_names == 2 ? "node" : spec->kind,
                       spec->kind, scn_describe(t));
            goto out;
        }
        name_toks[i] = t;
        names[i] = t->text;
        if (strchr(t->text, '[')) {
            if (members) {
                scn_line_error(l, t, "only one name of a %s may be a group", spec->kind);
                goto out;
            }
            members = group_members(l, spec, t, spec->is_node);
            if (!members)
                goto out;
            at = i;
        }
        l->pos++;
    }
    guint attrs_pos = l->pos;
    if (!members) {
        decl_one(l, spec, kw, names, name_toks, attrs_pos, false);
        goto out;
    }
    for (guint k = 0; k < members->len; k++) {
        names[at] = g_ptr_array_index(members, k);
        if (!decl_one(l, spec, kw, names, name_toks, attrs_pos, true))
            break; /* one error for the whole group */
    }
out:
    if (members)
        g_ptr_array_unref(members);
}

static bool fill_defaults(Scenario *sc, const ParamSpec *params, ParamValue *values, int line, int col,
                          const char *what);

static const ActionSpec *find_action(const Scenario *sc, const char *subject, const char *verb)
{
    for (const ActionSpec *a = sc->schema->actions; a && a->subject; a++) {
        if (strcmp(a->subject, subject) != 0)
            continue;
        if (verb ? a->verb && strcmp(a->verb, verb) == 0 : a->verb == NULL)
            return a;
    }
    return NULL;
}

static char *verbs_list(const Scenario *sc, const char *subject)
{
    GString *s = g_string_new("");
    for (const ActionSpec *a = sc->schema->actions; a && a->subject; a++)
        if (strcmp(a->subject, subject) == 0)
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", a->verb ? a->verb : "KEY=VALUE");
    return g_string_free(s, FALSE);
}

static bool is_attr_start(Line *l)
{
    return l->pos + 1 < l->toks->len && g_array_index(l->toks, Tok, l->pos + 1).kind == TK_SYM &&
           strcmp(g_array_index(l->toks, Tok, l->pos + 1).text, "=") == 0;
}

/* After `at TIME`: the subject, then a verb or parameter changes. */
static void parse_action(Line *l, SimTime at, int at_col)
{
    Scenario *sc = l->sc;
    Tok *first = scn_peek(l);
    if (!first || first->kind != TK_WORD) {
        scn_line_error(l, first, "expected a node name or a declaration kind after the time, got '%s'", scn_describe(first));
        return;
    }
    const char *subject_kind;
    Decl *target = NULL;
    const DeclSpec *dspec = find_decl_spec(sc, first->text);
    if (dspec) {
        subject_kind = dspec->kind;
        l->pos++;
        GString *id = g_string_new("");
        Tok *name_tok = scn_peek(l);
        for (int i = 0; i < dspec->n_names; i++) {
            Tok *t = scn_peek(l);
            if (!t || t->kind != TK_WORD || is_attr_start(l)) {
                scn_line_error(l, t, "expected a %s name, got '%s'", dspec->n_names == 2 ? "node" : dspec->kind,
                           scn_describe(t));
                g_string_free(id, TRUE);
                return;
            }
            g_string_append_printf(id, "%s%s", i ? "-" : "", t->text);
            l->pos++;
        }
        target = scenario_find_decl(sc, dspec->kind, id->str);
        if (!target) {
            scn_line_error(l, name_tok, "no %s '%s' is declared", dspec->kind, id->str);
            g_string_free(id, TRUE);
            return;
        }
        g_string_free(id, TRUE);
    } else {
        target = scenario_find_node(sc, first->text);
        if (!target) {
            char *kinds = kinds_list(sc);
            scn_line_error(l, first, "unknown node '%s' (expected a declared node, or one of: %s)", first->text, kinds);
            g_free(kinds);
            return;
        }
        subject_kind = "node";
        l->pos++;
    }

    const ActionSpec *spec;
    Tok *verb = scn_peek(l);
    if (verb && verb->kind == TK_WORD && !is_attr_start(l)) {
        spec = find_action(sc, subject_kind, verb->text);
        if (!spec) {
            char *verbs = verbs_list(sc, subject_kind);
            scn_line_error(l, verb, "unknown action '%s' (expected one of: %s)", verb->text, *verbs ? verbs : "none");
            g_free(verbs);
            return;
        }
        l->pos++;
    } else {
        spec = find_action(sc, subject_kind, NULL);
        if (!spec || !verb) {
            char *verbs = verbs_list(sc, subject_kind);
            scn_line_error(l, verb, "expected an action (one of: %s), got '%s'", *verbs ? verbs : "none", scn_describe(verb));
            g_free(verbs);
            return;
        }
    }

    Action *a = g_new0(Action, 1);
    a->at = at;
    a->spec = spec;
    a->target = target;
    a->line = l->line;
    a->col = at_col;
    a->args = g_new0(char *, spec->n_args + 1);
    a->arg_cols = g_new0(int, spec->n_args + 1);
    for (int i = 0; i < spec->n_args; i++) {
        Tok *t = scn_peek(l);
        if (!t || t->kind == TK_SYM || is_attr_start(l)) {
            scn_line_error(l, t, "'%s' expects %d argument%s, got '%s'", spec->verb, spec->n_args,
                       spec->n_args == 1 ? "" : "s", scn_describe(t));
            action_free(a);
            return;
        }
        a->args[i] = g_strdup(t->text);
        a->arg_cols[i] = t->col;
        l->pos++;
    }
    const ParamSpec *params = spec->params ? spec->params : target->spec->params;
    size_t np = scn_n_params(params);
    a->values = g_new0(ParamValue, np + 1);
    a->changed = g_new0(bool, np + 1);
    guint errors_before = sc->errors->len;
    char *what = g_strdup_printf("%s%s%s", subject_kind, spec->verb ? " " : "", spec->verb ? spec->verb : "");
    parse_attrs(l, params, a->values, a->changed, what);
    g_free(what);
    if (sc->errors->len != errors_before) {
        action_free(a);
        return;
    }
    if (spec->params) {
        if (!fill_defaults(sc, spec->params, a->values, a->line, a->col, spec->verb)) {
            action_free(a);
            return;
        }
    } else {
        bool any = false;
        for (size_t i = 0; i < np; i++)
            any |= a->changed[i];
        if (!any) {
            scn_line_error(l, NULL, "expected KEY=VALUE to change");
            action_free(a);
            return;
        }
    }
    g_ptr_array_add(sc->actions, a);
}

static void parse_at(Line *l, SimTime *last_at)
{
    Tok *kw = scn_peek(l);
    l->pos++;
    Tok *t = scn_peek(l);
    if (!t || t->kind != TK_WORD) {
        scn_line_error(l, t, "expected a time after 'at' (e.g. 10ms or +2ms), got '%s'", scn_describe(t));
        return;
    }
    bool relative = t->text[0] == '+';
    int64_t v;
    char *err = NULL;
    if (!units_parse_int(relative ? t->text + 1 : t->text, QTY_TIME, &v, &err)) {
        scn_line_error(l, t, "%s", err);
        g_free(err);
        return;
    }
    if (v < 0) {
        scn_line_error(l, t, "a time must not be negative");
        return;
    }
    if (relative && v > SIM_TIME_MAX - *last_at) {
        scn_line_error(l, t, "time '%s' is out of range", t->text);
        return;
    }
    SimTime at = relative ? *last_at + v : v;
    *last_at = at;
    l->pos++;
    parse_action(l, at, kw->col);
}

/* after EVENT +DELAY ACTION: the action runs DELAY after the first time
 * EVENT happens in the run (never, if it never does).  An event is an
 * endpoint's connection made or ended, or the completion (whatever its
 * status) of an action of the timeline, named by its subject, verb and
 * first word: `c1 open h1 done`, `smbclient s1 negotiate done`. */
static void parse_after(Line *l)
{
    Scenario *sc = l->sc;
    Tok *kw = scn_peek(l);
    l->pos++;
    GPtrArray *words = g_ptr_array_new();
    Tok *t;
    while ((t = scn_peek(l)) && t->kind == TK_WORD && t->text[0] != '+') {
        g_ptr_array_add(words, t);
        l->pos++;
    }
    Tok *first = words->len ? g_ptr_array_index(words, 0) : t;
    if (words->len == 0) {
        scn_line_error(l, t, "expected an event after 'after' (e.g. endpoint a1 connected, or c1 open h1 done), "
                             "got '%s'", scn_describe(t));
        goto out;
    }
    if (!t || t->kind != TK_WORD) {
        scn_line_error(l, t, "expected a delay such as +10ms after the event, got '%s'", scn_describe(t));
        goto out;
    }
    /* the subject: KIND NAME, or a node */
    const DeclSpec *dspec = find_decl_spec(sc, first->text);
    guint rest = 1;
    const char *subject_kind = "node";
    if (dspec && !dspec->is_node) {
        Tok *name = words->len > 1 ? g_ptr_array_index(words, 1) : t;
        if (words->len < 2 || !scenario_find_decl(sc, dspec->kind, name->text)) {
            scn_line_error(l, name, "unknown %s '%s'", dspec->kind, words->len < 2 ? "" : name->text);
            goto out;
        }
        subject_kind = dspec->kind;
        rest = 2;
    } else if (!scenario_find_node(sc, first->text)) {
        scn_line_error(l, first, "unknown node '%s' (expected a declared node or KIND NAME)", first->text);
        goto out;
    }
    guint n = words->len - rest;
    Tok *what = n ? g_ptr_array_index(words, rest) : t;
    if (strcmp(subject_kind, "endpoint") == 0) {
        if (n != 1 || (strcmp(what->text, "connected") != 0 && strcmp(what->text, "disconnected") != 0)) {
            scn_line_error(l, what, "expected 'connected' or 'disconnected' after the endpoint, got '%s'",
                           n ? what->text : scn_describe(t));
            goto out;
        }
    } else {
        Tok *last = n ? g_ptr_array_index(words, words->len - 1) : t;
        if (n < 2 || n > 3 || strcmp(last->text, "done") != 0) {
            scn_line_error(l, last, "expected VERB [WORD] done after the subject (e.g. c1 open h1 done), got '%s'",
                           n ? last->text : scn_describe(t));
            goto out;
        }
        if (!find_action(sc, subject_kind, what->text)) {
            char *verbs = verbs_list(sc, subject_kind);
            scn_line_error(l, what, "unknown action '%s' (expected one of: %s)", what->text, verbs);
            g_free(verbs);
            goto out;
        }
    }
    int64_t v = 0;
    char *err = NULL;
    if (!units_parse_int(t->text + 1, QTY_TIME, &v, &err) || v < 0) {
        scn_line_error(l, t, "%s", err ? err : "a delay must not be negative");
        g_free(err);
        goto out;
    }
    l->pos++;
    guint before = sc->actions->len;
    parse_action(l, v, kw->col);
    if (sc->actions->len > before) {
        GString *key = g_string_new("");
        for (guint i = 0; i < words->len; i++)
            g_string_append_printf(key, "%s%s", i ? " " : "", ((Tok *)g_ptr_array_index(words, i))->text);
        ((Action *)g_ptr_array_index(sc->actions, sc->actions->len - 1))->after = g_string_free(key, FALSE);
    }
out:
    g_ptr_array_unref(words);
}

static bool parse_op(const char *s, ExpectOp *op)
{
    static const char *ops[] = { "=", "!=", "<", "<=", ">", ">=" };
    for (int i = 0; i < 6; i++)
        if (strcmp(s, ops[i]) == 0)
            return *op = (ExpectOp)i, true;
    return false;
}

const char *expect_op_name(ExpectOp op)
{
    static const char *ops[] = { "=", "!=", "<", "<=", ">", ">=" };
    return ops[op];
}

static void parse_expect(Line *l)
{
    Tok *kw = scn_peek(l);
    l->pos++;
    Tok *sql = scn_peek(l);
    if (!sql || sql->kind != TK_STRING) {
        scn_line_error(l, sql, "expected a quoted SQL query after 'expect', got '%s'", scn_describe(sql));
        return;
    }
    l->pos++;
    Tok *op = scn_peek(l);
    ExpectOp eop;
    if (!op || op->kind != TK_SYM || !parse_op(op->text, &eop)) {
        scn_line_error(l, op, "expected one of = != < <= > >= after the query, got '%s'", scn_describe(op));
        return;
    }
    l->pos++;
    Tok *val = scn_peek(l);
    if (!val || val->kind == TK_SYM) {
        scn_line_error(l, val, "expected a number, a quoted string or null, got '%s'", scn_describe(val));
        return;
    }
    l->pos++;
    Expect *e = g_new0(Expect, 1);
    e->line = l->line;
    e->col = kw->col;
    e->sql_col = sql->col;
    e->sql = g_strdup(sql->text);
    e->op = eop;
    if (val->kind == TK_WORD && strcmp(val->text, "null") == 0) {
        e->value = NULL;
    } else {
        e->value = g_strdup(val->text);
        if (val->kind == TK_WORD) {
            if (!units_parse_any(val->text, &e->number)) {
                scn_line_error(l, val, "expected a number (with an optional unit), a quoted string or null, got '%s'",
                           val->text);
                expect_free(e);
                return;
            }
            e->numeric = true;
        }
    }
    if (!e->value && eop != EXPECT_EQ && eop != EXPECT_NE) {
        scn_line_error(l, op, "null can only be compared with = or !=");
        expect_free(e);
        return;
    }
    if (scn_peek(l)) {
        scn_line_error(l, scn_peek(l), "unexpected '%s' after the expected value", scn_describe(scn_peek(l)));
        expect_free(e);
        return;
    }
    g_ptr_array_add(l->sc->expects, e);
}

/* A metric's name: letters, digits, '_', '-' and '.', starting with a
 * letter; not sim.* (the simulator's own) nor a name compare makes. */
static bool valid_metric_name(const char *s)
{
    if (!g_ascii_isalpha(*s))
        return false;
    for (const char *p = s; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-' && *p != '.')
            return false;
    return true;
}

static void parse_metric(Line *l)
{
    Tok *kw = scn_peek(l);
    l->pos++;
    Tok *name = scn_peek(l);
    if (!name || name->kind != TK_WORD || !valid_metric_name(name->text)) {
        scn_line_error(l, name, "expected a metric name (a letter, then letters, digits, '_', '-' or '.') after "
                                "'metric', got '%s'", scn_describe(name));
        return;
    }
    if (g_str_has_prefix(name->text, "sim.") || g_str_has_prefix(name->text, "run.")) {
        scn_line_error(l, name, "metric names sim.* and run.* are rdrsim's own; choose another name");
        return;
    }
    for (guint i = 0; i < l->sc->metrics->len; i++) {
        UserMetric *m = g_ptr_array_index(l->sc->metrics, i);
        if (strcmp(m->name, name->text) == 0) {
            scn_line_error(l, name, "metric '%s' is already defined on line %d", name->text, m->line);
            return;
        }
    }
    l->pos++;
    Tok *sql = scn_peek(l);
    if (!sql || sql->kind != TK_STRING) {
        scn_line_error(l, sql, "expected a quoted SQL query after the metric's name, got '%s'", scn_describe(sql));
        return;
    }
    l->pos++;
    if (scn_peek(l)) {
        scn_line_error(l, scn_peek(l), "unexpected '%s' after the metric's query", scn_describe(scn_peek(l)));
        return;
    }
    UserMetric *m = g_new0(UserMetric, 1);
    m->name = g_strdup(name->text);
    m->sql = g_strdup(sql->text);
    m->line = l->line;
    m->col = kw->col;
    m->sql_col = sql->col;
    g_ptr_array_add(l->sc->metrics, m);
}

static void parse_line(Line *l, SimTime *last_at)
{
    Tok *t = scn_peek(l);
    if (!t)
        return;
    if (t->kind != TK_WORD) {
        char *kinds = kinds_list(l->sc);
        scn_line_error(l, t, "expected a statement (at, after, expect, metric, %s), got '%s'", kinds, scn_describe(t));
        g_free(kinds);
        return;
    }
    if (strcmp(t->text, "at") == 0)
        return parse_at(l, last_at);
    if (strcmp(t->text, "expect") == 0)
        return parse_expect(l);
    if (strcmp(t->text, "metric") == 0)
        return parse_metric(l);
    if (strcmp(t->text, "after") == 0)
        return parse_after(l);
    const DeclSpec *spec = find_decl_spec(l->sc, t->text);
    if (!spec) {
        char *kinds = kinds_list(l->sc);
        scn_line_error(l, t, "unknown statement '%s' (expected at, after, expect, metric, %s)", t->text, kinds);
        g_free(kinds);
        return;
    }
    if (l->sc->actions->len) {
        scn_line_error(l, t, "declarations must come before the timeline");
        return;
    }
    parse_decl(l, spec);
}

/* Defaults for the keys a statement left out; a missing required key is an
 * error at the statement. */
/* Defaults for what was not given; false (with an error each) when a
 * required value is missing. */
static bool fill_defaults(Scenario *sc, const ParamSpec *params, ParamValue *values, int line, int col,
                          const char *what)
{
    bool complete = true;
    for (size_t i = 0; params[i].key; i++) {
        const ParamSpec *p = &params[i];
        ParamValue *v = &values[i];
        if (v->given)
            continue;
        if (!p->dflt) {
            scenario_error(sc, line, col, "%s needs %s=", what, p->key);
            complete = false;
            continue;
        }
        /* Defaults are written in the language itself and go through the
         * same conversion; a bad one is a bug in the schema. */
        GArray *toks = g_array_new(FALSE, TRUE, sizeof(Tok));
        g_array_set_clear_func(toks, scn_tok_clear);
        GScanner *scanner = scn_new_scanner();
        Scenario tmp = { .path = (char *)"(default)", .errors = g_ptr_array_new_with_free_func(error_free) };
        Line l = { &tmp, 0, p->dflt, toks, 0, false };
        GPtrArray *items = NULL;
        int err_col;
        char *err = NULL;
        if (scn_tokenize(&tmp, scanner, 0, p->dflt, toks) && (items = scn_parse_items(&l)) != NULL)
            err = scn_convert(p, items, NULL, v, &err_col);
        if (!items || err || tmp.errors->len)
            g_error("schema: bad default %s=%s for %s", p->key, p->dflt, what);
        v->text = g_strdup(p->dflt);
        g_ptr_array_unref(items);
        g_ptr_array_unref(tmp.errors);
        g_scanner_destroy(scanner);
        g_array_unref(toks);
    }
    return complete;
}

/* A declaration without a required value leaves the scenario, as a
 * statement with any other error does, and so do the actions on it: the
 * checks that follow (rdrsim check reports every error at once) see only
 * whole statements. */
static void drop_decl(Scenario *sc, Decl *d)
{
    for (guint i = sc->actions->len; i-- > 0;)
        if (((Action *)g_ptr_array_index(sc->actions, i))->target == d)
            g_ptr_array_remove_index(sc->actions, i);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, sc->index);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (v == d)
            g_hash_table_iter_remove(&it);
    g_ptr_array_remove(sc->decls, d);
}

static gint action_cmp(gconstpointer pa, gconstpointer pb)
{
    const Action *a = *(Action *const *)pa, *b = *(Action *const *)pb;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return a->line - b->line;
}

static Scenario *scenario_new(const char *path, const Schema *schema)
{
    Scenario *sc = g_new0(Scenario, 1);
    sc->path = g_strdup(path);
    sc->schema = schema;
    sc->decls = g_ptr_array_new_with_free_func(decl_free);
    sc->index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    sc->groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
    sc->actions = g_ptr_array_new_with_free_func(action_free);
    sc->expects = g_ptr_array_new_with_free_func(expect_free);
    sc->metrics = g_ptr_array_new_with_free_func(user_metric_free);
    sc->errors = g_ptr_array_new_with_free_func(error_free);
    sc->overrides = g_ptr_array_new_with_free_func(g_free);
    return sc;
}

/* The name a scenario gets when it has no `scenario` line: its file's. */
static char *name_from_path(const char *path)
{
    char *base = g_path_get_basename(path);
    char *dot = strrchr(base, '.');
    if (dot && dot != base)
        *dot = '\0';
    return base;
}

Scenario *scenario_parse(const char *path, const char *text, const Schema *schema)
{
    Scenario *sc = scenario_new(path, schema);
    sc->text = g_strdup(text);
    GScanner *scanner = scn_new_scanner();
    GArray *toks = g_array_new(FALSE, TRUE, sizeof(Tok));
    g_array_set_clear_func(toks, scn_tok_clear);
    char **lines = scn_split_lines(text);
    SimTime last_at = 0;
    for (int i = 0; lines[i]; i++) {
        g_array_set_size(toks, 0);
        if (!scn_tokenize(sc, scanner, i + 1, lines[i], toks))
            continue;
        Line l = { sc, i + 1, lines[i], toks, 0, false };
        guint errors_before = sc->errors->len;
        parse_line(&l, &last_at);
        if (sc->errors->len == errors_before && l.pos < toks->len)
            scn_line_error(&l, scn_peek(&l), "unexpected '%s'", scn_describe(scn_peek(&l)));
        if (sc->errors->len > 50) {
            scenario_error(sc, i + 1, 1, "too many errors; stopping here");
            break;
        }
    }
    g_strfreev(lines);
    g_array_unref(toks);
    g_scanner_destroy(scanner);

    if (sc->decls->len == 0 || ((Decl *)g_ptr_array_index(sc->decls, 0))->spec != &scenario_spec) {
        Decl *d = new_decl(&scenario_spec);
        d->names[0] = name_from_path(path);
        d->id = g_strdup(d->names[0]);
        d->line = 1;
        d->col = 1;
        g_ptr_array_insert(sc->decls, 0, d);
        index_decl(sc, d);
    }
    for (guint i = 0; i < sc->decls->len;) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        char *what = g_strdup_printf("%s %s", d->spec->kind, d->id);
        bool complete = fill_defaults(sc, d->spec->params, d->values, d->line, d->col, what);
        g_free(what);
        if (complete || i == 0)
            i++;
        else
            drop_decl(sc, d);
    }
    sc->name = g_strdup(((Decl *)g_ptr_array_index(sc->decls, 0))->id);
    g_ptr_array_sort(sc->actions, action_cmp);
    return sc;
}

Scenario *scenario_load(const char *path, const Schema *schema)
{
    char *text = NULL, *err = NULL;
    size_t len = 0;
    if (!scn_read_bounded(path, MAX_FILE_BYTES, &text, &len, &err)) {
        Scenario *sc = scenario_new(path, schema);
        scenario_error(sc, 0, 0, "%s", err);
        g_free(err);
        return sc;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        Scenario *sc = scenario_new(path, schema);
        int line = 1, col = 1;
        for (const char *p = text; p < nul; p++)
            *p == '\n' ? (line++, col = 1) : col++;
        scenario_error(sc, line, col, "a NUL byte: expected a text file");
        g_free(text);
        return sc;
    }
    Scenario *sc = scenario_parse(path, text, schema);
    g_free(text);
    return sc;
}

void scenario_draw_members(Scenario *sc, uint64_t seed)
{
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        for (int k = 0; d->spec->params[k].key; k++) {
            ParamValue *v = &d->values[k];
            const ParamSpec *p = &d->spec->params[k];
            if (!v->drawn)
                continue;
            char *stream = g_strdup_printf("%s.%s.%s", d->spec->kind, d->id, p->key);
            Rng rng;
            rng_stream(&rng, seed, stream);
            g_free(stream);
            double x = dist_sample(&v->dist, &rng);
            if (p->min != 0 || p->max != 0)
                x = CLAMP(x, p->min, p->max != 0 ? p->max : x);
            if (p->type == PT_PROB)
                x = CLAMP(x, 0.0, 1.0);
            char *drawn_from = v->text;
            if (scn_type_is_int(p->type)) {
                v->i = (int64_t)llround(p->type == PT_INT ? x : MAX(x, 0.0));
                v->text = g_strdup_printf("%lld (drawn from %s)", (long long)v->i, drawn_from);
            } else {
                v->r = x;
                v->text = g_strdup_printf("%g (drawn from %s)", v->r, drawn_from);
            }
            g_free(drawn_from);
        }
    }
}

void scenario_free(Scenario *sc)
{
    if (!sc)
        return;
    g_ptr_array_unref(sc->actions); /* actions point at decls: free them first */
    g_hash_table_unref(sc->index);
    g_hash_table_unref(sc->groups);
    g_ptr_array_unref(sc->decls);
    g_ptr_array_unref(sc->expects);
    g_ptr_array_unref(sc->metrics);
    g_ptr_array_unref(sc->errors);
    g_ptr_array_unref(sc->overrides);
    g_free(sc->path);
    g_free(sc->text);
    g_free(sc->name);
    g_free(sc);
}

/* The member names a group form in an override stands for: "c[*]" every
 * member of group c, "c[1..20]" c1 to c20; NULL (with *err) when it is
 * not one. */
static GPtrArray *override_members(const Scenario *sc, const char *form, const char *name, char **err)
{
    char *base = NULL;
    long lo = 0, hi = 0;
    bool star = false;
    if (!group_form(form, &base, &lo, &hi, &star) || (!star && (lo < 0 || hi < lo))) {
        *err = g_strdup_printf("--set %s: '%s' is not a group form (expected NAME[*] or NAME[FIRST..LAST])", name,
                               form);
        return NULL;
    }
    GPtrArray *members = g_ptr_array_new_with_free_func(g_free);
    if (star) {
        GPtrArray *g = g_hash_table_lookup(sc->groups, base);
        if (!g)
            *err = g_strdup_printf("--set %s: no group '%s' is declared (as %s[FIRST..LAST])", name, base, base);
        for (guint k = 0; g && k < g->len; k++)
            g_ptr_array_add(members, g_strdup(g_ptr_array_index(g, k)));
    } else {
        for (long k = lo; k <= hi; k++)
            g_ptr_array_add(members, g_strdup_printf("%s%ld", base, k));
    }
    g_free(base);
    if (*err) {
        g_ptr_array_unref(members);
        return NULL;
    }
    return members;
}

/* The ids an override's middle part names: itself, or for a group form
 * (alone, or as one end of a link: "c[*]-srv", "srv-c[1..3]") one id per
 * member. */
static GPtrArray *override_ids(const Scenario *sc, const char *id, const char *name, char **err)
{
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    const char *open = strchr(id, '['), *close = open ? strchr(open, ']') : NULL;
    if (!open || !close) {
        g_ptr_array_add(ids, g_strdup(id));
        return ids;
    }
    /* the group's name starts after the last '-' before '[' (a link's other end) */
    const char *start = open;
    while (start > id && start[-1] != '-')
        start--;
    char *prefix = g_strndup(id, (gsize)(start - id));
    char *form = g_strndup(start, (gsize)(close + 1 - start));
    const char *suffix = close + 1;
    GPtrArray *members = override_members(sc, form, name, err);
    for (guint k = 0; members && k < members->len; k++)
        g_ptr_array_add(ids, g_strconcat(prefix, (char *)g_ptr_array_index(members, k), suffix, NULL));
    if (members)
        g_ptr_array_unref(members);
    g_free(prefix);
    g_free(form);
    if (*err) {
        g_ptr_array_unref(ids);
        return NULL;
    }
    return ids;
}

/* VALUE converted for KEY of declaration kind spec; false with *err. */
static bool override_value(const ParamSpec *p, const char *name, const char *value, ParamValue *v, char **err)
{
    Scenario tmp = { .path = (char *)"--set", .errors = g_ptr_array_new_with_free_func(error_free) };
    GScanner *scanner = scn_new_scanner();
    GArray *toks = g_array_new(FALSE, TRUE, sizeof(Tok));
    g_array_set_clear_func(toks, scn_tok_clear);
    Line l = { &tmp, 1, value, toks, 0, false };
    GPtrArray *items = NULL;
    char *cerr = NULL;
    int col = 1;
    memset(v, 0, sizeof *v);
    if (scn_tokenize(&tmp, scanner, 1, value, toks) && (items = scn_parse_items(&l)) != NULL) {
        if (l.pos < toks->len)
            scn_line_error(&l, scn_peek(&l), "unexpected '%s'", scn_describe(scn_peek(&l)));
        else
            cerr = scn_convert(p, items, NULL, v, &col);
    }
    bool ok = !tmp.errors->len && !cerr;
    if (!ok) {
        ScenarioError *e = tmp.errors->len ? g_ptr_array_index(tmp.errors, 0) : NULL;
        *err = g_strdup_printf("--set %s: %s", name, e ? e->msg : cerr);
        scn_value_clear(v);
    }
    g_free(cerr);
    if (items)
        g_ptr_array_unref(items);
    g_array_unref(toks);
    g_scanner_destroy(scanner);
    g_ptr_array_unref(tmp.errors);
    return ok;
}

bool scenario_override(Scenario *sc, const char *assignment, char **err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        *err = g_strdup_printf("--set %s: expected NAME=VALUE", assignment);
        return false;
    }
    char *name = g_strndup(assignment, (gsize)(eq - assignment));
    const char *value = eq + 1;
    /* KIND.ID.KEY: the key is after the last dot, the kind before the first
     * (a group form's range has dots of its own) */
    const char *first = strchr(name, '.'), *last = strrchr(name, '.');
    GPtrArray *targets = g_ptr_array_new(); /* Decl* */
    const char *key = NULL;
    char *kind = NULL, *id = NULL;
    bool ok = false;
    if (first && first == last && strncmp(name, "scenario.", 9) == 0) {
        g_ptr_array_add(targets, g_ptr_array_index(sc->decls, 0));
        key = last + 1;
    } else if (first && first != last) {
        kind = g_strndup(name, (gsize)(first - name));
        id = g_strndup(first + 1, (gsize)(last - first - 1));
        key = last + 1;
        if (!find_decl_spec(sc, kind) || strcmp(kind, "scenario") == 0) {
            *err = g_strdup_printf("--set %s: unknown kind '%s' (expected KIND.NAME.KEY, e.g. link.c1-srv.loss, "
                                   "or scenario.KEY)", name, kind);
            goto out;
        }
        GPtrArray *ids = override_ids(sc, id, name, err);
        if (!ids)
            goto out;
        for (guint k = 0; k < ids->len; k++) {
            Decl *d = scenario_find_decl(sc, kind, g_ptr_array_index(ids, k));
            if (!d) {
                *err = g_strdup_printf("--set %s: no %s '%s' is declared", name, kind,
                                       (char *)g_ptr_array_index(ids, k));
                g_ptr_array_unref(ids);
                goto out;
            }
            if (!g_ptr_array_find(targets, d, NULL))
                g_ptr_array_add(targets, d);
        }
        g_ptr_array_unref(ids);
    }
    if (!targets->len) {
        *err = g_strdup_printf("--set %s: unknown name (expected KIND.NAME.KEY, e.g. link.c1-srv.loss, "
                               "link.c[*]-srv.loss for a group, or scenario.KEY)", name);
        goto out;
    }
    Decl *d0 = g_ptr_array_index(targets, 0);
    int idx = decl_param_index(d0->spec, key);
    if (idx < 0) {
        char *keys = keys_list(d0->spec->params);
        *err = g_strdup_printf("--set %s: %s has no key '%s' (expected one of: %s)", name, d0->spec->kind, key, keys);
        g_free(keys);
        goto out;
    }
    for (guint k = 0; k < targets->len; k++) {
        Decl *d = g_ptr_array_index(targets, k);
        ParamValue v;
        if (!override_value(&d->spec->params[idx], name, value, &v, err))
            goto out;
        scn_value_clear(&d->values[idx]);
        v.given = true;
        v.text = g_strdup(value);
        d->values[idx] = v;
    }
    g_ptr_array_add(sc->overrides, g_strdup(assignment));
    ok = true;
out:
    g_ptr_array_unref(targets);
    g_free(kind);
    g_free(id);
    g_free(name);
    return ok;
}

GPtrArray *scenario_params(const Scenario *sc)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        for (size_t k = 0; d->spec->params[k].key; k++) {
            if (d->spec == &scenario_spec)
                g_ptr_array_add(out, g_strdup_printf("scenario.%s", d->spec->params[k].key));
            else
                g_ptr_array_add(out, g_strdup_printf("%s.%s.%s", d->spec->kind, d->id, d->spec->params[k].key));
            g_ptr_array_add(out, g_strdup(d->values[k].text));
        }
    }
    return out;
}

uint64_t scenario_seed(const Scenario *sc)
{
    return (uint64_t)decl_param(g_ptr_array_index(sc->decls, 0), "seed")->i;
}

SimTime scenario_stop(const Scenario *sc)
{
    return decl_param(g_ptr_array_index(sc->decls, 0), "stop")->i;
}

SimTime scenario_query_budget(const Scenario *sc)
{
    return decl_param(g_ptr_array_index(sc->decls, 0), "query_budget")->i;
}

