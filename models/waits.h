/* waits: the events of a run that timeline actions wait for (`after
 * endpoint a1 connected +400ms ...`, `after c1 open h1 done +10ms ...`).
 *
 * An event is named by the words the scenario uses for it ("endpoint a1
 * connected", "c1 open h1 done", "smbclient s1 negotiate done").  Models
 * announce events; a waiter runs at the first announcement of its event,
 * once.  Announcing costs a lookup only while someone waits
 * (waits_wanted), so the models skip even naming an event otherwise. */
#ifndef RDRSIM_WAITS_H
#define RDRSIM_WAITS_H

#include <stdbool.h>

typedef struct Waits Waits;

Waits *waits_new(void);
void waits_free(Waits *w);
/* fn(ctx) at the first waits_signal of `event` from now on. */
void waits_on(Waits *w, const char *event, void (*fn)(void *ctx), void *ctx);
/* Whether anyone still waits for anything (w may be NULL). */
bool waits_wanted(const Waits *w);
/* The event happened: its waiters run, in the order they were added. */
void waits_signal(Waits *w, const char *event);

#endif
