/*
 * fuzz_glibc.c: the glibc walker (walk.c) on arbitrary bytes.  The input is
 * a memory image: its first LIBC_LEN bytes are libc's data at LIBC_VA
 * (main_arena at +0, mp_ at +MP_OFF), the rest an anonymous mapping at
 * HEAP_VA, mp_.sbrk_base's heap, whose first chunk is the thread's tcache.
 * Byte 0 of the image (main_arena.mutex, which the walker never reads)
 * picks the glibc version whose layout is used (2.26 to 2.43), so every
 * table row is exercised.  The walk must never crash, hang or grow without
 * bound.  Seeds: a healthy 2.36 heap (used, fastbin, unsorted, tcache'd
 * chunks and top), the same heap under 2.26 and 2.31 layouts, the 2.36
 * one with a mapping at the top of the address space, the 2.36 one cut 16
 * bytes into its heap, and the 2.36 one with two fenceposts before its
 * top.  The three walks of each input must agree (walk_digest), a walk
 * without a visitor must give their summary, and heap chunks must come in
 * address order, none overlapping the one before (on_alloc).
 */
#include "../../libheapwalk/glibc/glibc_int.h"

#include <stdlib.h>
#include <string.h>

#define LIBC_VA  0x7f0000000000ull
#define LIBC_LEN 0x1000u
#define MP_OFF   0x900u
#define HEAP_VA  0x555500000000ull
/* Bit 0 of byte 1 (main_arena.mutex too) adds an unreadable anonymous
 * mapping at the very top of the address space, ending at 2^64 - 1: the
 * scans of anonymous mappings must not wrap round to 0 there. */
#define TOP_VA  0xffffffffffff0000ull
#define TOP_END 0xffffffffffffffffull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seeds(uint8_t ***bufs, size_t **lens);

struct image {
	const uint8_t *b;
	size_t len;
};

static int img_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct image *m = ctx;
	size_t lib = m->len < LIBC_LEN ? m->len : LIBC_LEN;
	if (addr >= LIBC_VA && addr - LIBC_VA <= lib && len <= lib - (addr - LIBC_VA)) {
		memcpy(buf, m->b + (addr - LIBC_VA), len);
		return 0;
	}
	size_t heap = m->len - lib;
	if (addr >= HEAP_VA && addr - HEAP_VA <= heap && len <= heap - (addr - HEAP_VA)) {
		memcpy(buf, m->b + lib + (addr - HEAP_VA), len);
		return 0;
	}
	return 1;
}

static const void *img_view(void *ctx, uint64_t addr, size_t len)
{
	const struct image *m = ctx;
	if (m->len <= LIBC_LEN || addr < HEAP_VA)
		return NULL;
	size_t heap = m->len - LIBC_LEN;
	if (addr - HEAP_VA <= heap && len <= heap - (addr - HEAP_VA))
		return m->b + LIBC_LEN + (addr - HEAP_VA);
	return NULL;
}

/* What a walk found, folded into a digest: its records and problems in
 * order.  The three walks of an input (reads alone, a direct view, a view
 * without the bitmap) take different paths through walk.c (the capture,
 * the linear walk's plain_run, the sorted entries) that must find the
 * same: a digest that differs is a bug, and aborts. */
struct digest {
	uint64_t h, n;    /* of the records and problems */
	uint64_t summary; /* of the summary */
	/* the end of the last heap chunk recorded (its successor's start):
	 * heap chunks come in address order, none overlapping the last */
	uint64_t heap_end;
};

static void fold(struct digest *d, uint64_t v)
{
	d->h = (d->h ^ v) * 0x100000001b3ull;
	d->n++;
}

static int on_alloc(void *ctx, const hw_alloc *a)
{
	struct digest *d = ctx;
	if (a->allocator == HW_ALLOCATOR_GLIBC) {
		/* a chunk's record: its memory 16 bytes past its start, its
		 * usable size 8 short of its end (the successor's prev_size) */
		if (a->address - 16 < d->heap_end)
			abort();
		d->heap_end = a->address + a->size - 8;
	}
	fold(d, a->address);
	fold(d, a->size);
	fold(d, a->arena);
	fold(d, (uint64_t)a->allocator << 16 | (uint64_t)a->state << 8 | a->bin);
	return 0;
}

static void on_problem(void *ctx, const hw_problem *p)
{
	struct digest *d = ctx;
	fold(d, p->address);
	for (const char *k = p->kind; *k; k++)
		fold(d, (uint8_t)*k);
}

/* The walk of in (with records, or without any visitor): the digest of
 * its records and problems, and of its summary. */
static struct digest walk_digest(const struct gw_input *in, int records)
{
	struct digest d = {0xcbf29ce484222325ull, 0, 0, 0}, sd = d;
	hw_visitor v = {on_alloc, on_problem, &d};
	hw_glibc_summary s;
	memset(&s, 0, sizeof s);
	fold(&sd, (uint64_t)gw_walk(in, records ? &v : NULL, &s));
	const hw_count *c[] = {&s.used, &s.free, &s.tcache, &s.fastbins, &s.mmapped};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		fold(&sd, c[i]->count);
		fold(&sd, c[i]->bytes);
	}
	fold(&sd, s.top_bytes);
	fold(&sd, s.arenas);
	fold(&sd, s.system_bytes);
	const uint64_t *mi = (const uint64_t *)&s.mallinfo2;
	for (size_t i = 0; i < sizeof s.mallinfo2 / sizeof *mi; i++)
		fold(&sd, mi[i]);
	d.summary = sd.h;
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image img = {data, size};
	struct gw_input in;
	memset(&in, 0, sizeof in);
	int minor = 26 + (size ? data[0] % 18 : 10); /* 2.26 .. 2.43 */
	if (gw_layout_for_version(&in.layout, 2, minor) != HW_OK)
		return 0;
	uint64_t tc = HEAP_VA + 16;
	struct gw_map maps[3] = {
	    {HEAP_VA, HEAP_VA + (size > LIBC_LEN ? size - LIBC_LEN : 0), HW_PERM_R | HW_PERM_W, 1},
	    {LIBC_VA, LIBC_VA + LIBC_LEN, HW_PERM_R | HW_PERM_W, 0},
	    {TOP_VA, TOP_END, HW_PERM_R | HW_PERM_W, 1},
	};
	in.main_arena = LIBC_VA;
	in.mp = LIBC_VA + MP_OFF;
	in.tcaches = &tc;
	in.n_tcaches = 1;
	in.maps = maps;
	in.n_maps = size > LIBC_LEN ? (data[1] & 1 ? 3 : 2) : 1;
	if (size <= LIBC_LEN)
		in.maps = &maps[1];
	in.read = img_read;
	in.ctx = &img;
	struct digest read_only = walk_digest(&in, 1);
	/* and once more through a direct view of the heap, as on cores */
	in.view = img_view;
	struct digest viewed = walk_digest(&in, 1);
	/* and without a visitor: a summary alone, the same */
	struct digest summary_only = walk_digest(&in, 0);
	/* and with the listed chunks in the hash set alone (huge heaps) */
	in.bitmap_max = 1;
	struct digest hashed = walk_digest(&in, 1);
	if (viewed.h != read_only.h || viewed.n != read_only.n || hashed.h != viewed.h ||
	    hashed.n != viewed.n || read_only.summary != viewed.summary ||
	    hashed.summary != viewed.summary || summary_only.summary != viewed.summary)
		abort();
	return 0;
}

/* ---- seeds ---- */

#define SEED_HEAP 0x2000u

static void put64(uint8_t *img, uint64_t addr, uint64_t v)
{
	uint64_t off = addr >= LIBC_VA ? addr - LIBC_VA : LIBC_LEN + (addr - HEAP_VA);
	if (off > LIBC_LEN + SEED_HEAP - 8)
		abort();
	memcpy(img + off, &v, 8);
}

/* With fenceposts, the last used chunk is two fenceposts instead (a foreign
 * sbrk's mark in the main heap). */
static uint8_t *seed(int minor, int fenceposts, size_t *len)
{
	const size_t heap = SEED_HEAP;
	uint8_t *img = calloc(1, LIBC_LEN + heap);
	struct gw_layout L;
	if (!img || gw_layout_for_version(&L, 2, minor) != HW_OK)
		abort();
	img[0] = (uint8_t)(minor - 26);
	uint64_t a = LIBC_VA, mp = LIBC_VA + MP_OFF, h = HEAP_VA;
	/* the tcache struct, then used, fastbin, used, unsorted, used,
	 * tcache'd, used chunks, then top */
	uint64_t tcs = (L.tc_size + 8 + 15) & ~15ull;
	uint64_t c[8], sz[8] = {tcs, 0x20, 0x20, 0x30, 0x100, 0x40, 0x30, 0x20};
	c[0] = h;
	for (int i = 1; i < 8; i++)
		c[i] = c[i - 1] + sz[i - 1];
	uint64_t top = c[7] + sz[7];
	for (int i = 0; i < 8; i++)
		put64(img, c[i] + 8, sz[i] | (i == 5 ? 0 : 1));
	put64(img, c[5], 0x100);
	if (fenceposts) {
		put64(img, c[7] + 8, GW_CHUNK_HDR | 1);
		put64(img, c[7] + GW_CHUNK_HDR + 8, GW_CHUNK_HDR | 1);
	}
	put64(img, top + 8, (h + heap - top) | 1);
	put64(img, a + L.ms_next, a);
	put64(img, a + L.ms_top, top);
	put64(img, a + L.ms_system_mem, heap);
	for (unsigned i = 1; i < GW_NBINS; i++) {
		uint64_t b = a + L.ms_bins + (uint64_t)(i - 1) * 16 - 16;
		put64(img, b + 16, b);
		put64(img, b + 24, b);
	}
	uint64_t safe_fd = L.safe_linking ? (c[2] + 16) >> 12 : 0;
	if (L.n_fastbins) /* (2.43: none; c[2] is a used chunk then) */
		put64(img, a + L.ms_fastbins, c[2]);
	put64(img, c[2] + 16, safe_fd);
	uint64_t ub = a + L.ms_bins - 16;
	put64(img, ub + 16, c[4]);
	put64(img, ub + 24, c[4]);
	put64(img, c[4] + 16, ub);
	put64(img, c[4] + 24, ub);
	/* tcache bin 1 (chunk 0x30) holds c[6] (2.42+: free slots, one taken
	 * there; 16 to a bin from 2.43) */
	uint64_t t = h + 16, fill = minor >= 43 ? 16 : 7;
	if (L.tc_slots) {
		for (unsigned i = 0; i < L.tc_bins; i++) {
			uint16_t slots = (uint16_t)(i == 1 ? fill - 1 : fill);
			memcpy(img + LIBC_LEN + (t - h) + L.tc_counts + 2 * i, &slots, 2);
		}
	} else if (L.tc_count_width == 2) {
		uint16_t one = 1;
		memcpy(img + LIBC_LEN + (t - h) + L.tc_counts + 2, &one, 2);
	} else {
		img[LIBC_LEN + (t - h) + L.tc_counts + 1] = 1;
	}
	put64(img, t + L.tc_entries + 8, c[6] + 16);
	put64(img, c[6] + 16, L.safe_linking ? (c[6] + 16) >> 12 : 0);
	put64(img, mp + L.mp_sbrk_base, h);
	put64(img, mp + L.mp_tcache_bins, 64);
	put64(img, mp + L.mp_tcache_count, fill);
	*len = LIBC_LEN + heap;
	return img;
}

size_t fuzz_seeds(uint8_t ***bufs, size_t **lens)
{
	static const int minors[] = {36, 26, 31};
	*bufs = malloc(8 * sizeof **bufs);
	*lens = malloc(8 * sizeof **lens);
	if (!*bufs || !*lens)
		abort();
	for (int i = 0; i < 3; i++)
		(*bufs)[i] = seed(minors[i], 0, &(*lens)[i]);
	/* the 2.36 heap with the mapping at the top (bit 0 of byte 1): its
	 * scans once wrapped round to 0 there and went on */
	(*bufs)[3] = seed(36, 0, &(*lens)[3]);
	(*bufs)[3][1] |= 1;
	/* the 2.36 heap cut 16 bytes into its first chunk: the size word ends
	 * where the mapping does, and reads alone once found it unreadable
	 * (the window asked for 16 bytes there) where a view read it */
	(*bufs)[4] = seed(36, 0, &(*lens)[4]);
	(*lens)[4] = LIBC_LEN + 16;
	/* the 2.36 heap with two fenceposts before its top: records of 8
	 * bytes each, then the chunks after the gap */
	(*bufs)[5] = seed(36, 1, &(*lens)[5]);
	/* 2.43: no fastbins, 76 tcache bins counted in free slots */
	(*bufs)[6] = seed(43, 0, &(*lens)[6]);
	/* 2.42: fastbins, and the tcache of 2.43 with 7 to a bin */
	(*bufs)[7] = seed(42, 0, &(*lens)[7]);
	return 8;
}
