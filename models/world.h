/* world: the simulated world a scenario describes.
 *
 * Owns the schema of the scenario language's declarations and actions (the
 * keys each model takes), checks what the grammar alone cannot (a ping needs
 * a link to its peer), builds the models from a parsed scenario and
 * schedules its timeline. */
#ifndef RDRSIM_WORLD_H
#define RDRSIM_WORLD_H

#include "engine.h"
#include "scenario.h"
#include "trace.h"
#include "smb.h"

typedef struct World World;

const Schema *world_schema(void);

/* Semantic checks; problems become scenario errors. */
void world_check(Scenario *sc);

/* Build the models of sc on sim; schedule the timeline.  sc must outlive
 * the world. */
World *world_new(const Scenario *sc, Sim *sim, Trace *trace, uint64_t seed);
/* Write the run's metrics to the trace: world_flush, then world_summary. */
void world_write_metrics(World *w, Trace *trace);
/* What is still open at the end of the run, and the metrics that are each
 * one model's own or counts (a run's parts add them up). */
void world_flush(World *w, Trace *trace);
/* The metrics of the whole: over n worlds, the parts of one run that ran
 * apart (n = 1: the whole run). */
void world_summary(World *const *ws, int n, Trace *trace);
/* TDI connections made: their ids are 1 to this. */
int64_t world_conns(const World *w);
/* The world's network, transport and SMB messages (NULL: no SMB), for a
 * capture of its wires (rdrsim pcap). */
Net *world_net(const World *w);
Tdi *world_tdi(const World *w);
SmbWire *world_smb_wire(const World *w);
/* The HTTP messages in flight (the WebDAV redirectors' and services'). */
typedef struct HttpWire HttpWire;
HttpWire *world_http_wire(const World *w);
void world_free(World *w);

#endif
