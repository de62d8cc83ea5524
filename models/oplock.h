/* oplock: the oplock and lease state machine of a file server, as pure
 * functions of the states involved (no clock, no messages): what a new
 * open, a read, a write or a byte-range lock does to each holder, what a
 * new open is granted, and whether an acknowledgement is acceptable.
 *
 * States are sets of caching rights: R (read), H (handle), W (write).  A
 * plain oplock is one of four: NONE, LEVEL_II = R, EXCLUSIVE = RW,
 * BATCH = RWH; a lease is one of NONE, R, RH, RW, RWH.  Every rule here
 * cites ../shared/reference/OPLOCKS.md (rule numbers R1..R12, B1..B7, T2),
 * which gives its MS-SMB2 / MS-FSA / IFS / Samba sources. */
#ifndef RDRSIM_OPLOCK_H
#define RDRSIM_OPLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "ntstatus.h"

enum { CACHE_R = 1, CACHE_H = 2, CACHE_W = 4 };
typedef uint8_t CacheState;

/* SMB2 OplockLevel values (MS-SMB2 2.2.23.1). */
typedef enum {
    OPLOCK_LEVEL_NONE = 0x00,
    OPLOCK_LEVEL_II = 0x01,
    OPLOCK_LEVEL_EXCLUSIVE = 0x08,
    OPLOCK_LEVEL_BATCH = 0x09,
    OPLOCK_LEVEL_LEASE = 0xFF,
} OplockLevel;

/* One open's oplock, or the lease it shares with the opens of its key. */
typedef struct {
    bool lease;
    uint64_t key;     /* lease key; for a plain oplock, an id of the open itself */
    CacheState state;
    bool breaking;    /* a break notification awaits its acknowledgement */
} OplockHolder;

typedef enum { TRIGGER_OPEN, TRIGGER_READ, TRIGGER_WRITE, TRIGGER_LOCK } OplockTrigger;

/* What happens on the file, seen from one holder. */
typedef struct {
    OplockTrigger trigger;
    uint64_t key;            /* the oplock key (lease key or open id) of whoever causes it */
    bool lease;              /* an open asking for a lease (stat rules differ, R1) */
    bool stat_open;          /* open: only attribute / synchronize access (R1) */
    bool overwrite;          /* open: SUPERSEDE, OVERWRITE or OVERWRITE_IF (R2, R3) */
    bool sharing_violation;  /* open: its share mode conflicts with the holder's open (R6, R7) */
    bool other_opens;        /* lock: other opens exist on the file (R12, smbtorture brl1-3) */
} OplockCause;

typedef struct {
    bool notify;      /* a break notification goes to the holder */
    CacheState to;    /* the state the holder is broken to */
    bool ack;         /* it must acknowledge (B4, B5: only when W or H is lost) */
    bool wait;        /* the cause waits for the acknowledgement, a close or the time-out (B7) */
} OplockBreak;

OplockBreak oplock_break_for(const OplockHolder *h, const OplockCause *c);

/* Whether an access mask makes a stat open (R1): nothing but
 * FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES and SYNCHRONIZE, plus
 * READ_CONTROL when the opener asks for a lease. */
bool oplock_is_stat_open(uint32_t desired_access, bool lease);

/* What a new open gets after the breaks it waited for (R4, R5, section 7
 * step 7): its request, less W when any other open remains, less H for a
 * lease when a plain oplock is held, nothing for an oplock request when an
 * H lease is held; only valid lease states (R, RH, RW, RWH). */
CacheState oplock_grant(bool lease, CacheState requested, bool other_opens, bool plain_oplock_held,
                        bool h_lease_held);

CacheState oplock_level_state(OplockLevel level);
OplockLevel oplock_state_level(CacheState s);
/* "NONE", "LEVEL_II", "EXCLUSIVE", "BATCH" for an oplock; "NONE", "R",
 * "RH", "RW", "RWH" for a lease. */
const char *oplock_state_name(bool lease, CacheState s);

/* Check an oplock acknowledgement (B2, B4): `breaking` whether a break is
 * outstanding, `to` the level it offered, `acked` the level acknowledged.
 * Returns the status of the acknowledgement; *result the level now held. */
NTSTATUS oplock_check_ack(bool breaking, bool ack_required, CacheState to, OplockLevel acked, CacheState *result);
/* Check a lease acknowledgement (B5). */
NTSTATUS lease_check_ack(bool breaking, bool ack_required, CacheState to, CacheState acked, CacheState *result);

#endif
