/*
 * pymalloc.c: the CPython pymalloc walker: arenas, pools, blocks.
 *
 * The walk is the one _PyObject_DebugMallocStats() makes (Objects/obmalloc.c,
 * 3.8-3.15), arenas taken in address order: for every arena_object with a
 * nonzero address, every
 * POOL_SIZE-aligned pool from the first aligned address up to the arena's
 * pool_address; a pool whose count is 0 is unused and skipped; a used pool
 * of size class i adds one pool, `count` blocks in use and capacity - count
 * available blocks.  So the summary is exactly what sys._debugmallocstats()
 * prints for the same memory.
 *
 * Inside a used pool a block is allocated when it lies below nextoffset and
 * is not on the freeblock chain (pymalloc_alloc / pymalloc_pool_extend);
 * blocks on the chain are FREE; the never-used tail from nextoffset on is
 * one TOP record.  Invariants: the chain is followed at most `capacity`
 * steps, a bitmap catches cycles, every pointer is checked to stay inside
 * its pool on a block boundary below nextoffset; a bad pool or arena is a
 * problem and the walk goes on with the next one.
 */
#include "cpython.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More arena objects than this is a corrupt maxarenas (1 TiB of arenas). */
#define MAX_ARENA_OBJECTS (1u << 20)
/* Blocks per pool: (16 KiB - 48) / 16 = 1021 at most. */
#define MAX_BLOCKS 1024

struct walk {
	struct hw_pymalloc *p;
	const hw_visitor *v;
	unsigned char *poolbuf;
	int stopped;
};

static void problem(struct walk *w, const char *kind, uint64_t addr, const char *fmt, ...)
    HW_PRINTF(4, 5);
static void problem(struct walk *w, const char *kind, uint64_t addr, const char *fmt, ...)
{
	if (!w->v || !w->v->problem)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	hw_problem pr = {.kind = kind, .address = addr, .message = msg};
	w->v->problem(w->v->ctx, &pr);
}

/* bytes: the block's bytes as read (size of them), for the visitor. */
static int emit(struct walk *w, uint64_t addr, uint64_t size, int state, const unsigned char *bytes)
{
	hw_alloc_view a = {.a = {.address = addr,
	                         .size = size,
	                         .arena = 0,
	                         .allocator = HW_ALLOCATOR_PYMALLOC,
	                         .state = (uint8_t)state,
	                         .bin = HW_BIN_NONE},
	                   .bytes = bytes,
	                   .n_bytes = bytes ? size : 0};
	if (w->v->alloc(w->v->ctx, &a.a)) {
		w->stopped = 1;
		return 1;
	}
	return 0;
}

/* Blocks of one used pool, in address order. */
static int walk_blocks(struct walk *w, uint64_t pool, const unsigned char *b, uint32_t size,
                       uint32_t count)
{
	const struct hw_py_layout *L = &w->p->layout;
	uint32_t capacity = (L->pool_size - L->pool_overhead) / size;
	uint32_t nextoffset = hw_py_u32(b, L->ph_nextoffset);
	uint32_t touched = (nextoffset - L->pool_overhead) / size;
	if (touched > capacity)
		touched = capacity;
	uint64_t freebits[MAX_BLOCKS / 64] = {0};
	uint32_t nfree = 0;
	uint64_t fb = hw_py_u64(b, L->ph_freeblock);
	for (uint32_t steps = 0; fb; steps++) {
		uint64_t off = fb - pool;
		if (fb < pool + L->pool_overhead || off >= nextoffset ||
		    (off - L->pool_overhead) % size) {
			problem(w, "bad-freeblock", pool,
			        "pool 0x%lx: free block pointer 0x%lx outside the pool's blocks",
			        (unsigned long)pool, (unsigned long)fb);
			break;
		}
		uint32_t idx = (uint32_t)((off - L->pool_overhead) / size);
		if (freebits[idx / 64] >> (idx % 64) & 1 || steps > capacity) {
			problem(w, "free-list-cycle", fb,
			        "pool 0x%lx: cycle in the free block chain", (unsigned long)pool);
			break;
		}
		freebits[idx / 64] |= 1ULL << (idx % 64);
		nfree++;
		fb = hw_py_u64(b, off);
	}
	/* Off by one, the pool may be mid-allocation: pymalloc_alloc raises
	 * ref.count before it moves freeblock (inlined into many of CPython's
	 * functions), and a process stopped or dumped between the two shows
	 * this (a field test: 7 of 25 cores of a Python loop aborted by a
	 * timer).  Said so, still a problem: a core cannot tell. */
	if (touched - nfree != count)
		problem(w, "pool-count-mismatch", pool,
		        "pool 0x%lx: count %u but %u blocks below nextoffset are not free%s",
		        (unsigned long)pool, count, touched - nfree,
		        touched - nfree + 1 == count
		            ? " (one more counted: a thread may have been inside pymalloc, "
		              "between its count and its free list, when the target was read)"
		            : "");
	if (!w->v || !w->v->alloc)
		return 0;
	for (uint32_t i = 0; i < touched; i++) {
		int is_free = freebits[i / 64] >> (i % 64) & 1;
		uint32_t off = L->pool_overhead + i * size;
		if (emit(w, pool + off, size, is_free ? HW_STATE_FREE : HW_STATE_USED, b + off))
			return 1;
	}
	if (touched < capacity && emit(w, pool + L->pool_overhead + (uint64_t)touched * size,
	                               (uint64_t)(capacity - touched) * size, HW_STATE_TOP, NULL))
		return 1;
	return 0;
}

/* A pool's bytes: a view into the target or a copy in w->poolbuf. */
static const unsigned char *pool_bytes(struct walk *w, uint64_t pool, size_t len)
{
	const unsigned char *b = hw_view(w->p->target, pool, len);
	if (b)
		return b;
	if (hw_read(w->p->target, pool, w->poolbuf, len) == HW_OK)
		return w->poolbuf;
	return NULL;
}

static int walk_arena(struct walk *w, uint32_t index, uint64_t address, uint64_t pool_address)
{
	struct hw_pymalloc *p = w->p;
	const struct hw_py_layout *L = &p->layout;
	hw_pymalloc_summary *S = &p->summary;
	uint64_t pool = (address + L->pool_size - 1) & ~(uint64_t)(L->pool_size - 1);
	if (pool < address) /* wrapped round the address space: no pool */
		return 0;
	/* Counted, not compared: an arena at the top of the address space
	 * would have pool + pool_size wrap round to 0, below pool_address. */
	uint64_t npools =
	    pool < pool_address ? (pool_address - pool + L->pool_size - 1) / L->pool_size : 0;
	/* Only headers are needed for the summary; blocks for a visitor. */
	size_t len = w->v && w->v->alloc ? L->pool_size : L->pool_overhead;
	/* A core's arena faulted in at once (one call instead of a fault
	 * every few pools); a hint: nothing depends on it. */
	if (len == L->pool_size && npools && hw_target_get_kind(p->target) == HW_TARGET_CORE)
		(void)hw_target_prefetch(p->target, pool, pool_address - pool);
	for (uint64_t i = 0; i < npools; i++, pool += L->pool_size) {
		const unsigned char *b = pool_bytes(w, pool, len);
		int blocks = len == L->pool_size;
		if (!b && blocks && (b = pool_bytes(w, pool, L->pool_overhead))) {
			/* its header alone (a core cut short inside the pool):
			 * counted from it as a summary without records counts
			 * it, its blocks not listed */
			blocks = 0;
			problem(w, "unreadable-pool", pool,
			        "pool 0x%lx of arena %u: only its header is readable, its blocks "
			        "are not listed",
			        (unsigned long)pool, index);
		}
		if (!b) {
			problem(w, "unreadable-pool", pool,
			        "pool 0x%lx of arena %u is not readable", (unsigned long)pool,
			        index);
			continue;
		}
		uint32_t count = hw_py_u32(b, L->ph_count);
		if (count == 0)
			continue; /* an unused pool, on the arena's freepools list */
		unsigned szidx;
		if (!hw_py_pool_header_ok(L, b, pool, &szidx, 0)) {
			problem(
			    w, "bad-pool-header", pool,
			    "pool 0x%lx of arena %u: header fails validation (count %u, szidx %u)",
			    (unsigned long)pool, index, count, hw_py_u32(b, L->ph_szidx));
			continue;
		}
		if (hw_py_u32(b, L->ph_arenaindex) != index)
			problem(w, "bad-arenaindex", pool, "pool 0x%lx: arenaindex %u, in arena %u",
			        (unsigned long)pool, hw_py_u32(b, L->ph_arenaindex), index);
		uint32_t size = (szidx + 1) * L->alignment;
		uint32_t capacity = (L->pool_size - L->pool_overhead) / size;
		hw_pymalloc_size_class *c = &S->size_classes[szidx];
		c->pools++;
		c->blocks_in_use += count;
		c->free_blocks += capacity - count;
		S->pools++;
		S->blocks_in_use += count;
		S->bytes_in_use += (uint64_t)count * size;
		S->free_blocks += capacity - count;
		if (w->v && (w->v->alloc || w->v->problem) && blocks &&
		    walk_blocks(w, pool, b, size, count))
			return 1;
	}
	return 0;
}

struct arena_ref {
	uint64_t address, pool_address;
	uint32_t index;
};

static int cmp_arena_ref(const void *a, const void *b)
{
	const struct arena_ref *x = a, *y = b;
	if (x->address != y->address)
		return x->address < y->address ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int walk_state(struct walk *w, const struct hw_py_state *s)
{
	struct hw_pymalloc *p = w->p;
	const struct hw_py_layout *L = &p->layout;
	if (s->maxarenas > MAX_ARENA_OBJECTS) {
		problem(w, "bad-maxarenas", s->arenas, "maxarenas %u is not believable",
		        s->maxarenas);
		return 0;
	}
	size_t len = (size_t)s->maxarenas * L->ao_size;
	unsigned char *ao = malloc(len ? len : 1);
	if (!ao)
		return hw_error_set(HW_ENOMEM, "out of memory");
	if (hw_read(p->target, s->arenas, ao, len) != HW_OK) {
		problem(w, "unreadable-arenas", s->arenas,
		        "the arena_object array (%u objects) is not readable", s->maxarenas);
		free(ao);
		return 0;
	}
	/* The arenas in use, then walked in address order: the records come
	 * out as one address-ordered run (the snapshot's sort has next to
	 * nothing to do), and the pages of the core are met in file order. */
	struct arena_ref *use = malloc((s->maxarenas ? s->maxarenas : 1) * sizeof *use);
	if (!use) {
		free(ao);
		return hw_error_set(HW_ENOMEM, "out of memory");
	}
	size_t n_use = 0;
	for (uint32_t i = 0; i < s->maxarenas; i++) {
		const unsigned char *o = ao + (size_t)i * L->ao_size;
		uint64_t address = hw_py_u64(o, L->ao_address);
		uint64_t pool_address = hw_py_u64(o, L->ao_pool_address);
		if (!address)
			continue; /* on unused_arena_objects */
		if (pool_address < address || pool_address > address + L->arena_size ||
		    address + L->arena_size < address) {
			problem(w, "bad-arena", s->arenas + (uint64_t)i * L->ao_size,
			        "arena %u at 0x%lx: pool_address 0x%lx outside it", i,
			        (unsigned long)address, (unsigned long)pool_address);
			continue;
		}
		use[n_use++] = (struct arena_ref){address, pool_address, i};
	}
	free(ao);
	qsort(use, n_use, sizeof *use, cmp_arena_ref);
	/* Arenas never share memory: one that starts inside the one before
	 * (a scribbled array naming an arena twice) would list its pools
	 * again.  It is a problem, and skipped. */
	size_t kept = 0;
	for (size_t k = 0; k < n_use; k++) {
		if (kept && use[k].address - use[kept - 1].address < L->arena_size) {
			problem(w, "arena-overlap", s->arenas + (uint64_t)use[k].index * L->ao_size,
			        "arena %u at 0x%lx lies inside arena %u at 0x%lx", use[k].index,
			        (unsigned long)use[k].address, use[kept - 1].index,
			        (unsigned long)use[kept - 1].address);
			continue;
		}
		use[kept++] = use[k];
	}
	n_use = kept;
	p->summary.arenas += n_use;
	int rc = 0;
	for (size_t k = 0; k < n_use && !rc; k++)
		rc = walk_arena(w, use[k].index, use[k].address, use[k].pool_address);
	free(use);
	return rc;
}

int hw_pymalloc_open(hw_pymalloc **out, hw_target *t)
{
	*out = NULL;
	if (!t)
		return hw_error_set(HW_EINVAL, "no target");
	struct hw_pymalloc *p = calloc(1, sizeof *p);
	if (!p)
		return hw_error_set(HW_ENOMEM, "out of memory");
	p->target = t;
	int rc = hw_py_detect(p);
	if (rc != HW_OK) {
		free(p);
		return rc;
	}
	*out = p;
	return HW_OK;
}

int hw_pymalloc_open_state(hw_pymalloc **out, hw_target *t, unsigned minor, uint64_t arenas,
                           uint32_t maxarenas)
{
	*out = NULL;
	const struct hw_py_layout *L = hw_py_layout_find(minor);
	if (!t || !L)
		return hw_error_set(HW_EINVAL, "no target, or CPython 3.%u not supported", minor);
	struct hw_pymalloc *p = calloc(1, sizeof *p);
	if (!p)
		return hw_error_set(HW_ENOMEM, "out of memory");
	p->target = t;
	p->layout = *L;
	p->major = 3, p->minor = minor;
	snprintf(p->summary.python_version, sizeof p->summary.python_version, "3.%u", minor);
	if (arenas) {
		p->states[0].arenas = arenas;
		p->states[0].maxarenas = maxarenas;
		p->n_states = 1;
		p->symbols = "given";
	} else {
		int rc = hw_py_find_states_heuristic(p);
		if (rc != HW_OK) {
			free(p);
			return rc;
		}
		p->symbols = "heuristic";
	}
	p->summary.symbols = p->symbols;
	*out = p;
	return HW_OK;
}

int hw_pymalloc_walk(hw_pymalloc *p, const hw_visitor *v)
{
	if (!p)
		return hw_error_set(HW_EINVAL, "no pymalloc handle");
	hw_pymalloc_summary *S = &p->summary;
	/* A walk recounts from zero; version and symbols stay. */
	S->arenas = S->pools = S->blocks_in_use = S->bytes_in_use = S->free_blocks = 0;
	S->n_size_classes = p->layout.n_classes;
	for (uint32_t i = 0; i < HW_ARRAY_SIZE(S->size_classes); i++) {
		S->size_classes[i] = (hw_pymalloc_size_class){0};
		if (i < S->n_size_classes)
			S->size_classes[i].size = (i + 1) * p->layout.alignment;
	}
	struct walk w = {.p = p, .v = v};
	w.poolbuf = malloc(p->layout.pool_size);
	if (!w.poolbuf)
		return hw_error_set(HW_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < p->n_states && !rc; i++)
		rc = walk_state(&w, &p->states[i]);
	free(w.poolbuf);
	p->walked = 1;
	if (w.stopped)
		return hw_error_set(HW_EINTR, "walk stopped by the visitor");
	return rc < 0 ? rc : HW_OK;
}

const hw_pymalloc_summary *hw_pymalloc_get_summary(const hw_pymalloc *p)
{
	return p ? &p->summary : NULL;
}

void hw_pymalloc_close(hw_pymalloc *p)
{
	free(p);
}
