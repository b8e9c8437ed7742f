/*
 * tracer_table.c: reads the companion tracer's tables (tracer_format.h)
 * back from a target, and resolves sites to frames.
 *
 * Finding the root: the tracer's exported pointer `heapwalk_trace_root`
 * when its module's symbols are there, else the magic at the start of an
 * anonymous writable mapping.  Everything read is validated against the
 * root's own bounds; an entry or site that fails is dropped and counted as
 * a problem (hw_tracer_problems), never trusted.
 *
 * What open() keeps: the live entries of the shards and of the pymalloc
 * arenas' shadows (address-sorted, duplicates from an entry caught
 * mid-move removed) and the site records.  Frames are
 * resolved on first request and cached per site:
 *  - native return addresses through hw_target_symbolize (pc - 1, so the
 *    line is the call's, not the next statement's);
 *  - Python frames (code object address, byte offset of the instruction)
 *    by reading the code object and decoding its line table in the format
 *    of the interpreter's version (lnotab for 3.8/3.9, the 3.10 line table,
 *    the 3.11+ location table).
 * A site's frames are Python frames first (innermost first), then native
 * ones (innermost, i.e. the allocation's caller, first).
 */
#include "internal.h"
#include "tracer_format.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEMS       64
#define MAX_STRING         4096
#define MAX_LINETABLE      (1u << 20)
#define MAX_SITES          (1ull << 26)
#define MAX_SHARD_CAPACITY (1ull << 32)
#define MAX_PYARENAS       (1ull << 24)
#define MAX_PYARENA_SIZE   (1ull << 30)

struct live {
	uint64_t address;
	uint32_t site;
	uint32_t requested;
};

struct resolved {
	hw_frame *frames;
	uint32_t n;
	int state; /* 0 not yet, 1 done, -1 bad */
};

struct code_info {
	uint64_t code;
	const char *filename, *name;
	int firstlineno;
	uint8_t *table;
	uint32_t table_len;
	int ok;
};

struct strings {
	struct strings *next;
	size_t used, cap;
	char data[];
};

struct hw_tracer {
	hw_target *t;
	uint64_t root_addr;
	struct hwt_root root;
	hw_tracer_summary summary;
	struct live *live;
	size_t nlive;
	struct hwt_site *sites; /* [0, nsites] */
	uint64_t nsites;
	uint8_t *site_ok;
	struct resolved *res;
	struct code_info *codes; /* a small open-addressing cache */
	size_t codes_cap, codes_used;
	struct strings *strings;
	hw_problem problems[MAX_PROBLEMS];
	char *problem_msgs[MAX_PROBLEMS];
	size_t nproblems;
	uint64_t py_code_type; /* &PyCode_Type when known, else 0 */
	unsigned py_minor;
};

/* ---- small helpers ---- */

static void problem(hw_tracer *tr, const char *kind, uint64_t addr, const char *fmt, ...)
    HW_PRINTF(4, 5);
static void problem(hw_tracer *tr, const char *kind, uint64_t addr, const char *fmt, ...)
{
	if (tr->nproblems >= MAX_PROBLEMS)
		return;
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	tr->problem_msgs[tr->nproblems] = msg;
	tr->problems[tr->nproblems].kind = kind;
	tr->problems[tr->nproblems].address = addr;
	tr->problems[tr->nproblems].message = msg ? msg : kind;
	tr->nproblems++;
}

static const char *intern(hw_tracer *tr, const char *s, size_t len)
{
	struct strings *b = tr->strings;
	if (!b || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > 65536 ? len + 1 : 65536;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = tr->strings;
		b->used = 0;
		b->cap = cap;
		tr->strings = b;
	}
	char *out = b->data + b->used;
	memcpy(out, s, len);
	out[len] = 0;
	b->used += len + 1;
	return out;
}

/* 1 when [addr, addr + len) lies in one mapping of the target (a target
 * that knows no mappings, a bare callback, accepts up to 64 MiB): this is
 * what bounds every allocation sized by a count read from the target. */
static int in_mapping(hw_tracer *tr, uint64_t addr, uint64_t len)
{
	const hw_mapping *maps;
	if (hw_target_mappings(tr->t, &maps) == 0)
		return len <= (64u << 20);
	const hw_mapping *m = hw_target_mapping_at(tr->t, addr);
	return m && len <= m->end - addr;
}

/* ---- finding and reading the root ---- */

static int root_at(hw_tracer *tr, uint64_t addr)
{
	struct hwt_root *r = &tr->root;
	if (hw_read(tr->t, addr, r, sizeof(*r)) != HW_OK)
		return HW_EFAULT;
	if (memcmp(r->magic, HWT_MAGIC, HWT_MAGIC_LEN) != 0)
		return HW_ENOTFOUND;
	if (r->version != HWT_FORMAT_VERSION)
		return hw_error_set(HW_EUNSUPPORTED,
		                    "tracer table format %u at 0x%" PRIx64
		                    " (this reader knows %u)",
		                    r->version, addr, HWT_FORMAT_VERSION);
	if (r->size != sizeof(*r) || r->self != addr)
		return hw_error_set(HW_ECORRUPT, "tracer root at 0x%" PRIx64 ": bad size or self",
		                    addr);
	if (r->mode > HWT_MODE_DORMANT || (r->mode == HWT_MODE_SAMPLED && !r->sample_bytes) ||
	    r->native_frames > HWT_MAX_NATIVE || r->python_frames > HWT_MAX_PYTHON ||
	    r->sites_count > r->sites_capacity || r->sites_count >= MAX_SITES ||
	    r->frames_used > r->frames_capacity)
		return hw_error_set(HW_ECORRUPT, "tracer root at 0x%" PRIx64 ": bad header", addr);
	tr->root_addr = addr;
	return HW_OK;
}

static int find_root(hw_tracer *tr)
{
	uint64_t sym, size, ptr;
	if (hw_target_symbol(tr->t, HWT_ROOT_SYMBOL, &sym, &size) == HW_OK &&
	    hw_read_u64(tr->t, sym, &ptr) == HW_OK && ptr) {
		int rc = root_at(tr, ptr);
		if (rc == HW_OK || rc == HW_EUNSUPPORTED || rc == HW_ECORRUPT)
			return rc;
	}
	/* no symbols (or a stale pointer): the magic at a mapping's start */
	const hw_mapping *maps;
	size_t n = hw_target_mappings(tr->t, &maps);
	uint64_t corrupt = 0;
	for (size_t i = 0; i < n; i++) {
		const hw_mapping *m = &maps[i];
		char magic[HWT_MAGIC_LEN];
		uint64_t lo, hi;
		if (m->path || !(m->perms & HW_PERM_W) ||
		    m->end - m->start < sizeof(struct hwt_root))
			continue;
		/* a first page never touched (a thread's stack) is not read:
		 * that would map a page of zeros into a live process */
		if (hw_target_data_extent(tr->t, m->start, m->start + HWT_MAGIC_LEN, &lo, &hi) ==
		        HW_OK &&
		    lo > m->start)
			continue;
		if (hw_read(tr->t, m->start, magic, sizeof(magic)) != HW_OK ||
		    memcmp(magic, HWT_MAGIC, HWT_MAGIC_LEN) != 0)
			continue;
		int rc = root_at(tr, m->start);
		if (rc == HW_OK || rc == HW_EUNSUPPORTED)
			return rc;
		if (rc == HW_ECORRUPT)
			corrupt = m->start;
	}
	if (corrupt)
		return hw_error_set(HW_ECORRUPT, "tracer root at 0x%" PRIx64 ": bad header",
		                    corrupt);
	return hw_error_set(HW_ENOTFOUND, "no tracer tables in this target (run the program under "
	                                  "`coretool trace` to record allocation sites)");
}

/* ---- sites and live entries ---- */

static int read_sites(hw_tracer *tr)
{
	const struct hwt_root *r = &tr->root;
	tr->nsites = r->sites_count;
	if (!in_mapping(tr, r->sites, (tr->nsites + 1) * sizeof(struct hwt_site))) {
		problem(tr, "tracer-sites-unreadable", r->sites,
		        "tracer site table (%" PRIu64 " sites) outside the process's memory",
		        tr->nsites);
		tr->nsites = 0;
	}
	tr->sites = calloc(tr->nsites + 1, sizeof(*tr->sites));
	tr->site_ok = calloc(tr->nsites + 1, 1);
	tr->res = calloc(tr->nsites + 1, sizeof(*tr->res));
	if (!tr->sites || !tr->site_ok || !tr->res)
		return hw_error_set(HW_ENOMEM, "tracer: %" PRIu64 " sites", tr->nsites);
	if (tr->nsites &&
	    hw_read(tr->t, r->sites, tr->sites, (tr->nsites + 1) * sizeof(*tr->sites)) != HW_OK) {
		problem(tr, "tracer-sites-unreadable", r->sites,
		        "tracer site table (%" PRIu64 " sites) not readable", tr->nsites);
		tr->nsites = 0;
		return HW_OK;
	}
	uint64_t bad = 0, first_bad = 0;
	for (uint64_t i = 1; i <= tr->nsites; i++) {
		const struct hwt_site *s = &tr->sites[i];
		uint64_t words = s->n_native + 2ull * s->n_python;
		if (s->n_native > HWT_MAX_NATIVE || s->n_python > HWT_MAX_PYTHON ||
		    s->frames_at > r->frames_used || words > r->frames_used - s->frames_at) {
			if (!bad++)
				first_bad = i;
			continue;
		}
		tr->site_ok[i] = 1;
	}
	if (bad)
		problem(tr, "tracer-bad-site", r->sites + first_bad * sizeof(struct hwt_site),
		        "%" PRIu64 " tracer sites out of bounds (first: site %" PRIu64 ")", bad,
		        first_bad);
	return HW_OK;
}

static int cmp_live(const void *a, const void *b)
{
	const struct live *x = a, *y = b;
	return x->address < y->address ? -1 : x->address > y->address;
}

static int add_live(hw_tracer *tr, size_t *cap, const struct hwt_live_entry *e)
{
	if (hw_big_grow((void **)&tr->live, sizeof *tr->live, cap, tr->nlive + 1))
		return hw_error_set(HW_ENOMEM, "tracer: live table");
	tr->live[tr->nlive].address = hwt_key_address(e->key);
	tr->live[tr->nlive].site = e->site;
	tr->live[tr->nlive].requested = e->requested;
	tr->nlive++;
	return HW_OK;
}

enum { LIVE_CHUNK = 4096 };

struct live_counts {
	uint64_t bad_site, bad_shard, misplaced, bad_arena;
};

/* While the entries are read, an entry from a shadow carries this bit in
 * its (16-byte aligned) address; read_live counts and clears it once
 * duplicates are gone. */
#define FROM_SHADOW 1u

/* Keep an entry whose site is valid; count the others. */
static int keep_entry(hw_tracer *tr, size_t *cap, const struct hwt_live_entry *e,
                      struct live_counts *c)
{
	if (!e->site || e->site > tr->nsites || !tr->site_ok[e->site]) {
		c->bad_site++;
		return HW_OK;
	}
	return add_live(tr, cap, e);
}

/* The n entries of shard `shard`'s table at addr, read in chunks of
 * LIVE_CHUNK into buf: those with a valid site that sit in the shard their
 * address selects are kept. */
static int read_entries(hw_tracer *tr, uint64_t addr, uint64_t n, unsigned shard,
                        struct hwt_live_entry *buf, size_t *cap, struct live_counts *c)
{
	for (uint64_t at = 0; at < n; at += LIVE_CHUNK) {
		uint64_t k = n - at < LIVE_CHUNK ? n - at : LIVE_CHUNK;
		if (hw_read(tr->t, addr + at * sizeof(*buf), buf, k * sizeof(*buf)) != HW_OK) {
			c->bad_shard++;
			return HW_OK;
		}
		for (uint64_t i = 0; i < k; i++) {
			const struct hwt_live_entry *e = &buf[i];
			if (!hwt_key_address(e->key))
				continue;
			if (hwt_shard_of(hwt_key_address(e->key)) != shard) {
				c->misplaced++;
				continue;
			}
			if (keep_entry(tr, cap, e, c) != HW_OK)
				return HW_ENOMEM;
		}
	}
	return HW_OK;
}

/* Whether [addr, addr + len) lies in a private anonymous mapping the core
 * lists without a byte of it, and not for want of room (no bytes lost):
 * the kernel leaves out such a mapping when nothing ever wrote to it
 * (fs/coredump.c, vma_dump_size: private anonymous memory is dumped once
 * it has an anon_vma), so it holds zeros.  A shadow nothing was recorded
 * in is one (an "arena" with no pymalloc block: 3.11+ takes its frames'
 * 16 KiB data stack chunks from the arena allocator too, Python/pystate.c
 * allocate_chunk -> Objects/obmalloc.c _PyObject_VirtualAlloc), unless the
 * kernel merged its mapping with a written neighbour. */
static int never_written(hw_tracer *tr, uint64_t addr, uint64_t len)
{
	const hw_mapping *m = hw_target_mapping_at(tr->t, addr);
	return hw_target_get_kind(tr->t) == HW_TARGET_CORE && m && !m->path &&
	       !(m->perms & HW_PERM_SHARED) && m->core_bytes == 0 && m->lost_bytes == 0 &&
	       len <= m->end - addr;
}

/* One covered pymalloc arena: its shadow's nonzero slots, read in chunks
 * of 4 * LIVE_CHUNK slots into buf (LIVE_CHUNK live entries' bytes). */
static int read_shadow(hw_tracer *tr, const struct hwt_pyarena *a, void *buf, size_t *cap,
                       struct live_counts *c)
{
	uint64_t n = a->size / HWT_SHADOW_GRANULE, per = 4 * LIVE_CHUNK;
	uint32_t *slots = buf;
	for (uint64_t at = 0; at < n; at += per) {
		uint64_t k = n - at < per ? n - at : per;
		if (hw_read(tr->t, a->shadow + at * sizeof(*slots), slots, k * sizeof(*slots)) !=
		    HW_OK) {
			if (!never_written(tr, a->shadow + at * sizeof(*slots), k * sizeof(*slots)))
				c->bad_arena++;
			return HW_OK;
		}
		for (uint64_t i = 0; i < k; i++) {
			if (!slots[i])
				continue;
			struct hwt_live_entry e = {
			    .key = a->base + (at + i) * HWT_SHADOW_GRANULE,
			    .site = hwt_shadow_site(slots[i]),
			    .requested = hwt_shadow_requested(slots[i]),
			};
			size_t before = tr->nlive;
			if (keep_entry(tr, cap, &e, c) != HW_OK)
				return HW_ENOMEM;
			if (tr->nlive > before)
				tr->live[before].address |= FROM_SHADOW;
		}
	}
	return HW_OK;
}

/* The registry of covered pymalloc arenas, read in chunks; each record
 * that is whole (a shadow, a base and size in 16-byte units, the shadow
 * inside the process's memory) has its shadow read. */
static int read_pyarenas(hw_tracer *tr, void *buf, size_t *cap, struct live_counts *c)
{
	const struct hwt_root *r = &tr->root;
	uint64_t n = r->pyarenas_count;
	if (!r->pyarenas && !n)
		return HW_OK;
	if (!r->pyarenas || n > r->pyarenas_capacity || n > MAX_PYARENAS ||
	    !in_mapping(tr, r->pyarenas, n * sizeof(struct hwt_pyarena))) {
		c->bad_arena++;
		return HW_OK;
	}
	struct hwt_pyarena recs[64];
	for (uint64_t at = 0; at < n; at += 64) {
		uint64_t k = n - at < 64 ? n - at : 64;
		if (hw_read(tr->t, r->pyarenas + at * sizeof(*recs), recs, k * sizeof(*recs)) !=
		    HW_OK) {
			c->bad_arena++;
			return HW_OK;
		}
		for (uint64_t i = 0; i < k; i++) {
			const struct hwt_pyarena *a = &recs[i];
			if (!a->shadow)
				continue; /* being moved when the core was taken */
			if (!a->size || a->size > MAX_PYARENA_SIZE ||
			    a->base % HWT_SHADOW_GRANULE || a->size % HWT_SHADOW_GRANULE ||
			    a->base + a->size < a->base ||
			    !in_mapping(tr, a->shadow, a->size / HWT_SHADOW_GRANULE * 4)) {
				c->bad_arena++;
				continue;
			}
			if (read_shadow(tr, a, buf, cap, c) != HW_OK)
				return HW_ENOMEM;
		}
	}
	return HW_OK;
}

/* Every shard's table and every covered arena's shadow, read in fixed-size
 * chunks (no allocation sized by the target's counts); the entries kept
 * are those whose site is valid and that sit in the shard their address
 * selects.  A core taken while a registry record moves may show an arena
 * twice: each address is kept once. */
static int read_live(hw_tracer *tr)
{
	const struct hwt_root *r = &tr->root;
	size_t cap = 0;
	struct live_counts c = {0};
	struct hwt_live_entry *buf = malloc(LIVE_CHUNK * sizeof(*buf));
	if (!buf)
		return hw_error_set(HW_ENOMEM, "tracer: live table");
	for (unsigned s = 0; s < HWT_SHARDS; s++) {
		const struct hwt_shard *sh = &r->shards[s];
		if (!sh->table || !sh->capacity)
			continue;
		if (sh->capacity > MAX_SHARD_CAPACITY || sh->capacity < HWT_MIN_CAPACITY ||
		    sh->count > sh->capacity ||
		    !in_mapping(tr, sh->table, sh->capacity * sizeof(*buf))) {
			c.bad_shard++;
			continue;
		}
		if (read_entries(tr, sh->table, sh->capacity, s, buf, &cap, &c) != HW_OK) {
			free(buf);
			return HW_ENOMEM;
		}
	}
	if (read_pyarenas(tr, buf, &cap, &c) != HW_OK) {
		free(buf);
		return HW_ENOMEM;
	}
	free(buf);
	if (tr->live)
		qsort(tr->live, tr->nlive, sizeof(*tr->live), cmp_live);
	/* an entry being moved by a deletion, or an arena whose record was
	 * being moved, when the core was taken shows twice: keep one (a
	 * table's entry sorts before a shadow's at the same address) */
	size_t w = 0;
	uint64_t shadowed = 0;
	for (size_t i = 0; i < tr->nlive; i++) {
		uint64_t a = tr->live[i].address;
		tr->live[i].address = a & ~(uint64_t)FROM_SHADOW;
		if (w && tr->live[w - 1].address == tr->live[i].address)
			continue;
		shadowed += a & FROM_SHADOW;
		tr->live[w++] = tr->live[i];
	}
	tr->nlive = w;
	tr->summary.shadowed = shadowed;
	if (c.bad_shard)
		problem(tr, "tracer-bad-shard", tr->root_addr,
		        "%" PRIu64 " tracer live-table shards unreadable or inconsistent",
		        c.bad_shard);
	if (c.bad_arena)
		problem(tr, "tracer-bad-shadow", r->pyarenas,
		        "%" PRIu64
		        " tracer pymalloc arena records or shadows unreadable or inconsistent",
		        c.bad_arena);
	if (c.bad_site || c.misplaced)
		problem(tr, "tracer-bad-entry", tr->root_addr,
		        "%" PRIu64 " tracer live entries with an invalid site, %" PRIu64
		        " in the wrong shard",
		        c.bad_site, c.misplaced);
	return HW_OK;
}

int hw_tracer_open(hw_tracer **out, hw_target *t)
{
	*out = NULL;
	if (!t)
		return hw_error_set(HW_EINVAL, "hw_tracer_open: no target");
	hw_tracer *tr = calloc(1, sizeof(*tr));
	if (!tr)
		return hw_error_set(HW_ENOMEM, "tracer reader");
	tr->t = t;
	int rc = find_root(tr);
	if (rc == HW_OK)
		rc = read_sites(tr);
	if (rc == HW_OK)
		rc = read_live(tr);
	if (rc != HW_OK) {
		hw_tracer_close(tr);
		return rc;
	}
	uint64_t a, sz;
	if (hw_target_symbol(t, "PyCode_Type", &a, &sz) == HW_OK)
		tr->py_code_type = a;
	tr->py_minor = (unsigned)((tr->root.python_version >> 16) & 0xff);
	tr->summary.mode = tr->root.mode == HWT_MODE_SAMPLED   ? "sampled"
	                   : tr->root.mode == HWT_MODE_DORMANT ? "dormant"
	                                                       : "all";
	tr->summary.sample_bytes = tr->root.mode == HWT_MODE_SAMPLED ? tr->root.sample_bytes : 0;
	tr->summary.live_allocations = tr->nlive;
	tr->summary.sites = tr->nsites;
	tr->summary.dropped = tr->root.dropped;
	tr->summary.python_version = tr->root.python_version;
	*out = tr;
	return HW_OK;
}

const hw_tracer_summary *hw_tracer_get_summary(const hw_tracer *tr)
{
	return tr ? &tr->summary : NULL;
}

size_t hw_tracer_problems(const hw_tracer *tr, const hw_problem **out)
{
	*out = tr ? tr->problems : NULL;
	return tr ? tr->nproblems : 0;
}

double hw_tracer_weight(const hw_tracer *tr, uint64_t requested)
{
	if (!tr || tr->root.mode != HWT_MODE_SAMPLED)
		return 1.0;
	return hw_sample_weight(requested, tr->root.sample_bytes);
}

double hw_sample_weight(uint64_t requested, uint64_t sample_bytes)
{
	if (requested == 0 || sample_bytes == 0)
		return 1.0; /* never sampled: the countdown does not move */
	double p = -expm1(-(double)requested / (double)sample_bytes);
	return p > 0 ? 1.0 / p : 1.0;
}

int hw_tracer_lookup(hw_tracer *tr, uint64_t address, uint32_t *site, uint64_t *requested)
{
	size_t lo = 0, hi = tr ? tr->nlive : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tr->live[mid].address < address)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!tr || lo >= tr->nlive || tr->live[lo].address != address)
		return HW_ENOTFOUND;
	if (site)
		*site = tr->live[lo].site;
	if (requested)
		*requested = tr->live[lo].requested;
	return HW_OK;
}

int hw_tracer_foreach(hw_tracer *tr,
                      int (*cb)(void *ctx, uint64_t address, uint32_t site, uint64_t requested),
                      void *ctx)
{
	for (size_t i = 0; tr && i < tr->nlive; i++) {
		if (cb(ctx, tr->live[i].address, tr->live[i].site, tr->live[i].requested))
			return HW_EINTR;
	}
	return HW_OK;
}

/* ---- Python code objects ---- */

/* PyCodeObject offsets per 3.minor (Include/cpython/code.h; checked with
 * gdb `ptype/o PyCodeObject` on the pyenv debug builds 3.8.18 ... 3.13.0, and
 * on the debug files of Debian's 3.14.8 and 3.15.0 interpreters):
 * co_firstlineno, co_filename, co_name, and the line table (co_lnotab in
 * 3.8/3.9, co_linetable after). */
static const struct {
	unsigned minor, firstlineno, filename, name, linetable;
} code_layouts[] = {
    {8, 0x28, 0x68, 0x70, 0x78},  {9, 0x28, 0x68, 0x70, 0x78},  {10, 0x28, 0x68, 0x70, 0x78},
    {11, 0x48, 0x70, 0x78, 0x88}, {12, 0x44, 0x70, 0x78, 0x88}, {13, 0x44, 0x70, 0x78, 0x88},
    {14, 0x44, 0x70, 0x78, 0x88}, {15, 0x44, 0x70, 0x78, 0x88},
};

/* A str object as UTF-8 (Include/cpython/unicodeobject.h): state bits
 * kind (2..4), compact (5), ascii (6) at +0x20; compact ASCII data follows
 * PyASCIIObject (48 bytes up to 3.11, which has wstr; 40 from 3.12),
 * compact non-ASCII data follows PyCompactUnicodeObject (72 / 56). */
static const char *read_str(hw_tracer *tr, uint64_t obj)
{
	uint64_t len;
	uint32_t state;
	if (!obj || hw_read_u64(tr->t, obj + 0x10, &len) != HW_OK ||
	    hw_read_u32(tr->t, obj + 0x20, &state) != HW_OK)
		return NULL;
	unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	int old = tr->py_minor <= 11;
	if (!compact || (kind != 1 && kind != 2 && kind != 4) || len > MAX_STRING)
		return NULL;
	uint64_t data = obj + (ascii ? (old ? 48 : 40) : (old ? 72 : 56));
	uint8_t raw[MAX_STRING * 4];
	if (hw_read(tr->t, data, raw, len * kind) != HW_OK)
		return NULL;
	char out[MAX_STRING * 4];
	size_t o = 0;
	for (uint64_t i = 0; i < len; i++) {
		uint32_t c = kind == 1   ? raw[i]
		             : kind == 2 ? (uint32_t)raw[2 * i] | (uint32_t)raw[2 * i + 1] << 8
		                         : (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
		                               (uint32_t)raw[4 * i + 2] << 16 |
		                               (uint32_t)raw[4 * i + 3] << 24;
		if (c < 0x80) {
			out[o++] = (char)c;
		} else if (c < 0x800) {
			out[o++] = (char)(0xc0 | c >> 6);
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			out[o++] = (char)(0xe0 | c >> 12);
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x110000) {
			out[o++] = (char)(0xf0 | c >> 18);
			out[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			return NULL;
		}
	}
	return intern(tr, out, o);
}

static struct code_info *code_get(hw_tracer *tr, uint64_t code)
{
	if (tr->codes_used * 2 >= tr->codes_cap) {
		size_t ncap = tr->codes_cap ? tr->codes_cap * 2 : 256;
		struct code_info *nc = calloc(ncap, sizeof(*nc));
		if (!nc)
			return NULL;
		for (size_t i = 0; i < tr->codes_cap; i++) {
			if (!tr->codes[i].code)
				continue;
			size_t j = (tr->codes[i].code >> 4) & (ncap - 1);
			while (nc[j].code)
				j = (j + 1) & (ncap - 1);
			nc[j] = tr->codes[i];
		}
		free(tr->codes);
		tr->codes = nc;
		tr->codes_cap = ncap;
	}
	size_t j = (code >> 4) & (tr->codes_cap - 1);
	while (tr->codes[j].code && tr->codes[j].code != code)
		j = (j + 1) & (tr->codes_cap - 1);
	struct code_info *ci = &tr->codes[j];
	if (ci->code)
		return ci;
	ci->code = code;
	tr->codes_used++;
	const __typeof__(code_layouts[0]) *L = NULL;
	for (size_t i = 0; i < HW_ARRAY_SIZE(code_layouts); i++) {
		if (code_layouts[i].minor == tr->py_minor)
			L = &code_layouts[i];
	}
	uint64_t type, fn, name, table, tlen;
	uint32_t first;
	if (!L || hw_read_u64(tr->t, code + 8, &type) != HW_OK ||
	    (tr->py_code_type && type != tr->py_code_type) ||
	    hw_read_u64(tr->t, code + L->filename, &fn) != HW_OK ||
	    hw_read_u64(tr->t, code + L->name, &name) != HW_OK ||
	    hw_read_u32(tr->t, code + L->firstlineno, &first) != HW_OK ||
	    hw_read_u64(tr->t, code + L->linetable, &table) != HW_OK)
		return ci;
	ci->filename = read_str(tr, fn);
	ci->name = read_str(tr, name);
	ci->firstlineno = (int)first;
	/* PyBytesObject: ob_size at 0x10, ob_sval at 0x20 */
	if (table && hw_read_u64(tr->t, table + 0x10, &tlen) == HW_OK && tlen <= MAX_LINETABLE) {
		ci->table = malloc(tlen ? tlen : 1);
		if (ci->table && hw_read(tr->t, table + 0x20, ci->table, tlen) == HW_OK) {
			ci->table_len = (uint32_t)tlen;
		} else {
			free(ci->table);
			ci->table = NULL;
		}
	}
	ci->ok = 1;
	return ci;
}

/* 3.8/3.9 co_lnotab (Objects/lnotab_notes.txt): (address increment,
 * signed line increment) byte pairs; PyCode_Addr2Line walks them until the
 * address passes the query. */
static int line_lnotab(const struct code_info *ci, int64_t addrq)
{
	int line = ci->firstlineno;
	int64_t addr = 0;
	for (uint32_t i = 0; i + 1 < ci->table_len; i += 2) {
		addr += ci->table[i];
		if (addr > addrq)
			break;
		line += (int8_t)ci->table[i + 1];
	}
	return line;
}

/* 3.10 co_linetable (Objects/lnotab_notes.txt of 3.10): (byte delta,
 * signed line delta) pairs, each one range [start, end); -128 means the
 * range has no line. */
static int line_310(const struct code_info *ci, int64_t addrq)
{
	int line = ci->firstlineno;
	int64_t start, end = 0;
	for (uint32_t i = 0; i + 1 < ci->table_len; i += 2) {
		start = end;
		end += ci->table[i];
		int8_t ld = (int8_t)ci->table[i + 1];
		int ar_line = -1;
		if (ld != -128) {
			line += ld;
			ar_line = line;
		}
		if (start <= addrq && addrq < end)
			return ar_line < 0 ? 0 : ar_line;
	}
	return 0;
}

/* 3.11+ location table (Objects/locations.md): entries start with a byte
 * with bit 7 set: code (bits 3-6) and length in code units - 1 (bits 0-2);
 * code 15 no location, 14 long form and 13 no-columns form start with a
 * signed varint line delta, 10..12 are one-line forms (delta code - 10),
 * 0..9 short forms on the same line. */
static int line_311(const struct code_info *ci, int64_t addrq)
{
	const uint8_t *p = ci->table, *end = ci->table + ci->table_len;
	int line = ci->firstlineno;
	int64_t addr = 0;
	while (p < end) {
		uint8_t first = *p;
		if (!(first & 0x80))
			return 0; /* out of sync: corrupt */
		unsigned code = (first >> 3) & 15;
		int64_t start = addr;
		addr += ((first & 7) + 1) * 2;
		const uint8_t *q = p + 1;
		int delta = 0;
		if (code == 14 || code == 13) {
			uint32_t v = 0, shift = 0;
			uint8_t b;
			do {
				if (q >= end || shift > 28)
					return 0;
				b = *q++;
				v |= (uint32_t)(b & 63) << shift;
				shift += 6;
			} while (b & 64);
			delta = (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
		} else if (code >= 10 && code <= 12) {
			delta = (int)code - 10;
		}
		line += delta;
		if (start <= addrq && addrq < addr)
			return code == 15 ? 0 : line;
		p++;
		while (p < end && !(*p & 0x80))
			p++;
	}
	return 0;
}

static int code_line(hw_tracer *tr, const struct code_info *ci, int64_t off)
{
	if (off < 0)
		return ci->firstlineno;
	if (!ci->table)
		return 0;
	if (tr->py_minor <= 9)
		return line_lnotab(ci, off);
	if (tr->py_minor == 10)
		return line_310(ci, off);
	return line_311(ci, off);
}

/* ---- frames ---- */

static int resolve(hw_tracer *tr, uint32_t site)
{
	struct resolved *r = &tr->res[site];
	const struct hwt_site *s = &tr->sites[site];
	uint64_t words = s->n_native + 2ull * s->n_python;
	uint64_t w[HWT_MAX_NATIVE + 2 * HWT_MAX_PYTHON];
	if (hw_read(tr->t, tr->root.frames + s->frames_at * 8, w, words * 8) != HW_OK) {
		r->state = -1;
		problem(tr, "tracer-frames-unreadable", tr->root.frames + s->frames_at * 8,
		        "frames of tracer site %u not readable", site);
		return HW_EFAULT;
	}
	r->frames = calloc(s->n_native + s->n_python + 1u, sizeof(hw_frame));
	if (!r->frames)
		return hw_error_set(HW_ENOMEM, "tracer frames");
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->n_python; i++) {
		hw_frame *f = &r->frames[n++];
		f->kind = HW_FRAME_PYTHON;
		struct code_info *ci = code_get(tr, w[s->n_native + 2 * i]);
		if (!ci || !ci->ok)
			continue;
		f->function = ci->name;
		f->file = ci->filename;
		f->line = code_line(tr, ci, (int64_t)w[s->n_native + 2 * i + 1]);
	}
	for (uint32_t i = 0; i < s->n_native; i++) {
		hw_frame *f = &r->frames[n++];
		f->kind = HW_FRAME_NATIVE;
		f->pc = w[i];
		hw_symbolization sym;
		if (!w[i] || hw_target_symbolize(tr->t, w[i] - 1, &sym) != HW_OK)
			continue;
		f->function = sym.function;
		f->file = sym.file;
		f->line = sym.line;
		f->module = sym.module;
		f->module_offset = sym.module_offset + 1;
	}
	r->n = n;
	r->state = 1;
	return HW_OK;
}

int hw_tracer_site_frames(hw_tracer *tr, uint32_t site, hw_frame *frames, size_t *n)
{
	size_t cap = *n;
	*n = 0;
	if (!tr || !site || site > tr->nsites || !tr->site_ok[site])
		return hw_error_set(HW_ENOTFOUND, "no tracer site %u", site);
	struct resolved *r = &tr->res[site];
	if (r->state == 0) {
		int rc = resolve(tr, site);
		if (rc != HW_OK)
			return rc;
	}
	if (r->state < 0)
		return hw_error_set(HW_EFAULT, "frames of tracer site %u not readable", site);
	size_t k = r->n < cap ? r->n : cap;
	memcpy(frames, r->frames, k * sizeof(*frames));
	*n = k;
	return HW_OK;
}

void hw_tracer_close(hw_tracer *tr)
{
	if (!tr)
		return;
	hw_big_free(tr->live);
	if (tr->res) {
		for (uint64_t i = 0; i <= tr->nsites; i++)
			free(tr->res[i].frames);
	}
	free(tr->res);
	free(tr->sites);
	free(tr->site_ok);
	for (size_t i = 0; i < tr->codes_cap; i++)
		free(tr->codes[i].table);
	free(tr->codes);
	while (tr->strings) {
		struct strings *b = tr->strings;
		tr->strings = b->next;
		free(b);
	}
	for (size_t i = 0; i < tr->nproblems; i++)
		free(tr->problem_msgs[i]);
	free(tr);
}
