/* minirdr: the MINIRDR_DISPATCH table a network mini-redirector hands to
 * RDBSS, member for member (../shared/reference/CALLBACKS.md section 3:
 * 51 named routines and MRxLowIOSubmit[LOWIO_OP_MAXIMUM + 1]).
 *
 * One simplification, kept in one place: every routine takes the RX_CONTEXT
 * (the real ones take the structure they act on, a flag or two, or the
 * context); the structures, flags and parameters travel in RxContext.
 *
 * A routine returns its status, or STATUS_PENDING when it completes later
 * through rx_complete().  For the routines RDBSS treats as asynchronous
 * (MRxCreateSrvCall, MRxCreateVNetRoot, MRxLowIOSubmit[]) that is the
 * contract; for the others it stands for a routine that blocks its caller
 * while it talks to the server (RDBSS waits), and the trace says so by
 * recording the call as not pending, with the time it took. */
#ifndef RDRSIM_MINIRDR_H
#define RDRSIM_MINIRDR_H

#include <stdbool.h>
#include <stdint.h>

#include "ntstatus.h"

typedef struct RxContext RxContext;
typedef NTSTATUS (*MRxRoutine)(RxContext *rx);

/* Low I/O operation codes (mrx.h). */
typedef enum {
    LOWIO_OP_READ = 0, LOWIO_OP_WRITE, LOWIO_OP_SHAREDLOCK, LOWIO_OP_EXCLUSIVELOCK, LOWIO_OP_UNLOCK,
    LOWIO_OP_UNLOCK_MULTIPLE, LOWIO_OP_FSCTL, LOWIO_OP_IOCTL, LOWIO_OP_NOTIFY_CHANGE_DIRECTORY, LOWIO_OP_CLEAROUT,
    LOWIO_OP_MAXIMUM
} LowIoOp;

/* Member order of MINIRDR_DISPATCH. */
#define MRX_NAMED_ROUTINES(X) \
    X(MRxStart) X(MRxStop) X(MRxCancel) X(MRxCreate) X(MRxCollapseOpen) X(MRxShouldTryToCollapseThisOpen) \
    X(MRxFlush) X(MRxZeroExtend) X(MRxTruncate) X(MRxCleanupFobx) X(MRxCloseSrvOpen) X(MRxDeallocateForFcb) \
    X(MRxDeallocateForFobx) X(MRxIsLockRealizable) X(MRxForceClosed) X(MRxAreFilesAliased) X(MRxOpenPrintFile) \
    X(MRxClosePrintFile) X(MRxWritePrintFile) X(MRxEnumeratePrintQueue) X(MRxClosedSrvOpenTimeOut) \
    X(MRxClosedFcbTimeOut) X(MRxQueryDirectory) X(MRxQueryFileInfo) X(MRxSetFileInfo) X(MRxSetFileInfoAtCleanup) \
    X(MRxQueryEaInfo) X(MRxSetEaInfo) X(MRxQuerySdInfo) X(MRxSetSdInfo) X(MRxQueryQuotaInfo) X(MRxSetQuotaInfo) \
    X(MRxQueryVolumeInfo) X(MRxSetVolumeInfo) X(MRxIsValidDirectory) X(MRxComputeNewBufferingState) \
    X(MRxExtendForCache) X(MRxExtendForNonCache) X(MRxCompleteBufferingStateChangeRequest) X(MRxCreateVNetRoot) \
    X(MRxFinalizeVNetRoot) X(MRxFinalizeNetRoot) X(MRxUpdateNetRootState) X(MRxExtractNetRootName) \
    X(MRxCreateSrvCall) X(MRxCancelCreateSrvCall) X(MRxSrvCallWinnerNotify) X(MRxFinalizeSrvCall) \
    X(MRxDevFcbXXXControlFile) X(MRxPreparseName) X(MRxGetConnectionId)

typedef struct {
#define MRX_MEMBER(name) MRxRoutine name;
    MRX_NAMED_ROUTINES(MRX_MEMBER)
#undef MRX_MEMBER
    MRxRoutine MRxLowIOSubmit[LOWIO_OP_MAXIMUM + 1];
    uint32_t ScavengerTimeout; /* seconds; 0: RDBSS's default (10 s) */
} MINIRDR_DISPATCH;

/* Routine ids: the named members in order, then the low I/O slots. */
typedef enum {
#define MRX_ID(name) ID_##name,
    MRX_NAMED_ROUTINES(MRX_ID)
#undef MRX_ID
    ID_LOWIO_FIRST,
    MRX_N_ROUTINES = ID_LOWIO_FIRST + LOWIO_OP_MAXIMUM, /* 61 callable entries */
} MrxId;

#define MRX_LOWIO(op) ((MrxId)(ID_LOWIO_FIRST + (op)))

/* "MRxCreate", ..., "MRxLowIOSubmit[LOWIO_OP_READ]". */
const char *mrx_name(MrxId id);
/* The entries RDBSS never calls (IFS "routines not used"): 9 named members
 * and MRxLowIOSubmit[LOWIO_OP_CLEAROUT]. */
bool mrx_never_called(MrxId id);
/* Asynchronous by contract (CALLBACKS.md section 2). */
bool mrx_async(MrxId id);
MrxId mrx_by_name(const char *name); /* MRX_N_ROUTINES when unknown */

MRxRoutine mrx_get(const MINIRDR_DISPATCH *d, MrxId id);
void mrx_set(MINIRDR_DISPATCH *d, MrxId id, MRxRoutine r);

#endif
