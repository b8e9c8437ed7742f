/*
 * walk_pymalloc.c: test driver of the pymalloc walker and the typer, for
 * the integration tests (tests/integration/pymalloc_*.sh), independent of
 * coretool's views.
 *
 *   walk_pymalloc [--types] [--glibc] [--heuristic] [--debug-dir DIR] CORE | --pid PID
 *   walk_pymalloc --name LIST CORE | --pid PID
 *
 * Prints, one fact per line, in sys._debugmallocstats()'s terms:
 *   python 3.11.7 / symbols symtab / arenas N / pools N / blocks_in_use N /
 *   free_blocks N / bytes_in_use N
 *   class IDX SIZE POOLS IN_USE AVAIL        (classes with pools only)
 *   records used N free N top N              (the visitor's view)
 *   problem KIND 0xADDR MESSAGE
 * --types adds "type NAME COUNT" for every used block (and with --glibc
 * every used glibc chunk, when the glibc walker is there), "?" for unknown.
 * --heuristic walks the state found by the symbol-free pool scan (the
 * version still comes from the normal detection), without types.
 * --name LIST reads "ADDRESS SIZE" lines (glibc allocations) and prints
 * "name ADDRESS NAME" for each.  --debug-dir DIR looks for separate debug
 * files there alone (another CPython's, python_versions.sh).
 */
#include "heapwalk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tally {
	hw_typer *typer;
	int types;
	uint64_t used, free_, top;
	/* type histogram: a small open table keyed by the name pointer (the
	 * typer returns one pointer per name) */
	struct {
		const char *name;
		uint64_t count;
	} * h;
	size_t hcap, hused;
	uint64_t unknown;
};

static void count_type(struct tally *t, const char *name)
{
	if (!name) {
		t->unknown++;
		return;
	}
	if (t->hused * 2 >= t->hcap) {
		size_t nc = t->hcap ? t->hcap * 2 : 1024;
		__typeof__(t->h) nh = calloc(nc, sizeof *nh);
		if (!nh)
			abort();
		for (size_t i = 0; i < t->hcap; i++)
			if (t->h[i].name) {
				size_t j = ((uintptr_t)t->h[i].name >> 3) & (nc - 1);
				while (nh[j].name)
					j = (j + 1) & (nc - 1);
				nh[j] = t->h[i];
			}
		free(t->h);
		t->h = nh, t->hcap = nc;
	}
	size_t j = ((uintptr_t)name >> 3) & (t->hcap - 1);
	while (t->h[j].name && t->h[j].name != name)
		j = (j + 1) & (t->hcap - 1);
	if (!t->h[j].name) {
		t->h[j].name = name;
		t->hused++;
	}
	t->h[j].count++;
}

static int on_alloc(void *ctx, const hw_alloc *a)
{
	struct tally *t = ctx;
	if (a->state == HW_STATE_USED) {
		if (a->allocator == HW_ALLOCATOR_PYMALLOC)
			t->used++;
		if (t->types)
			count_type(t, hw_typer_name(t->typer, a));
	} else if (a->allocator == HW_ALLOCATOR_PYMALLOC) {
		if (a->state == HW_STATE_FREE)
			t->free_++;
		else
			t->top++;
	}
	return 0;
}

static void on_problem(void *ctx, const hw_problem *p)
{
	printf("problem %s 0x%" PRIx64 " %s\n", p->kind, p->address, p->message);
}

static int usage(void)
{
	fprintf(stderr, "usage: walk_pymalloc [--types] [--glibc] [--name LIST] [--debug-dir DIR] "
	                "CORE|--pid PID\n");
	return 2;
}

int main(int argc, char **argv)
{
	int types = 0, glibc = 0, heuristic = 0;
	const char *core = NULL, *names = NULL, *debug_dir[] = {NULL, NULL};
	hw_target_options opts = {0};
	pid_t pid = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--types"))
			types = 1;
		else if (!strcmp(argv[i], "--glibc"))
			glibc = 1;
		else if (!strcmp(argv[i], "--heuristic"))
			heuristic = 1;
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			names = argv[++i];
		else if (!strcmp(argv[i], "--pid") && i + 1 < argc)
			pid = (pid_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--debug-dir") && i + 1 < argc) {
			debug_dir[0] = argv[++i];
			opts.debug_dirs = debug_dir;
		} else if (argv[i][0] != '-' && !core)
			core = argv[i];
		else
			return usage();
	}
	if (!core == !pid)
		return usage();

	hw_target *t;
	int rc = core ? hw_target_open_core(&t, core, &opts) : hw_target_open_pid(&t, pid, &opts);
	if (rc) {
		fprintf(stderr, "walk_pymalloc: %s\n", hw_error_last());
		return 3;
	}
	hw_pymalloc *py = NULL;
	rc = hw_pymalloc_open(&py, t);
	if (rc) {
		/* A C++ program has no CPython: fine for --name and --glibc. */
		if (!names && !glibc) {
			fprintf(stderr, "walk_pymalloc: %s\n", hw_error_last());
			hw_target_close(t);
			return 3;
		}
		printf("python none: %s\n", hw_error_last());
	}
	if (py && heuristic) {
		unsigned minor = 0;
		sscanf(hw_pymalloc_get_summary(py)->python_version, "3.%u", &minor);
		hw_pymalloc_close(py);
		if (hw_pymalloc_open_state(&py, t, minor, 0, 0)) {
			fprintf(stderr, "walk_pymalloc: %s\n", hw_error_last());
			return 3;
		}
		types = 0;
	}
	struct tally tl = {.types = types};
	if (hw_typer_new(&tl.typer, t, py)) {
		fprintf(stderr, "walk_pymalloc: %s\n", hw_error_last());
		return 3;
	}

	if (names) {
		FILE *f = fopen(names, "r");
		if (!f) {
			perror(names);
			return 3;
		}
		uint64_t addr, size;
		while (fscanf(f, "%" SCNx64 " %" SCNu64 "%*[^\n]", &addr, &size) == 2) {
			hw_alloc a = {.address = addr,
			              .size = size,
			              .allocator = HW_ALLOCATOR_GLIBC,
			              .state = HW_STATE_USED};
			const char *n = hw_typer_name(tl.typer, &a);
			printf("name 0x%" PRIx64 " %s\n", addr, n ? n : "?");
		}
		fclose(f);
	}

	if (py) {
		hw_visitor v = {.alloc = on_alloc, .problem = on_problem, .ctx = &tl};
		rc = hw_pymalloc_walk(py, &v);
		if (rc) {
			fprintf(stderr, "walk_pymalloc: %s\n", hw_error_last());
			return 3;
		}
		const hw_pymalloc_summary *s = hw_pymalloc_get_summary(py);
		printf("python %s\nsymbols %s\narenas %" PRIu64 "\npools %" PRIu64
		       "\nblocks_in_use %" PRIu64 "\nfree_blocks %" PRIu64 "\nbytes_in_use %" PRIu64
		       "\n",
		       s->python_version, s->symbols, s->arenas, s->pools, s->blocks_in_use,
		       s->free_blocks, s->bytes_in_use);
		for (uint32_t i = 0; i < s->n_size_classes; i++)
			if (s->size_classes[i].pools)
				printf("class %u %u %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", i,
				       s->size_classes[i].size, s->size_classes[i].pools,
				       s->size_classes[i].blocks_in_use,
				       s->size_classes[i].free_blocks);
		printf("records used %" PRIu64 " free %" PRIu64 " top %" PRIu64 "\n", tl.used,
		       tl.free_, tl.top);
	}
	if (glibc && types) {
		hw_glibc *g;
		if (hw_glibc_open(&g, t) == HW_OK) {
			hw_visitor v = {.alloc = on_alloc, .problem = NULL, .ctx = &tl};
			if (hw_glibc_walk(g, &v) == HW_OK)
				printf("glibc walked\n");
			hw_glibc_close(g);
		} else {
			printf("glibc unavailable: %s\n", hw_error_last());
		}
	}
	if (types) {
		for (size_t i = 0; i < tl.hcap; i++)
			if (tl.h[i].name)
				printf("type %s %" PRIu64 "\n", tl.h[i].name, tl.h[i].count);
		printf("type ? %" PRIu64 "\n", tl.unknown);
	}
	free(tl.h);
	hw_typer_free(tl.typer);
	hw_pymalloc_close(py);
	hw_target_close(t);
	return 0;
}
