/*
 * verb_info.c: coretool info TARGET: what the target is: executable, pid,
 * the signal that killed it, threads (pc, sp), mappings (and whether the
 * core holds their bytes), modules with build-id and whether debug info was
 * found.  Text, JSON, or CSV (a row per thread, mapping and module).  Of a
 * snapshot file: what it was taken of and what it holds (it keeps no
 * threads, mappings or modules).
 */
#include "config.h"

#include "coretool.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *signal_name(int sig, char *buf, size_t cap)
{
	const char *abbrev = sig > 0 ? sigabbrev_np(sig) : NULL;
	if (abbrev)
		snprintf(buf, cap, "SIG%s", abbrev);
	else if (sig > 0)
		snprintf(buf, cap, "%d", sig);
	else
		snprintf(buf, cap, "none");
	return buf;
}

static const char *kind_name(hw_target_kind k)
{
	return k == HW_TARGET_CORE ? "core" : k == HW_TARGET_LIVE ? "live" : "callback";
}

static void perms_str(unsigned p, char out[5])
{
	out[0] = p & HW_PERM_R ? 'r' : '-';
	out[1] = p & HW_PERM_W ? 'w' : '-';
	out[2] = p & HW_PERM_X ? 'x' : '-';
	out[3] = p & HW_PERM_SHARED ? 's' : 'p';
	out[4] = 0;
}

/* "yes" when the core holds every byte, "partial", or "no"; for files
 * whose bytes the core left out, "file" when the mapped file serves them;
 * "cut" when a truncated core file lost bytes the dump held. */
static const char *held(const hw_target *t, const hw_mapping *m)
{
	if (hw_target_get_kind(t) != HW_TARGET_CORE)
		return "live";
	if (m->core_bytes >= m->end - m->start)
		return "yes";
	if (m->lost_bytes)
		return m->core_bytes ? "partial+cut" : "cut";
	if (m->path && m->file_ok)
		return m->core_bytes ? "partial+file" : "file";
	return m->core_bytes ? "partial" : "no";
}

static void print_text(FILE *f, hw_target *t)
{
	char sig[32];
	const hw_thread *th;
	const hw_mapping *maps;
	const hw_module *mods;
	const char *const *warn;
	size_t nth = hw_target_threads(t, &th);
	size_t nmaps = hw_target_mappings(t, &maps);
	size_t nmods = hw_target_modules(t, &mods);
	size_t nwarn;

	fprintf(f, "target:     %s %s\n", kind_name(hw_target_get_kind(t)),
	        hw_target_path(t) ? hw_target_path(t) : "");
	fprintf(f, "executable: %s\n", hw_target_executable(t) ? hw_target_executable(t) : "?");
	fprintf(f, "pid:        %d\n", (int)hw_target_pid(t));
	fprintf(f, "signal:     %s\n", signal_name(hw_target_signal(t), sig, sizeof sig));
	fprintf(f, "\nthreads (%zu):\n", nth);
	fprintf(f, "  %-8s %-18s %-18s %s\n", "tid", "pc", "sp", "function");
	for (size_t i = 0; i < nth; i++) {
		hw_symbolization s;
		const char *fn = "?";
		if (th[i].pc && hw_target_symbolize(t, th[i].pc, &s) == HW_OK && s.function)
			fn = s.function;
		fprintf(f, "  %-8d 0x%016" PRIx64 " 0x%016" PRIx64 " %s\n", (int)th[i].tid,
		        th[i].pc, th[i].sp, fn);
	}
	fprintf(f, "\nmappings (%zu):\n", nmaps);
	fprintf(f, "  %-33s %-4s %-12s %s\n", "range", "perm", "in core", "file");
	for (size_t i = 0; i < nmaps; i++) {
		char p[5], range[40];
		perms_str(maps[i].perms, p);
		snprintf(range, sizeof range, "%012" PRIx64 "-%012" PRIx64, maps[i].start,
		         maps[i].end);
		fprintf(f, "  %-33s %-4s %-12s %s\n", range, p, held(t, &maps[i]),
		        maps[i].path ? maps[i].path : "");
	}
	fprintf(f, "\nmodules (%zu):\n", nmods);
	fprintf(f, "  %-33s %-40s %-5s %s\n", "range", "build-id", "debug", "file");
	for (size_t i = 0; i < nmods; i++) {
		char range[40];
		snprintf(range, sizeof range, "%012" PRIx64 "-%012" PRIx64, mods[i].start,
		         mods[i].end);
		int dbg = hw_module_has_debuginfo(t, &mods[i]);
		fprintf(f, "  %-33s %-40s %-5s %s\n", range,
		        mods[i].build_id[0] ? mods[i].build_id : "-", dbg ? "yes" : "no",
		        mods[i].name ? mods[i].name : "?");
	}
	nwarn = hw_target_warnings(t, &warn);
	if (nwarn) {
		fprintf(f, "\nwarnings (%zu):\n", nwarn);
		for (size_t i = 0; i < nwarn; i++)
			fprintf(f, "  %s\n", warn[i]);
	}
}

static void print_json(FILE *f, hw_target *t)
{
	char sig[32];
	const hw_thread *th;
	const hw_mapping *maps;
	const hw_module *mods;
	const char *const *warn;
	size_t nth = hw_target_threads(t, &th);
	size_t nmaps = hw_target_mappings(t, &maps);
	size_t nmods = hw_target_modules(t, &mods);
	size_t nwarn = hw_target_warnings(t, &warn);

	fprintf(f, "{\"format\": \"heapwalk.info.v1\",\n \"target\": {\"kind\": \"%s\", \"path\": ",
	        kind_name(hw_target_get_kind(t)));
	hw_json_str(f, hw_target_path(t));
	fprintf(f, ", \"pid\": %d, \"executable\": ", (int)hw_target_pid(t));
	hw_json_str(f, hw_target_executable(t));
	fprintf(f, "},\n \"signal\": %d, \"signal_name\": ", hw_target_signal(t));
	hw_json_str(f,
	            hw_target_signal(t) ? signal_name(hw_target_signal(t), sig, sizeof sig) : NULL);
	fprintf(f, ",\n \"threads\": [");
	for (size_t i = 0; i < nth; i++) {
		hw_symbolization s;
		const char *fn = NULL;
		if (th[i].pc && hw_target_symbolize(t, th[i].pc, &s) == HW_OK)
			fn = s.function;
		fprintf(f,
		        "%s\n  {\"tid\": %d, \"pc\": \"0x%" PRIx64 "\", \"sp\": \"0x%" PRIx64
		        "\", \"fs_base\": \"0x%" PRIx64 "\", \"function\": ",
		        i ? "," : "", (int)th[i].tid, th[i].pc, th[i].sp, th[i].fs_base);
		hw_json_str(f, fn);
		fputc('}', f);
	}
	fprintf(f, "],\n \"mappings\": [");
	for (size_t i = 0; i < nmaps; i++) {
		char p[5];
		perms_str(maps[i].perms, p);
		fprintf(f,
		        "%s\n  {\"start\": \"0x%" PRIx64 "\", \"end\": \"0x%" PRIx64
		        "\", \"perms\": \"%s\", \"file\": ",
		        i ? "," : "", maps[i].start, maps[i].end, p);
		hw_json_str(f, maps[i].path);
		fprintf(f,
		        ", \"offset\": %" PRIu64 ", \"core_bytes\": %" PRIu64
		        ", \"lost_bytes\": %" PRIu64 ", \"in_core\": \"%s\", \"file_found\": %s}",
		        maps[i].file_offset, maps[i].core_bytes, maps[i].lost_bytes,
		        held(t, &maps[i]),
		        maps[i].path ? (maps[i].file_ok ? "true" : "false") : "null");
	}
	fprintf(f, "],\n \"modules\": [");
	for (size_t i = 0; i < nmods; i++) {
		fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
		hw_json_str(f, mods[i].name);
		fprintf(
		    f, ", \"start\": \"0x%" PRIx64 "\", \"end\": \"0x%" PRIx64 "\", \"build_id\": ",
		    mods[i].start, mods[i].end);
		hw_json_str(f, mods[i].build_id[0] ? mods[i].build_id : NULL);
		int dbg = hw_module_has_debuginfo(t, &mods[i]);
		fprintf(f, ", \"debuginfo\": %s, \"debuginfo_path\": ", dbg ? "true" : "false");
		hw_json_str(f, dbg ? hw_module_debuginfo_path(t, &mods[i]) : NULL);
		fputc('}', f);
	}
	fprintf(f, "],\n \"warnings\": [");
	for (size_t i = 0; i < nwarn; i++) {
		fputs(i ? ", " : "", f);
		hw_json_str(f, warn[i]);
	}
	fprintf(f, "]}\n");
}

/* One table for the three: section thread, mapping or module; the
 * columns a section does not have are empty. */
static void print_csv(FILE *f, hw_target *t)
{
	const hw_thread *th;
	const hw_mapping *maps;
	const hw_module *mods;
	size_t nth = hw_target_threads(t, &th);
	size_t nmaps = hw_target_mappings(t, &maps);
	size_t nmods = hw_target_modules(t, &mods);
	fputs("section,tid,pc,sp,function,start,end,perms,in_core,file,build_id,debuginfo\n", f);
	for (size_t i = 0; i < nth; i++) {
		hw_symbolization sym;
		const char *fn = NULL;
		if (th[i].pc && hw_target_symbolize(t, th[i].pc, &sym) == HW_OK)
			fn = sym.function;
		fprintf(f, "thread,%d,0x%" PRIx64 ",0x%" PRIx64 ",", (int)th[i].tid, th[i].pc,
		        th[i].sp);
		hw_csv_str(f, fn);
		fputs(",,,,,,,\n", f);
	}
	for (size_t i = 0; i < nmaps; i++) {
		char p[5];
		perms_str(maps[i].perms, p);
		fprintf(f, "mapping,,,,,0x%" PRIx64 ",0x%" PRIx64 ",%s,%s,", maps[i].start,
		        maps[i].end, p, held(t, &maps[i]));
		hw_csv_str(f, maps[i].path);
		fputs(",,\n", f);
	}
	for (size_t i = 0; i < nmods; i++) {
		fprintf(f, "module,,,,,0x%" PRIx64 ",0x%" PRIx64 ",,,", mods[i].start, mods[i].end);
		hw_csv_str(f, mods[i].name);
		fprintf(f, ",%s,%s\n", mods[i].build_id,
		        hw_module_has_debuginfo(t, &mods[i]) ? "yes" : "no");
	}
}

/* ---- a snapshot file ---- */

/* What info says of a snapshot. */
struct snap_facts {
	const hw_snapshot_target *tg;
	const hw_glibc_summary *g;
	const hw_pymalloc_summary *py;
	const hw_tracer_summary *tr;
	uint64_t problems;
};

static struct snap_facts snap_facts(const hw_snapshot *s)
{
	uint64_t dropped = 0;
	size_t np = hw_snapshot_problem_count(s, &dropped);
	return (struct snap_facts){hw_snapshot_get_target(s), hw_snapshot_glibc_summary(s),
	                           hw_snapshot_pymalloc_summary(s), hw_snapshot_tracer_summary(s),
	                           (uint64_t)np + dropped};
}

static void snap_text(FILE *f, const char *path, const hw_snapshot *s)
{
	const struct snap_facts x = snap_facts(s);
	fprintf(f, "target:     snapshot %s\n", path);
	fprintf(f, "taken of:   %s %s\n", x.tg->source_kind ? x.tg->source_kind : "?",
	        x.tg->source_path ? x.tg->source_path : "");
	fprintf(f, "executable: %s\n", x.tg->executable ? x.tg->executable : "?");
	fprintf(f, "pid:        %d\n", (int)x.tg->pid);
	fprintf(f, "\nallocations: %zu, sites %u, problems %" PRIu64 "\n", hw_snapshot_count(s),
	        hw_snapshot_site_count(s), x.problems);
	if (x.g)
		fprintf(f, "glibc:       %s (symbols: %s)\n", x.g->version,
		        x.g->symbols ? x.g->symbols : "?");
	if (x.py)
		fprintf(f, "pymalloc:    CPython %s (symbols: %s)\n", x.py->python_version,
		        x.py->symbols ? x.py->symbols : "?");
	if (x.tr && x.tr->sample_bytes)
		fprintf(f, "tracer:      %s, one sample every %" PRIu64 " bytes\n", x.tr->mode,
		        x.tr->sample_bytes);
	else if (x.tr)
		fprintf(f, "tracer:      %s\n", x.tr->mode);
	fputs("\nthreads, mappings, modules, signal: not kept in a snapshot (info on the core or "
	      "process it was taken of gives them)\n",
	      f);
}

static void snap_json(FILE *f, const char *path, const hw_snapshot *s)
{
	const struct snap_facts x = snap_facts(s);
	fputs(
	    "{\"format\": \"heapwalk.info.v1\",\n \"target\": {\"kind\": \"snapshot\", \"path\": ",
	    f);
	hw_json_str(f, path);
	fprintf(f, ", \"pid\": %d, \"executable\": ", (int)x.tg->pid);
	hw_json_str(f, x.tg->executable);
	fputs(", \"source\": {\"kind\": ", f);
	hw_json_str(f, x.tg->source_kind);
	fputs(", \"path\": ", f);
	hw_json_str(f, x.tg->source_path);
	fputs(
	    "}},\n \"signal\": null, \"signal_name\": null, \"threads\": null, \"mappings\": null, "
	    "\"modules\": null,\n \"snapshot\": {",
	    f);
	fprintf(f, "\"allocations\": %zu, \"sites\": %u, \"problems\": %" PRIu64 ", \"glibc\": ",
	        hw_snapshot_count(s), hw_snapshot_site_count(s), x.problems);
	hw_json_str(f, x.g ? x.g->version : NULL);
	fputs(", \"python\": ", f);
	hw_json_str(f, x.py ? x.py->python_version : NULL);
	fputs(", \"tracer\": ", f);
	hw_json_str(f, x.tr ? x.tr->mode : NULL);
	fputs("},\n \"warnings\": []}\n", f);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: coretool info [--format text|json|csv] [-o FILE] [--exe PATH] [--sysroot DIR]\n"
	    "                     [--debug-dir DIR] (CORE | SNAPSHOT | --pid N)\n\n"
	    "Executable, pid, killing signal, threads (pc, sp), mappings (and whether the\n"
	    "core holds their bytes), modules with build-id and whether debug info was found.\n"
	    "CSV: one row per thread, mapping and module (column section).  Of a snapshot\n"
	    "file: what it was taken of and what it holds (no threads, mappings or modules).\n");
}

/* info of a .hsnap file */
static int snap_info(const ct_common *c, const char *path)
{
	hw_snapshot *s;
	if (hw_snapshot_load(&s, path) != HW_OK)
		return ct_error(CT_EXIT_TARGET, path,
		                "%s (the file is damaged: take the snapshot again)",
		                hw_error_last());
	FILE *f = ct_output_open(c);
	if (!f) {
		hw_snapshot_free(s);
		return CT_EXIT_USAGE;
	}
	if (c->format == CT_FORMAT_JSON) {
		snap_json(f, path, s);
	} else if (c->format == CT_FORMAT_CSV) {
		/* the same table as a core's, empty: a snapshot keeps none of it */
		fputs(
		    "section,tid,pc,sp,function,start,end,perms,in_core,file,build_id,debuginfo\n",
		    f);
	} else {
		snap_text(f, path, s);
	}
	hw_snapshot_free(s);
	return ct_output_close(c, f);
}

int ct_verb_info(int argc, char **argv)
{
	static const struct option longopts[] = {CT_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
	ct_common c = {0};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, CT_COMMON_SHORT_OPTIONS, longopts, NULL)) != -1) {
		int r = ct_common_option(&c, opt, optarg);
		if (r < 0)
			return CT_EXIT_USAGE;
		if (r == 0)
			return ct_usage_error("info", "unknown option");
	}
	if (c.help) {
		usage(stdout);
		return CT_EXIT_OK;
	}
	int nargs = argc - optind;
	if ((c.pid && nargs != 0) || (!c.pid && nargs != 1))
		return ct_usage_error("info", "give one core file, snapshot file or --pid N");
	const char *path = c.pid ? NULL : argv[optind];
	if (path && hw_snapshot_file_is_hsnap(path))
		return snap_info(&c, path);
	hw_target *t;
	int rc = ct_target_open(&t, &c, path);
	if (rc)
		return rc;
	/* Tests hold the target here to show that a signal to coretool
	 * leaves the process running (the kernel detaches a dying tracer's
	 * tracees). */
	const char *hold = getenv("HEAPWALK_TEST_HOLD_MS");
	if (hold)
		usleep((useconds_t)atoi(hold) * 1000u);
	FILE *f = ct_output_open(&c);
	if (!f) {
		hw_target_close(t);
		return CT_EXIT_USAGE;
	}
	if (c.format == CT_FORMAT_JSON)
		print_json(f, t);
	else if (c.format == CT_FORMAT_CSV)
		print_csv(f, t);
	else
		print_text(f, t);
	hw_target_close(t);
	return ct_output_close(&c, f);
}
