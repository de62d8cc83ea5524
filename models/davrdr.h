/* davrdr: a WebDAV network mini-redirector: the MINIRDR_DISPATCH routines
 * over HTTP/1.1 (models/http.h) on the TDI transport, as the WebDAV
 * redirector of Windows (mrxdav with its WebClient service) does them.
 *
 * One persistent connection per SRV_CALL, one request on it at a time.
 * MRxCreateSrvCall connects and asks OPTIONS: a server that refuses the
 * connection, or answers without a DAV header, is not one of its (the name
 * falls through to the next provider).  No sessions: every request carries
 * its V_NET_ROOT's credentials.  No oplocks: an open downloads the whole
 * file (GET) into a copy of the redirector's, which reads and writes serve,
 * and the close writes it back (PUT): close-to-open consistency.  An open
 * for writing takes an exclusive write LOCK (RFC 4918) for as long as the
 * file is open for writing.  HTTP is stateless, so a lost connection is
 * not a lost SRV_CALL: the redirector connects again and sends the request
 * again (a GET goes on from the byte it reached, with Range and If-Range).
 *
 * The table leaves NULL what the protocol cannot do: no oplocks or
 * buffering changes, no byte-range locks, no EAs, security descriptors or
 * quotas, no change notification, FSCTLs or IOCTLs, no connection ids
 * (docs/models.md, "WebDAV redirector"). */
#ifndef RDRSIM_DAVRDR_H
#define RDRSIM_DAVRDR_H

#include "http.h"
#include "rdbss.h"

typedef struct DavRdr DavRdr;

typedef struct {
    SimTime request_timeout;  /* a request unanswered this long fails with STATUS_IO_TIMEOUT */
    SimTime lock_timeout;     /* the Timeout its LOCKs ask for */
    uint32_t scavenger_timeout; /* seconds */
    char **null_routines;     /* routine names left NULL besides the protocol's own */
    uint16_t port;            /* the server port it connects to */
} DavRdrParams;

DavRdr *davrdr_new(Rdbss *r, Tdi *tdi, HttpWire *wire, Net *net, Coherence *coh, const char *name,
                   const DavRdrParams *p, const MINIRDR_DISPATCH *d, bool delayed_close);
MiniRdr *davrdr_minirdr(DavRdr *s);
/* At the end of the run: the requests still waiting, as pending in the
 * http.METHOD.* metrics. */
void davrdr_flush_trace(DavRdr *s);
void davrdr_free(DavRdr *s);

/* The dispatch table: the protocol's NULL entries and the never-called
 * ones NULL. */
void davrdr_dispatch(MINIRDR_DISPATCH *d);
void davrdr_dispatch_for(const DavRdrParams *p, MINIRDR_DISPATCH *d);

#endif
