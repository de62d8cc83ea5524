/* ranges: a sorted array of disjoint byte ranges, each carrying a stamp
 * and one word of its owner's (a GArray of Range).  The client cache, the
 * server's file contents and the coherence oracle keep their data this
 * way: which write's bytes lie where. */
#ifndef RDRSIM_RANGES_H
#define RDRSIM_RANGES_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t start, end; /* [start, end) */
    uint64_t stamp;      /* the write the bytes came from (0: initial contents) */
    uint64_t aux;        /* the owner's: the server's version, the cache's dirty flag, ... */
} Range;

GArray *ranges_new(void);
/* Cut [start, end) out, splitting the ranges it crosses. */
void ranges_cut(GArray *r, uint64_t start, uint64_t end);
/* Put n in, replacing what it overlaps. */
void ranges_put(GArray *r, Range n);
/* Put n in only where nothing is yet. */
void ranges_fill(GArray *r, Range n);
/* Drop everything at or past size. */
void ranges_trim(GArray *r, uint64_t size);
/* A new array of the parts inside [start, end), clipped; gaps stay gaps. */
GArray *ranges_slice(const GArray *r, uint64_t start, uint64_t end);
bool ranges_cover(const GArray *r, uint64_t start, uint64_t end);
/* The range holding byte `at`, or NULL. */
const Range *ranges_at(const GArray *r, uint64_t at);

#endif
