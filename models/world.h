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

typedef struct World World;

const Schema *world_schema(void);

/* Semantic checks; problems become scenario errors. */
void world_check(Scenario *sc);

/* Build the models of sc on sim; schedule the timeline.  sc must outlive
 * the world. */
World *world_new(const Scenario *sc, Sim *sim, Trace *trace, uint64_t seed);
/* Write the run's metrics to the trace. */
void world_write_metrics(World *w, Trace *trace);
void world_free(World *w);

#endif
