/* latency: the completion times of a run's application operations, oplock
 * and lease breaks and TDI disconnects, by kind, kept while the run goes
 * whatever its trace level, and written at its end as metrics, so that
 * every run (a sweep's, a repetition's, an untraced one) can be compared
 * on them.
 *
 * For each kind (an operation such as `open`, a break transition such as
 * BATCH to LEVEL_II, a disconnect mode) the metrics are
 *
 *   FAMILY.KIND.count                    completed
 *   FAMILY.KIND.p50_ns, p95_ns, p99_ns, max_ns   of the completed ones
 *   FAMILY.KIND.timed_out, cancelled, pending    and each one's _share
 *                                        of all the kind's
 *
 * with FAMILY `op`, `break`, `disconnect` or `http`.  A time-out, a cancellation
 * or something still pending at the end is never a completion time.
 * Quantiles are nearest-rank, exact up to LATENCY_EXACT samples of a kind
 * and within 1/128 (0.8%) of the true value beyond (log-linear buckets:
 * memory stays bounded on a run of millions of operations); max is exact.
 *
 * A collector knows only the trace's name ids of what it records; the
 * names are looked up when the metrics are written or collectors of a
 * run's parts (each with its own ids) are merged. */
#ifndef RDRSIM_LATENCY_H
#define RDRSIM_LATENCY_H

#include <stdint.h>

#define LATENCY_EXACT 4096

typedef struct Latencies Latencies;

/* How a thing ended. */
typedef enum { LAT_DONE, LAT_TIMED_OUT, LAT_CANCELLED, LAT_PENDING, LAT_N_OUTCOMES } LatOutcome;

/* Families; the key's meaning depends on it. */
typedef enum {
    LAT_OP,         /* a: operation name id */
    LAT_BREAK,      /* a, b, c: from-level, to-level and outcome name ids */
    LAT_DISCONNECT, /* a: mode name id */
    LAT_HTTP,       /* a: method name id: a WebDAV redirector's request, sent to its response received */
} LatFamily;

Latencies *latencies_new(void);
void latencies_free(Latencies *l);

/* One operation or disconnect that ended (or is pending) with this outcome
 * after ns (ignored unless LAT_DONE). */
void latencies_add(Latencies *l, LatFamily f, uint32_t a, LatOutcome o, int64_t ns);
/* One break row: its outcome is a name ("acked", "timeout", ...) that
 * latencies_write interprets; ns < 0 when it was never acknowledged. */
void latencies_add_break(Latencies *l, uint32_t from, uint32_t to, uint32_t outcome, int64_t ns);

/* The outcome of an operation from its final status. */
LatOutcome latency_outcome_of_status(uint32_t ntstatus);

/* Names by id, of the trace the ids are from. */
typedef const char *(*LatNameOf)(void *ctx, uint32_t id);
/* Name ids of another trace (the run the parts are merged into). */
typedef uint32_t (*LatIdOf)(void *ctx, const char *name);

/* Add what `from` holds into `into`, translating ids through names. */
void latencies_merge(Latencies *into, const Latencies *from, LatNameOf from_name, void *from_ctx, LatIdOf into_id,
                     void *into_ctx);

/* Every metric, sorted by name, through emit. */
void latencies_write(const Latencies *l, LatNameOf name_of, void *ctx,
                     void (*emit)(void *ctx, const char *name, double value), void *emit_ctx);

#endif
