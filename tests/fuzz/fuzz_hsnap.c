/*
 * fuzz_hsnap.c: libFuzzer-style target for the .hsnap reader.
 *
 * The first input byte picks the mode:
 *   even: the rest is a whole file, given to hw_snapshot_load_buffer as is
 *         (header, checksum and zstd checks get fuzzed);
 *   odd:  the rest is an uncompressed payload; the target wraps it in a
 *         valid header (zstd frame, CRC-32C) so that mutations reach the
 *         section decoder behind the checksum.
 * A loaded snapshot is rendered through every view, to /dev/null.
 * Invariants checked: either a snapshot or a non-empty one-line error; a
 * loaded snapshot saves, loads again and renders the same (round_trip), in
 * valid JSON (json_check), and as CSV tables whose records all have their
 * header's number of fields (csv_check); diffed against itself or its
 * reloaded copy it shows no growth (no_growth); its groups add up to its
 * allocations (sums).
 */
#include "heapwalk.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

size_t fuzz_seeds(uint8_t ***bufs, size_t **lens);

enum { HEADER = 40 };

/* CRC-32C, bit by bit: independent of the library's table version. */
static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A valid file around a raw payload (malloc'd, *len set). */
static uint8_t *wrap(const uint8_t *payload, size_t n, size_t *len)
{
	size_t bound = ZSTD_compressBound(n);
	uint8_t *f = malloc(HEADER + bound);
	size_t z = ZSTD_compress(f + HEADER, bound, payload, n, 1);
	if (ZSTD_isError(z))
		abort();
	static const uint8_t magic[8] = {0x89, 'H', 'S', 'N', 'A', 'P', '\r', '\n'};
	memcpy(f, magic, 8);
	put_le(f + 8, 1, 2);
	put_le(f + 10, 0, 2);
	put_le(f + 12, 1, 4);
	put_le(f + 16, n, 8);
	put_le(f + 24, z, 8);
	put_le(f + 32, 0, 8);
	uint32_t c = crc32c(0, f, HEADER);
	c = crc32c(c, f + HEADER, z);
	put_le(f + 32, c, 4);
	*len = HEADER + z;
	return f;
}

enum { N_GROUPS = HW_GROUP_ARENA - HW_GROUP_DEFAULT + 1, N_VIEWS = 2 * N_GROUPS + 4 };

/* Options showing everything (every state, every group) in format fmt,
 * grouped by key. */
static hw_view_options everything(hw_format fmt, int key)
{
	hw_view_options o;
	hw_view_options_init(&o);
	o.limit = 0;
	o.states = 0xf;
	o.format = fmt;
	o.group_by = (hw_group_key)key;
	return o;
}

/* View v of s in format fmt: 0 the summary, then top (of s) and diff (of s
 * against `against`) for each group key, then the chunks, the check and
 * the first allocation shown. */
static void render_view(FILE *f, const hw_snapshot *s, const hw_snapshot *against, hw_format fmt,
                        int v)
{
	hw_view_options o = everything(fmt, HW_GROUP_DEFAULT + (v - 1) % N_GROUPS);
	uint64_t n;
	hw_alloc a;
	if (v == 0)
		hw_render_summary(f, s, &o);
	else if (v <= N_GROUPS)
		hw_render_top(f, s, &o);
	else if (v <= 2 * N_GROUPS)
		hw_render_diff(f, s, against, &o, NULL);
	else if (v == 2 * N_GROUPS + 1)
		hw_render_chunks(f, s, &o);
	else if (v == 2 * N_GROUPS + 2)
		hw_render_check(f, s, &o, &n);
	else if (hw_snapshot_count(s)) {
		hw_snapshot_get_alloc(s, 0, &a, NULL, NULL);
		hw_render_show(f, s, NULL, a.address, &o);
	}
}

/* Views from..to of s (diffs against `against`) in format fmt, in memory
 * (malloc'd, *len set). */
static char *render(const hw_snapshot *s, const hw_snapshot *against, hw_format fmt, int from,
                    int to, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (!f)
		abort();
	for (int v = from; v <= to; v++)
		render_view(f, s, against, fmt, v);
	fclose(f);
	return text;
}

static void views(const hw_snapshot *s)
{
	static FILE *null;
	if (!null)
		null = fopen("/dev/null", "w");
	if (!null)
		abort();
	for (int fmt = 0; fmt < 3; fmt++)
		for (int v = 0; v < N_VIEWS; v++)
			render_view(null, s, s, (hw_format)fmt, v);
}

static char saved[64];

static void remove_saved(void)
{
	unlink(saved);
}

/* ---- a JSON checker: RFC 8259 values, strings in valid UTF-8 ---- */

static const char *json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *json_string(const char *p, const char *end)
{
	for (p++; p < end;) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (++p >= end)
				return NULL;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (p + i >= end ||
					    !strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 5;
			} else if (*p && strchr("\"\\/bfnrt", *p)) {
				p++;
			} else {
				return NULL;
			}
			continue;
		}
		int n = c < 0x80             ? 1
		        : (c & 0xe0) == 0xc0 ? 2
		        : (c & 0xf0) == 0xe0 ? 3
		        : (c & 0xf8) == 0xf0 ? 4
		                             : 0;
		if (!n || end - p < n)
			return NULL;
		for (int i = 1; i < n; i++)
			if (((unsigned char)p[i] & 0xc0) != 0x80)
				return NULL;
		p += n;
	}
	return NULL;
}

static const char *json_value(const char *p, const char *end, int depth)
{
	p = json_ws(p, end);
	if (p >= end || depth > 64)
		return NULL;
	if (*p == '"')
		return json_string(p, end);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = json_ws(p + 1, end);
		if (p < end && *p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				p = json_ws(p, end);
				if (p >= end || *p != '"' || !(p = json_string(p, end)))
					return NULL;
				p = json_ws(p, end);
				if (p >= end || *p++ != ':')
					return NULL;
			}
			if (!(p = json_value(p, end, depth + 1)))
				return NULL;
			p = json_ws(p, end);
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			return p < end && *p == close ? p + 1 : NULL;
		}
	}
	static const char *const words[] = {"true", "false", "null"};
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(end - p) >= n && !memcmp(p, words[i], n))
			return p + n;
	}
	/* a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
	if (p < end && *p == '-')
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	if (p < end && *p == '.') {
		if (++p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

/* text is a sequence of JSON objects or arrays (the documents and JSON
 * lines the renderers write one after another), or abort. */
static void json_check(const char *text, size_t n)
{
	const char *p = text, *end = text + n;
	while ((p = json_ws(p, end)) < end)
		if ((*p != '{' && *p != '[') || !(p = json_value(p, end, 0)))
			abort();
}

/* The fields of the CSV record at *p (RFC 4180 quoting), *p moved past
 * its line end; -1 for a quote left open or text after a closing quote. */
static int csv_fields(const char **p, const char *end)
{
	int n = 1;
	const char *q = *p;
	while (q < end && *q != '\n') {
		if (*q == '"') {
			for (q++;; q++) {
				if (q >= end)
					return -1;
				if (*q == '"') {
					if (q + 1 < end && q[1] == '"') {
						q++;
						continue;
					}
					break;
				}
			}
			q++;
			if (q < end && *q != ',' && *q != '\n')
				return -1;
			continue;
		}
		if (*q == ',')
			n++;
		q++;
	}
	*p = q < end ? q + 1 : q;
	return n;
}

/* Each view of s as CSV is one table: every record has as many fields as
 * its header, or abort. */
static void csv_check(const hw_snapshot *s)
{
	for (int v = 0; v < N_VIEWS; v++) {
		size_t len;
		char *text = render(s, s, HW_FORMAT_CSV, v, v, &len);
		const char *p = text, *end = text + len;
		int header = p < end ? csv_fields(&p, end) : 0;
		if (header < 0)
			abort();
		while (p < end)
			if (csv_fields(&p, end) != header)
				abort();
		free(text);
	}
}

/* A diff of two snapshots of the same allocations shows no growth: for
 * every group key, each "count_diff" and "bytes_diff" of its JSON is 0. */
static void no_growth(const hw_snapshot *old, const hw_snapshot *new)
{
	size_t len;
	char *text = render(old, new, HW_FORMAT_JSON, N_GROUPS + 1, 2 * N_GROUPS, &len);
	static const char *const keys[] = {"\"count_diff\": ", "\"bytes_diff\": "};
	for (int i = 0; i < 2; i++)
		for (const char *p = text; (p = strstr(p, keys[i])); p++) {
			const char *d = p + strlen(keys[i]);
			if (d[0] != '0' || (d[1] >= '0' && d[1] <= '9'))
				abort();
		}
	free(text);
}

/* Groups add up: for every group key, the groups' counts and bytes sum to
 * the total, keys are distinct, and without filters the total is every
 * allocation. */
static void sums(const hw_snapshot *s)
{
	uint64_t all = hw_snapshot_count(s), all_bytes = 0;
	for (size_t i = 0; i < all; i++) {
		hw_alloc a;
		hw_snapshot_get_alloc(s, i, &a, NULL, NULL);
		all_bytes += a.size;
	}
	for (int k = HW_GROUP_DEFAULT; k <= HW_GROUP_ARENA; k++) {
		hw_view_options o = everything(HW_FORMAT_JSON, k);
		o.no_default_filters = 1;
		hw_grouping *g;
		if (hw_snapshot_group(&g, s, &o) != HW_OK)
			abort();
		hw_count total = hw_grouping_total(g), sum = {0, 0};
		size_t n = hw_grouping_count(g);
		for (size_t i = 0; i < n; i++) {
			const hw_group *gr = hw_grouping_get(g, i);
			sum.count += gr->count;
			sum.bytes += gr->bytes;
			for (size_t j = 0; j < i && n <= 256; j++)
				if (!strcmp(hw_grouping_get(g, j)->key, gr->key))
					abort();
		}
		if (sum.count != total.count || sum.bytes != total.bytes || total.count != all ||
		    total.bytes != all_bytes)
			abort();
		hw_grouping_free(g);
	}
}

/* s saved, the file's bytes (malloc'd, *n set).  (Saved to a file of its
 * own: hw_snapshot_save writes beside the path, then renames.) */
static uint8_t *saved_bytes(const hw_snapshot *s, size_t *n)
{
	if (!saved[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(saved, sizeof saved, "%s/fuzz-hsnap-%d.hsnap", tmp && *tmp ? tmp : "/tmp",
		         (int)getpid());
		atexit(remove_saved);
	}
	if (hw_snapshot_save(s, saved) != HW_OK)
		abort();
	FILE *f = fopen(saved, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0)
		abort();
	long len = ftell(f);
	uint8_t *bytes = len > 0 ? malloc((size_t)len) : NULL;
	if (!bytes || fseek(f, 0, SEEK_SET) != 0 || fread(bytes, 1, (size_t)len, f) != (size_t)len)
		abort();
	fclose(f);
	*n = (size_t)len;
	return bytes;
}

/* A snapshot that loaded saves, loads again (from memory, as s was: a
 * file's path would show) and shows the same; saved again, it makes the
 * same file. */
static void round_trip(const hw_snapshot *s)
{
	size_t n, n_again;
	uint8_t *bytes = saved_bytes(s, &n);
	hw_snapshot *again = NULL;
	if (hw_snapshot_load_buffer(&again, bytes, n) != HW_OK)
		abort();
	uint8_t *bytes_again = saved_bytes(again, &n_again);
	if (n_again != n || memcmp(bytes, bytes_again, n))
		abort();
	free(bytes);
	free(bytes_again);
	size_t n1, n2;
	char *a = render(s, s, HW_FORMAT_JSON, 0, N_VIEWS - 1, &n1),
	     *b = render(again, again, HW_FORMAT_JSON, 0, N_VIEWS - 1, &n2);
	if (n1 != n2 || memcmp(a, b, n1))
		abort();
	json_check(a, n1);
	free(a);
	free(b);
	no_growth(s, s);
	no_growth(s, again);
	hw_snapshot_free(again);
}

/* The HTML report of s, against itself: every '<' must open or close one
 * of the page's own elements (a name from a snapshot that reached the page
 * unescaped would show as another), and no byte below 0x20 but newline and
 * tab may appear (hw_render_report's escaping). */
static void report_check(const hw_snapshot *s)
{
	static const char *const tags[] = {"!DOCTYPE", "html",    "head", "meta", "title", "style",
	                                   "body",     "h1",      "h2",   "p",    "ul",    "li",
	                                   "a",        "table",   "tr",   "th",   "td",    "div",
	                                   "details",  "summary", "pre",  "small"};
	char *page = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&page, &len);
	if (!f)
		abort();
	hw_view_options o;
	hw_view_options_init(&o);
	o.limit = 20;
	int rc = hw_render_report(f, s, s, &o);
	fclose(f);
	if (rc != HW_OK)
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)page[i];
		if (c < 0x20 && c != '\n' && c != '\t')
			abort();
		if (c != '<')
			continue;
		size_t j = i + 1 + (i + 1 < len && page[i + 1] == '/');
		size_t k = j;
		while (k < len && (isalnum((unsigned char)page[k]) || page[k] == '!'))
			k++;
		int known = 0;
		for (size_t t = 0; t < sizeof tags / sizeof tags[0] && !known; t++)
			known = strlen(tags[t]) == k - j && !memcmp(page + j, tags[t], k - j);
		if (!known || k >= len || (page[k] != '>' && page[k] != ' '))
			abort();
	}
	free(page);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	hw_snapshot *s = NULL;
	int rc;
	if (data[0] & 1) {
		size_t len;
		uint8_t *f = wrap(data + 1, size - 1, &len);
		rc = hw_snapshot_load_buffer(&s, f, len);
		free(f);
	} else {
		rc = hw_snapshot_load_buffer(&s, data + 1, size - 1);
	}
	if (rc != HW_OK) {
		if (s || !*hw_error_last() || strchr(hw_error_last(), '\n'))
			abort();
		return 0;
	}
	views(s);
	round_trip(s);
	csv_check(s);
	sums(s);
	report_check(s);
	hw_snapshot_free(s);
	return 0;
}

/* A small snapshot with every table, saved (its bytes in *n), its tracer
 * in mode (sample_bytes: sampled). */
static uint8_t *seed_file(const char *mode, uint64_t sample_bytes, size_t *n)
{
	hw_snapshot *s;
	if (hw_snapshot_new(&s))
		abort();
	hw_snapshot_set_target(s, "core", "/x/core", 12, "/bin/x");
	uint32_t t, st;
	/* names that CSV must quote, JSON escape and HTML escape */
	hw_snapshot_add_type(s, "my,\"dict\"\n<b>", &t);
	/* a type named as untyped allocations show: one group of "?" */
	uint32_t t_unknown;
	hw_snapshot_add_type(s, "?", &t_unknown);
	hw_frame fr[] = {{"f", "a,b.py", 3, NULL, 0, 0, HW_FRAME_PYTHON},
	                 {"g", "b.c", 9, "/lib/b.so", 0x7000, 0x70, HW_FRAME_NATIVE}};
	hw_snapshot_add_site(s, fr, 2, &st);
	for (int i = 0; i < 12; i++) {
		hw_alloc a = {.address = 0x1000 + 0x40 * (uint64_t)i,
		              .size = 24 + 8 * (uint64_t)i,
		              .arena = i % 3 ? 0x7f00 : 0,
		              .allocator = (uint8_t)(i % 3),
		              .state = (uint8_t)(i % 4 == 3),
		              .bin = (uint8_t)(i % 4 == 3 ? 2 : 0)};
		hw_snapshot_add_alloc_requested(
		    s, &a,
		    i % 2   ? t
		    : i % 4 ? 0
		            : t_unknown,
		    i % 2 ? st : 0, i % 3 ? a.size - (uint64_t)i : HW_REQUESTED_UNKNOWN);
	}
	hw_glibc_summary g = {.version = "2.36", .symbols = "symtab", .arenas = 1};
	hw_snapshot_set_glibc_summary(s, &g);
	hw_pymalloc_summary p = {.python_version = "3.11", .n_size_classes = 1};
	p.size_classes[0].size = 16;
	hw_snapshot_set_pymalloc_summary(s, &p);
	hw_tracer_summary tr = {.mode = mode,
	                        .sample_bytes = sample_bytes,
	                        .live_allocations = 6,
	                        .sites = 1,
	                        .dropped = 2};
	hw_snapshot_set_tracer_summary(s, &tr);
	hw_problem pr = {"bad-size", 0x1040, "x"};
	hw_snapshot_add_problem(s, &pr);
	hw_snapshot_finish(s);
	uint8_t *file = saved_bytes(s, n);
	hw_snapshot_free(s);
	return file;
}

/* Seeds: the snapshot as a file and as a payload, the payload without its
 * TARGET section, and the file of a sampled tracer's snapshot (its views
 * by a site key are estimates). */
size_t fuzz_seeds(uint8_t ***bufs, size_t **lens)
{
	size_t n;
	uint8_t *file = seed_file("all", 0, &n);
	unsigned long long raw = ZSTD_getFrameContentSize(file + HEADER, n - HEADER);
	if (raw > 1 << 20)
		abort();
	*bufs = malloc(4 * sizeof **bufs);
	*lens = malloc(4 * sizeof **lens);
	(*bufs)[0] = malloc(n + 1);
	(*bufs)[0][0] = 0;
	memcpy((*bufs)[0] + 1, file, n);
	(*lens)[0] = n + 1;
	(*bufs)[1] = malloc(raw + 1);
	(*bufs)[1][0] = 1;
	if (ZSTD_decompress((*bufs)[1] + 1, raw, file + HEADER, n - HEADER) != raw)
		abort();
	(*lens)[1] = raw + 1;
	/* the payload without its first section, TARGET (tag 1, then its
	 * length as a varint): once loaded as a core's snapshot, which a
	 * round trip then told apart */
	const uint8_t *pl = (*bufs)[1] + 1;
	if (pl[0] != 1)
		abort();
	uint64_t seclen = 0;
	size_t cut = 1;
	for (int shift = 0; cut < raw && shift < 64; shift += 7) {
		uint8_t b = pl[cut++];
		seclen |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	cut += (size_t)seclen;
	if (cut > raw)
		abort();
	(*bufs)[2] = malloc(raw + 1 - cut);
	(*bufs)[2][0] = 1;
	memcpy((*bufs)[2] + 1, pl + cut, raw - cut);
	(*lens)[2] = raw + 1 - cut;
	free(file);
	file = seed_file("sampled", 64, &n);
	(*bufs)[3] = malloc(n + 1);
	(*bufs)[3][0] = 0;
	memcpy((*bufs)[3] + 1, file, n);
	(*lens)[3] = n + 1;
	free(file);
	return 4;
}
