/*
 * verb_trace.c: coretool trace [OPTIONS] -- COMMAND [ARGS...]: runs COMMAND
 * under the companion tracer (CONTRACT.md section 5).
 *
 * It only prepares the environment and execs, so the command keeps
 * coretool's pid, stdin/stdout/stderr and exit status:
 *  - LD_PRELOAD gets libheapwalk-trace.so (prepended to what was there);
 *  - HEAPWALK_TRACE_SAMPLE / _NATIVE_FRAMES / _PYTHON_FRAMES carry the
 *    options (the same names work by hand);
 *  - PYTHONPATH gets the directory of the tracer's sitecustomize, which
 *    installs the PyMem hooks when the command is (or later execs) CPython
 *    and then runs the program's own sitecustomize, if any.
 *
 * The tracer is found next to this coretool: in the build tree when
 * coretool runs from it, else under the installed pkglibdir/pkgdatadir;
 * HEAPWALK_TRACE_LIB overrides the library's path.
 */
#include "config.h"

#include "coretool.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_SAMPLE = CT_OPT_VERB_BASE,
	OPT_PYTHON_FRAMES,
	OPT_NATIVE_FRAMES,
	OPT_SNAPSHOT_DIR,
	OPT_SNAPSHOT_AT,
	OPT_LIMIT,
	OPT_WATCH,
	OPT_START,
};

/* Upper bounds of the tracer's tables (libheapwalk/tracer_format.h). */
#define MAX_NATIVE 64
#define MAX_PYTHON 128

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: coretool trace [--sample BYTES] [--python-frames N] [--native-frames N]\n"
	    "                      [--snapshot-dir DIR] [--snapshot-at 80%%,95%%] [--limit BYTES]\n"
	    "                      -- COMMAND [ARGS...]\n"
	    "\n"
	    "Runs COMMAND with the companion tracer preloaded: every live allocation's\n"
	    "site (native frames, and Python frames under CPython 3.8-3.15) is kept in\n"
	    "the process's own memory, so any core of it answers `coretool top`.\n"
	    "\n"
	    "  --sample BYTES       record a Poisson sample, one every BYTES allocated on\n"
	    "                       average (e.g. 512KiB); the reader scales counts and bytes\n"
	    "                       into unbiased estimates (default: every allocation)\n"
	    "  --python-frames N    Python frames per site (default 32, at most %d, 0: none:\n"
	    "                       native frames only)\n"
	    "  --native-frames N    native frames per site (default 8, 1..%d; the caller of\n"
	    "                       the allocation function is always recorded)\n"
	    "  --snapshot-at LIST   write a snapshot (.hsnap) each time the command's memory\n"
	    "                       crosses one of these shares of its limit or byte counts\n"
	    "                       (default 80%%,95%%): evidence that survives an OOM kill;\n"
	    "                       the command then runs as coretool's child, watched every\n"
	    "                       5 ms, stopped only while a snapshot is taken\n"
	    "  --snapshot-dir DIR   where the snapshots go (default: the current directory),\n"
	    "                       named COMMAND.PID.THRESHOLD.N.hsnap, of the process of the\n"
	    "                       command's tree the OOM killer would take first\n"
	    "  --limit BYTES        the limit: the resident set of the command and its\n"
	    "                       descendants against BYTES\n"
	    "                       (default: its cgroup's memory limit against the cgroup's\n"
	    "                       working set, else the machine's memory)\n"
	    "  --watch PID          snapshots at the thresholds of a process already running\n"
	    "                       (and its descendants), until it ends; no COMMAND\n"
	    "  --start PID          switch on the dormant tracer of a running process\n"
	    "                       (preloaded with HEAPWALK_TRACE=off: its hooks cost a\n"
	    "                       branch until then) in sampled mode, one sample every\n"
	    "                       --sample BYTES (default: its HEAPWALK_TRACE_SAMPLE, else\n"
	    "                       512KiB); no COMMAND\n"
	    "\n"
	    "By hand: LD_PRELOAD=%s/libheapwalk-trace.so with HEAPWALK_TRACE_SAMPLE,\n"
	    "HEAPWALK_TRACE_PYTHON_FRAMES, HEAPWALK_TRACE_NATIVE_FRAMES, and PYTHONPATH=%s/python\n"
	    "for Python frames; HEAPWALK_TRACE_SNAPSHOT_DIR, HEAPWALK_TRACE_SNAPSHOT_AT and\n"
	    "HEAPWALK_TRACE_LIMIT make the preload start coretool trace --watch for itself.  The "
	    "command's exit status is coretool's; 127 when it\n"
	    "cannot be run.\n",
	    MAX_PYTHON, MAX_NATIVE, HW_PKGLIBDIR, HW_PKGDATADIR);
}

static int parse_count(const char *opt, const char *arg, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi)
		return ct_usage_error("trace", "%s: '%s' is not a number in %u..%u", opt, arg, lo,
		                      hi);
	*out = (unsigned)v;
	return 0;
}

/* The tracer library and sitecustomize directory for this coretool. */
static void locate(char *lib, size_t libcap, char *pydir, size_t pycap)
{
	char exe[PATH_MAX];
	const char *env = getenv("HEAPWALK_TRACE_LIB");
	int in_build = realpath("/proc/self/exe", exe) &&
	               strncmp(exe, HW_ABS_BUILDDIR "/", strlen(HW_ABS_BUILDDIR) + 1) == 0;
	if (in_build) {
		snprintf(lib, libcap, "%s", HW_ABS_BUILDDIR "/tracer/.libs/libheapwalk-trace.so");
		snprintf(pydir, pycap, "%s", HW_ABS_SRCDIR "/tracer/python");
	} else {
		snprintf(lib, libcap, "%s", HW_PKGLIBDIR "/libheapwalk-trace.so");
		snprintf(pydir, pycap, "%s", HW_PKGDATADIR "/python");
	}
	if (env && *env)
		snprintf(lib, libcap, "%s", env);
}

/* Set name to value, or to value:old when name had a value. */
static int prepend_env(const char *name, const char *value, char sep)
{
	const char *old = getenv(name);
	if (!old || !*old)
		return setenv(name, value, 1);
	size_t n = strlen(value) + strlen(old) + 2;
	char *v = malloc(n);
	if (!v)
		return -1;
	snprintf(v, n, "%s%c%s", value, sep, old);
	int rc = setenv(name, v, 1);
	free(v);
	return rc;
}

/* Is the program cmd names (a path, or searched in PATH as execvp does) an
 * ELF executable without an interpreter, so that no LD_PRELOAD reaches it?
 * Scripts and what cannot be read are not. */
static int statically_linked(const char *cmd)
{
	char path[PATH_MAX];
	const char *dirs = strchr(cmd, '/') ? "" : getenv("PATH");
	if (!dirs)
		dirs = "/usr/local/bin:/usr/bin:/bin";
	for (const char *d = dirs;; d = strchr(d, ':') + 1) {
		size_t n = strcspn(d, ":");
		if (snprintf(path, sizeof path, "%.*s%s%s", (int)n, d, n ? "/" : "", cmd) <
		        (int)sizeof path &&
		    access(path, X_OK) == 0)
			break;
		if (!d[n])
			return 0;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	int interp = 0, elf = 0;
	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	    eh.e_phentsize == sizeof(Elf64_Phdr) && (eh.e_type == ET_EXEC || eh.e_type == ET_DYN) &&
	    eh.e_phnum < 4096) {
		elf = 1;
		for (unsigned i = 0; i < eh.e_phnum && !interp; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) !=
			    (ssize_t)sizeof ph) {
				elf = 0;
				break;
			}
			interp = ph.p_type == PT_INTERP;
		}
	}
	close(fd);
	return elf && !interp;
}

int ct_verb_trace(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"sample", required_argument, NULL, OPT_SAMPLE},
	    {"python-frames", required_argument, NULL, OPT_PYTHON_FRAMES},
	    {"native-frames", required_argument, NULL, OPT_NATIVE_FRAMES},
	    {"snapshot-dir", required_argument, NULL, OPT_SNAPSHOT_DIR},
	    {"snapshot-at", required_argument, NULL, OPT_SNAPSHOT_AT},
	    {"limit", required_argument, NULL, OPT_LIMIT},
	    {"watch", required_argument, NULL, OPT_WATCH},
	    {"start", required_argument, NULL, OPT_START},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t sample = 0, limit = 0;
	unsigned pyframes = 32, nframes = 8;
	const char *snap_dir = NULL, *snap_at = NULL;
	int watch = 0;
	long watch_pid = 0, start_pid = 0;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SAMPLE:
			if (hw_bytes_parse(optarg, &sample) != 0 || sample == 0)
				return ct_usage_error(
				    "trace", "--sample: '%s' is not a byte count > 0", optarg);
			break;
		case OPT_PYTHON_FRAMES:
			if (parse_count("--python-frames", optarg, 0, MAX_PYTHON, &pyframes))
				return CT_EXIT_USAGE;
			break;
		case OPT_NATIVE_FRAMES:
			if (parse_count("--native-frames", optarg, 1, MAX_NATIVE, &nframes))
				return CT_EXIT_USAGE;
			break;
		case OPT_SNAPSHOT_DIR:
			snap_dir = optarg;
			watch = 1;
			break;
		case OPT_SNAPSHOT_AT:
			snap_at = optarg;
			watch = 1;
			break;
		case OPT_LIMIT:
			if (hw_bytes_parse(optarg, &limit) != 0 || limit == 0)
				return ct_usage_error(
				    "trace", "--limit: '%s' is not a byte count > 0", optarg);
			watch = 1;
			break;
		case OPT_WATCH:
		case OPT_START: {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v <= 0 || v > INT_MAX)
				return ct_usage_error("trace", "--%s: '%s' is not a pid",
				                      opt == OPT_WATCH ? "watch" : "start", optarg);
			*(opt == OPT_WATCH ? &watch_pid : &start_pid) = v;
			break;
		}
		case 'h':
			usage(stdout);
			return CT_EXIT_OK;
		default:
			return ct_usage_error("trace", "unknown option");
		}
	}
	if (start_pid) {
		if (optind < argc)
			return ct_usage_error("trace", "--start PID takes no COMMAND");
		return ct_trace_start((pid_t)start_pid, sample);
	}
	if (watch_pid) {
		if (optind < argc)
			return ct_usage_error("trace", "--watch PID takes no COMMAND");
		return ct_trace_watch_pid((pid_t)watch_pid, snap_dir, snap_at, limit);
	}
	if (optind >= argc)
		return ct_usage_error("trace",
		                      "no COMMAND given (coretool trace -- COMMAND ARGS...)");

	char lib[PATH_MAX], pydir[PATH_MAX], num[32];
	locate(lib, sizeof lib, pydir, sizeof pydir);
	if (access(lib, R_OK) != 0)
		return ct_error(CT_EXIT_TARGET, lib,
		                "tracer library not found (build it with make, "
		                "or set HEAPWALK_TRACE_LIB)");
	if (prepend_env("LD_PRELOAD", lib, ':') != 0)
		return ct_error(CT_EXIT_TARGET, "trace", "cannot set LD_PRELOAD");
	snprintf(num, sizeof num, "%llu", (unsigned long long)sample);
	setenv("HEAPWALK_TRACE_SAMPLE", num, 1);
	snprintf(num, sizeof num, "%u", pyframes);
	setenv("HEAPWALK_TRACE_PYTHON_FRAMES", num, 1);
	snprintf(num, sizeof num, "%u", nframes);
	setenv("HEAPWALK_TRACE_NATIVE_FRAMES", num, 1);
	/* (with --python-frames 0 too: the hooks give pymalloc's blocks
	 * their native sites; without them those blocks had none) */
	if (access(pydir, R_OK) == 0)
		prepend_env("PYTHONPATH", pydir, ':');

	if (statically_linked(argv[optind]))
		fprintf(stderr,
		        "coretool: trace: %s is statically linked: the tracer cannot be preloaded "
		        "into it (no allocation sites will be recorded; its heap can still be "
		        "walked)\n",
		        argv[optind]);
	if (watch)
		return ct_trace_watch(argv + optind, snap_dir, snap_at, limit);
	execvp(argv[optind], argv + optind);
	ct_error(127, argv[optind], "cannot run: %s", strerror(errno));
	return 127;
}
