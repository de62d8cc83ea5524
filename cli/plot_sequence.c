/* plot_sequence: a message sequence chart of one TDI connection.
 *
 * Lanes left to right follow a request down the client's stack and up the
 * server's: the application, RDBSS, the mini-redirector, the two
 * transports, the server (or, for a raw TDI client, the client, the two
 * transports and the server).  Arrows: application operations, MRx
 * routine calls, SMB messages, TDI requests and their completions,
 * packets (a lost one stops half way), and the calls upward: a transport's
 * receive or disconnect indication, the mini-redirector handing a break to
 * RDBSS (trace view `indications`).
 *
 * Time runs downwards, in one of two modes.  By default one row per event
 * (a departure or an arrival) in time order: a burst at one instant stays
 * readable, but slopes mean nothing.  With --time linear, y is simulated
 * time to scale: slopes are latencies.
 *
 * Labels never collide.  The chart fixes its margins, so it knows where
 * each label lands in pixels: in row mode a label sits above its arrow's
 * departure row, and rows are taller than a label, so no two labels can
 * meet; in linear mode each label tries places near its arrow and, where
 * none is free, is left out and counted in the subtitle. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "plot_int.h"

enum { S_TDI = 1, S_DONE, S_PACKET, S_LOST, S_SMB, S_MRX, S_UP, S_APP, S_HTTP, S_N };

static const char *const colors[S_N] = { "",        "#1f77b4", "#2ca02c", "#555555", "#d62728",
                                         "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#e377c2" };
static const char *const style_names[S_N] = { "",
                                              "TDI request",
                                              "completion (status)",
                                              "packet",
                                              "packet lost",
                                              "SMB message",
                                              "MRx routine call",
                                              "indication upward",
                                              "application operation",
                                              "HTTP message" };
/* At one instant what arrives comes first, then what leaves in causal
 * order: an indication or an application's request, the routine call it
 * makes, the SMB or HTTP message or TDI request, the packets, the
 * completions. */
static const int rank_of[S_N] = { 0, 4, 6, 5, 5, 3, 2, 0, 1, 3 };

typedef struct {
    double t0, t1; /* ns */
    int from, to;
    int style;
    guint order; /* insertion order: ties at one instant */
    char *label;
    double y0, y1; /* chart y of departure and arrival */
} Arrow;

static void arrow_free(gpointer a)
{
    g_free(((Arrow *)a)->label);
    g_free(a);
}

static void add_arrow(GPtrArray *a, double t0, double t1, int from, int to, int style, const char *label)
{
    Arrow *x = g_new0(Arrow, 1);
    x->t0 = t0, x->t1 = t1, x->from = from, x->to = to, x->style = style;
    x->order = a->len;
    x->label = g_strdup(label);
    g_ptr_array_add(a, x);
}

static gint arrow_cmp(gconstpointer a, gconstpointer b)
{
    const Arrow *x = *(Arrow *const *)a, *y = *(Arrow *const *)b;
    if (x->t0 != y->t0)
        return x->t0 < y->t0 ? -1 : 1;
    if (rank_of[x->style] != rank_of[y->style])
        return rank_of[x->style] - rank_of[y->style];
    return (x->order > y->order) - (x->order < y->order);
}

/* A row of the row mode: an arrow's departure (end 0) or arrival (end 1). */
typedef struct {
    double t;
    guint arrow;
    int end;
} SeqPoint;

static gint seq_point_cmp(gconstpointer a, gconstpointer b)
{
    const SeqPoint *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->end != y->end)
        return y->end - x->end; /* arrivals first */
    return (x->arrow > y->arrow) - (x->arrow < y->arrow);
}

typedef struct {
    sqlite3_int64 rowid;
    double t, arrive; /* arrive: NAN when lost */
    bool out;         /* client to server */
    char *kind, *fate;
    int bytes;
} Pkt;

static void pkt_free(gpointer p)
{
    Pkt *k = p;
    g_free(k->kind);
    g_free(k->fate);
    g_free(k);
}

static bool carries_data(const Pkt *k)
{
    return strcmp(k->kind, "data") == 0 || strcmp(k->kind, "retransmit") == 0 || strcmp(k->kind, "fin") == 0;
}

/* The window of a break starts early enough to hold the data whose
 * acknowledgements it shows: acknowledgements are cumulative (RFC 793
 * 3.3), so a pure ACK sent at t acknowledges the peer's segments that
 * arrived after the sender's previous segment went out and by t. */
static double window_start_for_acks(GPtrArray *pkts, double w0, double w1)
{
    double start = w0;
    for (guint i = 0; i < pkts->len; i++) {
        Pkt *a = g_ptr_array_index(pkts, i);
        if (a->t < w0 || a->t > w1 || strcmp(a->kind, "ack") != 0)
            continue;
        double prev = -INFINITY;
        for (guint j = i; j-- > 0;) {
            Pkt *q = g_ptr_array_index(pkts, j);
            if (q->out == a->out) {
                prev = q->t;
                break;
            }
        }
        for (guint j = 0; j < i; j++) {
            Pkt *d = g_ptr_array_index(pkts, j);
            if (d->out != a->out && carries_data(d) && !isnan(d->arrive) && d->arrive > prev && d->arrive <= a->t)
                start = MIN(start, d->t);
        }
    }
    return start;
}

/* ---- label placement ---- */

#define W_PX 1100
#define L_PX 96
#define R_PX 24
#define T_PX 118
#define B_PX 84
#define ROW_PX 20
#define FONT_PX 8.0 /* labels: 8 px, which is 8 in gnuplot's SVG and 6 points in pngcairo's 96 dpi */
#define LABEL_H 10.0

typedef struct {
    double x0, y0, x1, y1;
} Box;

static bool boxes_meet(const Box *a, const Box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* The labels placed so far, and the plot area's y range in pixels:
 * labels stay inside it. */
typedef struct {
    GArray *placed;
    double top, bottom;
} Layout;

static bool box_free(const Layout *l, const Box *b)
{
    if (b->y0 < l->top || b->y1 > l->bottom)
        return false;
    for (guint i = 0; i < l->placed->len; i++)
        if (boxes_meet(&g_array_index(l->placed, Box, i), b))
            return false;
    return true;
}

/* A label of width w whose text starts (left) or ends (right) at x,
 * vertically centred on cy; kept inside the picture. */
static Box label_box(double x, bool left, double cy, double w)
{
    double x0 = left ? x : x - w;
    x0 = CLAMP(x0, 2, W_PX - 2 - w);
    return (Box){ x0, cy - LABEL_H / 2, x0 + w, cy + LABEL_H / 2 };
}

/* Where a label may go, best first: above its departure, above its
 * arrival, below either, then stepped away from the departure. */
static int candidates(double x0, double y0, double x1, double y1, double w, Box *out)
{
    bool right = x1 > x0;
    double dx = right ? 5 : -5;
    int n = 0;
    out[n++] = label_box(x0 + dx, right, y0 - 7, w);
    out[n++] = label_box(x1 - 2 * dx, !right, y1 - 7, w);
    out[n++] = label_box(x0 + dx, right, y0 + 7, w);
    out[n++] = label_box(x1 - 2 * dx, !right, y1 + 7, w);
    for (int k = 1; k <= 3; k++) {
        out[n++] = label_box(x0 + dx, right, y0 - 7 - k * (LABEL_H + 1), w);
        out[n++] = label_box(x0 + dx, right, y0 + 7 + k * (LABEL_H + 1), w);
    }
    out[n++] = label_box((x0 + x1) / 2, true, (y0 + y1) / 2 - 7, w);
    return n;
}

/* ---- the chart ---- */

typedef struct {
    Plot *p;
    int64_t run, conn;
    char *cli, *srv;
    double w0, w1; /* ns */
    GPtrArray *arrows;
} Seq;

static void bind_window(Seq *s, sqlite3_stmt *st)
{
    sqlite3_bind_int64(st, 2, s->run);
    sqlite3_bind_int64(st, 3, s->conn);
    sqlite3_bind_text(st, 4, s->cli, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, s->w0);
    sqlite3_bind_double(st, 6, s->w1);
}

/* The break's window and connection; false with p->err. */
static bool break_window(Seq *s, char **what)
{
    Plot *p = s->p;
    sqlite3_stmt *b = plot_prepare(p, "SELECT server, holder_node, t_sent_ns, coalesce(t_acked_ns, t_sent_ns), "
                                      "from_level, to_level, file FROM oplock_breaks WHERE run_id = ?2 "
                                      "ORDER BY t_sent_ns LIMIT 1 OFFSET ?3");
    if (!b) {
        p->err = g_strdup("the trace has no oplock_breaks table");
        return false;
    }
    sqlite3_bind_int64(b, 2, s->run);
    sqlite3_bind_int64(b, 3, p->opt->brk - 1);
    if (sqlite3_step(b) != SQLITE_ROW) {
        sqlite3_finalize(b);
        p->err = g_strdup_printf("run %lld has no oplock break %lld", (long long)s->run, (long long)p->opt->brk);
        return false;
    }
    /* the notification, the acknowledgement and a millisecond either side */
    double sent = sqlite3_column_double(b, 2);
    s->w0 = sent - 1e6;
    s->w1 = sqlite3_column_double(b, 3) + 1e6;
    *what = g_strdup_printf("oplock break %lld (%s to %s, %s: %s -> %s)", (long long)p->opt->brk,
                            sqlite3_column_text(b, 0), sqlite3_column_text(b, 1), sqlite3_column_text(b, 6),
                            sqlite3_column_text(b, 4), sqlite3_column_text(b, 5));
    /* the connection that carried the notification */
    sqlite3_stmt *c = plot_prepare(p, "SELECT conn FROM smb_messages WHERE run_id = ?2 AND node = ?3 AND peer = ?4 "
                                      "ORDER BY command = 'OPLOCK_BREAK' DESC, abs(t_ns - ?5) LIMIT 1");
    sqlite3_bind_int64(c, 2, s->run);
    sqlite3_bind_text(c, 3, (const char *)sqlite3_column_text(b, 0), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(c, 4, (const char *)sqlite3_column_text(b, 1), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(c, 5, sent);
    s->conn = c && sqlite3_step(c) == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
    sqlite3_finalize(c);
    sqlite3_finalize(b);
    return true;
}

/* A packet row of one hop, as load_packets reads it. */
typedef struct {
    sqlite3_int64 rowid;
    double t, arrive;
    char *src, *dst, *kind, *fate, *key_next;
    int bytes, hop;
} Hop;

static void hop_free(gpointer p)
{
    Hop *h = p;
    g_free(h->src), g_free(h->dst), g_free(h->kind), g_free(h->fate), g_free(h->key_next);
    g_free(h);
}

/* The packets of the connection, each from its sender to where it ended.
 * A routed packet has a row per hop: the next hop's row is the one the
 * router queued when this one arrived (same time, the same header). */
static GPtrArray *load_packets(Seq *s)
{
    GPtrArray *pkts = g_ptr_array_new_with_free_func(pkt_free);
    GPtrArray *hops = g_ptr_array_new_with_free_func(hop_free);
    GHashTable *later = g_hash_table_new(g_str_hash, g_str_equal); /* key -> Hop* of hop > 1 */
    sqlite3_stmt *st = plot_prepare(s->p, "SELECT rowid, t_ns, t_arrive_ns, src, dst, kind, bytes, fate, "
                                          "coalesce(hop, 1), seq, ack, flags FROM packets "
                                          "WHERE run_id = ?2 AND conn = ?3 ORDER BY t_ns, rowid");
    bind_window(s, st);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        Hop *h = g_new0(Hop, 1);
        h->rowid = sqlite3_column_int64(st, 0);
        h->t = sqlite3_column_double(st, 1);
        h->arrive = sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 2);
        h->src = g_strdup((const char *)sqlite3_column_text(st, 3));
        h->dst = g_strdup((const char *)sqlite3_column_text(st, 4));
        h->kind = g_strdup((const char *)sqlite3_column_text(st, 5));
        h->bytes = sqlite3_column_int(st, 6);
        h->fate = g_strdup((const char *)sqlite3_column_text(st, 7));
        h->hop = sqlite3_column_int(st, 8);
        const char *hdr = g_strdup_printf("%s|%d|%lld|%lld|%s", h->kind, h->bytes,
                                          (long long)sqlite3_column_int64(st, 9),
                                          (long long)sqlite3_column_int64(st, 10),
                                          sqlite3_column_text(st, 11) ? (const char *)sqlite3_column_text(st, 11) : "");
        /* this row as the next hop of another: queued at t by src */
        char *key_self = g_strdup_printf("%.0f|%s|%s", h->t, h->src, hdr);
        /* the row that continues this one: queued at its arrival by its dst */
        h->key_next = isnan(h->arrive) ? NULL : g_strdup_printf("%.0f|%s|%s", h->arrive, h->dst, hdr);
        g_free((char *)hdr);
        g_ptr_array_add(hops, h);
        if (h->hop > 1 && !g_hash_table_contains(later, key_self))
            g_hash_table_insert(later, key_self, h);
        else
            g_free(key_self);
    }
    sqlite3_finalize(st);
    for (guint i = 0; i < hops->len; i++) {
        Hop *h = g_ptr_array_index(hops, i);
        if (h->hop != 1)
            continue;
        const Hop *end = h;
        while (!isnan(end->arrive) && strcmp(end->dst, s->cli) != 0 && strcmp(end->dst, s->srv) != 0) {
            const Hop *next = end->key_next ? g_hash_table_lookup(later, end->key_next) : NULL;
            if (!next)
                break;
            end = next;
        }
        bool reached = !isnan(end->arrive) && (strcmp(end->dst, s->cli) == 0 || strcmp(end->dst, s->srv) == 0);
        Pkt *k = g_new0(Pkt, 1);
        k->rowid = h->rowid;
        k->t = h->t;
        k->arrive = reached ? end->arrive : NAN;
        k->out = strcmp(h->src, s->cli) == 0;
        k->kind = g_strdup(h->kind);
        k->bytes = h->bytes;
        k->fate = end->hop > 1 && !reached ? g_strdup_printf("%s after %s", end->fate, end->src) : g_strdup(end->fate);
        g_ptr_array_add(pkts, k);
    }
    /* the table holds the keys; the rows are freed with `hops` */
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, later);
    while (g_hash_table_iter_next(&it, &key, NULL))
        g_free(key);
    g_hash_table_unref(later);
    g_ptr_array_unref(hops);
    return pkts;
}

/* Every arrow of the window, lanes as given. */
static void gather(Seq *s, GPtrArray *pkts, bool rdr, int tdi_client, int ctp, int stp, int sapp)
{
    Plot *p = s->p;
    for (guint i = 0; i < pkts->len; i++) {
        Pkt *k = g_ptr_array_index(pkts, i);
        bool lost = isnan(k->arrive);
        /* a packet in flight across either edge of the window is in it */
        if (k->t > s->w1 || (lost ? k->t : k->arrive) < s->w0)
            continue;
        char *label = g_strdup_printf("%s %d B%s%s", k->kind, k->bytes, lost ? ": " : "", lost ? k->fate : "");
        add_arrow(s->arrows, k->t, lost ? k->t : k->arrive, k->out ? ctp : stp, k->out ? stp : ctp,
                  lost ? S_LOST : S_PACKET, label);
        g_free(label);
    }
    /* Where SMB or HTTP messages ride the connection, their arrows stand
     * for the TDI sends and receives that carry them. */
    sqlite3_stmt *st = plot_prepare(p, "SELECT 1 FROM http_messages LIMIT 0");
    bool http_view = st != NULL; /* a trace older than HTTP has none */
    sqlite3_finalize(st);
    st = plot_prepare(p, http_view ? "SELECT t_ns, t_done_ns, node = ?4, request, flags, status FROM tdi_requests "
                                     "WHERE run_id = ?2 AND conn = ?3 AND t_ns BETWEEN ?5 AND ?6 AND (request NOT IN "
                                     "('TDI_SEND', 'TDI_RECEIVE') OR NOT EXISTS (SELECT 1 FROM smb_messages m WHERE "
                                     "m.run_id = ?2 AND m.conn = ?3 UNION ALL SELECT 1 FROM http_messages h WHERE "
                                     "h.run_id = ?2 AND h.conn = ?3)) ORDER BY t_ns, rowid"
                                   : "SELECT t_ns, t_done_ns, node = ?4, request, flags, status FROM tdi_requests "
                                     "WHERE run_id = ?2 AND conn = ?3 AND t_ns BETWEEN ?5 AND ?6 AND (request NOT IN "
                                     "('TDI_SEND', 'TDI_RECEIVE') OR NOT EXISTS (SELECT 1 FROM smb_messages m WHERE "
                                     "m.run_id = ?2 AND m.conn = ?3)) ORDER BY t_ns, rowid");
    if (st) {
        bind_window(s, st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            bool c = sqlite3_column_int(st, 2);
            double t0 = sqlite3_column_double(st, 0);
            const char *flags = (const char *)sqlite3_column_text(st, 4);
            char *label = g_strdup_printf("%s%s%s", sqlite3_column_text(st, 3), *flags ? " " : "", flags);
            int app = c ? tdi_client : sapp, tp = c ? ctp : stp;
            add_arrow(s->arrows, t0, t0, app, tp, S_TDI, label);
            g_free(label);
            if (sqlite3_column_type(st, 1) != SQLITE_NULL && sqlite3_column_double(st, 1) <= s->w1) {
                double t1 = sqlite3_column_double(st, 1);
                add_arrow(s->arrows, t1, t1, tp, app, S_DONE, (const char *)sqlite3_column_text(st, 5));
            }
        }
        sqlite3_finalize(st);
    }
    st = plot_prepare(p, "SELECT t_ns, node = ?4, command, CASE WHEN msg_id = -1 THEN 2 ELSE is_response END, status "
                         "FROM smb_messages WHERE run_id = ?2 AND conn = ?3 AND t_ns BETWEEN ?5 AND ?6 "
                         "ORDER BY t_ns, rowid");
    if (st) {
        bind_window(s, st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            double t = sqlite3_column_double(st, 0);
            bool c = sqlite3_column_int(st, 1);
            int kind = sqlite3_column_int(st, 3); /* 0 request, 1 response, 2 break notification */
            char *label = g_strdup_printf("SMB %s %s%s", sqlite3_column_text(st, 2),
                                          kind == 2 ? "notification" : kind ? "response " : "request",
                                          kind == 1 ? (const char *)sqlite3_column_text(st, 4) : "");
            add_arrow(s->arrows, t, t, c ? tdi_client : sapp, c ? ctp : stp, S_SMB, label);
            g_free(label);
        }
        sqlite3_finalize(st);
    }
    /* HTTP messages (the WebDAV redirector's), drawn as SMB's are. */
    st = http_view ? plot_prepare(p, "SELECT t_ns, node = ?4, method, is_response, status, range_start FROM "
                                     "http_messages WHERE run_id = ?2 AND conn = ?3 AND t_ns BETWEEN ?5 AND ?6 "
                                     "ORDER BY t_ns, rowid")
                   : NULL;
    if (st) {
        bind_window(s, st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            double t = sqlite3_column_double(st, 0);
            bool c = sqlite3_column_int(st, 1);
            bool resp = sqlite3_column_int(st, 3);
            char *label = resp ? g_strdup_printf("HTTP %s response %d", sqlite3_column_text(st, 2),
                                                 sqlite3_column_int(st, 4))
                               : g_strdup_printf("HTTP %s request%s", sqlite3_column_text(st, 2),
                                                 sqlite3_column_type(st, 5) != SQLITE_NULL ? " (Range)" : "");
            add_arrow(s->arrows, t, t, c ? tdi_client : sapp, c ? ctp : stp, S_HTTP, label);
            g_free(label);
        }
        sqlite3_finalize(st);
    }
    /* The calls upward (a trace before indications has none). */
    st = plot_prepare(p, "SELECT t_ns, node = ?4, routine, object FROM indications WHERE run_id = ?2 AND conn = ?3 "
                         "AND t_ns BETWEEN ?5 AND ?6 ORDER BY t_ns, rowid");
    if (st) {
        bind_window(s, st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            double t = sqlite3_column_double(st, 0);
            bool c = sqlite3_column_int(st, 1);
            const char *routine = (const char *)sqlite3_column_text(st, 2);
            char *label = g_strdup_printf("%s (%s)", routine, sqlite3_column_text(st, 3));
            if (strncmp(routine, "Rx", 2) == 0) {
                /* the receive indication that brought the break (the trace keeps the one row), then
                 * the mini-redirector's call into RDBSS */
                if (c && rdr) {
                    add_arrow(s->arrows, t, t, ctp, tdi_client, S_UP, "ClientEventReceive (break notification)");
                    add_arrow(s->arrows, t, t, tdi_client, 1, S_UP, label);
                }
            } else {
                add_arrow(s->arrows, t, t, c ? ctp : stp, c ? tdi_client : sapp, S_UP, label);
            }
            g_free(label);
        }
        sqlite3_finalize(st);
    }
    if (!rdr)
        return;
    st = plot_prepare(p, "SELECT t_ns, routine, pending FROM callbacks WHERE run_id = ?2 AND node = ?4 AND "
                         "t_ns BETWEEN ?5 AND ?6 ORDER BY t_ns, rowid");
    bind_window(s, st);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        double t = sqlite3_column_double(st, 0);
        char *label = g_strdup_printf("%s%s", sqlite3_column_text(st, 1), sqlite3_column_int(st, 2) ? " (pending)" : "");
        add_arrow(s->arrows, t, t, 1, 2, S_MRX, label);
        g_free(label);
    }
    sqlite3_finalize(st);
    /* the client's application operations, down into RDBSS and back */
    st = plot_prepare(p, "SELECT t_start_ns, t_done_ns, op, path, status FROM ops WHERE run_id = ?2 AND node = ?4 AND "
                         "(t_start_ns BETWEEN ?5 AND ?6 OR t_done_ns BETWEEN ?5 AND ?6) ORDER BY t_start_ns, rowid");
    bind_window(s, st);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        double t0 = sqlite3_column_double(st, 0);
        const char *path = (const char *)sqlite3_column_text(st, 3);
        const char *base = path ? strrchr(path, '\\') : NULL;
        if (t0 >= s->w0) {
            char *label = g_strdup_printf("%s %s", sqlite3_column_text(st, 2), base ? base + 1 : path ? path : "");
            add_arrow(s->arrows, t0, t0, 0, 1, S_APP, label);
            g_free(label);
        }
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
            double t1 = sqlite3_column_double(st, 1);
            if (t1 >= s->w0 && t1 <= s->w1) {
                char *label = g_strdup_printf("%s: %s", sqlite3_column_text(st, 2), sqlite3_column_text(st, 4));
                add_arrow(s->arrows, t1, t1, 1, 0, S_DONE, label);
                g_free(label);
            }
        }
    }
    sqlite3_finalize(st);
}

#define MAX_ARROWS 160

static void fmt_ms(GString *s, double ns) { g_string_append_printf(s, "%.3f", ns / 1e6); }

bool plot_sequence(Plot *p)
{
    const PlotOptions *o = p->opt;
    Seq s = { p, plot_first_run(p), o->conn, NULL, NULL, -INFINITY, INFINITY, NULL };
    char *what = NULL;
    bool brk_window = false;
    if (o->brk) {
        if (!break_window(&s, &what))
            return false;
        brk_window = isnan(o->from_ms);
    }
    if (!isnan(o->from_ms))
        s.w0 = o->from_ms * 1e6;
    if (!isnan(o->to_ms))
        s.w1 = o->to_ms * 1e6;
    if (s.w1 < s.w0) {
        p->err = g_strdup("--to is before --from");
        g_free(what);
        return false;
    }
    if (s.conn <= 0) {
        p->err = g_strdup("sequence needs --conn N (a connection id, as in packets.conn) or --break N");
        g_free(what);
        return false;
    }
    /* The two nodes: the sender of the connection's first packet opened
     * it; the other end is the first other node to send on it (through
     * routers, the first packet's dst is only its first hop), or, when
     * none did, where the opener's packets went last. */
    sqlite3_stmt *st = plot_prepare(p, "WITH o AS (SELECT src FROM packets WHERE run_id = ?2 AND conn = ?3 "
                                       "ORDER BY t_ns, rowid LIMIT 1) "
                                       "SELECT o.src, coalesce((SELECT p.src FROM packets p WHERE p.run_id = ?2 AND "
                                       "p.conn = ?3 AND coalesce(p.hop, 1) = 1 AND p.src != o.src ORDER BY p.t_ns, "
                                       "p.rowid LIMIT 1), (SELECT p.dst FROM packets p WHERE p.run_id = ?2 AND "
                                       "p.conn = ?3 ORDER BY coalesce(p.hop, 1) DESC, p.t_ns LIMIT 1)) FROM o");
    sqlite3_bind_int64(st, 2, s.run);
    sqlite3_bind_int64(st, 3, s.conn);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        p->err = g_strdup_printf("no packets of connection %lld in run %lld (was it traced at level all?)",
                                 (long long)s.conn, (long long)s.run);
        g_free(what);
        return false;
    }
    s.cli = g_strdup((const char *)sqlite3_column_text(st, 0));
    s.srv = g_strdup((const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    st = plot_prepare(p, "SELECT count(*) FROM callbacks WHERE run_id = ?2 AND node = ?3");
    sqlite3_bind_int64(st, 2, s.run);
    sqlite3_bind_text(st, 3, s.cli, -1, SQLITE_STATIC);
    bool rdr = st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    const char *lanes_rdr[] = { "application", "RDBSS", "mini-redirector", "transport", "transport", "server" };
    /* without RDBSS: an SMB client of its own (smbclient) or a raw TDI client */
    st = plot_prepare(p, "SELECT count(*) FROM smb_messages WHERE run_id = ?2 AND conn = ?3");
    sqlite3_bind_int64(st, 2, s.run);
    sqlite3_bind_int64(st, 3, s.conn);
    bool smb = st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    st = plot_prepare(p, "SELECT count(*) FROM http_messages WHERE run_id = ?2 AND conn = ?3");
    sqlite3_bind_int64(st, 2, s.run);
    sqlite3_bind_int64(st, 3, s.conn);
    bool http = st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    const char *lanes_smb[] = { "SMB client", "transport", "transport", "SMB server" };
    const char *lanes_http[] = { "HTTP client", "transport", "transport", "HTTP server" };
    const char *lanes_raw[] = { "TDI client", "transport", "transport", "TDI client" };
    const char **lanes = rdr ? lanes_rdr : smb ? lanes_smb : http ? lanes_http : lanes_raw;
    int nl = rdr ? 6 : 4, tdi_client = rdr ? 2 : 0, ctp = rdr ? 3 : 1, stp = ctp + 1, sapp = nl - 1;

    GPtrArray *pkts = load_packets(&s);
    if (brk_window)
        s.w0 = window_start_for_acks(pkts, s.w0, s.w1);
    s.arrows = g_ptr_array_new_with_free_func(arrow_free);
    gather(&s, pkts, rdr, tdi_client, ctp, stp, sapp);
    g_ptr_array_unref(pkts);
    bool ok = s.arrows->len > 0;
    if (!ok) {
        p->err = g_strdup_printf("nothing recorded for connection %lld in that window", (long long)s.conn);
        goto out;
    }
    g_ptr_array_sort(s.arrows, arrow_cmp);
    guint total = s.arrows->len, n = MIN(total, MAX_ARROWS);
    g_ptr_array_set_size(s.arrows, n);
    double t_lo = INFINITY, t_hi = -INFINITY;
    for (guint i = 0; i < n; i++) {
        Arrow *a = g_ptr_array_index(s.arrows, i);
        t_lo = MIN(t_lo, a->t0), t_hi = MAX(t_hi, MAX(a->t0, a->t1));
    }

    /* y of every arrow end: a row number, or simulated ms */
    double ymin, ymax, plot_h;
    GArray *pts = g_array_new(FALSE, FALSE, sizeof(SeqPoint));
    for (guint i = 0; i < n; i++) {
        Arrow *a = g_ptr_array_index(s.arrows, i);
        SeqPoint from = { a->t0, i, 0 }, to = { a->t1, i, 1 };
        g_array_append_val(pts, from);
        if (a->t1 != a->t0 && a->style != S_LOST)
            g_array_append_val(pts, to);
    }
    g_array_sort(pts, seq_point_cmp);
    guint rows = pts->len;
    if (!o->linear) {
        for (guint r = 0; r < rows; r++) {
            SeqPoint *q = &g_array_index(pts, SeqPoint, r);
            Arrow *a = g_ptr_array_index(s.arrows, q->arrow);
            if (q->end == 0)
                a->y0 = a->y1 = r;
            else
                a->y1 = r;
        }
        ymin = -1, ymax = rows - 0.5; /* half a row more at the top, for the first label */
        /* a chart of a few rows still has room for its axis label */
        plot_h = MAX((rows + 0.5) * ROW_PX, 300);
    } else {
        double span = MAX((t_hi - t_lo) / 1e6, 1e-3);
        ymin = t_lo / 1e6 - span * 0.02, ymax = t_hi / 1e6 + span * 0.02;
        for (guint i = 0; i < n; i++) {
            Arrow *a = g_ptr_array_index(s.arrows, i);
            a->y0 = a->t0 / 1e6, a->y1 = a->t1 / 1e6;
        }
        plot_h = CLAMP(rows * 24.0, 600, 4000);
    }
    for (guint i = 0; i < n; i++) {
        Arrow *a = g_ptr_array_index(s.arrows, i);
        if (a->style == S_LOST) /* a lost packet stops half way down to where it would have arrived */
            a->y1 = o->linear ? a->y0 + (ymax - ymin) * 0.01 : a->y0 + 0.4;
    }
    int H = T_PX + (int)plot_h + B_PX;
    p->width = W_PX, p->height = H;
    double xmin = -0.6, xmax = nl - 1 + 0.6;
#define PX(x) (L_PX + ((x) - xmin) / (xmax - xmin) * (W_PX - L_PX - R_PX))
#define PY(y) (T_PX + ((y) - ymin) / (ymax - ymin) * plot_h)

    char *title = g_strdup_printf("Connection %lld between %s and %s (run %lld)", (long long)s.conn, s.cli, s.srv,
                                  (long long)s.run);
    plot_head(p, title, "", o->linear ? "simulated time (ms), downwards, to scale"
                                       : "simulated time (ms), downwards; one row per event");
    g_string_append_printf(p->gp,
                           "unset title\nunset xlabel\nunset key\nunset xtics\nset lmargin at screen %.6f\n"
                           "set rmargin at screen %.6f\nset tmargin at screen %.6f\nset bmargin at screen %.6f\n"
                           "set xrange [%g:%g]\nset yrange [%.9g:%.9g]\nset grid x2tics noytics\n",
                           (double)L_PX / W_PX, 1.0 - (double)R_PX / W_PX, 1.0 - (double)T_PX / H,
                           (double)B_PX / H, xmin, xmax, ymax, ymin);
    /* the title, what the chart shows, the nodes over their lanes */
    GString *sub = g_string_new("");
    if (what)
        g_string_append_printf(sub, "%s; ", what);
    g_string_append(sub, "from ");
    fmt_ms(sub, t_lo);
    g_string_append(sub, " to ");
    fmt_ms(sub, t_hi);
    g_string_append(sub, o->linear ? " ms, time to scale" : " ms, events in order (not to scale: --time linear)");
    if (total > n)
        g_string_append_printf(sub, "; the first %u of %u arrows (choose a window: --from, --to)", n, total);
    /* the title as a label: gnuplot would place its own by the margins, not where the chart reserved room */
    g_string_append(p->gp, "set label ");
    gp_quoted(p->gp, title);
    g_string_append_printf(p->gp, " at screen 0.5, screen %.6f center font ',13'\n", 1.0 - 16.0 / H);
    g_free(title);
    for (int side = 0; side < 2; side++) {
        int a = side ? nl / 2 : 0, b = side ? nl - 1 : nl / 2 - 1;
        g_string_append(p->gp, "set label ");
        gp_quoted(p->gp, side ? s.srv : s.cli);
        g_string_append_printf(p->gp, " at screen %.6f, screen %.6f center font ',12'\n",
                               (PX(a) + PX(b)) / 2 / W_PX, 1.0 - 62.0 / H);
        g_string_append_printf(p->gp, "set arrow from screen %.6f, screen %.6f to screen %.6f, screen %.6f nohead "
                                      "lc rgb '#444444'\n",
                               (PX(a) - 40) / W_PX, 1.0 - 74.0 / H, (PX(b) + 40) / W_PX, 1.0 - 74.0 / H);
    }
    g_string_append(p->gp, "set x2tics (");
    for (int i = 0; i < nl; i++) {
        g_string_append_printf(p->gp, "%s", i ? ", " : "");
        gp_quoted(p->gp, lanes[i]);
        g_string_append_printf(p->gp, " %d", i);
    }
    g_string_append(p->gp, ")\nset x2range [-0.6:");
    g_string_append_printf(p->gp, "%g]\n", xmax);
    if (!o->linear) {
        /* a row is labelled with its time where the time changes */
        g_string_append(p->gp, "set ytics (");
        bool first_tic = true;
        for (guint r = 0; r < rows; r++) {
            double t = g_array_index(pts, SeqPoint, r).t;
            if (r > 0 && t == g_array_index(pts, SeqPoint, r - 1).t)
                continue;
            g_string_append_printf(p->gp, "%s'%.3f' %u", first_tic ? "" : ", ", t / 1e6, r);
            first_tic = false;
        }
        g_string_append(p->gp, ")\n");
    } else {
        g_string_append(p->gp, "set ytics\nset format y '%.3f'\nset grid ytics\n");
    }

    /* arrows, then labels where they fit */
    Layout lay = { g_array_new(FALSE, FALSE, sizeof(Box)), T_PX, T_PX + plot_h };
    const char *label_font = g_str_has_suffix(o->output, ".svg") ? ",8" : ",6";
    bool used[S_N] = { false };
    int left_out = 0;
    GString *lost = g_string_new("");
    for (guint i = 0; i < n; i++) {
        Arrow *a = g_ptr_array_index(s.arrows, i);
        double xf = a->from, xt = a->to;
        if (a->style == S_LOST) {
            xt = (xf + xt) / 2;
            g_string_append_printf(lost, "%g %.9g\n", xt, a->y1);
        }
        g_string_append_printf(p->gp, "set arrow from %g,%.9g to %g,%.9g lw 1.5 lc rgb '%s'%s%s\n", xf, a->y0, xt,
                               a->y1, colors[a->style], a->style == S_DONE ? " dt 2" : "",
                               a->style == S_LOST ? " nohead" : " size screen 0.008,20");
        used[a->style] = true;
        double w = plot_text_width(a->label, FONT_PX);
        Box c[16];
        int nc = o->linear ? candidates(PX(xf), PY(a->y0), PX(xt), PY(a->y1), w, c)
                           : (c[0] = label_box(PX(xf) + (xt > xf ? 5 : -5), xt > xf, PY(a->y0) - 7, w), 1);
        int k = 0;
        while (k < nc && !box_free(&lay, &c[k]))
            k++;
        if (k == nc) {
            left_out++;
            continue;
        }
        g_array_append_val(lay.placed, c[k]);
        g_string_append_printf(p->gp, "set label %u ", i + 1000);
        gp_quoted(p->gp, a->label);
        g_string_append_printf(p->gp, " at screen %.6f, screen %.6f left font '%s' tc rgb '%s' front\n",
                               c[k].x0 / W_PX, 1.0 - (c[k].y0 + c[k].y1) / 2 / H, label_font, colors[a->style]);
    }
    if (left_out) {
        g_string_append_printf(sub, "; %d labels left out where they would overlap others (row mode has room for all)",
                               left_out);
        plot_note(p, "%d labels left out where they would overlap others", left_out);
    }
    g_string_append(p->gp, "set label ");
    gp_quoted(p->gp, sub->str);
    g_string_append_printf(p->gp, " at screen 0.5, screen %.6f center font ',9'\n", 1.0 - 36.0 / H);
    g_string_free(sub, TRUE);
    /* The legend, as invisible series in each style, under the chart. */
    if (lost->len)
        g_string_append_printf(p->gp, "$lost << EOD\n%sEOD\n", lost->str);
    g_string_append_printf(p->gp, "set key at screen 0.5, screen %.6f center top horizontal maxcols 4 box\nplot ",
                           (B_PX - 12.0) / H);
    bool first = true;
    for (int k = 1; k < S_N; k++)
        if (used[k]) {
            g_string_append_printf(p->gp, "%sNaN with lines lw 2 lc rgb '%s'%s title '%s'", first ? "" : ", ",
                                   colors[k], k == S_DONE ? " dt 2" : "", style_names[k]);
            first = false;
        }
    if (lost->len)
        g_string_append_printf(p->gp, ", $lost using 1:2 with points pt 2 ps 1.5 lc rgb '%s' notitle", colors[S_LOST]);
    g_string_append_c(p->gp, '\n');
    g_string_free(lost, TRUE);
    g_array_unref(lay.placed);
    g_array_unref(pts);
#undef PX
#undef PY
out:
    g_ptr_array_unref(s.arrows);
    g_free(s.cli);
    g_free(s.srv);
    g_free(what);
    return ok;
}
