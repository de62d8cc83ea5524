/* files.c: the files, directories and streams of a share, share modes,
 * and the requests that open, close, rename, truncate and delete them
 * (CREATE, CLOSE, SET_INFO).
 *
 * Guarantees: a CREATE is checked, in this order, for its name, its
 * disposition, a pending delete, the oplock and lease breaks it triggers
 * (oplocks.c; it waits when a holder must acknowledge first) and the share
 * modes of the opens already there (MS-FSA 2.1.5.1.2, OPLOCKS.md section
 * 2); what it is granted follows R4, R5 and section 7.  A file goes with
 * its last open once delete is pending. */

#include "server_int.h"

/* A change in a share's namespace completes its CHANGE_NOTIFY requests,
 * async with the AsyncId of their interim responses (MS-SMB2 3.3.4.2). */
void srv_share_changed(Share *sh)
{
    Waiter *w;
    while ((w = g_queue_pop_head(&sh->notifies))) {
        SmbMsg *r = srv_response_to(w->req, STATUS_SUCCESS);
        r->async = true;
        r->async_id = w->async_id;
        srv_send_msg(w->conn, r);
        smb_msg_free(w->req);
        g_free(w);
    }
}

/* "\srv\share\path", the oracle's name of a file. */
char *srv_file_key(const File *f)
{
    return g_strdup_printf("\\%s\\%s\\%s", net_node_name(f->share->srv->node), f->share->name, f->path);
}

/* The oracle hears of a change the server makes to a file itself. */
void srv_file_truncated(File *f, uint64_t size)
{
    ranges_trim(f->extents, size);
    if (!f->share->srv->coh)
        return;
    char *k = srv_file_key(f);
    coh_truncate(f->share->srv->coh, k, size);
    g_free(k);
}

File *srv_file_new(Share *sh, const char *path, uint64_t size)
{
    File *f = g_new0(File, 1);
    f->path = g_strdup(path);
    f->share = sh;
    f->size = size;
    f->extents = ranges_new();
    Range e = { 0, size, 0, 0 }; /* stamp and version 0: the initial contents */
    ranges_put(f->extents, e);
    f->next_version = 1;
    f->opens = g_ptr_array_new();
    f->owners = g_ptr_array_new();
    f->cachers = g_ptr_array_new();
    f->locks = g_ptr_array_new_with_free_func(g_free);
    g_queue_init(&f->waiters);
    g_hash_table_insert(sh->files, f->path, f);
    return f;
}

/* A waiter dropped with its file or share when the server goes: no timer
 * is cancelled, the simulation is over. */
static void waiter_discard(gpointer p)
{
    Waiter *w = p;
    if (w->drop)
        w->drop(w->ctx);
    smb_msg_free(w->req);
    g_free(w);
}

static void file_free(File *f)
{
    g_array_unref(f->extents);
    g_ptr_array_unref(f->opens);
    for (guint i = 0; i < f->owners->len; i++)
        g_free(g_ptr_array_index(f->owners, i));
    g_ptr_array_unref(f->owners);
    g_ptr_array_unref(f->cachers);
    g_ptr_array_unref(f->locks);
    g_queue_clear_full(&f->waiters, waiter_discard);
    g_free(f->path);
    g_free(f);
}

void srv_share_free(gpointer p)
{
    Share *sh = p;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, sh->files);
    while (g_hash_table_iter_next(&it, &k, &v))
        file_free(v);
    g_hash_table_unref(sh->files);
    g_hash_table_unref(sh->dirs);
    g_queue_clear_full(&sh->notifies, waiter_discard);
    g_free(sh->name);
    g_free(sh);
}

/* ---- names: directories and streams ---- */

/* A path as the share keeps it: "f::$DATA" is f's own data stream, and
 * "f:s:$DATA" the named stream "f:s" (MS-FSCC 2.1.5: the stream type
 * $DATA may be written or not). */
static char *canonical_path(const char *path)
{
    char *p = g_strdup(path ? path : "");
    size_t n = strlen(p);
    if (n >= 7 && g_ascii_strcasecmp(p + n - 7, "::$DATA") == 0)
        p[n - 7] = 0;
    else if (n >= 6 && g_ascii_strcasecmp(p + n - 6, ":$DATA") == 0 && strchr(p, ':') < p + n - 6)
        p[n - 6] = 0;
    return p;
}

/* The file a named stream belongs to, or NULL for a file's own data. */
static char *stream_base(const char *path)
{
    const char *colon = strchr(path, ':');
    return colon ? g_strndup(path, (gsize)(colon - path)) : NULL;
}

/* The directory holding a path ("" for the share's root). */
static char *parent_of(const char *path)
{
    const char *slash = strrchr(path, '\\');
    return slash ? g_strndup(path, (gsize)(slash - path)) : g_strdup("");
}

/* Does anything of the share live below `dir`? */
static bool has_children(Share *sh, const char *dir)
{
    size_t n = strlen(dir);
    GHashTableIter it;
    gpointer k;
    for (int t = 0; t < 2; t++) {
        g_hash_table_iter_init(&it, t ? sh->dirs : sh->files);
        while (g_hash_table_iter_next(&it, &k, NULL)) {
            const char *f = k;
            if (!n || (g_ascii_strncasecmp(f, dir, n) == 0 && f[n] == '\\'))
                return true;
        }
    }
    return false;
}

/* A directory exists when it is the share itself, was made by CREATE, or
 * is the parent of a file of the share (scenario files name their
 * directories only through their paths). */
bool srv_directory_exists(Share *sh, const char *path)
{
    return !*path || g_hash_table_contains(sh->dirs, path) || has_children(sh, path);
}

/* ---- share modes (MS-FSA 2.1.5.1.2.1) ---- */

/* The access a share mode governs: reading (FILE_READ_DATA, FILE_EXECUTE),
 * writing (FILE_WRITE_DATA, FILE_APPEND_DATA) and DELETE.  Opens with none
 * of them share with anything. */
#define ACCESS_READ_CLASS (ACCESS_READ_DATA | ACCESS_EXECUTE)
#define ACCESS_WRITE_CLASS (ACCESS_WRITE_DATA | ACCESS_APPEND_DATA)
static bool data_access(uint32_t a) { return a & (ACCESS_READ_CLASS | ACCESS_WRITE_CLASS | ACCESS_DELETE); }

static const uint32_t access_bits[3] = { ACCESS_READ_CLASS, ACCESS_WRITE_CLASS, ACCESS_DELETE };
static const uint32_t share_bits[3] = { SHARE_READ, SHARE_WRITE, SHARE_DELETE };

/* An open joins (delta 1) or leaves (-1) the file's share counts. */
static void count_share(File *f, const Open *o, int delta)
{
    if (!data_access(o->access))
        return;
    for (int i = 0; i < 3; i++) {
        if (o->access & access_bits[i])
            f->holding[i] += (uint32_t)delta;
        if (!(o->share_access & share_bits[i]))
            f->not_sharing[i] += (uint32_t)delta;
    }
}

/* Would a new open conflict with any open of the file?  The same test as
 * srv_share_conflict against every open in turn, from the counts: "some
 * open does not share read" is not_sharing[0] > 0, and so on. */
bool srv_file_share_conflict(const File *f, uint32_t access, uint32_t share)
{
    if (!data_access(access))
        return false;
    for (int i = 0; i < 3; i++)
        if (((access & access_bits[i]) && f->not_sharing[i]) || (f->holding[i] && !(share & share_bits[i])))
            return true;
    return false;
}

/* A new open joins its file's opens, share counts and the server's table. */
static void open_add(SmbServer *s, File *f, Open *op)
{
    op->at = f->opens->len;
    g_ptr_array_add(f->opens, op);
    count_share(f, op, 1);
    g_hash_table_insert(s->opens, SMB_ID_KEY(op->id), op);
}

Open *srv_own_open(SmbServer *s, File *f, uint32_t access, uint32_t share)
{
    if (srv_file_share_conflict(f, access, share))
        return NULL;
    Open *op = g_new0(Open, 1);
    op->id = s->next_id++;
    op->file = f;
    op->access = access;
    op->share_access = share;
    open_add(s, f, op);
    return op;
}

bool srv_share_conflict(const Open *o, uint32_t access, uint32_t share)
{
    if (!data_access(access) || !data_access(o->access))
        return false;
    for (int i = 0; i < 3; i++)
        if (((access & access_bits[i]) && !(o->share_access & share_bits[i])) ||
            ((o->access & access_bits[i]) && !(share & share_bits[i])))
            return true;
    return false;
}

/* ---- closing ---- */

static void remove_file(File *f)
{
    Share *sh = f->share;
    if (sh->srv->coh) {
        char *k = srv_file_key(f);
        coh_remove(sh->srv->coh, k);
        g_free(k);
    }
    g_hash_table_remove(sh->files, f->path);
    file_free(f);
    srv_share_changed(sh);
}

/* Close an open: its locks go, its oplock or lease reference goes, and a
 * pending delete happens with the last open.  Returns the file, for the
 * caller to let its waiting operations try again once it has answered
 * (SAMBA-TRACES.md batch7: the CLOSE response goes before the waiting
 * CREATE's), or NULL when the file went with it. */
File *srv_close_open(SmbServer *s, Open *op)
{
    File *f = op->file;
    for (guint i = f->locks->len; i-- > 0;)
        if (((Lock *)g_ptr_array_index(f->locks, i))->open == op)
            g_ptr_array_remove_index(f->locks, i);
    if (op->delete_on_close)
        f->delete_pending = true;
    Open *last = g_ptr_array_index(f->opens, f->opens->len - 1);
    g_ptr_array_index(f->opens, op->at) = last;
    last->at = op->at;
    g_ptr_array_set_size(f->opens, f->opens->len - 1);
    count_share(f, op, -1);
    if (op->owner)
        srv_drop_owner(f, op->owner);
    if (op->conn && op->conn->hint_open == op)
        op->conn->hint_open = NULL;
    g_hash_table_remove(s->opens, SMB_ID_KEY(op->id));
    if (f->opens->len == 0 && f->delete_pending && g_queue_is_empty(&f->waiters)) {
        remove_file(f);
        return NULL;
    }
    return f;
}

static bool is_overwrite(uint32_t disp)
{
    return disp == DISP_SUPERSEDE || disp == DISP_OVERWRITE || disp == DISP_OVERWRITE_IF;
}

/* ---- CREATE ---- */

/* What the new open is granted, given what is on the file (R4, R5,
 * section 7 step 7). */
static CacheState grant_for(Conn *c, File *f, const SmbMsg *req, bool lease, uint32_t access)
{
    OplockAsk a = { .lease = lease, .requested = lease ? req->lease_state : oplock_level_state(req->oplock),
                    .stat_open = !is_overwrite(req->disposition) && oplock_is_stat_open(access, false),
                    .no_level2 = c->no_level2 };
    for (guint i = 0; i < f->opens->len; i++) {
        Open *o = g_ptr_array_index(f->opens, i);
        bool same = lease && o->owner && o->owner->lease && o->owner->key == req->lease_key && o->owner->conn == c;
        if (!same && (!oplock_is_stat_open(o->access, false) || o->owner)) {
            a.others = true;
            break;
        }
    }
    for (guint i = 0; i < f->cachers->len; i++) {
        Owner *o = g_ptr_array_index(f->cachers, i);
        a.plain_oplock_held = a.plain_oplock_held || !o->lease;
        a.h_lease_held = a.h_lease_held || (o->lease && (o->state & CACHE_H) &&
                                            !(lease && o->key == req->lease_key && o->conn == c));
    }
    return a.requested ? oplock_grant(&a) : 0;
}

/* The server keeps one outbox to lend (a CREATE is never tried inside
 * another, but a second is made if one were). */
static GArray *outbox_take(SmbServer *s)
{
    GArray *o = s->spare_outbox;
    s->spare_outbox = NULL;
    return o ? o : g_array_new(FALSE, FALSE, sizeof(OutMsg));
}

static void outbox_give(SmbServer *s, GArray *o)
{
    if (s->spare_outbox)
        g_array_unref(o);
    else
        s->spare_outbox = o;
}

/* Try a create.  Returns true when it was answered (the caller still owns
 * the request), false when it waits (the waiter owns the request). */
bool srv_try_create(Conn *c, SmbMsg *req, Waiter *w)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    Tree *t = srv_tree_of(c, req, &st);
    if (!t) {
        srv_reply(c, req, st);
        return true;
    }
    Share *sh = t->share;
    /* Only a name with a stream part can differ from its canonical form:
     * the common case costs no copy. */
    char *owned = req->path && strchr(req->path, ':') ? canonical_path(req->path) : NULL;
    const char *path = owned ? owned : req->path ? req->path : "";
    File *f = g_hash_table_lookup(sh->files, path);
    uint32_t disp = req->disposition;
    st = STATUS_SUCCESS;
    if (!f && g_hash_table_contains(sh->dirs, path))
        st = STATUS_FILE_IS_A_DIRECTORY; /* MS-FSA 2.1.5.1.2: a non-directory open of a directory */
    else if (!f && (disp == DISP_OPEN || disp == DISP_OVERWRITE))
        st = STATUS_OBJECT_NAME_NOT_FOUND;
    else if (f && disp == DISP_CREATE)
        st = STATUS_OBJECT_NAME_COLLISION;
    else if (f && f->delete_pending)
        st = STATUS_DELETE_PENDING; /* R9, section 2.2: no break */
    /* A lease asked for on a dialect that has none is ignored, and the open
     * gets no oplock: v1 before 2.1 (MS-SMB2 3.3.5.9.8), v2 before 3.0
     * (3.3.5.9.11). */
    bool lease = req->oplock == OPLOCK_LEVEL_LEASE && req->lease_ctx && c->dialect >= SMB2_DIALECT_210 &&
                 (req->lease_version < 2 || c->dialect >= SMB2_DIALECT_300);
    /* 3.3.5.9.8: a lease key this client holds on another file. */
    File *bound = lease && c->lease_files ? g_hash_table_lookup(c->lease_files, SMB_ID_KEY(req->lease_key)) : NULL;
    if (st == STATUS_SUCCESS && bound && bound != f)
        st = STATUS_INVALID_PARAMETER;
    if (st != STATUS_SUCCESS) {
        g_free(owned);
        srv_reply(c, req, st);
        return true;
    }
    uint32_t access = req->access & ACCESS_MAXIMUM_ALLOWED ? ACCESS_FILE_ALL : req->access;
    GArray *outbox = outbox_take(s);
    uint32_t action = FILE_OPENED;
    if (f) {
        OplockCause cause = { .trigger = TRIGGER_OPEN, .key = lease ? req->lease_key : UINT64_MAX - 1,
                              .lease = lease, .access = access, .overwrite = is_overwrite(disp), .retry = w != NULL };
        bool wait = srv_break_owners(s, f, &cause, access, req->share_access, NULL, outbox);
        if (wait || srv_file_share_conflict(f, access, req->share_access)) {
            if (wait)
                srv_defer(c, f, req, w);
            else
                srv_reply(c, req, STATUS_SHARING_VIOLATION);
            srv_flush_outbox(outbox); /* a waiting CREATE's breaks go now, an error's after it */
            outbox_give(s, outbox);
            g_free(owned);
            return !wait;
        }
        if (is_overwrite(disp)) {
            f->size = 0;
            srv_file_truncated(f, 0);
            action = disp == DISP_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN;
        }
    } else {
        char *base = stream_base(path);
        if (base && !g_hash_table_lookup(sh->files, base))
            srv_file_new(sh, base, 0); /* a stream made with its file */
        g_free(base);
        f = srv_file_new(sh, path, 0);
        action = FILE_CREATED;
        srv_share_changed(sh);
    }
    g_free(owned);
    Open *op = g_new0(Open, 1);
    op->id = s->next_id++;
    op->file = f;
    op->session = t->session;
    op->tree = t;
    op->conn = c;
    op->access = access;
    op->share_access = req->share_access;
    op->delete_on_close = req->delete_on_close;
    SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
    r->file = op->id;
    r->length = f->size; /* EndOfFile */
    r->create_action = action;
    Owner *own = lease ? srv_owner_for(f, c, true, req->lease_key) : NULL;
    if (own) {
        /* Same key: the open joins the lease.  Uncontended, a request for
         * more is an upgrade (section 1, lease.upgrade); a break under way
         * reports the state it had, flagged (B6). */
        if (!own->breaking) {
            CacheState g = grant_for(c, f, req, true, access);
            if ((g & own->state) == own->state && g != own->state)
                srv_owner_set_state(own, g);
        }
        own->refs++;
        op->owner = own;
        r->lease_break_in_progress = own->breaking;
    } else {
        CacheState g = grant_for(c, f, req, lease, access);
        if (g || lease) {
            /* A lease is kept even at none: the key stays bound to the file
             * and its next opens join it (lease.timeout). */
            own = g_new0(Owner, 1);
            own->lease = lease;
            own->key = lease ? req->lease_key : op->id;
            own->refs = 1;
            own->conn = c;
            own->file = f;
            own->seq = s->next_id; /* ids only grow: a making order */
            own->version = lease ? (req->lease_version ? req->lease_version : 1) : 0;
            own->epoch = req->epoch; /* v2: the first grant makes it the client's + 1 (lease.v2_request) */
            own->parent_set = req->parent_set;
            own->parent_key = req->parent_lease_key;
            srv_owner_set_state(own, g);
            own->notify_file = op->id;
            own->row_open = (int64_t)op->id;
            g_ptr_array_add(f->owners, own);
            op->owner = own;
            if (lease) {
                if (!c->lease_files)
                    c->lease_files = g_hash_table_new(g_direct_hash, g_direct_equal);
                g_hash_table_insert(c->lease_files, SMB_ID_KEY(own->key), f);
            }
        }
    }
    if (lease) {
        r->oplock = OPLOCK_LEVEL_LEASE;
        r->lease_ctx = true;
        r->lease_state = own->state;
        r->lease_version = own->version;
        r->epoch = own->version == 2 ? own->epoch : 0;
        r->parent_set = own->parent_set;
        r->parent_lease_key = own->parent_key;
    } else {
        r->oplock = own ? oplock_state_level(own->state) : OPLOCK_LEVEL_NONE;
    }
    r->lease_key = req->lease_key;
    open_add(s, f, op);
    srv_send_msg(c, r);
    /* Breaks that did not hold it up follow the response (B7,
     * SAMBA-TRACES.md lease.breaking4). */
    srv_flush_outbox(outbox);
    outbox_give(s, outbox);
    return true;
}

/* The open a request names; the hint is kept only for an open of this
 * connection, so that closing it knows the one hint to drop. */
Open *srv_find_open(Conn *c, uint64_t id)
{
    Open *op = c->hint_open;
    if (op && op->id == id)
        return op;
    op = g_hash_table_lookup(c->srv->opens, SMB_ID_KEY(id));
    if (op && op->conn == c)
        c->hint_open = op;
    return op;
}

Open *srv_open_of(Conn *c, const SmbMsg *m, NTSTATUS *st)
{
    if (!srv_tree_of(c, m, st))
        return NULL;
    Open *op = srv_find_open(c, m->file);
    if (!op) {
        *st = STATUS_FILE_CLOSED;
        return NULL;
    }
    return op;
}

/* ---- directories ---- */

static void dir_open_free(gpointer p)
{
    DirOpen *d = p;
    g_free(d->path);
    g_free(d);
}

GHashTable *srv_dir_opens_new(void)
{
    return g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, dir_open_free);
}

/* CREATE of a directory (FILE_DIRECTORY_FILE, MS-FSA 2.1.5.1): OPEN finds
 * it or fails STATUS_OBJECT_NAME_NOT_FOUND, CREATE makes it or fails
 * STATUS_OBJECT_NAME_COLLISION, OPEN_IF does either; a file of that name is
 * STATUS_NOT_A_DIRECTORY.  The open holds no file and gets no oplock or
 * lease: the server does not offer directory leasing (lease.request). */
void srv_open_directory(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    Tree *t = srv_tree_of(c, req, &st);
    if (!t) {
        srv_reply(c, req, st);
        return;
    }
    Share *sh = t->share;
    char *path = canonical_path(req->path);
    bool exists = srv_directory_exists(sh, path);
    uint32_t action = FILE_OPENED;
    if (g_hash_table_lookup(sh->files, path))
        st = STATUS_NOT_A_DIRECTORY;
    else if (!exists && req->disposition != DISP_CREATE && req->disposition != DISP_OPEN_IF)
        st = STATUS_OBJECT_NAME_NOT_FOUND;
    else if (exists && req->disposition == DISP_CREATE)
        st = STATUS_OBJECT_NAME_COLLISION;
    else {
        char *parent = parent_of(path);
        st = srv_directory_exists(sh, parent) ? STATUS_SUCCESS : STATUS_OBJECT_PATH_NOT_FOUND;
        g_free(parent);
    }
    if (st != STATUS_SUCCESS) {
        g_free(path);
        srv_reply(c, req, st);
        return;
    }
    if (!exists && *path) {
        g_hash_table_add(sh->dirs, g_strdup(path));
        action = FILE_CREATED;
        srv_share_changed(sh);
    }
    DirOpen *d = g_new0(DirOpen, 1);
    d->id = s->next_id++;
    d->tree = t;
    d->conn = c;
    d->path = path;
    d->access = req->access & ACCESS_MAXIMUM_ALLOWED ? ACCESS_FILE_ALL : req->access;
    d->delete_on_close = req->delete_on_close;
    g_hash_table_insert(s->dir_opens, SMB_ID_KEY(d->id), d);
    SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
    r->file = d->id;
    r->directory = true;
    r->create_action = action;
    srv_send_msg(c, r);
}

/* Is a directory held open with DELETE access?  A rename in it is then a
 * sharing violation, with no break (R9: exclusive6, batch19, batch20). */
static bool dir_held_for_delete(SmbServer *s, Share *sh, const char *dir)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, s->dir_opens);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        DirOpen *d = v;
        if (d->tree->share == sh && (d->access & ACCESS_DELETE) && g_ascii_strcasecmp(d->path, dir) == 0)
            return true;
    }
    return false;
}

/* A directory open closes: a directory marked for delete goes when it is
 * empty (MS-FSA 2.1.5.4; a non-empty one stays). */
static void close_directory(SmbServer *s, DirOpen *d)
{
    Share *sh = d->tree->share;
    if (d->delete_on_close && *d->path && !has_children(sh, d->path) && g_hash_table_remove(sh->dirs, d->path))
        srv_share_changed(sh);
    g_hash_table_remove(s->dir_opens, SMB_ID_KEY(d->id));
}

/* Move every name at or below `from` to `to`. */
static void rename_below(SmbServer *s, Share *sh, const char *from, const char *to)
{
    size_t n = strlen(from);
    GPtrArray *moving = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, sh->files);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (g_ascii_strncasecmp(k, from, n) == 0 && ((char *)k)[n] == '\\')
            g_ptr_array_add(moving, v);
    for (guint i = 0; i < moving->len; i++) {
        File *f = g_ptr_array_index(moving, i);
        char *old = srv_file_key(f);
        g_hash_table_steal(sh->files, f->path);
        char *p = g_strconcat(to, f->path + n, NULL);
        g_free(f->path);
        f->path = p;
        f->path_name = 0;
        g_hash_table_insert(sh->files, f->path, f);
        if (s->coh) {
            char *nk = srv_file_key(f);
            coh_rename(s->coh, old, nk);
            g_free(nk);
        }
        g_free(old);
    }
    g_ptr_array_unref(moving);
    GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_iter_init(&it, sh->dirs);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (g_ascii_strcasecmp(k, from) == 0 || (g_ascii_strncasecmp(k, from, n) == 0 && ((char *)k)[n] == '\\'))
            g_ptr_array_add(dirs, g_strdup(k));
    for (guint i = 0; i < dirs->len; i++) {
        const char *d = g_ptr_array_index(dirs, i);
        g_hash_table_remove(sh->dirs, d);
        g_hash_table_add(sh->dirs, g_strconcat(to, d + n, NULL));
    }
    g_ptr_array_unref(dirs);
}

/* SET_INFO on a directory handle: rename (MS-FSA 2.1.5.14.11: refused
 * while a file below it is open) and delete (2.1.5.14.3: refused when it is
 * not empty). */
static NTSTATUS set_directory_info(SmbServer *s, DirOpen *d, const SmbMsg *req)
{
    Share *sh = d->tree->share;
    if (req->info_type)
        return STATUS_SUCCESS;
    if (req->new_path) {
        char *to = canonical_path(req->new_path);
        NTSTATUS st = STATUS_SUCCESS;
        size_t n = strlen(d->path);
        if (!(d->access & ACCESS_DELETE) || !*d->path)
            st = STATUS_ACCESS_DENIED;
        else if (srv_directory_exists(sh, to) || g_hash_table_lookup(sh->files, to))
            st = STATUS_OBJECT_NAME_COLLISION;
        else {
            GHashTableIter it;
            gpointer k, v;
            g_hash_table_iter_init(&it, sh->files);
            while (g_hash_table_iter_next(&it, &k, &v))
                if (g_ascii_strncasecmp(k, d->path, n) == 0 && ((char *)k)[n] == '\\' && ((File *)v)->opens->len)
                    st = STATUS_ACCESS_DENIED;
        }
        if (st == STATUS_SUCCESS) {
            rename_below(s, sh, d->path, to);
            g_free(d->path);
            d->path = to;
            srv_share_changed(sh);
        } else {
            g_free(to);
        }
        return st;
    }
    if (req->info_class == INFO_DISPOSITION || req->delete_on_close) {
        if (!(d->access & ACCESS_DELETE))
            return STATUS_ACCESS_DENIED;
        if (has_children(sh, d->path))
            return STATUS_DIRECTORY_NOT_EMPTY;
        d->delete_on_close = true;
        return STATUS_SUCCESS;
    }
    return STATUS_SUCCESS;
}

/* ---- CLOSE and SET_INFO ---- */

void srv_do_close(Conn *c, const SmbMsg *req)
{
    DirOpen *d = g_hash_table_lookup(c->srv->dir_opens, SMB_ID_KEY(req->file));
    if (d) {
        close_directory(c->srv, d);
        srv_reply(c, req, STATUS_SUCCESS);
        return;
    }
    NTSTATUS st;
    Open *op = srv_open_of(c, req, &st);
    if (!op) {
        srv_reply(c, req, st);
        return;
    }
    File *f = srv_close_open(c->srv, op);
    srv_reply(c, req, STATUS_SUCCESS);
    if (f)
        srv_resolve_waiters(f);
}

static NTSTATUS rename_file(SmbServer *s, Open *op, const char *new_path)
{
    File *f = op->file;
    char *to = canonical_path(new_path);
    char *parent = parent_of(f->path);
    NTSTATUS st = STATUS_SUCCESS;
    if (!(op->access & ACCESS_DELETE))
        st = STATUS_ACCESS_DENIED;
    else if (g_hash_table_lookup(f->share->files, to) || g_hash_table_contains(f->share->dirs, to))
        st = STATUS_OBJECT_NAME_COLLISION;
    else if (dir_held_for_delete(s, f->share, parent))
        st = STATUS_SHARING_VIOLATION; /* R9 */
    else
        for (guint i = 0; i < f->opens->len; i++) {
            Open *o = g_ptr_array_index(f->opens, i);
            if (o != op && !(o->share_access & SHARE_DELETE) && data_access(o->access))
                st = STATUS_SHARING_VIOLATION;
        }
    g_free(parent);
    if (st == STATUS_SUCCESS) {
        char *from = srv_file_key(f);
        g_hash_table_steal(f->share->files, f->path);
        g_free(f->path);
        f->path = to;
        f->path_name = 0;
        if (s->coh) {
            char *k = srv_file_key(f);
            coh_rename(s->coh, from, k);
            g_free(k);
        }
        g_free(from);
        g_hash_table_insert(f->share->files, f->path, f);
        srv_share_changed(f->share);
    } else {
        g_free(to);
    }
    return st;
}

/* SET_INFO, answered (true) or waiting for breaks (false), as srv_try_create. */
bool srv_try_set_info(Conn *c, SmbMsg *req, Waiter *w)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    DirOpen *d = g_hash_table_lookup(s->dir_opens, SMB_ID_KEY(req->file));
    if (d) {
        srv_reply(c, req, set_directory_info(s, d, req));
        return true;
    }
    Open *op = srv_open_of(c, req, &st);
    if (!op) {
        srv_reply(c, req, st);
        return true;
    }
    /* EAs, security, quota, the volume (MS-SMB2 3.3.5.21): accepted on a
     * valid open; the model keeps none of them. */
    if (req->info_type) {
        srv_reply(c, req, STATUS_SUCCESS);
        return true;
    }
    File *f = op->file;
    uint32_t cls = req->new_path ? INFO_RENAME : req->delete_on_close ? INFO_DISPOSITION : req->info_class;
    switch (cls) {
    case INFO_RENAME: st = rename_file(s, op, req->new_path); break;
    case INFO_DISPOSITION:
        /* MS-FSA 2.1.5.14.3: the file is delete-pending at once; a later
         * open fails STATUS_DELETE_PENDING without a break (section 2.2). */
        st = (op->access & ACCESS_DELETE) ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
        if (st == STATUS_SUCCESS)
            f->delete_pending = true;
        break;
    case INFO_EOF:
    case INFO_ALLOCATION: {
        /* R13: a change of size breaks as a write does (IFS-WRITE), first
         * the holders that must acknowledge. */
        OplockCause cause = { .trigger = TRIGGER_SETSIZE, .key = op->owner ? op->owner->key : UINT64_MAX - 2 - op->id };
        if (srv_break_owners(s, f, &cause, 0, 0, op, NULL)) {
            srv_defer(c, f, req, w);
            return false;
        }
        uint64_t size = cls == INFO_EOF ? req->length : MIN(f->size, req->length); /* 2.1.5.14.1: allocation
                                                                                 * below EOF truncates */
        if (size < f->size)
            srv_file_truncated(f, size);
        f->size = size;
        st = STATUS_SUCCESS;
        break;
    }
    default: /* FileBasicInformation: times and attributes, which the model keeps none of; it breaks nothing
              * (MS-FSA 2.1.5.14.2 checks no oplock) */
        st = STATUS_SUCCESS;
        break;
    }
    srv_reply(c, req, st);
    return true;
}
