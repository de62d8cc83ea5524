#include "trace.h"

#include <glib.h>
#include <string.h>
#include <time.h>

#include "latency.h"
#include "ntstatus.h"
#include "version.h"

/* Rows per transaction: large enough that commits cost nothing per row. */
#define BATCH_ROWS 100000

/* During a run, the event rows are written by a thread of their own: the
 * model fills blocks of rows and queues them, the writer takes them in
 * queue order, each block table by table, so every table gets exactly the
 * rows, in exactly the order, a direct write would give.  Everything else that touches the DB
 * (names aside, which get their ids here) first waits for the queue to
 * drain, so the connection is only ever used by one thread at a time. */
#define BLOCK_ROWS 4096
/* The writer inserts a block's rows table by table, this many to a
 * statement: SQLite's cost per statement (step, reset, the VDBE's set-up)
 * is then paid once for 64 rows.  A row per statement ran at the raw
 * yardstick's rate, about 1.15M rows/s here; 64 at 2.2M. */
#define MULTI_ROWS 64
#define MAX_BLOCKS 32  /* queued at most: about 12 MB; the model waits past that */
#define MAX_COLS 15

typedef struct {
    int st;            /* statement; ST_NAME_WITH_ID: a name, v[0] its id */
    int n;             /* values after run_id */
    uint32_t times;    /* columns whose negative values are NULL */
    int64_t v[MAX_COLS];
    const char *text;  /* the name (the names table's key: lives as long as the Trace) */
} Row;

typedef struct {
    guint len;
    Row rows[BLOCK_ROWS];
} Block;

typedef struct {
    GThread *thread;
    GAsyncQueue *full, *empty; /* Block*: to write, written */
    Block *cur;                /* being filled by the model */
    int blocks;                /* made so far */
    GMutex lock;
    GCond written;
    uint64_t submitted, done;  /* blocks */
    uint16_t order[BLOCK_ROWS]; /* the writer's: a block's rows sorted by table */
} Writer;

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS runs(\n"
    "  run_id INTEGER PRIMARY KEY, scenario_path TEXT, scenario_name TEXT, scenario_text TEXT,\n"
    "  seed INTEGER, overrides TEXT, trace_level TEXT, rdrsim_version TEXT,\n"
    "  started_at TEXT, finished_at TEXT, sim_end_ns INTEGER, events INTEGER,\n"
    "  status TEXT NOT NULL CHECK(status IN ('incomplete','complete','failed')), message TEXT);\n"
    "CREATE TABLE IF NOT EXISTS names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n"
    "CREATE TABLE IF NOT EXISTS ntstatus(code INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS params(run_id INTEGER NOT NULL, name TEXT NOT NULL, value TEXT);\n"
    "CREATE TABLE IF NOT EXISTS metric(run_id INTEGER NOT NULL, name INTEGER NOT NULL, value REAL);\n"
    "CREATE TABLE IF NOT EXISTS expectations(run_id INTEGER NOT NULL, line INTEGER, query TEXT, op TEXT,\n"
    "  expected TEXT, actual TEXT, passed INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS packet(run_id INTEGER NOT NULL, t_ns INTEGER, t_arrive_ns INTEGER,\n"
    "  link INTEGER, src INTEGER, dst INTEGER, conn INTEGER, bytes INTEGER, kind INTEGER, fate INTEGER,\n"
    "  hop INTEGER, wait_ns INTEGER, seq INTEGER, ack INTEGER, flags INTEGER, msg_id INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS tdi_request(run_id INTEGER NOT NULL, node INTEGER, endpoint INTEGER,\n"
    "  conn INTEGER, request INTEGER, flags INTEGER, t_ns INTEGER, t_done_ns INTEGER, status INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS tdi_state(run_id INTEGER NOT NULL, t_ns INTEGER, node INTEGER,\n"
    "  endpoint INTEGER, conn INTEGER, state INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS disconnect(run_id INTEGER NOT NULL, conn INTEGER, initiator INTEGER,\n"
    "  endpoint INTEGER, mode INTEGER, t_start_ns INTEGER, t_done_ns INTEGER, step_reached INTEGER,\n"
    "  outcome INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS disc_data(run_id INTEGER NOT NULL, conn INTEGER, endpoint INTEGER,\n"
    "  sent INTEGER, received INTEGER, returned INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS op(run_id INTEGER NOT NULL, node INTEGER, op INTEGER, handle INTEGER,\n"
    "  path INTEGER, t_start_ns INTEGER, t_done_ns INTEGER, status INTEGER, bytes INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS oplock_break(run_id INTEGER NOT NULL, server INTEGER, file INTEGER,\n"
    "  holder_node INTEGER, holder_open INTEGER, from_level INTEGER, to_level INTEGER, trigger INTEGER,\n"
    "  t_sent_ns INTEGER, t_acked_ns INTEGER, outcome INTEGER, offered_level INTEGER, acked_level INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS smb_message(run_id INTEGER NOT NULL, t_ns INTEGER, node INTEGER, peer INTEGER,\n"
    "  conn INTEGER, msg_id INTEGER, command INTEGER, is_response INTEGER, is_async INTEGER, status INTEGER,\n"
    "  bytes INTEGER, async_id INTEGER, file INTEGER, oplock INTEGER, lease_state INTEGER,\n"
    "  epoch INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS smb_create(run_id INTEGER NOT NULL, t_ns INTEGER, node INTEGER, conn INTEGER,\n"
    "  msg_id INTEGER, is_response INTEGER, path INTEGER, access INTEGER, share_access INTEGER,\n"
    "  disposition INTEGER, create_action INTEGER, lease_key INTEGER, lease_flags INTEGER,\n"
    "  parent_lease_key INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS http_message(run_id INTEGER NOT NULL, t_ns INTEGER, node INTEGER, peer INTEGER,\n"
    "  conn INTEGER, request INTEGER, method INTEGER, path INTEGER, is_response INTEGER, status INTEGER,\n"
    "  bytes INTEGER, body INTEGER, range_start INTEGER, range_end INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS callback(run_id INTEGER NOT NULL, node INTEGER, redirector INTEGER,\n"
    "  routine INTEGER, object INTEGER, t_ns INTEGER, t_done_ns INTEGER, pending INTEGER, status INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS indication(run_id INTEGER NOT NULL, t_ns INTEGER, node INTEGER, conn INTEGER,\n"
    "  routine INTEGER, object INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS read_(run_id INTEGER NOT NULL, t_ns INTEGER, node INTEGER, handle INTEGER,\n"
    "  path INTEGER, offset INTEGER, bytes INTEGER, version INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS grant_(run_id INTEGER NOT NULL, t_ns INTEGER, node INTEGER, handle INTEGER,\n"
    "  path INTEGER, level INTEGER, break_in_progress INTEGER);\n"
    "CREATE VIEW IF NOT EXISTS metrics AS\n"
    "  SELECT m.run_id, n.name, m.value FROM metric m JOIN names n ON n.id = m.name;\n"
    "CREATE VIEW IF NOT EXISTS packets AS\n"
    "  SELECT p.run_id, p.t_ns, p.t_arrive_ns, l.name AS link, s.name AS src, d.name AS dst, p.conn,\n"
    "         p.bytes, k.name AS kind, f.name AS fate, p.hop, p.t_ns + p.wait_ns AS t_wire_ns, p.seq, p.ack,\n"
    "         CASE WHEN p.flags IS NULL THEN NULL ELSE substr(\n"
    "           CASE WHEN p.flags & 2 THEN '|SYN' ELSE '' END || CASE WHEN p.flags & 1 THEN '|FIN' ELSE '' END ||\n"
    "           CASE WHEN p.flags & 4 THEN '|RST' ELSE '' END || CASE WHEN p.flags & 16 THEN '|ACK' ELSE '' END, 2)\n"
    "         END AS flags, (p.flags >> 8) & 1 AS retransmit, p.msg_id\n"
    "  FROM packet p JOIN names l ON l.id = p.link JOIN names s ON s.id = p.src\n"
    "       JOIN names d ON d.id = p.dst JOIN names k ON k.id = p.kind JOIN names f ON f.id = p.fate;\n"
    "CREATE VIEW IF NOT EXISTS tdi_requests AS\n"
    "  SELECT r.run_id, n.name AS node, e.name AS endpoint, r.conn, q.name AS request, f.name AS flags,\n"
    "         r.t_ns, r.t_done_ns, s.name AS status\n"
    "  FROM tdi_request r JOIN names n ON n.id = r.node JOIN names e ON e.id = r.endpoint\n"
    "       JOIN names q ON q.id = r.request JOIN names f ON f.id = r.flags\n"
    "       LEFT JOIN ntstatus s ON s.code = r.status;\n"
    "CREATE VIEW IF NOT EXISTS endpoint_states AS\n"
    "  SELECT t.run_id, t.rowid AS seq, t.t_ns, n.name AS node, e.name AS endpoint, t.conn, s.name AS state\n"
    "  FROM tdi_state t JOIN names n ON n.id = t.node JOIN names e ON e.id = t.endpoint\n"
    "       JOIN names s ON s.id = t.state;\n"
    "CREATE VIEW IF NOT EXISTS disconnects AS\n"
    "  SELECT d.run_id, d.conn, n.name AS initiator, e.name AS endpoint, m.name AS mode, d.t_start_ns,\n"
    "         d.t_done_ns, d.step_reached, s.name AS outcome\n"
    "  FROM disconnect d JOIN names n ON n.id = d.initiator JOIN names e ON e.id = d.endpoint\n"
    "       JOIN names m ON m.id = d.mode LEFT JOIN ntstatus s ON s.code = d.outcome;\n"
    "CREATE VIEW IF NOT EXISTS disconnect_data AS\n"
    "  SELECT x.run_id, x.conn, e.name AS endpoint, x.sent, x.received, x.returned\n"
    "  FROM disc_data x JOIN names e ON e.id = x.endpoint;\n"
    "CREATE VIEW IF NOT EXISTS reads AS\n"
    "  SELECT r.run_id, r.t_ns, n.name AS node, r.handle, p.name AS path, r.offset, r.bytes, r.version\n"
    "  FROM read_ r JOIN names n ON n.id = r.node JOIN names p ON p.id = r.path;\n"
    "CREATE VIEW IF NOT EXISTS oplock_grants AS\n"
    "  SELECT g.run_id, g.t_ns, n.name AS node, g.handle, p.name AS path, l.name AS level, g.break_in_progress\n"
    "  FROM grant_ g JOIN names n ON n.id = g.node JOIN names p ON p.id = g.path JOIN names l ON l.id = g.level;\n"
    "CREATE VIEW IF NOT EXISTS ops AS\n"
    "  SELECT o.run_id, n.name AS node, k.name AS op, o.handle, p.name AS path, o.t_start_ns, o.t_done_ns,\n"
    "         s.name AS status, o.bytes\n"
    "  FROM op o JOIN names n ON n.id = o.node JOIN names k ON k.id = o.op JOIN names p ON p.id = o.path\n"
    "       LEFT JOIN ntstatus s ON s.code = o.status;\n"
    "CREATE VIEW IF NOT EXISTS oplock_breaks AS\n"
    "  SELECT b.run_id, sv.name AS server, f.name AS file, h.name AS holder_node, b.holder_open,\n"
    "         fl.name AS from_level, tl.name AS to_level, tr.name AS trigger, b.t_sent_ns, b.t_acked_ns,\n"
    "         oc.name AS outcome, ol.name AS offered_level, al.name AS acked_level\n"
    "  FROM oplock_break b JOIN names sv ON sv.id = b.server JOIN names f ON f.id = b.file\n"
    "       JOIN names h ON h.id = b.holder_node JOIN names fl ON fl.id = b.from_level\n"
    "       JOIN names tl ON tl.id = b.to_level JOIN names tr ON tr.id = b.trigger\n"
    "       JOIN names oc ON oc.id = b.outcome LEFT JOIN names ol ON ol.id = b.offered_level\n"
    "       LEFT JOIN names al ON al.id = b.acked_level;\n"
    "CREATE VIEW IF NOT EXISTS smb_messages AS\n"
    "  SELECT m.run_id, m.t_ns, n.name AS node, p.name AS peer, m.conn, m.msg_id, c.name AS command,\n"
    "         m.is_response, m.is_async, s.name AS status, m.bytes, m.async_id,\n"
    "         m.is_response | m.is_async << 1 AS flags, m.file,\n"
    "         CASE m.oplock WHEN 0 THEN 'NONE' WHEN 1 THEN 'LEVEL_II' WHEN 8 THEN 'EXCLUSIVE'\n"
    "           WHEN 9 THEN 'BATCH' WHEN 255 THEN 'LEASE' END AS oplock,\n"
    "         CASE WHEN m.lease_state IS NULL THEN NULL WHEN m.lease_state = 0 THEN 'NONE' ELSE\n"
    "           (CASE WHEN m.lease_state & 1 THEN 'R' ELSE '' END || CASE WHEN m.lease_state & 4 THEN 'W' ELSE ''\n"
    "            END || CASE WHEN m.lease_state & 2 THEN 'H' ELSE '' END) END AS lease_state, m.epoch\n"
    "  FROM smb_message m JOIN names n ON n.id = m.node JOIN names p ON p.id = m.peer\n"
    "       JOIN names c ON c.id = m.command LEFT JOIN ntstatus s ON s.code = m.status;\n"
    "CREATE VIEW IF NOT EXISTS smb_creates AS\n"
    "  SELECT x.run_id, x.t_ns, n.name AS node, x.conn, x.msg_id, x.is_response, p.name AS path,\n"
    "         CASE WHEN x.access IS NOT NULL THEN printf('0x%08x', x.access) END AS access, x.share_access,\n"
    "         CASE x.disposition WHEN 0 THEN 'SUPERSEDE' WHEN 1 THEN 'OPEN' WHEN 2 THEN 'CREATE'\n"
    "           WHEN 3 THEN 'OPEN_IF' WHEN 4 THEN 'OVERWRITE' WHEN 5 THEN 'OVERWRITE_IF' END AS disposition,\n"
    "         CASE x.create_action WHEN 0 THEN 'SUPERSEDED' WHEN 1 THEN 'OPENED' WHEN 2 THEN 'CREATED'\n"
    "           WHEN 3 THEN 'OVERWRITTEN' END AS create_action, x.lease_key, x.lease_flags, x.parent_lease_key\n"
    "  FROM smb_create x JOIN names n ON n.id = x.node LEFT JOIN names p ON p.id = x.path;\n"
    "CREATE VIEW IF NOT EXISTS http_messages AS\n"
    "  SELECT h.run_id, h.t_ns, n.name AS node, p.name AS peer, h.conn, h.request, m.name AS method,\n"
    "         u.name AS path, h.is_response, h.status, h.bytes, h.body, h.range_start, h.range_end\n"
    "  FROM http_message h JOIN names n ON n.id = h.node JOIN names p ON p.id = h.peer\n"
    "       JOIN names m ON m.id = h.method JOIN names u ON u.id = h.path;\n"
    "CREATE VIEW IF NOT EXISTS indications AS\n"
    "  SELECT i.run_id, i.t_ns, n.name AS node, i.conn, r.name AS routine, o.name AS object\n"
    "  FROM indication i JOIN names n ON n.id = i.node JOIN names r ON r.id = i.routine\n"
    "       JOIN names o ON o.id = i.object;\n"
    "CREATE VIEW IF NOT EXISTS callbacks AS\n"
    "  SELECT c.run_id, n.name AS node, r.name AS redirector, t.name AS routine, o.name AS object, c.t_ns,\n"
    "         c.t_done_ns, c.pending, s.name AS status\n"
    "  FROM callback c JOIN names n ON n.id = c.node JOIN names r ON r.id = c.redirector\n"
    "       JOIN names t ON t.id = c.routine JOIN names o ON o.id = c.object\n"
    "       LEFT JOIN ntstatus s ON s.code = c.status;\n";

/* Columns of the base tables that hold name ids: merging one trace into
 * another maps them through the names of both. */
const TraceTableInfo trace_tables[] = {
    { "params", { NULL } },
    { "metric", { "name", NULL } },
    { "expectations", { NULL } },
    { "packet", { "link", "src", "dst", "kind", "fate", NULL } },
    { "tdi_request", { "node", "endpoint", "request", "flags", NULL } },
    { "tdi_state", { "node", "endpoint", "state", NULL } },
    { "disconnect", { "initiator", "endpoint", "mode", NULL } },
    { "disc_data", { "endpoint", NULL } },
    { "op", { "node", "op", "path", NULL } },
    { "oplock_break", { "server", "file", "holder_node", "from_level", "to_level", "trigger", "outcome",
                        "offered_level", "acked_level", NULL } },
    { "smb_message", { "node", "peer", "command", NULL } },
    { "smb_create", { "node", "path", NULL } },
    { "http_message", { "node", "peer", "method", "path", NULL } },
    { "callback", { "node", "redirector", "routine", "object", NULL } },
    { "indication", { "node", "routine", "object", NULL } },
    { "grant_", { "node", "path", "level", NULL } },
    { "read_", { "node", "path", NULL } },
    { NULL, { NULL } },
};

/* A DB gets these once it holds more than one run: made when a run starts
 * in a DB that has runs already (or a merge leaves it with several), then
 * kept as rows arrive (rows come nearly in time order, so each grows at
 * its right edge).  A DB of one run has none: every row has its run_id, so
 * the index would select everything, and keeping it was 60% of the writer's
 * work, which made a traced run twice as long.  Where runs share a DB (a
 * sweep, a scenario run again), each run's queries, its expectations
 * included, no longer scan the others. */
static const char index_sql[] =
    "CREATE INDEX IF NOT EXISTS packet_run_t ON packet(run_id, t_ns);\n"
    "CREATE INDEX IF NOT EXISTS metric_run ON metric(run_id, name);\n"
    "CREATE INDEX IF NOT EXISTS params_run ON params(run_id);\n"
    "CREATE INDEX IF NOT EXISTS tdi_request_run_t ON tdi_request(run_id, t_ns);\n"
    "CREATE INDEX IF NOT EXISTS tdi_state_run_t ON tdi_state(run_id, t_ns);\n"
    "CREATE INDEX IF NOT EXISTS disconnect_run ON disconnect(run_id, conn);\n"
    "CREATE INDEX IF NOT EXISTS op_run_t ON op(run_id, t_start_ns);\n"
    "CREATE INDEX IF NOT EXISTS oplock_break_run ON oplock_break(run_id, t_sent_ns);\n"
    "CREATE INDEX IF NOT EXISTS smb_message_run_t ON smb_message(run_id, t_ns);\n"
    "CREATE INDEX IF NOT EXISTS http_message_run_t ON http_message(run_id, t_ns);\n"
    "CREATE INDEX IF NOT EXISTS callback_run_t ON callback(run_id, t_ns);\n";

enum {
    ST_NAME_INSERT, ST_NAME_SELECT, ST_NAME_WITH_ID, ST_PARAM, ST_METRIC, ST_EXPECT, ST_PACKET,
    ST_TDI_REQUEST, ST_TDI_STATE, ST_DISCONNECT, ST_DISC_DATA, ST_OP, ST_OPLOCK_BREAK, ST_SMB_MESSAGE, ST_SMB_CREATE, ST_HTTP_MESSAGE, ST_CALLBACK, ST_INDICATION, ST_GRANT, ST_READ, ST_COUNT
};

static const char *stmt_sql[ST_COUNT] = {
    [ST_NAME_INSERT] = "INSERT OR IGNORE INTO main.names(name) VALUES (?)",
    [ST_NAME_SELECT] = "SELECT id FROM main.names WHERE name = ?",
    [ST_NAME_WITH_ID] = "INSERT INTO main.names(id, name) VALUES (?,?)",
    [ST_PARAM] = "INSERT INTO main.params VALUES (?,?,?)",
    [ST_METRIC] = "INSERT INTO main.metric VALUES (?,?,?)",
    [ST_EXPECT] = "INSERT INTO main.expectations VALUES (?,?,?,?,?,?,?)",
    [ST_PACKET] = "INSERT INTO main.packet VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_TDI_REQUEST] = "INSERT INTO main.tdi_request VALUES (?,?,?,?,?,?,?,?,?)",
    [ST_TDI_STATE] = "INSERT INTO main.tdi_state VALUES (?,?,?,?,?,?)",
    [ST_DISCONNECT] = "INSERT INTO main.disconnect VALUES (?,?,?,?,?,?,?,?,?)",
    [ST_DISC_DATA] = "INSERT INTO main.disc_data VALUES (?,?,?,?,?,?)",
    [ST_OP] = "INSERT INTO main.op VALUES (?,?,?,?,?,?,?,?,?)",
    [ST_OPLOCK_BREAK] = "INSERT INTO main.oplock_break VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_SMB_MESSAGE] = "INSERT INTO main.smb_message VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_SMB_CREATE] = "INSERT INTO main.smb_create VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_HTTP_MESSAGE] = "INSERT INTO main.http_message VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_CALLBACK] = "INSERT INTO main.callback VALUES (?,?,?,?,?,?,?,?,?)",
    [ST_INDICATION] = "INSERT INTO main.indication VALUES (?,?,?,?,?,?)",
    [ST_GRANT] = "INSERT INTO main.grant_ VALUES (?,?,?,?,?,?,?)",
    [ST_READ] = "INSERT INTO main.read_ VALUES (?,?,?,?,?,?,?,?)",
};

struct Trace {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *multi[ST_COUNT]; /* MULTI_ROWS rows a statement: event rows only */
    GHashTable *names; /* char* -> id */
    int64_t run_id;
    TraceLevel level;
    bool in_txn;
    uint64_t batch_rows;
    char *error;       /* first write error; later writes are skipped */
    gint failed;       /* error is set: read by the model while the writer runs */
    GPtrArray *scoped; /* names of TEMP views made by trace_scope_to_run */
    Writer *w;         /* during a run that writes event rows */
    int64_t next_name; /* during a run: the id the next new name gets */
    Latencies *lat;    /* the run's completion times (latency.h), at every level */
};

const char *trace_schema_sql(void) { return schema_sql; }

static bool exec(Trace *tr, const char *sql, char **err)
{
    char *msg = NULL;
    if (sqlite3_exec(tr->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return true;
    if (err)
        *err = g_strdup_printf("%s: %s", tr->path, msg ? msg : sqlite3_errmsg(tr->db));
    sqlite3_free(msg);
    return false;
}

static void set_error(Trace *tr)
{
    if (!tr->error) {
        tr->error = g_strdup_printf("%s: cannot write: %s", tr->path, sqlite3_errmsg(tr->db));
        g_atomic_int_set(&tr->failed, 1);
    }
}

static bool failed(Trace *tr) { return g_atomic_int_get(&tr->failed) != 0; }

static void writer_start(Trace *tr);
static void writer_drain(Trace *tr);
static void writer_stop(Trace *tr);
static void load_names(Trace *tr);

static bool query_text(Trace *tr, const char *sql, char **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    if (sqlite3_prepare_v2(tr->db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
        *out = g_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

/* Decide what the file is before writing anything to it. */
static bool check_schema(Trace *tr, bool readonly, char **err)
{
    char *n = NULL;
    if (!query_text(tr, "SELECT count(*) FROM sqlite_master", &n)) {
        *err = g_strdup_printf("%s: not a SQLite database (%s)", tr->path, sqlite3_errmsg(tr->db));
        return false;
    }
    bool empty = strcmp(n, "0") == 0;
    g_free(n);
    if (empty) {
        if (readonly) {
            *err = g_strdup_printf("%s: an empty database, not an rdrsim trace", tr->path);
            return false;
        }
        return true;
    }
    char *kind = NULL, *version = NULL;
    query_text(tr, "SELECT value FROM meta WHERE key = 'schema'", &kind);
    query_text(tr, "SELECT value FROM meta WHERE key = 'schema_version'", &version);
    bool ok = false;
    if (!kind || strcmp(kind, "rdrsim-trace") != 0)
        *err = g_strdup_printf("%s: a database of another program, not an rdrsim trace; refusing to touch it",
                               tr->path);
    else if (!version || atoi(version) != RDRSIM_SCHEMA_VERSION)
        *err = g_strdup_printf("%s: an rdrsim trace of schema version %s; this rdrsim reads version %d",
                               tr->path, version ? version : "?", RDRSIM_SCHEMA_VERSION);
    else
        ok = true;
    g_free(kind);
    g_free(version);
    return ok;
}

/* Columns tables gained after schema version 1 first shipped (0.3.0): a
 * trace written by an older build gets them (NULL in its old rows) before
 * anything is added to it, and the views that show them are made anew, so
 * that appending and merging keep working across builds. */
static const struct {
    const char *table, *column;
} added_columns[] = {
    { "oplock_break", "offered_level" }, { "oplock_break", "acked_level" }, { "smb_message", "async_id" },
    { "smb_message", "file" },           { "smb_message", "oplock" },
    { "smb_message", "lease_state" },    { "smb_message", "epoch" },          { "packet", "hop" },
    { "packet", "wait_ns" },             { "packet", "seq" },                 { "packet", "ack" },
    { "packet", "flags" },               { "packet", "msg_id" },
};
static const char *const views_of_added[] = { "oplock_breaks", "smb_messages", "smb_creates", "packets" };

static bool has_column(Trace *tr, const char *table, const char *column)
{
    char *sql = sqlite3_mprintf("SELECT count(*) FROM pragma_table_info(%Q) WHERE name = %Q", table, column);
    char *n = NULL;
    bool ok = query_text(tr, sql, &n) && n && strcmp(n, "1") == 0;
    sqlite3_free(sql);
    g_free(n);
    return ok;
}

static bool add_columns(Trace *tr, char **err)
{
    bool added = false;
    for (size_t i = 0; i < G_N_ELEMENTS(added_columns); i++) {
        if (has_column(tr, added_columns[i].table, added_columns[i].column))
            continue;
        char *sql = g_strdup_printf("ALTER TABLE %s ADD COLUMN %s INTEGER", added_columns[i].table,
                                    added_columns[i].column);
        bool ok = exec(tr, sql, err);
        g_free(sql);
        if (!ok)
            return false;
        added = true;
    }
    if (!added)
        return true;
    for (size_t i = 0; i < G_N_ELEMENTS(views_of_added); i++) {
        char *sql = g_strdup_printf("DROP VIEW IF EXISTS %s", views_of_added[i]);
        bool ok = exec(tr, sql, err);
        g_free(sql);
        if (!ok)
            return false;
    }
    return exec(tr, schema_sql, err);
}

static bool create_schema(Trace *tr, char **err)
{
    if (!exec(tr, "BEGIN IMMEDIATE", err))
        return false;
    if (!exec(tr, schema_sql, err) || !add_columns(tr, err))
        goto fail;
    char *sql = g_strdup_printf("INSERT OR IGNORE INTO meta VALUES ('schema', 'rdrsim-trace'), "
                                "('schema_version', '%d')",
                                RDRSIM_SCHEMA_VERSION);
    bool ok = exec(tr, sql, err);
    g_free(sql);
    if (!ok)
        goto fail;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(tr->db, "INSERT OR IGNORE INTO ntstatus VALUES (?, ?)", -1, &st, NULL);
    NTSTATUS code;
    const char *name;
    for (size_t i = 0; ntstatus_at(i, &code, &name); i++) {
        sqlite3_bind_int64(st, 1, code);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return exec(tr, "COMMIT", err);
fail:
    exec(tr, "ROLLBACK", NULL);
    return false;
}

static Trace *open_db(const char *path, bool readonly, char **err)
{
    Trace *tr = g_new0(Trace, 1);
    tr->path = g_strdup(path);
    tr->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    tr->lat = latencies_new();
    tr->scoped = g_ptr_array_new_with_free_func(g_free);
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    /* No connection mutex: the model and the writer thread take turns on
     * the connection (every use outside the writer drains its queue first,
     * and the queue's lock orders memory between them), which is the
     * "multi-thread" mode of SQLite's threading documentation.  Serialized
     * mode locked and unlocked a mutex on every bind: 13% of the writer. */
    flags |= SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &tr->db, flags, NULL) != SQLITE_OK) {
        *err = g_strdup_printf("%s: cannot open: %s", path, tr->db ? sqlite3_errmsg(tr->db) : "out of memory");
        trace_close(tr);
        return NULL;
    }
    /* Another run may be writing the same DB: wait for it, then fail clearly. */
    sqlite3_busy_timeout(tr->db, 10000);
    if (!check_schema(tr, readonly, err)) {
        trace_close(tr);
        return NULL;
    }
    return tr;
}

/* The queued rows' statements again with MULTI_ROWS groups of values.  In
 * an event table's, every group's run_id is the one parameter ?1 (bound
 * once a run): a bind fewer per row. */
static bool prepare_multi(Trace *tr, char **err)
{
    for (int i = ST_NAME_WITH_ID; i < ST_COUNT; i++) {
        if (i == ST_PARAM || i == ST_METRIC || i == ST_EXPECT)
            continue; /* written directly, never queued */
        const char *values = strstr(stmt_sql[i], "VALUES ") + strlen("VALUES ");
        GString *sql = g_string_new_len(stmt_sql[i], values - stmt_sql[i]);
        for (int k = 0; k < MULTI_ROWS; k++) {
            if (k)
                g_string_append_c(sql, ',');
            if (i == ST_NAME_WITH_ID)
                g_string_append(sql, values);
            else /* "(?,?,...)" -> "(?1,?,...)" */
                g_string_append_printf(sql, "(?1%s", values + 2);
        }
        int rc = sqlite3_prepare_v3(tr->db, sql->str, -1, SQLITE_PREPARE_PERSISTENT, &tr->multi[i], NULL);
        g_string_free(sql, TRUE);
        if (rc != SQLITE_OK) {
            *err = g_strdup_printf("%s: %s", tr->path, sqlite3_errmsg(tr->db));
            return false;
        }
    }
    return true;
}

Trace *trace_open(const char *path, char **err)
{
    Trace *tr = open_db(path, false, err);
    if (!tr)
        return NULL;
    /* synchronous=OFF: the rollback journal still keeps the DB consistent if
     * the process dies; only an OS crash could lose the last batches.
     * 16 KiB pages (for a new DB; an old one keeps its own): a quarter of
     * the page writes and splits of 4 KiB for rows that only ever append
     * (fullstack-1k traced for 30 s: 3% less wall time, a fifth less
     * system time). */
    if (!exec(tr, "PRAGMA page_size = 16384; PRAGMA synchronous = OFF", err) || !create_schema(tr, err)) {
        trace_close(tr);
        return NULL;
    }
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(tr->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &tr->st[i], NULL) !=
            SQLITE_OK) {
            *err = g_strdup_printf("%s: %s", path, sqlite3_errmsg(tr->db));
            trace_close(tr);
            return NULL;
        }
    if (!prepare_multi(tr, err)) {
        trace_close(tr);
        return NULL;
    }
    return tr;
}

Trace *trace_open_readonly(const char *path, char **err)
{
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        *err = g_strdup_printf("%s: no such file", path);
        return NULL;
    }
    return open_db(path, true, err);
}

void trace_close(Trace *tr)
{
    if (!tr)
        return;
    writer_stop(tr);
    if (tr->in_txn)
        exec(tr, "COMMIT", NULL);
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(tr->st[i]);
        sqlite3_finalize(tr->multi[i]);
    }
    sqlite3_close(tr->db);
    g_hash_table_unref(tr->names);
    latencies_free(tr->lat);
    g_ptr_array_unref(tr->scoped);
    g_free(tr->error);
    g_free(tr->path);
    g_free(tr);
}

sqlite3 *trace_db(Trace *tr)
{
    writer_drain(tr);
    return tr->db;
}
int64_t trace_run_id(const Trace *tr) { return tr ? tr->run_id : 0; }
TraceLevel trace_level(const Trace *tr) { return tr ? tr->level : TRACE_NONE; }
const char *trace_error(const Trace *tr)
{
    writer_drain((Trace *)tr);
    return tr->error;
}

static int64_t query_int(Trace *tr, const char *sql)
{
    char *v = NULL;
    query_text(tr, sql, &v);
    int64_t n = v ? g_ascii_strtoll(v, NULL, 10) : 0;
    g_free(v);
    return n;
}

bool trace_set_max_size(Trace *tr, int64_t bytes, char **err)
{
    int64_t page = query_int(tr, "PRAGMA page_size");
    int64_t pages = page > 0 ? bytes / page : 0;
    int64_t now = query_int(tr, "PRAGMA page_count");
    if (pages < now)
        pages = now;
    char *sql = g_strdup_printf("PRAGMA max_page_count = %lld", (long long)pages);
    bool ok = exec(tr, sql, err);
    g_free(sql);
    return ok;
}

static char *wall_clock_now(void)
{
    GDateTime *now = g_date_time_new_now_utc();
    char *s = g_date_time_format_iso8601(now);
    g_date_time_unref(now);
    return s;
}

static int64_t count_runs(Trace *tr) { return query_int(tr, "SELECT count(*) FROM main.runs"); }

bool trace_begin_run(Trace *tr, const TraceRunInfo *info, char **err)
{
    latencies_free(tr->lat);
    tr->lat = latencies_new();
    bool shared = count_runs(tr) > 0;
    sqlite3_stmt *st;
    char *started = wall_clock_now();
    bool ok = sqlite3_prepare_v2(tr->db,
                                 "INSERT INTO runs(scenario_path, scenario_name, scenario_text, seed, overrides, "
                                 "trace_level, rdrsim_version, started_at, status) "
                                 "VALUES (?,?,?,?,?,?,?,?,'incomplete')",
                                 -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, info->scenario_path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, info->scenario_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, info->scenario_text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)info->seed);
        sqlite3_bind_text(st, 5, info->overrides, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, trace_level_name(info->level), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, RDRSIM_VERSION, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, started, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    if (!ok)
        *err = g_strdup_printf("%s: cannot record the run: %s", tr->path, sqlite3_errmsg(tr->db));
    sqlite3_finalize(st);
    g_free(started);
    if (!ok)
        return false;
    tr->run_id = sqlite3_last_insert_rowid(tr->db);
    tr->level = info->level;
    /* Indexed once it holds more than one run; a full disk here is a write
     * error of this run, which is then recorded as incomplete. */
    if (shared && !exec(tr, index_sql, NULL))
        set_error(tr);
    if (!exec(tr, "BEGIN", err))
        return false;
    tr->in_txn = true;
    tr->batch_rows = 0;
    load_names(tr);
    for (int i = 0; i < ST_COUNT; i++)
        if (tr->multi[i] && i != ST_NAME_WITH_ID)
            sqlite3_bind_int64(tr->multi[i], 1, tr->run_id);
    if (info->level > TRACE_NONE)
        writer_start(tr);
    return true;
}

/* Step a bound insert of `rows` rows; every BATCH_ROWS rows, commit and
 * start again. */
static void insert_n(Trace *tr, sqlite3_stmt *st, int rows)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        set_error(tr);
    sqlite3_reset(st);
    tr->batch_rows += (uint64_t)rows;
    if (tr->batch_rows >= BATCH_ROWS && tr->in_txn) {
        tr->batch_rows = 0;
        if (!exec(tr, "COMMIT", NULL) || !exec(tr, "BEGIN", NULL))
            set_error(tr);
    }
}

static void insert(Trace *tr, sqlite3_stmt *st) { insert_n(tr, st, 1); }

/* Bind a row's values from parameter `first` on: a name row's id and
 * text, or an event row's int64 values after run_id, of which negative
 * times (flagged in `times`, a bit per column) become NULL. */
static void bind_values(sqlite3_stmt *st, int first, const Row *r)
{
    if (r->st == ST_NAME_WITH_ID) {
        sqlite3_bind_int64(st, first, r->v[0]);
        sqlite3_bind_text(st, first + 1, r->text, -1, SQLITE_STATIC);
        return;
    }
    for (int i = 0; i < r->n; i++) {
        if ((r->times >> i & 1) && r->v[i] < 0)
            sqlite3_bind_null(st, first + i);
        else
            sqlite3_bind_int64(st, first + i, r->v[i]);
    }
}

static void write_row(Trace *tr, const Row *r)
{
    sqlite3_stmt *st = tr->st[r->st];
    if (r->st == ST_NAME_WITH_ID) {
        bind_values(st, 1, r);
    } else {
        sqlite3_bind_int64(st, 1, tr->run_id);
        bind_values(st, 2, r);
    }
    insert(tr, st);
}

/* Write a block table by table: rows of one table keep their order, so
 * every table gets the rows, and rowids, that writing them one by one in
 * call order would give.  A stable counting sort by statement, then
 * MULTI_ROWS rows a statement and the rest one by one. */
static void write_block(Trace *tr, const Block *b)
{
    uint16_t *order = tr->w->order;
    guint start[ST_COUNT + 1] = { 0 };
    for (guint i = 0; i < b->len; i++)
        start[b->rows[i].st + 1]++;
    for (int s = 0; s < ST_COUNT; s++)
        start[s + 1] += start[s];
    guint fill[ST_COUNT];
    memcpy(fill, start, sizeof fill);
    for (guint i = 0; i < b->len; i++)
        order[fill[b->rows[i].st]++] = (uint16_t)i;
    for (int s = 0; s < ST_COUNT && !tr->error; s++) {
        guint i = start[s], end = start[s + 1];
        sqlite3_stmt *multi = tr->multi[s];
        /* An event row's run_id is ?1, one for every row (bound when the
         * run began); a name row has none. */
        int run_param = s != ST_NAME_WITH_ID;
        int per_row = multi ? (sqlite3_bind_parameter_count(multi) - run_param) / MULTI_ROWS : 0;
        for (; multi && end - i >= MULTI_ROWS && !tr->error; i += MULTI_ROWS) {
            for (int k = 0; k < MULTI_ROWS; k++)
                bind_values(multi, 1 + run_param + k * per_row, &b->rows[order[i + (guint)k]]);
            insert_n(tr, multi, MULTI_ROWS);
        }
        for (; i < end && !tr->error; i++)
            write_row(tr, &b->rows[order[i]]);
    }
}

static gpointer writer_main(gpointer data)
{
    Trace *tr = data;
    Writer *w = tr->w;
    for (;;) {
        Block *b = g_async_queue_pop(w->full);
        if (b == (Block *)w) /* the stop mark */
            return NULL;
        if (!tr->error)
            write_block(tr, b);
        b->len = 0;
        g_async_queue_push(w->empty, b);
        g_mutex_lock(&w->lock);
        w->done++;
        g_cond_broadcast(&w->written);
        g_mutex_unlock(&w->lock);
    }
}

static void writer_start(Trace *tr)
{
    Writer *w = g_new0(Writer, 1);
    w->full = g_async_queue_new();
    w->empty = g_async_queue_new();
    g_mutex_init(&w->lock);
    g_cond_init(&w->written);
    tr->w = w;
    w->thread = g_thread_new("trace-writer", writer_main, tr);
}

static void writer_submit(Writer *w)
{
    g_mutex_lock(&w->lock);
    w->submitted++;
    g_mutex_unlock(&w->lock);
    g_async_queue_push(w->full, w->cur);
    w->cur = NULL;
}

/* Wait until every queued row is in the DB. */
static void writer_drain(Trace *tr)
{
    Writer *w = tr->w;
    if (!w)
        return;
    if (w->cur && w->cur->len)
        writer_submit(w);
    g_mutex_lock(&w->lock);
    while (w->done < w->submitted)
        g_cond_wait(&w->written, &w->lock);
    g_mutex_unlock(&w->lock);
}

static void writer_stop(Trace *tr)
{
    Writer *w = tr->w;
    if (!w)
        return;
    writer_drain(tr);
    g_async_queue_push(w->full, w); /* any non-NULL mark no block can be */
    g_thread_join(w->thread);
    tr->w = NULL;
    g_free(w->cur);
    Block *b;
    while ((b = g_async_queue_try_pop(w->empty)))
        g_free(b);
    g_async_queue_unref(w->full);
    g_async_queue_unref(w->empty);
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->written);
    g_free(w);
}

/* The next free row of the block being filled. */
static Row *next_row(Writer *w)
{
    if (!w->cur) {
        w->cur = g_async_queue_try_pop(w->empty);
        if (!w->cur && w->blocks < MAX_BLOCKS) {
            w->cur = g_new(Block, 1);
            w->blocks++;
        } else if (!w->cur) {
            w->cur = g_async_queue_pop(w->empty); /* the writer is behind: wait for it */
        }
        w->cur->len = 0;
    }
    return &w->cur->rows[w->cur->len];
}

static void queue_row(Writer *w)
{
    if (++w->cur->len == BLOCK_ROWS)
        writer_submit(w);
}

/* To the writer's queue while it runs, else straight to the DB. */
static void emit_row(Trace *tr, const Row *r)
{
    if (!tr->w) {
        write_row(tr, r);
        return;
    }
    *next_row(tr->w) = *r;
    queue_row(tr->w);
}

static void insert_row(Trace *tr, int st_id, const int64_t *v, int n, uint32_t times)
{
    Row r = { .st = st_id, .n = n, .times = times };
    memcpy(r.v, v, (size_t)n * sizeof *v);
    emit_row(tr, &r);
}

/* During a run every name of the DB is in tr->names (loaded when it
 * began), so a new name's id is the next one, as SQLite would give it
 * (max + 1), and its row joins the queue like any other. */
static uint32_t new_name_in_run(Trace *tr, const char *name)
{
    char *key = g_strdup(name);
    uint32_t v = (uint32_t)tr->next_name++;
    g_hash_table_insert(tr->names, key, GUINT_TO_POINTER(v));
    Row r = { .st = ST_NAME_WITH_ID, .n = 1, .v = { v }, .text = key };
    emit_row(tr, &r);
    return v;
}

static void load_names(Trace *tr)
{
    g_hash_table_remove_all(tr->names);
    tr->next_name = 1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(tr->db, "SELECT id, name FROM main.names", -1, &st, NULL) != SQLITE_OK) {
        set_error(tr);
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        g_hash_table_insert(tr->names, g_strdup((const char *)sqlite3_column_text(st, 1)),
                            GUINT_TO_POINTER((uint32_t)id));
        if (id >= tr->next_name)
            tr->next_name = id + 1;
    }
    sqlite3_finalize(st);
}

uint32_t trace_name(Trace *tr, const char *name)
{
    if (!tr)
        return 0;
    gpointer id;
    if (g_hash_table_lookup_extended(tr->names, name, NULL, &id))
        return GPOINTER_TO_UINT(id);
    if (tr->in_txn)
        return new_name_in_run(tr, name);
    sqlite3_stmt *ins = tr->st[ST_NAME_INSERT], *sel = tr->st[ST_NAME_SELECT];
    sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(ins) != SQLITE_DONE)
        set_error(tr);
    sqlite3_reset(ins);
    sqlite3_bind_text(sel, 1, name, -1, SQLITE_TRANSIENT);
    uint32_t v = 0;
    if (sqlite3_step(sel) == SQLITE_ROW)
        v = (uint32_t)sqlite3_column_int64(sel, 0);
    else
        set_error(tr);
    sqlite3_reset(sel);
    g_hash_table_insert(tr->names, g_strdup(name), GUINT_TO_POINTER(v));
    return v;
}

uint32_t trace_name_fixed(Trace *tr, TraceFixedNames *names, const char *literal)
{
    for (int i = 0; i < names->n; i++)
        if (names->s[i] == literal)
            return names->id[i];
    uint32_t id = trace_name(tr, literal);
    if (names->n < FIXED_NAMES) {
        names->s[names->n] = literal;
        names->id[names->n++] = id;
    }
    return id;
}

void trace_param(Trace *tr, const char *name, const char *value)
{
    if (!tr)
        return;
    writer_drain(tr);
    if (tr->error)
        return;
    sqlite3_stmt *st = tr->st[ST_PARAM];
    sqlite3_bind_int64(st, 1, tr->run_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_TRANSIENT);
    insert(tr, st);
}

/* Names by id, for latency.h: a map built from the interned names. */
static GHashTable *names_by_id(Trace *tr)
{
    GHashTable *m = g_hash_table_new(NULL, NULL);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, tr->names);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_insert(m, v, k);
    return m;
}

static const char *name_of(void *ctx, uint32_t id)
{
    const char *n = g_hash_table_lookup(ctx, GUINT_TO_POINTER(id));
    return n ? n : "?";
}

static uint32_t id_of(void *ctx, const char *name) { return trace_name(ctx, name); }

static void emit_metric(void *ctx, const char *name, double value) { trace_metric(ctx, name, value); }

void trace_write_latencies(Trace *tr)
{
    GHashTable *m = names_by_id(tr);
    latencies_write(tr->lat, name_of, m, emit_metric, tr);
    g_hash_table_unref(m);
}

void trace_merge_latencies(Trace *tr, Trace *part)
{
    GHashTable *m = names_by_id(part);
    latencies_merge(tr->lat, part->lat, name_of, m, id_of, tr);
    g_hash_table_unref(m);
}

void trace_metric(Trace *tr, const char *name, double value)
{
    if (!tr)
        return;
    uint32_t id = trace_name(tr, name);
    writer_drain(tr);
    if (tr->error)
        return;
    sqlite3_stmt *st = tr->st[ST_METRIC];
    sqlite3_bind_int64(st, 1, tr->run_id);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_double(st, 3, value);
    insert(tr, st);
}

void trace_expectation(Trace *tr, int line, const char *query, const char *op, const char *expected,
                       const char *actual, bool passed)
{
    if (!tr)
        return;
    writer_drain(tr);
    if (tr->error)
        return;
    sqlite3_stmt *st = tr->st[ST_EXPECT];
    sqlite3_bind_int64(st, 1, tr->run_id);
    sqlite3_bind_int(st, 2, line);
    sqlite3_bind_text(st, 3, query, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, op, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, expected, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, actual, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 7, passed);
    insert(tr, st);
}

void trace_packet(Trace *tr, const TracePacket *p)
{
    if (!tr || tr->level < TRACE_ALL || failed(tr))
        return;
    int64_t v[] = { p->t, p->t_arrive, p->link, p->src, p->dst, p->conn, p->bytes, p->kind, p->fate,
                    p->hop, p->waited, p->seq, p->ack, p->flags, p->has_msg ? p->msg : -1 };
    /* negative: NULL (t_arrive of a packet that did not arrive; no TCP
     * header); a MessageId may be -1 (a break notification's), so the
     * message column is NULL only when there is none */
    insert_row(tr, ST_PACKET, v, 15, 1u << 1 | 1u << 11 | 1u << 12 | 1u << 13 | (p->has_msg ? 0 : 1u << 14));
}

void trace_tdi_request(Trace *tr, uint32_t node, uint32_t endpoint, int64_t conn, uint32_t request, uint32_t flags,
                       SimTime t, SimTime t_done, uint32_t status)
{
    if (!tr || tr->level < TRACE_MESSAGES || failed(tr))
        return;
    int64_t v[] = { node, endpoint, conn, request, flags, t, t_done, status };
    insert_row(tr, ST_TDI_REQUEST, v, 8, 1u << 6);
}

void trace_tdi_state(Trace *tr, SimTime t, uint32_t node, uint32_t endpoint, int64_t conn, uint32_t state)
{
    if (!tr || tr->level < TRACE_MESSAGES || failed(tr))
        return;
    int64_t v[] = { t, node, endpoint, conn, state };
    insert_row(tr, ST_TDI_STATE, v, 5, 0);
}

void trace_disconnect(Trace *tr, int64_t conn, uint32_t initiator, uint32_t endpoint, uint32_t mode,
                      SimTime t_start, SimTime t_done, int step_reached, uint32_t outcome)
{
    if (tr)
        latencies_add(tr->lat, LAT_DISCONNECT, mode, t_done < 0 ? LAT_PENDING : latency_outcome_of_status(outcome),
                      t_done - t_start);
    if (!tr || tr->level < TRACE_OPS || failed(tr))
        return;
    int64_t v[] = { conn, initiator, endpoint, mode, t_start, t_done, step_reached, outcome };
    insert_row(tr, ST_DISCONNECT, v, 8, 1u << 5);
}

void trace_disconnect_data(Trace *tr, int64_t conn, uint32_t endpoint, uint32_t sent, uint32_t received,
                           uint32_t returned)
{
    if (!tr || tr->level < TRACE_OPS || failed(tr))
        return;
    int64_t v[] = { conn, endpoint, sent, received, returned };
    insert_row(tr, ST_DISC_DATA, v, 5, 0);
}

void trace_op(Trace *tr, uint32_t node, uint32_t op, int64_t handle, uint32_t path, SimTime t_start, SimTime t_done,
              uint32_t status, int64_t bytes)
{
    if (tr)
        latencies_add(tr->lat, LAT_OP, op, t_done < 0 ? LAT_PENDING : latency_outcome_of_status(status),
                      t_done - t_start);
    if (!tr || tr->level < TRACE_OPS || failed(tr))
        return;
    int64_t v[] = { node, op, handle, path, t_start, t_done, status, bytes };
    insert_row(tr, ST_OP, v, 8, 1u << 5);
}

void trace_oplock_break(Trace *tr, uint32_t server, uint32_t file, uint32_t holder_node, int64_t holder_open,
                        uint32_t from_level, uint32_t to_level, uint32_t trigger, SimTime t_sent, SimTime t_acked,
                        uint32_t outcome, uint32_t offered_level, int64_t acked_level)
{
    if (tr)
        latencies_add_break(tr->lat, from_level, to_level, outcome, t_acked >= 0 ? t_acked - t_sent : -1);
    if (!tr || tr->level < TRACE_OPS || failed(tr))
        return;
    int64_t v[] = { server,  file,    holder_node, holder_open,   from_level, to_level,
                    trigger, t_sent,  t_acked,     outcome,       offered_level, acked_level };
    insert_row(tr, ST_OPLOCK_BREAK, v, 12, 1u << 8 | 1u << 11);
}

void trace_smb_message(Trace *tr, SimTime t, uint32_t node, uint32_t peer, int64_t conn, const TraceSmb *m,
                       uint32_t bytes)
{
    if (!tr || tr->level < TRACE_MESSAGES || failed(tr))
        return;
    int64_t v[] = { t,           node,     peer,      conn,  (int64_t)m->msg_id, m->command,     m->response,
                    m->async,    m->status, bytes,    m->async_id, m->file,       m->oplock,     m->lease_state,
                    m->epoch };
    /* async_id, file, oplock, lease_state and epoch are NULL where negative: not in that message (the
     * header's Flags are is_response and is_async, shown as `flags` by the view) */
    insert_row(tr, ST_SMB_MESSAGE, v, 15, 0x7c00u);
}

void trace_smb_create(Trace *tr, SimTime t, uint32_t node, int64_t conn, uint64_t msg_id, bool is_response,
                      const TraceSmbCreate *c)
{
    if (!tr || tr->level < TRACE_MESSAGES || failed(tr))
        return;
    int64_t v[] = { t,         node,           conn,           (int64_t)msg_id, is_response,       c->path,
                    c->access, c->share_access, c->disposition, c->create_action, c->lease_key, c->lease_flags,
                    c->parent_lease_key };
    insert_row(tr, ST_SMB_CREATE, v, 13, 0x1fe0u); /* request or response fields: NULL where negative */
}

void trace_http_message(Trace *tr, SimTime t, uint32_t node, uint32_t peer, int64_t conn, const TraceHttp *m)
{
    if (!tr || tr->level < TRACE_MESSAGES || failed(tr))
        return;
    int64_t v[] = { t, node, peer, conn, m->request, m->method, m->path, m->response, m->status, m->bytes, m->body,
                    m->range_start, m->range_end };
    insert_row(tr, ST_HTTP_MESSAGE, v, 13, 0x1800u); /* no range: NULL */
}

void trace_http_done(Trace *tr, uint32_t method, uint32_t status, int64_t ns)
{
    if (tr)
        latencies_add(tr->lat, LAT_HTTP, method, latency_outcome_of_status(status), ns);
}

void trace_callback(Trace *tr, uint32_t node, uint32_t redirector, uint32_t routine, uint32_t object, SimTime t,
                    SimTime t_done, bool pending, uint32_t status)
{
    if (!tr || tr->level < TRACE_MESSAGES || failed(tr))
        return;
    int64_t v[] = { node, redirector, routine, object, t, t_done, pending, status };
    insert_row(tr, ST_CALLBACK, v, 8, 1u << 5);
}

void trace_indication(Trace *tr, SimTime t, uint32_t node, int64_t conn, uint32_t routine, uint32_t object)
{
    if (!tr || tr->level < TRACE_MESSAGES || failed(tr))
        return;
    int64_t v[] = { t, node, conn, routine, object };
    insert_row(tr, ST_INDICATION, v, 5, 0);
}

void trace_grant(Trace *tr, SimTime t, uint32_t node, int64_t handle, uint32_t path, uint32_t level,
                 bool break_in_progress)
{
    if (!tr || tr->level < TRACE_OPS || failed(tr))
        return;
    int64_t v[] = { t, node, handle, path, level, break_in_progress };
    insert_row(tr, ST_GRANT, v, 6, 0);
}

void trace_read(Trace *tr, SimTime t, uint32_t node, int64_t handle, uint32_t path, uint64_t offset, uint64_t bytes,
                uint64_t version)
{
    if (!tr || tr->level < TRACE_OPS || failed(tr))
        return;
    int64_t v[] = { t, node, handle, path, (int64_t)offset, (int64_t)bytes, (int64_t)version };
    insert_row(tr, ST_READ, v, 7, 0);
}

bool trace_end_run(Trace *tr, const char *status, const char *message, SimTime sim_end, uint64_t events,
                   char **err)
{
    writer_stop(tr);
    sqlite3_stmt *st;
    char *finished = wall_clock_now();
    char *lost = NULL;
    if (tr->error) {
        /* Rows were lost (a full disk, say): the run must not look complete. */
        lost = g_strdup_printf("the trace lost rows: %s", tr->error);
        status = "incomplete";
        message = lost;
    }
    if (sqlite3_prepare_v2(tr->db,
                           "UPDATE runs SET finished_at = ?, sim_end_ns = ?, events = ?, status = ?, message = ? "
                           "WHERE run_id = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, finished, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, sim_end);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)events);
        sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, message, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, tr->run_id);
        if (sqlite3_step(st) != SQLITE_DONE)
            set_error(tr);
    } else {
        set_error(tr);
    }
    sqlite3_finalize(st);
    g_free(finished);
    g_free(lost);
    if (tr->in_txn) {
        tr->in_txn = false;
        if (!exec(tr, "COMMIT", NULL))
            set_error(tr);
    }
    if (tr->error) {
        exec(tr, "ROLLBACK", NULL);
        *err = g_strdup(tr->error);
        return false;
    }
    return true;
}

/* Columns of a table of the attached shard, in order. */
static GPtrArray *shard_columns(Trace *tr, const char *table)
{
    GPtrArray *cols = g_ptr_array_new_with_free_func(g_free);
    char *sql = g_strdup_printf("SELECT name FROM pragma_table_info('%s', 'shard') ORDER BY cid", table);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(tr->db, sql, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            g_ptr_array_add(cols, g_strdup((const char *)sqlite3_column_text(st, 0)));
        sqlite3_finalize(st);
    }
    g_free(sql);
    return cols;
}

static bool is_name_col(const TraceTableInfo *t, const char *col)
{
    for (int i = 0; t->name_cols[i]; i++)
        if (strcmp(t->name_cols[i], col) == 0)
            return true;
    return false;
}

/* INSERT INTO main.T SELECT ... FROM shard.T, with run ids and name ids
 * mapped to this DB's, and connection ids moved up by conn_offset. */
static char *copy_sql(Trace *tr, const TraceTableInfo *t, int64_t conn_offset)
{
    GPtrArray *cols = shard_columns(tr, t->table);
    if (!cols->len) {
        g_ptr_array_unref(cols);
        return NULL;
    }
    GString *sel = g_string_new(""), *joins = g_string_new(""), *names = g_string_new("");
    for (guint i = 0; i < cols->len; i++) {
        const char *c = g_ptr_array_index(cols, i);
        g_string_append_printf(names, "%s%s", i ? ", " : "", c);
        if (strcmp(c, "run_id") == 0)
            g_string_append_printf(sel, "%sr.new", i ? ", " : "");
        else if (is_name_col(t, c)) {
            g_string_append_printf(sel, "%sn%u.new", i ? ", " : "", i);
            g_string_append_printf(joins, " LEFT JOIN temp.merge_names n%u ON n%u.old = x.%s", i, i, c);
        } else if (conn_offset && strcmp(c, "conn") == 0)
            g_string_append_printf(sel, "%sCASE WHEN x.conn > 0 THEN x.conn + %lld ELSE x.conn END", i ? ", " : "",
                                   (long long)conn_offset); /* 0: no connection (a ping) */
        else
            g_string_append_printf(sel, "%sx.%s", i ? ", " : "", c);
    }
    char *sql = g_strdup_printf("INSERT INTO main.%s(%s) SELECT %s FROM shard.%s x "
                                "JOIN temp.merge_runs r ON r.old = x.run_id%s ORDER BY x.rowid",
                                t->table, names->str, sel->str, t->table, joins->str);
    g_string_free(sel, TRUE);
    g_string_free(joins, TRUE);
    g_string_free(names, TRUE);
    g_ptr_array_unref(cols);
    return sql;
}

/* Attach a shard and begin its merge: its names added to this DB's, and
 * temp.merge_names mapping its ids to ours (temp.merge_runs is left for
 * the caller to fill).  On success a transaction is open. */
static bool shard_begin(Trace *tr, const char *shard_path, char **err)
{
    char *attach = sqlite3_mprintf("ATTACH %Q AS shard", shard_path);
    bool ok = exec(tr, attach, err);
    sqlite3_free(attach);
    if (!ok)
        return false;
    ok = exec(tr, "BEGIN IMMEDIATE", err) &&
         exec(tr,
              "CREATE TEMP TABLE merge_runs(old INTEGER PRIMARY KEY, new INTEGER);"
              "CREATE TEMP TABLE merge_names(old INTEGER PRIMARY KEY, new INTEGER);"
              "INSERT OR IGNORE INTO main.names(name) SELECT name FROM shard.names ORDER BY id;"
              "INSERT INTO temp.merge_names SELECT s.id, m.id FROM shard.names s JOIN main.names m USING (name);",
              err);
    if (!ok) {
        exec(tr, "ROLLBACK; DROP TABLE IF EXISTS temp.merge_runs; DROP TABLE IF EXISTS temp.merge_names", NULL);
        exec(tr, "DETACH shard", NULL);
    }
    return ok;
}

/* Copy the shard's rows of every run-keyed table (for a part of a run,
 * not its params, metrics or expectations), commit or roll back, detach. */
static bool shard_finish(Trace *tr, bool ok, bool part, int64_t conn_offset, char **err)
{
    for (const TraceTableInfo *t = trace_tables; ok && t->table; t++) {
        if (part && (strcmp(t->table, "params") == 0 || strcmp(t->table, "metric") == 0 ||
                     strcmp(t->table, "expectations") == 0))
            continue;
        char *sql = copy_sql(tr, t, conn_offset);
        ok = !sql || exec(tr, sql, err); /* NULL: a shard of a build that had no such table */
        g_free(sql);
    }
    ok = ok && exec(tr, "DROP TABLE temp.merge_runs; DROP TABLE temp.merge_names; COMMIT", err);
    if (!ok)
        exec(tr, "ROLLBACK; DROP TABLE IF EXISTS temp.merge_runs; DROP TABLE IF EXISTS temp.merge_names", NULL);
    exec(tr, "DETACH shard", NULL);
    return ok;
}

bool trace_merge(Trace *tr, const char *shard_path, char **err)
{
    Trace *check = trace_open_readonly(shard_path, err);
    if (!check)
        return false;
    trace_close(check);
    if (!shard_begin(tr, shard_path, err))
        return false;
    bool ok = exec(tr,
                   "INSERT INTO temp.merge_runs SELECT run_id, (SELECT coalesce(max(run_id), 0) FROM main.runs) + "
                   "  row_number() OVER (ORDER BY run_id) FROM shard.runs;"
                   "INSERT INTO main.runs SELECT r.new, scenario_path, scenario_name, scenario_text, seed, overrides, "
                   "  trace_level, rdrsim_version, started_at, finished_at, sim_end_ns, events, status, message "
                   "  FROM shard.runs x JOIN temp.merge_runs r ON r.old = x.run_id ORDER BY x.run_id;",
                   err);
    ok = shard_finish(tr, ok, false, 0, err);
    return ok && (count_runs(tr) < 2 || exec(tr, index_sql, err));
}

/* One part into the run being written; its metrics wait in
 * temp.merge_metric. */
static bool merge_part(Trace *tr, const char *shard_path, int64_t conn_offset, char **err)
{
    if (!shard_begin(tr, shard_path, err))
        return false;
    char *runs = g_strdup_printf("INSERT INTO temp.merge_runs SELECT run_id, %lld FROM shard.runs;"
                                 "INSERT INTO temp.merge_metric SELECT n.new, x.value FROM shard.metric x "
                                 "  JOIN temp.merge_names n ON n.old = x.name ORDER BY x.rowid;",
                                 (long long)tr->run_id);
    bool ok = exec(tr, runs, err);
    g_free(runs);
    return shard_finish(tr, ok, true, conn_offset, err);
}

bool trace_merge_parts(Trace *tr, char *const *shards, const int64_t *conn_offsets, int n, char **err)
{
    writer_drain(tr);
    if (tr->error) {
        *err = g_strdup(tr->error);
        return false;
    }
    /* ATTACH cannot happen inside a transaction: end the run's, take each
     * part in one of its own, and begin the run's again. */
    if (tr->in_txn) {
        tr->in_txn = false;
        if (!exec(tr, "COMMIT", err))
            return false;
    }
    bool ok = exec(tr, "CREATE TEMP TABLE merge_metric(name INTEGER, value REAL)", err);
    for (int i = 0; ok && i < n; i++)
        ok = merge_part(tr, shards[i], conn_offsets[i], err);
    char *metrics = g_strdup_printf("INSERT INTO main.metric SELECT %lld, name, sum(value) FROM temp.merge_metric "
                                    "GROUP BY name ORDER BY min(rowid)",
                                    (long long)tr->run_id);
    ok = ok && exec(tr, "BEGIN", err) && exec(tr, metrics, err);
    g_free(metrics);
    exec(tr, "DROP TABLE IF EXISTS temp.merge_metric", NULL);
    if (!tr->in_txn && sqlite3_get_autocommit(tr->db) == 0)
        tr->in_txn = true;
    tr->batch_rows = 0;
    load_names(tr); /* the parts' names came in behind its back */
    if (!ok)
        set_error(tr);
    return ok;
}

static bool has_run_id(Trace *tr, const char *table)
{
    char *sql = g_strdup_printf("SELECT 1 FROM pragma_table_info('%s') WHERE name = 'run_id'", table);
    char *v = NULL;
    query_text(tr, sql, &v);
    g_free(sql);
    bool yes = v != NULL;
    g_free(v);
    return yes;
}

bool trace_scope_to_run(Trace *tr, int64_t run_id, char **err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(tr->db, "SELECT name FROM main.sqlite_master WHERE type IN ('table', 'view')", -1, &st,
                           NULL) != SQLITE_OK) {
        *err = g_strdup(sqlite3_errmsg(tr->db));
        return false;
    }
    GPtrArray *tables = g_ptr_array_new_with_free_func(g_free);
    while (sqlite3_step(st) == SQLITE_ROW)
        g_ptr_array_add(tables, g_strdup((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    bool ok = true;
    for (guint i = 0; i < tables->len && ok; i++) {
        const char *t = g_ptr_array_index(tables, i);
        if (!has_run_id(tr, t))
            continue;
        char *sql = g_strdup_printf("CREATE TEMP VIEW \"%s\" AS SELECT * FROM main.\"%s\" WHERE run_id = %lld", t,
                                    t, (long long)run_id);
        ok = exec(tr, sql, err);
        g_free(sql);
        if (ok)
            g_ptr_array_add(tr->scoped, g_strdup(t));
    }
    g_ptr_array_unref(tables);
    return ok;
}

void trace_unscope(Trace *tr)
{
    for (guint i = 0; i < tr->scoped->len; i++) {
        char *sql = g_strdup_printf("DROP VIEW IF EXISTS temp.\"%s\"", (char *)g_ptr_array_index(tr->scoped, i));
        exec(tr, sql, NULL);
        g_free(sql);
    }
    g_ptr_array_set_size(tr->scoped, 0);
}

static const char *level_names[] = { "none", "ops", "messages", "all" };

bool trace_parse_level(const char *s, TraceLevel *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return *out = (TraceLevel)i, true;
    return false;
}

const char *trace_level_name(TraceLevel l)
{
    return l <= TRACE_ALL ? level_names[l] : "?";
}
