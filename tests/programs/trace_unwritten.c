/*
 * trace_unwritten.c: a process whose memory holds the tracer's tables
 * (tests/unit/synthtrace.h's image, copied to SYNTH_BASE) with the shadow
 * of its pymalloc arena moved into a mapping nothing ever wrote: guarded by
 * inaccessible pages on both sides, so the kernel merges it with nothing
 * and leaves it out of the core (fs/coredump.c: private anonymous memory
 * is dumped once written).  Then abort() for a core.  The tracer's arena
 * records point such shadows at "arenas" that held no pymalloc block (a
 * 3.11+ frame data stack chunk comes from the arena allocator too); a
 * reader must take the shadow as empty, not as damage
 * (tests/integration/tracer_c.sh).
 * usage: trace_unwritten   (prints the shadow's address, then aborts)
 */
#include "synthtrace.h"
#include "tracer_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
	synth_image m = synth_trace(0);
	void *at = mmap((void *)(uintptr_t)SYNTH_BASE, m.len, PROT_READ | PROT_WRITE,
	                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (at != (void *)(uintptr_t)SYNTH_BASE) {
		perror("trace_unwritten: mmap at SYNTH_BASE");
		return 2;
	}
	memcpy(at, m.b, m.len);
	/* three pages: the middle one read-write and never touched */
	char *g = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED || mprotect(g + 4096, 4096, PROT_READ | PROT_WRITE) != 0) {
		perror("trace_unwritten: guarded page");
		return 2;
	}
	const struct hwt_root *r = at;
	struct hwt_pyarena *rec = (void *)((char *)at + (r->pyarenas - SYNTH_BASE));
	rec->shadow = (uint64_t)(uintptr_t)(g + 4096);
	printf("shadow %p\n", (void *)(g + 4096));
	fflush(stdout);
	abort();
}
