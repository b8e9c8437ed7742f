/*
 * test_sort_records.c: hw_sort_records (snapshot/table.c), the radix sort
 * the glibc walker's listed chunks and the typer's owned blocks go through,
 * against a plain stable sort of the same records: 8- and 16-byte records,
 * keys from a given bit up, sizes from nothing to past one radix digit,
 * keys equal, differing in their low bits only, in their high bits only.
 * Built with the source itself (an internal function).
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* record i: its key, then its index (the tie order the sort must keep) */
struct rec16 {
	uint64_t key, index;
};

static unsigned g_lo;
static int cmp_ref(const void *a, const void *b)
{
	const struct rec16 *x = a, *y = b;
	uint64_t kx = x->key >> g_lo, ky = y->key >> g_lo;
	if (kx != ky)
		return kx < ky ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* n records whose keys are gen(i) masked, sorted both ways: the same order
 * of indices (16-byte records), of keys from lo_bit up (8-byte records,
 * whose low bits carry the index when lo_bit leaves room). */
static void check_sorts(size_t n, uint64_t mask, unsigned lo_bit)
{
	struct rec16 *a = malloc((n ? n : 1) * sizeof *a), *ref = malloc((n ? n : 1) * sizeof *ref);
	uint64_t *b = malloc((n ? n : 1) * sizeof *b);
	ck_assert(a && ref && b);
	for (size_t i = 0; i < n; i++) {
		a[i].key = next() & mask;
		a[i].index = i;
		b[i] = a[i].key;
		if (lo_bit >= 20)
			b[i] = (b[i] & ~((1ull << lo_bit) - 1)) | (i & ((1ull << lo_bit) - 1));
	}
	memcpy(ref, a, n * sizeof *a);
	g_lo = lo_bit;
	qsort(ref, n, sizeof *ref, cmp_ref);
	ck_assert_int_eq(hw_sort_records(a, n, sizeof *a, lo_bit), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(a[i].index == ref[i].index && a[i].key == ref[i].key,
		              "16-byte records, n %zu, lo_bit %u: position %zu differs", n, lo_bit,
		              i);
	ck_assert_int_eq(hw_sort_records(b, n, sizeof *b, lo_bit), 0);
	for (size_t i = 1; i < n; i++) {
		ck_assert_msg(b[i - 1] >> lo_bit <= b[i] >> lo_bit,
		              "8-byte records, n %zu, lo_bit %u: out of order at %zu", n, lo_bit,
		              i);
		if (lo_bit >= 20 && b[i - 1] >> lo_bit == b[i] >> lo_bit)
			ck_assert_msg((b[i - 1] & 0xfffff) < (b[i] & 0xfffff),
			              "8-byte records: ties out of their order at %zu", i);
	}
	free(a);
	free(ref);
	free(b);
}

START_TEST(test_sorts)
{
	static const size_t sizes[] = {0, 1, 2, 3, 100, 4097, 70000, 200000};
	static const uint64_t masks[] = {~0ull, 0x7ffffffffff0ull, 0xff0ull, 0xff00000000000000ull,
	                                 0};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		for (size_t m = 0; m < sizeof masks / sizeof *masks; m++) {
			check_sorts(sizes[i], masks[m], 0);
			check_sorts(sizes[i], masks[m], 20);
		}
}
END_TEST

START_TEST(test_bad_size)
{
	uint64_t v[3] = {3, 2, 1};
	ck_assert_int_eq(hw_sort_records(v, 3, 12, 0), -1);
	ck_assert(v[0] == 3 && v[1] == 2 && v[2] == 1);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("sort_records");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sorts);
	tcase_add_test(tc, test_bad_size);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
