/*
 * watch.c: snapshots at thresholds by hand.  With a bare LD_PRELOAD and
 * HEAPWALK_TRACE_SNAPSHOT_DIR, HEAPWALK_TRACE_SNAPSHOT_AT or
 * HEAPWALK_TRACE_LIMIT in the environment (the names of coretool trace's
 * --snapshot-dir, --snapshot-at and --limit), the preload's constructor
 * starts what `coretool trace` would be: `coretool trace --watch PID`,
 * watching this process and its descendants (coretool/trace_watch.c).
 *
 * The watcher is a grandchild made by a double fork, so the program never
 * sees a child it did not make (no SIGCHLD, nothing for its waitpid), in a
 * session of its own, without the preload (LD_PRELOAD and the variables
 * above are taken out of its environment), with standard input from
 * /dev/null and none of the program's descriptors but its standard output
 * and error (where it says what it does).  Under Yama's ptrace_scope 1
 * only an ancestor may trace a process unless the process names its tracer:
 * prctl(PR_SET_PTRACER) names the watcher.  HEAPWALK_TRACE_WATCHED (this
 * pid) is set for what the program forks and execs, which the first
 * watcher watches already (coretool trace sets it for its command too).
 *
 * coretool is HEAPWALK_TRACE_CORETOOL, else the build tree's when this
 * library is the build tree's, else the installed one.  Runs in the
 * constructor, single-threaded, with the thread busy (what setenv and
 * fork allocate is not recorded).
 */
#include "tracer.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif

extern char **environ;

/* The variables the watcher must not inherit. */
static int dropped(const char *kv)
{
	static const char *const names[] = {"LD_PRELOAD=", "HEAPWALK_TRACE_SNAPSHOT_DIR=",
	                                    "HEAPWALK_TRACE_SNAPSHOT_AT=", "HEAPWALK_TRACE_LIMIT="};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strncmp(kv, names[i], strlen(names[i])))
			return 1;
	return 0;
}

static void coretool_path(char *out, size_t cap)
{
	const char *env = getenv("HEAPWALK_TRACE_CORETOOL");
	if (env && *env) {
		snprintf(out, cap, "%s", env);
		return;
	}
	Dl_info info;
	const char *build = HWT_ABS_BUILDDIR "/";
	if (dladdr((void *)coretool_path, &info) && info.dli_fname &&
	    !strncmp(info.dli_fname, build, strlen(build)))
		snprintf(out, cap, "%s", HWT_ABS_BUILDDIR "/coretool/coretool");
	else
		snprintf(out, cap, "%s", HWT_BINDIR "/coretool");
}

/* Close every descriptor above 2 (close_range, Linux 5.9; else one by
 * one up to the limit). */
static void close_others(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		close((int)fd);
}

void hwt_watch_start(void)
{
	const char *dir = getenv("HEAPWALK_TRACE_SNAPSHOT_DIR");
	const char *at = getenv("HEAPWALK_TRACE_SNAPSHOT_AT");
	const char *limit = getenv("HEAPWALK_TRACE_LIMIT");
	if (!(dir && *dir) && !(at && *at) && !(limit && *limit))
		return;
	char self[24];
	snprintf(self, sizeof self, "%d", (int)getpid());
	const char *watched = getenv("HEAPWALK_TRACE_WATCHED");
	if (watched && *watched)
		return; /* coretool trace, or an ancestor's watcher, watches */
	char tool[4096];
	coretool_path(tool, sizeof tool);
	char *argv[12];
	int n = 0;
	argv[n++] = tool;
	argv[n++] = (char *)"trace";
	argv[n++] = (char *)"--watch";
	argv[n++] = self;
	if (dir && *dir) {
		argv[n++] = (char *)"--snapshot-dir";
		argv[n++] = (char *)dir;
	}
	if (at && *at) {
		argv[n++] = (char *)"--snapshot-at";
		argv[n++] = (char *)at;
	}
	if (limit && *limit) {
		argv[n++] = (char *)"--limit";
		argv[n++] = (char *)limit;
	}
	argv[n] = NULL;

	int gate[2];
	if (pipe2(gate, O_CLOEXEC) != 0)
		return;
	pid_t mid = fork();
	if (mid < 0) {
		close(gate[0]);
		close(gate[1]);
		return;
	}
	if (mid == 0) {
		/* the middle child: a session of its own, the watcher, gone */
		close(gate[0]);
		setsid();
		pid_t w = fork();
		if (w == 0) {
			size_t k = 0;
			while (environ && environ[k])
				k++;
			char **env = malloc((k + 1) * sizeof *env);
			size_t m = 0;
			for (size_t i = 0; env && i < k; i++)
				if (!dropped(environ[i]))
					env[m++] = environ[i];
			if (env)
				env[m] = NULL;
			int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (null >= 0)
				dup2(null, 0);
			/* none of the program's other descriptors (a socket, a
			 * pipe's end a reader waits to see closed) */
			close_others();
			execve(tool, argv, env ? env : environ);
			fprintf(stderr,
			        "heapwalk-trace: cannot run %s to take snapshots (set "
			        "HEAPWALK_TRACE_CORETOOL)\n",
			        tool);
			_exit(127);
		}
		ssize_t ignored = write(gate[1], &w, sizeof w);
		(void)ignored;
		_exit(0);
	}
	close(gate[1]);
	pid_t w = -1;
	if (read(gate[0], &w, sizeof w) != (ssize_t)sizeof w)
		w = -1;
	close(gate[0]);
	waitpid(mid, NULL, 0);
	if (w > 0) {
		prctl(PR_SET_PTRACER, (unsigned long)w, 0, 0, 0);
		setenv("HEAPWALK_TRACE_WATCHED", self, 1);
	}
}
