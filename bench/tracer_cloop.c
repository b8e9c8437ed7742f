/*
 * tracer_cloop.c: the tracer benchmark's C workload: N malloc/free pairs
 * of 16..1024 bytes with about LIVE blocks alive, each made at call depth
 * about 10 (a chain of distinct functions, so sites differ by stack).
 *
 *   tracer_cloop [N [LIVE]]     defaults 20000000 100000
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

static void **slots;
static uint64_t rng = 88172645463325252ull;

static inline uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

NOINLINE static void work(size_t live, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t r = next();
		size_t k = r % live;
		free(slots[k]);
		slots[k] = malloc(16 + (r >> 32) % 1009);
	}
	__asm__ volatile("");
}

#define LEVEL(name, next_fn)                                                                       \
	NOINLINE static void name(size_t live, size_t n, int which)                                \
	{                                                                                          \
		if (which & 1)                                                                     \
			next_fn(live, n, which >> 1);                                              \
		else                                                                               \
			next_fn(live, n, which >> 1);                                              \
		__asm__ volatile("");                                                              \
	}

NOINLINE static void l0(size_t live, size_t n, int which)
{
	(void)which;
	work(live, n);
	__asm__ volatile("");
}
LEVEL(l1, l0)
LEVEL(l2, l1)
LEVEL(l3, l2)
LEVEL(l4, l3)
LEVEL(l5, l4)
LEVEL(l6, l5)
LEVEL(l7, l6)
LEVEL(l8, l7)

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000;
	size_t live = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
	slots = calloc(live, sizeof(void *));
	/* several entry paths, so that stacks are not all one */
	for (int w = 0; w < 16; w++)
		l8(live, n / 16, w);
	size_t held = 0;
	for (size_t i = 0; i < live; i++)
		held += slots[i] != NULL;
	printf("%zu\n", held);
	return 0;
}
