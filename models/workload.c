#include "workload.h"

#include <string.h>

#include "smb.h"

typedef struct {
    char *name;
    Fobx *fobx;
    char *path;
} Handle;

typedef struct {
    Workload *w;
    char *op;
    int handle;
    char *path;
    SimTime t0;
    uint64_t bytes;
    bool done;
    const char *arg0; /* the action's first word (its handle, drive...): names its `done` event */
} Pending;

struct Workload {
    Rdbss *r;
    Trace *trace;
    Sim *sim;
    uint32_t node;
    char *name;          /* the node's */
    Waits *waits;        /* NULL: nobody waits for an operation */
    GPtrArray *handles;  /* Handle* */
    GPtrArray *pending;  /* Pending* still out */
};

static const char *const verbs[] = { "use", "unuse", "open", "read", "write", "lock", "unlock", "flush",
                                     "info", "close", "stop", NULL };

bool workload_is_verb(const char *verb)
{
    for (const char *const *v = verbs; *v; v++)
        if (strcmp(*v, verb) == 0)
            return true;
    return false;
}

static void handle_free(gpointer p)
{
    Handle *h = p;
    g_free(h->name);
    g_free(h->path);
    g_free(h);
}

static void pending_free(gpointer p)
{
    Pending *q = p;
    g_free(q->op);
    g_free(q->path);
    g_free(q);
}

Workload *workload_new(Rdbss *r, Trace *trace, Sim *sim, const char *node)
{
    Workload *w = g_new0(Workload, 1);
    w->r = r;
    w->trace = trace;
    w->sim = sim;
    w->node = trace_name(trace, node);
    w->name = g_strdup(node);
    w->handles = g_ptr_array_new_with_free_func(handle_free);
    w->pending = g_ptr_array_new_with_free_func(pending_free);
    return w;
}

void workload_set_waits(Workload *w, Waits *waits) { w->waits = waits; }

void workload_free(Workload *w)
{
    if (!w)
        return;
    g_ptr_array_unref(w->handles);
    g_ptr_array_unref(w->pending);
    g_free(w->name);
    g_free(w);
}

static void row(Workload *w, const Pending *q, SimTime t_done, NTSTATUS st, uint64_t bytes)
{
    trace_op(w->trace, w->node, trace_name(w->trace, q->op), q->handle, trace_name(w->trace, q->path ? q->path : ""),
             q->t0, t_done, st, (int64_t)bytes);
}

static Handle *handle_named(Workload *w, const char *name, int *index)
{
    for (guint i = 0; i < w->handles->len; i++) {
        Handle *h = g_ptr_array_index(w->handles, i);
        if (strcmp(h->name, name) == 0) {
            *index = (int)i + 1;
            return h;
        }
    }
    Handle *h = g_new0(Handle, 1);
    h->name = g_strdup(name);
    g_ptr_array_add(w->handles, h);
    *index = (int)w->handles->len;
    return h;
}

static void on_done(void *ctx, NTSTATUS st, uint64_t info, Fobx *fobx)
{
    Pending *q = ctx;
    Workload *w = q->w;
    if (strcmp(q->op, "open") == 0) {
        Handle *h = g_ptr_array_index(w->handles, q->handle - 1);
        h->fobx = st == STATUS_SUCCESS ? fobx : NULL;
    } else if (strcmp(q->op, "close") == 0 && q->handle) {
        ((Handle *)g_ptr_array_index(w->handles, q->handle - 1))->fobx = NULL;
    }
    uint64_t bytes = strcmp(q->op, "read") == 0 || strcmp(q->op, "write") == 0 ? info : 0;
    row(w, q, sim_now(w->sim), st, bytes);
    if (waits_wanted(w->waits)) { /* `after c1 open h1 done` */
        char *event = q->arg0 ? g_strdup_printf("%s %s %s done", w->name, q->op, q->arg0)
                              : g_strdup_printf("%s %s done", w->name, q->op);
        waits_signal(w->waits, event);
        g_free(event);
    }
    g_ptr_array_remove(w->pending, q);
}

static Pending *start(Workload *w, const Action *a, const char *op, int handle, const char *path)
{
    Pending *q = g_new0(Pending, 1);
    q->arg0 = a->spec->n_args > 0 ? a->args[0] : NULL;
    q->w = w;
    q->op = g_strdup(op);
    q->handle = handle;
    q->path = g_strdup(path);
    q->t0 = sim_now(w->sim);
    g_ptr_array_add(w->pending, q);
    return q;
}

static const char *sval(const Action *a, const char *k) { return action_param(a, k)->s; }
static int64_t ival(const Action *a, const char *k) { return action_param(a, k)->i; }
static const char *opt(const char *s) { return s && *s ? s : NULL; }

static uint32_t letters(const char *s, const char *set, const uint32_t *bits)
{
    uint32_t v = 0;
    for (; *s; s++) {
        const char *p = strchr(set, *s);
        if (p)
            v |= bits[p - set];
    }
    return v;
}

static uint32_t disposition(const char *s)
{
    static const char *const names[] = { "supersede", "open", "create", "open_if", "overwrite", "overwrite_if" };
    for (uint32_t i = 0; i < 6; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return DISP_OPEN_IF;
}

static OplockLevel oplock(const char *s)
{
    if (strcmp(s, "level2") == 0)
        return OPLOCK_LEVEL_II;
    if (strcmp(s, "exclusive") == 0)
        return OPLOCK_LEVEL_EXCLUSIVE;
    if (strcmp(s, "batch") == 0)
        return OPLOCK_LEVEL_BATCH;
    return OPLOCK_LEVEL_NONE;
}

bool workload_action(Workload *w, const Action *a, MiniRdr *(*find_rdr)(void *ctx, const char *name), void *ctx)
{
    const char *verb = a->spec->verb;
    if (strcmp(a->spec->subject, "node") != 0 || !verb || !workload_is_verb(verb))
        return false;
    Rdbss *r = w->r;
    if (strcmp(verb, "use") == 0) {
        Pending *q = start(w, a, "use", 0, a->args[1]);
        rdbss_use(r, a->args[0], a->args[1], opt(sval(a, "user")), opt(sval(a, "password")), on_done, q);
    } else if (strcmp(verb, "unuse") == 0) {
        Pending *q = start(w, a, "unuse", 0, a->args[0]);
        rdbss_unuse(r, a->args[0], ival(a, "force"), on_done, q);
    } else if (strcmp(verb, "stop") == 0) {
        Pending *q = start(w, a, "stop", 0, a->args[0]);
        rdbss_stop(r, find_rdr(ctx, a->args[0]), on_done, q);
    } else if (strcmp(verb, "open") == 0) {
        int idx;
        Handle *h = handle_named(w, a->args[0], &idx);
        g_free(h->path);
        h->path = g_strdup(a->args[1]);
        Pending *q = start(w, a, "open", idx, h->path);
        static const uint32_t abits[] = { ACCESS_READ_DATA, ACCESS_WRITE_DATA, ACCESS_DELETE, ACCESS_READ_ATTR };
        static const uint32_t sbits[] = { SHARE_READ, SHARE_WRITE, SHARE_DELETE };
        rdbss_create_ex(r, h->path, letters(sval(a, "access"), "rwda", abits),
                        letters(sval(a, "share"), "rwd", sbits), disposition(sval(a, "disposition")),
                        oplock(sval(a, "oplock")), ival(a, "delete_on_close"), ival(a, "directory"),
                        opt(sval(a, "user")), opt(sval(a, "password")), on_done, q);
    } else {
        int idx;
        Handle *h = handle_named(w, a->args[0], &idx);
        Pending *q = start(w, a, verb, idx, h->path);
        Fobx *x = h->fobx;
        if (strcmp(verb, "read") == 0)
            rdbss_read(r, x, (uint64_t)ival(a, "offset"), (uint64_t)ival(a, "length"), on_done, q);
        else if (strcmp(verb, "write") == 0)
            rdbss_write(r, x, (uint64_t)ival(a, "offset"), (uint64_t)ival(a, "length"), on_done, q);
        else if (strcmp(verb, "lock") == 0)
            rdbss_lock(r, x, (uint64_t)ival(a, "offset"), (uint64_t)ival(a, "length"), ival(a, "exclusive"), on_done,
                       q);
        else if (strcmp(verb, "unlock") == 0)
            rdbss_unlock(r, x, (uint64_t)ival(a, "offset"), (uint64_t)ival(a, "length"), on_done, q);
        else if (strcmp(verb, "flush") == 0)
            rdbss_flush(r, x, on_done, q);
        else if (strcmp(verb, "close") == 0)
            rdbss_close(r, x, on_done, q);
        else {
            g_free(q->op);
            q->op = g_strdup(sval(a, "what"));
            rdbss_info(r, x, sval(a, "what"), (uint64_t)ival(a, "length"), opt(sval(a, "to")), on_done, q);
        }
    }
    return true;
}

void workload_flush_trace(Workload *w)
{
    for (guint i = 0; i < w->pending->len; i++)
        row(w, g_ptr_array_index(w->pending, i), -1, STATUS_PENDING, 0);
}
