#include "world.h"

#include <glib.h>
#include <string.h>

#include "net.h"
#include "ping.h"
#include "smb.h"
#include "smbsetup.h"
#include "tdi.h"
#include "tdiapp.h"
#include "waits.h"

#define NO_BOUNDS 0, 0

/* Every node has a transport; these keys set it (models/tdi/tdi.h). */
#define TRANSPORT_KEYS \
    { "rto_initial", PT_TIME, 0, "1s", "retransmission time-out before the first RTT sample (RFC 6298 2.1)", 1e3, 3600e9 }, \
    { "rto_min", PT_TIME, 0, "300ms", "lower bound of the retransmission time-out (RFC 6298 2.4; Windows' MinRto; 1s when congestion=none)", 1e3, 3600e9 }, \
    { "rto_max", PT_TIME, 0, "60s", "upper bound of the retransmission time-out (RFC 6298 2.5)", 1e3, 86400e9 }, \
    { "rto_granularity", PT_TIME, 0, "1ms", "clock granularity G of RFC 6298", 0, 1e9 }, \
    { "syn_retries", PT_INT, 0, "2", "SYN retransmissions before TDI_CONNECT fails with STATUS_IO_TIMEOUT", 0, 100 }, \
    { "data_retries", PT_INT, 0, "5", "retransmissions of one segment before the connection is lost", 0, 100 }, \
    { "disconnect_timeout", PT_TIME, 0, "900ms", "time-out of a TDI_DISCONNECT that gives none (500ms when congestion=none)", 1, 3600e9 }, \
    { "accept_timeout", PT_TIME, 0, "500ms", "how long an offer awaits TDI_ACCEPT after a TDI_QUERY_ACCEPT listen", 1, 3600e9 }, \
    { "delayed_ack", PT_TIME, 0, "40ms", "longest an ACK waits to ride on data, every second segment acknowledged at once (RFC 9293 3.8.6.3; Windows' DelayedAckTimeout; 200ms when congestion=none); 0: every segment at once", 0, 500e6 }, \
    { "window", PT_SIZE, 0, "16MiB", "the receive window it advertises (auto-tuning as a fixed value, window scaling per RFC 7323); with congestion=none the fixed send window of each connection (64KiB then)", 1, 1073741824 }, \
    { "congestion", PT_STRING, 0, "cubic", "congestion control: cubic (RFC 9438, Windows' default), newreno (RFC 5681, 6582), or none (the fixed window and defaults of rdrsim before congestion control)", NO_BOUNDS }, \
    { "sack", PT_BOOL, 0, "yes", "offer selective acknowledgements (RFC 2018) and recover losses with them (RFC 6675); used when both ends offer them", NO_BOUNDS }, \
    { "initial_window", PT_INT, 0, "10", "initial congestion window in segments (RFC 6928; Windows' InitialCongestionWindow)", 1, 1000 }, \
    { "release", PT_STRING, 0, "orderly", "TDI_DISCONNECT(RELEASE) on this transport: orderly (the four-step controlled disconnect) or abort (a transport without controlled disconnects terminates all activity, TDI_DISCONNECT)", NO_BOUNDS },

static const ParamSpec node_keys[] = {
    TRANSPORT_KEYS
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

/* A client node: its transport, and the redirectors its RDBSS runs, in
 * provider order (models/rdbss/rdbss.h). */
static const ParamSpec client_keys[] = {
    TRANSPORT_KEYS
    { "redirectors", PT_LIST, 0, "''", "redirectors it runs, in provider order (e.g. smb,dav)", NO_BOUNDS },
    { "flush_interval", PT_TIME, 0, "1s", "the lazy writer writes cached data back this long after the first dirty write",
      1e6, 3600e9 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec redirector_keys[] = {
    { "kind", PT_STRING, 0, "smb", "the protocol it speaks: smb (models/smbrdr.h) or webdav (HTTP/1.1, models/davrdr.h)", NO_BOUNDS },
    { "lock_timeout", PT_TIME, 0, "3600s", "webdav: the Timeout its LOCKs ask for (RFC 4918 10.7)", 1e9, 1e15 },
    { "null", PT_LIST, 0, "''", "MINIRDR_DISPATCH routines it leaves NULL (e.g. MRxGetConnectionId)", NO_BOUNDS },
    { "timeout", PT_TIME, 0, "30s", "a request unanswered this long fails with STATUS_IO_TIMEOUT; 0: never", 0, 1e18 },
    { "delayed_close", PT_BOOL, 0, "yes", "keep a SRV_OPEN open after its last close (RDBSS delayed close)", NO_BOUNDS },
    { "connection_ids", PT_BOOL, 0, "yes", "MRxGetConnectionId separates users into their own V_NET_ROOTs", NO_BOUNDS },
    { "scavenger", PT_TIME, 0, "10s", "ScavengerTimeout: delayed closes and unused connections finalize after it", 1e9, 1e15 },
    { "port", PT_INT, 0, "445", "the server port its connections go to (webdav: 80 unless given)", 1, 65535 },
    { "dialect", PT_STRING, 0, "3.1.1", "the newest dialect its NEGOTIATE offers", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

/* A stochastic application on a client machine (models/loadgen.h). */
static const ParamSpec workload_keys[] = {
    { "share", PT_STRING, 0, NULL, "the share it works on: \\\\srv\\share", NO_BOUNDS },
    { "user", PT_STRING, 0, "''", "user name", NO_BOUNDS },
    { "password", PT_STRING, 0, "''", "password", NO_BOUNDS },
    { "rate", PT_REAL, 0, "10", "operations a second, Poisson arrivals; 0: think times instead", 0, 1e6 },
    { "think", PT_DIST, QTY_TIME, "exponential(100ms)", "time between operations when rate=0", NO_BOUNDS },
    { "mix", PT_LIST, 0, "read:6,write:3,lock:1", "operations and their weights: read write lock flush query open close",
      NO_BOUNDS },
    { "size", PT_DIST, QTY_SIZE, "4KiB", "bytes of each read and write (a distribution)", NO_BOUNDS },
    { "files", PT_INT, 0, "100", "files it chooses among (wl\\f1.dat ...), made on the server", 1, 1e6 },
    { "file_size", PT_SIZE, 0, "1MiB", "size of each of those files", 1, 1e12 },
    { "zipf", PT_REAL, 0, "0", "popularity: Zipf exponent over the files; 0: uniform", 0, 10 },
    { "oplock", PT_STRING, 0, "batch", "oplock its opens ask for: none, level2, exclusive, batch", NO_BOUNDS },
    { "max_open", PT_INT, 0, "4", "files open at once; the least recently used is closed to make room", 1, 1000 },
    { "session", PT_TIME, 0, "0", "a session's length: then every handle closes and the drive goes; 0: one session",
      0, 1e18 },
    { "start", PT_TIME, 0, "0", "when it begins", 0, 1e18 },
    { "stop", PT_TIME, 0, "0", "when it stops issuing operations; 0: never", 0, 1e18 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

/* A server node: its transport, and the file server on it (models/server/server.h). */
static const ParamSpec server_keys[] = {
    TRANSPORT_KEYS
    { "min_dialect", PT_STRING, 0, "2.0.2", "oldest dialect served: 2.0.2, 2.1, 3.0, 3.0.2, 3.1.1", NO_BOUNDS },
    { "max_dialect", PT_STRING, 0, "3.1.1", "newest dialect served", NO_BOUNDS },
    { "multi_credentials", PT_BOOL, 0, "yes", "a client may hold sessions of several users", NO_BOUNDS },
    { "session_expiry", PT_TIME, 0, "0", "sessions expire after this long; 0: never", 0, 1e18 },
    { "break_timeout", PT_TIME, 0, "35s", "oplock/lease break acknowledgement time-out", 1, 1e18 },
    { "interim_delay", PT_TIME, 0, "1ms", "a request waiting for a break gets its STATUS_PENDING interim response "
                                          "after this long (B8)", 0, 1e18 },
    { "service", PT_DIST, QTY_TIME, "0", "service time of each request (a distribution)", NO_BOUNDS },
    { "services", PT_LIST, 0, "smb", "protocols it serves its shares with: smb (port 445), webdav (HTTP/1.1 with RFC 4918, port webdav_port), or both", NO_BOUNDS },
    { "webdav_port", PT_INT, 0, "80", "the port its WebDAV service listens on", 1, 65535 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec share_keys[] = {
    { "server", PT_STRING, 0, NULL, "the server that offers it", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec file_keys[] = {
    { "share", PT_STRING, 0, NULL, "the share it is on", NO_BOUNDS },
    { "path", PT_STRING, 0, "''", "its name in the share (default: the declaration's name)", NO_BOUNDS },
    { "size", PT_SIZE, 0, "0", "initial size", 0, 1e15 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec user_keys[] = {
    { "server", PT_STRING, 0, NULL, "the server that knows the user", NO_BOUNDS },
    { "password", PT_STRING, 0, "''", "its password", NO_BOUNDS },
    { "workstations", PT_LIST, 0, "''", "nodes it may log on from (default: any)", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec smbclient_keys[] = {
    { "node", PT_STRING, 0, NULL, "the client node it runs on", NO_BOUNDS },
    { "server", PT_STRING, 0, NULL, "the server it talks to", NO_BOUNDS },
    { "on_break", PT_STRING, 0, "ack", "answer to a break: ack, ack_none, close, ignore, ack_always", NO_BOUNDS },
    { "level2", PT_BOOL, 0, "yes", "it takes level II oplocks (no: its NEGOTIATE says it does not, R5)", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec endpoint_keys[] = {
    { "node", PT_STRING, 0, NULL, "the node the endpoint is on", NO_BOUNDS },
    { "port", PT_INT, 0, "445", "port of the transport address it is associated with", 0, 65535 },
    { "receive_handler", PT_BOOL, 0, "yes", "register ClientEventReceive (else data waits for receives)", NO_BOUNDS },
    { "disconnect_handler", PT_BOOL, 0, "yes", "register ClientEventDisconnect", NO_BOUNDS },
    { "connect_handler", PT_BOOL, 0, "no", "accept offers to its address through ClientEventConnect", NO_BOUNDS },
    { "confirm", PT_BOOL, 0, "yes", "confirm a release the peer starts with a release of its own", NO_BOUNDS },
    { "confirm_after", PT_TIME, 0, "0", "how long after learning of the peer's release it confirms", 0, 1e18 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec link_keys[] = {
    { "latency", PT_TIME, 0, "0", "one-way propagation delay", 0, 3600e9 },
    { "jitter", PT_DIST, QTY_TIME, "0", "added to the latency of each packet (a distribution)", NO_BOUNDS },
    { "bandwidth", PT_RATE, 0, "0", "bit/s of each direction; 0: no serialization delay", 0, 1e15 },
    { "queue", PT_SIZE, 0, "1MiB", "bytes that may wait for the wire; 0: no limit", 0, 1e12 },
    { "mtu", PT_SIZE, 0, "1500", "largest packet in bytes", 68, 65535 },
    { "loss", PT_PROB, 0, "0", "Bernoulli loss per packet (when ge_p is 0)", NO_BOUNDS },
    { "ge_p", PT_PROB, 0, "0", "Gilbert-Elliott: P(good -> bad) per packet; > 0 turns the model on", NO_BOUNDS },
    { "ge_r", PT_PROB, 0, "0.5", "Gilbert-Elliott: P(bad -> good) per packet", NO_BOUNDS },
    { "ge_good_loss", PT_PROB, 0, "0", "Gilbert-Elliott: loss in the good state", NO_BOUNDS },
    { "ge_bad_loss", PT_PROB, 0, "1", "Gilbert-Elliott: loss in the bad state", NO_BOUNDS },
    { "duplicate", PT_PROB, 0, "0", "P(a packet arrives twice)", NO_BOUNDS },
    { "reorder", PT_PROB, 0, "0", "P(a packet is held back so that later ones overtake it)", NO_BOUNDS },
    { "reorder_delay", PT_TIME, 0, "1ms", "how long a reordered packet is held back", 0, 3600e9 },
    { "tamper", PT_STRING, 0, "none", "a man in the middle rewriting SMB NEGOTIATE requests: none, negotiate (strips the newest dialect offered: a downgrade) or capabilities (clears one)", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec router_keys[] = {
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const DeclSpec decls[] = {
    { "node", 1, true, false, node_keys, "a network node" },
    { "router", 1, true, false, router_keys, "a node that forwards packets along the shortest paths and runs nothing of its own" },
    { "client", 1, true, false, client_keys, "a client machine and its RDBSS" },
    { "server", 1, true, false, server_keys, "a server machine and its file server" },
    { "link", 2, false, false, link_keys, "a full-duplex link between two nodes" },
    { "endpoint", 1, false, false, endpoint_keys, "a TDI connection endpoint of a raw transport client" },
    { "share", 1, false, false, share_keys, "a share of a server" },
    { "file", 1, false, false, file_keys, "a file on a share" },
    { "user", 1, false, false, user_keys, "a user a server knows" },
    { "smbclient", 1, false, false, smbclient_keys, "a scripted SMB client on a client node" },
    { "redirector", 1, false, false, redirector_keys, "a network mini-redirector (SMB or WebDAV) clients can run" },
    { "workload", 1, false, false, workload_keys, "a stochastic application on a client (workload c[*] ...)" },
    { NULL, 0, false, false, NULL, NULL },
};

static const ParamSpec down_keys[] = {
    { "for", PT_TIME, 0, "0", "come back up after this long; 0: stay down", 0, 1e18 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec crash_keys[] = {
    { "for", PT_TIME, 0, "1s", "how long it is down before it reboots", 1, 1e18 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec lose_keys[] = {
    { "for", PT_TIME, 0, "1s", "how long acknowledgements are lost", 1, 1e18 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec no_keys[] = {
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec ping_keys[] = {
    { "count", PT_INT, 0, "1", "echo requests to send", 1, 1e8 },
    { "interval", PT_TIME, 0, "1s", "time between requests", 0, 1e18 },
    { "bytes", PT_SIZE, 0, "64", "size of each request and reply", 1, 65535 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec listen_keys[] = {
    { "query_accept", PT_BOOL, 0, "no", "TDI_QUERY_ACCEPT: offers wait for accept or rejection", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec connect_keys[] = {
    { "port", PT_INT, 0, "445", "port of the remote address", 0, 65535 },
    { "timeout", PT_TIME, 0, "0", "time-out of the request; 0: none", 0, 1e18 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec send_keys[] = {
    { "bytes", PT_SIZE, 0, "1KiB", "size of each send (one record)", 1, 4294967295.0 },
    { "count", PT_INT, 0, "1", "sends to issue", 1, 1e8 },
    { "interval", PT_TIME, 0, "0", "time between them", 0, 1e18 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec receive_keys[] = {
    { "bytes", PT_SIZE, 0, "64KiB", "buffer size of each receive", 1, 4294967295.0 },
    { "count", PT_INT, 0, "1", "receives to post", 1, 1e8 },
    { "interval", PT_TIME, 0, "0", "time between them", 0, 1e18 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec disconnect_keys[] = {
    { "mode", PT_STRING, 0, "release", "release (TDI_DISCONNECT_RELEASE) or abort (TDI_DISCONNECT_ABORT)", NO_BOUNDS },
    { "timeout", PT_TIME, 0, "0", "time-out of the request; 0: none, the transport's default", 0, 1e18 },
    { "data", PT_SIZE, 0, "0", "bytes of disconnect data for the peer", 0, 65535 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec negotiate_keys[] = {
    { "dialect", PT_STRING, 0, "3.1.1", "the newest dialect offered: 2.0.2, 2.1, 3.0, 3.0.2, 3.1.1", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec session_keys[] = {
    { "user", PT_STRING, 0, NULL, "user name", NO_BOUNDS },
    { "password", PT_STRING, 0, "''", "password", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec tree_keys[] = {
    { "share", PT_STRING, 0, NULL, "share name", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec create_keys[] = {
    { "path", PT_STRING, 0, NULL, "file name in the share", NO_BOUNDS },
    { "access", PT_STRING, 0, "rw", "desired access: a mask (0x12019f), names joined by | (read_data, write_data, "
                                    "append_data, read_ea, write_ea, execute, delete_child, read_attributes, "
                                    "write_attributes, delete, read_control, write_dac, write_owner, synchronize, "
                                    "maximum_allowed), or letters r w d a c", NO_BOUNDS },
    { "share", PT_STRING, 0, "rwd", "share mode letters: r, w, d ('' for none)", NO_BOUNDS },
    { "disposition", PT_STRING, 0, "open_if", "supersede, open, create, open_if, overwrite, overwrite_if", NO_BOUNDS },
    { "oplock", PT_STRING, 0, "none", "none, level2, exclusive, batch", NO_BOUNDS },
    { "lease", PT_STRING, 0, "''", "a lease context instead: R, RH, RW, RWH, or none (a context asking for no "
                                   "caching, unlike no context)", NO_BOUNDS },
    { "lease_key", PT_INT, 0, "1", "the client's lease key", 0, 0 },
    { "lease_version", PT_INT, 0, "1", "1: SMB2_CREATE_REQUEST_LEASE; 2: ..._LEASE_V2 (3.x dialects)", 1, 2 },
    { "parent_key", PT_INT, 0, "0", "v2: the parent directory's lease key (0: none)", 0, 0 },
    { "epoch", PT_INT, 0, "0", "v2: the epoch the client sends", 0, 65535 },
    { "directory", PT_BOOL, 0, "no", "open or create a directory (FILE_DIRECTORY_FILE)", NO_BOUNDS },
    { "delete_on_close", PT_BOOL, 0, "no", "delete the file when its last handle closes", NO_BOUNDS },
    { "on_break", PT_STRING, 0, "''", "this handle's answer to a break (default: the client's on_break)", NO_BOUNDS },
    { "ack_level", PT_STRING, 0, "''", "acknowledge to this level (none, level2, a lease state) instead of the offered",
      NO_BOUNDS },
    { "ack_delay", PT_TIME, 0, "0", "answer a break this long after it arrives", 0, 1e18 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec set_size_keys[] = {
    { "length", PT_SIZE, 0, NULL, "the new end of file or allocation size", 0, 1e15 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec set_basic_keys[] = {
    { "attributes", PT_INT, 0, "128", "FileAttributes (MS-FSCC 2.6; 128: FILE_ATTRIBUTE_NORMAL)", 0, 4294967295.0 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec io_keys[] = {
    { "offset", PT_SIZE, 0, "0", "byte offset", 0, 1e15 },
    { "length", PT_SIZE, 0, "4KiB", "bytes", 0, 16777216 },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec lock_keys[] = {
    { "offset", PT_SIZE, 0, "0", "byte offset", 0, 1e15 },
    { "length", PT_SIZE, 0, "1", "bytes", 0, 1e15 },
    { "exclusive", PT_BOOL, 0, "yes", "an exclusive lock (else shared)", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec rename_keys[] = {
    { "to", PT_STRING, 0, NULL, "the new name", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec ack_keys[] = {
    { "level", PT_STRING, 0, "none", "level acknowledged: none, level2 (oplock) or a lease state", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ParamSpec use_keys[] = {
    { "user", PT_STRING, 0, "''", "user name", NO_BOUNDS },
    { "password", PT_STRING, 0, "''", "password", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec unuse_keys[] = {
    { "force", PT_BOOL, 0, "no", "delete even with open files (they are orphaned)", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec open_keys[] = {
    { "access", PT_STRING, 0, "rw", "letters: r read, w write, d delete, a attributes only", NO_BOUNDS },
    { "share", PT_STRING, 0, "rwd", "share mode letters: r, w, d ('' for none)", NO_BOUNDS },
    { "disposition", PT_STRING, 0, "open_if", "supersede, open, create, open_if, overwrite, overwrite_if", NO_BOUNDS },
    { "oplock", PT_STRING, 0, "batch", "oplock asked of the server: none, level2, exclusive, batch", NO_BOUNDS },
    { "delete_on_close", PT_BOOL, 0, "no", "delete the file with its last handle", NO_BOUNDS },
    { "directory", PT_BOOL, 0, "no", "open or make a directory (FILE_DIRECTORY_FILE; create makes it: SMB CREATE, WebDAV MKCOL)", NO_BOUNDS },
    { "user", PT_STRING, 0, "''", "credentials of a UNC open (default: the drive's)", NO_BOUNDS },
    { "password", PT_STRING, 0, "''", "password", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};
static const ParamSpec info_keys[] = {
    { "what", PT_STRING, 0, NULL, "query_file, set_eof, rename, delete, query_dir, notify, ioctl, fsctl, query_ea, "
                                  "set_ea, query_sd, set_sd, query_quota, set_quota, query_volume, set_volume", NO_BOUNDS },
    { "length", PT_SIZE, 0, "0", "set_eof: the new size", 0, 1e15 },
    { "to", PT_STRING, 0, "''", "rename: the new name", NO_BOUNDS },
    { NULL, 0, 0, NULL, NULL, NO_BOUNDS },
};

static const ActionSpec actions[] = {
    { "node", "use", 2, use_keys, "NODE use X: \\\\srv\\share: map a drive (net use)" },
    { "node", "unuse", 1, unuse_keys, "NODE unuse X:: delete the connection (net use X: /delete)" },
    { "node", "open", 2, open_keys, "NODE open H PATH: open a file (UNC or drive path) as handle H" },
    { "node", "read", 1, io_keys, "read through handle H" },
    { "node", "write", 1, io_keys, "write through handle H" },
    { "node", "lock", 1, lock_keys, "lock a byte range through handle H" },
    { "node", "unlock", 1, lock_keys, "unlock a byte range" },
    { "node", "flush", 1, no_keys, "flush handle H" },
    { "node", "info", 1, info_keys, "query or set information through handle H" },
    { "node", "close", 1, no_keys, "close handle H (cleanup and close)" },
    { "node", "stop", 1, no_keys, "NODE stop REDIRECTOR: stop a redirector (MRxStop)" },
    { "smbclient", "negotiate", 0, negotiate_keys, "connect (TDI) and NEGOTIATE" },
    { "smbclient", "session", 0, session_keys, "SESSION_SETUP" },
    { "smbclient", "logoff", 0, no_keys, "LOGOFF" },
    { "smbclient", "tree", 0, tree_keys, "TREE_CONNECT" },
    { "smbclient", "tree_disconnect", 0, no_keys, "TREE_DISCONNECT" },
    { "smbclient", "echo", 0, no_keys, "ECHO" },
    { "smbclient", "dir", 0, no_keys, "QUERY_DIRECTORY" },
    { "smbclient", "notify", 0, no_keys, "CHANGE_NOTIFY: completes when a file of the share is created, deleted or renamed" },
    { "smbclient", "ioctl", 0, no_keys, "IOCTL" },
    { "smbclient", "create", 1, create_keys, "smbclient S create HANDLE path=...: CREATE" },
    { "smbclient", "read", 1, io_keys, "READ through a handle" },
    { "smbclient", "write", 1, io_keys, "WRITE through a handle" },
    { "smbclient", "lock", 1, lock_keys, "LOCK a byte range" },
    { "smbclient", "unlock", 1, lock_keys, "unlock a byte range" },
    { "smbclient", "close", 1, no_keys, "CLOSE" },
    { "smbclient", "flush", 1, no_keys, "FLUSH" },
    { "smbclient", "query", 1, no_keys, "QUERY_INFO" },
    { "smbclient", "rename", 1, rename_keys, "SET_INFO rename" },
    { "smbclient", "delete", 1, no_keys, "SET_INFO FileDispositionInformation: delete pending at once" },
    { "smbclient", "set_eof", 1, set_size_keys, "SET_INFO FileEndOfFileInformation" },
    { "smbclient", "set_alloc", 1, set_size_keys, "SET_INFO FileAllocationInformation" },
    { "smbclient", "set_basic", 1, set_basic_keys, "SET_INFO FileBasicInformation (attributes)" },
    { "smbclient", "ack", 1, ack_keys, "acknowledge a break by hand (OPLOCK_BREAK)" },
    { "server", "restart", 0, no_keys, "the server restarts: connections, sessions and opens lost" },
    { "server", "expire_sessions", 0, no_keys, "every session of the server expires" },
    { "server", "lose_acks", 0, lose_keys, "break acknowledgements reaching the server are lost, for=T" },
    { "share", "delete", 0, no_keys, "the share is deleted" },
    { "link", "down", 0, down_keys, "take the link down (for=T: and up again)" },
    { "link", "up", 0, no_keys, "bring the link up" },
    { "link", NULL, 0, NULL, "change link parameters: link A B loss=20%" },
    { "node", "ping", 1, ping_keys, "NODE ping PEER: echo requests over the link to PEER" },
    { "node", "crash", 0, crash_keys, "NODE crash: its links carry nothing for=T, then it reboots with no connection" },
    { "endpoint", "listen", 0, listen_keys, "TDI_LISTEN" },
    { "endpoint", "accept", 0, no_keys, "TDI_ACCEPT of the offer a TDI_QUERY_ACCEPT listen got" },
    { "endpoint", "connect", 1, connect_keys, "endpoint E connect PEER: TDI_CONNECT to the address PEER:port" },
    { "endpoint", "send", 0, send_keys, "TDI_SEND, count times" },
    { "endpoint", "receive", 0, receive_keys, "TDI_RECEIVE, count times" },
    { "endpoint", "disconnect", 0, disconnect_keys, "TDI_DISCONNECT (release or abort); rejects an offer" },
    { NULL, NULL, 0, NULL, NULL },
};

static const Schema schema = { decls, actions };

const Schema *world_schema(void) { return &schema; }

struct World {
    const Scenario *sc;
    Sim *sim;
    Net *net;
    PingApp *ping;
    Tdi *tdi;
    TdiApp *tdiapp;
    SmbSetup *smb;
    Waits *waits;         /* the events `after` actions wait for */
    GArray *waiting;      /* Waiting: one per `after` action */
    GPtrArray *crashes;   /* Crash*, freed with the world (a reboot may still be pending at the end) */
};

/* An `after` action, waiting for its event. */
typedef struct {
    World *w;
    guint index;
} Waiting;

static bool is_ping(const Action *a)
{
    return a->spec->verb && strcmp(a->spec->verb, "ping") == 0;
}

/* `tamper=` of a link (smb.h); -1 for a word that is none of them. */
static int tamper_mode(const char *s)
{
    return strcmp(s, "none") == 0 ? TAMPER_NONE
           : strcmp(s, "negotiate") == 0 ? TAMPER_DIALECT
           : strcmp(s, "capabilities") == 0 ? TAMPER_CAPABILITIES
                                             : -1;
}

static void check_tamper(Scenario *sc, const ParamValue *v, int line, int col)
{
    if (v->s && tamper_mode(v->s) < 0)
        scenario_error(sc, v->line ? v->line : line, v->col ? v->col : col,
                       "tamper=%s: expected none, negotiate or capabilities", v->s);
}

/* ---- which nodes the topology joins (links, through routers) ---- */

/* The scenario's nodes and links as a network of their own (no run): what
 * net_path_exists answers during a run, `check` answers before it. */
static Net *topo_new(const Scenario *sc, Sim *sim)
{
    Net *net = net_new(sim, NULL, 0);
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        if (d->spec->is_node)
            net_node_set_router(net_add_node(net, d->id), tdiapp_is_router(d));
    }
    LinkParams lp = { .mtu = 1500 };
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        if (strcmp(d->spec->kind, "link") != 0)
            continue;
        NetNode *x = net_find_node(net, d->names[0]), *y = net_find_node(net, d->names[1]);
        if (x && y && x != y && !net_find_link(net, x, y))
            net_add_link(net, x, y, &lp);
    }
    return net;
}

/* A statement that needs nodes a and b to reach each other; an error at
 * (line, col) when nothing joins them. */
static void need_path(Scenario *sc, Net *t, const char *a, const char *b, int line, int col)
{
    NetNode *na = net_find_node(t, a), *nb = net_find_node(t, b);
    if (!na || !nb || net_path_exists(t, na, nb))
        return;
    scenario_error(sc, line, col, "no path joins %s and %s: add a link, or a router that links to both", a, b);
}

/* The server a UNC name (\\server\share...) names, or NULL. */
static char *unc_server(const char *s)
{
    if (!s || s[0] != '\\' || s[1] != '\\')
        return NULL;
    const char *e = strchr(s + 2, '\\');
    return e ? g_strndup(s + 2, (gsize)(e - s - 2)) : g_strdup(s + 2);
}

static const Decl *decl_node_of(Scenario *sc, const Decl *d)
{
    if (d->spec->is_node)
        return d;
    int k = decl_param_index(d->spec, "node");
    if (k >= 0 && d->values[k].s)
        return scenario_find_node(sc, d->values[k].s);
    return scenario_find_node(sc, d->id); /* workload c1 of client c1 */
}

/* Every pair of nodes a statement makes talk must be joined by links
 * (through routers): scripted SMB clients and their servers, workloads and
 * the server of their share, UNC names in actions, endpoint connects. */
static void check_paths(Scenario *sc)
{
    Sim *sim = sim_new();
    Net *t = topo_new(sc, sim);
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        const Decl *n = NULL;
        int k;
        if ((k = decl_param_index(d->spec, "server")) >= 0 && strcmp(d->spec->kind, "smbclient") == 0 &&
            (n = decl_node_of(sc, d)) && d->values[k].s)
            need_path(sc, t, n->id, d->values[k].s, d->values[k].line ? d->values[k].line : d->line,
                      d->values[k].col ? d->values[k].col : d->col);
        if ((k = decl_param_index(d->spec, "share")) >= 0 && strcmp(d->spec->kind, "workload") == 0 &&
            (n = decl_node_of(sc, d))) {
            char *srv = unc_server(d->values[k].s);
            if (srv)
                need_path(sc, t, n->id, srv, d->values[k].line ? d->values[k].line : d->line,
                          d->values[k].col ? d->values[k].col : d->col);
            g_free(srv);
        }
    }
    for (guint i = 0; i < sc->actions->len; i++) {
        Action *a = g_ptr_array_index(sc->actions, i);
        if (!a->target || !a->spec->verb)
            continue;
        const Decl *n = decl_node_of(sc, a->target);
        if (!n)
            continue;
        for (int j = 0; j < a->spec->n_args; j++) {
            char *srv = unc_server(a->args[j]);
            if (srv)
                need_path(sc, t, n->id, srv, a->line, a->arg_cols[j]);
            g_free(srv);
        }
        if (((strcmp(a->spec->subject, "endpoint") == 0 && strcmp(a->spec->verb, "connect") == 0) || is_ping(a)) &&
            a->spec->n_args > 0)
            need_path(sc, t, n->id, a->args[0], a->line, a->arg_cols[0]);
    }
    net_free(t);
    sim_free(sim);
}

void world_check(Scenario *sc)
{
    tdiapp_check(sc);
    smbsetup_check(sc);
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        if (strcmp(d->spec->kind, "link") == 0)
            check_tamper(sc, decl_param(d, "tamper"), d->line, d->col);
    }
    for (guint i = 0; i < sc->actions->len; i++) {
        Action *a = g_ptr_array_index(sc->actions, i);
        int k = a->target && !a->spec->verb && strcmp(a->spec->subject, "link") == 0
                    ? decl_param_index(a->target->spec, "tamper")
                    : -1;
        if (k >= 0 && a->changed[k])
            check_tamper(sc, &a->values[k], a->line, a->col);
    }
    for (guint i = 0; i < sc->actions->len; i++) {
        Action *a = g_ptr_array_index(sc->actions, i);
        if (!is_ping(a))
            continue;
        Decl *peer = scenario_find_node(sc, a->args[0]);
        if (!peer) {
            scenario_error(sc, a->line, a->arg_cols[0], "unknown node '%s'", a->args[0]);
            continue;
        }
        char *id = g_strdup_printf("%s-%s", a->target->id, peer->id);
        Decl *link = scenario_find_decl(sc, "link", id);
        g_free(id);
        if (!link)
            continue; /* through routers: check_paths */
        int64_t bytes = action_param(a, "bytes")->i;
        if (bytes > decl_param(link, "mtu")->i)
            scenario_error(sc, a->line, a->col, "ping of %lld bytes is larger than the link's mtu (%lld)",
                           (long long)bytes, (long long)decl_param(link, "mtu")->i);
    }
    check_paths(sc);
}

/* Link parameters from a declaration's values, or from an action's changes
 * laid over the link's current parameters. */
static void link_params_from(const DeclSpec *spec, const ParamValue *v, const bool *only, LinkParams *p)
{
    struct {
        const char *key;
        void *field;
        char type; /* t: SimTime/int64, p: double, d: Dist, m: tamper mode */
    } map[] = {
        { "latency", &p->latency, 't' },      { "jitter", &p->jitter, 'd' },
        { "bandwidth", &p->bandwidth, 't' },  { "queue", &p->queue, 't' },
        { "mtu", &p->mtu, 't' },              { "loss", &p->loss, 'p' },
        { "ge_p", &p->ge_p, 'p' },            { "ge_r", &p->ge_r, 'p' },
        { "ge_good_loss", &p->ge_good_loss, 'p' }, { "ge_bad_loss", &p->ge_bad_loss, 'p' },
        { "duplicate", &p->duplicate, 'p' },  { "reorder", &p->reorder, 'p' },
        { "reorder_delay", &p->reorder_delay, 't' }, { "tamper", &p->tamper, 'm' },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        int k = decl_param_index(spec, map[i].key);
        g_assert(k >= 0);
        if (only && !only[k])
            continue;
        if (map[i].type == 't')
            *(int64_t *)map[i].field = v[k].i;
        else if (map[i].type == 'p')
            *(double *)map[i].field = v[k].r;
        else if (map[i].type == 'm')
            *(int *)map[i].field = tamper_mode(v[k].s);
        else
            *(Dist *)map[i].field = v[k].dist; /* borrowed: net copies it */
    }
}

static NetLink *link_of(World *w, const Decl *link)
{
    return net_find_link(w->net, net_find_node(w->net, link->names[0]), net_find_node(w->net, link->names[1]));
}

static void on_link_up(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    net_link_set_up(ctx, true);
}

/* A node crash (rdrsim explore's "client crash and reboot"), as its peers
 * and its own software see it.  At the crash its transport forgets every
 * connection without a word (its clients are told as of a reset: the
 * redirector drops what it buffered, so nothing stale is served from a
 * cache of the machine that crashed), and its links carry nothing for the
 * duration; then it reboots: its links carry again, a peer that sends on an
 * old connection gets a reset, and its applications start over (their
 * handles are gone; a new open connects anew).  The node's applications and
 * redirector are not restarted as programs: what they keep is what a
 * reset connection leaves them. */
typedef struct {
    World *w;
    NetNode *node;
    GPtrArray *links; /* NetLink* it took down */
} Crash;

static void on_reboot(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Crash *c = ctx;
    for (guint i = 0; i < c->links->len; i++)
        net_link_set_up(g_ptr_array_index(c->links, i), true);
}

static void crash_free(gpointer p)
{
    Crash *c = p;
    g_ptr_array_unref(c->links);
    g_free(c);
}

static void crash(World *w, NetNode *node, SimTime for_ns)
{
    Crash *c = g_new0(Crash, 1);
    c->w = w;
    c->node = node;
    c->links = g_ptr_array_new();
    for (unsigned i = 0; i < net_link_count(w->net); i++) {
        NetLink *l = net_link_at(w->net, i);
        if ((net_link_end(l, 0) == node || net_link_end(l, 1) == node) && net_link_is_up(l)) {
            net_link_set_up(l, false);
            g_ptr_array_add(c->links, l);
        }
    }
    if (!w->crashes)
        w->crashes = g_ptr_array_new_with_free_func(crash_free);
    g_ptr_array_add(w->crashes, c);
    tdi_node_reboot(w->tdi, node);
    sim_after(w->sim, for_ns, on_reboot, c, 0);
}

/* A timeline action, run at its time. */
static void run_action(Sim *sim, void *ctx, uint64_t idx)
{
    World *w = ctx;
    const Action *a = g_ptr_array_index(w->sc->actions, idx);
    const char *verb = a->spec->verb;
    if (strcmp(a->spec->subject, "link") == 0) {
        NetLink *l = link_of(w, a->target);
        if (!verb) {
            LinkParams p = *net_link_params(l);
            link_params_from(a->target->spec, a->values, a->changed, &p);
            net_link_set_params(l, &p);
        } else if (strcmp(verb, "down") == 0) {
            net_link_set_up(l, false);
            SimTime for_ns = action_param(a, "for")->i;
            if (for_ns > 0)
                sim_after(sim, for_ns, on_link_up, l, 0);
        } else {
            net_link_set_up(l, true);
        }
        return;
    }
    if (strcmp(a->spec->subject, "node") == 0 && verb && strcmp(verb, "crash") == 0) {
        crash(w, net_find_node(w->net, a->target->id), action_param(a, "for")->i);
        return;
    }
    if (tdiapp_action(w->tdiapp, a) || smbsetup_action(w->smb, a))
        return;
    if (is_ping(a)) {
        ping_start(w->ping, net_find_node(w->net, a->target->id), net_find_node(w->net, a->args[0]),
                   action_param(a, "count")->i, action_param(a, "interval")->i,
                   (uint32_t)action_param(a, "bytes")->i);
        return;
    }
    g_error("world: no handler for action at line %d", a->line);
}

/* The event an `after` action waits for happened: it runs its delay later. */
static void event_happened(void *ctx)
{
    Waiting *x = ctx;
    const Action *a = g_ptr_array_index(x->w->sc->actions, x->index);
    sim_after(x->w->sim, a->at, run_action, x->w, x->index);
}

World *world_new(const Scenario *sc, Sim *sim, Trace *trace, uint64_t seed)
{
    World *w = g_new0(World, 1);
    w->sc = sc;
    w->sim = sim;
    w->net = net_new(sim, trace, seed);
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        if (d->spec->is_node) {
            NetNode *n = net_add_node(w->net, d->id);
            if (tdiapp_is_router(d))
                net_node_set_router(n, true);
        }
    }
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        if (strcmp(d->spec->kind, "link") != 0)
            continue;
        LinkParams p = { 0 };
        link_params_from(d->spec, d->values, NULL, &p);
        net_add_link(w->net, net_find_node(w->net, d->names[0]), net_find_node(w->net, d->names[1]), &p);
    }
    w->ping = ping_new(w->net);
    w->tdi = tdi_new(w->net);
    for (guint i = 0; i < sc->decls->len; i++) {
        Decl *d = g_ptr_array_index(sc->decls, i);
        if (!d->spec->is_node || tdiapp_is_router(d))
            continue;
        TdiParams p;
        tdiapp_node_params(d, &p);
        tdi_set_node_params(w->tdi, net_find_node(w->net, d->id), &p);
    }
    w->tdiapp = tdiapp_new(w->tdi, w->net, sc);
    w->smb = smbsetup_new(w->tdi, w->net, sc, seed);
    /* `after` actions wait for their event, the others for their time.
     * (The array is sized first: waiters point into it.) */
    guint n_after = 0;
    for (guint i = 0; i < sc->actions->len; i++)
        n_after += ((const Action *)g_ptr_array_index(sc->actions, i))->after != NULL;
    w->waits = waits_new();
    w->waiting = g_array_sized_new(FALSE, FALSE, sizeof(Waiting), n_after);
    tdiapp_set_waits(w->tdiapp, w->waits);
    smbsetup_set_waits(w->smb, w->waits);
    for (guint i = 0; i < sc->actions->len; i++) {
        const Action *a = g_ptr_array_index(sc->actions, i);
        if (!a->after) {
            sim_at(sim, a->at, run_action, w, i);
            continue;
        }
        Waiting x = { w, i };
        g_array_append_val(w->waiting, x);
        waits_on(w->waits, a->after, event_happened, &g_array_index(w->waiting, Waiting, w->waiting->len - 1));
    }
    return w;
}

void world_flush(World *w, Trace *trace)
{
    ping_write_metrics(w->ping, trace);
    tdiapp_write_metrics(w->tdiapp, trace);
    smbsetup_flush_trace(w->smb);
    tdi_flush_trace(w->tdi);
}

void world_summary(World *const *ws, int n, Trace *trace)
{
    Tdi **tdis = g_new(Tdi *, n);
    for (int i = 0; i < n; i++)
        tdis[i] = ws[i]->tdi;
    tdi_write_metrics_of(tdis, n, trace);
    g_free(tdis);
    /* Link utilisation is over the whole run, whose end is the latest of
     * its parts' (a part whose events ran out earlier ends earlier). */
    SimTime end = 0;
    for (int i = 0; i < n; i++)
        end = MAX(end, sim_now(net_sim(ws[i]->net)));
    for (int i = 0; i < n; i++)
        net_write_metrics(ws[i]->net, trace, end);
}

void world_write_metrics(World *w, Trace *trace)
{
    world_flush(w, trace);
    world_summary(&w, 1, trace);
}

int64_t world_conns(const World *w) { return tdi_conns_made(w->tdi); }

void world_free(World *w)
{
    if (!w)
        return;
    ping_free(w->ping);
    tdiapp_free(w->tdiapp);
    smbsetup_free(w->smb);
    tdi_free(w->tdi);
    net_free(w->net);
    waits_free(w->waits);
    if (w->waiting)
        g_array_unref(w->waiting);
    if (w->crashes)
        g_ptr_array_unref(w->crashes);
    g_free(w);
}

Net *world_net(const World *w) { return w->net; }
Tdi *world_tdi(const World *w) { return w->tdi; }
SmbWire *world_smb_wire(const World *w) { return w->smb ? smbsetup_wire(w->smb) : NULL; }
HttpWire *world_http_wire(const World *w) { return w->smb ? smbsetup_http(w->smb) : NULL; }
