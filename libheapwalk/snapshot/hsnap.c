/*
 * hsnap.c: the .hsnap snapshot file: writing and reading it
 * (docs/hsnap-format.md is the specification; keep the two in step).
 *
 * A 40-byte header (magic, version, sizes, CRC-32C) then one zstd frame
 * holding a stream of tagged sections of LEB128 varints.  Allocations are
 * stored column by column: address deltas (addresses are sorted), sizes,
 * flags, arena, type and site ids, which is what makes them compress to a
 * few bytes each.
 *
 * The reader never trusts the file: the checksum covers every byte, every
 * count is bounded by the bytes left, every id is checked against the
 * tables read so far (ids in the file are mapped to the snapshot's own), and
 * the uncompressed size is bounded before anything is allocated.  Any
 * failure is HW_ECORRUPT / HW_EUNSUPPORTED with one line, never a crash.
 */
#include "snapshot_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static const uint8_t hsnap_magic[8] = {0x89, 'H', 'S', 'N', 'A', 'P', '\r', '\n'};
enum {
	HSNAP_MAJOR = 1,
	HSNAP_MINOR = 0,
	HSNAP_HEADER = 40,
	HSNAP_FLAG_ZSTD = 1,
	/* refuse to inflate more than this per compressed byte (our columns
	 * compress far less than that; a forged size must not cost memory) */
	HSNAP_MAX_RATIO = 2048,
	/* level 1: the columns are already varints; higher levels cost
	 * seconds on ten million allocations for a few per cent */
	HSNAP_ZSTD_LEVEL = 1,
};

enum hsnap_tag {
	T_END = 0,
	T_TARGET = 1,
	T_STRINGS = 2,
	T_TYPES = 3,
	T_FRAMES = 4,
	T_SITES = 5,
	T_ARENAS = 6,
	T_ALLOCS = 7,
	T_GLIBC = 8,
	T_PYMALLOC = 9,
	T_TRACER = 10,
	T_PROBLEMS = 11,
	T_REQUESTED = 12,
};

/* ---- CRC-32C (Castagnoli), reflected, table-driven ---- */

static uint32_t crc_table[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] =
			    (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, crc_init);
	crc = ~crc;
	/* slicing by 8 */
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc;
		crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
		      crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
		      crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
		      crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- writing ---- */

typedef struct wbuf {
	uint8_t *p;
	size_t n, cap;
	int err;
} wbuf;

static uint8_t *w_room(wbuf *w, size_t need)
{
	if (w->err)
		return NULL;
	if (w->n + need > w->cap) {
		size_t c = w->cap ? w->cap : 4096;
		while (c < w->n + need)
			c *= 2;
		uint8_t *q = hw_big_resize(w->p, c);
		if (!q) {
			w->err = 1;
			return NULL;
		}
		w->p = q;
		w->cap = c;
	}
	return w->p + w->n;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static void w_varint(wbuf *w, uint64_t v)
{
	uint8_t *p = w_room(w, 10);
	if (p)
		w->n = (size_t)(put_varint(p, v) - w->p);
}

/* A string: varint (length + 1), 0 for NULL, then the bytes. */
static void w_str(wbuf *w, const char *s)
{
	if (!s) {
		w_varint(w, 0);
		return;
	}
	size_t n = strlen(s);
	w_varint(w, n + 1);
	uint8_t *p = w_room(w, n);
	if (p) {
		memcpy(p, s, n);
		w->n += n;
	}
}

/* Sections: tag, then a 5-byte padded varint length patched at the end. */
static size_t w_begin(wbuf *w, unsigned tag)
{
	w_varint(w, tag);
	uint8_t *p = w_room(w, 5);
	if (!p)
		return 0;
	w->n += 5;
	return w->n;
}

static void w_end(wbuf *w, size_t start)
{
	if (w->err)
		return;
	uint64_t len = w->n - start;
	if (len >= (1ull << 35)) {
		w->err = 1;
		return;
	}
	uint8_t *p = w->p + start - 5;
	for (int i = 0; i < 5; i++) {
		p[i] = (uint8_t)((len >> (7 * i)) & 0x7f);
		if (i < 4)
			p[i] |= 0x80;
	}
}

static void w_count(wbuf *w, hw_count c)
{
	w_varint(w, c.count);
	w_varint(w, c.bytes);
}

static int encode(const hw_snapshot *s, wbuf *w)
{
	size_t st;
	const hw_snapshot_target *t = &s->target;

	/* what the snapshot was taken of (a loaded snapshot keeps its source);
	 * nothing for one loaded from a file that said nothing of it (a
	 * snapshot with no source), which reads back the same */
	if (t->source_kind || !t->kind || strcmp(t->kind, "snapshot")) {
		st = w_begin(w, T_TARGET);
		w_str(w, t->source_kind ? t->source_kind : t->kind);
		w_str(w, t->source_kind ? t->source_path : t->path);
		w_varint(w, (uint64_t)(t->pid > 0 ? t->pid : 0));
		w_str(w, t->executable);
		w_end(w, st);
	}

	/* Only the strings the sections refer to (types, frames, problems),
	 * renumbered in their order: the table also holds strings kept for
	 * other uses (the target's names, a loaded file's path), and a
	 * snapshot saved, loaded and saved again makes the same file.  id[i]
	 * is string i's id in the file, 0 when not written. */
	uint32_t *id = calloc(s->str.n ? s->str.n : 1, sizeof *id);
	if (!id)
		return -1;
	for (uint32_t i = 1; i < s->n_types; i++)
		id[s->types[i]] = 1;
	for (uint32_t i = 1; i < s->n_frames; i++) {
		id[s->frames[i].function] = 1;
		id[s->frames[i].file] = 1;
		id[s->frames[i].module] = 1;
	}
	for (size_t i = 0; i < s->n_problems; i++) {
		id[s->problems[i].kind] = 1;
		id[s->problems[i].message] = 1;
	}
	uint32_t used = 0;
	for (uint32_t i = 1; i < s->str.n; i++)
		if (id[i])
			id[i] = ++used;
	id[0] = 0;

	st = w_begin(w, T_STRINGS);
	w_varint(w, used);
	for (uint32_t i = 1; i < s->str.n; i++) {
		if (!id[i])
			continue;
		uint32_t n = s->str.len[i];
		w_varint(w, (uint64_t)n + 1);
		uint8_t *p = w_room(w, n);
		if (p) {
			memcpy(p, s->str.ptr[i], n);
			w->n += n;
		}
	}
	w_end(w, st);

	st = w_begin(w, T_TYPES);
	w_varint(w, s->n_types - 1);
	for (uint32_t i = 1; i < s->n_types; i++)
		w_varint(w, id[s->types[i]]);
	w_end(w, st);

	st = w_begin(w, T_FRAMES);
	w_varint(w, s->n_frames - 1);
	for (uint32_t i = 1; i < s->n_frames; i++) {
		const hw_sframe *f = &s->frames[i];
		w_varint(w, id[f->function]);
		w_varint(w, id[f->file]);
		w_varint(w, id[f->module]);
		w_varint(w, f->line > 0 ? (uint64_t)f->line : 0);
		w_varint(w, f->kind);
		w_varint(w, f->pc);
		w_varint(w, f->module_offset);
	}
	w_end(w, st);

	st = w_begin(w, T_SITES);
	w_varint(w, s->n_sites - 1);
	for (uint32_t i = 1; i < s->n_sites; i++) {
		w_varint(w, s->sites[i].n);
		for (uint32_t k = 0; k < s->sites[i].n; k++)
			w_varint(w, s->site_frames[s->sites[i].off + k]);
	}
	w_end(w, st);

	st = w_begin(w, T_ARENAS);
	w_varint(w, s->n_arenas - 1);
	for (uint32_t i = 1; i < s->n_arenas; i++)
		w_varint(w, s->arenas[i]);
	w_end(w, st);

	st = w_begin(w, T_ALLOCS);
	w_varint(w, s->n);
	uint8_t *p = w_room(w, s->n * 10 * 2 + s->n * 5 * 3 + s->n);
	if (p) {
		uint64_t prev = 0;
		for (size_t i = 0; i < s->n; i++) {
			p = put_varint(p, s->addr[i] - prev);
			prev = s->addr[i];
		}
		for (size_t i = 0; i < s->n; i++)
			p = put_varint(p, hw_s_size(s, i));
		if (s->n)
			memcpy(p, s->flags, s->n);
		p += s->n;
		for (size_t i = 0; i < s->n; i++)
			p = put_varint(p, s->arena[i]);
		for (size_t i = 0; i < s->n; i++)
			p = put_varint(p, hw_s_type(s, i));
		for (size_t i = 0; i < s->n; i++)
			p = put_varint(p, hw_s_site(s, i));
		w->n = (size_t)(p - w->p);
	}
	w_end(w, st);

	if (s->has_glibc) {
		const hw_glibc_summary *g = &s->glibc;
		st = w_begin(w, T_GLIBC);
		w_str(w, g->version);
		w_str(w, g->symbols);
		w_varint(w, g->arenas);
		w_varint(w, g->system_bytes);
		w_count(w, g->used);
		w_count(w, g->free);
		w_count(w, g->tcache);
		w_count(w, g->fastbins);
		w_count(w, g->mmapped);
		w_varint(w, g->top_bytes);
		const hw_glibc_mallinfo2 *m = &g->mallinfo2;
		uint64_t mi[] = {m->arena,   m->ordblks, m->smblks,   m->hblks,    m->hblkhd,
		                 m->usmblks, m->fsmblks, m->uordblks, m->fordblks, m->keepcost};
		for (size_t i = 0; i < HW_ARRAY_SIZE(mi); i++)
			w_varint(w, mi[i]);
		w_end(w, st);
	}
	if (s->has_pymalloc) {
		const hw_pymalloc_summary *py = &s->pymalloc;
		st = w_begin(w, T_PYMALLOC);
		w_str(w, py->python_version);
		w_str(w, py->symbols);
		w_varint(w, py->arenas);
		w_varint(w, py->pools);
		w_varint(w, py->blocks_in_use);
		w_varint(w, py->bytes_in_use);
		w_varint(w, py->free_blocks);
		w_varint(w, py->n_size_classes);
		for (uint32_t i = 0; i < py->n_size_classes; i++) {
			w_varint(w, py->size_classes[i].size);
			w_varint(w, py->size_classes[i].pools);
			w_varint(w, py->size_classes[i].blocks_in_use);
			w_varint(w, py->size_classes[i].free_blocks);
		}
		w_end(w, st);
	}
	if (s->has_tracer) {
		st = w_begin(w, T_TRACER);
		w_str(w, s->tracer.mode);
		w_varint(w, s->tracer.sample_bytes);
		w_varint(w, s->tracer.live_allocations);
		w_varint(w, s->tracer.sites);
		w_varint(w, s->tracer.dropped);
		w_varint(w, s->tracer.python_version);
		w_end(w, st);
	}
	if (s->slack) {
		/* what the program asked for: varint (slack + 1), 0 unknown */
		st = w_begin(w, T_REQUESTED);
		w_varint(w, s->n);
		uint8_t *q = w_room(w, s->n * 3);
		if (q) {
			for (size_t i = 0; i < s->n; i++)
				q = put_varint(q, s->slack[i] == HW_SLACK_UNKNOWN
				                      ? 0
				                      : (uint64_t)s->slack[i] + 1);
			w->n = (size_t)(q - w->p);
		}
		w_end(w, st);
	}
	st = w_begin(w, T_PROBLEMS);
	w_varint(w, s->n_problems);
	w_varint(w, s->problems_dropped);
	for (size_t i = 0; i < s->n_problems; i++) {
		w_varint(w, id[s->problems[i].kind]);
		w_varint(w, s->problems[i].address);
		w_varint(w, id[s->problems[i].message]);
	}
	w_end(w, st);
	free(id);

	w_varint(w, T_END);
	w_varint(w, 0);
	return w->err ? -1 : 0;
}

int hw_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int hw_snapshot_save(const hw_snapshot *s, const char *path)
{
	if (!s->sorted)
		return hw_error_set(HW_EINVAL, "snapshot not finished (call hw_snapshot_finish)");
	wbuf w = {0};
	/* room for everything at once: the allocation columns take at most
	 * 10 + 10 + 1 + 3 + 5 + 5 bytes each, usually under 8 */
	size_t guess =
	    s->n * 12 + s->str.bytes + (size_t)s->n_frames * 40 + s->n_site_frames * 5 + 65536;
	if (!w_room(&w, guess)) {
		hw_big_free(w.p);
		return hw_error_set(HW_ENOMEM, "out of memory encoding the snapshot");
	}
	if (encode(s, &w)) {
		hw_big_free(w.p);
		return hw_error_set(HW_ENOMEM, "out of memory encoding the snapshot");
	}
	size_t bound = ZSTD_compressBound(w.n);
	uint8_t *out = hw_big_resize(NULL, HSNAP_HEADER + bound);
	if (!out) {
		hw_big_free(w.p);
		return hw_error_set(HW_ENOMEM, "out of memory compressing the snapshot");
	}
	size_t z;
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	if (!cc) {
		hw_big_free(w.p);
		hw_big_free(out);
		return hw_error_set(HW_ENOMEM, "out of memory compressing the snapshot");
	}
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, HSNAP_ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
	/* two workers when libzstd has threads (Debian's has); ignored if not */
	if (w.n > (8u << 20))
		ZSTD_CCtx_setParameter(cc, ZSTD_c_nbWorkers, 2);
	z = ZSTD_compress2(cc, out + HSNAP_HEADER, bound, w.p, w.n);
	ZSTD_freeCCtx(cc);
	hw_big_free(w.p);
	if (ZSTD_isError(z)) {
		hw_big_free(out);
		return hw_error_set(HW_EIO, "zstd: %s", ZSTD_getErrorName(z));
	}
	memcpy(out, hsnap_magic, 8);
	put_le(out + 8, HSNAP_MAJOR, 2);
	put_le(out + 10, HSNAP_MINOR, 2);
	put_le(out + 12, HSNAP_FLAG_ZSTD, 4);
	put_le(out + 16, w.n, 8);
	put_le(out + 24, z, 8);
	put_le(out + 32, 0, 4);
	put_le(out + 36, 0, 4);
	/* the checksum covers the whole header (its own field as zeros) and
	 * every stored byte */
	uint32_t crc = crc32c(0, out, HSNAP_HEADER);
	crc = crc32c(crc, out + HSNAP_HEADER, z);
	put_le(out + 32, crc, 4);

	/* write to a temporary name and rename: a crash leaves no half file */
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	if (!tmp) {
		hw_big_free(out);
		return hw_error_set(HW_ENOMEM, "out of memory");
	}
	snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		hw_big_free(out);
		free(tmp);
		return hw_error_set(HW_EIO, "cannot create %s: %s", path, strerror(e));
	}
	int rc = hw_write_all(fd, out, HSNAP_HEADER + z);
	int e = errno;
	hw_big_free(out);
	if (rc || fchmod(fd, 0644) || close(fd)) {
		if (!rc)
			e = errno;
		unlink(tmp);
		free(tmp);
		return hw_error_set(HW_EIO, "cannot write %s: %s", path, strerror(e));
	}
	if (rename(tmp, path)) {
		e = errno;
		unlink(tmp);
		free(tmp);
		return hw_error_set(HW_EIO, "cannot write %s: %s", path, strerror(e));
	}
	free(tmp);
	return HW_OK;
}

/* ---- reading ---- */

typedef struct rd {
	const uint8_t *p, *end;
	int err;
} rd;

static inline uint64_t r_varint(rd *r)
{
	if (r->p < r->end && !(*r->p & 0x80))
		return *r->p++; /* most values fit in one byte */
	uint64_t v = 0;
	for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
		uint8_t b = *r->p++;
		if (shift == 63 && b > 1)
			break;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->err = 1;
	r->p = r->end;
	return 0;
}

static size_t r_left(const rd *r)
{
	return (size_t)(r->end - r->p);
}

/* A count of items that take at least min_bytes each: bounded by the bytes
 * left, so a forged count cannot make us allocate. */
static uint64_t r_count(rd *r, size_t min_bytes)
{
	uint64_t n = r_varint(r);
	if (n > r_left(r) / min_bytes) {
		r->err = 1;
		return 0;
	}
	return n;
}

/* A string into a scratch buffer (NUL-terminated); *is_null for NULL. */
static const char *r_str(rd *r, char *buf, size_t cap, int *is_null)
{
	uint64_t n = r_varint(r);
	*is_null = n == 0;
	if (!n)
		return NULL;
	n--;
	if (n > r_left(r) || n >= cap) {
		r->err = 1;
		return NULL;
	}
	memcpy(buf, r->p, n);
	buf[n] = 0;
	r->p += n;
	return buf;
}

typedef struct dec {
	hw_snapshot *s;
	uint32_t *str_map, n_str;   /* file string id -> snapshot string id */
	uint32_t *type_map, n_type; /* file type id -> snapshot type id */
	uint32_t *frame_map, n_frame;
	uint32_t *site_map, n_site;
	uint32_t n_arena; /* file arena ids map 1:1 (arena table rebuilt) */
	uint16_t *arena_map;
	unsigned seen; /* bit per tag */
	const char *why;
} dec;

static int corrupt(dec *d, const char *why)
{
	if (!d->why)
		d->why = why;
	return -1;
}

static int map_id(const uint32_t *map, uint32_t n, uint64_t id, uint32_t *out)
{
	if (id >= n)
		return -1;
	*out = map[id];
	return 0;
}

/* Intern a string that is inside the payload (not NUL-terminated). */
static const char *str_of(dec *d, uint64_t fid, int *bad)
{
	uint32_t sid;
	if (map_id(d->str_map, d->n_str, fid, &sid)) {
		*bad = 1;
		return NULL;
	}
	return hw_strtab_get(&d->s->str, sid);
}

static int sec_target(dec *d, rd *r)
{
	static _Thread_local char kind[64], path[HW_STR_MAX + 1], exe[HW_STR_MAX + 1];
	int nk, np, ne;
	const char *k = r_str(r, kind, sizeof kind, &nk);
	const char *p = r_str(r, path, sizeof path, &np);
	uint64_t pid = r_varint(r);
	const char *e = r_str(r, exe, sizeof exe, &ne);
	if (r->err || pid > INT32_MAX)
		return corrupt(d, "bad target section");
	if (hw_snapshot_set_target(d->s, "snapshot", NULL, (pid_t)pid, e) ||
	    hw_snapshot_set_source(d->s, k ? k : "core", p))
		return -1;
	return 0;
}

static int sec_strings(dec *d, rd *r)
{
	uint64_t n = r_count(r, 1);
	if (r->err)
		return corrupt(d, "bad string count");
	d->str_map = calloc(n + 1, sizeof *d->str_map);
	if (!d->str_map)
		return -1;
	d->n_str = (uint32_t)n + 1;
	for (uint64_t i = 1; i <= n; i++) {
		uint64_t len = r_varint(r);
		if (r->err || !len || len - 1 > r_left(r))
			return corrupt(d, "bad string");
		len--;
		if (hw_strtab_intern_n(&d->s->str, (const char *)r->p, len, &d->str_map[i]))
			return -1;
		r->p += len;
	}
	return 0;
}

static int sec_types(dec *d, rd *r)
{
	uint64_t n = r_count(r, 1);
	if (r->err)
		return corrupt(d, "bad type count");
	d->type_map = calloc(n + 1, sizeof *d->type_map);
	if (!d->type_map)
		return -1;
	d->n_type = (uint32_t)n + 1;
	for (uint64_t i = 1; i <= n; i++) {
		int bad = 0;
		const char *name = str_of(d, r_varint(r), &bad);
		if (r->err || bad)
			return corrupt(d, "bad type");
		if (hw_snapshot_add_type(d->s, name, &d->type_map[i]))
			return -1;
	}
	return 0;
}

static int sec_frames(dec *d, rd *r)
{
	uint64_t n = r_count(r, 7);
	if (r->err)
		return corrupt(d, "bad frame count");
	d->frame_map = calloc(n + 1, sizeof *d->frame_map);
	if (!d->frame_map)
		return -1;
	d->n_frame = (uint32_t)n + 1;
	for (uint64_t i = 1; i <= n; i++) {
		int bad = 0;
		hw_frame f = {0};
		f.function = str_of(d, r_varint(r), &bad);
		f.file = str_of(d, r_varint(r), &bad);
		f.module = str_of(d, r_varint(r), &bad);
		uint64_t line = r_varint(r), kind = r_varint(r);
		f.pc = r_varint(r);
		f.module_offset = r_varint(r);
		if (r->err || bad || line > INT32_MAX || kind > HW_FRAME_PYTHON)
			return corrupt(d, "bad frame");
		f.line = (int)line;
		f.kind = (uint8_t)kind;
		if (hw_snapshot_add_frame(d->s, &f, &d->frame_map[i]))
			return -1;
	}
	return 0;
}

static int sec_sites(dec *d, rd *r)
{
	uint64_t n = r_count(r, 1);
	if (r->err)
		return corrupt(d, "bad site count");
	d->site_map = calloc(n + 1, sizeof *d->site_map);
	if (!d->site_map)
		return -1;
	d->n_site = (uint32_t)n + 1;
	uint32_t ids[HW_SITE_MAX_FRAMES];
	for (uint64_t i = 1; i <= n; i++) {
		uint64_t nf = r_varint(r);
		if (r->err || nf > HW_SITE_MAX_FRAMES)
			return corrupt(d, "bad site");
		for (uint64_t k = 0; k < nf; k++) {
			uint64_t fid = r_varint(r);
			if (r->err || !fid || map_id(d->frame_map, d->n_frame, fid, &ids[k]))
				return corrupt(d, "bad frame id in a site");
		}
		if (hw_snapshot_add_site_ids(d->s, ids, nf, &d->site_map[i]))
			return -1;
	}
	return 0;
}

static int sec_arenas(dec *d, rd *r)
{
	uint64_t n = r_count(r, 1);
	if (r->err || n > HW_MAX_ARENAS)
		return corrupt(d, "bad arena count");
	d->arena_map = calloc(n + 1, sizeof *d->arena_map);
	if (!d->arena_map)
		return -1;
	d->n_arena = (uint32_t)n + 1;
	for (uint64_t i = 1; i <= n; i++) {
		uint64_t a = r_varint(r);
		if (r->err || !a)
			return corrupt(d, "bad arena");
		if (hw_snapshot_arena_id(d->s, a, &d->arena_map[i]))
			return -1;
	}
	return 0;
}

static int sec_allocs(dec *d, rd *r)
{
	/* an allocation takes at least 6 bytes: one per column */
	uint64_t n = r_count(r, 6);
	if (r->err)
		return corrupt(d, "bad allocation count");
	if (hw_snapshot_reserve(d->s, n))
		return -1;
	hw_snapshot *s = d->s;
	size_t base = s->n;
	uint64_t prev = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t delta = r_varint(r);
		if (prev + delta < prev)
			return corrupt(d, "address overflow");
		prev += delta;
		s->addr[base + i] = prev;
	}
	for (uint64_t i = 0; i < n; i++)
		if (hw_s_size_word(s, r_varint(r), &s->size32[base + i]))
			return -1;
	if (r->err || r_left(r) < n)
		return corrupt(d, "truncated allocations");
	for (uint64_t i = 0; i < n; i++) {
		uint8_t f = r->p[i];
		if (f & 0x80 || HW_F_BIN(f) > HW_BIN_LARGE)
			return corrupt(d, "bad allocation flags");
		s->flags[base + i] = f;
	}
	r->p += n;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t a = r_varint(r);
		if (a >= d->n_arena)
			return corrupt(d, "bad arena id");
		s->arena[base + i] = d->arena_map[a];
	}
	for (uint64_t i = 0; i < n; i++) {
		uint32_t t;
		if (map_id(d->type_map, d->n_type, r_varint(r), &t))
			return corrupt(d, "bad type id");
		if (hw_snapshot_set_type(s, base + i, t))
			return -1;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint32_t st;
		if (map_id(d->site_map, d->n_site, r_varint(r), &st))
			return corrupt(d, "bad site id");
		if (hw_snapshot_set_site(s, base + i, st))
			return -1;
	}
	if (r->err)
		return corrupt(d, "truncated allocations");
	/* sorted by construction (deltas are unsigned) */
	if (base && n && s->addr[base - 1] > s->addr[base])
		s->sorted = false;
	s->n = base + n;
	return 0;
}

static void r_cnt(rd *r, hw_count *c)
{
	c->count = r_varint(r);
	c->bytes = r_varint(r);
}

static int sec_glibc(dec *d, rd *r)
{
	hw_glibc_summary g = {0};
	char sym[64], ver[64];
	int nul;
	const char *v = r_str(r, ver, sizeof ver, &nul);
	const char *sy = r_str(r, sym, sizeof sym, &nul);
	if (v)
		snprintf(g.version, sizeof g.version, "%s", v);
	g.symbols = sy;
	g.arenas = r_varint(r);
	g.system_bytes = r_varint(r);
	r_cnt(r, &g.used);
	r_cnt(r, &g.free);
	r_cnt(r, &g.tcache);
	r_cnt(r, &g.fastbins);
	r_cnt(r, &g.mmapped);
	g.top_bytes = r_varint(r);
	hw_glibc_mallinfo2 *m = &g.mallinfo2;
	uint64_t *mi[] = {&m->arena,   &m->ordblks, &m->smblks,   &m->hblks,    &m->hblkhd,
	                  &m->usmblks, &m->fsmblks, &m->uordblks, &m->fordblks, &m->keepcost};
	for (size_t i = 0; i < HW_ARRAY_SIZE(mi); i++)
		*mi[i] = r_varint(r);
	if (r->err)
		return corrupt(d, "bad glibc summary");
	return hw_snapshot_set_glibc_summary(d->s, &g) ? -1 : 0;
}

static int sec_pymalloc(dec *d, rd *r)
{
	static _Thread_local hw_pymalloc_summary p;
	memset(&p, 0, sizeof p);
	char sym[64], ver[64];
	int nul;
	const char *v = r_str(r, ver, sizeof ver, &nul);
	const char *sy = r_str(r, sym, sizeof sym, &nul);
	if (v)
		snprintf(p.python_version, sizeof p.python_version, "%s", v);
	p.symbols = sy;
	p.arenas = r_varint(r);
	p.pools = r_varint(r);
	p.blocks_in_use = r_varint(r);
	p.bytes_in_use = r_varint(r);
	p.free_blocks = r_varint(r);
	uint64_t nc = r_varint(r);
	if (r->err || nc > HW_ARRAY_SIZE(p.size_classes))
		return corrupt(d, "bad pymalloc summary");
	p.n_size_classes = (uint32_t)nc;
	for (uint64_t i = 0; i < nc; i++) {
		uint64_t sz = r_varint(r);
		if (sz > UINT32_MAX)
			return corrupt(d, "bad pymalloc size class");
		p.size_classes[i].size = (uint32_t)sz;
		p.size_classes[i].pools = r_varint(r);
		p.size_classes[i].blocks_in_use = r_varint(r);
		p.size_classes[i].free_blocks = r_varint(r);
	}
	if (r->err)
		return corrupt(d, "bad pymalloc summary");
	return hw_snapshot_set_pymalloc_summary(d->s, &p) ? -1 : 0;
}

static int sec_tracer(dec *d, rd *r)
{
	hw_tracer_summary t = {0};
	char mode[64];
	int nul;
	t.mode = r_str(r, mode, sizeof mode, &nul);
	t.sample_bytes = r_varint(r);
	t.live_allocations = r_varint(r);
	t.sites = r_varint(r);
	t.dropped = r_varint(r);
	t.python_version = r_varint(r);
	if (r->err)
		return corrupt(d, "bad tracer summary");
	return hw_snapshot_set_tracer_summary(d->s, &t) ? -1 : 0;
}

static int sec_requested(dec *d, rd *r)
{
	uint64_t n = r_count(r, 1);
	if (r->err || n != d->s->n)
		return corrupt(d, "requested sizes do not match the allocations");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = r_varint(r);
		if (r->err || v > HW_SLACK_UNKNOWN || (v && v - 1 > hw_s_size(d->s, i)))
			return corrupt(d, "bad requested size");
		if (v && hw_snapshot_set_slack(d->s, i, (uint16_t)(v - 1)))
			return -1;
	}
	return 0;
}

static int sec_problems(dec *d, rd *r)
{
	uint64_t n = r_count(r, 3);
	uint64_t dropped = r_varint(r);
	if (r->err || n > HW_SNAPSHOT_MAX_PROBLEMS)
		return corrupt(d, "bad problem count");
	for (uint64_t i = 0; i < n; i++) {
		int bad = 0;
		hw_problem p;
		p.kind = str_of(d, r_varint(r), &bad);
		p.address = r_varint(r);
		p.message = str_of(d, r_varint(r), &bad);
		if (r->err || bad)
			return corrupt(d, "bad problem");
		if (hw_snapshot_add_problem(d->s, &p))
			return -1;
	}
	d->s->problems_dropped += dropped;
	return 0;
}

int hw_hsnap_decode_payload(hw_snapshot **out, const uint8_t *p, size_t n)
{
	*out = NULL;
	dec d = {0};
	if (hw_snapshot_new(&d.s))
		return HW_ENOMEM;
	rd r = {p, p + n, 0};
	int rc = 0, ended = 0;
	/* sections that later ones depend on must come first, once */
	static const unsigned needs[] = {
	    [T_TYPES] = 1u << T_STRINGS,
	    [T_FRAMES] = 1u << T_STRINGS,
	    [T_SITES] = 1u << T_FRAMES,
	    [T_ALLOCS] = (1u << T_TYPES) | (1u << T_SITES) | (1u << T_ARENAS),
	    [T_PROBLEMS] = 1u << T_STRINGS,
	    [T_REQUESTED] = 1u << T_ALLOCS,
	};
	while (!rc && r.p < r.end) {
		uint64_t tag = r_varint(&r), len = r_varint(&r);
		if (r.err || len > r_left(&r)) {
			rc = corrupt(&d, "bad section header");
			break;
		}
		if (tag == T_END) {
			ended = 1;
			break;
		}
		rd sec = {r.p, r.p + len, 0};
		r.p += len;
		if (tag > T_REQUESTED)
			continue; /* a section a newer minor version added */
		unsigned bit = 1u << tag;
		if (d.seen & bit) {
			rc = corrupt(&d, "repeated section");
			break;
		}
		if ((d.seen & needs[tag]) != needs[tag]) {
			rc = corrupt(&d, "sections out of order");
			break;
		}
		d.seen |= bit;
		switch (tag) {
		case T_TARGET:
			rc = sec_target(&d, &sec);
			break;
		case T_STRINGS:
			rc = sec_strings(&d, &sec);
			break;
		case T_TYPES:
			rc = sec_types(&d, &sec);
			break;
		case T_FRAMES:
			rc = sec_frames(&d, &sec);
			break;
		case T_SITES:
			rc = sec_sites(&d, &sec);
			break;
		case T_ARENAS:
			rc = sec_arenas(&d, &sec);
			break;
		case T_ALLOCS:
			rc = sec_allocs(&d, &sec);
			break;
		case T_GLIBC:
			rc = sec_glibc(&d, &sec);
			break;
		case T_PYMALLOC:
			rc = sec_pymalloc(&d, &sec);
			break;
		case T_TRACER:
			rc = sec_tracer(&d, &sec);
			break;
		case T_PROBLEMS:
			rc = sec_problems(&d, &sec);
			break;
		case T_REQUESTED:
			rc = sec_requested(&d, &sec);
			break;
		}
		if (!rc && sec.p != sec.end)
			rc = corrupt(&d, "section longer than its contents");
	}
	if (!rc && !ended)
		rc = corrupt(&d, "no end marker");
	if (!rc && !(d.seen & (1u << T_ALLOCS)))
		rc = corrupt(&d, "no allocations section");
	/* without a TARGET section it is still a snapshot, of an unknown
	 * source (not the new snapshot's default, a core) */
	if (!rc && !(d.seen & (1u << T_TARGET)) &&
	    hw_snapshot_set_target(d.s, "snapshot", NULL, 0, NULL))
		rc = -1;
	free(d.str_map);
	free(d.type_map);
	free(d.frame_map);
	free(d.site_map);
	free(d.arena_map);
	if (!rc)
		rc = hw_snapshot_finish(d.s);
	if (rc) {
		hw_snapshot_free(d.s);
		if (d.why)
			return hw_error_set(HW_ECORRUPT, "corrupt snapshot: %s", d.why);
		return hw_error_set(HW_ENOMEM, "out of memory reading the snapshot");
	}
	*out = d.s;
	return HW_OK;
}

int hw_hsnap_load_buffer(hw_snapshot **out, const void *buf, size_t len, bool verify_checksum)
{
	*out = NULL;
	const uint8_t *b = buf;
	if (len < 8 || memcmp(b, hsnap_magic, 8))
		return hw_error_set(HW_EUNSUPPORTED, "not a heapwalk snapshot (.hsnap) file");
	if (len < HSNAP_HEADER)
		return hw_error_set(HW_ECORRUPT,
		                    "truncated snapshot: %zu bytes, the header alone is %d", len,
		                    HSNAP_HEADER);
	unsigned major = (unsigned)get_le(b + 8, 2), minor = (unsigned)get_le(b + 10, 2);
	uint32_t flags = (uint32_t)get_le(b + 12, 4);
	uint64_t raw = get_le(b + 16, 8), stored = get_le(b + 24, 8);
	uint32_t crc = (uint32_t)get_le(b + 32, 4);
	if (stored != len - HSNAP_HEADER)
		return hw_error_set(HW_ECORRUPT, "%s snapshot: %zu bytes, the header says %llu",
		                    stored > len - HSNAP_HEADER ? "truncated" : "corrupt", len,
		                    (unsigned long long)stored + HSNAP_HEADER);
	if (verify_checksum) {
		uint8_t h[HSNAP_HEADER];
		memcpy(h, b, HSNAP_HEADER);
		memset(h + 32, 0, 4);
		uint32_t c = crc32c(0, h, HSNAP_HEADER);
		c = crc32c(c, b + HSNAP_HEADER, stored);
		if (c != crc)
			return hw_error_set(HW_ECORRUPT, "corrupt snapshot: checksum mismatch");
	}
	if (major != HSNAP_MAJOR)
		return hw_error_set(HW_EUNSUPPORTED,
		                    "snapshot format version %u.%u, this heapwalk reads %d.x",
		                    major, minor, HSNAP_MAJOR);
	if (flags != HSNAP_FLAG_ZSTD)
		return hw_error_set(HW_EUNSUPPORTED, "snapshot flags 0x%x not understood", flags);
	if (raw > stored * (uint64_t)HSNAP_MAX_RATIO + 4096 || raw > SIZE_MAX / 2)
		return hw_error_set(HW_ECORRUPT, "corrupt snapshot: implausible size %llu",
		                    (unsigned long long)raw);
	unsigned long long fsz = ZSTD_getFrameContentSize(b + HSNAP_HEADER, stored);
	if (fsz != raw)
		return hw_error_set(HW_ECORRUPT,
		                    "corrupt snapshot: compressed frame size mismatch");
	uint8_t *p = hw_big_resize(NULL, raw ? raw : 1);
	if (!p)
		return hw_error_set(HW_ENOMEM, "out of memory reading the snapshot");
	size_t z = ZSTD_decompress(p, raw, b + HSNAP_HEADER, stored);
	if (ZSTD_isError(z) || z != raw) {
		hw_big_free(p);
		return hw_error_set(HW_ECORRUPT, "corrupt snapshot: %s",
		                    ZSTD_isError(z) ? ZSTD_getErrorName(z) : "short payload");
	}
	int rc = hw_hsnap_decode_payload(out, p, raw);
	hw_big_free(p);
	return rc;
}

int hw_snapshot_load_buffer(hw_snapshot **out, const void *buf, size_t len)
{
	return hw_hsnap_load_buffer(out, buf, len, true);
}

int hw_snapshot_load(hw_snapshot **out, const char *path)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hw_error_set(HW_EIO, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return hw_error_set(HW_EIO, "not a regular file");
	}
	size_t len = (size_t)st.st_size;
	uint8_t *buf = hw_big_resize(NULL, len ? len : 1);
	if (!buf) {
		close(fd);
		return hw_error_set(HW_ENOMEM, "out of memory reading the snapshot");
	}
	size_t got = 0;
	while (got < len) {
		ssize_t k = read(fd, buf + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	int rc = hw_hsnap_load_buffer(out, buf, got, true);
	hw_big_free(buf);
	if (!rc) {
		hw_snapshot_target *t = &(*out)->target;
		uint32_t id;
		if (hw_strtab_intern(&(*out)->str, path, &id)) {
			hw_snapshot_free(*out);
			*out = NULL;
			return hw_error_set(HW_ENOMEM, "out of memory");
		}
		t->path = hw_strtab_get(&(*out)->str, id);
	}
	return rc;
}

int hw_snapshot_file_is_hsnap(const char *path)
{
	uint8_t m[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t k = read(fd, m, sizeof m);
	close(fd);
	return k == (ssize_t)sizeof m && !memcmp(m, hsnap_magic, sizeof m);
}
