/*
 * mksnap.c: builds a synthetic snapshot through the public builder API and
 * writes it as .hsnap, plus the ground truth it was built from as JSON (every
 * allocation with its site's frames), so that tests can check coretool's
 * views against an independent computation.
 *
 *   mksnap OUT.hsnap TRUTH.json [--seed N] [--count N] [--grow K]
 *          [--no-tracer] [--shuffle]
 *
 * --grow K: the "new" state of the same process: the allocations of the
 * seed minus every 16th small one, plus K allocations of 4072 bytes at the
 * leaking site (leak_a).
 * --shuffle: add allocations out of address order (the builder sorts).
 * --hostile: names a browser would run or break on (a type, a frame's
 * function and file, a problem's message), for the HTML report's escaping.
 */
#include "heapwalk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static uint64_t pick(uint64_t n)
{
	return next() % n;
}

#define N_FRAMES (sizeof pool / sizeof pool[0])
static hw_frame pool[] = {
    {"handle", "app.py", 42, NULL, 0, 0, HW_FRAME_PYTHON},
    {"handle", "app.py", 57, NULL, 0, 0, HW_FRAME_PYTHON},
    {"load", "lib/store.py", 10, NULL, 0, 0, HW_FRAME_PYTHON},
    {"main", "app.py", 99, NULL, 0, 0, HW_FRAME_PYTHON},
    {"_call_with_frames_removed", "<frozen importlib._bootstrap>", 241, NULL, 0, 0,
     HW_FRAME_PYTHON},
    {"get_code", "<frozen importlib._bootstrap_external>", 1016, NULL, 0, 0, HW_FRAME_PYTHON},
    {"parse_row", "src/parse.c", 120, "/usr/lib/libparse.so.1", 0x7f0000001234, 0x1234,
     HW_FRAME_NATIVE},
    {"parse_file", "src/parse.c", 300, "/usr/lib/libparse.so.1", 0x7f0000002000, 0x2000,
     HW_FRAME_NATIVE},
    {NULL, NULL, 0, "/usr/lib/libnodebug.so", 0x7f0000105678, 0x5678, HW_FRAME_NATIVE},
    {"strdup", NULL, 0, "/lib/x86_64-linux-gnu/libc.so.6", 0x7f1000003000, 0x3000, HW_FRAME_NATIVE},
    {"malloc", NULL, 0, "/lib/x86_64-linux-gnu/libc.so.6", 0x7f1000001000, 0x1000, HW_FRAME_NATIVE},
    {"PyObject_Malloc", NULL, 0, "/usr/bin/python3.11", 0x5000001000, 0x1000, HW_FRAME_NATIVE},
    {"hw_trace_malloc", "tracer/hooks.c", 88, "/usr/lib/heapwalk/libheapwalk-trace.so",
     0x7f2000000100, 0x100, HW_FRAME_NATIVE},
    {"leak_a", "leaky.c", 12, "/tmp/leaky", 0x401000, 0x1000, HW_FRAME_NATIVE},
    {"main", "leaky.c", 40, "/tmp/leaky", 0x401100, 0x1100, HW_FRAME_NATIVE},
    {NULL, NULL, 0, NULL, 0xdead0000, 0, HW_FRAME_NATIVE},
    {"weird \"name\", with comma", "dir with space/x.py", 3, NULL, 0, 0, HW_FRAME_PYTHON},
};

#define N_SITES 40
static hw_frame sites[N_SITES][8];
static size_t site_n[N_SITES];
static uint32_t site_id[N_SITES];

static const char *types[] = {NULL, "dict", "list", "myapp.Request", "Foo::Bar", "str"};
static uint32_t type_id[sizeof types / sizeof types[0]];
static const uint64_t arenas[] = {0x7ffff7e19c80, 0x7ffff0000030, 0x7fffe8000030};
static const uint64_t sizes[] = {24, 40, 56, 88, 120, 1000, 4072, 16, 32, 48, 512, 200000};

typedef struct rec {
	hw_alloc a;
	int type, site; /* indexes into types[] and sites[] (-1: none) */
} rec;

static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void make_sites(void)
{
	for (int i = 0; i < N_SITES; i++) {
		size_t n = 0;
		/* some stacks start in the tracer and the allocator, as recorded */
		if (pick(4) == 0)
			sites[i][n++] = pool[12];
		if (pick(3) == 0)
			sites[i][n++] = pool[10 + pick(2)];
		size_t more = 1 + pick(5);
		for (size_t k = 0; k < more && n < 8; k++) {
			size_t f = pick(N_FRAMES);
			if (f == 12 || f == 10)
				f = 0;
			sites[i][n++] = pool[f];
		}
		site_n[i] = n;
	}
	/* the leaking site: leak_a <- main, exactly */
	site_n[0] = 2;
	sites[0][0] = pool[13];
	sites[0][1] = pool[14];
}

static rec make_alloc(uint64_t *addr)
{
	rec r = {0};
	*addr += 16 * (1 + pick(64));
	unsigned al = (unsigned)pick(20);
	r.a.allocator = al < 12   ? HW_ALLOCATOR_GLIBC
	                : al < 13 ? HW_ALLOCATOR_GLIBC_MMAP
	                          : HW_ALLOCATOR_PYMALLOC;
	r.a.address = *addr;
	r.a.size = sizes[pick(sizeof sizes / sizeof sizes[0])];
	r.a.state = pick(5) == 0 ? HW_STATE_FREE : HW_STATE_USED;
	if (r.a.allocator == HW_ALLOCATOR_GLIBC)
		r.a.arena = arenas[pick(3)];
	if (r.a.state == HW_STATE_FREE)
		r.a.bin = r.a.allocator == HW_ALLOCATOR_GLIBC ? (uint8_t)(1 + pick(5)) : 0;
	r.type = r.a.state == HW_STATE_USED ? (int)pick(sizeof types / sizeof types[0]) : 0;
	/* site 0 is the leak: only --grow allocates there */
	r.site = r.a.state == HW_STATE_USED && pick(10) ? 1 + (int)pick(N_SITES - 1) : -1;
	return r;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: mksnap OUT.hsnap TRUTH.json [--seed N] [--count N] "
		                "[--grow K] [--no-tracer] [--shuffle] [--hostile]\n");
		return 2;
	}
	uint64_t seed = 1, count = 2000, grow = 0;
	int tracer = 1, shuffle = 0, has_grow = 0, hostile = 0;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--grow") && i + 1 < argc) {
			grow = strtoull(argv[++i], NULL, 0);
			has_grow = 1;
		} else if (!strcmp(argv[i], "--no-tracer"))
			tracer = 0;
		else if (!strcmp(argv[i], "--shuffle"))
			shuffle = 1;
		else if (!strcmp(argv[i], "--hostile"))
			hostile = 1;
		else {
			fprintf(stderr, "mksnap: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (hostile) {
		types[5] = "<script>alert(\"type\")</script>";
		pool[0].function = "<img src=x onerror=alert(1)>";
		pool[0].file = "a&b<c>'d'.py";
	}
	rng = seed * 2654435761u + 88172645463325252ull;
	make_sites();
	size_t cap = count + grow + 1;
	rec *recs = calloc(cap, sizeof *recs);
	size_t n = 0;
	uint64_t addr = 0x555555560000;
	for (uint64_t i = 0; i < count; i++) {
		rec r = make_alloc(&addr);
		if (has_grow && i % 16 == 5 && r.a.size < 4096)
			continue; /* freed since */
		recs[n++] = r;
	}
	for (uint64_t i = 0; i < grow; i++) {
		rec r = make_alloc(&addr);
		r.a.state = HW_STATE_USED;
		r.a.bin = 0;
		r.a.allocator = HW_ALLOCATOR_GLIBC;
		r.a.arena = arenas[0];
		r.a.size = 4072;
		r.site = 0;
		r.type = 0;
		recs[n++] = r;
	}
	if (!tracer)
		for (size_t i = 0; i < n; i++)
			recs[i].site = -1;

	hw_snapshot *s;
	if (hw_snapshot_new(&s) ||
	    hw_snapshot_set_target(s, "core", "/tmp/synthetic.core", 4242, "/tmp/leaky")) {
		fprintf(stderr, "mksnap: %s\n", hw_error_last());
		return 1;
	}
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		hw_snapshot_add_type(s, types[i], &type_id[i]);
	if (tracer)
		for (int i = 0; i < N_SITES; i++)
			hw_snapshot_add_site(s, sites[i], site_n[i], &site_id[i]);
	/* --shuffle: add in a scrambled order; the snapshot sorts by address */
	size_t *order = malloc(n * sizeof *order);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	if (shuffle)
		for (size_t i = n; i > 1; i--) {
			size_t j = pick(i), t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
	for (size_t k = 0; k < n; k++) {
		const rec *r = &recs[order[k]];
		if (hw_snapshot_add_alloc(s, &r->a, type_id[r->type],
		                          r->site >= 0 ? site_id[r->site] : 0)) {
			fprintf(stderr, "mksnap: %s\n", hw_error_last());
			return 1;
		}
	}
	hw_glibc_summary g = {.version = "2.36",
	                      .symbols = "debuginfo",
	                      .arenas = 3,
	                      .system_bytes = 1 << 20,
	                      .used = {n, 12345},
	                      .free = {7, 890},
	                      .tcache = {3, 96},
	                      .fastbins = {2, 64},
	                      .mmapped = {1, 204800},
	                      .top_bytes = 4096,
	                      .mallinfo2 = {1 << 20, 10, 2, 1, 204800, 0, 64, 1000, 2000, 4096}};
	hw_snapshot_set_glibc_summary(s, &g);
	hw_pymalloc_summary p = {.python_version = "3.11.2",
	                         .symbols = "heuristic",
	                         .arenas = 2,
	                         .pools = 9,
	                         .blocks_in_use = 100,
	                         .bytes_in_use = 3200,
	                         .free_blocks = 50,
	                         .n_size_classes = 2};
	p.size_classes[0] = (hw_pymalloc_size_class){16, 4, 60, 20};
	p.size_classes[1] = (hw_pymalloc_size_class){32, 5, 40, 30};
	hw_snapshot_set_pymalloc_summary(s, &p);
	if (tracer) {
		hw_tracer_summary t = {.mode = "all", .live_allocations = n, .sites = N_SITES};
		hw_snapshot_set_tracer_summary(s, &t);
	}
	hw_problem pr1 = {"bad-size", 0x555555561000, "chunk size 0x7 is not aligned"};
	hw_problem pr2 = {"free-list-cycle", 0x7ffff7e19d00, "tcache bin 3 loops after 7 entries"};
	hw_snapshot_add_problem(s, &pr1);
	hw_snapshot_add_problem(s, &pr2);
	if (hostile) {
		hw_problem pr3 = {"bad-size", 0x555555562000, "</pre><script>alert(2)</script>"};
		hw_snapshot_add_problem(s, &pr3);
	}
	if (hw_snapshot_finish(s) || hw_snapshot_save(s, argv[1])) {
		fprintf(stderr, "mksnap: %s: %s\n", argv[1], hw_error_last());
		return 1;
	}
	hw_snapshot_free(s);

	FILE *f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	fputs("{\"sites\": [", f);
	for (int i = 0; i < N_SITES; i++) {
		fputs(i ? ",\n [" : "\n [", f);
		for (size_t k = 0; k < site_n[i]; k++) {
			const hw_frame *fr = &sites[i][k];
			fputs(k ? ", {\"function\": " : "{\"function\": ", f);
			json_str(f, fr->function);
			fputs(", \"file\": ", f);
			json_str(f, fr->file);
			fprintf(f, ", \"line\": %d, \"module\": ", fr->line);
			json_str(f, fr->module);
			fprintf(f,
			        ", \"pc\": %" PRIu64 ", \"module_offset\": %" PRIu64
			        ", \"kind\": \"%s\"}",
			        fr->pc, fr->module_offset,
			        fr->kind == HW_FRAME_PYTHON ? "python" : "native");
		}
		fputc(']', f);
	}
	fputs("],\n\"allocs\": [", f);
	for (size_t i = 0; i < n; i++) {
		const rec *r = &recs[i];
		fprintf(f,
		        "%s\n {\"address\": %" PRIu64 ", \"size\": %" PRIu64
		        ", \"state\": %u, \"allocator\": %u, \"arena\": %" PRIu64
		        ", \"bin\": %u, \"type\": ",
		        i ? "," : "", r->a.address, r->a.size, r->a.state, r->a.allocator,
		        r->a.arena, r->a.bin);
		json_str(f, types[r->type]);
		fprintf(f, ", \"site\": %d}", r->site);
	}
	fputs("]}\n", f);
	fclose(f);
	free(recs);
	free(order);
	return 0;
}
