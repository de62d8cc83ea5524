/* pool: a free list of same-sized blocks, handed out last-freed first.
 *
 * Why: the models allocate and free an object or two per event (a message,
 * a TDI request, a notice, a record on the stream).  mimalloc hands back a
 * block that was freed a whole page of allocations ago; at a thousand
 * clients that block has left the cache, and zeroing it is a miss.  The
 * block freed by the previous message is still in cache.  (Cachegrind, one
 * 1,000-client part: the allocator held a sixth of all last-level misses.)
 *
 * Ownership does not change: whoever allocates a block frees it, through
 * pool_free, as it would have with g_free.  The pool keeps only the blocks
 * on its free list, and pool_clear gives those back.  Sanitizer builds free
 * at once, so that a use after free is still caught. */
#ifndef RDRSIM_POOL_H
#define RDRSIM_POOL_H

#include <glib.h>
#include <stddef.h>
#include <string.h>

/* Sanitizer builds free at once (see above). */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_KEEPS_BLOCKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_KEEPS_BLOCKS 0
#endif
#endif
#ifndef POOL_KEEPS_BLOCKS
#define POOL_KEEPS_BLOCKS 1
#endif

typedef struct {
    size_t size;  /* of a block: at least a pointer */
    void *free;   /* free blocks, linked through their first word */
} Pool;

void pool_init(Pool *p, size_t size);
/* A zeroed block of p->size bytes. */
static inline void *pool_alloc0(Pool *p)
{
    void *b = p->free;
    if (!b)
        return g_malloc0(p->size);
    p->free = *(void **)b;
    memset(b, 0, p->size);
    return b;
}

/* Give a block back (NULL is a no-op). */
static inline void pool_free(Pool *p, void *block)
{
    if (!block)
        return;
    if (!POOL_KEEPS_BLOCKS) {
        g_free(block);
        return;
    }
    *(void **)block = p->free;
    p->free = block;
}

/* Free every block on the free list. */
void pool_clear(Pool *p);

#endif
