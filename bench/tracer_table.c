/*
 * tracer_table.c: the tracer's live table (tracer/live.c) alone, driven the
 * way the C loop of bench/tracer.sh drives it: LIVE slots, each step frees
 * a random slot's block (a removal) and puts a new one there (an insert),
 * addresses 16-byte aligned and spaced like glibc chunks of 32..1040 bytes,
 * half of them reused.  Prints the best of five rounds in ns per removal
 * and insert, for a quick A/B of table changes (whole-program timings on a
 * shared machine move by 20-40%; this moves by a few %).
 *
 *   tracer_table [N [LIVE...]]     defaults 4000000 10000 100000 1000000
 */
#include "tracer.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* What live.c needs from the rest of the tracer. */
struct hwt_root *hwt_root;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(size_t live, size_t n)
{
	hwt_root = calloc(1, sizeof *hwt_root);
	uint64_t *slots = calloc(live, sizeof *slots);
	if (!hwt_root || !slots) {
		fprintf(stderr, "tracer_table: out of memory\n");
		exit(1);
	}
	uint64_t rng = 88172645463325252ull, next = 0x555500000000ull;
	struct hwt_live_entry old;
	double best = 1e9;
	for (int round = 0; round < 5; round++) {
		double a = now();
		for (size_t i = 0; i < n; i++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			size_t k = rng % live;
			uint64_t p = slots[k];
			if (p)
				hwt_live_remove(p, &old);
			if (!p || (rng >> 40) % 2)
				p = next += 32 + ((rng >> 32) % 1009 & ~15ull);
			hwt_live_insert(p, 1 + (uint32_t)(rng % 1000), 100);
			slots[k] = p;
		}
		double d = now() - a;
		if (d < best)
			best = d;
	}
	for (unsigned s = 0; s < HWT_SHARDS; s++) {
		struct hwt_shard *sh = &hwt_root->shards[s];
		if (sh->table)
			hwt_unmap((void *)(uintptr_t)sh->table,
			          sh->capacity * sizeof(struct hwt_live_entry));
	}
	free(slots);
	free(hwt_root);
	return best / (double)n * 1e9;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000000;
	size_t dflt[] = {10000, 100000, 1000000};
	int k = argc > 2 ? argc - 2 : 3;
	for (int i = 0; i < k; i++) {
		size_t live = argc > 2 ? strtoull(argv[i + 2], NULL, 10) : dflt[i];
		if (!live)
			continue;
		printf("  live table alone: %.1f ns per removal and insert (%zu live, best of 5)\n",
		       run(live, n), live);
	}
	return 0;
}
