/*
 * internal.h: what libheapwalk's own files share and nothing outside sees.
 *
 * hw_error_set() records the one-line message that hw_error_last() returns
 * and gives back the code, so a failing path reads
 *     return hw_error_set(HW_EFAULT, "0x%lx: not mapped", addr);
 */
#ifndef HW_INTERNAL_H
#define HW_INTERNAL_H

#include "heapwalk.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define HW_PRINTF(f, a) __attribute__((format(printf, f, a)))

int hw_error_set(int code, const char *fmt, ...) HW_PRINTF(2, 3);
int hw_error_setv(int code, const char *fmt, va_list ap);

#define HW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Grow *p (elements of el bytes, *cap of them) so that it holds at least
 * need: 0, or -1 when out of memory (*p and *cap unchanged).  hw_grow32
 * for 32-bit capacities.  (bigmem.c; hw_grow32 snapshot/table.c) */
int hw_grow(void **p, size_t el, size_t *cap, size_t need);
int hw_grow32(void **p, size_t el, uint32_t *cap, size_t need);
/* The capacity hw_grow moves cap to for need (cap itself when enough): 0,
 * or -1 when its bytes would overflow.  (bigmem.c) */
int hw_grow_capacity(size_t cap, size_t el, size_t need, size_t *out);

/* Memory for large arrays that grow (a snapshot's columns, the glibc
 * walker's bitmaps): from HW_BIG_FROM bytes on, a mapping of its own
 * advised for transparent huge pages, grown by moving its pages, not by
 * copying them (bigmem.c).  hw_big_resize(NULL, n) gives n zeroed bytes;
 * with an array of its own, keeps its first min(old, n) bytes (the rest
 * undefined), giving NULL, the array unchanged, without memory.  16-byte
 * aligned (malloc's).  hw_big_free(NULL) does nothing.  hw_big_threshold sets where
 * mappings begin (for tests) and gives back what it was. */
#define HW_BIG_FROM ((size_t)1 << 20)
void *hw_big_resize(void *p, size_t bytes);
void hw_big_free(void *p);
/* hw_grow for an array of hw_big_resize's (the same capacities). */
int hw_big_grow(void **p, size_t el, size_t *cap, size_t need);
/* An anonymous mapping of len bytes (a multiple of 4096) at a 2 MiB-aligned
 * address, advised for huge pages, with mmap's flags added (MAP_NORESERVE);
 * NULL when there is none.  munmap(p, len) gives it back. */
void *hw_big_map(size_t len, int flags);
size_t hw_big_threshold(size_t from);

/* Sort n records of rec bytes each (8 or 16) by their first 8 bytes, a
 * uint64_t, from its bit lo_bit up (ascending, ties in their order): LSD
 * radix, at most 16 bits a pass over the bits where the keys differ.  0, or -1
 * without memory for it (v is then left as it was).  (snapshot/table.c) */
int hw_sort_records(void *v, size_t n, size_t rec, unsigned lo_bit);

/* Write all n bytes to fd, going on after EINTR and short writes: 0, or -1
 * with errno set.  (snapshot/hsnap.c) */
int hw_write_all(int fd, const void *buf, size_t n);

/* ---- target internals shared with walkers (implemented in target/) ---- */
#include <gelf.h>

/* A live process that ended (was killed) while read: every read since
 * failed at once, and what was walked is not the whole heap. */
int hw_target_gone(const hw_target *t);

/* A live process this library stopped itself (not one a debugger holds,
 * nor one that was stopped already, by SIGSTOP or a shell's ^Z): it may be
 * let run and stopped again.  (target/live.c) */
int hw_live_restoppable(const hw_target *t);
/* [addr, addr + len) will be walked in order: a core's readahead, off by
 * default (sparse cores), is turned back on there; nothing otherwise. */
void hw_target_advise_walk(hw_target *t, uint64_t addr, uint64_t len);
/* Where, in the mapping [start, end), a heap may begin: past the part of a
 * thread's stack below its stack pointer.  A glibc thread's stack block
 * holds its thread pointer (struct pthread) at the top, so a mapping with
 * both a thread's sp and, above it, its fs_base is that thread's stack,
 * and [start, sp) is stack it is not using: no allocator puts a chunk
 * there (a thread on an alternate signal stack has its sp elsewhere, and
 * is not counted) but a stack the program made of a block it allocated
 * (pthread_attr_setstack: glibc puts struct pthread at its top all the
 * same), which the allocator's own scan recognises (glibc's mmapped chunk
 * header at the mapping's start).  start when no thread's stack is there.
 * The scans of anonymous memory skip what is below it (a gcore'd core
 * writes every untouched stack page as zeros: 4 GB for 500 threads). */
uint64_t hw_target_heap_floor(hw_target *t, uint64_t start, uint64_t end);
/* The first 8-aligned address of module m's writable data (the writable
 * mappings of its file and the anonymous one right after them: .data and
 * .bss) with size bytes left, where fits(ctx, its bytes, its address) says
 * yes; 0 when none.  Each mapping is read once, whole (up to 64 MiB).  For
 * the structures found by their shape when the module's file is missing
 * (main_arena, mp_, PyType_Type, PyDict_Type). */
uint64_t hw_module_data_find(hw_target *t, const hw_module *m, size_t size,
                             int (*fits)(void *ctx, const uint8_t *p, uint64_t addr), void *ctx);
/* Let it run for usec microseconds, stop it again (and any thread it
 * started), read its mappings and threads again and forget every byte read
 * so far.  HW_OK, else an error (the process ended: hw_target_gone). */
int hw_live_run(hw_target *t, unsigned usec);
/* hw_live_run, again with twice the time while a thread that was stopped in
 * user code has not run at all since (at most 8 runs; 100 us grows to
 * 25.5 ms in all). */
int hw_live_run_every(hw_target *t, unsigned usec);

/* How many allocations one that a tracer sampling every sample_bytes
 * (Poisson, by bytes) recorded at its requested size stands for: 1 / (1 -
 * exp(-requested / sample_bytes)); 1 for 0 bytes.  (tracer_table.c: the
 * reader's hw_tracer_weight and the views' estimates, group.c) */
double hw_sample_weight(uint64_t requested, uint64_t sample_bytes);

/* The first arena whose lock a thread holds (the thread is inside
 * malloc, free or realloc, and the arena's lists may be mid-update), or 0;
 * with n_busy, how many are held (the whole ring read).  (glibc/glibc.c) */
uint64_t hw_glibc_busy(hw_glibc *g, unsigned *n_busy);

/* The module's main ELF file (as mapped: .dynsym, relocations, .data's
 * initial bytes) and its load bias; NULL when the file cannot be found.
 * Owned by the target. */
Elf *hw_module_elf(hw_target *t, const hw_module *m, uint64_t *bias);
/* The separate debug file's ELF (with .symtab and DWARF), or NULL. */
Elf *hw_module_debug_elf(hw_target *t, const hw_module *m, uint64_t *bias);
/* Path of the module's file on this machine (sysroot applied), or NULL. */
const char *hw_module_file(hw_target *t, const hw_module *m);
/* The ELF the module's symbol table comes from (the separate debug file's
 * when its .symtab serves, else the module's own file), its bias and path,
 * found without reading DWARF: hw_module_debug_elf() loads all of it, and
 * a distribution's debug file decompresses for tens of milliseconds.
 * NULL when the module has no symbols.  Owned by the target. */
Elf *hw_module_symtab_elf(hw_target *t, const hw_module *m, uint64_t *bias, const char **path);

/* ---- walkers and the snapshot (glibc/, pymalloc/, snapshot/) ---- */

/* What libheapwalk's own walkers (glibc, pymalloc) hand their visitor: the
 * public record first, so a visitor outside the library sees a plain
 * hw_alloc, then where the allocation's first bytes already lie in this
 * process (a view of a core, or the walker's copy of a pool), valid for the
 * duration of the call: hw_snapshot_take names types from them instead of
 * reading the target again.  Invariant: every alloc() call of the glibc and
 * pymalloc walkers passes the hw_alloc of an hw_alloc_view. */
typedef struct hw_alloc_view {
	hw_alloc a;
	const uint8_t *bytes; /* the bytes at a.address, or NULL */
	size_t n_bytes;       /* how many of them may be read */
} hw_alloc_view;

/* map64: uint64 key -> uint32 value (snapshot/table.c) */

typedef struct hw_map64 {
	uint64_t *keys;
	uint32_t *vals; /* 0 = empty slot (values stored + 1) */
	size_t mask, n;
} hw_map64;

/* The value for key, or -1 when absent. */
int64_t hw_map64_get(const hw_map64 *m, uint64_t key);
int hw_map64_put(hw_map64 *m, uint64_t key, uint32_t val);
void hw_map64_free(hw_map64 *m);

/* hw_typer_name() with the allocation's first n bytes at hand (bytes may
 * be NULL: read from the target then). */
const char *hw_typer_name_view(hw_typer *ty, const hw_alloc *a, const uint8_t *bytes, size_t n);
/* A block a Python object keeps its contents in, named after the object's
 * builtin container type (hw_owned_name): a list's item array, a dict's
 * keys and values, a set's table, a bytearray's bytes, a deque's blocks,
 * an array's items, an OrderedDict's nodes and their table: the object's
 * pointer to it, and how many bytes the block holds from there. */
enum {
	HW_OWNED_LIST_ITEMS = 1,
	HW_OWNED_DICT_KEYS,
	HW_OWNED_DICT_VALUES,
	HW_OWNED_SET_TABLE,
	HW_OWNED_BYTEARRAY_DATA,
	HW_OWNED_DEQUE_BLOCK,
	HW_OWNED_ARRAY_DATA,
	HW_OWNED_ODICT_NODE,
	HW_OWNED_ODICT_FAST_NODES, /* up to 15: HW_OWNED_KIND_BITS */
};
/* One word, sorted by the pointer: ptr >> 3 (user space is below 2^47),
 * the kind, and the bytes it must hold from ptr / 16 (a lower bound:
 * rounded down, at most HW_OWNED_MIN_MAX * 16). */
typedef uint64_t hw_owned;
#define HW_OWNED_MIN_BITS  16
#define HW_OWNED_KIND_BITS 4
#define HW_OWNED_PTR_SHIFT (HW_OWNED_MIN_BITS + HW_OWNED_KIND_BITS)
#define HW_OWNED_MIN_MAX   ((1u << HW_OWNED_MIN_BITS) - 1)
static inline hw_owned hw_owned_make(uint64_t ptr, unsigned kind, uint64_t min_size)
{
	uint64_t m = min_size / 16 < HW_OWNED_MIN_MAX ? min_size / 16 : HW_OWNED_MIN_MAX;
	return (ptr >> 3) << HW_OWNED_PTR_SHIFT | (uint64_t)kind << HW_OWNED_MIN_BITS | m;
}
static inline uint64_t hw_owned_ptr(hw_owned o)
{
	return o >> HW_OWNED_PTR_SHIFT << 3;
}
static inline unsigned hw_owned_kind(hw_owned o)
{
	return (unsigned)(o >> HW_OWNED_MIN_BITS) & ((1u << HW_OWNED_KIND_BITS) - 1);
}
static inline uint64_t hw_owned_min(hw_owned o)
{
	return (o & HW_OWNED_MIN_MAX) * 16;
}
/* hw_typer_name_view() that also sends fn(ctx, ...) each block the object
 * it names owns (fn may be NULL). */
typedef void (*hw_owned_fn)(void *ctx, hw_owned o);
const char *hw_typer_name_owned(hw_typer *ty, const hw_alloc *a, const uint8_t *bytes, size_t n,
                                hw_owned_fn fn, void *ctx);
/* "list items", "dict keys", ...: the type name of an owned block. */
const char *hw_owned_name(unsigned kind);
/* 1 when the typer can name nothing in its target (no CPython, no C++
 * vtable in any module's symbols): callers may skip it. */
int hw_typer_names_nothing(hw_typer *ty);

#endif /* HW_INTERNAL_H */
