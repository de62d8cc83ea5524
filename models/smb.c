#include "smb.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "smb2wire.h"

static const char *const names[SMB2_N_COMMANDS] = {
    "NEGOTIATE",     "SESSION_SETUP", "LOGOFF", "TREE_CONNECT",    "TREE_DISCONNECT", "CREATE",
    "CLOSE",         "FLUSH",         "READ",   "WRITE",           "LOCK",            "IOCTL",
    "CANCEL",        "ECHO",          "QUERY_DIRECTORY", "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO",
    "OPLOCK_BREAK",
};

const char *smb_command_name(SmbCommand c) { return c < SMB2_N_COMMANDS ? names[c] : "?"; }

uint16_t smb_dialect(const char *name)
{
    static const struct {
        const char *name;
        uint16_t revision;
    } ds[] = { { "2.0.2", 0x0202 }, { "2.1", 0x0210 }, { "3.0", 0x0300 }, { "3.0.2", 0x0302 }, { "3.1.1", 0x0311 } };
    for (size_t i = 0; i < G_N_ELEMENTS(ds); i++)
        if (strcmp(name, ds[i].name) == 0)
            return ds[i].revision;
    return 0;
}

uint32_t smb_msg_bytes(const SmbMsg *m, const char *server) { return smb2_wire_size(m, server); }

/* The messages in flight sit in a table of slots; a record's tag is the
 * slot's index with its generation above it.  The generation moves on when
 * the slot is emptied, so a tag whose message was taken already (received,
 * then its send failed, say) finds nothing.  A slot is one array index away
 * where a hash table keyed by tag was three cache lines at 1,000 clients
 * and more (the table held every client's messages). */
typedef struct {
    SmbMsg *m;        /* NULL: free */
    uint32_t gen;
    uint32_t next;    /* while free: the next free slot */
} Slot;

#define NO_SLOT UINT32_MAX

struct SmbWire {
    Trace *trace;
    Sim *sim;
    Net *net;
    Slot *slots;
    uint32_t n_slots, cap, free_head;
    uint32_t cmd_names[SMB2_N_COMMANDS];
    Pool msg_pool;    /* SmbMsg */
    SmbCapture capture; /* rdrsim pcap's */
    void *capture_ctx;
};

SmbMsg *smb_msg_new(SmbWire *w, SmbCommand cmd)
{
    SmbMsg *m = pool_alloc0(&w->msg_pool);
    m->wire = w;
    m->cmd = cmd;
    return m;
}

void smb_msg_free(SmbMsg *m)
{
    if (!m)
        return;
    g_free(m->user);
    g_free(m->password);
    g_free(m->share);
    g_free(m->path);
    g_free(m->new_path);
    if (m->stamps)
        g_array_unref(m->stamps);
    pool_free(&m->wire->msg_pool, m);
}

SmbWire *smb_wire_new(Trace *trace, Sim *sim, Net *net)
{
    SmbWire *w = g_new0(SmbWire, 1);
    w->trace = trace;
    w->sim = sim;
    w->net = net;
    w->free_head = NO_SLOT;
    pool_init(&w->msg_pool, sizeof(SmbMsg));
    for (int i = 0; i < SMB2_N_COMMANDS; i++)
        w->cmd_names[i] = trace_name(trace, names[i]);
    return w;
}

void smb_wire_free(SmbWire *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->n_slots; i++)
        smb_msg_free(w->slots[i].m);
    g_free(w->slots);
    pool_clear(&w->msg_pool);
    g_free(w);
}

static uint64_t slot_put(SmbWire *w, SmbMsg *m)
{
    uint32_t i = w->free_head;
    if (i != NO_SLOT) {
        w->free_head = w->slots[i].next;
    } else {
        if (w->n_slots == w->cap) {
            if (w->cap >= NO_SLOT / 2)
                g_error("smb: more than 2^31 messages in flight");
            w->cap = w->cap ? w->cap * 2 : 256;
            w->slots = g_renew(Slot, w->slots, w->cap);
        }
        i = w->n_slots++;
        w->slots[i].gen = 1;
    }
    w->slots[i].m = m;
    return (uint64_t)w->slots[i].gen << 32 | i;
}

/* The message a tag names, now out of the table; NULL when it was taken. */
static SmbMsg *slot_take(SmbWire *w, uint64_t tag)
{
    uint32_t i = (uint32_t)tag;
    if (i >= w->n_slots || w->slots[i].gen != (uint32_t)(tag >> 32) || !w->slots[i].m)
        return NULL;
    SmbMsg *m = w->slots[i].m;
    w->slots[i].m = NULL;
    w->slots[i].gen++;
    w->slots[i].next = w->free_head;
    w->free_head = i;
    return m;
}

int64_t smb_wire_label(void *ctx, uint64_t tag, bool *has)
{
    SmbWire *w = ctx;
    uint32_t i = (uint32_t)tag;
    *has = i < w->n_slots && w->slots[i].gen == (uint32_t)(tag >> 32) && w->slots[i].m;
    return *has ? (int64_t)w->slots[i].m->msg_id : -1;
}

static void on_sent(void *ctx, TdiEndpoint *ep, const TdiIo *io)
{
    (void)ep;
    SmbWire *w = ctx;
    /* A send that failed (connection gone) leaves its message behind. */
    if (io->status != STATUS_SUCCESS)
        smb_msg_free(slot_take(w, io->tag));
}

/* The rows of a message: its header and break fields, and a CREATE's
 * parameters (MS-SMB2 2.2.1.2 header Flags SERVER_TO_REDIR 0x1 and
 * ASYNC_COMMAND 0x2 are is_response and is_async; 2.2.13, 2.2.14 CREATE; 2.2.13.2.8/10 lease flags:
 * BREAK_IN_PROGRESS 0x2, PARENT_LEASE_KEY_SET 0x4). */
static void trace_message(SmbWire *w, NetNode *node, NetNode *peer, int64_t conn, const SmbMsg *m, uint32_t bytes)
{
    bool create = m->cmd == SMB2_CREATE, brk = m->cmd == SMB2_OPLOCK_BREAK;
    bool lease = (create || brk) && m->oplock == OPLOCK_LEVEL_LEASE;
    bool v2 = lease && m->lease_version == 2;
    TraceSmb t = {
        .msg_id = m->msg_id, .command = w->cmd_names[m->cmd], .status = m->status, .response = m->response,
        .async = m->async, .async_id = m->async ? (int64_t)m->async_id : -1,
        .file = m->file ? (int64_t)m->file : -1,
        .oplock = create || brk ? (int64_t)m->oplock : -1, .lease_state = lease ? m->lease_state : -1,
        .epoch = v2 || (brk && lease && m->epoch) ? m->epoch : -1,
    };
    uint32_t n = net_node_trace_id(node);
    SimTime now = sim_now(w->sim);
    trace_smb_message(w->trace, now, n, net_node_trace_id(peer), conn, &t, bytes);
    if (!create)
        return;
    TraceSmbCreate c = { -1, -1, -1, -1, -1, -1, -1, -1 };
    if (!m->response) {
        c.path = trace_name(w->trace, m->path ? m->path : "");
        c.access = m->access;
        c.share_access = m->share_access;
        c.disposition = m->disposition;
    } else if (m->status == STATUS_SUCCESS) {
        c.create_action = m->create_action;
    }
    if (lease) {
        c.lease_key = (int64_t)m->lease_key;
        c.lease_flags = (m->lease_break_in_progress ? 0x2 : 0) | (m->parent_set ? 0x4 : 0);
        if (m->parent_set)
            c.parent_lease_key = (int64_t)m->parent_lease_key;
    }
    trace_smb_create(w->trace, now, n, conn, m->msg_id, m->response, &c);
}

NTSTATUS smb_send(SmbWire *w, TdiEndpoint *ep, NetNode *node, NetNode *peer, SmbMsg *m)
{
    /* a request goes to the server; only a TREE_CONNECT request names it */
    uint32_t bytes = smb_msg_bytes(m, net_node_name(m->response ? node : peer));
    /* Below level messages, no row: nor read the nodes and connection for one. */
    if (trace_level(w->trace) >= TRACE_MESSAGES)
        trace_message(w, node, peer, tdi_endpoint_conn(ep), m, bytes);
    m->t_sent = sim_now(w->sim);
    /* A tampering link rewrites the request in flight, after its sender
     * traced what it sent. */
    if (m->cmd == SMB2_NEGOTIATE && !m->response && w->net) {
        /* on any link of its path (through routers too) */
        const LinkParams *lp;
        for (unsigned i = 0; (lp = net_path_params(w->net, node, peer, i)); i++)
            if (lp->tamper) {
                smb_tamper(m, lp->tamper);
                break;
            }
    }
    uint64_t tag = slot_put(w, m);
    if (w->capture)
        w->capture(w->capture_ctx, tag, m, net_node_name(m->response ? node : peer));
    return tdi_send(ep, bytes, tag, on_sent, w);
}

uint64_t smb_negotiate_digest(const SmbMsg *m)
{
    return (uint64_t)m->dialect << 48 | (uint64_t)m->min_dialect << 32 | m->capabilities;
}

void smb_tamper(SmbMsg *m, int how)
{
    static const uint16_t order[] = { SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300, SMB2_DIALECT_302,
                                      SMB2_DIALECT_311 };
    if (how == TAMPER_CAPABILITIES) {
        m->capabilities &= ~0x40u; /* SMB2_GLOBAL_CAP_ENCRYPTION */
        return;
    }
    for (int i = (int)G_N_ELEMENTS(order) - 1; i > 0; i--)
        if (m->dialect == order[i] && m->min_dialect < order[i]) {
            m->dialect = order[i - 1];
            return;
        }
}

SmbMsg *smb_receive(SmbWire *w, uint64_t tag) { return slot_take(w, tag); }

/* MS-SMB2 2.2.13.1.1 access bits by name, in the scenario language's
 * spelling; and the letters older scenarios use. */
static const struct {
    const char *name;
    uint32_t bit;
} access_names[] = {
    { "read_data", 0x1 },          { "write_data", 0x2 },        { "append_data", 0x4 },
    { "read_ea", 0x8 },            { "write_ea", 0x10 },         { "execute", 0x20 },
    { "delete_child", 0x40 },      { "read_attributes", 0x80 },  { "write_attributes", 0x100 },
    { "delete", 0x10000 },         { "read_control", 0x20000 },  { "write_dac", 0x40000 },
    { "write_owner", 0x80000 },    { "synchronize", 0x100000 },  { "maximum_allowed", 0x2000000 },
};

bool smb_parse_access(const char *s, uint32_t *out)
{
    *out = 0;
    if (g_ascii_isdigit(*s)) {
        char *end;
        unsigned long v = strtoul(s, &end, 0);
        if (*end || v > 0xffffffffUL)
            return false;
        *out = (uint32_t)v;
        return true;
    }
    if (strspn(s, "rwdac") == strlen(s)) { /* letters */
        for (; *s; s++)
            *out |= *s == 'r' ? ACCESS_READ_DATA : *s == 'w' ? ACCESS_WRITE_DATA : *s == 'd' ? ACCESS_DELETE
                  : *s == 'a' ? ACCESS_READ_ATTR : ACCESS_READ_CTRL;
        return true;
    }
    char **words = g_strsplit_set(s, "|,", -1);
    bool ok = true;
    for (char **w = words; *w && ok; w++) {
        ok = false;
        for (size_t i = 0; i < G_N_ELEMENTS(access_names); i++)
            if (g_ascii_strcasecmp(*w, access_names[i].name) == 0) {
                *out |= access_names[i].bit;
                ok = true;
            }
    }
    g_strfreev(words);
    return ok;
}

void smb_wire_set_capture(SmbWire *w, SmbCapture fn, void *ctx)
{
    w->capture = fn;
    w->capture_ctx = ctx;
}
