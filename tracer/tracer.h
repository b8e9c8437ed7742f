/*
 * tracer.h: what the files of libheapwalk-trace.so share.
 *
 * The tracer is preloaded into arbitrary programs, so it obeys rules the
 * rest of heapwalk does not need:
 *  - it never calls malloc: its memory comes from mmap (regions.c), its
 *    real allocator from glibc's exported __libc_* entry points (hooks.c);
 *  - every hook sets the thread's `busy` flag before doing any work, and a
 *    call that finds it set (re-entry from libunwind, dlsym, a signal
 *    handler, the real allocator under a PyMem hook) goes straight to the
 *    real allocator, unrecorded;
 *  - no global lock on the hot path: the live table has HWT_SHARDS
 *    independently locked shards (live.c); the site table is read without a
 *    lock and written under one (sites.c);
 *  - no lock is held while calling out of the tracer (unwinder, allocator).
 *
 * Thread-local state uses the initial-exec TLS model: the library is
 * preloaded, so its TLS is static and reading it never calls
 * __tls_get_addr (which may allocate).
 */
#ifndef HWT_TRACER_H
#define HWT_TRACER_H

#include "tracer_format.h"

#include <stddef.h>
#include <stdint.h>

#define HWT_EXPORT  __attribute__((visibility("default")))
#define HWT_TLS     __thread __attribute__((tls_model("initial-exec")))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* A captured stack: native return addresses then Python frames. */
struct hwt_stack {
	uint32_t n_native, n_python;
	uint64_t native[HWT_MAX_NATIVE];
	uint64_t python[2 * HWT_MAX_PYTHON]; /* (code, byte offset) pairs */
};

/* Per-thread state. */
struct hwt_thread {
	int busy;          /* inside a hook: nested calls are not recorded */
	uint32_t nested;   /* hook calls that found busy set (counted) */
	int sampler_ready; /* countdown and rng seeded */
	/* Sampled mode: bytes until the next sample.  While the thread is
	 * busy it is kept in `held` and `countdown` reads 0, so that the
	 * fast path (hwt_fast_skip) needs no test of busy: hwt_busy_on(). */
	int64_t countdown;
	int64_t held;
	uint64_t rng; /* splitmix64 state */
	/* The stack being captured: 2.5 KiB that would otherwise sit on the
	 * program's own stack (threads may have small ones).  One per thread
	 * is enough: a hook never runs inside another on the same thread. */
	struct hwt_stack stack;
};
extern HWT_TLS struct hwt_thread hwt_self;

/* Sampled mode: a filter over the live table, one bit per 256-byte block
 * of address space, direct-mapped (the block number modulo the filter's
 * size).  A clear bit: no recorded block there, so a free need not look
 * further.  The bits are kept by counters (live.c) changed under one lock,
 * taken only to record or forget a sampled block.  The filter starts at
 * 2^13 bits (1 KiB, 16 cache lines: they stay in the first-level cache
 * between the program's frees, where a larger one is a miss on most
 * frees of a large heap) and grows eightfold, up to 2^19 bits, whenever
 * more than one bit in 16 would be set. */
#define HWT_FILTER_MIN_BITS 13
#define HWT_FILTER_MAX_BITS 19
/* What a free reads: the bits, and the byte offset of a bit's word,
 * (address >> 11) masked by wordmask ((size / 8 - 1) & ~7): the one
 * published word that says the filter's size (hwt_filter_size).  Side by
 * side, so one address serves both. */
struct hwt_filter_bits {
	uint64_t wordmask;
	uint64_t bits[(1u << HWT_FILTER_MAX_BITS) / 64];
};
extern struct hwt_filter_bits hwt_filter_bits;
#define hwt_filter          (hwt_filter_bits.bits)
#define hwt_filter_wordmask (hwt_filter_bits.wordmask)

/* Set the filter for hwt_root->mode before anything is recorded: all
 * bits in mode all, so that the hooks' fast paths need not test the mode;
 * none in sampled mode. */
void hwt_filter_start(void);

/* The filter's size in bits (acquire: a size seen grown comes with the
 * bits that go with it). */
static inline uint64_t hwt_filter_size(void)
{
	return (__atomic_load_n(&hwt_filter_wordmask, __ATOMIC_ACQUIRE) + 8) * 8;
}

/* The bit of address in a filter of size bits. */
static inline uint32_t hwt_filter_index_in(uint64_t address, uint64_t size)
{
	return (uint32_t)((address >> HWT_BLOCK_SHIFT) & (size - 1));
}

static inline uint32_t hwt_filter_index(uint64_t address)
{
	return hwt_filter_index_in(address, hwt_filter_size());
}

/* 0 when no recorded block can be at address: bit hwt_filter_index(),
 * its word found by a byte offset (two instructions fewer on every
 * free). */
static inline int hwt_filter_maybe(uint64_t address)
{
	uint64_t at = address >> (HWT_BLOCK_SHIFT + 3);
#if defined(__x86_64__)
	/* the word mask's load folded into the and (an atomic load is never
	 * folded by GCC 12); on x86 every load has acquire order, and the asm
	 * is not moved past the word's load, which depends on its result */
	__asm__("andq %1, %0" : "+r"(at) : "m"(hwt_filter_wordmask));
#else
	at &= __atomic_load_n(&hwt_filter_wordmask, __ATOMIC_ACQUIRE);
#endif
	uint64_t w =
	    __atomic_load_n((const uint64_t *)((const char *)hwt_filter + at), __ATOMIC_RELAXED);
	return (int)((w >> ((address >> HWT_BLOCK_SHIFT) % 64)) & 1);
}

/* Sampled mode's fast path for an allocation of n bytes: 1 when it is not
 * to be recorded (the thread's countdown then moved past it); 0 when the
 * full path must decide (countdown crossing, first use, or inside a hook:
 * then the allocation is neither counted nor recorded, as before).  No
 * test of the mode: the countdown is 0 until the sampler is seeded, which
 * only sampled mode does, so mode all and a tracer not (yet) recording
 * always take the full path. */
static inline int hwt_fast_skip(size_t n)
{
	struct hwt_thread *t = &hwt_self;
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	/* One read-modify-write and its flags (three instructions fewer on
	 * every allocation than a load, compare and store): the countdown,
	 * taken as unsigned, must stay above 0 after n is taken off it, the
	 * same test as below; when it does not, n is given back.  (A signal
	 * handler that allocates between the two sees a countdown that has
	 * gone past zero and wrapped: its bytes are counted but cannot be
	 * sampled.  hwt_busy_on accepts the same.) */
	uint8_t crossed;
	__asm__("subq %2, %0" : "+m"(t->countdown), "=@ccbe"(crossed) : "r"((uint64_t)n));
	if (likely(!crossed))
		return 1;
	/* (unsigned: the subtraction may have wrapped) */
	t->countdown = (int64_t)((uint64_t)t->countdown + n);
	return 0;
#else
	if ((uint64_t)t->countdown > n) {
		t->countdown = (int64_t)((uint64_t)t->countdown - n);
		return 1;
	}
	return 0;
#endif
}

/* Sampled mode: every block a hook of the malloc family records lies at a
 * page boundary or 16 bytes past one: an mmapped chunk is there already
 * (its header fills the first 16 bytes of its mapping), a heap block is
 * moved there (hwt_place).  So a free whose address has a bit of
 * HWT_MARK_MASK set cannot be of such a block: glibc's free and realloc
 * hooks test hwt_free_mask, and only the addresses that pass it (two
 * 16-byte offsets of the 256 in a page; on the C loop of bench/ one free
 * in 75) read the filter.  The mask is 0 until the tracer
 * records, and in mode all (every free then takes the full path);
 * HWT_MARK_MASK in sampled mode; all ones when the tracer is off.  It is
 * read without an atomic (so that the load folds into the test): it only
 * ever changes once, from 0, and a free that still reads 0 takes the full
 * path, which is right in any mode.  (The PyMem hooks' blocks are not
 * moved, pymalloc's cannot be: their free reads the filter as before.) */
#define HWT_MARK_MASK ((uint64_t)4096 - 1 - 16)
extern uint64_t hwt_free_mask;

/* The malloc family's fast path for a free or realloc of p: 1 when p
 * cannot be in the table (see hwt_free_mask). */
static inline int hwt_fast_unmarked(const void *p)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	/* one test against the mask in memory (GCC 12 copies p and ands) */
	uint8_t unmarked;
	__asm__("testq %1, %2" : "=@ccnz"(unmarked) : "r"(p), "m"(hwt_free_mask));
	return unmarked;
#else
	return ((uintptr_t)p & hwt_free_mask) != 0;
#endif
}

/* hwt_place's out-of-line part: a block of n bytes at a page boundary
 * holding p's first keep bytes, p freed; NULL when none could be had. */
void *hwt_place_sampled(void *p, size_t n, size_t keep);

/* Sampled mode: p (n bytes, the first keep of them the caller's), chosen
 * to be recorded by a hook of the malloc family, where free's fast path
 * looks (hwt_free_mask): p itself when it is there (always in mode all, a
 * mask of 0), else hwt_place_sampled's block; NULL when no such block
 * could be had (p stays where it is, not to be recorded).  Called busy;
 * errno is kept. */
static inline void *hwt_place(void *p, size_t n, size_t keep)
{
	if (likely(!((uintptr_t)p & hwt_free_mask)))
		return p;
	return hwt_place_sampled(p, n, keep);
}

/* Sampled mode's fast path for a free: 1 when p cannot be in the table.
 * No test of the mode: mode all sets every filter bit before it records
 * anything (hwt_init), and before that nothing can be in the table. */
static inline int hwt_fast_unrecorded(void *p)
{
	return !hwt_filter_maybe((uint64_t)(uintptr_t)p);
}

/* The root, NULL until hwt_init() succeeded. */
extern struct hwt_root *hwt_root;
/* 2 when recording, 1 while initializing, 0 before, -1 failed/disabled. */
extern int hwt_state;

/* Initialise once (first hook call); returns 1 when recording is on. */
int hwt_init(void);

/* Mark the thread busy (not already so), its countdown held aside: the
 * fast path then finds 0 and takes the full path, which sees busy.  (A
 * signal handler's allocation between the two stores is counted by the
 * fast path or not at all: the same as before the hook.) */
static inline void hwt_busy_on(void)
{
	struct hwt_thread *t = &hwt_self;
	t->busy = 1;
	t->held = t->countdown;
	t->countdown = 0;
}

static inline void hwt_busy_off(void)
{
	struct hwt_thread *t = &hwt_self;
	t->countdown = t->held;
	t->busy = 0;
}

/* Busy around a call out of the tracer (dlsym, pthread_getattr_np...),
 * whatever the thread was: returns what it was, for hwt_busy_restore. */
static inline int hwt_busy_save(void)
{
	int was = hwt_self.busy;
	if (!was)
		hwt_busy_on();
	return was;
}

static inline void hwt_busy_restore(int was)
{
	if (!was)
		hwt_busy_off();
}

/* Enter a hook: 1 when this call records (busy is then set and
 * hwt_leave() must follow), 0 when it goes straight to the allocator. */
/* watch.c: by hand, with HEAPWALK_TRACE_SNAPSHOT_* or _LIMIT set, start
 * `coretool trace --watch` on this process (from the constructor). */
void hwt_watch_start(void);

/* busy 2: inside pymalloc, for a request it serves from a pool (mode
 * all's PyMem wrappers), where a malloc-family call is pymalloc's own (its
 * arena map's nodes, its array of arenas), not the block the wrapper
 * records: it is recorded as any allocation, not counted as nested (that
 * count tells the wrapper its block came from malloc).  Its hwt_leave()
 * clears busy: the rest of pymalloc's work is its own as well, and the
 * wrapper sets busy again before it records (mode all's countdown stays
 * 0, so nothing is held aside). */
enum { HWT_BUSY_POOL = 2 };

static inline int hwt_enter(void)
{
	if (unlikely(hwt_self.busy)) {
		if (hwt_self.busy == HWT_BUSY_POOL) {
			hwt_self.busy = 1;
			return 1;
		}
		hwt_self.nested++;
		return 0;
	}
	hwt_busy_on();
	if (unlikely(__atomic_load_n(&hwt_state, __ATOMIC_ACQUIRE) != 2) && !hwt_init()) {
		hwt_busy_off();
		return 0;
	}
	return 1;
}

static inline void hwt_leave(void)
{
	hwt_busy_off();
}

#define CALLER() ((uint64_t)(uintptr_t)__builtin_return_address(0))
/* The hook's CFA: the tracer is built with frame pointers, so the frame
 * address is the saved rbp's slot, 16 bytes below the CFA.  A hook is an
 * exported function, never inlined into another, so this is the CFA of
 * the frame the caller's return address belongs to. */
#define HOOK_CFA() ((uint64_t)(uintptr_t)__builtin_frame_address(0) + 16)

/* ---- regions.c: mmap-backed memory that never moves ---- */
void *hwt_map(size_t bytes); /* zeroed read-write pages, NULL on failure */
void hwt_unmap(void *p, size_t bytes);
/* A reserved region committed in steps: PROT_NONE beyond `committed`. */
struct hwt_region {
	char *base;
	size_t reserved, committed;
};
int hwt_region_reserve(struct hwt_region *r, size_t bytes);
/* Make [base, base + need) writable; 0 ok, -1 when beyond the reservation. */
int hwt_region_commit(struct hwt_region *r, size_t need);

/* ---- spinlocks ---- */
static inline void hwt_lock(uint32_t *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
	}
}
static inline void hwt_unlock(uint32_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- live.c: address -> (site, requested size) ---- */
void hwt_live_insert(uint64_t address, uint32_t site, uint64_t requested);
/* Start loading address's home slot: the cache miss then overlaps other
 * work (the unwinder, or the allocator's own miss on the chunk header). */
void hwt_live_prefetch(uint64_t address);
/* Remove address; returns 1 and fills *old when it was there (old->key is
 * then the address itself, without a hint). */
int hwt_live_remove(uint64_t address, struct hwt_live_entry *old);
void hwt_live_lock_all(void);
void hwt_live_unlock_all(void);

/* ---- shadow.c: pymalloc arenas' shadows (mode all, CPython) ---- */
/* Blocks of up to this many bytes are kept in the shadows, larger ones in
 * the live table, and pools of larger blocks never touch their shadow's
 * pages.  A shadow costs a quarter of its pools' bytes (a 4-byte slot per
 * 16 bytes), an entry in the table 20 bytes, so for memory alone 80 would
 * do; but a table entry costs a probe of two random cache lines where a
 * shadow slot costs one store, and small dicts' key tables are of 81..128
 * bytes: after one json.loads of bench/tracer_json.py's document,
 * sys._debugmallocstats() on 3.11 shows 60502 blocks in use in the
 * 128-byte class (its 60000 dicts' keys), of some 460k blocks.
 * Measured (2026-12-06, best of 5, 10 rounds of bench/tracer_json.py,
 * untraced 0.39-0.42 s): 80: 0.60-0.63 s on 3.11, 0.77 s on 3.12; 128:
 * 0.52-0.56 s and 0.63 s; 192 and 256 no faster than 128.  Memory
 * (bench/tracer_pymem.py, 100k -> 600k items): 17.8, 19.5, 20.8, 23.3 and
 * 38.8 bytes per live block for 80, 128, 192, 256 and 512. */
#define HWT_SHADOW_KEEP_MAX 128u
/* Whether a pymalloc block of n requested bytes is kept in a shadow. */
static inline int hwt_shadow_keeps(size_t n)
{
	return n - 1 < HWT_SHADOW_KEEP_MAX;
}
/* The directory, NULL until an arena is covered (shadow.c says how): a
 * pointer per GiB of the 47-bit address space, each to a word per 4 KiB
 * page. */
extern uint64_t **hwt_shadow_dir;
#define HWT_SHADOW_PAGE_BITS 12
#define HWT_SHADOW_L1_SHIFT  30
#define HWT_SHADOW_L1_BITS   (47 - HWT_SHADOW_L1_SHIFT)
#define HWT_SHADOW_L2_SLOTS  (1ull << (HWT_SHADOW_L1_SHIFT - HWT_SHADOW_PAGE_BITS))

/* The shadow slot of the block at address, NULL when no covered arena
 * holds it.  Two loads, no lock (shadow.c says why none is needed). */
static inline uint32_t *hwt_shadow_slot(uint64_t address)
{
	uint64_t **dir = __atomic_load_n(&hwt_shadow_dir, __ATOMIC_RELAXED);
	if (!dir || address >> (HWT_SHADOW_L1_SHIFT + HWT_SHADOW_L1_BITS))
		return NULL;
	uint64_t *l2 = __atomic_load_n(&dir[address >> HWT_SHADOW_L1_SHIFT], __ATOMIC_ACQUIRE);
	if (!l2)
		return NULL;
	uint64_t w = __atomic_load_n(
	    &l2[(address >> HWT_SHADOW_PAGE_BITS) & (HWT_SHADOW_L2_SLOTS - 1)], __ATOMIC_RELAXED);
	if (!w)
		return NULL;
	return (uint32_t *)(uintptr_t)(w - 1 + (address / HWT_SHADOW_GRANULE) * sizeof(uint32_t));
}
/* The arena allocator's wrappers: an arena made, and one about to be
 * freed (every covered range inside it is uncovered). */
void hwt_shadow_cover(void *arena, size_t size);
void hwt_shadow_uncover(void *arena, size_t size);
/* Pools of arenas made before the hooks went in are covered one by one,
 * at their first block: pool_size (pymalloc's POOL_SIZE) once at install,
 * then the slot of a block pymalloc just made, its pool covered if need
 * be; NULL when that fails or pools are not covered. */
void hwt_shadow_pools(size_t pool_size);
uint32_t *hwt_shadow_cover_pool(uint64_t block);
void hwt_shadow_lock(void);
void hwt_shadow_unlock(void);

/* ---- sites.c: stack -> site id (deduplicated), code registry ---- */
int hwt_sites_init(void);
/* The site id of the stack (created when new); 0 when the tables are full. */
uint32_t hwt_site_intern(const struct hwt_stack *s);
void hwt_sites_lock(void);
void hwt_sites_unlock(void);

/* ---- native.c: the unwinder ---- */
/* Fill s->native with the caller (always) and the frames above it, at
 * most want in all.  cfa0: the hook's CFA (HOOK_CFA()), 0 when unknown.
 * Returns the site of this native-only stack (s->n_python == 0) when the
 * per-thread cache knows it, and then leaves s->native unfilled; else 0. */
uint32_t hwt_native_capture(struct hwt_stack *s, uint64_t caller, uint64_t cfa0, uint32_t want);
/* ---- unwind.c: the own x86-64 unwinder behind the stack cache ---- */
#define HWT_UW_CACHE 4096 /* rules cached per thread, a power of two */
struct hwt_uw_entry {
	uint64_t pc, rule;
};
struct hwt_uw_cache {
	uint64_t stack_lo, stack_hi; /* the thread's stack; hi 0: unknown */
	struct hwt_uw_entry e[HWT_UW_CACHE];
};
/* Note the calling thread's stack for the own unwinder; only where no lock
 * of the program's can be held (native.c says why). */
void hwt_stack_bounds_here(void);
/* The frames above the hook's caller: ips[1..] their return addresses,
 * slots[k] the stack slot ips[k] was read from, *n the frames with the
 * caller (at most want).  Returns 1 when the stack was walked to want
 * frames or to its outermost frame, 0 when a frame's rule is not one this
 * unwinder follows (the caller then uses libunwind). */
int hwt_unwind(struct hwt_uw_cache *c, uint64_t caller, uint64_t cfa0, uint64_t *ips,
               uint64_t *slots, uint32_t want, uint32_t *n);
/* The per-thread memo of stacks with Python frames: a stack's native
 * return addresses then its Python (code, offset) pairs, and its site.
 * Its slot is chosen by the caller and the innermost Python frame. */
#define HWT_MEMO_WORDS 40 /* longer stacks are not memoized */
struct hwt_memo {
	uint32_t site, n_native, n_python, pad;
	uint64_t w[HWT_MEMO_WORDS];
};
/* A stack with Python frames: its site from the thread's memo (an exact
 * match of every word), 0 when not there; and storing it there. */
uint32_t hwt_memo_find(const struct hwt_stack *s);
void hwt_memo_store(const struct hwt_stack *s, uint32_t site);
/* Tell the cache the site of the native-only stack s just captured. */
void hwt_native_remember(uint64_t caller, uint64_t cfa0, const struct hwt_stack *s, uint32_t site);

/* The per-thread memo of a PyMem hook's stacks (python.c says how it is
 * used): HWT_PYMEMO_SETS entries in the thread's caches (native.c). */
#define HWT_PYMEMO_FRAMES 12 /* deeper stacks are not memoized */
#define HWT_PYMEMO_SETS   256
struct hwt_pymemo {
	uint64_t caller; /* 0: empty */
	uint32_t site;
	uint16_t n;     /* frames, skipped ones included */
	uint16_t ended; /* 1: the stack ended after them */
	uint64_t w[2 * HWT_PYMEMO_FRAMES];
};
/* The thread's memo, NULL until its caches are mapped
 * (hwt_pymemo_table() maps them). */
extern HWT_TLS struct hwt_pymemo *hwt_pymemo;
struct hwt_pymemo *hwt_pymemo_table(void);

/* ---- python.c: CPython frames and the PyMem hooks ---- */
/* Fill s->python from the current thread's interpreter frames.  With a
 * caller (nonzero: a PyMem hook's), return the site the memo has for the
 * stack made of that caller alone and these Python frames instead, 0 when
 * it has none. */
uint32_t hwt_python_capture(struct hwt_stack *s, uint64_t caller);
/* Tell the memo the site of that stack (caller alone, Python frames). */
void hwt_python_remember(uint64_t caller, uint32_t site);
/* Exported: install the PyMem hooks (called by sitecustomize, GIL held). */
HWT_EXPORT int heapwalk_trace_python_install(void);
/* The same from the preload's constructor, before a CPython linked into
 * the program starts its interpreter (nothing in any other program). */
void hwt_python_early(void);
/* 1 when this thread holds a CPython GIL (hooks installed). */
int hwt_python_gil_held(void);
/* 1 once the PyMem hooks are installed: before that (and in a program that
 * is not CPython) the malloc hooks need not ask hwt_python_gil_held(). */
extern int hwt_python_installed;
/* Take one reference on a code object (Py_IncRef). */
void hwt_python_keep(uint64_t code);

/* ---- record.c: the common path of every hook ---- */
/* Where an allocation comes from (hwt_record's `from`). */
enum hwt_from {
	HWT_FROM_NATIVE = 0, /* the malloc family: the native stack only */
	HWT_FROM_PYMEM = 1,  /* a PyMem hook: Python frames, and only the native caller */
	HWT_FROM_GIL = 2,  /* the malloc family under the GIL: Python frames and the native stack */
	HWT_FROM_POOL = 3, /* a PyMem hook, and pymalloc made the block (no malloc call) */
};
static inline int hwt_from_pymem(int from)
{
	return from == HWT_FROM_PYMEM || from == HWT_FROM_POOL;
}
/* Called with hwt_self.busy set, for an allocation hwt_sample() chose:
 * captures the stack and records p. */
void hwt_record(void *p, size_t size, uint64_t caller, uint64_t cfa0, int from);
/* The sampling decision's slow path (seeding, a sample taken). */
int hwt_sample_slow(size_t n);
/* In a child just forked (the parent's forks-th): a sequence of its own. */
void hwt_sampler_forked(uint64_t forks);

/* 1 when an allocation of n bytes is to be recorded: always in mode all;
 * in sampled mode when the thread's countdown of bytes crosses zero.
 * Called busy (hwt_enter), so the countdown is the one held aside.
 * Inline: in sampled mode this is all most allocations cost. */
static inline int hwt_sample(size_t n)
{
	if (likely(hwt_root->mode == HWT_MODE_ALL))
		return 1;
	struct hwt_thread *t = &hwt_self; /* busy: the countdown is held */
	if (likely(t->sampler_ready)) {
		t->held -= (int64_t)n;
		if (likely(t->held > 0))
			return 0;
	}
	return hwt_sample_slow(n);
}
/* Forget p (before it is freed); 1 when it was recorded, *old filled:
 * its shadow slot when a covered arena holds it, else the live table. */
static inline int hwt_forget(void *p, struct hwt_live_entry *old)
{
	uint64_t a = (uint64_t)(uintptr_t)p;
	uint32_t *slot = hwt_shadow_slot(a);
	if (slot) {
		uint32_t v = *slot;
		if (likely(v)) {
			__atomic_store_n(slot, 0, __ATOMIC_RELAXED);
			old->key = a;
			old->site = hwt_shadow_site(v);
			old->requested = hwt_shadow_requested(v);
			return 1;
		}
	}
	return hwt_live_remove(a, old);
}
/* A free or realloc nested in another hook (the thread busy: glibc's or
 * pymalloc's own calls, such as pymalloc growing its array of arenas with
 * PyMem_RawRealloc inside a Python allocation): nothing new is recorded,
 * but a block an earlier, outer call recorded must not keep its entry
 * once it is freed or moved (the walk would find it free: coretool
 * check's tracer-entry-free, seen on CPython 3.8-3.13 past 16 arenas;
 * in mode all such calls inside a pool request are recorded instead:
 * HWT_BUSY_POOL).
 * Like hwt_forget; nothing before the tracer is up. */
static inline int hwt_forget_nested(void *p, struct hwt_live_entry *old)
{
	if (!p || __atomic_load_n(&hwt_state, __ATOMIC_ACQUIRE) != 2)
		return 0;
	return hwt_forget(p, old);
}

/* The malloc family's sampled block p (n bytes, the first keep of them
 * the program's): moved where free will look for it (hwt_place) and
 * recorded there; left where it is, unrecorded, when it cannot be moved.
 * The block the program gets. */
static inline void *hwt_record_placed(void *p, size_t n, size_t keep, uint64_t caller,
                                      uint64_t cfa0, int from)
{
	void *at = hwt_place(p, n, keep);
	if (!at)
		return p;
	hwt_record(at, n, caller, cfa0, from);
	return at;
}

/* After a realloc of a block whose entry hwt_forget took (had, *old) into
 * q of n bytes: q gets the site of this call (when sampled); a failed
 * realloc gives p its old entry back (p is still the program's).  errno
 * is left as the allocator set it.  The native and PyMem hooks share it;
 * with place (the malloc family's), a sampled q is moved first
 * (hwt_place).  Returns the block the program gets. */
void *hwt_realloc_done(void *q, size_t n, int had, const struct hwt_live_entry *old,
                       uint64_t caller, uint64_t cfa0, int from, int place);

/* ---- util ---- */
uint64_t hwt_env_u64(const char *name, uint64_t dflt);
uint64_t hwt_rng_next(uint64_t *state);
/* -ln(u) for u in (0, 1], without libm. */
double hwt_neg_log(double u);

#endif /* HWT_TRACER_H */
