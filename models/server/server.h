/* server: an SMB2-like file server on a node.
 *
 * It listens on port 445 (each offer gets a fresh endpoint through
 * ClientEventConnect), and keeps connections, sessions, tree connects,
 * opens, byte-range locks, file contents as write versions per byte range,
 * and the oplock and lease state of every open (models/oplock.h) with the
 * break flow: notifications, deferred operations answered STATUS_PENDING
 * and completed when the holders acknowledge, close or time out
 * (MS-SMB2 3.3.6.1).  Each request is served after a service time drawn
 * from the server's distribution. */
#ifndef RDRSIM_SERVER_H
#define RDRSIM_SERVER_H

#include "dist.h"
#include "coherence.h"
#include "smb.h"

typedef struct SmbServer SmbServer;

typedef struct {
    uint16_t min_dialect;       /* e.g. 0x0210: clients offering only older ones get STATUS_NOT_SUPPORTED */
    uint16_t max_dialect;
    bool multi_credentials;     /* a client may hold sessions of several users */
    SimTime session_expiry;     /* 0: sessions never expire */
    SimTime break_timeout;      /* oplock/lease break acknowledgement time-out (35 s) */
    SimTime interim_delay;      /* how long a waiting request waits before its STATUS_PENDING interim (B8) */
    Dist service;               /* service time of each request */
    bool no_smb;                /* it does not speak SMB: nothing listens on port 445 */
} ServerParams;

SmbServer *server_new(Tdi *tdi, SmbWire *wire, Sim *sim, Trace *trace, NetNode *node, const ServerParams *p,
                      uint64_t seed);
void server_free(SmbServer *s);

/* The WebDAV service (models/server/dav.c) on `port`, on the same shares
 * and files. */
typedef struct HttpWire HttpWire;
void server_enable_webdav(SmbServer *s, HttpWire *wire, uint16_t port);
void server_add_share(SmbServer *s, const char *share);
void server_add_file(SmbServer *s, const char *share, const char *path, uint64_t size);
/* A user; workstations: NULL-terminated node names it may log on from, or NULL for any. */
void server_add_user(SmbServer *s, const char *user, const char *password, char **workstations);

/* Faults of the timeline. */
void server_restart(SmbServer *s);          /* every connection, session and open lost; files kept */
void server_delete_share(SmbServer *s, const char *share);
void server_expire_sessions(SmbServer *s);
/* For `for` from now, the OPLOCK_BREAK acknowledgements that reach the
 * server are lost before it reads them (a fault of rdrsim explore: "a break
 * acknowledgement lost"); the holder's break then times out. */
void server_lose_acks(SmbServer *s, SimTime duration);

/* The coherence oracle (models/coherence.h) the server reports its own
 * changes of files to: truncation, deletion, rename, and the writes of
 * clients that give no stamp, acknowledged as they are applied. */
void server_set_coherence(SmbServer *s, Coherence *coh);
/* The stamps of a file's contents over [start, end) (Range, owned by the
 * caller), or NULL when the share or the file is gone. */
GArray *server_file_stamps(SmbServer *s, const char *share, const char *path, uint64_t start, uint64_t end);

/* Write the breaks still outstanding at the end of the run. */
void server_flush_trace(SmbServer *s);
NetNode *server_node(const SmbServer *s);

#endif
