/* libFuzzer target: `expect` lines, validated and then evaluated against a
 * small real trace (a ping run over a lossy link). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "expect.h"
#include "scenario.h"
#include "trace.h"
#include "world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] =
    "scenario fz seed=3 stop=1s\n"
    "client c1\nserver srv\n"
    "link c1 srv latency=1ms loss=20%\n"
    "at 0s c1 ping srv count=20 interval=10ms\n";

static Trace *trace_with_run(Scenario *sc)
{
    char *err = NULL;
    Trace *tr = trace_open(":memory:", &err);
    if (!tr)
        abort();
    TraceRunInfo info = { "fz.rsim", "fz", head, "", 3, TRACE_ALL };
    if (!trace_begin_run(tr, &info, &err))
        abort();
    Sim *sim = sim_new();
    World *w = world_new(sc, sim, tr, 3);
    sim_run(sim, SIM_SEC, 100000, NULL);
    world_write_metrics(w, tr);
    world_free(w);
    trace_end_run(tr, "complete", NULL, sim_now(sim), sim_events_run(sim), &err);
    sim_free(sim);
    /* Bound what one query may allocate or compute. */
    sqlite3_limit(trace_db(tr), SQLITE_LIMIT_LENGTH, 1 << 20);
    return tr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    expect_set_step_limit(2000000);
    char *text = malloc(sizeof head + size + 1);
    memcpy(text, head, sizeof head - 1);
    memcpy(text + sizeof head - 1, data, size);
    text[sizeof head - 1 + size] = '\0';
    Scenario *sc = scenario_parse("fz.rsim", text, world_schema());
    free(text);
    if (sc->errors->len == 0)
        world_check(sc);
    if (sc->errors->len == 0)
        expect_validate(sc);
    if (sc->errors->len == 0) {
        Trace *tr = trace_with_run(sc);
        int passed;
        expect_evaluate(tr, sc, devnull, &passed);
        trace_close(tr);
    }
    scenario_free(sc);
    return 0;
}
