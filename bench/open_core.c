/*
 * open_core.c: how long opening a core takes (headers and notes only: the
 * segments are mmapped, nothing is read), against reading the file once.
 * usage: open_core CORE [ROUNDS]
 */
#include "heapwalk.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int rounds = argc > 2 ? atoi(argv[2]) : 20;
	struct stat st;
	if (stat(argv[1], &st) != 0)
		return 2;
	double best = 1e9;
	for (int i = 0; i < rounds; i++) {
		hw_target *t;
		double a = now();
		if (hw_target_open_core(&t, argv[1], NULL) != HW_OK) {
			fprintf(stderr, "open_core: %s\n", hw_error_last());
			return 3;
		}
		const hw_mapping *m;
		size_t n = hw_target_mappings(t, &m);
		hw_target_close(t);
		double d = now() - a;
		if (d < best)
			best = d;
		(void)n;
	}
	/* the peer: reading the whole file once, sequentially (warm cache) */
	int fd = open(argv[1], O_RDONLY);
	static char buf[1 << 20];
	double a = now();
	while (read(fd, buf, sizeof buf) > 0)
		;
	double rd = now() - a;
	close(fd);
	printf("core %.0f MiB: open %.3f ms (best of %d); read once %.1f ms; ratio %.5f\n",
	       (double)st.st_size / 1048576.0, best * 1e3, rounds, rd * 1e3, best / rd);
	return 0;
}
