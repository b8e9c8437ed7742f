/*
 * test_snapshot.c: the snapshot model, grouping, diff, view options and the
 * .hsnap format, on snapshots built by hand with known answers.
 *
 * The .hsnap robustness test flips every byte of a small file (and cuts it
 * at every length) and requires a clean HW_ECORRUPT / HW_EUNSUPPORTED with a
 * one-line message each time, never a crash (run under ASan in build-asan).
 */
#include "heapwalk.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/hw-test-snapshot.XXXXXX";

static hw_alloc A(uint64_t addr, uint64_t size, int al, int st, uint64_t arena)
{
	hw_alloc a = {.address = addr,
	              .size = size,
	              .arena = arena,
	              .allocator = (uint8_t)al,
	              .state = (uint8_t)st};
	return a;
}

/* A small snapshot: known groups. */
static hw_snapshot *small(void)
{
	hw_snapshot *s;
	ck_assert_int_eq(hw_snapshot_new(&s), HW_OK);
	ck_assert_int_eq(hw_snapshot_set_target(s, "core", "/x/core", 77, "/bin/app"), HW_OK);
	uint32_t tdict, tlist, t0;
	ck_assert_int_eq(hw_snapshot_add_type(s, "dict", &tdict), HW_OK);
	ck_assert_int_eq(hw_snapshot_add_type(s, "list", &tlist), HW_OK);
	ck_assert_int_eq(hw_snapshot_add_type(s, NULL, &t0), HW_OK);
	ck_assert_uint_eq(t0, 0);
	uint32_t again;
	hw_snapshot_add_type(s, "dict", &again);
	ck_assert_uint_eq(again, tdict);
	hw_frame fa[] = {{"malloc", NULL, 0, "/lib/libc.so.6", 0x1000, 0x1000, HW_FRAME_NATIVE},
	                 {"f", "a.c", 10, "/bin/app", 0x2000, 0x2000, HW_FRAME_NATIVE},
	                 {"main", "a.c", 50, "/bin/app", 0x2100, 0x2100, HW_FRAME_NATIVE}};
	hw_frame fb[] = {{"g", "b.py", 7, NULL, 0, 0, HW_FRAME_PYTHON}};
	uint32_t sa, sb, sa2;
	ck_assert_int_eq(hw_snapshot_add_site(s, fa, 3, &sa), HW_OK);
	ck_assert_int_eq(hw_snapshot_add_site(s, fb, 1, &sb), HW_OK);
	ck_assert_int_eq(hw_snapshot_add_site(s, fa, 3, &sa2), HW_OK);
	ck_assert_uint_eq(sa, sa2);
	ck_assert_uint_ne(sa, sb);
	/* out of order on purpose */
	hw_alloc a;
	a = A(0x3000, 100, HW_ALLOCATOR_GLIBC, HW_STATE_USED, 0x7000);
	ck_assert_int_eq(hw_snapshot_add_alloc(s, &a, tdict, sa), HW_OK);
	a = A(0x1000, 24, HW_ALLOCATOR_GLIBC, HW_STATE_USED, 0x7000);
	ck_assert_int_eq(hw_snapshot_add_alloc_requested(s, &a, tdict, sa, 20), HW_OK);
	a = A(0x2000, 32, HW_ALLOCATOR_PYMALLOC, HW_STATE_USED, 0);
	ck_assert_int_eq(hw_snapshot_add_alloc(s, &a, tlist, sb), HW_OK);
	a = A(0x4000, 200000, HW_ALLOCATOR_GLIBC_MMAP, HW_STATE_USED, 0);
	ck_assert_int_eq(hw_snapshot_add_alloc(s, &a, 0, 0), HW_OK);
	a = A(0x5000, 48, HW_ALLOCATOR_GLIBC, HW_STATE_FREE, 0x8000);
	a.bin = HW_BIN_TCACHE;
	ck_assert_int_eq(hw_snapshot_add_alloc(s, &a, 0, 0), HW_OK);
	hw_problem p = {"bad-size", 0x5000, "size field 0x7"};
	ck_assert_int_eq(hw_snapshot_add_problem(s, &p), HW_OK);
	hw_glibc_summary g = {.version = "2.36", .symbols = "symtab", .arenas = 2};
	g.mallinfo2.keepcost = 4242;
	ck_assert_int_eq(hw_snapshot_set_glibc_summary(s, &g), HW_OK);
	hw_tracer_summary tr = {.mode = "sampled",
	                        .sample_bytes = 512 * 1024,
	                        .live_allocations = 3,
	                        .sites = 2,
	                        .dropped = 5,
	                        .python_version = 0x030b07f0};
	ck_assert_int_eq(hw_snapshot_set_tracer_summary(s, &tr), HW_OK);
	ck_assert_int_eq(hw_snapshot_finish(s), HW_OK);
	return s;
}

static const hw_group *find_group(hw_grouping *g, const char *key)
{
	for (size_t i = 0; i < hw_grouping_count(g); i++)
		if (!strcmp(hw_grouping_get(g, i)->key, key))
			return hw_grouping_get(g, i);
	return NULL;
}

START_TEST(test_model)
{
	hw_snapshot *s = small();
	ck_assert_uint_eq(hw_snapshot_count(s), 5);
	hw_alloc a;
	uint32_t type, site;
	uint64_t prev = 0;
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(hw_snapshot_get_alloc(s, i, &a, &type, &site), HW_OK);
		ck_assert_uint_gt(a.address, prev);
		prev = a.address;
	}
	/* the request known for one allocation only; sorting kept it with it */
	ck_assert_uint_eq(hw_snapshot_requested(s, 0), 20);
	ck_assert_uint_eq(hw_snapshot_requested(s, 1), HW_REQUESTED_UNKNOWN);
	ck_assert_int_eq(hw_snapshot_get_alloc(s, 4, &a, NULL, NULL), HW_OK);
	ck_assert_uint_eq(a.address, 0x5000);
	ck_assert_uint_eq(a.state, HW_STATE_FREE);
	ck_assert_uint_eq(a.bin, HW_BIN_TCACHE);
	ck_assert_uint_eq(a.arena, 0x8000);
	ck_assert_int_ne(hw_snapshot_get_alloc(s, 5, &a, NULL, NULL), HW_OK);
	ck_assert_int_eq(hw_snapshot_find(s, 0x3000 + 99), 2);
	ck_assert_int_eq(hw_snapshot_find(s, 0x3000 + 100), -1);
	ck_assert_int_eq(hw_snapshot_find(s, 0xfff), -1);
	ck_assert_str_eq(hw_snapshot_type_name(s, 1), "dict");
	ck_assert_ptr_null(hw_snapshot_type_name(s, 0));
	hw_frame fr[8];
	size_t n = 8;
	ck_assert_int_eq(hw_snapshot_site_frames(s, 1, fr, &n), HW_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(fr[1].function, "f");
	ck_assert_int_eq(fr[1].line, 10);
	uint64_t dropped;
	ck_assert_uint_eq(hw_snapshot_problem_count(s, &dropped), 1);
	/* 27 bytes per allocation in columns */
	ck_assert_uint_lt(hw_snapshot_memory(s), 200000);
	hw_snapshot_free(s);
}
END_TEST

/* finish sorts by address, stably, carrying every column: interleaved
 * address-ordered runs (what walkers emit: merged), a few duplicates, and a
 * random order (too many runs: radix sort), checked against the insertion
 * record of each allocation. */
static void check_sorted(size_t n, int mode)
{
	hw_snapshot *s;
	ck_assert_int_eq(hw_snapshot_new(&s), HW_OK);
	unsigned seed = 7 + (unsigned)mode;
	for (size_t i = 0; i < n; i++) {
		uint64_t addr;
		if (mode == 0) /* 7 runs, one after the other, interleaved in address space */
			addr = 0x10000 + ((i / (n / 7)) * 0x100 + (i % (n / 7)) * 0x1000) * 16;
		else if (mode == 1) /* runs with equal addresses across them */
			addr = 0x10000 + (i % (n / 3 + 1)) * 16;
		else {
			seed = seed * 1103515245u + 12345u;
			addr = 0x10000 + (uint64_t)(seed >> 4) * 16;
		}
		hw_alloc a = {.address = addr, .size = i, .allocator = HW_ALLOCATOR_GLIBC};
		ck_assert_int_eq(hw_snapshot_add_alloc(s, &a, 0, 0), HW_OK);
	}
	ck_assert_int_eq(hw_snapshot_finish(s), HW_OK);
	hw_alloc prev = {0}, a;
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(hw_snapshot_get_alloc(s, i, &a, NULL, NULL), HW_OK);
		if (i) {
			ck_assert_uint_ge(a.address, prev.address);
			if (a.address == prev.address) /* stable: insertion order */
				ck_assert_uint_gt(a.size, prev.size);
		}
		/* the size column (insertion index) moved with its address */
		if (mode == 0)
			ck_assert_uint_eq(a.address, 0x10000 + ((a.size / (n / 7)) * 0x100 +
			                                        (a.size % (n / 7)) * 0x1000) *
			                                           16);
		prev = a;
	}
	hw_snapshot_free(s);
}

/* Runs whose address blocks interleave 1000 at a time (a heap and a pool
 * arena per run, as walkers emit them): sorted by moving whole stretches.
 * Every column moves with its address: size (insertion index), arena,
 * state, bin and the requested size. */
/* Sizes of 2^31 and more live outside the size column: every 997th. */
#define BIGSIZE(i) ((i) % 997 ? (i) + 100 : ((uint64_t)1 << 31) + (i) * ((uint64_t)1 << 20))

static void check_sorted_stretches(size_t n)
{
	const size_t runs = 7, per = n / runs, blk = 1000;
	hw_snapshot *s;
	ck_assert_int_eq(hw_snapshot_new(&s), HW_OK);
	for (size_t i = 0; i < runs * per; i++) {
		size_t r = i / per, j = i % per;
		uint64_t q = ((j / blk) * runs + r) * blk + j % blk;
		hw_alloc a = {.address = 0x10000 + q * 16,
		              .size = BIGSIZE(i),
		              .arena = 0x1000 * (r + 1),
		              .allocator = HW_ALLOCATOR_GLIBC,
		              .state = (uint8_t)(i % 3),
		              .bin = (uint8_t)(i % 5)};
		ck_assert_int_eq(hw_snapshot_add_alloc_requested(s, &a, 0, 0,
		                                                 i % 4 ? HW_REQUESTED_UNKNOWN
		                                                       : BIGSIZE(i) - i % 7),
		                 HW_OK);
	}
	ck_assert_int_eq(hw_snapshot_finish(s), HW_OK);
	ck_assert_uint_eq(hw_snapshot_count(s), runs * per);
	for (size_t k = 0; k < runs * per; k++) {
		hw_alloc a;
		ck_assert_int_eq(hw_snapshot_get_alloc(s, k, &a, NULL, NULL), HW_OK);
		uint64_t q = (a.address - 0x10000) / 16, t = q / blk;
		ck_assert_uint_eq(q, k); /* every address once, in order */
		size_t r = t % runs, j = (t / runs) * blk + q % blk, i = r * per + j;
		ck_assert_uint_eq(a.size, BIGSIZE(i));
		ck_assert_uint_eq(a.arena, 0x1000 * (r + 1));
		ck_assert_uint_eq(a.state, i % 3);
		ck_assert_uint_eq(a.bin, i % 5);
		ck_assert_uint_eq(hw_snapshot_requested(s, k),
		                  i % 4 ? HW_REQUESTED_UNKNOWN : BIGSIZE(i) - i % 7);
	}
	hw_snapshot_free(s);
}

/* What take gives for a CPython core: a run already in place (glibc's
 * heap), a small run (glibc's mmapped chunks) whose records fall among
 * those of the last, big run (pymalloc's arenas in address order): the
 * big run moves within its columns, the small one through a buffer.  Each
 * record's size and arena say which it is, and must stay with it. */
static void check_sorted_last_run(size_t a, size_t b, size_t l)
{
	const uint64_t base = 0x10000, high = 0x7f0000000000;
	hw_snapshot *s;
	ck_assert_int_eq(hw_snapshot_new(&s), HW_OK);
	uint64_t q = 0;
	for (size_t i = 0; i < a + b + l; i++) {
		uint64_t addr, arena;
		if (i < a) {
			addr = base + i * 16, arena = 0x1000;
		} else if (i < a + b) {
			addr = high + ((i - a) * 50 + 25) * 16, arena = 0x2000;
		} else {
			while (q % 50 == 25 && q < b * 50)
				q++;
			addr = high + q++ * 16, arena = 0x3000;
		}
		hw_alloc al = {.address = addr,
		               .size = addr * 3 + 1,
		               .arena = arena,
		               .allocator = HW_ALLOCATOR_GLIBC,
		               .state = (uint8_t)((addr >> 4) % 3)};
		ck_assert_int_eq(
		    hw_snapshot_add_alloc_requested(
		        s, &al, 0, 0, (addr >> 4) % 3 ? HW_REQUESTED_UNKNOWN : al.size - 5),
		    HW_OK);
	}
	ck_assert_int_eq(hw_snapshot_finish(s), HW_OK);
	ck_assert_uint_eq(hw_snapshot_count(s), a + b + l);
	uint64_t prev = 0;
	for (size_t k = 0; k < a + b + l; k++) {
		hw_alloc al;
		ck_assert_int_eq(hw_snapshot_get_alloc(s, k, &al, NULL, NULL), HW_OK);
		/* in order, each address once, every one of them (the count) */
		ck_assert_uint_gt(al.address, prev);
		prev = al.address;
		if (k < a)
			ck_assert_uint_eq(al.address, base + k * 16);
		else
			ck_assert(al.address >= high && al.address < high + q * 16 + b * 50 * 16);
		ck_assert_uint_eq(al.size, al.address * 3 + 1);
		uint64_t qq = (al.address - high) / 16;
		ck_assert_uint_eq(al.arena, k < a                          ? 0x1000
		                            : qq % 50 == 25 && qq < b * 50 ? 0x2000
		                                                           : 0x3000);
		ck_assert_uint_eq(al.state, (al.address >> 4) % 3);
		ck_assert_uint_eq(hw_snapshot_requested(s, k),
		                  (al.address >> 4) % 3 ? HW_REQUESTED_UNKNOWN : al.size - 5);
	}
	hw_snapshot_free(s);
}

START_TEST(test_sort)
{
	check_sorted_last_run(20000, 1000, 60000);
	check_sorted_last_run(0, 3000, 20000);
	check_sorted_last_run(5, 1, 10);
	check_sorted_stretches(70000);
	check_sorted(70000, 0);
	check_sorted(30000, 1);
	check_sorted(50000, 2);
	check_sorted(1, 2);
}
END_TEST

/* The groups by function of a snapshot of two used allocations, one at a
 * site of these frames, one without a site. */
static hw_grouping *by_function(const hw_frame *fr, size_t n, hw_snapshot **sp)
{
	hw_snapshot *s;
	ck_assert_int_eq(hw_snapshot_new(&s), HW_OK);
	uint32_t st;
	ck_assert_int_eq(hw_snapshot_add_site(s, fr, n, &st), HW_OK);
	hw_alloc a = A(0x1000, 64, HW_ALLOCATOR_GLIBC, HW_STATE_USED, 0x7000);
	ck_assert_int_eq(hw_snapshot_add_alloc(s, &a, 0, st), HW_OK);
	a = A(0x2000, 32, HW_ALLOCATOR_GLIBC, HW_STATE_USED, 0x7000);
	ck_assert_int_eq(hw_snapshot_add_alloc(s, &a, 0, 0), HW_OK);
	ck_assert_int_eq(hw_snapshot_finish(s), HW_OK);
	hw_view_options o;
	hw_view_options_init(&o);
	o.group_by = HW_GROUP_FUNCTION;
	hw_grouping *g;
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	*sp = s;
	return g;
}

/* A native frame without a symbol is grouped by function at its place,
 * module+offset (as lineno shows it), not as "?", which means no site. */
START_TEST(test_function_without_symbol)
{
	hw_frame fr[] = {{NULL, NULL, 0, "/usr/bin/sort", 0x55aa9ea5, 0x9ea5, HW_FRAME_NATIVE}};
	hw_snapshot *s;
	hw_grouping *g = by_function(fr, 1, &s);
	ck_assert_ptr_nonnull(find_group(g, "sort+0x9ea5"));
	ck_assert_uint_eq(find_group(g, "sort+0x9ea5")->count, 1);
	ck_assert_uint_eq(find_group(g, "?")->count, 1); /* the one without a site */
	hw_grouping_free(g);
	hw_snapshot_free(s);
}
END_TEST

/* perl's allocation wrapper is the interpreter's, like CPython's: its
 * caller is the innermost frame */
START_TEST(test_perl_wrapper)
{
	hw_frame fr[] = {
	    {"malloc", NULL, 0, "/lib/libc.so.6", 0x1000, 0x1000, HW_FRAME_NATIVE},
	    {"Perl_safesysmalloc", "util.c", 120, "/usr/lib/libperl.so", 0x2000, 0x2000,
	     HW_FRAME_NATIVE},
	    {"Perl_newSV", "sv.c", 700, "/usr/lib/libperl.so", 0x3000, 0x3000, HW_FRAME_NATIVE}};
	hw_snapshot *s;
	hw_grouping *g = by_function(fr, 3, &s);
	ck_assert_ptr_nonnull(find_group(g, "Perl_newSV"));
	ck_assert_uint_eq(find_group(g, "Perl_newSV")->count, 1);
	hw_grouping_free(g);
	hw_snapshot_free(s);
}
END_TEST

START_TEST(test_group_keys)
{
	hw_snapshot *s = small();
	hw_view_options o;
	hw_view_options_init(&o);
	hw_grouping *g;

	o.group_by = HW_GROUP_TYPE;
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	hw_count t = hw_grouping_total(g);
	ck_assert_uint_eq(t.count, 4); /* used only */
	ck_assert_uint_eq(t.bytes, 100 + 24 + 32 + 200000);
	ck_assert_uint_eq(hw_grouping_count(g), 3);
	ck_assert_str_eq(hw_grouping_get(g, 0)->key, "?");
	ck_assert_str_eq(hw_grouping_get(g, 1)->key, "dict");
	ck_assert_uint_eq(hw_grouping_get(g, 1)->count, 2);
	ck_assert_uint_eq(hw_grouping_get(g, 1)->bytes, 124);
	hw_grouping_free(g);

	/* The tracer sampled (one in 512 KiB): by a site key each recorded
	 * allocation stands for 1 / (1 - exp(-r / 512 KiB)) of its kind, r
	 * its request (20 for the 24-byte one), else its usable size; the
	 * total stays the walk's; "?" would be the rest (here none: 4
	 * allocations walked, far fewer than estimated). */
	o.group_by = HW_GROUP_FUNCTION; /* malloc is a wrapper: f */
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	ck_assert_uint_eq(hw_grouping_sample_bytes(g), 512 * 1024);
	double w20 = 1 / -expm1(-20.0 / 524288), w100 = 1 / -expm1(-100.0 / 524288),
	       w32 = 1 / -expm1(-32.0 / 524288);
	ck_assert_ptr_nonnull(find_group(g, "f"));
	ck_assert_uint_eq(find_group(g, "f")->count, (uint64_t)llround(w20 + w100));
	ck_assert_uint_eq(find_group(g, "f")->bytes, (uint64_t)llround(24 * w20 + 100 * w100));
	ck_assert_uint_eq(find_group(g, "f")->requested_count, 0); /* 0x3000's not known */
	ck_assert_ptr_nonnull(find_group(g, "g"));
	ck_assert_uint_eq(find_group(g, "g")->count, (uint64_t)llround(w32));
	ck_assert_ptr_null(find_group(g, "?"));
	ck_assert_uint_eq(hw_grouping_total(g).count, 4);
	hw_grouping_free(g);
	/* by type: the walk's own counts, exact */
	o.group_by = HW_GROUP_TYPE;
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	ck_assert_uint_eq(hw_grouping_sample_bytes(g), 0);
	hw_grouping_free(g);

	o.group_by = HW_GROUP_LINENO;
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	ck_assert_ptr_nonnull(find_group(g, "a.c:10"));
	ck_assert_ptr_nonnull(find_group(g, "b.py:7"));
	hw_grouping_free(g);

	o.group_by = HW_GROUP_MODULE;
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	ck_assert_ptr_nonnull(find_group(g, "app"));
	hw_grouping_free(g);

	o.group_by = HW_GROUP_SITE;
	o.frames = 2;
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	ck_assert_ptr_nonnull(find_group(g, "libc.so.6+0x1000 <- a.c:10"));
	hw_grouping_free(g);
	o.frames = 0;

	o.group_by = HW_GROUP_ARENA;
	o.states = 1u << HW_STATE_USED | 1u << HW_STATE_FREE;
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	ck_assert_uint_eq(find_group(g, "0x7000")->count, 2);
	ck_assert_uint_eq(find_group(g, "0x8000")->count, 1);
	ck_assert_uint_eq(find_group(g, "pymalloc")->count, 1);
	ck_assert_uint_eq(find_group(g, "mmap")->count, 1);
	hw_grouping_free(g);

	o.group_by = HW_GROUP_ALLOCATOR;
	o.states = 1u << HW_STATE_FREE;
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	ck_assert_uint_eq(hw_grouping_count(g), 1);
	ck_assert_str_eq(hw_grouping_get(g, 0)->key, "glibc");
	ck_assert_uint_eq(hw_grouping_get(g, 0)->bytes, 48);
	hw_grouping_free(g);

	/* filters: include the Python file only */
	hw_view_options_init(&o);
	o.group_by = HW_GROUP_SIZE;
	o.filters[o.n_filters++] = (hw_filter){"*.py", 1};
	ck_assert_int_eq(hw_snapshot_group(&g, s, &o), HW_OK);
	ck_assert_uint_eq(hw_grouping_count(g), 1);
	ck_assert_str_eq(hw_grouping_get(g, 0)->key, "32");
	hw_grouping_free(g);
	hw_snapshot_free(s);
}
END_TEST

START_TEST(test_diff)
{
	hw_snapshot *a = small(), *b = small();
	hw_alloc x = A(0x9000, 64, HW_ALLOCATOR_GLIBC, HW_STATE_USED, 0x7000);
	uint32_t dict;
	hw_snapshot_add_type(b, "dict", &dict);
	hw_snapshot_add_alloc(b, &x, dict, 0);
	hw_snapshot_add_alloc(b, &x, dict, 0);
	hw_snapshot_finish(b);
	hw_view_options o;
	hw_view_options_init(&o);
	o.group_by = HW_GROUP_TYPE;
	hw_diff *d;
	ck_assert_int_eq(hw_snapshot_diff(&d, a, b, &o), HW_OK);
	const hw_diff_group *g = hw_diff_get(d, 0);
	ck_assert_str_eq(g->key, "dict");
	ck_assert_int_eq(g->count_diff, 2);
	ck_assert_int_eq(g->bytes_diff, 128);
	ck_assert_uint_eq(g->count, 4);
	ck_assert_int_eq(hw_diff_get(d, 1)->bytes_diff, 0);
	hw_diff_free(d);
	/* the other way round: shrink */
	ck_assert_int_eq(hw_snapshot_diff(&d, b, a, &o), HW_OK);
	ck_assert_int_eq(hw_diff_get(d, 0)->bytes_diff, -128);
	hw_diff_free(d);
	/* --max-growth through the renderer */
	FILE *f = fopen("/dev/null", "w");
	int exceeded = -1;
	o.has_max_growth = 1;
	o.max_growth = 127;
	ck_assert_int_eq(hw_render_diff(f, a, b, &o, &exceeded), HW_OK);
	ck_assert_int_eq(exceeded, 1);
	o.max_growth = 128;
	ck_assert_int_eq(hw_render_diff(f, a, b, &o, &exceeded), HW_OK);
	ck_assert_int_eq(exceeded, 0);
	fclose(f);
	hw_snapshot_free(a);
	hw_snapshot_free(b);
}
END_TEST

START_TEST(test_options)
{
	hw_view_options o;
	hw_view_options_init(&o);
	char *argv[] = {"top",      "--group-by", "lineno",       "core",    "--limit=5",
	                "--state",  "all",        "--include",    "app*.py", "--exclude=x",
	                "--frames", "3",          "--max-growth", "10MiB",   "-o",
	                "out",      NULL};
	int argc = 16;
	char *orig[16];
	memcpy(orig, argv, sizeof orig);
	ck_assert_int_eq(hw_view_options_parse(&o, HW_VOPT_TOP, &argc, argv), HW_OK);
	/* argv is a permutation of itself: every string still there once */
	for (int i = 0; i < 16; i++) {
		int seen = 0;
		for (int k = 0; k < 16; k++)
			seen += argv[k] == orig[i];
		ck_assert_int_eq(seen, 1);
	}
	ck_assert_ptr_null(argv[16]);
	ck_assert_int_eq(o.group_by, HW_GROUP_LINENO);
	ck_assert_uint_eq(o.limit, 5);
	ck_assert_uint_eq(o.frames, 3);
	ck_assert_uint_eq(o.n_filters, 2);
	ck_assert_int_eq(o.filters[0].include, 1);
	ck_assert_str_eq(o.filters[1].pattern, "x");
	ck_assert_uint_eq(o.states, 3);
	/* --max-growth is not a top option: left for the caller */
	ck_assert_int_eq(argc, 6);
	ck_assert_str_eq(argv[1], "core");
	ck_assert_str_eq(argv[2], "--max-growth");
	ck_assert_str_eq(argv[4], "-o");
	ck_assert_int_eq(hw_view_options_parse(&o, HW_VOPT_DIFF, &argc, argv), HW_OK);
	ck_assert_uint_eq(o.max_growth, 10 * 1024 * 1024);
	ck_assert_int_eq(argc, 4);

	char *bad[] = {"top", "--group-by", "color", NULL};
	argc = 3;
	ck_assert_int_eq(hw_view_options_parse(&o, HW_VOPT_TOP, &argc, bad), HW_EINVAL);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "--group-by"));
	char *bad2[] = {"top", "--limit", NULL};
	argc = 2;
	ck_assert_int_eq(hw_view_options_parse(&o, HW_VOPT_TOP, &argc, bad2), HW_EINVAL);
}
END_TEST

static void write_file(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
}

static void *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	void *b = malloc(*n);
	ck_assert_uint_eq(fread(b, 1, *n, f), *n);
	fclose(f);
	return b;
}

static char *render(void (*fn)(FILE *, const hw_snapshot *), const hw_snapshot *s)
{
	char *buf;
	size_t n;
	FILE *f = open_memstream(&buf, &n);
	fn(f, s);
	fclose(f);
	return buf;
}

static void all_views(FILE *f, const hw_snapshot *s)
{
	hw_view_options o;
	hw_view_options_init(&o);
	o.limit = 0;
	for (int fmt = 0; fmt < 3; fmt++) {
		o.format = (hw_format)fmt;
		hw_render_summary(f, s, &o);
		for (int k = HW_GROUP_ALLOCATOR; k <= HW_GROUP_ARENA; k++) {
			o.group_by = (hw_group_key)k;
			hw_render_top(f, s, &o);
		}
		hw_render_chunks(f, s, &o);
		uint64_t np;
		hw_render_check(f, s, &o, &np);
		hw_render_show(f, s, NULL, 0x3004, &o);
	}
}

START_TEST(test_hsnap_roundtrip)
{
	hw_snapshot *s = small(), *r;
	char path[256];
	snprintf(path, sizeof path, "%s/a.hsnap", tmpdir);
	ck_assert_int_eq(hw_snapshot_save(s, path), HW_OK);
	ck_assert_int_eq(hw_snapshot_file_is_hsnap(path), 1);
	ck_assert_int_eq(hw_snapshot_load(&r, path), HW_OK);
	ck_assert_uint_eq(hw_snapshot_count(r), hw_snapshot_count(s));
	for (size_t i = 0; i < hw_snapshot_count(s); i++) {
		hw_alloc a, b;
		uint32_t ta, tb, sa, sb;
		hw_snapshot_get_alloc(s, i, &a, &ta, &sa);
		hw_snapshot_get_alloc(r, i, &b, &tb, &sb);
		ck_assert_uint_eq(a.address, b.address);
		ck_assert_uint_eq(a.size, b.size);
		ck_assert_uint_eq(a.arena, b.arena);
		ck_assert_uint_eq(a.allocator, b.allocator);
		ck_assert_uint_eq(a.state, b.state);
		ck_assert_uint_eq(a.bin, b.bin);
		ck_assert_uint_eq(sa != 0, sb != 0);
		ck_assert_uint_eq(hw_snapshot_requested(s, i), hw_snapshot_requested(r, i));
		ck_assert_str_eq(hw_snapshot_type_name(s, ta) ? hw_snapshot_type_name(s, ta) : "-",
		                 hw_snapshot_type_name(r, tb) ? hw_snapshot_type_name(r, tb) : "-");
	}
	ck_assert_uint_eq(hw_snapshot_glibc_summary(r)->mallinfo2.keepcost, 4242);
	ck_assert_str_eq(hw_snapshot_glibc_summary(r)->symbols, "symtab");
	ck_assert_ptr_null(hw_snapshot_pymalloc_summary(r));
	ck_assert_uint_eq(hw_snapshot_tracer_summary(r)->sample_bytes, 512 * 1024);
	ck_assert_str_eq(hw_snapshot_get_target(r)->kind, "snapshot");
	ck_assert_str_eq(hw_snapshot_get_target(r)->source_path, "/x/core");
	ck_assert_int_eq(hw_snapshot_get_target(r)->pid, 77);
	ck_assert_uint_eq(hw_snapshot_tracer_summary(r)->dropped, 5);
	ck_assert_uint_eq(hw_snapshot_tracer_summary(r)->python_version, 0x030b07f0);
	/* saving the loaded one writes the same file, byte for byte (its
	 * source is the core the first was taken of) */
	char path2[256];
	snprintf(path2, sizeof path2, "%s/b.hsnap", tmpdir);
	ck_assert_int_eq(hw_snapshot_save(r, path2), HW_OK);
	size_t n1, n2;
	void *f1 = read_file(path, &n1), *f2 = read_file(path2, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_int_eq(memcmp(f1, f2, n1), 0);
	free(f1);
	free(f2);
	/* and that file, loaded from memory, renders every view as the one
	 * loaded from the first file, but for the file's path */
	f2 = read_file(path2, &n2);
	hw_snapshot *r2;
	ck_assert_int_eq(hw_snapshot_load_buffer(&r2, f2, n2), HW_OK);
	free(f2);
	hw_snapshot_set_target(r, "snapshot", NULL, hw_snapshot_get_target(r)->pid,
	                       hw_snapshot_get_target(r)->executable);
	char *v1 = render(all_views, r), *v2 = render(all_views, r2);
	ck_assert_uint_gt(strlen(v1), 1000);
	ck_assert_str_eq(v1, v2);
	free(v1);
	free(v2);
	hw_snapshot_free(r2);
	hw_snapshot_free(r);
	hw_snapshot_free(s);
}
END_TEST

/* Allocations of 2 GiB and more (the size column keeps them aside):
 * their sizes, find() inside them, after a sort and through .hsnap. */
START_TEST(test_big_sizes)
{
	static const uint64_t sizes[] = {((uint64_t)1 << 31) - 1, (uint64_t)1 << 31,
	                                 (uint64_t)6 << 30, (uint64_t)1 << 40, 48};
	const size_t n = sizeof sizes / sizeof sizes[0];
	hw_snapshot *s, *r;
	ck_assert_int_eq(hw_snapshot_new(&s), HW_OK);
	for (size_t i = 0; i < n; i++) {
		/* descending addresses, far apart: the sort moves them */
		hw_alloc a = A(((uint64_t)0x7000 - 0x1000 * i) << 32, sizes[i],
		               HW_ALLOCATOR_GLIBC_MMAP, HW_STATE_USED, 0);
		ck_assert_int_eq(hw_snapshot_add_alloc_requested(s, &a, 0, 0, sizes[i] - 5), HW_OK);
	}
	ck_assert_int_eq(hw_snapshot_finish(s), HW_OK);
	char path[256];
	snprintf(path, sizeof path, "%s/big.hsnap", tmpdir);
	ck_assert_int_eq(hw_snapshot_save(s, path), HW_OK);
	ck_assert_int_eq(hw_snapshot_load(&r, path), HW_OK);
	hw_snapshot *both[] = {s, r};
	for (size_t k = 0; k < 2; k++) {
		ck_assert_uint_eq(hw_snapshot_count(both[k]), n);
		for (size_t i = 0; i < n; i++) {
			size_t j = n - 1 - i;
			hw_alloc a;
			ck_assert_int_eq(hw_snapshot_get_alloc(both[k], j, &a, NULL, NULL), HW_OK);
			ck_assert_uint_eq(a.address, ((uint64_t)0x7000 - 0x1000 * i) << 32);
			ck_assert_uint_eq(a.size, sizes[i]);
			ck_assert_uint_eq(hw_snapshot_requested(both[k], j), sizes[i] - 5);
			ck_assert_int_eq(hw_snapshot_find(both[k], a.address + sizes[i] - 1),
			                 (ssize_t)j);
			ck_assert_int_eq(hw_snapshot_find(both[k], a.address + sizes[i]), -1);
		}
	}
	hw_snapshot_free(r);
	hw_snapshot_free(s);
}
END_TEST

START_TEST(test_hsnap_every_byte)
{
	hw_snapshot *s = small(), *r;
	char path[256];
	snprintf(path, sizeof path, "%s/c.hsnap", tmpdir);
	ck_assert_int_eq(hw_snapshot_save(s, path), HW_OK);
	hw_snapshot_free(s);
	size_t n;
	uint8_t *buf = read_file(path, &n);
	ck_assert_uint_gt(n, 40);
	ck_assert_int_eq(hw_snapshot_load_buffer(&r, buf, n), HW_OK);
	hw_snapshot_free(r);
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			buf[i] ^= (uint8_t)(1u << bit);
			int rc = hw_snapshot_load_buffer(&r, buf, n);
			ck_assert_msg(rc == HW_ECORRUPT || rc == HW_EUNSUPPORTED,
			              "byte %zu bit %d: rc %d", i, bit, rc);
			ck_assert_ptr_null(r);
			const char *m = hw_error_last();
			ck_assert_msg(*m && !strchr(m, '\n'), "byte %zu: message '%s'", i, m);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (size_t len = 0; len < n; len++) {
		int rc = hw_snapshot_load_buffer(&r, buf, len);
		ck_assert_msg(rc == HW_ECORRUPT || rc == HW_EUNSUPPORTED, "length %zu: rc %d", len,
		              rc);
	}
	/* through the file API too */
	buf[n / 2] ^= 0x40;
	write_file(path, buf, n);
	ck_assert_int_eq(hw_snapshot_load(&r, path), HW_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "checksum"));
	write_file(path, buf, n / 2);
	ck_assert_int_eq(hw_snapshot_load(&r, path), HW_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "truncated"));
	write_file(path, "not a snapshot at all", 21);
	ck_assert_int_eq(hw_snapshot_file_is_hsnap(path), 0);
	ck_assert_int_eq(hw_snapshot_load(&r, path), HW_EUNSUPPORTED);
	unlink(path);
	free(buf);
}
END_TEST

START_TEST(test_views_text)
{
	hw_snapshot *s = small();
	char *buf;
	size_t n;
	FILE *f = open_memstream(&buf, &n);
	hw_view_options o;
	hw_view_options_init(&o);
	o.group_by = HW_GROUP_TYPE;
	ck_assert_int_eq(hw_render_top(f, s, &o), HW_OK);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(
	    buf, "group by type, state used: 4 allocations, 195.5 KiB (200156 bytes) in 3 groups"));
	ck_assert_ptr_nonnull(strstr(buf, "dict"));
	free(buf);
	/* check: the problem, exit 1 material */
	f = open_memstream(&buf, &n);
	uint64_t np = 0;
	ck_assert_int_eq(hw_render_check(f, s, &o, &np), HW_OK);
	fclose(f);
	ck_assert_uint_eq(np, 1);
	ck_assert_ptr_nonnull(strstr(buf, "bad-size"));
	free(buf);
	hw_snapshot_free(s);
	/* bytes from a target are not trusted to be UTF-8 or printable */
	hw_snapshot_new(&s);
	uint32_t bad;
	hw_snapshot_add_type(s, "bad\xff\x01\"name\xc3\xa9", &bad);
	hw_alloc x = A(0x1000, 8, HW_ALLOCATOR_GLIBC, HW_STATE_USED, 0);
	hw_snapshot_add_alloc(s, &x, bad, 0);
	hw_snapshot_finish(s);
	f = open_memstream(&buf, &n);
	o.format = HW_FORMAT_JSON;
	ck_assert_int_eq(hw_render_top(f, s, &o), HW_OK);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"key\": \"bad\\ufffd\\u0001\\\"name\xc3\xa9\""));
	free(buf);
	hw_snapshot_free(s);
	/* an empty snapshot renders everything; check says no heap was walked
	 * (no allocator found), not that it is OK */
	hw_snapshot_new(&s);
	hw_snapshot_finish(s);
	f = open_memstream(&buf, &n);
	all_views(f, s);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "no heap walked"));
	ck_assert_ptr_null(strstr(buf, "heap OK"));
	free(buf);
	hw_snapshot_free(s);
}
END_TEST

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	Suite *su = suite_create("snapshot");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_model);
	tcase_add_test(tc, test_sort);
	tcase_add_test(tc, test_group_keys);
	tcase_add_test(tc, test_function_without_symbol);
	tcase_add_test(tc, test_perl_wrapper);
	tcase_add_test(tc, test_diff);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_hsnap_roundtrip);
	tcase_add_test(tc, test_hsnap_every_byte);
	tcase_add_test(tc, test_big_sizes);
	tcase_add_test(tc, test_views_text);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rmdir(tmpdir);
	return failed ? 1 : 0;
}
