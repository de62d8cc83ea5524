#include "http.h"

#include <string.h>

#include "net.h"

static const char *const methods[HTTP_N_METHODS] = {
    "OPTIONS", "PROPFIND", "GET", "PUT", "LOCK", "UNLOCK", "DELETE", "MOVE", "MKCOL",
};

const char *http_method_name(HttpMethod m) { return m < HTTP_N_METHODS ? methods[m] : "?"; }

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 423: return "Locked";
    case 500: return "Internal Server Error";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

/* The WebClient service's table (DavMapHttpErrorToDosError, whose comments
 * name the NTSTATUS each Win32 error stands for; Windows XP SP1 sources,
 * net/rdr2 WebDAV user-mode part): docs/models.md lists it with its source. */
NTSTATUS http_to_ntstatus(int status)
{
    if ((status >= 200 && status < 300) || status == 304 || status == 307)
        return STATUS_SUCCESS;
    switch (status) {
    case 300: case 500: case 503: return STATUS_UNSUCCESSFUL;
    case 301: case 302: case 303: case 404: case 410: return STATUS_OBJECT_NAME_NOT_FOUND;
    case 305: case 502: case 504: return STATUS_HOST_UNREACHABLE;
    case 401: case 402: case 403: case 405: case 406: case 407: case 423: return STATUS_ACCESS_DENIED;
    case 408: return STATUS_IO_TIMEOUT;
    case 400: case 409: case 411: case 412: case 413: case 414: case 415: case 422: case 424:
        return STATUS_INVALID_PARAMETER;
    case 449: return STATUS_RETRY;
    case 501: case 505: return STATUS_NOT_SUPPORTED;
    case 507: return STATUS_QUOTA_EXCEEDED;
    default: return STATUS_UNSUCCESSFUL;
    }
}

struct HttpWire {
    Trace *trace;
    Sim *sim;
    GHashTable *in_flight; /* tag -> HttpMsg*: records sent, not yet received */
    uint64_t next_tag;
    uint32_t names[HTTP_N_METHODS]; /* trace name ids, 0 until a message first needs one: a run
                                     * without HTTP adds no name to its trace */
    HttpCapture capture;
    void *capture_ctx;
};

void http_wire_set_capture(HttpWire *w, HttpCapture fn, void *ctx)
{
    w->capture = fn;
    w->capture_ctx = ctx;
}

HttpWire *http_wire_new(Trace *trace, Sim *sim)
{
    HttpWire *w = g_new0(HttpWire, 1);
    w->trace = trace;
    w->sim = sim;
    w->in_flight = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, (GDestroyNotify)http_msg_free);
    return w;
}

void http_wire_free(HttpWire *w)
{
    if (!w)
        return;
    g_hash_table_unref(w->in_flight);
    g_free(w);
}

HttpMsg *http_msg_new(HttpWire *w, HttpMethod method, const char *path)
{
    HttpMsg *m = g_new0(HttpMsg, 1);
    m->wire = w;
    m->method = method;
    m->path = g_strdup(path ? path : "/");
    m->overwrite = true;
    return m;
}

HttpMsg *http_response_to(const HttpMsg *req, int status)
{
    HttpMsg *m = http_msg_new(req->wire, req->method, req->path);
    m->response = true;
    m->status = status;
    m->request = req->request;
    m->host = g_strdup(req->host);
    return m;
}

void http_msg_free(HttpMsg *m)
{
    if (!m)
        return;
    g_free(m->path);
    g_free(m->host);
    g_free(m->user);
    g_free(m->password);
    g_free(m->destination);
    if (m->stamps)
        g_array_unref(m->stamps);
    g_free(m);
}

static HttpMsg *msg_copy_piece(const HttpMsg *m, uint64_t bytes)
{
    HttpMsg *p = http_msg_new(m->wire, m->method, m->path);
    p->response = m->response;
    p->request = m->request;
    p->is_piece = true;
    p->piece = bytes;
    return p;
}

/* The bodies rdrsim does not spell out byte for byte are sized as the
 * XML a client or server sends: a LOCK's lockinfo, a PROPFIND's prop
 * request, a multistatus's response per resource, a LOCK response's
 * lockdiscovery (RFC 4918 9.1, 9.10, 14). */
#define LOCKINFO_BYTES 230
#define PROPFIND_BYTES 290
#define PROPSTAT_BYTES 620
#define LOCKDISCOVERY_BYTES 420

GString *http_head(const HttpMsg *m)
{
    GString *h = g_string_sized_new(256);
    if (m->response) {
        g_string_append_printf(h, "HTTP/1.1 %d %s\r\nServer: rdrsim\r\n", m->status, http_reason(m->status));
        if (m->method == HTTP_OPTIONS && m->dav)
            g_string_append(h, "DAV: 1,2\r\nAllow: OPTIONS, GET, PUT, DELETE, PROPFIND, LOCK, UNLOCK, MOVE, MKCOL\r\n");
        if (m->etag)
            g_string_append_printf(h, "ETag: \"%016" G_GINT64_MODIFIER "x\"\r\n", m->etag);
        if (m->has_range)
            g_string_append_printf(h, "Content-Range: bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "\r\n",
                                   m->range_start, m->range_end - 1, m->size);
        if (m->lock_token && m->method == HTTP_LOCK)
            g_string_append_printf(h, "Lock-Token: <opaquelocktoken:%016" G_GINT64_MODIFIER "x>\r\n", m->lock_token);
        if (m->body)
            g_string_append(h, m->method == HTTP_GET ? "Content-Type: application/octet-stream\r\n"
                                                     : "Content-Type: application/xml; charset=\"utf-8\"\r\n");
    } else {
        g_string_append_printf(h, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Microsoft-WebDAV-MiniRedir\r\n",
                               methods[m->method], m->path, m->host ? m->host : "");
        if (m->user && *m->user) {
            char *cred = g_strconcat(m->user, ":", m->password ? m->password : "", NULL);
            char *b64 = g_base64_encode((const guchar *)cred, strlen(cred));
            g_string_append_printf(h, "Authorization: Basic %s\r\n", b64);
            g_free(b64);
            g_free(cred);
        }
        if (m->method == HTTP_PROPFIND)
            g_string_append_printf(h, "Depth: %d\r\n", m->depth);
        if (m->has_range)
            g_string_append_printf(h, "Range: bytes=%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "\r\n", m->range_start,
                                   m->range_end - 1);
        if (m->if_range)
            g_string_append_printf(h, "If-Range: \"%016" G_GINT64_MODIFIER "x\"\r\n", m->if_range);
        if (m->content_range)
            g_string_append_printf(h, "Content-Range: bytes 0-%" G_GUINT64_FORMAT "/*\r\n", m->body ? m->body - 1 : 0);
        if (m->method == HTTP_LOCK)
            g_string_append_printf(h, "Timeout: Second-%" G_GINT64_FORMAT "\r\n", m->timeout / SIM_SEC);
        if (m->lock_token)
            g_string_append_printf(h, m->method == HTTP_UNLOCK ? "Lock-Token: <opaquelocktoken:%016" G_GINT64_MODIFIER "x>\r\n"
                                                               : "If: (<opaquelocktoken:%016" G_GINT64_MODIFIER "x>)\r\n",
                                   m->lock_token);
        if (m->destination)
            g_string_append_printf(h, "Destination: http://%s%s\r\nOverwrite: %s\r\n", m->host ? m->host : "",
                                   m->destination, m->overwrite ? "T" : "F");
        g_string_append(h, "Connection: Keep-Alive\r\n");
    }
    g_string_append_printf(h, "Content-Length: %" G_GUINT64_FORMAT "\r\n\r\n", m->body);
    return h;
}

uint64_t http_msg_bytes(const HttpMsg *m)
{
    GString *h = http_head(m);
    uint64_t n = h->len + m->body;
    g_string_free(h, TRUE);
    return n;
}

/* The body sizes of the XML rdrsim does not spell out. */
static void size_xml_body(HttpMsg *m)
{
    if (m->body)
        return;
    if (!m->response && m->method == HTTP_LOCK && !m->lock_token)
        m->body = LOCKINFO_BYTES;
    else if (!m->response && m->method == HTTP_PROPFIND)
        m->body = PROPFIND_BYTES;
    else if (m->response && m->status == 207)
        m->body = 120 + (uint64_t)PROPSTAT_BYTES * MAX(m->entries, 1u);
    else if (m->response && m->method == HTTP_LOCK && m->status < 300)
        m->body = LOCKDISCOVERY_BYTES;
}

bool http_is_tag(uint64_t tag) { return (tag & HTTP_TAG_BIT) != 0; }

static void on_sent(void *ctx, TdiEndpoint *ep, const TdiIo *io)
{
    (void)ep;
    HttpWire *w = ctx;
    if (io->status != STATUS_SUCCESS) /* the connection went: the record stays unread */
        g_hash_table_remove(w->in_flight, &io->tag);
}

static NTSTATUS send_record(HttpWire *w, TdiEndpoint *ep, HttpMsg *m, uint32_t bytes, const GString *head)
{
    uint64_t *key = g_new(uint64_t, 1);
    *key = HTTP_TAG_BIT | ++w->next_tag;
    g_hash_table_insert(w->in_flight, key, m);
    if (head && w->capture)
        w->capture(w->capture_ctx, *key, head->str, (uint32_t)head->len);
    return tdi_send(ep, bytes, *key, on_sent, w);
}

NTSTATUS http_send(HttpWire *w, TdiEndpoint *ep, NetNode *node, NetNode *peer, HttpMsg *m)
{
    size_xml_body(m);
    GString *h = http_head(m);
    uint64_t head = h->len;
    m->t_sent = sim_now(w->sim);
    if (trace_level(w->trace) >= TRACE_MESSAGES) {
        if (!w->names[m->method])
            w->names[m->method] = trace_name(w->trace, methods[m->method]);
        TraceHttp t = {
            .request = (int64_t)m->request, .method = w->names[m->method], .path = trace_name(w->trace, m->path),
            .response = m->response, .status = m->status, .bytes = (int64_t)(head + m->body), .body = (int64_t)m->body,
            .range_start = m->has_range ? (int64_t)m->range_start : -1,
            .range_end = m->has_range ? (int64_t)m->range_end : -1,
        };
        trace_http_message(w->trace, m->t_sent, net_node_trace_id(node), net_node_trace_id(peer),
                           tdi_endpoint_conn(ep), &t);
    }
    uint64_t body = m->body, first = MIN(body, HTTP_PIECE);
    m->piece = first;
    uint64_t request = m->request;
    HttpMethod method = m->method;
    bool response = m->response;
    const char *path = m->path;
    HttpMsg tmpl = { .wire = w, .method = method, .response = response, .request = request, .path = (char *)path };
    /* the pieces are made before the message goes: a failed send may free it */
    GPtrArray *pieces = g_ptr_array_new();
    for (uint64_t at = first; at < body; at += HTTP_PIECE)
        g_ptr_array_add(pieces, msg_copy_piece(&tmpl, MIN(HTTP_PIECE, body - at)));
    NTSTATUS st = send_record(w, ep, m, (uint32_t)(head + first), h);
    g_string_free(h, TRUE);
    for (guint i = 0; i < pieces->len; i++) {
        HttpMsg *p = g_ptr_array_index(pieces, i);
        send_record(w, ep, p, (uint32_t)p->piece, NULL);
    }
    g_ptr_array_unref(pieces);
    return st;
}

HttpMsg *http_receive(HttpWire *w, uint64_t tag)
{
    HttpMsg *m = NULL;
    gpointer key;
    if (g_hash_table_steal_extended(w->in_flight, &tag, &key, (gpointer *)&m))
        g_free(key);
    return m;
}

int64_t http_wire_label(void *ctx, uint64_t tag, bool *has)
{
    HttpWire *w = ctx;
    HttpMsg *m = g_hash_table_lookup(w->in_flight, &tag);
    *has = m != NULL;
    return m ? (int64_t)m->request : -1;
}

HttpMsg *http_assemble(HttpRx *rx, HttpMsg *rec)
{
    if (rec->is_piece) {
        bool ours = rx->partial && rx->partial->request == rec->request && rx->partial->response == rec->response;
        if (ours)
            rx->got += rec->piece;
        http_msg_free(rec);
        if (!ours || rx->got < rx->partial->body)
            return NULL;
        HttpMsg *m = rx->partial;
        rx->partial = NULL;
        rx->got = 0;
        return m;
    }
    http_rx_clear(rx);
    if (rec->piece >= rec->body)
        return rec;
    rx->partial = rec;
    rx->got = rec->piece;
    return NULL;
}

void http_rx_clear(HttpRx *rx)
{
    http_msg_free(rx->partial);
    rx->partial = NULL;
    rx->got = 0;
}
