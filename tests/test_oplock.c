/* The oplock and lease state machine as a table: every held level or lease
 * state against every trigger, with the break, acknowledgement, wait and
 * grant that OPLOCKS.md gives (rule numbers in the comments). */
#include <glib.h>

#include "oplock.h"

enum { R = CACHE_R, H = CACHE_H, W = CACHE_W };
#define RH (R | H)
#define RW (R | W)
#define RWH (R | W | H)

/* Triggers of the table.  "own" ones come from the holder's own key. */
typedef enum {
    OPEN, OPEN_OVERWRITE, OPEN_SHARE_CONFLICT, OPEN_STAT, READ_OTHER, WRITE_OTHER, WRITE_OWN, LOCK_OTHER,
    LOCK_OWN_ALONE, LOCK_OWN_WITH_OTHERS, N_TRIGGERS
} Trig;

static const char *const trig_names[] = { "open", "overwrite", "share-conflict", "stat-open", "read-other",
                                          "write-other", "write-own", "lock-other", "lock-own-alone",
                                          "lock-own-others" };

typedef struct {
    bool lease;
    CacheState held;
    Trig trig;
    bool notify;
    CacheState to;
    bool ack, wait;
} Row;

/* P: plain oplock, L: lease. */
#define P(held, trig, notify, to, ack, wait) { false, held, trig, notify, to, ack, wait }
#define L(held, trig, notify, to, ack, wait) { true, held, trig, notify, to, ack, wait }
#define NB(lease, held, trig) { lease, held, trig, false, held, false, false } /* no break */

static const Row table[] = {
    /* NONE holds nothing: nothing to break */
    NB(false, 0, OPEN), NB(false, 0, OPEN_OVERWRITE), NB(false, 0, OPEN_SHARE_CONFLICT), NB(false, 0, OPEN_STAT),
    NB(false, 0, READ_OTHER), NB(false, 0, WRITE_OTHER), NB(false, 0, WRITE_OWN), NB(false, 0, LOCK_OTHER),
    NB(false, 0, LOCK_OWN_ALONE), NB(false, 0, LOCK_OWN_WITH_OTHERS),
    /* LEVEL_II */
    NB(false, R, OPEN),                                /* R3: a plain open leaves level II alone */
    P(R, OPEN_OVERWRITE, true, 0, false, false),       /* R3: overwrite -> NONE, no ack, no wait */
    NB(false, R, OPEN_SHARE_CONFLICT),                 /* nothing to break: immediate violation */
    NB(false, R, OPEN_STAT),                           /* R1 */
    NB(false, R, READ_OTHER),                          /* R11 */
    P(R, WRITE_OTHER, true, 0, false, false),          /* R10 */
    P(R, WRITE_OWN, true, 0, false, false),            /* R10: the writer's own level II too (batch1) */
    P(R, LOCK_OTHER, true, 0, false, false),           /* R12 */
    NB(false, R, LOCK_OWN_ALONE),                      /* brl2 */
    P(R, LOCK_OWN_WITH_OTHERS, true, 0, false, false), /* brl1, brl3 */
    /* EXCLUSIVE */
    P(RW, OPEN, true, R, true, true),                  /* R2: -> LEVEL_II, ack, the opener waits */
    P(RW, OPEN_OVERWRITE, true, 0, true, true),        /* R2: -> NONE */
    NB(false, RW, OPEN_SHARE_CONFLICT),                /* R6: no break, immediate violation */
    NB(false, RW, OPEN_STAT),                          /* R1 */
    P(RW, READ_OTHER, true, R, true, true),            /* R11 */
    P(RW, WRITE_OTHER, true, 0, true, true),           /* R10 */
    NB(false, RW, WRITE_OWN),                          /* batch21 */
    P(RW, LOCK_OTHER, true, 0, true, true),            /* R12 */
    NB(false, RW, LOCK_OWN_ALONE), NB(false, RW, LOCK_OWN_WITH_OTHERS),
    /* BATCH */
    P(RWH, OPEN, true, R, true, true),                 /* R2 */
    P(RWH, OPEN_OVERWRITE, true, 0, true, true),       /* R2 */
    P(RWH, OPEN_SHARE_CONFLICT, true, R, true, true),  /* R7: handle caching broken first, then re-checked */
    NB(false, RWH, OPEN_STAT),                         /* R1 */
    P(RWH, READ_OTHER, true, R, true, true),           /* R11 */
    P(RWH, WRITE_OTHER, true, 0, true, true),          /* R10 */
    NB(false, RWH, WRITE_OWN),
    P(RWH, LOCK_OTHER, true, 0, true, true),           /* R12: Level1/Batch wait */
    NB(false, RWH, LOCK_OWN_ALONE), NB(false, RWH, LOCK_OWN_WITH_OTHERS),
    /* lease R */
    NB(true, R, OPEN),                                 /* R4 table */
    L(R, OPEN_OVERWRITE, true, 0, false, false),       /* no ack: R -> none (B5) */
    NB(true, R, OPEN_SHARE_CONFLICT), NB(true, R, OPEN_STAT), NB(true, R, READ_OTHER),
    L(R, WRITE_OTHER, true, 0, false, false),          /* R10 */
    NB(true, R, WRITE_OWN),                            /* lease.nobreakself */
    L(R, LOCK_OTHER, true, 0, false, false),           /* R12 */
    NB(true, R, LOCK_OWN_ALONE), NB(true, R, LOCK_OWN_WITH_OTHERS),
    /* lease RH */
    NB(true, RH, OPEN),                                /* R4 */
    L(RH, OPEN_OVERWRITE, true, 0, true, false),       /* B7: RH overwritten: ack, but no wait (breaking4) */
    L(RH, OPEN_SHARE_CONFLICT, true, R, true, true),   /* R7, B7: H broken, the opener waits */
    NB(true, RH, OPEN_STAT), NB(true, RH, READ_OTHER), /* R11 */
    L(RH, WRITE_OTHER, true, 0, true, false),          /* R10: ack, the write goes on */
    NB(true, RH, WRITE_OWN),
    L(RH, LOCK_OTHER, true, 0, true, false),           /* R12 */
    NB(true, RH, LOCK_OWN_ALONE), NB(true, RH, LOCK_OWN_WITH_OTHERS),
    /* lease RW */
    L(RW, OPEN, true, R, true, true),                  /* R4 */
    L(RW, OPEN_OVERWRITE, true, 0, true, true),
    NB(true, RW, OPEN_SHARE_CONFLICT),                 /* no H to give up */
    NB(true, RW, OPEN_STAT),
    L(RW, READ_OTHER, true, R, true, true),            /* R11 */
    L(RW, WRITE_OTHER, true, 0, true, true),           /* R10 */
    NB(true, RW, WRITE_OWN),
    L(RW, LOCK_OTHER, true, 0, true, true),            /* R12 */
    NB(true, RW, LOCK_OWN_ALONE), NB(true, RW, LOCK_OWN_WITH_OTHERS),
    /* lease RWH */
    L(RWH, OPEN, true, RH, true, true),                /* R4 */
    L(RWH, OPEN_OVERWRITE, true, 0, true, true),
    L(RWH, OPEN_SHARE_CONFLICT, true, RW, true, true), /* R7: RWH -> RW, wait */
    NB(true, RWH, OPEN_STAT),                          /* R1, lease.statopen4 */
    L(RWH, READ_OTHER, true, RH, true, true),          /* R11 */
    L(RWH, WRITE_OTHER, true, 0, true, true),          /* R10 */
    NB(true, RWH, WRITE_OWN),
    L(RWH, LOCK_OTHER, true, 0, true, false),          /* R12: ack, the lock proceeds */
    NB(true, RWH, LOCK_OWN_ALONE), NB(true, RWH, LOCK_OWN_WITH_OTHERS),
};

static OplockCause cause_of(Trig t, bool lease_holder)
{
    OplockCause c = { .key = 2, .lease = lease_holder, .access = 0x3 /* read and write data */ };
    switch (t) {
    case OPEN: c.trigger = TRIGGER_OPEN; break;
    case OPEN_OVERWRITE: c.trigger = TRIGGER_OPEN, c.overwrite = true; break;
    case OPEN_SHARE_CONFLICT: c.trigger = TRIGGER_OPEN, c.sharing_violation = true; break;
    case OPEN_STAT: c.trigger = TRIGGER_OPEN, c.access = 0x80 | 0x100000; break; /* attributes, synchronize */
    case READ_OTHER: c.trigger = TRIGGER_READ; break;
    case WRITE_OTHER: c.trigger = TRIGGER_WRITE; break;
    case WRITE_OWN: c.trigger = TRIGGER_WRITE, c.key = 1; break;
    case LOCK_OTHER: c.trigger = TRIGGER_LOCK, c.other_opens = true; break;
    case LOCK_OWN_ALONE: c.trigger = TRIGGER_LOCK, c.key = 1; break;
    case LOCK_OWN_WITH_OTHERS: c.trigger = TRIGGER_LOCK, c.key = 1, c.other_opens = true; break;
    default: g_assert_not_reached();
    }
    return c;
}

static void test_table(void)
{
    /* every (holder, trigger) pair is in the table exactly once */
    int seen[2][8][N_TRIGGERS] = { { { 0 } } };
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        const Row *r = &table[i];
        seen[r->lease][r->held][r->trig]++;
        OplockHolder h = { r->lease, 1, r->held, false, false };
        OplockCause c = cause_of(r->trig, r->lease);
        OplockBreak b = oplock_break_for(&h, &c);
        if (b.notify != r->notify || b.to != r->to || b.ack != r->ack || b.wait != r->wait)
            g_error("%s %s / %s: got notify=%d to=%s ack=%d wait=%d, expected notify=%d to=%s ack=%d wait=%d",
                    r->lease ? "lease" : "oplock", oplock_state_name(r->lease, r->held), trig_names[r->trig],
                    b.notify, oplock_state_name(r->lease, b.to), b.ack, b.wait, r->notify,
                    oplock_state_name(r->lease, r->to), r->ack, r->wait);
    }
    static const CacheState plain[] = { 0, R, RW, RWH }, leases[] = { R, RH, RW, RWH };
    for (int t = 0; t < N_TRIGGERS; t++) {
        for (size_t i = 0; i < 4; i++) {
            g_assert_cmpint(seen[0][plain[i]][t], ==, 1);
            g_assert_cmpint(seen[1][leases[i]][t], ==, 1);
        }
    }
}

/* B6: a holder already breaking gets no second notification; an opener
 * that would need a break waits for the one under way. */
static void test_break_in_progress(void)
{
    OplockHolder h = { true, 1, RWH, true, false };
    OplockCause c = cause_of(OPEN, true);
    OplockBreak b = oplock_break_for(&h, &c);
    g_assert_false(b.notify);
    g_assert_true(b.extend);
    g_assert_true(b.wait);
    g_assert_cmpint(b.to, ==, RH);
    /* an overwriting open during the break: it must now end at none, and
     * the open waits (lease.breaking3) */
    c.overwrite = true;
    b = oplock_break_for(&h, &c);
    g_assert_false(b.notify);
    g_assert_true(b.extend);
    g_assert_true(b.wait);
    g_assert_cmpint(b.to, ==, 0);
    c.overwrite = false;
    /* RH while breaking (H must go) and an overwrite that needs no H: tried
     * again after waiting, it still waits for the break under way (B6,
     * Samba's !first_open_attempt); first time round, only if H is in the
     * delay mask */
    h.state = RH;
    c.overwrite = true;
    b = oplock_break_for(&h, &c);
    g_assert_false(b.wait);
    c.retry = true;
    b = oplock_break_for(&h, &c);
    g_assert_true(b.wait);
    c.overwrite = c.retry = false;
    h.state = RWH;
    /* the same lease key: no break at all */
    c.key = 1;
    b = oplock_break_for(&h, &c);
    g_assert_false(b.notify);
    g_assert_false(b.wait);
    /* breaking to RH, the holder acked RH; another open of another key finds
     * nothing more to take (RH stays, breaking3's second step needs a
     * conflicting open of its own) */
    h.state = RH;
    h.breaking = false;
    c.key = 3;
    b = oplock_break_for(&h, &c);
    g_assert_false(b.notify);
}

/* R4, R5: what the new open is granted after its breaks. */
static void test_grant(void)
{
    struct {
        bool lease;
        CacheState req;
        bool stat, others, plain, hlease, no_level2;
        CacheState want;
    } g[] = {
        { false, RWH, false, false, false, false, false, RWH }, /* alone: BATCH (batch7 after the holder closed) */
        { false, RWH, false, true, false, false, false, R },    /* R5: another open: LEVEL_II */
        { false, RW, false, true, false, false, false, R },     /* exclusive2 */
        { false, R, false, true, false, false, false, R },
        { false, RWH, false, true, false, true, false, 0 },     /* R4: next to an RH/RWH lease: no oplock */
        { true, RWH, false, true, false, false, false, RH },    /* R4 table: B asked RWH -> RH */
        { true, RW, false, true, false, false, false, R },      /* B asked RW -> R */
        { true, RWH, false, true, true, false, false, R },      /* lease next to a plain oplock: R */
        { true, H, false, false, false, false, false, 0 },      /* lease.request: H alone -> none */
        { true, W, false, false, false, false, false, 0 },
        { true, H | W, false, false, false, false, false, 0 },
        { true, RWH, false, false, false, false, false, RWH },
        { false, RWH, true, false, false, false, false, 0 },    /* R1: a stat open gets no oplock (batch8) */
        { true, RWH, true, false, false, false, false, RWH },   /* ... but a lease it may (Samba: "they can get leases") */
        { false, RWH, false, true, false, false, true, 0 },     /* R5: level II, but the client takes none */
        { false, RWH, false, false, false, false, true, RWH },  /* alone it keeps write caching */
        { true, RH, false, false, false, false, true, 0 },      /* R and RH alone are level II to such a client */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(g); i++) {
        OplockAsk a = { g[i].lease, g[i].req, g[i].stat, g[i].others, g[i].plain, g[i].hlease, g[i].no_level2 };
        g_assert_cmpint(oplock_grant(&a), ==, g[i].want);
    }
}

/* R8: an open with DELETE access takes the H of other keys' leases first,
 * and waits (lease.unlink); a plain batch oplock is left alone (batch3's
 * unlink with share RWD). */
static void test_delete_access(void)
{
    OplockHolder h = { true, 1, RH, false, false };
    OplockCause c = { .trigger = TRIGGER_OPEN, .key = 2, .access = 0x10000 };
    OplockBreak b = oplock_break_for(&h, &c);
    g_assert_true(b.notify);
    g_assert_cmpint(b.to, ==, R);
    g_assert_true(b.ack);
    g_assert_true(b.wait);
    h.state = R; /* nothing left to take */
    b = oplock_break_for(&h, &c);
    g_assert_false(b.notify);
    OplockHolder o = { false, 1, R, false, false };
    b = oplock_break_for(&o, &c);
    g_assert_false(b.notify);
    /* with an overwrite as well: H first (RH -> R, acknowledged, waited
     * for), and R only when it is tried again (R -> none, no ack) */
    h.state = RH;
    c.overwrite = true;
    b = oplock_break_for(&h, &c);
    g_assert_cmpint(b.to, ==, R);
    g_assert_true(b.ack);
    g_assert_true(b.wait);
    h.state = R;
    c.retry = true;
    b = oplock_break_for(&h, &c);
    g_assert_true(b.notify);
    g_assert_cmpint(b.to, ==, 0);
    g_assert_false(b.ack);
    g_assert_false(b.wait);
}

/* R5: a holder whose client takes no level II is broken to NONE where others go to LEVEL_II. */
static void test_no_level2(void)
{
    OplockHolder h = { false, 1, RWH, false, true };
    OplockCause c = cause_of(OPEN, false);
    OplockBreak b = oplock_break_for(&h, &c);
    g_assert_true(b.notify);
    g_assert_cmpint(b.to, ==, 0);
    g_assert_true(b.ack);
    c = cause_of(READ_OTHER, false);
    b = oplock_break_for(&h, &c);
    g_assert_cmpint(b.to, ==, 0);
}

/* R13: a change of size breaks as a write does. */
static void test_set_size(void)
{
    OplockHolder h = { false, 1, R, false, false };
    OplockCause c = { .trigger = TRIGGER_SETSIZE, .key = 2 };
    OplockBreak b = oplock_break_for(&h, &c);
    g_assert_true(b.notify);
    g_assert_cmpint(b.to, ==, 0);
    g_assert_false(b.ack);
    h.state = RWH;
    b = oplock_break_for(&h, &c);
    g_assert_true(b.ack);
    g_assert_true(b.wait);
}

/* B6, lease.breaking3: after an acknowledgement a lease that must go lower
 * breaks again in steps: RH -> R (acknowledged), then R -> none (not). */
static void test_steps(void)
{
    OplockBreak n;
    g_assert_true(lease_next_step(RH, 0, &n));
    g_assert_cmpint(n.to, ==, R);
    g_assert_true(n.ack);
    g_assert_true(lease_next_step(R, 0, &n));
    g_assert_cmpint(n.to, ==, 0);
    g_assert_false(n.ack);
    g_assert_true(lease_next_step(RW, R, &n));
    g_assert_cmpint(n.to, ==, R);
    g_assert_true(n.ack);
    g_assert_false(lease_next_step(RH, RH, &n));
    g_assert_false(lease_next_step(0, 0, &n));
}

static void test_stat_open(void)
{
    g_assert_true(oplock_is_stat_open(0x80, false));              /* FILE_READ_ATTRIBUTES */
    g_assert_true(oplock_is_stat_open(0x80 | 0x100000, false));   /* + SYNCHRONIZE */
    g_assert_false(oplock_is_stat_open(0x20000, false));          /* READ_CONTROL breaks a batch (statopen1) */
    g_assert_true(oplock_is_stat_open(0x20000, true));            /* but not a lease (statopen4) */
    g_assert_false(oplock_is_stat_open(0x1, false));              /* FILE_READ_DATA */
    g_assert_false(oplock_is_stat_open(0, false));
}

/* B2, B4, B5: acknowledgements. */
static void test_acks(void)
{
    CacheState r = 99;
    g_assert_cmpuint(oplock_check_ack(true, true, R, OPLOCK_LEVEL_II, &r), ==, STATUS_SUCCESS);
    g_assert_cmpint(r, ==, R);
    g_assert_cmpuint(oplock_check_ack(true, true, R, OPLOCK_LEVEL_NONE, &r), ==, STATUS_SUCCESS);
    g_assert_cmpint(r, ==, 0);
    g_assert_cmpuint(oplock_check_ack(true, true, 0, OPLOCK_LEVEL_II, &r), ==, STATUS_SUCCESS);
    g_assert_cmpint(r, ==, 0); /* the break was to NONE */
    g_assert_cmpuint(oplock_check_ack(true, false, 0, OPLOCK_LEVEL_NONE, &r), ==, STATUS_INVALID_OPLOCK_PROTOCOL);
    g_assert_cmpuint(oplock_check_ack(false, true, R, OPLOCK_LEVEL_II, &r), ==, STATUS_INVALID_OPLOCK_PROTOCOL);
    g_assert_cmpuint(oplock_check_ack(true, true, R, OPLOCK_LEVEL_BATCH, &r), ==, STATUS_INVALID_PARAMETER);
    g_assert_cmpuint(lease_check_ack(true, true, RH, RH, &r), ==, STATUS_SUCCESS);
    g_assert_cmpint(r, ==, RH);
    g_assert_cmpuint(lease_check_ack(true, true, RH, 0, &r), ==, STATUS_SUCCESS); /* breaking6 */
    g_assert_cmpint(r, ==, 0);
    g_assert_cmpuint(lease_check_ack(true, true, RH, RWH, &r), ==, STATUS_REQUEST_NOT_ACCEPTED); /* breaking2 */
    g_assert_cmpuint(lease_check_ack(false, true, RH, RH, &r), ==, STATUS_UNSUCCESSFUL);
    g_assert_cmpuint(lease_check_ack(true, false, 0, 0, &r), ==, STATUS_UNSUCCESSFUL); /* breaking5 */
}

static void test_names(void)
{
    g_assert_cmpstr(oplock_state_name(false, RWH), ==, "BATCH");
    g_assert_cmpstr(oplock_state_name(false, RW), ==, "EXCLUSIVE");
    g_assert_cmpstr(oplock_state_name(false, R), ==, "LEVEL_II");
    g_assert_cmpstr(oplock_state_name(false, 0), ==, "NONE");
    g_assert_cmpstr(oplock_state_name(true, RH), ==, "RH");
    g_assert_cmpstr(oplock_state_name(true, 0), ==, "NONE");
    g_assert_cmpint(oplock_state_level(RH), ==, OPLOCK_LEVEL_II);
    g_assert_cmpint(oplock_level_state(OPLOCK_LEVEL_BATCH), ==, RWH);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/oplock/table", test_table);
    g_test_add_func("/oplock/break-in-progress", test_break_in_progress);
    g_test_add_func("/oplock/grant", test_grant);
    g_test_add_func("/oplock/stat-open", test_stat_open);
    g_test_add_func("/oplock/delete-access", test_delete_access);
    g_test_add_func("/oplock/no-level2", test_no_level2);
    g_test_add_func("/oplock/set-size", test_set_size);
    g_test_add_func("/oplock/steps", test_steps);
    g_test_add_func("/oplock/acks", test_acks);
    g_test_add_func("/oplock/names", test_names);
    return g_test_run();
}
