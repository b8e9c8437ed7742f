/*
 * coretool.h: what the verbs of coretool share: the common options
 * (--format, -o, --exe, --sysroot, --debug-dir, --pid), opening targets, and
 * the one-line error convention:
 *
 *     coretool: TARGET: what is wrong (what to do)
 *
 * Exit status: 0 done; 1 check found problems / diff --max-growth exceeded;
 * 2 usage error; 3 the target cannot be read or is not supported.
 */
#ifndef CORETOOL_H
#define CORETOOL_H

#include "heapwalk.h"

#include <getopt.h>
#include <stdio.h>

enum ct_exit {
	CT_EXIT_OK = 0,
	CT_EXIT_FOUND = 1,
	CT_EXIT_USAGE = 2,
	CT_EXIT_TARGET = 3,
};

typedef enum ct_format {
	CT_FORMAT_TEXT = 0,
	CT_FORMAT_JSON = 1,
	CT_FORMAT_CSV = 2,
} ct_format;

#define CT_MAX_DEBUG_DIRS 16

/* Options every verb takes. */
typedef struct ct_common {
	ct_format format;
	const char *output; /* -o FILE, NULL for stdout */
	const char *exe;
	const char *sysroot;
	const char *debug_dirs[CT_MAX_DEBUG_DIRS + 1];
	int n_debug_dirs;
	pid_t pid; /* --pid N, 0 when none */
	int help;
} ct_common;

/* Long options handled by ct_common_option(); verbs append theirs. */
enum {
	CT_OPT_FORMAT = 1000,
	CT_OPT_EXE,
	CT_OPT_SYSROOT,
	CT_OPT_DEBUG_DIR,
	CT_OPT_PID,
	CT_OPT_HELP,
	CT_OPT_VERB_BASE = 1100, /* verbs number their own options from here */
};

#define CT_COMMON_LONG_OPTIONS                                                                     \
	{"format", required_argument, NULL, CT_OPT_FORMAT},                                        \
	    {"output", required_argument, NULL, 'o'},                                              \
	    {"exe", required_argument, NULL, CT_OPT_EXE},                                          \
	    {"sysroot", required_argument, NULL, CT_OPT_SYSROOT},                                  \
	    {"debug-dir", required_argument, NULL, CT_OPT_DEBUG_DIR},                              \
	    {"pid", required_argument, NULL, CT_OPT_PID},                                          \
	{                                                                                          \
		"help", no_argument, NULL, CT_OPT_HELP                                             \
	}

/* The short options string the common options need. */
#define CT_COMMON_SHORT_OPTIONS "+o:h"

/* Handle a common option; 1 when handled, 0 when not ours, -1 on a bad
 * value (message printed). */
int ct_common_option(ct_common *c, int opt, const char *arg);

/* coretool trace with --snapshot-at/--snapshot-dir/--limit: run cmd as a
 * child and snapshot it into dir as its memory crosses each threshold;
 * returns its exit status (trace_watch.c). */
int ct_trace_watch(char **cmd, const char *dir, const char *at_spec, uint64_t limit_opt);
/* coretool trace --watch PID: the same for a process already running (the
 * preload's watcher by hand, tracer/watch.c), until it ends: exit 0. */
int ct_trace_watch_pid(pid_t pid, const char *dir, const char *at_spec, uint64_t limit_opt);
/* coretool trace --start PID [--sample BYTES]: a dormant tracer
 * (HEAPWALK_TRACE=off) switched to sampled mode by its start signal. */
int ct_trace_start(pid_t pid, uint64_t sample);

/* Print "coretool: WHAT: message" and return code. */
int ct_error(int code, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A usage error for verb: message then a pointer to --help; returns 2. */
int ct_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open a target named by a command-line argument (a core file) or by
 * --pid.  On failure prints the one-line error and returns CT_EXIT_TARGET. */
int ct_target_open(hw_target **out, const ct_common *c, const char *path);
/* The name to use in error messages for this target spec. */
const char *ct_target_name(const ct_common *c, const char *path);

/* The output stream (-o FILE or stdout); NULL with an error printed. */
FILE *ct_output_open(const ct_common *c);
/* Close it; returns CT_EXIT_TARGET-free codes: 0 or CT_EXIT_USAGE on write error. */
int ct_output_close(const ct_common *c, FILE *f);

/* ---- the snapshot views (summary top diff snap chunks show check) ---- */

/* What a view verb is: its name, the view options it takes (HW_VOPT_*), its
 * synopsis and description for --help, and how many TARGET-like arguments
 * it takes (ADDRESS counts for show). */
typedef struct ct_view_verb {
	const char *name;
	unsigned accept;
	const char *synopsis;    /* after "coretool NAME " */
	const char *description; /* paragraph(s), each line ending in \n */
	int min_args, max_args;  /* positional arguments, --pid counting as one */
} ct_view_verb;

/* Parse a view verb's command line: view options into *vo, common options
 * into *c, positional arguments into args[0..*nargs).  Returns -1 when the
 * verb should go on, else the exit code to return (--help printed: 0;
 * usage error printed: 2). */
int ct_view_parse(const ct_view_verb *v, int argc, char **argv, hw_view_options *vo, ct_common *c,
                  char ***args, int *nargs);

/* A snapshot to view: taken from a core or a live process, or loaded from a
 * .hsnap file (recognised by its magic).  target stays open only when
 * keep_target (show's hex dump); it is NULL for a .hsnap file. */
typedef struct ct_source {
	hw_snapshot *snap;
	hw_target *target;
	const char *name; /* for error messages */
} ct_source;

/* path NULL means --pid.  On failure prints the one-line error and returns
 * CT_EXIT_TARGET. */
int ct_source_open(ct_source *src, const ct_common *c, const char *path, int keep_target);
void ct_source_close(ct_source *src);

/* The one-line error for a failed render (out of memory...): exit 3. */
int ct_render_failed(const char *verb);
/* diff's and report's targets: OLD (a file, or none when old_path is NULL:
 * *olds zeroed) and NEW (new_path, or --pid), and the output: 0, or the exit
 * status with the error printed and nothing left open. */
int ct_open_pair(ct_source *olds, ct_source *news, const ct_common *c, const char *old_path,
                 const char *new_path, FILE **out);

/* Render one snapshot; *found (check: problems) makes the verb exit 1. */
typedef int (*ct_render_fn)(FILE *f, const hw_snapshot *s, const hw_view_options *o,
                            uint64_t *found);

/* The whole of a verb that views one TARGET: parse (view options start from
 * *defaults), open the target or .hsnap, render to -o or stdout, close.
 * Returns the exit status. */
int ct_run_view(const ct_view_verb *v, int argc, char **argv, const hw_view_options *defaults,
                ct_render_fn render);

/* A verb: argc/argv start at the verb's name. */
typedef struct ct_verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} ct_verb;

int ct_verb_info(int argc, char **argv);
int ct_verb_summary(int argc, char **argv);
int ct_verb_top(int argc, char **argv);
int ct_verb_report(int argc, char **argv);
int ct_verb_diff(int argc, char **argv);
int ct_verb_snap(int argc, char **argv);
int ct_verb_chunks(int argc, char **argv);
int ct_verb_show(int argc, char **argv);
int ct_verb_check(int argc, char **argv);
int ct_verb_trace(int argc, char **argv);

#endif /* CORETOOL_H */
