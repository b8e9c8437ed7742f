/*
 * user_stack.c: a thread whose stack is a block the program malloc'd (1 MiB:
 * a mmapped chunk) and gave to pthread_attr_setstack; glibc puts the
 * thread's struct pthread at the top of that block, as in its own stacks.
 * Writes the block's address to the file argv[1], then waits to be killed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *run(void *arg)
{
	(void)arg;
	void *volatile q = malloc(300000);
	(void)q;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	size_t size = 1 << 20;
	void *stack = malloc(size);
	pthread_attr_t at;
	pthread_t t;
	if (argc < 2 || !stack || pthread_attr_init(&at) ||
	    pthread_attr_setstack(&at, stack, size) || pthread_create(&t, &at, run, NULL))
		return 2;
	sleep(1); /* the thread is in pause() */
	FILE *f = fopen(argv[1], "w");
	if (!f)
		return 3;
	fprintf(f, "%p\n", stack);
	fclose(f);
	for (;;)
		pause();
}
