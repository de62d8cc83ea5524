/* smbclient: a scripted SMB client on a client node, driven by the
 * timeline (`at T smbclient S1 create h1 path=a.doc oplock=batch`), until
 * the redirector drives the same flows through RDBSS.
 *
 * Each statement sends one request; its completion is traced as an
 * operation in `ops` (op, handle, path, start, end, status, bytes).  A
 * break notification is answered as the client's `on_break` says: ack
 * (the level offered), ack_none, close (the handle), ignore (let the
 * server time out), or ack_always (also the breaks that need no
 * acknowledgement, to see them refused). */
#ifndef RDRSIM_SMBCLIENT_H
#define RDRSIM_SMBCLIENT_H

#include "scenario.h"
#include "smb.h"
#include "waits.h"

typedef struct SmbClient SmbClient;

typedef enum { ON_BREAK_ACK, ON_BREAK_ACK_NONE, ON_BREAK_CLOSE, ON_BREAK_IGNORE, ON_BREAK_ACK_ALWAYS } BreakPolicy;
bool smbclient_parse_policy(const char *s, BreakPolicy *out);

SmbClient *smbclient_new(Tdi *tdi, SmbWire *wire, Sim *sim, Trace *trace, const char *name, NetNode *node,
                         NetNode *server, BreakPolicy policy, bool level2);
void smbclient_free(SmbClient *c);
/* Announce each timeline action's completion as "smbclient NAME VERB
 * [WORD] done" there. */
void smbclient_set_waits(SmbClient *c, Waits *waits);

/* Run one timeline statement (verb and its values, as the schema gives). */
void smbclient_action(SmbClient *c, const Action *a);
/* Operations still waiting at the end of the run. */
void smbclient_flush_trace(SmbClient *c);

#endif
