/*
 * busy_heap.c: a process whose threads do nothing but malloc and free, for
 * the tests of live walks of a heap in motion.
 *
 *     busy_heap N READY_FILE
 *
 * N threads (1..16) each keep 4096 slots and forever free one at random
 * and malloc another of a random size (70% 16..215 bytes, 25% 200..3199,
 * 5% 5000..204999: tcache, fastbins, bins, consolidation, mmapped chunks),
 * each thread in its own arena.  The main thread counts the SIGRTMIN
 * signals it receives; on SIGUSR1 it writes that count to READY_FILE.count
 * and exits.  READY_FILE gets the pid once the threads run, then "steps
 * 0xADDR": where the threads count their rounds (16 uint64_t, one each),
 * for a test to read from /proc/PID/mem whether they ran.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t received, done;
static volatile unsigned long steps[16];

static void on_rt(int sig)
{
	(void)sig;
	received++;
}

static void on_usr1(int sig)
{
	(void)sig;
	done = 1;
}

static void *churn(void *arg)
{
	unsigned s = (unsigned)(long)arg * 7919u + 1u;
	static __thread void *slot[4096];
	for (;;) {
		steps[(long)arg]++;
		s = s * 1103515245u + 12345u;
		unsigned i = (s >> 8) % 4096, r = (s >> 20) % 100;
		size_t n = r < 70 ? 16 + s % 200 : r < 95 ? 200 + s % 3000 : 5000 + s % 200000;
		free(slot[i]);
		slot[i] = malloc(n);
		if (slot[i])
			memset(slot[i], 1, 8);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	if (n < 1 || n > 16 || argc < 3)
		return 2;
	/* the workers take no signal: every SIGRTMIN reaches the main thread */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (long i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, churn, (void *)i))
			return 1;
	}
	struct sigaction sa = {.sa_handler = on_rt};
	sigaction(SIGRTMIN, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	char path[4096];
	FILE *f = fopen(argv[2], "w");
	if (!f)
		return 1;
	fprintf(f, "%d\nsteps %p\n", (int)getpid(), (void *)steps);
	fclose(f);
	while (!done)
		pause();
	snprintf(path, sizeof path, "%s.count", argv[2]);
	if (!(f = fopen(path, "w")))
		return 1;
	fprintf(f, "%d\n", (int)received);
	fclose(f);
	return 0;
}
