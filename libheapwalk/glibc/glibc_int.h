/*
 * glibc_int.h: what the files of the glibc malloc walker share.
 *
 * The walker is split in two halves that meet here:
 *  - locate.c knows the target: it finds libc, its version, main_arena, mp_
 *    and every live thread's tcache (from debug info or heuristics) and fills
 *    a struct gw_input;
 *  - walk.c knows nothing of targets: given a gw_input (a read function, the
 *    mappings, a layout and a few addresses) it walks every arena and emits
 *    records.  Unit tests drive walk.c directly on synthetic memory.
 *
 * Invariant: nothing read through gw_input.read is trusted; walk.c bounds
 * every list and every length and reports what it skips as problems.
 */
#ifndef HW_GLIBC_INT_H
#define HW_GLIBC_INT_H

#include "internal.h"

#include <stdint.h>

/* The layout of glibc's malloc structures in one version (x86-64). */
struct gw_layout {
	int minor; /* glibc 2.minor */

	/* struct malloc_state */
	uint32_t ms_flags, ms_fastbins, ms_top, ms_last_remainder, ms_bins, ms_next, ms_system_mem;
	uint32_t ms_size;

	/* struct malloc_par (mp_) */
	uint32_t mp_mmap_threshold, mp_n_mmaps, mp_mmapped_mem, mp_sbrk_base;
	uint32_t mp_tcache_bins, mp_tcache_count;
	int32_t mp_hp_pagesize; /* -1: no such field (before 2.35) */
	uint32_t mp_size;

	/* heap_info */
	uint32_t hi_ar_ptr, hi_prev, hi_size, hi_sizeof;

	/* tcache_perthread_struct: counts (2.42+: num_slots, the free slots
	 * left: the bin holds mp_.tcache_count - num_slots[i]), entries, and
	 * the bins there are (64; 2.42+: 76, the last 12 for ranges of larger
	 * sizes) */
	uint32_t tc_counts, tc_count_width, tc_entries, tc_size;
	uint32_t tc_bins;
	int tc_slots;

	int safe_linking; /* fastbin fd and tcache next are PROTECT_PTR'd (2.32+) */
	/* fastbins in malloc_state: GW_NFASTBINS, 0 from 2.43 (removed) */
	uint32_t n_fastbins;
	/* a mmapped chunk's size leaves out the header after it, and its
	 * prev_size (the offset into the mapping) has the huge-page flag in
	 * bit 0 (2.43: mmap_set_chunk) */
	int mmap_243;
};

/* Fill *l from the per-version tables; HW_EUNSUPPORTED outside 2.26-2.43. */
int gw_layout_for_version(struct gw_layout *l, int major, int minor);

/* The layout read from the DWARF of the debug file at debug_path for the
 * libc of build_id, kept on disk (layout_cache.c).  get: 0 and *L filled
 * when a valid entry exists for that very file and L->minor; -1 otherwise
 * (*L untouched).  put: best effort, silent. */
int gw_layout_cache_get(const char *build_id, const char *debug_path, struct gw_layout *L);
void gw_layout_cache_put(const char *build_id, const char *debug_path, const struct gw_layout *L);

/* A mapping as the walker needs it. */
struct gw_map {
	uint64_t start, end;
	unsigned perms; /* HW_PERM_* */
	int anonymous;  /* no file behind it (and not [stack]/[vdso]...) */
};

struct gw_input {
	struct gw_layout layout;
	uint64_t main_arena; /* address of main_arena */
	uint64_t mp;         /* address of mp_ */
	/* tcache_perthread_struct addresses of the live threads (nonzero). */
	const uint64_t *tcaches;
	size_t n_tcaches;
	const struct gw_map *maps; /* sorted by start */
	size_t n_maps;
	/* Read len bytes at addr: 0 when all were read. */
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	/* A direct pointer to len bytes at addr, or NULL (optional). */
	const void *(*view)(void *ctx, uint64_t addr, size_t len);
	/* Make [addr, addr + len) cheap to read soon: the walker calls it on
	 * each heap region before it follows the free lists through them
	 * (optional; a hint, nothing depends on its effect). */
	void (*prefault)(void *ctx, uint64_t addr, size_t len);
	/* [addr, addr + len), a region without a view, is about to be read
	 * once in order (through read, in windows): a live process reads it
	 * ahead (optional; a hint, as prefault). */
	void (*stream)(void *ctx, uint64_t addr, size_t len);
	/* Bytes [addr, addr + len) of the range being streamed, in place: a
	 * pointer valid until the next call, or NULL (then read them).
	 * Asked for in increasing order (optional). */
	const void *(*window)(void *ctx, uint64_t addr, size_t len);
	/* The first range [*lo, *hi) in [addr, end) that may hold nonzero
	 * bytes (hw_target_data_extent); optional: all of it when absent. */
	void (*extent)(void *ctx, uint64_t addr, uint64_t end, uint64_t *lo, uint64_t *hi);
	/* Where a heap may begin in the anonymous mapping [start, end): past
	 * a thread's unused stack (hw_target_heap_floor); optional. */
	uint64_t (*heap_floor)(void *ctx, uint64_t start, uint64_t end);
	void *ctx;
	/* Largest bitmap of listed chunks (a bit per 16 heap bytes) the walk
	 * may use, in bytes; above it the listed chunks go to the hash set
	 * alone.  0: GW_BITMAP_MAX. */
	uint64_t bitmap_max;
};

/* The default bound of gw_input.bitmap_max: 16 MiB covers 2 GiB of heap
 * regions.  Larger heaps use the hash set, whose size follows the number
 * of listed chunks rather than the heap's bytes. */
#define GW_BITMAP_MAX (16u << 20)

/* Walk the heap described by in: emit records to v (may be NULL: summary
 * only) and fill *sum (version and symbols are left to the caller).
 * HW_EINTR when the visitor stopped the walk, HW_EFAULT when main_arena or
 * mp_ cannot be read; every other inconsistency is a problem. */
int gw_walk(const struct gw_input *in, const hw_visitor *v, hw_glibc_summary *sum);

/* What locate.c found in a target (owned: free with gw_located_free). */
struct gw_located {
	struct gw_input in;
	char version[16];
	const char *symbols; /* "debuginfo", "symtab" or "heuristic" */
	uint64_t *tcaches;
	struct gw_map *maps;
};

/* Find libc, its version and layout, main_arena, mp_, the tcaches.  HW_OK,
 * 1 when all but the threads' tcaches were found, or a negative HW_E*. */
int gw_locate(hw_target *t, struct gw_located *out);
void gw_located_free(struct gw_located *loc);

/* malloc.c constants (x86-64, all versions 2.26-2.43; the tcache's bins:
 * at most GW_TCACHE_MAX_BINS, of which GW_TCACHE_SMALL_BINS of one size). */
#define GW_SIZE_SZ           8
#define GW_CHUNK_HDR         16
#define GW_MALLOC_ALIGN      16
#define GW_MINSIZE           32
#define GW_NFASTBINS         10
#define GW_NBINS             128
#define GW_NSMALLBINS        64
#define GW_TCACHE_MAX_BINS   76
#define GW_TCACHE_SMALL_BINS 64
#define GW_PREV_INUSE        1
#define GW_IS_MMAPPED        2
#define GW_NON_MAIN_ARENA    4
#define GW_SIZE_BITS         7
#define GW_NONCONTIGUOUS     2 /* malloc_state.flags: NONCONTIGUOUS_BIT */
/* HEAP_MAX_SIZE = 2 * DEFAULT_MMAP_THRESHOLD_MAX = 2 * 4 * 1024 * 1024 *
 * sizeof(long) (arena.c); 4 * mp_.hp_pagesize when hugetlb heaps are on. */
#define GW_HEAP_MAX_SIZE (64ull << 20)
#define GW_PAGE_SIZE     4096ull

#endif /* HW_GLIBC_INT_H */
