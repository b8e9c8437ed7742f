/*
 * test_live_table.c: the tracer's own live table (tracer/live.c), driven
 * directly against a model (what must be there) by random inserts and
 * removals over address patterns a heap makes: 32-byte chunks packed in
 * 32 MiB, pymalloc-like pools of 96..512-byte blocks, and addresses
 * anywhere in 64 GiB.  After every phase the shards
 * are read as a reader would: each live address exactly once, in the
 * shard its address selects and in one of its two buckets, with its site
 * and size; the counts add up; no shard above 90% load; and the tables'
 * bytes per live entry within the bound the tracer's memory goal rests
 * on.  Then the same in sampled mode, where the filter must let every
 * recorded address through.
 */
#include "../../tracer/tracer.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* check's ck_assert writes a record of each passing assertion to a file:
 * millions of them here, so the loops test plainly and abort on failure. */
#define EXPECT(c)                                                                                  \
	do {                                                                                       \
		if (!(c))                                                                          \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c);                         \
	} while (0)

/* What live.c needs from the rest of the tracer, and what the hooks' fast
 * paths (tracer.h) read. */
struct hwt_root *hwt_root;
HWT_TLS struct hwt_thread hwt_self;
uint64_t hwt_free_mask;

/* The model: what must be in the table, in arrays (for picking one at
 * random) and in an open-addressing index address -> position (tombstones:
 * the test is short-lived and the index four times larger than needed). */
#define INDEX_BITS 22
#define TOMB       UINT32_MAX
struct model {
	uint64_t *addr;
	uint32_t *site, *req;
	size_t n, cap;
	uint64_t *ikey; /* 0: empty */
	uint32_t *ipos; /* position in addr[], TOMB: deleted */
};

static uint64_t slot_of(uint64_t a)
{
	return (a * 0x9e3779b97f4a7c15ull) >> (64 - INDEX_BITS);
}

/* The index slot of a (the one to fill when absent). */
static uint64_t model_slot(const struct model *m, uint64_t a, int *found)
{
	uint64_t i = slot_of(a), tomb = UINT64_MAX;
	for (;; i = (i + 1) & ((1u << INDEX_BITS) - 1)) {
		if (!m->ikey[i]) {
			*found = 0;
			return tomb != UINT64_MAX ? tomb : i;
		}
		if (m->ikey[i] == a && m->ipos[i] != TOMB) {
			*found = 1;
			return i;
		}
		if (m->ipos[i] == TOMB && tomb == UINT64_MAX)
			tomb = i;
	}
}

/* a's position in the arrays, or SIZE_MAX. */
static size_t model_find(const struct model *m, uint64_t a)
{
	int found;
	uint64_t i = model_slot(m, a, &found);
	return found ? m->ipos[i] : SIZE_MAX;
}

static void model_put(struct model *m, uint64_t a, uint32_t site, uint32_t req)
{
	int found;
	uint64_t i = model_slot(m, a, &found);
	size_t at = found ? m->ipos[i] : m->n;
	EXPECT(at < m->cap);
	if (!found) {
		m->ikey[i] = a;
		m->ipos[i] = (uint32_t)at;
		m->addr[at] = a;
		m->n++;
	}
	m->site[at] = site;
	m->req[at] = req;
}

static void model_del(struct model *m, size_t at)
{
	int found;
	uint64_t i = model_slot(m, m->addr[at], &found);
	EXPECT(found);
	m->ipos[i] = TOMB;
	size_t last = --m->n;
	if (at != last) {
		m->addr[at] = m->addr[last];
		m->site[at] = m->site[last];
		m->req[at] = m->req[last];
		m->ipos[model_slot(m, m->addr[at], &found)] = (uint32_t)at;
	}
}

static void model_init(struct model *m, size_t cap)
{
	m->cap = cap;
	m->n = 0;
	m->addr = calloc(cap, sizeof(*m->addr));
	m->site = calloc(cap, sizeof(*m->site));
	m->req = calloc(cap, sizeof(*m->req));
	m->ikey = calloc(1u << INDEX_BITS, sizeof(*m->ikey));
	m->ipos = calloc(1u << INDEX_BITS, sizeof(*m->ipos));
	EXPECT(m->addr && m->site && m->req && m->ikey && m->ipos);
}

static void model_free(struct model *m)
{
	free(m->addr);
	free(m->site);
	free(m->req);
	free(m->ikey);
	free(m->ipos);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
	return hwt_rng_next(&rng);
}

/* An address of pattern p (0: runs of 32-byte chunks; 1: pools of
 * 96..512-byte blocks; 2: anywhere), 16-byte aligned, never 0. */
static uint64_t pick(int p)
{
	uint64_t r = next();
	switch (p) {
	case 0:
		return 0x555500000000ull + (r % (1u << 20)) * 32;
	case 1: {
		uint64_t size = 96 + (r >> 40) % 27 * 16;
		uint64_t pool = 0x7f0000000000ull + (r % 512) * 16384;
		return pool + 48 + ((r >> 20) % ((16384 - 48) / size)) * size;
	}
	default:
		return 0x100000000ull + (r % (1ull << 32)) * 16;
	}
}

/* Read every shard as the reader does and compare with the model. */
static void check_tables(const struct model *m)
{
	uint64_t seen = 0, slots = 0;
	for (unsigned sh = 0; sh < HWT_SHARDS; sh++) {
		const struct hwt_shard *s = &hwt_root->shards[sh];
		const struct hwt_live_entry *tab = (const void *)(uintptr_t)s->table;
		uint64_t here = 0;
		EXPECT(s->capacity % HWT_BUCKET_SLOTS == 0);
		EXPECT(s->count * 10 <= s->capacity * 9);
		for (uint64_t i = 0; i < s->capacity; i++) {
			if (!tab[i].key)
				continue;
			uint64_t a = tab[i].key, b1, b2;
			EXPECT((a & HWT_KEY_HINT) == 0);
			EXPECT(hwt_shard_of(a) == sh);
			hwt_buckets(a, s->capacity, &b1, &b2);
			EXPECT(i / HWT_BUCKET_SLOTS == b1 || i / HWT_BUCKET_SLOTS == b2);
			size_t at = model_find(m, a);
			EXPECT(at != SIZE_MAX);
			EXPECT(tab[i].site == m->site[at]);
			EXPECT(tab[i].requested == m->req[at]);
			here++;
		}
		EXPECT(here == s->count);
		seen += here;
		slots += s->capacity;
	}
	/* each address once: as many entries as the model has, all found */
	EXPECT(seen == m->n);
	EXPECT(hwt_root->dropped == 0);
	/* memory: below 16 bytes / 70% load once the shards have grown past
	 * their initial size (72-90% load, 20 bytes on average) */
	if (m->n > 100 * HWT_SHARDS * HWT_MIN_CAPACITY / 10)
		EXPECT(slots * sizeof(struct hwt_live_entry) * 7 <= m->n * 16 * 10);
}

static int filter_bit(uint32_t i)
{
	return (int)(hwt_filter[i / 64] >> (i % 64) & 1);
}

/* Sampled mode, right after the filter grew from mask om: every recorded
 * address passes under the new mask, and under the old one too (a free
 * that read the mask just before it grew). */
static void check_filter_grown(const struct model *m, uint32_t om)
{
	EXPECT(hwt_filter_size() == (om + 1) * 8);
	for (size_t i = 0; i < m->n; i++) {
		uint64_t b = m->addr[i] >> HWT_BLOCK_SHIFT;
		EXPECT(filter_bit((uint32_t)b & ((om + 1) * 8 - 1)));
		EXPECT(filter_bit((uint32_t)b & om));
	}
}

/* The blocks recorded when the filter grew, with the mask before: such a
 * free may have read that mask, however late it reads the bit, so the
 * bit must stay set even after they are all forgotten. */
struct stale {
	uint64_t *addr; /* bit numbers under the mask of the time */
	size_t n;
};

static void stale_keep(struct stale *st, const struct model *m, uint32_t om)
{
	st->addr = realloc(st->addr, (st->n + m->n) * sizeof(*st->addr));
	EXPECT(st->addr);
	for (size_t i = 0; i < m->n; i++)
		st->addr[st->n++] = m->addr[i] >> HWT_BLOCK_SHIFT & om;
}

static void run(int mode, int pattern, size_t target, size_t ops)
{
	hwt_root = calloc(1, sizeof(*hwt_root));
	ck_assert_ptr_nonnull(hwt_root);
	hwt_root->mode = (uint32_t)mode;
	hwt_filter_start();
	struct model m;
	model_init(&m, target + 1);
	struct hwt_live_entry old;
	unsigned grown = 0;
	struct stale st = {NULL, 0};
	for (size_t op = 0; op < ops; op++) {
		uint64_t r = next();
		int p = pattern < 0 ? (int)(r % 3) : pattern;
		if (m.n < target && (r >> 8) % 8 != 0) {
			uint64_t a = pick(p);
			uint32_t site = 1 + (uint32_t)((r >> 16) % 100000);
			uint32_t req = 1 + (uint32_t)((r >> 40) % 4096);
			/* an address already there (freed behind the tracer's
			 * back) is overwritten, not added twice */
			uint32_t om = (uint32_t)hwt_filter_size() - 1;
			hwt_live_insert(a, site, req);
			model_put(&m, a, site, req);
			if (hwt_filter_size() != om + 1ull) {
				EXPECT(mode == HWT_MODE_SAMPLED);
				check_filter_grown(&m, om);
				stale_keep(&st, &m, om);
				grown++;
			}
		} else if (m.n && (r >> 8) % 8 < 6) {
			size_t i = (r >> 12) % m.n;
			uint64_t a = m.addr[i];
			EXPECT(hwt_live_remove(a, &old) == 1);
			EXPECT(old.key == a);
			EXPECT(old.site == m.site[i]);
			EXPECT(old.requested == m.req[i]);
			model_del(&m, i);
		} else {
			/* an address never recorded, or gone: not found */
			uint64_t a = pick(p);
			size_t i = model_find(&m, a);
			EXPECT(hwt_live_remove(a, &old) == (i != SIZE_MAX));
			if (i != SIZE_MAX)
				model_del(&m, i);
		}
		if (op % (ops / 4) == ops / 4 - 1)
			check_tables(&m);
	}
	/* drain: everything comes out, exactly once */
	while (m.n) {
		uint64_t a = m.addr[m.n - 1];
		EXPECT(hwt_live_remove(a, &old) == 1);
		EXPECT(hwt_live_remove(a, &old) == 0);
		m.n--;
	}
	check_tables(&m);
	if (mode == HWT_MODE_SAMPLED) {
		/* grown from 2^13 to 2^16 bits at 512 recorded, to 2^19 at
		 * 4096; empty now but for the bits each growth left stuck
		 * (at most 1/16 of the size it grew from, and one more) */
		EXPECT(grown == 2);
		EXPECT(hwt_filter_size() == 1u << HWT_FILTER_MAX_BITS);
		uint64_t set = 0;
		for (uint32_t i = 0; i < hwt_filter_size(); i++)
			set += (uint64_t)filter_bit(i);
		EXPECT(set <= (1u << 13) / 16 + (1u << 16) / 16 + 2);
		for (size_t i = 0; i < st.n; i++)
			EXPECT(filter_bit((uint32_t)st.addr[i]));
	}
	free(st.addr);
	for (unsigned sh = 0; sh < HWT_SHARDS; sh++) {
		struct hwt_shard *s = &hwt_root->shards[sh];
		if (s->table)
			hwt_unmap((void *)(uintptr_t)s->table,
			          s->capacity * sizeof(struct hwt_live_entry));
	}
	model_free(&m);
	free(hwt_root);
	hwt_root = NULL;
}

START_TEST(test_chunk_runs)
{
	run(HWT_MODE_ALL, 0, 300000, 1500000);
}
END_TEST

START_TEST(test_pools)
{
	run(HWT_MODE_ALL, 1, 200000, 1000000);
}
END_TEST

START_TEST(test_anywhere)
{
	run(HWT_MODE_ALL, 2, 300000, 1500000);
}
END_TEST

START_TEST(test_mixed)
{
	run(HWT_MODE_ALL, -1, 400000, 2000000);
}
END_TEST

START_TEST(test_sampled)
{
	run(HWT_MODE_SAMPLED, -1, 50000, 300000);
}
END_TEST

/* Sampled mode's allocation fast path (one subtraction whose flags
 * decide, tracer.h) against its definition: skip when the countdown, as
 * unsigned, is above n, and then take n off it; else leave it as it was. */
START_TEST(test_fast_skip)
{
	static const int64_t counts[] = {0,       1,  2,  15,        16,        17,    4096,
	                                 1 << 20, -1, -2, INT64_MAX, INT64_MIN, 524288};
	static const uint64_t sizes[] = {
	    0,          1,      15,     16,    17, 4095, 4096, 1 << 20, (uint64_t)INT64_MAX,
	    UINT64_MAX, 524287, 524288, 524289};
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
		for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
			int64_t c = counts[i];
			uint64_t n = sizes[j];
			hwt_self.countdown = c;
			int skip = hwt_fast_skip((size_t)n);
			EXPECT(skip == ((uint64_t)c > n));
			EXPECT(hwt_self.countdown == (skip ? (int64_t)((uint64_t)c - n) : c));
		}
}
END_TEST

/* free's fast path (hwt_fast_unmarked): with the mask of each mode, only
 * the addresses where a sampled block of the malloc family can lie (a page
 * boundary, 16 bytes past one) and NULL reach the full path. */
START_TEST(test_fast_unmarked)
{
	uint64_t state = 12345;
	for (int mode = 0; mode < 3; mode++) {
		hwt_free_mask = mode == 0 ? 0 : mode == 1 ? HWT_MARK_MASK : ~(uint64_t)0;
		for (int i = 0; i < 200000; i++) {
			uint64_t a = hwt_rng_next(&state) & ((1ull << 47) - 16);
			if (i % 4 == 1)
				a &= ~(uint64_t)4095;
			else if (i % 4 == 2)
				a = (a & ~(uint64_t)4095) + 16;
			else if (i == 3)
				a = 0;
			int unmarked = hwt_fast_unmarked((const void *)(uintptr_t)a);
			EXPECT(unmarked == ((a & hwt_free_mask) != 0));
			if (mode == 1)
				EXPECT(unmarked == (a % 4096 != 0 && a % 4096 != 16));
			if (mode == 0)
				EXPECT(!unmarked);
		}
	}
	hwt_free_mask = 0;
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("live_table");
	TCase *tc = tcase_create("writer");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_chunk_runs);
	tcase_add_test(tc, test_pools);
	tcase_add_test(tc, test_anywhere);
	tcase_add_test(tc, test_mixed);
	tcase_add_test(tc, test_sampled);
	tcase_add_test(tc, test_fast_skip);
	tcase_add_test(tc, test_fast_unmarked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
