/* trace: the SQLite trace of a run.
 *
 * One DB holds any number of runs; every table is keyed by run_id.  Base
 * tables are narrow (integers; names interned in `names`), written through
 * prepared statements in large transactions; readable views join the names
 * back in.  A DB is indexed by run once it holds more than one.  A run's
 * row is committed as `incomplete` before the first event and becomes
 * `complete` or `failed` only at its end, so a killed run leaves a valid
 * DB that says so.
 *
 * While a run traces events (level ops or above), their rows go to a
 * writer thread through a bounded queue, in call order; it writes them
 * table by table, so each table gets exactly the rows, and rowids, that a
 * direct write would make; every other call that touches
 * the DB (trace_db included) first waits for the queue to drain.  Names
 * get their ids without a query: a run starts by loading every name.
 *
 * Every writer accepts a NULL Trace and does nothing: models trace
 * unconditionally and tests can run them without a DB. */
#ifndef RDRSIM_TRACE_H
#define RDRSIM_TRACE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

typedef enum {
    TRACE_NONE = 0,     /* runs, params, metrics, expectations */
    TRACE_OPS = 1,      /* + application operations, disconnects, breaks */
    TRACE_MESSAGES = 2, /* + SMB messages, TDI requests, MRx calls, states */
    TRACE_ALL = 3,      /* + every packet */
} TraceLevel;

typedef struct Trace Trace;

typedef struct {
    const char *scenario_path;
    const char *scenario_name;
    const char *scenario_text;
    const char *overrides;   /* "k=v k=v", as given on the command line */
    uint64_t seed;
    TraceLevel level;
} TraceRunInfo;

/* Open (creating when absent) a trace DB.  Refuses a file that is not an
 * rdrsim trace or has another schema version, without touching it. */
Trace *trace_open(const char *path, char **err);
/* Open an existing trace for reading only. */
Trace *trace_open_readonly(const char *path, char **err);
void trace_close(Trace *tr);
sqlite3 *trace_db(Trace *tr);

bool trace_begin_run(Trace *tr, const TraceRunInfo *info, char **err);
int64_t trace_run_id(const Trace *tr);
TraceLevel trace_level(const Trace *tr);

/* End the run: status is "complete", "incomplete" or "failed".  Commits,
 * builds the indexes.  Returns false with *err when the DB could not be
 * written (then or at any insert before). */
bool trace_end_run(Trace *tr, const char *status, const char *message, SimTime sim_end, uint64_t events,
                   char **err);

/* Let the DB grow to at most `bytes` (rounded to whole pages; never below
 * its size now).  Writing past it fails as a full disk does. */
bool trace_set_max_size(Trace *tr, int64_t bytes, char **err);

/* The first write error since the DB was opened, or NULL. */
const char *trace_error(const Trace *tr);

/* Intern a name; the id is stable within the DB. */
uint32_t trace_name(Trace *tr, const char *name);

/* The ids of strings that live as long as the program (literals), kept
 * by address: what a model names on every row it writes (levels,
 * outcomes), without hashing the text each time.  Each is interned when
 * first asked for, as trace_name would; past FIXED_NAMES strings, asking
 * is trace_name. */
#define FIXED_NAMES 24
typedef struct {
    const char *s[FIXED_NAMES];
    uint32_t id[FIXED_NAMES];
    int n;
} TraceFixedNames;
uint32_t trace_name_fixed(Trace *tr, TraceFixedNames *names, const char *literal);

void trace_param(Trace *tr, const char *name, const char *value);
void trace_metric(Trace *tr, const char *name, double value);
/* The completion times of the run's operations, breaks and disconnects,
 * gathered at every trace level, as metrics (sim/latency.h); called once
 * at the end of a run, after the models have written their last rows. */
void trace_write_latencies(Trace *tr);
/* Add what a part's trace gathered into the run's (a run in parts). */
void trace_merge_latencies(Trace *tr, Trace *part);
void trace_expectation(Trace *tr, int line, const char *query, const char *op, const char *expected,
                       const char *actual, bool passed);

/* A packet's fate, once known.  t_arrive < 0: it never arrived. */
/* A packet on one hop of its path: queued at t (sent, or forwarded by a
 * router), on the wire after `waited`, at the hop's far end at t_arrive
 * (-1: it did not get there, fate says why); link and direction (src, dst
 * its ends), the hop's number on the path (1 first), the TCP sequence and
 * acknowledgement numbers and flags (-1: not TCP), the SMB MessageId of
 * the message it carries (-1: none). */
typedef struct {
    SimTime t, t_arrive, waited;
    uint32_t link, src, dst, bytes, kind, fate;
    int64_t conn, hop, seq, ack, flags, msg;
    bool has_msg;
} TracePacket;
void trace_packet(Trace *tr, const TracePacket *p);

/* A TDI request, once completed (t_done < 0 and STATUS_PENDING: never
 * completed by the end of the run).  flags is a name id ('' for none). */
void trace_tdi_request(Trace *tr, uint32_t node, uint32_t endpoint, int64_t conn, uint32_t request, uint32_t flags,
                       SimTime t, SimTime t_done, uint32_t status);
/* An endpoint entered a state. */
void trace_tdi_state(Trace *tr, SimTime t, uint32_t node, uint32_t endpoint, int64_t conn, uint32_t state);
/* One disconnect of a connection: mode name id ("release", "abort"), the
 * highest of the four controlled-disconnect steps reached, and the status
 * the initiator's request completed with (t_done < 0: never). */
void trace_disconnect(Trace *tr, int64_t conn, uint32_t initiator, uint32_t endpoint, uint32_t mode,
                      SimTime t_start, SimTime t_done, int step_reached, uint32_t outcome);

/* An application operation (`ops`), t_done < 0 while unfinished. */
/* The disconnect data of a controlled disconnect (`disconnect_data`):
 * bytes the initiator sent with its release (RequestConnectionInformation),
 * bytes indicated to the peer, bytes returned to the initiator when its
 * release completed (ReturnConnectionInformation). */
void trace_disconnect_data(Trace *tr, int64_t conn, uint32_t endpoint, uint32_t sent, uint32_t received,
                           uint32_t returned);
void trace_op(Trace *tr, uint32_t node, uint32_t op, int64_t handle, uint32_t path, SimTime t_start, SimTime t_done,
              uint32_t status, int64_t bytes);
/* An oplock or lease break (`oplock_breaks`): names for levels, trigger and
 * outcome; t_acked < 0 when never acknowledged; the level the notification
 * offered, and the level acknowledged (< 0: no acknowledgement). */
void trace_oplock_break(Trace *tr, uint32_t server, uint32_t file, uint32_t holder_node, int64_t holder_open,
                        uint32_t from_level, uint32_t to_level, uint32_t trigger, SimTime t_sent, SimTime t_acked,
                        uint32_t outcome, uint32_t offered_level, int64_t acked_level);
/* An SMB message's header and break fields, as the trace keeps them
 * (`smb_messages`): a negative async_id, file, oplock, lease_state or
 * epoch is "not in this message". */
typedef struct {
    uint64_t msg_id;
    uint32_t command, status;
    bool response, async;
    int64_t async_id;
    int64_t file, oplock, lease_state, epoch;
} TraceSmb;
void trace_smb_message(Trace *tr, SimTime t, uint32_t node, uint32_t peer, int64_t conn, const TraceSmb *m,
                       uint32_t bytes);
/* A CREATE's parameters (`smb_creates`): the request's path (name id),
 * access, share access, disposition and lease flags, the response's create
 * action; negative: not in this message. */
typedef struct {
    int64_t path, access, share_access, disposition, create_action, lease_key, lease_flags, parent_lease_key;
} TraceSmbCreate;
void trace_smb_create(Trace *tr, SimTime t, uint32_t node, int64_t conn, uint64_t msg_id, bool is_response,
                      const TraceSmbCreate *c);
/* An HTTP message (`http_messages`): the n-th request of its connection
 * (its response has the same number), method and path as name ids, the
 * status code of a response (0 in a request), the bytes on the wire and
 * those of the body, and the byte range a GET asked for or a 206 carries
 * ([range_start, range_end); negative: none). */
typedef struct {
    int64_t request, method, path;
    bool response;
    int64_t status, bytes, body, range_start, range_end;
} TraceHttp;
void trace_http_message(Trace *tr, SimTime t, uint32_t node, uint32_t peer, int64_t conn, const TraceHttp *m);
/* An HTTP request of a redirector ended, at any trace level: `method` its
 * name id, `status` the NTSTATUS it ended with (STATUS_PENDING: still
 * waiting when the run stopped), `ns` from its first sending to its
 * response; written at the run's end as the http.METHOD.* metrics
 * (latency.h). */
void trace_http_done(Trace *tr, uint32_t method, uint32_t status, int64_t ns);
/* A MINIRDR_DISPATCH routine call (`callbacks`). */
void trace_callback(Trace *tr, uint32_t node, uint32_t redirector, uint32_t routine, uint32_t object, SimTime t,
                    SimTime t_done, bool pending, uint32_t status);

/* A call upward (`indications`): a transport's disconnect indication into
 * its TDI client (ClientEventDisconnect), a mini-redirector's hand-over of
 * a break to RDBSS (RxIndicateChangeOfBufferingState); object names what
 * it carries (the kind of disconnect, the level offered).  Written where
 * the sequence chart needs the path up, and nowhere else. */
void trace_indication(Trace *tr, SimTime t, uint32_t node, int64_t conn, uint32_t routine, uint32_t object);

/* What an open was granted (`oplock_grants`): level name (NONE, LEVEL_II,
 * EXCLUSIVE, BATCH, or a lease state), and whether a lease break was under
 * way (SMB2_LEASE_FLAG_BREAK_IN_PROGRESS). */
void trace_grant(Trace *tr, SimTime t, uint32_t node, int64_t handle, uint32_t path, uint32_t level,
                 bool break_in_progress);

/* A read's result (`reads`): which write version its first byte came from
 * (0: the file's initial contents). */
void trace_read(Trace *tr, SimTime t, uint32_t node, int64_t handle, uint32_t path, uint64_t offset, uint64_t bytes,
                uint64_t version);

/* The run-keyed base tables and which of their columns hold name ids. */
typedef struct {
    const char *table;
    const char *name_cols[10];
} TraceTableInfo;
extern const TraceTableInfo trace_tables[];

/* Append every run of another trace (a shard of a sweep) to this one, in
 * the shard's run order: run ids continue this DB's, names are mapped.
 * All or nothing.  Not while a run is being written. */
bool trace_merge(Trace *tr, const char *shard_path, char **err);

/* Add to the run being written (after trace_begin_run, before
 * trace_end_run) the rows of its parts that ran apart (rdrsim run --jobs),
 * each the one run of its own shard DB, in order.  Names are mapped; a
 * part's connection ids (1, 2, ... in each part) move up by its offset; a
 * metric the parts share is their sum (each part writes only counts and
 * its own nodes' figures: world_flush).  Params and expectations stay
 * behind: the run writes its own.  A failure is a write error of the run. */
bool trace_merge_parts(Trace *tr, char *const *shards, const int64_t *conn_offsets, int n, char **err);

/* The schema's SQL, for checking queries against an empty trace. */
const char *trace_schema_sql(void);

/* Shadow every run-keyed table and view with a TEMP view of one run, so
 * that unqualified queries (expectations) see only that run. */
bool trace_scope_to_run(Trace *tr, int64_t run_id, char **err);
void trace_unscope(Trace *tr);

bool trace_parse_level(const char *s, TraceLevel *out);
const char *trace_level_name(TraceLevel l);

#endif
