/*
 * common.c: what every verb shares: common options, opening targets,
 * errors in the one-line form, output files, byte counts.
 */
#include "config.h"

#include "coretool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ct_error(int code, const char *what, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "coretool: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int ct_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "coretool: %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (coretool %s --help)\n", verb);
	return CT_EXIT_USAGE;
}

int ct_common_option(ct_common *c, int opt, const char *arg)
{
	char *end;
	switch (opt) {
	case CT_OPT_FORMAT:
		if (!strcmp(arg, "text"))
			c->format = CT_FORMAT_TEXT;
		else if (!strcmp(arg, "json"))
			c->format = CT_FORMAT_JSON;
		else if (!strcmp(arg, "csv"))
			c->format = CT_FORMAT_CSV;
		else {
			ct_error(CT_EXIT_USAGE, "--format", "'%s' is not text, json or csv", arg);
			return -1;
		}
		return 1;
	case 'o':
		c->output = arg;
		return 1;
	case CT_OPT_EXE:
		c->exe = arg;
		return 1;
	case CT_OPT_SYSROOT:
		c->sysroot = arg;
		return 1;
	case CT_OPT_DEBUG_DIR:
		if (c->n_debug_dirs >= CT_MAX_DEBUG_DIRS) {
			ct_error(CT_EXIT_USAGE, "--debug-dir", "at most %d", CT_MAX_DEBUG_DIRS);
			return -1;
		}
		c->debug_dirs[c->n_debug_dirs++] = arg;
		c->debug_dirs[c->n_debug_dirs] = NULL;
		return 1;
	case CT_OPT_PID:
		errno = 0;
		long pid = strtol(arg, &end, 10);
		if (errno || *end || pid <= 0 || pid > INT32_MAX) {
			ct_error(CT_EXIT_USAGE, "--pid",
			         "'%s' is not a process id (give a number, as ps -e lists)", arg);
			return -1;
		}
		c->pid = (pid_t)pid;
		return 1;
	case CT_OPT_HELP:
	case 'h':
		c->help = 1;
		return 1;
	}
	return 0;
}

const char *ct_target_name(const ct_common *c, const char *path)
{
	static char buf[32];
	if (path)
		return path;
	snprintf(buf, sizeof buf, "pid %d", (int)c->pid);
	return buf;
}

int ct_target_open(hw_target **out, const ct_common *c, const char *path)
{
	hw_target_options o = {
	    .exe = c->exe,
	    .sysroot = c->sysroot,
	    .debug_dirs = c->n_debug_dirs ? (const char **)c->debug_dirs : NULL,
	};
	int rc = path ? hw_target_open_core(out, path, &o) : hw_target_open_pid(out, c->pid, &o);
	if (rc != HW_OK)
		return ct_error(CT_EXIT_TARGET, ct_target_name(c, path), "%s", hw_error_last());
	return CT_EXIT_OK;
}

FILE *ct_output_open(const ct_common *c)
{
	if (!c->output || !strcmp(c->output, "-"))
		return stdout;
	FILE *f = fopen(c->output, "w");
	if (!f)
		ct_error(CT_EXIT_USAGE, c->output, "cannot write: %s (check the path)",
		         strerror(errno));
	return f;
}

int ct_output_close(const ct_common *c, FILE *f)
{
	int bad = ferror(f);
	if (f == stdout)
		bad |= fflush(f) != 0;
	else
		bad |= fclose(f) != 0;
	if (bad)
		return ct_error(CT_EXIT_USAGE, c->output ? c->output : "stdout", "write error");
	return CT_EXIT_OK;
}

/* ---- view verbs: parsing, opening snapshots ---- */

static void view_usage(FILE *f, const ct_view_verb *v)
{
	fprintf(f, "usage: coretool %s %s\n\n%s\noptions:\n", v->name, v->synopsis, v->description);
	hw_view_options_help(f, v->accept);
	fprintf(
	    f,
	    "  -o, --output FILE   write there instead of stdout\n"
	    "  --pid N             a live process as the target (stopped for the walk, resumed)\n"
	    "  --exe PATH          the executable, when the core's own path does not resolve\n"
	    "  --sysroot DIR       prefix for every path the core names\n"
	    "  --debug-dir DIR     another debuginfo root (default /usr/lib/debug)\n"
	    "  -h, --help          this help\n\n"
	    "A TARGET is a core file, a snapshot file (.hsnap, recognised by its magic)\n"
	    "or --pid N.  Exit status: 0 done, 1 problems found or growth exceeded,\n"
	    "2 usage error, 3 the target cannot be read.  'man coretool' has it all.\n");
}

int ct_view_parse(const ct_view_verb *v, int argc, char **argv, hw_view_options *vo, ct_common *c,
                  char ***args, int *nargs)
{
	static const struct option longopts[] = {CT_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
	/* view options first (they are shared with the debugger commands),
	 * then the common ones from what is left */
	if (hw_view_options_parse(vo, v->accept, &argc, argv))
		return ct_usage_error(v->name, "%s", hw_error_last());
	int opt;
	optind = 1;
	opterr = 0;
	/* leading ':': a missing value is ':', an unknown option '?' */
	while ((opt = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		if (opt == ':')
			return ct_usage_error(v->name, "%s needs a value", argv[optind - 1]);
		if (opt == '?') {
			if (optopt)
				return ct_usage_error(v->name, "unknown option -%c", optopt);
			return ct_usage_error(v->name, "unknown option %s", argv[optind - 1]);
		}
		int r = ct_common_option(c, opt, optarg);
		if (r < 0)
			return CT_EXIT_USAGE;
		if (r == 0)
			return ct_usage_error(v->name, "unknown option");
	}
	if (c->help) {
		view_usage(stdout, v);
		return CT_EXIT_OK;
	}
	/* --format from the view parser wins; keep both in step */
	c->format = (ct_format)vo->format;
	*args = argv + optind;
	*nargs = argc - optind;
	int total = *nargs + (c->pid ? 1 : 0);
	if (total < v->min_args || total > v->max_args)
		return ct_usage_error(v->name, "usage: coretool %s %s", v->name, v->synopsis);
	return -1;
}

static int progress(void *ctx, const char *phase, uint64_t n)
{
	(void)ctx;
	fprintf(stderr, "\rcoretool: walking %-8s %12" PRIu64 " allocations", phase, n);
	fflush(stderr);
	return 0;
}

/* Allocators a program may use instead of glibc's malloc: their heaps are
 * not walked, so a summary of such a process shows little of its memory.
 * Said once on stderr, by the library's name. */
static void note_other_allocators(hw_target *t, const char *name)
{
	static const char *const libs[] = {"libjemalloc", "libtcmalloc", "libmimalloc", "libhoard",
	                                   "libsnmalloc", "librpmalloc", "libtbbmalloc"};
	const hw_module *mods;
	size_t n = hw_target_modules(t, &mods);
	for (size_t i = 0; i < n; i++) {
		const char *b = mods[i].name ? strrchr(mods[i].name, '/') : NULL;
		b = b ? b + 1 : mods[i].name;
		for (size_t k = 0; b && k < sizeof libs / sizeof libs[0]; k++)
			if (!strncmp(b, libs[k], strlen(libs[k])))
				fprintf(
				    stderr,
				    "coretool: %s: note: %s is loaded: what the program allocates "
				    "through it is not walked (glibc malloc and CPython's pymalloc "
				    "are)\n",
				    name, b);
	}
}

int ct_source_open(ct_source *src, const ct_common *c, const char *path, int keep_target)
{
	memset(src, 0, sizeof *src);
	src->name = ct_target_name(c, path);
	if (path && hw_snapshot_file_is_hsnap(path)) {
		int rc = hw_snapshot_load(&src->snap, path);
		if (rc == HW_ECORRUPT)
			return ct_error(CT_EXIT_TARGET, path,
			                "%s (the file is damaged: take the snapshot again)",
			                hw_error_last());
		if (rc == HW_EUNSUPPORTED)
			return ct_error(CT_EXIT_TARGET, path, "%s (a newer heapwalk may read it)",
			                hw_error_last());
		if (rc)
			return ct_error(CT_EXIT_TARGET, path, "%s", hw_error_last());
		return CT_EXIT_OK;
	}
	int rc = ct_target_open(&src->target, c, path);
	if (rc)
		return rc;
	hw_take_options to = {0};
	int tty = isatty(2);
	if (tty)
		to.progress = progress;
	rc = hw_snapshot_take_ex(&src->snap, src->target, &to);
	if (tty)
		fputs("\r\033[K", stderr);
	if (rc) {
		hw_target_close(src->target);
		src->target = NULL;
		return ct_error(CT_EXIT_TARGET, src->name, "%s", hw_error_last());
	}
	note_other_allocators(src->target, src->name);
	if (!keep_target) {
		/* a live process is resumed as soon as its snapshot is taken */
		hw_target_close(src->target);
		src->target = NULL;
	}
	return CT_EXIT_OK;
}

void ct_source_close(ct_source *src)
{
	hw_snapshot_free(src->snap);
	hw_target_close(src->target);
	memset(src, 0, sizeof *src);
}

int ct_open_pair(ct_source *olds, ct_source *news, const ct_common *c, const char *old_path,
                 const char *new_path, FILE **out)
{
	memset(olds, 0, sizeof *olds);
	*out = NULL;
	if (old_path) {
		ct_common c_file = *c; /* OLD is never the --pid target */
		c_file.pid = 0;
		int rc = ct_source_open(olds, &c_file, old_path, 0);
		if (rc)
			return rc;
	}
	int rc = ct_source_open(news, c, c->pid ? NULL : new_path, 0);
	if (rc) {
		ct_source_close(olds);
		return rc;
	}
	*out = ct_output_open(c);
	if (!*out) {
		ct_source_close(olds);
		ct_source_close(news);
		return CT_EXIT_USAGE;
	}
	return 0;
}

int ct_render_failed(const char *verb)
{
	return ct_error(CT_EXIT_TARGET, verb, "%s", hw_error_last());
}

int ct_run_view(const ct_view_verb *v, int argc, char **argv, const hw_view_options *defaults,
                ct_render_fn render)
{
	hw_view_options vo = *defaults;
	ct_common c = {0};
	char **args;
	int nargs;
	int rc = ct_view_parse(v, argc, argv, &vo, &c, &args, &nargs);
	if (rc >= 0)
		return rc;
	ct_source src;
	rc = ct_source_open(&src, &c, nargs ? args[0] : NULL, 0);
	if (rc)
		return rc;
	FILE *f = ct_output_open(&c);
	if (!f) {
		ct_source_close(&src);
		return CT_EXIT_USAGE;
	}
	uint64_t found = 0;
	rc = render(f, src.snap, &vo, &found) ? ct_render_failed(v->name) : CT_EXIT_OK;
	ct_source_close(&src);
	int wrc = ct_output_close(&c, f);
	if (rc || wrc)
		return rc ? rc : wrc;
	return found ? CT_EXIT_FOUND : CT_EXIT_OK;
}
