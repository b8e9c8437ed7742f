/*
 * trace_signals.c: allocations from a signal handler, for the tracer's
 * unwinder: a SIGALRM handler (every 200 us) allocates and frees while the
 * main loop allocates at call depths 1..7.  The handler's stacks cross a
 * signal frame (the tracer's own unwinder leaves them to libunwind); with
 * an argument the handler runs on an alternate signal stack (outside the
 * thread's stack: the same).  The handler allocates only while the main
 * loop is outside the allocator (malloc is not async-signal-safe).  Prints
 * how many times the handler allocated.
 *
 *   trace_signals [alt]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static volatile sig_atomic_t handled, in_alloc;
static void *kept[1000];

static void handler(int sig)
{
	(void)sig;
	if (in_alloc)
		return;
	void *p = malloc(40);
	free(kept[handled % 1000]);
	kept[handled % 1000] = p;
	handled++;
}

__attribute__((noinline)) static void *deep(int d, size_t size)
{
	if (d) {
		void *r = deep(d - 1, size);
		__asm__ volatile("");
		return r;
	}
	return malloc(size);
}

int main(int argc, char **argv)
{
	int alt = argc > 1 && strcmp(argv[1], "alt") == 0;
	in_alloc = 1;
	stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
	if (alt && (!ss.ss_sp || sigaltstack(&ss, NULL) != 0))
		return 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = alt ? SA_ONSTACK : 0;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval on = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &on, NULL);
	for (long i = 0; i < 2000000 && handled < 20; i++) {
		in_alloc = 1;
		free(deep((int)(i % 7), 16 + (size_t)(i % 500)));
		in_alloc = 0;
		for (volatile int k = 0; k < 50; k++)
			;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	in_alloc = 1;
	printf("%d\n", (int)handled);
	return 0;
}
