/*
 * test_bigmem.c: hw_big_resize / hw_big_free (bigmem.c), the memory of a
 * snapshot's columns and the glibc walker's bitmaps.  Every byte written
 * must come back after each growth (malloc's blocks, then mappings moved by
 * mremap, the step from one to the other) and each shrink; new arrays are
 * zeroed; arrays are 16-byte aligned; a mapped array's mapping is 2 MiB
 * aligned, whole 2 MiB units, all mapped and advised for huge pages
 * (VmFlags "hg" in /proc/self/smaps), not advised under
 * HEAPWALK_HUGE_PAGES=0; without memory the array is left as it was.
 * Built with the source itself (internal functions).
 */
#include "internal.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define MIB ((size_t)1 << 20)

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 2654435761u >> 13);
}

static void fill(uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		p[i] = pattern(i);
}

static void expect(const uint8_t *p, size_t n, const char *when)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(i))
			ck_abort_msg("%s: byte %zu of %zu lost", when, i, n);
}

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
/* Under ASan an array's last byte is addressable and the next is not
 * (malloc's redzone, or the rest of a mapping poisoned by bigmem.c),
 * unless the array ends its mapping's last unit (nothing of ours follows). */
static void expect_fenced(const uint8_t *p, size_t n)
{
	if ((uintptr_t)(p + n) % (2 * MIB) == 0)
		return;
	ck_assert_msg(!__asan_address_is_poisoned(p + n - 1), "last byte of %zu poisoned", n);
	ck_assert_msg(__asan_address_is_poisoned(p + n), "the byte past %zu not poisoned", n);
}
#else
static void expect_fenced(const uint8_t *p, size_t n)
{
	(void)p;
	(void)n;
}
#endif

/* Whether [a, a + len) is mapped, by one or more mappings in a row (an
 * array grown by mremap spans two until they merge) all advised for huge
 * pages (smaps' VmFlags "hg", MADV_HUGEPAGE) or, hg 0, none of them, and a
 * mapping begins at a. */
static int mapped_advised(uintptr_t a, size_t len, int hg)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	ck_assert(f != NULL);
	char line[512];
	uintptr_t at = a, s = 0, e = 0;
	int in = 0, ok = 1;
	while (fgets(line, sizeof line, f) && at < a + len) {
		uintptr_t ns, ne;
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &ns, &ne) == 2) {
			s = ns;
			e = ne;
			in = s <= at && at < e && (at != a || s == a);
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
#ifdef MADV_HUGEPAGE
			ok &= (strstr(line, " hg") != NULL) == hg;
#endif
			at = e;
			in = 0;
		}
	}
	fclose(f);
	return ok && at >= a + len;
}

/* p's array, of n bytes, lives in a mapping of its own made for it: 2 MiB
 * aligned, 64 bytes before the array, advised for huge pages. */
static void expect_mapped(const void *p, size_t n)
{
	uintptr_t base = (uintptr_t)p - 64;
	ck_assert_int_eq((uintptr_t)p % 16, 0);
	ck_assert_msg(base % (2 * MIB) == 0, "array at %p: not 64 bytes into a unit", p);
	ck_assert_msg(mapped_advised(base, (n + 64 + 2 * MIB - 1) & ~(2 * MIB - 1), 1),
	              "array at %p of %zu bytes: its units not all mapped and advised", p, n);
	expect_fenced(p, n);
}

START_TEST(test_grow_and_shrink)
{
	/* the step to mappings at 256 KiB, so the test stays small */
	hw_big_threshold(256 << 10);
	uint8_t *p = hw_big_resize(NULL, 100);
	ck_assert(p != NULL);
	ck_assert_int_eq((uintptr_t)p % 16, 0);
	for (size_t i = 0; i < 100; i++)
		ck_assert_int_eq(p[i], 0);
	fill(p, 0, 100);
	size_t n = 100;
	while (n < 40 * MIB) {
		size_t m = n + n / 2 + 4096;
		uint8_t *q = hw_big_resize(p, m);
		ck_assert(q != NULL);
		expect(q, n, "growth");
		fill(q, n, m);
		expect_fenced(q, m);
		if (m + 64 >= (256 << 10))
			expect_mapped(q, m);
		p = q;
		n = m;
	}
	/* shrink to a unit's end, into the first unit, then grow again */
	static const size_t to[] = {9 * MIB, 4 * MIB - 64, 1000, 3 * MIB};
	for (size_t k = 0; k < sizeof to / sizeof *to; k++) {
		uint8_t *q = hw_big_resize(p, to[k]);
		ck_assert(q != NULL);
		size_t kept = to[k] < n ? to[k] : n;
		expect(q, kept, "resize");
		fill(q, kept, to[k]);
		expect_mapped(q, to[k]);
		size_t was = (n + 64 + 2 * MIB - 1) & ~(2 * MIB - 1),
		       now = (to[k] + 64 + 2 * MIB - 1) & ~(2 * MIB - 1);
		unsigned char v;
		if (now < was) /* its units past the new end given back */
			ck_assert_msg(
			    mincore((char *)q - 64 + now, 4096, &v) == -1 && errno == ENOMEM,
			    "shrunk from %zu to %zu bytes: its tail still mapped", n, to[k]);
		p = q;
		n = to[k];
	}
	hw_big_free(p);
	hw_big_free(NULL);
}
END_TEST

START_TEST(test_zeroed)
{
	hw_big_threshold(HW_BIG_FROM);
	static const size_t sizes[] = {1, 4096, HW_BIG_FROM - 64, HW_BIG_FROM, 10 * MIB + 3};
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		uint8_t *p = hw_big_resize(NULL, sizes[k]);
		ck_assert(p != NULL);
		for (size_t i = 0; i < sizes[k]; i++)
			if (p[i])
				ck_abort_msg("byte %zu of a new array of %zu is %u", i, sizes[k],
				             p[i]);
		if (sizes[k] + 64 >= HW_BIG_FROM)
			expect_mapped(p, sizes[k]);
		memset(p, 0xa5, sizes[k]);
		hw_big_free(p);
	}
}
END_TEST

START_TEST(test_no_memory)
{
	hw_big_threshold(HW_BIG_FROM);
	ck_assert(hw_big_resize(NULL, SIZE_MAX / 2 + 1) == NULL);
	ck_assert(hw_big_resize(NULL, SIZE_MAX - 8) == NULL);
	size_t n = 8 * MIB;
	uint8_t *p = hw_big_resize(NULL, n);
	ck_assert(p != NULL);
	fill(p, 0, n);
#ifndef __SANITIZE_ADDRESS__
	/* an address space too small for the growth (check runs each test in
	 * a child of its own: the limit ends with it) */
	struct rlimit rl = {(rlim_t)1 << 30, (rlim_t)1 << 30};
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
	ck_assert(hw_big_resize(p, (size_t)4 << 30) == NULL);
	expect(p, n, "after a failed growth");
	expect_mapped(p, n);
	uint8_t *small = hw_big_resize(NULL, 1000);
	ck_assert(small != NULL);
	ck_assert(hw_big_resize(small, (size_t)4 << 30) == NULL);
	hw_big_free(small);
#endif
	hw_big_free(p);
}
END_TEST

/* HEAPWALK_HUGE_PAGES=0: the same mappings, not advised. */
START_TEST(test_no_advice)
{
	hw_big_threshold(HW_BIG_FROM);
	setenv("HEAPWALK_HUGE_PAGES", "0", 1);
	uint8_t *p = hw_big_resize(NULL, 5 * MIB);
	ck_assert(p != NULL);
	fill(p, 0, 5 * MIB);
	ck_assert_msg(mapped_advised((uintptr_t)p - 64, 6 * MIB, 0),
	              "HEAPWALK_HUGE_PAGES=0, yet advised (or not mapped as it should be)");
	uint8_t *q = hw_big_resize(p, 9 * MIB);
	ck_assert(q != NULL);
	expect(q, 5 * MIB, "growth without advice");
	ck_assert(mapped_advised((uintptr_t)q - 64, 10 * MIB, 0));
	hw_big_free(q);
	unsetenv("HEAPWALK_HUGE_PAGES");
}
END_TEST

int main(void)
{
	Suite *su = suite_create("bigmem");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_grow_and_shrink);
	tcase_add_test(tc, test_zeroed);
	tcase_add_test(tc, test_no_memory);
	tcase_add_test(tc, test_no_advice);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
