/* rdrsim: the command line.  Each command has its own GOptionContext, so
 * `rdrsim CMD --help` describes that command. */
#include <glib.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"
#include "hugepages.h"
#include "plot.h"
#include "explore.h"
#include "pcap.h"
#include "regress.h"
#include "report.h"
#include "trace.h"
#include "run.h"
#include "sweep.h"
#include "units.h"
#include "version.h"

static const char usage[] =
    "Usage: rdrsim COMMAND [OPTION...]\n"
    "\n"
    "A deterministic discrete-event simulator of the Windows network-redirector stack.\n"
    "\n"
    "Commands:\n"
    "  run FILE      run a scenario and write its trace (results/<scenario>.db)\n"
    "  check FILE    parse and validate a scenario; run nothing\n"
    "  report DB     tables: operations, statuses, disconnects, breaks, calls, packets (--format html: with figures)\n"
    "  plot DB       gnuplot figures: disconnect, timeouts, oplock, timeline, sequence, sweep\n"
    "  sweep FILE    run a grid of --vary values x --runs repetitions on -j workers\n"
    "  merge OUT DB...  append the runs of shard DBs to OUT (after sweep --emit-jobs)\n"
    "  compare BASE NEW  paired metrics with confidence intervals; exit 1 on a regression\n"
    "  regress --baseline OLD_RDRSIM FILE...  each scenario with both builds over the same seeds, compared\n"
    "  pcap DB -o FILE.pcapng  a capture of a run for Wireshark: TCP/IP and SMB2 bytes\n"
    "  explore FILE -o DIR  search for a fault schedule that makes the scenario fail; shrink it\n"
    "\n"
    "Options:\n"
    "  -h, --help    this help; `rdrsim COMMAND --help` for a command's options\n"
    "  -V, --version print the version\n"
    "\n"
    "Exit status: 0 success; 1 an expectation or an invariant failed; 2 bad input\n"
    "(usage, scenario, DB); 3 internal error; 130 interrupted (the run is kept,\n"
    "marked incomplete).\n";

static GOptionContext *new_context(const char *params, const char *summary, GOptionEntry *entries)
{
    GOptionContext *ctx = g_option_context_new(params);
    g_option_context_set_summary(ctx, summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    return ctx;
}

/* Parse a command's options; on error print it and return false. */
static bool parse(GOptionContext *ctx, int *argc, char ***argv, const char *cmd)
{
    GError *err = NULL;
    if (!g_option_context_parse(ctx, argc, argv, &err)) {
        fprintf(stderr, "rdrsim %s: %s (see rdrsim %s --help)\n", cmd, err->message, cmd);
        g_error_free(err);
        return false;
    }
    return true;
}

static int cmd_run(int argc, char **argv)
{
    char *output = NULL, *seed = NULL, *level = NULL, *max_events = NULL, *max_sim = NULL, *max_wall = NULL;
    char *max_trace = NULL;
    char **sets = NULL;
    gboolean quiet = FALSE;
    gint jobs = 1;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "trace DB to write (default results/<scenario>.db)",
          "DB" },
        { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs,
          "run the scenario's independent parts on up to J threads (default 1; see docs/cli.md)", "J" },
        { "seed", 0, 0, G_OPTION_ARG_STRING, &seed, "seed of the run (overrides scenario.seed)", "N" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "override a declared value: KIND.NAME.KEY=VALUE",
          "K=V" },
        { "trace", 0, 0, G_OPTION_ARG_STRING, &level, "detail of the trace: none, ops, messages, all (default)",
          "LEVEL" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "print nothing but errors", NULL },
        { "max-events", 0, 0, G_OPTION_ARG_STRING, &max_events, "stop after N events (run kept, incomplete)", "N" },
        { "max-sim-time", 0, 0, G_OPTION_ARG_STRING, &max_sim, "stop at simulated time T (e.g. 10s)", "T" },
        { "max-wall", 0, 0, G_OPTION_ARG_STRING, &max_wall, "stop after T of wall-clock time (e.g. 30s)", "T" },
        { "max-trace-size", 0, 0, G_OPTION_ARG_STRING, &max_trace, "let the trace DB grow to at most SIZE (e.g. 2GiB)",
          "SIZE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = new_context("FILE", "Run a scenario file and write its trace.", entries);
    int status = EXIT_BAD_INPUT;
    RunOptions opt = { .level = TRACE_ALL };
    char *err = NULL;
    if (!parse(ctx, &argc, &argv, "run"))
        goto out;
    if (argc != 2) {
        fprintf(stderr, "rdrsim run: expected one scenario FILE (see rdrsim run --help)\n");
        goto out;
    }
    opt.scenario_path = argv[1];
    opt.output = output;
    opt.overrides = sets;
    opt.quiet = quiet;
    if (jobs < 1 || jobs > 1024) {
        fprintf(stderr, "rdrsim run: --jobs: expected 1 to 1024, got %d\n", jobs);
        goto out;
    }
    opt.jobs = jobs;
    if (seed) {
        int64_t v;
        if (!units_parse_int(seed, QTY_INT, &v, &err) || v < 0) {
            fprintf(stderr, "rdrsim run: --seed: expected an integer from 0 to %lld, got '%s'\n",
                    (long long)G_MAXINT64, seed);
            goto out;
        }
        opt.has_seed = true;
        opt.seed = (uint64_t)v;
    }
    if (level && !trace_parse_level(level, &opt.level)) {
        fprintf(stderr, "rdrsim run: --trace: expected none, ops, messages or all, got '%s'\n", level);
        goto out;
    }
    int64_t v;
    if (max_events) {
        if (!units_parse_int(max_events, QTY_INT, &v, &err) || v <= 0) {
            fprintf(stderr, "rdrsim run: --max-events: expected a positive integer, got '%s'\n", max_events);
            goto out;
        }
        opt.max_events = (uint64_t)v;
    }
    if (max_sim) {
        if (!units_parse_int(max_sim, QTY_TIME, &v, &err) || v <= 0) {
            fprintf(stderr, "rdrsim run: --max-sim-time: expected a positive time (e.g. 10s), got '%s'\n", max_sim);
            goto out;
        }
        opt.max_sim_time = v;
    }
    if (max_wall) {
        if (!units_parse_int(max_wall, QTY_TIME, &v, &err) || v <= 0) {
            fprintf(stderr, "rdrsim run: --max-wall: expected a positive time (e.g. 30s), got '%s'\n", max_wall);
            goto out;
        }
        opt.max_wall = (double)v / 1e9;
    }
    if (max_trace) {
        if (!units_parse_int(max_trace, QTY_SIZE, &v, &err) || v <= 0) {
            fprintf(stderr, "rdrsim run: --max-trace-size: expected a positive size (e.g. 2GiB), got '%s'\n",
                    max_trace);
            goto out;
        }
        opt.max_trace_bytes = v;
    }
    status = run_scenario(&opt);
out:
    g_free(err);
    g_option_context_free(ctx);
    g_free(output);
    g_free(seed);
    g_free(level);
    g_free(max_events);
    g_free(max_sim);
    g_free(max_wall);
    g_free(max_trace);
    g_strfreev(sets);
    return status;
}

static int cmd_check(int argc, char **argv)
{
    char **sets = NULL;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "override a declared value: KIND.NAME.KEY=VALUE",
          "K=V" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "print nothing but errors", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = new_context("FILE", "Parse and validate a scenario file; run nothing.", entries);
    int status = EXIT_BAD_INPUT;
    if (parse(ctx, &argc, &argv, "check")) {
        if (argc != 2)
            fprintf(stderr, "rdrsim check: expected one scenario FILE (see rdrsim check --help)\n");
        else
            status = check_scenario(argv[1], sets, quiet);
    }
    g_option_context_free(ctx);
    g_strfreev(sets);
    return status;
}

/* -o FILE for report and compare: written beside it under a temporary
 * name and renamed into place once complete, so that a failed run leaves
 * an old report as it was and never half a page. */
typedef struct {
    FILE *f;
    char *tmp;
    const char *path;
} Output;

static bool output_open(Output *o, const char *path, const char *cmd)
{
    o->path = path;
    o->tmp = NULL;
    if (!path) {
        o->f = stdout;
        return true;
    }
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        fprintf(stderr, "rdrsim %s: -o %s: is a directory (expected a file)\n", cmd, path);
        return false;
    }
    o->tmp = g_strdup_printf("%s.partial", path);
    o->f = fopen(o->tmp, "w");
    if (!o->f) {
        fprintf(stderr, "rdrsim %s: -o %s: %s\n", cmd, path, g_strerror(errno));
        g_clear_pointer(&o->tmp, g_free);
        return false;
    }
    return true;
}

/* Returns status, or EXIT_INTERNAL when the file could not be completed. */
static int output_close(Output *o, int status, bool keep, const char *cmd)
{
    if (!o->tmp)
        return status;
    bool written = fclose(o->f) == 0;
    if (keep && written && g_rename(o->tmp, o->path) == 0) {
        g_free(o->tmp);
        return status;
    }
    if (keep) {
        fprintf(stderr, "rdrsim %s: -o %s: %s\n", cmd, o->path, g_strerror(errno));
        status = EXIT_INTERNAL;
    }
    g_unlink(o->tmp);
    g_free(o->tmp);
    return status;
}

static int cmd_report(int argc, char **argv)
{
    gint64 run = 0;
    char *format = NULL, *output = NULL;
    GOptionEntry entries[] = {
        { "run", 0, 0, G_OPTION_ARG_INT64, &run, "report on this run only (default: every run)", "N" },
        { "format", 0, 0, G_OPTION_ARG_STRING, &format, "text (default), csv, markdown, or html (a self-contained "
                                                        "page with the figures that apply)", "FMT" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "write to FILE (default: standard output)", "FILE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = new_context("DB", "Summarize a trace: the tables a protocol engineer reads first.", entries);
    int status = EXIT_BAD_INPUT;
    ReportFormat fmt = FMT_TEXT;
    Output o;
    if (!parse(ctx, &argc, &argv, "report"))
        goto out;
    if (argc != 2) {
        fprintf(stderr, "rdrsim report: expected one trace DB (see rdrsim report --help)\n");
        goto out;
    }
    if (format && !report_parse_format(format, &fmt)) {
        fprintf(stderr, "rdrsim report: --format: expected text, csv, markdown or html, got '%s'\n", format);
        goto out;
    }
    if (run < 0) {
        fprintf(stderr, "rdrsim report: --run: expected a run id, got %lld\n", (long long)run);
        goto out;
    }
    if (!output_open(&o, output, "report"))
        goto out;
    status = report_main(argv[1], run, fmt, o.f);
    status = output_close(&o, status, status == EXIT_OK, "report");
out:
    g_option_context_free(ctx);
    g_free(format);
    g_free(output);
    return status;
}

static int cmd_sweep(int argc, char **argv)
{
    char **vary = NULL, **sets = NULL;
    char *output = NULL, *emit = NULL, *level = NULL;
    gint runs = 1, jobs = 1;
    gboolean quiet = FALSE, append = FALSE;
    GOptionEntry entries[] = {
        { "vary", 0, 0, G_OPTION_ARG_STRING_ARRAY, &vary,
          "a swept value: KIND.NAME.KEY=V1,V2,... (repeatable; NAME may be a group form, c[*] or c[1..20])",
          "K=V,..." },
        { "append", 0, 0, G_OPTION_ARG_NONE, &append, "add the runs to an output DB that already holds runs", NULL },
        { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "repetitions per grid point (default 1)", "R" },
        { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "runs at once (default 1)", "J" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "the merged trace DB (required)", "DB" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "a fixed override for every run", "K=V" },
        { "trace", 0, 0, G_OPTION_ARG_STRING, &level, "trace level of each run (default all)", "LEVEL" },
        { "emit-jobs", 0, 0, G_OPTION_ARG_FILENAME, &emit,
          "write one command line per run to FILE instead of running them", "FILE" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "print nothing but errors", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = new_context("FILE", "Run a scenario over a grid of parameter values (--vary), with repetitions (--runs); with no --vary, the\n"
                                      "repetitions alone.  Every name and value is checked before anything runs.",
                                      entries);
    int status = EXIT_BAD_INPUT;
    TraceLevel lv;
    if (!parse(ctx, &argc, &argv, "sweep"))
        goto out;
    if (argc != 2)
        fprintf(stderr, "rdrsim sweep: expected one scenario FILE (see rdrsim sweep --help)\n");
    else if (!output)
        fprintf(stderr, "rdrsim sweep: -o DB is required\n");
    else if (runs < 1 || runs > 100000 || jobs < 1 || jobs > 1024)
        fprintf(stderr, "rdrsim sweep: --runs must be 1..100000 and -j 1..1024\n");
    else if (level && !trace_parse_level(level, &lv))
        fprintf(stderr, "rdrsim sweep: --trace: expected none, ops, messages or all, got '%s'\n", level);
    else {
        SweepOptions o = { argv[1], vary, sets, runs, jobs, output, emit, level, quiet, append, NULL, false };
        status = sweep_main(&o);
    }
out:
    g_option_context_free(ctx);
    g_strfreev(vary);
    g_strfreev(sets);
    g_free(output);
    g_free(emit);
    g_free(level);
    return status;
}

static int cmd_merge(int argc, char **argv)
{
    GOptionEntry entries[] = { { NULL, 0, 0, 0, NULL, NULL, NULL } };
    GOptionContext *ctx = new_context("OUT.db SHARD.db...", "Append the runs of shard DBs to OUT, in the order given.",
                                      entries);
    int status = EXIT_BAD_INPUT;
    if (parse(ctx, &argc, &argv, "merge")) {
        if (argc < 3)
            fprintf(stderr, "rdrsim merge: expected OUT.db and at least one shard DB\n");
        else
            status = merge_main(argv[1], argv + 2);
    }
    g_option_context_free(ctx);
    return status;
}

static int cmd_explore(int argc, char **argv)
{
    char *dir = NULL, *faults = NULL, *seed = NULL, *emit = NULL;
    int budget = 100, jobs = 1;
    gboolean keep = FALSE, quiet = FALSE, from = FALSE;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &dir, "where reproducers go (required)", "DIR" },
        { "budget", 0, 0, G_OPTION_ARG_INT, &budget, "runs, each with its own fault schedule (default 100)", "N" },
        { "faults", 0, 0, G_OPTION_ARG_STRING, &faults, "the fault kinds to draw from (default all)", "KINDS" },
        { "seed", 0, 0, G_OPTION_ARG_STRING, &seed, "the seed of the schedules (default the scenario's)", "S" },
        { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "runs at once (default 1)", "J" },
        { "keep-going", 0, 0, G_OPTION_ARG_NONE, &keep, "shrink every failure, not only the first", NULL },
        { "emit-jobs", 0, 0, G_OPTION_ARG_FILENAME, &emit, "write the budget's runs as command lines to FILE "
                                                           "instead of running them", "FILE" },
        { "from-jobs", 0, 0, G_OPTION_ARG_NONE, &from, "read the results of the --emit-jobs runs, then shrink", NULL },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress line", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    char *about = g_strdup_printf("Run the scenario N times, each with a fault schedule drawn from its own seed over the "
                                  "timeline\n(kinds: %s); shrink the first failure to the\nfewest faults that still "
                                  "make it fail the same way and write DIR/NAME-SEED.rsim.\n"
                                  "Exit status: 0 no failure in the budget, 1 a failure found, 2 bad input.",
                                  explore_kinds);
    GOptionContext *ctx = new_context("FILE", about, entries);
    int status = EXIT_BAD_INPUT;
    uint64_t s = 0;
    char *end = NULL;
    if (parse(ctx, &argc, &argv, "explore")) {
        if (argc != 2)
            fprintf(stderr, "rdrsim explore: expected one scenario FILE (see rdrsim explore --help)\n");
        else if (!dir)
            fprintf(stderr, "rdrsim explore: -o DIR is required\n");
        else if (budget < 1 || budget > 1000000 || jobs < 1 || jobs > 1024)
            fprintf(stderr, "rdrsim explore: --budget must be 1..1000000 and -j 1..1024\n");
        else if (seed && (!g_ascii_isdigit(*seed) || (s = g_ascii_strtoull(seed, &end, 10), *end)))
            fprintf(stderr, "rdrsim explore: --seed: expected a number, got '%s'\n", seed);
        else {
            ExploreOptions o = { argv[1], dir, budget, faults, s, seed != NULL, jobs, keep, emit, from, quiet };
            status = explore_main(&o);
        }
    }
    g_option_context_free(ctx);
    g_free(about);
    g_free(dir);
    g_free(faults);
    g_free(seed);
    g_free(emit);
    return status;
}

static int cmd_pcap(int argc, char **argv)
{
    char *output = NULL, *node = NULL;
    gint64 run = 0, conn = 0;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "the capture to write (required)", "FILE.pcapng" },
        { "run", 0, 0, G_OPTION_ARG_INT64, &run, "the run (default: the first)", "N" },
        { "node", 0, 0, G_OPTION_ARG_STRING, &node, "only packets to or from this node", "NODE" },
        { "conn", 0, 0, G_OPTION_ARG_INT64, &conn, "only this TDI connection (packets.conn)", "N" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = new_context("DB", "Write a pcapng capture of a run that Wireshark dissects: Ethernet, IPv4 and TCP with the\n"
                                      "transport's own ports, sequence and acknowledgement numbers, flags and windows, carrying\n"
                                      "the SMB2 messages as MS-SMB2 lays them out (file data as zeros); one interface per link,\n"
                                      "timestamps in simulated time (ns).  The run is simulated again from its trace (the same\n"
                                      "build, a trace recorded with --trace all).\n"
                                      "Exit status: 0 written, 2 bad input, 3 the run did not come out the same.",
                                      entries);
    int status = EXIT_BAD_INPUT;
    if (parse(ctx, &argc, &argv, "pcap")) {
        if (argc != 2)
            fprintf(stderr, "rdrsim pcap: expected one trace DB (see rdrsim pcap --help)\n");
        else if (!output)
            fprintf(stderr, "rdrsim pcap: -o FILE.pcapng is required\n");
        else if (run < 0 || conn < 0)
            fprintf(stderr, "rdrsim pcap: --run and --conn take positive numbers\n");
        else {
            PcapOptions o = { argv[1], output, run, node, conn };
            status = pcap_main(&o);
        }
    }
    g_option_context_free(ctx);
    g_free(output);
    g_free(node);
    return status;
}

/* A time of the sequence window: with a unit (200ms, 1.5s, 300us), or a
 * bare number of milliseconds. */
static bool parse_window_time(const char *opt, const char *text, double *ms)
{
    char *end = NULL, *err = NULL;
    double v = g_ascii_strtod(text, &end);
    if (end != text && !*end && isfinite(v) && v >= 0) {
        *ms = v;
        return true;
    }
    if (units_parse(text, QTY_TIME, &v, &err) && v >= 0) {
        *ms = v / 1e6;
        return true;
    }
    fprintf(stderr, "rdrsim plot: %s %s: expected a simulated time such as 200ms or 1.5s (a bare number is ms)\n",
            opt, text);
    g_free(err);
    return false;
}

static int cmd_plot(int argc, char **argv)
{
    char *what = NULL, *output = NULL, *metric = NULL, *param = NULL, *from = NULL, *to = NULL, *time = NULL;
    gint64 run = 0, conn = 0, brk = 0;
    GOptionEntry entries[] = {
        { "what", 0, 0, G_OPTION_ARG_STRING, &what,
          "disconnect, timeouts, oplock, timeline, sequence or sweep (required)", "WHAT" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "FILE.png or FILE.svg (required)", "FILE" },
        { "run", 0, 0, G_OPTION_ARG_INT64, &run, "only this run (default: every run; the first for timeline and "
                                                  "sequence)", "N" },
        { "conn", 0, 0, G_OPTION_ARG_INT64, &conn, "sequence: the connection (packets.conn)", "N" },
        { "break", 0, 0, G_OPTION_ARG_INT64, &brk, "sequence: the N-th oplock break of the run, in time order", "N" },
        { "metric", 0, 0, G_OPTION_ARG_STRING, &metric, "sweep: the metric (default tdi.release.p50_ns)", "NAME" },
        { "param", 0, 0, G_OPTION_ARG_STRING, &param, "sweep: the swept parameter (default: the first)", "KEY" },
        { "from", 0, 0, G_OPTION_ARG_STRING, &from, "sequence: start of the window, simulated time (200ms, 1.5s; "
                                                    "a bare number is ms)", "T" },
        { "to", 0, 0, G_OPTION_ARG_STRING, &to, "sequence: end of the window", "T" },
        { "time", 0, 0, G_OPTION_ARG_STRING, &time, "sequence: rows (one row per event, the default) or linear "
                                                    "(time to scale)", "MODE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = new_context("DB", "Draw a figure from a trace with gnuplot.", entries);
    int status = EXIT_BAD_INPUT;
    if (!parse(ctx, &argc, &argv, "plot"))
        goto out;
    if (argc != 2 || !what || !output) {
        fprintf(stderr, "rdrsim plot: expected DB --what WHAT -o FILE.png|FILE.svg (see rdrsim plot --help)\n");
        goto out;
    }
    double from_ms = NAN, to_ms = NAN;
    if ((from && !parse_window_time("--from", from, &from_ms)) || (to && !parse_window_time("--to", to, &to_ms)))
        goto out;
    if (time && strcmp(time, "rows") != 0 && strcmp(time, "linear") != 0) {
        fprintf(stderr, "rdrsim plot: --time %s: expected rows or linear\n", time);
        goto out;
    }
    PlotOptions o = { argv[1], what, output, run, conn, brk, metric, param, from_ms, to_ms,
                      time && strcmp(time, "linear") == 0 };
    status = plot_main(&o);
out:
    g_option_context_free(ctx);
    g_free(what);
    g_free(output);
    g_free(metric);
    g_free(param);
    g_free(from);
    g_free(to);
    g_free(time);
    return status;
}

static int cmd_compare(int argc, char **argv)
{
    char **metrics = NULL;
    char *format = NULL, *output = NULL;
    double threshold = 5, alpha = 0.05;
    gboolean force = FALSE, all = FALSE;
    GOptionEntry entries[] = {
        { "metric", 0, 0, G_OPTION_ARG_STRING_ARRAY, &metrics,
          "compare only this metric (a glob; repeatable; sim.* is gated only when named)", "NAME" },
        { "force", 0, 0, G_OPTION_ARG_NONE, &force, "compare runs of different scenarios anyway", NULL },
        { "all", 0, 0, G_OPTION_ARG_NONE, &all, "show the metrics that are the same on both sides too", NULL },
        { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold, "flag changes beyond PCT percent (default 5)", "PCT" },
        { "alpha", 0, 0, G_OPTION_ARG_DOUBLE, &alpha, "1 - confidence of the intervals (default 0.05)", "A" },
        { "format", 0, 0, G_OPTION_ARG_STRING, &format, "text (default), markdown, or html (a self-contained page "
                                                        "with the differences drawn as intervals)", "FMT" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "write to FILE (default: standard output)", "FILE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = new_context("BASE.db NEW.db", "Compare two traces of the same scenario and seeds.\nExit status: 0 no regression, 1 at least one, 2 refused (bad input, different scenarios, nothing to pair).", entries);
    int status = EXIT_BAD_INPUT;
    ReportFormat fmt = FMT_TEXT;
    if (!parse(ctx, &argc, &argv, "compare"))
        goto out;
    if (argc != 3)
        fprintf(stderr, "rdrsim compare: expected BASE.db and NEW.db (see rdrsim compare --help)\n");
    else if (format && (!report_parse_format(format, &fmt) || fmt == FMT_CSV))
        fprintf(stderr, "rdrsim compare: --format: expected text, markdown or html, got '%s'\n", format);
    else if (!(threshold >= 0) || !(alpha > 0 && alpha < 1))
        fprintf(stderr, "rdrsim compare: --threshold must be >= 0 and --alpha in (0, 1)\n");
    else {
        Output out;
        if (output_open(&out, output, "compare")) {
            CompareOptions o = { argv[1], argv[2], metrics, threshold / 100, alpha, fmt, force, all };
            status = compare_main(&o, out.f);
            /* a verdict of regression is a complete page too */
            status = output_close(&out, status, status == EXIT_OK || status == EXIT_FAILED, "compare");
        }
    }
out:
    g_option_context_free(ctx);
    g_strfreev(metrics);
    g_free(format);
    g_free(output);
    return status;
}

static int cmd_regress(int argc, char **argv)
{
    char **metrics = NULL, **sets = NULL;
    char *baseline = NULL, *dir = NULL, *format = NULL, *level = NULL;
    gint runs = 8, jobs = 1;
    double threshold = 5, alpha = 0.05;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        { "baseline", 0, 0, G_OPTION_ARG_FILENAME, &baseline, "the baseline build's rdrsim (required)", "RDRSIM" },
        { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "runs a scenario with each build, over the same seeds (default 8)",
          "R" },
        { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "runs at once (default 1)", "J" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &dir, "where the DBs go (default results/regress)", "DIR" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "an override for both builds' runs", "K=V" },
        { "trace", 0, 0, G_OPTION_ARG_STRING, &level, "trace level of each run (default all)", "LEVEL" },
        { "metric", 0, 0, G_OPTION_ARG_STRING_ARRAY, &metrics, "compare only this metric (as compare)", "NAME" },
        { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold, "flag changes beyond PCT percent (default 5)", "PCT" },
        { "alpha", 0, 0, G_OPTION_ARG_DOUBLE, &alpha, "1 - confidence of the intervals (default 0.05)", "A" },
        { "format", 0, 0, G_OPTION_ARG_STRING, &format, "text (default) or markdown", "FMT" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress lines", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = new_context("FILE...", "Judge a change of the model's code: run each scenario with the "
                                                 "baseline's rdrsim and with this one over the same seeds, and "
                                                 "compare.\nExit status: 0 no regression, 1 a regression, 2 "
                                                 "refused.", entries);
    int status = EXIT_BAD_INPUT;
    ReportFormat fmt = FMT_TEXT;
    TraceLevel lv;
    if (!parse(ctx, &argc, &argv, "regress"))
        goto out;
    if (!baseline)
        fprintf(stderr, "rdrsim regress: --baseline RDRSIM is required (see rdrsim regress --help)\n");
    else if (argc < 2)
        fprintf(stderr, "rdrsim regress: expected at least one scenario FILE\n");
    else if (runs < 1 || runs > 100000 || jobs < 1 || jobs > 1024)
        fprintf(stderr, "rdrsim regress: --runs must be 1..100000 and -j 1..1024\n");
    else if (format && (!report_parse_format(format, &fmt) || fmt == FMT_CSV))
        fprintf(stderr, "rdrsim regress: --format: expected text or markdown, got '%s'\n", format);
    else if (!(threshold >= 0) || !(alpha > 0 && alpha < 1))
        fprintf(stderr, "rdrsim regress: --threshold must be >= 0 and --alpha in (0, 1)\n");
    else if (level && !trace_parse_level(level, &lv))
        fprintf(stderr, "rdrsim regress: --trace: expected none, ops, messages or all, got '%s'\n", level);
    else {
        RegressOptions o = { baseline, argv + 1, sets, runs, jobs, dir ? dir : "results/regress", level, metrics,
                             threshold / 100, alpha, fmt, quiet };
        status = regress_main(&o);
    }
out:
    g_option_context_free(ctx);
    g_strfreev(metrics);
    g_strfreev(sets);
    g_free(baseline);
    g_free(dir);
    g_free(format);
    g_free(level);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_BAD_INPUT;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("rdrsim %s (trace schema %d)\n", RDRSIM_VERSION, RDRSIM_SCHEMA_VERSION);
        return EXIT_OK;
    }
    /* The command's own parser sees "rdrsim CMD" as its program name. */
    char *prog = g_strdup_printf("rdrsim %s", cmd);
    g_set_prgname(prog);
    argv[1] = prog;
    int status;
    /* Only the commands that simulate hold models' state worth 2 MiB pages. */
    if (strcmp(cmd, "run") == 0 || strcmp(cmd, "sweep") == 0)
        hugepages_use();
    if (strcmp(cmd, "run") == 0)
        status = cmd_run(argc - 1, argv + 1);
    else if (strcmp(cmd, "check") == 0)
        status = cmd_check(argc - 1, argv + 1);
    else if (strcmp(cmd, "report") == 0)
        status = cmd_report(argc - 1, argv + 1);
    else if (strcmp(cmd, "sweep") == 0)
        status = cmd_sweep(argc - 1, argv + 1);
    else if (strcmp(cmd, "merge") == 0)
        status = cmd_merge(argc - 1, argv + 1);
    else if (strcmp(cmd, "plot") == 0)
        status = cmd_plot(argc - 1, argv + 1);
    else if (strcmp(cmd, "compare") == 0)
        status = cmd_compare(argc - 1, argv + 1);
    else if (strcmp(cmd, "regress") == 0)
        status = cmd_regress(argc - 1, argv + 1);
    else if (strcmp(cmd, "pcap") == 0)
        status = cmd_pcap(argc - 1, argv + 1);
    else if (strcmp(cmd, "explore") == 0)
        status = cmd_explore(argc - 1, argv + 1);
    else {
        fprintf(stderr, "rdrsim: unknown command '%s'\n\n%s", cmd, usage);
        status = EXIT_BAD_INPUT;
    }
    g_free(prog);
    return status;
}
