/* Figures checked by what they draw.  Each figure kind is drawn as SVG
 * from a small trace (a run of a bundled scenario, or rows written here
 * through the trace writers), and its text is read back: titles, axis
 * labels with their units, legend entries, tic labels, the chart's own
 * labels and where they stand.  The HTML pages of report and compare are
 * then opened in a real headless browser (Debian's chromium), which says
 * whether every figure rendered, whether any text of a figure overlaps
 * another as laid out by the browser's own fonts, and whether the page
 * asked for anything outside itself. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "cli.h"
#include "ntstatus.h"
#include "trace.h"

/* ---- reading gnuplot's SVG ---- */

typedef struct {
    double x, y, size;
    char anchor; /* s start, m middle, e end */
    bool rotated;
    char *text;
} SvgText;

static void svg_text_free(gpointer p)
{
    g_free(((SvgText *)p)->text);
    g_free(p);
}

static char *unescape(const char *s, gsize n)
{
    GString *o = g_string_new("");
    for (gsize i = 0; i < n; i++) {
        if (s[i] == '&') {
            static const char *const ent[][2] = { { "&lt;", "<" }, { "&gt;", ">" }, { "&amp;", "&" },
                                                  { "&quot;", "\"" }, { "&apos;", "'" } };
            bool done = false;
            for (size_t k = 0; k < G_N_ELEMENTS(ent) && !done; k++)
                if (strncmp(s + i, ent[k][0], strlen(ent[k][0])) == 0) {
                    g_string_append(o, ent[k][1]);
                    i += strlen(ent[k][0]) - 1;
                    done = true;
                }
            if (!done)
                g_string_append_c(o, s[i]);
        } else {
            g_string_append_c(o, s[i]);
        }
    }
    return g_string_free(o, FALSE);
}

/* Every <text> of the SVG, with the translate() and font of its group. */
static GPtrArray *svg_texts(const char *path)
{
    char *svg = NULL;
    g_assert_true(g_file_get_contents(path, &svg, NULL, NULL));
    GPtrArray *a = g_ptr_array_new_with_free_func(svg_text_free);
    for (const char *g = svg; (g = strstr(g, "<g transform=\"translate(")); g++) {
        const char *end = strchr(g, '>');
        const char *t = strstr(g, "<text>"), *te = t ? strstr(t, "</text>") : NULL;
        const char *next = strstr(g + 1, "<g ");
        if (!end || !t || !te || (next && next < t))
            continue;
        SvgText *x = g_new0(SvgText, 1);
        sscanf(g + strlen("<g transform=\"translate("), "%lf,%lf", &x->x, &x->y);
        char *head = g_strndup(g, (gsize)(end - g));
        x->rotated = strstr(head, "rotate(") != NULL;
        const char *fs = strstr(head, "font-size=\"");
        x->size = fs ? g_ascii_strtod(fs + strlen("font-size=\""), NULL) : 11;
        x->anchor = strstr(head, "text-anchor=\"end\"") ? 'e' : strstr(head, "text-anchor=\"middle\"") ? 'm' : 's';
        g_free(head);
        x->text = unescape(t + 6, (gsize)(te - t - 6));
        g_ptr_array_add(a, x);
    }
    g_free(svg);
    return a;
}

static int count_text(GPtrArray *t, const char *s)
{
    int n = 0;
    for (guint i = 0; i < t->len; i++)
        n += strcmp(((SvgText *)g_ptr_array_index(t, i))->text, s) == 0;
    return n;
}

static const SvgText *find_text(GPtrArray *t, const char *sub)
{
    for (guint i = 0; i < t->len; i++)
        if (strstr(((SvgText *)g_ptr_array_index(t, i))->text, sub))
            return g_ptr_array_index(t, i);
    return NULL;
}

#define assert_text(t, s)                                                                                              \
    do {                                                                                                               \
        if (!find_text((t), (s)))                                                                                      \
            g_error("the figure has no text containing \"%s\"", (s));                                                 \
    } while (0)

/* Texts of a size that overlap, with each box estimated from its anchor,
 * the font size and 0.55 em a character (what DejaVu Sans averages):
 * the browser test below measures the real boxes. */
static int overlaps(GPtrArray *t, double size, GString *why)
{
    int n = 0;
    for (guint i = 0; i < t->len; i++)
        for (guint j = i + 1; j < t->len; j++) {
            const SvgText *a = g_ptr_array_index(t, i), *b = g_ptr_array_index(t, j);
            if (a->rotated || b->rotated || a->size != size || b->size != size || !*a->text || !*b->text)
                continue;
            double box[2][4];
            const SvgText *p[2] = { a, b };
            for (int k = 0; k < 2; k++) {
                double w = 0.55 * p[k]->size * (double)g_utf8_strlen(p[k]->text, -1);
                double x0 = p[k]->anchor == 's' ? p[k]->x : p[k]->anchor == 'e' ? p[k]->x - w : p[k]->x - w / 2;
                box[k][0] = x0, box[k][1] = x0 + w, box[k][2] = p[k]->y - 0.75 * p[k]->size,
                box[k][3] = p[k]->y + 0.2 * p[k]->size;
            }
            if (box[0][0] < box[1][1] && box[1][0] < box[0][1] && box[0][2] < box[1][3] && box[1][2] < box[0][3]) {
                g_string_append_printf(why, "\"%s\" over \"%s\"; ", a->text, b->text);
                n++;
            }
        }
    return n;
}

/* ---- traces ---- */

static char *ob_db, *ob_legacy_db, *bulk_db, *known_db, *sweep_db;

/* Rows chosen so that each figure's series are known: operations on c1,
 * c2 and c10 (one timed out, two concurrent on c1); releases that
 * completed, one that timed out, one cancelled, an abort at 0 ms; breaks
 * acknowledged, closed, timed out and not needing an answer; a time-out
 * of each kind. */
static char *make_known(void)
{
    char *path = path_in("known.db"), *err = NULL;
    Trace *tr = trace_open(path, &err);
    g_assert_nonnull(tr);
    TraceRunInfo info = { "known.rsim", "known", "# test_figures", "", 1, TRACE_ALL };
    g_assert_true(trace_begin_run(tr, &info, &err));
    uint32_t c1 = trace_name(tr, "c1"), c2 = trace_name(tr, "c2"), c10 = trace_name(tr, "c10"),
             srv = trace_name(tr, "srv");
    uint32_t rd = trace_name(tr, "read"), op = trace_name(tr, "open"), f = trace_name(tr, "\\\\srv\\s\\a.doc");
    trace_op(tr, c10, rd, 1, f, 1 * SIM_SEC, 1 * SIM_SEC + 5 * SIM_MS, STATUS_SUCCESS, 10);
    trace_op(tr, c2, op, 2, f, 2 * SIM_SEC, 2 * SIM_SEC + 3 * SIM_MS, STATUS_SUCCESS, 0);
    trace_op(tr, c1, op, 3, f, 0, 4 * SIM_SEC, STATUS_SUCCESS, 0);
    trace_op(tr, c1, rd, 3, f, 1 * SIM_SEC, 2 * SIM_SEC, STATUS_SUCCESS, 10); /* while the open is under way */
    trace_op(tr, c2, rd, 4, f, 3 * SIM_SEC, 5 * SIM_SEC, STATUS_IO_TIMEOUT, 0);
    uint32_t rel = trace_name(tr, "release"), ab = trace_name(tr, "abort"), ep = trace_name(tr, "e1");
    for (int i = 0; i < 10; i++)
        trace_disconnect(tr, 1, c1, ep, rel, i * SIM_SEC, i * SIM_SEC + (10 + 5 * i) * SIM_MS, 4, STATUS_SUCCESS);
    trace_disconnect(tr, 2, c2, ep, rel, 0, 500 * SIM_MS, 2, STATUS_REQUEST_TIMED_OUT);
    trace_disconnect(tr, 3, c2, ep, rel, 0, 300 * SIM_MS, 2, STATUS_CANCELLED);
    trace_disconnect(tr, 4, c2, ep, ab, SIM_SEC, SIM_SEC, 2, STATUS_SUCCESS);
    uint32_t batch = trace_name(tr, "BATCH"), l2 = trace_name(tr, "LEVEL_II"), none = trace_name(tr, "NONE");
    uint32_t trig = trace_name(tr, "open");
    uint32_t acked = trace_name(tr, "acked"), closed = trace_name(tr, "closed"), tmo = trace_name(tr, "timeout"),
             nn = trace_name(tr, "none_needed");
    trace_oplock_break(tr, srv, f, c1, 9, batch, l2, trig, 2 * SIM_SEC, 2 * SIM_SEC + 8 * SIM_MS, acked, l2, l2);
    trace_oplock_break(tr, srv, f, c1, 9, batch, l2, trig, 3 * SIM_SEC, 3 * SIM_SEC + 12 * SIM_MS, acked, l2, l2);
    trace_oplock_break(tr, srv, f, c1, 9, batch, l2, trig, 4 * SIM_SEC, 4 * SIM_SEC + 900 * SIM_MS, closed, l2, -1);
    trace_oplock_break(tr, srv, f, c2, 10, l2, none, trig, 5 * SIM_SEC, -1, tmo, none, -1);
    for (int i = 0; i < 50; i++)
        trace_oplock_break(tr, srv, f, c2, 10, l2, none, trig, 6 * SIM_SEC, -1, nn, none, -1);
    uint32_t conn_req = trace_name(tr, "TDI_CONNECT"), noflags = trace_name(tr, "");
    trace_tdi_request(tr, c2, ep, 5, conn_req, noflags, 0, 7 * SIM_SEC, STATUS_IO_TIMEOUT);
    g_assert_true(trace_end_run(tr, "complete", NULL, 10 * SIM_SEC, 100, &err));
    trace_close(tr);
    return path;
}

/* A sweep-like DB: loss 0, 5%, 20% and latency 1ms, 10ms, two runs each,
 * each run with a metric and one release. */
static char *make_sweep(void)
{
    char *path = path_in("sweep.db"), *err = NULL;
    Trace *tr = trace_open(path, &err);
    const char *loss[] = { "0", "5%", "20%" }, *lat[] = { "1ms", "10ms" };
    for (int i = 0; i < 3; i++)
        for (int l = 0; l < 2; l++)
            for (int r = 0; r < 2; r++) {
                char *ov = g_strdup_printf("link.c1-srv.loss=%s link.c1-srv.latency=%s scenario.seed=%d", loss[i],
                                           lat[l], r + 1);
                TraceRunInfo info = { "s.rsim", "s", "", ov, (uint64_t)r + 1, TRACE_OPS };
                g_assert_true(trace_begin_run(tr, &info, &err));
                trace_metric(tr, "tdi.release.p50_ns", (10 + 40 * i + 5 * l + r) * 1e6);
                trace_disconnect(tr, 1, trace_name(tr, "c1"), trace_name(tr, "e"), trace_name(tr, "release"), 0,
                                 (10 + 40 * i) * SIM_MS, 4, STATUS_SUCCESS);
                trace_op(tr, trace_name(tr, "c1"), trace_name(tr, "read"), 1, trace_name(tr, "f"), SIM_SEC,
                         2 * SIM_SEC, STATUS_IO_TIMEOUT, 0);
                g_assert_true(trace_end_run(tr, "complete", NULL, 3 * SIM_SEC, 10, &err));
                g_free(ov);
            }
    trace_close(tr);
    return path;
}

static char *run_scenario(const char *name)
{
    char *db = g_strdup_printf("%s/%s.db", dir, name);
    char *src = g_strdup_printf("%s/scenarios/%s.rsim", g_getenv("RDRSIM_TOP") ? g_getenv("RDRSIM_TOP") : ".", name);
    g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "-o", db, src, NULL), ==, 0);
    g_free(src);
    return db;
}

/* Draw into NAME.svg in the scratch directory; the extra arguments after
 * the output end with NULL.  Asserts the exit status. */
static GPtrArray *draw(const char *name, int want, const char *db, const char *what, ...)
{
    char *out = g_strdup_printf("%s/%s.svg", dir, name), *err = NULL;
    const char *argv[24] = { "plot", db, "--what", what, "-o", out };
    int n = 6;
    va_list ap;
    va_start(ap, what);
    for (const char *a; (a = va_arg(ap, const char *)) && n < 22;)
        argv[n++] = a;
    va_end(ap);
    int rc = rdrsim(NULL, &err, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], n > 6 ? argv[6] : NULL,
                    n > 7 ? argv[7] : NULL, n > 8 ? argv[8] : NULL, n > 9 ? argv[9] : NULL, n > 10 ? argv[10] : NULL,
                    n > 11 ? argv[11] : NULL, NULL);
    if (rc != want)
        g_error("plot %s --what %s: exit %d, wanted %d: %s", db, what, rc, want, err);
    g_free(err);
    GPtrArray *t = rc == 0 ? svg_texts(out) : NULL;
    g_free(out);
    return t;
}

/* ---- each figure kind ---- */

static void test_sequence_rows(void)
{
    GPtrArray *t = draw("seq-rows", 0, ob_db, "sequence", "--break", "1", NULL);
    /* the nodes named once each, over their lanes; the lanes by their part */
    g_assert_cmpint(count_text(t, "c1"), ==, 1);
    g_assert_cmpint(count_text(t, "srv"), ==, 1);
    g_assert_cmpint(count_text(t, "transport"), ==, 2);
    assert_text(t, "mini-redirector");
    assert_text(t, "simulated time (ms), downwards; one row per event");
    assert_text(t, "events in order (not to scale: --time linear)");
    /* the break down the server, across, and up the client to RDBSS and back */
    assert_text(t, "SMB OPLOCK_BREAK notification");
    assert_text(t, "ClientEventReceive (break notification)");
    assert_text(t, "RxIndicateChangeOfBufferingState (LEVEL_II)");
    assert_text(t, "MRxComputeNewBufferingState");
    assert_text(t, "SMB OPLOCK_BREAK request");
    assert_text(t, "SMB OPLOCK_BREAK response STATUS_SUCCESS");
    GString *why = g_string_new("");
    if (overlaps(t, 8, why))
        g_error("labels overlap: %s", why->str);
    /* one label a row: no two chart labels share a baseline */
    for (guint i = 0; i < t->len; i++)
        for (guint j = i + 1; j < t->len; j++) {
            const SvgText *a = g_ptr_array_index(t, i), *b = g_ptr_array_index(t, j);
            if (a->size == 8 && b->size == 8)
                g_assert_cmpfloat(fabs(a->y - b->y), >=, 10);
        }
    g_string_free(why, TRUE);
    g_ptr_array_unref(t);
    /* With the transport of old (congestion=none: 200 ms delayed ACKs) the
     * client's first ACK in the break window is the delayed ACK of the
     * CREATE response of 197 bytes sent at 102 ms: the window reaches back
     * to the data it acknowledges, and so shows the application's write
     * that the break flushes. */
    t = draw("seq-rows-legacy", 0, ob_legacy_db, "sequence", "--break", "1", NULL);
    assert_text(t, "data 197 B");
    assert_text(t, "SMB CREATE response STATUS_SUCCESS");
    assert_text(t, "write report.doc");
    g_ptr_array_unref(t);
}

/* A WebDAV connection: the lanes of RDBSS and its redirector, the HTTP
 * requests and responses between them and the server, and their legend. */
static void test_sequence_http(void)
{
    char *db = run_scenario("dav-files");
    GPtrArray *t = draw("seq-http", 0, db, "sequence", "--conn", "1", "--from", "1999", "--to", "2010", NULL);
    assert_text(t, "mini-redirector");
    assert_text(t, "HTTP PROPFIND request");
    assert_text(t, "HTTP PROPFIND response 207");
    assert_text(t, "HTTP LOCK request");
    assert_text(t, "HTTP message");
    g_assert_cmpint(count_text(t, "SMB message"), ==, 0);
    GString *why = g_string_new("");
    if (overlaps(t, 8, why))
        g_error("labels overlap: %s", why->str);
    g_string_free(why, TRUE);
    g_ptr_array_unref(t);
    g_free(db);
}

static void test_sequence_linear_window(void)
{
    GPtrArray *t = draw("seq-linear", 0, ob_db, "sequence", "--break", "1", "--time", "linear", "--from", "205ms",
                        "--to", "215", NULL);
    assert_text(t, "simulated time (ms), downwards, to scale");
    assert_text(t, "from 205.000 to ");
    assert_text(t, "time to scale");
    assert_text(t, "SMB OPLOCK_BREAK notification");
    g_assert_null(find_text(t, "SMB CREATE response")); /* before the window */
    GString *why = g_string_new("");
    if (overlaps(t, 8, why))
        g_error("labels overlap: %s", why->str);
    g_string_free(why, TRUE);
    /* y tics are times, increasing downwards */
    const SvgText *a = find_text(t, "206.000"), *b = find_text(t, "212.000");
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_cmpfloat(a->y, <, b->y);
    g_ptr_array_unref(t);
    char *err = NULL;
    char *out = path_in("bad.svg");
    g_assert_cmpint(rdrsim(NULL, &err, "plot", ob_db, "--what", "sequence", "--conn", "1", "--from", "9", "--to", "3",
                           "-o", out, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "--to is before --from"));
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, &err, "plot", ob_db, "--what", "sequence", "--conn", "1", "--from", "soon", "-o", out,
                           NULL), ==, 2);
    g_assert_nonnull(strstr(err, "--from soon: expected a simulated time"));
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, &err, "plot", ob_db, "--what", "sequence", "--conn", "1", "--time", "log", "-o", out,
                           NULL), ==, 2);
    g_assert_nonnull(strstr(err, "--time log: expected rows or linear"));
    g_free(err);
    g_free(out);
}

static void test_sequence_busy(void)
{
    /* a bulk transfer: more arrows than a chart holds, and it says so */
    char *out = path_in("seq-busy.svg"), *svg = NULL, *err = NULL;
    g_assert_cmpint(rdrsim(NULL, &err, "plot", bulk_db, "--what", "sequence", "--conn", "1", "-o", out, NULL), ==, 0);
    GPtrArray *t = svg_texts(out);
    assert_text(t, "the first 160 of ");
    assert_text(t, "(choose a window: --from, --to)");
    g_assert_true(g_file_get_contents(out, &svg, NULL, NULL));
    int height = atoi(strstr(svg, "height=\"") + 8);
    g_assert_cmpint(height, <=, 118 + 84 + (2 * 160 + 1) * 20); /* rows of at most 160 arrows */
    g_free(svg);
    g_free(err);
    g_free(out);
    g_ptr_array_unref(t);
}

static void test_timeline(void)
{
    GPtrArray *t = draw("timeline", 0, known_db, "timeline", NULL);
    /* natural order, top down: c1, c2, c10 */
    const SvgText *a = find_text(t, "c1"), *b = find_text(t, "c2"), *c = NULL;
    for (guint i = 0; i < t->len; i++)
        if (strcmp(((SvgText *)g_ptr_array_index(t, i))->text, "c10") == 0)
            c = g_ptr_array_index(t, i);
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_nonnull(c);
    g_assert_cmpfloat(a->y, <, b->y);
    g_assert_cmpfloat(b->y, <, c->y);
    /* a colour per operation, a mark per failing status */
    g_assert_cmpint(count_text(t, "read"), ==, 1);
    g_assert_cmpint(count_text(t, "open"), ==, 1);
    assert_text(t, "ended STATUS_IO_TIMEOUT");
    assert_text(t, "simulated time (s)");
    assert_text(t, "overlapping operations in rows of their own");
    g_ptr_array_unref(t);
}

static void test_disconnect(void)
{
    GPtrArray *t = draw("disconnect", 0, known_db, "disconnect", NULL);
    /* only STATUS_SUCCESS in the curve, of every release */
    assert_text(t, "release: completed (10 of 12)");
    assert_text(t, "release: timed out (1)");
    assert_text(t, "release: cancelled (1)");
    assert_text(t, "abort: completed (1 of 1)");
    /* a log axis from 10 to 500 ms with 1-2-5 tics, and the abort's 0 on a tic of its own */
    assert_text(t, "(ms, log scale)");
    static const char *const tics[] = { "0", "10", "20", "50", "100", "200", "500" };
    for (size_t i = 0; i < G_N_ELEMENTS(tics); i++)
        if (count_text(t, tics[i]) < 1)
            g_error("no x tic %s", tics[i]);
    g_ptr_array_unref(t);
    /* a sweep: a curve per parameter point, never pooled */
    t = draw("disconnect-sweep", 0, sweep_db, "disconnect", NULL);
    assert_text(t, "one curve per parameter point");
    assert_text(t, "release, c1-srv.loss=0 c1-srv.latency=1ms: completed (2 of 2)");
    assert_text(t, "release, c1-srv.loss=20% c1-srv.latency=10ms: completed (2 of 2)");
    g_ptr_array_unref(t);
}

static void test_timeouts(void)
{
    GPtrArray *t = draw("timeouts", 0, known_db, "timeouts", NULL);
    assert_text(t, "I/O (operations, TDI sends and receives)");
    assert_text(t, "connect (TDI_CONNECT)");
    assert_text(t, "disconnect (TDI_DISCONNECT)");
    assert_text(t, "oplock break (at its notification)");
    assert_text(t, "one line per node");
    g_assert_cmpint(count_text(t, "c2 (1)"), ==, 3); /* its read, its TDI_CONNECT, its release */
    g_assert_cmpint(count_text(t, "srv (1)"), ==, 1); /* the break it sent */
    g_assert_null(find_text(t, "none in the trace"));
    g_ptr_array_unref(t);
    /* a sweep: one line per point, the mean per run (one time-out in each of 2 runs: 1) */
    t = draw("timeouts-sweep", 0, sweep_db, "timeouts", NULL);
    assert_text(t, "one line per parameter point");
    assert_text(t, "time-outs so far (mean per run)");
    assert_text(t, "c1-srv.loss=5% c1-srv.latency=10ms (2 in 2 runs)");
    g_assert_cmpint(count_text(t, "none in the trace"), ==, 3);
    g_ptr_array_unref(t);
}

static void test_oplock(void)
{
    GPtrArray *t = draw("oplock", 0, known_db, "oplock", NULL);
    /* the CDF of acknowledged breaks only: 2, not the closed one */
    assert_text(t, "BATCH -> LEVEL_II (n = 2)");
    assert_text(t, "acknowledged");
    assert_text(t, "released by CLOSE");
    assert_text(t, "timed out");
    assert_text(t, "(50 more needed no acknowledgement, not drawn)");
    assert_text(t, "LEVEL_II -> NONE");
    assert_text(t, "break latency: notification to acknowledgement (ms)");
    g_ptr_array_unref(t);
}

static void test_sweep(void)
{
    GPtrArray *t = draw("sweep-loss", 0, sweep_db, "sweep", "--param", "link.c1-srv.loss", NULL);
    assert_text(t, "link.c1-srv.loss (%); 2 runs per point");
    assert_text(t, "tdi.release.p50_ns, in ms (median, 95% CI)");
    assert_text(t, "c1-srv.latency=1ms");
    assert_text(t, "c1-srv.latency=10ms");
    g_assert_nonnull(find_text(t, "20")); /* 20%, as a percentage */
    g_ptr_array_unref(t);
    t = draw("sweep-latency", 0, sweep_db, "sweep", "--param", "link.c1-srv.latency", NULL);
    assert_text(t, "link.c1-srv.latency (ms); 2 runs per point");
    assert_text(t, "c1-srv.loss=5%");
    g_ptr_array_unref(t);
}

/* ---- the HTML pages ---- */

static char *read_file(const char *path)
{
    char *s = NULL;
    g_assert_true(g_file_get_contents(path, &s, NULL, NULL));
    return s;
}

static int count_of(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p++)
        n++;
    return n;
}

/* Self-contained: a CSP that forbids fetching, no script, every reference
 * inside the page. */
static void assert_self_contained(const char *html)
{
    g_assert_nonnull(strstr(html, "Content-Security-Policy\" content=\"default-src 'none'"));
    g_assert_null(strstr(html, "<script"));
    g_assert_null(strstr(html, "src="));
    for (const char *p = html; (p = strstr(p, "href=")); p++)
        g_assert_true(p[6] == '#');
    for (const char *p = html; (p = strstr(p, "url(")); p++)
        g_assert_true(p[4] == '#');
    /* "http" only in the SVG namespaces */
    int http = count_of(html, "http://") + count_of(html, "https://");
    g_assert_cmpint(http, ==, count_of(html, "xmlns=\"http://www.w3.org/2000/svg\"") +
                                  count_of(html, "xmlns:xlink=\"http://www.w3.org/1999/xlink\""));
}

static char *report_html(const char *db, const char *name)
{
    char *out = g_strdup_printf("%s/%s.html", dir, name), *err = NULL;
    int rc = rdrsim(NULL, &err, "report", db, "--format", "html", "-o", out, NULL);
    if (rc != 0)
        g_error("report --format html: exit %d: %s", rc, err);
    g_free(err);
    return out;
}

static void test_report_html(void)
{
    char *page = report_html(ob_db, "ob"), *html = read_file(page);
    assert_self_contained(html);
    /* one run: the timeline, the disconnect CDF and the chart around the
     * disconnect, the break figure and the chart around the break */
    g_assert_cmpint(count_of(html, "<figure"), ==, 5);
    g_assert_cmpint(count_of(html, "data-what=\"sequence\""), ==, 2);
    g_assert_cmpint(count_of(html, "data-what=\"timeline\""), ==, 1);
    g_assert_nonnull(strstr(html, "<caption>Operations by kind (latency)</caption>"));
    g_assert_nonnull(strstr(html, "Oplock break 1 of 1 in run 1"));
    g_assert_nonnull(strstr(html, "Disconnect 1 of 1 in run 1: TDI_DISCONNECT release by c1"));
    /* no time-out in this run: said, not drawn */
    g_assert_nonnull(strstr(html, "Time-outs over simulated time, by kind: no time-outs in the trace"));
    /* ids unique across the inlined figures */
    g_assert_cmpint(count_of(html, "id='gpPt0'"), ==, 0);
    g_assert_cmpint(count_of(html, "id='f1_gpPt0'"), ==, 1);
    g_free(html);
    g_free(page);
    /* a sweep: the per-point table and the sweep figures of the headline metric */
    page = report_html(sweep_db, "sweep");
    html = read_file(page);
    assert_self_contained(html);
    g_assert_nonnull(strstr(html, "Sweep: one row per parameter point"));
    g_assert_cmpint(count_of(html, "data-what=\"sweep\""), ==, 1);
    g_assert_cmpint(count_of(html, "data-what=\"disconnect\""), ==, 1);
    g_assert_cmpint(count_of(html, "data-what=\"sequence\""), ==, 0);
    g_free(html);
    g_free(page);
    /* an output that cannot be written: exit 2, nothing half written */
    char *err = NULL;
    g_assert_cmpint(rdrsim(NULL, &err, "report", ob_db, "--format", "html", "-o", "/nonexistent/dir/r.html", NULL),
                    ==, 2);
    g_assert_nonnull(strstr(err, "-o /nonexistent/dir/r.html"));
    g_free(err);
    g_assert_cmpint(rdrsim(NULL, &err, "report", ob_db, "--format", "html", "-o", dir, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "is a directory"));
    g_free(err);
    /* a trace that is not one: exit 2, no page left behind */
    char *junk = path_in("junk.db"), *junk_page = path_in("junk.html");
    g_assert_true(g_file_set_contents(junk, "not a trace", -1, NULL));
    g_assert_cmpint(rdrsim(NULL, &err, "report", junk, "--format", "html", "-o", junk_page, NULL), ==, 2);
    g_assert_false(g_file_test(junk_page, G_FILE_TEST_EXISTS));
    g_free(err);
    g_free(junk);
    g_free(junk_page);
}

static char *compare_html(const char *a, const char *b, const char *name, int want)
{
    char *out = g_strdup_printf("%s/%s.html", dir, name), *err = NULL;
    int rc = rdrsim(NULL, &err, "compare", a, b, "--format", "html", "-o", out, NULL);
    if (rc != want)
        g_error("compare --format html: exit %d: %s", rc, err);
    g_free(err);
    return out;
}

static char *regressed_db;

static void test_compare_html(void)
{
    char *page = compare_html(ob_db, regressed_db, "compare", 1), *html = read_file(page);
    assert_self_contained(html);
    g_assert_nonnull(strstr(html, "regression"));
    g_assert_nonnull(strstr(html, "<tr class=\"regression\">"));
    g_assert_cmpint(count_of(html, "data-what=\"script\""), ==, 1);
    g_assert_nonnull(strstr(html, "Paired differences, relative to the base"));
    g_assert_nonnull(strstr(html, "Where the traces part"));
    g_assert_nonnull(strstr(html, "First divergence"));
    g_free(html);
    g_free(page);
}

/* ---- in a browser ---- */

/* What the page is checked for once the browser has laid it out: written
 * into the page, read back from the DOM chromium dumps. */
static const char checker[] =
    "<pre id=\"rdrsim-check\"></pre><script>\n"
    "window.addEventListener('load', () => {\n"
    "  const figs = [...document.querySelectorAll('figure')];\n"
    "  let rendered = 0, overlaps = [];\n"
    "  figs.forEach((f, i) => {\n"
    "    const s = f.querySelector('svg'), b = s.getBoundingClientRect();\n"
    "    if (b.width > 300 && b.height > 150 && s.querySelectorAll('path').length > 3) rendered++;\n"
    "    const t = [...s.querySelectorAll('text')].filter(e => e.textContent.trim() !== '')\n"
    "      .map(e => ({s: e.textContent, b: e.getBoundingClientRect()}));\n"
    "    for (let x = 0; x < t.length; x++) for (let y = x + 1; y < t.length; y++) {\n"
    "      const p = t[x].b, q = t[y].b;\n"
    "      if (p.left < q.right - 0.5 && q.left < p.right - 0.5 && p.top < q.bottom - 0.5 && q.top < p.bottom - 0.5)\n"
    "        overlaps.push(f.dataset.what + ': \"' + t[x].s + '\" over \"' + t[y].s + '\"');\n"
    "    }\n"
    "  });\n"
    "  const res = performance.getEntriesByType('resource').map(e => e.name);\n"
    "  document.getElementById('rdrsim-check').textContent = 'figures=' + figs.length + ' rendered=' + rendered +\n"
    "    ' resources=' + res.length + ' overlaps=' + overlaps.length + '\\n' + res.concat(overlaps).join('\\n');\n"
    "});\n"
    "</script>\n";

static void browse(const char *page, int want_figures)
{
    /* the page with the checker, and without its policy (which would stop the checker's script) */
    char *html = read_file(page);
    char *csp = strstr(html, "<meta http-equiv=\"Content-Security-Policy\"");
    g_assert_nonnull(csp);
    char *csp_end = strchr(csp, '>') + 1;
    char *body_end = strstr(html, "</body>");
    GString *s = g_string_new_len(html, csp - html);
    g_string_append_len(s, csp_end, body_end - csp_end);
    g_string_append(s, checker);
    g_string_append(s, body_end);
    char *copy = g_strdup_printf("%s.check.html", page), *uri = g_strdup_printf("file://%s", copy);
    g_assert_true(g_file_set_contents(copy, s->str, -1, NULL));
    const char *argv[] = { "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", "--virtual-time-budget=10000", "--dump-dom", uri, NULL };
    char *out = NULL, *err = NULL;
    int status = 0;
    GError *gerr = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &gerr))
        g_error("cannot run chromium (make deps installs it): %s", gerr->message);
    const char *r = strstr(out, "<pre id=\"rdrsim-check\">");
    if (!r || !strstr(r, "figures="))
        g_error("chromium did not run the check on %s: %s", page, err);
    int figures = -1, rendered = -1, resources = -1, over = -1;
    g_assert_cmpint(sscanf(strstr(r, "figures="), "figures=%d rendered=%d resources=%d overlaps=%d", &figures,
                           &rendered, &resources, &over), ==, 4);
    if (figures != want_figures || rendered != figures || resources != 0 || over != 0)
        g_error("%s in chromium: %d figures (wanted %d), %d rendered, %d requests, %d overlapping texts:\n%.3000s",
                page, figures, want_figures, rendered, resources, over, strchr(r, '\n'));
    g_string_free(s, TRUE);
    g_free(html);
    g_free(copy);
    g_free(uri);
    g_free(out);
    g_free(err);
}

static void test_browser(void)
{
    char *page = report_html(ob_db, "ob-browser");
    browse(page, 5);
    g_free(page);
    page = report_html(known_db, "known-browser");
    browse(page, 4); /* timeline, time-outs, disconnects, breaks: no packets, so no sequence charts */
    g_free(page);
    page = report_html(sweep_db, "sweep-browser");
    browse(page, 3);
    g_free(page);
    page = compare_html(ob_db, regressed_db, "compare-browser", 1);
    browse(page, 1);
    g_free(page);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("rdrsim-figures-XXXXXX", NULL);
    ob_db = run_scenario("oplock-break");
    ob_legacy_db = g_strdup_printf("%s/oplock-break-legacy.db", dir);
    {
        char *src = g_strdup_printf("%s/scenarios/oplock-break.rsim",
                                    g_getenv("RDRSIM_TOP") ? g_getenv("RDRSIM_TOP") : ".");
        g_assert_cmpint(rdrsim(NULL, NULL, "run", "-q", "--set", "client.c1.congestion=none", "--set",
                               "client.c2.congestion=none", "--set", "server.srv.congestion=none", "-o", ob_legacy_db, src, NULL),
                        ==, 0);
        g_free(src);
    }
    bulk_db = run_scenario("tdi-bulk-loss");
    known_db = make_known();
    sweep_db = make_sweep();
    /* the same scenario and seed run by the build with a deliberate
     * regression (make regress-demo: the server serves every CREATE 30 ms later) */
    regressed_db = path_in("regressed.db");
    char *bindir = g_path_get_dirname(bin());
    char *slow = g_build_filename(bindir, "regress-demo", "rdrsim", NULL);
    char *src = g_strdup_printf("%s/scenarios/oplock-break.rsim", g_getenv("RDRSIM_TOP") ? g_getenv("RDRSIM_TOP") : ".");
    const char *args[] = { slow, "run", "-q", "-o", regressed_db, src, NULL };
    int status = 0;
    if (!g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                      NULL, NULL, &status, NULL))
        g_error("cannot run %s (make test builds it)", slow);
    g_free(bindir);
    g_free(slow);
    g_free(src);
    g_test_add_func("/figures/sequence-rows", test_sequence_rows);
    g_test_add_func("/figures/sequence-linear-window", test_sequence_linear_window);
    g_test_add_func("/figures/sequence-http", test_sequence_http);
    g_test_add_func("/figures/sequence-busy", test_sequence_busy);
    g_test_add_func("/figures/timeline", test_timeline);
    g_test_add_func("/figures/disconnect", test_disconnect);
    g_test_add_func("/figures/timeouts", test_timeouts);
    g_test_add_func("/figures/oplock", test_oplock);
    g_test_add_func("/figures/sweep", test_sweep);
    g_test_add_func("/figures/report-html", test_report_html);
    g_test_add_func("/figures/compare-html", test_compare_html);
    g_test_add_func("/figures/browser", test_browser);
    (void)write_scenario;
    int rc = g_test_run();
    remove_tree(dir);
    g_free(ob_db);
    g_free(ob_legacy_db);
    g_free(bulk_db);
    g_free(known_db);
    g_free(sweep_db);
    g_free(regressed_db);
    g_free(dir);
    return rc;
}
