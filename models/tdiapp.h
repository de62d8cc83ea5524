/* tdiapp: scenario-driven clients of raw transport endpoints.
 *
 * An `endpoint` declaration opens a TDI connection endpoint on a node and
 * says how its client behaves: which event handlers it registers and
 * whether it confirms a controlled disconnect the peer starts (and after
 * how long).  Timeline actions issue the TDI requests: listen, accept,
 * connect, send, receive, disconnect.
 *
 * The client numbers the records it sends on each connection 1, 2, 3...
 * and the receiving client checks that they arrive in that order: the
 * metric tdi.EP.records_out_of_order counts every one that did not. */
#ifndef RDRSIM_TDIAPP_H
#define RDRSIM_TDIAPP_H

#include "scenario.h"
#include "waits.h"
#include "tdi.h"

typedef struct TdiApp TdiApp;

/* The keys of `endpoint` and of the transport keys of nodes are in the
 * schema (models/world.c); this module reads them by name. */

/* Transport parameters of a node declaration. */
/* A `router` declaration: a node with no transport of its own. */
bool tdiapp_is_router(const Decl *d);
void tdiapp_node_params(const Decl *node, TdiParams *p);

/* Checks the grammar cannot make: endpoint nodes, peers, modes. */
void tdiapp_check(Scenario *sc);

TdiApp *tdiapp_new(Tdi *tdi, Net *net, const Scenario *sc);
/* Announce "endpoint NAME connected" (a TDI_CONNECT, TDI_LISTEN or
 * TDI_ACCEPT that established it) and "endpoint NAME disconnected" (its
 * TDI_DISCONNECT completed, or an abortive disconnect reached it) there. */
void tdiapp_set_waits(TdiApp *app, Waits *waits);
void tdiapp_free(TdiApp *app);
/* Run one timeline action on an endpoint; false when it is not one. */
bool tdiapp_action(TdiApp *app, const Action *a);
void tdiapp_write_metrics(TdiApp *app, Trace *trace);

#endif
