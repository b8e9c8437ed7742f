/*
 * glibc_heap.c: builds a known glibc heap, writes its ground truth, then
 * dumps core (abort) or waits to be examined (live, gcore).
 *
 *     glibc_heap TRUTH_FILE [core|pause|fork|scribble|exitmain]
 *
 * The truth file (written with write(2), formatted from a buffer that is
 * mmapped, never malloc'd, so the bookkeeping leaves the heap untouched):
 *     mallinfo2 ARENA ORDBLKS SMBLKS HBLKS HBLKHD USMBLKS FSMBLKS UORDBLKS FORDBLKS KEEPCOST
 *     used ADDRESS USABLE        a pointer the program holds (malloc_usable_size)
 *     mmapped ADDRESS USABLE     a held pointer whose chunk is mmapped
 *     free ADDRESS USABLE BIN    a freed chunk still on a free list
 * Free records are only written where glibc's behaviour makes the bin
 * certain: the chunk's physical neighbours are checked to be held guards
 * (no consolidation), and no malloc runs in that arena after the frees.
 *
 * What it builds: the main thread does mmapped chunks (before and after the
 * dynamic mmap threshold moved, calloc, memalign'd), then tcache (full and
 * partial), fastbins, small, large and unsorted bins and one consolidation
 * in the main arena.  Three threads with their own arenas (unless
 * MALLOC_ARENA_MAX=1): T1 memalign/posix_memalign/aligned_alloc, calloc,
 * realloc grow in place / shrink / move and a partial tcache; T2 more than
 * HEAP_MAX_SIZE so its arena has two heaps, and unsorted chunks; T3 random
 * churn.  Threads run one after the other and then block, so the heap is
 * the same on every run (addresses aside).  "fork": the child of a fork
 * (one thread left, the others' tcaches orphaned) takes a chunk from its
 * tcache, unmaps a mmapped chunk and dumps core.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { R_USED, R_MMAPPED, R_FREE };

struct rec {
	uintptr_t addr;
	size_t size;
	unsigned char kind;
	unsigned char owner; /* 0 main thread, 1..3 threads */
	const char *bin;     /* free records */
};

#define MAX_RECS 8192
static struct rec *recs;
static size_t nrecs;
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static int arena_max_one;

static void add(void *p, size_t size, int kind, int owner, const char *bin)
{
	pthread_mutex_lock(&rec_lock);
	if (nrecs < MAX_RECS)
		recs[nrecs++] = (struct rec){(uintptr_t)p, size, (unsigned char)kind,
		                             (unsigned char)owner, bin};
	pthread_mutex_unlock(&rec_lock);
}

/* mchunk_size of a non-mmapped chunk (malloc.c: usable = size - SIZE_SZ). */
static size_t chunk_head(void *p)
{
	/* Through an integer: the header is outside the object malloc gave. */
	return *(volatile size_t *)((uintptr_t)p - sizeof(size_t));
}
static size_t csize(void *p)
{
	return chunk_head(p) & ~(size_t)7;
}
static int is_mmapped(void *p)
{
	return (chunk_head(p) & 2) != 0;
}

static void held(void *p, int owner)
{
	add(p, malloc_usable_size(p), is_mmapped(p) ? R_MMAPPED : R_USED, owner, NULL);
}

/* A chunk of `size` bytes whose physical neighbours are held guards, so
 * freeing it never consolidates.  Misplaced tries stay held. */
/* The heap the program meant to build, or no truth file: an abort()
 * before it is written (the test then fails on the missing truth, with
 * this line on stderr) rather than a truth for other cases than claimed. */
static void expect(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "glibc_heap: not as meant: %s\n", what);
	abort();
}

static void *guarded(size_t size, int owner)
{
	for (int i = 0; i < 64; i++) {
		void *g1 = malloc(24), *p = malloc(size), *g2 = malloc(24);
		held(g1, owner);
		held(g2, owner);
		if ((char *)g1 + csize(g1) == (char *)p && (char *)p + csize(p) == (char *)g2)
			return p;
		held(p, owner);
	}
	abort();
}

/* Two adjacent chunks between guards. */
static void guarded_pair(size_t size, void **a, void **b, int owner)
{
	for (int i = 0; i < 64; i++) {
		void *g1 = malloc(24), *p = malloc(size), *q = malloc(size), *g2 = malloc(24);
		held(g1, owner);
		held(g2, owner);
		if ((char *)g1 + csize(g1) == (char *)p && (char *)p + csize(p) == (char *)q &&
		    (char *)q + csize(q) == (char *)g2) {
			*a = p;
			*b = q;
			return;
		}
		held(p, owner);
		held(q, owner);
	}
	abort();
}

/* ---- threads, run one at a time ---- */

static int block_pipe[2];

static void block_forever(void)
{
	char c;
	for (;;)
		if (read(block_pipe[0], &c, 1) <= 0 && errno != EINTR)
			pause();
}

static pthread_mutex_t step_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t step_cond = PTHREAD_COND_INITIALIZER;
static int steps_done;

static void step_done(void)
{
	pthread_mutex_lock(&step_lock);
	steps_done++;
	pthread_cond_broadcast(&step_cond);
	pthread_mutex_unlock(&step_lock);
}

static void wait_steps(int n)
{
	pthread_mutex_lock(&step_lock);
	while (steps_done < n)
		pthread_cond_wait(&step_cond, &step_lock);
	pthread_mutex_unlock(&step_lock);
}

static void *t1_aligned_realloc(void *arg)
{
	(void)arg;
	/* Partial tcache first: nothing below mallocs through the tcache. */
	void *tc[5];
	for (int i = 0; i < 5; i++)
		tc[i] = guarded(1000, 1);
	for (int i = 0; i < 5; i++) {
		if (i < 3) {
			add(tc[i], malloc_usable_size(tc[i]), R_FREE, 1, "tcache");
			free(tc[i]);
		} else {
			held(tc[i], 1);
		}
	}
	void *p;
	held(memalign(64, 100), 1);
	held(memalign(32, 24), 1);
	expect(posix_memalign(&p, 4096, 5000) == 0, "posix_memalign failed");
	held(p, 1);
	held(aligned_alloc(256, 1024), 1);
	held(calloc(10, 30), 1);
	held(calloc(1, 3000), 1);
	/* (in the thread's own arena, where its chunks border top: not
	 * under MALLOC_ARENA_MAX=1, whose runs claim none of these cases) */
	int own = (chunk_head(tc[0]) & 4) != 0; /* NON_MAIN_ARENA */
	void *r1 = malloc(100), *was = r1;
	r1 = realloc(r1, 120); /* grows in place into top */
	expect(!own || r1 == was, "realloc(100 -> 120) moved");
	held(r1, 1);
	void *r2 = guarded(2000, 1);
	was = r2;
	r2 = realloc(r2, 500); /* shrinks in place */
	expect(r2 == was, "realloc(2000 -> 500) moved");
	held(r2, 1);
	void *r3 = guarded(40, 1);
	was = r3;
	r3 = realloc(r3, 5000); /* moves */
	expect(r3 != was, "realloc(40 -> 5000) stayed");
	held(r3, 1);
	step_done();
	block_forever();
	return NULL;
}

/* More than HEAP_MAX_SIZE (64 MiB) in one arena: a second heap. */
#define T2_N 600
static void *t2_two_heaps(void *arg)
{
	(void)arg;
	static void *p[T2_N];
	for (int i = 0; i < T2_N; i++)
		p[i] = malloc(120000);
	for (int i = 0; i < T2_N; i++) {
		/* Free every 8th, never two neighbours, never the last (next
		 * to top); its neighbours must be held (allocated in a row). */
		int ok = !arena_max_one && i % 8 == 3 && i + 1 < T2_N &&
		         (char *)p[i - 1] + csize(p[i - 1]) == (char *)p[i] &&
		         (char *)p[i] + csize(p[i]) == (char *)p[i + 1];
		if (ok)
			add(p[i], malloc_usable_size(p[i]), R_FREE, 2, "unsorted");
		else
			held(p[i], 2);
	}
	for (int i = 0; i < T2_N; i++)
		if (!arena_max_one && i % 8 == 3 && i + 1 < T2_N &&
		    (char *)p[i - 1] + csize(p[i - 1]) == (char *)p[i] &&
		    (char *)p[i] + csize(p[i]) == (char *)p[i + 1])
			free(p[i]);
	step_done();
	block_forever();
	return NULL;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define T3_N 2000
static void *t3_churn(void *arg)
{
	(void)arg;
	static void *p[T3_N];
	for (int i = 0; i < T3_N; i++)
		p[i] = malloc(16 + xorshift() % 2000);
	for (int round = 0; round < 3 && !arena_max_one; round++) {
		for (int i = 0; i < T3_N; i++) {
			if (xorshift() % 3 == 0) {
				free(p[i]);
				p[i] = xorshift() % 2 ? malloc(16 + xorshift() % 600) : NULL;
			}
		}
	}
	for (int i = 0; i < T3_N; i++)
		if (p[i])
			held(p[i], 3);
	step_done();
	block_forever();
	return NULL;
}

/* ---- the main thread's arena ---- */

static void *mmapped_held[8];

static void main_mmapped(void)
{
	/* (with glibc.malloc.hugetlb, sysmalloc takes other ways: the
	 * threshold's cases are claimed without it) */
	const char *tn = getenv("GLIBC_TUNABLES");
	int plain = !tn || !strstr(tn, "hugetlb");
	void *p1 = malloc(200000); /* above the initial 128 KiB threshold: mmapped */
	expect(!plain || is_mmapped(p1), "malloc(200000) not mmapped");
	held(p1, 0);
	mmapped_held[0] = p1;
	void *p2 = malloc(300000);
	expect(!plain || is_mmapped(p2), "malloc(300000) not mmapped");
	free(p2);                  /* the dynamic threshold moves up to p2's size */
	void *p3 = malloc(250000); /* now below it: from the main heap */
	expect(!plain || !is_mmapped(p3), "malloc(250000) mmapped after the threshold moved");
	held(p3, 0);
	mmapped_held[1] = malloc(5 << 20);
	held(mmapped_held[1], 0);
	mmapped_held[2] = calloc(1, 400000);
	held(mmapped_held[2], 0);
	mmapped_held[3] = memalign(1 << 16, 600000); /* mmapped, chunk inside its mapping */
	held(mmapped_held[3], 0);
	mmapped_held[4] = aligned_alloc(4096, 400000);
	held(mmapped_held[4], 0);
	/* memalign'd mmapped chunks (above the threshold p2 moved) realloc'd
	 * (mremap_chunk): the mapping
	 * shrunk, grown, moved, the aligned chunk's header rewritten and the
	 * one mmap wrote at the mapping's start left as it was */
	static const struct {
		size_t align, size, to;
	} ra[] = {{1 << 17, 500000, 100000},
	          {1 << 16, 400000, 700000},
	          {1 << 15, 450000, 8 << 20},
	          {1 << 12, 500000, 350000}};
	for (size_t i = 0; i < sizeof ra / sizeof ra[0]; i++) {
		void *m = NULL;
		expect(posix_memalign(&m, ra[i].align, ra[i].size) == 0,
		       "posix_memalign (mmapped)");
		expect(!plain || is_mmapped(m),
		       "a memalign'd block above the threshold not mmapped");
		m = realloc(m, ra[i].to);
		expect(m && (!plain || is_mmapped(m)), "a realloc'd mmapped block not mmapped");
		held(m, 0);
	}
	/* malloc_trim: give back what 50 freed chunks left in top. */
	void *t[50];
	for (int i = 0; i < 50; i++)
		t[i] = malloc(20000);
	for (int i = 49; i >= 0; i--)
		free(t[i]);
	malloc_trim(0);
}

/* Kept for the "scribble" mode's damage. */
static void *last_fast, *last_tcache, *big_used, *last_unsorted;

/* The glibc that runs us (glibc_versions.sh runs older and newer ones):
 * TCACHE_FILL_COUNT, 7 up to 2.42 and 16 from 2.43; fastbins up to 2.42
 * (2.43 removed them and puts small chunks straight into their small bin:
 * malloc.c _int_free_create_chunk). */
static int tc_fill = 7, has_fastbins = 1;
/* 2.42+ with GLIBC_TUNABLES glibc.malloc.tcache_max=N: chunks up to
 * request2size(N) go to the tcache too, above 1040 bytes in its 12 large
 * bins by powers of two (malloc.c do_set_tcache_max, large_csize2tidx),
 * tc_fill to a bin.  (mp_.tcache_max_bytes is that size + 1 in 2.43 and in
 * Ubuntu's 2.42-0ubuntu3, read in its core; 2.42.0's malloc.c set the size
 * itself, which excluded it: no size here is at that edge.) */
static size_t tcache_max_bytes;
static int large_used[12];

static void glibc_traits(void)
{
	int major = 0, minor = 0;
	if (sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) != 2 || major != 2 ||
	    minor < 42)
		return;
	if (minor >= 43) {
		tc_fill = 16;
		has_fastbins = 0;
	}
	const char *tn = getenv("GLIBC_TUNABLES"), *m;
	if (tn && (m = strstr(tn, "glibc.malloc.tcache_max="))) {
		size_t n = strtoul(m + strlen("glibc.malloc.tcache_max="), NULL, 0);
		tcache_max_bytes = ((n + 8 + 15) & ~(size_t)15) + 1;
	}
}

/* Where a free of p (above the small tcache bins' 1040 bytes) goes: a
 * large tcache bin while it has room, else otherwise. */
static const char *large_free_bin(void *p, const char *otherwise)
{
	size_t cs = csize(p);
	if (cs <= 1040 || cs >= tcache_max_bytes)
		return otherwise;
	int idx = __builtin_clz(1040u) - __builtin_clz((unsigned)cs);
	if (idx < 0 || idx >= 12 || large_used[idx] >= tc_fill)
		return otherwise;
	large_used[idx]++;
	return "tcache";
}

static void main_bins(void)
{
	enum { N = 16 + 3 };
	void *a[N], *b[3], *L[2], *u[2], *c1, *c2, *f[N], *t[3];
	int n = tc_fill + 3; /* a full tcache and 3 more */
	for (int i = 0; i < n; i++)
		a[i] = guarded(200, 0); /* chunk 0xd0: tcache then unsorted */
	for (int i = 0; i < 3; i++)
		b[i] = guarded(1500, 0); /* above tcache range: large bin */
	for (int i = 0; i < 2; i++)
		L[i] = guarded(20000, 0);
	for (int i = 0; i < 2; i++)
		u[i] = guarded(1200, 0);
	guarded_pair(1100, &c1, &c2, 0);
	/* chunk 0x20: tcache then fastbin (2.43: guarded, to stay apart in
	 * their small bin) */
	for (int i = 0; i < n; i++)
		f[i] = has_fastbins ? malloc(24) : guarded(24, 0);
	for (int i = 0; i < 3; i++)
		t[i] = malloc(40); /* chunk 0x30: a partial tcache */

	for (int i = 0; i < n; i++) {
		add(a[i], malloc_usable_size(a[i]), R_FREE, 0, i < tc_fill ? "tcache" : "small");
		free(a[i]);
	}
	for (int i = 0; i < 3; i++) {
		add(b[i], malloc_usable_size(b[i]), R_FREE, 0, large_free_bin(b[i], "large"));
		free(b[i]);
	}
	for (int i = 0; i < 2; i++) {
		add(L[i], malloc_usable_size(L[i]), R_FREE, 0, large_free_bin(L[i], "large"));
		free(L[i]);
	}
	/* A request no free chunk fits and no exact fit: malloc sorts the
	 * unsorted chunks into their small and large bins, then uses top. */
	big_used = malloc(100000);
	held(big_used, 0);
	for (int i = 0; i < 2; i++) {
		add(u[i], malloc_usable_size(u[i]), R_FREE, 0, large_free_bin(u[i], "unsorted"));
		free(u[i]);
	}
	/* c2 merges backwards with c1: one free chunk at c1 (both in a large
	 * tcache bin instead, where there is one for them) */
	const char *bin1 = large_free_bin(c1, NULL), *bin2 = bin1 ? large_free_bin(c2, NULL) : NULL;
	if (bin1 && bin2) {
		add(c1, malloc_usable_size(c1), R_FREE, 0, bin1);
		add(c2, malloc_usable_size(c2), R_FREE, 0, bin2);
	} else {
		add(c1, csize(c1) + csize(c2) - sizeof(size_t), R_FREE, 0, "unsorted");
	}
	free(c1);
	free(c2);
	for (int i = 0; i < n; i++) {
		add(f[i], malloc_usable_size(f[i]), R_FREE, 0,
		    i < tc_fill    ? "tcache"
		    : has_fastbins ? "fastbin"
		                   : "small");
		free(f[i]);
	}
	for (int i = 0; i < 3; i++) {
		add(t[i], malloc_usable_size(t[i]), R_FREE, 0, "tcache");
		free(t[i]);
	}
	last_fast = f[n - 1];
	last_tcache = t[2];
	last_unsorted = u[1];
}

/* Damage the main arena the way overflows and use-after-frees do: a
 * fastbin chunk pointing at itself (safe-linked, so the cycle is real), a
 * poisoned tcache next, a used chunk's size overwritten, a bogus bk in the
 * unsorted bin.  mallinfo2() would loop forever on the fastbin cycle, so
 * the truth keeps only thread T2's arena, which is left intact. */
static void scribble(void)
{
	uintptr_t pos = (uintptr_t)last_fast;
	*(volatile uintptr_t *)pos = (pos >> 12) ^ (pos - 16);
	*(volatile uintptr_t *)(uintptr_t)last_tcache = 0x4141414141414141ull;
	*(volatile uintptr_t *)((uintptr_t)big_used - 8) = 0xdeadbeef0ull | 1;
	*(volatile uintptr_t *)((uintptr_t)last_unsorted + 8) = 0x4242424242424240ull;
	size_t o = 0;
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].owner == 2)
			recs[o++] = recs[i];
	nrecs = o;
}

/* ---- the truth file ---- */

static char *out;
static size_t outlen, outcap;

static void put(const char *s)
{
	size_t n = strlen(s);
	if (outlen + n < outcap) {
		memcpy(out + outlen, s, n);
		outlen += n;
	}
}

static void put_num(uint64_t v, int hex)
{
	char b[24];
	int i = sizeof b - 1;
	b[i] = 0;
	do {
		b[--i] = "0123456789abcdef"[v % (hex ? 16 : 10)];
		v /= hex ? 16 : 10;
	} while (v);
	if (hex)
		put("0x");
	put(b + i);
}

/* "exitmain": the main thread has exited (pthread_exit); its tcache went
 * back to the arena, so its free records no longer say where a chunk is. */
static int main_exited;

/* mallinfo2 is glibc 2.33's.  Linked against an older glibc (the sysroots
 * of glibc_versions.sh) it stays weak and unresolved, and mallinfo's int
 * fields serve: exact while each stays below 2 GiB, as in these heaps. */
extern struct mallinfo2 mallinfo2(void) __attribute__((weak));

static struct mallinfo2 any_mallinfo(void)
{
	if (mallinfo2)
		return mallinfo2();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo m = mallinfo();
#pragma GCC diagnostic pop
	return (struct mallinfo2){(unsigned)m.arena,   (unsigned)m.ordblks,  (unsigned)m.smblks,
	                          (unsigned)m.hblks,   (unsigned)m.hblkhd,   (unsigned)m.usmblks,
	                          (unsigned)m.fsmblks, (unsigned)m.uordblks, (unsigned)m.fordblks,
	                          (unsigned)m.keepcost};
}

static void write_truth(const char *path, int orphan_threads, int with_mallinfo)
{
	struct mallinfo2 mi = {0};
	if (with_mallinfo)
		mi = any_mallinfo();
	outlen = 0;
	put(with_mallinfo ? "mallinfo2" : "#nomallinfo");
	size_t f[] = {mi.arena,   mi.ordblks, mi.smblks,   mi.hblks,    mi.hblkhd,
	              mi.usmblks, mi.fsmblks, mi.uordblks, mi.fordblks, mi.keepcost};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		put(" ");
		put_num(f[i], 0);
	}
	put("\n");
	for (size_t i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		int kind = r->kind;
		/* After fork the threads are gone: their tcache'd chunks are
		 * no longer on any list the process can reach. */
		if (orphan_threads && r->owner && kind == R_FREE && !strcmp(r->bin, "tcache"))
			kind = R_USED;
		if (main_exited && !r->owner && kind == R_FREE)
			continue;
		put(kind == R_USED ? "used " : kind == R_MMAPPED ? "mmapped " : "free ");
		put_num(r->addr, 1);
		put(" ");
		put_num(r->size, 0);
		if (kind == R_FREE) {
			put(" ");
			put(r->bin);
		}
		put("\n");
	}
	char tmp[4096];
	size_t pl = strlen(path);
	if (pl + 5 > sizeof tmp)
		abort();
	memcpy(tmp, path, pl);
	memcpy(tmp + pl, ".tmp", 5);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, out, outlen) != (ssize_t)outlen || close(fd) < 0 ||
	    rename(tmp, path) < 0)
		abort();
}

/* "exitmain": once the main thread is a zombie (its tcache given back to
 * the arena), the truth is written: the walk must do without the leader,
 * whose /proc/PID/mem and maps are gone with its memory. */
static const char *exitmain_truth;
static pid_t exitmain_pid;

static void *exitmain_reporter(void *arg)
{
	(void)arg;
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)exitmain_pid);
	for (;;) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		const char *p = strrchr(buf, ')');
		if (n <= 0 || (p && p[1] == ' ' && p[2] == 'Z'))
			break;
		usleep(1000);
	}
	main_exited = 1;
	write_truth(exitmain_truth, 0, 1);
	block_forever();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *mode = argc > 2 ? argv[2] : "core";
	glibc_traits();
	const char *am = getenv("MALLOC_ARENA_MAX");
	arena_max_one = am && !strcmp(am, "1");
	recs = mmap(NULL, MAX_RECS * sizeof *recs, PROT_READ | PROT_WRITE,
	            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	outcap = 1 << 20;
	out = mmap(NULL, outcap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (recs == MAP_FAILED || out == MAP_FAILED || pipe(block_pipe) < 0)
		return 3;

	main_mmapped();
	pthread_t th[3];
	void *(*fn[3])(void *) = {t1_aligned_realloc, t2_two_heaps, t3_churn};
	for (int i = 0; i < 3; i++) {
		if (pthread_create(&th[i], NULL, fn[i], NULL))
			return 3;
		wait_steps(i + 1);
	}
	main_bins();

	if (!strcmp(mode, "fork")) {
		pid_t pid = fork();
		if (pid < 0)
			return 3;
		if (pid == 0) {
			/* The child: one thread.  A small malloc is served
			 * from the main thread's tcache (the last 0x20 chunk
			 * freed); a mmapped chunk is unmapped.  Nothing else:
			 * any request that misses the tcache would sort the
			 * bins this truth describes. */
			void *m = malloc(24);
			int reused = 0;
			for (size_t i = 0; i < nrecs; i++) {
				if (recs[i].addr == (uintptr_t)m && recs[i].kind == R_FREE) {
					recs[i].kind = R_USED;
					reused = 1;
				}
				if (recs[i].addr == (uintptr_t)mmapped_held[1])
					recs[i].kind = 99;
			}
			if (!reused)
				held(m, 0);
			free(mmapped_held[1]);
			size_t o = 0;
			for (size_t i = 0; i < nrecs; i++)
				if (recs[i].kind != 99)
					recs[o++] = recs[i];
			nrecs = o;
			write_truth(argv[1], 1, 1);
			abort();
		}
		int st;
		waitpid(pid, &st, 0);
		return 0;
	}
	if (!strcmp(mode, "exitmain")) {
		pthread_t rep;
		exitmain_truth = argv[1];
		exitmain_pid = getpid();
		if (pthread_create(&rep, NULL, exitmain_reporter, NULL))
			return 3;
		pthread_exit(NULL);
	}
	int damaged = !strcmp(mode, "scribble");
	if (damaged)
		scribble();
	write_truth(argv[1], 0, !damaged);
	if (!strcmp(mode, "pause"))
		for (;;)
			pause();
	abort();
}
