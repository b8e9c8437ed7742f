/*
 * layout.c: the per-version layout table of CPython's pymalloc and object
 * headers (x86-64, release builds).  One row per minor version; DWARF, when
 * the target has it, overrides the interpreter-state offsets (detect.c).
 *
 * Sources, CPython git tags v3.6.15 .. v3.13.0:
 *  - Objects/obmalloc.c: ALIGNMENT 16 (x86-64), SMALL_REQUEST_THRESHOLD 512,
 *    POOL_SIZE 4 KiB / ARENA_SIZE 256 KiB up to 3.9, 16 KiB / 1 MiB from
 *    3.10 (POOL_BITS 14, ARENA_BITS 20 with USE_LARGE_ARENAS/POOLS);
 *    struct pool_header { union {block *_padding; uint count;} ref;
 *    block *freeblock; poolp nextpool, prevpool; uint arenaindex, szidx,
 *    nextoffset, maxnextoffset; } = 48 bytes; struct arena_object {
 *    uintptr_t address; block *pool_address; uint nfreepools, ntotalpools;
 *    struct pool_header *freepools; arena_object *nextarena, *prevarena; }
 *    = 48 bytes (moved to Include/internal/pycore_obmalloc.h in 3.12).
 *  - Include/cpython/object.h: PyTypeObject tp_name +0x18, tp_basicsize
 *    +0x20, tp_itemsize +0x28, tp_flags +0xa8 (unchanged 3.8-3.13).
 *  - Include/internal/pycore_gc.h: PyGC_Head is two uintptr_t (3.8+).
 *  - Include/internal/pycore_object.h: _PyType_PreHeaderSize(): two more
 *    words before PyGC_Head when Py_TPFLAGS_MANAGED_DICT (1<<4, 3.11) or
 *    Py_TPFLAGS_PREHEADER = MANAGED_DICT | MANAGED_WEAKREF (1<<3, 3.12+).
 *  - type names: tp_dict +0x108 (Include/cpython/object.h), ht_qualname
 *    (PyHeapTypeObject, same file), PyDictObject.ma_keys +0x20,
 *    PyDictKeysObject (Objects/dict-common.h up to 3.10,
 *    Include/internal/pycore_dict.h from 3.11), PyASCIIObject
 *    (Include/cpython/unicodeobject.h: wstr dropped in 3.12, so the
 *    compact ASCII data moves from +0x30 to +0x28); measured with gdb on
 *    every pyenv build here.
 *  - interpreter-state offsets of 3.12/3.13: measured with gdb on the
 *    pyenv 3.12.1 and 3.13.0 builds (ptype/offsetof of _PyRuntimeState,
 *    PyInterpreterState, struct _obmalloc_state); FACTS.md.
 */
#include "cpython.h"

#define POOL_HEADER                                                                                \
	.pool_overhead = 48, .ph_count = 0, .ph_freeblock = 8, .ph_arenaindex = 32,                \
	.ph_szidx = 36, .ph_nextoffset = 40, .ph_maxnextoffset = 44
#define ARENA_OBJECT                                                                               \
	.ao_size = 48, .ao_address = 0, .ao_pool_address = 8, .ao_nfreepools = 16,                 \
	.ao_ntotalpools = 20
#define OBJECTS                                                                                    \
	.ob_type = 8, .tp_name = 0x18, .tp_basicsize = 0x20, .tp_itemsize = 0x28, .tp_flags = 0xa8
#define CLASSES .alignment = 16, .n_classes = 32
#define NAMES_OLD                                                                                  \
	.tp_dict = 0x108, .ma_keys = 0x20, .dk_nentries = 0x20, .dk_indices = 0x28, .dk_log2 = 0,  \
	.str_length = 0x10, .str_state = 0x20, .str_data = 0x30
#define NAMES_311                                                                                  \
	.tp_dict = 0x108, .ma_keys = 0x20, .dk_nentries = 0x18, .dk_indices = 0x20, .dk_log2 = 1,  \
	.str_length = 0x10, .str_state = 0x20, .str_data = 0x30
#define NAMES_312                                                                                  \
	.tp_dict = 0x108, .ma_keys = 0x20, .dk_nentries = 0x18, .dk_indices = 0x20, .dk_log2 = 1,  \
	.str_length = 0x10, .str_state = 0x20, .str_data = 0x28

/* 3.6, 3.7: a 32-byte PyGC_Head (a union padded to long double's
 * alignment, Include/objimpl.h); 16-byte size classes on x86-64 already
 * (bpo-27987 reached 3.6.x and 3.7.x: their _debugmallocstats() here prints
 * "512, in 32 size classes"). */

static const struct hw_py_layout layouts[] = {
    {.minor = 6,
     .arena_size = 256 << 10,
     .pool_size = 4 << 10,
     CLASSES,
     POOL_HEADER,
     ARENA_OBJECT,
     OBJECTS,
     .gc_head_size = 32,
     .state_kind = HW_PY_STATE_STATICS,
     NAMES_OLD,
     .ht_qualname = 0x350},
    {.minor = 7,
     .arena_size = 256 << 10,
     .pool_size = 4 << 10,
     CLASSES,
     POOL_HEADER,
     ARENA_OBJECT,
     OBJECTS,
     .gc_head_size = 32,
     .state_kind = HW_PY_STATE_STATICS,
     NAMES_OLD,
     .ht_qualname = 0x350},
    {.minor = 8,
     .arena_size = 256 << 10,
     .pool_size = 4 << 10,
     CLASSES,
     POOL_HEADER,
     ARENA_OBJECT,
     OBJECTS,
     .gc_head_size = 16,
     .state_kind = HW_PY_STATE_STATICS,
     NAMES_OLD,
     .ht_qualname = 0x360},
    {.minor = 9,
     .arena_size = 256 << 10,
     .pool_size = 4 << 10,
     CLASSES,
     POOL_HEADER,
     ARENA_OBJECT,
     OBJECTS,
     .gc_head_size = 16,
     .state_kind = HW_PY_STATE_STATICS,
     NAMES_OLD,
     .ht_qualname = 0x358},
    {.minor = 10,
     .arena_size = 1 << 20,
     .pool_size = 16 << 10,
     CLASSES,
     POOL_HEADER,
     ARENA_OBJECT,
     OBJECTS,
     .gc_head_size = 16,
     .state_kind = HW_PY_STATE_STATICS,
     NAMES_OLD,
     .ht_qualname = 0x360},
    {.minor = 11,
     .arena_size = 1 << 20,
     .pool_size = 16 << 10,
     CLASSES,
     POOL_HEADER,
     ARENA_OBJECT,
     OBJECTS,
     .gc_head_size = 16,
     .state_kind = HW_PY_STATE_STATICS,
     .preheader_size = 16,
     .preheader_flags = 1UL << 4,
     NAMES_311,
     .ht_qualname = 0x360},
    {.minor = 12,
     .arena_size = 1 << 20,
     .pool_size = 16 << 10,
     CLASSES,
     POOL_HEADER,
     ARENA_OBJECT,
     OBJECTS,
     .gc_head_size = 16,
     .state_kind = HW_PY_STATE_INTERP,
     .rt_interp_head = 0x28,
     .interp_next = 0,
     .interp_obmalloc = 0xf78,
     .st_arenas = 0x200,
     .st_maxarenas = 0x208,
     .preheader_size = 16,
     .preheader_flags = 1UL << 4 | 1UL << 3,
     NAMES_312,
     .ht_qualname = 0x368},
    {.minor = 13,
     .arena_size = 1 << 20,
     .pool_size = 16 << 10,
     CLASSES,
     POOL_HEADER,
     ARENA_OBJECT,
     OBJECTS,
     .gc_head_size = 16,
     .state_kind = HW_PY_STATE_INTERP_PTR,
     .rt_interp_head = 0x278,
     .interp_next = 0x1c60,
     .interp_obmalloc = 0x2a30,
     .st_arenas = 0x200,
     .st_maxarenas = 0x208,
     .preheader_size = 16,
     .preheader_flags = 1UL << 4 | 1UL << 3,
     NAMES_312,
     .ht_qualname = 0x368},
};

const struct hw_py_layout *hw_py_layout_find(unsigned minor)
{
	for (size_t i = 0; i < HW_ARRAY_SIZE(layouts); i++)
		if (layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}
