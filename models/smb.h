/* smb: an SMB2-like protocol at message granularity, both sides.
 *
 * A message is a struct carried as one TDI record; its size on the wire is
 * the size of the real record (the 4-byte framing of direct TCP transport
 * and the SMB2 message as MS-SMB2 2.2 lays it out, models/smb2wire.h), so
 * bandwidth and loss act on it as on the real thing, and a capture
 * (rdrsim pcap) shows those very bytes.  Every
 * message sent is traced in `smb_messages`. */
#ifndef RDRSIM_SMB_H
#define RDRSIM_SMB_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "ntstatus.h"
#include "ranges.h"
#include "oplock.h"
#include "tdi.h"

/* Tables keyed by a 64-bit id (sessions, trees, opens, message ids) keep
 * the id in the key pointer itself, with g_direct_hash: no key to
 * allocate, none to follow on a lookup.  For ids below 2^32 the hash is
 * g_int64_hash's, so tables iterate in the order they always did. */
G_STATIC_ASSERT(sizeof(gpointer) >= sizeof(uint64_t));
#define SMB_ID_KEY(id) ((gpointer)(uintptr_t)(id))

/* SMB2 command codes (MS-SMB2 2.2.1.2). */
typedef enum {
    SMB2_NEGOTIATE = 0x00, SMB2_SESSION_SETUP = 0x01, SMB2_LOGOFF = 0x02, SMB2_TREE_CONNECT = 0x03,
    SMB2_TREE_DISCONNECT = 0x04, SMB2_CREATE = 0x05, SMB2_CLOSE = 0x06, SMB2_FLUSH = 0x07, SMB2_READ = 0x08,
    SMB2_WRITE = 0x09, SMB2_LOCK = 0x0A, SMB2_IOCTL = 0x0B, SMB2_CANCEL = 0x0C, SMB2_ECHO = 0x0D,
    SMB2_QUERY_DIRECTORY = 0x0E, SMB2_CHANGE_NOTIFY = 0x0F, SMB2_QUERY_INFO = 0x10, SMB2_SET_INFO = 0x11,
    SMB2_OPLOCK_BREAK = 0x12, SMB2_N_COMMANDS
} SmbCommand;

#define SMB2_UNSOLICITED UINT64_MAX /* MessageId of a break notification (B1) */

/* Create dispositions (MS-SMB2 2.2.13). */
typedef enum {
    DISP_SUPERSEDE = 0, DISP_OPEN = 1, DISP_CREATE = 2, DISP_OPEN_IF = 3, DISP_OVERWRITE = 4, DISP_OVERWRITE_IF = 5,
} CreateDisposition;

/* Access and share bits the model uses (MS-SMB2 2.2.13.1, 2.2.13). */
#define ACCESS_READ_DATA   0x00000001u
#define ACCESS_WRITE_DATA  0x00000002u
#define ACCESS_APPEND_DATA 0x00000004u
#define ACCESS_READ_ATTR   0x00000080u
#define ACCESS_WRITE_ATTR  0x00000100u
#define ACCESS_DELETE      0x00010000u
#define ACCESS_READ_CTRL   0x00020000u
#define ACCESS_SYNCHRONIZE 0x00100000u
#define SHARE_READ   0x1u
#define SHARE_WRITE  0x2u
#define SHARE_DELETE 0x4u

/* The messages in flight of a world: a record's tag names its message. */
typedef struct SmbWire SmbWire;

typedef struct {
    /* What a receiver reads first, then what freeing it reads together with
     * the offset and length that I/O reads: a message waits out a link's
     * latency on the wire and comes back out of cache, so the fields that
     * every message's receipt and release read sit in two lines, not four. */
    SmbWire *wire;                /* whose pool the message goes back to */
    SmbCommand cmd;
    NTSTATUS status;
    uint64_t msg_id;
    uint64_t session, tree, file; /* ids */
    int64_t t_sent;               /* when it was sent */
    bool response, async;
    uint64_t async_id;            /* interim and final responses of a request that went async (MS-SMB2 3.3.4.2) */
    /* requests */
    uint16_t dialect;             /* NEGOTIATE: highest offered; response: chosen */
    uint16_t min_dialect;         /* NEGOTIATE: lowest offered */
    uint32_t capabilities;        /* NEGOTIATE, FSCTL_VALIDATE_NEGOTIATE_INFO */
    bool no_level2;               /* NEGOTIATE: the client takes no level II oplocks.  SMB2 has no such
                                   * capability: this is SMB1's CAP_LEVEL_II_OPLOCKS (MS-CIFS 2.2.4.52.2)
                                   * left out, which Samba's smbd checks before it breaks to or grants
                                   * level II (OPLOCKS.md R5); rdrsim carries it so that a scenario can
                                   * state such a client.  No bytes on the wire. */
    uint32_t ctl_code;            /* IOCTL */
    uint64_t preauth;             /* 3.1.1 SESSION_SETUP response: what the server's signature is keyed
                                   * with, its pre-authentication integrity value (MS-SMB2 3.3.5.5) */
    char *user, *password, *share, *path, *new_path;
    /* The coherence oracle's view (models/coherence.h); not on the wire,
     * no bytes of their own. */
    GArray *stamps;               /* READ response: Range of the stamps of the bytes returned */
    uint64_t stamp;               /* WRITE: the application write the data comes from (0: none given) */
    uint64_t offset, length;      /* READ, WRITE, LOCK */
    uint32_t access, share_access, disposition;
    bool delete_on_close;
    bool directory;               /* CREATE: FILE_DIRECTORY_FILE, the open of a directory */
    OplockLevel oplock;           /* CREATE: requested / granted; OPLOCK_BREAK: level */
    uint64_t lease_key;
    CacheState lease_state;       /* CREATE with a lease, lease break and ack; a break's NewLeaseState */
    CacheState lease_from;        /* lease break: CurrentLeaseState (MS-SMB2 2.2.23.2) */
    bool lease_ctx;               /* CREATE: a lease context came (state 0 asks for no caching, unlike none) */
    uint8_t lease_version;        /* CREATE: 1 (SMB2_CREATE_REQUEST_LEASE) or 2 (..._LEASE_V2, 2.2.13.2.10) */
    bool parent_set;              /* v2: SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET */
    uint64_t parent_lease_key;
    uint16_t epoch;               /* v2 CREATE request and response, lease break (NewEpoch) */
    uint32_t create_action;       /* CREATE response: FILE_SUPERSEDED 0, FILE_OPENED 1, FILE_CREATED 2,
                                   * FILE_OVERWRITTEN 3 (MS-SMB2 2.2.14) */
    uint32_t attributes;          /* SET_INFO FileBasicInformation: FileAttributes (MS-FSCC 2.6) */
    bool lease_break_in_progress; /* CREATE response: SMB2_LEASE_FLAG_BREAK_IN_PROGRESS */
    bool ack_required;            /* lease break notification */
    bool exclusive, unlock, fail_immediately; /* LOCK */
    uint64_t version;             /* READ response: the write version of the first byte read */
    uint32_t info_class;          /* QUERY_INFO / SET_INFO: with info_type 0 rdrsim's file classes (INFO_*
                                   * below), else MS-SMB2's FileInfoClass */
    uint8_t info_type;            /* QUERY_INFO / SET_INFO: 0, or SMB2_0_INFO_* (MS-SMB2 2.2.37) */
} SmbMsg;

const char *smb_command_name(SmbCommand c);
#define SMB2_DIALECT_202 0x0202
#define SMB2_DIALECT_210 0x0210
#define SMB2_DIALECT_300 0x0300
#define SMB2_DIALECT_302 0x0302
#define SMB2_DIALECT_311 0x0311
/* rdrsim's file information classes of SET_INFO and QUERY_INFO with
 * info_type 0 (MS-FSCC 2.4: FileBasicInformation, FileEndOfFileInformation,
 * FileRenameInformation, FileDispositionInformation, FileAllocationInformation). */
enum { INFO_BASIC = 0, INFO_EOF = 1, INFO_RENAME = 2, INFO_DISPOSITION = 3, INFO_ALLOCATION = 4 };
/* CreateAction of a CREATE response (MS-SMB2 2.2.14). */
enum { FILE_SUPERSEDED = 0, FILE_OPENED = 1, FILE_CREATED = 2, FILE_OVERWRITTEN = 3 };

/* MS-SMB2 2.2.37 InfoType, and the MS-FSCC classes the redirector asks for. */
#define SMB2_0_INFO_FILE 1
#define SMB2_0_INFO_FILESYSTEM 2
#define SMB2_0_INFO_SECURITY 3
#define SMB2_0_INFO_QUOTA 4
#define FILE_FULL_EA_INFORMATION 15
#define FILE_QUOTA_INFORMATION 32
#define FILE_FS_VOLUME_INFORMATION 1
#define FILE_FS_CONTROL_INFORMATION 6

/* MS-SMB2 2.2.31: the IOCTL that validates a 3.0 / 3.0.2 negotiation. */
#define FSCTL_VALIDATE_NEGOTIATE_INFO 0x00140204u
/* MS-SMB2 2.2.3: capabilities a client offers (DFS, leasing, large MTU,
 * multi-channel, persistent handles, directory leasing, encryption). */
#define SMB2_CLIENT_CAPABILITIES 0x7fu
/* The access bits a share mode governs (MS-FSA 2.1.5.1.2.1). */
#define ACCESS_EXECUTE 0x00000020u
/* MAXIMUM_ALLOWED: the server grants all it can (MS-SMB2 3.3.5.9). */
#define ACCESS_MAXIMUM_ALLOWED 0x02000000u
#define ACCESS_FILE_ALL 0x001f01ffu

/* What a NEGOTIATE offered, as one value: highest and lowest dialect and
 * the capabilities.  Client and server each compute it over the request
 * as they saw it; they differ only when something on the path rewrote it
 * (the pre-authentication integrity of 3.1.1, MS-SMB2 3.2.5.2, and the
 * fields FSCTL_VALIDATE_NEGOTIATE_INFO compares, 3.3.5.15.12). */
uint64_t smb_negotiate_digest(const SmbMsg *negotiate);

/* A man in the middle of a link (`tamper=` on it): NEGOTIATE requests
 * crossing it lose their newest dialect (TAMPER_DIALECT, a downgrade
 * attack) or a capability (TAMPER_CAPABILITIES). */
enum { TAMPER_NONE, TAMPER_DIALECT, TAMPER_CAPABILITIES };
void smb_tamper(SmbMsg *negotiate, int how);

/* A dialect written as in a scenario ("2.0.2", "2.1", "3.0", "3.0.2",
 * "3.1.1") as its DialectRevision value; 0 for anything else. */
uint16_t smb_dialect(const char *name);
/* An access mask as a scenario writes it: a number (0x12019f), names
 * joined by | or , (read_data|write_attributes|synchronize: every bit of
 * MS-SMB2 2.2.13.1.1 by its name in lower case, without FILE_), or the
 * letters r (read_data), w (write_data), d (delete), a (read_attributes),
 * c (read_control).  False when it is none of these. */
bool smb_parse_access(const char *s, uint32_t *out);
/* Bytes of the record carrying the message on the wire (models/smb2wire.h:
 * the 4-byte transport header and the SMB2 message as MS-SMB2 2.2 lays it
 * out); `server` names the server. */
uint32_t smb_msg_bytes(const SmbMsg *m, const char *server);

/* A zeroed message from the wire's pool; it must be freed before the wire. */
SmbMsg *smb_msg_new(SmbWire *w, SmbCommand cmd);
void smb_msg_free(SmbMsg *m);

/* net (may be NULL): where the wire looks for links that tamper. */
SmbWire *smb_wire_new(Trace *trace, Sim *sim, Net *net);
void smb_wire_free(SmbWire *w);

/* Send `m` (ownership passes) over `ep` to `peer`, tracing it as sent by
 * `node`.  Returns the TDI_SEND status. */
/* The MessageId of the message a record's tag names (TdiLabel). */
int64_t smb_wire_label(void *ctx, uint64_t tag, bool *has);
NTSTATUS smb_send(SmbWire *w, TdiEndpoint *ep, NetNode *node, NetNode *peer, SmbMsg *m);
/* The message a received record carries; the caller owns it. */
SmbMsg *smb_receive(SmbWire *w, uint64_t tag);

/* A capture of the messages (rdrsim pcap): called for each message sent,
 * with the tag its record carries in the stream (tdi_set_capture) and the
 * server's name, just before the record enters the stream. */
typedef void (*SmbCapture)(void *ctx, uint64_t tag, const SmbMsg *m, const char *server);
void smb_wire_set_capture(SmbWire *w, SmbCapture fn, void *ctx);

#endif
