/* libFuzzer target: the scenario language end to end short of running it:
 * tokenizer, parser, overrides, semantic checks, expectation validation,
 * and building the world (models and timeline) on an engine. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "expect.h"
#include "scenario.h"
#include "world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    Scenario *sc = scenario_parse("fuzz.rsim", text, world_schema());
    free(text);
    /* as `rdrsim check` does: every check over whatever parsed */
    world_check(sc);
    expect_validate(sc);
    if (sc->errors->len == 0) {
        scenario_draw_members(sc, scenario_seed(sc));
        Sim *sim = sim_new();
        World *w = world_new(sc, sim, NULL, scenario_seed(sc));
        /* A few events: the timeline's first actions start the models. */
        sim_run(sim, SIM_TIME_MAX, 200, NULL);
        world_free(w);
        sim_free(sim);
    }
    scenario_free(sc);
    return 0;
}
