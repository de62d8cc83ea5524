/* coherence: the oracle behind the coherence invariant of the client
 * side: no read returns bytes of a write superseded by another (issued
 * after the first was acknowledged, and acknowledged before the read
 * began), and no acknowledged write is lost unless its application was
 * told.  Writes that overlap in time may land in either order, as on a
 * real server.
 *
 * Every write an application issues gets a stamp (a run-wide counter, so
 * stamps follow the order of issue); the stamp travels with the bytes: in
 * the client cache, in WRITE requests, in the server's file contents and
 * in READ responses.  The oracle keeps, per file and byte range, the
 * latest-issued write acknowledged to an application, and when each write
 * was issued and acknowledged (a logical clock).  Files are named
 * "\srv\share\path", as the client's NET_ROOT name and its FCB path spell
 * them.
 *
 * One documented window is not a violation: a LEVEL_II (or read-caching
 * lease) break to NONE is not acknowledged and the server does not wait
 * for it (MS-SMB2 3.3.4.6), so a client may read stale data from its read
 * cache while that break is on its way.  Such a read is excused when the
 * break that revokes the cache had been sent when the read began; it is
 * counted (coherence.break_window_reads), not failed. */
#ifndef RDRSIM_COHERENCE_H
#define RDRSIM_COHERENCE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "ranges.h"
#include "trace.h"

typedef struct Coherence Coherence;

Coherence *coh_new(void);
void coh_free(Coherence *c);

/* A stamp for a write an application issues. */
uint64_t coh_stamp(Coherence *c);
/* The write's [start, end) was acknowledged to its application. */
void coh_acked(Coherence *c, const char *file, uint64_t start, uint64_t end, uint64_t stamp);
/* Its loss was reported to the application (STATUS_LOST_WRITEBEHIND_DATA
 * or the error of a failed write): no longer expected anywhere. */
void coh_lost(Coherence *c, const char *file, uint64_t start, uint64_t end);

/* What a read of [start, end) must not be older than, as of now; with the
 * file's epoch (truncation, deletion and rename start a new one, and a
 * read that spans one is not judged). */
GArray *coh_expect(Coherence *c, const char *file, uint64_t start, uint64_t end, uint64_t *epoch);
/* Judge a read by `node` that began at t0: `got` holds the stamps of the
 * bytes it returned.  A stale read from the client's read cache becomes a
 * suspect until a break of that cache reaches the node; any other stale
 * read is a violation (the first is kept for the run). */
void coh_judge_read(Coherence *c, const char *node, const char *file, const GArray *expect, uint64_t epoch,
                    const GArray *got, SimTime t0, bool from_cache);
/* One read judged (in one part or two): the metric's count. */
void coh_count_read(Coherence *c);
/* A break of `file`'s caching, sent by the server at t_sent, reached
 * `node`: its suspects from reads begun at or after t_sent are excused,
 * earlier ones are violations. */
void coh_break_arrived(Coherence *c, const char *node, const char *file, SimTime t_sent);

/* The server's own changes to a file. */
void coh_truncate(Coherence *c, const char *file, uint64_t size);
void coh_remove(Coherence *c, const char *file);
void coh_rename(Coherence *c, const char *from, const char *to);

/* The end of the run: every acknowledged range must be held by one of the
 * stores (the server's contents, dirty client caches) with a stamp at
 * least its own.  `store(ctx, file, start, end)` returns the stores'
 * ranges over [start, end) (NULL: the file is gone, e.g. its share was
 * deleted, which is no loss of the client's).  False on a violation. */
typedef GPtrArray *(*CohStores)(void *ctx, const char *file, uint64_t start, uint64_t end);
bool coh_check_end(Coherence *c, CohStores stores, void *ctx);

/* The first violation, or NULL. */
const char *coh_violation(const Coherence *c);
void coh_write_metrics(const Coherence *c, Trace *trace);

#endif
