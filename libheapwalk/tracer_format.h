/*
 * tracer_format.h: the layout of the companion tracer's in-process tables,
 * shared by the writer (tracer/, libheapwalk-trace.so) and the reader
 * (libheapwalk/tracer_table.c).  One header, versioned: a change of any
 * struct here bumps HWT_FORMAT_VERSION and the reader refuses versions it
 * does not know.
 *
 * Everything lives in anonymous private mmap regions of the traced process,
 * so every core of the process carries it:
 *
 *   root      one page-aligned region starting with struct hwt_root (magic
 *             "HWTRACE\1" at offset 0).  The tracer's exported symbol
 *             `heapwalk_trace_root` (a pointer) names it; a reader without
 *             symbols finds it by the magic at the start of a mapping.
 *   shards    HWT_SHARDS live tables (address -> site, requested size), each
 *             an array of struct hwt_live_entry in buckets of
 *             HWT_BUCKET_SLOTS (one cache line), an address's entry in one
 *             of its two buckets (hwt_buckets: bucketized cuckoo hashing);
 *             grown by a quarter when 90% full; described by struct
 *             hwt_shard in the root.  An entry's key is the address (always
 *             16-byte aligned).  (Tracers before 2026-12-06 wrote the same
 *             array with linear probing and a probe hint in the key's low 4
 *             bits, HWT_KEY_HINT: a reader masks those bits off and does not
 *             depend on where in its shard an entry sits.)
 *   pyarenas  (mode all, CPython) a registry of pymalloc memory with a
 *             shadow (struct hwt_pyarena): the arenas made since the PyMem
 *             hooks went in, and single pools of the arenas made before.
 *             A shadow has one 32-bit slot per 16 bytes of its range, the
 *             slot of a block's first byte holding its site and requested
 *             size (HWT_SHADOW_*), 0 when the block is not recorded there.
 *             Recording or forgetting a small pymalloc block is then one
 *             store, with no probe; the writer decides which blocks go
 *             there (the others, and anything that does not fit a slot,
 *             go to the shards).
 *   sites     an array of struct hwt_site, index = site id (1-based; slot 0
 *             unused), insert-only, in a reserved region that never moves.
 *   frames    a pool of 64-bit words, insert-only, never moves: a site's
 *             native return addresses (n_native words) then its Python
 *             frames (n_python pairs of words: code object address, byte
 *             offset of the instruction in the code).
 *   codes     the code-object registry: every code object a site refers to,
 *             each referenced once (Py_IncRef) so it outlives the site.
 *             An open-addressing set of addresses (0 = empty).
 *
 * Invariants the writer keeps (and the reader checks, trusting nothing):
 *  - root.self == the root's own address; root.size covers the struct.
 *  - live entries: key 0 means empty; the address is key & ~HWT_KEY_HINT;
 *    site <= sites_count; the shard an entry is in is hwt_shard_of(address).
 *  - pyarenas[0, pyarenas_count): base and size multiples of 16, the shadow
 *    size / 16 slots; records do not overlap (a core taken while one is
 *    being moved may show it twice: the reader keeps one of each address).
 *  - a site's words [frames_at, frames_at + n_native + 2 * n_python) lie
 *    inside the pool's used part; n_native <= HWT_MAX_NATIVE, n_python <=
 *    HWT_MAX_PYTHON.
 *  - a core may be taken at any instant: an entry being moved (to its
 *    other bucket, or into a grown table) may appear twice (the reader
 *    keeps one); counters may lag by one.
 *
 * x86-64 only (little-endian, 8-byte pointers).  Field offsets are fixed by
 * the explicit sizes below; the static asserts pin them.
 */
#ifndef HEAPWALK_TRACER_FORMAT_H
#define HEAPWALK_TRACER_FORMAT_H

#include <stdint.h>

#define HWT_MAGIC          "HWTRACE\x01" /* 8 bytes, no NUL stored */
#define HWT_MAGIC_LEN      8
#define HWT_FORMAT_VERSION 5
#define HWT_ROOT_SYMBOL    "heapwalk_trace_root"

#define HWT_SHARDS         256         /* live-table shards, each with its own lock */
#define HWT_MAX_NATIVE     64          /* --native-frames upper bound */
#define HWT_MAX_PYTHON     128         /* --python-frames upper bound */
#define HWT_SIZE_SATURATED 0xffffffffu /* requested size >= 4 GiB */

enum hwt_mode {
	HWT_MODE_ALL = 0,
	HWT_MODE_SAMPLED = 1,
	/* HEAPWALK_TRACE=off: the hooks are in, nothing is recorded, until the
	 * start signal (coretool trace --start PID) switches it to sampled
	 * mode, one sample every sample_bytes on average */
	HWT_MODE_DORMANT = 2,
};

/* The signal that starts a dormant tracer: SIGRTMIN + this (sigqueue's
 * value, when not 0, the mean sampling interval in bytes). */
#define HWT_START_SIGNAL_RT 7

/* Which CPython frame layout the tracer read (HWT_PY_NONE: no Python). */
enum hwt_python_layout {
	HWT_PY_NONE = 0,
	HWT_PY_38 = 1, /* 3.8, 3.9: PyFrameObject chain, f_lasti in bytes */
	HWT_PY_310 = 2,
	HWT_PY_311 = 3,
	HWT_PY_312 = 4,
	HWT_PY_313 = 5,
	HWT_PY_314 = 6, /* 3.14, 3.15: f_executable a tagged _PyStackRef */
};

/* One live allocation: 16 bytes. */
struct hwt_live_entry {
	uint64_t key;       /* the pointer the program got | probe hint; 0 = empty slot */
	uint32_t site;      /* 1-based site id */
	uint32_t requested; /* the size asked for, HWT_SIZE_SATURATED if >= 4 GiB */
};

/* A key's low 4 bits: zero from the current writer (earlier ones kept a
 * linear-probing distance there); a reader masks them off. */
#define HWT_KEY_HINT 15ull

static inline uint64_t hwt_key_address(uint64_t key)
{
	return key & ~HWT_KEY_HINT;
}

struct hwt_shard {
	uint32_t lock; /* the writer's spinlock: 1 while being modified */
	uint32_t reserved;
	uint64_t table;    /* address of hwt_live_entry[capacity] (0: none yet) */
	uint64_t capacity; /* slots */
	uint64_t count;    /* occupied slots */
};

/* A pymalloc arena and its shadow (mode all, CPython). */
struct hwt_pyarena {
	uint64_t base;   /* the arena's (or pool's) first byte */
	uint64_t size;   /* its bytes */
	uint64_t shadow; /* address of uint32_t[size / 16]: a slot per 16 bytes */
};

/* A shadow slot: the site in the low HWT_SHADOW_SITE_BITS, the requested
 * size minus one above (pymalloc serves 1 to 512 bytes); 0: no entry. */
#define HWT_SHADOW_SITE_BITS   23
#define HWT_SHADOW_SITE_MAX    ((1u << HWT_SHADOW_SITE_BITS) - 1)
#define HWT_SHADOW_MAX_REQUEST 512u
#define HWT_SHADOW_GRANULE     16u

static inline uint32_t hwt_shadow_pack(uint32_t site, uint32_t requested)
{
	return site | (requested - 1) << HWT_SHADOW_SITE_BITS;
}

static inline uint32_t hwt_shadow_site(uint32_t slot)
{
	return slot & HWT_SHADOW_SITE_MAX;
}

static inline uint32_t hwt_shadow_requested(uint32_t slot)
{
	return (slot >> HWT_SHADOW_SITE_BITS) + 1;
}

struct hwt_site {
	uint64_t frames_at; /* index of the first word in the frame pool */
	uint16_t n_native;  /* return addresses, innermost (the caller) first */
	uint16_t n_python;  /* Python frames, innermost first */
	uint32_t hash;      /* the writer's dedup hash (low 32 bits) */
};

struct hwt_root {
	char magic[HWT_MAGIC_LEN]; /* HWT_MAGIC */
	uint32_t version;          /* HWT_FORMAT_VERSION */
	uint32_t size;             /* sizeof(struct hwt_root) */
	uint64_t self;             /* address of this struct in the process */
	uint64_t pid;              /* getpid() when the tables were made (updated after fork) */
	uint32_t mode;             /* enum hwt_mode */
	uint32_t native_frames;    /* --native-frames */
	uint64_t sample_bytes;     /* mean sampling interval, 0 in mode all */
	uint32_t python_frames;    /* --python-frames */
	uint32_t python_layout;    /* enum hwt_python_layout, set when hooks install */
	uint64_t python_version;   /* PY_VERSION_HEX of the interpreter, 0 if none */

	/* sites */
	uint64_t sites; /* address of struct hwt_site[sites_capacity] */
	uint64_t sites_capacity;
	uint64_t sites_count; /* highest site id in use */
	uint64_t frames;      /* address of uint64_t[frames_capacity] */
	uint64_t frames_capacity;
	uint64_t frames_used;
	/* code objects */
	uint64_t codes; /* address of uint64_t[codes_capacity] (a set) */
	uint64_t codes_capacity;
	uint64_t codes_count;
	/* counters (approximate under concurrency, for the summary) */
	uint64_t dropped; /* allocations not recorded (table or site pool full) */
	/* pymalloc arenas with a shadow */
	uint64_t pyarenas; /* address of struct hwt_pyarena[pyarenas_capacity], 0: none */
	uint64_t pyarenas_capacity;
	uint64_t pyarenas_count;
	uint64_t reserved[11];

	struct hwt_shard shards[HWT_SHARDS];
};

/* Hashing addresses.  The shard is the top byte of a hash of the
 * address's 256-byte block (the reader checks that each entry sits in the
 * shard its address selects).  Inside a shard, an address has two buckets
 * of HWT_BUCKET_SLOTS entries (hwt_buckets): the first from its 128-byte
 * granule, so that blocks allocated one after another (a pymalloc pool, a
 * run of small chunks) share a cache line, the second from the address
 * itself; they always differ.  Only the writer places entries by them;
 * tests build tables with them.  The capacity is a multiple of
 * HWT_BUCKET_SLOTS, never below HWT_MIN_CAPACITY. */
#define HWT_MIN_CAPACITY  64
#define HWT_BLOCK_SHIFT   8 /* the shard's block: 256 bytes */
#define HWT_GRANULE_SHIFT 7 /* the first bucket's granule: 128 bytes */
#define HWT_BUCKET_SLOTS  4 /* 64 bytes, one cache line */

static inline uint64_t hwt_hash_address(uint64_t address)
{
	uint64_t h = (address >> 4) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static inline uint64_t hwt_hash_block(uint64_t address)
{
	uint64_t h = (address >> HWT_BLOCK_SHIFT) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static inline unsigned hwt_shard_of(uint64_t address)
{
	return (unsigned)(hwt_hash_block(address) >> 56) % HWT_SHARDS;
}

/* x scaled to [0, n) by its high bits (multiply-shift). */
static inline uint64_t hwt_scale(uint64_t x, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)x * n) >> 64);
}

/* The address's two buckets in a table of capacity slots.  Multipliers
 * other than the shard's, so that the buckets spread over the whole table
 * for the addresses of one shard. */
static inline void hwt_buckets(uint64_t address, uint64_t capacity, uint64_t *b1, uint64_t *b2)
{
	uint64_t nb = capacity / HWT_BUCKET_SLOTS;
	uint64_t h1 = (address >> HWT_GRANULE_SHIFT) * 0xbf58476d1ce4e5b9ull;
	uint64_t h2 = (address >> 4) * 0x94d049bb133111ebull;
	uint64_t x = hwt_scale(h1, nb), y = hwt_scale(h2, nb);
	*b1 = x;
	*b2 = y != x ? y : x + 1 < nb ? x + 1 : 0;
}

_Static_assert(sizeof(struct hwt_live_entry) == 16, "live entry is 16 bytes");
_Static_assert(sizeof(struct hwt_shard) == 32, "shard header is 32 bytes");
_Static_assert(sizeof(struct hwt_site) == 16, "site is 16 bytes");
_Static_assert(sizeof(struct hwt_pyarena) == 24, "pyarena record is 24 bytes");
_Static_assert(HWT_SHADOW_MAX_REQUEST - 1 <= 0xffffffffu >> HWT_SHADOW_SITE_BITS,
               "a shadow slot holds every pymalloc request");
_Static_assert(__builtin_offsetof(struct hwt_root, shards) == 256, "root header is 256 bytes");

#endif /* HEAPWALK_TRACER_FORMAT_H */
