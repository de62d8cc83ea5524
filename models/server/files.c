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

static void share_changed(Share *sh)
{
    Waiter *w;
    while ((w = g_queue_pop_head(&sh->notifies))) {
        srv_send_msg(w->conn, srv_response_to(w->req, STATUS_SUCCESS));
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
static void coh_file_truncated(File *f, uint64_t size)
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

void srv_waiter_free(gpointer p)
{
    Waiter *w = p;
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
    g_queue_clear_full(&f->waiters, srv_waiter_free);
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
    g_queue_clear_full(&sh->notifies, srv_waiter_free);
    g_free(sh->name);
    g_free(sh);
}

/* ---- share modes ---- */

static bool data_access(uint32_t a) { return a & (ACCESS_READ_DATA | ACCESS_WRITE_DATA | ACCESS_APPEND_DATA | ACCESS_DELETE); }

static const uint32_t access_bits[3] = { ACCESS_READ_DATA, ACCESS_WRITE_DATA | ACCESS_APPEND_DATA, ACCESS_DELETE };
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
 * srv_share_conflict against every open in turn, from the counts: "some open
 * does not share read" is not_sharing[0] > 0, and so on. */
static bool file_share_conflict(const File *f, uint32_t access, uint32_t share)
{
    if (!data_access(access))
        return false;
    for (int i = 0; i < 3; i++)
        if (((access & access_bits[i]) && f->not_sharing[i]) || (f->holding[i] && !(share & share_bits[i])))
            return true;
    return false;
}

bool srv_share_conflict(const Open *o, uint32_t access, uint32_t share)
{
    if (!data_access(access) || !data_access(o->access))
        return false; /* attribute-only opens share with anything */
    bool r = access & ACCESS_READ_DATA, w = access & (ACCESS_WRITE_DATA | ACCESS_APPEND_DATA),
         d = access & ACCESS_DELETE;
    bool or_ = o->access & ACCESS_READ_DATA, ow = o->access & (ACCESS_WRITE_DATA | ACCESS_APPEND_DATA),
         od = o->access & ACCESS_DELETE;
    return (r && !(o->share_access & SHARE_READ)) || (w && !(o->share_access & SHARE_WRITE)) ||
           (d && !(o->share_access & SHARE_DELETE)) || (or_ && !(share & SHARE_READ)) ||
           (ow && !(share & SHARE_WRITE)) || (od && !(share & SHARE_DELETE));
}

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
    share_changed(sh);
}

/* Close an open: its locks go, its oplock or lease reference goes, and a
 * pending delete happens with the last open. */
void srv_close_open(SmbServer *s, Open *op)
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
    if (f->opens->len == 0 && f->delete_pending && g_queue_is_empty(&f->waiters))
        remove_file(f);
    else
        srv_resolve_waiters(f);
}

static bool is_overwrite(uint32_t disp)
{
    return disp == DISP_SUPERSEDE || disp == DISP_OVERWRITE || disp == DISP_OVERWRITE_IF;
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
    File *f = g_hash_table_lookup(t->share->files, req->path);
    uint32_t disp = req->disposition;
    if (!f && (disp == DISP_OPEN || disp == DISP_OVERWRITE)) {
        srv_reply(c, req, STATUS_OBJECT_NAME_NOT_FOUND);
        return true;
    }
    if (f && disp == DISP_CREATE) {
        srv_reply(c, req, STATUS_OBJECT_NAME_COLLISION);
        return true;
    }
    if (f && f->delete_pending) {
        srv_reply(c, req, STATUS_DELETE_PENDING); /* R9: no break */
        return true;
    }
    bool lease = req->oplock == OPLOCK_LEVEL_LEASE;
    if (f) {
        OplockCause cause = { .trigger = TRIGGER_OPEN, .key = lease ? req->lease_key : UINT64_MAX - 1,
                              .lease = lease, .stat_open = oplock_is_stat_open(req->access, lease),
                              .overwrite = is_overwrite(disp) };
        if (srv_break_owners(s, f, &cause, req->access, req->share_access, NULL)) {
            srv_defer(c, f, req, w);
            return false;
        }
        if (file_share_conflict(f, req->access, req->share_access)) {
            srv_reply(c, req, STATUS_SHARING_VIOLATION);
            return true;
        }
    } else {
        f = srv_file_new(t->share, req->path, 0);
        share_changed(t->share);
    }
    if (is_overwrite(disp)) {
        f->size = 0;
        coh_file_truncated(f, 0);
    }
    /* The grant (R4, R5). */
    bool others = false, plain = false, hlease = false;
    for (guint i = 0; i < f->opens->len; i++) {
        Open *o = g_ptr_array_index(f->opens, i);
        if (!oplock_is_stat_open(o->access, false) || o->owner) {
            others = true;
            break;
        }
    }
    for (guint i = 0; i < f->cachers->len; i++) {
        Owner *o = g_ptr_array_index(f->cachers, i);
        plain = plain || (!o->lease && o->state);
        hlease = hlease || (o->lease && (o->state & CACHE_H) && !(lease && o->key == req->lease_key));
    }
    Open *op = g_new0(Open, 1);
    op->id = s->next_id++;
    op->file = f;
    op->session = t->session;
    op->tree = t;
    op->conn = c;
    op->access = req->access;
    op->share_access = req->share_access;
    op->delete_on_close = req->delete_on_close;
    SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
    r->file = op->id;
    r->length = f->size; /* EndOfFile */
    Owner *own = lease ? srv_owner_for(f, true, req->lease_key) : NULL;
    if (own) {
        /* Same key: the open joins the lease (B6: reports the state it had
         * while a break is under way). */
        own->refs++;
        op->owner = own;
        r->oplock = OPLOCK_LEVEL_LEASE;
        r->lease_state = own->state;
        r->lease_break_in_progress = own->breaking;
    } else {
        CacheState requested = lease ? req->lease_state : oplock_level_state(req->oplock);
        CacheState g = requested ? oplock_grant(lease, requested, others, plain, hlease) : 0;
        if (g) {
            own = g_new0(Owner, 1);
            own->lease = lease;
            own->key = lease ? req->lease_key : op->id;
            own->refs = 1;
            own->conn = c;
            own->file = f;
            own->seq = s->next_id; /* ids only grow: a making order */
            srv_owner_set_state(own, g);
            own->notify_file = op->id;
            own->row_open = (int64_t)op->id;
            g_ptr_array_add(f->owners, own);
            op->owner = own;
        }
        r->oplock = lease ? OPLOCK_LEVEL_LEASE : oplock_state_level(g);
        r->lease_state = lease ? g : 0;
    }
    r->lease_key = req->lease_key;
    op->at = f->opens->len;
    g_ptr_array_add(f->opens, op);
    count_share(f, op, 1);
    g_hash_table_insert(s->opens, SMB_ID_KEY(op->id), op);
    srv_send_msg(c, r);
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

void srv_do_close(Conn *c, const SmbMsg *req)
{
    if (g_hash_table_remove(c->srv->dir_opens, SMB_ID_KEY(req->file))) {
        srv_reply(c, req, STATUS_SUCCESS);
        return;
    }
    NTSTATUS st;
    Open *op = srv_open_of(c, req, &st);
    if (!op) {
        srv_reply(c, req, st);
        return;
    }
    srv_close_open(c->srv, op);
    srv_reply(c, req, STATUS_SUCCESS);
}

void srv_do_set_info(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    Open *op = srv_open_of(c, req, &st);
    if (!op) {
        srv_reply(c, req, st);
        return;
    }
    /* EAs, security, quota, the volume (MS-SMB2 3.3.5.21): accepted on a
     * valid open; the model keeps none of them. */
    if (req->info_type) {
        srv_reply(c, req, STATUS_SUCCESS);
        return;
    }
    File *f = op->file;
    if (req->new_path) { /* rename (FileRenameInformation) */
        if (!(op->access & ACCESS_DELETE))
            st = STATUS_ACCESS_DENIED;
        else if (g_hash_table_lookup(f->share->files, req->new_path))
            st = STATUS_OBJECT_NAME_COLLISION;
        else {
            st = STATUS_SUCCESS;
            for (guint i = 0; i < f->opens->len; i++) {
                Open *o = g_ptr_array_index(f->opens, i);
                if (o != op && !(o->share_access & SHARE_DELETE) && data_access(o->access))
                    st = STATUS_SHARING_VIOLATION;
            }
        }
        if (st == STATUS_SUCCESS) {
            char *from = srv_file_key(f);
            g_hash_table_steal(f->share->files, f->path);
            g_free(f->path);
            f->path = g_strdup(req->new_path);
            if (s->coh) {
                char *to = srv_file_key(f);
                coh_rename(s->coh, from, to);
                g_free(to);
            }
            g_free(from);
            g_hash_table_insert(f->share->files, f->path, f);
            share_changed(f->share);
        }
    } else if (req->delete_on_close) { /* FileDispositionInformation */
        st = (op->access & ACCESS_DELETE) ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
        if (st == STATUS_SUCCESS)
            op->delete_on_close = true;
    } else { /* end of file */
        st = STATUS_SUCCESS;
        if (req->length < f->size)
            coh_file_truncated(f, req->length);
        f->size = req->length;
    }
    srv_reply(c, req, st);
}

/* A directory exists when it is the share itself or the parent of a file
 * of the share: directories are the paths' own (a rename that moves every
 * file out of one takes it away). */
static bool directory_exists(Share *sh, const char *path)
{
    if (!*path)
        return true;
    size_t n = strlen(path);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, sh->files);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        const char *f = k;
        if (g_ascii_strncasecmp(f, path, n) == 0 && f[n] == '\\')
            return true;
    }
    return false;
}

/* CREATE of a directory (FILE_DIRECTORY_FILE): it opens when it exists,
 * else STATUS_OBJECT_NAME_NOT_FOUND (MS-FSA 2.1.5.1); the open holds no
 * file, no oplock and breaks nothing. */
void srv_open_directory(Conn *c, const SmbMsg *req)
{
    SmbServer *s = c->srv;
    NTSTATUS st;
    Tree *t = srv_tree_of(c, req, &st);
    if (!t) {
        srv_reply(c, req, st);
        return;
    }
    if (!directory_exists(t->share, req->path ? req->path : "")) {
        srv_reply(c, req, STATUS_OBJECT_NAME_NOT_FOUND);
        return;
    }
    uint64_t id = s->next_id++;
    g_hash_table_insert(s->dir_opens, SMB_ID_KEY(id), t);
    SmbMsg *r = srv_response_to(req, STATUS_SUCCESS);
    r->file = id;
    srv_send_msg(c, r);
}
