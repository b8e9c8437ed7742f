/*
 * many_chunks.c: a live inferior for bench/gdb_heapsnap.sh: argv[1]
 * (default 2,000,000) small malloc chunks of mixed sizes, every fifth one
 * freed, then a stop at bench_ready() for the debugger.  With a second
 * argument it then waits (pause) for `coretool summary --pid` to be timed,
 * until it is killed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

void bench_ready(void);
volatile int bench_hits;

__attribute__((noinline)) void bench_ready(void)
{
	bench_hits++;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
	void **p = malloc(n * sizeof *p);
	if (!p)
		return 1;
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = malloc(16 + (x >> 16) % 200);
	}
	for (size_t i = 0; i < n; i += 5)
		free(p[i]);
	bench_ready();
	if (argc > 2)
		for (;;)
			pause();
	return 0;
}
