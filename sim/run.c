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

/* Parse, apply overrides, check.  Returns NULL after printing the errors. */
static Scenario *load_checked(const char *path, char **overrides, const uint64_t *seed)
{
    Scenario *sc = scenario_load(path, world_schema());
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
    if (sc->errors->len == 0) {
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
    Sim *sim = sim_new();
    World *world = world_new(sc, sim, tr, scenario_seed(sc));
    interrupted = 0;
    catch_signals(true);
    gint64 t0 = g_get_monotonic_time();
    Outcome o = drive(sim, tr, opt, stop, time_capped);
    double wall = (double)(g_get_monotonic_time() - t0) / 1e6;

    world_write_metrics(world, tr);
    if (sim_failure(sim) && strcmp(o.status, "complete") == 0) {
        /* an invariant checked at the end of the run (the models' audits) */
        o.status = "failed";
        o.message = g_strdup(sim_failure(sim));
    }
    trace_metric(tr, "sim.events", (double)sim_events_run(sim));
    trace_metric(tr, "sim.end_ns", (double)o.sim_end);
    bool written = trace_end_run(tr, o.status, o.message, o.sim_end, sim_events_run(sim), &err);
    catch_signals(false);
    uint64_t events = sim_events_run(sim);
    world_free(world);
    sim_free(sim);
    if (!written) {
        fprintf(stderr, "rdrsim: %s\n", err);
        status = EXIT_BAD_INPUT;
        g_free(o.message);
        goto out;
    }

    int passed = 0, failed = 0;
    bool complete = strcmp(o.status, "complete") == 0;
    if (complete)
        failed = expect_evaluate(tr, sc, stderr, &passed);
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
