/* rdbss_int.h: what the files of RDBSS share and nothing outside it
 * sees (rdbss.h is the contract with the rest of rdrsim): the RDBSS
 * instance, a registered mini-redirector, the IRP context, and the
 * functions one part of RDBSS calls in another, grouped by the file that
 * defines them. */
#ifndef RDRSIM_RDBSS_INT_H
#define RDRSIM_RDBSS_INT_H

#include "rdbss.h"

#include <stdio.h>
#include <string.h>

#include "ntstatus.h"
#include "ilist.h"
#include "pool.h"
#include "ranges.h"

/* RDBSS's scavenger time limit when the mini-redirector gives none
 * (scavengr.h: 10 s). */
#define DEFAULT_SCAVENGER_LIMIT (10 * SIM_SEC)
/* MaximumNumberOfCloseDelayedFiles (NFSv4.1's value). */
#define MAX_CLOSE_DELAYED 1023

typedef enum { RDR_STARTABLE, RDR_START_IN_PROGRESS, RDR_STARTED, RDR_STOP_IN_PROGRESS } RdrState;

struct MiniRdr {
    Rdbss *rdbss;
    char *name;
    uint32_t name_id;
    const MINIRDR_DISPATCH *d; /* the redirector's, shared by its instances */
    void *ctx;
    RdrState state;
    SimTime request_timeout;
    bool delayed_close;
    GPtrArray *srv_calls, *net_roots, *vnet_roots; /* the net-name table */
    GPtrArray *scavenge;                           /* structures marked for scavenged finalization */
    SimEventId scavenger;
};

struct Rdbss {
    Sim *sim;
    Trace *trace;
    NetNode *node;
    GPtrArray *rdrs; /* provider order */
    GHashTable *drives; /* "X:" -> Drive* */
    /* What is still out, freed at the end if a run stops in the middle; each
     * is linked through a node of its own, so joining and leaving cost no
     * search and no allocation: */
    GQueue ops;     /* Op* not yet finished */
    GQueue sides;   /* Op* of RDBSS's own contexts (finalizations, creations) */
    GQueue records; /* continuation records (flushes, closes, deletes) */
    uint64_t next_id;
    uint32_t routine_names[MRX_N_ROUTINES]; /* trace name ids, interned when first called */
    GQueue fcbs, srv_opens, fobxs;   /* not yet finalized, oldest first */
    GPtrArray *finalized;            /* FCB, SRV_OPEN, FOBX: finalized, memory not yet reclaimed */
    GPtrArray *vnr_all, *nr_all, *sc_all; /* every one made (few): freed at the end */
    Coherence *coh; /* NULL: nobody judges the data */
    SimTime flush_interval; /* the lazy writer's delay (write-behind) */
    GArray *on_started; /* Waiting: run when no start is in progress */
    bool failed;
    RdbssPools *pools; /* shared by the run's clients */
};

/* A mapped drive: its V_NET_ROOT and the directory under the share it
 * names ("" for the share itself). */
typedef struct {
    VNetRoot *v;
    char *subpath;
} Drive;

/* An IRP being processed: its RX_CONTEXT and where its completion goes. */
typedef struct {
    RxContext rx;
    RxIrpDone done;
    void *ctx;
    bool completed;
    Fobx *result;
    GArray *expect;  /* a read: what the oracle said it must not be older than */
    uint64_t epoch;
    int waiting; /* sub-requests (flush writes) still out */
    GList link;  /* in the Rdbss's ops or sides */
} Op;

/* connect.c */
void rx_drive_free(gpointer p);
void rx_wake_waiters(SrvCall *sc);
void rx_obtain_connection(RxContext *rx, void (*k)(RxContext *));
MiniRdr *rx_first_started(Rdbss *r);
MiniRdr *rx_serving(Rdbss *r, const char *server, guint from);
/* Provider order, as MUP applies it: the status kept when `failed` comes
 * after `kept`; the redirector after rx's; the start of a resolution
 * (rx->resolving: no provider claimed the server yet). */
NTSTATUS rx_mup_status(NTSTATUS kept, NTSTATUS failed);
MiniRdr *rx_next_provider(RxContext *rx);
void rx_begin_resolution(RxContext *rx);

/* rxcontext.c */
void rx_fail(Rdbss *r, const char *fmt, const char *a);
void rx_call(RxContext *rx, MrxId id, void (*k)(RxContext *));
Op *rx_op_new(Rdbss *r, MiniRdr *m, RxIrpDone done, void *ctx);
void rx_op_free(Op *o);
void rx_irp_done(Op *o, NTSTATUS st, uint64_t info);
void rx_irp_done_k(RxContext *rx);
RxContext *rx_side_new(MiniRdr *m);
void *rx_record_new(Rdbss *r, size_t size);
void rx_record_free(Rdbss *r, void *p);
void rx_side_free(RxContext *rx);

/* structures.c */
void rx_scavenge_later(MiniRdr *m, void *obj);
void rx_finalize_vnet_root(VNetRoot *v, bool now);
void rx_vnr_deref(VNetRoot *v, bool now);
MiniRdr *rx_rdr_of_fcb(const Fcb *f);
void rx_fcb_deref(Fcb *f);
void rx_so_deref(SrvOpen *so);
void rx_fobx_deref(Fobx *x);
void rx_close_srv_open(SrvOpen *so, void (*then)(void *), void *ctx);
void rx_srv_open_closed(SrvOpen *so);
void rx_end_delayed_close(Fobx *x, void (*then)(void *), void *ctx);

/* create.c */
void rx_collapsed(RxContext *rx);
SrvOpen *rx_collapse_candidate(RxContext *rx);
NTSTATUS rx_usable(Fobx *x);
Op *rx_io_op(Rdbss *r, Fobx *x, RxIrpDone done, void *ctx);

/* cache.c */
void rx_cache_put(Fcb *f, uint64_t start, uint64_t end, bool dirty, uint64_t stamp);
void rx_cache_purge(Fcb *f);
void rx_lose_dirty(Fcb *f, uint64_t start, uint64_t end);
NTSTATUS rx_take_lost(Fcb *f, NTSTATUS st);
void rx_flush_dirty(Fcb *f, Fobx *x, void (*then)(void *), void *ctx);
bool rx_has_dirty(Fcb *f);
Fobx *rx_some_fobx(Fcb *f);
void rx_write_behind(Fcb *f);

/* locks.c */
GArray *rx_locks_take(GArray *locks, uint64_t fobx);
void rx_flush_reported(RxContext *rx);

#endif
