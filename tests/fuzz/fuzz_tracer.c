/*
 * fuzz_tracer.c: the tracer table reader on arbitrary bytes: the input is
 * the memory at SYNTH_BASE of a callback target (seeds: the synthetic
 * images of synthtrace.h, mode all and sampled).  Opening, iterating,
 * looking up and resolving every site's frames must never crash, hang or
 * grow without bound.
 */
#include "heapwalk.h"
#include "synthtrace.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seeds(uint8_t ***bufs, size_t **lens);

static int visit(void *ctx, uint64_t address, uint32_t site, uint64_t requested)
{
	hw_tracer *tr = ctx;
	uint32_t s;
	uint64_t r;
	hw_tracer_lookup(tr, address, &s, &r);
	hw_tracer_weight(tr, requested);
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
		hw_tracer_foreach(tr, visit, tr);
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

size_t fuzz_seeds(uint8_t ***bufs, size_t **lens)
{
	*bufs = malloc(2 * sizeof **bufs);
	*lens = malloc(2 * sizeof **lens);
	synth_image a = synth_trace(0), b = synth_trace(4096);
	(*bufs)[0] = a.b;
	(*lens)[0] = a.len;
	(*bufs)[1] = b.b;
	(*lens)[1] = b.len;
	return 2;
}
