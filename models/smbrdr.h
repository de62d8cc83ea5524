/* smbrdr: an SMB network mini-redirector: the MINIRDR_DISPATCH routines
 * RDBSS uses, implemented over the SMB-like protocol (models/smb.h) and
 * the TDI transport (models/tdi/tdi.h).  One TDI connection per SRV_CALL, one
 * session per user on it, one tree connect per V_NET_ROOT, one server open
 * per SRV_OPEN; break notifications go to RDBSS through
 * RxIndicateChangeOfBufferingState, and MRxCompleteBufferingStateChangeRequest
 * acknowledges them (after pushing the buffered locks of the LockList).
 * The routines RDBSS never calls stay NULL. */
#ifndef RDRSIM_SMBRDR_H
#define RDRSIM_SMBRDR_H

#include "rdbss.h"
#include "smb.h"

typedef struct SmbRdr SmbRdr;

typedef struct {
    SimTime request_timeout;  /* a request unanswered this long fails with STATUS_IO_TIMEOUT */
    bool connection_ids;      /* MRxGetConnectionId keys V_NET_ROOTs by user */
    uint32_t scavenger_timeout; /* seconds */
    char **null_routines;     /* routine names left NULL (NULL-terminated, may be NULL) */
    uint16_t port;            /* the server port it connects to */
    uint16_t dialect;         /* the newest dialect NEGOTIATE offers */
} SmbRdrParams;

/* Build the redirector and register it with RDBSS (RxRegisterMinirdr)
 * with `d`, a table from smbrdr_dispatch_for(p), which must outlive it.
 * Its requests in flight take blocks of smbrdr_req_size() bytes from
 * `req_pool`, which the redirectors of a run share (a block freed by one is
 * still in cache when the next takes it) and which must outlive them. */
SmbRdr *smbrdr_new(Rdbss *r, Tdi *tdi, SmbWire *wire, Net *net, const char *name, const SmbRdrParams *p,
                   const MINIRDR_DISPATCH *d, bool delayed_close, Pool *req_pool);
size_t smbrdr_req_size(void);
MiniRdr *smbrdr_minirdr(SmbRdr *s);
void smbrdr_free(SmbRdr *s);

/* The dispatch table of the SMB redirector, with the never-called entries
 * NULL. */
void smbrdr_dispatch(MINIRDR_DISPATCH *d);
/* The table as the parameters shape it: MRxGetConnectionId, the scavenger
 * time-out, the routines left NULL. */
void smbrdr_dispatch_for(const SmbRdrParams *p, MINIRDR_DISPATCH *d);

#endif
