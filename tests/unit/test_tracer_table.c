/*
 * test_tracer_table.c: the tracer table reader on synthetic images
 * (synthtrace.h) whose contents are known: exact lookups, iteration, site
 * frames (native pcs; Python lines from a 3.11 location table that
 * CPython 3.11's own co_lines() reads as lines 11/12/10/none), sampling
 * weights; and damaged tables: unknown magic or version, sites and entries
 * out of bounds, absurd shard sizes, unreadable tables, duplicates, and
 * pymalloc arena shadows whole, duplicated and damaged.
 */
#include "heapwalk.h"
#include "synthtrace.h"
#include "tracer_format.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static hw_target *open_image(synth_image *m)
{
	hw_read_callbacks cb = {synth_read, m};
	hw_target *t;
	ck_assert_int_eq(hw_target_open_callback(&t, &cb, 0, NULL), HW_OK);
	hw_mapping mp = {
	    .start = SYNTH_BASE, .end = SYNTH_BASE + m->len, .perms = HW_PERM_R | HW_PERM_W};
	ck_assert_int_eq(hw_target_add_mapping(t, &mp), HW_OK);
	return t;
}

static struct hwt_root *root_of(synth_image *m)
{
	return (struct hwt_root *)m->b;
}

static int count_cb(void *ctx, uint64_t address, uint32_t site, uint64_t requested)
{
	uint64_t *last = ctx;
	ck_assert_uint_gt(address, last[0]); /* address order, no duplicates */
	last[0] = address;
	last[1]++;
	last[2] += requested;
	return 0;
}

START_TEST(test_valid)
{
	synth_image m = synth_trace(0);
	hw_target *t = open_image(&m);
	hw_tracer *tr;
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_OK);
	const hw_tracer_summary *s = hw_tracer_get_summary(tr);
	ck_assert_str_eq(s->mode, "all");
	ck_assert_uint_eq(s->sample_bytes, 0);
	ck_assert_uint_eq(s->live_allocations, SYNTH_N1 + SYNTH_N2 + 1);
	ck_assert_uint_eq(s->sites, 3);
	ck_assert_uint_eq(s->python_version, 0x030b07f0);
	const hw_problem *p;
	ck_assert_uint_eq(hw_tracer_problems(tr, &p), 0);

	uint32_t site;
	uint64_t req;
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x5000000 + 1024 * 7, &site, &req), HW_OK);
	ck_assert_uint_eq(site, 1);
	ck_assert_uint_eq(req, 100);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x6000000 + 32 * 24, &site, &req), HW_OK);
	ck_assert_uint_eq(site, 2);
	ck_assert_uint_eq(req, 7);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x7000000, &site, &req), HW_OK);
	ck_assert_uint_eq(site, 3);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x5000010, &site, &req), HW_ENOTFOUND);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0, &site, &req), HW_ENOTFOUND);
	ck_assert_int_eq(hw_tracer_lookup(tr, UINT64_MAX, &site, &req), HW_ENOTFOUND);

	uint64_t acc[3] = {0, 0, 0};
	ck_assert_int_eq(hw_tracer_foreach(tr, count_cb, acc), HW_OK);
	ck_assert_uint_eq(acc[1], SYNTH_N1 + SYNTH_N2 + 1);
	ck_assert_uint_eq(acc[2], SYNTH_N1 * 100 + SYNTH_N2 * 7 + 48);

	hw_frame fr[8];
	size_t n = 8;
	ck_assert_int_eq(hw_tracer_site_frames(tr, 1, fr, &n), HW_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(fr[0].pc, 0x401000);
	ck_assert_uint_eq(fr[1].pc, 0x402000);
	ck_assert_int_eq(fr[0].kind, HW_FRAME_NATIVE);

	n = 8;
	ck_assert_int_eq(hw_tracer_site_frames(tr, 3, fr, &n), HW_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(fr[0].kind, HW_FRAME_PYTHON);
	ck_assert_str_eq(fr[0].function, "fn");
	ck_assert_str_eq(fr[0].file, "f.py");
	ck_assert_int_eq(fr[0].line, 12); /* byte offset 4 */
	ck_assert_int_eq(fr[1].line, 10); /* byte offset 12 */
	ck_assert_int_eq(fr[2].kind, HW_FRAME_NATIVE);
	ck_assert_uint_eq(fr[2].pc, 0x404000);

	n = 1; /* capacity smaller than the stack */
	ck_assert_int_eq(hw_tracer_site_frames(tr, 3, fr, &n), HW_OK);
	ck_assert_uint_eq(n, 1);
	n = 8;
	ck_assert_int_ne(hw_tracer_site_frames(tr, 0, fr, &n), HW_OK);
	ck_assert_int_ne(hw_tracer_site_frames(tr, 4, fr, &n), HW_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_double_eq(hw_tracer_weight(tr, 100), 1.0);
	hw_tracer_close(tr);
	hw_target_close(t);
	free(m.b);
}
END_TEST

START_TEST(test_sampled_weight)
{
	synth_image m = synth_trace(1024);
	hw_target *t = open_image(&m);
	hw_tracer *tr;
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_OK);
	ck_assert_str_eq(hw_tracer_get_summary(tr)->mode, "sampled");
	ck_assert_uint_eq(hw_tracer_get_summary(tr)->sample_bytes, 1024);
	ck_assert_double_eq_tol(hw_tracer_weight(tr, 100), 1.0 / (1.0 - exp(-100.0 / 1024)), 1e-9);
	ck_assert_double_eq_tol(hw_tracer_weight(tr, 1 << 30), 1.0, 1e-9);
	hw_tracer_close(tr);
	hw_target_close(t);
	free(m.b);
}
END_TEST

START_TEST(test_not_a_table)
{
	synth_image m = synth_trace(0);
	hw_tracer *tr = (hw_tracer *)1;
	root_of(&m)->magic[0] = 'X';
	hw_target *t = open_image(&m);
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_ENOTFOUND);
	ck_assert_ptr_null(tr);
	hw_target_close(t);
	free(m.b);

	m = synth_trace(0);
	root_of(&m)->version = HWT_FORMAT_VERSION + 1;
	t = open_image(&m);
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "format"));
	hw_target_close(t);
	free(m.b);

	m = synth_trace(0);
	root_of(&m)->sites_count = 1ull << 40;
	t = open_image(&m);
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_ECORRUPT);
	hw_target_close(t);
	free(m.b);
}
END_TEST

START_TEST(test_damaged)
{
	synth_image m = synth_trace(0);
	struct hwt_root *r = root_of(&m);
	/* site 2 claims 200 native frames: dropped with its entries */
	struct hwt_site *sites = (void *)(m.b + (r->sites - SYNTH_BASE));
	sites[2].n_native = 200;
	/* one entry of site 1 points at site 99: dropped */
	uint64_t victim = 0x5000000 + 1024 * 5;
	struct hwt_shard *sh = &r->shards[hwt_shard_of(victim)];
	struct hwt_live_entry *tab = (void *)(m.b + (sh->table - SYNTH_BASE));
	for (uint64_t i = 0; i < sh->capacity; i++)
		if (hwt_key_address(tab[i].key) == victim)
			tab[i].site = 99;
	/* a duplicate of another entry (a deletion caught mid-move): kept once */
	uint64_t dup = 0x5000000 + 1024 * 6;
	sh = &r->shards[hwt_shard_of(dup)];
	tab = (void *)(m.b + (sh->table - SYNTH_BASE));
	for (uint64_t i = 0, done = 0; i < sh->capacity && !done; i++)
		if (hwt_key_address(tab[i].key) == dup)
			for (uint64_t j = 0; j < sh->capacity && !done; j++)
				if (!tab[j].key)
					tab[j] = tab[i], done = 1;
	/* an absurd shard and an unreadable one */
	uint64_t a1 = 0x5000000 + 1024 * 9, a2 = 0x5000000 + 1024 * 11;
	unsigned s1 = hwt_shard_of(a1), s2 = hwt_shard_of(a2);
	ck_assert_uint_ne(s1, s2);
	uint64_t lost = r->shards[s1].count + r->shards[s2].count;
	r->shards[s1].capacity = 1ull << 40;
	r->shards[s2].table = 0xdead0000000ull;

	hw_target *t = open_image(&m);
	hw_tracer *tr;
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_OK);
	const hw_problem *p;
	size_t np = hw_tracer_problems(tr, &p);
	ck_assert_uint_ge(np, 3);
	for (size_t i = 0; i < np; i++)
		ck_assert_ptr_nonnull(p[i].message);
	uint32_t site;
	uint64_t req;
	ck_assert_int_eq(hw_tracer_lookup(tr, victim, &site, &req), HW_ENOTFOUND);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x6000000, &site, &req), HW_ENOTFOUND);
	ck_assert_int_eq(hw_tracer_lookup(tr, a1, &site, &req), HW_ENOTFOUND);
	ck_assert_int_eq(hw_tracer_lookup(tr, a2, &site, &req), HW_ENOTFOUND);
	uint64_t acc[3] = {0, 0, 0};
	hw_tracer_foreach(tr, count_cb, acc);
	/* site 1's entries but the victim and those of the two lost shards
	 * (which may hold site 2/3 entries too), plus site 3's */
	ck_assert_uint_le(acc[1], SYNTH_N1 + 1 - 1);
	ck_assert_uint_ge(acc[1], SYNTH_N1 + 1 - 1 - lost);
	hw_frame fr[4];
	size_t n = 4;
	ck_assert_int_ne(hw_tracer_site_frames(tr, 2, fr, &n), HW_OK);
	hw_tracer_close(tr);
	hw_target_close(t);
	free(m.b);
}
END_TEST

/* The pymalloc arenas' shadows: slots read as entries (site, requested
 * size up to 512) at base + 16 * slot; an entry also in a shard (a block
 * of an arena the shadow no longer covers), or an arena listed twice (a
 * record caught moving), is kept once; a slot with a bad site is dropped;
 * a record being moved (no shadow) is skipped; records that are not whole
 * (shadow outside the process, size not in 16-byte units) are problems. */
START_TEST(test_shadow)
{
	synth_image m = synth_trace(0);
	struct hwt_root *r = root_of(&m);
	struct hwt_pyarena *recs = (void *)(m.b + (r->pyarenas - SYNTH_BASE));
	uint32_t *shadow = (void *)(m.b + (recs[0].shadow - SYNTH_BASE));
	shadow[2] = hwt_shadow_pack(2, 7);     /* 0x7000020 */
	shadow[255] = hwt_shadow_pack(1, 512); /* 0x7000ff0, the arena's last granule */
	shadow[4] = hwt_shadow_pack(99, 1);    /* a site that does not exist */
	recs[1] = recs[0];                     /* listed twice */
	recs[2] = (struct hwt_pyarena){.base = 0x8000000, .size = 0x1000, .shadow = 0};
	r->pyarenas_count = 3;
	hw_target *t = open_image(&m);
	hw_tracer *tr;
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_OK);
	const hw_problem *p;
	ck_assert_uint_eq(hw_tracer_problems(tr, &p), 1);
	ck_assert_str_eq(p[0].kind, "tracer-bad-entry");
	uint64_t acc[3] = {0, 0, 0};
	hw_tracer_foreach(tr, count_cb, acc);
	ck_assert_uint_eq(acc[1], SYNTH_N1 + SYNTH_N2 + 3);
	ck_assert_uint_eq(acc[2], SYNTH_N1 * 100 + SYNTH_N2 * 7 + 48 + 7 + 512);
	/* the three shadow entries, each once although their arena is listed
	 * twice */
	ck_assert_uint_eq(hw_tracer_get_summary(tr)->shadowed, 3);
	uint32_t site;
	uint64_t req;
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x7000020, &site, &req), HW_OK);
	ck_assert_uint_eq(site, 2);
	ck_assert_uint_eq(req, 7);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x7000ff0, &site, &req), HW_OK);
	ck_assert_uint_eq(site, 1);
	ck_assert_uint_eq(req, 512);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x7000040, &site, &req), HW_ENOTFOUND);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x7000010, &site, &req), HW_ENOTFOUND);
	hw_tracer_close(tr);
	hw_target_close(t);

	/* a shadow outside the process and a size not in 16-byte units: the
	 * arena's entries are not read, the other record's are */
	recs[1].shadow = 0xdead0000000ull;
	recs[2] = recs[0];
	recs[2].size = 0x1008;
	recs[0].size = 0x800; /* half the arena: slot 255 is beyond it */
	t = open_image(&m);
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_OK);
	size_t np = hw_tracer_problems(tr, &p), bad = 0;
	for (size_t i = 0; i < np; i++)
		bad += strcmp(p[i].kind, "tracer-bad-shadow") == 0;
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x7000000, &site, &req), HW_OK);
	ck_assert_uint_eq(site, 3);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x7000ff0, &site, &req), HW_ENOTFOUND);
	hw_tracer_close(tr);
	hw_target_close(t);

	/* a registry that claims more records than it holds: none read */
	r->pyarenas_count = 17;
	t = open_image(&m);
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_OK);
	ck_assert_int_eq(hw_tracer_lookup(tr, 0x7000000, &site, &req), HW_ENOTFOUND);
	ck_assert_uint_ge(hw_tracer_problems(tr, &p), 1);
	hw_tracer_close(tr);
	hw_target_close(t);
	free(m.b);
}
END_TEST

START_TEST(test_damaged_code)
{
	synth_image m = synth_trace(0);
	/* the line table claims 1 GiB and the file name 1e9 characters */
	uint64_t code = 0x18000, big = 1ull << 30, fn;
	memcpy(m.b + code + 0x400 + 0x10, &big, 8);
	memcpy(&fn, m.b + code + 0x70, 8);
	uint64_t huge = 1000000000;
	memcpy(m.b + (fn - SYNTH_BASE) + 0x10, &huge, 8);
	hw_target *t = open_image(&m);
	hw_tracer *tr;
	ck_assert_int_eq(hw_tracer_open(&tr, t), HW_OK);
	hw_frame fr[4];
	size_t n = 4;
	ck_assert_int_eq(hw_tracer_site_frames(tr, 3, fr, &n), HW_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_null(fr[0].file);
	ck_assert_str_eq(fr[0].function, "fn");
	ck_assert_int_eq(fr[0].line, 0);
	hw_tracer_close(tr);
	hw_target_close(t);
	free(m.b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tracer_table");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_sampled_weight);
	tcase_add_test(tc, test_not_a_table);
	tcase_add_test(tc, test_damaged);
	tcase_add_test(tc, test_damaged_code);
	tcase_add_test(tc, test_shadow);
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
