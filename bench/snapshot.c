/*
 * snapshot.c: the snapshot model's speed and size on N synthetic
 * allocations (default 10 million): building, grouping by every key, the
 * diff of two snapshots, .hsnap write and read, memory and file bytes per
 * allocation.  Prints each figure next to its goal (issue 5); never asserts.
 *
 *     bench/snapshot [N] [DIR]     (DIR: where the .hsnap files go, default /tmp)
 */
#include "heapwalk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this process (all threads): the wall clock on a shared,
 * loaded machine also counts time spent waiting for a core. */
static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

enum { N_SITES = 5000, N_TYPES = 200 };

/* A heap that looks like a service's: a few arenas, a skewed size mix,
 * sites and types with a long tail. */
static hw_snapshot *build(size_t n, uint64_t seed, size_t extra)
{
	rng = seed;
	hw_snapshot *s;
	if (hw_snapshot_new(&s))
		exit(1);
	uint32_t *types = malloc(N_TYPES * sizeof *types), *sites = malloc(N_SITES * sizeof *sites);
	char name[64], file[64];
	for (int i = 0; i < N_TYPES; i++) {
		snprintf(name, sizeof name, "module%d.Class%d", i % 17, i);
		hw_snapshot_add_type(s, name, &types[i]);
	}
	for (int i = 0; i < N_SITES; i++) {
		hw_frame fr[6];
		int nf = 1 + (int)(next() % 6);
		for (int k = 0; k < nf; k++) {
			snprintf(name, sizeof name, "func%d", (int)(next() % 2000));
			snprintf(file, sizeof file, "pkg/mod%d.py", (int)(next() % 300));
			fr[k] = (hw_frame){.function = strdup(name),
			                   .file = strdup(file),
			                   .line = (int)(next() % 900) + 1,
			                   .kind = HW_FRAME_PYTHON};
		}
		hw_snapshot_add_site(s, fr, (size_t)nf, &sites[i]);
		for (int k = 0; k < nf; k++) {
			free((char *)fr[k].function);
			free((char *)fr[k].file);
		}
	}
	static const uint64_t arenas[] = {0x7ffff7e19c80, 0x7ffff0000030, 0x7fffe8000030,
	                                  0x7fffe0000030};
	uint64_t addr = 0x555555560000;
	for (size_t i = 0; i < n + extra; i++) {
		uint64_t r = next();
		hw_alloc a = {0};
		addr += 16 * (1 + (r & 15));
		a.address = addr;
		unsigned al = (unsigned)((r >> 4) % 10);
		a.allocator = al < 5   ? HW_ALLOCATOR_GLIBC
		              : al < 6 ? HW_ALLOCATOR_GLIBC_MMAP
		                       : HW_ALLOCATOR_PYMALLOC;
		a.size = a.allocator == HW_ALLOCATOR_PYMALLOC ? 16 * (1 + ((r >> 8) & 31))
		                                              : 24 + 16 * ((r >> 8) % 200);
		a.state = (r >> 16) % 8 == 0 ? HW_STATE_FREE : HW_STATE_USED;
		if (a.allocator == HW_ALLOCATOR_GLIBC)
			a.arena = arenas[(r >> 20) & 3];
		/* skewed: a few sites and types take most allocations */
		uint32_t site = sites[((r >> 24) % N_SITES) * ((r >> 40) % 4 == 0) +
		                      ((r >> 44) % 16) * ((r >> 40) % 4 != 0)];
		uint32_t type = types[((r >> 32) % N_TYPES) * ((r >> 48) % 2)];
		if (a.state == HW_STATE_FREE)
			site = type = 0;
		if (hw_snapshot_add_alloc(s, &a, type, site))
			exit(1);
	}
	free(types);
	free(sites);
	hw_snapshot_finish(s);
	return s;
}

static const char *const keys[] = {"allocator", "size",     "type",   "site", "function",
                                   "lineno",    "filename", "module", "arena"};

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 10000000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	char path[4096];
	snprintf(path, sizeof path, "%s/bench-snapshot-%d.hsnap", dir, (int)getpid());

	double t0 = now();
	hw_snapshot *a = build(n, 1, 0);
	double t1 = now();
	printf("allocations:          %zu\n", n);
	printf("build:                %.2f s (%.0f ns per allocation)\n", t1 - t0,
	       (t1 - t0) * 1e9 / (double)n);
	printf("memory:               %.1f bytes per allocation (goal < 32)\n",
	       (double)hw_snapshot_memory(a) / (double)n);

	hw_view_options o;
	hw_view_options_init(&o);
	double worst = 0;
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		o.group_by = (hw_group_key)(k + 1);
		hw_grouping *g;
		double g0 = now();
		if (hw_snapshot_group(&g, a, &o))
			return 1;
		double g1 = now();
		printf("group by %-12s %.3f s, %zu groups\n", keys[k], g1 - g0,
		       hw_grouping_count(g));
		if (g1 - g0 > worst)
			worst = g1 - g0;
		hw_grouping_free(g);
	}
	printf("group, slowest key:   %.3f s (goal < 1 s)\n", worst);

	/* the same process later: a different mix, 10%% more allocations */
	hw_snapshot *b = build(n, 1, n / 10);
	o.group_by = HW_GROUP_SITE;
	hw_diff *d;
	double d0 = now();
	if (hw_snapshot_diff(&d, a, b, &o))
		return 1;
	double d1 = now();
	printf("diff by site:         %.3f s, %zu groups (goal < 2 s)\n", d1 - d0,
	       hw_diff_count(d));
	hw_diff_free(d);
	o.group_by = HW_GROUP_SIZE;
	d0 = now();
	if (hw_snapshot_diff(&d, a, b, &o))
		return 1;
	d1 = now();
	printf("diff by size:         %.3f s, %zu groups (goal < 2 s)\n", d1 - d0,
	       hw_diff_count(d));
	hw_diff_free(d);
	hw_snapshot_free(b);

	double w0 = now(), wc0 = cpu();
	if (hw_snapshot_save(a, path)) {
		fprintf(stderr, "save: %s\n", hw_error_last());
		return 1;
	}
	double w1 = now(), wc1 = cpu();
	struct stat st;
	stat(path, &st);
	hw_snapshot *r;
	double r0 = now(), rc0 = cpu();
	if (hw_snapshot_load(&r, path)) {
		fprintf(stderr, "load: %s\n", hw_error_last());
		return 1;
	}
	double r1 = now(), rc1 = cpu();
	printf(".hsnap write:         %.3f s wall, %.3f s CPU (goal < 1 s)\n", w1 - w0, wc1 - wc0);
	printf(".hsnap read:          %.3f s wall, %.3f s CPU (goal < 1 s)\n", r1 - r0, rc1 - rc0);
	printf(".hsnap size:          %lld bytes, %.2f bytes per allocation (goal < 6)\n",
	       (long long)st.st_size, (double)st.st_size / (double)n);
	if (hw_snapshot_count(r) != n)
		printf("MISMATCH: read %zu allocations\n", hw_snapshot_count(r));
	hw_snapshot_free(r);
	hw_snapshot_free(a);
	unlink(path);
	return 0;
}
