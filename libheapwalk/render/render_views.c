/*
 * render_views.c: `top`, `diff`, `chunks` and `show` in text, JSON and CSV
 * (CONTRACT.md section 3).  Text: a header line with the target and the
 * totals, aligned columns, human sizes next to exact bytes.
 */
#include "render_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The frames a group shows: the whole (filtered, truncated) stack for the
 * site key, the innermost frame for the other site keys, none otherwise. */
static size_t group_frames(const hw_snapshot *s, const hw_view_options *o, hw_group_key k,
                           uint32_t site, uint32_t *ids)
{
	if (!hw_view_site_key(k))
		return 0;
	size_t n = hw_view_frames(s, o, site, ids, HW_SITE_MAX_FRAMES);
	if (k == HW_GROUP_SITE || !n)
		return n;
	int in = k == HW_GROUP_MODULE ? hw_view_innermost_native(s, ids, n)
	                              : hw_view_innermost(s, ids, n);
	if (in < 0)
		return 0;
	ids[0] = ids[in];
	return 1;
}

static void json_frames(FILE *f, const hw_snapshot *s, const uint32_t *ids, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		hw_frame fr;
		hw_snapshot_frame(s, ids[i], &fr);
		if (i)
			fputs(", ", f);
		hw_json_frame(f, &fr);
	}
	fputc(']', f);
}

/* A stack under a group line: the innermost frame ends the group's line
 * (the caller printed it up to the key column), the others go below it. */
static void text_frames(FILE *f, const hw_snapshot *s, const uint32_t *ids, size_t n, int indent)
{
	char lb[1024];
	if (!n)
		fputs("?\n", f);
	for (size_t i = 0; i < n; i++) {
		hw_frame fr;
		hw_snapshot_frame(s, ids[i], &fr);
		fprintf(f, "%*s%s %s  %s\n", i ? indent : 0, "", i ? "<-" : "at",
		        fr.function ? fr.function : "?", hw_frame_label(s, ids[i], lb, sizeof lb));
	}
}

/* A note when the walk of s met problems (a truncated core, damaged
 * lists): the view's figures may then be incomplete, and a table alone
 * would not say so.  The problem kinds, at most four, each once. */
static int problems_note(const hw_snapshot *s, const char *which, char *buf, size_t n)
{
	uint64_t total = s->n_problems + s->problems_dropped;
	if (!total)
		return 0;
	const char *kinds[4];
	size_t nk = 0, more = 0;
	for (size_t i = 0; i < s->n_problems; i++) {
		hw_problem p;
		hw_snapshot_get_problem(s, i, &p);
		size_t j = 0;
		while (j < nk && strcmp(kinds[j], p.kind))
			j++;
		if (j < nk)
			continue;
		if (nk < HW_ARRAY_SIZE(kinds))
			kinds[nk++] = p.kind;
		else
			more = 1;
	}
	int len = snprintf(buf, n, "%s%s walk met %" PRIu64 " problem%s (", which,
	                   *which ? "'s" : "the", total, total == 1 ? "" : "s");
	for (size_t j = 0; j < nk && len >= 0 && (size_t)len < n; j++)
		len += snprintf(buf + len, n - (size_t)len, "%s%s", j ? ", " : "", kinds[j]);
	if (len >= 0 && (size_t)len < n)
		snprintf(buf + len, n - (size_t)len,
		         "%s): its figures may be incomplete; check lists every problem",
		         more ? ", ..." : "");
	return 1;
}

/* The note of a view whose groups are estimates from a sample. */
static int sampled_note(const hw_snapshot *s, const hw_snapshot *old_s, hw_group_key k, char *buf,
                        size_t n)
{
	uint64_t sb = hw_view_sample_bytes(s, k), ob = old_s ? hw_view_sample_bytes(old_s, k) : 0;
	if (!sb && !ob)
		return 0;
	snprintf(buf, n,
	         "counts and bytes by %s are estimates from the tracer's sample (one allocation "
	         "in every %" PRIu64 " bytes allocated, on average%s): each recorded allocation "
	         "of r bytes counts 1/(1-exp(-r/%" PRIu64 ")); \"?\" is the rest of the walk's "
	         "exact total",
	         hw_group_key_name(k), sb ? sb : ob,
	         sb && ob && sb != ob ? ", in the new target" : "", sb ? sb : ob);
	return 1;
}

/* "estimates": null, or the sampling interval of the views' estimates. */
static void json_estimates(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s, hw_group_key k)
{
	uint64_t sb = hw_view_sample_bytes(s, k), ob = old_s ? hw_view_sample_bytes(old_s, k) : 0;
	if (!sb && !ob) {
		fputs("\"estimates\": null, ", f);
		return;
	}
	fputs("\"estimates\": {\"sample_bytes\": ", f);
	fprintf(f, "%" PRIu64, sb ? sb : ob);
	if (old_s)
		fprintf(f, ", \"old_sample_bytes\": %" PRIu64 ", \"new_sample_bytes\": %" PRIu64,
		        ob, sb);
	fputs("}, ", f);
}

/* The notes of a view: sites missing, estimates from a sample, problems
 * met (of s, or of old and new in a diff). */
static void text_notes(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s, hw_group_key k)
{
	char buf[400];
	if (hw_view_needs_sites(s, k) || (old_s && hw_view_needs_sites(old_s, k)))
		fprintf(f, "note: %s\n", hw_no_sites_note);
	if (sampled_note(s, old_s, k, buf, sizeof buf))
		fprintf(f, "note: %s\n", buf);
	if (old_s && problems_note(old_s, "the old target", buf, sizeof buf))
		fprintf(f, "note: %s\n", buf);
	if (problems_note(s, old_s ? "the new target" : "", buf, sizeof buf))
		fprintf(f, "note: %s\n", buf);
}

static void json_notes(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s, hw_group_key k)
{
	char buf[400];
	const char *sep = "";
	fputs("\"notes\": [", f);
	if (hw_view_needs_sites(s, k) || (old_s && hw_view_needs_sites(old_s, k))) {
		hw_json_str(f, hw_no_sites_note);
		sep = ", ";
	}
	if (sampled_note(s, old_s, k, buf, sizeof buf)) {
		fputs(sep, f);
		hw_json_str(f, buf);
		sep = ", ";
	}
	if (old_s && problems_note(old_s, "the old target", buf, sizeof buf)) {
		fputs(sep, f);
		hw_json_str(f, buf);
		sep = ", ";
	}
	if (problems_note(s, old_s ? "the new target" : "", buf, sizeof buf)) {
		fputs(sep, f);
		hw_json_str(f, buf);
	}
	fputc(']', f);
}

static const char *states_name(const hw_view_options *o)
{
	unsigned st = o->states ? o->states : 1u << HW_STATE_USED;
	if (st == 1u << HW_STATE_USED)
		return "used";
	if (st == 1u << HW_STATE_FREE)
		return "free";
	return "all";
}

/* ---- top ---- */

int hw_render_top(FILE *f, const hw_snapshot *s, const hw_view_options *o)
{
	hw_view_options def;
	if (!o) {
		hw_view_options_init(&def);
		o = &def;
	}
	hw_grouping *g;
	int rc = hw_snapshot_group(&g, s, o);
	if (rc)
		return rc;
	hw_group_key k = hw_grouping_key(g);
	hw_count total = hw_grouping_total(g);
	size_t ng = hw_grouping_count(g);
	size_t shown = o->limit && o->limit < ng ? (size_t)o->limit : ng;
	uint32_t *ids = malloc(HW_SITE_MAX_FRAMES * sizeof *ids);
	if (!ids) {
		hw_grouping_free(g);
		return hw_error_set(HW_ENOMEM, "out of memory");
	}
	char h[32];

	if (o->format == HW_FORMAT_JSON) {
		fprintf(
		    f,
		    "{\"format\": \"heapwalk.top.v1\", \"group_by\": \"%s\", \"state\": \"%s\", "
		    "\"target\": ",
		    hw_group_key_name(k), states_name(o));
		hw_json_target(f, s);
		fputs(", \"total\": ", f);
		hw_json_count(f, total.count, total.bytes);
		if (s->slack) {
			hw_count tr = hw_grouping_total_requested(g);
			fprintf(f,
			        ", \"total_requested\": {\"count\": %" PRIu64
			        ", \"bytes\": %" PRIu64 "}",
			        tr.count, tr.bytes);
		}
		fprintf(f, ", \"groups_total\": %zu, \"limit\": %" PRIu64 ", ", ng, o->limit);
		hw_json_filters(f, o);
		fputs(", ", f);
		json_estimates(f, s, NULL, k);
		json_notes(f, s, NULL, k);
		fputs(", \"groups\": [", f);
		for (size_t i = 0; i < shown; i++) {
			const hw_group *gr = hw_grouping_get(g, i);
			fputs(i ? ",\n  {\"key\": " : "\n  {\"key\": ", f);
			hw_json_str(f, gr->key);
			fprintf(f, ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64, gr->count,
			        gr->bytes);
			/* what the program asked for, when the tracer saw every one */
			if (s->slack && gr->requested_count == gr->count)
				fprintf(f, ", \"requested_bytes\": %" PRIu64, gr->requested_bytes);
			fputs(", \"frames\": ", f);
			json_frames(f, s, ids, group_frames(s, o, k, gr->site, ids));
			fputc('}', f);
		}
		fputs("]}\n", f);
	} else if (o->format == HW_FORMAT_CSV) {
		fputs("key,count,bytes\n", f);
		for (size_t i = 0; i < shown; i++) {
			const hw_group *gr = hw_grouping_get(g, i);
			hw_csv_str(f, gr->key);
			fprintf(f, ",%" PRIu64 ",%" PRIu64 "\n", gr->count, gr->bytes);
		}
	} else {
		fputs("top: ", f);
		hw_text_target(f, s);
		fputc('\n', f);
		fprintf(f,
		        "group by %s, state %s: %" PRIu64 " allocations, %s (%" PRIu64
		        " bytes) in %zu groups\n",
		        hw_group_key_name(k), states_name(o), total.count,
		        hw_human(total.bytes, h, sizeof h), total.bytes, ng);
		if (s->slack) {
			hw_count tr = hw_grouping_total_requested(g);
			fprintf(f,
			        "requested by the program (%s): %s (%" PRIu64 " bytes) for %" PRIu64
			        " of them\n",
			        hw_grouping_sample_bytes(g) ? "estimated from the tracer's sample"
			                                    : "the tracer's records",
			        hw_human(tr.bytes, h, sizeof h), tr.bytes, tr.count);
		}
		hw_text_filters(f, o);
		fprintf(f, "\n%14s %10s %10s  %s\n", "bytes", "", "count", hw_group_key_name(k));
		for (size_t i = 0; i < shown; i++) {
			const hw_group *gr = hw_grouping_get(g, i);
			fprintf(f, "%14" PRIu64 " %10s %10" PRIu64 "  ", gr->bytes,
			        hw_human(gr->bytes, h, sizeof h), gr->count);
			if (!(k == HW_GROUP_SITE && gr->site))
				fprintf(f, "%s\n", gr->key);
			if (k == HW_GROUP_SITE && gr->site)
				text_frames(f, s, ids, group_frames(s, o, k, gr->site, ids), 38);
		}
		if (shown < ng) {
			hw_count rest = {0, 0};
			for (size_t i = shown; i < ng; i++) {
				rest.count += hw_grouping_get(g, i)->count;
				rest.bytes += hw_grouping_get(g, i)->bytes;
			}
			fprintf(f,
			        "%14" PRIu64 " %10s %10" PRIu64
			        "  (%zu more groups; --limit 0 shows all)\n",
			        rest.bytes, hw_human(rest.bytes, h, sizeof h), rest.count,
			        ng - shown);
		}
		fprintf(f, "%14" PRIu64 " %10s %10" PRIu64 "  total\n", total.bytes,
		        hw_human(total.bytes, h, sizeof h), total.count);
		text_notes(f, s, NULL, k);
	}
	free(ids);
	hw_grouping_free(g);
	return HW_OK;
}

/* ---- diff ---- */

int hw_render_diff(FILE *f, const hw_snapshot *old_s, const hw_snapshot *new_s,
                   const hw_view_options *o, int *exceeded)
{
	hw_view_options def;
	if (!o) {
		hw_view_options_init(&def);
		o = &def;
	}
	hw_diff *d;
	int rc = hw_snapshot_diff(&d, old_s, new_s, o);
	if (rc)
		return rc;
	hw_count ot, nt;
	hw_diff_totals(d, &ot, &nt);
	hw_group_key k = o->group_by;
	if (k == HW_GROUP_DEFAULT) {
		hw_group_key a = hw_view_group_key(old_s, o), b = hw_view_group_key(new_s, o);
		k = a == HW_GROUP_SITE || b == HW_GROUP_SITE ? HW_GROUP_SITE : a;
	}
	int64_t growth = (int64_t)(nt.bytes - ot.bytes);
	int over = o->has_max_growth && growth > 0 && (uint64_t)growth > o->max_growth;
	if (exceeded)
		*exceeded = over;
	size_t ng = hw_diff_count(d);
	size_t shown = o->limit && o->limit < ng ? (size_t)o->limit : ng;
	uint32_t *ids = malloc(HW_SITE_MAX_FRAMES * sizeof *ids);
	if (!ids) {
		hw_diff_free(d);
		return hw_error_set(HW_ENOMEM, "out of memory");
	}
	char h[32], h2[32], h3[32];

	if (o->format == HW_FORMAT_JSON) {
		fprintf(
		    f,
		    "{\"format\": \"heapwalk.diff.v1\", \"group_by\": \"%s\", \"state\": \"%s\", ",
		    hw_group_key_name(k), states_name(o));
		fputs("\"old_target\": ", f);
		hw_json_target(f, old_s);
		fputs(", \"new_target\": ", f);
		hw_json_target(f, new_s);
		fputs(", \"old\": ", f);
		hw_json_count(f, ot.count, ot.bytes);
		fputs(", \"new\": ", f);
		hw_json_count(f, nt.count, nt.bytes);
		fprintf(f, ", \"count_diff\": %" PRId64 ", \"bytes_diff\": %" PRId64,
		        (int64_t)(nt.count - ot.count), growth);
		if (o->has_max_growth)
			fprintf(f, ", \"max_growth\": {\"bytes\": %" PRIu64 ", \"exceeded\": %s}",
			        o->max_growth, over ? "true" : "false");
		fprintf(f, ", \"groups_total\": %zu, \"limit\": %" PRIu64 ", ", ng, o->limit);
		hw_json_filters(f, o);
		fputs(", ", f);
		json_estimates(f, new_s, old_s, k);
		json_notes(f, new_s, old_s, k);
		fputs(", \"groups\": [", f);
		for (size_t i = 0; i < shown; i++) {
			const hw_diff_group *gr = hw_diff_get(d, i);
			const hw_snapshot *fs = gr->in_new ? new_s : old_s;
			fputs(i ? ",\n  {\"key\": " : "\n  {\"key\": ", f);
			hw_json_str(f, gr->key);
			fprintf(f,
			        ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64
			        ", \"count_diff\": %" PRId64 ", \"bytes_diff\": %" PRId64
			        ", \"frames\": ",
			        gr->count, gr->bytes, gr->count_diff, gr->bytes_diff);
			json_frames(f, fs, ids, group_frames(fs, o, k, gr->site, ids));
			fputc('}', f);
		}
		fputs("]}\n", f);
	} else if (o->format == HW_FORMAT_CSV) {
		fputs("key,count,bytes,count_diff,bytes_diff\n", f);
		for (size_t i = 0; i < shown; i++) {
			const hw_diff_group *gr = hw_diff_get(d, i);
			hw_csv_str(f, gr->key);
			fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRId64 ",%" PRId64 "\n", gr->count,
			        gr->bytes, gr->count_diff, gr->bytes_diff);
		}
	} else {
		fputs("diff: old ", f);
		hw_text_target(f, old_s);
		fputs("\n      new ", f);
		hw_text_target(f, new_s);
		fputc('\n', f);
		fprintf(
		    f,
		    "group by %s, state %s: old %" PRIu64 " allocations, %s; new %" PRIu64
		    " allocations, %s; growth %s (%+" PRId64 " bytes, %+" PRId64 " allocations)\n",
		    hw_group_key_name(k), states_name(o), ot.count, hw_human(ot.bytes, h, sizeof h),
		    nt.count, hw_human(nt.bytes, h2, sizeof h2),
		    hw_human_signed(growth, h3, sizeof h3), growth, (int64_t)(nt.count - ot.count));
		hw_text_filters(f, o);
		fprintf(f, "\n%14s %11s %10s %14s %10s  %s\n", "bytes diff", "", "count diff",
		        "bytes", "count", hw_group_key_name(k));
		for (size_t i = 0; i < shown; i++) {
			const hw_diff_group *gr = hw_diff_get(d, i);
			const hw_snapshot *fs = gr->in_new ? new_s : old_s;
			fprintf(f,
			        "%+14" PRId64 " %11s %+10" PRId64 " %14" PRIu64 " %10" PRIu64 "  ",
			        gr->bytes_diff, hw_human_signed(gr->bytes_diff, h, sizeof h),
			        gr->count_diff, gr->bytes, gr->count);
			if (!(k == HW_GROUP_SITE && gr->site))
				fprintf(f, "%s\n", gr->key);
			if (k == HW_GROUP_SITE && gr->site)
				text_frames(f, fs, ids, group_frames(fs, o, k, gr->site, ids), 65);
		}
		if (shown < ng)
			fprintf(f, "(%zu more groups; --limit 0 shows all)\n", ng - shown);
		if (o->has_max_growth)
			fprintf(f, "max growth %s (%" PRIu64 " bytes): %s\n",
			        hw_human(o->max_growth, h, sizeof h), o->max_growth,
			        over ? "EXCEEDED" : "ok");
		text_notes(f, new_s, old_s, k);
	}
	free(ids);
	hw_diff_free(d);
	return HW_OK;
}

/* ---- chunks ---- */

/* The text chunks view prints a line per chunk, millions of them: its
 * columns are formatted here by hand instead of by printf, byte for byte
 * what "0x%-16" PRIx64 " %12" PRIu64 " %-5s %-10s %-18s %-8s %-6s %s\n"
 * prints (the arena as "0x%" PRIx64 or "-", the site as "%u" or "-"). */

/* Append the hex digits of v (at least one) at b; returns their count. */
static size_t put_hex(char *b, uint64_t v)
{
	char t[16];
	size_t n = 0;
	do {
		t[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	for (size_t k = 0; k < n; k++)
		b[k] = t[n - 1 - k];
	return n;
}

static size_t put_dec(char *b, uint64_t v)
{
	char t[20];
	size_t n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t k = 0; k < n; k++)
		b[k] = t[n - 1 - k];
	return n;
}

/* Append len bytes of str at b, then spaces up to width. */
static size_t put_left(char *b, const char *str, size_t len, size_t width)
{
	memcpy(b, str, len);
	while (len < width)
		b[len++] = ' ';
	return len;
}

static void text_chunk_line(FILE *f, uint64_t addr, uint64_t size, const char *state,
                            const char *alloc, uint64_t arena, const char *bin, uint32_t site,
                            const char *type)
{
	size_t ls = strlen(state), la = strlen(alloc), lb = strlen(bin), lt = strlen(type);
	if (ls + la + lb + lt > 512) {
		/* Names this long never occur; printf handles them anyway. */
		char ab[24] = "-", sb[16] = "-";
		if (arena)
			snprintf(ab, sizeof ab, "0x%" PRIx64, arena);
		if (site)
			snprintf(sb, sizeof sb, "%u", site);
		fprintf(f, "0x%-16" PRIx64 " %12" PRIu64 " %-5s %-10s %-18s %-8s %-6s %s\n", addr,
		        size, state, alloc, ab, bin, sb, type);
		return;
	}
	char line[640], num[24];
	size_t n = 2, k;
	line[0] = '0';
	line[1] = 'x';
	k = put_hex(num, addr);
	n += put_left(line + n, num, k, 16);
	line[n++] = ' ';
	k = put_dec(num, size);
	for (size_t w = k; w < 12; w++)
		line[n++] = ' ';
	memcpy(line + n, num, k);
	n += k;
	line[n++] = ' ';
	n += put_left(line + n, state, ls, 5);
	line[n++] = ' ';
	n += put_left(line + n, alloc, la, 10);
	line[n++] = ' ';
	if (arena) {
		num[0] = '0';
		num[1] = 'x';
		k = 2 + put_hex(num + 2, arena);
	} else {
		num[0] = '-';
		k = 1;
	}
	n += put_left(line + n, num, k, 18);
	line[n++] = ' ';
	n += put_left(line + n, bin, lb, 8);
	line[n++] = ' ';
	if (site) {
		k = put_dec(num, site);
	} else {
		num[0] = '-';
		k = 1;
	}
	n += put_left(line + n, num, k, 6);
	line[n++] = ' ';
	memcpy(line + n, type, lt);
	n += lt;
	line[n++] = '\n';
	fwrite_unlocked(line, 1, n, f);
}

int hw_render_chunks(FILE *f, const hw_snapshot *s, const hw_view_options *o)
{
	hw_view_options def;
	if (!o) {
		hw_view_options_init(&def);
		o = &def;
	}
	unsigned states = o->states ? o->states : (1u << HW_STATE_USED) | (1u << HW_STATE_FREE);
	uint8_t *pass = NULL;
	int rc = hw_view_site_pass(s, o, &pass);
	if (rc)
		return rc;
	if (o->format == HW_FORMAT_CSV)
		fputs("address,size,state,allocator,arena,bin,type,site\n", f);
	else if (o->format == HW_FORMAT_TEXT)
		fprintf(f, "%-18s %12s %-5s %-10s %-18s %-8s %-6s %s\n", "address", "size", "state",
		        "allocator", "arena", "bin", "site", "type");
	uint64_t hidden = 0; /* by the site filters */
	for (size_t i = 0; i < s->n; i++) {
		uint8_t fl = s->flags[i];
		unsigned st = HW_F_STATE(fl), al = HW_F_ALLOCATOR(fl);
		if (!(states >> st & 1))
			continue;
		if (pass && !pass[hw_s_site(s, i)]) {
			hidden++;
			continue;
		}
		if (o->allocator >= 0 && (unsigned)o->allocator != al)
			continue;
		if (hw_s_size(s, i) < o->min_size)
			continue;
		uint64_t arena = s->arenas[s->arena[i]];
		const char *bin = hw_bin_name(HW_F_BIN(fl));
		const char *type = hw_snapshot_type_name(s, hw_s_type(s, i));
		uint32_t site = hw_s_site(s, i);
		if (o->format == HW_FORMAT_JSON) {
			fprintf(f,
			        "{\"address\": \"0x%" PRIx64 "\", \"size\": %" PRIu64
			        ", \"state\": \"%s\", \"allocator\": \"%s\", \"arena\": ",
			        s->addr[i], hw_s_size(s, i), hw_state_name(st),
			        hw_allocator_name(al));
			hw_json_addr(f, arena, 1);
			fputs(", \"bin\": ", f);
			hw_json_str(f, bin);
			fputs(", \"type\": ", f);
			hw_json_str(f, type);
			if (site)
				fprintf(f, ", \"site\": %u}\n", site);
			else
				fputs(", \"site\": null}\n", f);
		} else if (o->format == HW_FORMAT_CSV) {
			fprintf(f, "0x%" PRIx64 ",%" PRIu64 ",%s,%s,", s->addr[i], hw_s_size(s, i),
			        hw_state_name(st), hw_allocator_name(al));
			if (arena)
				fprintf(f, "0x%" PRIx64, arena);
			fputc(',', f);
			hw_csv_str(f, bin);
			fputc(',', f);
			hw_csv_str(f, type);
			if (site)
				fprintf(f, ",%u\n", site);
			else
				fputs(",\n", f);
		} else {
			text_chunk_line(f, s->addr[i], hw_s_size(s, i), hw_state_name(st),
			                hw_allocator_name(al), arena, bin ? bin : "-", site,
			                type ? type : "?");
		}
	}
	/* the filters that hid chunks, after the table (JSON and CSV rows
	 * stay chunks only) */
	if (hidden && o->format == HW_FORMAT_TEXT) {
		hw_text_filters(f, o);
		fprintf(f, "%" PRIu64 " chunk%s not shown by these filters\n", hidden,
		        hidden == 1 ? "" : "s");
	}
	free(pass);
	return HW_OK;
}
