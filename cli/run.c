#include "run.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "expect.h"
#include "partition.h"
#include "scenario.h"
#include "units.h"
#include "world.h"

/* Events per call of sim_run: between calls the driver looks at the wall
 * clock (progress, --max-wall), never inside the model. */
#define CHUNK_EVENTS 200000

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

static void catch_signals(bool on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Parse, apply overrides, check.  Returns NULL after printing the errors,
 * every error of the file at once: the checks of the world and of the
 * queries run over whatever parsed (a statement with an error is left out
 * of the scenario whole, so they see only well-formed statements);
 * overrides are applied to a file that parsed. */
static Scenario *load_checked(const char *path, char **overrides, const uint64_t *seed)
{
    Scenario *sc = scenario_load(path, world_schema());
    bool readable = sc->text != NULL;
    if (sc->errors->len == 0) {
        for (char **o = overrides; o && *o; o++) {
            char *err = NULL;
            if (!scenario_override(sc, *o, &err)) {
                scenario_error(sc, 0, 0, "%s", err);
                g_free(err);
            }
        }
        if (seed) {
            char *set = g_strdup_printf("scenario.seed=%llu", (unsigned long long)*seed);
            char *err = NULL;
            if (!scenario_override(sc, set, &err)) {
                scenario_error(sc, 0, 0, "--seed: %s", err);
                g_free(err);
            }
            g_free(set);
        }
    }
    if (readable) {
        world_check(sc);
        expect_validate(sc);
    }
    if (sc->errors->len) {
        scenario_print_errors(sc, stderr);
        scenario_free(sc);
        return NULL;
    }
    return sc;
}

int check_scenario(const char *path, char **overrides, bool quiet)
{
    Scenario *sc = load_checked(path, overrides, NULL);
    if (!sc)
        return EXIT_BAD_INPUT;
    if (!quiet)
        printf("%s: ok (%u declarations, %u timeline actions, %u expectations)\n", path, sc->decls->len,
               sc->actions->len, sc->expects->len);
    scenario_free(sc);
    return EXIT_OK;
}

static char *default_output(const Scenario *sc)
{
    if (g_mkdir_with_parents("results", 0755) != 0)
        return NULL;
    return g_strdup_printf("results/%s.db", sc->name);
}

static char *joined_overrides(const Scenario *sc)
{
    GString *s = g_string_new("");
    for (guint i = 0; i < sc->overrides->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", (char *)g_ptr_array_index(sc->overrides, i));
    return g_string_free(s, FALSE);
}

static void progress(const Sim *sim, SimTime stop, double wall)
{
    char *t = units_format_time(sim_now(sim));
    fprintf(stderr, "\r  simulated %-10s %5.1f%%  %llu events  %.1f s wall ", t,
            100.0 * (double)sim_now(sim) / (double)stop, (unsigned long long)sim_events_run(sim), wall);
    fflush(stderr);
    g_free(t);
}

typedef struct {
    const char *status;
    char *message;
    SimTime sim_end;
} Outcome;

/* Run until the end or a cap; time_capped: stop comes from --max-sim-time. */
static Outcome drive(Sim *sim, Trace *tr, const RunOptions *opt, SimTime stop, bool time_capped)
{
    Outcome o = { "complete", NULL, 0 };
    bool show = !opt->quiet && isatty(STDERR_FILENO);
    gint64 t0 = g_get_monotonic_time(), last_shown = t0;
    uint64_t cap = opt->max_events;
    for (;;) {
        uint64_t chunk = CHUNK_EVENTS;
        if (cap) {
            uint64_t left = cap - sim_events_run(sim);
            chunk = left < chunk ? left : chunk;
        }
        SimDone done = chunk ? sim_run(sim, stop, chunk, &interrupted) : SIM_DONE_MAX_EVENTS;
        gint64 now = g_get_monotonic_time();
        double wall = (double)(now - t0) / 1e6;
        if (show && now - last_shown > 500000) {
            progress(sim, stop, wall);
            last_shown = now;
        }
        if (done == SIM_DONE_EMPTY || done == SIM_DONE_STOP_TIME) {
            o.sim_end = done == SIM_DONE_STOP_TIME ? stop : sim_now(sim);
            if (time_capped && done == SIM_DONE_STOP_TIME) {
                char *t = units_format_time(stop);
                o.status = "incomplete";
                o.message = g_strdup_printf("stopped at --max-sim-time=%s", t);
                g_free(t);
            }
            break;
        }
        o.sim_end = sim_now(sim);
        if (sim_failure(sim)) {
            o.status = "failed";
            o.message = g_strdup(sim_failure(sim));
            break;
        }
        if (interrupted) {
            o.status = "incomplete";
            o.message = g_strdup_printf("interrupted by signal %d", (int)interrupted);
            break;
        }
        if (cap && sim_events_run(sim) >= cap) {
            o.status = "incomplete";
            o.message = g_strdup_printf("stopped at --max-events=%llu", (unsigned long long)cap);
            break;
        }
        if (trace_error(tr))
            break; /* the DB cannot take more: stop now, say so at the end */
        if (opt->max_wall > 0 && wall >= opt->max_wall) {
            o.status = "incomplete";
            o.message = g_strdup_printf("stopped at --max-wall=%gs", opt->max_wall);
            break;
        }
    }
    if (show)
        fprintf(stderr, "\r%-70s\r", "");
    return o;
}

/* The engines and worlds of a run, freed once its end is written: one,
 * or one per part. */
typedef struct {
    GPtrArray *sims, *worlds;
    GPtrArray *traces; /* the parts' shard DBs: closed after their worlds */
    GPtrArray *shards; /* and then deleted: their paths */
    uint64_t events;   /* run, by every engine */
    char *db_error;    /* the first part whose DB failed */
} Engines;

static void unlink_db(const char *path)
{
    const char *suffixes[] = { "", "-journal", "-wal", "-shm" };
    for (size_t k = 0; k < G_N_ELEMENTS(suffixes); k++) {
        char *f = g_strconcat(path, suffixes[k], NULL);
        g_unlink(f);
        g_free(f);
    }
}

static void engines_free(Engines *e)
{
    for (guint i = 0; i < e->worlds->len; i++)
        world_free(g_ptr_array_index(e->worlds, i));
    for (guint i = 0; i < e->sims->len; i++)
        sim_free(g_ptr_array_index(e->sims, i));
    for (guint i = 0; i < e->traces->len; i++)
        trace_close(g_ptr_array_index(e->traces, i));
    for (guint i = 0; i < e->shards->len; i++)
        unlink_db(g_ptr_array_index(e->shards, i));
    g_ptr_array_unref(e->shards);
    g_ptr_array_unref(e->worlds);
    g_ptr_array_unref(e->sims);
    g_ptr_array_unref(e->traces);
    g_free(e->db_error);
}

/* A failure the models found at the end (their audits) fails the run. */
static void end_failure(Outcome *o, const Sim *sim)
{
    if (sim_failure(sim) && strcmp(o->status, "complete") == 0) {
        o->status = "failed";
        o->message = g_strdup(sim_failure(sim));
    }
}

/* The whole run on one engine. */
static Outcome run_whole(const Scenario *sc, Trace *tr, const RunOptions *opt, SimTime stop, bool time_capped,
                         Engines *e)
{
    Sim *sim = sim_new();
    World *world = world_new(sc, sim, tr, scenario_seed(sc));
    g_ptr_array_add(e->sims, sim);
    g_ptr_array_add(e->worlds, world);
    Outcome o = drive(sim, tr, opt, stop, time_capped);
    world_write_metrics(world, tr);
    trace_write_latencies(tr);
    end_failure(&o, sim);
    e->events = sim_events_run(sim);
    return o;
}

/* ---- a run in independent parts, on several threads (--jobs) ----
 *
 * Each part runs on its own engine into a shard DB of its own, as a run
 * of its own; the shards are then merged into the run in part order.  So
 * the trace is the same whatever the number of threads, and each part's
 * rows are the ones it would write inside the whole run.  What differs
 * from a run on one engine: rows come part by part, each in time order
 * (every view orders by time); connections are numbered part by part;
 * each part's engine counts its own start-up events; and the metric
 * sim.parts says how many parts there were. */
typedef struct {
    Scenario *sc;   /* the part: a view of the whole */
    char *shard;
    Trace *tr;
    Sim *sim;
    World *world;
    Outcome o;
    char *err;      /* its DB could not be written */
} Part;

typedef struct {
    GPtrArray *parts; /* Part* */
    RunOptions opt;   /* quiet: the parts print nothing */
    const TraceRunInfo *info;
    SimTime stop;
    bool time_capped, show;
    gint next, done;
    GMutex lock;
} Parts;

static void part_run(Parts *ps, Part *p)
{
    unlink_db(p->shard);
    p->tr = trace_open(p->shard, &p->err);
    if (!p->tr || !trace_begin_run(p->tr, ps->info, &p->err))
        return;
    p->sim = sim_new();
    p->world = world_new(p->sc, p->sim, p->tr, ps->info->seed);
    p->o = drive(p->sim, p->tr, &ps->opt, ps->stop, ps->time_capped);
    world_flush(p->world, p->tr);
    end_failure(&p->o, p->sim);
    trace_end_run(p->tr, p->o.status, p->o.message, p->o.sim_end, sim_events_run(p->sim), &p->err);
}

static gpointer parts_worker(gpointer data)
{
    Parts *ps = data;
    for (;;) {
        guint i = (guint)g_atomic_int_add(&ps->next, 1);
        if (i >= ps->parts->len)
            return NULL;
        part_run(ps, g_ptr_array_index(ps->parts, i));
        int done = g_atomic_int_add(&ps->done, 1) + 1;
        if (ps->show) {
            g_mutex_lock(&ps->lock);
            fprintf(stderr, "\r  %d of %u parts run ", done, ps->parts->len);
            fflush(stderr);
            g_mutex_unlock(&ps->lock);
        }
    }
}

/* The outcome of the whole from its parts': the first failure, else the
 * first part that stopped short.  Its end is the latest part's when all
 * are complete, else the earliest (how far the whole run got).  A part
 * whose DB failed leaves the run incomplete (and the program says so,
 * exit status 2). */
static Outcome parts_outcome(Parts *ps, Engines *e)
{
    Outcome o = { "complete", NULL, 0 };
    SimTime earliest = SIM_TIME_MAX;
    for (guint i = 0; i < ps->parts->len; i++) {
        Part *p = g_ptr_array_index(ps->parts, i);
        if (p->err && !e->db_error) {
            e->db_error = g_strdup_printf("part %u of the run: %s", i + 1, p->err);
            o.status = "incomplete";
            g_free(o.message);
            o.message = g_strdup(e->db_error);
        }
        SimTime end = p->sim ? p->o.sim_end : 0;
        o.sim_end = MAX(o.sim_end, end);
        earliest = MIN(earliest, end);
        if (!p->sim)
            continue;
        bool worse = strcmp(p->o.status, "failed") == 0 ? strcmp(o.status, "failed") != 0
                                                       : strcmp(o.status, "complete") == 0;
        if (strcmp(p->o.status, "complete") != 0 && worse && !e->db_error) {
            o.status = p->o.status;
            g_free(o.message);
            o.message = g_strdup(p->o.message);
        }
    }
    if (strcmp(o.status, "complete") != 0)
        o.sim_end = earliest;
    return o;
}

static Outcome run_parts(GPtrArray *views, const char *out, Trace *tr, const TraceRunInfo *info,
                         const RunOptions *opt, SimTime stop, bool time_capped, Engines *e)
{
    Parts ps = { .parts = g_ptr_array_new(), .opt = *opt, .info = info, .stop = stop,
                 .time_capped = time_capped, .show = !opt->quiet && isatty(STDERR_FILENO) };
    ps.opt.quiet = true;
    g_mutex_init(&ps.lock);
    for (guint i = 0; i < views->len; i++) {
        Part *p = g_new0(Part, 1);
        p->sc = g_ptr_array_index(views, i);
        p->shard = g_strdup_printf("%s.part%u.tmp", out, i + 1);
        g_ptr_array_add(ps.parts, p);
    }
    guint n_threads = MIN((guint)opt->jobs, views->len);
    GThread **threads = g_new(GThread *, n_threads);
    for (guint i = 0; i < n_threads; i++)
        threads[i] = g_thread_new("part", parts_worker, &ps);
    for (guint i = 0; i < n_threads; i++)
        g_thread_join(threads[i]);
    g_free(threads);
    if (ps.show)
        fprintf(stderr, "\r%-70s\r", "");

    Outcome o = parts_outcome(&ps, e);
    char **shards = g_new0(char *, views->len);
    int64_t *offsets = g_new0(int64_t, views->len);
    int64_t conns = 0;
    uint64_t events = 0;
    bool all_ran = true;
    for (guint i = 0; i < ps.parts->len; i++) {
        Part *p = g_ptr_array_index(ps.parts, i);
        all_ran = all_ran && p->sim && !p->err;
        shards[i] = p->shard;
        offsets[i] = conns;
        if (p->world) {
            conns += world_conns(p->world);
            events += sim_events_run(p->sim);
            g_ptr_array_add(e->sims, p->sim);
            g_ptr_array_add(e->worlds, p->world);
        }
        if (p->tr)
            g_ptr_array_add(e->traces, p->tr);
        g_ptr_array_add(e->shards, p->shard);
    }
    char *err = NULL;
    if (all_ran && trace_merge_parts(tr, shards, offsets, (int)ps.parts->len, &err)) {
        world_summary((World *const *)e->worlds->pdata, (int)e->worlds->len, tr);
        for (guint i = 0; i < ps.parts->len; i++)
            trace_merge_latencies(tr, ((Part *)g_ptr_array_index(ps.parts, i))->tr);
        trace_write_latencies(tr);
    }
    g_free(err); /* the run's write error: trace_end_run reports it */
    e->events = events;

    for (guint i = 0; i < ps.parts->len; i++) {
        Part *p = g_ptr_array_index(ps.parts, i);
        g_free(p->o.message);
        g_free(p->err);
        g_free(p);
    }
    g_free(shards);
    g_free(offsets);
    g_ptr_array_unref(ps.parts);
    g_mutex_clear(&ps.lock);
    return o;
}

static void write_params(Trace *tr, const Scenario *sc)
{
    GPtrArray *params = scenario_params(sc);
    for (guint i = 0; i + 1 < params->len; i += 2)
        trace_param(tr, g_ptr_array_index(params, i), g_ptr_array_index(params, i + 1));
    g_ptr_array_unref(params);
}

int run_scenario(const RunOptions *opt)
{
    Scenario *sc = load_checked(opt->scenario_path, opt->overrides, opt->has_seed ? &opt->seed : NULL);
    if (!sc)
        return EXIT_BAD_INPUT;
    int status = EXIT_OK;
    char *out = opt->output ? g_strdup(opt->output) : default_output(sc);
    char *err = NULL;
    Trace *tr = NULL;
    if (!out) {
        fprintf(stderr, "rdrsim: cannot create results/: %s\n", g_strerror(errno));
        scenario_free(sc);
        return EXIT_BAD_INPUT;
    }
    tr = trace_open(out, &err);
    char *overrides = joined_overrides(sc);
    TraceRunInfo info = {
        .scenario_path = sc->path,
        .scenario_name = sc->name,
        .scenario_text = sc->text,
        .overrides = overrides,
        .seed = scenario_seed(sc),
        .level = opt->level,
    };
    if (tr && opt->max_trace_bytes > 0 && !trace_set_max_size(tr, opt->max_trace_bytes, &err)) {
        fprintf(stderr, "rdrsim: %s\n", err);
        status = EXIT_BAD_INPUT;
        goto out;
    }
    if (!tr || !trace_begin_run(tr, &info, &err)) {
        fprintf(stderr, "rdrsim: %s\n", err);
        status = EXIT_BAD_INPUT;
        goto out;
    }
    scenario_draw_members(sc, scenario_seed(sc));
    write_params(tr, sc);

    SimTime stop = scenario_stop(sc);
    bool time_capped = opt->max_sim_time > 0 && opt->max_sim_time < stop;
    if (time_capped)
        stop = opt->max_sim_time;
    /* Independent parts run apart only when no cap counts across them,
     * and only for a trace of operations at most: a finer trace is one
     * SQLite writer's work already, which a second core now runs beside
     * the model, and merging the parts' rows would copy them all again
     * (fullstack-1k for 20 s, -j 1 against -j 2: ops 8.8 s and 4.5 s,
     * messages 12.2 s and 15.1 s, all 15.1 s and 25.6 s). */
    bool apart = opt->jobs > 1 && !opt->max_events && opt->max_wall <= 0;
    if (apart && opt->level > TRACE_OPS) {
        apart = false;
        if (!opt->quiet)
            fprintf(stderr, "rdrsim: --jobs: a trace at level %s runs whole (parts run apart up to level ops)\n",
                    trace_level_name(opt->level));
    }
    GPtrArray *views = apart ? scenario_partition(sc) : NULL;
    Engines e = { .sims = g_ptr_array_new(), .worlds = g_ptr_array_new(), .traces = g_ptr_array_new(),
                  .shards = g_ptr_array_new_with_free_func(g_free) };
    interrupted = 0;
    catch_signals(true);
    gint64 t0 = g_get_monotonic_time();
    Outcome o = views ? run_parts(views, out, tr, &info, opt, stop, time_capped, &e)
                      : run_whole(sc, tr, opt, stop, time_capped, &e);
    double wall = (double)(g_get_monotonic_time() - t0) / 1e6;
    uint64_t events = e.events;
    trace_metric(tr, "sim.events", (double)events);
    trace_metric(tr, "sim.end_ns", (double)o.sim_end);
    if (views) /* the trace says it was run in parts (rows part by part) */
        trace_metric(tr, "sim.parts", (double)views->len);
    bool written = trace_end_run(tr, o.status, o.message, o.sim_end, events, &err);
    catch_signals(false);
    if (e.db_error && written) {
        written = false;
        err = g_strdup(e.db_error);
    }
    engines_free(&e);
    if (views)
        g_ptr_array_unref(views);
    if (!written) {
        fprintf(stderr, "rdrsim: %s\n", err);
        status = EXIT_BAD_INPUT;
        g_free(o.message);
        goto out;
    }

    int passed = 0, failed = 0;
    bool complete = strcmp(o.status, "complete") == 0;
    if (complete) {
        failed = expect_metrics(tr, sc, stderr);
        failed += expect_evaluate(tr, sc, stderr, &passed);
    }
    if (trace_error(tr)) {
        fprintf(stderr, "rdrsim: %s\n", trace_error(tr));
        status = EXIT_BAD_INPUT;
        g_free(o.message);
        goto out;
    }
    if (!opt->quiet) {
        printf("run %lld of %s (seed %llu): %s, simulated %.6f s, %llu events, %.3f s wall, %.0f events/s\n",
               (long long)trace_run_id(tr), sc->name, (unsigned long long)scenario_seed(sc), o.status,
               (double)o.sim_end / 1e9,
               (unsigned long long)events, wall, wall > 0 ? (double)events / wall : 0.0);
        if (complete)
            printf("expectations: %d passed, %d failed\n", passed, failed);
        printf("trace: %s\n", out);
        fflush(stdout);
    }
    if (o.message)
        fprintf(stderr, "rdrsim: run %s: %s\n", o.status, o.message);
    if (strcmp(o.status, "failed") == 0 || failed)
        status = EXIT_FAILED;
    else if (!complete)
        status = interrupted ? EXIT_INTERRUPTED : EXIT_FAILED;
    g_free(o.message);
out:
    g_free(err);
    g_free(overrides);
    trace_close(tr);
    g_free(out);
    scenario_free(sc);
    return status;
}
