/*
 * render_summary.c: `summary` and `check`: the allocators' totals, the
 * tracer's presence and the problems, in text, JSON (heapwalk.summary.v1,
 * CONTRACT.md section 3) and CSV (section,field,value rows).
 */
#include "render_internal.h"

#include <inttypes.h>
#include <stddef.h>
#include <string.h>

/* Totals by allocator and state computed from the snapshot's own records:
 * what views count, next to what the walkers' summaries say. */
/* mallinfo2's fields in glibc's order (struct mallinfo2, malloc.h): one
 * list for the JSON, CSV and text forms. */
static const struct {
	const char *name;
	size_t offset;
} mallinfo2_fields[] = {
#define F(x)                                                                                       \
	{                                                                                          \
#x, offsetof(hw_glibc_mallinfo2, x)                                                \
	}
    F(arena),   F(ordblks), F(smblks),   F(hblks),    F(hblkhd),
    F(usmblks), F(fsmblks), F(uordblks), F(fordblks), F(keepcost),
#undef F
};

static uint64_t mallinfo2_field(const hw_glibc_mallinfo2 *m, size_t i)
{
	uint64_t v;
	memcpy(&v, (const char *)m + mallinfo2_fields[i].offset, sizeof v);
	return v;
}

static void count_records(const hw_snapshot *s, hw_count c[4][4])
{
	for (size_t i = 0; i < s->n; i++) {
		uint8_t f = s->flags[i];
		c[HW_F_ALLOCATOR(f)][HW_F_STATE(f)].count++;
		c[HW_F_ALLOCATOR(f)][HW_F_STATE(f)].bytes += hw_s_size(s, i);
	}
}

static void json_glibc(FILE *f, const hw_glibc_summary *g)
{
	fputs("{\"version\": ", f);
	hw_json_str(f, g->version);
	fputs(", \"symbols\": ", f);
	hw_json_str(f, g->symbols);
	fprintf(f, ", \"arenas\": %" PRIu64 ", \"system_bytes\": %" PRIu64, g->arenas,
	        g->system_bytes);
	fputs(", \"used\": ", f);
	hw_json_count(f, g->used.count, g->used.bytes);
	fputs(", \"free\": ", f);
	hw_json_count(f, g->free.count, g->free.bytes);
	fputs(", \"tcache\": ", f);
	hw_json_count(f, g->tcache.count, g->tcache.bytes);
	fputs(", \"fastbins\": ", f);
	hw_json_count(f, g->fastbins.count, g->fastbins.bytes);
	fputs(", \"mmapped\": ", f);
	hw_json_count(f, g->mmapped.count, g->mmapped.bytes);
	fprintf(f, ", \"top_bytes\": %" PRIu64 ", \"mallinfo2\": {", g->top_bytes);
	for (size_t i = 0; i < HW_ARRAY_SIZE(mallinfo2_fields); i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", mallinfo2_fields[i].name,
		        mallinfo2_field(&g->mallinfo2, i));
	fputs("}}", f);
}

static void json_pymalloc(FILE *f, const hw_pymalloc_summary *p)
{
	fputs("{\"python_version\": ", f);
	hw_json_str(f, p->python_version);
	fputs(", \"symbols\": ", f);
	hw_json_str(f, p->symbols);
	fprintf(f,
	        ", \"arenas\": %" PRIu64 ", \"pools\": %" PRIu64 ", \"blocks_in_use\": %" PRIu64
	        ", \"bytes_in_use\": %" PRIu64 ", \"free_blocks\": %" PRIu64
	        ", \"size_classes\": [",
	        p->arenas, p->pools, p->blocks_in_use, p->bytes_in_use, p->free_blocks);
	for (uint32_t i = 0; i < p->n_size_classes && i < HW_ARRAY_SIZE(p->size_classes); i++) {
		const hw_pymalloc_size_class *c = &p->size_classes[i];
		fprintf(f,
		        "%s{\"size\": %u, \"pools\": %" PRIu64 ", \"blocks_in_use\": %" PRIu64
		        ", \"free_blocks\": %" PRIu64 "}",
		        i ? ", " : "", c->size, c->pools, c->blocks_in_use, c->free_blocks);
	}
	fputs("]}", f);
}

/* Used allocations the tracer gave no site ('?'): ORACLES.md wants their
 * share printed (0 for what was allocated after the tracer started). */
static hw_count unknown_sites(const hw_snapshot *s, hw_count *used)
{
	hw_count u = {0, 0};
	*used = u;
	for (size_t i = 0; i < s->n; i++) {
		if (HW_F_STATE(s->flags[i]) != HW_STATE_USED)
			continue;
		used->count++;
		used->bytes += hw_s_size(s, i);
		if (!hw_s_site(s, i)) {
			u.count++;
			u.bytes += hw_s_size(s, i);
		}
	}
	return u;
}

static void json_tracer(FILE *f, const hw_snapshot *s, const hw_tracer_summary *t)
{
	fputs("{\"mode\": ", f);
	hw_json_str(f, t->mode);
	fputs(", \"sample_bytes\": ", f);
	if (t->sample_bytes)
		fprintf(f, "%" PRIu64, t->sample_bytes);
	else
		fputs("null", f);
	fprintf(f,
	        ", \"live_allocations\": %" PRIu64 ", \"sites\": %" PRIu64 ", \"dropped\": %" PRIu64
	        ", \"unknown_site\": ",
	        t->live_allocations, t->sites, t->dropped);
	hw_count used, u = unknown_sites(s, &used);
	hw_json_count(f, u.count, u.bytes);
	fputc('}', f);
}

static void json_problems(FILE *f, const hw_snapshot *s)
{
	fputs("\"problems\": [", f);
	for (size_t i = 0; i < s->n_problems; i++) {
		hw_problem p;
		hw_snapshot_get_problem(s, i, &p);
		fputs(i ? ", {\"kind\": " : "{\"kind\": ", f);
		hw_json_str(f, p.kind);
		fputs(", \"address\": ", f);
		hw_json_addr(f, p.address, 0);
		fputs(", \"message\": ", f);
		hw_json_str(f, p.message);
		fputc('}', f);
	}
	fprintf(f, "], \"problems_dropped\": %" PRIu64, s->problems_dropped);
}

/* "not found", or why an allocator found in the target was not walked:
 * the message of its walker's failure (take.c's walker_failed kinds
 * PREFIX-unsupported, PREFIX-not-located), which the problems list too. */
static void text_absent(FILE *f, const hw_snapshot *s, const char *prefix)
{
	size_t n = strlen(prefix);
	for (size_t i = 0; i < s->n_problems; i++) {
		hw_problem p;
		hw_snapshot_get_problem(s, i, &p);
		if (p.kind && !strncmp(p.kind, prefix, n) &&
		    (!strcmp(p.kind + n, "-unsupported") || !strcmp(p.kind + n, "-not-located"))) {
			fprintf(f, "%s: not walked (%s)\n", prefix, p.message ? p.message : p.kind);
			return;
		}
	}
	fprintf(f, "%s: not found\n", prefix);
}

static void text_problems(FILE *f, const hw_snapshot *s)
{
	if (!s->n_problems) {
		fputs("problems: none\n", f);
		return;
	}
	fprintf(f, "problems: %zu%s\n", s->n_problems + (size_t)s->problems_dropped,
	        s->problems_dropped ? " (only the first ones kept)" : "");
	for (size_t i = 0; i < s->n_problems; i++) {
		hw_problem p;
		hw_snapshot_get_problem(s, i, &p);
		fprintf(f, "  %-20s 0x%-14" PRIx64 " %s\n", p.kind, p.address, p.message);
	}
}

static void text_count(FILE *f, const char *what, const char *unit, hw_count c)
{
	char h[32];
	fprintf(f, "  %-9s %10" PRIu64 " %-7s %10s (%" PRIu64 " bytes)\n", what, c.count, unit,
	        hw_human(c.bytes, h, sizeof h), c.bytes);
}

static void csv_row(FILE *f, const char *section, const char *field, uint64_t v)
{
	fprintf(f, "%s,%s,%" PRIu64 "\n", section, field, v);
}

static void csv_count(FILE *f, const char *section, const char *field, hw_count c)
{
	fprintf(f, "%s,%s.count,%" PRIu64 "\n%s,%s.bytes,%" PRIu64 "\n", section, field, c.count,
	        section, field, c.bytes);
}

int hw_render_summary(FILE *f, const hw_snapshot *s, const hw_view_options *o)
{
	hw_count rec[4][4] = {{{0}}};
	count_records(s, rec);
	const hw_glibc_summary *g = hw_snapshot_glibc_summary(s);
	const hw_pymalloc_summary *p = hw_snapshot_pymalloc_summary(s);
	const hw_tracer_summary *t = hw_snapshot_tracer_summary(s);
	hw_format fmt = o ? o->format : HW_FORMAT_TEXT;
	char h[32];

	if (fmt == HW_FORMAT_JSON) {
		fputs("{\"format\": \"heapwalk.summary.v1\", \"target\": ", f);
		hw_json_target(f, s);
		fputs(", \"glibc\": ", f);
		if (g)
			json_glibc(f, g);
		else
			fputs("null", f);
		fputs(", \"pymalloc\": ", f);
		if (p)
			json_pymalloc(f, p);
		else
			fputs("null", f);
		fputs(", \"tracer\": ", f);
		if (t)
			json_tracer(f, s, t);
		else
			fputs("null", f);
		fputs(", \"allocations\": {", f);
		for (unsigned a = 0; a < 3; a++) {
			fprintf(f, "%s\"%s\": {\"used\": ", a ? ", " : "", hw_allocator_name(a));
			hw_json_count(f, rec[a][HW_STATE_USED].count, rec[a][HW_STATE_USED].bytes);
			fputs(", \"free\": ", f);
			hw_json_count(f, rec[a][HW_STATE_FREE].count, rec[a][HW_STATE_FREE].bytes);
			fputc('}', f);
		}
		fputs("}, ", f);
		json_problems(f, s);
		fputs("}\n", f);
		return HW_OK;
	}
	if (fmt == HW_FORMAT_CSV) {
		fputs("section,field,value\n", f);
		if (g) {
			csv_row(f, "glibc", "arenas", g->arenas);
			csv_row(f, "glibc", "system_bytes", g->system_bytes);
			csv_count(f, "glibc", "used", g->used);
			csv_count(f, "glibc", "free", g->free);
			csv_count(f, "glibc", "tcache", g->tcache);
			csv_count(f, "glibc", "fastbins", g->fastbins);
			csv_count(f, "glibc", "mmapped", g->mmapped);
			csv_row(f, "glibc", "top_bytes", g->top_bytes);
			for (size_t i = 0; i < HW_ARRAY_SIZE(mallinfo2_fields); i++) {
				char name[32];
				snprintf(name, sizeof name, "mallinfo2.%s",
				         mallinfo2_fields[i].name);
				csv_row(f, "glibc", name, mallinfo2_field(&g->mallinfo2, i));
			}
		}
		if (p) {
			csv_row(f, "pymalloc", "arenas", p->arenas);
			csv_row(f, "pymalloc", "pools", p->pools);
			csv_row(f, "pymalloc", "blocks_in_use", p->blocks_in_use);
			csv_row(f, "pymalloc", "bytes_in_use", p->bytes_in_use);
			csv_row(f, "pymalloc", "free_blocks", p->free_blocks);
		}
		if (t) {
			csv_row(f, "tracer", "sample_bytes", t->sample_bytes);
			csv_row(f, "tracer", "live_allocations", t->live_allocations);
			csv_row(f, "tracer", "sites", t->sites);
			csv_row(f, "tracer", "dropped", t->dropped);
			hw_count used, u = unknown_sites(s, &used);
			csv_count(f, "tracer", "unknown_site", u);
		}
		for (unsigned a = 0; a < 3; a++) {
			char sec[32];
			snprintf(sec, sizeof sec, "allocations.%s", hw_allocator_name(a));
			csv_count(f, sec, "used", rec[a][HW_STATE_USED]);
			csv_count(f, sec, "free", rec[a][HW_STATE_FREE]);
		}
		csv_row(f, "problems", "count", s->n_problems + s->problems_dropped);
		return HW_OK;
	}

	fputs("target: ", f);
	hw_text_target(f, s);
	fputc('\n', f);
	if (g) {
		fprintf(f,
		        "glibc %s (symbols: %s): %" PRIu64 " arena%s, %s (%" PRIu64
		        " bytes) from the system\n",
		        g->version[0] ? g->version : "?", g->symbols ? g->symbols : "?", g->arenas,
		        g->arenas == 1 ? "" : "s", hw_human(g->system_bytes, h, sizeof h),
		        g->system_bytes);
		text_count(f, "used", "chunks", g->used);
		text_count(f, "free", "chunks", g->free);
		text_count(f, "tcache", "chunks", g->tcache);
		text_count(f, "fastbins", "chunks", g->fastbins);
		text_count(f, "mmapped", "chunks", g->mmapped);
		fprintf(f, "  %-9s %10s %-7s %10s (%" PRIu64 " bytes)\n", "top", "", "",
		        hw_human(g->top_bytes, h, sizeof h), g->top_bytes);
		fputs("  mallinfo2:", f);
		for (size_t i = 0; i < HW_ARRAY_SIZE(mallinfo2_fields); i++)
			fprintf(f, "%s %s %" PRIu64, i ? "," : "", mallinfo2_fields[i].name,
			        mallinfo2_field(&g->mallinfo2, i));
		fputc('\n', f);
	} else {
		text_absent(f, s, "glibc");
	}
	if (p) {
		fprintf(
		    f, "pymalloc (Python %s, symbols: %s): %" PRIu64 " arenas, %" PRIu64 " pools\n",
		    p->python_version[0] ? p->python_version : "?", p->symbols ? p->symbols : "?",
		    p->arenas, p->pools);
		text_count(f, "in use", "blocks", (hw_count){p->blocks_in_use, p->bytes_in_use});
		fprintf(f, "  %-9s %10" PRIu64 " blocks\n", "free", p->free_blocks);
		if (p->n_size_classes) {
			fprintf(f, "  %6s %8s %14s %12s\n", "size", "pools", "blocks in use",
			        "free blocks");
			for (uint32_t i = 0;
			     i < p->n_size_classes && i < HW_ARRAY_SIZE(p->size_classes); i++) {
				const hw_pymalloc_size_class *c = &p->size_classes[i];
				fprintf(f, "  %6u %8" PRIu64 " %14" PRIu64 " %12" PRIu64 "\n",
				        c->size, c->pools, c->blocks_in_use, c->free_blocks);
			}
		}
	} else {
		text_absent(f, s, "pymalloc");
	}
	if (t) {
		fprintf(f, "tracer: mode %s%s%s, %" PRIu64 " live allocations, %" PRIu64 " sites\n",
		        t->mode ? t->mode : "?", t->sample_bytes ? ", sample every " : "",
		        t->sample_bytes ? hw_human(t->sample_bytes, h, sizeof h) : "",
		        t->live_allocations, t->sites);
		if (t->dropped)
			fprintf(f,
			        "  %" PRIu64
			        " allocations not recorded (the tracer's tables were full)\n",
			        t->dropped);
		hw_count used, u = unknown_sites(s, &used);
		fprintf(f,
		        "  site '?' for %.1f%% of used bytes: %" PRIu64 " allocations, %s (%" PRIu64
		        " bytes), %s\n",
		        used.bytes ? 100.0 * (double)u.bytes / (double)used.bytes : 0.0, u.count,
		        hw_human(u.bytes, h, sizeof h), u.bytes,
		        t->sample_bytes ? "not in the sample (the views by a site key estimate "
		                          "what the sample stands for)"
		                        : "made before the tracer started or not seen by it");
	} else
		fprintf(f, "tracer: none (%s)\n", hw_no_sites_note);
	fputs("allocations in this snapshot (usable bytes):\n", f);
	for (unsigned a = 0; a < 3; a++) {
		if (!rec[a][0].count && !rec[a][1].count)
			continue;
		char what[32];
		snprintf(what, sizeof what, "%s used", hw_allocator_name(a));
		fprintf(f, "  %-15s %10" PRIu64 " %10s (%" PRIu64 " bytes)\n", what,
		        rec[a][0].count, hw_human(rec[a][0].bytes, h, sizeof h), rec[a][0].bytes);
		snprintf(what, sizeof what, "%s free", hw_allocator_name(a));
		fprintf(f, "  %-15s %10" PRIu64 " %10s (%" PRIu64 " bytes)\n", what,
		        rec[a][1].count, hw_human(rec[a][1].bytes, h, sizeof h), rec[a][1].bytes);
	}
	text_problems(f, s);
	return HW_OK;
}

int hw_render_check(FILE *f, const hw_snapshot *s, const hw_view_options *o, uint64_t *n_problems)
{
	hw_format fmt = o ? o->format : HW_FORMAT_TEXT;
	uint64_t total = s->n_problems + s->problems_dropped;
	if (n_problems)
		*n_problems = total;
	if (fmt == HW_FORMAT_JSON) {
		fputs("{\"format\": \"heapwalk.check.v1\", \"target\": ", f);
		hw_json_target(f, s);
		fprintf(f, ", \"allocations\": %zu, \"ok\": %s, ", s->n, total ? "false" : "true");
		json_problems(f, s);
		fputs("}\n", f);
	} else if (fmt == HW_FORMAT_CSV) {
		fputs("kind,address,message\n", f);
		for (size_t i = 0; i < s->n_problems; i++) {
			hw_problem p;
			hw_snapshot_get_problem(s, i, &p);
			hw_csv_str(f, p.kind);
			fprintf(f, ",0x%" PRIx64 ",", p.address);
			hw_csv_str(f, p.message);
			fputc('\n', f);
		}
	} else {
		fputs("target: ", f);
		hw_text_target(f, s);
		fputc('\n', f);
		if (!total && !hw_snapshot_glibc_summary(s) && !hw_snapshot_pymalloc_summary(s))
			fputs(
			    "no heap walked: neither glibc malloc nor CPython's pymalloc is in the "
			    "target (another allocator, musl's or a program's own, is not "
			    "walked)\n",
			    f);
		else if (!total)
			fprintf(f, "heap OK: no inconsistency found in %zu allocations\n", s->n);
		else
			text_problems(f, s);
	}
	return HW_OK;
}
