/*
 * fuzz_pymalloc.c: the pymalloc walker on arbitrary bytes.  The input is a
 * memory image of a callback target: its first 8 + 16 * 48 bytes are a
 * malloc chunk's size word and an arena_object[16] array (at ARRAY_VA), the
 * rest an anonymous mapping at ARENA_VA, pool-aligned, where pools are
 * looked for.  Bit 1 of byte 0 (a flag bit of the size word, which the
 * walker masks) picks the layout: CPython 3.8 (4 KiB pools) or 3.11
 * (16 KiB).  The walk with the array given and the walk with the state found
 * by the pool scan must never crash, hang or grow without bound, and each
 * must give the same summary with records as without (which reads the
 * pools' headers alone), and its records in address order, none
 * overlapping the one before.  Seeds:
 * two valid pools and their arena, for each layout; pools with arena
 * indexes no array can hold; an arena at the top of the address space;
 * the arena mapping itself there; an arena named twice.
 */
#include "heapwalk.h"

#include <stdlib.h>
#include <string.h>

#define ARRAY_HDR 8u
#define ARRAY_LEN (16u * 48u)
#define ARRAY_VA  0x555500001010ull /* the array; its size word sits before */
#define ARENA_VA  0x7f0000000000ull
/* Bit 2 of byte 0 (another flag bit the walker masks) moves the arena
 * mapping to the very top of the address space instead: its bytes at
 * 2^64 - len onwards, the mapping ending at 2^64 - 1 (a mapping's end
 * can go no higher), so the last pool lacks its last byte.  The scans
 * over mappings must not wrap round to 0 there. */
#define TOP_END 0xffffffffffffffffull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seeds(uint8_t ***bufs, size_t **lens);

struct image {
	const uint8_t *b;
	size_t len;
};

/* Where the arena mapping starts for this input. */
static uint64_t arena_va(const uint8_t *data, size_t size)
{
	size_t head = ARRAY_HDR + ARRAY_LEN;
	if (!size || !(data[0] & 4) || size <= head)
		return ARENA_VA;
	return (uint64_t)0 - (uint64_t)(size - head);
}

static int img_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct image *m = ctx;
	uint64_t arena = arena_va(m->b, m->len);
	uint64_t base = ARRAY_VA - ARRAY_HDR, off;
	size_t head = ARRAY_HDR + ARRAY_LEN;
	if (addr >= base && addr - base + len <= head && addr - base + len <= m->len) {
		memcpy(buf, m->b + (addr - base), len);
		return 0;
	}
	if (addr >= arena && m->len > head) {
		off = addr - arena;
		if (off + len <= m->len - head) {
			memcpy(buf, m->b + head + off, len);
			return 0;
		}
	}
	return 1;
}

/* Records come in address order, none overlapping the one before. */
static int on_alloc(void *ctx, const hw_alloc *a)
{
	uint64_t *end = ctx;
	if (a->address < *end)
		abort();
	*end = a->address + a->size;
	return 0;
}

static void on_problem(void *ctx, const hw_problem *p)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image m = {data, size};
	size_t head = ARRAY_HDR + ARRAY_LEN;
	hw_read_callbacks cb = {img_read, &m};
	hw_target *t;
	if (hw_target_open_callback(&t, &cb, 0, NULL) != HW_OK)
		abort();
	hw_mapping mp = {.start = ARRAY_VA - ARRAY_HDR,
	                 .end = ARRAY_VA - ARRAY_HDR + head,
	                 .perms = HW_PERM_R | HW_PERM_W,
	                 .path = "[heap]"};
	mp.core_bytes = mp.end - mp.start;
	hw_target_add_mapping(t, &mp);
	if (size > head) {
		uint64_t arena = arena_va(data, size);
		hw_mapping ma = {.start = arena,
		                 .end = arena == ARENA_VA ? arena + (size - head) : TOP_END,
		                 .perms = HW_PERM_R | HW_PERM_W};
		ma.core_bytes = ma.end - ma.start;
		hw_target_add_mapping(t, &ma);
	}
	unsigned minor = size && data[0] & 2 ? 8 : 11;
	for (int h = 0; h < 2; h++) {
		hw_pymalloc *p;
		if (hw_pymalloc_open_state(&p, t, minor, h ? 0 : ARRAY_VA, 16) != HW_OK)
			continue;
		uint64_t n = 0;
		hw_visitor v = {on_alloc, on_problem, &n};
		int rc1 = hw_pymalloc_walk(p, &v);
		hw_pymalloc_summary full = *hw_pymalloc_get_summary(p);
		int rc2 = hw_pymalloc_walk(p, NULL);
		const hw_pymalloc_summary *quick = hw_pymalloc_get_summary(p);
		if (rc1 != rc2 || full.arenas != quick->arenas || full.pools != quick->pools ||
		    full.blocks_in_use != quick->blocks_in_use ||
		    full.bytes_in_use != quick->bytes_in_use ||
		    full.free_blocks != quick->free_blocks)
			abort();
		hw_pymalloc_close(p);
	}
	hw_target_close(t);
	return 0;
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}
static void put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, 8);
}

/* Two used pools (16-byte blocks with a free chain, and a full 512-byte
 * one) in arena 0, as pymalloc leaves them. */
static uint8_t *seed(unsigned pool_size, size_t *len)
{
	size_t head = ARRAY_HDR + ARRAY_LEN;
	*len = head + 2 * pool_size;
	uint8_t *b = calloc(1, *len);
	if (!b)
		abort();
	/* chunk of 16 * 48 + 16 bytes, in use; bit 1 selects 3.8 */
	put64(b, 0, 0x311 | (pool_size == 4096 ? 2 : 0));
	put64(b, ARRAY_HDR + 0, ARENA_VA);
	put64(b, ARRAY_HDR + 8, ARENA_VA + 2 * pool_size);
	put32(b, ARRAY_HDR + 16, 62);
	put32(b, ARRAY_HDR + 20, 64);
	uint8_t *p0 = b + head, *p1 = b + head + pool_size;
	put32(p0, 0, 3);                        /* count */
	put64(p0, 8, ARENA_VA + 48 + 16);       /* freeblock: block 1 */
	put64(p0, 48 + 16, ARENA_VA + 48 + 64); /* block 1 -> block 4 */
	put32(p0, 36, 0);                       /* szidx */
	put32(p0, 40, 48 + 5 * 16);             /* nextoffset */
	put32(p0, 44, pool_size - 16);          /* maxnextoffset */
	unsigned cap = (pool_size - 48) / 512;
	put32(p1, 0, cap);
	put32(p1, 36, 31);
	put32(p1, 40, 48 + cap * 512);
	put32(p1, 44, pool_size - 512);
	return b;
}

size_t fuzz_seeds(uint8_t ***bufs, size_t **lens)
{
	*bufs = malloc(6 * sizeof **bufs);
	*lens = malloc(6 * sizeof **lens);
	if (!*bufs || !*lens)
		abort();
	(*bufs)[0] = seed(16384, &(*lens)[0]);
	(*bufs)[1] = seed(4096, &(*lens)[1]);
	/* found by libFuzzer: pools whose arena index is 2^31 or more sent
	 * the pool scan's guess of maxarenas (16, doubled until above the
	 * largest index) round through 0 for ever */
	(*bufs)[2] = seed(16384, &(*lens)[2]);
	put32((*bufs)[2] + ARRAY_HDR + ARRAY_LEN, 32, 0x80000000u);
	put32((*bufs)[2] + ARRAY_HDR + ARRAY_LEN + 16384, 32, 0x80000001u);
	/* found by libFuzzer: an arena ending at the top of the address
	 * space (3.8: 256 KiB below 2^64, pool_address 2^64 - 1) had the
	 * pool loop's pool + POOL_SIZE wrap round to 0, for ever below
	 * pool_address */
	(*bufs)[3] = seed(4096, &(*lens)[3]);
	put64((*bufs)[3] + ARRAY_HDR + 48, 0, 0xfffffffffffbffffull);
	put64((*bufs)[3] + ARRAY_HDR + 48, 8, 0xffffffffffffffffull);
	/* the pools themselves at the top of the address space (bit 2): the
	 * heuristic's scans once wrapped round to 0 there and went on */
	(*bufs)[4] = seed(16384, &(*lens)[4]);
	(*bufs)[4][0] |= 4;
	/* arena object 1 a copy of arena object 0: the same pools named
	 * twice, once listed twice */
	(*bufs)[5] = seed(16384, &(*lens)[5]);
	memcpy((*bufs)[5] + ARRAY_HDR + 48, (*bufs)[5] + ARRAY_HDR, 48);
	return 6;
}
