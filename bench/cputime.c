/*
 * cputime.c: run a command and write "CPU_SECONDS PEAK_RSS_KB" to a file:
 * the user + system time of the command and the children it waited for
 * (wait4's rusage, in microseconds) and its peak resident set size.  GNU
 * time, which reads the same rusage, prints hundredths of a second: 6% of
 * the C loop's untraced run on a quiet machine (0.17 s), coarser than the
 * 5% a sampled-mode goal asks to see.
 *
 *   cputime OUT CMD [ARGS...]
 *
 * Exit status: the command's (128 + the signal when one killed it; 127 when
 * it could not be run).  Its standard streams are the caller's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: cputime OUT CMD [ARGS...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("cputime: fork");
		return 127;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("cputime: wait4");
			return 127;
		}
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 127;
	}
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	             (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	fprintf(out, "%.6f %ld\n", cpu, ru.ru_maxrss);
	fclose(out);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 127;
}
