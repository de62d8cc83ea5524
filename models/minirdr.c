#include "minirdr.h"

#include <stddef.h>
#include <string.h>

static const char *const names[MRX_N_ROUTINES] = {
#define MRX_NAME(name) #name,
    MRX_NAMED_ROUTINES(MRX_NAME)
#undef MRX_NAME
    "MRxLowIOSubmit[LOWIO_OP_READ]", "MRxLowIOSubmit[LOWIO_OP_WRITE]", "MRxLowIOSubmit[LOWIO_OP_SHAREDLOCK]",
    "MRxLowIOSubmit[LOWIO_OP_EXCLUSIVELOCK]", "MRxLowIOSubmit[LOWIO_OP_UNLOCK]",
    "MRxLowIOSubmit[LOWIO_OP_UNLOCK_MULTIPLE]", "MRxLowIOSubmit[LOWIO_OP_FSCTL]", "MRxLowIOSubmit[LOWIO_OP_IOCTL]",
    "MRxLowIOSubmit[LOWIO_OP_NOTIFY_CHANGE_DIRECTORY]", "MRxLowIOSubmit[LOWIO_OP_CLEAROUT]",
};

const char *mrx_name(MrxId id) { return id < MRX_N_ROUTINES ? names[id] : "?"; }

bool mrx_never_called(MrxId id)
{
    switch (id) {
    case ID_MRxCancel:
    case ID_MRxOpenPrintFile:
    case ID_MRxClosePrintFile:
    case ID_MRxWritePrintFile:
    case ID_MRxEnumeratePrintQueue:
    case ID_MRxClosedSrvOpenTimeOut:
    case ID_MRxClosedFcbTimeOut:
    case ID_MRxUpdateNetRootState:
    case ID_MRxCancelCreateSrvCall:
        return true;
    default:
        return id == MRX_LOWIO(LOWIO_OP_CLEAROUT);
    }
}

bool mrx_async(MrxId id)
{
    return id == ID_MRxCreateSrvCall || id == ID_MRxCreateVNetRoot || id >= ID_LOWIO_FIRST;
}

MrxId mrx_by_name(const char *name)
{
    for (int i = 0; i < MRX_N_ROUTINES; i++)
        if (strcmp(names[i], name) == 0)
            return (MrxId)i;
    return MRX_N_ROUTINES;
}

static const size_t offsets[ID_LOWIO_FIRST] = {
#define MRX_OFFSET(name) offsetof(MINIRDR_DISPATCH, name),
    MRX_NAMED_ROUTINES(MRX_OFFSET)
#undef MRX_OFFSET
};

static MRxRoutine *slot(MINIRDR_DISPATCH *d, MrxId id)
{
    if (id >= ID_LOWIO_FIRST)
        return &d->MRxLowIOSubmit[id - ID_LOWIO_FIRST];
    return (MRxRoutine *)(void *)((char *)d + offsets[id]);
}

MRxRoutine mrx_get(const MINIRDR_DISPATCH *d, MrxId id) { return *slot((MINIRDR_DISPATCH *)d, id); }
void mrx_set(MINIRDR_DISPATCH *d, MrxId id, MRxRoutine r) { *slot(d, id) = r; }
