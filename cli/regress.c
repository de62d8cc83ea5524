#include "regress.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "run.h"
#include "scenario.h"
#include "sweep.h"
#include "world.h"

/* The baseline must be an rdrsim: its --version says so. */
static char *version_of(const char *exe)
{
    char *argv[] = { (char *)exe, "--version", NULL };
    char *out = NULL;
    int st;
    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &st, NULL))
        return NULL;
    if (!g_spawn_check_wait_status(st, NULL) || !out || !g_str_has_prefix(out, "rdrsim ")) {
        g_free(out);
        return NULL;
    }
    return g_strstrip(out);
}

static char *self_version(void)
{
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    char *v = exe ? version_of(exe) : NULL;
    g_free(exe);
    return v ? v : g_strdup("rdrsim (this build)");
}

/* One side: the scenario's R repetitions with one rdrsim into db. */
static int run_side(const RegressOptions *opt, const char *scenario, const char *exe, const char *db)
{
    g_unlink(db);
    /* Seeds below 2^53: builds before seeds were read exactly rounded
     * larger ones through a double, and their runs would pair with none. */
    SweepOptions s = { scenario, NULL, opt->sets, opt->runs, opt->jobs, db, NULL, opt->trace_level, true, false, exe,
                       true };
    return sweep_main(&s);
}

int regress_main(const RegressOptions *opt)
{
    char *base_version = version_of(opt->baseline);
    if (!base_version) {
        fprintf(stderr, "rdrsim regress: --baseline %s: not an rdrsim that runs here (its --version must say "
                        "\"rdrsim ...\")\n", opt->baseline);
        return EXIT_BAD_INPUT;
    }
    /* Every scenario must be good before anything runs. */
    bool ok = true;
    for (char **p = opt->scenarios; *p; p++) {
        Scenario *sc = scenario_load(*p, world_schema());
        if (sc->errors->len) {
            scenario_print_errors(sc, stderr);
            ok = false;
        }
        scenario_free(sc);
    }
    if (!ok || g_mkdir_with_parents(opt->dir, 0755) != 0) {
        if (ok)
            fprintf(stderr, "rdrsim regress: %s: %s\n", opt->dir, g_strerror(errno));
        g_free(base_version);
        return EXIT_BAD_INPUT;
    }
    char *new_version = self_version();
    char *baseline = g_canonicalize_filename(opt->baseline, NULL);
    printf("regress: baseline %s (%s) against this build (%s), %d run%s a scenario, DBs in %s\n\n", baseline,
           base_version, new_version, opt->runs, opt->runs == 1 ? "" : "s", opt->dir);
    fflush(stdout);
    GString *summary = g_string_new("");
    int regressed = 0, refused = 0, n = 0;
    for (char **p = opt->scenarios; *p; p++, n++) {
        char *base_name = g_path_get_basename(*p);
        char *dot = strrchr(base_name, '.');
        if (dot && dot != base_name)
            *dot = '\0';
        char *bdb = g_strdup_printf("%s/%s-base.db", opt->dir, base_name);
        char *ndb = g_strdup_printf("%s/%s-new.db", opt->dir, base_name);
        if (!opt->quiet) {
            fprintf(stderr, "regress: %s: %d run%s with each build\n", *p, opt->runs, opt->runs == 1 ? "" : "s");
            fflush(stderr);
        }
        /* A side whose runs fail their expectations (exit 1) is a result
         * for compare to judge; a side that could not run at all is not. */
        int sb = run_side(opt, *p, baseline, bdb);
        int sn = sb == EXIT_BAD_INPUT ? sb : run_side(opt, *p, NULL, ndb);
        const char *verdict;
        if (sb == EXIT_BAD_INPUT || sn == EXIT_BAD_INPUT) {
            verdict = "refused: a side could not run (see above)";
            refused++;
        } else {
            printf("== %s\n", *p);
            fflush(stdout);
            CompareOptions c = { bdb, ndb, opt->metrics, opt->threshold, opt->alpha, opt->fmt, false, false };
            int st = compare_main(&c, stdout);
            printf("\n");
            fflush(stdout);
            verdict = st == EXIT_OK ? "no regression" : st == EXIT_FAILED ? "REGRESSION" : "refused by compare";
            regressed += st == EXIT_FAILED;
            refused += st != EXIT_OK && st != EXIT_FAILED;
        }
        g_string_append_printf(summary, "  %-40s %s\n", *p, verdict);
        g_free(bdb), g_free(ndb), g_free(base_name);
    }
    printf("regress summary: %d scenario%s, %d with a regression, %d refused\n%s", n, n == 1 ? "" : "s", regressed,
           refused, summary->str);
    g_string_free(summary, TRUE);
    g_free(baseline);
    g_free(base_version);
    g_free(new_version);
    return refused ? EXIT_BAD_INPUT : regressed ? EXIT_FAILED : EXIT_OK;
}
