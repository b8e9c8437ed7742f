/*
 * snapshot_internal.h: the snapshot's layout and the small tables it is made
 * of, shared by the files of libheapwalk/snapshot/ and libheapwalk/render/.
 *
 * Invariants:
 *  - allocations are column arrays (struct of arrays): address 8, size 4
 *    (a size of 2^31 or more is an index into `big`, which moves with it),
 *    arena 2, flags 1 = 15 bytes per allocation, plus type 4 and site 4
 *    once one allocation has a nonzero one (NULL until then: all 0; a core
 *    without CPython or C++ types, a target without the tracer, pays
 *    nothing for them) and slack 2 once a request is known; after
 *    hw_snapshot_finish() they are sorted by address and the arrays are
 *    trimmed to their length.
 *  - every id is an index into its table; id 0 is "none" in every table
 *    (string 0 is NULL, type 0 is "?", site 0 has no frames, arena 0 is 0).
 *  - interned strings never move (they live in fixed blocks), so a
 *    const char * handed out stays valid as long as the snapshot.
 */
#ifndef HW_SNAPSHOT_INTERNAL_H
#define HW_SNAPSHOT_INTERNAL_H

#include "internal.h"

#include <stdbool.h>

/* ---- hashing ---- */

static inline uint64_t hw_mix64(uint64_t x)
{
	/* splitmix64's finalizer: every input bit moves every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t hw_hash_bytes(const void *p, size_t n, uint64_t seed);

/* ---- idset: a set of uint32 ids found by hash + caller's equality ---- */

typedef struct hw_idset {
	uint64_t *slots; /* (hash32 << 32) | id; 0 = empty (ids are >= 1) */
	size_t mask;     /* capacity - 1, capacity a power of two */
	size_t n;
} hw_idset;

typedef bool (*hw_id_eq)(const void *ctx, uint32_t id, const void *key);

/* The id whose hash is h and for which eq() holds, or 0. */
uint32_t hw_idset_find(const hw_idset *s, uint64_t h, hw_id_eq eq, const void *ctx,
                       const void *key);
int hw_idset_insert(hw_idset *s, uint64_t h, uint32_t id);
void hw_idset_free(hw_idset *s);

/* ---- string table: interned, stable strings ---- */

#define HW_STR_MAX 4096 /* longer strings (from target data) are cut */

typedef struct hw_strblock hw_strblock;

typedef struct hw_strtab {
	const char **ptr; /* id -> string; ptr[0] = NULL */
	uint32_t *len;
	uint32_t n, cap;
	hw_idset index;
	hw_strblock *blocks;
	size_t block_used, block_cap;
	size_t bytes; /* memory held by blocks */
} hw_strtab;

int hw_strtab_init(hw_strtab *t);
/* Intern s (NULL gives 0); *id is the same for equal strings. */
int hw_strtab_intern(hw_strtab *t, const char *s, uint32_t *id);
int hw_strtab_intern_n(hw_strtab *t, const char *s, size_t n, uint32_t *id);
static inline const char *hw_strtab_get(const hw_strtab *t, uint32_t id)
{
	return id < t->n ? t->ptr[id] : NULL;
}
void hw_strtab_free(hw_strtab *t);

/* ---- the snapshot ---- */

/* flags byte: allocator (2 bits), state (2 bits), bin (3 bits). */
#define HW_F_ALLOCATOR(f)      ((f)&3)
#define HW_F_STATE(f)          (((f) >> 2) & 3)
#define HW_F_BIN(f)            (((f) >> 4) & 7)
#define HW_F_MAKE(al, st, bin) ((uint8_t)(((al)&3) | (((st)&3) << 2) | (((bin)&7) << 4)))

typedef struct hw_sframe {
	uint32_t function, file, module; /* string ids */
	int32_t line;
	uint64_t pc, module_offset;
	uint8_t kind;
} hw_sframe;

typedef struct hw_ssite {
	uint32_t off, n; /* frames site_frames[off .. off+n) */
} hw_ssite;

typedef struct hw_sproblem {
	uint32_t kind, message;
	uint64_t address;
} hw_sproblem;

#define HW_MAX_ARENAS    65535
#define HW_SLACK_UNKNOWN 0xffff

struct hw_snapshot {
	/* allocations, columns */
	size_t n, cap;
	uint64_t *addr;
	uint32_t *size32;      /* the size, or HW_SIZE_BIG | its index in big */
	uint32_t *type, *site; /* NULL: every id is 0 */
	uint16_t *arena;
	uint8_t *flags;
	uint16_t *slack; /* size - requested; HW_SLACK_UNKNOWN; NULL until one is known */
	bool sorted;
	uint64_t *big; /* sizes of 2^31 or more */
	size_t n_big, cap_big;

	hw_strtab str;

	uint32_t *types; /* type id -> string id; types[0] = 0 */
	uint32_t n_types, cap_types;
	hw_map64 type_index; /* string id -> type id */

	hw_sframe *frames; /* frames[0] unused */
	uint32_t n_frames, cap_frames;
	hw_idset frame_index;

	hw_ssite *sites; /* sites[0]: no frames */
	uint32_t n_sites, cap_sites;
	uint32_t *site_frames; /* frame ids */
	size_t n_site_frames, cap_site_frames;
	hw_idset site_index;

	uint64_t *arenas; /* arena index -> address; arenas[0] = 0 */
	uint32_t n_arenas, cap_arenas;
	hw_map64 arena_index;

	hw_sproblem *problems;
	size_t n_problems, cap_problems;
	uint64_t problems_dropped;

	bool has_glibc, has_pymalloc, has_tracer;
	hw_glibc_summary glibc;
	hw_pymalloc_summary pymalloc;
	hw_tracer_summary tracer;

	hw_snapshot_target target;
};

#define HW_SIZE_BIG 0x80000000u

/* Allocation i's size. */
static inline uint64_t hw_s_size(const hw_snapshot *s, size_t i)
{
	uint32_t v = s->size32[i];
	return v < HW_SIZE_BIG ? v : s->big[v & ~HW_SIZE_BIG];
}
/* The size column's word for size (a new entry in big for a large one);
 * -1 out of memory. */
int hw_s_size_word(hw_snapshot *s, uint64_t size, uint32_t *out);

/* Allocation i's type and site ids (columns that may be absent). */
static inline uint32_t hw_s_type(const hw_snapshot *s, size_t i)
{
	return s->type ? s->type[i] : 0;
}
static inline uint32_t hw_s_site(const hw_snapshot *s, size_t i)
{
	return s->site ? s->site[i] : 0;
}
/* Set allocation i's type or site id (i < cap), making the column on the
 * first nonzero id. */
int hw_snapshot_set_type(hw_snapshot *s, size_t i, uint32_t type);
int hw_snapshot_set_site(hw_snapshot *s, size_t i, uint32_t site);

/* A frame of site `site` as the public struct (strings from the table). */
void hw_snapshot_frame(const hw_snapshot *s, uint32_t frame_id, hw_frame *out);
/* Intern a frame; *id >= 1. */
int hw_snapshot_add_frame(hw_snapshot *s, const hw_frame *f, uint32_t *id);
/* Intern a stack given as frame ids. */
int hw_snapshot_add_site_ids(hw_snapshot *s, const uint32_t *ids, size_t n, uint32_t *id);
/* The .hsnap loader: what the file was taken of (kind, path). */
int hw_snapshot_set_source(hw_snapshot *s, const char *kind, const char *path);
/* Add an arena address, giving its index (0 for address 0). */
int hw_snapshot_arena_id(hw_snapshot *s, uint64_t address, uint16_t *id);
/* Append an allocation by ids (no validation beyond the tables' sizes). */
int hw_snapshot_push(hw_snapshot *s, uint64_t addr, uint64_t size, uint8_t flags, uint16_t arena,
                     uint32_t type, uint32_t site);
/* hw_snapshot_push inlined for the walkers' visitor: the common case (room
 * left, the id columns it needs exist), else the call. */
static inline int hw_snapshot_push_inline(hw_snapshot *s, uint64_t addr, uint64_t size,
                                          uint8_t flags, uint16_t arena, uint32_t type,
                                          uint32_t site)
{
	size_t i = s->n;
	if (i == s->cap || (type && !s->type) || (site && !s->site) || size >= HW_SIZE_BIG)
		return hw_snapshot_push(s, addr, size, flags, arena, type, site);
	s->n = i + 1;
	if (i && s->addr[i - 1] > addr)
		s->sorted = false;
	s->addr[i] = addr;
	s->size32[i] = (uint32_t)size;
	s->flags[i] = flags;
	s->arena[i] = arena;
	if (s->type)
		s->type[i] = type;
	if (s->site)
		s->site[i] = site;
	if (s->slack)
		s->slack[i] = HW_SLACK_UNKNOWN;
	return HW_OK;
}
/* Set the slack (size - requested) of allocation i. */
int hw_snapshot_set_slack(hw_snapshot *s, size_t i, uint16_t slack);
/* Reserve room for n more allocations. */
int hw_snapshot_reserve(hw_snapshot *s, size_t n);

/* ---- views over sites (group.c), shared with render/ ---- */

/* The frames a view sees of a site: the tracer's own frames dropped unless
 * o->no_default_filters, then at most o->frames kept.  Frame ids into ids;
 * returns the count. */
size_t hw_view_frames(const hw_snapshot *s, const hw_view_options *o, uint32_t site, uint32_t *ids,
                      size_t cap);
/* Index in ids of the innermost frame: the first that is not an allocator
 * wrapper, a Python frame before native ones; -1 when n is 0. */
int hw_view_innermost(const hw_snapshot *s, const uint32_t *ids, size_t n);
/* Index of the innermost native frame that is not a wrapper, -1 when none. */
int hw_view_innermost_native(const hw_snapshot *s, const uint32_t *ids, size_t n);
/* "file:line", else "module+0xOFF", else "0xPC", else "?" */
const char *hw_frame_label(const hw_snapshot *s, uint32_t frame_id, char *buf, size_t cap);
const char *hw_basename(const char *path);

/* The filters a view applies, defaults included, in order. */
typedef struct hw_view_filter {
	const char *pattern;
	int include;
	int all_frames;
	int is_default;
	const char *what; /* "file" or "module" */
} hw_view_filter;
size_t hw_view_filters(const hw_view_options *o, hw_view_filter *out, size_t cap);
/* Per site id, 1 when the view's filters keep the site (malloc'd array of
 * s->n_sites bytes into *pass). */
int hw_view_site_pass(const hw_snapshot *s, const hw_view_options *o, uint8_t **pass);
/* The group key the view uses for s (HW_GROUP_DEFAULT resolved). */
hw_group_key hw_view_group_key(const hw_snapshot *s, const hw_view_options *o);
/* 1 for the keys made from a site's frames (site, function, lineno,
 * filename, module). */
int hw_view_site_key(hw_group_key k);
/* 1 when the view's key needs sites and s has no tracer data. */
int hw_view_needs_sites(const hw_snapshot *s, hw_group_key k);
/* The tracer's sampling interval when a view of s by key k gives
 * estimates (its tracer sampled, k a site key), else 0. */
uint64_t hw_view_sample_bytes(const hw_snapshot *s, hw_group_key k);

/* .hsnap internals, exposed for the fuzz target: decode an uncompressed
 * payload into a new snapshot. */
int hw_hsnap_decode_payload(hw_snapshot **out, const uint8_t *p, size_t n);
int hw_hsnap_load_buffer(hw_snapshot **out, const void *buf, size_t len, bool verify_checksum);

#endif /* HW_SNAPSHOT_INTERNAL_H */
