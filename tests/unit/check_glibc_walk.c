/*
 * check_glibc_walk.c: the glibc walker (walk.c) on synthetic memory images.
 *
 * A small, hand-built 2.36 heap (main_arena, mp_, one heap with a tcache
 * struct, used chunks, a fastbin chunk, an unsorted chunk, a tcache'd chunk
 * and top) is walked whole; then the same image is damaged the ways
 * attackers and bugs damage heaps (cycles in every kind of free list, bad
 * sizes, poisoned pointers, an arena ring that never closes, unreadable
 * memory, random bytes) and the walk must end, report problems and keep
 * what it can.  Run under ASan/UBSan too.
 */
#include "../../libheapwalk/glibc/glibc_int.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIBC_BASE 0x7f0000000000ull
#define ARENA     (LIBC_BASE + 0x1000)
#define MP        (LIBC_BASE + 0x2000)
#define LIBC_SIZE 0x3000ull
#define HEAP      0x555500000000ull
#define HEAP_SIZE 0x10000ull

/* The chunks of the image, in address order. */
#define C_TCACHE (HEAP)         /* tcache_perthread_struct, 0x290 */
#define C_USED1  (HEAP + 0x290) /* used, 0x20 */
#define C_FAST   (HEAP + 0x2b0) /* fastbin 0, 0x20 */
#define C_USED2  (HEAP + 0x2d0) /* used, 0x30 */
#define C_UNSORT (HEAP + 0x300) /* unsorted, 0x100 */
#define C_USED3  (HEAP + 0x400) /* used, 0x40, PREV_INUSE clear */
#define C_TC     (HEAP + 0x440) /* tcache bin 1, 0x30 */
#define C_USED4  (HEAP + 0x470) /* used, 0x20 */
#define C_TOP    (HEAP + 0x490)

static uint8_t libc_mem[LIBC_SIZE];
static uint8_t heap_mem[HEAP_SIZE];
static struct gw_input in;
/* Set by the "set" test case's fixture: every test again with the listed
 * chunks in the hash set alone, as on heaps too large for the bitmap. */
static int no_bitmap;
static struct gw_map maps[3];
static uint64_t tcaches[1];

/* Reads of a chunk's words in the heap (32 bytes or fewer) below top (whose
 * size the arena walk reads): on a healthy heap, the list walks find every
 * chunk they visit in what the walker captured while streaming the heap
 * (walk.c, capture), and make none. */
static size_t small_heap_reads;

static int mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	if (addr >= HEAP && addr < C_TOP && len <= 32)
		small_heap_reads++;
	if (addr >= LIBC_BASE && addr + len <= LIBC_BASE + LIBC_SIZE && addr + len >= addr) {
		memcpy(buf, libc_mem + (addr - LIBC_BASE), len);
		return 0;
	}
	if (addr >= HEAP && addr + len <= HEAP + HEAP_SIZE && addr + len >= addr) {
		memcpy(buf, heap_mem + (addr - HEAP), len);
		return 0;
	}
	return -1;
}

/* A direct view of the heap, as a core gives (in.view): the list walks
 * then read any chunk, not only those the capture kept. */
static const void *mem_view(void *ctx, uint64_t addr, size_t len)
{
	(void)ctx;
	if (addr >= HEAP && addr + len <= HEAP + HEAP_SIZE && addr + len >= addr)
		return heap_mem + (addr - HEAP);
	return NULL;
}

static uint8_t *at(uint64_t addr)
{
	if (addr >= HEAP && addr < HEAP + HEAP_SIZE)
		return heap_mem + (addr - HEAP);
	ck_assert(addr >= LIBC_BASE && addr < LIBC_BASE + LIBC_SIZE);
	return libc_mem + (addr - LIBC_BASE);
}

static void put64(uint64_t addr, uint64_t v)
{
	memcpy(at(addr), &v, 8);
}

static uint64_t protect(uint64_t pos, uint64_t p)
{
	return (pos >> 12) ^ p;
}

static void build(void)
{
	memset(libc_mem, 0, sizeof libc_mem);
	memset(heap_mem, 0, sizeof heap_mem);
	small_heap_reads = 0;
	gw_layout_for_version(&in.layout, 2, 36);
	in.bitmap_max = no_bitmap ? 1 : 0;
	const struct gw_layout *L = &in.layout;

	/* main_arena: a ring of one, empty bins point at themselves. */
	put64(ARENA + L->ms_next, ARENA);
	put64(ARENA + L->ms_top, C_TOP);
	put64(ARENA + L->ms_system_mem, HEAP_SIZE);
	for (unsigned i = 1; i < GW_NBINS; i++) {
		uint64_t b = ARENA + L->ms_bins + (uint64_t)(i - 1) * 16 - 16;
		put64(b + 16, b);
		put64(b + 24, b);
	}
	/* mp_ */
	put64(MP + L->mp_sbrk_base, HEAP);
	put64(MP + L->mp_tcache_bins, 64);
	put64(MP + L->mp_tcache_count, 7);

	/* chunks */
	put64(C_TCACHE + 8, 0x290 | 1);
	put64(C_USED1 + 8, 0x20 | 1);
	put64(C_FAST + 8, 0x20 | 1);
	put64(C_FAST + 16, protect(C_FAST + 16, 0));
	put64(ARENA + L->ms_fastbins, C_FAST);
	put64(C_USED2 + 8, 0x30 | 1);
	put64(C_UNSORT + 8, 0x100 | 1);
	uint64_t ub = ARENA + L->ms_bins - 16;
	put64(C_UNSORT + 16, ub);
	put64(C_UNSORT + 24, ub);
	put64(ub + 16, C_UNSORT);
	put64(ub + 24, C_UNSORT);
	put64(C_USED3, 0x100); /* prev_size of the free chunk before it */
	put64(C_USED3 + 8, 0x40);
	put64(C_TC + 8, 0x30 | 1);
	put64(C_TC + 16, protect(C_TC + 16, 0));
	put64(C_USED4 + 8, 0x20 | 1);
	put64(C_TOP + 8, (HEAP + HEAP_SIZE - C_TOP) | 1);
	/* the tcache: bin 1 (chunk 0x30) holds C_TC */
	uint16_t one = 1;
	memcpy(at(C_TCACHE + 16 + L->tc_counts + 2), &one, 2);
	put64(C_TCACHE + 16 + L->tc_entries + 8, C_TC + 16);

	in.main_arena = ARENA;
	in.mp = MP;
	tcaches[0] = C_TCACHE + 16;
	in.tcaches = tcaches;
	in.n_tcaches = 1;
	maps[0] = (struct gw_map){HEAP, HEAP + HEAP_SIZE, HW_PERM_R | HW_PERM_W, 1};
	maps[1] = (struct gw_map){LIBC_BASE, LIBC_BASE + LIBC_SIZE, HW_PERM_R | HW_PERM_W, 0};
	in.maps = maps;
	in.n_maps = 2;
	in.read = mem_read;
	in.view = NULL;
}

/* ---- a visitor that keeps everything ---- */

#define MAXREC 4096
static hw_alloc recs[MAXREC];
static size_t nrecs;
static char kinds[MAXREC][32];
static char messages[MAXREC][160];
static size_t nprob;

static int on_alloc(void *ctx, const hw_alloc *a)
{
	(void)ctx;
	if (nrecs < MAXREC)
		recs[nrecs++] = *a;
	return 0;
}

static void on_problem(void *ctx, const hw_problem *p)
{
	(void)ctx;
	ck_assert_ptr_nonnull(p->kind);
	ck_assert_ptr_nonnull(p->message);
	ck_assert_ptr_null(strchr(p->message, '\n'));
	if (nprob < MAXREC) {
		snprintf(kinds[nprob], sizeof kinds[0], "%s", p->kind);
		snprintf(messages[nprob], sizeof messages[0], "%s", p->message);
	}
	nprob++;
}

static const hw_visitor visitor = {on_alloc, on_problem, NULL};
static hw_glibc_summary sum;

static int walk(void)
{
	nrecs = nprob = 0;
	memset(&sum, 0, sizeof sum);
	return gw_walk(&in, &visitor, &sum);
}

static const hw_alloc *rec_at(uint64_t chunk)
{
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].address == chunk + 16)
			return &recs[i];
	return NULL;
}

static int has_problem(const char *kind)
{
	for (size_t i = 0; i < nprob && i < MAXREC; i++)
		if (!strcmp(kinds[i], kind))
			return 1;
	return 0;
}

/* The message of the first problem of that kind, or "". */
static const char *problem_message(const char *kind)
{
	for (size_t i = 0; i < nprob && i < MAXREC; i++)
		if (!strcmp(kinds[i], kind))
			return messages[i];
	return "";
}

static void assert_rec(uint64_t chunk, hw_state state, hw_bin bin, uint64_t usable)
{
	const hw_alloc *a = rec_at(chunk);
	ck_assert_msg(a != NULL, "no record for chunk 0x%llx", (unsigned long long)chunk);
	ck_assert_int_eq(a->state, state);
	ck_assert_int_eq(a->bin, bin);
	ck_assert_uint_eq(a->size, usable);
	ck_assert_uint_eq(a->arena, ARENA);
}

/* ---- the healthy image ---- */

START_TEST(healthy)
{
	build();
	ck_assert_int_eq(walk(), HW_OK);
	for (size_t i = 0; i < nprob; i++)
		fprintf(stderr, "unexpected problem %s\n", kinds[i]);
	ck_assert_uint_eq(nprob, 0);
	ck_assert_uint_eq(nrecs, 9);
	ck_assert_uint_eq(small_heap_reads, 0);
	assert_rec(C_TCACHE, HW_STATE_META, HW_BIN_NONE, 0x288);
	assert_rec(C_USED1, HW_STATE_USED, HW_BIN_NONE, 0x18);
	assert_rec(C_FAST, HW_STATE_FREE, HW_BIN_FASTBIN, 0x18);
	assert_rec(C_USED2, HW_STATE_USED, HW_BIN_NONE, 0x28);
	assert_rec(C_UNSORT, HW_STATE_FREE, HW_BIN_UNSORTED, 0xf8);
	assert_rec(C_USED3, HW_STATE_USED, HW_BIN_NONE, 0x38);
	assert_rec(C_TC, HW_STATE_FREE, HW_BIN_TCACHE, 0x28);
	assert_rec(C_USED4, HW_STATE_USED, HW_BIN_NONE, 0x18);
	assert_rec(C_TOP, HW_STATE_TOP, HW_BIN_NONE, HEAP + HEAP_SIZE - C_TOP - 8);
	/* int_mallinfo by hand: avail = top + fastbin + unsorted */
	uint64_t top = HEAP + HEAP_SIZE - C_TOP;
	ck_assert_uint_eq(sum.mallinfo2.arena, HEAP_SIZE);
	ck_assert_uint_eq(sum.mallinfo2.ordblks, 2);
	ck_assert_uint_eq(sum.mallinfo2.smblks, 1);
	ck_assert_uint_eq(sum.mallinfo2.fsmblks, 0x20);
	ck_assert_uint_eq(sum.mallinfo2.fordblks, top + 0x20 + 0x100);
	ck_assert_uint_eq(sum.mallinfo2.uordblks, HEAP_SIZE - (top + 0x20 + 0x100));
	ck_assert_uint_eq(sum.mallinfo2.keepcost, top);
	ck_assert_uint_eq(sum.used.count, 4);
	ck_assert_uint_eq(sum.used.bytes, 0x20 + 0x30 + 0x40 + 0x20);
	ck_assert_uint_eq(sum.free.count, 3);
	ck_assert_uint_eq(sum.tcache.count, 1);
	ck_assert_uint_eq(sum.fastbins.count, 1);
	ck_assert_uint_eq(sum.arenas, 1);
}
END_TEST

/* ---- damaged images: never crash, never hang, say what is wrong ---- */

/* An anonymous mapping at the very top of the address space (a corrupt
 * core's): the scans for mmapped chunks and main-heap segments end (their
 * a + PAGE once wrapped round to 0 and went on from there). */
START_TEST(mapping_at_top)
{
	build();
	maps[2] =
	    (struct gw_map){0xffffffffffff0000ull, 0xffffffffffffffffull, HW_PERM_R | HW_PERM_W, 1};
	in.n_maps = 3;
	walk();
	ck_assert_ptr_nonnull(rec_at(C_USED1));
}
END_TEST

START_TEST(fastbin_cycle)
{
	build();
	put64(C_FAST + 16, protect(C_FAST + 16, C_FAST)); /* fd -> itself */
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("free-list-cycle"));
	assert_rec(C_FAST, HW_STATE_FREE, HW_BIN_FASTBIN, 0x18);
	assert_rec(C_USED4, HW_STATE_USED, HW_BIN_NONE, 0x18);
}
END_TEST

START_TEST(bin_cycle)
{
	build();
	put64(C_UNSORT + 16, C_UNSORT); /* never back to the bin header */
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("free-list-cycle"));
	assert_rec(C_UNSORT, HW_STATE_FREE, HW_BIN_UNSORTED, 0xf8);
}
END_TEST

START_TEST(tcache_cycle)
{
	build();
	put64(C_TC + 16, protect(C_TC + 16, C_TC + 16));
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("free-list-cycle"));
	assert_rec(C_TC, HW_STATE_FREE, HW_BIN_TCACHE, 0x28);
}
END_TEST

/* Two cycles: the first chunk met twice makes the walker index what was
 * listed (a hash set); the second must be found through that index too,
 * among the entries listed after it was made.  Each chunk once, each
 * cycle one problem. */
static size_t count_problem(const char *kind)
{
	size_t n = 0;
	for (size_t i = 0; i < nprob && i < MAXREC; i++)
		n += !strcmp(kinds[i], kind);
	return n;
}

START_TEST(two_cycles)
{
	build();
	put64(C_FAST + 16, protect(C_FAST + 16, C_FAST));
	put64(C_UNSORT + 16, C_UNSORT);
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert_uint_eq(count_problem("free-list-cycle"), 2);
	ck_assert_uint_eq(count_problem("double-listed"), 0);
	size_t fast = 0, unsorted = 0;
	for (size_t i = 0; i < nrecs; i++) {
		fast += recs[i].address == C_FAST + 16;
		unsorted += recs[i].address == C_UNSORT + 16;
	}
	ck_assert_uint_eq(fast, 1);
	ck_assert_uint_eq(unsorted, 1);
	assert_rec(C_FAST, HW_STATE_FREE, HW_BIN_FASTBIN, 0x18);
	assert_rec(C_UNSORT, HW_STATE_FREE, HW_BIN_UNSORTED, 0xf8);
	assert_rec(C_TC, HW_STATE_FREE, HW_BIN_TCACHE, 0x28);
	/* int_mallinfo counted each listed chunk once: top + the unsorted
	 * one, the fastbin one */
	ck_assert_uint_eq(sum.mallinfo2.ordblks, 2);
	ck_assert_uint_eq(sum.mallinfo2.smblks, 1);
	ck_assert_uint_eq(sum.mallinfo2.fsmblks, 0x20);
}
END_TEST

START_TEST(poisoned_pointers)
{
	build();
	put64(C_TCACHE + 16 + in.layout.tc_entries + 8, 0x4141414141414141ull);
	put64(C_FAST + 16, 0x4242424242424242ull);
	put64(C_UNSORT + 16, 0x0000000000001000ull);
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("bad-list-pointer"));
	assert_rec(C_USED4, HW_STATE_USED, HW_BIN_NONE, 0x18);
	assert_rec(C_TOP, HW_STATE_TOP, HW_BIN_NONE, HEAP + HEAP_SIZE - C_TOP - 8);
}
END_TEST

START_TEST(double_listed)
{
	build();
	/* the fastbin chunk also on the tcache list */
	put64(C_TCACHE + 16 + in.layout.tc_entries + 0, C_FAST + 16);
	uint16_t one = 1;
	memcpy(at(C_TCACHE + 16 + in.layout.tc_counts), &one, 2);
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("double-listed") || has_problem("bad-size"));
}
END_TEST

/* The fastbins and the small bins are first followed side by side (walk.c,
 * quick_lists), which gives up at anything unusual and leaves the lists to
 * be walked one by one: a bk that does not point back, met after the
 * fastbin chunk was listed, is still reported (the one problem), and both
 * chunks are listed once, in their own bins. */
START_TEST(bin_link_after_fastbin)
{
	build();
	put64(C_UNSORT + 24, C_USED1); /* bk: not the bin header */
	ck_assert_int_eq(walk(), HW_OK);
	for (size_t i = 0; i < nprob; i++)
		fprintf(stderr, "problem %s\n", kinds[i]);
	ck_assert_uint_eq(nprob, 1);
	ck_assert(has_problem("bin-link"));
	assert_rec(C_FAST, HW_STATE_FREE, HW_BIN_FASTBIN, 0x18);
	assert_rec(C_UNSORT, HW_STATE_FREE, HW_BIN_UNSORTED, 0xf8);
	ck_assert_uint_eq(sum.mallinfo2.smblks, 1);
	ck_assert_uint_eq(sum.mallinfo2.ordblks, 2);
}
END_TEST

/* A fastbin chain that goes on into the middle of the unsorted chunk (a
 * fake 0x20 chunk there): glibc counts it, and the linear walk never meets
 * it (it reads the listed-chunk bitmap in address order, clearing what it
 * meets; what is left is reported, in address order, with its list). */
START_TEST(listed_not_in_heap)
{
	build();
	uint64_t fake = C_UNSORT + 0x40;
	put64(fake + 8, 0x21);
	put64(fake + 16, protect(fake + 16, 0));
	put64(C_FAST + 16, protect(C_FAST + 16, fake));
	ck_assert_int_eq(walk(), HW_OK);
	for (size_t i = 0; i < nprob; i++)
		fprintf(stderr, "problem %s\n", kinds[i]);
	ck_assert_uint_eq(nprob, 1);
	ck_assert(has_problem("listed-not-in-heap"));
	ck_assert_uint_eq(sum.mallinfo2.smblks, 2);
	assert_rec(C_FAST, HW_STATE_FREE, HW_BIN_FASTBIN, 0x18);
	assert_rec(C_UNSORT, HW_STATE_FREE, HW_BIN_UNSORTED, 0xf8);
	ck_assert(rec_at(fake) == NULL);
}
END_TEST

/* The same with the fake chunk (0x30) alone in fastbin 1: the message
 * names its list.  With a view of the heap, the fastbins are listed side
 * by side with the bins (walk.c, quick_lists), a fastbin's chunk by its
 * bit in the listed-chunk bitmap and no entry, which quick_refill makes
 * for the message; without one, the fake chunk was not captured and the
 * lists are walked one by one (quick_lists takes back what it listed). */
START_TEST(listed_not_in_heap_list)
{
	for (int view = 0; view < 2; view++) {
		build();
		in.view = view ? mem_view : NULL;
		uint64_t fake = C_UNSORT + 0x40;
		put64(fake + 8, 0x31);
		put64(fake + 16, protect(fake + 16, 0));
		put64(ARENA + in.layout.ms_fastbins + 8, fake);
		ck_assert_int_eq(walk(), HW_OK);
		ck_assert_uint_eq(nprob, 1);
		ck_assert(has_problem("listed-not-in-heap"));
		ck_assert_ptr_nonnull(
		    strstr(problem_message("listed-not-in-heap"), "on fastbin list 1 "));
		ck_assert_uint_eq(sum.mallinfo2.smblks, 2);
		ck_assert_uint_eq(sum.mallinfo2.fsmblks, 0x20 + 0x30);
		assert_rec(C_FAST, HW_STATE_FREE, HW_BIN_FASTBIN, 0x18);
		assert_rec(C_UNSORT, HW_STATE_FREE, HW_BIN_UNSORTED, 0xf8);
		ck_assert_ptr_null(rec_at(fake));
	}
}
END_TEST

/* A large bin whose chain runs into the fastbin chunk: the fastbins and
 * small bins were listed first (quick_lists, the fastbin chunk by its bit
 * alone), and the large bin's walk meets that bit again.  The chunk must
 * be reported on both lists, and stay a fastbin chunk, counted once: the
 * set made at the first chunk met twice has the fastbin's entries too
 * (quick_refill).  The large chunk is carved from top, with a used chunk
 * after it whose PREV_INUSE is clear. */
START_TEST(fastbin_on_large_bin)
{
	build();
	const struct gw_layout *L = &in.layout;
	uint64_t large = C_TOP, after = C_TOP + 0x400, top = after + 0x20;
	uint64_t lb = ARENA + L->ms_bins + 63 * 16 - 16; /* bin_at(64): 0x400 .. 0x43f */
	put64(large + 8, 0x400 | 1);
	put64(large + 16, C_FAST);
	put64(large + 24, lb);
	put64(after, 0x400);
	put64(after + 8, 0x20);
	put64(top + 8, (HEAP + HEAP_SIZE - top) | 1);
	put64(ARENA + L->ms_top, top);
	put64(lb + 16, large);
	put64(lb + 24, C_FAST);
	put64(C_FAST + 24, large); /* its bk points back: only the bin is wrong */
	ck_assert_int_eq(walk(), HW_OK);
	for (size_t i = 0; i < nprob; i++)
		fprintf(stderr, "problem %s: %s\n", kinds[i], messages[i]);
	ck_assert_uint_eq(count_problem("double-listed"), 1);
	const char *m = problem_message("double-listed");
	ck_assert_ptr_nonnull(strstr(m, "on fastbin list 0 "));
	ck_assert_ptr_nonnull(strstr(m, "on large list 64"));
	ck_assert_uint_eq(count_problem("listed-not-in-heap"), 0);
	ck_assert_uint_eq(count_problem("inuse-mismatch"), 0);
	assert_rec(C_FAST, HW_STATE_FREE, HW_BIN_FASTBIN, 0x18);
	assert_rec(large, HW_STATE_FREE, HW_BIN_LARGE, 0x3f8);
	assert_rec(after, HW_STATE_USED, HW_BIN_NONE, 0x18);
	assert_rec(C_UNSORT, HW_STATE_FREE, HW_BIN_UNSORTED, 0xf8);
	ck_assert_uint_eq(sum.fastbins.count, 1);
	ck_assert_uint_eq(sum.free.count, 4);
	/* int_mallinfo: the fastbin chunk once, the large one binned */
	ck_assert_uint_eq(sum.mallinfo2.smblks, 1);
	ck_assert_uint_eq(sum.mallinfo2.fsmblks, 0x20);
	ck_assert_uint_eq(sum.mallinfo2.ordblks, 3);
	ck_assert_uint_eq(sum.mallinfo2.fordblks, (HEAP + HEAP_SIZE - top) + 0x20 + 0x100 + 0x400);
}
END_TEST

/* The 0x100 chunk in its small bin (16) instead of the unsorted bin: the
 * linear walk gives each listed chunk the kind of list it was found on
 * (bit planes beside the listed-chunk bitmap). */
START_TEST(small_bin)
{
	build();
	uint64_t ub = ARENA + in.layout.ms_bins - 16; /* bin_at(1) */
	uint64_t sb = ub + 15 * 16;                   /* bin_at(16) */
	put64(ub + 16, ub);
	put64(ub + 24, ub);
	put64(sb + 16, C_UNSORT);
	put64(sb + 24, C_UNSORT);
	put64(C_UNSORT + 16, sb);
	put64(C_UNSORT + 24, sb);
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert_uint_eq(nprob, 0);
	assert_rec(C_UNSORT, HW_STATE_FREE, HW_BIN_SMALL, 0xf8);
	assert_rec(C_FAST, HW_STATE_FREE, HW_BIN_FASTBIN, 0x18);
	assert_rec(C_TC, HW_STATE_FREE, HW_BIN_TCACHE, 0x28);
	ck_assert_uint_eq(sum.mallinfo2.ordblks, 2);
}
END_TEST

START_TEST(bad_size_resync)
{
	build();
	put64(C_USED2 + 8, 0xdeadbeefcafe0ull); /* way past the heap */
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("bad-size"));
	/* the walk found its feet again after the damaged chunk */
	assert_rec(C_USED4, HW_STATE_USED, HW_BIN_NONE, 0x18);
	assert_rec(C_TOP, HW_STATE_TOP, HW_BIN_NONE, HEAP + HEAP_SIZE - C_TOP - 8);
	ck_assert_ptr_null(rec_at(C_USED2));
}
END_TEST

START_TEST(zero_size)
{
	build();
	put64(C_USED1 + 8, 0);
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("bad-size"));
	assert_rec(C_TOP, HW_STATE_TOP, HW_BIN_NONE, HEAP + HEAP_SIZE - C_TOP - 8);
}
END_TEST

START_TEST(inuse_mismatch)
{
	build();
	put64(C_USED3 + 8, 0x40 | 1); /* says the unsorted chunk before is in use */
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("inuse-mismatch"));
}
END_TEST

START_TEST(free_not_listed)
{
	build();
	put64(C_FAST + 8, 0x20); /* C_USED1 now looks free (P clear)... */
	put64(C_FAST, 0x20);
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("free-not-listed")); /* ...but is on no list */
	assert_rec(C_USED1, HW_STATE_FREE, HW_BIN_NONE, 0x18);
}
END_TEST

START_TEST(tcache_count)
{
	build();
	uint16_t five = 5;
	memcpy(at(C_TCACHE + 16 + in.layout.tc_counts + 2), &five, 2);
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("tcache-count"));
}
END_TEST

START_TEST(arena_ring_open)
{
	build();
	put64(ARENA + in.layout.ms_next, 0xdead0000ull); /* not readable */
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert(has_problem("bad-arena"));
	ck_assert_uint_eq(sum.arenas, 1);
	assert_rec(C_USED4, HW_STATE_USED, HW_BIN_NONE, 0x18);
}
END_TEST

START_TEST(top_unreadable)
{
	build();
	put64(ARENA + in.layout.ms_top, 0x100000ull);
	ck_assert_int_eq(walk(), HW_OK);
	ck_assert_uint_gt(nprob, 0);
}
END_TEST

START_TEST(main_arena_unreadable)
{
	build();
	in.main_arena = 0x1000;
	ck_assert_int_eq(walk(), HW_EFAULT);
}
END_TEST

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random damage: random words dropped over the image (heap, arena, mp_),
 * some of them pointers back into the heap.  The walk must end. */
START_TEST(random_damage)
{
	for (int round = 0; round < 300; round++) {
		build();
		int n = 1 + (int)(next_rand() % 40);
		for (int i = 0; i < n; i++) {
			uint64_t r = next_rand(), v = next_rand();
			uint64_t addr;
			switch (r % 4) {
			case 0:
				addr = HEAP + (r >> 8) % (0x500 / 8) * 8;
				break;
			case 1:
				addr = ARENA + (r >> 8) % (2200 / 8) * 8;
				break;
			case 2:
				addr = MP + (r >> 8) % (136 / 8) * 8;
				break;
			default:
				addr = HEAP + (r >> 8) % (0x500 / 8) * 8;
				v = HEAP + (v % 0x600) / 16 * 16;
				break;
			}
			put64(addr, v);
		}
		int rc = walk();
		ck_assert(rc == HW_OK || rc == HW_EFAULT);
	}
}
END_TEST

/* Pure noise in the heap. */
START_TEST(random_heap)
{
	for (int round = 0; round < 50; round++) {
		build();
		for (uint64_t o = 0; o < HEAP_SIZE; o += 8) {
			uint64_t v = next_rand();
			memcpy(heap_mem + o, &v, 8);
		}
		ck_assert_int_eq(walk(), HW_OK);
		ck_assert_uint_gt(nprob, 0);
	}
}
END_TEST

static int stop_first(void *ctx, const hw_alloc *a)
{
	(void)ctx;
	(void)a;
	return 1;
}

START_TEST(stop_on_request)
{
	build();
	hw_visitor v = {stop_first, NULL, NULL};
	memset(&sum, 0, sizeof sum);
	ck_assert_int_eq(gw_walk(&in, &v, &sum), HW_EINTR);
}
END_TEST

START_TEST(layouts)
{
	struct gw_layout l;
	ck_assert_int_eq(gw_layout_for_version(&l, 2, 25), HW_EUNSUPPORTED);
	ck_assert_int_eq(gw_layout_for_version(&l, 2, 26), HW_OK);
	ck_assert_uint_eq(l.ms_next, 2152);
	ck_assert_int_eq(gw_layout_for_version(&l, 2, 31), HW_OK);
	ck_assert_uint_eq(l.tc_count_width, 2);
	ck_assert_int_eq(l.safe_linking, 0);
	ck_assert_int_eq(gw_layout_for_version(&l, 2, 36), HW_OK);
	/* gdb ptype/o on Debian 12's libc6-dbg (2.36) */
	ck_assert_uint_eq(l.mp_n_mmaps, 60);
	ck_assert_uint_eq(l.mp_mmapped_mem, 80);
	ck_assert_uint_eq(l.mp_sbrk_base, 96);
	ck_assert_uint_eq(l.hi_sizeof, 48);
	ck_assert_uint_eq(l.ms_size, 2200);
	/* gdb ptype/o on Ubuntu 25.10's libc6-dbg (2.42-0ubuntu3) */
	ck_assert_int_eq(gw_layout_for_version(&l, 2, 42), HW_OK);
	ck_assert_uint_eq(l.n_fastbins, GW_NFASTBINS);
	ck_assert_uint_eq(l.ms_fastbins, 16);
	ck_assert_uint_eq(l.ms_size, 2200);
	ck_assert_uint_eq(l.mp_tcache_bins, 104); /* tcache_small_bins */
	ck_assert_uint_eq(l.mp_tcache_count, 120);
	ck_assert_uint_eq(l.mp_size, 136);
	ck_assert_uint_eq(l.tc_entries, 152);
	ck_assert_uint_eq(l.tc_size, 760);
	ck_assert_int_eq(l.tc_slots, 1);
	ck_assert_int_eq(l.mmap_243, 0);
	/* gdb ptype/o on Debian forky's libc6-dbg (2.43) */
	ck_assert_int_eq(gw_layout_for_version(&l, 2, 43), HW_OK);
	ck_assert_uint_eq(l.n_fastbins, 0);
	ck_assert_uint_eq(l.ms_top, 8);
	ck_assert_uint_eq(l.ms_next, 2072);
	ck_assert_uint_eq(l.ms_size, 2112);
	ck_assert_uint_eq(l.mp_n_mmaps, 68);
	ck_assert_uint_eq(l.mp_sbrk_base, 104);
	ck_assert_uint_eq(l.mp_size, 144);
	ck_assert_uint_eq(l.tc_entries, 152);
	ck_assert_uint_eq(l.tc_bins, 76);
	ck_assert_int_eq(l.tc_slots, 1);
	ck_assert_int_eq(l.mmap_243, 1);
	ck_assert_int_eq(gw_layout_for_version(&l, 2, 44), HW_EUNSUPPORTED);
	ck_assert_int_eq(gw_layout_for_version(&l, 3, 0), HW_EUNSUPPORTED);
}
END_TEST

static void set_only(void)
{
	no_bitmap = 1;
}

int main(void)
{
	Suite *s = suite_create("glibc_walk");
	TCase *tc = tcase_create("walk");
	tcase_add_test(tc, healthy);
	tcase_add_test(tc, mapping_at_top);
	tcase_add_test(tc, fastbin_cycle);
	tcase_add_test(tc, bin_cycle);
	tcase_add_test(tc, tcache_cycle);
	tcase_add_test(tc, two_cycles);
	tcase_add_test(tc, poisoned_pointers);
	tcase_add_test(tc, double_listed);
	tcase_add_test(tc, bin_link_after_fastbin);
	tcase_add_test(tc, listed_not_in_heap);
	tcase_add_test(tc, listed_not_in_heap_list);
	tcase_add_test(tc, fastbin_on_large_bin);
	tcase_add_test(tc, small_bin);
	tcase_add_test(tc, bad_size_resync);
	tcase_add_test(tc, zero_size);
	tcase_add_test(tc, inuse_mismatch);
	tcase_add_test(tc, free_not_listed);
	tcase_add_test(tc, tcache_count);
	tcase_add_test(tc, arena_ring_open);
	tcase_add_test(tc, top_unreadable);
	tcase_add_test(tc, main_arena_unreadable);
	tcase_add_test(tc, random_damage);
	tcase_add_test(tc, random_heap);
	tcase_add_test(tc, stop_on_request);
	tcase_add_test(tc, layouts);
	suite_add_tcase(s, tc);
	TCase *ts = tcase_create("set");
	tcase_add_checked_fixture(ts, set_only, NULL);
	tcase_add_test(ts, healthy);
	tcase_add_test(ts, fastbin_cycle);
	tcase_add_test(ts, bin_cycle);
	tcase_add_test(ts, tcache_cycle);
	tcase_add_test(ts, two_cycles);
	tcase_add_test(ts, poisoned_pointers);
	tcase_add_test(ts, double_listed);
	tcase_add_test(ts, bin_link_after_fastbin);
	tcase_add_test(ts, listed_not_in_heap);
	tcase_add_test(ts, listed_not_in_heap_list);
	tcase_add_test(ts, fastbin_on_large_bin);
	tcase_add_test(ts, small_bin);
	tcase_add_test(ts, bad_size_resync);
	tcase_add_test(ts, free_not_listed);
	tcase_add_test(ts, tcache_count);
	tcase_add_test(ts, random_damage);
	tcase_add_test(ts, random_heap);
	suite_add_tcase(s, ts);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
