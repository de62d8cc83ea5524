#include "oplock.h"

#define FILE_READ_ATTRIBUTES  0x00000080u
#define FILE_WRITE_ATTRIBUTES 0x00000100u
#define READ_CONTROL          0x00020000u
#define SYNCHRONIZE           0x00100000u

#define ACCESS_DELETE_BIT     0x00010000u

bool oplock_is_stat_open(uint32_t desired_access, bool lease_holder)
{
    uint32_t stat = FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE;
    if (lease_holder)
        stat |= READ_CONTROL; /* R1: Samba's is_lease_stat_open; lease.statopen4 */
    return desired_access != 0 && (desired_access & ~stat) == 0;
}

/* The break an open causes: OPLOCKS.md section 7, Samba's
 * delay_for_oplock_fn, which agrees with IFS-CREATE on every case R1-R7
 * lists; R8 for an open with DELETE access. */
static OplockBreak on_open(const OplockHolder *h, const OplockCause *c)
{
    OplockBreak b = { false, false, h->state, false, false };
    /* R1: stat opens break nothing (an overwrite is no stat open: it
     * truncates); a lease does not break its own key. */
    if ((!c->overwrite && oplock_is_stat_open(c->access, h->lease)) || (h->lease && c->lease && h->key == c->key))
        return b;
    /* The delay mask: what the holder must give up before the open may go
     * on.  R8: an open with DELETE access (an unlink, a rename's source)
     * takes the handle caching of other keys' leases first, since handles
     * cached open would keep the delete from happening (smbtorture
     * lease.unlink: RH -> R, acknowledged, before the unlink proceeds; the
     * H-only break Windows' file systems ask for with FsRtlOplockBreakH). */
    CacheState delay = c->sharing_violation ? CACHE_H : CACHE_W;
    if (h->lease && (c->access & ACCESS_DELETE_BIT) && (h->state & CACHE_H))
        delay |= CACHE_H;
    CacheState to = h->state & (CacheState)~delay;
    /* R2, R3: an overwriting open breaks to none, unless H must go first:
     * then R goes in a second step, after the acknowledgement (Samba's
     * will_overwrite rule; the issue's "RH to R, then R to none"). */
    if (c->overwrite && !(delay & CACHE_H))
        to = 0;
    if (to == h->state) {
        /* Nothing to remove (R3, R4, R6: an exclusive oplock holds no H,
         * so a sharing violation breaks nothing).  A lease break already
         * under way must still be waited for (B6). */
        b.wait = h->lease && h->breaking;
        return b;
    }
    if (!h->lease)
        to &= CACHE_R; /* plain oplocks go to LEVEL_II or NONE only */
    if (!h->lease && h->no_level2)
        to = 0;        /* R5: no level II for a client without it */
    b.to = to;
    b.ack = (h->state & (CACHE_W | CACHE_H)) != 0; /* B4, B5 */
    b.wait = (h->state & delay) != 0 ||               /* B7 */
             (h->lease && h->breaking && c->retry);   /* B6: a retry waits for the break under way */
    b.notify = !h->breaking; /* B6: one notification until it is acknowledged ... */
    b.extend = h->breaking;  /* ... which must then end lower */
    return b;
}

/* R10 write, R11 read, R12 lock (IFS-WRITE, IFS-READ, IFS-LOCK). */
static OplockBreak on_io(const OplockHolder *h, const OplockCause *c)
{
    OplockBreak b = { false, false, h->state, false, false };
    bool own = h->key == c->key;
    CacheState s = h->state;
    if (s == 0)
        return b;
    switch (c->trigger) {
    case TRIGGER_READ:
        /* Only write caching is lost, and only to another key. */
        if (own || !(s & CACHE_W))
            return b;
        b.to = s & (CacheState)~CACHE_W;
        if (!h->lease)
            b.to &= h->no_level2 ? 0 : CACHE_R; /* EXCLUSIVE and BATCH go to LEVEL_II (R5) */
        b.ack = true;
        b.wait = true;
        break;
    case TRIGGER_WRITE:
    case TRIGGER_SETSIZE: /* R13: end-of-file and allocation size break as a write (IFS-WRITE) */
        if (own && h->lease)
            return b; /* lease.nobreakself: the writer's own lease stays */
        if (own && (s & CACHE_W))
            return b; /* batch21: the exclusive holder's own write */
        b.to = 0;
        b.ack = (s & (CACHE_W | CACHE_H)) != 0;
        b.wait = (s & CACHE_W) != 0; /* RH acknowledges, the write goes on */
        break;
    case TRIGGER_LOCK:
        if (own && (s & CACHE_W))
            return b;
        if (own && !h->lease && !c->other_opens)
            return b; /* brl2: a lone handle's lock breaks nothing */
        if (own && h->lease)
            return b;
        b.to = 0;
        b.ack = (s & (CACHE_W | CACHE_H)) != 0;
        /* EXCLUSIVE, BATCH, RW: the lock waits; an RH or RWH lease
         * acknowledges but the lock proceeds at once. */
        b.wait = (s & CACHE_W) != 0 && !(h->lease && (s & CACHE_H));
        break;
    case TRIGGER_OPEN:
        break;
    }
    b.notify = !h->breaking;
    b.extend = h->breaking;
    return b;
}

OplockBreak oplock_break_for(const OplockHolder *h, const OplockCause *c)
{
    return c->trigger == TRIGGER_OPEN ? on_open(h, c) : on_io(h, c);
}

/* Samba's delay_for_oplock "grant:" step (OPLOCKS.md section 7 step 7),
 * in its order. */
CacheState oplock_grant(const OplockAsk *a)
{
    if (!a->lease && a->stat_open)
        return 0; /* R1: exclusive4, batch8, batch9a: a stat open gets no oplock */
    CacheState s = a->requested;
    if (a->lease && (!(s & (CACHE_R | CACHE_W)) || s == CACHE_W || s == (CACHE_W | CACHE_H)))
        return 0; /* section 1, lease.request: H alone, W alone, HW get nothing */
    if (a->others)
        s &= (CacheState)~CACHE_W; /* R5 */
    if ((s & CACHE_R) && !(s & CACHE_W) && a->no_level2)
        return 0; /* R5: no level II for a client without it (Samba's allow_level2) */
    if (a->lease && a->plain_oplock_held)
        s &= (CacheState)~CACHE_H; /* R4: Samba strips H when a plain oplock exists */
    if (!a->lease && a->h_lease_held)
        return 0; /* R4: no oplock next to an H lease */
    if (!a->lease)
        s = oplock_level_state(oplock_state_level(s)); /* RH comes back as LEVEL_II */
    return s;
}

bool lease_next_step(CacheState acked, CacheState required, OplockBreak *next)
{
    if (!(acked & (CacheState)~required))
        return false;
    /* Samba's downgrade_lease: from a state with W or H the next break
     * keeps R and needs an acknowledgement; from R alone it goes to the
     * required state at once, with none. */
    bool wh = (acked & (CACHE_W | CACHE_H)) != 0;
    *next = (OplockBreak){ .notify = true, .to = wh ? (CacheState)(required | CACHE_R) : required, .ack = wh };
    return true;
}

CacheState oplock_level_state(OplockLevel level)
{
    switch (level) {
    case OPLOCK_LEVEL_II: return CACHE_R;
    case OPLOCK_LEVEL_EXCLUSIVE: return CACHE_R | CACHE_W;
    case OPLOCK_LEVEL_BATCH: return CACHE_R | CACHE_W | CACHE_H;
    default: return 0;
    }
}

OplockLevel oplock_state_level(CacheState s)
{
    if (s == (CACHE_R | CACHE_W | CACHE_H))
        return OPLOCK_LEVEL_BATCH;
    if ((s & (CACHE_R | CACHE_W)) == (CACHE_R | CACHE_W))
        return OPLOCK_LEVEL_EXCLUSIVE;
    if (s & CACHE_R)
        return OPLOCK_LEVEL_II; /* R and RH (section 1: RH/R map back to level II) */
    return OPLOCK_LEVEL_NONE;
}

const char *oplock_state_name(bool lease, CacheState s)
{
    static const char *const leases[8] = { "NONE", "R", "H", "RH", "W", "RW", "HW", "RWH" };
    if (lease)
        return leases[s & 7];
    switch (oplock_state_level(s)) {
    case OPLOCK_LEVEL_II: return "LEVEL_II";
    case OPLOCK_LEVEL_EXCLUSIVE: return "EXCLUSIVE";
    case OPLOCK_LEVEL_BATCH: return "BATCH";
    default: return "NONE";
    }
}

NTSTATUS oplock_check_ack(bool breaking, bool ack_required, CacheState to, OplockLevel acked, CacheState *result)
{
    /* B4: a break that needs no acknowledgement (LEVEL_II -> NONE), or none
     * outstanding at all: Samba and smbtorture levelii500 say
     * STATUS_INVALID_OPLOCK_PROTOCOL (MS-SMB2 3.3.5.22.1 names
     * STATUS_INVALID_DEVICE_STATE for the latter; we follow the traces). */
    if (!breaking || !ack_required)
        return STATUS_INVALID_OPLOCK_PROTOCOL;
    if (acked != OPLOCK_LEVEL_NONE && acked != OPLOCK_LEVEL_II)
        return STATUS_INVALID_PARAMETER; /* B2, Samba smb2_break.c */
    *result = (to == 0 || acked == OPLOCK_LEVEL_NONE) ? 0 : CACHE_R;
    return STATUS_SUCCESS;
}

NTSTATUS lease_check_ack(bool breaking, bool ack_required, CacheState to, CacheState acked, CacheState *result)
{
    /* B5: a second acknowledgement, one after the time-out, or one to a
     * break that needed none: STATUS_UNSUCCESSFUL. */
    if (!breaking || !ack_required)
        return STATUS_UNSUCCESSFUL;
    if ((acked & (CacheState)~to) != 0)
        return STATUS_REQUEST_NOT_ACCEPTED; /* not a subset of what was offered */
    *result = acked; /* a lower state than offered is accepted (breaking6) */
    return STATUS_SUCCESS;
}
