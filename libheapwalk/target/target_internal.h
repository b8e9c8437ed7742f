/*
 * target_internal.h: the representation of a target, shared by the files of
 * libheapwalk/target/ only.
 *
 * Invariants:
 *  - maps[] is sorted by start and its ranges do not overlap.
 *  - a core's segs[] is sorted by vaddr; [vaddr, vaddr + filesz) is backed by
 *    the mmapped core at offset; [vaddr + filesz, vaddr + memsz) is not in the
 *    core and is read from the mapped file (NT_FILE) when one covers it.
 *  - live and callback targets read through a block cache (blocks are
 *    HW_BLOCK bytes, aligned, clipped to their mapping); a process is stopped
 *    while attached, so cached bytes never go stale.
 *  - a live target's bulks[] (ranges read whole by hw_target_prefetch) are
 *    sorted by addr and do not overlap; reads inside one are served from it
 *    before the block cache is looked at.
 *  - a live target's stream (hw_target_stream) has at most one helper
 *    thread, joined before the stream changes or the target closes; it
 *    touches nothing of the target but the stream.
 */
#ifndef HW_TARGET_INTERNAL_H
#define HW_TARGET_INTERNAL_H

#include "internal.h"

#include <elfutils/libdwfl.h>

#define HW_BLOCK (64 * 1024)

/* A core's PT_LOAD: [vaddr, vaddr + filesz) held at offset; lost bytes
 * after those the dump meant to hold and the file ends before (a truncated
 * core): read from nowhere, not even the mapped file, whose bytes are the
 * ones before the process wrote them. */
typedef struct hw_segment {
	uint64_t vaddr, memsz, filesz, offset, lost;
} hw_segment;

/* A mapped file the core names (NT_FILE), opened lazily for bytes the core
 * left out. */
typedef struct hw_file_map {
	uint64_t start, end, file_offset;
	char *path; /* as the core names it */
	int state;  /* 0 not tried, 1 open, -1 missing */
	int fd;
	const uint8_t *data; /* whole file mmapped read-only */
	size_t size;
} hw_file_map;

typedef struct hw_block {
	uint64_t addr; /* aligned to HW_BLOCK */
	uint32_t len;  /* readable bytes from addr (clipped to the mapping) */
	uint32_t lo;   /* first readable byte: the mapping may start inside the block */
	int ok;        /* 1 read, 0 unreadable */
	uint8_t *data;
	struct hw_block *next;
} hw_block;

/* A contiguous copy made for a view that spans blocks (live targets). */
typedef struct hw_span {
	uint64_t addr, len;
	uint8_t *data;
	struct hw_span *next;
} hw_span;

/* A range of a live process read whole (hw_target_prefetch) into an
 * anonymous mapping of ours, map_len bytes at data. */
typedef struct hw_bulk {
	uint64_t addr, len;
	uint8_t *data;
	size_t map_len;
} hw_bulk;

typedef struct hw_module_priv {
	hw_module pub;
	int debug_state; /* 0 unknown, 1 found, -1 none */
	char *debug_path;
	char *file_path;
} hw_module_priv;

struct hw_target {
	hw_target_kind kind;
	char *path;
	pid_t pid;
	char *exe;
	int signal;

	char *sysroot;
	char **debug_dirs;
	char *debuginfo_path; /* for libdwfl: ":.debug:DIR:DIR" */
	int no_file_fallback;

	hw_mapping *maps;
	size_t nmaps, maps_cap;
	hw_thread *threads;
	size_t nthreads, threads_cap;
	uint64_t *auxv; /* pairs */
	size_t nauxv;

	char **warnings;
	size_t nwarnings;

	/* core */
	int fd;
	const uint8_t *core;
	size_t core_size;
	uint64_t core_need; /* the bytes the program headers describe (> core_size: truncated) */
	Elf *core_elf;
	hw_segment *segs;
	size_t nsegs;
	size_t last_seg;
	hw_file_map *files;
	size_t nfiles;

	/* live */
	int mem_fd;
	int pagemap_fd;    /* /proc/PID/pagemap when pagemap_tried and >= 0 */
	int pagemap_tried; /* its open was tried (once) */
	int attached;      /* threads[] are ptrace-stopped by us */
	pid_t *stopped;
	int *stop_sig; /* per stopped thread: a signal its stop took, given back when resumed */
	pid_t io_pid;  /* whose memory and /proc files are read: pid, or a thread's id when
	                * the leader exited (a zombie has no memory) */
	int held;      /* it was stopped (SIGSTOP, ^Z) before it was seized: never let run */
	size_t nstopped;

	/* callback */
	hw_read_callbacks cb;

	/* live + callback cache */
	hw_block **blocks; /* hash table */
	size_t nblocks_buckets;
	uint8_t **slabs; /* the blocks' bytes, HW_BLOCK_SLAB each (live.c) */
	size_t nslabs, cap_slabs, slab_used;
	hw_span *spans;

	/* live: ranges read whole */
	hw_bulk *bulks;
	size_t nbulks, bulks_cap, last_bulk;
	uint64_t bulk_bytes, bulk_limit; /* bulk_limit: worked out once (bulk_limit_known) */
	int bulk_limit_known;
	int vm_readv;             /* process_vm_readv: 0 untried, 1 works, -1 refused (pread) */
	int gone;                 /* the process ended while read (ESRCH): reads fail at once */
	struct hw_stream *stream; /* live: a range read ahead (hw_target_stream) */

	/* modules */
	Dwfl *dwfl;
	Dwfl_Callbacks dwfl_cb;
	int modules_state; /* 0 not reported, 1 ok, -1 failed */
	hw_module_priv *modules;
	size_t nmodules;
	hw_module *modules_packed;
	/* hw_target_symbolize's answers by address: libdwfl looks a symbol
	 * up by reading the whole symbol table, and a tracer's sites repeat
	 * the same return addresses (the interpreter's loop) many times */
	hw_map64 sym_memo; /* address -> index in sym_cache */
	struct hw_sym_cached *sym_cache;
	size_t sym_n, sym_cap;
};

/* target.c */
int hw_target_new(hw_target **out, hw_target_kind kind, const hw_target_options *opts);
int hw_target_warn(hw_target *t, const char *fmt, ...) HW_PRINTF(2, 3);
int hw_target_push_mapping(hw_target *t, const hw_mapping *m);
int hw_target_push_thread(hw_target *t, const hw_thread *th);
void hw_target_sort_mappings(hw_target *t);
char *hw_target_sysroot_path(const hw_target *t, const char *path);
int hw_target_read_proc_maps(hw_target *t, pid_t pid);

/* core.c */
int hw_core_read(hw_target *t, uint64_t addr, void *buf, size_t len);
const void *hw_core_view(hw_target *t, uint64_t addr, size_t len);
int hw_core_prefetch(hw_target *t, uint64_t addr, uint64_t len);
/* [addr, addr + len) of a core will be read in order: readahead back on. */
void hw_core_advise_walk(hw_target *t, uint64_t addr, uint64_t len);
void hw_core_data_extent(hw_target *t, uint64_t addr, uint64_t end, uint64_t *lo, uint64_t *hi);
/* compressed.c: fd a zstd-compressed core: 1 with *out_fd an unlinked file
 * holding it decompressed (*out_size bytes; note says when the stream was
 * cut short or damaged), 0 when fd is not compressed, or an error (other
 * compressions: how to decompress them). */
int hw_core_decompress(int fd, int *out_fd, uint64_t *out_size, char *note, size_t note_n);
void hw_core_close(hw_target *t);

/* live.c */
int hw_cached_read(hw_target *t, uint64_t addr, void *buf, size_t len);
const void *hw_cached_view(hw_target *t, uint64_t addr, size_t len);
void hw_cache_free(hw_target *t);
int hw_live_prefetch(hw_target *t, uint64_t addr, uint64_t len);
int hw_live_stream(hw_target *t, uint64_t addr, uint64_t len);
void hw_live_data_extent(hw_target *t, uint64_t addr, uint64_t end, uint64_t *lo, uint64_t *hi);
const void *hw_bulk_view(hw_target *t, uint64_t addr, size_t len);
void hw_live_close(hw_target *t);

/* modules.c */
int hw_modules_report(hw_target *t);
void hw_modules_free(hw_target *t);

#endif /* HW_TARGET_INTERNAL_H */
