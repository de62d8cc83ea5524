/* hugepages: the heap in 2 MiB pages where the system allows it.
 *
 * A thousand-client part's state is tens of megabytes touched at random,
 * and with 4 KiB pages a cold cache line was nearly always a TLB miss too.
 * One 1,000-client part run side by side on the two cores, with and
 * without: 6% less CPU time with (median of eight pairs). */
#ifndef RDRSIM_HUGEPAGES_H
#define RDRSIM_HUGEPAGES_H

/* Call before a command that simulates builds anything.  Does nothing without mimalloc (sanitizer
 * builds), when MIMALLOC_LARGE_OS_PAGES is 0, or where the system refuses;
 * the heap is then as it was. */
void hugepages_use(void);

#endif
