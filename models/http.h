/* http: HTTP/1.1 messages with the WebDAV methods (RFC 9110, 9112, 4918),
 * both sides, over the TDI transport.
 *
 * A message is a struct; its size on the wire is the size of the real
 * message: the request or status line and the header fields rdrsim would
 * send, spelled out (http_head), and the body.  A message goes to TDI as
 * one record carrying its head and up to HTTP_PIECE bytes of body, then a
 * record per further HTTP_PIECE bytes, as a server writes a large body in
 * pieces: a receiver counts the body as it arrives (http_assemble), so a
 * transfer cut short knows how far it got (a GET resumed with Range).
 * Connections are persistent (HTTP/1.1's default, RFC 9112 9.3) and carry
 * one request at a time.
 *
 * Every message sent is traced in `http_messages` (method, path, status,
 * bytes, range); a record's tag has bit 63 set, which tells it from an SMB
 * record's where the transport asks the session protocol about a tag. */
#ifndef RDRSIM_HTTP_H
#define RDRSIM_HTTP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "ntstatus.h"
#include "tdi.h"

#define HTTP_PORT 80
#define HTTP_PIECE 65536u
#define HTTP_TAG_BIT (UINT64_C(1) << 63)

typedef enum {
    HTTP_OPTIONS, HTTP_PROPFIND, HTTP_GET, HTTP_PUT, HTTP_LOCK, HTTP_UNLOCK, HTTP_DELETE, HTTP_MOVE, HTTP_MKCOL,
    HTTP_N_METHODS
} HttpMethod;

typedef struct HttpWire HttpWire;

typedef struct {
    HttpWire *wire;
    HttpMethod method;
    bool response;
    int status;                /* a response's status code */
    uint64_t request;          /* the n-th request of its connection; its response repeats it */
    char *path;                /* the target's path: "/share/dir/a.doc" */
    char *host;                /* Host (the server's name) */
    char *user, *password;     /* Authorization: Basic (RFC 7617) */
    int depth;                 /* PROPFIND Depth: 0 or 1 */
    bool has_range;            /* GET Range: bytes=start-(end-1); a 206's Content-Range */
    uint64_t range_start, range_end;
    uint64_t if_range;         /* GET If-Range: the entity tag the range must still be of (0: none) */
    uint64_t etag;             /* a response's ETag (0: none) */
    uint64_t body;             /* Content-Length */
    uint64_t size;             /* the resource's length: a PROPFIND's getcontentlength, a 206's complete length */
    uint64_t lock_token;       /* LOCK response's Lock-Token; UNLOCK's Lock-Token; If: (<token>) of others */
    SimTime timeout;           /* LOCK Timeout: Second-N, and the lock's in the response */
    char *destination;         /* MOVE Destination */
    bool overwrite;            /* MOVE Overwrite: T (default) or F */
    bool content_range;        /* a PUT with Content-Range (refused: RFC 9110 14.5) */
    bool dav;                  /* OPTIONS response: DAV: 1,2 (RFC 4918 10.1) */
    bool collection;           /* PROPFIND response: the resource is a collection */
    uint32_t entries;          /* PROPFIND response: the resources it describes */
    GArray *stamps;            /* Range: the body's bytes as the coherence oracle knows them (no bytes of their own) */
    /* set by http_send / http_assemble */
    uint64_t piece;            /* body bytes in this record */
    bool is_piece;             /* a record with body only, no head */
    SimTime t_sent;
} HttpMsg;

const char *http_method_name(HttpMethod m);
/* The reason phrase of a status code (RFC 9110 15, RFC 4918 11). */
const char *http_reason(int status);
/* What the WebDAV redirector makes of a status (docs/models.md, "WebDAV:
 * HTTP status to NTSTATUS"): 2xx and 304 success. */
NTSTATUS http_to_ntstatus(int status);

HttpWire *http_wire_new(Trace *trace, Sim *sim);
void http_wire_free(HttpWire *w);

HttpMsg *http_msg_new(HttpWire *w, HttpMethod method, const char *path);
/* A response to `req`, with its method, path and request number. */
HttpMsg *http_response_to(const HttpMsg *req, int status);
void http_msg_free(HttpMsg *m);

/* The message's head as it goes on the wire (request or status line and
 * header fields, ending with the empty line). */
GString *http_head(const HttpMsg *m);
/* Bytes on the wire: head and body. */
uint64_t http_msg_bytes(const HttpMsg *m);

/* Send m (the wire keeps it until its last record is received): traced as
 * sent by `node` to `peer`.  Returns TDI's status for the first record. */
NTSTATUS http_send(HttpWire *w, TdiEndpoint *ep, NetNode *node, NetNode *peer, HttpMsg *m);
/* A record arrived: its message (head, or body piece), now the caller's. */
HttpMsg *http_receive(HttpWire *w, uint64_t tag);
bool http_is_tag(uint64_t tag);
/* For the packets view's msg_id: the request number (tdi.h TdiLabel). */
int64_t http_wire_label(void *ctx, uint64_t tag, bool *has);

/* A capture of the wire (rdrsim pcap): called with the tag of a message's
 * first record and the message's head, the bytes it starts with. */
typedef void (*HttpCapture)(void *ctx, uint64_t tag, const char *head, uint32_t len);
void http_wire_set_capture(HttpWire *w, HttpCapture fn, void *ctx);

/* One direction of a connection, putting messages together from their
 * records. */
typedef struct {
    HttpMsg *partial; /* a message whose body is still arriving */
    uint64_t got;     /* of its body */
} HttpRx;
/* Feed a received record: the whole message once its body is all in
 * (the caller's), else NULL. */
HttpMsg *http_assemble(HttpRx *rx, HttpMsg *rec);
void http_rx_clear(HttpRx *rx);

#endif
