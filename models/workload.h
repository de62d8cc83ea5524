/* workload: what applications on a client do, as timeline statements on a
 * client node: map a drive, open (with access, share mode, disposition and
 * oplock request), read, write, lock, unlock, flush, query or set
 * information, close, delete the connection, stop a redirector.  Each goes
 * to the node's RDBSS as an IRP and is traced in `ops` when it completes. */
#ifndef RDRSIM_WORKLOAD_H
#define RDRSIM_WORKLOAD_H

#include "rdbss.h"
#include "scenario.h"
#include "waits.h"

typedef struct Workload Workload;

Workload *workload_new(Rdbss *r, Trace *trace, Sim *sim, const char *node);
void workload_free(Workload *w);
/* Announce each operation's completion as "NODE VERB WORD done" there. */
void workload_set_waits(Workload *w, Waits *waits);
/* Run a statement; false when it is not one of the workload's. */
bool workload_action(Workload *w, const Action *a, MiniRdr *(*find_rdr)(void *ctx, const char *name), void *ctx);
/* Operations still waiting at the end. */
void workload_flush_trace(Workload *w);
bool workload_is_verb(const char *verb);

#endif
