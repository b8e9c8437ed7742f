/*
 * trace_getattr.c: threads whose first allocation is inside
 * pthread_getattr_np(pthread_self()) (glibc reallocs there while holding
 * the thread's lock), as language runtimes do at thread start to find
 * their stack.  Under the tracer this must not hang (a tracer that asked
 * for the thread's stack from inside that allocation would wait for the
 * lock its own thread holds).  8 threads; each then allocates at call
 * depth 1..4 for the unwinder.  Prints "ok".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void *deep(int d)
{
	if (d) {
		void *r = deep(d - 1);
		__asm__ volatile("");
		return r;
	}
	return malloc(100);
}

static void *run(void *arg)
{
	pthread_attr_t a;
	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return NULL;
	pthread_attr_destroy(&a);
	for (int i = 0; i < 64; i++)
		free(deep(i % 5));
	return arg;
}

int main(void)
{
	pthread_t t[8];
	int tag[8];
	for (int i = 0; i < 8; i++)
		if (pthread_create(&t[i], NULL, run, &tag[i]) != 0)
			return 2;
	for (int i = 0; i < 8; i++) {
		void *r;
		if (pthread_join(t[i], &r) != 0 || r != &tag[i])
			return 3;
	}
	puts("ok");
	return 0;
}
