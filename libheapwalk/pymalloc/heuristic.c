/*
 * heuristic.c: finds pymalloc's arena_object array without symbols (for
 * stripped interpreters such as Debian's /usr/bin/python3.11, where
 * `arenas` and `maxarenas` are static and gone).
 *
 * 1. Pools: every POOL_SIZE-aligned address of an anonymous writable
 *    mapping whose 48 bytes pass hw_py_pool_header_ok() (szidx < 32,
 *    maxnextoffset == POOL_SIZE - size, nextoffset aligned and in range,
 *    0 < count <= capacity, freeblock 0 or inside the pool) is a used pool.
 *    Measured on 3.8-3.13, Debian 3.11.2, 3.14.8 and 3.15.0: exactly the pools that
 *    sys._debugmallocstats() reports (FACTS.md).
 * 2. Arenas: pools carry their arena's index; pools of one index span at
 *    most one arena.  The array sits in malloc'd memory (PyMem_RawRealloc
 *    in new_arena(), obmalloc.c), so an 8-aligned word X there holds the
 *    arena's page-aligned base A with A <= first pool, last pool + POOL <=
 *    A + ARENA, and at X+8 pool_address in (last pool, A + ARENA], at X+20
 *    ntotalpools of 63 or 64 (or 3.8's ARENA/POOL).  Each such X votes for
 *    the array base B = X - 48 * index; the base with most votes wins.
 * 3. Length: new_arena() grows the array 16, 32, 64... objects, so
 *    maxarenas is the largest 16 << k whose 48-byte objects fit in the
 *    malloc chunk at B (size word at B - 8, glibc's chunk header).
 * Every step is bounded by the mappings' sizes; nothing read is trusted.
 */
#include "cpython.h"

#include <stdlib.h>
#include <string.h>

#define PAGE 4096u

int hw_py_pool_header_ok(const struct hw_py_layout *L, const unsigned char *hdr, uint64_t pool,
                         unsigned *szidx_out, int check_freeblock)
{
	uint32_t count = hw_py_u32(hdr, L->ph_count);
	uint64_t freeblock = hw_py_u64(hdr, L->ph_freeblock);
	uint32_t szidx = hw_py_u32(hdr, L->ph_szidx);
	uint32_t nextoffset = hw_py_u32(hdr, L->ph_nextoffset);
	uint32_t maxnext = hw_py_u32(hdr, L->ph_maxnextoffset);
	if (szidx >= L->n_classes)
		return 0;
	uint32_t size = (szidx + 1) * L->alignment;
	uint32_t capacity = (L->pool_size - L->pool_overhead) / size;
	if (maxnext != L->pool_size - size)
		return 0;
	if (nextoffset < L->pool_overhead + size || nextoffset > maxnext + size ||
	    (nextoffset - L->pool_overhead) % size)
		return 0;
	if (count == 0 || count > capacity)
		return 0;
	if (check_freeblock && freeblock &&
	    (freeblock < pool + L->pool_overhead || freeblock >= pool + nextoffset ||
	     (freeblock - pool - L->pool_overhead) % size))
		return 0;
	*szidx_out = szidx;
	return 1;
}

struct found_pool {
	uint64_t addr;
	uint32_t arenaindex;
};

struct group {
	uint32_t index;
	uint64_t lo, hi; /* first pool, last pool + POOL_SIZE */
};

struct vote {
	uint64_t base;
	uint32_t votes;
};

static int anon_rw(const hw_mapping *m)
{
	return (m->perms & (HW_PERM_R | HW_PERM_W)) == (HW_PERM_R | HW_PERM_W) &&
	       !(m->perms & HW_PERM_SHARED) && (!m->path || strcmp(m->path, "[heap]") == 0);
}

/* Readable length of a mapping: cores may hold fewer bytes than mapped. */
static uint64_t readable_end(const hw_mapping *m)
{
	uint64_t n = m->core_bytes < m->end - m->start ? m->core_bytes : m->end - m->start;
	return m->start + n;
}

static int cmp_pool(const void *a, const void *b)
{
	const struct found_pool *x = a, *y = b;
	if (x->arenaindex != y->arenaindex)
		return x->arenaindex < y->arenaindex ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int cmp_group_lo(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int scan_pools(struct hw_pymalloc *p, struct found_pool **out, size_t *nout)
{
	const struct hw_py_layout *L = &p->layout;
	const hw_mapping *maps;
	size_t nmaps = hw_target_mappings(p->target, &maps);
	size_t n = 0, cap = 0;
	struct found_pool *v = NULL;
	for (size_t i = 0; i < nmaps; i++) {
		if (!anon_rw(&maps[i]) || maps[i].path)
			continue; /* arenas are mmapped: anonymous, never [heap] */
		uint64_t end = readable_end(&maps[i]);
		uint64_t from = hw_target_heap_floor(p->target, maps[i].start, maps[i].end);
		uint64_t a0 = (from + L->pool_size - 1) & ~(uint64_t)(L->pool_size - 1);
		/* counted: a mapping at the top of the address space (a
		 * corrupt core's) must not have a + POOL_SIZE wrap round */
		uint64_t n_at = a0 >= maps[i].start && a0 <= end ? (end - a0) / L->pool_size : 0;
		uint64_t data_hi = 0;
		for (uint64_t k = 0; k < n_at; k++) {
			uint64_t a = a0 + k * L->pool_size;
			unsigned char hdr[48];
			/* pages never touched (a thread's stack) hold no pool:
			 * skipped unread (hw_target_data_extent) */
			if (a >= data_hi) {
				uint64_t lo;
				if (hw_target_data_extent(p->target, a, end, &lo, &data_hi) !=
				    HW_OK)
					lo = a, data_hi = end;
				if (lo > a) {
					uint64_t next = (lo - a0 + L->pool_size - 1) / L->pool_size;
					if (next <= k)
						continue;
					k = next - 1; /* the loop's k++ makes it next */
					continue;
				}
			}
			const void *view = hw_view(p->target, a, sizeof hdr);
			if (view)
				memcpy(hdr, view, sizeof hdr);
			else if (hw_read(p->target, a, hdr, sizeof hdr) != HW_OK)
				continue;
			unsigned szidx;
			if (!hw_py_pool_header_ok(L, hdr, a, &szidx, 1))
				continue;
			/* an index no arena_object array can have (new_arena():
			 * at most 16 << 20 objects; detect.c's maxarenas_ok)
			 * is not a pool's */
			uint32_t index = hw_py_u32(hdr, L->ph_arenaindex);
			if (index >= HW_PY_MAX_ARENA_OBJECTS)
				continue;
			if (hw_grow((void **)&v, sizeof *v, &cap, n + 1)) {
				free(v);
				return hw_error_set(HW_ENOMEM, "out of memory");
			}
			v[n].addr = a;
			v[n].arenaindex = index;
			n++;
		}
	}
	*out = v;
	*nout = n;
	return HW_OK;
}

/* The group whose candidate range [hi - ARENA, lo] holds w (groups sorted by lo). */
static const struct group *group_for(const struct group *g, size_t ng, uint64_t w,
                                     uint32_t arena_size)
{
	size_t lo = 0, hi = ng;
	while (lo < hi) { /* first group with g.lo >= w */
		size_t mid = (lo + hi) / 2;
		if (g[mid].lo < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ng && g[lo].hi <= w + arena_size)
		return &g[lo];
	return NULL;
}

/* Whether [addr, addr + len) lies inside the pools of one group: the
 * arena_object array is malloc'd, never inside an arena, so the word scan
 * skips those bytes (most of a Python heap). */
static int inside_group(const struct group *g, size_t ng, uint64_t addr, uint64_t len)
{
	size_t lo = 0, hi = ng;
	while (lo < hi) { /* first group with g.lo > addr */
		size_t mid = (lo + hi) / 2;
		if (g[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && addr + len <= g[lo - 1].hi;
}

static void vote_for(struct vote *votes, size_t *nv, size_t cap, uint64_t base)
{
	for (size_t i = 0; i < *nv; i++)
		if (votes[i].base == base) {
			votes[i].votes++;
			return;
		}
	if (*nv < cap) {
		votes[*nv].base = base;
		votes[*nv].votes = 1;
		(*nv)++;
	}
}

static void scan_words(struct hw_pymalloc *p, const struct group *g, size_t ng, struct vote *votes,
                       size_t *nv, size_t vcap)
{
	const struct hw_py_layout *L = &p->layout;
	const hw_mapping *maps;
	size_t nmaps = hw_target_mappings(p->target, &maps);
	uint32_t per_arena = L->arena_size / L->pool_size;
	enum { CHUNK = 1 << 16 };
	unsigned char *buf = malloc(CHUNK + L->ao_size);
	if (!buf)
		return;
	for (size_t i = 0; i < nmaps; i++) {
		if (!anon_rw(&maps[i]))
			continue;
		uint64_t end = readable_end(&maps[i]);
		/* counted, as scan_pools' loop */
		uint64_t span = end - maps[i].start;
		uint64_t n_at = span >= L->ao_size ? (span - L->ao_size) / CHUNK + 1 : 0;
		uint64_t data_lo = 0, data_hi = 0;
		uint64_t from = hw_target_heap_floor(p->target, maps[i].start, maps[i].end);
		for (uint64_t k = 0; k < n_at; k++) {
			uint64_t a = maps[i].start + k * CHUNK;
			uint64_t len = end - a < CHUNK + L->ao_size ? end - a : CHUNK + L->ao_size;
			if (a + len <= from || inside_group(g, ng, a, len))
				continue;
			/* a chunk of zeros only (never touched) holds no array */
			if (a >= data_hi &&
			    hw_target_data_extent(p->target, a, end, &data_lo, &data_hi) != HW_OK)
				data_lo = a, data_hi = end;
			if (a + len <= data_lo)
				continue;
			const unsigned char *b = hw_view(p->target, a, len);
			if (!b) {
				if (hw_read(p->target, a, buf, len) != HW_OK)
					continue;
				b = buf;
			}
			for (uint64_t o = 0; o < CHUNK && o + L->ao_size <= len; o += 8) {
				uint64_t w = hw_py_u64(b, o);
				if (!w || w % PAGE)
					continue;
				const struct group *gr = group_for(g, ng, w, L->arena_size);
				if (!gr)
					continue;
				uint64_t pa = hw_py_u64(b, o + L->ao_pool_address);
				uint32_t nfree = hw_py_u32(b, o + L->ao_nfreepools);
				uint32_t ntotal = hw_py_u32(b, o + L->ao_ntotalpools);
				if (pa < gr->hi || pa > w + L->arena_size)
					continue;
				if (ntotal != per_arena && ntotal != per_arena - 1)
					continue;
				if (nfree > ntotal)
					continue;
				uint64_t x = a + o;
				if (x < (uint64_t)L->ao_size * gr->index)
					continue;
				vote_for(votes, nv, vcap, x - (uint64_t)L->ao_size * gr->index);
			}
		}
	}
	free(buf);
}

/* maxarenas from the malloc chunk holding the array (see the file comment). */
static uint32_t maxarenas_from_chunk(struct hw_pymalloc *p, uint64_t base, uint32_t min_needed)
{
	uint64_t hdr;
	if (hw_read_u64(p->target, base - 8, &hdr) != HW_OK)
		return 0;
	uint64_t usable = (hdr & ~7ULL) - 8;
	if ((hdr & ~7ULL) < 32 || (hdr & ~7ULL) > (1ULL << 32))
		return 0;
	uint64_t m = 0;
	for (uint64_t c = 16; c <= HW_PY_MAX_ARENA_OBJECTS && c * p->layout.ao_size <= usable;
	     c *= 2)
		m = c;
	if (m < min_needed)
		return 0;
	return (uint32_t)m;
}

int hw_py_find_states_heuristic(struct hw_pymalloc *p)
{
	struct found_pool *pools = NULL;
	size_t npools = 0;
	int rc = scan_pools(p, &pools, &npools);
	if (rc != HW_OK)
		return rc;
	if (!npools) {
		free(pools);
		/* CPython without a single used pool: nothing to walk, not an error. */
		return HW_OK;
	}
	qsort(pools, npools, sizeof *pools, cmp_pool);
	struct group *g = calloc(npools, sizeof *g);
	size_t ng = 0;
	uint32_t max_index = 0;
	for (size_t i = 0; g && i < npools; i++) {
		if (ng == 0 || g[ng - 1].index != pools[i].arenaindex) {
			g[ng].index = pools[i].arenaindex;
			g[ng].lo = pools[i].addr;
			ng++;
		}
		g[ng - 1].hi = pools[i].addr + p->layout.pool_size;
		if (pools[i].arenaindex > max_index)
			max_index = pools[i].arenaindex;
	}
	free(pools);
	if (!g)
		return hw_error_set(HW_ENOMEM, "out of memory");
	/* A group wider than an arena mixes states (subinterpreters) or is
	 * corrupt: it cannot vote. */
	size_t k = 0;
	for (size_t i = 0; i < ng; i++)
		if (g[i].hi - g[i].lo <= p->layout.arena_size)
			g[k++] = g[i];
	ng = k;
	qsort(g, ng, sizeof *g, cmp_group_lo);

	struct vote votes[256];
	size_t nv = 0;
	scan_words(p, g, ng, votes, &nv, HW_ARRAY_SIZE(votes));
	free(g);
	/* Keep every base that most groups agree on, best first. */
	for (int round = 0; round < HW_PY_MAX_STATES && nv; round++) {
		size_t best = 0;
		for (size_t i = 1; i < nv; i++)
			if (votes[i].votes > votes[best].votes)
				best = i;
		if (votes[best].votes == 0)
			break;
		uint64_t base = votes[best].base;
		votes[best].votes = 0;
		uint32_t m = maxarenas_from_chunk(p, base, max_index + 1);
		if (!m) {
			/* Without a chunk header (another malloc): the smallest
			 * array length that holds every index seen. */
			m = 16; /* max_index < HW_PY_MAX_ARENA_OBJECTS: no overflow */
			while (m <= max_index)
				m *= 2;
		}
		p->states[p->n_states].arenas = base;
		p->states[p->n_states].maxarenas = m;
		p->n_states++;
		break; /* several states without symbols: not yet */
	}
	if (!p->n_states)
		return hw_error_set(HW_ENOTFOUND,
		                    "pymalloc pools found but not their arena_object array");
	return HW_OK;
}
