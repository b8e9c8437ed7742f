/*
 * threads_wait.c: a process with a known shape for the target layer's
 * tests: N threads (argv[1], default 3, at most 512), each blocked in its own function,
 * some heap in each.  argv[2] "abort" dumps core once all threads are up;
 * otherwise it writes "ready" to the file argv[3] and waits to be killed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t ready;

static void *worker(void *arg)
{
	void *volatile p = malloc(1000 + (size_t)arg);
	(void)p;
	pthread_barrier_wait(&ready);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	const char *mode = argc > 2 ? argv[2] : "abort";
	pthread_t t[512];
	if (n < 0 || n > 512)
		return 2;
	pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, (void *)(long)i);
	pthread_barrier_wait(&ready);
	if (!strcmp(mode, "abort"))
		abort();
	if (argc > 3) {
		FILE *f = fopen(argv[3], "w");
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	for (;;)
		pause();
}
