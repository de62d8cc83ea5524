/* partition: the independent parts of a scenario, for `rdrsim run --jobs`.
 *
 * Two nodes are in one part when something in the scenario ties them: a
 * link's two ends; a declaration or action whose values name both (a node
 * by its name, or a UNC path \\NODE\...); a declaration that shares its id
 * with a node (workload c1 of client c1); or a value naming a declaration
 * that itself names a node (user=u1, where user u1 is on server s1).  What
 * names no node at all (the scenario line, a redirector) is in every part.
 *
 * No model couples nodes any other way: every random stream is an
 * entity's own (rng.h), and nothing travels but over links.  So a part run
 * alone does exactly what it does inside the whole run. */
#ifndef RDRSIM_PARTITION_H
#define RDRSIM_PARTITION_H

#include <glib.h>

#include "scenario.h"

/* The parts of a checked scenario, as Scenario views (the array frees
 * them), in the order of their first node in the file.
 * NULL when there is one part, or a timeline action names no node (it
 * may act on several parts at once). */
GPtrArray *scenario_partition(const Scenario *sc);

/* A view shares the whole's declarations, actions, index and text; it has
 * no expectations (they are judged on the merged run). */
void scenario_part_free(Scenario *part);

#endif
