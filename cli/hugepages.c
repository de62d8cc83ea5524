/* hugepages: see hugepages.h.
 *
 * mimalloc's own switch (MIMALLOC_LARGE_OS_PAGES) is read from the
 * environment before main, so it cannot be turned on from here.  Instead:
 *
 *  - mimalloc is handed an address range advised for transparent huge
 *    pages (which works in the kernel's "madvise" mode too), and takes
 *    memory from it before asking the system for more.  The range is only
 *    reserved (PROT_NONE): mimalloc commits what it uses, and nothing else
 *    costs memory, nor is scanned by valgrind's leak check.
 *
 *  - The range mimalloc took before main, for the C library's and GLib's
 *    first allocations, goes on serving the main thread; it is advised too,
 *    found as the mapping that holds a fresh block.
 *
 *  - mimalloc is told not to decommit: giving back part of a huge page
 *    splits it.  A run's peak memory stays with it to the end. */
#include "hugepages.h"

#ifdef RDRSIM_MIMALLOC
#include <inttypes.h>
#include <mimalloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define RANGE_ALIGN ((size_t)64 << 20) /* a multiple of mimalloc's segment alignment */
#define RANGE_SIZE ((size_t)8 << 30)

static void hand_over_range(void)
{
    char *p = mmap(NULL, RANGE_SIZE + RANGE_ALIGN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return;
    char *start = (char *)(((uintptr_t)p + RANGE_ALIGN - 1) & ~(uintptr_t)(RANGE_ALIGN - 1));
    if (madvise(start, RANGE_SIZE, MADV_HUGEPAGE) != 0 ||
        !mi_manage_os_memory(start, RANGE_SIZE, false, false, true, -1))
        munmap(p, RANGE_SIZE + RANGE_ALIGN);
}

static void advise_first_range(void)
{
    void *probe = malloc(64);
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    while (maps && fgets(line, sizeof line, maps)) {
        uintptr_t lo, hi;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) != 2)
            continue;
        if ((uintptr_t)probe >= lo && (uintptr_t)probe < hi) {
            madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
            break;
        }
    }
    if (maps)
        fclose(maps);
    free(probe);
}

void hugepages_use(void)
{
    const char *v = getenv("MIMALLOC_LARGE_OS_PAGES");
    if (v && strcmp(v, "0") == 0)
        return;
    mi_option_set_enabled(mi_option_allow_decommit, false);
    hand_over_range();
    advise_first_range();
}
#else
void hugepages_use(void) {}
#endif
