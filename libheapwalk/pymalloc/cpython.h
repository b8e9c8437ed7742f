/*
 * cpython.h: what the files of libheapwalk/pymalloc/ share: the per-version
 * layout table of CPython's small-object allocator, the walker's handle and
 * the helpers that find CPython's state in a target.
 *
 * Invariants:
 *  - every offset or size used to walk CPython memory comes from struct
 *    hw_py_layout (filled from the table in layout.c, then overridden by
 *    DWARF when the target has it), never from a literal in walking code;
 *  - a pymalloc state is walked at most once: states are identified by the
 *    address of their arena_object array.
 */
#ifndef HW_PYMALLOC_CPYTHON_H
#define HW_PYMALLOC_CPYTHON_H

#include "internal.h"

/* Where the allocator's state lives, by CPython version. */
enum hw_py_state_kind {
	HW_PY_STATE_STATICS = 0,    /* 3.8-3.11: static globals in obmalloc.c */
	HW_PY_STATE_INTERP = 1,     /* 3.12: struct _obmalloc_state inside PyInterpreterState */
	HW_PY_STATE_INTERP_PTR = 2, /* 3.13: PyInterpreterState.obmalloc points to it */
};

/*
 * Layout facts for one CPython minor version (x86-64).  Sources (CPython
 * tags v3.8.18 .. v3.13.0): Objects/obmalloc.c (ARENA_BITS, POOL_BITS,
 * struct pool_header, struct arena_object, _PyObject_DebugMallocStats),
 * Include/internal/pycore_obmalloc.h (3.12+), Include/internal/
 * pycore_runtime.h and pycore_interp.h (interpreter list), Include/object.h
 * (PyTypeObject, Py_TPFLAGS_*), Include/internal/pycore_gc.h (PyGC_Head).
 */
struct hw_py_layout {
	unsigned minor;
	uint32_t arena_size;    /* ARENA_SIZE */
	uint32_t pool_size;     /* POOL_SIZE */
	uint32_t alignment;     /* ALIGNMENT: size class step */
	uint32_t n_classes;     /* SMALL_REQUEST_THRESHOLD / ALIGNMENT */
	uint32_t pool_overhead; /* POOL_OVERHEAD: sizeof(struct pool_header) rounded */
	enum hw_py_state_kind state_kind;

	/* struct pool_header */
	uint32_t ph_count, ph_freeblock, ph_arenaindex, ph_szidx, ph_nextoffset, ph_maxnextoffset;
	/* struct arena_object */
	uint32_t ao_size, ao_address, ao_pool_address, ao_nfreepools, ao_ntotalpools;

	/* 3.12+: _PyRuntimeState.interpreters.head, PyInterpreterState.next,
	 * PyInterpreterState.obmalloc, and inside struct _obmalloc_state:
	 * mgmt.arenas, mgmt.maxarenas (measured on 3.12.1 and 3.13.0 with gdb;
	 * DWARF overrides them when present). */
	uint64_t rt_interp_head, interp_next, interp_obmalloc;
	uint64_t st_arenas, st_maxarenas;

	/* Objects: PyObject.ob_type, PyTypeObject.tp_name, tp_basicsize,
	 * tp_itemsize, tp_flags; sizeof(PyGC_Head); the pre-header (managed
	 * dict/weakref pointers) placed before PyGC_Head and the tp_flags bits
	 * that announce it (3.11: MANAGED_DICT; 3.12+: MANAGED_DICT |
	 * MANAGED_WEAKREF). */
	uint32_t ob_type, tp_name, tp_basicsize, tp_itemsize, tp_flags;
	uint32_t gc_head_size, preheader_size;
	uint64_t preheader_flags;

	/* Heap types' qualified names, "module.QualName" as type.__repr__
	 * builds them: PyTypeObject.tp_dict, PyHeapTypeObject.ht_qualname,
	 * PyDictObject.ma_keys, PyDictKeysObject (3.8-3.10: dk_size at 8,
	 * dk_nentries, indices, 24-byte entries; 3.11+: dk_log2_size at 8,
	 * dk_log2_index_bytes at 9, dk_kind at 10, 16-byte entries for
	 * unicode-only keys), compact ASCII str: length, state, data. */
	uint32_t tp_dict, ht_qualname, ma_keys;
	uint32_t dk_nentries, dk_indices;
	int dk_log2; /* 3.11+ keys layout */
	uint32_t str_length, str_state, str_data;
};

#define HW_PY_TPFLAGS_MANAGED_DICT (1UL << 4)
#define HW_PY_TPFLAGS_HEAPTYPE     (1UL << 9)

#define HW_PY_TPFLAGS_HAVE_GC          (1UL << 14)
#define HW_PY_TPFLAGS_LIST_SUBCLASS    (1UL << 25)
#define HW_PY_TPFLAGS_UNICODE_SUBCLASS (1UL << 28)
#define HW_PY_TPFLAGS_DICT_SUBCLASS    (1UL << 29)
#define HW_PY_TPFLAGS_TYPE_SUBCLASS    (1UL << 31)

/* The layout of CPython 3.minor, or NULL when not supported. */
const struct hw_py_layout *hw_py_layout_find(unsigned minor);

/* One pymalloc state: its arena_object array. */
struct hw_py_state {
	uint64_t arenas; /* address of struct arena_object[maxarenas] */
	uint32_t maxarenas;
};

#define HW_PY_MAX_STATES 64
/* The most arena objects a state's array can hold: new_arena() starts at
 * 16 and doubles; more than 16 << 20 is no CPython's (16 TiB of 1 MiB
 * arenas).  A larger maxarenas, or a pool's arena index at or above it,
 * is corrupt. */
#define HW_PY_MAX_ARENA_OBJECTS (1u << 24)

struct hw_pymalloc {
	hw_target *target;
	const hw_module *module; /* libpython or the executable holding CPython */
	struct hw_py_layout layout;
	unsigned major, minor, micro;
	int free_threaded;   /* a Py_GIL_DISABLED build (mimalloc, no pymalloc pools) */
	uint64_t type_type;  /* &PyType_Type in the target */
	const char *symbols; /* "debuginfo", "symtab" or "heuristic" */
	size_t n_states;
	struct hw_py_state states[HW_PY_MAX_STATES];
	hw_pymalloc_summary summary;
	int walked;
};

/* detect.c: find the module, the version and every state. */
int hw_py_detect(struct hw_pymalloc *p);

/* heuristic.c: find the arena_object array without symbols, by scanning
 * anonymous writable mappings for pool headers.  Fills p->states. */
int hw_py_find_states_heuristic(struct hw_pymalloc *p);

/* Whether the 48-byte pool header at hdr looks like a live pool of this
 * layout (count > 0); *szidx gets its size class.  check_freeblock: the
 * freeblock pointer must lie on a block inside the pool too (the scan
 * wants it; the walk checks the whole chain itself and reports it). */
int hw_py_pool_header_ok(const struct hw_py_layout *L, const unsigned char *hdr, uint64_t pool,
                         unsigned *szidx, int check_freeblock);

/* Little-endian loads from a byte buffer read out of the target. */
static inline uint64_t hw_py_u64(const unsigned char *b, size_t off)
{
	uint64_t v;
	__builtin_memcpy(&v, b + off, sizeof v);
	return v;
}
static inline uint32_t hw_py_u32(const unsigned char *b, size_t off)
{
	uint32_t v;
	__builtin_memcpy(&v, b + off, sizeof v);
	return v;
}

#endif /* HW_PYMALLOC_CPYTHON_H */
