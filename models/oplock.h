/* oplock: the oplock and lease state machine of a file server, as pure
 * functions of the states involved (no clock, no messages): what a new
 * open, a read, a write or a byte-range lock does to each holder, what a
 * new open is granted, and whether an acknowledgement is acceptable.
 *
 * States are sets of caching rights: R (read), H (handle), W (write).  A
 * plain oplock is one of four: NONE, LEVEL_II = R, EXCLUSIVE = RW,
 * BATCH = RWH; a lease is one of NONE, R, RH, RW, RWH.  Every rule here
 * cites ../shared/reference/OPLOCKS.md (rule numbers R1..R13, B1..B8, T2),
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
    bool no_level2;   /* its client lacks level II oplocks: LEVEL_II targets become NONE (R5) */
} OplockHolder;

/* TRIGGER_SETSIZE: SET_INFO of end-of-file or allocation size (R13). */
typedef enum { TRIGGER_OPEN, TRIGGER_READ, TRIGGER_WRITE, TRIGGER_LOCK, TRIGGER_SETSIZE } OplockTrigger;

/* What happens on the file, seen from one holder. */
typedef struct {
    OplockTrigger trigger;
    uint64_t key;            /* the oplock key (lease key or open id) of whoever causes it */
    bool lease;              /* open: it asks for a lease (a holder of the same key is not broken) */
    uint32_t access;         /* open: its desired access (stat opens, R1; DELETE, R8) */
    bool overwrite;          /* open: SUPERSEDE, OVERWRITE or OVERWRITE_IF (R2, R3) */
    bool sharing_violation;  /* open: its share mode conflicts with the holder's open (R6, R7) */
    bool retry;              /* open: tried again after waiting (Samba's !first_open_attempt, B6) */
    bool other_opens;        /* lock: other opens exist on the file (R12, smbtorture brl1-3) */
} OplockCause;

typedef struct {
    bool notify;      /* a break notification goes to the holder */
    bool extend;      /* a break is already under way: it must now end at `to` or lower (B6) */
    CacheState to;    /* the state the holder is broken to */
    bool ack;         /* it must acknowledge (B4, B5: only when W or H is lost) */
    bool wait;        /* the cause waits for the acknowledgement, a close or the time-out (B7) */
} OplockBreak;

OplockBreak oplock_break_for(const OplockHolder *h, const OplockCause *c);

/* Whether an open is a stat open to a holder (R1): its access is nothing
 * but FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES and SYNCHRONIZE, plus
 * READ_CONTROL when the holder is a lease (Samba's is_oplock_stat_open and
 * is_lease_stat_open; smbtorture oplock.statopen1, lease.statopen4), and
 * it does not overwrite (an overwrite truncates: R2, R10). */
bool oplock_is_stat_open(uint32_t desired_access, bool lease_holder);

/* What a new open asks and finds, for the grant (R4, R5, section 7 step 7). */
typedef struct {
    bool lease;               /* it asks for a lease (a context with this state, 0 for none) */
    CacheState requested;
    bool stat_open;           /* to an oplock (R1): stat opens get no oplock; they may get a lease */
    bool others;              /* another open of the file is not a stat open, or has (had) an oplock or
                               * a lease of another key: no W (Samba's disallow_write_lease) */
    bool plain_oplock_held;   /* a plain oplock is in force: a lease gets no H */
    bool h_lease_held;        /* a lease with H of another key: an oplock request gets nothing */
    bool no_level2;           /* the client lacks level II oplocks: R and RH alone become nothing */
} OplockAsk;

CacheState oplock_grant(const OplockAsk *a);

/* After an acknowledgement to `acked` of a lease break that must end at
 * `required`: the next break to send, if any (Samba breaks in steps, as
 * Windows does: smbtorture lease.breaking3).  Returns false when `acked` is
 * already low enough. */
bool lease_next_step(CacheState acked, CacheState required, OplockBreak *next);

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
