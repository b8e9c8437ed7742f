/*
 * walk_glibc.c: test driver for the glibc walker (until coretool's summary
 * and chunks verbs exist): walks a core or a live process and prints the
 * summary, the problems and, with --print, every chunk; with --truth FILE
 * (written by glibc_heap) it checks the walk against that ground truth and
 * exits 1 on any difference.
 *
 *   walk_glibc [--nodebug | --debug-dir DIR] [--print] [--truth FILE]
 *              [--symbols S] [--allow-problems] (--pid PID | CORE)
 *
 * --nodebug points the debuginfo search at /nonexistent (coretool's
 * --debug-dir /nonexistent), so only the heuristics can serve; --debug-dir
 * at DIR alone (another glibc's debug files); --symbols checks which way
 * the walker says it went.
 */
#include "heapwalk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
	uint64_t address, size, arena;
	uint8_t allocator, state, bin;
};

static struct chunk *chunks;
static size_t nchunks, capchunks;
static unsigned long nproblems;
static int print_chunks;

static const char *state_name[] = {"used", "free", "meta", "top"};
static const char *bin_name[] = {"-", "tcache", "fastbin", "unsorted", "small", "large"};

static int on_alloc(void *ctx, const hw_alloc *a)
{
	(void)ctx;
	if (nchunks == capchunks) {
		capchunks = capchunks ? 2 * capchunks : 4096;
		chunks = realloc(chunks, capchunks * sizeof *chunks);
		if (!chunks)
			return 1;
	}
	chunks[nchunks++] =
	    (struct chunk){a->address, a->size, a->arena, a->allocator, a->state, a->bin};
	if (print_chunks)
		printf("chunk 0x%" PRIx64 " %" PRIu64 " %s %s %s arena 0x%" PRIx64 "\n", a->address,
		       a->size, a->allocator == HW_ALLOCATOR_GLIBC_MMAP ? "mmapped" : "glibc",
		       state_name[a->state & 3], a->bin < 6 ? bin_name[a->bin] : "?", a->arena);
	return 0;
}

static void on_problem(void *ctx, const hw_problem *p)
{
	(void)ctx;
	nproblems++;
	printf("problem %s 0x%" PRIx64 " %s\n", p->kind, p->address, p->message);
}

static int cmp_chunk(const void *a, const void *b)
{
	const struct chunk *x = a, *y = b;
	return x->address < y->address ? -1 : x->address > y->address;
}

static const struct chunk *find(uint64_t addr)
{
	size_t lo = 0, hi = nchunks;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (chunks[mid].address < addr)
			lo = mid + 1;
		else if (chunks[mid].address > addr)
			hi = mid;
		else
			return &chunks[mid];
	}
	return NULL;
}

static int check_truth(const char *path, const hw_glibc_summary *s)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("FAIL: cannot open %s\n", path);
		return 1;
	}
	char line[256];
	unsigned long bad = 0, n = 0;
	while (fgets(line, sizeof line, f)) {
		char kind[16], bin[16] = "";
		uint64_t v[10], addr, size;
		if (line[0] == '#')
			continue;
		if (!strncmp(line, "mallinfo2 ", 10)) {
			if (sscanf(line + 10,
			           "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			           " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
			           &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
			           &v[9]) != 10) {
				printf("FAIL: bad truth line: %s", line);
				bad++;
				continue;
			}
			const hw_glibc_mallinfo2 *m = &s->mallinfo2;
			uint64_t got[10] = {m->arena,    m->ordblks, m->smblks,  m->hblks,
			                    m->hblkhd,   m->usmblks, m->fsmblks, m->uordblks,
			                    m->fordblks, m->keepcost};
			static const char *names[10] = {
			    "arena",   "ordblks", "smblks",   "hblks",    "hblkhd",
			    "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"};
			for (int i = 0; i < 10; i++) {
				if (got[i] != v[i]) {
					printf("FAIL: mallinfo2.%s: walker %" PRIu64
					       ", mallinfo2() %" PRIu64 "\n",
					       names[i], got[i], v[i]);
					bad++;
				}
			}
			continue;
		}
		if (sscanf(line, "%15s %" SCNx64 " %" SCNu64 " %15s", kind, &addr, &size, bin) <
		    3) {
			printf("FAIL: bad truth line: %s", line);
			bad++;
			continue;
		}
		n++;
		const struct chunk *c = find(addr);
		int want_state = !strcmp(kind, "free") ? HW_STATE_FREE : HW_STATE_USED;
		int want_alloc =
		    !strcmp(kind, "mmapped") ? HW_ALLOCATOR_GLIBC_MMAP : HW_ALLOCATOR_GLIBC;
		const char *got_bin = c && c->bin < 6 ? bin_name[c->bin] : "?";
		if (!c) {
			printf("FAIL: %s 0x%" PRIx64 " (%" PRIu64 "): not found by the walker\n",
			       kind, addr, size);
			bad++;
		} else if (c->state != want_state || c->allocator != want_alloc ||
		           c->size != size ||
		           (want_state == HW_STATE_FREE && strcmp(got_bin, bin))) {
			printf("FAIL: 0x%" PRIx64 ": truth %s %" PRIu64 " %s, walker %s %s %" PRIu64
			       " %s\n",
			       addr, kind, size, bin,
			       c->allocator == HW_ALLOCATOR_GLIBC_MMAP ? "mmapped" : "glibc",
			       state_name[c->state & 3], c->size, got_bin);
			bad++;
		}
	}
	fclose(f);
	printf("truth: %lu pointers checked, %lu differences\n", n, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *truth = NULL, *core = NULL, *want_symbols = NULL;
	const char *nodebug[] = {"/nonexistent", NULL}, *debug_dir[] = {NULL, NULL};
	hw_target_options opts = {0};
	pid_t pid = 0;
	int allow_problems = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--nodebug"))
			opts.debug_dirs = nodebug;
		else if (!strcmp(argv[i], "--debug-dir") && i + 1 < argc) {
			debug_dir[0] = argv[++i];
			opts.debug_dirs = debug_dir;
		} else if (!strcmp(argv[i], "--print"))
			print_chunks = 1;
		else if (!strcmp(argv[i], "--allow-problems"))
			allow_problems = 1;
		else if (!strcmp(argv[i], "--truth") && i + 1 < argc)
			truth = argv[++i];
		else if (!strcmp(argv[i], "--symbols") && i + 1 < argc)
			want_symbols = argv[++i];
		else if (!strcmp(argv[i], "--pid") && i + 1 < argc)
			pid = (pid_t)atoi(argv[++i]);
		else
			core = argv[i];
	}
	hw_target *t;
	int rc = pid ? hw_target_open_pid(&t, pid, &opts) : hw_target_open_core(&t, core, &opts);
	if (rc) {
		fprintf(stderr, "walk_glibc: %s\n", hw_error_last());
		return 3;
	}
	hw_glibc *g;
	if ((rc = hw_glibc_open(&g, t))) {
		fprintf(stderr, "walk_glibc: %s\n", hw_error_last());
		hw_target_close(t);
		return 3;
	}
	hw_visitor v = {on_alloc, on_problem, NULL};
	rc = hw_glibc_walk(g, &v);
	/* The summary is read before the target is closed (a live process
	 * resumes on close, and the oracle is the paused state). */
	hw_glibc_summary s = *hw_glibc_get_summary(g);
	hw_glibc_close(g);
	hw_target_close(t);
	if (rc) {
		fprintf(stderr, "walk_glibc: walk: %s\n", hw_error_last());
		return 3;
	}
	const hw_glibc_mallinfo2 *m = &s.mallinfo2;
	printf("glibc %s symbols %s arenas %" PRIu64 " system %" PRIu64 "\n", s.version, s.symbols,
	       s.arenas, s.system_bytes);
	printf(
	    "used %" PRIu64 " %" PRIu64 " free %" PRIu64 " %" PRIu64 " tcache %" PRIu64 " %" PRIu64
	    " fastbins %" PRIu64 " %" PRIu64 " mmapped %" PRIu64 " %" PRIu64 " top %" PRIu64 "\n",
	    s.used.count, s.used.bytes, s.free.count, s.free.bytes, s.tcache.count, s.tcache.bytes,
	    s.fastbins.count, s.fastbins.bytes, s.mmapped.count, s.mmapped.bytes, s.top_bytes);
	printf("mallinfo2 %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
	       " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
	       m->arena, m->ordblks, m->smblks, m->hblks, m->hblkhd, m->usmblks, m->fsmblks,
	       m->uordblks, m->fordblks, m->keepcost);
	printf("chunks %zu problems %lu\n", nchunks, nproblems);
	int fail = 0;
	if (want_symbols && strcmp(want_symbols, s.symbols)) {
		printf("FAIL: symbols %s, expected %s\n", s.symbols, want_symbols);
		fail = 1;
	}
	if (nproblems && !allow_problems) {
		printf("FAIL: %lu problems on a healthy heap\n", nproblems);
		fail = 1;
	}
	qsort(chunks, nchunks, sizeof *chunks, cmp_chunk);
	if (truth && check_truth(truth, &s))
		fail = 1;
	free(chunks);
	return fail;
}
