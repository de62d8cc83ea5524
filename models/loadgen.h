/* loadgen: a stochastic application on a client machine, declared with
 * `workload NODE ...` (for a group: `workload c[*] ...`).
 *
 * It maps the share as drive W:, then issues operations at random times,
 * open loop: Poisson arrivals at `rate`, or think times drawn from a
 * distribution.  Each operation is drawn from a weighted mix (read, write,
 * lock, flush, query, open, close) and acts on a file drawn by popularity,
 * uniform or Zipf over the workload's `files` files (wl\f1.dat ...), with
 * request sizes from a distribution.  A file not yet open is opened first;
 * at most `max_open` stay open, the least recently used closed to make
 * room.  A session of `session` length ends with every handle closed and
 * the drive deleted, and the next one begins.  Every operation is a row of
 * `ops`; every draw comes from the client's own stream, so that adding a
 * client changes nothing another one does. */
#ifndef RDRSIM_LOADGEN_H
#define RDRSIM_LOADGEN_H

#include "dist.h"
#include "oplock.h"
#include "rdbss.h"

typedef struct LoadGen LoadGen;

/* The operations of a mix, in the order the weights are kept. */
typedef enum { LG_READ, LG_WRITE, LG_LOCK, LG_FLUSH, LG_QUERY, LG_OPEN, LG_CLOSE, LG_N_OPS } LoadOp;

/* Popularity of N files: uniform (s = 0) or Zipf with exponent s; shared
 * by every workload with the same N and s. */
typedef struct ZipfTable ZipfTable;
ZipfTable *zipf_table_new(int64_t n, double s);
void zipf_table_free(ZipfTable *z);

typedef struct {
    const char *share, *user, *password; /* "\\srv\share" */
    double rate;                         /* arrivals per second; 0: think times */
    const Dist *think, *size;            /* think time (ns), request size (bytes) */
    double weights[LG_N_OPS];
    const ZipfTable *popularity;
    int64_t file_size, max_open;
    OplockLevel oplock;
    SimTime session, start, stop;        /* session 0: one for the whole run; stop 0: none */
} LoadGenParams;

/* "read:6,write:3" into weights; false with *err for a malformed mix. */
bool loadgen_parse_mix(char **words, double *weights, char **err);
/* The path of file k (1-based) of a workload, inside the share. */
char *loadgen_file_path(int64_t k);

/* What the load generators of one run share, since a copy per generator
 * was a cold line per operation at a thousand clients: the trace names of
 * the operations and of the files' paths (the same for every workload: the
 * mapped drive W:, file k's name), each made by the first generator that
 * needs it, so that the names get the ids they got when every generator
 * kept its own; and the pool of operations in flight, so that an operation
 * takes the block the last one anywhere freed, still in cache.  It
 * outlives the generators that use it. */
typedef struct LoadGenShared LoadGenShared;
LoadGenShared *loadgen_shared_new(void);
void loadgen_shared_free(LoadGenShared *n);

LoadGen *loadgen_new(Rdbss *r, Trace *trace, Sim *sim, const char *node, const LoadGenParams *p, uint64_t seed,
                     LoadGenShared *shared);
void loadgen_free(LoadGen *g);
/* Operations still waiting at the end of the run. */
void loadgen_flush_trace(LoadGen *g);
/* Operations over so far (metric loadgen.ops: throughput at any trace level). */
uint64_t loadgen_ops_done(const LoadGen *g);

#endif
