/*
 * regions.c: the tracer's memory, straight from mmap (never malloc).
 *
 * Tables that must never move (sites, frames) are reserved PROT_NONE up
 * front and made writable in steps as they fill: untouched reservation
 * costs neither RSS nor core bytes, and gdb's gcore skips the inaccessible
 * part.
 */
#include "tracer.h"

#include <sys/mman.h>

void *hwt_map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void hwt_unmap(void *p, size_t bytes)
{
	munmap(p, bytes);
}

int hwt_region_reserve(struct hwt_region *r, size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	r->base = p;
	r->reserved = bytes;
	r->committed = 0;
	return 0;
}

int hwt_region_commit(struct hwt_region *r, size_t need)
{
	if (need <= r->committed)
		return 0;
	if (need > r->reserved)
		return -1;
	size_t page = 4096, upto = (need + page - 1) & ~(page - 1);
	if (mprotect(r->base + r->committed, upto - r->committed, PROT_READ | PROT_WRITE) != 0)
		return -1;
	r->committed = upto;
	return 0;
}
