/* pool: see pool.h. */
#include "pool.h"

void pool_init(Pool *p, size_t size)
{
    p->size = size < sizeof(void *) ? sizeof(void *) : size;
    p->free = NULL;
}

void pool_clear(Pool *p)
{
    while (p->free) {
        void *b = p->free;
        p->free = *(void **)b;
        g_free(b);
    }
}
