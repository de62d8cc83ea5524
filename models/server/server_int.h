/* server_int.h: what the parts of the file server share (private to
 * models/server/).  server.c keeps connections, sessions, trees and the
 * dispatch of requests; files.c the files, directories and streams of the
 * shares, share modes, CREATE, CLOSE and SET_INFO; oplocks.c the oplock
 * and lease holders, breaks, acknowledgements, time-outs and the operations
 * waiting for them; io.c READ, WRITE and LOCK.  Functions one part calls in
 * another take the srv_ prefix. */
#ifndef RDRSIM_SERVER_INT_H
#define RDRSIM_SERVER_INT_H

#include "server.h"

#include <glib.h>
#include <string.h>

#include "ilist.h"
#include "pool.h"
#include "rng.h"
#include "trace.h"


#define SMB_PORT 445

typedef struct Conn Conn;
typedef struct File File;
typedef struct Dav Dav;

typedef struct {
    char *name;
    SmbServer *srv;
    GHashTable *files; /* path -> File*: files, and named streams as "file:stream" */
    GHashTable *dirs;  /* path -> itself: the directories made by CREATE (a file's parents exist as well) */
    bool deleted;
    GQueue notifies;   /* Waiter*: CHANGE_NOTIFY requests waiting for a change */
} Share;

typedef struct {
    char *name, *password;
    char **workstations;
} User;

typedef struct {
    uint64_t id;
    User *user;
    Conn *conn;
    bool valid;
    SimEventId expiry;
} Session;

typedef struct {
    uint64_t id;
    Share *share;
    Session *session;
} Tree;

/* Who holds caching rights: a lease shared by the opens of one key, or
 * the plain oplock of one open. */
typedef struct {
    bool lease;
    uint64_t key;
    CacheState state;
    bool breaking, ack_required;
    CacheState to;          /* what the notification under way offered */
    CacheState required;    /* what the break must end at, at most: lower when causes came during it (B6) */
    OplockTrigger why;      /* what caused the break under way */
    uint8_t version;        /* lease version (1, or 2: MS-SMB2 2.2.13.2.10) */
    uint16_t epoch;         /* v2: changes of state so far (MS-SMB2 3.3.4.7) */
    bool parent_set;        /* v2: a parent lease key came with it */
    uint64_t parent_key;
    SimEventId timer;
    int refs;               /* opens holding it */
    Conn *conn;             /* where its notifications go */
    uint64_t notify_file;   /* FileId a notification names */
    File *file;
    uint64_t seq;           /* order of making, which is the order of file->owners */
    /* the break under way, for the trace */
    uint32_t row_from, row_offered, row_trigger;
    SimTime row_sent;
    int64_t row_open;
} Owner;

typedef struct {
    uint64_t id;
    File *file;
    Session *session;
    Tree *tree;
    Conn *conn;
    uint32_t access, share_access;
    bool delete_on_close;
    Owner *owner; /* NULL: no oplock or lease */
    guint at;     /* its index in file->opens */
} Open;

typedef struct {
    Open *open;
    uint64_t start, len;
    bool exclusive;
} Lock;

/* An operation waiting for breaks on its file (or a CHANGE_NOTIFY for a
 * change of its share). */
typedef struct {
    Conn *conn;
    SmbMsg *req;
    /* A waiter of the WebDAV service (dav.c) has no connection or SMB
     * request: `retry` tries it again (true: answered, ctx gone), `drop`
     * lets it go unanswered when its file goes. */
    bool (*retry)(void *ctx);
    void (*drop)(void *ctx);
    void *ctx;
    uint64_t async_id;
    SimEventId interim;  /* the interim response to send, if it still waits then (B8) */
    bool interim_sent;
} Waiter;

/* An open of a directory: it holds no file and no oplock. */
typedef struct {
    uint64_t id;
    Tree *tree;
    Conn *conn;
    char *path;
    uint32_t access;
    bool delete_on_close;
} DirOpen;

/* A message held back to be sent after another (a CREATE's non-blocking
 * breaks go after its response: SAMBA-TRACES.md lease.breaking4). */
typedef struct {
    Conn *conn;
    SmbMsg *msg;
} OutMsg;

struct File {
    char *path;
    uint32_t path_name; /* its trace name id, 0 until a row first needs it */
    Share *share;
    uint64_t size, next_version;
    GArray *extents;    /* Range: stamp for the coherence oracle, aux the server's own write version */
    GPtrArray *opens;   /* Open*, in no particular order (nothing depends on it): removal swaps in the last */
    GPtrArray *owners;  /* Owner* */
    GPtrArray *cachers; /* the owners whose state is not none, in the order of owners:
                           the only ones a break can touch */
    /* Over the opens with data access, for the share check of a new open:
     * how many hold read, write, delete access, and how many do not share
     * each.  (Index 0 read, 1 write or append, 2 delete.) */
    uint32_t holding[3], not_sharing[3];
    GPtrArray *locks;   /* Lock* */
    GQueue waiters;     /* Waiter* */
    bool delete_pending;
};

struct Conn {
    SmbServer *srv;
    TdiEndpoint *ep;
    NetNode *peer;
    uint16_t dialect;
    uint64_t negotiated; /* the NEGOTIATE as received (smb_negotiate_digest): what validation compares */
    bool dead;
    bool no_level2;       /* its NEGOTIATE lacked level II oplocks (SMB_CAP_LEVEL_II) */
    GHashTable *lease_files; /* lease key -> File*: a key is bound to one file (MS-SMB2 3.3.5.9.8) */
    Waiter *answering;    /* the waiting request being tried again, while it is */
    /* What this connection's last requests named, to skip the server-wide
     * tables, which at a thousand clients cost three cold lines a lookup.
     * Session and tree hints hold while srv->forgets is hint_forgets; an
     * open's is dropped when it closes. */
    Session *hint_session;
    Tree *hint_tree;
    Open *hint_open;
    uint64_t hint_forgets;
};

/* A request waiting for its service time. */
typedef struct {
    Conn *c;
    SmbMsg *req;
    GList link; /* in the server's jobs */
} Job;

struct SmbServer {
    Tdi *tdi;
    SmbWire *wire;
    NetNode *node;
    Sim *sim;
    Trace *trace;
    ServerParams p;
    Rng rng;
    GHashTable *shares; /* name -> Share* */
    GHashTable *users;  /* name -> User* */
    GPtrArray *conns;   /* Conn*, kept to the end: endpoints and events refer to them */
    GHashTable *sessions, *trees, *opens; /* id -> */
    GHashTable *dir_opens; /* id -> DirOpen* */
    uint64_t forgets; /* sessions and trees taken out of the tables so far */
    uint64_t next_id, next_async;
    SimTime lose_acks_until;  /* server_lose_acks */
    int endpoints;
    GQueue jobs; /* Job*: requests waiting for their service time (linked
                  * through the job: a hash set cost 300 instructions a request) */
    Pool job_pool;
    Coherence *coh;
    GArray *spare_outbox; /* OutMsg: lent to each CREATE (files.c) */
    TraceFixedNames fixed; /* levels, outcomes, triggers: a break row named four */
    Dav *dav;              /* the WebDAV service (dav.c), or NULL */
};

enum { OUT_ACKED, OUT_CLOSED, OUT_TIMEOUT, OUT_NONE_NEEDED, OUT_PENDING };

SmbMsg *srv_response_to(const SmbMsg *req, NTSTATUS st);
void srv_send_msg(Conn *c, SmbMsg *m);
void srv_reply(Conn *c, const SmbMsg *req, NTSTATUS st);
Tree *srv_tree_of(Conn *c, const SmbMsg *m, NTSTATUS *st);
char *srv_file_key(const File *f);
File *srv_file_new(Share *sh, const char *path, uint64_t size);
void srv_waiter_free(gpointer p);
void srv_share_free(gpointer p);
bool srv_share_conflict(const Open *o, uint32_t access, uint32_t share);
File *srv_close_open(SmbServer *s, Open *op);
bool srv_try_create(Conn *c, SmbMsg *req, Waiter *w);
Open *srv_find_open(Conn *c, uint64_t id);
Open *srv_open_of(Conn *c, const SmbMsg *m, NTSTATUS *st);
void srv_do_close(Conn *c, const SmbMsg *req);
bool srv_try_set_info(Conn *c, SmbMsg *req, Waiter *w);
GHashTable *srv_dir_opens_new(void);
void srv_open_directory(Conn *c, const SmbMsg *req);
void srv_write_break_row(SmbServer *s, Owner *o, CacheState to, int acked, SimTime t_acked, int outcome);
void srv_owner_set_state(Owner *o, CacheState state);
bool srv_break_owners(SmbServer *s, File *f, OplockCause *c, uint32_t access, uint32_t share, Open *self,
                      GArray *outbox);
void srv_flush_outbox(GArray *outbox);
Owner *srv_owner_for(File *f, Conn *c, bool lease, uint64_t key);
void srv_drop_owner(File *f, Owner *o);
void srv_defer(Conn *c, File *f, SmbMsg *req, Waiter *w);
void srv_resolve_waiters(File *f);
void srv_do_oplock_ack(Conn *c, const SmbMsg *req);
bool srv_try_io(Conn *c, SmbMsg *req, Waiter *w);
/* Files.c for the WebDAV service: an open of the server's own (no
 * connection), made when no open of the file conflicts with it (MS-FSA
 * 2.1.5.1.2.1), else NULL; a change of a file's whole contents; the oracle
 * told of a truncation. */
Open *srv_own_open(SmbServer *s, File *f, uint32_t access, uint32_t share);
bool srv_file_share_conflict(const File *f, uint32_t access, uint32_t share);
void srv_file_truncated(File *f, uint64_t size);
void srv_share_changed(Share *sh);
bool srv_directory_exists(Share *sh, const char *path);
void srv_dav_free(SmbServer *s);
void srv_dav_restart(SmbServer *s);

#endif
