/*
 * walk.c: walks glibc malloc's heaps given a gw_input (glibc_int.h).
 *
 * Order of work, each step bounded and tolerant of corrupt data:
 *  1. mp_ and the arena ring (main_arena.next ... back to main_arena);
 *  2. the heap regions: the main heap (mp_.sbrk_base up to the end of the
 *     main arena's top chunk) and every heap_info of every other arena
 *     (heap_for_ptr(top), then the prev chain);
 *  3. the free lists: each live thread's tcache, each arena's fastbins and
 *     bins, into a list of entries and a bitmap of the chunks met, with bit
 *     planes of their kind of list (a hash set, freeset.h, only once a
 *     chunk is met twice), with glibc's own int_mallinfo() accounting kept
 *     on the way;
 *  4. a linear walk of every region in address order that classifies each
 *     chunk (used, free with its bin, allocator metadata, top) and checks it
 *     against the lists (PREV_INUSE, footer, arena bit), reading the bitmap
 *     in the same order (without one, the entries sorted by address);
 *  5. mmapped chunks: page starts of anonymous writable mappings outside the
 *     heaps whose header reads IS_MMAPPED with a page-multiple span.
 *
 * Invariants: no value read from the target is used as an address before it
 * was checked to be aligned and inside a region (lists) or below the region
 * end (chunk sizes); every list walk stops after as many steps as the
 * region bytes allow or at the first repeated chunk; memory is bounded by
 * the number of listed free chunks (their entries; on a healthy heap the
 * fastbins' chunks have none, their bits say all the walk needs), a bitmap
 * of 1/128 of the heap regions' bytes (at most gw_input.bitmap_max,
 * GW_BITMAP_MAX by default) and three planes as large (zero pages but
 * where a tcache'd or binned chunk lies), and the number of heaps.
 *
 * Source: glibc malloc/malloc.c and malloc/arena.c (2.26-2.43): bin_at,
 * fastbin_index, smallbin_index, largebin_index, tidx2usize, PROTECT_PTR,
 * int_mallinfo, musable, sysmalloc (fenceposts), new_heap, _int_memalign.
 */
#include "glibc_int.h"
#include "freeset.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARENAS 65536
#define MAX_HEAPS  (1u << 20)
/* Reads without a direct view (live processes) go through a window this
 * large: at least 4 of the target's 64 KiB cache blocks, so they go
 * straight to the process instead of filling the target's block cache
 * with the whole heap. */
#ifndef GW_WINDOW_SIZE
#define GW_WINDOW_SIZE (256u * 1024)
#endif
/* (fuzz_glibc builds this file with a window of 256 bytes, a power of two
 * of at least 32: its small heaps then span many windows) */
#define WINDOW_SIZE ((size_t)GW_WINDOW_SIZE)

enum region_kind { REGION_MAIN = 0, REGION_HEAP = 1 };

struct arena {
	uint64_t addr;
	uint64_t top, top_size;
	uint64_t system_mem;
	/* int_mallinfo() accounting, from the lists */
	uint64_t nfast, fast_bytes, nbinned, binned_bytes;
	uint64_t span; /* bytes of this arena's regions: bounds list walks */
	/* Chunks quick_lists() listed from each fastbin by their bits alone,
	 * with no entry in walker.added yet (quick_refill) */
	uint64_t quick_fast[GW_NFASTBINS];
};

struct region {
	uint64_t start, end;  /* chunks live in [start, end) */
	uint64_t bit0;        /* bit of start in the listed-chunk bitmap */
	uint64_t reserve_end; /* heaps: heap_info + HEAP_MAX_SIZE, excluded from mmap scans */
	const uint8_t *view;  /* a direct view of [start, end), or NULL */
	uint32_t arena;       /* index into arenas */
	uint8_t kind;
};

/* A window over target memory, refilled in blocks (or one direct view). */
struct window {
	const struct gw_input *in;
	uint64_t base;
	size_t len;
	const uint8_t *p;
	uint8_t *buf;
	uint64_t lo, hi; /* the range being walked: blocks are clipped to it */
};

/* The first 32 bytes of a chunk (prev_size, size, fd, bk): what the list
 * walks read of each chunk they visit. */
#define CAP_BYTES 32

struct cap_entry {
	uint64_t chunk;
	uint64_t w[CAP_BYTES / 8];
};

struct walker {
	const struct gw_input *in;
	const struct gw_layout *L;
	const hw_visitor *v;
	hw_glibc_summary *sum;
	int stopped; /* the visitor asked to stop */
	/* v->alloc while records are wanted: NULL without a visitor or once
	 * it asked to stop (one test per record) */
	int (*emit_fn)(void *ctx, const hw_alloc *a);
	uint64_t heap_max;
	uint64_t n_mmaps, mmapped_mem, sbrk_base, tcache_bins;
	uint64_t tcache_count, tcache_max_bytes; /* 2.42+: num_slots' base, the large bins' reach */
	struct arena *arenas;
	size_t n_arenas;
	struct region *regions;
	size_t n_regions, cap_regions;
	/* The list walks append each chunk they list to `added` and set its
	 * bit (one per 16 bytes of the regions) in `bits`: a set bit is a
	 * chunk met twice.  Only then is `set` (a hash of the entries, by
	 * chunk) built, to say which list had it first; from then on every
	 * entry also goes into it.  quick_lists() sets the bits of the
	 * fastbins' chunks without entries (most free chunks of a heap of
	 * small allocations; the linear walk needs only their bits):
	 * quick_refill() appends them before `set` is built from `added`
	 * (quick_fast_unlisted says there are some).  Without memory for the
	 * bitmap, the set serves from the start.  `kinds` holds three more bit planes like
	 * `bits` that say which kind of list each listed chunk is on
	 * (kind_code); the linear walk reads both in address order and clears
	 * a chunk's bit in `bits` when it meets it. */
	uint64_t *bits, *kinds;
	size_t n_words;
	struct gw_free *added;
	size_t n_added, cap_added;
	struct gw_freeset set;
	int set_on;
	int quick_fast_unlisted;
	struct gw_free *listed; /* the entries in address order, for the heap walks */
	size_t n_listed;
	struct window win;
	/* Chunks that may be on a list, kept by capture() from regions
	 * without a direct view, and an open-addressing index of them by
	 * address (cap_mask + 1 slots of entry number + 1, 0 = empty). */
	struct cap_entry *caps;
	size_t n_caps, cap_caps;
	uint32_t *cap_index;
	uint64_t cap_mask;
	uint64_t problems;
	uint64_t tc_lo, tc_hi; /* the lowest and highest of in->tcaches */
};

/* ---- problems and records ---- */

static void problem(struct walker *w, const char *kind, uint64_t addr, const char *fmt, ...)
    HW_PRINTF(4, 5);

static void problem(struct walker *w, const char *kind, uint64_t addr, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	w->problems++;
	if (w->v && w->v->problem) {
		hw_problem p = {.kind = kind, .address = addr, .message = msg};
		w->v->problem(w->v->ctx, &p);
	}
}

static inline __attribute__((always_inline)) void emit(struct walker *w, uint64_t chunk,
                                                       uint64_t usable, uint64_t arena,
                                                       hw_allocator alloc, hw_state state,
                                                       hw_bin bin)
{
	if (!w->emit_fn)
		return;
	/* The visitor gets the chunk's bytes where the window holds them
	 * (its len is 0 when it holds none). */
	uint64_t mem = chunk + GW_CHUNK_HDR;
	const struct window *win = &w->win;
	const uint8_t *bytes = NULL;
	size_t n = 0;
	uint64_t off = mem - win->base;
	if (off < win->len) {
		bytes = win->p + off;
		n = win->len - (size_t)off;
		if (n > usable)
			n = (size_t)usable;
	}
	hw_alloc_view a = {.a = {.address = mem,
	                         .size = usable,
	                         .arena = arena,
	                         .allocator = (uint8_t)alloc,
	                         .state = (uint8_t)state,
	                         .bin = (uint8_t)bin},
	                   .bytes = bytes,
	                   .n_bytes = n};
	if (w->emit_fn(w->v->ctx, &a.a)) {
		w->stopped = 1;
		w->emit_fn = NULL;
	}
}

static void count(hw_count *c, uint64_t bytes)
{
	c->count++;
	c->bytes += bytes;
}

/* ---- reading ---- */

static int rd(struct walker *w, uint64_t addr, void *buf, size_t len)
{
	if (addr + len < addr)
		return -1;
	return w->in->read(w->in->ctx, addr, buf, len) ? -1 : 0;
}

static int rd64(struct walker *w, uint64_t addr, uint64_t *out)
{
	return rd(w, addr, out, sizeof *out);
}

static inline uint64_t cap_slot(const struct walker *w, uint64_t chunk)
{
	return gw_chunk_hash(chunk) & w->cap_mask;
}

/* The captured entry of chunk, or NULL. */
static const struct cap_entry *cap_lookup(const struct walker *w, uint64_t chunk)
{
	for (uint64_t h = cap_slot(w, chunk);; h = (h + 1) & w->cap_mask) {
		uint32_t e = w->cap_index[h];
		if (!e)
			return NULL;
		if (w->caps[e - 1].chunk == chunk)
			return &w->caps[e - 1];
	}
}

/* The captured chunk whose first CAP_BYTES hold [addr, addr + len), or
 * NULL.  addr is a chunk's start, size word or fd word (its chunk is the
 * 16-aligned address at or 16 below it). */
static const struct cap_entry *cap_find(const struct walker *w, uint64_t addr, size_t len)
{
	uint64_t c = addr & ~(uint64_t)(GW_MALLOC_ALIGN - 1);
	for (int k = 0; k < 2 && c; k++, c -= GW_MALLOC_ALIGN) {
		if (addr + len > c + CAP_BYTES || addr + len < addr)
			return NULL;
		const struct cap_entry *e = cap_lookup(w, c);
		if (e)
			return e;
	}
	return NULL;
}

/* rd() of bytes that lie in region r, straight from its view if it has
 * one, else from the chunks capture() kept: the list walks read two words
 * of each of their chunks. */
static int rd_in(struct walker *w, const struct region *r, uint64_t addr, void *buf, size_t len)
{
	if (r->view && addr >= r->start && addr <= r->end && len <= r->end - addr) {
		memcpy(buf, r->view + (addr - r->start), len);
		return 0;
	}
	if (w->cap_index) {
		const struct cap_entry *e = cap_find(w, addr, len);
		if (e) {
			memcpy(buf, (const uint8_t *)e->w + (addr - e->chunk), len);
			return 0;
		}
	}
	return rd(w, addr, buf, len);
}

/* The first CAP_BYTES of a chunk in r from its view or the capture, in
 * one lookup; -1 when neither has them (the caller then reads the words
 * it needs with rd_in, one by one, as the lists always did). */
static int chunk_hdr(struct walker *w, const struct region *r, uint64_t chunk,
                     uint64_t hdr[CAP_BYTES / 8])
{
	if (r->view && chunk >= r->start && chunk <= r->end && CAP_BYTES <= r->end - chunk) {
		memcpy(hdr, r->view + (chunk - r->start), CAP_BYTES);
		return 0;
	}
	const struct cap_entry *e = w->cap_index ? cap_lookup(w, chunk) : NULL;
	if (!e)
		return -1;
	memcpy(hdr, e->w, CAP_BYTES);
	return 0;
}

/* Point the window at [start, end) if the target gives a direct view of it
 * all (cores); otherwise the window refills in blocks. */
static void window_range(struct window *win, uint64_t start, uint64_t end)
{
	win->len = 0;
	win->p = NULL;
	win->lo = start;
	win->hi = end;
	if (win->in->view && end > start) {
		const void *p = win->in->view(win->in->ctx, start, end - start);
		if (p) {
			win->base = start;
			win->len = end - start;
			win->p = p;
		}
	}
	if (!win->p && win->in->stream && end > start)
		win->in->stream(win->in->ctx, start, end - start);
}

/* Read n (<= 16) bytes at addr through the window.  Kept out of line: the
 * linear walk of a core reads its view directly, and with this inlined
 * into it (through win64) GCC 12 compiled that loop twice as slow (2.2M-
 * chunk core: 47-58 instead of 24-28 ms). */
static __attribute__((noinline)) int window_get(struct window *win, uint64_t addr, void *out,
                                                size_t n)
{
	if (addr + n < addr)
		return -1;
	if (!(win->p && addr >= win->base && addr + n <= win->base + win->len)) {
		if (!win->buf && !(win->buf = malloc(WINDOW_SIZE)))
			return -1;
		uint64_t blk = addr & ~(uint64_t)(WINDOW_SIZE - 1);
		if (addr + n > blk + WINDOW_SIZE)
			blk = addr;
		if (blk < win->lo && addr >= win->lo)
			blk = win->lo;
		/* clipped to the range walked when the bytes lie in it (up
		 * to its very end) */
		size_t len = WINDOW_SIZE;
		if (win->hi >= addr + n && blk + len > win->hi)
			len = (size_t)(win->hi - blk);
		const void *in_place =
		    win->in->window ? win->in->window(win->in->ctx, blk, len) : NULL;
		if (in_place) {
			win->base = blk;
			win->len = len;
			win->p = in_place;
			memcpy(out, win->p + (addr - win->base), n);
			return 0;
		}
		if (win->in->read(win->in->ctx, blk, win->buf, len) == 0) {
			win->base = blk;
			win->len = len;
		} else if (win->in->read(win->in->ctx, addr, win->buf, n) == 0) {
			/* Near the end of a mapping: a window of the n bytes. */
			win->base = addr;
			win->len = n;
		} else {
			win->p = NULL;
			win->len = 0;
			return -1;
		}
		win->p = win->buf;
	}
	memcpy(out, win->p + (addr - win->base), n);
	return 0;
}

static inline int win64(struct walker *w, uint64_t addr, uint64_t *out)
{
	const struct window *win = &w->win;
	if (win->p && addr >= win->base && addr - win->base + 8 <= win->len) {
		memcpy(out, win->p + (addr - win->base), 8);
		return 0;
	}
	return window_get(&w->win, addr, out, sizeof *out);
}

/* ---- regions ---- */

static int add_region(struct walker *w, uint64_t start, uint64_t end, uint64_t reserve_end,
                      uint32_t arena, enum region_kind kind)
{
	if (w->n_regions == w->cap_regions) {
		size_t ncap = w->cap_regions ? w->cap_regions * 2 : 16;
		struct region *nr = realloc(w->regions, ncap * sizeof *nr);
		if (!nr)
			return -1;
		w->regions = nr;
		w->cap_regions = ncap;
	}
	w->regions[w->n_regions++] = (struct region){.start = start,
	                                             .end = end,
	                                             .reserve_end = reserve_end,
	                                             .view = NULL,
	                                             .arena = arena,
	                                             .kind = kind};
	return 0;
}

static int cmp_region(const void *a, const void *b)
{
	const struct region *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* The region holding [addr, addr + len), or NULL. */
static const struct region *region_of(const struct walker *w, uint64_t addr, uint64_t len)
{
	size_t lo = 0, hi = w->n_regions;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct region *r = &w->regions[mid];
		if (addr < r->start)
			hi = mid;
		else if (addr >= r->end)
			lo = mid + 1;
		else
			return addr + len <= r->end && addr + len >= addr ? r : NULL;
	}
	return NULL;
}

static const struct gw_map *map_of(const struct gw_input *in, uint64_t addr)
{
	size_t lo = 0, hi = in->n_maps;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (addr < in->maps[mid].start)
			hi = mid;
		else if (addr >= in->maps[mid].end)
			lo = mid + 1;
		else
			return &in->maps[mid];
	}
	return NULL;
}

/* ---- step 1: mp_ and the arena ring ---- */

static int read_mp(struct walker *w)
{
	const struct gw_layout *L = w->L;
	uint8_t mp[256];
	if (L->mp_size > sizeof mp || rd(w, w->in->mp, mp, L->mp_size) < 0)
		return hw_error_set(HW_EFAULT, "mp_ at 0x%" PRIx64 " cannot be read", w->in->mp);
	int32_t n_mmaps;
	memcpy(&n_mmaps, mp + L->mp_n_mmaps, 4);
	w->n_mmaps = n_mmaps < 0 ? 0 : (uint64_t)n_mmaps;
	memcpy(&w->mmapped_mem, mp + L->mp_mmapped_mem, 8);
	memcpy(&w->sbrk_base, mp + L->mp_sbrk_base, 8);
	/* (2.42+: tcache_small_bins, the large bins being always there) */
	memcpy(&w->tcache_bins, mp + L->mp_tcache_bins, 8);
	if (w->tcache_bins > GW_TCACHE_SMALL_BINS) {
		problem(w, "bad-mp", w->in->mp, "mp_.tcache_bins is %" PRIu64 " (at most %d)",
		        w->tcache_bins, GW_TCACHE_SMALL_BINS);
		w->tcache_bins = GW_TCACHE_SMALL_BINS;
	}
	memcpy(&w->tcache_count, mp + L->mp_tcache_count, 8);
	memcpy(&w->tcache_max_bytes, mp + L->mp_tcache_bins + 8, 8);
	w->heap_max = GW_HEAP_MAX_SIZE;
	if (L->mp_hp_pagesize >= 0) {
		uint64_t hp;
		memcpy(&hp, mp + L->mp_hp_pagesize, 8);
		/* arena.c heap_max_size(): 4 * hp_pagesize when hugetlb heaps are on. */
		if (hp && !(hp & (hp - 1)) && hp <= (1ull << 32))
			w->heap_max = 4 * hp;
	}
	return HW_OK;
}

static int read_arenas(struct walker *w)
{
	const struct gw_layout *L = w->L;
	size_t cap = 8;
	w->arenas = calloc(cap, sizeof *w->arenas);
	if (!w->arenas)
		return HW_ENOMEM;
	uint64_t a = w->in->main_arena;
	while (w->n_arenas < MAX_ARENAS) {
		uint64_t next, top, sysmem;
		if (a % 8 || rd64(w, a + L->ms_next, &next) < 0 ||
		    rd64(w, a + L->ms_top, &top) < 0 ||
		    rd64(w, a + L->ms_system_mem, &sysmem) < 0) {
			if (w->n_arenas == 0)
				return hw_error_set(
				    HW_EFAULT, "main_arena at 0x%" PRIx64 " cannot be read", a);
			problem(w, "bad-arena", a, "arena ring: 0x%" PRIx64 " cannot be read", a);
			break;
		}
		if (w->n_arenas == cap) {
			struct arena *na = realloc(w->arenas, 2 * cap * sizeof *na);
			if (!na)
				return HW_ENOMEM;
			w->arenas = na;
			cap *= 2;
		}
		struct arena *ar = &w->arenas[w->n_arenas++];
		memset(ar, 0, sizeof *ar);
		ar->addr = a;
		ar->top = top;
		ar->system_mem = sysmem;
		uint64_t ts = 0;
		if (top % 16 == 0 && rd64(w, top + GW_SIZE_SZ, &ts) == 0)
			ar->top_size = ts & ~(uint64_t)GW_SIZE_BITS;
		else
			problem(w, "bad-top", top,
			        "arena 0x%" PRIx64 ": top chunk 0x%" PRIx64 " cannot be read", a,
			        top);
		if (next == w->in->main_arena)
			return HW_OK;
		for (size_t i = 0; i < w->n_arenas; i++) {
			if (w->arenas[i].addr == next) {
				problem(w, "arena-cycle", a,
				        "arena ring loops back to 0x%" PRIx64
				        " without reaching main_arena",
				        next);
				return HW_OK;
			}
		}
		a = next;
	}
	problem(w, "arena-cycle", a, "more than %d arenas: ring not followed further", MAX_ARENAS);
	return HW_OK;
}

/* ---- step 2: regions ---- */

/* The end of a main-arena segment that starts with a chunk at a: where
 * its chunk chain ends in the fencepost pair sysmalloc leaves when it moves
 * on (two CHUNK_HDR_SZ | PREV_INUSE headers), or at the end of top; 0 when
 * the chain breaks first (not a segment). */
static uint64_t segment_end(struct walker *w, uint64_t a, uint64_t lim)
{
	const struct arena *ar = &w->arenas[0];
	uint64_t p = a;
	while (p + GW_CHUNK_HDR <= lim) {
		uint64_t size, next;
		if (p == ar->top)
			return p + ar->top_size <= lim ? p + ar->top_size : 0;
		if (win64(w, p + GW_SIZE_SZ, &size) < 0)
			return 0;
		uint64_t sz = size & ~(uint64_t)GW_SIZE_BITS;
		if (sz == GW_CHUNK_HDR) {
			if (win64(w, p + GW_CHUNK_HDR + GW_SIZE_SZ, &next) < 0)
				return 0;
			return next == (GW_CHUNK_HDR | GW_PREV_INUSE) ? p + 2 * GW_CHUNK_HDR : 0;
		}
		if (sz < GW_MINSIZE || sz % GW_MALLOC_ALIGN || p + sz > lim || p + sz < p ||
		    (size & (GW_IS_MMAPPED | GW_NON_MAIN_ARENA)))
			return 0;
		p += sz;
	}
	return 0;
}

/* A main arena that is not one contiguous brk heap (sbrk failed, or
 * hugetlb heaps: sysmalloc went on in mmapped segments, then marked the
 * arena NONCONTIGUOUS).  Nothing records the segments: find them as page
 * starts of anonymous mappings outside the thread heaps whose chunk chain
 * (main-arena chunks: no IS_MMAPPED, no NON_MAIN_ARENA) ends exactly in a
 * fencepost pair or at the end of top. */
static void main_segments(struct walker *w)
{
	const struct arena *ar = &w->arenas[0];
	int top_found = 0;
	size_t heaps = w->n_regions;
	for (size_t m = 0; m < w->in->n_maps; m++) {
		const struct gw_map *map = &w->in->maps[m];
		if (!map->anonymous ||
		    (map->perms & (HW_PERM_R | HW_PERM_W)) != (HW_PERM_R | HW_PERM_W))
			continue;
		window_range(&w->win, map->start, map->end);
		uint64_t a = (map->start + GW_PAGE_SIZE - 1) & ~(GW_PAGE_SIZE - 1);
		/* a >= map->start: a step that wrapped round the address space
		 * (a mapping at its top, in a corrupt core) ends the scan */
		while (a >= map->start && a < map->end && map->end - a >= GW_MINSIZE) {
			uint64_t h[2], e = 0;
			int in_heap = 0;
			for (size_t i = 0; i < heaps && !in_heap; i++) {
				const struct region *r = &w->regions[i];
				uint64_t lo = r->kind == REGION_MAIN
				                  ? r->start
				                  : r->start & ~(w->heap_max - 1);
				if (a >= lo && a < r->reserve_end) {
					a = (r->reserve_end + GW_PAGE_SIZE - 1) &
					    ~(GW_PAGE_SIZE - 1);
					in_heap = 1;
				}
			}
			if (in_heap)
				continue;
			if (window_get(&w->win, a, h, 16) == 0 && h[0] == 0 &&
			    (h[1] & GW_SIZE_BITS) == GW_PREV_INUSE)
				e = segment_end(w, a, map->end);
			if (!e) {
				a += GW_PAGE_SIZE;
				continue;
			}
			add_region(w, a, e, e, 0, REGION_MAIN);
			top_found |= ar->top >= a && ar->top < e;
			a = (e + GW_PAGE_SIZE - 1) & ~(GW_PAGE_SIZE - 1);
		}
	}
	if (!top_found)
		problem(w, "main-top-elsewhere", ar->top,
		        "main arena top 0x%" PRIx64 " is in none of its segments", ar->top);
}

/* The end of the run of adjacent readable mappings from m: the brk heap
 * can be split in several (madvise(MADV_HUGEPAGE) on part of it, with
 * glibc.malloc.hugetlb=1, makes a mapping of its own). */
static uint64_t run_end(const struct gw_input *in, const struct gw_map *m)
{
	size_t i = (size_t)(m - in->maps);
	uint64_t end = m->end;
	while (i + 1 < in->n_maps && in->maps[i + 1].start == end &&
	       (in->maps[i + 1].perms & HW_PERM_R))
		end = in->maps[++i].end;
	return end;
}

static void main_region(struct walker *w)
{
	struct arena *ar = &w->arenas[0];
	uint32_t flags = 0;
	if (!w->sbrk_base)
		return; /* the main arena never got memory */
	uint64_t start = (w->sbrk_base + GW_MALLOC_ALIGN - 1) & ~(uint64_t)(GW_MALLOC_ALIGN - 1);
	uint64_t end = ar->top + ar->top_size;
	const struct gw_map *m = w->in->n_maps ? map_of(w->in, start) : NULL;
	if (w->in->n_maps && !m) {
		problem(w, "bad-main-heap", start, "mp_.sbrk_base 0x%" PRIx64 " is not mapped",
		        w->sbrk_base);
		return;
	}
	uint64_t m_end = m ? run_end(w->in, m) : 0;
	if (ar->top < start || end < ar->top || (m && end > m_end)) {
		if (rd(w, ar->addr + w->L->ms_flags, &flags, 4) == 0 &&
		    (flags & GW_NONCONTIGUOUS) && m) {
			/* The brk heap (when it is one) up to its fenceposts,
			 * then the mmapped segments. */
			window_range(&w->win, start, m_end);
			uint64_t e = segment_end(w, start, m_end);
			if (e)
				add_region(w, start, e, e, 0, REGION_MAIN);
			main_segments(w);
			return;
		}
		/* Top is elsewhere: walk the sbrk'd mapping alone; the walk
		 * reports where it stops. */
		problem(w, "main-top-elsewhere", ar->top,
		        "main arena top 0x%" PRIx64 " is not at the end of the brk heap 0x%" PRIx64,
		        ar->top, start);
		end = m ? m_end : start;
	}
	add_region(w, start, end, end, 0, REGION_MAIN);
}

static void heap_regions(struct walker *w, uint32_t ai)
{
	const struct gw_layout *L = w->L;
	struct arena *ar = &w->arenas[ai];
	uint64_t h = ar->top & ~(w->heap_max - 1);
	for (unsigned n = 0; h && n < MAX_HEAPS; n++) {
		uint64_t hi[6] = {0};
		if (rd(w, h, hi, L->hi_sizeof < sizeof hi ? L->hi_sizeof : sizeof hi) < 0) {
			problem(w, "bad-heap", h, "heap_info of arena 0x%" PRIx64 " cannot be read",
			        ar->addr);
			return;
		}
		uint64_t ar_ptr = hi[L->hi_ar_ptr / 8], prev = hi[L->hi_prev / 8],
		         size = hi[L->hi_size / 8];
		if (ar_ptr != ar->addr) {
			problem(w, "bad-heap", h,
			        "heap_info.ar_ptr is 0x%" PRIx64 ", not its arena 0x%" PRIx64,
			        ar_ptr, ar->addr);
			return;
		}
		if (size < L->hi_sizeof || size > w->heap_max) {
			problem(w, "bad-heap", h, "heap_info.size 0x%" PRIx64 " out of range",
			        size);
			return;
		}
		uint64_t start = h + L->hi_sizeof;
		if (!prev) {
			/* The arena's first heap holds the arena right after
			 * heap_info, then the first chunk (_int_new_arena). */
			if (ar->addr != h + L->hi_sizeof)
				problem(w, "bad-heap", h,
				        "first heap of arena 0x%" PRIx64 " does not hold it",
				        ar->addr);
			start = (ar->addr + L->ms_size + GW_MALLOC_ALIGN - 1) &
			        ~(uint64_t)(GW_MALLOC_ALIGN - 1);
		}
		if (start >= h + size) {
			problem(w, "bad-heap", h, "heap_info.size 0x%" PRIx64 " too small", size);
			return;
		}
		/* Heaps of one arena never repeat: a prev chain that comes back
		 * to an earlier heap is a cycle. */
		for (size_t i = 0; i < w->n_regions; i++) {
			if (w->regions[i].start <= h && h < w->regions[i].reserve_end) {
				problem(w, "heap-cycle", h,
				        "heap_info.prev chain revisits 0x%" PRIx64, h);
				return;
			}
		}
		if (add_region(w, start, h + size, h + w->heap_max, ai, REGION_HEAP) < 0)
			return;
		ar->span += size;
		if (prev % w->heap_max) {
			problem(w, "bad-heap", h, "heap_info.prev 0x%" PRIx64 " is not a heap",
			        prev);
			return;
		}
		h = prev;
	}
}

static void drop_overlaps(struct walker *w)
{
	if (w->n_regions > 1)
		qsort(w->regions, w->n_regions, sizeof *w->regions, cmp_region);
	size_t o = 0;
	for (size_t i = 0; i < w->n_regions; i++) {
		if (o && w->regions[i].start < w->regions[o - 1].end) {
			problem(w, "heap-overlap", w->regions[i].start,
			        "heap region overlaps the one at 0x%" PRIx64 ": skipped",
			        w->regions[o - 1].start);
			continue;
		}
		w->regions[o++] = w->regions[i];
	}
	w->n_regions = o;
	for (size_t i = 0; i < w->n_regions; i++)
		if (w->regions[i].kind == REGION_MAIN)
			w->arenas[0].span += w->regions[i].end - w->regions[i].start;
}

/* ---- step 3: free lists ---- */

/* The bitmap of listed chunks: a bit per 16 bytes of every region (1/128
 * of the heap, zero pages until a list touches them); above
 * gw_input.bitmap_max (heaps of gigabytes, where scanning it would cost
 * more than their chunks) or without memory for it the lists use the set
 * alone. */
static void list_bitmap(struct walker *w)
{
	uint64_t bits = 0;
	for (size_t i = 0; i < w->n_regions; i++) {
		w->regions[i].bit0 = bits;
		bits += (w->regions[i].end - w->regions[i].start + GW_MALLOC_ALIGN - 1) /
		        GW_MALLOC_ALIGN;
	}
	uint64_t max = w->in->bitmap_max ? w->in->bitmap_max : GW_BITMAP_MAX;
	w->n_words = (size_t)(bits / 64 + 1);
	w->bits = bits / 64 < max / 8 ? hw_big_resize(NULL, w->n_words * sizeof *w->bits) : NULL;
	w->kinds = w->bits ? hw_big_resize(NULL, 3 * w->n_words * sizeof *w->kinds) : NULL;
	if (!w->kinds) {
		hw_big_free(w->bits);
		w->bits = NULL;
		w->set_on = 1;
	}
}

/* The bit of chunk (16-aligned, in r) in the listed-chunk bitmap. */
static inline uint64_t chunk_bit(const struct region *r, uint64_t chunk)
{
	return r->bit0 + (chunk - r->start) / GW_MALLOC_ALIGN;
}

/* The kind of list a listed chunk is on, as three bits, one per plane of
 * `kinds`: plane 0 says "not a fastbin" and the other two which list then,
 * so the commonest lists write nothing there and their chunks' kind is one
 * bit read. */
static unsigned kind_code(hw_bin bin)
{
	switch (bin) {
	case HW_BIN_TCACHE:
		return 1;
	case HW_BIN_UNSORTED:
		return 1 | 2;
	case HW_BIN_SMALL:
		return 1 | 4;
	case HW_BIN_LARGE:
		return 1 | 2 | 4;
	default:
		return 0;
	}
}

static void kind_set(struct walker *w, uint64_t bit, hw_bin bin)
{
	unsigned code = kind_code(bin);
	for (unsigned k = 0; k < 3; k++)
		if (code >> k & 1)
			w->kinds[k * w->n_words + bit / 64] |= 1ull << (bit % 64);
}

static void kind_clear(struct walker *w, uint64_t bit)
{
	for (unsigned k = 0; k < 3; k++)
		w->kinds[k * w->n_words + bit / 64] &= ~(1ull << (bit % 64));
}

static inline hw_bin kind_get(const struct walker *w, uint64_t bit)
{
	const uint64_t *k = w->kinds + bit / 64;
	if (!(k[0] >> (bit % 64) & 1))
		return HW_BIN_FASTBIN;
	switch ((k[w->n_words] >> (bit % 64) & 1) | (k[2 * w->n_words] >> (bit % 64) & 1) << 1) {
	case 0:
		return HW_BIN_TCACHE;
	case 1:
		return HW_BIN_UNSORTED;
	case 2:
		return HW_BIN_SMALL;
	default:
		return HW_BIN_LARGE;
	}
}

/* bin_at(m, i) (malloc.c): the fake chunk of arena ar's bin i, whose fd
 * and bk are bins[2i-2] and bins[2i-1]. */
static uint64_t bin_at(const struct walker *w, const struct arena *ar, unsigned i)
{
	return ar->addr + w->L->ms_bins + (uint64_t)(i - 1) * 16 - 16;
}

/* Chunk size of bin idx of a tcache (tidx2usize + header, malloc.c). */
static uint64_t tcache_csize(unsigned idx)
{
	return GW_MINSIZE + (uint64_t)idx * GW_MALLOC_ALIGN;
}

/* Whether a chunk of size sz belongs in tcache bin idx: the small bins
 * hold one size each; 2.42's large bins (64 on) a power-of-two range
 * above the small ones, large_csize2tidx(): TCACHE_SMALL_BINS +
 * clz(MAX_TCACHE_SMALL_SIZE) - clz(sz) (1040, or 2.42's 1032: the same
 * leading zeros). */
static int tcache_bin_fits(unsigned idx, uint64_t sz)
{
	const uint64_t small_max = tcache_csize(GW_TCACHE_SMALL_BINS - 1);
	if (idx < GW_TCACHE_SMALL_BINS)
		return sz == tcache_csize(idx);
	return sz > small_max && GW_TCACHE_SMALL_BINS + (unsigned)__builtin_clzll(small_max) -
	                                 (unsigned)__builtin_clzll(sz) ==
	                             idx;
}

static unsigned smallbin_index(uint64_t sz)
{
	return (unsigned)(sz >> 4);
}

/* largebin_index_64 (malloc.c). */
static unsigned largebin_index(uint64_t sz)
{
	if ((sz >> 6) <= 48)
		return 48 + (unsigned)(sz >> 6);
	if ((sz >> 9) <= 20)
		return 91 + (unsigned)(sz >> 9);
	if ((sz >> 12) <= 10)
		return 110 + (unsigned)(sz >> 12);
	if ((sz >> 15) <= 4)
		return 119 + (unsigned)(sz >> 15);
	if ((sz >> 18) <= 2)
		return 124 + (unsigned)(sz >> 18);
	return 126;
}

static unsigned bin_index(uint64_t sz)
{
	return sz < (uint64_t)GW_NSMALLBINS * GW_MALLOC_ALIGN ? smallbin_index(sz)
	                                                      : largebin_index(sz);
}

static const char *bin_name(hw_bin b)
{
	static const char *const names[] = {"none",     "tcache", "fastbin",
	                                    "unsorted", "small",  "large"};
	return b < HW_ARRAY_SIZE(names) ? names[b] : "?";
}

/* The set made from the entries listed so far (`added`): 0, or -1 out
 * of memory (the set then holds part of them). */
static int index_added(struct walker *w)
{
	if (gw_freeset_reserve(&w->set, w->n_added) < 0)
		return -1;
	for (size_t i = 0; i < w->n_added; i++) {
		int dup;
		struct gw_free *e = gw_freeset_add(&w->set, w->added[i].chunk, &dup);
		if (!e)
			return -1;
		*e = w->added[i];
	}
	return 0;
}

static int quick_refill(struct walker *w);

/* Put chunk on the set as listed in bin; 0 to go on, -1 to stop this list
 * (a repeat: a cycle, or a chunk on two lists). */
static int list_add(struct walker *w, uint64_t chunk, hw_bin bin, unsigned list, uint32_t owner)
{
	int existed = 0;
	uint64_t *word = NULL, mask = 0, bit = 0;
	if (w->bits) {
		/* every listed chunk passed list_chunk_ok: 16-aligned, in a region */
		const struct region *r = region_of(w, chunk, GW_MINSIZE);
		if (!r)
			return -1;
		bit = chunk_bit(r, chunk);
		word = &w->bits[bit / 64];
		mask = 1ull << (bit % 64);
		if ((*word & mask) && !w->set_on) {
			/* the first chunk met twice: index what was listed */
			if (quick_refill(w) < 0 || index_added(w) < 0)
				return -1;
			w->set_on = 1;
		}
	}
	struct gw_free *f = NULL;
	if (w->set_on) {
		f = gw_freeset_add(&w->set, chunk, &existed);
		if (!f)
			return -1;
	}
	if (existed) {
		if (f->bin == bin && f->list == list && f->owner == owner)
			problem(w, "free-list-cycle", chunk,
			        "%s list %u loops back to chunk 0x%" PRIx64, bin_name(bin), list,
			        chunk);
		else
			problem(w, "double-listed", chunk,
			        "chunk 0x%" PRIx64 " is on %s list %u and on %s list %u", chunk,
			        bin_name(f->bin), f->list, bin_name(bin), list);
		return -1;
	}
	if (hw_grow((void **)&w->added, sizeof *w->added, &w->cap_added, w->n_added + 1))
		return -1;
	struct gw_free e = {
	    .chunk = chunk, .bin = (uint8_t)bin, .list = (uint16_t)list, .owner = owner};
	w->added[w->n_added++] = e;
	if (f)
		*f = e;
	if (word) {
		*word |= mask;
		kind_set(w, bit, bin);
	}
	return 0;
}

/* Room in `added` for n more entries (the chains read ahead); without
 * memory, list_add grows it as it goes. */
static void list_reserve(struct walker *w, size_t n)
{
	(void)hw_grow((void **)&w->added, sizeof *w->added, &w->cap_added, w->n_added + n);
}

/* Is chunk a plausible member of a list of arena ai (any arena: ai < 0)? */
static const struct region *list_chunk_ok(struct walker *w, uint64_t chunk, int ai)
{
	if (chunk % GW_MALLOC_ALIGN)
		return NULL;
	const struct region *r = region_of(w, chunk, GW_MINSIZE);
	if (!r || (ai >= 0 && r->arena != (uint32_t)ai))
		return NULL;
	return r;
}

static uint64_t reveal(const struct walker *w, uint64_t pos, uint64_t stored)
{
	/* PROTECT_PTR(pos, ptr) = (pos >> 12) ^ ptr (malloc.c, 2.32+). */
	return w->L->safe_linking ? (pos >> 12) ^ stored : stored;
}

/* Fastbin i's head in arena ar, or 0 where malloc_state has none (2.43). */
static int fastbin_head(struct walker *w, const struct arena *ar, unsigned i, uint64_t *p)
{
	if (i >= w->L->n_fastbins) {
		*p = 0;
		return 0;
	}
	return rd64(w, ar->addr + w->L->ms_fastbins + 8 * i, p);
}

/* The first n[i] chunks of each fastbin i of arena ai, which quick_lists()
 * followed and gave a bit but no entry, followed again: refill appends
 * their entries to `added`, otherwise their bits are cleared (quick_lists
 * takes back what it listed).  The same reads as quick_lists' give the
 * same chunks; it stops at a chunk whose bit is not set, should they not
 * (a live process's memory read again), so it never touches another
 * list's chunks.  0, or -1 out of memory (the entries made so far kept). */
static int quick_fast_replay(struct walker *w, uint32_t ai, const uint64_t n[GW_NFASTBINS],
                             int refill)
{
	const struct arena *ar = &w->arenas[ai];
	for (unsigned i = 0; i < GW_NFASTBINS; i++) {
		uint64_t p, fd;
		if (!n[i] || fastbin_head(w, ar, i, &p) < 0)
			continue;
		for (uint64_t k = 0; k < n[i]; k++) {
			const struct region *r = list_chunk_ok(w, p, (int)ai);
			if (!r)
				break;
			uint64_t bit = chunk_bit(r, p);
			uint64_t *word = &w->bits[bit / 64], mask = 1ull << (bit % 64);
			if (!(*word & mask))
				break;
			if (!refill) {
				*word &= ~mask;
			} else if (hw_grow((void **)&w->added, sizeof *w->added, &w->cap_added,
			                   w->n_added + 1)) {
				return -1;
			} else {
				w->added[w->n_added++] = (struct gw_free){.chunk = p,
				                                          .bin = HW_BIN_FASTBIN,
				                                          .list = (uint16_t)i,
				                                          .owner = ai};
			}
			if (rd_in(w, r, p + 16, &fd, 8) < 0)
				break;
			p = reveal(w, p + 16, fd);
		}
	}
	return 0;
}

/* Give the fastbin chunks quick_lists() listed by their bits alone their
 * entries in `added`, before a set is made from it: a chunk met twice
 * (list_add) or left unmet by the linear walk (unseen_listed) is then
 * found with the list it was on, as if the lists had been walked one by
 * one.  0, or -1 out of memory (then `added` lacks some of them). */
static int quick_refill(struct walker *w)
{
	if (!w->quick_fast_unlisted)
		return 0;
	w->quick_fast_unlisted = 0;
	for (uint32_t ai = 0; ai < w->n_arenas; ai++) {
		struct arena *ar = &w->arenas[ai];
		if (quick_fast_replay(w, ai, ar->quick_fast, 1) < 0)
			return -1;
		memset(ar->quick_fast, 0, sizeof ar->quick_fast);
	}
	return 0;
}

/* ---- the capture of list candidates (regions without a direct view) ---- */

/* A live process's heap is not copied whole: the list walks, which jump
 * through all of it in no useful order, would need every byte of it in our
 * memory first (a fresh copy as large as the heap, the costliest part of a
 * live snapshot).  Instead one streamed pass over each region's chunk
 * headers keeps the first CAP_BYTES of every chunk a list may hold:
 * - every chunk whose successor's PREV_INUSE is clear (a binned chunk);
 * - every chunk of a tcache or fastbin size whose fd word, revealed, is 0
 *   or a 16-aligned address inside the heap regions (a link).
 * The lists then read those chunks from the index.  It is a cache and no
 * more: a list pointer to a chunk not kept (a damaged heap, a chain into
 * the middle of a chunk) is read from the target, so what the walk finds
 * does not depend on what was kept.  The pass stops at the first chunk
 * header it cannot follow (the rest of that region is read on demand), and
 * keeps at most one entry per GW_MINSIZE bytes: its memory grows with the
 * free chunks, not with the heap's bytes. */

static void capture_keep(struct walker *w, uint64_t chunk, const uint64_t hdr[4])
{
	if (hw_grow((void **)&w->caps, sizeof *w->caps, &w->cap_caps, w->n_caps + 1))
		return;
	struct cap_entry *e = &w->caps[w->n_caps++];
	e->chunk = chunk;
	memcpy(e->w, hdr, CAP_BYTES);
}

static void capture_region(struct walker *w, const struct region *r, uint64_t lo, uint64_t hi)
{
	const struct arena *ar = &w->arenas[r->arena];
	uint64_t link_max = tcache_csize(w->tcache_bins ? w->tcache_bins - 1 : 0);
	if (w->L->tc_bins > GW_TCACHE_SMALL_BINS && w->tcache_max_bytes > link_max)
		link_max = w->tcache_max_bytes; /* 2.42's large bins, when in use */
	if (link_max < (GW_NFASTBINS + 1) * GW_MALLOC_ALIGN)
		link_max = (GW_NFASTBINS + 1) * GW_MALLOC_ALIGN;
	window_range(&w->win, r->start, r->end);
	uint64_t p = r->start;
	while (p + CAP_BYTES <= r->end && p != ar->top) {
		uint64_t hdr[4];
		if (win64(w, p, &hdr[0]) < 0 || win64(w, p + 8, &hdr[1]) < 0 ||
		    win64(w, p + 16, &hdr[2]) < 0 || win64(w, p + 24, &hdr[3]) < 0)
			return;
		uint64_t sz = hdr[1] & ~(uint64_t)GW_SIZE_BITS;
		if (sz == GW_CHUNK_HDR) { /* a fencepost */
			p += sz;
			continue;
		}
		if (sz < GW_MINSIZE || sz % GW_MALLOC_ALIGN || sz > r->end - p)
			return;
		uint64_t nsize = GW_PREV_INUSE;
		if (p + sz + GW_CHUNK_HDR <= r->end && win64(w, p + sz + 8, &nsize) < 0)
			return;
		int keep = !(nsize & GW_PREV_INUSE);
		if (!keep && sz <= link_max) {
			uint64_t l = reveal(w, p + 16, hdr[2]);
			keep = !l || (l % GW_MALLOC_ALIGN == 0 && l >= lo && l < hi);
		}
		if (keep)
			capture_keep(w, p, hdr);
		p += sz;
	}
}

/* capture() every region without a view, then index what was kept. */
static void capture(struct walker *w)
{
	if (!w->n_regions)
		return;
	uint64_t lo = w->regions[0].start, hi = w->regions[w->n_regions - 1].end;
	for (size_t i = 0; i < w->n_regions; i++)
		if (!w->regions[i].view)
			capture_region(w, &w->regions[i], lo, hi);
	if (!w->n_caps || w->n_caps >= UINT32_MAX / 4)
		return;
	uint64_t slots = 1024;
	while (slots < 2 * (uint64_t)w->n_caps)
		slots *= 2;
	w->cap_index = calloc((size_t)slots, sizeof *w->cap_index);
	if (!w->cap_index)
		return;
	w->cap_mask = slots - 1;
	for (size_t i = 0; i < w->n_caps; i++) {
		uint64_t h = cap_slot(w, w->caps[i].chunk);
		while (w->cap_index[h])
			h = (h + 1) & w->cap_mask;
		w->cap_index[h] = (uint32_t)(i + 1);
	}
}

static void capture_free(struct walker *w)
{
	free(w->caps);
	free(w->cap_index);
	w->caps = NULL;
	w->cap_index = NULL;
	w->n_caps = w->cap_caps = 0;
}

static void walk_tcache(struct walker *w, uint32_t ti, uint64_t tc)
{
	const struct gw_layout *L = w->L;
	uint8_t buf[1024];
	if (L->tc_size > sizeof buf || rd(w, tc, buf, L->tc_size) < 0) {
		problem(w, "bad-tcache", tc, "tcache 0x%" PRIx64 " cannot be read", tc);
		return;
	}
	/* 2.42+: every bin of the struct (the small ones past tcache_small_bins
	 * stay empty, their slots full) */
	unsigned bins = L->tc_bins > GW_TCACHE_SMALL_BINS ? L->tc_bins : (unsigned)w->tcache_bins;
	for (unsigned i = 0; i < bins; i++) {
		uint64_t cnt = 0, e;
		if (L->tc_count_width == 2) {
			uint16_t c16;
			memcpy(&c16, buf + L->tc_counts + 2 * i, 2);
			cnt = c16;
		} else {
			cnt = buf[L->tc_counts + i];
		}
		/* 2.42+: free slots left of mp_.tcache_count (tcache_init);
		 * more than that is damage, said once, and the bin's chain is
		 * walked all the same (as a wrong count of the older struct) */
		int counted = 1;
		if (L->tc_slots && cnt > w->tcache_count) {
			problem(w, "tcache-count", tc,
			        "tcache 0x%" PRIx64 " bin %u: %" PRIu64
			        " free slots, more than mp_.tcache_count %" PRIu64,
			        tc, i, cnt, w->tcache_count);
			counted = 0;
		} else if (L->tc_slots) {
			cnt = w->tcache_count - cnt;
		}
		memcpy(&e, buf + L->tc_entries + 8 * i, 8);
		uint64_t n = 0;
		/* counts[] is at most 65535: never follow a chain further. */
		while (e && n <= 65536) {
			uint64_t chunk = e - GW_CHUNK_HDR, size;
			const struct region *r = list_chunk_ok(w, chunk, -1);
			if (!r) {
				problem(w, "bad-list-pointer", e,
				        "tcache 0x%" PRIx64 " bin %u: entry 0x%" PRIx64
				        " is not in a heap",
				        tc, i, e);
				break;
			}
			uint64_t hdr[CAP_BYTES / 8];
			int have = chunk_hdr(w, r, chunk, hdr) == 0;
			if (have)
				size = hdr[1];
			else if (rd_in(w, r, chunk + GW_SIZE_SZ, &size, 8) < 0)
				break;
			if (!tcache_bin_fits(i, size & ~(uint64_t)GW_SIZE_BITS)) {
				problem(w, "bad-size", chunk,
				        "tcache bin %u (chunk size %" PRIu64
				        "%s) holds a chunk of size "
				        "%" PRIu64,
				        i,
				        i < GW_TCACHE_SMALL_BINS
				            ? tcache_csize(i)
				            : tcache_csize(GW_TCACHE_SMALL_BINS - 1),
				        i < GW_TCACHE_SMALL_BINS ? "" : " and up, by powers of two",
				        size & ~(uint64_t)GW_SIZE_BITS);
				break;
			}
			if (list_add(w, chunk, HW_BIN_TCACHE, i, ti) < 0)
				break;
			n++;
			uint64_t next;
			if (have)
				next = hdr[2];
			else if (rd_in(w, r, e, &next, 8) < 0)
				break;
			e = reveal(w, e, next);
		}
		if (counted && n != cnt)
			problem(w, "tcache-count", tc,
			        "tcache 0x%" PRIx64 " bin %u: counts says %" PRIu64
			        ", list has %" PRIu64,
			        tc, i, cnt, n);
	}
}

/* One step of a list read ahead: the chunk's size, fd and bk words. */
struct list_step {
	uint64_t size, fd, bk;
};

/* The lists of an arena read ahead: chain i < GW_NFASTBINS is fastbin i,
 * chain GW_NFASTBINS + i is bin i (1 .. GW_NBINS - 1). */
#define GATHER_CHAINS (GW_NFASTBINS + GW_NBINS)

struct gathered {
	struct list_step *steps[GATHER_CHAINS];
	size_t n[GATHER_CHAINS];
};

/* Steps read ahead per list (24 bytes each, freed after the walk of the
 * arena's lists): about the free chunks a 2 GiB heap of small chunks holds
 * in one fastbin; and in all the lists of an arena together. */
#define GATHER_MAX   (1u << 20)
#define GATHER_TOTAL (1u << 22)

/* Follow an arena's fastbin and bin chains side by side, each chain's next
 * chunk prefetched as soon as its address is known: a chain runs through
 * the whole heap in no useful order, and followed alone it waits for a
 * cache miss at every step; side by side, the misses overlap.  Each chain
 * is read ahead while its steps are plain ones (a chunk of this arena in a
 * region with a direct view or kept by capture(), for a fastbin of the
 * bin's size; a bin's chain stops at its head), at most GATHER_MAX steps,
 * the walk's own step limit, and GATHER_TOTAL steps for all chains
 * (chains from `first` on);
 * walk_fastbins and walk_bins take their steps from here while they last
 * and from memory after, so what they find does not depend on how far this
 * went. */
static void gather_lists(struct walker *w, uint32_t ai, uint64_t limit, struct gathered *g,
                         unsigned first)
{
	const struct arena *ar = &w->arenas[ai];
	uint64_t p[GATHER_CHAINS], head[GATHER_CHAINS];
	size_t cap[GATHER_CHAINS] = {0}, total = 0;
	unsigned act[GATHER_CHAINS], n_act = 0;
	for (unsigned c = 0; c < GATHER_CHAINS; c++) {
		g->n[c] = 0;
		g->steps[c] = NULL;
		head[c] = 0;
		if (c < first)
			continue;
		if (c < GW_NFASTBINS) {
			if (fastbin_head(w, ar, c, &p[c]) == 0 && p[c])
				act[n_act++] = c;
		} else if (c > GW_NFASTBINS) {
			head[c] = bin_at(w, ar, c - GW_NFASTBINS);
			if (rd64(w, head[c] + 16, &p[c]) == 0 && p[c] != head[c])
				act[n_act++] = c;
		}
	}
	while (n_act) {
		for (unsigned k = 0; k < n_act;) {
			unsigned c = act[k];
			int fast = c < GW_NFASTBINS;
			uint64_t hdr[CAP_BYTES / 8];
			const struct region *r = list_chunk_ok(w, p[c], (int)ai);
			if (!r || g->n[c] >= limit || g->n[c] >= GATHER_MAX ||
			    total >= GATHER_TOTAL || chunk_hdr(w, r, p[c], hdr) < 0 ||
			    (fast && ((hdr[1] & ~(uint64_t)GW_SIZE_BITS) >> 4) != c + 2u)) {
				act[k] = act[--n_act];
				continue;
			}
			if (hw_grow((void **)&g->steps[c], sizeof *g->steps[c], &cap[c],
			            g->n[c] + 1)) {
				act[k] = act[--n_act];
				continue;
			}
			g->steps[c][g->n[c]++] =
			    (struct list_step){.size = hdr[1], .fd = hdr[2], .bk = hdr[3]};
			total++;
			p[c] = fast ? reveal(w, p[c] + 16, hdr[2]) : hdr[2];
			if (!p[c] || p[c] == head[c]) {
				act[k] = act[--n_act];
				continue;
			}
			if (r->view && p[c] >= r->start && p[c] < r->end &&
			    r->end - p[c] > GW_CHUNK_HDR)
				__builtin_prefetch(r->view + (p[c] - r->start) + GW_SIZE_SZ);
			else if (w->cap_index)
				__builtin_prefetch(&w->cap_index[cap_slot(w, p[c])]);
			k++;
		}
	}
	size_t n = 0;
	for (unsigned c = 0; c < GATHER_CHAINS; c++)
		n += g->n[c];
	list_reserve(w, n);
}

static void gathered_free(struct gathered *g)
{
	for (unsigned c = 0; c < GATHER_CHAINS; c++)
		free(g->steps[c]);
}

/* The chains quick_lists() follows side by side: the fastbins, then the
 * unsorted and small bins (GW_NFASTBINS + i for bin i). */
#define QUICK_CHAINS (GW_NFASTBINS + GW_NSMALLBINS)

/* The fastbins and the unsorted and small bins of arena ai, followed side
 * by side (as gather_lists) and put on the listed set as they go, on a
 * heap where nothing about them is unusual.  On a healthy heap the lists
 * are disjoint and each ends where it should, so the order in which their
 * chunks are met changes nothing that walk_fastbins and walk_bins would
 * find (the same chunks listed, the same counts, no problem).  At the
 * first thing either would report or stop at (a pointer out of the arena's
 * heaps, a size of the wrong bin, a bk that does not point back, a chunk
 * met twice, the step limit, no view of a chunk, no memory), everything
 * this added is taken back and 0 is returned: the caller then walks the
 * lists one by one, as always.  Returns 1 when done.
 *
 * A fastbin's chunk gets its bit in `bits` and no entry in `added`: the
 * linear walk reads its kind from the bit planes (where a fastbin writes
 * nothing), and on a healthy heap nothing else asks for it.  What would
 * ask (a set made from `added`) calls quick_refill() first, which follows
 * the same chains again for the entries; ar->quick_fast says how far. */
static int quick_lists(struct walker *w, uint32_t ai, uint64_t limit)
{
	struct arena *ar = &w->arenas[ai];
	uint64_t p[QUICK_CHAINS], prev[QUICK_CHAINS], n[QUICK_CHAINS];
	uint64_t nfast = 0, fast_bytes = 0, nbinned = 0, binned_bytes = 0;
	unsigned act[QUICK_CHAINS], n_act = 0;
	size_t n0 = w->n_added;
	if (!w->bits || w->set_on)
		return 0;
	for (unsigned c = 0; c < QUICK_CHAINS; c++) {
		n[c] = 0;
		prev[c] = 0;
		if (c < GW_NFASTBINS) {
			if (fastbin_head(w, ar, c, &p[c]) < 0)
				return 0;
			if (p[c])
				act[n_act++] = c;
		} else if (c > GW_NFASTBINS) {
			/* prev: the bk expected */
			prev[c] = bin_at(w, ar, c - GW_NFASTBINS);
			if (rd64(w, prev[c] + 16, &p[c]) < 0)
				return 0;
			if (p[c] != prev[c])
				act[n_act++] = c;
		}
	}
	while (n_act) {
		for (unsigned k = 0; k < n_act;) {
			unsigned c = act[k];
			int fast = c < GW_NFASTBINS;
			unsigned i = fast ? c : c - GW_NFASTBINS;
			uint64_t chunk = p[c], hdr[CAP_BYTES / 8];
			const struct region *r = list_chunk_ok(w, chunk, (int)ai);
			if (!r || n[c] >= limit || chunk_hdr(w, r, chunk, hdr) < 0)
				goto undo;
			uint64_t sz = hdr[1] & ~(uint64_t)GW_SIZE_BITS;
			if (fast ? (sz >> 4) != i + 2u
			         : hdr[3] != prev[c] || sz < GW_MINSIZE ||
			               (i > 1 && bin_index(sz) != i))
				goto undo;
			uint64_t bit = chunk_bit(r, chunk);
			uint64_t *word = &w->bits[bit / 64], mask = 1ull << (bit % 64);
			if (*word & mask)
				goto undo; /* met twice: a cycle or a chunk on two lists */
			if (fast) {
				/* its bit alone: kind_code(HW_BIN_FASTBIN) is 0 */
				*word |= mask;
				nfast++;
				fast_bytes += sz;
			} else {
				if (hw_grow((void **)&w->added, sizeof *w->added, &w->cap_added,
				            w->n_added + 1))
					goto undo;
				*word |= mask;
				hw_bin bin = i == 1 ? HW_BIN_UNSORTED : HW_BIN_SMALL;
				kind_set(w, bit, bin);
				w->added[w->n_added++] = (struct gw_free){.chunk = chunk,
				                                          .bin = (uint8_t)bin,
				                                          .list = (uint16_t)i,
				                                          .owner = ai};
				nbinned++;
				binned_bytes += sz;
			}
			n[c]++;
			prev[c] = chunk;
			p[c] = fast ? reveal(w, chunk + 16, hdr[2]) : hdr[2];
			if (fast ? !p[c] : p[c] == bin_at(w, ar, i)) {
				act[k] = act[--n_act];
				continue;
			}
			/* the next chunk and its bit, fetched while the other
			 * chains go on */
			if (r->view && p[c] >= r->start && p[c] < r->end &&
			    r->end - p[c] > GW_CHUNK_HDR) {
				__builtin_prefetch(r->view + (p[c] - r->start) + GW_SIZE_SZ);
				__builtin_prefetch(&w->bits[chunk_bit(r, p[c]) / 64], 1);
			} else if (w->cap_index) {
				__builtin_prefetch(&w->cap_index[cap_slot(w, p[c])]);
			}
			k++;
		}
	}
	ar->nfast += nfast;
	ar->fast_bytes += fast_bytes;
	ar->nbinned += nbinned;
	ar->binned_bytes += binned_bytes;
	for (unsigned c = 0; c < GW_NFASTBINS; c++) {
		ar->quick_fast[c] = n[c];
		if (n[c])
			w->quick_fast_unlisted = 1;
	}
	return 1;
undo:
	(void)quick_fast_replay(w, ai, n, 0);
	for (size_t j = n0; j < w->n_added; j++) {
		const struct gw_free *e = &w->added[j];
		const struct region *r = region_of(w, e->chunk, GW_MINSIZE);
		uint64_t bit = chunk_bit(r, e->chunk);
		w->bits[bit / 64] &= ~(1ull << (bit % 64));
		kind_clear(w, bit);
	}
	w->n_added = n0;
	return 0;
}

static void walk_fastbins(struct walker *w, uint32_t ai, const struct gathered *g)
{
	struct arena *ar = &w->arenas[ai];
	uint64_t limit = ar->span / GW_MINSIZE + 1;
	for (unsigned i = 0; i < GW_NFASTBINS; i++) {
		uint64_t p;
		if (fastbin_head(w, ar, i, &p) < 0)
			break;
		for (uint64_t n = 0; p && n < limit; n++) {
			uint64_t size, fd;
			const struct region *r = NULL;
			if (n < g->n[i]) {
				size = g->steps[i][n].size;
				fd = g->steps[i][n].fd;
			} else {
				r = list_chunk_ok(w, p, (int)ai);
				if (!r) {
					problem(w, "bad-list-pointer", p,
					        "arena 0x%" PRIx64 " fastbin %u: 0x%" PRIx64
					        " is not a chunk of this arena",
					        ar->addr, i, p);
					break;
				}
				if (rd_in(w, r, p + GW_SIZE_SZ, &size, 8) < 0)
					break;
			}
			uint64_t sz = size & ~(uint64_t)GW_SIZE_BITS;
			/* fastbin_index(sz) = (sz >> 4) - 2 */
			if ((sz >> 4) != i + 2u) {
				problem(w, "bad-size", p,
				        "fastbin %u holds a chunk of size %" PRIu64, i, sz);
				break;
			}
			if (list_add(w, p, HW_BIN_FASTBIN, i, ai) < 0)
				break;
			ar->nfast++;
			ar->fast_bytes += sz;
			if (r && rd_in(w, r, p + 16, &fd, 8) < 0)
				break;
			p = reveal(w, p + 16, fd);
		}
	}
}

/* A large bin also links the first chunk of each size through
 * fd_nextsize/bk_nextsize (malloc.c, _int_malloc's large bin insertion):
 * where p has them, each must point back at p.  Large bin attacks
 * overwrite bk_nextsize. */
static void check_nextsize(struct walker *w, uint32_t ai, unsigned bin, uint64_t p)
{
	uint64_t ns[2], back;
	if (rd(w, p + 32, ns, sizeof ns) < 0 || (!ns[0] && !ns[1]))
		return;
	for (int k = 0; k < 2; k++) {
		/* fd_nextsize(p)->bk_nextsize == p, bk_nextsize(p)->fd_nextsize == p */
		uint64_t q = ns[k];
		if (!list_chunk_ok(w, q, (int)ai) || rd64(w, q + (k ? 32 : 40), &back) < 0 ||
		    back != p) {
			problem(w, "bin-link", p,
			        "arena 0x%" PRIx64 " large bin %u: chunk 0x%" PRIx64
			        " has %s 0x%" PRIx64 ", which does not point back",
			        w->arenas[ai].addr, bin, p, k ? "bk_nextsize" : "fd_nextsize", q);
			return;
		}
	}
}

static void walk_bins(struct walker *w, uint32_t ai, const struct gathered *g, unsigned first)
{
	struct arena *ar = &w->arenas[ai];
	uint64_t limit = ar->span / GW_MINSIZE + 1;
	for (unsigned i = first; i < GW_NBINS; i++) {
		uint64_t b = bin_at(w, ar, i);
		hw_bin kind = i == 1              ? HW_BIN_UNSORTED
		              : i < GW_NSMALLBINS ? HW_BIN_SMALL
		                                  : HW_BIN_LARGE;
		uint64_t p, prev = b;
		if (rd64(w, b + 16, &p) < 0)
			return;
		for (uint64_t n = 0; p != b; n++) {
			uint64_t hdr[4]; /* prev_size, size, fd, bk */
			if (n >= limit) {
				problem(w, "free-list-cycle", b,
				        "arena 0x%" PRIx64 " bin %u: longer than the heap allows",
				        ar->addr, i);
				break;
			}
			const struct list_step *st =
			    n < g->n[GW_NFASTBINS + i] ? &g->steps[GW_NFASTBINS + i][n] : NULL;
			const struct region *r = st ? NULL : list_chunk_ok(w, p, (int)ai);
			if (st) {
				/* read ahead: a chunk of this arena (gather_lists) */
				hdr[0] = 0; /* prev_size: not used */
				hdr[1] = st->size;
				hdr[2] = st->fd;
				hdr[3] = st->bk;
			} else if (!r || rd_in(w, r, p, hdr, sizeof hdr) < 0) {
				problem(w, "bad-list-pointer", p,
				        "arena 0x%" PRIx64 " bin %u: 0x%" PRIx64
				        " is not a chunk of this arena",
				        ar->addr, i, p);
				break;
			}
			uint64_t sz = hdr[1] & ~(uint64_t)GW_SIZE_BITS;
			if (hdr[3] != prev)
				problem(w, "bin-link", p,
				        "arena 0x%" PRIx64 " bin %u: chunk 0x%" PRIx64
				        " has bk 0x%" PRIx64 ", expected 0x%" PRIx64,
				        ar->addr, i, p, hdr[3], prev);
			if (sz < GW_MINSIZE || (i > 1 && bin_index(sz) != i))
				problem(w, "bad-size", p, "bin %u holds a chunk of size %" PRIu64,
				        i, sz);
			if (kind == HW_BIN_LARGE)
				check_nextsize(w, ai, i, p);
			if (list_add(w, p, kind, i, ai) < 0)
				break;
			ar->nbinned++;
			ar->binned_bytes += sz;
			prev = p;
			p = hdr[2];
		}
	}
}

/* ---- step 4: the linear walk ---- */

/* How far ahead of its chunk the linear walk prefetches (bytes): half a
 * page, about twenty chunks of a heap of small allocations.  The hardware
 * prefetchers stop at each 4 KiB page, and a core's pages are 4 KiB.  With
 * plain_run, 512 bytes was 10-13% slower on the 2.2M- and 22M-chunk bench
 * cores; 1 KiB to 2 KiB were alike, 2 KiB best on the larger core. */
#define LINEAR_AHEAD 2048

static int cmp_free(const void *a, const void *b)
{
	const struct gw_free *x = a, *y = b;
	return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* The listed chunks in address order, when there is no bitmap (heaps too
 * large for it, or no memory): the heap walks, in address order too, meet
 * them with a cursor instead of a lookup per chunk.  A radix sort; qsort
 * when there is no memory for its copy. */
static void sort_listed(struct walker *w)
{
	size_t n = w->n_added;
	if (!n)
		return;
	w->listed = malloc(n * sizeof *w->listed);
	if (!w->listed) {
		problem(w, "out-of-memory", 0, "no memory to sort %zu listed chunks", n);
		return;
	}
	memcpy(w->listed, w->added, n * sizeof *w->listed);
	w->n_listed = n;
	if (hw_sort_records(w->listed, n, sizeof *w->listed, 0))
		qsort(w->listed, n, sizeof *w->listed, cmp_free);
}

static size_t listed_lower_bound(const struct walker *w, uint64_t addr)
{
	size_t lo = 0, hi = w->n_listed;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (w->listed[mid].chunk < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A plausible chunk header at q in r: sane size, and its successor too. */
static int plausible(struct walker *w, const struct region *r, uint64_t q, uint64_t top)
{
	uint64_t s, s2;
	if (q == top)
		return 1;
	if (win64(w, q + GW_SIZE_SZ, &s) < 0)
		return 0;
	s &= ~(uint64_t)GW_SIZE_BITS;
	if (s < GW_MINSIZE || s % GW_MALLOC_ALIGN || q + s > r->end || q + s < q)
		return 0;
	if (q + s == r->end || q + s == top)
		return 1;
	if (win64(w, q + s + GW_SIZE_SZ, &s2) < 0)
		return 0;
	s2 &= ~(uint64_t)GW_SIZE_BITS;
	return s2 >= 16 && s2 % GW_MALLOC_ALIGN == 0 && q + s + s2 <= r->end;
}

static int is_tcache_struct(const struct walker *w, uint64_t chunk)
{
	if (chunk + GW_CHUNK_HDR < w->tc_lo || chunk + GW_CHUNK_HDR > w->tc_hi)
		return 0;
	for (size_t i = 0; i < w->in->n_tcaches; i++)
		if (w->in->tcaches[i] == chunk + GW_CHUNK_HDR)
			return 1;
	return 0;
}

/* Whether the linear walk's chunk p in r is listed and not met before:
 * its bin, marked met; or -1.  With the bitmap, its bit (then cleared) and
 * kind planes, read in address order like the heap; without, the sorted
 * entries and a cursor (*cur). */
static inline int listed_met(struct walker *w, const struct region *r, uint64_t p, size_t *cur)
{
	if (w->bits) {
		uint64_t bit = chunk_bit(r, p);
		uint64_t *word = &w->bits[bit / 64], mask = 1ull << (bit % 64);
		if (!(*word & mask))
			return -1;
		*word &= ~mask;
		return (int)kind_get(w, bit);
	}
	while (*cur < w->n_listed && w->listed[*cur].chunk < p)
		(*cur)++;
	if (*cur >= w->n_listed || w->listed[*cur].chunk != p || w->listed[*cur].seen)
		return -1;
	w->listed[*cur].seen = 1;
	return w->listed[*cur].bin;
}

/* A chunk size word the linear walk cannot step over: below MINSIZE, not a
 * multiple of MALLOC_ALIGN (bit 3, the flag bits being masked off in sz),
 * IS_MMAPPED set, or more than room bytes.  Tested as one branch. */
static inline int size_unfit(uint64_t size, uint64_t sz, uint64_t room)
{
	return (int)(((size & (GW_IS_MMAPPED | (GW_MALLOC_ALIGN - 1 - GW_SIZE_BITS))) != 0) |
	             (sz < GW_MINSIZE) | (sz > room));
}

/* The linear walk's common case, taken first where the whole region is in
 * view and the listed chunks are in the bitmap: a run of plain used
 * chunks from p (a sane size, in use by its successor's PREV_INUSE, on
 * no list, not a tcache struct, the right arena bit, not top), each
 * emitted and counted as walk_region's general case would, at a fraction
 * of its cost (the general case tests every rarer case on every chunk).
 * Returns the first chunk it did not take: walk_region's general case
 * goes on from there.  (The 2.2M-chunk core of bench/walk.sh opened and
 * walked once: 388 M instructions before it, 266 M with it, callgrind;
 * with the 2 KiB prefetch, the walk 13-15% faster.  A copy of emit()
 * specialised for this loop saved 39 M instructions more but no time: the
 * loop waits on memory.)  The walks of tests/fuzz/fuzz_glibc.c with a view
 * and without must agree. */
static uint64_t plain_run(struct walker *w, const struct region *r, const struct arena *ar,
                          uint64_t p, uintptr_t bias, int main)
{
	const uint64_t end = r->end, top = ar->top, *bits = w->bits;
	const uint64_t arena_bit = main ? 0 : GW_NON_MAIN_ARENA;
	const uint64_t tc_lo = w->tc_lo, tc_hi = w->tc_hi;
	while (p != top && end - p >= GW_CHUNK_HDR && !w->stopped) {
		uint64_t size, nsize;
		memcpy(&size, (const void *)(bias + p + GW_SIZE_SZ), 8);
		uint64_t sz = size & ~(uint64_t)GW_SIZE_BITS;
		/* as walk_region: a bad size, a fencepost (below MINSIZE), or
		 * a successor whose header is not in the region */
		if (size_unfit(size, sz, end - p - GW_CHUNK_HDR) |
		    ((size & GW_NON_MAIN_ARENA) != arena_bit))
			break;
		__builtin_prefetch((const void *)(bias + p + LINEAR_AHEAD));
		memcpy(&nsize, (const void *)(bias + p + sz + GW_SIZE_SZ), 8);
		uint64_t bit = chunk_bit(r, p);
		if (!(nsize & GW_PREV_INUSE) || (bits[bit / 64] >> (bit % 64) & 1) ||
		    (p + GW_CHUNK_HDR >= tc_lo && p + GW_CHUNK_HDR <= tc_hi))
			break;
		emit(w, p, sz - GW_SIZE_SZ, ar->addr, HW_ALLOCATOR_GLIBC, HW_STATE_USED,
		     HW_BIN_NONE);
		count(&w->sum->used, sz);
		p += sz;
	}
	return p;
}

static void walk_region(struct walker *w, const struct region *r)
{
	struct arena *ar = &w->arenas[r->arena];
	hw_glibc_summary *s = w->sum;
	int main = r->kind == REGION_MAIN;
	uint64_t p = r->start;
	unsigned fenceposts = 0;
	size_t cur = w->bits ? 0 : listed_lower_bound(w, r->start);

	window_range(&w->win, r->start, r->end);
	/* With a view of the whole region (cores), the headers the loop
	 * reads (all inside the region) come straight from it. */
	int direct = w->win.p && w->win.base <= r->start && r->end - w->win.base <= w->win.len;
	uintptr_t bias = direct ? (uintptr_t)w->win.p - (uintptr_t)w->win.base : 0;
	while (p + GW_CHUNK_HDR <= r->end && !w->stopped) {
		uint64_t size;
		if (direct && w->bits) {
			uint64_t q = plain_run(w, r, ar, p, bias, main);
			if (q != p)
				fenceposts = 0;
			p = q;
			if (p + GW_CHUNK_HDR > r->end || w->stopped)
				break;
		}
		if (p == ar->top) {
			emit(w, p, ar->top_size ? ar->top_size - GW_SIZE_SZ : 0, ar->addr,
			     HW_ALLOCATOR_GLIBC, HW_STATE_TOP, HW_BIN_NONE);
			if (p + ar->top_size != r->end)
				problem(w, "bad-top", p,
				        "top chunk 0x%" PRIx64 " of size %" PRIu64
				        " does not end its heap at 0x%" PRIx64,
				        p, ar->top_size, r->end);
			return;
		}
		if (direct) {
			memcpy(&size, (const void *)(bias + p + GW_SIZE_SZ), 8);
		} else if (win64(w, p + GW_SIZE_SZ, &size) < 0) {
			problem(w, "unreadable", p, "heap memory at 0x%" PRIx64 " cannot be read",
			        p);
			return;
		}
		uint64_t sz = size & ~(uint64_t)GW_SIZE_BITS;
		if (sz == 0 && !main && p + 2 * GW_CHUNK_HDR >= r->end && fenceposts)
			return; /* the 0|PREV_INUSE header that ends a retired heap */
		if (sz == GW_CHUNK_HDR && p + sz <= r->end) {
			/* A fencepost (sysmalloc): metadata, never handed out. */
			emit(w, p, GW_SIZE_SZ, ar->addr, HW_ALLOCATOR_GLIBC, HW_STATE_META,
			     HW_BIN_NONE);
			p += sz;
			if (++fenceposts == 2 && main && p + GW_CHUNK_HDR > r->end)
				return; /* a segment's end (main_segments) */
			if (fenceposts == 2 && main) {
				/* Two fenceposts in the main arena: sysmalloc met a
				 * foreign sbrk (or a corrupted top) and went on at
				 * the new break, somewhere after them.  Look for the
				 * first plausible chunk from here. */
				uint64_t q = p;
				while (q + GW_CHUNK_HDR <= r->end && !plausible(w, r, q, ar->top))
					q += GW_MALLOC_ALIGN;
				problem(w, "sbrk-gap", p,
				        "main heap: fenceposts at 0x%" PRIx64
				        " (foreign sbrk or corrupted top): %" PRIu64
				        " bytes skipped to the next plausible chunk",
				        p - 2 * GW_CHUNK_HDR, q - p);
				p = q;
				fenceposts = 0;
			}
			continue;
		}
		fenceposts = 0;
		/* The walk is a chain of dependent loads through the heap:
		 * fetch ahead so the next headers are in cache when needed. */
		if (direct) {
			/* (past the region's end too: a prefetch never faults) */
			__builtin_prefetch((const void *)(bias + p + LINEAR_AHEAD));
		} else if (w->win.p && p - w->win.base + 1024 < w->win.len) {
			__builtin_prefetch(w->win.p + (p - w->win.base) + 1024);
		}
		if (size_unfit(size, sz, r->end - p)) {
			uint64_t q = p + GW_MALLOC_ALIGN;
			while (q + GW_CHUNK_HDR <= r->end && !plausible(w, r, q, ar->top))
				q += GW_MALLOC_ALIGN;
			problem(w, "bad-size", p,
			        "chunk 0x%" PRIx64 " has size field 0x%" PRIx64 ": skipped %" PRIu64
			        " bytes to the next plausible chunk",
			        p, size, q - p);
			p = q;
			continue;
		}
		uint64_t next = p + sz, nsize = GW_PREV_INUSE, nprev = sz;
		if (next + GW_CHUNK_HDR <= r->end && direct) {
			memcpy(&nprev, (const void *)(bias + next), 8);
			memcpy(&nsize, (const void *)(bias + next + 8), 8);
		} else if (next + GW_CHUNK_HDR <= r->end) {
			uint64_t nh[2];
			if (win64(w, next, &nh[0]) == 0 && win64(w, next + 8, &nh[1]) == 0) {
				nprev = nh[0];
				nsize = nh[1];
			}
		}
		int next_says_free = !(nsize & GW_PREV_INUSE);
		int listed = listed_met(w, r, p, &cur);
		uint64_t usable = sz - GW_SIZE_SZ;
		if (listed >= 0) {
			hw_bin bin = (hw_bin)listed;
			int binned =
			    bin == HW_BIN_UNSORTED || bin == HW_BIN_SMALL || bin == HW_BIN_LARGE;
			if (binned && !next_says_free)
				problem(w, "inuse-mismatch", p,
				        "chunk 0x%" PRIx64 " is in a bin but the next chunk's "
				        "PREV_INUSE is set",
				        p);
			if (binned && next_says_free && nprev != sz)
				problem(w, "bad-prev-size", next,
				        "free chunk 0x%" PRIx64 " of size %" PRIu64
				        " but the next chunk's prev_size is %" PRIu64,
				        p, sz, nprev);
			if (!binned && next_says_free)
				problem(w, "inuse-mismatch", p,
				        "chunk 0x%" PRIx64 " is in a %s but the next chunk's "
				        "PREV_INUSE is clear",
				        p, bin_name(bin));
			if (bin == HW_BIN_TCACHE && main == !!(size & GW_NON_MAIN_ARENA))
				problem(w, "arena-bit", p,
				        "tcache'd chunk 0x%" PRIx64
				        " has the wrong NON_MAIN_ARENA bit",
				        p);
			emit(w, p, usable, ar->addr, HW_ALLOCATOR_GLIBC, HW_STATE_FREE, bin);
			count(&s->free, sz);
			if (bin == HW_BIN_TCACHE)
				count(&s->tcache, sz);
			else if (bin == HW_BIN_FASTBIN)
				count(&s->fastbins, sz);
		} else if (next_says_free) {
			problem(w, "free-not-listed", p,
			        "chunk 0x%" PRIx64
			        " is free (next PREV_INUSE clear) but on no list",
			        p);
			emit(w, p, usable, ar->addr, HW_ALLOCATOR_GLIBC, HW_STATE_FREE,
			     HW_BIN_NONE);
			count(&s->free, sz);
		} else if (is_tcache_struct(w, p)) {
			emit(w, p, usable, ar->addr, HW_ALLOCATOR_GLIBC, HW_STATE_META,
			     HW_BIN_NONE);
		} else {
			if (main == !!(size & GW_NON_MAIN_ARENA))
				problem(w, "arena-bit", p,
				        "chunk 0x%" PRIx64 " in %s arena 0x%" PRIx64
				        " has the wrong NON_MAIN_ARENA bit",
				        p, main ? "the main" : "a thread", ar->addr);
			emit(w, p, usable, ar->addr, HW_ALLOCATOR_GLIBC, HW_STATE_USED,
			     HW_BIN_NONE);
			count(&s->used, sz);
		}
		p = next;
	}
	if (!w->stopped && p < r->end && r->end - p >= GW_CHUNK_HDR)
		problem(w, "truncated-heap", p,
		        "heap walk stopped at 0x%" PRIx64 " before 0x%" PRIx64, p, r->end);
}

/* ---- step 5: mmapped chunks ---- */

/* The end of the heap region or reservation holding addr, or 0. */
static uint64_t excluded_until(const struct walker *w, uint64_t addr)
{
	for (size_t i = 0; i < w->n_regions; i++) {
		const struct region *r = &w->regions[i];
		uint64_t lo = r->kind == REGION_MAIN ? r->start : r->start & ~(w->heap_max - 1);
		if (addr >= lo && addr < r->reserve_end)
			return r->reserve_end;
	}
	return 0;
}

/* The bytes of its mapping a mmapped chunk's size leaves out: 2.43's
 * header after the chunk (mmap_set_chunk), none before. */
static uint64_t mmap_tail(const struct walker *w)
{
	return w->L->mmap_243 ? GW_CHUNK_HDR : 0;
}

/* A mmapped chunk's lead inside its mapping, from its prev_size word
 * (2.43: | MMAP_HP in bit 0). */
static inline uint64_t mmap_lead(uint64_t tail, uint64_t prev_size)
{
	return tail ? prev_size & ~(uint64_t)1 : prev_size;
}

/* The header mmap writes at a mapping's start (sysmalloc_mmap): lead 0,
 * IS_MMAPPED alone, a size of at least MINSIZE.  Also what stays there
 * under a chunk _int_memalign moved on, whatever realloc did since. */
static inline int mmap_start_header(const uint64_t h[2], uint64_t tail)
{
	return mmap_lead(tail, h[0]) == 0 && (h[1] & GW_SIZE_BITS) == GW_IS_MMAPPED &&
	       (h[1] & ~(uint64_t)GW_SIZE_BITS) >= GW_MINSIZE;
}

/* A mmapped chunk's header at c: IS_MMAPPED alone among the flag bits,
 * prev_size (the lead inside the mapping; 2.43: | MMAP_HP in bit 0)
 * 16-aligned, and the mapping it implies, [c - lead, c + size + tail), a
 * whole number of pages. */
static int mmapped_header_ok(const uint64_t h[2], uint64_t c, uint64_t base, uint64_t lim,
                             uint64_t tail, uint64_t *size_out)
{
	uint64_t sz = h[1] & ~(uint64_t)GW_SIZE_BITS, lead = mmap_lead(tail, h[0]);
	uint64_t span = lead + sz + tail;
	if ((h[1] & GW_SIZE_BITS) != GW_IS_MMAPPED || lead != c - base || lead % GW_MALLOC_ALIGN ||
	    sz < GW_MINSIZE || span < sz || span % GW_PAGE_SIZE || base + span > lim ||
	    base + span < base)
		return 0;
	*size_out = sz;
	return 1;
}

static int mmapped_header(struct walker *w, uint64_t c, uint64_t base, uint64_t lim,
                          uint64_t *size_out)
{
	uint64_t h[2];
	return window_get(&w->win, c, h, 16) >= 0 &&
	       mmapped_header_ok(h, c, base, lim, mmap_tail(w), size_out);
}

/* Whether a mmapped chunk may end at e in a mapping that ends at lim: the
 * mapping's end, or the start of another mmapped chunk. */
static int mmapped_end_ok(struct walker *w, uint64_t e, uint64_t lim)
{
	uint64_t h[2];
	if (e == lim)
		return 1;
	return e < lim && lim - e >= GW_CHUNK_HDR && window_get(&w->win, e, h, 16) >= 0 &&
	       mmap_start_header(h, mmap_tail(w));
}

static void scan_mmapped(struct walker *w)
{
	hw_glibc_summary *s = w->sum;
	uint64_t found = 0, bytes = 0, tail = mmap_tail(w);
	for (size_t m = 0; m < w->in->n_maps && !w->stopped; m++) {
		const struct gw_map *map = &w->in->maps[m];
		if (!map->anonymous ||
		    (map->perms & (HW_PERM_R | HW_PERM_W)) != (HW_PERM_R | HW_PERM_W))
			continue;
		/* a thread's stack: from its stack pointer up (heap_floor),
		 * unless the stack is a block the program malloc'd, a mmapped
		 * chunk whose header opens the mapping */
		uint64_t from = w->in->heap_floor
		                    ? w->in->heap_floor(w->in->ctx, map->start, map->end)
		                    : map->start;
		uint64_t h[2], hsz;
		if (from > map->start && rd(w, map->start, h, sizeof h) == 0 &&
		    mmapped_header_ok(h, map->start, map->start, map->end, tail, &hsz))
			from = map->start;
		if (from >= map->end)
			continue;
		window_range(&w->win, from, map->end);
		uint64_t a = (from + GW_PAGE_SIZE - 1) & ~(GW_PAGE_SIZE - 1);
		uint64_t data_hi = 0; /* [a, data_hi) may hold nonzero bytes */
		/* (a >= map->start: as main_segments) */
		while (a >= map->start && a < map->end && map->end - a >= GW_CHUNK_HDR &&
		       !w->stopped) {
			uint64_t ex = excluded_until(w, a);
			if (ex) {
				a = (ex + GW_PAGE_SIZE - 1) & ~(GW_PAGE_SIZE - 1);
				continue;
			}
			/* pages that hold only zeros (never touched: a thread's
			 * stack, mostly) have no header: not read at all */
			if (a >= data_hi && w->in->extent) {
				uint64_t lo;
				w->in->extent(w->in->ctx, a, map->end, &lo, &data_hi);
				if (lo > a) {
					a = (lo + GW_PAGE_SIZE - 1) & ~(GW_PAGE_SIZE - 1);
					continue;
				}
			}
			/* A mapping's first page starts its chunk, or the lead
			 * of a chunk _int_memalign moved to an aligned point
			 * (prev_size the lead), the header mmap wrote left
			 * there: prev_size 0, IS_MMAPPED.  realloc of that
			 * chunk (mremap_chunk) resizes or moves the mapping and
			 * rewrites the aligned chunk's header only, so the one
			 * at the start may no longer give the mapping's size. */
			uint64_t sz = 0;
			if (window_get(&w->win, a, h, 16) < 0) {
				a += GW_PAGE_SIZE;
				continue;
			}
			int head_ok = mmapped_header_ok(h, a, a, map->end, tail, &sz);
			if (!head_ok && !mmap_start_header(h, tail)) {
				a += GW_PAGE_SIZE;
				continue;
			}
			/* The aligned point for alignment A is align_up(a + 16,
			 * A) - 16, plus A when that leaves less than MINSIZE of
			 * lead; the chunk there spans the mapping from a as the
			 * header at a says (memalign), or otherwise (realloc'd
			 * since: taken when no chunk agrees with that header).
			 * A may exceed the mapping (a large alignment, the
			 * mapping shrunk since). */
			uint64_t c = a, csz = sz, span = head_ok ? sz + tail : 0;
			uint64_t rc = 0, rsz = 0, rspan = 0;
			for (uint64_t A = 32; A <= (1ull << 40); A <<= 1) {
				uint64_t q = ((a + GW_CHUNK_HDR + A - 1) & ~(A - 1)) - GW_CHUNK_HDR;
				if (q - a < GW_MINSIZE)
					q += A;
				if (q + GW_CHUNK_HDR > map->end || q < a)
					break;
				uint64_t qsz;
				if (!mmapped_header(w, q, a, map->end, &qsz))
					continue;
				uint64_t qspan = q - a + qsz + tail;
				if (head_ok && qspan == sz + tail) {
					c = q;
					csz = qsz;
					break;
				}
				if (!rc) {
					rc = q;
					rsz = qsz;
					rspan = qspan;
				}
			}
			/* mremap_chunk may also have moved the mapping, to a
			 * page of another residue: the lead, a multiple of the
			 * page less 16 for alignments above a page, no longer
			 * follows from a.  Where the header at a cannot be the
			 * chunk (its size overruns the mapping, or where it
			 * ends neither the mapping nor another chunk begins),
			 * each page end inside the chunk mmap first made (the
			 * size at a) is tried. */
			if (c == a && !rc &&
			    (!head_ok || !mmapped_end_ok(w, a + sz + tail, map->end))) {
				uint64_t first = h[1] & ~(uint64_t)GW_SIZE_BITS;
				for (uint64_t q = a + GW_PAGE_SIZE - GW_CHUNK_HDR;
				     q + GW_CHUNK_HDR <= map->end && q - a < first;
				     q += GW_PAGE_SIZE) {
					uint64_t qsz;
					if (mmapped_header(w, q, a, map->end, &qsz)) {
						rc = q;
						rsz = qsz;
						rspan = q - a + qsz + tail;
						break;
					}
				}
			}
			if (c == a && rc) {
				c = rc;
				csz = rsz;
				span = rspan;
			}
			if (!span) {
				a += GW_PAGE_SIZE;
				continue;
			}
			/* usable: memsize() (2.43: size - SIZE_SZ, as any chunk) */
			emit(w, c, csz - (tail ? GW_SIZE_SZ : GW_CHUNK_HDR), 0,
			     HW_ALLOCATOR_GLIBC_MMAP, HW_STATE_USED, HW_BIN_NONE);
			count(&s->mmapped, csz);
			found++;
			bytes += span;
			a += span;
		}
	}
	/* 2.43's mremap_chunk adds new_size - size - offset to
	 * mp_.mmapped_mem, the old mapping being size + offset + CHUNK_HDR_SZ
	 * (mmap_size): 16 bytes too many for every mmapped realloc that ever
	 * remapped, freed chunks' included.  There, mp_ may say more, by a
	 * multiple of 16. */
	int drift = tail && bytes < w->mmapped_mem && (w->mmapped_mem - bytes) % GW_CHUNK_HDR == 0;
	if (!w->stopped && (found != w->n_mmaps || (bytes != w->mmapped_mem && !drift)))
		problem(w, "mmapped-mismatch", w->in->mp,
		        "found %" PRIu64 " mmapped chunks (%" PRIu64 " bytes), mp_ says %" PRIu64
		        " (%" PRIu64 " bytes)",
		        found, bytes, w->n_mmaps, w->mmapped_mem);
}

/* ---- the whole walk ---- */

static void unseen_listed(struct walker *w)
{
	if (w->bits) {
		/* The bits the linear walk did not clear, in address order
		 * (regions are sorted, their bits consecutive); the entries,
		 * for the message, through the set. */
		size_t ri = 0;
		int indexed = 0;
		for (size_t k = 0; k < w->n_words; k++) {
			for (uint64_t m = w->bits[k]; m; m &= m - 1) {
				uint64_t bit = (uint64_t)k * 64 + (uint64_t)__builtin_ctzll(m);
				while (ri + 1 < w->n_regions && w->regions[ri + 1].bit0 <= bit)
					ri++;
				const struct region *r = &w->regions[ri];
				uint64_t chunk = r->start + (bit - r->bit0) * GW_MALLOC_ALIGN;
				if (!indexed) {
					gw_freeset_clear(&w->set);
					(void)quick_refill(w);
					(void)index_added(w);
					indexed = 1;
				}
				const struct gw_free *f = gw_freeset_find(&w->set, chunk);
				problem(w, "listed-not-in-heap", chunk,
				        "chunk 0x%" PRIx64
				        " on %s list %u was not met walking its heap",
				        chunk, bin_name(kind_get(w, bit)), f ? f->list : 0);
			}
		}
		return;
	}
	for (size_t i = 0; i < w->n_listed; i++) {
		struct gw_free *f = &w->listed[i];
		if (!f->seen)
			problem(w, "listed-not-in-heap", f->chunk,
			        "chunk 0x%" PRIx64 " on %s list %u was not met walking its heap",
			        f->chunk, bin_name((hw_bin)f->bin), f->list);
	}
}

static void fill_mallinfo(struct walker *w)
{
	hw_glibc_summary *s = w->sum;
	hw_glibc_mallinfo2 *mi = &s->mallinfo2;
	memset(mi, 0, sizeof *mi);
	for (size_t i = 0; i < w->n_arenas; i++) {
		struct arena *ar = &w->arenas[i];
		/* int_mallinfo (malloc.c) */
		uint64_t avail = ar->top_size + ar->fast_bytes + ar->binned_bytes;
		mi->smblks += ar->nfast;
		mi->ordblks += 1 + ar->nbinned;
		mi->fordblks += avail;
		mi->uordblks += ar->system_mem - avail;
		mi->arena += ar->system_mem;
		mi->fsmblks += ar->fast_bytes;
		s->top_bytes += ar->top_size;
	}
	mi->hblks = w->n_mmaps;
	mi->hblkhd = w->mmapped_mem;
	mi->usmblks = 0;
	mi->keepcost = w->n_arenas ? w->arenas[0].top_size : 0;
	s->arenas = w->n_arenas;
	s->system_bytes = mi->arena;
}

int gw_walk(const struct gw_input *in, const hw_visitor *v, hw_glibc_summary *sum)
{
	struct walker w = {.in = in, .L = &in->layout, .v = v, .sum = sum};
	w.emit_fn = v ? v->alloc : NULL;
	w.win.in = in;
	memset(&sum->used, 0, sizeof sum->used);
	sum->free = sum->tcache = sum->fastbins = sum->mmapped = sum->used;
	sum->top_bytes = 0;

	w.tc_lo = UINT64_MAX;
	for (size_t i = 0; i < in->n_tcaches; i++) {
		if (in->tcaches[i] < w.tc_lo)
			w.tc_lo = in->tcaches[i];
		if (in->tcaches[i] > w.tc_hi)
			w.tc_hi = in->tcaches[i];
	}
	int rc = read_mp(&w);
	if (rc == HW_OK)
		rc = read_arenas(&w);
	if (rc == HW_OK) {
		for (uint32_t i = 1; i < w.n_arenas; i++)
			heap_regions(&w, i);
		main_region(&w);
		drop_overlaps(&w);
		list_bitmap(&w);
		for (size_t i = 0; i < w.n_regions; i++) {
			struct region *r = &w.regions[i];
			/* prefault first: a live target's view exists once
			 * the region was read whole */
			if (in->prefault)
				in->prefault(in->ctx, r->start, r->end - r->start);
			if (in->view)
				r->view = in->view(in->ctx, r->start, r->end - r->start);
		}
		capture(&w);
		for (size_t i = 0; i < in->n_tcaches; i++)
			walk_tcache(&w, (uint32_t)i, in->tcaches[i]);
		for (uint32_t i = 0; i < w.n_arenas; i++) {
			struct gathered g;
			uint64_t limit = w.arenas[i].span / GW_MINSIZE + 1;
			if (quick_lists(&w, i, limit)) {
				/* the large bins, whose chunks have more links to check */
				gather_lists(&w, i, limit, &g, GW_NFASTBINS + GW_NSMALLBINS);
				walk_bins(&w, i, &g, GW_NSMALLBINS);
			} else {
				gather_lists(&w, i, limit, &g, 0);
				walk_fastbins(&w, i, &g);
				walk_bins(&w, i, &g, 1);
			}
			gathered_free(&g);
		}
		capture_free(&w);
		/* Without the bitmap, the entries in address order for the
		 * linear walk; with it, the bitmap serves (listed_met) and the
		 * entries are kept only for what it did not meet. */
		if (!w.bits) {
			sort_listed(&w);
			free(w.added);
			w.added = NULL;
		}
		gw_freeset_clear(&w.set);
		for (size_t i = 0; i < w.n_regions && !w.stopped; i++)
			walk_region(&w, &w.regions[i]);
		if (!w.stopped)
			scan_mmapped(&w);
		if (!w.stopped)
			unseen_listed(&w);
		fill_mallinfo(&w);
		if (w.stopped)
			rc = hw_error_set(HW_EINTR, "walk stopped by the visitor");
	}
	gw_freeset_clear(&w.set);
	capture_free(&w);
	free(w.added);
	hw_big_free(w.bits);
	hw_big_free(w.kinds);
	free(w.listed);
	free(w.win.buf);
	free(w.arenas);
	free(w.regions);
	return rc;
}
