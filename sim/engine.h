/* engine: the simulated clock and the event queue.
 *
 * Time is int64_t nanoseconds since the start of the run.  Events run in
 * (time, insertion sequence) order, so events scheduled for the same instant
 * run in the order they were scheduled: the run is deterministic.
 *
 * Event records come from a pool owned by the Sim; a handle names a record
 * together with its generation, so cancelling a handle whose event already
 * ran (or was cancelled, and the record reused) is a harmless no-op. */
#ifndef RDRSIM_ENGINE_H
#define RDRSIM_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t SimTime;

#define SIM_NS  ((SimTime)1)
#define SIM_US  ((SimTime)1000)
#define SIM_MS  ((SimTime)1000000)
#define SIM_SEC ((SimTime)1000000000)
#define SIM_TIME_MAX INT64_MAX

typedef struct Sim Sim;

/* An event handler: ctx and arg are what the scheduler passed. */
typedef void (*SimHandler)(Sim *sim, void *ctx, uint64_t arg);

/* A handle to a scheduled event; SIM_NO_EVENT names none. */
typedef uint64_t SimEventId;
#define SIM_NO_EVENT ((SimEventId)0)

/* Why sim_run returned. */
typedef enum {
    SIM_DONE_EMPTY,      /* no event left */
    SIM_DONE_STOP_TIME,  /* next event lies beyond the stop time */
    SIM_DONE_MAX_EVENTS, /* event cap reached */
    SIM_DONE_STOPPED,    /* sim_stop() or the interrupt flag */
} SimDone;

Sim *sim_new(void);
void sim_free(Sim *sim);

SimTime sim_now(const Sim *sim);
uint64_t sim_events_run(const Sim *sim);
size_t sim_pending(const Sim *sim);
/* Entries in the queue, cancelled ones not yet swept included: never more
 * than twice sim_pending() once past a few thousand (memory stays with the
 * live events, however many time-outs are armed and cancelled). */
size_t sim_queued(const Sim *sim);

/* Schedule fn(ctx, arg) at absolute time t (t >= now) or after delay >= 0. */
SimEventId sim_at(Sim *sim, SimTime t, SimHandler fn, void *ctx, uint64_t arg);
SimEventId sim_after(Sim *sim, SimTime delay, SimHandler fn, void *ctx, uint64_t arg);

/* Cancel a pending event.  Returns false when the handle is stale: the event
 * ran, was cancelled already, or the handle is SIM_NO_EVENT. */
bool sim_cancel(Sim *sim, SimEventId id);

/* Time of the next pending event, or SIM_TIME_MAX when there is none. */
SimTime sim_next_time(Sim *sim);

/* Run events until the queue is empty, the next event is later than stop,
 * max_events events have run in this call (0: no cap), sim_stop() was
 * called, or *interrupt (when not NULL) became non-zero. */
SimDone sim_run(Sim *sim, SimTime stop, uint64_t max_events,
                volatile sig_atomic_t *interrupt);

/* Ask sim_run to return after the current event. */
void sim_stop(Sim *sim);

/* A model found an invariant broken: record the first message and stop.
 * The run is then marked failed. */
void sim_fail(Sim *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *sim_failure(const Sim *sim);

#endif
