/*
 * arena_locked.c: a process one of whose threads holds the main arena's
 * lock for as long as the test wants.  glibc's malloc_stats() writes its
 * report to stderr while it holds each arena's lock in turn (malloc.c,
 * __malloc_stats: the arena locked, then fprintf), and stderr here is a
 * FIFO filled up and not read: the thread's first write blocks with the
 * main arena locked.  Nothing else in the process allocates after that.
 *
 *     arena_locked FIFO READY_FILE
 *
 * READY_FILE gets the pid 200 ms after the thread started; the process
 * exits 0 once the FIFO has been drained and malloc_stats returned.
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void *stats(void *arg)
{
	(void)arg;
	malloc_stats();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: arena_locked FIFO READY_FILE\n");
		return 2;
	}
	/* read-write: the open does not wait for a reader */
	int fd = open(argv[1], O_RDWR | O_NONBLOCK);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	static char buf[4096];
	memset(buf, 'x', sizeof buf);
	while (write(fd, buf, sizeof buf) > 0)
		;
	while (write(fd, buf, 1) > 0)
		;
	if (fcntl(fd, F_SETFL, 0) != 0 || dup2(fd, 2) != 2) {
		perror("fcntl/dup2");
		return 1;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, stats, NULL) != 0)
		return 1;
	usleep(200000);
	/* no malloc from here on: the main arena is locked */
	char line[64], tmp[4096];
	int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0 || write(out, line, (size_t)n) != n || close(out) != 0 || rename(tmp, argv[2]))
		return 1;
	pthread_join(t, NULL);
	return 0;
}
