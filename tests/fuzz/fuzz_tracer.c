/*
 * fuzz_tracer.c: the tracer table reader on arbitrary bytes: the input is
 * the memory at SYNTH_BASE of a callback target (seeds: the synthetic
 * images of synthtrace.h, mode all and sampled, and mode all with an
 * entry written twice).  Opening, iterating, looking up and resolving every
 * site's frames must never crash, hang or grow without bound, and the
 * entries iterated must be the ones looked up (visit).
 */
#include "heapwalk.h"
#include "synthtrace.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seeds(uint8_t ***bufs, size_t **lens);

/* The entries foreach gives are the ones lookup finds: every address it
 * visits, once, in increasing order, with the site and requested size
 * lookup gives for it. */
struct visited {
	hw_tracer *tr;
	uint64_t last;
	int any;
};

static int visit(void *ctx, uint64_t address, uint32_t site, uint64_t requested)
{
	struct visited *v = ctx;
	uint32_t s;
	uint64_t r;
	if (v->any && address <= v->last)
		abort();
	v->last = address;
	v->any = 1;
	if (hw_tracer_lookup(v->tr, address, &s, &r) != HW_OK || s != site || r != requested)
		abort();
	hw_tracer_weight(v->tr, requested);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	synth_image m = {malloc(size ? size : 1), size};
	memcpy(m.b, data, size);
	hw_read_callbacks cb = {synth_read, &m};
	hw_target *t;
	if (hw_target_open_callback(&t, &cb, 0, NULL) != HW_OK)
		abort();
	hw_mapping mp = {.start = SYNTH_BASE,
	                 .end = SYNTH_BASE + (size ? size : 1),
	                 .perms = HW_PERM_R | HW_PERM_W};
	hw_target_add_mapping(t, &mp);
	hw_tracer *tr;
	if (hw_tracer_open(&tr, t) == HW_OK) {
		struct visited v = {tr, 0, 0};
		hw_tracer_foreach(tr, visit, &v);
		uint64_t n = hw_tracer_get_summary(tr)->sites;
		for (uint32_t s = 0; s <= n + 1 && s < 4096; s++) {
			hw_frame fr[256];
			size_t k = 256;
			hw_tracer_site_frames(tr, s, fr, &k);
		}
		const hw_problem *p;
		hw_tracer_problems(tr, &p);
		hw_tracer_close(tr);
	}
	hw_target_close(t);
	free(m.b);
	return 0;
}

/* The mode-all image with its entry for 0x5000000 written twice, in
 * another slot of its bucket (64 bytes, aligned): as a core taken while
 * the tracer moved that entry shows it. */
static synth_image with_twice(void)
{
	synth_image m = synth_trace(0);
	for (size_t o = 0; o + 16 <= m.len; o += 16) {
		uint64_t key;
		uint32_t site, req;
		memcpy(&key, m.b + o, 8);
		memcpy(&site, m.b + o + 8, 4);
		memcpy(&req, m.b + o + 12, 4);
		if (key != 0x5000000 || site != 1 || req != 100)
			continue;
		for (size_t q = o & ~(size_t)63; q < (o & ~(size_t)63) + 64; q += 16) {
			uint64_t k2;
			memcpy(&k2, m.b + q, 8);
			if (!k2) {
				memcpy(m.b + q, m.b + o, 16);
				return m;
			}
		}
	}
	abort(); /* the image has no such entry with room beside it */
}

size_t fuzz_seeds(uint8_t ***bufs, size_t **lens)
{
	*bufs = malloc(3 * sizeof **bufs);
	*lens = malloc(3 * sizeof **lens);
	synth_image a = synth_trace(0), b = synth_trace(4096), c = with_twice();
	(*bufs)[0] = a.b;
	(*lens)[0] = a.len;
	(*bufs)[1] = b.b;
	(*lens)[1] = b.len;
	(*bufs)[2] = c.b;
	(*lens)[2] = c.len;
	return 3;
}
