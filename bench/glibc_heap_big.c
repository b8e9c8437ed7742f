/*
 * glibc_heap_big.c: a heap of N live chunks (default 2 million, sizes 16 to
 * 128 bytes) plus N/10 freed ones, in one arena, then abort() for a core.
 * usage: glibc_heap_big [N]
 */
#include <stdint.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	uint64_t r = 88172645463325252ull;
	void **p = calloc((size_t)n + n / 10, sizeof *p);
	if (!p)
		return 3;
	for (long i = 0; i < n + n / 10; i++) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		p[i] = malloc(16 + r % 113);
	}
	for (long i = 0; i < n + n / 10; i += 11)
		free(p[i]);
	abort();
}
