#include "loadgen.h"

#include <math.h>
#include <string.h>

#include "ilist.h"
#include "pool.h"
#include "rng.h"
#include "smb.h"

static const char *const op_names[LG_N_OPS] = { "read", "write", "lock", "flush", "query", "open", "close" };

struct ZipfTable {
    int64_t n;
    double s;
    double *cdf; /* NULL when uniform */
};

ZipfTable *zipf_table_new(int64_t n, double s)
{
    ZipfTable *z = g_new0(ZipfTable, 1);
    z->n = n;
    z->s = s;
    if (s > 0) {
        z->cdf = g_new(double, n);
        double sum = 0;
        for (int64_t k = 0; k < n; k++)
            z->cdf[k] = sum += pow((double)(k + 1), -s);
        for (int64_t k = 0; k < n; k++)
            z->cdf[k] /= sum;
    }
    return z;
}

void zipf_table_free(ZipfTable *z)
{
    if (!z)
        return;
    g_free(z->cdf);
    g_free(z);
}

/* A file index 0 .. n-1. */
static int64_t zipf_draw(const ZipfTable *z, Rng *rng)
{
    if (!z->cdf)
        return (int64_t)rng_below(rng, (uint64_t)z->n);
    double u = rng_uniform01(rng);
    int64_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool loadgen_parse_mix(char **words, double *weights, char **err)
{
    memset(weights, 0, sizeof(double) * LG_N_OPS);
    double total = 0;
    for (char **w = words; w && *w && **w; w++) {
        const char *colon = strchr(*w, ':');
        char *name = colon ? g_strndup(*w, (gsize)(colon - *w)) : g_strdup(*w);
        int op = -1;
        for (int i = 0; i < LG_N_OPS; i++)
            if (strcmp(name, op_names[i]) == 0)
                op = i;
        char *end = NULL;
        double v = colon ? g_ascii_strtod(colon + 1, &end) : 1;
        bool bad_weight = colon && (end == colon + 1 || *end || !(v >= 0) || v > 1e6);
        if (op < 0 || bad_weight) {
            *err = op < 0 ? g_strdup_printf("mix: unknown operation '%s' (expected read, write, lock, flush, query, "
                                            "open or close)", name)
                          : g_strdup_printf("mix: '%s': expected OPERATION:WEIGHT with a weight from 0 to 10^6", *w);
            g_free(name);
            return false;
        }
        g_free(name);
        weights[op] += v;
        total += v;
    }
    if (total <= 0) {
        *err = g_strdup("mix: the weights add up to nothing");
        return false;
    }
    return true;
}

char *loadgen_file_path(int64_t k) { return g_strdup_printf("wl\\f%lld.dat", (long long)k); }

typedef struct {
    Fobx *fobx;       /* NULL while opening */
    int64_t file;
    int id;           /* the handle column of ops */
    int busy;         /* operations in flight on it */
    bool closing;
    uint64_t last_use;
} LgHandle;

/* An operation in flight: its row, and what to do when it ends. */
typedef struct LgOp {
    LoadGen *g;
    LoadOp op;
    const char *name;
    LgHandle *h;
    LoadOp then;      /* after an open: the operation it was opened for (LG_N_OPS: none) */
    uint64_t offset, length;
    SimTime t0;
    uint32_t path;
    bool uses;        /* counts in h->busy: I/O on an open handle (not its open or close) */
    GList link;       /* in g->inflight */
} LgOp;

struct LoadGen {
    Rdbss *r;
    Trace *trace;
    Sim *sim;
    uint32_t node;
    LoadGenParams p;
    double weight_total;
    Rng rng;
    GPtrArray *handles;  /* LgHandle* */
    GQueue inflight;     /* LgOp*, linked through their own nodes */
    LoadGenShared *shared; /* with the run's other generators */
    bool mapped, ending, stopped;
    int next_id;
    uint64_t ops_done;   /* operations over, whatever their status */
    uint64_t uses;
    SimEventId arrival, session_end;
};

static void arrival(Sim *sim, void *ctx, uint64_t arg);
static void session_begin(Sim *sim, void *ctx, uint64_t arg);

struct LoadGenShared {
    Pool op_pool;         /* LgOp */
    TraceFixedNames ops;  /* of the ops rows */
    GPtrArray *text;      /* "W:\wl\fK.dat", by file (NULL: not yet made) */
    GArray *id;           /* uint32_t: its trace name id, by file (0: not yet) */
};

LoadGenShared *loadgen_shared_new(void)
{
    LoadGenShared *n = g_new0(LoadGenShared, 1);
    pool_init(&n->op_pool, sizeof(LgOp));
    n->text = g_ptr_array_new_with_free_func(g_free);
    n->id = g_array_new(FALSE, TRUE, sizeof(uint32_t));
    return n;
}

void loadgen_shared_free(LoadGenShared *n)
{
    if (!n)
        return;
    g_ptr_array_unref(n->text);
    g_array_unref(n->id);
    pool_clear(&n->op_pool);
    g_free(n);
}

/* A file's path on the mapped drive, made once per file. */
static const char *path_text(LoadGen *g, int64_t file)
{
    GPtrArray *text = g->shared->text;
    if ((guint)file >= text->len)
        g_ptr_array_set_size(text, (guint)file + 1);
    char **p = (char **)&g_ptr_array_index(text, file);
    if (!*p) {
        char *rel = loadgen_file_path(file + 1);
        *p = g_strdup_printf("W:\\%s", rel);
        g_free(rel);
    }
    return *p;
}

static uint32_t path_of(LoadGen *g, int64_t file)
{
    GArray *id = g->shared->id;
    if ((guint)file >= id->len)
        g_array_set_size(id, (guint)file + 1);
    uint32_t *v = &g_array_index(id, uint32_t, file);
    if (!*v)
        *v = trace_name(g->trace, path_text(g, file));
    return *v;
}

static LgOp *op_begin(LoadGen *g, LoadOp op, const char *name, LgHandle *h, uint32_t path, bool uses)
{
    LgOp *o = pool_alloc0(&g->shared->op_pool);
    o->g = g;
    o->op = op;
    o->name = name;
    o->h = h;
    o->then = LG_N_OPS;
    o->t0 = sim_now(g->sim);
    o->path = path;
    o->uses = uses;
    if (uses)
        h->busy++;
    o->link.data = o;
    ilist_push_tail(&g->inflight, &o->link);
    return o;
}

static void op_row(LgOp *o, SimTime t_done, NTSTATUS st, uint64_t bytes)
{
    LoadGen *g = o->g;
    trace_op(g->trace, g->node, trace_name_fixed(g->trace, &g->shared->ops, o->name), o->h ? o->h->id : 0, o->path,
             o->t0, t_done, st, (int64_t)bytes);
}

static void op_free(LgOp *o) { pool_free(&o->g->shared->op_pool, o); }

/* The operation is over: its row, and it leaves the in-flight set. */
static void op_end(LgOp *o, NTSTATUS st, uint64_t bytes)
{
    op_row(o, sim_now(o->g->sim), st, bytes);
    o->g->ops_done++;
    if (o->uses)
        o->h->busy--;
    ilist_unlink(&o->g->inflight, &o->link);
}

static void handle_drop(LoadGen *g, LgHandle *h)
{
    g_ptr_array_remove(g->handles, h);
    g_free(h);
}

static void maybe_unuse(LoadGen *g);

static void closed(void *ctx, NTSTATUS st, uint64_t info, Fobx *fobx)
{
    (void)info, (void)fobx;
    LgOp *o = ctx;
    LoadGen *g = o->g;
    LgHandle *h = o->h;
    op_end(o, st, 0);
    op_free(o);
    handle_drop(g, h);
    maybe_unuse(g);
}

static void close_handle(LoadGen *g, LgHandle *h)
{
    if (h->closing || !h->fobx)
        return;
    h->closing = true;
    LgOp *o = op_begin(g, LG_CLOSE, "close", h, path_of(g, h->file), false);
    rdbss_close(g->r, h->fobx, closed, o);
}

static void issue(LoadGen *g, LoadOp op, LgHandle *h);

/* An operation on an open handle finished. */
static void io_done(void *ctx, NTSTATUS st, uint64_t info, Fobx *fobx)
{
    (void)fobx;
    LgOp *o = ctx;
    LoadGen *g = o->g;
    LgHandle *h = o->h;
    bool io = o->op == LG_READ || o->op == LG_WRITE;
    bool lock = o->op == LG_LOCK && strcmp(o->name, "lock") == 0;
    uint64_t off = o->offset, len = o->length;
    op_end(o, st, io ? info : 0);
    op_free(o);
    if (st == STATUS_SUCCESS && lock && !h->closing) {
        /* a lock is held for the length of one round trip: then released */
        LgOp *u = op_begin(g, LG_LOCK, "unlock", h, path_of(g, h->file), true);
        u->offset = off;
        u->length = len;
        rdbss_unlock(g->r, h->fobx, off, len, io_done, u);
        return;
    }
    bool conflict = st == STATUS_LOCK_NOT_GRANTED || st == STATUS_FILE_LOCK_CONFLICT || st == STATUS_END_OF_FILE;
    if ((st != STATUS_SUCCESS && !conflict) || (g->ending && h->busy == 0))
        close_handle(g, h); /* the handle is broken, or the session is ending */
}

static void opened(void *ctx, NTSTATUS st, uint64_t info, Fobx *fobx)
{
    (void)info;
    LgOp *o = ctx;
    LoadGen *g = o->g;
    LgHandle *h = o->h;
    LoadOp then = o->then;
    op_end(o, st, 0);
    op_free(o);
    if (st != STATUS_SUCCESS) {
        handle_drop(g, h);
        maybe_unuse(g);
        return;
    }
    h->fobx = fobx;
    if (g->ending) {
        close_handle(g, h);
        return;
    }
    if (then != LG_N_OPS && then != LG_OPEN)
        issue(g, then, h);
}

static LgHandle *find_handle(LoadGen *g, int64_t file)
{
    for (guint i = 0; i < g->handles->len; i++) {
        LgHandle *h = g_ptr_array_index(g->handles, i);
        if (h->file == file && !h->closing)
            return h;
    }
    return NULL;
}

/* Room for one more open: close the least recently used idle handle. */
static void make_room(LoadGen *g)
{
    int open = 0;
    LgHandle *lru = NULL;
    for (guint i = 0; i < g->handles->len; i++) {
        LgHandle *h = g_ptr_array_index(g->handles, i);
        if (h->closing)
            continue;
        open++;
        if (h->fobx && h->busy == 0 && (!lru || h->last_use < lru->last_use))
            lru = h;
    }
    if (open >= g->p.max_open && lru)
        close_handle(g, lru);
}

static void open_file(LoadGen *g, int64_t file, LoadOp then)
{
    make_room(g);
    LgHandle *h = g_new0(LgHandle, 1);
    h->file = file;
    h->id = ++g->next_id;
    h->last_use = ++g->uses;
    g_ptr_array_add(g->handles, h);
    LgOp *o = op_begin(g, LG_OPEN, "open", h, path_of(g, file), false);
    o->then = then;
    rdbss_create(g->r, path_text(g, file), ACCESS_READ_DATA | ACCESS_WRITE_DATA, SHARE_READ | SHARE_WRITE,
                 DISP_OPEN_IF, g->p.oplock, false, NULL, NULL, opened, o);
}

static uint64_t draw_size(LoadGen *g)
{
    double v = dist_sample(g->p.size, &g->rng);
    uint64_t n = v < 1 ? 1 : (uint64_t)v;
    return MIN(n, (uint64_t)g->p.file_size);
}

/* Issue one operation on an open handle. */
static void issue(LoadGen *g, LoadOp op, LgHandle *h)
{
    h->last_use = ++g->uses;
    uint32_t path = path_of(g, h->file);
    LgOp *o = op_begin(g, op, op_names[op], h, path, true);
    if (op == LG_READ || op == LG_WRITE || op == LG_LOCK) {
        o->length = op == LG_LOCK ? 1 + rng_below(&g->rng, 4096) : draw_size(g);
        o->length = MIN(o->length, (uint64_t)g->p.file_size);
        o->offset = rng_below(&g->rng, (uint64_t)g->p.file_size - o->length + 1);
    }
    switch (op) {
    case LG_READ:
        rdbss_read(g->r, h->fobx, o->offset, o->length, io_done, o);
        break;
    case LG_WRITE:
        rdbss_write(g->r, h->fobx, o->offset, o->length, io_done, o);
        break;
    case LG_LOCK:
        rdbss_lock(g->r, h->fobx, o->offset, o->length, rng_below(&g->rng, 2), io_done, o);
        break;
    case LG_FLUSH:
        rdbss_flush(g->r, h->fobx, io_done, o);
        break;
    default:
        o->name = "query_file";
        rdbss_info(g->r, h->fobx, "query_file", 0, NULL, io_done, o);
        break;
    }
}

static LoadOp draw_op(LoadGen *g)
{
    double u = rng_uniform01(&g->rng) * g->weight_total;
    for (int i = 0; i < LG_N_OPS; i++) {
        if (u < g->p.weights[i])
            return (LoadOp)i;
        u -= g->p.weights[i];
    }
    return LG_READ;
}

static void perform(LoadGen *g, LoadOp op)
{
    if (op == LG_CLOSE) {
        GPtrArray *idle = g_ptr_array_new();
        for (guint i = 0; i < g->handles->len; i++) {
            LgHandle *h = g_ptr_array_index(g->handles, i);
            if (h->fobx && !h->closing && h->busy == 0)
                g_ptr_array_add(idle, h);
        }
        if (idle->len)
            close_handle(g, g_ptr_array_index(idle, rng_below(&g->rng, idle->len)));
        g_ptr_array_unref(idle);
        return;
    }
    int64_t file = zipf_draw(g->p.popularity, &g->rng);
    LgHandle *h = find_handle(g, file);
    if (!h)
        open_file(g, file, op);
    else if (h->fobx && op != LG_OPEN)
        issue(g, op, h);
    /* else: the file is still being opened; the arrival is spent */
}

static SimTime interarrival(LoadGen *g)
{
    double ns = g->p.rate > 0 ? rng_exponential(&g->rng, 1e9 / g->p.rate) : dist_sample(g->p.think, &g->rng);
    return ns < 1 ? 1 : (SimTime)ns;
}

static void arrival(Sim *sim, void *ctx, uint64_t arg)
{
    (void)arg;
    LoadGen *g = ctx;
    g->arrival = SIM_NO_EVENT;
    /* An event of our own, with no RDBSS call on the stack: the moment
     * to hand back what closed handles left behind. */
    rdbss_reclaim(g->r);
    if (g->ending || !g->mapped)
        return;
    perform(g, draw_op(g));
    g->arrival = sim_after(sim, interarrival(g), arrival, g, 0);
}

static void unused(void *ctx, NTSTATUS st, uint64_t info, Fobx *fobx)
{
    (void)info, (void)fobx;
    LgOp *o = ctx;
    LoadGen *g = o->g;
    op_end(o, st, 0);
    op_free(o);
    g->mapped = false;
    g->ending = false;
    if (!g->stopped)
        sim_after(g->sim, interarrival(g), session_begin, g, 0);
}

/* The session ends once every handle is closed: then the drive goes. */
static void maybe_unuse(LoadGen *g)
{
    if (!g->ending || !g->mapped || g->handles->len)
        return;
    g->mapped = false; /* once */
    LgOp *o = op_begin(g, LG_N_OPS, "unuse", NULL, trace_name(g->trace, "W:"), false);
    rdbss_unuse(g->r, "W:", false, unused, o);
}

static void session_end(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    LoadGen *g = ctx;
    g->session_end = SIM_NO_EVENT;
    if (arg)
        g->stopped = true; /* the workload's stop time */
    if (!g->mapped || g->ending)
        return;
    g->ending = true;
    sim_cancel(g->sim, g->arrival);
    g->arrival = SIM_NO_EVENT;
    GPtrArray *all = g_ptr_array_copy(g->handles, NULL, NULL);
    for (guint i = 0; i < all->len; i++) {
        LgHandle *h = g_ptr_array_index(all, i);
        if (h->busy == 0)
            close_handle(g, h);
    }
    g_ptr_array_unref(all);
    maybe_unuse(g);
}

static void used(void *ctx, NTSTATUS st, uint64_t info, Fobx *fobx)
{
    (void)info, (void)fobx;
    LgOp *o = ctx;
    LoadGen *g = o->g;
    op_end(o, st, 0);
    op_free(o);
    if (g->stopped)
        return;
    if (st != STATUS_SUCCESS) {
        /* the server is not reachable now: try again a second later */
        sim_after(g->sim, SIM_SEC, session_begin, g, 0);
        return;
    }
    g->mapped = true;
    if (g->p.session > 0)
        g->session_end = sim_after(g->sim, g->p.session, session_end, g, 0);
    g->arrival = sim_after(g->sim, interarrival(g), arrival, g, 0);
}

static void session_begin_now(void *ctx) { session_begin(NULL, ctx, 0); }

static void session_begin(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim, (void)arg;
    LoadGen *g = ctx;
    if (g->stopped)
        return;
    if (rdbss_starting(g->r)) { /* the machine is still booting */
        rdbss_when_started(g->r, session_begin_now, g, NULL);
        return;
    }
    LgOp *o = op_begin(g, LG_N_OPS, "use", NULL, trace_name(g->trace, g->p.share), false);
    rdbss_use(g->r, "W:", g->p.share, g->p.user, g->p.password, used, o);
}

LoadGen *loadgen_new(Rdbss *r, Trace *trace, Sim *sim, const char *node, const LoadGenParams *p, uint64_t seed,
                     LoadGenShared *shared)
{
    LoadGen *g = g_new0(LoadGen, 1);
    g->r = r;
    g->trace = trace;
    g->sim = sim;
    g->node = trace_name(trace, node);
    g->p = *p;
    for (int i = 0; i < LG_N_OPS; i++)
        g->weight_total += p->weights[i];
    char *stream = g_strdup_printf("workload.%s", node);
    rng_stream(&g->rng, seed, stream);
    g_free(stream);
    g->handles = g_ptr_array_new();
    g->shared = shared;
    sim_at(sim, p->start, session_begin, g, 0);
    if (p->stop > 0)
        sim_at(sim, p->stop, session_end, g, 1);
    return g;
}

/* Operations still in flight, in a fixed order (start time, handle, name):
 * the trace must not depend on the in-flight set's hash order. */
static gint op_cmp(gconstpointer a, gconstpointer b)
{
    const LgOp *x = *(LgOp *const *)a, *y = *(LgOp *const *)b;
    if (x->t0 != y->t0)
        return x->t0 < y->t0 ? -1 : 1;
    int hx = x->h ? x->h->id : 0, hy = y->h ? y->h->id : 0;
    if (hx != hy)
        return hx - hy;
    return strcmp(x->name, y->name);
}

uint64_t loadgen_ops_done(const LoadGen *g) { return g->ops_done; }

void loadgen_flush_trace(LoadGen *g)
{
    GPtrArray *ops = g_ptr_array_new();
    for (GList *l = g->inflight.head; l; l = l->next)
        g_ptr_array_add(ops, l->data);
    g_ptr_array_sort(ops, op_cmp);
    for (guint i = 0; i < ops->len; i++)
        op_row(g_ptr_array_index(ops, i), -1, STATUS_PENDING, 0);
    g_ptr_array_unref(ops);
}

void loadgen_free(LoadGen *g)
{
    if (!g)
        return;
    GList *l;
    while ((l = ilist_pop_head(&g->inflight)))
        op_free(l->data);
    for (guint i = 0; i < g->handles->len; i++)
        g_free(g_ptr_array_index(g->handles, i));
    g_ptr_array_unref(g->handles);
    g_free(g);
}
