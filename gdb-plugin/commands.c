/*
 * commands.c: the heapsnap subcommands and the snapshot registry.
 *
 * Each subcommand parses its argv exactly as coretool does: first the view
 * options through hw_view_options_parse (the parser coretool uses, so the
 * same options give the same hw_view_options and the renderers print the
 * same bytes), then the front-end options (-o FILE, --exe, --sysroot,
 * --debug-dir), then positional arguments.
 *
 * The registry holds the snapshots of this debugger session, numbered from
 * 1 in the order taken or loaded, optionally named.  A name is never all
 * digits (a number always means a number) and never starts with '-'.
 * Taking a snapshot under an existing name replaces the old one.
 */
#include "config.h"

#include "plugin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- registry --------------------------------------------------------------- */

typedef struct entry {
	unsigned number;
	char *name;   /* NULL when unnamed */
	char *origin; /* "pid 1234", "core /x/core", "file /x/a.hsnap" */
	time_t taken;
	hw_snapshot *snap;
} entry;

static entry *entries;
static size_t n_entries, cap_entries;
static unsigned next_number = 1;

static int is_number(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static void entry_drop(size_t i)
{
	free(entries[i].name);
	free(entries[i].origin);
	hw_snapshot_free(entries[i].snap);
	memmove(&entries[i], &entries[i + 1], (n_entries - i - 1) * sizeof *entries);
	n_entries--;
}

/* Register s (owned from now on); returns its entry or NULL (ENOMEM, s freed). */
static entry *registry_add(hw_snapshot *s, const char *name, const char *origin)
{
	if (name)
		for (size_t i = 0; i < n_entries; i++)
			if (entries[i].name && !strcmp(entries[i].name, name)) {
				entry_drop(i);
				break;
			}
	if (n_entries == cap_entries) {
		size_t cap = cap_entries ? 2 * cap_entries : 16;
		entry *e = realloc(entries, cap * sizeof *e);
		if (!e) {
			hw_snapshot_free(s);
			return NULL;
		}
		entries = e;
		cap_entries = cap;
	}
	entry *e = &entries[n_entries];
	*e = (entry){.number = next_number, .taken = time(NULL), .snap = s};
	e->name = name ? strdup(name) : NULL;
	e->origin = strdup(origin);
	if ((name && !e->name) || !e->origin) {
		free(e->name);
		free(e->origin);
		hw_snapshot_free(s);
		return NULL;
	}
	next_number++;
	n_entries++;
	return e;
}

/* The entry named or numbered spec, NULL with the error raised. */
static entry *registry_find(const char *sub, const char *spec)
{
	if (is_number(spec)) {
		unsigned long n = strtoul(spec, NULL, 10);
		for (size_t i = 0; i < n_entries; i++)
			if (entries[i].number == n)
				return &entries[i];
	} else
		for (size_t i = 0; i < n_entries; i++)
			if (entries[i].name && !strcmp(entries[i].name, spec))
				return &entries[i];
	hwp_fail(sub, "no snapshot '%s' (heapsnap list shows them)", spec);
	return NULL;
}

/* The k-th newest entry (0: newest), NULL with the error raised. */
static entry *registry_newest(const char *sub, size_t k)
{
	if (n_entries > k)
		return &entries[n_entries - 1 - k];
	if (n_entries == 0)
		hwp_fail(sub, "no snapshot yet (take one with heapsnap [NAME])");
	else
		hwp_fail(sub, "only one snapshot (take another with heapsnap [NAME])");
	return NULL;
}

static int check_name(const char *sub, const char *name)
{
	if (is_number(name) || name[0] == '-' || strlen(name) > 200) {
		hwp_fail(sub,
		         "'%s' cannot name a snapshot (numbers are the snapshots' own "
		         "numbers; use a word)",
		         name);
		return -1;
	}
	for (const char *const *s = hwp_subcommands; *s; s++)
		if (!strcmp(*s, name)) {
			hwp_fail(sub, "'%s' is a subcommand and cannot name a snapshot", name);
			return -1;
		}
	return 0;
}

/* ---- output ----------------------------------------------------------------- */

/* Where a command prints: a memory stream returned to the debugger, or the
 * -o FILE. */
typedef struct output {
	FILE *f;
	char *buf; /* memory stream */
	size_t len;
	const char *path;
	/* stderr text: warnings worth saying once */
	FILE *ef;
	char *ebuf;
	size_t elen;
} output;

static int output_open(output *o, const char *sub, const char *path)
{
	memset(o, 0, sizeof *o);
	o->path = path && strcmp(path, "-") ? path : NULL;
	o->ef = open_memstream(&o->ebuf, &o->elen);
	if (!o->ef) {
		PyErr_NoMemory();
		return -1;
	}
	if (o->path) {
		o->f = fopen(o->path, "w");
		if (!o->f) {
			hwp_fail(sub, "%s: cannot write: %s (check the path)", o->path,
			         strerror(errno));
			fclose(o->ef);
			free(o->ebuf);
			return -1;
		}
	} else if (!(o->f = open_memstream(&o->buf, &o->len))) {
		PyErr_NoMemory();
		fclose(o->ef);
		free(o->ebuf);
		return -1;
	}
	return 0;
}

/* Close and build (out, err, status); on ok == 0 only release. */
static PyObject *output_close(output *o, const char *sub, int ok, int status)
{
	int bad = o->f ? fclose(o->f) != 0 : 0;
	fclose(o->ef);
	PyObject *r = NULL;
	if (ok && bad)
		hwp_fail(sub, "%s: write error", o->path ? o->path : "output");
	else if (ok)
		r = Py_BuildValue("(s#s#i)", o->path ? "" : o->buf,
		                  (Py_ssize_t)(o->path ? 0 : o->len), o->ebuf, (Py_ssize_t)o->elen,
		                  status);
	free(o->buf);
	free(o->ebuf);
	return r;
}

/* ---- argv ------------------------------------------------------------------- */

#define MAX_POS 4

typedef struct args {
	hwp_target_args ta;
	const char *output;
	const char *pos[MAX_POS];
	int npos;
} args;

/* The front-end options and positional arguments left after the view
 * options were taken out.  target: --exe/--sysroot/--debug-dir allowed. */
static int parse_rest(const char *sub, int argc, char **argv, int target, int max_pos, args *a)
{
	memset(a, 0, sizeof *a);
	int only_pos = 0;
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		if (!only_pos && !strcmp(arg, "--")) {
			only_pos = 1;
			continue;
		}
		if (!only_pos && target && !strcmp(arg, "--through-debugger")) {
			a->ta.through_debugger = 1;
			continue;
		}
		if (only_pos || arg[0] != '-' || !arg[1]) {
			if (a->npos >= max_pos) {
				hwp_fail(sub, "unexpected argument '%s' (help heapsnap%s%s)", arg,
				         strcmp(sub, "take") ? " " : "",
				         strcmp(sub, "take") ? sub : "");
				return -1;
			}
			a->pos[a->npos++] = arg;
			continue;
		}
		/* --opt VALUE or --opt=VALUE */
		char *eq = strchr(arg, '=');
		size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
		static const char *const names[] = {"-o", "--output", "--exe", "--sysroot",
		                                    "--debug-dir"};
		int which = -1;
		for (int k = 0; k < 5; k++)
			if (strlen(names[k]) == nl && !strncmp(arg, names[k], nl))
				which = k;
		if (which < 0 || (which >= 2 && !target)) {
			hwp_fail(sub, "unknown option %.*s (help heapsnap%s%s)", (int)nl, arg,
			         strcmp(sub, "take") ? " " : "", strcmp(sub, "take") ? sub : "");
			return -1;
		}
		const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!val || !*val) {
			hwp_fail(sub, "%.*s needs a value", (int)nl, arg);
			return -1;
		}
		switch (which) {
		case 0:
		case 1:
			a->output = val;
			break;
		case 2:
			a->ta.exe = val;
			break;
		case 3:
			a->ta.sysroot = val;
			break;
		case 4:
			if (a->ta.n_debug_dirs >= HWP_MAX_DEBUG_DIRS) {
				hwp_fail(sub, "at most %d --debug-dir", HWP_MAX_DEBUG_DIRS);
				return -1;
			}
			a->ta.debug_dirs[a->ta.n_debug_dirs++] = val;
			break;
		}
	}
	return 0;
}

static int parse_view(const char *sub, unsigned accept, int *argc, char **argv, hw_view_options *vo)
{
	hw_view_options_init(vo);
	/* coretool chunks' default (verb_chunks.c): every chunk, used and free */
	if (!strcmp(sub, "chunks"))
		vo->states = (1u << HW_STATE_USED) | (1u << HW_STATE_FREE);
	/* coretool report's (verb_report.c): 20 rows a table */
	if (!strcmp(sub, "report"))
		vo->limit = 20;
	if (accept && hw_view_options_parse(vo, accept, argc, argv) != HW_OK) {
		hwp_fail(sub, "%s", hw_error_last());
		return -1;
	}
	return 0;
}

/* ---- taking snapshots --------------------------------------------------------- */

/* Called by the walk every few thousand allocations: Ctrl-C stops it. */
static int progress(void *ctx, const char *phase, uint64_t allocations)
{
	return hwp_poll_interrupt(ctx);
}

static void say_warnings(output *o, hw_target *t)
{
	const char *const *w;
	size_t n = hw_target_warnings(t, &w);
	for (size_t i = 0; i < n; i++)
		fprintf(o->ef, "heapsnap: warning: %s\n", w[i]);
}

/* Open the debugger's target and walk it.  keep_target: leave it open in
 * *tp (show's hex dump), else closed.  0, or -1 with the error raised. */
static int take(hwp_run *run, const args *a, output *o, hw_snapshot **out, char **label,
                hw_target **tp)
{
	hw_target *t;
	*out = NULL;
	if (tp)
		*tp = NULL;
	if (hwp_target_open(run, &a->ta, &t, label))
		return -1;
	say_warnings(o, t);
	hw_take_options to = {.progress = progress, .ctx = run};
	int rc = hw_snapshot_take_ex(out, t, &to);
	if (rc == HW_OK && run->interrupted) {
		/* Ctrl-C in a read callback: the walk may have ended without
		 * a progress report; what it found is incomplete */
		hw_snapshot_free(*out);
		*out = NULL;
		rc = HW_EINTR;
	}
	if (rc != HW_OK) {
		if (!run->interrupted)
			hwp_fail(run->sub, "%s: %s", *label, hw_error_last());
		hw_target_close(t);
		free(*label);
		*label = NULL;
		return -1;
	}
	if (tp)
		*tp = t;
	else
		hw_target_close(t);
	return 0;
}

/* ---- subcommands ------------------------------------------------------------ */

static PyObject *cmd_take(hwp_run *run, int argc, char **argv)
{
	hw_view_options vo;
	if (parse_view(run->sub, HW_VOPT_FORMAT, &argc, argv, &vo))
		return NULL;
	args a;
	if (parse_rest(run->sub, argc, argv, 1, 1, &a))
		return NULL;
	const char *name = a.npos ? a.pos[0] : NULL;
	if (name && check_name(run->sub, name))
		return NULL;
	output o;
	if (output_open(&o, run->sub, a.output))
		return NULL;
	hw_snapshot *s;
	char *label;
	if (take(run, &a, &o, &s, &label, NULL))
		return output_close(&o, run->sub, 0, 0);
	entry *e = registry_add(s, name, label);
	free(label);
	if (!e) {
		output_close(&o, run->sub, 0, 0);
		return PyErr_NoMemory();
	}
	int rc = 0;
	/* The announcement goes where it does not change the summary's bytes:
	 * before a text summary in the debugger, to stderr when the summary is
	 * JSON/CSV or goes to a file (then the file is coretool summary's). */
	FILE *say = vo.format == HW_FORMAT_TEXT && !o.path ? o.f : o.ef;
	fprintf(say, "snapshot %u%s%s%s of %s: %zu allocations\n", e->number, e->name ? " (" : "",
	        e->name ? e->name : "", e->name ? ")" : "", e->origin, hw_snapshot_count(e->snap));
	rc = hw_render_summary(o.f, e->snap, &vo);
	if (rc) {
		hwp_fail(run->sub, "%s", hw_error_last());
		return output_close(&o, run->sub, 0, 0);
	}
	return output_close(&o, run->sub, 1, 0);
}

static PyObject *cmd_list(hwp_run *run, int argc, char **argv)
{
	args a;
	if (parse_rest(run->sub, argc, argv, 0, 0, &a))
		return NULL;
	output o;
	if (output_open(&o, run->sub, a.output))
		return NULL;
	if (!n_entries)
		fprintf(o.f, "no snapshots yet (take one with heapsnap [NAME])\n");
	else
		fprintf(o.f, "%4s  %-16s  %12s  %-8s  %s\n", "#", "name", "allocations", "taken",
		        "of");
	for (size_t i = 0; i < n_entries; i++) {
		entry *e = &entries[i];
		char when[16];
		struct tm tm;
		strftime(when, sizeof when, "%H:%M:%S", localtime_r(&e->taken, &tm));
		size_t count = hw_snapshot_count(e->snap);
		fprintf(o.f, "%4u  %-16s  %12zu  %-8s  %s\n", e->number, e->name ? e->name : "-",
		        count, when, e->origin);
	}
	return output_close(&o, run->sub, 1, 0);
}

static PyObject *cmd_top(hwp_run *run, int argc, char **argv)
{
	hw_view_options vo;
	args a;
	if (parse_view(run->sub, HW_VOPT_TOP, &argc, argv, &vo) ||
	    parse_rest(run->sub, argc, argv, 0, 1, &a))
		return NULL;
	entry *e = a.npos ? registry_find(run->sub, a.pos[0]) : registry_newest(run->sub, 0);
	if (!e)
		return NULL;
	output o;
	if (output_open(&o, run->sub, a.output))
		return NULL;
	if (hw_render_top(o.f, e->snap, &vo)) {
		hwp_fail(run->sub, "%s", hw_error_last());
		return output_close(&o, run->sub, 0, 0);
	}
	return output_close(&o, run->sub, 1, 0);
}

static PyObject *cmd_diff(hwp_run *run, int argc, char **argv)
{
	hw_view_options vo;
	args a;
	if (parse_view(run->sub, HW_VOPT_DIFF, &argc, argv, &vo) ||
	    parse_rest(run->sub, argc, argv, 0, 2, &a))
		return NULL;
	entry *old_e, *new_e;
	if (a.npos == 0) {
		if (!(old_e = registry_newest(run->sub, 1)))
			return NULL;
		new_e = registry_newest(run->sub, 0);
	} else {
		if (!(old_e = registry_find(run->sub, a.pos[0])))
			return NULL;
		new_e =
		    a.npos == 2 ? registry_find(run->sub, a.pos[1]) : registry_newest(run->sub, 0);
		if (!new_e)
			return NULL;
	}
	output o;
	if (output_open(&o, run->sub, a.output))
		return NULL;
	int exceeded = 0;
	if (hw_render_diff(o.f, old_e->snap, new_e->snap, &vo, &exceeded)) {
		hwp_fail(run->sub, "%s", hw_error_last());
		return output_close(&o, run->sub, 0, 0);
	}
	return output_close(&o, run->sub, 1, exceeded);
}

static PyObject *cmd_report(hwp_run *run, int argc, char **argv)
{
	/* --vs OLD is the report's own, taken out as in coretool report */
	const char *vs = NULL;
	if (hw_args_take(&argc, argv, "--vs", &vs) < 0)
		return hwp_fail(run->sub, "%s", hw_error_last());
	hw_view_options vo;
	args a;
	if (parse_view(run->sub, HW_VOPT_STATE | HW_VOPT_LIMIT | HW_VOPT_FRAMES | HW_VOPT_FILTERS,
	               &argc, argv, &vo) ||
	    parse_rest(run->sub, argc, argv, 0, 1, &a))
		return NULL;
	if (!a.output)
		return hwp_fail(run->sub, "give the page's file with -o FILE.html");
	entry *e = a.npos ? registry_find(run->sub, a.pos[0]) : registry_newest(run->sub, 0);
	entry *old_e = e && vs ? registry_find(run->sub, vs) : NULL;
	if (!e || (vs && !old_e))
		return NULL;
	output o;
	if (output_open(&o, run->sub, a.output))
		return NULL;
	if (hw_render_report(o.f, e->snap, old_e ? old_e->snap : NULL, &vo)) {
		hwp_fail(run->sub, "%s", hw_error_last());
		return output_close(&o, run->sub, 0, 0);
	}
	return output_close(&o, run->sub, 1, 0);
}

/* chunks, check and show work on a registered snapshot when one is named,
 * else on a fresh walk of the inferior as it is now. */
static PyObject *cmd_on_snapshot(hwp_run *run, int argc, char **argv, unsigned accept)
{
	int is_show = !strcmp(run->sub, "show");
	hw_view_options vo;
	args a;
	if (parse_view(run->sub, accept, &argc, argv, &vo) ||
	    parse_rest(run->sub, argc, argv, 1, is_show ? 2 : 1, &a))
		return NULL;
	uint64_t address = 0;
	if (is_show) {
		if (a.npos < 1)
			return hwp_fail(run->sub, "which address? (heapsnap show [SNAP] ADDRESS)");
		const char *s = a.pos[--a.npos];
		char *end;
		errno = 0;
		address = strtoull(s, &end, 0);
		if (errno || end == s || *end)
			return hwp_fail(run->sub, "'%s' is not an address", s);
	}
	entry *e = NULL;
	if (a.npos && !(e = registry_find(run->sub, a.pos[0])))
		return NULL;
	output o;
	if (output_open(&o, run->sub, a.output))
		return NULL;
	hw_snapshot *fresh = NULL;
	hw_target *t = NULL;
	char *label = NULL;
	if (!e && take(run, &a, &o, &fresh, &label, is_show ? &t : NULL))
		return output_close(&o, run->sub, 0, 0);
	free(label);
	const hw_snapshot *s = e ? e->snap : fresh;
	int rc, status = 0;
	if (is_show)
		rc = hw_render_show(o.f, s, t, address, &vo);
	else if (!strcmp(run->sub, "check")) {
		uint64_t n = 0;
		rc = hw_render_check(o.f, s, &vo, &n);
		status = n > 0;
	} else
		rc = hw_render_chunks(o.f, s, &vo);
	if (rc)
		hwp_fail(run->sub, "%s", hw_error_last());
	hw_target_close(t);
	hw_snapshot_free(fresh);
	return output_close(&o, run->sub, rc == 0, status);
}

static PyObject *cmd_chunks(hwp_run *run, int argc, char **argv)
{
	return cmd_on_snapshot(run, argc, argv,
	                       HW_VOPT_FORMAT | HW_VOPT_STATE | HW_VOPT_CHUNKS | HW_VOPT_FILTERS);
}

static PyObject *cmd_show(hwp_run *run, int argc, char **argv)
{
	return cmd_on_snapshot(run, argc, argv, HW_VOPT_FORMAT | HW_VOPT_FRAMES);
}

static PyObject *cmd_check(hwp_run *run, int argc, char **argv)
{
	return cmd_on_snapshot(run, argc, argv, HW_VOPT_FORMAT);
}

static PyObject *cmd_save(hwp_run *run, int argc, char **argv)
{
	args a;
	if (parse_rest(run->sub, argc, argv, 0, 2, &a))
		return NULL;
	if (a.npos != 2)
		return hwp_fail(run->sub, "usage: heapsnap save SNAP FILE");
	entry *e = registry_find(run->sub, a.pos[0]);
	if (!e)
		return NULL;
	if (hw_snapshot_save(e->snap, a.pos[1]) != HW_OK)
		return hwp_fail(run->sub, "%s: %s", a.pos[1], hw_error_last());
	output o;
	if (output_open(&o, run->sub, NULL))
		return NULL;
	fprintf(o.f, "snapshot %u saved to %s\n", e->number, a.pos[1]);
	return output_close(&o, run->sub, 1, 0);
}

static PyObject *cmd_load(hwp_run *run, int argc, char **argv)
{
	args a;
	if (parse_rest(run->sub, argc, argv, 0, 2, &a))
		return NULL;
	if (a.npos < 1)
		return hwp_fail(run->sub, "usage: heapsnap load FILE [NAME]");
	const char *name = a.npos > 1 ? a.pos[1] : NULL;
	if (name && check_name(run->sub, name))
		return NULL;
	hw_snapshot *s;
	int rc = hw_snapshot_load(&s, a.pos[0]);
	if (rc == HW_ECORRUPT)
		return hwp_fail(run->sub, "%s: %s (the file is damaged: take the snapshot again)",
		                a.pos[0], hw_error_last());
	if (rc != HW_OK)
		return hwp_fail(run->sub, "%s: %s", a.pos[0], hw_error_last());
	char origin[4200];
	snprintf(origin, sizeof origin, "file %s", a.pos[0]);
	entry *e = registry_add(s, name, origin);
	if (!e)
		return PyErr_NoMemory();
	output o;
	if (output_open(&o, run->sub, NULL))
		return NULL;
	fprintf(o.f, "snapshot %u%s%s%s loaded from %s\n", e->number, name ? " (" : "",
	        name ? name : "", name ? ")" : "", a.pos[0]);
	return output_close(&o, run->sub, 1, 0);
}

/* What libheapwalk sees of the debugger's target: a check that the plugin
 * opened the right thing (kind, threads' registers, mappings, modules). */
static PyObject *cmd_target(hwp_run *run, int argc, char **argv)
{
	args a;
	if (parse_rest(run->sub, argc, argv, 1, 0, &a))
		return NULL;
	output o;
	if (output_open(&o, run->sub, a.output))
		return NULL;
	hw_target *t;
	char *label;
	if (hwp_target_open(run, &a.ta, &t, &label))
		return output_close(&o, run->sub, 0, 0);
	say_warnings(&o, t);
	static const char *const kinds[] = {"core", "live", "callback"};
	hw_target_kind k = hw_target_get_kind(t);
	const char *exe = hw_target_executable(t);
	fprintf(o.f, "target: %s\nkind: %s\npid: %d\nexecutable: %s\n", label,
	        (unsigned)k < 3 ? kinds[k] : "?", (int)hw_target_pid(t), exe ? exe : "?");
	const hw_thread *th;
	size_t n = hw_target_threads(t, &th);
	fprintf(o.f, "threads: %zu\n", n);
	for (size_t i = 0; i < n; i++)
		fprintf(o.f, "  tid %d pc 0x%" PRIx64 " sp 0x%" PRIx64 " fs_base 0x%" PRIx64 "\n",
		        (int)th[i].tid, th[i].pc, th[i].sp, th[i].fs_base);
	const hw_mapping *m;
	n = hw_target_mappings(t, &m);
	fprintf(o.f, "mappings: %zu\n", n);
	const hw_module *mods;
	n = hw_target_modules(t, &mods);
	size_t dbg = 0;
	for (size_t i = 0; i < n; i++)
		dbg += hw_module_has_debuginfo(t, &mods[i]) == 1;
	fprintf(o.f, "modules: %zu (%zu with debug info)\n", n, dbg);
	hw_target_close(t);
	free(label);
	return output_close(&o, run->sub, 1, 0);
}

/* ---- the table -------------------------------------------------------------- */

typedef struct subcommand {
	const char *name;
	const char *summary; /* one line: gdb's `help heapsnap` lists it */
	PyObject *(*run)(hwp_run *run, int argc, char **argv);
	unsigned accept; /* view options, for the help */
	int target;      /* takes --exe/--sysroot/--debug-dir */
	const char *synopsis;
	const char *description;
} subcommand;

static const subcommand table[] = {
    {"take", "Take a heap snapshot of the inferior and print its summary.", cmd_take,
     HW_VOPT_FORMAT, 1, "heapsnap [NAME] [--format F] [-o FILE]",
     "Take a snapshot of the inferior's heap (a live process stopped in the debugger,\n"
     "or the core file it has loaded) and print its summary, as `coretool summary`.\n"
     "Snapshots live for the debugger session, numbered from 1; NAME names one too\n"
     "(taking another under the same name replaces it).  The walk reads the core\n"
     "file or /proc/PID/mem directly, never through the debugger (remote targets\n"
     "excepted).  Ctrl-C stops a long walk; nothing is registered then."},
    {"list", "List the snapshots of this session.", cmd_list, 0, 0, "heapsnap list",
     "The snapshots of this session: number, name, allocations, when, of what."},
    {"top", "Show the largest groups of allocations in a snapshot.", cmd_top, HW_VOPT_TOP, 0,
     "heapsnap top [SNAP] [--group-by KEY] [--limit N] [--state S] [--frames N]",
     "Allocations of a snapshot (default: the newest) grouped by KEY and sorted by\n"
     "bytes, largest first: the same bytes as `coretool top` on the same target.\n"
     "SNAP is a snapshot's number or name."},
    {"diff", "Compare two snapshots: what grew, what shrank.", cmd_diff, HW_VOPT_DIFF, 0,
     "heapsnap diff [OLD [NEW]] [--group-by KEY] [--limit N]",
     "The groups of two snapshots sorted by absolute growth in bytes, as\n"
     "`coretool diff`.  Default: the two newest snapshots; with only OLD, NEW is\n"
     "the newest.  With --max-growth, an error follows the output when the total\n"
     "growth is above BYTES."},
    {"save", "Save a snapshot to an .hsnap file.", cmd_save, 0, 0, "heapsnap save SNAP FILE",
     "Write a snapshot to FILE in the .hsnap format (coretool reads it as a target)."},
    {"load", "Load an .hsnap file as a snapshot.", cmd_load, 0, 0, "heapsnap load FILE [NAME]",
     "Register the .hsnap FILE (from coretool snap or heapsnap save) as a snapshot."},
    {"show", "Show the allocation holding an address.", cmd_show, HW_VOPT_FORMAT | HW_VOPT_FRAMES,
     1, "heapsnap show [SNAP] ADDRESS",
     "What holds ADDRESS (any expression in gdb): allocator, chunk or block bounds,\n"
     "state, size, type, site and a hex dump of its first bytes, as `coretool show`.\n"
     "Without SNAP, the inferior as it is now is walked."},
    {"chunks", "List allocations one per line.", cmd_chunks,
     HW_VOPT_FORMAT | HW_VOPT_STATE | HW_VOPT_CHUNKS | HW_VOPT_FILTERS, 1,
     "heapsnap chunks [SNAP] [--state S] [--allocator A] [--min-size N]",
     "One line per allocation, as `coretool chunks`.  Without SNAP, the inferior as\n"
     "it is now is walked."},
    {"check", "Check the heap's integrity.", cmd_check, HW_VOPT_FORMAT, 1, "heapsnap check [SNAP]",
     "Heap integrity: every inconsistency the walk met, with its address, as\n"
     "`coretool check`.  Without SNAP, the inferior as it is now is walked."},
    {"report", "Write an offline HTML report of a snapshot.", cmd_report,
     HW_VOPT_STATE | HW_VOPT_LIMIT | HW_VOPT_FRAMES | HW_VOPT_FILTERS, 0,
     "heapsnap report [SNAP] [--vs OLD] [--limit N] -o FILE.html",
     "One self-contained HTML page (no script, nothing fetched) of a snapshot\n"
     "(default: the newest): summary, problems, the largest groups by every key that\n"
     "applies, and with --vs OLD (a snapshot's number or name) the growth since it;\n"
     "the same bytes as `coretool report` on the same target.  --limit: rows per\n"
     "table (default 20)."},
    {"target", "Show what heapwalk sees of the debugger's target.", cmd_target, 0, 1,
     "heapsnap target",
     "What heapwalk sees of the debugger's target: core file or process, threads\n"
     "with the registers the debugger gave (pc, sp, fs_base), mappings, modules."},
};

const char *const hwp_subcommands[] = {"list",   "top",   "diff",   "save",   "load", "show",
                                       "chunks", "check", "report", "target", NULL};

PyObject *hwp_command(hwp_run *run, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (!strcmp(table[i].name, argv[0])) {
			run->sub = table[i].name;
			PyObject *r = table[i].run(run, argc, argv);
			Py_CLEAR(run->read);
			return r;
		}
	return hwp_fail(NULL, "no subcommand '%s' (help heapsnap)", argv[0]);
}

char *hwp_help(const char *sub)
{
	const subcommand *c = NULL;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (!strcmp(table[i].name, sub))
			c = &table[i];
	if (!c)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f, "%s\n\n%s\nUsage: %s\n", c->summary, c->description, c->synopsis);
	if (c->accept) {
		fprintf(f, "\nOptions (the same as coretool's):\n");
		hw_view_options_help(f, c->accept);
	}
	if (strcmp(c->name, "save") && strcmp(c->name, "load"))
		fprintf(f, "%s  -o, --output FILE   write there instead of the debugger's output\n",
		        c->accept ? "" : "\nOptions:\n");
	if (c->target)
		fprintf(
		    f,
		    "  --exe PATH          the executable, when the debugger's does not resolve\n"
		    "  --sysroot DIR       prefix for every path the target names\n"
		    "  --debug-dir DIR     another debuginfo root (default /usr/lib/debug)\n"
		    "  --through-debugger  read a process's memory through the debugger, not\n"
		    "                      /proc/PID/mem (slower; remote targets always do)\n");
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	/* no trailing newline: the debuggers add their own */
	while (len && buf[len - 1] == '\n')
		buf[--len] = 0;
	return buf;
}
