/* rdbss: the Redirected Drive Buffering SubSystem of one client node, and
 * the six structures it keeps for its mini-redirectors (SRV_CALL,
 * NET_ROOT, V_NET_ROOT, FCB, SRV_OPEN, FOBX), reference-counted with their
 * conditions and two-phase finalization (../shared/reference/STRUCTURES.md),
 * calling the mini-redirectors' MINIRDR_DISPATCH routines in the orders
 * SEQUENCES.md gives (a) to (h).
 *
 * Every mini-redirector has its own net-name table (its own "copy of
 * RDBSS", seed 003); names are resolved by asking the redirectors in
 * provider order, the first that connects to the server winning.
 *
 * The IRPs an application sends (create, read, write, ..., cleanup and
 * close) are the functions at the end; each completes exactly once through
 * its RxIrpDone.  Every routine call is traced in `callbacks`.
 *
 * Choices where the sources disagree are made in one place each and named
 * in docs/models.md ("RDBSS: choices"). */
#ifndef RDRSIM_RDBSS_H
#define RDRSIM_RDBSS_H

#include <glib.h>

#include "engine.h"
#include "pool.h"
#include "minirdr.h"
#include "net.h"
#include "coherence.h"
#include "oplock.h"
#include "trace.h"

typedef struct Rdbss Rdbss;
typedef struct MiniRdr MiniRdr;
typedef struct SrvCall SrvCall;
typedef struct NetRoot NetRoot;
typedef struct VNetRoot VNetRoot;
typedef struct Fcb Fcb;
typedef struct SrvOpen SrvOpen;
typedef struct Fobx Fobx;

/* RX_BLOCK_CONDITION (mrx.h). */
typedef enum { COND_UNINITIALIZED, COND_IN_TRANSITION, COND_CLOSING, COND_GOOD, COND_BAD, COND_CLOSED } RxCondition;

/* FCB buffering state bits (fcb.h). */
#define FCB_STATE_LOCK_BUFFERING_ENABLED 0x00200000u
#define FCB_STATE_READCACHING_ENABLED    0x02000000u
#define FCB_STATE_WRITECACHING_ENABLED   0x08000000u
#define FCB_STATE_HANDLECACHING          0x00400000u /* the COLLAPSING bit: keep handles (delayed close) */
#define FCB_STATE_BUFFERSTATE_CHANGING   0x00002000u /* a buffering-state change is in progress (f.5.1) */

/* The RX_CONTEXT: what a routine is asked to do, and its results. */
struct RxContext {
    Rdbss *rdbss;
    MiniRdr *rdr;
    MrxId routine;
    SimTime t0;
    SrvCall *srv_call;
    NetRoot *net_root;
    VNetRoot *vnet_root;
    Fcb *fcb;
    SrvOpen *srv_open;  /* pRelevantSrvOpen (NULL for the first collapse probe) */
    Fobx *fobx;
    /* connection construction */
    char *server, *share, *subpath;  /* "\srv", "share", the rest */
    char *file_path;                 /* MRxExtractNetRootName's input: "\srv\share\rest" */
    char *net_root_name;             /* its answer: "\srv\share" (NULL: none given) */
    const char *user, *password;
    GBytes *connection_id;           /* MRxGetConnectionId's opaque answer, owned; NULL: none (the zero id) */
    NTSTATUS net_root_status, vnet_root_status;
    bool winner;                     /* MRxSrvCallWinnerNotify's ThisMinirdrIsTheWinner */
    NTSTATUS mup_status;             /* provider order: the failure that wins so far (MUP's precedence) */
    bool resolving;                  /* provider order: no provider had claimed the server yet */
    bool force;
    /* create */
    char *path;                      /* relative to the share */
    uint32_t access, share_access, disposition;
    bool delete_on_close;
    OplockLevel oplock;              /* requested; set by MRxCreate to the level granted */
    /* low I/O and information */
    LowIoOp op;
    uint64_t offset, length;
    bool exclusive;
    GArray *lock_list;               /* BufferedLock: locks pushed at a buffering change */
    uint32_t info_class;             /* set/query info: 0 basic, 1 end of file, 2 rename, 3 disposition */
    char *new_name;
    /* buffering change */
    OplockLevel mrx_context;         /* the level the server breaks to */
    uint32_t new_state;              /* MRxComputeNewBufferingState's answer */
    /* the coherence oracle's view of the data (models/coherence.h) */
    uint64_t stamp;                  /* WRITE: the application write the data comes from */
    GArray *stamps;                  /* READ: Range of the stamps of the bytes returned */
    /* results */
    NTSTATUS status;
    uint64_t information;
    /* where RDBSS goes on when the routine completes */
    void (*k)(RxContext *rx);
    void *k_ctx;
    uint64_t k_arg;
    bool done;
    /* rarely read, last: a directory's open, and a redirector that caches
     * whole files (WebDAV) */
    bool directory;                  /* FILE_DIRECTORY_FILE: a directory is opened or made */
    bool unpublished;                /* WRITE kept by the redirector until it publishes it (WebDAV's PUT at
                                      * close), which tells the oracle itself */
    GArray *copy_expect;             /* READ served from a copy the redirector downloaded (WebDAV): what the
                                      * oracle expected then, which the read is judged against (owned) */
    uint64_t copy_epoch;
};

/* A byte-range lock RDBSS keeps for a handle. */
typedef struct {
    uint64_t offset, length;
    bool exclusive;
    uint64_t fobx;       /* the handle's Fobx id: cleanup releases only its own */
} BufferedLock;

/* Like RDBSS's, every structure begins with its node type, so that a list
 * holding several kinds (the scavenger's) can tell them apart.  The values
 * are rdrsim's own. */
typedef enum {
    RX_NTC_SRVCALL = 1,
    RX_NTC_NETROOT,
    RX_NTC_V_NETROOT,
    RX_NTC_FCB,
    RX_NTC_SRVOPEN,
    RX_NTC_FOBX,
} RxNodeType;

struct SrvCall {
    RxNodeType node_type;
    char *name;          /* "\srv" */
    RxCondition condition;
    NTSTATUS status;
    void *context;       /* the mini-redirector's */
    MiniRdr *rdr;
    int refs, close_delayed;
    GPtrArray *waiters;  /* RxContext* parked while it is in transition */
    bool upper_done, finalized;
    GPtrArray *opens;    /* SrvOpen* keyed by the server: break lookups */
    int opens_in_flight;
    GPtrArray *parked_breaks;
};

struct NetRoot {
    RxNodeType node_type;
    char *name;          /* "\srv\share" */
    GBytes *connection_id; /* the id it is entered under in the name table (NULL: none) */
    char *table_name;    /* the name with the id appended, as the name table (and the trace) knows it */
    SrvCall *srv_call;
    RxCondition condition;
    void *context;
    GHashTable *fcbs;    /* path -> Fcb* */
    GPtrArray *vnet_roots;
    int refs;
    bool upper_done, finalized;
};

struct VNetRoot {
    RxNodeType node_type;
    char *name;          /* the canonical name: "\srv\share" or "\;X:\srv\share\sub" */
    NetRoot *net_root;
    char *user, *password; /* the credentials it was built with (STRUCTURES.md 4.3) */
    RxCondition condition;
    NTSTATUS status;
    void *context;
    int refs;
    bool extra_ref;      /* the "add connection" reference of a mapped drive */
    bool upper_done, finalized;
};

struct Fcb {
    RxNodeType node_type;
    char *path;
    char *key;           /* "\srv\share\path": the coherence oracle's name of the file */
    uint32_t trace_names[3]; /* trace name ids of "Fcb", "SrvOpen", "Fobx" and the path; 0: not yet */
    NetRoot *net_root;
    VNetRoot *vnet_root;
    MiniRdr *rdr;        /* its SRV_CALL's, which never changes: read often, and
                          * through NET_ROOT and SRV_CALL it was two cold lines */
    uint32_t state;      /* buffering bits */
    uint32_t uncleans, opens;
    GPtrArray *srv_opens;
    uint64_t size, valid_data_length;
    bool delete_on_close, truncate_on_close, modified, orphaned;
    GArray *cached;      /* Range: data held in the client cache (aux 1: dirty) */
    GArray *lost;        /* Range: dirty data that never reached the server, not yet reported */
    GArray *writing;     /* Range: dirty data in paging writes on their way to the server */
    GArray *locks;       /* BufferedLock held locally under lock buffering, unknown to the server */
    GArray *server_locks; /* BufferedLock the server granted (or was handed at a buffering change) */
    int refs;
    bool finalized;
    void *context;
    GList live;          /* in RDBSS's list of FCBs not yet finalized */
};

struct SrvOpen {
    RxNodeType node_type;
    Fcb *fcb;
    VNetRoot *vnet_root;
    RxCondition condition;
    uint32_t access, share_access;
    uint32_t flags;      /* SRVOPEN_FLAG_* */
    uint32_t buffering_flags;
    uint64_t key;        /* the server's file id */
    OplockLevel level;
    int open_count;
    GPtrArray *fobxs;
    void *context;
    int refs;
    bool finalized;
    GList live;
};

#define SRVOPEN_FLAG_CLOSED                 0x4
#define SRVOPEN_FLAG_CLOSE_DELAYED          0x8
#define SRVOPEN_FLAG_COLLAPSING_DISABLED    0x80
#define SRVOPEN_FLAG_ORPHANED               0x400

struct Fobx {
    RxNodeType node_type;
    SrvOpen *srv_open;
    Fcb *fcb;
    bool cleaned_up, closed, scavenge_pending;
    uint64_t id;
    int refs;
    bool finalized;
    GList live;
};

/* ---- set-up ---- */

/* Where a client's request contexts, FCBs, SRV_OPENs and FOBXs come from.
 * The clients of a run share one set: a block freed by one client is
 * still in cache when the next client's request takes it, where pools per
 * client handed back blocks that client freed long ago (and malloc, blocks
 * freed a page of allocations ago).  Shared pools must outlive their
 * clients. */
typedef struct {
    Pool op, fcb, srv_open, fobx;
} RdbssPools;
void rdbss_pools_init(RdbssPools *p);
void rdbss_pools_clear(RdbssPools *p);

/* pools: the run's set, which the client shares with the others. */
Rdbss *rdbss_new(Sim *sim, Trace *trace, NetNode *node, RdbssPools *pools);
/* How long after the first dirty write the lazy writer writes cached data
 * back (1 s unless set). */
void rdbss_set_flush_interval(Rdbss *r, SimTime t);
/* The oracle this client's applications' writes and reads report to. */
void rdbss_set_coherence(Rdbss *r, Coherence *coh);
/* This client's dirty cached data and the paging writes still on their
 * way, added to `by_file` ("\\srv\\share\\path" -> GArray of Range, both
 * owned by the table): at the end of a run they are not lost. */
void rdbss_collect_dirty(Rdbss *r, GHashTable *by_file);
void rdbss_free(Rdbss *r);
/* RxRegisterMinirdr: no routine is called.  Registration order is the
 * provider order.  `ctx` is the redirector's own state.  As RDBSS does, it
 * keeps a pointer to the table, which must outlive the registration: a
 * thousand clients of one redirector share one table, which stays in
 * cache where a thousand copies did not. */
MiniRdr *rdbss_register(Rdbss *r, const char *name, const MINIRDR_DISPATCH *d, void *ctx, SimTime request_timeout,
                        bool delayed_close);
void *rdbss_rdr_context(const MiniRdr *m);
const char *rdbss_rdr_name(const MiniRdr *m);
Rdbss *rdbss_of_context(const RxContext *rx);
NetNode *rdbss_node(const Rdbss *r);
Sim *rdbss_sim(const Rdbss *r);
SimTime rdbss_request_timeout(const MiniRdr *m);

/* ---- what the mini-redirector calls ---- */

/* A routine that returned STATUS_PENDING is done (RxLowIoCompletion and the
 * creation callbacks of MRxCreateSrvCall / MRxCreateVNetRoot). */
void rx_complete(RxContext *rx, NTSTATUS status);
/* RxCreateNetFobx, from MRxCreate / MRxCollapseOpen. */
Fobx *rx_create_fobx(RxContext *rx);
/* RxIndicateChangeOfBufferingState: the server broke the oplock of the
 * open with this key; `level` is what it breaks to; `sent` when the server
 * sent the break (for the coherence oracle only). */
void rx_indicate_buffering_change(SrvCall *sc, uint64_t key, OplockLevel level, SimTime sent);
/* The connection to the server is gone: every request waiting on it fails. */
void rx_srv_call_lost(SrvCall *sc, NTSTATUS status);

/* ---- IRPs from applications ---- */

typedef void (*RxIrpDone)(void *ctx, NTSTATUS status, uint64_t information, Fobx *fobx);

void rdbss_start(Rdbss *r, MiniRdr *m, RxIrpDone done, void *ctx);
/* Whether a redirector's start is in progress (the machine is booting). */
bool rdbss_starting(const Rdbss *r);
/* Run fn once no start is in progress (at once if none is); `drop`
 * (may be NULL) takes ctx back if the run ends first. */
void rdbss_when_started(Rdbss *r, void (*fn)(void *ctx), void *ctx, void (*drop)(void *ctx));
void rdbss_stop(Rdbss *r, MiniRdr *m, RxIrpDone done, void *ctx);
/* net use: drive "X:" (or NULL for a deviceless connection) to "\\srv\share[\sub]". */
void rdbss_use(Rdbss *r, const char *drive, const char *unc, const char *user, const char *password, RxIrpDone done,
               void *ctx);
void rdbss_unuse(Rdbss *r, const char *drive_or_unc, bool force, RxIrpDone done, void *ctx);
/* "\\srv\share\rest" (any number of leading backslashes) into "\srv",
 * "share" and "rest" ("" when there is none), each newly allocated; false
 * when there is no server or share. */
bool rdbss_split_unc(const char *unc, char **server, char **share, char **rest);
/* path: "\\srv\share\a.doc" or "X:\a.doc". */
void rdbss_create(Rdbss *r, const char *path, uint32_t access, uint32_t share, uint32_t disposition,
                  OplockLevel oplock, bool delete_on_close, const char *user, const char *password, RxIrpDone done,
                  void *ctx);
/* The same with FILE_DIRECTORY_FILE: the open (or creation) of a directory. */
void rdbss_create_ex(Rdbss *r, const char *path, uint32_t access, uint32_t share, uint32_t disposition,
                     OplockLevel oplock, bool delete_on_close, bool directory, const char *user, const char *password,
                     RxIrpDone done, void *ctx);
void rdbss_read(Rdbss *r, Fobx *f, uint64_t offset, uint64_t length, RxIrpDone done, void *ctx);
void rdbss_write(Rdbss *r, Fobx *f, uint64_t offset, uint64_t length, RxIrpDone done, void *ctx);
void rdbss_lock(Rdbss *r, Fobx *f, uint64_t offset, uint64_t length, bool exclusive, RxIrpDone done, void *ctx);
void rdbss_unlock(Rdbss *r, Fobx *f, uint64_t offset, uint64_t length, RxIrpDone done, void *ctx);
void rdbss_flush(Rdbss *r, Fobx *f, RxIrpDone done, void *ctx);
/* Information: which routine by `what`: query_file, set_eof (length),
 * rename (new_name), delete, query_dir, notify, ioctl, fsctl, query_ea,
 * set_ea, query_sd, set_sd, query_quota, set_quota, query_volume,
 * set_volume. */
void rdbss_info(Rdbss *r, Fobx *f, const char *what, uint64_t length, const char *new_name, RxIrpDone done,
                void *ctx);
/* IRP_MJ_CLEANUP then IRP_MJ_CLOSE. */
void rdbss_close(Rdbss *r, Fobx *f, RxIrpDone done, void *ctx);

/* Free the memory of finalized FCBs, SRV_OPENs and FOBXs, when no IRP or
 * internal context of this RDBSS is in flight (those may still point at
 * them).  Finalization itself is not touched: this only decides when the
 * memory goes, so calling it changes nothing in a run.  Call it from an
 * event handler of your own, never from inside an RDBSS completion; a
 * FOBX must not be passed to RDBSS again once its close has completed.
 * Whatever is left is freed by rdbss_free. */
void rdbss_reclaim(Rdbss *r);
/* FCBs, SRV_OPENs and FOBXs whose memory is held: those not finalized and
 * those finalized but not yet reclaimed. */
size_t rdbss_file_objects(const Rdbss *r);

/* Write every RDBSS-level problem found (invariants) to the run: false
 * when one failed.  Called at the end of the run. */
bool rdbss_check_teardown(Rdbss *r);

#endif
