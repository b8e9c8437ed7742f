/*
 * gdb_inferior.c: the program the debugger tests stop at breakpoints.
 *
 *   gdb_inferior TRUTH [abort]
 *
 * It warms malloc up (tcache and arena exist), allocates a baseline, then
 * calls hw_bp_first(); between it and hw_bp_second() it does nothing but
 * allocate N_NEW blocks of varied sizes (kept live), and writes its own
 * ground truth to the file TRUTH with write(2) only (no stdio: stdio would
 * allocate): "count N", "bytes B" (sum of malloc_usable_size), then one
 * "size S" line per block.  At hw_bp_second() it either aborts (argv[2]
 * "abort": a core holding both states' difference against the first
 * breakpoint's) or frees everything, checks its blocks' contents survived
 * the debugger, and exits 0 with "ok" on stdout.
 *
 * Before the first breakpoint a worker thread frees a block into its own
 * tcache and waits; with base[7] and base[42], freed into the main
 * thread's tcache, their addresses are in hw_freed[]: the tests find them
 * as free tcache chunks, which needs every thread's fs_base.
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_BASE 100
#define N_NEW  37

/* Breakpoint targets: not inlined, with a side effect the optimizer keeps. */
volatile int hw_bp_hits;
void hw_bp_first(void);
void hw_bp_second(void);
__attribute__((noinline)) void hw_bp_first(void)
{
	hw_bp_hits++;
}
__attribute__((noinline)) void hw_bp_second(void)
{
	hw_bp_hits++;
}

static void put(int fd, const char *key, size_t v)
{
	char line[64];
	int n = snprintf(line, sizeof line, "%s %zu\n", key, v);
	if (n > 0 && write(fd, line, (size_t)n) != n)
		_exit(3);
}

/* Global, so that the tests can name them in the debugger. */
void *base[N_BASE], *fresh[N_NEW];
void *volatile hw_freed[3];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int worker_ready;

static void *worker(void *arg)
{
	void *p = malloc(200);
	hw_freed[2] = p;
	free(p); /* into this thread's tcache */
	pthread_mutex_lock(&lock);
	worker_ready = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	for (;;)
		pause(); /* until main returns */
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gdb_inferior TRUTH [abort]\n");
		return 2;
	}
	/* the descriptor first: opening it after the first breakpoint is fine
	 * (no malloc), but keep the window between breakpoints minimal */
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 2;
	for (int i = 0; i < N_BASE; i++) {
		base[i] = malloc(16 + (size_t)i * 8);
		memset(base[i], 0xb0, 16);
	}
	hw_freed[0] = base[7];
	hw_freed[1] = base[42];
	free(base[7]); /* some free chunks too */
	free(base[42]);
	base[7] = base[42] = NULL;
	pthread_t th;
	if (pthread_create(&th, NULL, worker, NULL))
		return 2;
	pthread_mutex_lock(&lock);
	while (!worker_ready)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	hw_bp_first();
	for (int i = 0; i < N_NEW; i++) {
		/* sizes across tcache, small and large bins; none mmapped */
		size_t sz = 24 + (size_t)i * 97 % 3000;
		fresh[i] = malloc(sz);
		memset(fresh[i], 0x5a, sz);
	}
	size_t bytes = 0;
	for (int i = 0; i < N_NEW; i++)
		bytes += malloc_usable_size(fresh[i]);
	put(fd, "count", N_NEW);
	put(fd, "bytes", bytes);
	for (int i = 0; i < N_NEW; i++)
		put(fd, "size", malloc_usable_size(fresh[i]));
	close(fd);
	hw_bp_second();

	if (argc > 2 && !strcmp(argv[2], "abort"))
		abort();
	for (int i = 0; i < N_NEW; i++) {
		size_t sz = 24 + (size_t)i * 97 % 3000;
		for (size_t j = 0; j < sz; j++)
			if (((unsigned char *)fresh[i])[j] != 0x5a)
				return 1;
		free(fresh[i]);
	}
	for (int i = 0; i < N_BASE; i++)
		free(base[i]);
	printf("ok %d\n", hw_bp_hits);
	return 0;
}
