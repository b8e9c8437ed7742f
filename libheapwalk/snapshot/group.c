/*
 * group.c: grouping by hash aggregation, filters, and the diff of two
 * groupings.
 *
 * How a grouping runs (O(allocations) with small constants, whatever the key):
 *  1. per site (sites are few): apply the filters and compute the site's key
 *     id (site, function, lineno, filename, module keys), interning the key
 *     string in the grouping's own string table;
 *  2. per allocation: skip it when its state is not shown or its site was
 *     filtered out, map it to a dense key id (allocator, type and arena ids
 *     directly; sizes through a hash map) and add count and bytes;
 *  3. make a key string for each non-empty key id and sort the groups.
 * Invariant: the total is the sum over all groups (before --limit).
 *
 * A tracer in sampled mode recorded a site for a sample of the allocations
 * only (one in every sample_bytes allocated, on average): grouped by a site
 * key, each recorded allocation of requested size r then stands for
 * 1 / (1 - exp(-r / sample_bytes)) of its kind (hw_tracer_weight), and the
 * groups' counts, bytes and requested bytes are those unbiased estimates,
 * rounded; the allocations the sample does not attribute (the walk's exact
 * total less the estimates, at least 0) are the group of site 0, "?".
 */
#include "snapshot_internal.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The innermost frame is the first one not inside the allocator or the
 * interpreter's allocation wrappers (CONTRACT.md section 2). */
static const char *const wrapper_functions[] = {
    "malloc",
    "calloc",
    "realloc",
    "free",
    "reallocarray",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
    "pvalloc",
    "__libc_malloc",
    "__libc_calloc",
    "__libc_realloc",
    "__libc_memalign",
    "operator new",
    "operator new[]",
    "_Znwm",
    "_Znam",
    "_ZnwmRKSt9nothrow_t",
    "_ZnamRKSt9nothrow_t",
    "_ZnwmSt11align_val_t",
    "_ZnamSt11align_val_t",
    "PyMem_Malloc",
    "PyMem_Calloc",
    "PyMem_Realloc",
    "PyMem_RawMalloc",
    "PyMem_RawCalloc",
    "PyMem_RawRealloc",
    "PyObject_Malloc",
    "PyObject_Calloc",
    "PyObject_Realloc",
    "_PyMem_RawMalloc",
    "_PyMem_RawCalloc",
    "_PyMem_RawRealloc",
    "_PyObject_Malloc",
    "_PyObject_Calloc",
    "_PyObject_Realloc",
    "_PyMem_DebugRawAlloc",
    "_PyMem_DebugRawMalloc",
    "_PyMem_DebugRawCalloc",
    "_PyMem_DebugMalloc",
    "_PyMem_DebugCalloc",
    "_PyMem_DebugRealloc",
    "pymalloc_alloc",
    "_PyObject_GC_Alloc",
    "_PyObject_GC_Malloc",
    "gc_alloc",
    /* perl's (sv.c, util.c: every allocation of the interpreter) */
    "Perl_safesysmalloc",
    "Perl_safesyscalloc",
    "Perl_safesysrealloc",
};

/* CPython's import machinery: noise that hides the answer (tracemalloc's
 * documentation filters the same two). */
static const char *const default_excludes[] = {
    "<frozen importlib._bootstrap>",
    "<frozen importlib._bootstrap_external>",
};
/* The tracer's own frames are dropped from stacks by default. */
static const char tracer_module_glob[] = "libheapwalk-trace*";

const char *hw_basename(const char *path)
{
	if (!path)
		return NULL;
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

/* CPython's object allocator's own functions (new_arena,
 * arena_map_mark_used, allocate_from_new_pool, ...: a pool or arena map
 * made for the allocation the program asked for) are inside the allocator
 * too: their file, wherever the build put it. */
static const char allocator_file[] = "obmalloc.c";

static bool is_wrapper(const hw_snapshot *s, uint32_t frame_id)
{
	const char *file = hw_basename(hw_strtab_get(&s->str, s->frames[frame_id].file));
	if (file && s->frames[frame_id].kind == HW_FRAME_NATIVE && !strcmp(file, allocator_file))
		return true;
	const char *fn = hw_strtab_get(&s->str, s->frames[frame_id].function);
	if (!fn)
		return false;
	for (size_t i = 0; i < HW_ARRAY_SIZE(wrapper_functions); i++)
		if (!strcmp(fn, wrapper_functions[i]))
			return true;
	return false;
}

static bool is_tracer_frame(const hw_snapshot *s, uint32_t frame_id)
{
	const char *m = hw_basename(hw_strtab_get(&s->str, s->frames[frame_id].module));
	return m && !fnmatch(tracer_module_glob, m, 0);
}

size_t hw_view_frames(const hw_snapshot *s, const hw_view_options *o, uint32_t site, uint32_t *ids,
                      size_t cap)
{
	if (!site || site >= s->n_sites)
		return 0;
	const hw_ssite *st = &s->sites[site];
	size_t n = 0;
	size_t limit = o && o->frames ? o->frames : cap;
	if (limit > cap)
		limit = cap;
	for (uint32_t i = 0; i < st->n && n < limit; i++) {
		uint32_t f = s->site_frames[st->off + i];
		if ((!o || !o->no_default_filters) && is_tracer_frame(s, f))
			continue;
		ids[n++] = f;
	}
	return n;
}

int hw_view_innermost(const hw_snapshot *s, const uint32_t *ids, size_t n)
{
	if (!n)
		return -1;
	int first = -1;
	for (size_t i = 0; i < n; i++) {
		if (s->frames[ids[i]].kind == HW_FRAME_PYTHON)
			return (int)i; /* Python frames before native ones */
		if (first < 0 && !is_wrapper(s, ids[i]))
			first = (int)i;
	}
	return first >= 0 ? first : 0;
}

int hw_view_innermost_native(const hw_snapshot *s, const uint32_t *ids, size_t n)
{
	int any = -1;
	for (size_t i = 0; i < n; i++) {
		if (s->frames[ids[i]].kind != HW_FRAME_NATIVE)
			continue;
		if (!is_wrapper(s, ids[i]))
			return (int)i;
		if (any < 0)
			any = (int)i;
	}
	return any;
}

const char *hw_frame_label(const hw_snapshot *s, uint32_t frame_id, char *buf, size_t cap)
{
	const hw_sframe *f = &s->frames[frame_id];
	const char *file = hw_strtab_get(&s->str, f->file);
	const char *mod = hw_basename(hw_strtab_get(&s->str, f->module));
	if (file && f->line > 0)
		snprintf(buf, cap, "%s:%d", file, f->line);
	else if (file)
		snprintf(buf, cap, "%s", file);
	else if (mod)
		snprintf(buf, cap, "%s+0x%" PRIx64, mod, f->module_offset);
	else if (f->pc)
		snprintf(buf, cap, "0x%" PRIx64, f->pc);
	else
		snprintf(buf, cap, "?");
	return buf;
}

size_t hw_view_filters(const hw_view_options *o, hw_view_filter *out, size_t cap)
{
	size_t n = 0;
	if (!o->no_default_filters) {
		for (size_t i = 0; i < HW_ARRAY_SIZE(default_excludes) && n < cap; i++)
			out[n++] = (hw_view_filter){default_excludes[i], 0, 0, 1, "file"};
		if (n < cap)
			out[n++] = (hw_view_filter){tracer_module_glob, 0, 1, 1, "module"};
	}
	for (size_t i = 0; i < o->n_filters && n < cap; i++)
		out[n++] = (hw_view_filter){o->filters[i].pattern, o->filters[i].include,
		                            o->all_frames, 0, "file"};
	return n;
}

hw_group_key hw_view_group_key(const hw_snapshot *s, const hw_view_options *o)
{
	if (o->group_by != HW_GROUP_DEFAULT)
		return o->group_by;
	return s->has_tracer || s->n_sites > 1 ? HW_GROUP_SITE : HW_GROUP_TYPE;
}

int hw_view_site_key(hw_group_key k)
{
	return k == HW_GROUP_SITE || k == HW_GROUP_FUNCTION || k == HW_GROUP_LINENO ||
	       k == HW_GROUP_FILENAME || k == HW_GROUP_MODULE;
}

int hw_view_needs_sites(const hw_snapshot *s, hw_group_key k)
{
	return hw_view_site_key(k) && !s->has_tracer && s->n_sites <= 1;
}

uint64_t hw_view_sample_bytes(const hw_snapshot *s, hw_group_key k)
{
	const char *mode = s->has_tracer ? s->tracer.mode : NULL;
	return hw_view_site_key(k) && mode && !strcmp(mode, "sampled") ? s->tracer.sample_bytes : 0;
}

/* ---- filters ---- */

static bool file_matches(const hw_snapshot *s, const char *pattern, const uint32_t *ids, size_t n,
                         int innermost, bool all_frames)
{
	if (!n)
		return !fnmatch(pattern, "?", 0);
	if (!all_frames) {
		const char *file = hw_strtab_get(&s->str, s->frames[ids[innermost]].file);
		return !fnmatch(pattern, file ? file : "?", 0);
	}
	for (size_t i = 0; i < n; i++) {
		const char *file = hw_strtab_get(&s->str, s->frames[ids[i]].file);
		if (!fnmatch(pattern, file ? file : "?", 0))
			return true;
	}
	return false;
}

/* tracemalloc's rule: with include filters, a trace must match one of them;
 * it must match no exclude filter. */
static bool site_passes(const hw_snapshot *s, const hw_view_options *o, const uint32_t *ids,
                        size_t n)
{
	int inner = hw_view_innermost(s, ids, n);
	if (!o->no_default_filters)
		for (size_t i = 0; i < HW_ARRAY_SIZE(default_excludes); i++)
			if (n && file_matches(s, default_excludes[i], ids, n, inner, false))
				return false;
	bool has_include = false, included = false;
	for (size_t i = 0; i < o->n_filters; i++) {
		bool m = file_matches(s, o->filters[i].pattern, ids, n, inner, o->all_frames);
		if (o->filters[i].include) {
			has_include = true;
			included |= m;
		} else if (m) {
			return false;
		}
	}
	return !has_include || included;
}

static bool site_passes_view(const hw_snapshot *s, const hw_view_options *o, uint32_t site,
                             uint32_t *ids)
{
	/* filters see the whole stack, not only --frames of it */
	hw_view_options whole = *o;
	whole.frames = 0;
	size_t n = hw_view_frames(s, &whole, site, ids, HW_SITE_MAX_FRAMES);
	return site_passes(s, o, ids, n);
}

int hw_view_site_pass(const hw_snapshot *s, const hw_view_options *o, uint8_t **pass)
{
	*pass = malloc(s->n_sites);
	uint32_t *ids = malloc(HW_SITE_MAX_FRAMES * sizeof *ids);
	if (!*pass || !ids) {
		free(*pass);
		free(ids);
		*pass = NULL;
		return hw_error_set(HW_ENOMEM, "out of memory filtering sites");
	}
	for (uint32_t st = 0; st < s->n_sites; st++)
		(*pass)[st] = site_passes_view(s, o, st, ids);
	free(ids);
	return HW_OK;
}

/* ---- the grouping ---- */

struct hw_grouping {
	hw_group_key key;
	uint64_t sample_bytes; /* the groups are estimates from this sample (0: exact) */
	hw_count total;
	hw_count total_requested; /* .bytes requested, .count allocations known */
	hw_group *groups;
	size_t n;
	hw_strtab keys;
};

/* The key string of a site for a site-derived key, into buf. */
static const char *site_key_string(const hw_snapshot *s, hw_group_key k, const uint32_t *ids,
                                   size_t n, char *buf, size_t cap)
{
	char lb[1024];
	if (!n)
		return "?";
	int in = hw_view_innermost(s, ids, n);
	const hw_sframe *f = &s->frames[ids[in]];
	const char *str;
	switch (k) {
	case HW_GROUP_SITE: {
		size_t used = 0;
		buf[0] = 0;
		for (size_t i = 0; i < n && used + 1 < cap; i++) {
			const char *l = hw_frame_label(s, ids[i], lb, sizeof lb);
			int w = snprintf(buf + used, cap - used, "%s%s", i ? " <- " : "", l);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		return buf;
	}
	case HW_GROUP_FUNCTION:
		/* a frame without a symbol: its place (module+offset), as
		 * lineno shows it, not "?", which says no site */
		str = hw_strtab_get(&s->str, f->function);
		return str ? str : hw_frame_label(s, ids[in], buf, cap);
	case HW_GROUP_LINENO:
		return hw_frame_label(s, ids[in], buf, cap);
	case HW_GROUP_FILENAME:
		str = hw_strtab_get(&s->str, f->file);
		return str ? str : "?";
	case HW_GROUP_MODULE: {
		int nat = hw_view_innermost_native(s, ids, n);
		if (nat < 0)
			return "?";
		str = hw_basename(hw_strtab_get(&s->str, s->frames[ids[nat]].module));
		return str ? str : "?";
	}
	default:
		return "?";
	}
}

static const char *allocator_name(unsigned a)
{
	static const char *const names[] = {"glibc", "glibc-mmap", "pymalloc", "?"};
	return names[a & 3];
}

static int cmp_group(const void *a, const void *b)
{
	const hw_group *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int oom(void)
{
	return hw_error_set(HW_ENOMEM, "out of memory grouping the snapshot");
}

/* Sampled estimates per key (hw_snapshot_group): sums of weights. */
struct estimates {
	double *count, *bytes, *req;
	double total_count, total_req; /* of the allocations whose request is known */
};

/* Make the groups of a sampled grouping estimates: each key gets its
 * weighted sums, the untraced allocations' key (unk) the rest of the exact
 * total on top.  A group's requested bytes stay shown (requested_count ==
 * count) where every allocation of it had its request known. */
static void apply_estimates(hw_grouping *g, const struct estimates *e, size_t n_keys, size_t unk,
                            uint64_t *cnt, uint64_t *bytes, uint64_t *req, uint64_t *reqc)
{
	double sum_c = 0, sum_b = 0;
	for (size_t k = 0; k < n_keys; k++) {
		if (!cnt[k])
			continue;
		int all_known = reqc[k] == cnt[k];
		cnt[k] = (uint64_t)llround(e->count[k]);
		bytes[k] = (uint64_t)llround(e->bytes[k]);
		req[k] = (uint64_t)llround(e->req[k]);
		reqc[k] = all_known ? cnt[k] : 0;
		sum_c += e->count[k];
		sum_b += e->bytes[k];
	}
	if (unk < n_keys) {
		double rc = (double)g->total.count - sum_c, rb = (double)g->total.bytes - sum_b;
		uint64_t more = rc > 0 ? (uint64_t)llround(rc) : 0;
		cnt[unk] += more;
		bytes[unk] += rb > 0 ? (uint64_t)llround(rb) : 0;
		if (more)
			reqc[unk] = 0; /* the rest's requests are not known */
	}
	g->total_requested.bytes = (uint64_t)llround(e->total_req);
	g->total_requested.count = (uint64_t)llround(e->total_count);
}

int hw_snapshot_group(hw_grouping **out, const hw_snapshot *s, const hw_view_options *o)
{
	*out = NULL;
	hw_view_options def;
	if (!o) {
		hw_view_options_init(&def);
		o = &def;
	}
	hw_grouping *g = calloc(1, sizeof *g);
	uint8_t *pass = NULL;
	uint32_t *site_key = NULL, *ids = NULL;
	uint64_t *cnt = NULL, *bytes = NULL, *req = NULL, *reqc = NULL;
	uint32_t *rep = NULL;
	hw_map64 sizes = {0}, group_of_key = {0};
	uint64_t *size_of_key = NULL;
	size_t size_keys_cap = 0;
	struct estimates est = {0};
	int rc = HW_OK;
	if (!g || hw_strtab_init(&g->keys))
		goto nomem;
	g->key = hw_view_group_key(s, o);
	unsigned states = o->states ? o->states : 1u << HW_STATE_USED;

	/* 1. per site: filter and key */
	bool site_keys = hw_view_site_key(g->key);
	pass = malloc(s->n_sites);
	site_key = calloc(s->n_sites, sizeof *site_key);
	ids = malloc(HW_SITE_MAX_FRAMES * sizeof *ids);
	if (!pass || !site_key || !ids)
		goto nomem;
	for (uint32_t st = 0; st < s->n_sites; st++) {
		pass[st] = site_passes_view(s, o, st, ids);
		if (site_keys) {
			size_t n = hw_view_frames(s, o, st, ids, HW_SITE_MAX_FRAMES);
			char buf[8192];
			const char *k = site_key_string(s, g->key, ids, n, buf, sizeof buf);
			if (hw_strtab_intern(&g->keys, k, &site_key[st]))
				goto nomem;
		}
	}

	/* 2. per allocation */
	size_t n_keys;
	switch (g->key) {
	case HW_GROUP_ALLOCATOR:
		n_keys = 4;
		break;
	case HW_GROUP_TYPE:
		n_keys = s->n_types;
		break;
	case HW_GROUP_ARENA:
		n_keys = s->n_arenas + 2; /* + pymalloc + mmap */
		break;
	case HW_GROUP_SIZE:
		n_keys = 0; /* grows */
		break;
	default:
		n_keys = g->keys.n;
		break;
	}
	size_t keys_cap = n_keys ? n_keys : 1024;
	cnt = calloc(keys_cap, sizeof *cnt);
	bytes = calloc(keys_cap, sizeof *bytes);
	rep = calloc(keys_cap, sizeof *rep);
	req = calloc(keys_cap, sizeof *req);
	reqc = calloc(keys_cap, sizeof *reqc);
	if (!cnt || !bytes || !rep || !req || !reqc)
		goto nomem;
	if ((g->sample_bytes = hw_view_sample_bytes(s, g->key)) != 0) {
		est.count = calloc(keys_cap, sizeof *est.count);
		est.bytes = calloc(keys_cap, sizeof *est.bytes);
		est.req = calloc(keys_cap, sizeof *est.req);
		if (!est.count || !est.bytes || !est.req)
			goto nomem;
	}
	for (size_t i = 0; i < s->n; i++) {
		uint8_t f = s->flags[i];
		if (!(states >> HW_F_STATE(f) & 1) || !pass[hw_s_site(s, i)])
			continue;
		size_t k;
		switch (g->key) {
		case HW_GROUP_ALLOCATOR:
			k = HW_F_ALLOCATOR(f);
			break;
		case HW_GROUP_TYPE:
			k = hw_s_type(s, i);
			break;
		case HW_GROUP_ARENA:
			if (HW_F_ALLOCATOR(f) == HW_ALLOCATOR_PYMALLOC)
				k = s->n_arenas;
			else if (!s->arena[i])
				k = s->n_arenas + 1;
			else
				k = s->arena[i];
			break;
		case HW_GROUP_SIZE: {
			int64_t v = hw_map64_get(&sizes, hw_s_size(s, i));
			if (v < 0) {
				v = (int64_t)n_keys;
				if (hw_map64_put(&sizes, hw_s_size(s, i), (uint32_t)n_keys))
					goto nomem;
				if (n_keys == keys_cap) {
					size_t nc = keys_cap * 2;
					uint64_t *c2 = realloc(cnt, nc * sizeof *c2);
					if (c2)
						cnt = c2;
					uint64_t *b2 = realloc(bytes, nc * sizeof *b2);
					if (b2)
						bytes = b2;
					uint32_t *r2 = realloc(rep, nc * sizeof *r2);
					if (r2)
						rep = r2;
					uint64_t *q2 = realloc(req, nc * sizeof *q2);
					if (q2)
						req = q2;
					uint64_t *qc2 = realloc(reqc, nc * sizeof *qc2);
					if (qc2)
						reqc = qc2;
					if (!c2 || !b2 || !r2 || !q2 || !qc2)
						goto nomem;
					memset(cnt + keys_cap, 0, keys_cap * sizeof *cnt);
					memset(bytes + keys_cap, 0, keys_cap * sizeof *bytes);
					memset(rep + keys_cap, 0, keys_cap * sizeof *rep);
					memset(req + keys_cap, 0, keys_cap * sizeof *req);
					memset(reqc + keys_cap, 0, keys_cap * sizeof *reqc);
					keys_cap = nc;
				}
				if (hw_grow((void **)&size_of_key, sizeof *size_of_key,
				            &size_keys_cap, n_keys + 1))
					goto nomem;
				size_of_key[n_keys] = hw_s_size(s, i);
				n_keys++;
			}
			k = (size_t)v;
			break;
		}
		default:
			k = site_key[hw_s_site(s, i)];
			break;
		}
		if (!cnt[k])
			rep[k] = hw_s_site(s, i);
		cnt[k]++;
		bytes[k] += hw_s_size(s, i);
		g->total.count++;
		g->total.bytes += hw_s_size(s, i);
		int known = s->slack && s->slack[i] != HW_SLACK_UNKNOWN;
		uint64_t r = known ? hw_s_size(s, i) - s->slack[i] : hw_s_size(s, i);
		if (known) {
			req[k] += r;
			reqc[k]++;
			g->total_requested.bytes += r;
			g->total_requested.count++;
		}
		if (est.count && hw_s_site(s, i)) {
			/* (a request not kept, too far below the usable size
			 * for the snapshot's slack: weighed by the usable size) */
			double w = hw_sample_weight(r, g->sample_bytes);
			est.count[k] += w;
			est.bytes[k] += w * (double)hw_s_size(s, i);
			if (known) {
				est.req[k] += w * (double)r;
				est.total_req += w * (double)r;
				est.total_count += w;
			}
		}
	}
	if (est.count)
		apply_estimates(g, &est, n_keys, site_key[0], cnt, bytes, req, reqc);

	/* 3. groups */
	size_t ng = 0;
	for (size_t k = 0; k < n_keys; k++)
		ng += cnt[k] != 0;
	g->groups = calloc(ng ? ng : 1, sizeof *g->groups);
	if (!g->groups)
		goto nomem;
	for (size_t k = 0; k < n_keys; k++) {
		if (!cnt[k])
			continue;
		char buf[64];
		const char *key;
		uint32_t kid;
		switch (g->key) {
		case HW_GROUP_ALLOCATOR:
			key = allocator_name((unsigned)k);
			break;
		case HW_GROUP_TYPE:
			key = k ? hw_snapshot_type_name(s, (uint32_t)k) : "?";
			break;
		case HW_GROUP_ARENA:
			if (k == s->n_arenas)
				key = "pymalloc";
			else if (k == s->n_arenas + 1)
				key = "mmap";
			else {
				snprintf(buf, sizeof buf, "0x%" PRIx64, s->arenas[k]);
				key = buf;
			}
			break;
		case HW_GROUP_SIZE:
			snprintf(buf, sizeof buf, "%" PRIu64, size_of_key[k]);
			key = buf;
			break;
		default:
			key = NULL;
			break;
		}
		if (key) {
			if (hw_strtab_intern(&g->keys, key, &kid))
				goto nomem;
		} else {
			kid = (uint32_t)k;
		}
		/* One group per key: ids that show alike (types of one name
		 * or none, arenas at one address, in a snapshot file that
		 * lists them twice) are one group, as a diff, which matches
		 * groups by their keys, needs. */
		int64_t at = hw_map64_get(&group_of_key, kid);
		if (at >= 0) {
			hw_group *same = &g->groups[at];
			same->count += cnt[k];
			same->bytes += bytes[k];
			same->requested_bytes += req[k];
			same->requested_count += reqc[k];
			if (!same->site)
				same->site = rep[k];
			continue;
		}
		if (hw_map64_put(&group_of_key, kid, (uint32_t)g->n))
			goto nomem;
		g->groups[g->n++] = (hw_group){
		    .key = hw_strtab_get(&g->keys, kid),
		    .count = cnt[k],
		    .bytes = bytes[k],
		    .requested_bytes = req[k],
		    .requested_count = reqc[k],
		    .site = rep[k],
		};
	}
	qsort(g->groups, g->n, sizeof *g->groups, cmp_group);
	*out = g;
	g = NULL;
	goto done;
nomem:
	rc = oom();
done:
	hw_grouping_free(g);
	free(pass);
	free(site_key);
	free(ids);
	free(cnt);
	free(bytes);
	free(rep);
	free(req);
	free(reqc);
	free(est.count);
	free(est.bytes);
	free(est.req);
	free(size_of_key);
	hw_map64_free(&sizes);
	hw_map64_free(&group_of_key);
	return rc;
}

size_t hw_grouping_count(const hw_grouping *g)
{
	return g->n;
}

const hw_group *hw_grouping_get(const hw_grouping *g, size_t i)
{
	return i < g->n ? &g->groups[i] : NULL;
}

hw_count hw_grouping_total(const hw_grouping *g)
{
	return g->total;
}

hw_count hw_grouping_total_requested(const hw_grouping *g)
{
	return g->total_requested;
}

hw_group_key hw_grouping_key(const hw_grouping *g)
{
	return g->key;
}

uint64_t hw_grouping_sample_bytes(const hw_grouping *g)
{
	return g->sample_bytes;
}

void hw_grouping_free(hw_grouping *g)
{
	if (!g)
		return;
	free(g->groups);
	hw_strtab_free(&g->keys);
	free(g);
}

/* ---- diff: a join of two groupings on the key string ---- */

struct hw_diff {
	hw_grouping *old_g, *new_g;
	hw_diff_group *groups;
	size_t n;
};

static uint64_t abs64(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static int cmp_diff(const void *a, const void *b)
{
	const hw_diff_group *x = a, *y = b;
	uint64_t ax = abs64(x->bytes_diff), ay = abs64(y->bytes_diff);
	if (ax != ay)
		return ax > ay ? -1 : 1;
	ax = abs64(x->count_diff);
	ay = abs64(y->count_diff);
	if (ax != ay)
		return ax > ay ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->key, y->key);
}

int hw_snapshot_diff(hw_diff **out, const hw_snapshot *old_s, const hw_snapshot *new_s,
                     const hw_view_options *o)
{
	*out = NULL;
	hw_view_options opts;
	if (o)
		opts = *o;
	else
		hw_view_options_init(&opts);
	/* both sides must group by the same key: resolve the default once,
	 * with a site key when either side has sites */
	if (opts.group_by == HW_GROUP_DEFAULT) {
		hw_group_key a = hw_view_group_key(old_s, &opts),
		             b = hw_view_group_key(new_s, &opts);
		opts.group_by = a == HW_GROUP_SITE || b == HW_GROUP_SITE ? HW_GROUP_SITE : a;
	}
	hw_diff *d = calloc(1, sizeof *d);
	if (!d)
		return oom();
	int rc = hw_snapshot_group(&d->old_g, old_s, &opts);
	if (!rc)
		rc = hw_snapshot_group(&d->new_g, new_s, &opts);
	if (rc) {
		hw_diff_free(d);
		return rc;
	}
	hw_strtab idx;
	size_t no = d->old_g->n, nn = d->new_g->n;
	bool *matched = calloc(no ? no : 1, sizeof *matched);
	d->groups = calloc(no + nn ? no + nn : 1, sizeof *d->groups);
	if (!matched || !d->groups || hw_strtab_init(&idx)) {
		free(matched);
		hw_diff_free(d);
		return oom();
	}
	/* old keys get ids 1..no in order (keys within a grouping are unique) */
	for (size_t i = 0; i < no; i++) {
		uint32_t id;
		if (hw_strtab_intern(&idx, d->old_g->groups[i].key, &id))
			goto nomem;
	}
	uint32_t n_old_ids = idx.n;
	for (size_t i = 0; i < nn; i++) {
		const hw_group *ng = &d->new_g->groups[i];
		uint32_t id;
		if (hw_strtab_intern(&idx, ng->key, &id))
			goto nomem;
		hw_diff_group *dg = &d->groups[d->n++];
		*dg = (hw_diff_group){.key = ng->key,
		                      .count = ng->count,
		                      .bytes = ng->bytes,
		                      .count_diff = (int64_t)ng->count,
		                      .bytes_diff = (int64_t)ng->bytes,
		                      .site = ng->site,
		                      .in_new = 1};
		if (id < n_old_ids) {
			const hw_group *og = &d->old_g->groups[id - 1];
			matched[id - 1] = true;
			dg->count_diff -= (int64_t)og->count;
			dg->bytes_diff -= (int64_t)og->bytes;
		}
	}
	for (size_t i = 0; i < no; i++) {
		if (matched[i])
			continue;
		const hw_group *og = &d->old_g->groups[i];
		d->groups[d->n++] = (hw_diff_group){.key = og->key,
		                                    .count_diff = -(int64_t)og->count,
		                                    .bytes_diff = -(int64_t)og->bytes,
		                                    .site = og->site};
	}
	hw_strtab_free(&idx);
	free(matched);
	qsort(d->groups, d->n, sizeof *d->groups, cmp_diff);
	*out = d;
	return HW_OK;
nomem:
	hw_strtab_free(&idx);
	free(matched);
	hw_diff_free(d);
	return oom();
}

size_t hw_diff_count(const hw_diff *d)
{
	return d->n;
}

const hw_diff_group *hw_diff_get(const hw_diff *d, size_t i)
{
	return i < d->n ? &d->groups[i] : NULL;
}

void hw_diff_totals(const hw_diff *d, hw_count *old_total, hw_count *new_total)
{
	if (old_total)
		*old_total = d->old_g->total;
	if (new_total)
		*new_total = d->new_g->total;
}

void hw_diff_free(hw_diff *d)
{
	if (!d)
		return;
	hw_grouping_free(d->old_g);
	hw_grouping_free(d->new_g);
	free(d->groups);
	free(d);
}
