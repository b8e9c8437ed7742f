/*
 * trace_leaks.c: a program whose allocation sites are known by
 * construction, for the tracer's tests.  Run under the tracer, it prints
 * its ground truth (one line per function: name, blocks kept, requested
 * bytes kept) and abort()s for a core.
 *
 *   trace_leaks basic K S    leak_a keeps K blocks of S bytes, leak_b 2K of
 *                            S/2 + 8, leak_calloc/leak_realloc/leak_memalign
 *                            keep K each; 200k malloc/free pairs (churn)
 *                            and the frees of half of leak_free's blocks
 *                            leave nothing else behind
 *   trace_leaks threads K S  16 threads: each keeps K blocks from leak_thread
 *                            and frees K blocks another thread allocated,
 *                            while a 17th thread keeps interrupting them
 *                            with signals (the handler only counts); the
 *                            workers have 64 KiB stacks
 *   trace_leaks fork K S     leak_a keeps K, then a fork: the child frees
 *                            K/2 of them, keeps K from leak_child, aborts
 *   trace_leaks forks K S    two children forked from one state keep K
 *                            blocks of 16..1015 bytes each (leak_varied)
 *                            and dump core in ./child1 and ./child2; the
 *                            parent prints the truth and exits 0
 *   trace_leaks sample K S   only leak_a (K blocks of S bytes) plus churn,
 *                            for sampled mode
 *   trace_leaks live K S     as basic, but instead of aborting it closes
 *                            stdout and waits to be read live and killed
 *   trace_leaks family K S   every allocating function of the malloc
 *                            family keeps K blocks (S bytes, or 3S for
 *                            calloc and reallocarray) from a function of
 *                            its own (fam_malloc, fam_calloc, fam_realloc,
 *                            fam_grow, fam_memalign, fam_posix_memalign,
 *                            fam_aligned_alloc, fam_reallocarray), and
 *                            makes and frees as many again (fam_freed,
 *                            through free, realloc and reallocarray); it
 *                            checks what it sees (zeroed calloc blocks,
 *                            contents kept by realloc, alignments,
 *                            usable sizes as glibc's) and exits 1
 *                            without a core when wrong
 *   trace_leaks steps K S    grow_step keeps K blocks of S bytes, writing
 *                            every page of each, and sleeps 500 ms after
 *                            each (TRACE_LEAKS_PAUSE_MS), for a watcher
 *                            that snapshots it at memory thresholds; it
 *                            prints "step N" to stderr as block N is kept,
 *                            then exits 3 (a status to pass on)
 *   trace_leaks dormant K S  under HEAPWALK_TRACE=off: leak_a keeps K blocks of
 *                            S bytes, "ready" on stderr, then it waits for
 *                            SIGUSR1 (sent once coretool trace --start said
 *                            the tracer records); 4 MiB allocated and freed
 *                            (each thread sees the start within 1 MiB of its
 *                            allocation), leak_b keeps K blocks of S bytes
 *   trace_leaks paths K S    leak_p keeps 2K blocks of S bytes, called
 *                            through mid from path_a and path_b in turn
 *                            (K each): two stacks that differ only in
 *                            their third frame, with the same depth (the
 *                            tracer's stack cache must tell them apart)
 *
 * With TRACE_LEAKS_EXIT set in the environment it exits (0) instead of
 * aborting, so that the tracer's exit-time reports run.
 *
 * Functions are noinline so that each is the caller of its allocations.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define NTHREADS 16

/* glibc's allocator itself, under the tracer's hooks */
extern void __libc_free(void *p);

static void *volatile sink;
static void **kept;
static size_t nkept;

static void keep(void *p)
{
	kept[nkept++] = p;
}

NOINLINE static void leak_a(size_t k, size_t s)
{
	for (size_t i = 0; i < k; i++)
		keep(malloc(s));
	__asm__ volatile("");
}

NOINLINE static void grow_step(size_t s)
{
	char *p = malloc(s);
	memset(p, 0x5a, s);
	keep(p);
	__asm__ volatile("");
}

NOINLINE static void leak_b(size_t k, size_t s)
{
	for (size_t i = 0; i < k; i++)
		keep(malloc(s));
	__asm__ volatile("");
}

NOINLINE static void leak_calloc(size_t k, size_t s)
{
	for (size_t i = 0; i < k; i++)
		keep(calloc(s, 3));
	__asm__ volatile("");
}

NOINLINE static void leak_realloc(size_t k, size_t s)
{
	for (size_t i = 0; i < k; i++) {
		void *p = malloc(8); /* counted by leak_realloc only after realloc */
		keep(realloc(p, s));
	}
	__asm__ volatile("");
}

NOINLINE static void leak_memalign(size_t k, size_t s)
{
	for (size_t i = 0; i < k; i++) {
		void *p = NULL;
		if (posix_memalign(&p, 64, s) != 0)
			abort();
		keep(p);
	}
	__asm__ volatile("");
}

NOINLINE static void leak_varied(size_t k)
{
	for (size_t i = 0; i < k; i++)
		keep(malloc(16 + (i * 37) % 1000));
	__asm__ volatile("");
}

NOINLINE static void churn(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		void *p = malloc(16 + (i * 37) % 1000);
		sink = p;
		free(p);
	}
	__asm__ volatile("");
}

/* ---- family: every allocating function, with what the program sees ---- */

static int family_bad;

static void bad(const char *what, void *p)
{
	fprintf(stderr, "BAD %s %p\n", what, p);
	family_bad = 1;
}

/* a pattern of p's own: n bytes written, then checked */
static void fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + 1);
}

static int filled(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 7 + 1))
			return 0;
	return 1;
}

NOINLINE static void *fam_malloc(size_t s)
{
	void *p = malloc(s);
	fill(p, s);
	return p;
}

NOINLINE static void *fam_calloc(size_t s)
{
	unsigned char *p = calloc(s, 3);
	for (size_t i = 0; p && i < 3 * s; i++)
		if (p[i]) {
			bad("calloc not zero", p);
			break;
		}
	return p;
}

NOINLINE static void *fam_realloc(size_t s)
{
	void *p = malloc(24);
	fill(p, 24);
	p = realloc(p, s);
	if (!filled(p, 24))
		bad("realloc lost the contents", p);
	return p;
}

/* grown 64 bytes at a time up to s, the contents checked at each step */
NOINLINE static void *fam_grow(size_t s)
{
	size_t n = 16;
	unsigned char *p = malloc(n);
	fill(p, n);
	while (n < s) {
		size_t m = n + 64 < s ? n + 64 : s;
		p = realloc(p, m);
		if (!filled(p, n))
			bad("growing realloc lost the contents", p);
		fill(p, m);
		n = m;
	}
	return p;
}

/* p, checked to be a block aligned as asked */
static void *aligned(void *p, size_t align, const char *what)
{
	if (!p || (uintptr_t)p % align)
		bad(what, p);
	return p;
}

NOINLINE static void *fam_memalign(size_t s)
{
	return aligned(memalign(32, s), 32, "memalign(32)");
}

NOINLINE static void *fam_posix_memalign(size_t s)
{
	void *p = NULL;
	return aligned(posix_memalign(&p, 64, s) ? NULL : p, 64, "posix_memalign(64)");
}

NOINLINE static void *fam_aligned_alloc(size_t s)
{
	return aligned(aligned_alloc(128, s), 128, "aligned_alloc(128)");
}

NOINLINE static void *fam_reallocarray(size_t s)
{
	void *p = reallocarray(NULL, 3, s);
	fill(p, 3 * s);
	return p;
}

/* Every allocating function of the family, its site's name, and the
 * bytes it asks for, in S. */
static const struct {
	const char *name;
	void *(*make)(size_t);
	size_t times;
} fam[] = {{"fam_malloc", fam_malloc, 1},
           {"fam_calloc", fam_calloc, 3},
           {"fam_realloc", fam_realloc, 1},
           {"fam_grow", fam_grow, 1},
           {"fam_memalign", fam_memalign, 1},
           {"fam_posix_memalign", fam_posix_memalign, 1},
           {"fam_aligned_alloc", fam_aligned_alloc, 1},
           {"fam_reallocarray", fam_reallocarray, 3}};
#define N_FAM (sizeof fam / sizeof fam[0])

/* as many blocks again from every function, freed in turn by free,
 * realloc(p, 0) and reallocarray(p, 0, 0) (glibc: a free too) */
NOINLINE static void fam_freed(size_t k, size_t s)
{
	void **p = malloc(k * sizeof *p);
	for (size_t f = 0; f < N_FAM; f++) {
		for (size_t i = 0; i < k; i++)
			p[i] = fam[f].make(s);
		for (size_t i = 0; i < k; i++) {
			if (i % 3 == 0)
				free(p[i]);
			else if (i % 3 == 1)
				sink = realloc(p[i], 0);
			else
				sink = reallocarray(p[i], 0, 0);
		}
	}
	free(p);
	__asm__ volatile("");
}

/* The usable size of a heap block of n bytes as glibc rounds a request
 * (request2size: n + 8 up to 16, at least 32, less the 8-byte size
 * field), and at most 32 more: what a near fit leaves in the block
 * (malloc keeps up to 16 from a free chunk, memalign up to MINSIZE). */
static int usable_as_glibc(void *p, size_t n)
{
	size_t want = ((n + 8 + 15) & ~(size_t)15) - 8, u = malloc_usable_size(p);
	if (want < 24)
		want = 24;
	return u >= want && u <= want + 32;
}

/* ---- threads ---- */

static size_t tk, ts;
static volatile sig_atomic_t signals_seen;
static volatile int bombing = 1;
static pthread_t workers[NTHREADS];

static void on_signal(int sig)
{
	(void)sig;
	signals_seen++;
}

static void *bomber(void *arg)
{
	(void)arg;
	while (bombing) {
		for (size_t i = 0; i < NTHREADS && bombing; i++)
			pthread_kill(workers[i], SIGUSR1);
		usleep(50);
	}
	return NULL;
}
static void **slots[NTHREADS];
static pthread_barrier_t barrier;

NOINLINE static void leak_thread(void **out, size_t k, size_t s)
{
	for (size_t i = 0; i < k; i++)
		out[i] = malloc(s);
	__asm__ volatile("");
}

static void *thread_main(void *arg)
{
	size_t me = (size_t)arg;
	leak_thread(slots[me], 2 * tk, ts);
	churn(20000);
	pthread_barrier_wait(&barrier);
	/* free the second half of the next thread's blocks */
	void **other = slots[(me + 1) % NTHREADS];
	for (size_t i = tk; i < 2 * tk; i++)
		free(other[i]);
	churn(20000);
	pthread_barrier_wait(&barrier);
	return NULL;
}

NOINLINE static void leak_p(size_t s)
{
	keep(malloc(s));
	__asm__ volatile("");
}

NOINLINE static void mid(size_t s)
{
	leak_p(s);
	__asm__ volatile("");
}

NOINLINE static void path_a(size_t s)
{
	mid(s);
	__asm__ volatile("");
}

NOINLINE static void path_b(size_t s)
{
	mid(s);
	__asm__ volatile("");
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(
		    stderr,
		    "usage: trace_leaks "
		    "basic|threads|fork|forks|sample|live|dormant|steps|paths|stale|family K S\n");
		return 2;
	}
	size_t k = strtoul(argv[2], NULL, 10), s = strtoul(argv[3], NULL, 10);
	kept = malloc(sizeof(void *) * (10 * k + 16));
	int live = !strcmp(argv[1], "live");
	if (!strcmp(argv[1], "basic") || live) {
		leak_a(k, s);
		leak_b(2 * k, s / 2 + 8);
		leak_calloc(k, s);
		leak_realloc(k, s + 100);
		leak_memalign(k, s);
		size_t before = nkept;
		leak_b(4, 1); /* freed below: not live */
		for (size_t i = before; i < nkept; i++)
			free(kept[i]);
		nkept = before;
		churn(200000);
		printf("leak_a %zu %zu\n", k, k * s);
		printf("leak_b %zu %zu\n", 2 * k, 2 * k * (s / 2 + 8));
		printf("leak_calloc %zu %zu\n", k, k * s * 3);
		printf("leak_realloc %zu %zu\n", k, k * (s + 100));
		printf("leak_memalign %zu %zu\n", k, k * s);
		printf("churn 0 0\n");
	} else if (!strcmp(argv[1], "family")) {
		for (size_t f = 0; f < N_FAM; f++)
			for (size_t i = 0; i < k; i++)
				keep(fam[f].make(s));
		fam_freed(k, s);
		/* the kept blocks still hold what was written (fam_malloc's,
		 * fam_grow's, fam_reallocarray's patterns) */
		for (size_t i = 0; i < k; i++) {
			if (!filled(kept[i], s))
				bad("malloc'd block changed", kept[i]);
			if (!filled(kept[3 * k + i], s))
				bad("grown block changed", kept[3 * k + i]);
			if (!filled(kept[7 * k + i], 3 * s))
				bad("reallocarray'd block changed", kept[7 * k + i]);
		}
		/* every kept block as large as glibc makes one (the sampled
		 * ones were moved: memalign's spare end is the bound) */
		for (size_t f = 0; f < N_FAM; f++)
			for (size_t i = 0; i < k; i++)
				if (!usable_as_glibc(kept[f * k + i], s * fam[f].times))
					bad("usable size not as glibc's", kept[f * k + i]);
		if (family_bad)
			return 1;
		for (size_t f = 0; f < N_FAM; f++)
			printf("%s %zu %zu\n", fam[f].name, k, k * s * fam[f].times);
		printf("fam_freed 0 0\n");
	} else if (!strcmp(argv[1], "dormant")) {
		sigset_t usr1;
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		leak_a(k, s);
		fprintf(stderr, "ready\n");
		int sig;
		sigwait(&usr1, &sig);
		for (int i = 0; i < 4; i++)
			free(malloc(1 << 20));
		leak_b(k, s);
		printf("leak_a 0 0\n");
		printf("leak_b %zu %zu\n", k, k * s);
	} else if (!strcmp(argv[1], "steps")) {
		const char *ms = getenv("TRACE_LEAKS_PAUSE_MS");
		useconds_t pause_us = (useconds_t)(ms ? strtoul(ms, NULL, 10) : 500) * 1000;
		for (size_t i = 0; i < k; i++) {
			grow_step(s);
			fprintf(stderr, "step %zu\n", i + 1);
			usleep(pause_us);
		}
		printf("grow_step %zu %zu\n", k, k * s);
		return 3;
	} else if (!strcmp(argv[1], "paths")) {
		for (size_t i = 0; i < k; i++) {
			path_a(s);
			path_b(s);
		}
		churn(20000);
		printf("leak_p %zu %zu\n", 2 * k, 2 * k * s);
	} else if (!strcmp(argv[1], "stale")) {
		/* k blocks of s bytes freed behind the tracer's back (glibc's
		 * own __libc_free, which the preload does not hook): their
		 * entries stay, the walk finds the blocks free.  A kept guard
		 * after each keeps them out of the top chunk.  The frees come last, after the truth
		 * is printed, so that no later malloc reuses them. */
		void **p = malloc(k * sizeof *p);
		for (size_t i = 0; i < k; i++) {
			p[i] = malloc(s);
			keep(malloc(32));
			printf("stale %p\n", p[i]);
		}
		fflush(stdout);
		for (size_t i = 0; i < k; i++)
			__libc_free(p[i]);
	} else if (!strcmp(argv[1], "sample")) {
		leak_a(k, s);
		churn(200000);
		printf("leak_a %zu %zu\n", k, k * s);
	} else if (!strcmp(argv[1], "threads")) {
		pthread_t bt;
		struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
		sigaction(SIGUSR1, &sa, NULL);
		tk = k;
		ts = s;
		pthread_barrier_init(&barrier, NULL, NTHREADS + 1);
		for (size_t i = 0; i < NTHREADS; i++)
			slots[i] = malloc(sizeof(void *) * 2 * k);
		/* small stacks (64 KiB): the tracer must not need the program's */
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		for (size_t i = 0; i < NTHREADS; i++)
			pthread_create(&workers[i], &attr, thread_main, (void *)i);
		pthread_create(&bt, NULL, bomber, NULL);
		pthread_barrier_wait(&barrier);
		pthread_barrier_wait(&barrier);
		bombing = 0;
		pthread_join(bt, NULL);
		for (size_t i = 0; i < NTHREADS; i++)
			pthread_join(workers[i], NULL);
		fprintf(stderr, "signals handled: %d\n", (int)signals_seen);
		printf("leak_thread %zu %zu\n", NTHREADS * k, NTHREADS * k * s);
		printf("churn 0 0\n");
	} else if (!strcmp(argv[1], "forks")) {
		/* two children forked one after the other from one state, each
		 * keeping the same K blocks of varied sizes (16..1015 bytes) in
		 * its own directory child1 or child2, where it dumps core */
		churn(1000);
		for (int c = 1; c <= 2; c++) {
			pid_t pid = fork();
			if (pid == 0) {
				char d[16];
				snprintf(d, sizeof d, "child%d", c);
				if (chdir(d) != 0)
					_exit(3);
				leak_varied(k);
				abort();
			}
			int st;
			if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFSIGNALED(st))
				return 1;
		}
		size_t bytes = 0;
		for (size_t i = 0; i < k; i++)
			bytes += 16 + (i * 37) % 1000;
		printf("leak_varied %zu %zu\n", k, bytes);
		return 0;
	} else if (!strcmp(argv[1], "fork")) {
		leak_a(k, s);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			for (size_t i = 0; i < k / 2; i++)
				free(kept[i]);
			size_t before = nkept;
			leak_b(k, s + 1);
			(void)before;
			printf("leak_a %zu %zu\n", k - k / 2, (k - k / 2) * s);
			printf("leak_b %zu %zu\n", k, k * (s + 1));
			fflush(stdout);
			abort();
		}
		int st;
		waitpid(pid, &st, 0);
		return WIFSIGNALED(st) ? 0 : 1;
	} else {
		return 2;
	}
	fflush(stdout);
	if (live) {
		fclose(stdout); /* the test waits for the truth file to be complete */
		for (;;)
			pause();
	}
	if (getenv("TRACE_LEAKS_EXIT"))
		exit(0);
	abort();
}
