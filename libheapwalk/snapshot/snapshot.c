/*
 * snapshot.c: the snapshot model: building one (walkers' glue, the .hsnap
 * reader, tests) and reading it back.
 *
 * Invariants: see snapshot_internal.h.  The builder copies every string it
 * is given; ids handed out stay valid for the snapshot's life; after
 * hw_snapshot_finish() allocations are sorted by address (equal addresses
 * keep their insertion order) and the column arrays hold exactly n entries.
 */
#include "snapshot_internal.h"

#include <stdlib.h>
#include <string.h>

static int nomem(void)
{
	return hw_error_set(HW_ENOMEM, "out of memory building the snapshot");
}

int hw_snapshot_new(hw_snapshot **out)
{
	*out = NULL;
	hw_snapshot *s = calloc(1, sizeof *s);
	if (!s)
		return nomem();
	if (hw_strtab_init(&s->str))
		goto fail;
	/* id 0 of every table is "none" */
	s->types = calloc(16, sizeof *s->types);
	s->frames = calloc(16, sizeof *s->frames);
	s->sites = calloc(16, sizeof *s->sites);
	s->arenas = calloc(16, sizeof *s->arenas);
	if (!s->types || !s->frames || !s->sites || !s->arenas)
		goto fail;
	s->cap_types = s->cap_frames = s->cap_sites = s->cap_arenas = 16;
	s->n_types = s->n_frames = s->n_sites = s->n_arenas = 1;
	s->sorted = true;
	s->target.kind = "core";
	*out = s;
	return HW_OK;
fail:
	hw_snapshot_free(s);
	return nomem();
}

void hw_snapshot_free(hw_snapshot *s)
{
	if (!s)
		return;
	hw_big_free(s->addr);
	hw_big_free(s->size32);
	free(s->big);
	hw_big_free(s->type);
	hw_big_free(s->site);
	hw_big_free(s->arena);
	hw_big_free(s->flags);
	hw_big_free(s->slack);
	hw_strtab_free(&s->str);
	free(s->types);
	hw_map64_free(&s->type_index);
	free(s->frames);
	hw_idset_free(&s->frame_index);
	free(s->sites);
	free(s->site_frames);
	hw_idset_free(&s->site_index);
	free(s->arenas);
	hw_map64_free(&s->arena_index);
	free(s->problems);
	free(s);
}

static const char *intern_or_null(hw_snapshot *s, const char *str, int *err)
{
	uint32_t id;
	if (hw_strtab_intern(&s->str, str, &id)) {
		*err = 1;
		return NULL;
	}
	return hw_strtab_get(&s->str, id);
}

int hw_snapshot_set_target(hw_snapshot *s, const char *kind, const char *path, pid_t pid,
                           const char *executable)
{
	int err = 0;
	hw_snapshot_target t = {
	    .kind = intern_or_null(s, kind ? kind : "core", &err),
	    .path = intern_or_null(s, path, &err),
	    .pid = pid,
	    .executable = intern_or_null(s, executable, &err),
	    .source_kind = s->target.source_kind,
	    .source_path = s->target.source_path,
	};
	if (err)
		return nomem();
	s->target = t;
	return HW_OK;
}

int hw_snapshot_set_source(hw_snapshot *s, const char *kind, const char *path)
{
	int err = 0;
	s->target.source_kind = intern_or_null(s, kind, &err);
	s->target.source_path = intern_or_null(s, path, &err);
	return err ? nomem() : HW_OK;
}

int hw_snapshot_add_type(hw_snapshot *s, const char *name, uint32_t *id)
{
	*id = 0;
	if (!name || !*name)
		return HW_OK;
	uint32_t sid;
	if (hw_strtab_intern(&s->str, name, &sid))
		return nomem();
	int64_t t = hw_map64_get(&s->type_index, sid);
	if (t >= 0) {
		*id = (uint32_t)t;
		return HW_OK;
	}
	if (hw_grow32((void **)&s->types, sizeof *s->types, &s->cap_types,
	              (size_t)s->n_types + 1) ||
	    hw_map64_put(&s->type_index, sid, s->n_types))
		return nomem();
	s->types[s->n_types] = sid;
	*id = s->n_types++;
	return HW_OK;
}

static uint64_t frame_hash(const hw_sframe *f)
{
	uint64_t h = hw_mix64(f->function ^ ((uint64_t)f->file << 32));
	h = hw_mix64(h ^ f->module ^ ((uint64_t)(uint32_t)f->line << 32));
	h = hw_mix64(h ^ f->pc);
	h = hw_mix64(h ^ f->module_offset ^ ((uint64_t)f->kind << 56));
	return h;
}

static bool frame_eq(const void *ctx, uint32_t id, const void *key)
{
	const hw_snapshot *s = ctx;
	const hw_sframe *a = &s->frames[id], *b = key;
	return a->function == b->function && a->file == b->file && a->module == b->module &&
	       a->line == b->line && a->pc == b->pc && a->module_offset == b->module_offset &&
	       a->kind == b->kind;
}

int hw_snapshot_add_frame(hw_snapshot *s, const hw_frame *f, uint32_t *id)
{
	hw_sframe k = {0};
	if (hw_strtab_intern(&s->str, f->function, &k.function) ||
	    hw_strtab_intern(&s->str, f->file, &k.file) ||
	    hw_strtab_intern(&s->str, f->module, &k.module))
		return nomem();
	k.line = f->line;
	k.pc = f->pc;
	k.module_offset = f->module_offset;
	k.kind = f->kind == HW_FRAME_PYTHON ? HW_FRAME_PYTHON : HW_FRAME_NATIVE;
	uint64_t h = frame_hash(&k);
	uint32_t found = hw_idset_find(&s->frame_index, h, frame_eq, s, &k);
	if (found) {
		*id = found;
		return HW_OK;
	}
	if (hw_grow32((void **)&s->frames, sizeof *s->frames, &s->cap_frames,
	              (size_t)s->n_frames + 1) ||
	    hw_idset_insert(&s->frame_index, h, s->n_frames))
		return nomem();
	s->frames[s->n_frames] = k;
	*id = s->n_frames++;
	return HW_OK;
}

struct sitekey {
	const uint32_t *ids;
	uint32_t n;
};

static bool site_eq(const void *ctx, uint32_t id, const void *key)
{
	const hw_snapshot *s = ctx;
	const struct sitekey *k = key;
	if (s->sites[id].n != k->n)
		return false;
	return !k->n || !memcmp(s->site_frames + s->sites[id].off, k->ids, k->n * sizeof *k->ids);
}

int hw_snapshot_add_site_ids(hw_snapshot *s, const uint32_t *ids, size_t n, uint32_t *id)
{
	if (n > HW_SITE_MAX_FRAMES)
		n = HW_SITE_MAX_FRAMES;
	struct sitekey k = {ids, (uint32_t)n};
	uint64_t h = hw_hash_bytes(ids, n * sizeof *ids, 0x5173);
	uint32_t found = hw_idset_find(&s->site_index, h, site_eq, s, &k);
	if (found) {
		*id = found;
		return HW_OK;
	}
	if (s->n_site_frames + n > UINT32_MAX)
		return hw_error_set(HW_ENOMEM, "too many frames in the snapshot");
	size_t cap = s->cap_site_frames;
	if (hw_grow((void **)&s->site_frames, sizeof *s->site_frames, &cap, s->n_site_frames + n))
		return nomem();
	s->cap_site_frames = cap;
	if (hw_grow32((void **)&s->sites, sizeof *s->sites, &s->cap_sites,
	              (size_t)s->n_sites + 1) ||
	    hw_idset_insert(&s->site_index, h, s->n_sites))
		return nomem();
	if (n)
		memcpy(s->site_frames + s->n_site_frames, ids, n * sizeof *ids);
	s->sites[s->n_sites] = (hw_ssite){(uint32_t)s->n_site_frames, (uint32_t)n};
	s->n_site_frames += n;
	*id = s->n_sites++;
	return HW_OK;
}

int hw_snapshot_add_site(hw_snapshot *s, const hw_frame *frames, size_t n, uint32_t *id)
{
	uint32_t ids[HW_SITE_MAX_FRAMES];
	if (n > HW_SITE_MAX_FRAMES)
		n = HW_SITE_MAX_FRAMES;
	for (size_t i = 0; i < n; i++) {
		int rc = hw_snapshot_add_frame(s, &frames[i], &ids[i]);
		if (rc)
			return rc;
	}
	return hw_snapshot_add_site_ids(s, ids, n, id);
}

int hw_snapshot_arena_id(hw_snapshot *s, uint64_t address, uint16_t *id)
{
	*id = 0;
	if (!address)
		return HW_OK;
	int64_t v = hw_map64_get(&s->arena_index, address);
	if (v >= 0) {
		*id = (uint16_t)v;
		return HW_OK;
	}
	if (s->n_arenas > HW_MAX_ARENAS)
		return hw_error_set(HW_ECORRUPT, "more than %d arenas", HW_MAX_ARENAS);
	if (hw_grow32((void **)&s->arenas, sizeof *s->arenas, &s->cap_arenas,
	              (size_t)s->n_arenas + 1) ||
	    hw_map64_put(&s->arena_index, address, s->n_arenas))
		return nomem();
	s->arenas[s->n_arenas] = address;
	*id = (uint16_t)s->n_arenas++;
	return HW_OK;
}

int hw_snapshot_reserve(hw_snapshot *s, size_t n)
{
	if (s->n + n <= s->cap)
		return HW_OK;
	size_t c;
	if (hw_grow_capacity(s->cap, sizeof *s->addr, s->n + n, &c))
		return nomem();
	/* every column gets the same capacity c */
	void *p;
#define GROW_COL(col)                                                                              \
	p = hw_big_resize(s->col, c * sizeof *s->col);                                             \
	if (!p)                                                                                    \
		return nomem();                                                                    \
	s->col = p;
	GROW_COL(addr)
	GROW_COL(size32)
	if (s->type) {
		GROW_COL(type)
	}
	if (s->site) {
		GROW_COL(site)
	}
	GROW_COL(arena)
	GROW_COL(flags)
	if (s->slack) {
		GROW_COL(slack)
	}
#undef GROW_COL
	s->cap = c;
	return HW_OK;
}

int hw_snapshot_push(hw_snapshot *s, uint64_t addr, uint64_t size, uint8_t flags, uint16_t arena,
                     uint32_t type, uint32_t site)
{
	if (s->n == s->cap) {
		int rc = hw_snapshot_reserve(s, 1);
		if (rc)
			return rc;
	}
	uint32_t sw;
	if (hw_s_size_word(s, size, &sw))
		return nomem();
	size_t i = s->n++;
	if (i && s->addr[i - 1] > addr)
		s->sorted = false;
	s->addr[i] = addr;
	s->size32[i] = sw;
	s->flags[i] = flags;
	s->arena[i] = arena;
	if ((type || s->type) && hw_snapshot_set_type(s, i, type))
		return nomem();
	if ((site || s->site) && hw_snapshot_set_site(s, i, site))
		return nomem();
	if (s->slack)
		s->slack[i] = HW_SLACK_UNKNOWN;
	return HW_OK;
}

int hw_s_size_word(hw_snapshot *s, uint64_t size, uint32_t *out)
{
	if (size < HW_SIZE_BIG) {
		*out = (uint32_t)size;
		return 0;
	}
	if (s->n_big >= HW_SIZE_BIG ||
	    hw_grow((void **)&s->big, sizeof *s->big, &s->cap_big, s->n_big + 1))
		return -1;
	s->big[s->n_big] = size;
	*out = HW_SIZE_BIG | (uint32_t)s->n_big++;
	return 0;
}

/* An id column made on its first nonzero id: zeroed, so every allocation
 * before has id 0 (hw_big_resize: the pages of those zeros are not even
 * touched until finish moves them). */
static int id_column(hw_snapshot *s, uint32_t **col)
{
	if (*col)
		return HW_OK;
	*col = hw_big_resize(NULL, (s->cap ? s->cap : 1) * sizeof **col);
	return *col ? HW_OK : nomem();
}

int hw_snapshot_set_type(hw_snapshot *s, size_t i, uint32_t type)
{
	if (!s->type && (!type || id_column(s, &s->type)))
		return type ? HW_ENOMEM : HW_OK;
	s->type[i] = type;
	return HW_OK;
}

int hw_snapshot_set_site(hw_snapshot *s, size_t i, uint32_t site)
{
	if (!s->site && (!site || id_column(s, &s->site)))
		return site ? HW_ENOMEM : HW_OK;
	s->site[i] = site;
	return HW_OK;
}

/* The slack column exists once one request is known. */
static int slack_column(hw_snapshot *s)
{
	if (s->slack)
		return HW_OK;
	s->slack = hw_big_resize(NULL, (s->cap ? s->cap : 1) * sizeof *s->slack);
	if (!s->slack)
		return nomem();
	for (size_t i = 0; i < s->n; i++)
		s->slack[i] = HW_SLACK_UNKNOWN;
	return HW_OK;
}

int hw_snapshot_set_slack(hw_snapshot *s, size_t i, uint16_t slack)
{
	if (slack == HW_SLACK_UNKNOWN && !s->slack)
		return HW_OK;
	int rc = slack_column(s);
	if (!rc)
		s->slack[i] = slack;
	return rc;
}

int hw_snapshot_add_alloc_requested(hw_snapshot *s, const hw_alloc *a, uint32_t type, uint32_t site,
                                    uint64_t requested)
{
	int rc = hw_snapshot_add_alloc(s, a, type, site);
	if (rc || requested == HW_REQUESTED_UNKNOWN || requested > a->size ||
	    a->size - requested >= HW_SLACK_UNKNOWN)
		return rc;
	return hw_snapshot_set_slack(s, s->n - 1, (uint16_t)(a->size - requested));
}

uint64_t hw_snapshot_requested(const hw_snapshot *s, size_t i)
{
	if (i >= s->n || !s->slack || s->slack[i] == HW_SLACK_UNKNOWN)
		return HW_REQUESTED_UNKNOWN;
	return hw_s_size(s, i) - s->slack[i];
}

int hw_snapshot_add_alloc(hw_snapshot *s, const hw_alloc *a, uint32_t type, uint32_t site)
{
	if (type >= s->n_types || site >= s->n_sites)
		return hw_error_set(HW_EINVAL, "type %u or site %u not in the snapshot", type,
		                    site);
	uint16_t ar;
	int rc = hw_snapshot_arena_id(s, a->arena, &ar);
	if (rc)
		return rc;
	return hw_snapshot_push(s, a->address, a->size, HW_F_MAKE(a->allocator, a->state, a->bin),
	                        ar, type, site);
}

int hw_snapshot_add_problem(hw_snapshot *s, const hw_problem *p)
{
	if (s->n_problems >= HW_SNAPSHOT_MAX_PROBLEMS) {
		s->problems_dropped++;
		return HW_OK;
	}
	hw_sproblem q = {.address = p->address};
	if (hw_strtab_intern(&s->str, p->kind ? p->kind : "problem", &q.kind) ||
	    hw_strtab_intern(&s->str, p->message ? p->message : "", &q.message) ||
	    hw_grow((void **)&s->problems, sizeof *s->problems, &s->cap_problems,
	            s->n_problems + 1))
		return nomem();
	s->problems[s->n_problems++] = q;
	return HW_OK;
}

int hw_snapshot_set_glibc_summary(hw_snapshot *s, const hw_glibc_summary *g)
{
	s->has_glibc = g != NULL;
	if (!g)
		return HW_OK;
	int err = 0;
	s->glibc = *g;
	s->glibc.version[sizeof s->glibc.version - 1] = 0;
	s->glibc.symbols = intern_or_null(s, g->symbols, &err);
	return err ? nomem() : HW_OK;
}

int hw_snapshot_set_pymalloc_summary(hw_snapshot *s, const hw_pymalloc_summary *p)
{
	s->has_pymalloc = p != NULL;
	if (!p)
		return HW_OK;
	int err = 0;
	s->pymalloc = *p;
	s->pymalloc.python_version[sizeof s->pymalloc.python_version - 1] = 0;
	if (s->pymalloc.n_size_classes > HW_ARRAY_SIZE(s->pymalloc.size_classes))
		s->pymalloc.n_size_classes = HW_ARRAY_SIZE(s->pymalloc.size_classes);
	s->pymalloc.symbols = intern_or_null(s, p->symbols, &err);
	return err ? nomem() : HW_OK;
}

int hw_snapshot_set_tracer_summary(hw_snapshot *s, const hw_tracer_summary *tr)
{
	s->has_tracer = tr != NULL;
	if (!tr)
		return HW_OK;
	int err = 0;
	s->tracer = *tr;
	s->tracer.mode = intern_or_null(s, tr->mode ? tr->mode : "all", &err);
	return err ? nomem() : HW_OK;
}

/* ---- finishing: sort by address, trim ---- */

/* Sort idx[0..n) by keys[idx[i]], stable (ties keep insertion order), by
 * LSD radix on 16-bit digits: as many passes as the largest key has digits
 * (3 for user-space addresses), O(n) each.  tmp holds n uint32_t. */
static int radix_sort_idx(uint32_t *idx, uint32_t *tmp, const uint64_t *keys, size_t n)
{
	uint64_t max = 0;
	for (size_t i = 0; i < n; i++)
		max |= keys[i];
	static const unsigned DIGIT = 16;
	size_t *count = malloc(((size_t)1 << DIGIT) * sizeof *count);
	if (!count)
		return -1;
	uint32_t *src = idx, *dst = tmp;
	for (unsigned shift = 0; shift < 64 && (max >> shift); shift += DIGIT) {
		memset(count, 0, ((size_t)1 << DIGIT) * sizeof *count);
		for (size_t i = 0; i < n; i++)
			count[(keys[src[i]] >> shift) & 0xffff]++;
		size_t sum = 0;
		for (size_t d = 0; d < ((size_t)1 << DIGIT); d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(keys[src[i]] >> shift) & 0xffff]++] = src[i];
		uint32_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != idx)
		memcpy(idx, src, n * sizeof *idx);
	free(count);
	return 0;
}

typedef struct run {
	size_t pos, end; /* the run's unmerged part: indices [pos, end) */
} run;

/* Heap order: the smaller current key first; ties by position, so equal
 * addresses keep insertion order (the merge is stable). */
static int run_less(const run *a, const run *b, const uint64_t *keys)
{
	uint64_t x = keys[a->pos], y = keys[b->pos];
	return x != y ? x < y : a->pos < b->pos;
}

static void run_sift_down(run *h, size_t n, size_t i, const uint64_t *keys)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && run_less(&h[l], &h[m], keys))
			m = l;
		if (l + 1 < n && run_less(&h[l + 1], &h[m], keys))
			m = l + 1;
		if (m == i)
			return;
		run t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* A stretch of consecutive allocations [from, from + n) that the sorted
 * order keeps together. */
typedef struct stretch {
	size_t from, n;
} stretch;

/* Walkers emit address-ordered runs (a heap, a pool arena, the mmapped
 * chunks), interleaved in address space.  A k-way merge that moves whole
 * stretches at once: take the run with the smallest current address, find
 * by binary search how far it stays below the next run's, that is one
 * stretch.  O(n + S log R) for S stretches of R runs.  The stretches in
 * sorted order go to *out (*ns of them).  Returns 1 when there are too many
 * runs or stretches for this to pay (then radix sort), -1 on no memory. */
static int sort_by_runs(const uint64_t *keys, size_t n, stretch **out, size_t *ns, size_t *last_run)
{
	size_t nr = 1, max_stretches = n / 16 + 16;
	for (size_t i = 1; i < n; i++)
		if (keys[i - 1] > keys[i] && ++nr > n / 64 + 16)
			return 1;
	run *h = malloc(nr * sizeof *h);
	size_t cap = 2 * nr + 16, k = 0;
	stretch *st = malloc(cap * sizeof *st);
	if (!h || !st) {
		free(h);
		free(st);
		return -1;
	}
	h[0].pos = 0;
	for (size_t i = 1; i <= n; i++)
		if (i == n || keys[i - 1] > keys[i]) {
			h[k].end = i;
			if (i < n)
				h[++k].pos = i;
		}
	*last_run = h[nr - 1].pos;
	for (size_t i = nr / 2; i-- > 0;)
		run_sift_down(h, nr, i, keys);
	size_t live = nr;
	k = 0;
	while (live) {
		run *a = &h[0];
		size_t stop = a->end;
		if (live > 1) {
			/* the next smallest run is a child of the root */
			const run *b = &h[1];
			if (live > 2 && run_less(&h[2], b, keys))
				b = &h[2];
			/* first index in a whose element must come after b's */
			size_t lo = a->pos + 1, hi = a->end;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				run probe = {mid, a->end};
				if (run_less(&probe, b, keys))
					lo = mid + 1;
				else
					hi = mid;
			}
			stop = lo;
		}
		if (k == cap) {
			stretch *ns2 = k < max_stretches ? realloc(st, 2 * cap * sizeof *st) : NULL;
			if (!ns2) {
				free(h);
				free(st);
				return k < max_stretches ? -1 : 1;
			}
			st = ns2;
			cap *= 2;
		}
		st[k++] = (stretch){a->pos, stop - a->pos};
		a->pos = stop;
		if (a->pos == a->end)
			h[0] = h[--live];
		run_sift_down(h, live, 0, keys);
	}
	free(h);
	*out = st;
	*ns = k;
	return 0;
}

/* Permute one column through idx with a scratch buffer of n * el bytes. */
static void permute(void *col, size_t el, const uint32_t *idx, size_t n, void *tmp)
{
	char *c = col, *t = tmp;
	for (size_t i = 0; i < n; i++)
		memcpy(t + i * el, c + (size_t)idx[i] * el, el);
	memcpy(c, t, n * el);
}

/* Copy column *col in stretch order into *tmp, which holds at least as
 * many bytes, and swap the two: the column is now the sorted copy and the
 * old column the next scratch buffer.  Columns go through this in order of
 * decreasing element size, so every scratch buffer is large enough. */
static void apply_stretches(void *col, void **tmp, size_t el, const stretch *st, size_t ns)
{
	char **c = col, *t = *tmp;
	size_t o = 0;
	for (size_t k = 0; k < ns; o += st[k].n, k++)
		memcpy(t + o * el, *c + st[k].from * el, st[k].n * el);
	*tmp = *c;
	*c = t;
}

static void trim(void **p, size_t el, size_t n)
{
	void *q = hw_big_resize(*p, (n ? n : 1) * el);
	if (q)
		*p = q;
}

static void trim_all(hw_snapshot *s)
{
	trim((void **)&s->addr, sizeof *s->addr, s->n);
	trim((void **)&s->size32, sizeof *s->size32, s->n);
	if (s->type)
		trim((void **)&s->type, sizeof *s->type, s->n);
	if (s->site)
		trim((void **)&s->site, sizeof *s->site, s->n);
	trim((void **)&s->arena, sizeof *s->arena, s->n);
	trim((void **)&s->flags, sizeof *s->flags, s->n);
	if (s->slack)
		trim((void **)&s->slack, sizeof *s->slack, s->n);
	s->cap = s->n;
}

/* The common shape: the last walker's records are one address-ordered run
 * L (input [last, n)) to be interleaved with a few records of earlier runs
 * (glibc's mmapped chunks among pymalloc's arenas), after a prefix already
 * in place (glibc's heap).  Every record of L moves towards the front or
 * stays; so, per column: the few other records after the prefix go to a
 * scratch buffer, then the stretches are laid down front to back, L's
 * moved within the column, the others copied from the buffer.  A stretch
 * of L never lands on a record of L not yet moved: after k of the m saved
 * records and j of L's, the write point is F + j + k <= last + j, where
 * the next record of L lies.  Returns 1 when more than n / 4 records would
 * go through the buffer (then finish_by_stretches). */
static int finish_moving_last_run(hw_snapshot *s, const stretch *st, size_t ns, size_t last)
{
	size_t k0 = 0, f = 0, m = 0;
	while (k0 < ns && st[k0].from == f)
		f += st[k0++].n;
	for (size_t k = k0; k < ns; k++)
		if (st[k].from < last)
			m += st[k].n;
	if (m > s->n / 4)
		return 1;
	char *tmp = hw_big_resize(NULL, (m ? m : 1) * sizeof(uint64_t));
	if (!tmp)
		return nomem();
	struct {
		void *col;
		size_t el;
	} cols[] = {
	    {s->addr, sizeof *s->addr},   {s->size32, sizeof *s->size32},
	    {s->type, sizeof *s->type},   {s->site, sizeof *s->site},
	    {s->arena, sizeof *s->arena}, {s->flags, sizeof *s->flags},
	    {s->slack, sizeof *s->slack},
	};
	for (size_t c = 0; c < HW_ARRAY_SIZE(cols); c++) {
		char *col = cols[c].col;
		size_t el = cols[c].el, t = 0, o = f;
		if (!col)
			continue;
		for (size_t k = k0; k < ns; k++)
			if (st[k].from < last) {
				memcpy(tmp + t * el, col + st[k].from * el, st[k].n * el);
				t += st[k].n;
			}
		t = 0;
		for (size_t k = k0; k < ns; o += st[k].n, k++) {
			if (st[k].from >= last) {
				memmove(col + o * el, col + st[k].from * el, st[k].n * el);
			} else {
				memcpy(col + o * el, tmp + t * el, st[k].n * el);
				t += st[k].n;
			}
		}
	}
	hw_big_free(tmp);
	s->sorted = true;
	if (s->cap > s->n)
		trim_all(s);
	return HW_OK;
}

/* Sort every column by stretches (sort_by_runs): one scratch buffer of
 * n addresses, each column copied once in large pieces. */
static int finish_by_stretches(hw_snapshot *s, const stretch *st, size_t ns)
{
	void *tmp = hw_big_resize(NULL, (s->n ? s->n : 1) * sizeof(uint64_t));
	if (!tmp)
		return nomem();
	apply_stretches(&s->addr, &tmp, sizeof *s->addr, st, ns);
	apply_stretches(&s->size32, &tmp, sizeof *s->size32, st, ns);
	if (s->type)
		apply_stretches(&s->type, &tmp, sizeof *s->type, st, ns);
	if (s->site)
		apply_stretches(&s->site, &tmp, sizeof *s->site, st, ns);
	apply_stretches(&s->arena, &tmp, sizeof *s->arena, st, ns);
	if (s->slack)
		apply_stretches(&s->slack, &tmp, sizeof *s->slack, st, ns);
	apply_stretches(&s->flags, &tmp, sizeof *s->flags, st, ns);
	hw_big_free(tmp);
	/* the columns now sit in buffers of other sizes: trim them all */
	trim_all(s);
	s->sorted = true;
	return HW_OK;
}

int hw_snapshot_finish(hw_snapshot *s)
{
	/* walkers emit address-ordered runs: often the whole is sorted */
	if (!s->sorted) {
		size_t k = 1;
		while (k < s->n && s->addr[k - 1] <= s->addr[k])
			k++;
		if (k >= s->n)
			s->sorted = true;
	}
	if (!s->sorted) {
		if (s->n > UINT32_MAX)
			return hw_error_set(HW_ENOMEM, "too many allocations to sort");
		stretch *st = NULL;
		size_t ns = 0, last = 0;
		int byruns = sort_by_runs(s->addr, s->n, &st, &ns, &last);
		if (byruns < 0)
			return nomem();
		if (byruns == 0) {
			int rc = finish_moving_last_run(s, st, ns, last);
			if (rc == 1)
				rc = finish_by_stretches(s, st, ns);
			free(st);
			return rc;
		}
		uint32_t *idx = hw_big_resize(NULL, s->n * sizeof *idx);
		void *tmp = hw_big_resize(NULL, s->n * sizeof(uint64_t));
		if (!idx || !tmp) {
			hw_big_free(idx);
			hw_big_free(tmp);
			return nomem();
		}
		for (size_t i = 0; i < s->n; i++)
			idx[i] = (uint32_t)i;
		if (radix_sort_idx(idx, tmp, s->addr, s->n)) {
			hw_big_free(idx);
			hw_big_free(tmp);
			return nomem();
		}
		permute(s->addr, sizeof *s->addr, idx, s->n, tmp);
		permute(s->size32, sizeof *s->size32, idx, s->n, tmp);
		if (s->type)
			permute(s->type, sizeof *s->type, idx, s->n, tmp);
		if (s->site)
			permute(s->site, sizeof *s->site, idx, s->n, tmp);
		permute(s->arena, sizeof *s->arena, idx, s->n, tmp);
		permute(s->flags, sizeof *s->flags, idx, s->n, tmp);
		if (s->slack)
			permute(s->slack, sizeof *s->slack, idx, s->n, tmp);
		hw_big_free(idx);
		hw_big_free(tmp);
		s->sorted = true;
	}
	if (s->cap > s->n)
		trim_all(s);
	return HW_OK;
}

/* ---- reading ---- */

const hw_snapshot_target *hw_snapshot_get_target(const hw_snapshot *s)
{
	return &s->target;
}

size_t hw_snapshot_count(const hw_snapshot *s)
{
	return s->n;
}

int hw_snapshot_get_alloc(const hw_snapshot *s, size_t i, hw_alloc *a, uint32_t *type,
                          uint32_t *site)
{
	if (i >= s->n)
		return hw_error_set(HW_EINVAL, "allocation %zu of %zu", i, s->n);
	if (a) {
		uint8_t f = s->flags[i];
		*a = (hw_alloc){
		    .address = s->addr[i],
		    .size = hw_s_size(s, i),
		    .arena = s->arenas[s->arena[i]],
		    .allocator = HW_F_ALLOCATOR(f),
		    .state = HW_F_STATE(f),
		    .bin = HW_F_BIN(f),
		};
	}
	if (type)
		*type = hw_s_type(s, i);
	if (site)
		*site = hw_s_site(s, i);
	return HW_OK;
}

ssize_t hw_snapshot_find(const hw_snapshot *s, uint64_t addr)
{
	/* last allocation whose address <= addr */
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->addr[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	size_t i = lo - 1;
	/* size 0 holds its own address only */
	if (addr == s->addr[i] || addr - s->addr[i] < hw_s_size(s, i))
		return (ssize_t)i;
	return -1;
}

const char *hw_snapshot_type_name(const hw_snapshot *s, uint32_t type)
{
	if (!type || type >= s->n_types)
		return NULL;
	return hw_strtab_get(&s->str, s->types[type]);
}

uint32_t hw_snapshot_site_count(const hw_snapshot *s)
{
	return s->n_sites - 1;
}

void hw_snapshot_frame(const hw_snapshot *s, uint32_t frame_id, hw_frame *out)
{
	const hw_sframe *f = &s->frames[frame_id];
	*out = (hw_frame){
	    .function = hw_strtab_get(&s->str, f->function),
	    .file = hw_strtab_get(&s->str, f->file),
	    .line = f->line,
	    .module = hw_strtab_get(&s->str, f->module),
	    .pc = f->pc,
	    .module_offset = f->module_offset,
	    .kind = f->kind,
	};
}

int hw_snapshot_site_frames(const hw_snapshot *s, uint32_t site, hw_frame *frames, size_t *n)
{
	if (site >= s->n_sites) {
		*n = 0;
		return hw_error_set(HW_EINVAL, "site %u not in the snapshot", site);
	}
	const hw_ssite *st = &s->sites[site];
	size_t k = st->n < *n ? st->n : *n;
	for (size_t i = 0; i < k; i++)
		hw_snapshot_frame(s, s->site_frames[st->off + i], &frames[i]);
	*n = k;
	return HW_OK;
}

const hw_glibc_summary *hw_snapshot_glibc_summary(const hw_snapshot *s)
{
	return s->has_glibc ? &s->glibc : NULL;
}

const hw_pymalloc_summary *hw_snapshot_pymalloc_summary(const hw_snapshot *s)
{
	return s->has_pymalloc ? &s->pymalloc : NULL;
}

const hw_tracer_summary *hw_snapshot_tracer_summary(const hw_snapshot *s)
{
	return s->has_tracer ? &s->tracer : NULL;
}

size_t hw_snapshot_problem_count(const hw_snapshot *s, uint64_t *dropped)
{
	if (dropped)
		*dropped = s->problems_dropped;
	return s->n_problems;
}

int hw_snapshot_get_problem(const hw_snapshot *s, size_t i, hw_problem *p)
{
	if (i >= s->n_problems)
		return hw_error_set(HW_EINVAL, "problem %zu of %zu", i, s->n_problems);
	*p = (hw_problem){
	    .kind = hw_strtab_get(&s->str, s->problems[i].kind),
	    .address = s->problems[i].address,
	    .message = hw_strtab_get(&s->str, s->problems[i].message),
	};
	return HW_OK;
}

size_t hw_snapshot_memory(const hw_snapshot *s)
{
	size_t per = sizeof *s->addr + sizeof *s->size32 + sizeof *s->arena + sizeof *s->flags;
	if (s->type)
		per += sizeof *s->type;
	if (s->site)
		per += sizeof *s->site;
	if (s->slack)
		per += sizeof *s->slack;
	return sizeof *s + s->cap * per + s->str.bytes + s->str.cap * (sizeof(char *) + 4) +
	       (s->str.index.mask + 1) * 8 + s->cap_types * 4 + s->cap_frames * sizeof(hw_sframe) +
	       s->cap_sites * sizeof(hw_ssite) + s->cap_site_frames * 4 + s->cap_arenas * 8 +
	       s->cap_problems * sizeof(hw_sproblem) + s->cap_big * sizeof *s->big;
}
