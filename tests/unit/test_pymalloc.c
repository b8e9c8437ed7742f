/*
 * test_pymalloc.c: the pymalloc walker on synthetic memory images (a read
 * callback target): exact counts on an intact image built here, the same
 * state found by the symbol-free heuristic, and scribbled pools, arenas and
 * free chains reported as problems without a crash, a hang or a wrong
 * count elsewhere.  Runs under ASan+UBSan in build-asan too.
 *
 * The image is laid out as CPython 3.11 does (layout.c): 1 MiB arenas of
 * 16 KiB pools, 48-byte pool headers and arena objects, and the arena
 * array in a glibc chunk (size word before it) in a separate "heap".
 */
#include "heapwalk.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_SIZE (1u << 20)
#define POOL_SIZE  (16u << 10)
#define ARENA_VA   0x7f0000000000ull /* arena 0, pool-aligned */
#define ARENA1_VA  0x7f0000209000ull /* arena 1, not pool-aligned (63 pools) */
#define HEAP_VA    0x555500000000ull
#define HEAP_SIZE  0x10000u
#define ARRAY_VA   (HEAP_VA + 0x1010) /* arena_object[16], chunk at 0x1000 */

struct image {
	unsigned char *arena0, *arena1, *heap;
};
static struct image img;

static unsigned char *at(uint64_t va, size_t len)
{
	if (va >= ARENA_VA && va + len <= ARENA_VA + ARENA_SIZE)
		return img.arena0 + (va - ARENA_VA);
	if (va >= ARENA1_VA && va + len <= ARENA1_VA + ARENA_SIZE)
		return img.arena1 + (va - ARENA1_VA);
	if (va >= HEAP_VA && va + len <= HEAP_VA + HEAP_SIZE)
		return img.heap + (va - HEAP_VA);
	return NULL;
}

static int cb_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	unsigned char *p = at(addr, len);
	if (!p)
		return 1;
	memcpy(buf, p, len);
	return 0;
}

static void put64(uint64_t va, uint64_t v)
{
	memcpy(at(va, 8), &v, 8);
}
static void put32(uint64_t va, uint32_t v)
{
	memcpy(at(va, 4), &v, 4);
}

/* A used pool as pymalloc leaves it: `touched` blocks carved, of which the
 * ones in free[] (indices, chain order) are on the freeblock chain. */
static void make_pool(uint64_t pool, unsigned arenaindex, unsigned szidx, unsigned touched,
                      const unsigned *free_idx, unsigned nfree)
{
	unsigned size = (szidx + 1) * 16;
	put32(pool + 0, touched - nfree); /* count */
	put32(pool + 32, arenaindex);
	put32(pool + 36, szidx);
	put32(pool + 40, 48 + touched * size); /* nextoffset */
	put32(pool + 44, POOL_SIZE - size);    /* maxnextoffset */
	uint64_t prev = pool + 8;              /* &freeblock */
	for (unsigned i = 0; i < nfree; i++) {
		uint64_t b = pool + 48 + (uint64_t)free_idx[i] * size;
		put64(prev, b);
		prev = b;
	}
	put64(prev, 0);
}

static void put_arena(unsigned i, uint64_t address, uint64_t pool_address, unsigned nfree,
                      unsigned ntotal)
{
	uint64_t o = ARRAY_VA + 48ull * i;
	put64(o + 0, address);
	put64(o + 8, pool_address);
	put32(o + 16, nfree);
	put32(o + 20, ntotal);
}

/* Expected totals of the intact image. */
enum { E_ARENAS = 2, E_POOLS = 5 };

static void build_image(void)
{
	img.arena0 = calloc(1, ARENA_SIZE);
	img.arena1 = calloc(1, ARENA_SIZE);
	img.heap = calloc(1, HEAP_SIZE);
	ck_assert(img.arena0 && img.arena1 && img.heap);
	put64(HEAP_VA + 0x1008, 0x310 | 1); /* chunk of 16 * 48 + 16 bytes */
	/* arena 0: pools 0..3 carved; pool 2 unused (count 0) */
	static const unsigned f0[] = {3, 1, 7};
	make_pool(ARENA_VA + 0 * POOL_SIZE, 0, 0, 10, f0, 3);    /* 16 B: 7 used */
	make_pool(ARENA_VA + 1 * POOL_SIZE, 0, 31, 31, NULL, 0); /* 512 B: full */
	make_pool(ARENA_VA + 3 * POOL_SIZE, 0, 3, 1, NULL, 0);   /* 64 B: 1 used */
	put_arena(0, ARENA_VA, ARENA_VA + 4 * POOL_SIZE, 61, 64);
	/* arena 1 (unaligned): first pool at the next 16 KiB boundary */
	uint64_t p1 = (ARENA1_VA + POOL_SIZE - 1) & ~(uint64_t)(POOL_SIZE - 1);
	static const unsigned f1[] = {0};
	make_pool(p1, 1, 0, 2, f1, 1);               /* 16 B: 1 used, 1 free */
	make_pool(p1 + POOL_SIZE, 1, 2, 5, NULL, 0); /* 48 B: 5 used */
	put_arena(1, ARENA1_VA, p1 + 2 * POOL_SIZE, 61, 63);
	/* arena objects 2..15 unused: address 0 */
}

static hw_target *open_image(void)
{
	hw_read_callbacks cb = {.read = cb_read, .ctx = NULL};
	hw_target *t;
	ck_assert_int_eq(hw_target_open_callback(&t, &cb, 0, NULL), HW_OK);
	hw_mapping m[] = {
	    {.start = ARENA_VA, .end = ARENA_VA + ARENA_SIZE, .perms = HW_PERM_R | HW_PERM_W},
	    {.start = ARENA1_VA, .end = ARENA1_VA + ARENA_SIZE, .perms = HW_PERM_R | HW_PERM_W},
	    {.start = HEAP_VA,
	     .end = HEAP_VA + HEAP_SIZE,
	     .perms = HW_PERM_R | HW_PERM_W,
	     .path = "[heap]"},
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		m[i].core_bytes = m[i].end - m[i].start;
		ck_assert_int_eq(hw_target_add_mapping(t, &m[i]), HW_OK);
	}
	return t;
}

static void free_image(void)
{
	free(img.arena0);
	free(img.arena1);
	free(img.heap);
}

struct counts {
	uint64_t used, free_, top, top_bytes, problems, records;
	uint64_t last_addr;
	int ordered;
	int stop_after;
	char kinds[512];
};

static int on_alloc(void *ctx, const hw_alloc *a)
{
	struct counts *c = ctx;
	ck_assert_int_eq(a->allocator, HW_ALLOCATOR_PYMALLOC);
	if (a->address <= c->last_addr)
		c->ordered = 0;
	c->last_addr = a->address;
	c->records++;
	if (a->state == HW_STATE_USED)
		c->used++;
	else if (a->state == HW_STATE_FREE)
		c->free_++;
	else {
		c->top++;
		c->top_bytes += a->size;
	}
	return c->stop_after && c->records >= (uint64_t)c->stop_after;
}

static void on_problem(void *ctx, const hw_problem *p)
{
	struct counts *c = ctx;
	c->problems++;
	ck_assert_ptr_nonnull(p->kind);
	ck_assert_ptr_nonnull(p->message);
	if (strlen(c->kinds) + strlen(p->kind) + 2 < sizeof c->kinds) {
		strcat(c->kinds, p->kind);
		strcat(c->kinds, " ");
	}
}

static const hw_pymalloc_summary *walk(hw_target *t, uint64_t arenas, struct counts *c,
                                       hw_pymalloc **out)
{
	hw_pymalloc *p;
	ck_assert_int_eq(hw_pymalloc_open_state(&p, t, 11, arenas, 16), HW_OK);
	hw_visitor v = {.alloc = on_alloc, .problem = on_problem, .ctx = c};
	c->ordered = 1;
	int rc = hw_pymalloc_walk(p, &v);
	ck_assert_int_eq(rc, c->stop_after ? HW_EINTR : HW_OK);
	*out = p;
	return hw_pymalloc_get_summary(p);
}

static void check_intact(const hw_pymalloc_summary *s, const struct counts *c)
{
	ck_assert_uint_eq(s->arenas, E_ARENAS);
	ck_assert_uint_eq(s->pools, E_POOLS);
	ck_assert_uint_eq(s->n_size_classes, 32);
	/* 16 B: two pools, 7 + 1 used, (1021 - 7) + (1021 - 1) available */
	ck_assert_uint_eq(s->size_classes[0].size, 16);
	ck_assert_uint_eq(s->size_classes[0].pools, 2);
	ck_assert_uint_eq(s->size_classes[0].blocks_in_use, 8);
	ck_assert_uint_eq(s->size_classes[0].free_blocks, 1014 + 1020);
	ck_assert_uint_eq(s->size_classes[2].blocks_in_use, 5);
	ck_assert_uint_eq(s->size_classes[2].free_blocks, 340 - 5);
	ck_assert_uint_eq(s->size_classes[3].blocks_in_use, 1);
	ck_assert_uint_eq(s->size_classes[31].pools, 1);
	ck_assert_uint_eq(s->size_classes[31].blocks_in_use, 31);
	ck_assert_uint_eq(s->size_classes[31].free_blocks, 0);
	ck_assert_uint_eq(s->blocks_in_use, 7 + 1 + 5 + 1 + 31);
	ck_assert_uint_eq(s->bytes_in_use, 8 * 16 + 5 * 48 + 64 + 31 * 512);
	ck_assert_uint_eq(c->used, s->blocks_in_use);
	ck_assert_uint_eq(c->free_, 3 + 1);
	/* tails: every pool but the full one */
	ck_assert_uint_eq(c->top, 4);
	ck_assert_uint_eq(c->top_bytes, 1011 * 16 + 254 * 64 + 1019 * 16 + 335 * 48);
	ck_assert_int_eq(c->ordered, 1);
	ck_assert_uint_eq(c->problems, 0);
}

START_TEST(intact_given)
{
	build_image();
	hw_target *t = open_image();
	struct counts c = {0};
	hw_pymalloc *p;
	const hw_pymalloc_summary *s = walk(t, ARRAY_VA, &c, &p);
	check_intact(s, &c);
	ck_assert_str_eq(s->symbols, "given");
	/* Summary-only walk: same numbers without records. */
	ck_assert_int_eq(hw_pymalloc_walk(p, NULL), HW_OK);
	ck_assert_uint_eq(hw_pymalloc_get_summary(p)->blocks_in_use, s->blocks_in_use);
	ck_assert_uint_eq(hw_pymalloc_get_summary(p)->pools, E_POOLS);
	hw_pymalloc_close(p);
	hw_target_close(t);
	free_image();
}
END_TEST

START_TEST(intact_heuristic)
{
	build_image();
	hw_target *t = open_image();
	struct counts c = {0};
	hw_pymalloc *p;
	const hw_pymalloc_summary *s = walk(t, 0, &c, &p);
	check_intact(s, &c);
	ck_assert_str_eq(s->symbols, "heuristic");
	hw_pymalloc_close(p);
	hw_target_close(t);
	free_image();
}
END_TEST

START_TEST(visitor_stops)
{
	build_image();
	hw_target *t = open_image();
	struct counts c = {.stop_after = 5};
	hw_pymalloc *p;
	walk(t, ARRAY_VA, &c, &p);
	ck_assert_uint_eq(c.records, 5);
	hw_pymalloc_close(p);
	hw_target_close(t);
	free_image();
}
END_TEST

/* Scribbles, one per test (_i), each with the problem kind it must raise
 * and what must still be counted right elsewhere. */
static void scribble(int which)
{
	uint64_t pool0 = ARENA_VA, pool1 = ARENA_VA + POOL_SIZE;
	switch (which) {
	case 0: /* free chain loops back on itself */
		put64(pool0 + 48 + 7 * 16, pool0 + 48 + 3 * 16);
		break;
	case 1: /* free chain leaves the pool */
		put64(pool0 + 8, 0x1234567);
		break;
	case 2: /* count larger than the pool */
		put32(pool1 + 0, 5000);
		break;
	case 3: /* size class out of range */
		put32(pool1 + 36, 200);
		break;
	case 4: /* arena's pool_address past its end */
		put64(ARRAY_VA + 8, ARENA_VA + 5 * ARENA_SIZE);
		break;
	case 5: /* free chain pointer not on a block boundary */
		put64(pool0 + 48 + 3 * 16, pool0 + 48 + 3 * 16 + 5);
		break;
	case 6: /* arena pointing at unmapped memory */
		put64(ARRAY_VA + 0, 0x100000000ull);
		put64(ARRAY_VA + 8, 0x100000000ull + 4 * POOL_SIZE);
		break;
	case 7: /* count disagrees with the chain */
		put32(pool0 + 0, 9);
		break;
	}
}

static const char *const scribble_kind[] = {
    "free-list-cycle", "bad-freeblock", "bad-pool-header", "bad-pool-header",
    "bad-arena",       "bad-freeblock", "unreadable-pool", "pool-count-mismatch",
};

START_TEST(scribbled)
{
	build_image();
	scribble(_i);
	hw_target *t = open_image();
	struct counts c = {0};
	hw_pymalloc *p;
	const hw_pymalloc_summary *s = walk(t, ARRAY_VA, &c, &p);
	ck_assert_msg(strstr(c.kinds, scribble_kind[_i]), "scribble %d: wanted %s, got '%s'", _i,
	              scribble_kind[_i], c.kinds);
	/* arena 1 is untouched by every scribble: its 48-byte pool counts */
	ck_assert_uint_eq(s->size_classes[2].blocks_in_use, 5);
	hw_pymalloc_close(p);
	hw_target_close(t);
	free_image();
}
END_TEST

static int ignore_alloc(void *ctx, const hw_alloc *a)
{
	(void)ctx;
	(void)a;
	return 0;
}

static void on_problem_msg(void *ctx, const hw_problem *p)
{
	char *buf = ctx;
	if (!strcmp(p->kind, "pool-count-mismatch") && strlen(buf) + strlen(p->message) < 1000)
		strcat(buf, p->message);
}

/* A pool whose count is one more than its blocks in use is what a thread
 * inside pymalloc_alloc leaves (count raised, freeblock not yet moved):
 * said so; two more is plain damage. */
START_TEST(count_one_more)
{
	for (unsigned extra = 1; extra <= 2; extra++) {
		build_image();
		put32(ARENA_VA + 0, 7 + extra); /* pool 0: 7 blocks in use */
		hw_target *t = open_image();
		hw_pymalloc *p;
		char msg[1024] = "";
		ck_assert_int_eq(hw_pymalloc_open_state(&p, t, 11, ARRAY_VA, 16), HW_OK);
		hw_visitor v = {.alloc = ignore_alloc, .problem = on_problem_msg, .ctx = msg};
		ck_assert_int_eq(hw_pymalloc_walk(p, &v), HW_OK);
		ck_assert_ptr_nonnull(strstr(msg, extra == 1 ? "count 8 but 7" : "count 9 but 7"));
		ck_assert_int_eq(strstr(msg, "inside pymalloc") != NULL, extra == 1);
		hw_pymalloc_close(p);
		hw_target_close(t);
		free_image();
	}
}
END_TEST

START_TEST(bad_state)
{
	build_image();
	hw_target *t = open_image();
	struct counts c = {0};
	hw_pymalloc *p;
	/* an array pointer into nothing and a maxarenas nobody allocates */
	ck_assert_int_eq(hw_pymalloc_open_state(&p, t, 11, 0x42424242000ull, 16), HW_OK);
	hw_visitor v = {.alloc = on_alloc, .problem = on_problem, .ctx = &c};
	ck_assert_int_eq(hw_pymalloc_walk(p, &v), HW_OK);
	ck_assert(strstr(c.kinds, "unreadable-arenas"));
	hw_pymalloc_close(p);
	ck_assert_int_eq(hw_pymalloc_open_state(&p, t, 11, ARRAY_VA, 0xffffffffu), HW_OK);
	ck_assert_int_eq(hw_pymalloc_walk(p, &v), HW_OK);
	ck_assert(strstr(c.kinds, "bad-maxarenas"));
	hw_pymalloc_close(p);
	ck_assert_int_ne(hw_pymalloc_open_state(&p, t, 5, ARRAY_VA, 16), HW_OK); /* 3.5: no */
	hw_target_close(t);
	free_image();
}
END_TEST

/* Random bytes over every pool of arena 0 and the arena objects: the walk
 * ends, reports, and never reads outside what it was given. */
START_TEST(random_bytes)
{
	unsigned seed = 12345 + (unsigned)_i;
	build_image();
	for (uint64_t a = 0; a < 4 * POOL_SIZE; a += 4) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8;
		/* keep some header words plausible so deeper checks are reached */
		if (a % POOL_SIZE < 48 && (seed & 3) == 0)
			continue;
		memcpy(img.arena0 + a, &r, 4);
	}
	for (unsigned k = 0; k < 48 * 2; k += 4) {
		seed = seed * 1103515245u + 12345u;
		if (seed & 1)
			memcpy(at(ARRAY_VA + k, 4), &seed, 4);
	}
	hw_target *t = open_image();
	for (int h = 0; h < 2; h++) {
		struct counts c = {0};
		hw_pymalloc *p;
		if (hw_pymalloc_open_state(&p, t, 11, h ? 0 : ARRAY_VA, 16) != HW_OK)
			continue; /* the heuristic may find nothing: fine */
		hw_visitor v = {.alloc = on_alloc, .problem = on_problem, .ctx = &c};
		ck_assert_int_eq(hw_pymalloc_walk(p, &v), HW_OK);
		ck_assert_uint_le(c.records, 2 * 64 * 1024);
		hw_pymalloc_close(p);
	}
	hw_target_close(t);
	free_image();
}
END_TEST

/* Zeros everywhere: pool headers that never pass, but readable. */
static int zeros_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	(void)addr;
	memset(buf, 0, len);
	return 0;
}

/* A mapping at the very top of the address space (a corrupt core's): the
 * heuristic's scans end (their a + POOL_SIZE once wrapped round to 0 and
 * went on from there, for ever). */
START_TEST(top_of_address_space)
{
	hw_read_callbacks cb = {.read = zeros_read, .ctx = NULL};
	hw_target *t;
	ck_assert_int_eq(hw_target_open_callback(&t, &cb, 0, NULL), HW_OK);
	hw_mapping m = {.start = 0xffffffffffff0000ull,
	                .end = 0xffffffffffffffffull,
	                .perms = HW_PERM_R | HW_PERM_W};
	m.core_bytes = m.end - m.start;
	ck_assert_int_eq(hw_target_add_mapping(t, &m), HW_OK);
	hw_pymalloc *p;
	if (hw_pymalloc_open_state(&p, t, 11, 0, 16) == HW_OK)
		hw_pymalloc_close(p);
	hw_target_close(t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pymalloc");
	TCase *tc = tcase_create("walk");
	tcase_add_test(tc, intact_given);
	tcase_add_test(tc, intact_heuristic);
	tcase_add_test(tc, visitor_stops);
	tcase_add_loop_test(tc, scribbled, 0, 8);
	tcase_add_test(tc, bad_state);
	tcase_add_test(tc, count_one_more);
	tcase_add_loop_test(tc, random_bytes, 0, 50);
	tcase_add_test(tc, top_of_address_space);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
