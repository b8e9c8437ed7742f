/*
 * render_util.c: quoting and formatting shared by the renderers.
 */
#include "render_internal.h"

#include <inttypes.h>
#include <string.h>

const char hw_no_sites_note[] =
    "no allocation sites recorded: run the program under 'coretool trace -- COMMAND' "
    "(or LD_PRELOAD the heapwalk tracer) to record them";

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static int utf8_len(const unsigned char *p)
{
	int n;
	unsigned c = p[0];
	if (c < 0xc2)
		return 0;
	else if (c < 0xe0)
		n = 2;
	else if (c < 0xf0)
		n = 3;
	else if (c < 0xf5)
		n = 4;
	else
		return 0;
	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
		return 0;
	if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
		return 0;
	return n;
}

void hw_json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		unsigned c = *p;
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc((int)c, f);
			p++;
		} else if (c == '\n') {
			fputs("\\n", f);
			p++;
		} else if (c == '\t') {
			fputs("\\t", f);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			fputc((int)c, f);
			p++;
		} else {
			int n = utf8_len(p);
			if (n) {
				fwrite(p, 1, (size_t)n, f);
				p += n;
			} else {
				fputs("\\ufffd", f);
				p++;
			}
		}
	}
	fputc('"', f);
}

void hw_json_addr(FILE *f, uint64_t addr, int null0)
{
	if (!addr && null0)
		fputs("null", f);
	else
		fprintf(f, "\"0x%" PRIx64 "\"", addr);
}

void hw_json_count(FILE *f, uint64_t count, uint64_t bytes)
{
	fprintf(f, "{\"count\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", count, bytes);
}

void hw_csv_str(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
	}
	fputc('"', f);
}

const char *hw_bytes_format(uint64_t bytes, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024.0 && u < 6) {
		v /= 1024.0;
		u++;
	}
	if (!u)
		snprintf(buf, cap, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, cap, "%.1f %s", v, unit[u]);
	return buf;
}

const char *hw_human(uint64_t bytes, char *buf, size_t cap)
{
	return hw_bytes_format(bytes, buf, cap);
}

const char *hw_human_signed(int64_t bytes, char *buf, size_t cap)
{
	char tmp[32];
	uint64_t a = bytes < 0 ? (uint64_t)0 - (uint64_t)bytes : (uint64_t)bytes;
	snprintf(buf, cap, "%s%s",
	         bytes > 0   ? "+"
	         : bytes < 0 ? "-"
	                     : "",
	         hw_human(a, tmp, sizeof tmp));
	return buf;
}

void hw_text_target(FILE *f, const hw_snapshot *s)
{
	const hw_snapshot_target *t = &s->target;
	fprintf(f, "%s", t->kind ? t->kind : "?");
	if (t->path)
		fprintf(f, " %s", t->path);
	if (t->source_kind)
		fprintf(f, " of %s%s%s", t->source_kind, t->source_path ? " " : "",
		        t->source_path ? t->source_path : "");
	if (t->pid && t->executable)
		fprintf(f, " (pid %d, %s)", (int)t->pid, t->executable);
	else if (t->pid)
		fprintf(f, " (pid %d)", (int)t->pid);
	else if (t->executable)
		fprintf(f, " (%s)", t->executable);
}

void hw_json_target(FILE *f, const hw_snapshot *s)
{
	const hw_snapshot_target *t = &s->target;
	fputs("{\"kind\": ", f);
	hw_json_str(f, t->kind);
	fputs(", \"path\": ", f);
	hw_json_str(f, t->path);
	fputs(", \"pid\": ", f);
	if (t->pid)
		fprintf(f, "%d", (int)t->pid);
	else
		fputs("null", f);
	fputs(", \"executable\": ", f);
	hw_json_str(f, t->executable);
	if (t->source_kind) {
		fputs(", \"source\": {\"kind\": ", f);
		hw_json_str(f, t->source_kind);
		fputs(", \"path\": ", f);
		hw_json_str(f, t->source_path);
		fputc('}', f);
	}
	fputc('}', f);
}

void hw_json_frame(FILE *f, const hw_frame *fr)
{
	fputs("{\"function\": ", f);
	hw_json_str(f, fr->function);
	fputs(", \"file\": ", f);
	hw_json_str(f, fr->file);
	fputs(", \"line\": ", f);
	if (fr->line > 0)
		fprintf(f, "%d", fr->line);
	else
		fputs("null", f);
	fputs(", \"module\": ", f);
	hw_json_str(f, fr->module);
	fprintf(f, ", \"kind\": \"%s\"", fr->kind == HW_FRAME_PYTHON ? "python" : "native");
	if (fr->kind == HW_FRAME_NATIVE && fr->module)
		fprintf(f, ", \"module_offset\": \"0x%" PRIx64 "\"", fr->module_offset);
	fputc('}', f);
}

void hw_json_filters(FILE *f, const hw_view_options *o)
{
	hw_view_filter vf[HW_VIEW_MAX_FILTERS + 8];
	size_t n = hw_view_filters(o, vf, HW_ARRAY_SIZE(vf));
	fputs("\"filters\": [", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s{\"action\": \"%s\", \"pattern\": ", i ? ", " : "",
		        vf[i].include ? "include" : "exclude");
		hw_json_str(f, vf[i].pattern);
		fprintf(f, ", \"match\": \"%s\", \"frames\": \"%s\", \"default\": %s}", vf[i].what,
		        vf[i].all_frames ? "any" : "innermost",
		        vf[i].is_default ? "true" : "false");
	}
	fputc(']', f);
}

void hw_text_filters(FILE *f, const hw_view_options *o)
{
	hw_view_filter vf[HW_VIEW_MAX_FILTERS + 8];
	size_t n = hw_view_filters(o, vf, HW_ARRAY_SIZE(vf));
	fputs("filters:", f);
	if (!n)
		fputs(" none", f);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(vf[i].what, "module"))
			fprintf(f, "%s drop frames of %s", i ? "," : "", vf[i].pattern);
		else
			fprintf(f, "%s %s %s%s", i ? "," : "",
			        vf[i].include ? "include" : "exclude", vf[i].pattern,
			        vf[i].all_frames ? " (any frame)" : "");
	}
	if (!o->no_default_filters)
		fputs(" (--no-default-filters shows everything)", f);
	fputc('\n', f);
}

const char *hw_state_name(unsigned st)
{
	static const char *const n[] = {"used", "free", "meta", "top"};
	return n[st & 3];
}

const char *hw_allocator_name(unsigned a)
{
	static const char *const n[] = {"glibc", "glibc-mmap", "pymalloc", "?"};
	return n[a & 3];
}

const char *hw_bin_name(unsigned b)
{
	static const char *const n[] = {NULL, "tcache", "fastbin", "unsorted", "small", "large"};
	return b < HW_ARRAY_SIZE(n) ? n[b] : NULL;
}
