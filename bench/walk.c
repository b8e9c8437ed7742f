/*
 * walk.c: how long the glibc walker takes on a core (open, locate, walk
 * every chunk through a counting visitor), against reading the core's
 * anonymous writable segments once (hw_read in 1 MiB blocks from the
 * mmapped core, warm cache), in the same run.  Also the walker's peak
 * heap use per chunk (mallinfo2 of this process, sampled during the walk).
 * usage: walk CORE [ROUNDS] [--nodebug]
 */
#include "heapwalk.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this process: the machine is shared, and wall time there
 * measures the neighbours as much as the walk. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t nrec, base_mem, peak_mem;

static uint64_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static int on_alloc(void *ctx, const hw_alloc *a)
{
	(void)ctx;
	(void)a;
	if ((++nrec & 0xffff) == 0) {
		uint64_t m = heap_in_use();
		if (m > peak_mem)
			peak_mem = m;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	const char *nodebug[] = {"/nonexistent", NULL};
	hw_target_options opts = {0};
	if (argc > 3 && !strcmp(argv[3], "--nodebug"))
		opts.debug_dirs = nodebug;
	double best = 1e9, best_read = 1e9, best_open = 1e9;
	uint64_t chunks = 0, bytes_read = 0, per_chunk = 0;
	static char buf[1 << 20];
	for (int i = 0; i < rounds; i++) {
		hw_target *t;
		hw_glibc *g;
		base_mem = peak_mem = heap_in_use();
		double a = now();
		if (hw_target_open_core(&t, argv[1], &opts) || hw_glibc_open(&g, t)) {
			fprintf(stderr, "walk: %s\n", hw_error_last());
			return 3;
		}
		double opened = now() - a;
		if (opened < best_open)
			best_open = opened;
		hw_visitor v = {on_alloc, NULL, NULL};
		nrec = 0;
		if (hw_glibc_walk(g, &v)) {
			fprintf(stderr, "walk: %s\n", hw_error_last());
			return 3;
		}
		uint64_t m = heap_in_use();
		if (m > peak_mem)
			peak_mem = m;
		hw_glibc_close(g);
		double d = now() - a;
		if (d < best)
			best = d;
		chunks = nrec;
		per_chunk = chunks ? (peak_mem - base_mem) / chunks : 0;

		/* the peer: read the anonymous writable segments once */
		const hw_mapping *mp;
		size_t n = hw_target_mappings(t, &mp);
		a = now();
		bytes_read = 0;
		for (size_t k = 0; k < n; k++) {
			if (mp[k].path || (mp[k].perms & 3) != 3)
				continue;
			for (uint64_t x = mp[k].start; x < mp[k].start + mp[k].core_bytes;
			     x += sizeof buf) {
				size_t len = sizeof buf;
				if (x + len > mp[k].start + mp[k].core_bytes)
					len = mp[k].start + mp[k].core_bytes - x;
				if (hw_read(t, x, buf, len) == HW_OK)
					bytes_read += len;
			}
		}
		d = now() - a;
		if (d < best_read)
			best_read = d;
		hw_target_close(t);
	}
	printf("glibc walk: %" PRIu64 " chunks in %.3f s (%.0f ns/chunk), best of %d\n", chunks,
	       best, best * 1e9 / (double)(chunks ? chunks : 1), rounds);
	printf("  of which opening the core and locating malloc: %.3f s\n", best_open);
	printf("read anonymous rw segments once: %.1f MiB in %.3f s\n",
	       (double)bytes_read / 1048576.0, best_read);
	printf("ratio walk / read: %.2f\n", best / best_read);
	printf("walker heap: %" PRIu64 " bytes per chunk at peak\n", per_chunk);
	return 0;
}
