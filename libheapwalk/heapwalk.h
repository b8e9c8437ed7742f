/*
 * heapwalk.h: the public API of libheapwalk.
 *
 * One pipeline, four stages (docs: ARCHITECTURE):
 *
 *   target  -->  walkers  -->  snapshot  -->  views
 *
 * A *target* is where bytes come from: a core file, a live process or a read
 * callback.  *Walkers* (glibc malloc, CPython pymalloc, the tracer's tables)
 * turn a target into allocation records handed to a visitor.  A *snapshot* is
 * the in-memory model every view works on.  Nothing here prints.
 *
 * Conventions (as in libgit2):
 *  - every function that can fail returns an int: 0 (HW_OK) or a negative
 *    HW_E* code; the one-line message of the last failure on this thread is
 *    hw_error_last().
 *  - out-parameters come first; handles are opaque; names are hw_<noun>_<verb>.
 *  - addresses in the target are uint64_t; nothing read from a target is
 *    trusted: walkers bound every length and every list walk.
 */
#ifndef HEAPWALK_H
#define HEAPWALK_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HW_API __attribute__((visibility("default")))
#else
#define HW_API
#endif

/* ======================================================================== */
/* Errors                                                                   */
/* ======================================================================== */

enum hw_error {
	HW_OK = 0,
	HW_EINVAL = -1,       /* bad argument */
	HW_ENOMEM = -2,       /* out of memory */
	HW_EIO = -3,          /* the target cannot be read (file, process) */
	HW_EUNSUPPORTED = -4, /* not a format/architecture/version we handle */
	HW_ENOTFOUND = -5,    /* symbol, module, allocator or table not present */
	HW_EFAULT = -6,       /* address not readable in the target */
	HW_ECORRUPT = -7,     /* data failed validation */
	HW_EINTR = -8,        /* interrupted (Ctrl-C) */
};

/* The message of the last failure on this thread ("" when none).  The
 * string stays valid until the next failing call on this thread. */
HW_API const char *hw_error_last(void);

/* ======================================================================== */
/* Target: where bytes come from (libheapwalk/target/)                      */
/* ======================================================================== */

typedef struct hw_target hw_target;

typedef enum hw_target_kind {
	HW_TARGET_CORE = 0,
	HW_TARGET_LIVE = 1,
	HW_TARGET_CALLBACK = 2,
} hw_target_kind;

typedef struct hw_target_options {
	const char *exe;         /* --exe: the executable, when the core's path does not resolve */
	const char *sysroot;     /* --sysroot: prefix for every path the target names */
	const char **debug_dirs; /* --debug-dir roots, NULL-terminated; NULL means /usr/lib/debug */
	int no_file_fallback;    /* 1: never read bytes missing from a core from mapped files */
} hw_target_options;

/* Open a core file read-only.  Only ELF64 x86-64 ET_CORE.  Nothing but the
 * headers and notes is read until needed: PT_LOAD segments are mmapped. */
HW_API int hw_target_open_core(hw_target **out, const char *path, const hw_target_options *opts);

/* Attach to a live process: every thread is stopped (PTRACE_SEIZE +
 * PTRACE_INTERRUPT); memory is read from /proc/PID/mem.  The process is never
 * written and is resumed by hw_target_close(), on every path. */
HW_API int hw_target_open_pid(hw_target **out, pid_t pid, const hw_target_options *opts);

/* Like hw_target_open_pid but the caller (a debugger) already stopped the
 * process: no ptrace, only /proc/PID/mem and /proc/PID/maps. */
HW_API int hw_target_open_pid_stopped(hw_target **out, pid_t pid, const hw_target_options *opts);

/* A target served by a read callback (debuggers' remote targets).  read()
 * returns 0 when all len bytes were read, nonzero otherwise.  Mappings are
 * added with hw_target_add_mapping(); reads are cached in blocks. */
typedef struct hw_read_callbacks {
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *ctx;
} hw_read_callbacks;
HW_API int hw_target_open_callback(hw_target **out, const hw_read_callbacks *cb, pid_t pid,
                                   const hw_target_options *opts);

/* Messages about the target worth saying once (a mapped file missing or
 * differing, bytes left out of the core); valid until close. */
HW_API size_t hw_target_warnings(const hw_target *t, const char *const **out);

/* Close; a live process is detached (and so resumed). NULL is a no-op. */
HW_API void hw_target_close(hw_target *t);

HW_API hw_target_kind hw_target_get_kind(const hw_target *t);
HW_API const char *hw_target_path(const hw_target *t);       /* core path, or NULL */
HW_API pid_t hw_target_pid(const hw_target *t);              /* 0 when unknown */
HW_API const char *hw_target_executable(const hw_target *t); /* NULL when unknown */
HW_API int hw_target_signal(const hw_target *t);             /* killing signal (cores), 0 */

/* Read len bytes at addr.  HW_EFAULT (with a message) when any byte is not
 * available: unmapped, left out of the core and not in a file, short read. */
HW_API int hw_read(hw_target *t, uint64_t addr, void *buf, size_t len);
HW_API int hw_read_u64(hw_target *t, uint64_t addr, uint64_t *out);
HW_API int hw_read_u32(hw_target *t, uint64_t addr, uint32_t *out);
/* Read a NUL-terminated string of at most cap-1 bytes; 0 when a NUL was found. */
HW_API int hw_read_string(hw_target *t, uint64_t addr, char *buf, size_t cap);

/* A direct pointer to len readable bytes at addr, valid until the target is
 * closed, or NULL (then use hw_read).  Cores: a pointer into the mmapped
 * file; live processes: a cached copy.  This is how walkers stay fast. */
HW_API const void *hw_view(hw_target *t, uint64_t addr, size_t len);

/* Say that [addr, addr + len) is about to be read through and through (a
 * heap region): a live process's range is read at once (one
 * process_vm_readv; a read-callback target's in 1 MiB reads) into memory
 * the target keeps until it is closed, and reads and views inside it are
 * served from there with no further copy; a core's pages are faulted in.
 * The range must lie in readable mappings.  A hint: HW_OK, or an error
 * saying why not (reads work the same either way). */
HW_API int hw_target_prefetch(hw_target *t, uint64_t addr, uint64_t len);
/* The first range [*lo, *hi) at or after addr and before end that may hold
 * bytes other than zero: where a core file has data (not a hole: pages the
 * process never touched, as most of a thread's stack), or a live process
 * has pages in its private anonymous memory (present or swapped out,
 * /proc/PID/pagemap; a file or shared mapping is all data).  A scan of
 * anonymous memory skips the rest, which it would otherwise read as zeros
 * (filling the page cache, or the process's page tables).  *lo == end
 * when there is none; [addr, end) itself when the target cannot tell.
 * HW_OK, or HW_EINVAL for an empty range. */
HW_API int hw_target_data_extent(hw_target *t, uint64_t addr, uint64_t end, uint64_t *lo,
                                 uint64_t *hi);

/* Say that [addr, addr + len) is about to be read once, in increasing
 * order (a heap region walked chunk by chunk, in reads of any size): a live
 * process's range is then read ahead by a helper thread into a small ring
 * of the target's, and the caller's reads are served from it, so the copy
 * out of the process overlaps the caller's work and no memory as large as
 * the range is needed.  Until the next call, or hw_target_close.  A hint:
 * HW_OK, or an error saying why not (reads work the same either way);
 * cores and read-callback targets ignore it. */
HW_API int hw_target_stream(hw_target *t, uint64_t addr, uint64_t len);

/* The bytes [addr, addr + len) of the range hw_target_stream is reading,
 * in place, where they lie in one of its windows (256 KiB, aligned): a
 * pointer into its ring, valid until the next call (which lets the reader
 * reuse the windows before addr's); NULL when they are not there (then use
 * hw_read).  Windows are asked for in increasing order; asking for one
 * skips the reader past those before it.  Other reads inside the range are
 * served from the windows read so far without moving on. */
HW_API const void *hw_stream_window(hw_target *t, uint64_t addr, size_t len);

/* hw_view, but only where it costs no copy: cores, and ranges read by
 * hw_target_prefetch; NULL otherwise (then hw_read). */
HW_API const void *hw_view_cheap(hw_target *t, uint64_t addr, size_t len);

/* ---- mappings ---- */

enum {
	HW_PERM_R = 1,
	HW_PERM_W = 2,
	HW_PERM_X = 4,
	HW_PERM_SHARED = 8,
};

typedef struct hw_mapping {
	uint64_t start, end;  /* [start, end) */
	uint64_t file_offset; /* offset of start in path */
	unsigned perms;       /* HW_PERM_* */
	const char *path;     /* mapped file, NULL for anonymous; "[heap]", "[stack]" kept */
	uint64_t core_bytes;  /* cores: how many bytes from start the core holds; live: end-start */
	int file_ok;          /* the file was found (under sysroot) and matches */
	uint64_t lost_bytes;  /* cores: bytes after core_bytes the dump held and a truncated
	                         core file lost (unreadable: the file's bytes would be stale) */
} hw_mapping;

/* Whether t is a core file shorter than its program headers say (a dump
 * cut short): 1, with the file's size and the size it should have; else 0. */
HW_API int hw_target_truncated(const hw_target *t, uint64_t *have, uint64_t *need);

/* All mappings sorted by start. */
HW_API size_t hw_target_mappings(const hw_target *t, const hw_mapping **out);
/* The mapping holding addr, or NULL. */
HW_API const hw_mapping *hw_target_mapping_at(const hw_target *t, uint64_t addr);

/* ---- threads ---- */

typedef struct hw_thread {
	pid_t tid;
	uint64_t pc, sp, fp;
	uint64_t fs_base; /* the thread pointer: TLS lives below it */
	int signal;       /* cores: the pending signal of this thread */
} hw_thread;

HW_API size_t hw_target_threads(const hw_target *t, const hw_thread **out);

/* Callback and stopped-pid targets: describe a mapping or a thread the
 * caller knows (a debugger's view); replaces any with the same start/tid. */
HW_API int hw_target_add_mapping(hw_target *t, const hw_mapping *m);
HW_API int hw_target_add_thread(hw_target *t, const hw_thread *th);

/* ---- modules, symbols, DWARF (through elfutils libdwfl) ---- */

typedef struct hw_module {
	const char *name;    /* e.g. "/usr/lib/x86_64-linux-gnu/libc.so.6" */
	uint64_t start, end; /* address range */
	uint64_t bias;       /* load bias: runtime address = st_value + bias */
	char build_id[41];   /* hex, "" when none */
	void *dwfl_module;   /* Dwfl_Module*, for libheapwalk's own use */
} hw_module;

HW_API size_t hw_target_modules(hw_target *t, const hw_module **out);
/* The first module whose file name (basename) starts with prefix, e.g.
 * "libc.so" or "libpython3"; NULL when none. */
HW_API const hw_module *hw_target_module_find(hw_target *t, const char *prefix);
/* The module holding addr, or NULL. */
HW_API const hw_module *hw_target_module_at(hw_target *t, uint64_t addr);
/* The main executable's module, or NULL. */
HW_API const hw_module *hw_target_main_module(hw_target *t);

/* 1 when separate or embedded DWARF was found for the module, else 0. */
HW_API int hw_module_has_debuginfo(hw_target *t, const hw_module *m);
/* Path of the debug file found, or NULL. */
HW_API const char *hw_module_debuginfo_path(hw_target *t, const hw_module *m);

/* Runtime address (and size) of a symbol in the module, from .symtab (the
 * separate debug file's too) then .dynsym.  HW_ENOTFOUND when absent. */
HW_API int hw_module_symbol(hw_target *t, const hw_module *m, const char *name, uint64_t *addr,
                            uint64_t *size);
/* Any module's symbol (first match in module order). */
HW_API int hw_target_symbol(hw_target *t, const char *name, uint64_t *addr, uint64_t *size);

/* DWARF: byte size of `struct name` (or typedef name) in the module. */
HW_API int hw_module_type_size(hw_target *t, const hw_module *m, const char *name, uint64_t *size);
/* DWARF: offset of member (dotted path "a.b" allowed) in `struct name`. */
HW_API int hw_module_member_offset(hw_target *t, const hw_module *m, const char *name,
                                   const char *member, uint64_t *offset);

/* Symbolize an address: function, source file and line (when DWARF has
 * them), module and offset.  Strings are owned by the target. */
typedef struct hw_symbolization {
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when unknown */
	int line;             /* 0 when unknown */
	const char *module;   /* module path, NULL when none */
	uint64_t module_offset;
} hw_symbolization;
HW_API int hw_target_symbolize(hw_target *t, uint64_t addr, hw_symbolization *out);

/* The auxiliary vector entry of type `type` (AT_*), HW_ENOTFOUND if absent. */
HW_API int hw_target_auxv(hw_target *t, uint64_t type, uint64_t *value);

/* ======================================================================== */
/* Allocation records and problems: what walkers emit                       */
/* ======================================================================== */

typedef enum hw_allocator {
	HW_ALLOCATOR_GLIBC = 0,      /* a chunk in a glibc arena */
	HW_ALLOCATOR_GLIBC_MMAP = 1, /* an mmapped glibc chunk */
	HW_ALLOCATOR_PYMALLOC = 2,   /* a CPython pymalloc block */
	HW_ALLOCATOR__COUNT
} hw_allocator;

typedef enum hw_state {
	HW_STATE_USED = 0, /* held by the program */
	HW_STATE_FREE = 1, /* on a free list (bin, fastbin, tcache, pool freeblock) */
	HW_STATE_META = 2, /* allocator metadata (tcache struct, heap header, fencepost) */
	HW_STATE_TOP = 3,  /* glibc top chunk / never-used pool tail */
} hw_state;

typedef enum hw_bin {
	HW_BIN_NONE = 0,
	HW_BIN_TCACHE = 1,
	HW_BIN_FASTBIN = 2,
	HW_BIN_UNSORTED = 3,
	HW_BIN_SMALL = 4,
	HW_BIN_LARGE = 5,
} hw_bin;

typedef struct hw_alloc {
	uint64_t address;  /* the pointer the program got from the allocator */
	uint64_t size;     /* usable size (malloc_usable_size / the size class) */
	uint64_t arena;    /* glibc arena address; 0 for pymalloc and mmapped chunks */
	uint8_t allocator; /* hw_allocator */
	uint8_t state;     /* hw_state */
	uint8_t bin;       /* hw_bin */
} hw_alloc;

typedef struct hw_problem {
	const char *kind;    /* short stable word: "bad-size", "free-list-cycle", ... */
	uint64_t address;    /* where, 0 when none */
	const char *message; /* one line, no trailing newline */
} hw_problem;

/* A walker calls alloc() for every allocation, in address order per heap
 * region, and problem() for every inconsistency; a nonzero return from
 * alloc() stops the walk (the walker returns HW_EINTR). */
typedef struct hw_visitor {
	int (*alloc)(void *ctx, const hw_alloc *a);
	void (*problem)(void *ctx, const hw_problem *p);
	void *ctx;
} hw_visitor;

/* ======================================================================== */
/* glibc malloc walker (libheapwalk/glibc/)                                 */
/* ======================================================================== */

typedef struct hw_count {
	uint64_t count, bytes;
} hw_count;

typedef struct hw_glibc_mallinfo2 {
	uint64_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks,
	    keepcost;
} hw_glibc_mallinfo2;

typedef struct hw_glibc_summary {
	char version[16];    /* "2.36" */
	const char *symbols; /* "debuginfo", "symtab" or "heuristic" */
	uint64_t arenas;
	uint64_t system_bytes;
	hw_count used, free, tcache, fastbins, mmapped;
	uint64_t top_bytes;
	hw_glibc_mallinfo2 mallinfo2;
} hw_glibc_summary;

typedef struct hw_glibc hw_glibc;

/* Find glibc malloc in the target: libc's version (2.26-2.43), main_arena,
 * mp_ and every live thread's tcache, from libc's symbols and DWARF when
 * its debug file is found, else from validated heuristics (summary
 * "symbols" says which).  HW_ENOTFOUND when there is no glibc malloc,
 * HW_EUNSUPPORTED for a version without a layout table. */
HW_API int hw_glibc_open(hw_glibc **out, hw_target *t);
/* Walk every arena, heap, mmapped chunk and tcache; fills the summary.
 * Emits one record per chunk, per heap region in address order, then the
 * mmapped chunks:
 *   HW_STATE_USED  held by the program (allocator GLIBC or GLIBC_MMAP);
 *   HW_STATE_FREE  on a free list, bin TCACHE/FASTBIN/UNSORTED/SMALL/LARGE
 *                  (bin NONE: free by PREV_INUSE but on no list, a problem);
 *   HW_STATE_META  a thread's tcache struct or a fencepost;
 *   HW_STATE_TOP   an arena's top chunk.
 * size is the usable size (chunk size - 8; mmapped: - 16).  v may be NULL
 * (summary only).  Inconsistencies are problems, never failures; the walk
 * fails only when main_arena/mp_ cannot be read (HW_EFAULT) or the visitor
 * stopped it (HW_EINTR). */
HW_API int hw_glibc_walk(hw_glibc *g, const hw_visitor *v);
/* Valid after a walk (NULL before).  used/free/tcache/fastbins/mmapped
 * bytes are chunk sizes with headers, as glibc accounts; used excludes
 * META and TOP; mallinfo2 is what mallinfo2() returned in the process. */
HW_API const hw_glibc_summary *hw_glibc_get_summary(const hw_glibc *g);
HW_API void hw_glibc_close(hw_glibc *g);

/* ======================================================================== */
/* CPython pymalloc walker and object types (libheapwalk/pymalloc/)          */
/* ======================================================================== */

typedef struct hw_pymalloc_size_class {
	uint32_t size; /* block size in bytes: 16, 32, ... 512 */
	uint64_t pools, blocks_in_use, free_blocks;
} hw_pymalloc_size_class;

typedef struct hw_pymalloc_summary {
	char python_version[16]; /* "3.11.7" */
	const char *symbols;     /* "debuginfo", "symtab" or "heuristic" */
	uint64_t arenas, pools, blocks_in_use, bytes_in_use, free_blocks;
	uint32_t n_size_classes; /* entries used in size_classes */
	hw_pymalloc_size_class size_classes[64];
} hw_pymalloc_summary;

typedef struct hw_pymalloc hw_pymalloc;

/* Find CPython (executable or libpython) and its pymalloc state.
 * HW_ENOTFOUND when the target runs no CPython. */
HW_API int hw_pymalloc_open(hw_pymalloc **out, hw_target *t);
/* Open a pymalloc state whose place is already known (a debugger that
 * resolved it, or a bare memory image without modules, as in unit tests):
 * CPython 3.minor's layout, the arena_object array at `arenas` holding
 * `maxarenas` objects; arenas == 0 finds it by the symbol-free pool scan.
 * Types cannot be named through such a handle (no &PyType_Type). */
HW_API int hw_pymalloc_open_state(hw_pymalloc **out, hw_target *t, unsigned minor, uint64_t arenas,
                                  uint32_t maxarenas);
/* Walk every state: records to v (v, or v->alloc, may be NULL to fill the
 * summary only; then pools are read by their headers alone) and fill the
 * summary.  Problems go to v->problem; the walk goes on past them. */
HW_API int hw_pymalloc_walk(hw_pymalloc *p, const hw_visitor *v);
HW_API const hw_pymalloc_summary *hw_pymalloc_get_summary(const hw_pymalloc *p);
HW_API void hw_pymalloc_close(hw_pymalloc *p);

/* Type naming: the Python type of an object in an allocation, or the C++
 * class from its vtable.  py may be NULL (no CPython). */
typedef struct hw_typer hw_typer;
HW_API int hw_typer_new(hw_typer **out, hw_target *t, hw_pymalloc *py);
/* The type name of the allocation, or NULL when unknown (and for any
 * allocation not in state HW_STATE_USED).  The string is owned by the
 * typer and lives as long as it; every allocation of one type gets the
 * same pointer, so callers may key their own tables on the pointer.
 * Python: heap types as type.__repr__ names them ("mod.Outer.Inner"),
 * static types by tp_name ("dict"); C++: the demangled class ("ns::Foo"). */
HW_API const char *hw_typer_name(hw_typer *ty, const hw_alloc *a);
HW_API void hw_typer_free(hw_typer *ty);

/* ======================================================================== */
/* The tracer's tables, read back from a target (libheapwalk/tracer_table*)  */
/* ======================================================================== */

typedef enum hw_frame_kind {
	HW_FRAME_NATIVE = 0,
	HW_FRAME_PYTHON = 1,
} hw_frame_kind;

typedef struct hw_frame {
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when unknown */
	int line;             /* 0 when unknown */
	const char *module;   /* shared object of a native frame, NULL otherwise */
	uint64_t pc;          /* native: the return address; python: 0 */
	uint64_t module_offset;
	uint8_t kind; /* hw_frame_kind */
} hw_frame;

typedef struct hw_tracer_summary {
	const char *mode;      /* "all", "sampled" or "dormant" (HEAPWALK_TRACE=off, not started) */
	uint64_t sample_bytes; /* 0 when mode is "all" */
	uint64_t live_allocations, sites;
	uint64_t dropped;        /* allocations the tracer could not record (tables full) */
	uint64_t python_version; /* PY_VERSION_HEX of the traced CPython, 0 when none */
	/* of live_allocations, those read from the shadows of pymalloc arenas
	 * (mode all under CPython's default allocator); not kept in snapshots */
	uint64_t shadowed;
} hw_tracer_summary;

typedef struct hw_tracer hw_tracer;

/* Find the tracer's tables in the target (through the tracer's exported
 * root pointer, or the magic at the start of a mapping) and read the live
 * table and the site table, validating every entry.  HW_ENOTFOUND when the
 * process ran without the tracer; HW_EUNSUPPORTED for a table format this
 * reader does not know. */
HW_API int hw_tracer_open(hw_tracer **out, hw_target *t);
HW_API const hw_tracer_summary *hw_tracer_get_summary(const hw_tracer *tr);
/* Inconsistencies found in the tables (entries dropped); owned by tr. */
HW_API size_t hw_tracer_problems(const hw_tracer *tr, const hw_problem **out);
/* The site id and requested size recorded for the allocation at address;
 * HW_ENOTFOUND when the tracer did not see it. Site ids are 1-based.
 * A requested size of 0xffffffff means 4 GiB or more. */
HW_API int hw_tracer_lookup(hw_tracer *tr, uint64_t address, uint32_t *site, uint64_t *requested);
/* Sampled mode: how many allocations one recorded allocation of this
 * requested size stands for, 1 / (1 - exp(-requested / sample_bytes));
 * multiply counts and bytes by it for unbiased estimates.  1.0 in mode
 * "all". */
HW_API double hw_tracer_weight(const hw_tracer *tr, uint64_t requested);
/* Iterate every live entry of the table (address, site, requested size),
 * in address order; a nonzero return from cb stops (HW_EINTR). */
HW_API int hw_tracer_foreach(hw_tracer *tr,
                             int (*cb)(void *ctx, uint64_t address, uint32_t site,
                                       uint64_t requested),
                             void *ctx);
/* The frames of a site, innermost first: Python frames (when the
 * allocation came through CPython's allocators) then native frames, the
 * first native one being the allocation function's caller.  *n in:
 * capacity, out: count.  Strings are owned by the tracer reader (native
 * ones by the target) and live until both are closed. */
HW_API int hw_tracer_site_frames(hw_tracer *tr, uint32_t site, hw_frame *frames, size_t *n);
HW_API void hw_tracer_close(hw_tracer *tr);

/* ======================================================================== */
/* Snapshot, grouping, diff, .hsnap, rendering (libheapwalk/snapshot/, render/) */
/* ======================================================================== */

typedef struct hw_snapshot hw_snapshot;

/*
 * A snapshot holds, per allocation, its address, usable size, state,
 * allocator, bin, arena, type id and site id (27 bytes, column arrays), and
 * tables: types (names), sites (stacks of frames), frames, one string table,
 * the allocators' summaries, the problems found and the target's identity.
 * Type id 0 and site id 0 mean "unknown" ("?").  Allocations are kept sorted
 * by address once the snapshot is finished.  A snapshot taken from a core,
 * a live process or loaded from a .hsnap file is the same thing.
 */

/* Walk a target with every allocator walker found, name types, merge the
 * tracer's sites.  Problems are collected, never fatal. */
HW_API int hw_snapshot_take(hw_snapshot **out, hw_target *t);

/* Progress of a long walk: called every few thousand allocations with the
 * phase ("glibc", "pymalloc", "types", "sites") and the allocations seen so
 * far.  A nonzero return stops the walk (HW_EINTR). */
typedef struct hw_take_options {
	int (*progress)(void *ctx, const char *phase, uint64_t allocations);
	void *ctx;
} hw_take_options;
HW_API int hw_snapshot_take_ex(hw_snapshot **out, hw_target *t, const hw_take_options *o);

/* Read / write the .hsnap file format (docs/hsnap-format.md).  Load fails
 * with HW_ECORRUPT (bad checksum, truncated, inconsistent) or
 * HW_EUNSUPPORTED (not an .hsnap, or a newer major version), with a
 * one-line message; it never crashes on any input. */
HW_API int hw_snapshot_load(hw_snapshot **out, const char *path);
/* The same from a buffer (len bytes of a whole file). */
HW_API int hw_snapshot_load_buffer(hw_snapshot **out, const void *buf, size_t len);
HW_API int hw_snapshot_save(const hw_snapshot *s, const char *path);
HW_API void hw_snapshot_free(hw_snapshot *s);

/* 1 when the file starts with the .hsnap magic. */
HW_API int hw_snapshot_file_is_hsnap(const char *path);

/* ---- building a snapshot (walkers' glue, the .hsnap reader, tests) ---- */

HW_API int hw_snapshot_new(hw_snapshot **out);
/* Who the snapshot is of: kind "core", "live" or "snapshot"; strings copied,
 * any may be NULL. */
HW_API int hw_snapshot_set_target(hw_snapshot *s, const char *kind, const char *path, pid_t pid,
                                  const char *executable);
/* Intern a type name; *id is stable for equal names.  NULL or "" gives 0. */
HW_API int hw_snapshot_add_type(hw_snapshot *s, const char *name, uint32_t *id);
/* Intern a stack (innermost frame first, n may be 0); equal stacks give the
 * same id (>= 1).  Strings are copied; at most HW_SITE_MAX_FRAMES kept. */
#define HW_SITE_MAX_FRAMES 256
HW_API int hw_snapshot_add_site(hw_snapshot *s, const hw_frame *frames, size_t n, uint32_t *id);
/* Append an allocation; type and site are ids from the calls above (0 for
 * none).  Any order: hw_snapshot_finish sorts. */
HW_API int hw_snapshot_add_alloc(hw_snapshot *s, const hw_alloc *a, uint32_t type, uint32_t site);
/* The same with the size the program asked for (the tracer's record);
 * HW_REQUESTED_UNKNOWN when unknown.  Stored as the slack size - requested
 * (2 bytes): a requested size above size or 64 KiB below it is unknown. */
#define HW_REQUESTED_UNKNOWN UINT64_MAX
HW_API int hw_snapshot_add_alloc_requested(hw_snapshot *s, const hw_alloc *a, uint32_t type,
                                           uint32_t site, uint64_t requested);
/* Append a problem (strings copied).  At most HW_SNAPSHOT_MAX_PROBLEMS are
 * kept; the rest are only counted. */
#define HW_SNAPSHOT_MAX_PROBLEMS 10000
HW_API int hw_snapshot_add_problem(hw_snapshot *s, const hw_problem *p);
/* Summaries; NULL clears (that allocator / the tracer is absent). */
HW_API int hw_snapshot_set_glibc_summary(hw_snapshot *s, const hw_glibc_summary *g);
HW_API int hw_snapshot_set_pymalloc_summary(hw_snapshot *s, const hw_pymalloc_summary *p);
HW_API int hw_snapshot_set_tracer_summary(hw_snapshot *s, const hw_tracer_summary *tr);
/* Sort allocations by address and trim the arrays; views call it for you. */
HW_API int hw_snapshot_finish(hw_snapshot *s);

/* ---- reading a snapshot ---- */

typedef struct hw_snapshot_target {
	const char *kind; /* "core", "live" or "snapshot" */
	const char *path; /* NULL when none */
	pid_t pid;        /* 0 when unknown */
	const char *executable;
	const char *source_kind; /* loaded from .hsnap: what it was taken of */
	const char *source_path;
} hw_snapshot_target;

HW_API const hw_snapshot_target *hw_snapshot_get_target(const hw_snapshot *s);
HW_API size_t hw_snapshot_count(const hw_snapshot *s);
/* The i-th allocation in address order (after hw_snapshot_finish). */
HW_API int hw_snapshot_get_alloc(const hw_snapshot *s, size_t i, hw_alloc *a, uint32_t *type,
                                 uint32_t *site);
/* What the program asked for at the i-th allocation, or
 * HW_REQUESTED_UNKNOWN. */
HW_API uint64_t hw_snapshot_requested(const hw_snapshot *s, size_t i);
/* The allocation holding addr (address <= addr < address + size), by
 * binary search; -1 when none. */
HW_API ssize_t hw_snapshot_find(const hw_snapshot *s, uint64_t addr);
HW_API const char *hw_snapshot_type_name(const hw_snapshot *s, uint32_t type); /* NULL for 0 */
HW_API uint32_t hw_snapshot_site_count(const hw_snapshot *s);
/* The frames of a site, innermost first; *n in: capacity, out: count. */
HW_API int hw_snapshot_site_frames(const hw_snapshot *s, uint32_t site, hw_frame *frames,
                                   size_t *n);
/* NULL when absent. */
HW_API const hw_glibc_summary *hw_snapshot_glibc_summary(const hw_snapshot *s);
HW_API const hw_pymalloc_summary *hw_snapshot_pymalloc_summary(const hw_snapshot *s);
HW_API const hw_tracer_summary *hw_snapshot_tracer_summary(const hw_snapshot *s);
/* Problems kept; *dropped (may be NULL): how many more were found. */
HW_API size_t hw_snapshot_problem_count(const hw_snapshot *s, uint64_t *dropped);
HW_API int hw_snapshot_get_problem(const hw_snapshot *s, size_t i, hw_problem *p);
/* Bytes of memory the snapshot holds (for the benchmark). */
HW_API size_t hw_snapshot_memory(const hw_snapshot *s);

/* ---- views: options shared by coretool and the debugger commands ---- */

typedef enum hw_format {
	HW_FORMAT_TEXT = 0,
	HW_FORMAT_JSON = 1,
	HW_FORMAT_CSV = 2,
} hw_format;

typedef enum hw_group_key {
	HW_GROUP_DEFAULT = 0, /* site with a tracer, type without */
	HW_GROUP_ALLOCATOR,
	HW_GROUP_SIZE,
	HW_GROUP_TYPE,
	HW_GROUP_SITE,
	HW_GROUP_FUNCTION,
	HW_GROUP_LINENO,
	HW_GROUP_FILENAME,
	HW_GROUP_MODULE,
	HW_GROUP_ARENA,
} hw_group_key;

#define HW_VIEW_MAX_FILTERS 32

typedef struct hw_filter {
	const char *pattern; /* fnmatch glob on a frame's file name */
	int include;         /* 1 --include, 0 --exclude */
} hw_filter;

/* Which options a front end accepts (hw_view_options_parse's accept). */
enum {
	HW_VOPT_FORMAT = 1 << 0,     /* --format text|json|csv */
	HW_VOPT_GROUP_BY = 1 << 1,   /* --group-by KEY */
	HW_VOPT_STATE = 1 << 2,      /* --state used|free|all */
	HW_VOPT_LIMIT = 1 << 3,      /* --limit N (0: no limit) */
	HW_VOPT_FRAMES = 1 << 4,     /* --frames N */
	HW_VOPT_FILTERS = 1 << 5,    /* --include, --exclude, --all-frames, --no-default-filters */
	HW_VOPT_MAX_GROWTH = 1 << 6, /* --max-growth BYTES */
	HW_VOPT_CHUNKS = 1 << 7,     /* --allocator A, --min-size N */
};
#define HW_VOPT_TOP                                                                                \
	(HW_VOPT_FORMAT | HW_VOPT_GROUP_BY | HW_VOPT_STATE | HW_VOPT_LIMIT | HW_VOPT_FRAMES |      \
	 HW_VOPT_FILTERS)
#define HW_VOPT_DIFF (HW_VOPT_TOP | HW_VOPT_MAX_GROWTH)

typedef struct hw_view_options {
	hw_format format;
	hw_group_key group_by;
	unsigned states; /* bit (1 << hw_state) per state shown; default used */
	uint64_t limit;  /* groups shown; 0 = all; default 10 */
	uint32_t frames; /* frames kept per stack before grouping; 0 = all */
	hw_filter filters[HW_VIEW_MAX_FILTERS];
	size_t n_filters;
	int all_frames;         /* filters match any frame, not the innermost */
	int no_default_filters; /* drop the default noise filters */
	int has_max_growth;
	uint64_t max_growth;
	int allocator; /* chunks --allocator: an hw_allocator, -1 any */
	uint64_t min_size;
} hw_view_options;

HW_API void hw_view_options_init(hw_view_options *o);
/* Parse the view options in argv[1..*argc-1] that `accept` (HW_VOPT_*)
 * allows, in "--opt VALUE" or "--opt=VALUE" form, and remove them from argv
 * (argv[0] stays; the rest keep their order; *argc shrinks).  argv stays a
 * permutation of itself: the options taken are moved after the arguments
 * kept, so a caller may free the strings by their old indexes; argv[*argc]
 * is not set to NULL.  Parsing stops at "--".  HW_EINVAL with a one-line message ("--group-by: 'x'
 * is not one of
 * ...") on a bad value.  Strings point into argv. */
HW_API int hw_view_options_parse(hw_view_options *o, unsigned accept, int *argc, char **argv);
/* Take "--NAME VALUE" or "--NAME=VALUE" (name with its dashes) out of
 * argv[1..*argc-1], before "--" (the last one wins; the rest keep their
 * order; *argc shrinks): 1 with *value pointing into argv, 0 when absent,
 * HW_EINVAL with a one-line message when the value is missing.  For a
 * front end's own option beside the view options (report's --vs). */
HW_API int hw_args_take(int *argc, char **argv, const char *name, const char **value);
/* Usage lines for the options in `accept`, for --help texts. */
HW_API void hw_view_options_help(FILE *f, unsigned accept);
HW_API const char *hw_group_key_name(hw_group_key k);
/* Parse a byte count: "1024", "64KiB", "2M", "1.5GiB", "10MB".  0, or
 * HW_EINVAL for anything else (negative, unknown unit, overflow). */
HW_API int hw_bytes_parse(const char *s, uint64_t *out);
/* Bytes for humans ("512 B", "1.5 MiB") into buf; returns buf. */
HW_API const char *hw_bytes_format(uint64_t bytes, char *buf, size_t cap);

/* ---- grouping (hash aggregation) ---- */

typedef struct hw_grouping hw_grouping;

typedef struct hw_group {
	const char *key; /* owned by the grouping */
	uint64_t count, bytes;
	uint64_t requested_bytes; /* sum over the allocations whose request is known */
	uint64_t requested_count; /* how many those are */
	uint32_t site;            /* a site of the group (for its frames), 0 when none */
} hw_group;

/* Group the allocations of s selected by o (states, filters, frames) by
 * o->group_by; groups sorted by bytes, then count (both descending), then key. */
HW_API int hw_snapshot_group(hw_grouping **out, const hw_snapshot *s, const hw_view_options *o);
HW_API size_t hw_grouping_count(const hw_grouping *g);
HW_API const hw_group *hw_grouping_get(const hw_grouping *g, size_t i);
HW_API hw_count hw_grouping_total(const hw_grouping *g);
/* requested bytes (count: allocations whose request is known) of the total */
HW_API hw_count hw_grouping_total_requested(const hw_grouping *g);
HW_API hw_group_key hw_grouping_key(const hw_grouping *g);
/* The tracer's sampling interval when the groups (by a site key, of a
 * snapshot whose tracer sampled) are estimates: each recorded allocation
 * weighted by hw_tracer_weight, the allocations the sample does not
 * attribute in the group "?"; 0 when they are exact counts. */
HW_API uint64_t hw_grouping_sample_bytes(const hw_grouping *g);
HW_API void hw_grouping_free(hw_grouping *g);

typedef struct hw_diff_group {
	const char *key;
	uint64_t count, bytes; /* in NEW */
	int64_t count_diff, bytes_diff;
	uint32_t site; /* in NEW (or OLD when gone), 0 when none */
	int in_new;    /* 0: the group is only in OLD */
} hw_diff_group;

typedef struct hw_diff hw_diff;
/* The union of both groupings, sorted by |bytes_diff|, then |count_diff|
 * (descending), then key. */
HW_API int hw_snapshot_diff(hw_diff **out, const hw_snapshot *old_s, const hw_snapshot *new_s,
                            const hw_view_options *o);
HW_API size_t hw_diff_count(const hw_diff *d);
HW_API const hw_diff_group *hw_diff_get(const hw_diff *d, size_t i);
HW_API void hw_diff_totals(const hw_diff *d, hw_count *old_total, hw_count *new_total);
HW_API void hw_diff_free(hw_diff *d);

/* ---- rendering (libheapwalk/render/): text, JSON, CSV per CONTRACT.md ----
 * Every front end prints through these, so gdb prints what coretool prints.
 * They return 0 or an HW_E* code (with hw_error_last()). */

HW_API int hw_render_summary(FILE *f, const hw_snapshot *s, const hw_view_options *o);
HW_API int hw_render_top(FILE *f, const hw_snapshot *s, const hw_view_options *o);
/* *exceeded (may be NULL) is set to 1 when o->has_max_growth and the total
 * growth in bytes is above o->max_growth. */
HW_API int hw_render_diff(FILE *f, const hw_snapshot *old_s, const hw_snapshot *new_s,
                          const hw_view_options *o, int *exceeded);
HW_API int hw_render_chunks(FILE *f, const hw_snapshot *s, const hw_view_options *o);
/* t may be NULL (a snapshot file): then no hex dump. */
HW_API int hw_render_show(FILE *f, const hw_snapshot *s, hw_target *t, uint64_t address,
                          const hw_view_options *o);
/* *n_problems: how many problems the snapshot holds (check exits 1 when any). */
HW_API int hw_render_check(FILE *f, const hw_snapshot *s, const hw_view_options *o,
                           uint64_t *n_problems);
/* One self-contained HTML page: the target, the summary, the problems, the
 * largest groups by every key that applies (bars and the text views), and
 * with old_s (may be NULL) the growth since it.  o: its limit (rows per
 * table; NULL: 20), states, frames and filters; every string escaped. */
HW_API int hw_render_report(FILE *f, const hw_snapshot *s, const hw_snapshot *old_s,
                            const hw_view_options *o);

/* The views' string writers, for a program that prints next to them (as
 * coretool's info): s as a JSON string with its quotes (NULL: null; invalid
 * UTF-8 becomes U+FFFD); s as a CSV field, quoted where it must be, line
 * breaks made spaces (NULL: empty). */
HW_API void hw_json_str(FILE *f, const char *s);
HW_API void hw_csv_str(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif
#endif /* HEAPWALK_H */
