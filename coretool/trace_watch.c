/*
 * trace_watch.c: coretool trace --snapshot-at / --snapshot-dir / --limit:
 * snapshots that survive an OOM kill.
 *
 * The command runs as coretool's child (under the tracer, as always);
 * coretool stays its parent and watches its memory every few milliseconds.
 * Each time the memory crosses one of the thresholds upwards, coretool
 * takes a live snapshot of the process of the command's tree that the OOM
 * killer would take first, the highest /proc/PID/oom_score (the command,
 * or a worker it forked): stopped for the walk, only read, always resumed
 * (the library's --pid path; Yama's ptrace_scope 1 lets a process trace
 * its descendants).  It writes it as a .hsnap into the snapshot directory:
 * when the kernel kills the command later, the files stay.
 *
 * "Memory" and "limit", in the first of these that applies:
 *  - --limit BYTES: the command's resident set (/proc/PID/statm), with its
 *    descendants' (a server's workers; pages shared since a fork count in
 *    each), against it;
 *  - a cgroup memory limit (cgroup v2 memory.max, or v1
 *    memory.limit_in_bytes, the lowest on the way up to the root): the
 *    cgroup's working set, its usage less its inactive file pages (what the
 *    OOM killer cannot reclaim; the measure Kubernetes evicts by), against it;
 *  - else that resident set against the machine's memory
 *    (MemTotal).
 * A threshold is armed again once the memory falls below 90% of it.
 *
 * coretool's own memory counts in the same cgroup, and a snapshot needs
 * some while it is taken: the target's module tables, windows of the heap
 * rather than a copy (at most 8 MiB is read whole: HEAPWALK_READ_WHOLE_MAX_MIB),
 * about 20 bytes per allocation.  Taken too near the limit, it makes the
 * cgroup's OOM killer kill the command in the middle of the walk (seen at
 * 97.6% of a 200 MiB cgroup; the walk then fails, and says so, rather than
 * keep a heap read in part).  So under a cgroup limit the highest armed
 * threshold is also taken as crossed when what is left below the limit is
 * less than a snapshot needs (24 MiB, plus 32 bytes per allocation the last
 * snapshot held): the last snapshot that can still be taken.  After each,
 * coretool gives its freed memory back (malloc_trim).
 *
 * Signals: SIGINT and SIGQUIT reach the command from the terminal and are
 * ignored here; SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent to coretool are
 * passed on to the command.  The exit status is the command's (128 + the
 * signal that killed it).
 */
#include "config.h"

#include "coretool.h"
#include "tracer_format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_AT   16
#define MAX_TREE 256      /* processes of the command's tree followed */
#define POLL_NS  5000000L /* 5 ms */

struct at {
	uint64_t bytes; /* the threshold */
	char label[40]; /* as the file name says it: 80pct, 1GiB */
	int armed;
	unsigned taken;
};

enum measure { BY_RSS, BY_CGROUP };

struct watch {
	pid_t pid;
	const char *dir, *name;
	struct at at[MAX_AT];
	size_t n_at;
	uint64_t limit;
	const char *limit_from;
	enum measure how;
	char cg_usage[PATH_MAX + 32], cg_stat[PATH_MAX + 32];
	const char *inactive_key; /* in memory.stat */
	unsigned n_snaps;
	size_t last_count;                              /* allocations in the last snapshot */
	char first_path[PATH_MAX], last_path[PATH_MAX]; /* of the snapshots written */
	/* --limit: the command's tree, found again every TREE_POLLS polls
	 * (a /proc scan of every task: 12% of a core, mostly system time,
	 * watching 100 idle threads every 5 ms) */
	pid_t pids[MAX_TREE];
	size_t n_pids;
	unsigned polls;
};

#define TREE_POLLS 20

static volatile sig_atomic_t child_pid;

static void pass_on(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static int read_u64_file(const char *path, uint64_t *out)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char buf[64];
	int ok = fgets(buf, sizeof buf, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	if (!strncmp(buf, "max", 3)) {
		*out = UINT64_MAX;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -1;
	*out = v;
	return 0;
}

/* A "key value" line of a memory.stat file. */
static int stat_value(const char *path, const char *key, uint64_t *out)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char line[256];
	size_t kl = strlen(key);
	int rc = -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			*out = strtoull(line + kl + 1, NULL, 10);
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

/* The directory of this process's memory cgroup: v2 (the "0::" line of
 * /proc/self/cgroup under the cgroup2 mount) or v1 (the line naming the
 * memory controller, under its mount), each mount's root taken off the
 * path as /proc/self/mountinfo gives it (cgroup namespaces). */
static int cgroup_dir(char *out, size_t cap, int *v2)
{
	char line[4096], v1path[2048] = "", v2path[2048] = "";
	int have_v1 = 0, have_v2 = 0;
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		const char *ctrls = c1 + 1, *path = c2 + 1;
		if (!strcmp(line, "0") && !*ctrls) {
			snprintf(v2path, sizeof v2path, "%s", path);
			have_v2 = 1;
		} else {
			char *save, *tok, buf[256];
			snprintf(buf, sizeof buf, "%s", ctrls);
			for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				if (!strcmp(tok, "memory")) {
					snprintf(v1path, sizeof v1path, "%s", path);
					have_v1 = 1;
				}
		}
	}
	fclose(f);
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -1;
	int rc = -1;
	while (rc < 0 && fgets(line, sizeof line, f)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPEROPTS */
		char root[1024], mnt[1024], fstype[64], super[512];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %*s %511s", fstype, super) != 2)
			continue;
		const char *path = NULL;
		int is_v2 = 0;
		if (have_v1 && !strcmp(fstype, "cgroup")) {
			char *save, *tok;
			for (tok = strtok_r(super, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				if (!strcmp(tok, "memory"))
					path = v1path;
		} else if (have_v2 && !have_v1 && !strcmp(fstype, "cgroup2")) {
			path = v2path;
			is_v2 = 1;
		}
		if (!path)
			continue;
		size_t rl = strlen(root);
		if (!strcmp(root, "/"))
			rl = 0;
		else if (strncmp(path, root, rl) || (path[rl] && path[rl] != '/'))
			continue; /* the cgroup is not under this mount */
		if ((size_t)snprintf(out, cap, "%s%s", mnt, path + rl) < cap) {
			*v2 = is_v2;
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

/* The lowest memory limit from dir up to the mount's root (v2 sets one per
 * level; v1's hierarchical_memory_limit is already the lowest). */
static uint64_t cgroup_limit(const char *dir, int v2)
{
	char path[PATH_MAX + 32];
	uint64_t lim = UINT64_MAX, v;
	if (!v2) {
		snprintf(path, sizeof path, "%s/memory.stat", dir);
		if (stat_value(path, "hierarchical_memory_limit", &v) == 0)
			lim = v;
		snprintf(path, sizeof path, "%s/memory.limit_in_bytes", dir);
		if (read_u64_file(path, &v) == 0 && v < lim)
			lim = v;
		return lim;
	}
	char d[PATH_MAX];
	snprintf(d, sizeof d, "%s", dir);
	for (;;) {
		snprintf(path, sizeof path, "%s/memory.max", d);
		if (read_u64_file(path, &v) != 0)
			break; /* the root has none */
		if (v < lim)
			lim = v;
		char *slash = strrchr(d, '/');
		if (!slash || slash == d)
			break;
		*slash = 0;
	}
	return lim;
}

static uint64_t mem_total(void)
{
	uint64_t kib = 0;
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return 0;
	char line[256];
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1)
			break;
	fclose(f);
	return kib * 1024;
}

static int rss(pid_t pid, uint64_t *out)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	unsigned long long size, res;
	int n = fscanf(f, "%llu %llu", &size, &res);
	fclose(f);
	if (n != 2)
		return -1;
	*out = res * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

/* The command's processes: its pid, then every descendant (the children
 * files of each task, /proc/PID/task/TID/children), at most cap. */
static size_t tree(pid_t root, pid_t *out, size_t cap)
{
	size_t n = 0;
	out[n++] = root;
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/task", (int)out[i]);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char cpath[sizeof path + sizeof e->d_name + 16];
			snprintf(cpath, sizeof cpath, "%s/%s/children", path, e->d_name);
			FILE *f = fopen(cpath, "re");
			int kid;
			while (f && n < cap && fscanf(f, "%d", &kid) == 1) {
				size_t j = 0;
				while (j < n && out[j] != kid)
					j++;
				if (j == n)
					out[n++] = kid;
			}
			if (f)
				fclose(f);
		}
		if (d)
			closedir(d);
	}
	return n;
}

/* The process of the command's tree the OOM killer would take first: the
 * highest /proc/PID/oom_score (the kernel's own badness), the command
 * itself when none can be read. */
static pid_t largest(pid_t root)
{
	pid_t pids[MAX_TREE];
	size_t n = tree(root, pids, MAX_TREE);
	pid_t best = root;
	long best_score = -1;
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/oom_score", (int)pids[i]);
		FILE *f = fopen(path, "re");
		long score;
		if (f && fscanf(f, "%ld", &score) == 1 && score > best_score) {
			best_score = score;
			best = pids[i];
		}
		if (f)
			fclose(f);
	}
	return best;
}

/* A process's name (its comm), for the snapshot's file. */
static void comm_of(pid_t pid, char *out, size_t cap, const char *dflt)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f || !fgets(out, (int)cap, f))
		snprintf(out, cap, "%s", dflt);
	if (f)
		fclose(f);
	out[strcspn(out, "\n")] = 0;
	for (char *p = out; *p; p++)
		if (*p == '/' || *p == ' ')
			*p = '_';
}

static int usage_now(struct watch *w, uint64_t *out)
{
	if (w->how == BY_RSS) {
		/* the whole tree's (pages shared across a fork count in each) */
		if (w->polls++ % TREE_POLLS == 0)
			w->n_pids = tree(w->pid, w->pids, MAX_TREE);
		uint64_t sum = 0, r;
		int any = 0;
		for (size_t i = 0; i < w->n_pids; i++)
			if (rss(w->pids[i], &r) == 0) {
				sum += r;
				any = 1;
			}
		*out = sum;
		return any ? 0 : -1;
	}
	uint64_t use, inactive = 0;
	if (read_u64_file(w->cg_usage, &use) != 0)
		return -1;
	(void)stat_value(w->cg_stat, w->inactive_key, &inactive);
	*out = use > inactive ? use - inactive : 0;
	return 0;
}

/* Where the limit comes from (see the top of the file). */
static void choose_limit(struct watch *w, uint64_t limit_opt)
{
	w->how = BY_RSS;
	if (limit_opt) {
		w->limit = limit_opt;
		w->limit_from = "--limit";
		return;
	}
	char dir[PATH_MAX];
	int v2;
	uint64_t total = mem_total();
	if (cgroup_dir(dir, sizeof dir, &v2) == 0) {
		uint64_t lim = cgroup_limit(dir, v2);
		if (lim && lim != UINT64_MAX && (!total || lim < total)) {
			w->limit = lim;
			w->limit_from = v2 ? "cgroup memory.max" : "cgroup memory.limit_in_bytes";
			w->how = BY_CGROUP;
			snprintf(w->cg_usage, sizeof w->cg_usage, "%s/%s", dir,
			         v2 ? "memory.current" : "memory.usage_in_bytes");
			snprintf(w->cg_stat, sizeof w->cg_stat, "%s/memory.stat", dir);
			w->inactive_key = v2 ? "inactive_file" : "total_inactive_file";
			return;
		}
	}
	w->limit = total;
	w->limit_from = "MemTotal";
}

/* "80%,95%" or "1GiB,90%": shares of the limit and byte counts, in
 * increasing order. */
static int parse_at(struct watch *w, const char *spec)
{
	char buf[512];
	if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
		return ct_usage_error("trace", "--snapshot-at: too long");
	char *save, *tok;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (w->n_at == MAX_AT)
			return ct_usage_error("trace", "--snapshot-at: at most %d thresholds",
			                      MAX_AT);
		struct at *a = &w->at[w->n_at];
		size_t len = strlen(tok);
		if (len && tok[len - 1] == '%') {
			char *end;
			errno = 0;
			double pct = strtod(tok, &end);
			if (errno || end != tok + len - 1 || !(pct > 0 && pct <= 100))
				return ct_usage_error(
				    "trace", "--snapshot-at: '%s' is not a share in (0%%, 100%%]",
				    tok);
			a->bytes = (uint64_t)((double)w->limit * pct / 100.0);
			snprintf(a->label, sizeof a->label, "%gpct", pct);
		} else {
			if (hw_bytes_parse(tok, &a->bytes) != 0 || !a->bytes)
				return ct_usage_error(
				    "trace",
				    "--snapshot-at: '%s' is neither a share (80%%) nor "
				    "a byte count (1GiB)",
				    tok);
			snprintf(a->label, sizeof a->label, "%s", tok);
		}
		for (char *p = a->label; *p; p++)
			if (*p == '/' || *p == '.')
				*p = '_';
		a->armed = 1;
		w->n_at++;
	}
	if (!w->n_at)
		return ct_usage_error("trace", "--snapshot-at: no threshold given");
	/* increasing order: a jump past several takes one snapshot */
	for (size_t i = 1; i < w->n_at; i++)
		for (size_t j = i; j > 0 && w->at[j].bytes < w->at[j - 1].bytes; j--) {
			struct at x = w->at[j];
			w->at[j] = w->at[j - 1];
			w->at[j - 1] = x;
		}
	return 0;
}

static double mib(uint64_t b)
{
	return (double)b / 1048576.0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Snapshot the command, write it for threshold a: the file's path is said
 * on stderr either way. */
static void take(struct watch *w, struct at *a, uint64_t use, int early)
{
	/* the command or one of its descendants (a server's workers): the one
	 * the OOM killer would take */
	pid_t pid = largest(w->pid);
	char name[64], path[PATH_MAX];
	comm_of(pid, name, sizeof name, w->name);
	a->taken++;
	snprintf(path, sizeof path, "%s/%s.%d.%s.%u.hsnap", w->dir, name, (int)pid, a->label,
	         a->taken);
	double t0 = now();
	hw_target *t;
	hw_snapshot *s = NULL;
	int rc = hw_target_open_pid(&t, pid, NULL);
	if (rc == HW_OK) {
		rc = hw_snapshot_take(&s, t);
		hw_target_close(t); /* resumes it */
	}
	double stopped = now() - t0;
	if (rc == HW_OK)
		rc = hw_snapshot_save(s, path);
	if (rc == HW_OK) {
		w->n_snaps++;
		w->last_count = hw_snapshot_count(s);
		if (w->n_snaps == 1)
			snprintf(w->first_path, sizeof w->first_path, "%s", path);
		snprintf(w->last_path, sizeof w->last_path, "%s", path);
		fprintf(stderr,
		        "coretool: trace: %s (pid %d) at %.1f MiB of %.1f MiB (%s): %s, %zu "
		        "allocations (stopped %.0f ms)%s\n",
		        name, (int)pid, mib(use), mib(w->limit), w->limit_from, path,
		        hw_snapshot_count(s), stopped * 1e3,
		        early ? "; taken before its threshold: what is left below the limit is "
		                "about what a snapshot needs"
		              : "");
	} else {
		fprintf(stderr, "coretool: trace: %s (pid %d) at %.1f MiB: no snapshot: %s\n", name,
		        (int)pid, mib(use), hw_error_last());
	}
	hw_snapshot_free(s);
	malloc_trim(0); /* what the walk freed goes back: it counts in the cgroup */
}

static void poll_once(struct watch *w)
{
	uint64_t use;
	if (usage_now(w, &use) != 0)
		return;
	/* the highest threshold crossed and armed: one snapshot for all */
	struct at *hit = NULL;
	for (size_t i = 0; i < w->n_at; i++) {
		struct at *a = &w->at[i];
		if (!a->armed && use < a->bytes / 10 * 9)
			a->armed = 1;
		if (a->armed && use >= a->bytes) {
			a->armed = 0;
			hit = a;
		}
	}
	/* the last chance under a cgroup limit (see the top of the file) */
	int early = 0;
	uint64_t need = (24u << 20) + 32 * (uint64_t)w->last_count;
	if (!hit && w->how == BY_CGROUP && w->limit - (use < w->limit ? use : w->limit) < need) {
		for (size_t i = w->n_at; i-- > 0 && !hit;)
			if (w->at[i].armed)
				hit = &w->at[i];
		if (hit) {
			early = 1;
			for (size_t i = 0; i < w->n_at; i++)
				w->at[i].armed = 0;
		}
	}
	if (hit)
		take(w, hit, use, early);
}

/* The watch's settings: limit, thresholds, directory; 0 or an exit status. */
static int watch_setup(struct watch *w, const char *dir, const char *at_spec, uint64_t limit_opt)
{
	w->dir = dir ? dir : ".";
	choose_limit(w, limit_opt);
	if (!w->limit)
		return ct_error(CT_EXIT_TARGET, "trace",
		                "no memory limit found (give --limit BYTES)");
	int rc = parse_at(w, at_spec ? at_spec : "80%,95%");
	if (rc)
		return rc;
	struct stat st;
	if (stat(w->dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(w->dir, W_OK) != 0)
		return ct_error(CT_EXIT_TARGET, w->dir,
		                "the snapshot directory is not a writable directory (create it)");
	return 0;
}

/* What is watched, how, against what: said once on stderr. */
static void watch_banner(const struct watch *w)
{
	fprintf(stderr, "coretool: trace: %s (pid %d): snapshots into %s at", w->name, (int)w->pid,
	        w->dir);
	for (size_t i = 0; i < w->n_at; i++)
		fprintf(stderr, "%s %.1f MiB", i ? "," : "", mib(w->at[i].bytes));
	fprintf(stderr, " of %s %.1f MiB (%s)\n",
	        w->how == BY_CGROUP ? "the cgroup's working set,"
	                            : "the resident set of it and its descendants,",
	        mib(w->limit), w->limit_from);
}

/* A process that ended: gone, or a zombie its parent has not reaped. */
static int ended(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *close_paren = strrchr(buf, ')'); /* the name may hold anything */
	return !close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z' ||
	       close_paren[2] == 'X';
}

/* The answer in the log, when the process is gone (an OOM kill leaves no
 * one to ask, and a container's log is often all that is kept): the
 * largest groups of the last snapshot, by line when the tracer recorded
 * sites, else by type, and with two snapshots or more the growth from the
 * first to the last; five rows each, on stderr, as coretool top and diff
 * print them. */
static void verdict(const struct watch *w)
{
	hw_snapshot *last = NULL, *first = NULL;
	if (!w->n_snaps || hw_snapshot_load(&last, w->last_path))
		return;
	hw_view_options o;
	hw_view_options_init(&o);
	o.limit = 5;
	const hw_tracer_summary *ts = hw_snapshot_tracer_summary(last);
	/* (a dormant tracer has no sites yet: types say more) */
	o.group_by = ts && ts->live_allocations ? HW_GROUP_LINENO : HW_GROUP_TYPE;
	fprintf(stderr, "coretool: trace: the last snapshot, %s:\n", w->last_path);
	hw_render_top(stderr, last, &o);
	if (w->n_snaps > 1 && !hw_snapshot_load(&first, w->first_path)) {
		fprintf(stderr, "coretool: trace: what grew from %s to it:\n", w->first_path);
		hw_render_diff(stderr, first, last, &o, NULL);
	}
	hw_snapshot_free(first);
	hw_snapshot_free(last);
}

int ct_trace_watch_pid(pid_t pid, const char *dir, const char *at_spec, uint64_t limit_opt)
{
	struct watch w = {.pid = pid};
	char name[64];
	comm_of(pid, name, sizeof name, "process");
	w.name = name;
	if (ended(pid))
		return ct_error(CT_EXIT_TARGET, "trace", "--watch %d: no such process", (int)pid);
	int rc = watch_setup(&w, dir, at_spec, limit_opt);
	if (rc)
		return rc;
	setenv("HEAPWALK_READ_WHOLE_MAX_MIB", "8", 0);
	watch_banner(&w);
	while (!ended(pid)) {
		poll_once(&w);
		struct timespec ts = {0, POLL_NS};
		nanosleep(&ts, NULL);
	}
	if (w.n_snaps) {
		fprintf(stderr, "coretool: trace: %s (pid %d) ended: %u snapshot%s in %s\n", w.name,
		        (int)pid, w.n_snaps, w.n_snaps == 1 ? "" : "s", w.dir);
		verdict(&w);
	}
	return CT_EXIT_OK;
}

int ct_trace_watch(char **cmd, const char *dir, const char *at_spec, uint64_t limit_opt)
{
	struct watch w = {0};
	const char *base = strrchr(cmd[0], '/');
	w.name = base ? base + 1 : cmd[0];
	int rc = watch_setup(&w, dir, at_spec, limit_opt);
	if (rc)
		return rc;
	/* watched here: the preload starts no watcher of its own */
	char self[24];
	snprintf(self, sizeof self, "%d", (int)getpid());
	setenv("HEAPWALK_TRACE_WATCHED", self, 1);
	int gate[2];
	if (pipe2(gate, O_CLOEXEC) != 0)
		return ct_error(CT_EXIT_TARGET, "trace", "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		return ct_error(CT_EXIT_TARGET, "trace", "fork: %s", strerror(errno));
	if (pid == 0) {
		close(gate[0]);
		execvp(cmd[0], cmd);
		int e = errno;
		ssize_t ignored = write(gate[1], &e, sizeof e);
		(void)ignored;
		_exit(127);
	}
	close(gate[1]);
	int e;
	if (read(gate[0], &e, sizeof e) == (ssize_t)sizeof e) {
		close(gate[0]);
		waitpid(pid, NULL, 0);
		return ct_error(127, cmd[0], "cannot run: %s", strerror(e));
	}
	close(gate[0]);
	w.pid = pid;
	/* read the heap in windows: memory here counts against the limit too
	 * (set here, not in the command's environment) */
	setenv("HEAPWALK_READ_WHOLE_MAX_MIB", "8", 0);
	child_pid = pid;
	struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = pass_on};
	sigemptyset(&ign.sa_mask);
	sigemptyset(&fwd.sa_mask);
	fwd.sa_flags = SA_RESTART;
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGTERM, &fwd, NULL);
	sigaction(SIGHUP, &fwd, NULL);
	sigaction(SIGUSR1, &fwd, NULL);
	sigaction(SIGUSR2, &fwd, NULL);
	watch_banner(&w);

	int status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno == ECHILD) /* reaped while it was being walked */
			return ct_error(1, "trace", "%s (pid %d) ended; its exit status was lost",
			                w.name, (int)pid);
		if (r < 0 && errno != EINTR)
			return ct_error(CT_EXIT_TARGET, "trace", "waitpid: %s", strerror(errno));
		poll_once(&w);
		struct timespec ts = {0, POLL_NS};
		nanosleep(&ts, NULL);
	}
	child_pid = 0;
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		if (w.n_snaps) {
			fprintf(stderr,
			        "coretool: trace: %s (pid %d) killed by signal %d%s: %u snapshot%s "
			        "in %s\n",
			        w.name, (int)pid, sig, sig == SIGKILL ? " (out of memory?)" : "",
			        w.n_snaps, w.n_snaps == 1 ? "" : "s", w.dir);
			verdict(&w);
		}
		return 128 + sig;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* The tracer's mode in a running process, read (the process stopped a
 * moment, only read, resumed): "all", "sampled", "dormant"; NULL with
 * the error printed. */
static const char *tracer_mode(pid_t pid, uint64_t *sample_bytes)
{
	static char mode[16];
	hw_target *t;
	if (hw_target_open_pid(&t, pid, NULL)) {
		ct_error(CT_EXIT_TARGET, "trace", "--start %d: %s", (int)pid, hw_error_last());
		return NULL;
	}
	hw_tracer *tr;
	int rc = hw_tracer_open(&tr, t);
	if (rc == HW_OK) {
		const hw_tracer_summary *ts = hw_tracer_get_summary(tr);
		snprintf(mode, sizeof mode, "%s", ts && ts->mode ? ts->mode : "?");
		*sample_bytes = ts ? ts->sample_bytes : 0;
		hw_tracer_close(tr);
	} else {
		ct_error(CT_EXIT_TARGET, "trace", "--start %d: %s", (int)pid,
		         rc == HW_ENOTFOUND ? "no heapwalk tracer in it (preload it with "
		                              "HEAPWALK_TRACE=off to start it later)"
		                            : hw_error_last());
	}
	hw_target_close(t);
	return rc == HW_OK ? mode : NULL;
}

int ct_trace_start(pid_t pid, uint64_t sample)
{
	uint64_t bytes = 0;
	const char *mode = tracer_mode(pid, &bytes);
	if (!mode)
		return CT_EXIT_TARGET;
	if (strcmp(mode, "dormant"))
		return ct_error(CT_EXIT_TARGET, "trace",
		                "--start %d: its tracer is not dormant but records already (%s)",
		                (int)pid, mode);
	union sigval v = {.sival_ptr = (void *)(uintptr_t)sample};
	if (sigqueue(pid, SIGRTMIN + HWT_START_SIGNAL_RT, v) != 0)
		return ct_error(CT_EXIT_TARGET, "trace", "--start %d: %s", (int)pid,
		                strerror(errno));
	/* the handler's stores, seen from here (a second at most) */
	for (int i = 0; i < 100; i++) {
		struct timespec ts = {0, 10000000L};
		nanosleep(&ts, NULL);
		if (!(mode = tracer_mode(pid, &bytes)))
			return CT_EXIT_TARGET;
		if (!strcmp(mode, "sampled")) {
			fprintf(
			    stderr,
			    "coretool: trace: pid %d records from now on: one sample every %" PRIu64
			    " bytes allocated on average (each thread within 1 MiB of its own "
			    "allocation)\n",
			    (int)pid, bytes);
			return CT_EXIT_OK;
		}
	}
	return ct_error(CT_EXIT_TARGET, "trace",
	                "--start %d: its tracer did not start (does the program handle signal "
	                "SIGRTMIN+%d itself?)",
	                (int)pid, HWT_START_SIGNAL_RT);
}
