/*
 * shadow.c: the shadows of pymalloc's arenas (mode all, CPython).
 *
 * Most allocations of a Python program are pymalloc blocks, and most of
 * them die young; recording and forgetting each in a hash table (two
 * cache lines, often missed) cost more than the rest of their record.
 * The tracer wraps CPython's arena allocator (PyObject_SetArenaAllocator,
 * python.c) and gives every arena made after that a shadow: one 32-bit
 * slot per 16 bytes of the arena (pymalloc's alignment), where the slot of
 * a block's first byte holds its site and requested size (tracer_format.h,
 * HWT_SHADOW_*).  Recording a block is then one store, forgetting it
 * another, next to the slots of its neighbours; the shadow costs 4 bytes
 * per 16 of arena, in pages touched only where blocks were made.  Only
 * blocks of up to HWT_SHADOW_KEEP_MAX (128) bytes are kept there (tracer.h
 * says why, hwt_shadow_keeps): pools of larger blocks leave their shadow's
 * pages untouched and their blocks go to the table.
 *
 * Finding the shadow of an address: a two-level directory over the
 * address space, one entry per 4 KiB page (an arena is page-aligned, so a
 * page belongs to one arena; a pool never spans two).  The first level
 * has one pointer per GiB, the second one word per page: the arena's
 * shadow minus (base / 16) * 4, plus 1 (0: no covered arena there), so
 * that a slot's address is that word - 1 + (address / 16) * 4.  Two loads,
 * both of lines the neighbouring blocks use too.
 *
 * The arena allocator is called under a GIL, but isolated subinterpreters
 * (3.12+) have a GIL each: changes to the directory and the registry are
 * made under one lock.  A lookup takes no lock: an address is looked up
 * only while its block is live, so after its arena was covered and before
 * it is uncovered, by the thread that holds that arena's GIL.
 *
 * Arenas made before the hooks went in (start-up's) are not known whole:
 * each of their pools is covered at its first block made after that,
 * which pymalloc made without calling malloc, so it lies in a pool
 * (python.c: from_of), and pools are POOL_SIZE-aligned inside an arena
 * (obmalloc.c, new_arena).  Its shadow is a unit of a reserved region.
 *
 * The registry (the root's pyarenas) lists every covered arena and pool
 * for the reader.  An arena's slots are all 0 when pymalloc frees it (it frees an
 * arena only once every pool in it is empty; a slot left behind by a free
 * the hooks did not see is cleared then), and its shadow is kept for the
 * next arena of the same size: a program that builds and drops large
 * structures in turn (a parse, a batch) would otherwise fault in fresh
 * shadow pages for every arena, a quarter of pymalloc's own faults.
 */
#include "tracer.h"

#include <string.h>
#include <sys/mman.h>

#define PAGE_BITS      HWT_SHADOW_PAGE_BITS
#define ADDRESS_END    (1ull << (HWT_SHADOW_L1_SHIFT + HWT_SHADOW_L1_BITS))
#define MAX_ARENA      (64ull << 20) /* larger "arenas" are not covered */
#define MAX_ARENAS     (1ull << 20)  /* registry records: 1 TiB of 1 MiB arenas */
#define MAX_SPARES     32            /* shadows kept for the next arenas */
#define MAX_POOL_UNITS (1ull << 16)  /* pools covered one by one */

uint64_t **hwt_shadow_dir;
static uint32_t shadow_lock;
static struct hwt_region registry;
/* Shadows of freed arenas, all slots 0, each spare_bytes long. */
static void *spares[MAX_SPARES];
static unsigned n_spares;
static size_t spare_bytes;
/* Pools' shadows: units of unit_bytes in a reserved region; freed ones
 * are linked through their first word (cleared when reused). */
static size_t pool_size, unit_bytes;
static struct hwt_region units;
static size_t units_used;
static uint64_t *free_units;

void hwt_shadow_lock(void)
{
	hwt_lock(&shadow_lock);
}

void hwt_shadow_unlock(void)
{
	hwt_unlock(&shadow_lock);
}

static struct hwt_pyarena *records(void)
{
	return (struct hwt_pyarena *)(void *)registry.base;
}

/* The second-level table for the GiB of address, made when missing;
 * NULL when out of memory (lock held). */
static uint64_t *l2_of(uint64_t address)
{
	uint64_t **slot = &hwt_shadow_dir[address >> HWT_SHADOW_L1_SHIFT];
	uint64_t *l2 = *slot;
	if (!l2) {
		l2 = hwt_map(HWT_SHADOW_L2_SLOTS * sizeof(uint64_t));
		if (l2)
			__atomic_store_n(slot, l2, __ATOMIC_RELEASE);
	}
	return l2;
}

/* Set (word != 0) or clear the directory words of [base, base + size). */
static int set_pages(uint64_t base, uint64_t size, uint64_t word)
{
	for (uint64_t a = base; a < base + size; a += 1ull << PAGE_BITS) {
		uint64_t *l2 = word ? l2_of(a) : hwt_shadow_dir[a >> HWT_SHADOW_L1_SHIFT];
		if (!l2)
			return -1;
		__atomic_store_n(&l2[(a >> PAGE_BITS) & (HWT_SHADOW_L2_SLOTS - 1)], word,
		                 __ATOMIC_RELEASE);
	}
	return 0;
}

static int setup(void)
{
	if (hwt_shadow_dir)
		return 0;
	if (hwt_region_reserve(&registry, MAX_ARENAS * sizeof(struct hwt_pyarena)) != 0)
		return -1;
	uint64_t **dir = hwt_map((1ull << HWT_SHADOW_L1_BITS) * sizeof(uint64_t *));
	if (!dir)
		return -1;
	hwt_root->pyarenas = (uint64_t)(uintptr_t)registry.base;
	hwt_root->pyarenas_capacity = MAX_ARENAS;
	__atomic_store_n(&hwt_shadow_dir, dir, __ATOMIC_RELEASE);
	return 0;
}

/* An arena's shadow is laid out as if the arena began at a 16 KiB
 * boundary (the span one 4 KiB page of shadow covers): a pool (POOL_SIZE
 * 16 KiB from 3.10, aligned) then has its slots in one page of its own,
 * and a pool of larger blocks, whose slots are never written, leaves its
 * page untouched.  Laid out from the arena's own start (mmap aligns it to
 * 4 KiB only), each pool's slots straddled two pages, shared with a
 * neighbour.  head: the bytes of shadow before the arena's first slot;
 * the mapping is a page longer than the slots need. */
#define SHADOW_SPAN ((1ull << PAGE_BITS) * HWT_SHADOW_GRANULE / sizeof(uint32_t))

static uint64_t shadow_head(uint64_t base)
{
	return base % SHADOW_SPAN / HWT_SHADOW_GRANULE * sizeof(uint32_t);
}

static size_t shadow_bytes(uint64_t size)
{
	return size / HWT_SHADOW_GRANULE * sizeof(uint32_t) + (1ull << PAGE_BITS);
}

/* A zeroed shadow of bytes, a spare one when there is one. */
static void *shadow_get(size_t bytes)
{
	if (n_spares && bytes == spare_bytes)
		return spares[--n_spares];
	return hwt_map(bytes);
}

/* Zero the pages of a freed arena's shadow that hold a stale slot (only
 * resident pages can), then keep it as a spare or unmap it. */
static void shadow_put(void *shadow, size_t bytes)
{
	size_t page = 1ull << PAGE_BITS, pages = bytes / page;
	unsigned char resident[256];
	if (n_spares == MAX_SPARES || bytes % page || pages > sizeof(resident) ||
	    (n_spares && bytes != spare_bytes) || mincore(shadow, bytes, resident) != 0) {
		hwt_unmap(shadow, bytes);
		return;
	}
	for (size_t i = 0; i < pages; i++) {
		if (!(resident[i] & 1))
			continue;
		uint64_t *w = (uint64_t *)(void *)((char *)shadow + i * page), any = 0;
		for (size_t j = 0; j < page / sizeof(*w); j++)
			any |= w[j];
		if (any)
			memset(w, 0, page);
	}
	spare_bytes = bytes;
	spares[n_spares++] = shadow;
}

/* Room for one more registry record (lock held); its index into *n. */
static int registry_room(uint64_t *n)
{
	*n = hwt_root->pyarenas_count;
	return setup() == 0 && *n < MAX_ARENAS &&
	       hwt_region_commit(&registry, (*n + 1) * sizeof(struct hwt_pyarena)) == 0;
}

/* Point the directory's pages of [base, base + size) at shadow (the slot
 * of base) and append record n; 0 when the directory could not be
 * extended (then nothing is changed). */
static int attach(uint64_t n, uint64_t base, uint64_t size, void *shadow)
{
	uint64_t word =
	    (uint64_t)(uintptr_t)shadow - (base / HWT_SHADOW_GRANULE) * sizeof(uint32_t);
	if (set_pages(base, size, word + 1) != 0) {
		set_pages(base, size, 0);
		return 0;
	}
	struct hwt_pyarena *r = &records()[n];
	r->base = base;
	r->size = size;
	__atomic_store_n(&r->shadow, (uint64_t)(uintptr_t)shadow, __ATOMIC_RELEASE);
	__atomic_store_n(&hwt_root->pyarenas_count, n + 1, __ATOMIC_RELEASE);
	return 1;
}

void hwt_shadow_cover(void *arena, size_t size)
{
	uint64_t base = (uint64_t)(uintptr_t)arena, page = 1ull << PAGE_BITS;
	if (!arena || base % page || size % page || !size || size > MAX_ARENA ||
	    base + size > ADDRESS_END)
		return;
	hwt_shadow_lock();
	uint64_t n;
	char *mapped;
	if (registry_room(&n) && (mapped = shadow_get(shadow_bytes(size))) &&
	    !attach(n, base, size, mapped + shadow_head(base)))
		shadow_put(mapped, shadow_bytes(size));
	hwt_shadow_unlock();
}

void hwt_shadow_pools(size_t pool)
{
	size_t bytes = pool / HWT_SHADOW_GRANULE * sizeof(uint32_t);
	hwt_shadow_lock();
	if (!pool_size && pool >= 1u << PAGE_BITS && !(pool & (pool - 1)) &&
	    hwt_region_reserve(&units, MAX_POOL_UNITS * bytes) == 0) {
		unit_bytes = bytes;
		pool_size = pool;
	}
	hwt_shadow_unlock();
}

static int is_unit(uint64_t shadow)
{
	uint64_t b = (uint64_t)(uintptr_t)units.base;
	return pool_size && shadow >= b && shadow < b + units.reserved;
}

/* A pool's shadow back on the free list, its slots zeroed. */
static void unit_put(void *unit)
{
	uint64_t *u = unit;
	memset(u, 0, unit_bytes);
	*u = (uint64_t)(uintptr_t)free_units;
	free_units = u;
}

uint32_t *hwt_shadow_cover_pool(uint64_t block)
{
	if (!pool_size)
		return NULL;
	uint64_t base = block & ~(uint64_t)(pool_size - 1);
	if (base + pool_size > ADDRESS_END)
		return NULL;
	hwt_shadow_lock();
	uint32_t *slot = hwt_shadow_slot(block);
	uint64_t n;
	if (slot || !registry_room(&n))
		goto out;
	void *shadow;
	if (free_units) {
		shadow = free_units;
		free_units = (uint64_t *)(uintptr_t)*free_units;
		*(uint64_t *)shadow = 0;
	} else if (hwt_region_commit(&units, (units_used + 1) * unit_bytes) == 0) {
		shadow = units.base + units_used++ * unit_bytes;
	} else {
		goto out;
	}
	if (attach(n, base, pool_size, shadow))
		slot = hwt_shadow_slot(block);
	else
		unit_put(shadow);
out:
	hwt_shadow_unlock();
	return slot;
}

/* Drop record i (lock held): its pages uncovered, the last record moved
 * into its place, its shadow zeroed and kept (or unmapped). */
static void drop(uint64_t i)
{
	struct hwt_pyarena *recs = records(), *r = &recs[i];
	uint64_t n = hwt_root->pyarenas_count, base = r->base, size = r->size, shadow = r->shadow;
	struct hwt_pyarena *last = &recs[n - 1];
	set_pages(base, size, 0);
	/* a core taken meanwhile sees a record without a shadow (skipped) or
	 * the last one twice (kept once) */
	__atomic_store_n(&r->shadow, 0, __ATOMIC_RELEASE);
	if (r != last) {
		r->base = last->base;
		r->size = last->size;
		__atomic_store_n(&r->shadow, last->shadow, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&hwt_root->pyarenas_count, n - 1, __ATOMIC_RELEASE);
	if (is_unit(shadow)) {
		unit_put((void *)(uintptr_t)shadow);
	} else {
		/* the mapping starts on the page the shadow's head is in */
		shadow_put((void *)(uintptr_t)(shadow & ~((1ull << PAGE_BITS) - 1)),
		           shadow_bytes(size));
	}
}

void hwt_shadow_uncover(void *arena, size_t size)
{
	uint64_t base = (uint64_t)(uintptr_t)arena;
	if (!arena || !__atomic_load_n(&hwt_shadow_dir, __ATOMIC_ACQUIRE))
		return;
	hwt_shadow_lock();
	/* the arena's own record, or the records of its pools; newest first
	 * (a dropped record's place takes the last one, already seen) */
	struct hwt_pyarena *recs = records();
	for (uint64_t i = hwt_root->pyarenas_count; i-- > 0;) {
		if (recs[i].base >= base && recs[i].base - base < size)
			drop(i);
	}
	hwt_shadow_unlock();
}
