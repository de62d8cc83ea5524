/* mrxcommon: the routines a UNC mini-redirector does alike whatever its
 * protocol, shared by the SMB (smbrdr.c) and WebDAV (davrdr.c)
 * redirectors: each is theirs to put in their MINIRDR_DISPATCH. */
#ifndef RDRSIM_MRXCOMMON_H
#define RDRSIM_MRXCOMMON_H

#include "rdbss.h"

/* MRxExtractNetRootName: the NET_ROOT of "\srv\share\rest" is
 * "\srv\share", the SRV_CALL's name and the first component after it. */
NTSTATUS mrx_extract_unc_net_root_name(RxContext *rx);
/* MRxDevFcbXXXControlFile: a request from a user process (the start
 * request, information 1) is posted to the RDBSS system process (g.4):
 * STATUS_PENDING now, completed from an event of its own. */
NTSTATUS mrx_dev_fcb_control(RxContext *rx);
/* rx completes with `st` from an event of its own, now. */
void mrx_complete_soon(RxContext *rx, NTSTATUS st);

#endif
