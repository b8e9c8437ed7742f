/*
 * render_report.c: `coretool report`: one self-contained HTML file to keep
 * or send (an offline forensic report): the target, the summary, the
 * problems, the largest groups by type, site, line, function, module,
 * size and allocator, and with an OLD target the growth since it.
 *
 * Every number comes from the views coretool prints: each section holds
 * the text view itself (the same bytes `coretool top ...` prints, HTML
 * escaped), and the bar tables are drawn from the same groupings.  Nothing
 * is fetched: inline CSS, no script, no link out.  Every string from the
 * target (type names, file names, problem messages) is escaped: a core is
 * untrusted input, and a report is opened in a browser.
 */
#include "render_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* HTML text: & < > " ' escaped, bytes below 0x20 but \n and \t shown as
 * U+FFFD (a target's strings may hold anything). */
static void html_bytes(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			if (c < 0x20 && c != '\n' && c != '\t')
				fputs("&#xFFFD;", f);
			else
				fputc(c, f);
		}
	}
}

static void html(FILE *f, const char *s)
{
	if (s)
		html_bytes(f, s, strlen(s));
}

typedef int (*view_fn)(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s,
                       const hw_view_options *o);

/* A text view, escaped, in <pre>. */
static int pre_view(FILE *f, view_fn fn, const hw_snapshot *s, const hw_snapshot *old_s,
                    const hw_view_options *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return hw_error_set(HW_ENOMEM, "out of memory");
	int rc = fn(m, s, old_s, o);
	fclose(m);
	if (rc == HW_OK) {
		fputs("<pre>", f);
		html_bytes(f, buf, len);
		fputs("</pre>\n", f);
	}
	free(buf);
	return rc;
}

static int v_summary(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s,
                     const hw_view_options *o)
{
	(void)old_s;
	return hw_render_summary(f, s, o);
}

static int v_check(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s,
                   const hw_view_options *o)
{
	(void)old_s;
	return hw_render_check(f, s, o, NULL);
}

static int v_top(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s, const hw_view_options *o)
{
	(void)old_s;
	return hw_render_top(f, s, o);
}

static int v_diff(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s, const hw_view_options *o)
{
	return hw_render_diff(f, old_s, s, o, NULL);
}

/* One bar row: the key, a bar of width `part` of `whole`, the figures. */
static void bar_row(FILE *f, const char *key, uint64_t count, uint64_t bytes, int64_t diff,
                    int is_diff, uint64_t part, uint64_t whole)
{
	char h[32];
	double pct = whole ? 100.0 * (double)part / (double)whole : 0;
	fputs("<tr><td class=k>", f);
	html(f, key);
	if (is_diff)
		fprintf(f, "</td><td class=n>%s</td><td class=n>%+" PRId64 "</td>",
		        hw_human_signed(diff, h, sizeof h), diff);
	else
		fprintf(f, "</td><td class=n>%s</td><td class=n>%" PRIu64 "</td>",
		        hw_human(bytes, h, sizeof h), bytes);
	fprintf(f,
	        "<td class=n>%" PRIu64 "</td><td class=b><div class=\"bar%s\" "
	        "style=\"width:%.1f%%\"></div></td></tr>\n",
	        count, is_diff && diff < 0 ? " neg" : "", pct);
}

/* The largest groups by o->group_by as bars, then the text view. */
static int top_section(FILE *f, const hw_snapshot *s, const hw_view_options *o, const char *id,
                       const char *title)
{
	hw_grouping *g;
	int rc = hw_snapshot_group(&g, s, o);
	if (rc)
		return rc;
	fprintf(f, "<h2 id=\"%s\">", id);
	html(f, title);
	fputs("</h2>\n", f);
	size_t n = hw_grouping_count(g), shown = o->limit && o->limit < n ? (size_t)o->limit : n;
	uint64_t max = n ? hw_grouping_get(g, 0)->bytes : 0;
	fprintf(f, "<table><tr><th>%s</th><th>bytes</th><th></th><th>count</th><th></th></tr>\n",
	        hw_group_key_name(o->group_by));
	for (size_t i = 0; i < shown; i++) {
		const hw_group *gr = hw_grouping_get(g, i);
		bar_row(f, gr->key, gr->count, gr->bytes, 0, 0, gr->bytes, max);
	}
	fputs("</table>\n<details><summary>as coretool prints it</summary>\n", f);
	hw_grouping_free(g);
	rc = pre_view(f, v_top, s, NULL, o);
	fputs("</details>\n", f);
	return rc;
}

static int diff_section(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s,
                        const hw_view_options *o, const char *id, const char *title)
{
	hw_diff *d;
	int rc = hw_snapshot_diff(&d, old_s, s, o);
	if (rc)
		return rc;
	fprintf(f, "<h2 id=\"%s\">", id);
	html(f, title);
	fputs("</h2>\n", f);
	size_t n = hw_diff_count(d), shown = o->limit && o->limit < n ? (size_t)o->limit : n;
	uint64_t max = 0;
	for (size_t i = 0; i < shown; i++) {
		int64_t b = hw_diff_get(d, i)->bytes_diff;
		uint64_t a = b < 0 ? (uint64_t)0 - (uint64_t)b : (uint64_t)b;
		if (a > max)
			max = a;
	}
	fprintf(f,
	        "<table><tr><th>%s</th><th>growth</th><th></th><th>count now</th><th></th></tr>\n",
	        hw_group_key_name(o->group_by));
	for (size_t i = 0; i < shown; i++) {
		const hw_diff_group *gr = hw_diff_get(d, i);
		uint64_t a = gr->bytes_diff < 0 ? (uint64_t)0 - (uint64_t)gr->bytes_diff
		                                : (uint64_t)gr->bytes_diff;
		bar_row(f, gr->key, gr->count, gr->bytes, gr->bytes_diff, 1, a, max);
	}
	fputs("</table>\n<details><summary>as coretool prints it</summary>\n", f);
	hw_diff_free(d);
	rc = pre_view(f, v_diff, s, old_s, o);
	fputs("</details>\n", f);
	return rc;
}

static const char style[] =
    "body{font:14px/1.4 sans-serif;margin:2em;max-width:70em;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}"
    "pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:12px}"
    "table{border-collapse:collapse;width:100%}td,th{padding:.15em .5em;text-align:left}"
    "td.n{text-align:right;white-space:nowrap;font-family:monospace}"
    "td.k{font-family:monospace;word-break:break-all}td.b{width:30%}"
    ".bar{background:#4a7bd0;height:.9em}.bar.neg{background:#5aa05a}"
    "tr:nth-child(even){background:#fafafa}";

int hw_render_report(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s,
                     const hw_view_options *o)
{
	hw_view_options def;
	if (!o) {
		hw_view_options_init(&def);
		def.limit = 20;
		o = &def;
	}
	hw_view_options v = *o;
	v.format = HW_FORMAT_TEXT;
	int sites = hw_snapshot_tracer_summary(s) != NULL;
	static const struct {
		hw_group_key key;
		const char *id, *title;
		int needs_sites;
	} keys[] = {
	    {HW_GROUP_TYPE, "type", "Largest by type", 0},
	    {HW_GROUP_SITE, "site", "Largest by allocation site (whole stack)", 1},
	    {HW_GROUP_LINENO, "lineno", "Largest by line", 1},
	    {HW_GROUP_FUNCTION, "function", "Largest by function", 1},
	    {HW_GROUP_MODULE, "module", "Largest by module", 1},
	    {HW_GROUP_SIZE, "size", "Largest by size", 0},
	    {HW_GROUP_ALLOCATOR, "allocator", "By allocator", 0},
	};
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>heapwalk "
	      "report: ",
	      f);
	html(f, s->target.path ? s->target.path : "?");
	fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n<h1>heapwalk report</h1>\n<p>",
	        style);
	char *t = NULL;
	size_t tl = 0;
	FILE *m = open_memstream(&t, &tl);
	if (m) {
		hw_text_target(m, s);
		if (old_s) {
			fputs("\ncompared with ", m);
			hw_text_target(m, old_s);
		}
		fclose(m);
		html_bytes(f, t, tl);
		free(t);
	}
	fputs("</p>\n<ul>\n<li><a href=\"#summary\">Summary</a></li>\n"
	      "<li><a href=\"#problems\">Problems</a></li>\n",
	      f);
	if (old_s)
		fputs("<li><a href=\"#growth-type\">Growth by type</a></li>\n", f);
	if (old_s && sites)
		fputs("<li><a href=\"#growth-lineno\">Growth by line</a></li>\n", f);
	for (size_t i = 0; i < HW_ARRAY_SIZE(keys); i++)
		if (sites || !keys[i].needs_sites)
			fprintf(f, "<li><a href=\"#%s\">%s</a></li>\n", keys[i].id, keys[i].title);
	fputs("</ul>\n", f);
	if (!sites)
		fprintf(f, "<p>No allocation sites: %s</p>\n", hw_no_sites_note);

	fputs("<h2 id=\"summary\">Summary</h2>\n", f);
	int rc = pre_view(f, v_summary, s, NULL, &v);
	if (!rc) {
		fputs("<h2 id=\"problems\">Problems</h2>\n", f);
		rc = pre_view(f, v_check, s, NULL, &v);
	}
	if (!rc && old_s) {
		v.group_by = HW_GROUP_TYPE;
		rc = diff_section(f, s, old_s, &v, "growth-type", "Growth by type");
		if (!rc && sites) {
			v.group_by = HW_GROUP_LINENO;
			rc = diff_section(f, s, old_s, &v, "growth-lineno", "Growth by line");
		}
	}
	for (size_t i = 0; i < HW_ARRAY_SIZE(keys) && !rc; i++) {
		if (!sites && keys[i].needs_sites)
			continue;
		v.group_by = keys[i].key;
		rc = top_section(f, s, &v, keys[i].id, keys[i].title);
	}
	fputs("<p><small>Written by heapwalk's coretool report from the target's memory alone; "
	      "no page of it is fetched from anywhere.</small></p>\n</body></html>\n",
	      f);
	return rc;
}
