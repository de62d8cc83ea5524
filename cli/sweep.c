#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"
#include "scenario.h"
#include "trace.h"
#include "world.h"

typedef struct {
    int index;
    uint64_t seed;
    GPtrArray *sets; /* char*: fixed --set values, then this point's values */
    char *shard;
    char *errfile;
    GPid pid;
    int exit_status;
    bool done;
} Job;

uint64_t sweep_seed(uint64_t base, int rep)
{
    /* splitmix64 of (base, rep); kept below 2^63 so it is a valid --seed. */
    uint64_t z = base + 0x9E3779B97F4A7C15ull * (uint64_t)(rep + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (z ^ (z >> 31)) >> 1;
}

static void job_free(gpointer p)
{
    Job *j = p;
    g_ptr_array_unref(j->sets);
    g_free(j->shard);
    g_free(j->errfile);
    g_free(j);
}

/* Split "NAME=V1,V2" into NAME and its values. */
static bool parse_vary(const char *v, char **name, char ***values)
{
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1])
        return false;
    *name = g_strndup(v, (gsize)(eq - v));
    *values = g_strsplit(eq + 1, ",", -1);
    for (char **p = *values; *p; p++)
        if (!**p) {
            g_free(*name);
            g_strfreev(*values);
            return false;
        }
    return true;
}

/* The grid in order: the first --vary changes slowest; within a point,
 * repetitions 0..R-1. */
static GPtrArray *make_jobs(const SweepOptions *opt, uint64_t base, const char *parts, char **err)
{
    int nv = opt->vary ? (int)g_strv_length(opt->vary) : 0;
    char **names = g_new0(char *, nv + 1);
    char ***values = g_new0(char **, nv + 1);
    int *count = g_new0(int, nv + 1);
    GPtrArray *jobs = NULL;
    int points = 1;
    for (int i = 0; i < nv; i++) {
        if (!parse_vary(opt->vary[i], &names[i], &values[i])) {
            *err = g_strdup_printf("--vary %s: expected NAME=V1,V2,... (no empty value)", opt->vary[i]);
            goto out;
        }
        count[i] = (int)g_strv_length(values[i]);
        points *= count[i];
    }
    jobs = g_ptr_array_new_with_free_func(job_free);
    for (int p = 0; p < points; p++) {
        for (int r = 0; r < opt->runs; r++) {
            Job *j = g_new0(Job, 1);
            j->index = (int)jobs->len;
            j->seed = sweep_seed(base, r);
            if (opt->seeds_53)
                j->seed &= (UINT64_C(1) << 53) - 1;
            j->sets = g_ptr_array_new_with_free_func(g_free);
            for (char **s = opt->sets; s && *s; s++)
                g_ptr_array_add(j->sets, g_strdup(*s));
            int rest = p;
            char **vals = g_new0(char *, nv + 1);
            for (int i = nv - 1; i >= 0; i--) {
                vals[i] = values[i][rest % count[i]];
                rest /= count[i];
            }
            for (int i = 0; i < nv; i++)
                g_ptr_array_add(j->sets, g_strdup_printf("%s=%s", names[i], vals[i]));
            g_free(vals);
            j->shard = g_strdup_printf("%s/run-%06d.db", parts, j->index);
            j->errfile = g_strdup_printf("%s/run-%06d.err", parts, j->index);
            g_ptr_array_add(jobs, j);
        }
    }
out:
    for (int i = 0; i < nv; i++) {
        g_free(names[i]);
        g_strfreev(values[i]);
    }
    g_free(names);
    g_free(values);
    g_free(count);
    return jobs;
}

static char *self_exe(void)
{
    char *p = g_file_read_link("/proc/self/exe", NULL);
    return p ? p : g_strdup("rdrsim");
}

static GPtrArray *job_argv(const Job *j, const SweepOptions *opt, const char *exe)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(a, g_strdup(exe));
    g_ptr_array_add(a, g_strdup("run"));
    g_ptr_array_add(a, g_strdup("-q"));
    g_ptr_array_add(a, g_strdup("-o"));
    g_ptr_array_add(a, g_strdup(j->shard));
    g_ptr_array_add(a, g_strdup_printf("--seed=%llu", (unsigned long long)j->seed));
    if (opt->trace_level)
        g_ptr_array_add(a, g_strdup_printf("--trace=%s", opt->trace_level));
    for (guint i = 0; i < j->sets->len; i++)
        g_ptr_array_add(a, g_strdup_printf("--set=%s", (char *)g_ptr_array_index(j->sets, i)));
    g_ptr_array_add(a, g_strdup(opt->scenario_path));
    g_ptr_array_add(a, NULL);
    return a;
}

static bool start(Job *j, const SweepOptions *opt, const char *exe, char **err)
{
    GPtrArray *argv = job_argv(j, opt, exe);
    int fd = open(j->errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    GError *gerr = NULL;
    bool ok = fd >= 0 && g_spawn_async_with_fds(NULL, (char **)argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                                NULL, NULL, &j->pid, -1, -1, fd, &gerr);
    if (!ok)
        *err = g_strdup_printf("cannot start a run: %s", gerr ? gerr->message : g_strerror(errno));
    if (fd >= 0)
        close(fd);
    g_clear_error(&gerr);
    g_ptr_array_unref(argv);
    return ok;
}

static void progress(int done, int total, double elapsed)
{
    double rate = elapsed > 0 ? done / elapsed : 0;
    double left = rate > 0 ? (total - done) / rate : 0;
    fprintf(stderr, "\r  sweep: %d/%d runs, %.1f runs/s, %.0f s left   ", done, total, rate, left);
    fflush(stderr);
}

/* The trimmed text of a run's stderr: the message of a failed run. */
static char *read_message(const char *path)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL) || !*g_strstrip(text)) {
        g_free(text);
        return g_strdup("the run failed without a message");
    }
    return text;
}

/* A run that left no row in its shard (it stopped before starting) is
 * recorded as failed, with what it printed. */
static bool record_failed(Trace *out, const Job *j, const SweepOptions *opt, char **err)
{
    GString *ov = g_string_new("");
    for (guint i = 0; i < j->sets->len; i++)
        g_string_append_printf(ov, "%s%s", i ? " " : "", (char *)g_ptr_array_index(j->sets, i));
    g_string_append_printf(ov, " scenario.seed=%llu", (unsigned long long)j->seed);
    char *msg = read_message(j->errfile);
    TraceRunInfo info = { opt->scenario_path, "", "", ov->str, j->seed, TRACE_NONE };
    bool ok = trace_begin_run(out, &info, err) && trace_end_run(out, "failed", msg, 0, 0, err);
    g_free(msg);
    g_string_free(ov, TRUE);
    return ok;
}

static int64_t count_runs(Trace *tr)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    if (sqlite3_prepare_v2(trace_db(tr), "SELECT count(*) FROM runs", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Merge a job's shard; false when it holds no run (or cannot be read). */
static bool merge_job(Trace *out, const Job *j)
{
    if (!g_file_test(j->shard, G_FILE_TEST_IS_REGULAR))
        return false;
    int64_t before = count_runs(out);
    char *err = NULL;
    bool ok = trace_merge(out, j->shard, &err);
    g_free(err);
    return ok && count_runs(out) > before;
}

static int write_jobs(GPtrArray *jobs, const SweepOptions *opt, const char *exe)
{
    FILE *f = fopen(opt->emit_jobs, "w");
    if (!f) {
        fprintf(stderr, "rdrsim sweep: %s: %s\n", opt->emit_jobs, g_strerror(errno));
        return EXIT_BAD_INPUT;
    }
    for (guint i = 0; i < jobs->len; i++) {
        GPtrArray *argv = job_argv(g_ptr_array_index(jobs, i), opt, exe);
        for (guint k = 0; k + 1 < argv->len; k++) {
            char *q = g_shell_quote(g_ptr_array_index(argv, k));
            fprintf(f, "%s%s", k ? " " : "", q);
            g_free(q);
        }
        fputc('\n', f);
        g_ptr_array_unref(argv);
    }
    bool ok = fclose(f) == 0;
    if (!ok) {
        fprintf(stderr, "rdrsim sweep: %s: %s\n", opt->emit_jobs, g_strerror(errno));
        return EXIT_BAD_INPUT;
    }
    if (!opt->quiet)
        printf("%u runs written to %s; merge their shards with: rdrsim merge %s %s.parts/run-*.db\n", jobs->len,
               opt->emit_jobs, opt->output, opt->output);
    return EXIT_OK;
}

/* Run every job, at most opt->jobs at a time. */
static bool run_all(GPtrArray *jobs, const SweepOptions *opt, const char *exe, char **err)
{
    bool show = !opt->quiet && isatty(STDERR_FILENO);
    gint64 t0 = g_get_monotonic_time();
    guint next = 0, running = 0, done = 0;
    while (done < jobs->len) {
        while (running < (guint)opt->jobs && next < jobs->len) {
            if (!start(g_ptr_array_index(jobs, next), opt, exe, err))
                return false;
            next++;
            running++;
        }
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            *err = g_strdup_printf("waitpid: %s", g_strerror(errno));
            return false;
        }
        for (guint i = 0; i < jobs->len; i++) {
            Job *j = g_ptr_array_index(jobs, i);
            if (j->pid == pid && !j->done) {
                j->done = true;
                j->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                g_spawn_close_pid(pid);
                running--;
                done++;
            }
        }
        if (show)
            progress((int)done, (int)jobs->len, (double)(g_get_monotonic_time() - t0) / 1e6);
    }
    if (show)
        fprintf(stderr, "\r%-70s\r", "");
    return true;
}

static void remove_parts(GPtrArray *jobs, const char *parts)
{
    for (guint i = 0; i < jobs->len; i++) {
        Job *j = g_ptr_array_index(jobs, i);
        g_unlink(j->shard);
        g_unlink(j->errfile);
    }
    g_rmdir(parts);
}

/* Every --set, then every value of every --vary, applied to the
 * scenario: a name or value it does not take is an error before anything
 * runs (a run would fail with it, and so would all its grid's runs). */
static bool check_values(const SweepOptions *opt, Scenario *sc)
{
    bool ok = true;
    for (char **s = opt->sets; s && *s; s++) {
        char *err = NULL;
        if (!scenario_override(sc, *s, &err)) {
            fprintf(stderr, "rdrsim sweep: %s\n", err);
            g_free(err);
            ok = false;
        }
    }
    for (char **v = opt->vary; v && *v; v++) {
        char *name, **values;
        if (!parse_vary(*v, &name, &values)) {
            fprintf(stderr, "rdrsim sweep: --vary %s: expected NAME=V1,V2,... (no empty value)\n", *v);
            ok = false;
            continue;
        }
        for (char **x = values; *x; x++) {
            char *set = g_strdup_printf("%s=%s", name, *x), *err = NULL;
            if (!scenario_override(sc, set, &err)) {
                fprintf(stderr, "rdrsim sweep: --vary %s\n", err + strlen("--set "));
                g_free(err);
                ok = false;
                g_free(set);
                break; /* one message a name is enough when the name is wrong */
            }
            g_free(set);
        }
        g_free(name);
        g_strfreev(values);
    }
    return ok;
}

/* Runs already in the output DB (0 when it does not exist yet). */
static int64_t runs_in(const char *path)
{
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return 0;
    char *err = NULL;
    Trace *t = trace_open_readonly(path, &err);
    if (!t) {
        g_free(err);
        return -1;
    }
    int64_t n = count_runs(t);
    trace_close(t);
    return n;
}

/* What a failed run said, in one line. */
static char *first_line(const char *text)
{
    const char *nl = strchr(text, '\n');
    return nl ? g_strndup(text, (gsize)(nl - text)) : g_strdup(text);
}

int sweep_main(const SweepOptions *given)
{
    /* Paths absolute: the command lines of --emit-jobs run anywhere. */
    SweepOptions o = *given;
    char *abs_scenario = g_canonicalize_filename(given->scenario_path, NULL);
    char *abs_output = g_canonicalize_filename(given->output, NULL);
    o.scenario_path = abs_scenario;
    o.output = abs_output;
    const SweepOptions *opt = &o;
    /* The scenario and every value must be good before anything is
     * spawned; the scenario's seed is the base of the repetitions'. */
    Scenario *sc = scenario_load(opt->scenario_path, world_schema());
    if (sc->errors->len) {
        scenario_print_errors(sc, stderr);
        scenario_free(sc);
        g_free(abs_scenario), g_free(abs_output);
        return EXIT_BAD_INPUT;
    }
    uint64_t base = scenario_seed(sc);
    bool values_ok = check_values(opt, sc);
    scenario_free(sc);
    int64_t existing = runs_in(opt->output);
    if (!values_ok || existing < 0 || (existing > 0 && !opt->append && !opt->emit_jobs)) {
        if (existing < 0)
            fprintf(stderr, "rdrsim sweep: %s exists and is not a trace DB of rdrsim\n", given->output);
        else if (existing > 0 && values_ok)
            fprintf(stderr, "rdrsim sweep: %s already holds %lld run%s: --append adds this sweep's runs to them; "
                            "or name another output\n", given->output, (long long)existing, existing == 1 ? "" : "s");
        g_free(abs_scenario), g_free(abs_output);
        return EXIT_BAD_INPUT;
    }
    char *parts = g_strdup_printf("%s.parts", opt->output);
    char *err = NULL, *exe = opt->exe ? g_strdup(opt->exe) : self_exe();
    int status = EXIT_BAD_INPUT;
    Trace *out = NULL;
    GPtrArray *jobs = make_jobs(opt, base, parts, &err);
    if (!jobs)
        goto fail;
    if (g_mkdir_with_parents(parts, 0755) != 0) {
        err = g_strdup_printf("%s: %s", parts, g_strerror(errno));
        goto fail;
    }
    if (opt->emit_jobs) {
        status = write_jobs(jobs, opt, exe);
        goto done;
    }
    out = trace_open(opt->output, &err);
    if (!out || !run_all(jobs, opt, exe, &err))
        goto fail;
    int complete = 0, failed = 0;
    GString *why = g_string_new("");
    for (guint i = 0; i < jobs->len; i++) {
        Job *j = g_ptr_array_index(jobs, i);
        if (!merge_job(out, j)) {
            if (!record_failed(out, j, opt, &err)) {
                g_string_free(why, TRUE);
                goto fail;
            }
        }
        if (j->exit_status == 0) {
            complete++;
            continue;
        }
        failed++;
        /* each failed run by its grid point and seed, and what it said */
        char *msg = read_message(j->errfile), *line = first_line(msg);
        GString *point = g_string_new("");
        for (guint k = 0; k < j->sets->len; k++)
            g_string_append_printf(point, "%s%s", k ? " " : "", (char *)g_ptr_array_index(j->sets, k));
        g_string_append_printf(why, "  run %u (%s%sseed %llu): exit %d: %s\n", i + 1, point->str,
                               point->len ? ", " : "", (unsigned long long)j->seed, j->exit_status, line);
        g_string_free(point, TRUE);
        g_free(line);
        g_free(msg);
    }
    if (!opt->quiet)
        printf("sweep: %u runs (%d ok, %d failed or with failed expectations) merged into %s\n", jobs->len, complete,
               failed, given->output);
    if (failed)
        fprintf(stderr, "rdrsim sweep: %d run%s failed:\n%s", failed, failed == 1 ? "" : "s", why->str);
    g_string_free(why, TRUE);
    remove_parts(jobs, parts);
    status = failed ? EXIT_FAILED : EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "rdrsim sweep: %s\n", err ? err : "failed");
    status = EXIT_BAD_INPUT;
done:
    trace_close(out);
    if (jobs)
        g_ptr_array_unref(jobs);
    g_free(parts);
    g_free(exe);
    g_free(err);
    g_free(abs_scenario);
    g_free(abs_output);
    return status;
}

/* The first run of a shard that OUT already holds (the same scenario
 * text, seed, overrides and start time): its id in the shard, or 0. */
static int64_t already_merged(Trace *out, const char *shard)
{
    char *err = NULL;
    Trace *t = trace_open_readonly(shard, &err);
    g_free(err);
    if (!t)
        return 0; /* trace_merge says why */
    int64_t found = 0;
    sqlite3_stmt *q, *st;
    if (sqlite3_prepare_v2(trace_db(out),
                           "SELECT 1 FROM runs WHERE scenario_text IS ?1 AND seed IS ?2 AND overrides IS ?3 AND "
                           "started_at IS ?4",
                           -1, &q, NULL) != SQLITE_OK) {
        trace_close(t);
        return 0;
    }
    if (sqlite3_prepare_v2(trace_db(t), "SELECT run_id, scenario_text, seed, overrides, started_at FROM runs", -1,
                           &st, NULL) == SQLITE_OK) {
        while (!found && sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 1; c <= 4; c++)
                sqlite3_bind_value(q, c, sqlite3_column_value(st, c));
            if (sqlite3_step(q) == SQLITE_ROW)
                found = sqlite3_column_int64(st, 0);
            sqlite3_reset(q);
        }
        sqlite3_finalize(st);
    }
    sqlite3_finalize(q);
    trace_close(t);
    return found;
}

int merge_main(const char *output, char **shards)
{
    char *err = NULL;
    Trace *out = trace_open(output, &err);
    if (!out) {
        fprintf(stderr, "rdrsim merge: %s\n", err);
        g_free(err);
        return EXIT_BAD_INPUT;
    }
    int status = EXIT_OK;
    for (char **s = shards; *s; s++) {
        int64_t dup = already_merged(out, *s);
        if (dup) {
            fprintf(stderr, "rdrsim merge: %s: its run %lld is already in %s (merged before?); nothing more was "
                            "merged\n", *s, (long long)dup, output);
            status = EXIT_BAD_INPUT;
            break;
        }
        if (!trace_merge(out, *s, &err)) {
            fprintf(stderr, "rdrsim merge: %s: %s\n", *s, err);
            g_clear_pointer(&err, g_free);
            status = EXIT_BAD_INPUT;
            break;
        }
    }
    trace_close(out);
    return status;
}
