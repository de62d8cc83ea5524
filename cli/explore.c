#include "explore.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rng.h"
#include "run.h"
#include "scenario.h"
#include "sweep.h"
#include "world.h"

/* ---- faults ---- */

typedef enum {
    F_LINK_DOWN, F_LOSS, F_LATENCY, F_REORDER, F_DUPLICATE, F_RESTART, F_EXPIRE, F_SHARE, F_ACK_LOST, F_CRASH,
    F_KINDS
} Kind;
static const char *const kind_names[F_KINDS] = { "link_down",      "loss_burst",     "latency_spike",
                                                 "reorder",        "duplicate",      "server_restart",
                                                 "session_expiry", "share_delete",   "ack_lost",
                                                 "client_crash" };
const char explore_kinds[] = "link_down, loss_burst, latency_spike, reorder, duplicate, server_restart, "
                             "session_expiry, share_delete, ack_lost, client_crash";

typedef struct {
    Kind kind;
    SimTime at, len; /* len: how long it lasts (link faults) */
    guint target;    /* index into the targets of its kind */
    double amount;   /* loss, reorder or duplicate probability; latency added, ns */
} Fault;

/* What faults can act on: plain links (not group members), servers,
 * shares, client nodes. */
typedef struct {
    GPtrArray *links;   /* Decl* */
    GPtrArray *servers; /* char* */
    GPtrArray *shares;  /* char* */
    GPtrArray *clients; /* char* */
    SimTime stop;
    char *text, *name;
} Targets;

static bool kind_possible(const Targets *t, Kind k)
{
    return k <= F_DUPLICATE ? t->links->len > 0
           : k == F_SHARE   ? t->shares->len > 0
           : k == F_CRASH   ? t->clients->len > 0
                            : t->servers->len > 0;
}

static char *time_text(SimTime t) { return g_strdup_printf("%lldus", (long long)(t / 1000)); }

/* The link parameter a fault changes, as written (its default otherwise). */
static const char *link_value(const Decl *d, const char *key) { return decl_param(d, key)->text; }

/* A fault as timeline statements (its start, and its end for a change of
 * link parameters). */
static void fault_lines(GString *s, const Targets *t, const Fault *f)
{
    char *at = time_text(f->at), *end = time_text(f->at + f->len), *len = time_text(f->len);
    const Decl *d = f->kind <= F_DUPLICATE ? g_ptr_array_index(t->links, f->target) : NULL;
    const char *a = d ? d->names[0] : NULL, *b = d ? d->names[1] : NULL;
    switch (f->kind) {
    case F_LINK_DOWN: g_string_append_printf(s, "at %s link %s %s down for=%s\n", at, a, b, len); break;
    case F_LOSS:
        g_string_append_printf(s, "at %s link %s %s loss=%.0f%%\nat %s link %s %s loss=%s\n", at, a, b,
                               f->amount * 100, end, a, b, link_value(d, "loss"));
        break;
    case F_LATENCY: {
        char *l = time_text((SimTime)f->amount + decl_param(d, "latency")->i);
        g_string_append_printf(s, "at %s link %s %s latency=%s\nat %s link %s %s latency=%s\n", at, a, b, l, end, a,
                               b, link_value(d, "latency"));
        g_free(l);
        break;
    }
    case F_REORDER:
        g_string_append_printf(s, "at %s link %s %s reorder=%.0f%% reorder_delay=5ms\nat %s link %s %s reorder=%s\n", at,
                               a, b, f->amount * 100, end, a, b, link_value(d, "reorder"));
        break;
    case F_DUPLICATE:
        g_string_append_printf(s, "at %s link %s %s duplicate=%.0f%%\nat %s link %s %s duplicate=%s\n", at, a, b,
                               f->amount * 100, end, a, b, link_value(d, "duplicate"));
        break;
    case F_RESTART:
        g_string_append_printf(s, "at %s server %s restart\n", at, (char *)g_ptr_array_index(t->servers, f->target));
        break;
    case F_EXPIRE:
        g_string_append_printf(s, "at %s server %s expire_sessions\n", at,
                               (char *)g_ptr_array_index(t->servers, f->target));
        break;
    case F_SHARE:
        g_string_append_printf(s, "at %s share %s delete\n", at, (char *)g_ptr_array_index(t->shares, f->target));
        break;
    case F_CRASH:
        g_string_append_printf(s, "at %s %s crash for=%s\n", at, (char *)g_ptr_array_index(t->clients, f->target),
                               len);
        break;
    case F_ACK_LOST:
        g_string_append_printf(s, "at %s server %s lose_acks for=%s\n", at,
                               (char *)g_ptr_array_index(t->servers, f->target), len);
        break;
    default: break;
    }
    g_free(at);
    g_free(end);
    g_free(len);
}

/* Run r's schedule, from its own seed (swarm testing: the kinds it enables
 * and how many faults it has are drawn first). */
static GArray *draw_schedule(const Targets *t, const bool *allowed, uint64_t seed)
{
    Rng rng;
    rng_stream(&rng, seed, "explore");
    bool on[F_KINDS];
    int n_on = 0;
    for (int k = 0; k < F_KINDS; k++) {
        on[k] = allowed[k] && kind_possible(t, (Kind)k) && rng_uniform01(&rng) < 0.5;
        n_on += on[k];
    }
    if (!n_on) /* at least one kind */
        for (int k = 0; k < F_KINDS && !n_on; k++)
            if (allowed[k] && kind_possible(t, (Kind)k))
                on[k] = true, n_on = 1;
    GArray *faults = g_array_new(FALSE, FALSE, sizeof(Fault));
    if (!n_on)
        return faults;
    int n = 1 + (int)rng_below(&rng, 1 + rng_below(&rng, 6)); /* 1 to 6, small more often */
    for (int i = 0; i < n; i++) {
        Kind k;
        do
            k = (Kind)rng_below(&rng, F_KINDS);
        while (!on[k]);
        Fault f = { k, (SimTime)(rng_uniform01(&rng) * (double)t->stop * 0.9), 0, 0, 0 };
        f.len = (SimTime)((0.05 + rng_uniform01(&rng) * 4.95) * 1e9); /* 50 ms to 5 s */
        if (k <= F_DUPLICATE)
            f.target = (guint)rng_below(&rng, t->links->len);
        else if (k == F_SHARE)
            f.target = (guint)rng_below(&rng, t->shares->len);
        else if (k == F_CRASH)
            f.target = (guint)rng_below(&rng, t->clients->len);
        else
            f.target = (guint)rng_below(&rng, t->servers->len);
        f.amount = k == F_LATENCY ? (double)(10 + rng_below(&rng, 491)) * 1e6 /* 10 to 500 ms more */
                                  : 0.05 + 0.45 * rng_uniform01(&rng);      /* 5% to 50% */
        g_array_append_val(faults, f);
    }
    return faults;
}

/* The scenario with the faults, as a file's text. */
static char *with_faults(const Targets *t, GArray *faults, const char *comment)
{
    GString *s = g_string_new(t->text);
    if (s->len && s->str[s->len - 1] != '\n')
        g_string_append_c(s, '\n');
    g_string_append_printf(s, "\n# ---- rdrsim explore%s%s\n", comment ? ": " : "", comment ? comment : "");
    for (guint i = 0; i < faults->len; i++)
        fault_lines(s, t, &g_array_index(faults, Fault, i));
    return g_string_free(s, FALSE);
}

/* ---- running ---- */

typedef struct {
    char *file, *db, *err;
    GPid pid;
    int status;    /* exit status, -1 while running */
    char *failure; /* NULL: passed; else its signature */
} Run;

static void run_clear(Run *r)
{
    g_free(r->file);
    g_free(r->db);
    g_free(r->err);
    g_free(r->failure);
    memset(r, 0, sizeof *r);
}

static char *self_exe(void)
{
    char *p = g_file_read_link("/proc/self/exe", NULL);
    return p ? p : g_strdup("rdrsim");
}

static bool start_run(Run *r, const char *exe)
{
    g_unlink(r->db);
    char *argv[] = { (char *)exe, "run", "-q", "-o", r->db, r->file, NULL }; /* traced as the scenario expects */
    int fd = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    GError *e = NULL;
    bool ok = fd >= 0 && g_spawn_async_with_fds(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &r->pid, -1,
                                                fd, fd, &e);
    if (fd >= 0)
        close(fd);
    g_clear_error(&e);
    r->status = -1;
    return ok;
}

/* What failed: the failed expectations' lines, or the run's message (an
 * invariant), or how the process ended. */
static char *signature(const Run *r)
{
    if (r->status == 0)
        return NULL;
    sqlite3 *db;
    GString *s = g_string_new("");
    if (r->status == 1 && sqlite3_open_v2(r->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT status, coalesce(message, '') FROM runs", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "failed") == 0)
                g_string_append_printf(s, "invariant: %s", sqlite3_column_text(st, 1));
            sqlite3_finalize(st);
        }
        if (!s->len &&
            sqlite3_prepare_v2(db, "SELECT line, query, op, expected FROM expectations WHERE passed = 0 ORDER BY line",
                               -1, &st, NULL) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW)
                g_string_append_printf(s, "%sexpectation of line %d failed: %s %s %s", s->len ? "; " : "",
                                       sqlite3_column_int(st, 0), sqlite3_column_text(st, 1),
                                       sqlite3_column_text(st, 2), sqlite3_column_text(st, 3));
            sqlite3_finalize(st);
        }
        sqlite3_close(db);
    }
    if (!s->len)
        g_string_append_printf(s, "exit status %d", r->status);
    return g_string_free(s, FALSE);
}

/* Only the lines of failed expectations, or the invariant: what "the same
 * failure" compares (actual values may move as faults shrink). */
static char *failure_key(const char *sig)
{
    if (!g_str_has_prefix(sig, "expectation"))
        return g_strdup(sig);
    GString *k = g_string_new("");
    for (const char *p = sig; (p = strstr(p, "line ")); p += 5)
        g_string_append_printf(k, "%d,", atoi(p + 5));
    return g_string_free(k, FALSE);
}

/* Run texts[i] for each i, -j at once; each Run gets its signature. */
static void run_all(GPtrArray *texts, Run *runs, const char *work, const char *prefix, int jobs, const char *exe,
                    int *done_counter, int *failed_counter, void (*tick)(void *), void *ctx)
{
    guint next = 0, running = 0, n = texts->len;
    while (next < n || running) {
        while (running < (guint)jobs && next < n) {
            Run *r = &runs[next];
            r->file = g_strdup_printf("%s/%s-%u.rsim", work, prefix, next);
            r->db = g_strdup_printf("%s/%s-%u.db", work, prefix, next);
            r->err = g_strdup_printf("%s/%s-%u.err", work, prefix, next);
            g_file_set_contents(r->file, g_ptr_array_index(texts, next), -1, NULL);
            if (start_run(r, exe))
                running++;
            else
                r->status = 127;
            next++;
        }
        int ws;
        GPid pid = waitpid(-1, &ws, 0);
        if (pid <= 0)
            break;
        for (guint i = 0; i < next; i++)
            if (runs[i].status == -1 && runs[i].pid == pid) {
                runs[i].status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
                g_spawn_close_pid(pid);
                runs[i].failure = signature(&runs[i]);
                running--;
                (*done_counter)++;
                if (runs[i].failure && failed_counter)
                    (*failed_counter)++;
                if (tick)
                    tick(ctx);
            }
    }
}

/* ---- shrinking ---- */

typedef struct {
    const ExploreOptions *opt;
    const Targets *t;
    char *work, *exe;
    int runs_done, failures, best;
    int failing; /* failed runs of the budget so far, for the progress line */
    bool show, keep_work;
} Ctx;

static void show_progress(void *p)
{
    Ctx *c = p;
    if (!c->show)
        return;
    if (c->best == INT_MAX)
        fprintf(stderr, "\r  %d runs, %d failing   ", c->runs_done, c->failing);
    else
        fprintf(stderr, "\r  %d runs, %d failing, smallest reproducer so far: %d fault%s   ", c->runs_done,
                c->failing, c->best, c->best == 1 ? "" : "s");
    fflush(stderr);
}

/* Does this schedule still fail the same way? */
static bool still_fails(Ctx *c, GArray *faults, const char *key)
{
    GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(texts, with_faults(c->t, faults, NULL));
    Run r = { 0 };
    run_all(texts, &r, c->work, "shrink", 1, c->exe, &c->runs_done, NULL, show_progress, c);
    char *k = r.failure ? failure_key(r.failure) : NULL;
    bool same = k && strcmp(k, key) == 0;
    g_free(k);
    run_clear(&r);
    g_ptr_array_unref(texts);
    return same;
}

/* One fault at a time: drop it; then halve it; until nothing more goes
 * (a 1-minimal schedule: no single fault can be removed). */
static GArray *shrink(Ctx *c, GArray *faults, const char *key)
{
    GArray *cur = g_array_copy(faults);
    bool progress = true;
    while (progress) {
        progress = false;
        for (guint i = 0; i < cur->len; i++) {
            GArray *trial = g_array_copy(cur);
            g_array_remove_index(trial, i);
            if (still_fails(c, trial, key)) {
                g_array_unref(cur);
                cur = trial;
                c->best = MIN(c->best, (int)cur->len);
                progress = true;
                break;
            }
            g_array_unref(trial);
        }
    }
    /* shorter: each fault's length halved while it still fails (to 10 ms) */
    for (guint i = 0; i < cur->len; i++) {
        Fault *f = &g_array_index(cur, Fault, i);
        while ((f->kind <= F_DUPLICATE || f->kind == F_ACK_LOST || f->kind == F_CRASH) && f->len > 20 * 1000 * 1000) {
            GArray *trial = g_array_copy(cur);
            g_array_index(trial, Fault, i).len = f->len / 2;
            if (!still_fails(c, trial, key)) {
                g_array_unref(trial);
                break;
            }
            g_array_unref(cur);
            cur = trial;
            f = &g_array_index(cur, Fault, i);
        }
    }
    return cur;
}

/* ---- the budget run elsewhere ---- */

static int emit_jobs(const ExploreOptions *opt, Ctx *c, GPtrArray *texts, uint64_t base)
{
    char *work = g_canonicalize_filename(c->work, NULL);
    GString *out = g_string_new("");
    for (guint i = 0; i < texts->len; i++) {
        char *file = g_strdup_printf("%s/run-%u.rsim", work, i), *db = g_strdup_printf("%s/run-%u.db", work, i);
        g_file_set_contents(file, g_ptr_array_index(texts, i), -1, NULL);
        g_unlink(db);
        char *q[3] = { g_shell_quote(c->exe), g_shell_quote(db), g_shell_quote(file) };
        g_string_append_printf(out, "%s run -q -o %s %s\n", q[0], q[1], q[2]);
        for (int k = 0; k < 3; k++)
            g_free(q[k]);
        g_free(file);
        g_free(db);
    }
    bool ok = g_file_set_contents(opt->emit_jobs, out->str, (gssize)out->len, NULL);
    g_string_free(out, TRUE);
    g_free(work);
    if (!ok) {
        fprintf(stderr, "rdrsim explore: cannot write %s\n", opt->emit_jobs);
        return EXIT_BAD_INPUT;
    }
    printf("%s: %d runs; run them (e.g. parallel < %s), then: rdrsim explore %s -o %s --budget %d --seed %llu "
           "--from-jobs\n", opt->emit_jobs, opt->budget, opt->emit_jobs, opt->scenario, opt->dir, opt->budget,
           (unsigned long long)base);
    return 0;
}

/* The result of a run made from --emit-jobs, from its trace. */
static bool read_jobs(Ctx *c, Run *runs, int n)
{
    for (int i = 0; i < n; i++) {
        Run *r = &runs[i];
        r->file = g_strdup_printf("%s/run-%d.rsim", c->work, i);
        r->db = g_strdup_printf("%s/run-%d.db", c->work, i);
        sqlite3 *db;
        int st = -1;
        if (g_file_test(r->db, G_FILE_TEST_EXISTS) &&
            sqlite3_open_v2(r->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
            sqlite3_stmt *q;
            if (sqlite3_prepare_v2(db, "SELECT status, (SELECT count(*) FROM expectations WHERE passed = 0) FROM runs",
                                   -1, &q, NULL) == SQLITE_OK &&
                sqlite3_step(q) == SQLITE_ROW) {
                const char *s = (const char *)sqlite3_column_text(q, 0);
                st = strcmp(s, "complete") == 0 && sqlite3_column_int(q, 1) == 0 ? 0
                     : strcmp(s, "incomplete") == 0                              ? -1
                                                                                 : 1;
            }
            sqlite3_finalize(q);
            sqlite3_close(db);
        }
        if (st < 0) {
            fprintf(stderr, "rdrsim explore: %s: no finished run there (were the jobs of --emit-jobs run?)\n", r->db);
            return false;
        }
        r->status = st;
        r->failure = signature(r);
        c->runs_done++;
    }
    return true;
}

/* ---- the command ---- */

static gint by_text(gconstpointer a, gconstpointer b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool load_targets(const char *path, Targets *t, Scenario **out)
{
    Scenario *sc = scenario_load(path, world_schema());
    if (!sc->errors->len)
        world_check(sc);
    if (sc->errors->len) {
        scenario_print_errors(sc, stderr);
        scenario_free(sc);
        return false;
    }
    t->links = g_ptr_array_new();
    t->servers = g_ptr_array_new();
    t->shares = g_ptr_array_new();
    t->clients = g_ptr_array_new();
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        const char *k = d->spec->kind;
        if (strcmp(k, "link") == 0 && !strchr(d->names[0], '[') && !strchr(d->names[1], '['))
            g_ptr_array_add(t->links, d);
        else if (strcmp(k, "server") == 0)
            g_ptr_array_add(t->servers, d->id);
        else if (strcmp(k, "share") == 0)
            g_ptr_array_add(t->shares, d->id);
        else if (strcmp(k, "client") == 0 && !strchr(d->id, '['))
            g_ptr_array_add(t->clients, d->id);
    }
    t->stop = scenario_stop(sc);
    t->text = sc->text;
    t->name = sc->name;
    *out = sc;
    return true;
}

static bool parse_kinds(const char *s, bool *allowed)
{
    for (int k = 0; k < F_KINDS; k++)
        allowed[k] = s == NULL;
    if (!s)
        return true;
    char **w = g_strsplit(s, ",", -1);
    bool ok = true;
    for (char **p = w; *p && ok; p++) {
        ok = false;
        for (int k = 0; k < F_KINDS; k++)
            if (strcmp(g_strstrip(*p), kind_names[k]) == 0)
                allowed[k] = ok = true;
        if (!ok)
            fprintf(stderr, "rdrsim explore: --faults: unknown kind '%s' (expected %s)\n", *p, explore_kinds);
    }
    g_strfreev(w);
    return ok;
}

int explore_main(const ExploreOptions *opt)
{
    bool allowed[F_KINDS];
    if (!parse_kinds(opt->faults, allowed))
        return EXIT_BAD_INPUT;
    Targets t = { 0 };
    Scenario *sc = NULL;
    if (!load_targets(opt->scenario, &t, &sc))
        return EXIT_BAD_INPUT;
    int status = EXIT_BAD_INPUT;
    bool any = false;
    for (int k = 0; k < F_KINDS; k++)
        any = any || (allowed[k] && kind_possible(&t, (Kind)k));
    Ctx c = { opt, &t, NULL, self_exe(), 0, 0, INT_MAX, 0, !opt->quiet && isatty(STDERR_FILENO), false };
    GHashTable *by_failure = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    if (!any) {
        fprintf(stderr, "rdrsim explore: %s has nothing the fault kinds asked for can act on (links, servers, "
                        "shares)\n", opt->scenario);
        goto out;
    }
    if (g_mkdir_with_parents(opt->dir, 0755) != 0) {
        fprintf(stderr, "rdrsim explore: %s: %s\n", opt->dir, g_strerror(errno));
        goto out;
    }
    c.work = g_build_filename(opt->dir, "work", NULL);
    g_mkdir_with_parents(c.work, 0755);
    uint64_t base = opt->has_seed ? opt->seed : scenario_seed(sc);

    /* the scenario must pass as it is */
    GArray *none = g_array_new(FALSE, FALSE, sizeof(Fault));
    GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(texts, with_faults(&t, none, NULL));
    Run plain = { 0 };
    run_all(texts, &plain, c.work, "plain", 1, c.exe, &c.runs_done, NULL, NULL, NULL);
    g_ptr_array_unref(texts);
    g_array_unref(none);
    if (plain.failure) {
        fprintf(stderr, "rdrsim explore: %s fails with no fault injected (%s); explore looks for faults that make a "
                        "passing scenario fail\n", opt->scenario, plain.failure);
        run_clear(&plain);
        goto out;
    }
    run_clear(&plain);

    /* the budget, -j at once, judged in budget order */
    GPtrArray *schedules = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    texts = g_ptr_array_new_with_free_func(g_free);
    for (int r = 0; r < opt->budget; r++) {
        GArray *f = draw_schedule(&t, allowed, sweep_seed(base, r));
        g_ptr_array_add(schedules, f);
        g_ptr_array_add(texts, with_faults(&t, f, NULL));
    }
    Run *runs = g_new0(Run, opt->budget);
    if (opt->emit_jobs) {
        status = emit_jobs(opt, &c, texts, base);
        g_ptr_array_unref(texts);
        g_free(runs);
        g_ptr_array_unref(schedules);
        c.keep_work = true;
        goto out;
    }
    if (opt->from_jobs) {
        if (!read_jobs(&c, runs, opt->budget)) {
            g_ptr_array_unref(texts);
            g_free(runs);
            g_ptr_array_unref(schedules);
            c.keep_work = true;
            status = EXIT_BAD_INPUT;
            goto out;
        }
    } else {
        run_all(texts, runs, c.work, "run", opt->jobs, c.exe, &c.runs_done, &c.failing, show_progress, &c);
    }
    g_ptr_array_unref(texts);
    /* The budget's traces, merged in budget order into one DB, as a sweep's
     * shards are: every run of the exploration, for report, plot, compare. */
    char *merged = g_strdup_printf("%s/%s-runs.db", opt->dir, t.name);
    g_unlink(merged);
    char **shards = g_new0(char *, opt->budget + 1);
    for (int r = 0; r < opt->budget; r++)
        shards[r] = runs[r].db;
    bool merged_ok = merge_main(merged, shards) == 0;
    g_free(shards);
    status = 0;
    int shrunk = 0;
    for (int r = 0; r < opt->budget; r++) {
        if (!runs[r].failure)
            continue;
        c.failures++;
        char *key = failure_key(runs[r].failure);
        gpointer n = g_hash_table_lookup(by_failure, runs[r].failure);
        g_hash_table_replace(by_failure, g_strdup(runs[r].failure), GINT_TO_POINTER(GPOINTER_TO_INT(n) + 1));
        if (status == 0 || opt->keep_going) {
            GArray *fs = g_ptr_array_index(schedules, r);
            c.best = MIN(c.best, (int)fs->len);
            GArray *min = shrink(&c, fs, key);
            uint64_t seed = sweep_seed(base, r);
            char *comment = g_strdup_printf("run %d of %d (seed %llu) failed: %s. Shrunk from %u faults to %u by "
                                            "rdrsim explore --seed %llu --budget %d", r + 1, opt->budget,
                                            (unsigned long long)seed, runs[r].failure, fs->len, min->len,
                                            (unsigned long long)base, opt->budget);
            char *text = with_faults(&t, min, comment);
            char *path = g_strdup_printf("%s/%s-%llu.rsim", opt->dir, t.name, (unsigned long long)seed);
            g_file_set_contents(path, text, -1, NULL);
            /* on its own, it fails the same way */
            bool same = still_fails(&c, min, key);
            if (c.show)
                fputc('\n', stderr);
            printf("failure: %s\n  reproducer: %s (%u fault%s)%s\n", runs[r].failure, path, min->len,
                   min->len == 1 ? "" : "s", same ? "" : " -- but it did not fail the same way again");
            shrunk++;
            status = 1;
            g_free(path);
            g_free(text);
            g_free(comment);
            g_array_unref(min);
        }
        g_free(key);
    }
    if (c.show)
        fputc('\n', stderr);
    printf("%d runs of %s (seed %llu): %d failed%s%s\n", opt->budget, t.name, (unsigned long long)base, c.failures,
           merged_ok ? "; their traces: " : "", merged_ok ? merged : "");
    g_free(merged);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, by_failure);
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_ptr_array_add(lines, g_strdup_printf("  %4d  %s", GPOINTER_TO_INT(v), (char *)k));
    g_ptr_array_sort(lines, by_text);
    for (guint i = 0; i < lines->len; i++)
        printf("%s\n", (char *)g_ptr_array_index(lines, i));
    g_ptr_array_unref(lines);
    for (int r = 0; r < opt->budget; r++)
        run_clear(&runs[r]);
    g_free(runs);
    g_ptr_array_unref(schedules);
out:
    g_hash_table_unref(by_failure);
    if (c.work && !c.keep_work) {
        char *rm[] = { "rm", "-rf", c.work, NULL };
        g_spawn_sync(NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
    }
    g_free(c.work);
    g_free(c.exe);
    if (t.links) {
        g_ptr_array_unref(t.links);
        g_ptr_array_unref(t.servers);
        g_ptr_array_unref(t.shares);
        g_ptr_array_unref(t.clients);
    }
    if (sc)
        scenario_free(sc);
    return status;
}
