/*
 * glibc.c: the public hw_glibc_* API (heapwalk.h): locate.c finds malloc's
 * state in the target, walk.c walks it.
 *
 * The walk emits, per heap region in address order, one record per chunk:
 * HW_STATE_USED (held by the program), HW_STATE_FREE (tcache, fastbin, bin;
 * bin NONE when free but on no list, with a problem), HW_STATE_META (thread
 * tcache structs, fenceposts) and HW_STATE_TOP; then the mmapped chunks.
 */
#include "glibc_int.h"

#include <stdlib.h>
#include <string.h>

struct hw_glibc {
	hw_target *t;
	struct gw_located loc;
	int tcache_missing;
	int walked;
	hw_glibc_summary sum;
};

int hw_glibc_open(hw_glibc **out, hw_target *t)
{
	*out = NULL;
	if (!t)
		return hw_error_set(HW_EINVAL, "hw_glibc_open: no target");
	hw_glibc *g = calloc(1, sizeof *g);
	if (!g)
		return hw_error_set(HW_ENOMEM, "out of memory");
	g->t = t;
	int rc = gw_locate(t, &g->loc);
	if (rc < 0) {
		gw_located_free(&g->loc);
		free(g);
		return rc;
	}
	g->tcache_missing = rc == 1;
	memcpy(g->sum.version, g->loc.version, sizeof g->sum.version);
	g->sum.symbols = g->loc.symbols;
	*out = g;
	return HW_OK;
}

/* malloc_state begins with its lock (malloc.c: __libc_lock_define (,
 * mutex), an int, 0 when free) in every version from 2.26 on. */
uint64_t hw_glibc_busy(hw_glibc *g, unsigned *n_busy)
{
	uint64_t a = g->loc.in.main_arena, first = 0;
	unsigned n = 0;
	for (int i = 0; a && i < 4096; i++) {
		uint32_t mutex;
		uint64_t next;
		if (hw_read(g->t, a, &mutex, sizeof mutex) != HW_OK ||
		    hw_read_u64(g->t, a + g->loc.in.layout.ms_next, &next) != HW_OK)
			break; /* what cannot be read is the walk's to report */
		if (mutex && !n++)
			first = a;
		if (mutex && !n_busy)
			break;
		if (next == g->loc.in.main_arena)
			break;
		a = next;
	}
	if (n_busy)
		*n_busy = n;
	return first;
}

int hw_glibc_walk(hw_glibc *g, const hw_visitor *v)
{
	if (!g)
		return hw_error_set(HW_EINVAL, "hw_glibc_walk: no walker");
	if (g->tcache_missing && v && v->problem) {
		hw_problem p = {.kind = "tcache-not-found",
		                .address = 0,
		                .message = "the threads' tcache variable was not found: tcache'd "
		                           "chunks are reported as used"};
		v->problem(v->ctx, &p);
	}
	int rc = gw_walk(&g->loc.in, v, &g->sum);
	g->walked = 1;
	return rc;
}

const hw_glibc_summary *hw_glibc_get_summary(const hw_glibc *g)
{
	return g && g->walked ? &g->sum : NULL;
}

void hw_glibc_close(hw_glibc *g)
{
	if (!g)
		return;
	gw_located_free(&g->loc);
	free(g);
}
