#include "pcap.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "net.h"
#include "ping.h"
#include "run.h"
#include "scenario.h"
#include "smb.h"
#include "smb2wire.h"
#include "http.h"
#include "tdi.h"
#include "trace.h"
#include "version.h"
#include "world.h"

/* ---- what the re-simulated run puts on its wires ---- */

/* A record of a stream: its offset, size, and the bytes it starts with
 * (an SMB2 message's; NULL for a TDI client's own record: zeros). */
typedef struct {
    uint64_t offset;
    uint32_t bytes, head;
    uint8_t *enc;
} Rec;

typedef struct {
    GArray *recs[2]; /* Rec, by side, in stream order */
} Stream;

/* A packet as it went on a wire. */
typedef struct {
    SimTime t;
    uint64_t order;  /* ties broken by the order they were sent */
    unsigned link;
    NetNode *from, *to;
    NetPacket pkt;
} Sent;

typedef struct {
    Net *net;
    Tdi *tdi;
    GHashTable *streams;  /* conn id -> Stream* */
    GArray *sent;         /* Sent */
    GHashTable *links;    /* NetLink* -> index + 1 */
    GHashTable *nodes;    /* NetNode* -> index + 1 */
    /* the SMB message whose record enters a stream next */
    uint64_t pend_tag;
    uint8_t *pend;
    uint32_t pend_head;
    uint64_t messages;
} Capture;

static void stream_free(gpointer p)
{
    Stream *s = p;
    for (int i = 0; i < 2; i++) {
        for (guint j = 0; j < s->recs[i]->len; j++)
            g_free(g_array_index(s->recs[i], Rec, j).enc);
        g_array_unref(s->recs[i]);
    }
    g_free(s);
}

static void on_smb(void *ctx, uint64_t tag, const SmbMsg *m, const char *server)
{
    Capture *c = ctx;
    g_free(c->pend);
    c->pend_head = smb2_wire_head(m, server);
    c->pend = g_malloc(c->pend_head);
    smb2_wire_encode(m, server, c->pend);
    c->pend_tag = tag;
    c->messages++;
}

/* An HTTP message's head (its body is the zeros after it). */
static void on_http(void *ctx, uint64_t tag, const char *head, uint32_t len)
{
    Capture *c = ctx;
    g_free(c->pend);
    c->pend_head = len;
    c->pend = g_memdup2(head, len);
    c->pend_tag = tag;
}

static void on_record(void *ctx, int64_t conn, int side, uint64_t offset, uint32_t bytes, uint64_t tag)
{
    Capture *c = ctx;
    Stream *s = g_hash_table_lookup(c->streams, GINT_TO_POINTER(conn));
    if (!s) {
        s = g_new0(Stream, 1);
        s->recs[0] = g_array_new(FALSE, FALSE, sizeof(Rec));
        s->recs[1] = g_array_new(FALSE, FALSE, sizeof(Rec));
        g_hash_table_insert(c->streams, GINT_TO_POINTER(conn), s);
    }
    Rec r = { offset, bytes, 0, NULL };
    if (c->pend && c->pend_tag == tag) {
        r.enc = c->pend;
        r.head = MIN(c->pend_head, bytes);
        c->pend = NULL;
    }
    g_array_append_val(s->recs[side & 1], r);
}

static void on_packet(void *ctx, const NetLink *link, const NetNode *from, const NetNode *to, SimTime t,
                      const NetPacket *pkt)
{
    Capture *c = ctx;
    Sent x = { t, c->sent->len, GPOINTER_TO_UINT(g_hash_table_lookup(c->links, link)) - 1, (NetNode *)from,
               (NetNode *)to, *pkt };
    g_array_append_val(c->sent, x);
}

static gint by_time(gconstpointer a, gconstpointer b)
{
    const Sent *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* ---- frames ---- */

static void be16(GByteArray *b, uint16_t v)
{
    uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    g_byte_array_append(b, x, 2);
}
static void be32(GByteArray *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    g_byte_array_append(b, x, 4);
}
static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* RFC 1071: the Internet checksum of [p, p+n), folded onto `sum`. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}
static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* A node's addresses: 10.0.0.1, 10.0.0.2, ... in the order of declaration,
 * and a locally administered MAC 02:00:00:00:hi:lo. */
static uint32_t ip_of(unsigned idx) { return 0x0A000000u + idx + 1; }
static void mac_of(GByteArray *b, unsigned idx)
{
    uint8_t m[6] = { 0x02, 0, 0, 0, (uint8_t)((idx + 1) >> 8), (uint8_t)(idx + 1) };
    g_byte_array_append(b, m, 6);
}

/* Each side's initial sequence number: any fixed value serves (RFC 9293
 * 3.4.1 asks for a clock; a capture of a simulation keeps it simple). */
static uint32_t isn(int64_t conn, int side)
{
    uint64_t x = (uint64_t)conn * 2 + (uint64_t)side + 0x9E3779B97F4A7C15ull;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

/* The connecting side's port (the other is the server's). */
static uint16_t client_port(int64_t conn) { return (uint16_t)(49152 + (conn - 1) % 16384); }

/* The window scale that lets a window fit 16 bits (RFC 7323 2.3). */
static uint8_t wscale(uint32_t window)
{
    uint8_t s = 0;
    while (s < 14 && (window >> s) > 65535)
        s++;
    return s;
}

/* The payload of [off, off + len) of a stream: its records' bytes, zeros
 * past what was encoded. */
static void payload(GByteArray *b, const Stream *s, int side, uint64_t off, uint32_t len)
{
    guint at = b->len;
    g_byte_array_set_size(b, at + len);
    memset(b->data + at, 0, len);
    if (!s)
        return;
    GArray *recs = s->recs[side];
    /* the first record ending after off (records are in stream order) */
    guint lo = 0, hi = recs->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        const Rec *r = &g_array_index(recs, Rec, mid);
        if (r->offset + r->bytes <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (guint i = lo; i < recs->len; i++) {
        const Rec *r = &g_array_index(recs, Rec, i);
        if (r->offset >= off + len)
            break;
        if (!r->enc)
            continue;
        uint64_t from = MAX(off, r->offset), to = MIN(off + len, r->offset + r->head);
        if (to > from)
            memcpy(b->data + at + (from - off), r->enc + (from - r->offset), to - from);
    }
}

/* Ethernet (IEEE 802.3), IPv4 (RFC 791) and the transport: TCP (RFC 9293)
 * for a TDI segment, ICMP echo (RFC 792) for a ping. */
static void frame(Capture *c, const Sent *x, GByteArray *b)
{
    unsigned src = GPOINTER_TO_UINT(g_hash_table_lookup(c->nodes, x->from)) - 1;
    unsigned dst = GPOINTER_TO_UINT(g_hash_table_lookup(c->nodes, x->to)) - 1;
    g_byte_array_set_size(b, 0);
    mac_of(b, dst);
    mac_of(b, src);
    be16(b, 0x0800);
    guint ip = b->len;
    uint8_t iph[20] = { 0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 0, 0, 0 };
    g_byte_array_append(b, iph, 20);
    guint l4 = b->len;
    const NetPacket *p = &x->pkt;
    uint8_t proto;
    if (p->proto == NET_PROTO_TDI) {
        proto = 6;
        uint32_t flags = (uint32_t)(p->hdr[0] & 0xff);
        int side = (int)(p->hdr[0] >> 8 & 1);
        uint16_t server_port = (uint16_t)(p->hdr[0] >> 16);
        uint64_t seq = p->hdr[1], ack = p->hdr[2];
        uint32_t len = (uint32_t)p->hdr[3];
        uint32_t window = tdi_node_window(c->tdi, x->from);
        uint8_t ws = wscale(window);
        bool syn = flags & TDI_SEG_SYN;
        be16(b, side ? server_port : client_port(p->conn));
        be16(b, side ? client_port(p->conn) : server_port);
        be32(b, isn(p->conn, side) + (syn ? 0 : 1) + (uint32_t)seq);
        be32(b, flags & TDI_SEG_ACK ? isn(p->conn, !side) + 1 + (uint32_t)ack : 0);
        uint8_t tf = (uint8_t)((syn ? 0x02 : 0) | (flags & TDI_SEG_ACK ? 0x10 : 0) | (flags & TDI_SEG_FIN ? 0x01 : 0) |
                               (flags & TDI_SEG_RST ? 0x04 : 0) | (len ? 0x08 : 0));
        /* A SYN carries MSS, window scale and, when its sender offers SACK
         * (a SYN-ACK: when both do), SACK-permitted; an ACK its SACK blocks
         * (RFC 2018 2, 3), on sequence numbers of the acknowledged side. */
        bool sack_ok = syn && tdi_node_sack(c->tdi, x->from) &&
                       (!(flags & TDI_SEG_ACK) || tdi_node_sack(c->tdi, x->to));
        int nsack = 0;
        while (!syn && nsack < 3 && p->sack[2 * nsack + 1] > p->sack[2 * nsack])
            nsack++;
        uint8_t hlen = syn ? (sack_ok ? 32 : 28) : nsack ? 24 + 8 * nsack : 20;
        uint8_t off_flags[2] = { (uint8_t)(hlen / 4 << 4), tf };
        g_byte_array_append(b, off_flags, 2);
        be16(b, (uint16_t)(syn ? MIN(window, 65535u) : MIN(window >> ws, 65535u))); /* a SYN's is never scaled */
        be16(b, 0); /* checksum, below */
        be16(b, 0);
        if (syn) {
            uint8_t opt[12] = { 2, 4, 0, 0, 1, 1, 4, 2, 1, 3, 3, ws };
            const LinkParams *lp = net_link_params(net_link_at(c->net, x->link));
            put_be16(opt + 2, (uint16_t)MIN(lp->mtu > 40 ? lp->mtu - 40 : 536, 65535));
            if (sack_ok)
                g_byte_array_append(b, opt, 12);
            else {
                g_byte_array_append(b, opt, 4);
                g_byte_array_append(b, opt + 8, 4);
            }
        } else if (nsack) {
            uint8_t opt[4] = { 1, 1, 5, (uint8_t)(2 + 8 * nsack) };
            g_byte_array_append(b, opt, 4);
            uint32_t base = isn(p->conn, !side) + 1 + (uint32_t)ack;
            for (int i = 0; i < 2 * nsack; i++)
                be32(b, base + p->sack[i]);
        }
        payload(b, g_hash_table_lookup(c->streams, GINT_TO_POINTER(p->conn)), side, seq, len);
    } else {
        proto = 1;
        guint at = b->len;
        uint8_t icmp[8] = { p->hdr[0] == PING_ECHO_REQUEST ? 8 : 0, 0, 0, 0 };
        put_be16(icmp + 4, (uint16_t)p->hdr[1]);
        put_be16(icmp + 6, (uint16_t)p->hdr[2]);
        g_byte_array_append(b, icmp, 8);
        uint32_t data = p->bytes > 28 ? p->bytes - 28 : 0; /* the ping's size covers IP and ICMP */
        g_byte_array_set_size(b, at + 8 + data);
        memset(b->data + at + 8, 0, data);
        put_be16(b->data + at + 2, csum_fold(csum_add(0, b->data + at, 8 + data)));
    }
    uint8_t *h = b->data + ip;
    put_be16(h + 2, (uint16_t)(b->len - ip));
    put_be16(h + 4, (uint16_t)x->order); /* Identification */
    h[9] = proto;
    uint32_t s = ip_of(src), d = ip_of(dst);
    for (int i = 0; i < 4; i++) {
        h[12 + i] = (uint8_t)(s >> (24 - 8 * i));
        h[16 + i] = (uint8_t)(d >> (24 - 8 * i));
    }
    put_be16(h + 10, csum_fold(csum_add(0, h, 20)));
    if (proto == 6) { /* the pseudo-header, then the segment */
        uint8_t pseudo[12];
        memcpy(pseudo, h + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = 6;
        put_be16(pseudo + 10, (uint16_t)(b->len - l4));
        uint32_t sum = csum_add(0, pseudo, 12);
        put_be16(b->data + l4 + 16, csum_fold(csum_add(sum, b->data + l4, b->len - l4)));
    }
}

/* ---- pcapng (draft-ietf-opsawg-pcapng) ---- */

static void le16(GByteArray *b, uint16_t v) { g_byte_array_append(b, (uint8_t *)&(uint16_t[]){ GUINT16_TO_LE(v) }, 2); }
static void le32(GByteArray *b, uint32_t v) { g_byte_array_append(b, (uint8_t *)&(uint32_t[]){ GUINT32_TO_LE(v) }, 4); }
static void pad4(GByteArray *b)
{
    static const uint8_t z[4] = { 0 };
    g_byte_array_append(b, z, (4 - b->len % 4) % 4);
}
static void option(GByteArray *b, uint16_t code, const void *v, uint16_t len)
{
    le16(b, code);
    le16(b, len);
    g_byte_array_append(b, v, len);
    pad4(b);
}
/* A block: type, total length, body, total length again. */
static bool block(FILE *f, uint32_t type, GByteArray *body)
{
    GByteArray *b = g_byte_array_new();
    le32(b, type);
    le32(b, (uint32_t)body->len + 12);
    g_byte_array_append(b, body->data, body->len);
    le32(b, (uint32_t)body->len + 12);
    bool ok = fwrite(b->data, 1, b->len, f) == b->len;
    g_byte_array_unref(b);
    return ok;
}

static bool write_header(FILE *f, Net *net, const char *scenario)
{
    GByteArray *b = g_byte_array_new();
    le32(b, 0x1A2B3C4D); /* byte-order magic */
    le16(b, 1);
    le16(b, 0);
    le32(b, 0xFFFFFFFF); /* section length: not given */
    le32(b, 0xFFFFFFFF);
    char *app = g_strdup_printf("rdrsim %s (simulated time from 0: scenario %s)", RDRSIM_VERSION, scenario);
    option(b, 4, app, (uint16_t)strlen(app)); /* shb_userappl */
    g_free(app);
    option(b, 0, NULL, 0);
    bool ok = block(f, 0x0A0D0D0A, b);
    for (unsigned i = 0; ok && i < net_link_count(net); i++) {
        NetLink *l = net_link_at(net, i);
        g_byte_array_set_size(b, 0);
        le16(b, 1); /* LINKTYPE_ETHERNET */
        le16(b, 0);
        le32(b, 0); /* SnapLen: no limit */
        char *name = g_strdup_printf("%s-%s", net_node_name(net_link_end(l, 0)), net_node_name(net_link_end(l, 1)));
        option(b, 2, name, (uint16_t)strlen(name)); /* if_name */
        g_free(name);
        uint8_t ns = 9;
        option(b, 9, &ns, 1); /* if_tsresol: nanoseconds */
        option(b, 0, NULL, 0);
        ok = block(f, 1, b);
    }
    g_byte_array_unref(b);
    return ok;
}

static bool write_packet(FILE *f, unsigned iface, SimTime t, const GByteArray *pkt, GByteArray *b)
{
    g_byte_array_set_size(b, 0);
    le32(b, iface);
    le32(b, (uint32_t)((uint64_t)t >> 32));
    le32(b, (uint32_t)t);
    le32(b, pkt->len);
    le32(b, pkt->len);
    g_byte_array_append(b, pkt->data, pkt->len);
    pad4(b);
    return block(f, 6, b);
}

/* ---- the run ---- */

typedef struct {
    int64_t run;
    char *path, *name, *text, *overrides, *level, *status, *message, *version;
    uint64_t seed, events;
    int64_t sim_end, packets, messages, parts;
} RunRow;

static void run_row_clear(RunRow *r)
{
    g_free(r->path);
    g_free(r->name);
    g_free(r->text);
    g_free(r->overrides);
    g_free(r->level);
    g_free(r->status);
    g_free(r->message);
    g_free(r->version);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return g_strdup(t ? (const char *)t : "");
}

static int64_t count(sqlite3 *db, const char *sql, int64_t run)
{
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

static bool read_run(sqlite3 *db, int64_t want, RunRow *r, char **err)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT run_id, scenario_path, scenario_name, scenario_text, seed, overrides, trace_level, "
                      "status, message, sim_end_ns, events, rdrsim_version FROM runs WHERE ?1 = 0 OR run_id = ?1 "
                      "ORDER BY run_id LIMIT 1";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        *err = g_strdup_printf("cannot read its runs: %s", sqlite3_errmsg(db));
        return false;
    }
    sqlite3_bind_int64(st, 1, want);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        r->run = sqlite3_column_int64(st, 0);
        r->path = col_text(st, 1);
        r->name = col_text(st, 2);
        r->text = col_text(st, 3);
        r->seed = (uint64_t)sqlite3_column_int64(st, 4);
        r->overrides = col_text(st, 5);
        r->level = col_text(st, 6);
        r->status = col_text(st, 7);
        r->message = col_text(st, 8);
        r->sim_end = sqlite3_column_int64(st, 9);
        r->events = (uint64_t)sqlite3_column_int64(st, 10);
        r->version = col_text(st, 11);
    } else {
        *err = want ? g_strdup_printf("no run %lld in it", (long long)want) : g_strdup("it holds no run");
    }
    sqlite3_finalize(st);
    if (!found)
        return false;
    r->packets = count(db, "SELECT count(*) FROM packet WHERE run_id = ?1", r->run);
    r->messages = count(db, "SELECT count(*) FROM smb_message WHERE run_id = ?1", r->run);
    r->parts = count(db, "SELECT coalesce(max(value), 1) FROM metrics WHERE run_id = ?1 AND name = 'sim.parts'", r->run);
    return true;
}

static Scenario *scenario_of(const RunRow *r, char **err)
{
    Scenario *sc = scenario_parse(r->path, r->text, world_schema());
    if (sc->errors->len) {
        *err = g_strdup("its scenario text no longer parses (a trace of another build)");
        scenario_free(sc);
        return NULL;
    }
    char **sets = g_strsplit(r->overrides, " ", -1);
    for (char **o = sets; *o && sc; o++) {
        char *e = NULL;
        if (**o && !scenario_override(sc, *o, &e)) {
            *err = g_strdup_printf("its override %s no longer applies: %s", *o, e ? e : "");
            g_free(e);
            scenario_free(sc);
            sc = NULL;
        }
    }
    g_strfreev(sets);
    if (sc) {
        world_check(sc);
        if (sc->errors->len) {
            *err = g_strdup("its scenario no longer checks (a trace of another build)");
            scenario_free(sc);
            return NULL;
        }
        scenario_draw_members(sc, r->seed);
    }
    return sc;
}

/* The run made again: kept until the capture is written (the frames read
 * the network's links and the transport's windows). */
typedef struct {
    char *tmp;
    Trace *tr;
    Sim *sim;
    World *world;
} Resim;

static void resim_free(Resim *x)
{
    if (x->world)
        world_free(x->world);
    if (x->sim)
        sim_free(x->sim);
    if (x->tr)
        trace_close(x->tr);
    if (x->tmp)
        g_unlink(x->tmp);
    g_free(x->tmp);
}

/* Run it again, as it ran (to its recorded end), with the capture on. */
static bool resimulate(const RunRow *r, Scenario *sc, Capture *c, Resim *x, uint64_t *events, char **err)
{
    int fd = g_file_open_tmp("rdrsim-pcap-XXXXXX.db", &x->tmp, NULL);
    if (fd < 0) {
        *err = g_strdup("cannot make a temporary file");
        return false;
    }
    close(fd);
    g_unlink(x->tmp);
    x->tr = trace_open(x->tmp, err);
    TraceRunInfo info = { r->path, r->name, r->text, r->overrides, r->seed, TRACE_NONE };
    if (!x->tr || !trace_begin_run(x->tr, &info, err))
        return false;
    x->sim = sim_new();
    x->world = world_new(sc, x->sim, x->tr, r->seed);
    c->net = world_net(x->world);
    c->tdi = world_tdi(x->world);
    for (unsigned i = 0; i < net_link_count(c->net); i++)
        g_hash_table_insert(c->links, net_link_at(c->net, i), GUINT_TO_POINTER(i + 1));
    for (unsigned i = 0; i < net_node_count(c->net); i++)
        g_hash_table_insert(c->nodes, net_node_at(c->net, i), GUINT_TO_POINTER(i + 1));
    net_set_capture(c->net, on_packet, c);
    tdi_set_capture(c->tdi, on_record, c);
    if (world_smb_wire(x->world))
        smb_wire_set_capture(world_smb_wire(x->world), on_smb, c);
    if (world_http_wire(x->world))
        http_wire_set_capture(world_http_wire(x->world), on_http, c);
    uint64_t cap = strstr(r->message, "--max-events=") ? r->events : 0;
    for (;;) {
        uint64_t chunk = cap ? cap - sim_events_run(x->sim) : 1u << 20;
        SimDone done = chunk ? sim_run(x->sim, r->sim_end, chunk, NULL) : SIM_DONE_MAX_EVENTS;
        if (done != SIM_DONE_MAX_EVENTS || sim_failure(x->sim) || (cap && sim_events_run(x->sim) >= cap))
            break;
    }
    *events = sim_events_run(x->sim);
    return true;
}

int pcap_main(const PcapOptions *opt)
{
    char *err = NULL;
    Trace *db = trace_open_readonly(opt->db, &err);
    if (!db) {
        fprintf(stderr, "rdrsim pcap: %s\n", err);
        g_free(err);
        return EXIT_BAD_INPUT;
    }
    RunRow r = { 0 };
    Resim x = { 0 };
    int status = EXIT_BAD_INPUT;
    Scenario *sc = NULL;
    Capture c = { 0 };
    if (!read_run(trace_db(db), opt->run, &r, &err)) {
        fprintf(stderr, "rdrsim pcap: %s: %s\n", opt->db, err);
        goto out;
    }
    if (strcmp(r.level, "all") != 0) {
        fprintf(stderr, "rdrsim pcap: %s: run %lld was traced at level %s; a capture needs --trace all (its packet "
                        "rows are what the capture is checked against): run it again with --trace all\n",
                opt->db, (long long)r.run, r.level);
        goto out;
    }
    if (!(sc = scenario_of(&r, &err))) {
        fprintf(stderr, "rdrsim pcap: %s: run %lld: %s\n", opt->db, (long long)r.run, err);
        goto out;
    }
    c.streams = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, stream_free);
    c.sent = g_array_new(FALSE, FALSE, sizeof(Sent));
    c.links = g_hash_table_new(g_direct_hash, g_direct_equal);
    c.nodes = g_hash_table_new(g_direct_hash, g_direct_equal);
    uint64_t events = 0;
    if (!resimulate(&r, sc, &c, &x, &events, &err)) {
        fprintf(stderr, "rdrsim pcap: %s: %s\n", opt->db, err);
        status = EXIT_INTERNAL;
        goto out;
    }
    /* The same run, or none: the same number of events (a run in one
     * part), and of SMB messages. */
    if ((r.parts <= 1 && events != r.events) || (int64_t)c.messages != r.messages) {
        fprintf(stderr, "rdrsim pcap: %s: run %lld does not come out the same here (%llu events and %llu SMB messages "
                        "against the trace's %llu and %lld): the trace was written by rdrsim %s, this is %s\n",
                opt->db, (long long)r.run, (unsigned long long)events, (unsigned long long)c.messages,
                (unsigned long long)r.events, (long long)r.messages, r.version, RDRSIM_VERSION);
        status = EXIT_INTERNAL;
        goto out;
    }
    NetNode *only = NULL;
    if (opt->node && !(only = net_find_node(c.net, opt->node))) {
        fprintf(stderr, "rdrsim pcap: --node %s: no such node in run %lld\n", opt->node, (long long)r.run);
        goto out;
    }
    g_array_sort(c.sent, by_time);
    FILE *f = fopen(opt->out, "wb");
    if (!f) {
        fprintf(stderr, "rdrsim pcap: %s: %s\n", opt->out, g_strerror(errno));
        goto out;
    }
    bool ok = write_header(f, c.net, r.name);
    GByteArray *pkt = g_byte_array_new(), *blk = g_byte_array_new();
    uint64_t written = 0;
    for (guint i = 0; ok && i < c.sent->len; i++) {
        const Sent *x = &g_array_index(c.sent, Sent, i);
        if ((only && x->from != only && x->to != only) || (opt->conn && x->pkt.conn != opt->conn))
            continue;
        frame(&c, x, pkt);
        ok = write_packet(f, x->link, x->t, pkt, blk);
        written++;
    }
    g_byte_array_unref(pkt);
    g_byte_array_unref(blk);
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "rdrsim pcap: %s: could not write it\n", opt->out);
        g_unlink(opt->out);
        goto out;
    }
    printf("%s: %llu packets of run %lld (%s, seed %llu) on %u links\n", opt->out, (unsigned long long)written,
           (long long)r.run, r.name, (unsigned long long)r.seed, net_link_count(c.net));
    status = 0;
out:
    if (c.streams)
        g_hash_table_unref(c.streams);
    if (c.sent)
        g_array_unref(c.sent);
    if (c.links)
        g_hash_table_unref(c.links);
    if (c.nodes)
        g_hash_table_unref(c.nodes);
    g_free(c.pend);
    resim_free(&x);
    if (sc)
        scenario_free(sc);
    run_row_clear(&r);
    g_free(err);
    trace_close(db);
    return status;
}
