/* smbsetup: the SMB part of a world: file servers with their shares,
 * files and users, scripted SMB clients, and the timeline statements that
 * act on them (smbclient verbs, server restart and session expiry, share
 * deletion). */
#ifndef RDRSIM_SMBSETUP_H
#define RDRSIM_SMBSETUP_H

#include "scenario.h"
#include "smb.h"
#include "tdi.h"
#include "waits.h"

typedef struct SmbSetup SmbSetup;

/* Checks the grammar cannot make: what each declaration names exists. */
void smbsetup_check(Scenario *sc);

SmbSetup *smbsetup_new(Tdi *tdi, Net *net, const Scenario *sc, uint64_t seed);
void smbsetup_free(SmbSetup *s);
SmbWire *smbsetup_wire(const SmbSetup *s);
typedef struct HttpWire HttpWire;
HttpWire *smbsetup_http(const SmbSetup *s);
/* Where the scripted clients and the applications announce completions. */
void smbsetup_set_waits(SmbSetup *s, Waits *waits);
/* Run an SMB timeline statement; false when it is not one. */
bool smbsetup_action(SmbSetup *s, const Action *a);
void smbsetup_flush_trace(SmbSetup *s);

#endif
