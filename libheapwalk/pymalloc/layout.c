/*
 * layout.c: the per-version layout table of CPython's pymalloc and object
 * headers (x86-64, release builds).  One row per minor version; DWARF, when
 * the target has it, overrides the interpreter-state offsets (detect.c).
 *
 * Sources, CPython git tags v3.6.15 .. v3.13.0, and 3.14, 3.15 below:
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
 *    +0x20, tp_itemsize +0x28, tp_flags +0xa8 (unchanged 3.8-3.15).
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
 *  - 3.14 and 3.15: every offset above measured with gdb on the debug files
 *    of Debian's release interpreters (python3.14-dbg 3.14.8-1 and
 *    python3.15-dbg 3.15.0-1/3.15.2-1 ship them, by build-id): pool_header,
 *    arena_object, PyGC_Head, the PyTypeObject fields, PyDictKeysObject,
 *    PyASCIIObject and its state bits as in 3.13; _PyRuntimeState.
 *    interpreters.head 0x328 / 0x3a8, PyInterpreterState.next 0x1c68 /
 *    0x1c60, .obmalloc (a pointer) 0x2a98 / 0x2a80; ht_qualname 0x368 /
 *    0x370 (3.15's PyTypeObject gained _tp_iteritem, 424 bytes).
 *    tests/integration/python_versions.sh checks both exact.
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

/* 3.10+: 1 MiB arenas of 16 KiB pools, a 16-byte PyGC_Head. */
#define LARGE                                                                                      \
	.arena_size = 1 << 20, .pool_size = 16 << 10, CLASSES, POOL_HEADER, ARENA_OBJECT, OBJECTS, \
	.gc_head_size = 16
/* 3.12+: the states hang off the interpreters (kind: inline or a pointer),
 * _PyRuntimeState.interpreters.head, PyInterpreterState.next and .obmalloc;
 * mgmt.arenas and mgmt.maxarenas in struct _obmalloc_state. */
#define IN_INTERPRETERS(kind, head, next, obmalloc)                                                \
	.state_kind = kind, .rt_interp_head = head, .interp_next = next,                           \
	.interp_obmalloc = obmalloc, .st_arenas = 0x200, .st_maxarenas = 0x208
/* 3.12+: the pre-header of managed dict and weakref (1 << 4 | 1 << 3). */
#define PREHEADER_312 .preheader_size = 16, .preheader_flags = 1UL << 4 | 1UL << 3

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
    {.minor = 10, LARGE, .state_kind = HW_PY_STATE_STATICS, NAMES_OLD, .ht_qualname = 0x360},
    {.minor = 11,
     LARGE,
     .state_kind = HW_PY_STATE_STATICS,
     .preheader_size = 16,
     .preheader_flags = 1UL << 4,
     NAMES_311,
     .ht_qualname = 0x360},
    {.minor = 12,
     LARGE,
     IN_INTERPRETERS(HW_PY_STATE_INTERP, 0x28, 0, 0xf78),
     PREHEADER_312,
     NAMES_312,
     .ht_qualname = 0x368},
    {.minor = 13,
     LARGE,
     IN_INTERPRETERS(HW_PY_STATE_INTERP_PTR, 0x278, 0x1c60, 0x2a30),
     PREHEADER_312,
     NAMES_312,
     .ht_qualname = 0x368},
    {.minor = 14,
     LARGE,
     IN_INTERPRETERS(HW_PY_STATE_INTERP_PTR, 0x328, 0x1c68, 0x2a98),
     PREHEADER_312,
     NAMES_312,
     .ht_qualname = 0x368},
    {.minor = 15,
     LARGE,
     IN_INTERPRETERS(HW_PY_STATE_INTERP_PTR, 0x3a8, 0x1c60, 0x2a80),
     PREHEADER_312,
     NAMES_312,
     .ht_qualname = 0x370},
};

const struct hw_py_layout *hw_py_layout_find(unsigned minor)
{
	for (size_t i = 0; i < HW_ARRAY_SIZE(layouts); i++)
		if (layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}
