/*
 * native.c: native stacks for the site table.
 *
 * The caller of the allocation function is always recorded (it is the
 * return address the hook saw).  Deeper frames come from the tracer's own
 * unwinder (unwind.c: .eh_frame rules cached per code address), or from
 * libunwind for a stack it cannot walk (a signal frame, a frame whose CFA
 * is an expression), with a per-thread cache of stacks in front of both:
 *
 *  - The cache is keyed by the caller's return address and the hook's CFA
 *    (the stack address just above the hook's return address).  An entry
 *    holds, for each deeper frame k, its return address ip[k] and the
 *    stack slot it was read from, slot[k] (the stack pointer libunwind
 *    reported for the frame, minus 8).
 *  - A hit is checked, not trusted: every slot[k] must still hold ip[k].  With the same caller and
 * the same CFA, each frame's CFA follows from the one below and the code address (a frame's size at
 * a given instruction is fixed), so equal return-address slots mean the same stack.  The one case
 * this cannot see is a frame whose size varies at the same instruction (alloca) while the frames
 * below land at exactly the same depth and the old return-address slots still hold their old
 * values; HEAPWALK_TRACE_NATIVE_CACHE=0 turns the cache off.
 *  - Stacks that cross a signal frame, or whose return addresses are not
 *    at sp - 8, are never cached.
 *  - A miss walks the stack with the own unwinder and caches it.  Where
 *    libunwind must walk, the first miss on a key only remembers the key
 *    and takes unw_backtrace, libunwind's fast trace; a key that comes
 *    back is walked with unw_step (which reports each frame's stack
 *    pointer) and cached.  A thread whose lookups mostly miss (a cache
 *    too small for its stacks) skips the cache for a while.
 * An entry also keeps the site of a purely native stack, so a hit costs
 * neither the unwinder nor the site table's dedup, nor even copying the
 * frames out.  Stacks with Python
 * frames get their site from a per-thread memo (hwt_memo_find), compared
 * word for word, before the site table's shared index is searched.
 *
 * Reading slot[k] is safe: the slots were in this thread's stack when
 * cached and a thread's stack does not move (a stack switched by
 * swapcontext would need the same caller at the same CFA to get here).
 */
#include "tracer.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NC_SETS       64 /* power of two */
#define NC_WAYS       2
#define NC_WINDOW     1024  /* lookups per miss-rate check */
#define NC_BACKOFF    65536 /* captures without the cache after a bad window */
#define NC_MAX_FRAMES 16    /* deeper stacks are not cached */

struct nc_entry {
	uint64_t pc0, cfa0; /* key; pc0 == 0: empty */
	uint32_t n;         /* frames, the caller included */
	uint32_t site;      /* site of the native-only stack, 0 when not known yet */
	/* frame k's return address and the stack slot it was read from
	 * (its stack pointer - 8); slot[0] unused */
	uint64_t ip[NC_MAX_FRAMES], slot[NC_MAX_FRAMES];
};

#define PM_SETS 128 /* the memo of Python stacks (tracer.h): sets, a power of two */

struct nc_thread {
	uint32_t lookups, misses, backoff;
	uint8_t victim[NC_SETS];
	struct nc_entry e[NC_SETS][NC_WAYS];
	struct hwt_memo pm[PM_SETS];
	struct hwt_pymemo py[HWT_PYMEMO_SETS];
	struct hwt_uw_cache uw; /* the own unwinder's rules (unwind.c) */
};
/* The thread's caches, mapped on its first capture (193 KiB, the own
 * unwinder's rules 64 KiB of it, resident only where touched: too much for
 * static TLS, which comes out of every thread's stack) and unmapped by a
 * thread-specific key's destructor.  NC_DEAD: exiting, or no memory. */
#define NC_DEAD ((struct nc_thread *)1)
static HWT_TLS struct nc_thread *nc;
HWT_TLS struct hwt_pymemo *hwt_pymemo;
static pthread_key_t nc_key;
static pthread_once_t nc_once = PTHREAD_ONCE_INIT;
static int nc_enabled;
/* The own unwinder (unwind.c) first, libunwind where it cannot go;
 * HEAPWALK_TRACE_UNWINDER=libunwind: libunwind alone.
 * HEAPWALK_TRACE_UNWIND_CHECK=1: every stack the own unwinder walks is
 * walked by libunwind too, and the counts of stacks compared and of
 * those that differ are written to stderr at exit (the tests' oracle). */
static int uw_enabled, uw_check;
static uint64_t uw_compared, uw_differ, uw_fallback;

static void nc_release(void *p)
{
	nc = NC_DEAD; /* later captures in this thread's exit go uncached */
	hwt_pymemo = NULL;
	if (p && p != NC_DEAD)
		hwt_unmap(p, sizeof(struct nc_thread));
}

static void nc_setup(void)
{
	const char *v = getenv("HEAPWALK_TRACE_NATIVE_CACHE");
	if (v && strcmp(v, "0") == 0)
		return;
	if (pthread_key_create(&nc_key, nc_release) == 0)
		nc_enabled = 1;
	v = getenv("HEAPWALK_TRACE_UNWINDER");
	uw_enabled = !(v && strcmp(v, "libunwind") == 0);
	v = getenv("HEAPWALK_TRACE_UNWIND_CHECK");
	uw_check = v && strcmp(v, "1") == 0;
}

__attribute__((destructor)) static void uw_report(void)
{
	if (uw_check)
		fprintf(stderr,
		        "heapwalk-trace: unwind check: %llu stacks compared, %llu differ, %llu by "
		        "libunwind alone\n",
		        (unsigned long long)__atomic_load_n(&uw_compared, __ATOMIC_RELAXED),
		        (unsigned long long)__atomic_load_n(&uw_differ, __ATOMIC_RELAXED),
		        (unsigned long long)__atomic_load_n(&uw_fallback, __ATOMIC_RELAXED));
}

/* The thread's stack, for the own unwinder's bounds (0, 0: unknown, the
 * own unwinder is then off for the thread).  Taken where no lock of the
 * program's can be held: in a constructor for the main thread, and by the
 * pthread_create trampoline (hooks.c) before a new thread runs its start
 * routine.  Never from inside a hook: pthread_getattr_np holds the
 * thread's lock while it reallocs, so a thread whose first recorded
 * allocation is that realloc would wait for itself. */
static HWT_TLS uint64_t stack_lo, stack_hi;

void hwt_stack_bounds_here(void)
{
	pthread_attr_t a;
	void *base;
	size_t size;
	int busy = hwt_busy_save(); /* what it allocates is not recorded */
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &base, &size) == 0 && base && size) {
			stack_lo = (uint64_t)(uintptr_t)base;
			stack_hi = stack_lo + size;
		}
		pthread_attr_destroy(&a);
	}
	hwt_busy_restore(busy);
}

__attribute__((constructor)) static void main_stack_bounds(void)
{
	hwt_stack_bounds_here();
}

/* The thread's cache, NULL when there is none (called busy: what
 * pthread_setspecific may allocate is not recorded). */
static __attribute__((noinline)) struct nc_thread *nc_get_slow(void)
{
	struct nc_thread *t = nc;
	if (t == NC_DEAD)
		return NULL;
	pthread_once(&nc_once, nc_setup);
	if (!nc_enabled)
		return NULL;
	t = hwt_map(sizeof(*t));
	if (!t || pthread_setspecific(nc_key, t) != 0) {
		if (t)
			hwt_unmap(t, sizeof(*t));
		nc = NC_DEAD;
		return NULL;
	}
	if (uw_enabled) {
		t->uw.stack_lo = stack_lo;
		t->uw.stack_hi = stack_hi;
	}
	nc = t;
	hwt_pymemo = t->py;
	return t;
}

static inline struct nc_thread *nc_get(void)
{
	struct nc_thread *t = nc;
	return likely(t > NC_DEAD) ? t : nc_get_slow();
}

static void set_caching(void)
{
	static int caching_set;
	if (unlikely(!__atomic_load_n(&caching_set, __ATOMIC_RELAXED))) {
		unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
		__atomic_store_n(&caching_set, 1, __ATOMIC_RELAXED);
	}
}

/* unw_backtrace from here: the frames up to and including the hook are
 * dropped by finding the caller's return address in the trace, so
 * inlining decisions do not shift the stack. */
static void libunwind_trace_from(struct hwt_stack *s, uint64_t caller, uint32_t want, int depth)
{
	void *buf[HWT_MAX_NATIVE + 16];
	set_caching();
	int n = unw_backtrace(buf, (int)want + depth);
	int at = -1;
	for (int i = 0; i < n && i < depth; i++) {
		if ((uint64_t)(uintptr_t)buf[i] == caller) {
			at = i;
			break;
		}
	}
	if (at < 0)
		return; /* keep the caller alone rather than guess */
	for (int i = at + 1; i < n && s->n_native < want; i++)
		s->native[s->n_native++] = (uint64_t)(uintptr_t)buf[i];
}

static void libunwind_trace(struct hwt_stack *s, uint64_t caller, uint32_t want)
{
	libunwind_trace_from(s, caller, want, 8);
}

/* Compare a stack the own unwinder walked with libunwind's. */
static void check_against_libunwind(const struct hwt_stack *own, uint64_t caller, uint32_t want)
{
	struct hwt_stack ref;
	ref.native[0] = caller;
	ref.n_native = 1;
	libunwind_trace_from(&ref, caller, want, 16);
	__atomic_fetch_add(&uw_compared, 1, __ATOMIC_RELAXED);
	if (ref.n_native != own->n_native ||
	    memcmp(ref.native, own->native, own->n_native * sizeof(uint64_t)) != 0) {
		/* the first few in full, frame by frame (own / libunwind's) */
		if (__atomic_fetch_add(&uw_differ, 1, __ATOMIC_RELAXED) < 3) {
			fprintf(stderr, "heapwalk-trace: unwind check: differs:");
			uint32_t n = own->n_native > ref.n_native ? own->n_native : ref.n_native;
			for (uint32_t i = 0; i < n; i++)
				fprintf(
				    stderr, " %llx/%llx",
				    i < own->n_native ? (unsigned long long)own->native[i] : 0ull,
				    i < ref.n_native ? (unsigned long long)ref.native[i] : 0ull);
			fputc('\n', stderr);
		}
	}
}

/* The own unwinder: the stack above the caller into s and, when e is
 * given, each frame's return-address slot into e; 0 when it cannot go
 * (s then holds the caller alone). */
static int own_trace(struct nc_thread *t, struct hwt_stack *s, uint64_t caller, uint64_t cfa0,
                     uint32_t want, struct nc_entry *e)
{
	uint64_t slots[HWT_MAX_NATIVE + 1];
	uint32_t n;
	if (!cfa0 || !hwt_unwind(&t->uw, caller, cfa0, s->native, e ? e->slot : slots, want, &n)) {
		if (uw_check)
			__atomic_fetch_add(&uw_fallback, 1, __ATOMIC_RELAXED);
		return 0;
	}
	s->n_native = n;
	if (uw_check)
		check_against_libunwind(s, caller, want);
	if (e) {
		e->ip[0] = caller;
		e->slot[0] = 0;
		memcpy(&e->ip[1], &s->native[1], (n - 1) * sizeof(uint64_t));
		e->n = n;
	}
	return 1;
}

static inline unsigned set_of(uint64_t pc0, uint64_t cfa0)
{
	uint64_t h = (pc0 ^ (cfa0 << 7)) * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 58) & (NC_SETS - 1);
}

static inline int valid(const struct nc_entry *e)
{
	uint64_t diff = 0; /* no early exit: the loads overlap */
	for (uint32_t k = 1; k < e->n; k++)
		diff |= *(const uint64_t *)(uintptr_t)e->slot[k] ^ e->ip[k];
	return diff == 0;
}

/* Walk with unw_step, filling s and (when cacheable) e; 1 when cacheable. */
static int walk(struct hwt_stack *s, uint64_t caller, uint64_t cfa0, uint32_t want,
                struct nc_entry *e)
{
	unw_context_t uc;
	unw_cursor_t c;
	unw_word_t ip, sp;
	set_caching();
	if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
		return 0;
	int found = 0;
	for (int i = 0; i < 8; i++) {
		if (unw_get_reg(&c, UNW_REG_IP, &ip) != 0)
			return 0;
		if (ip == caller) {
			found = 1;
			break;
		}
		if (unw_step(&c) <= 0)
			return 0;
	}
	if (!found || unw_get_reg(&c, UNW_REG_SP, &sp) != 0)
		return 0;
	int ok = sp == cfa0;
	e->ip[0] = caller;
	e->slot[0] = 0;
	uint64_t last_sp = sp;
	uint32_t n = 1;
	while (n < want) {
		if (unw_is_signal_frame(&c) > 0)
			ok = 0;
		if (unw_step(&c) <= 0)
			break;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) != 0 || unw_get_reg(&c, UNW_REG_SP, &sp) != 0)
			break;
		if (!ip)
			break;
		s->native[s->n_native++] = ip;
		e->ip[n] = ip;
		e->slot[n] = sp - 8;
		/* the return address must be where the check will look */
		if (sp < 8 || sp - 8 < last_sp || *(const uint64_t *)(uintptr_t)(sp - 8) != ip)
			ok = 0;
		last_sp = sp;
		n++;
	}
	e->n = n;
	return ok;
}

uint32_t hwt_native_capture(struct hwt_stack *s, uint64_t caller, uint64_t cfa0, uint32_t want)
{
	s->native[0] = caller;
	s->n_native = 1;
	if (want <= 1)
		return 0;
	struct nc_thread *t = cfa0 ? nc_get() : NULL;
	if (!t) {
		libunwind_trace(s, caller, want);
		return 0;
	}
	if (want > NC_MAX_FRAMES || t->backoff) {
		if (t->backoff)
			t->backoff--;
		if (!own_trace(t, s, caller, cfa0, want, NULL))
			libunwind_trace(s, caller, want);
		return 0;
	}
	unsigned set = set_of(caller, cfa0);
	struct nc_entry *w = t->e[set];
	if (++t->lookups == NC_WINDOW) {
		if (t->misses * 2 > NC_WINDOW)
			t->backoff = NC_BACKOFF;
		t->lookups = t->misses = 0;
	}
	int same_key = -1;
	for (int i = 0; i < NC_WAYS; i++) {
		struct nc_entry *e = &w[i];
		if (e->pc0 != caller || e->cfa0 != cfa0)
			continue;
		/* e->n < want: the walk ended there (the outermost frame);
		 * e->n == 0: the key was seen once, nothing cached yet */
		if (e->n && e->n <= want && valid(e)) {
			t->victim[set] = (uint8_t)(i ^ 1);
			/* a native-only stack whose site is known: done */
			if (e->site && !s->n_python)
				return e->site;
			memcpy(&s->native[1], &e->ip[1], (e->n - 1) * sizeof(uint64_t));
			s->n_native = e->n;
			return s->n_python ? 0 : e->site;
		}
		same_key = i;
	}
	t->misses++;
	int v = same_key >= 0 ? same_key : t->victim[set] % NC_WAYS;
	struct nc_entry *e = &w[v];
	e->pc0 = 0;
	if (own_trace(t, s, caller, cfa0, want, e)) {
		e->pc0 = caller;
		e->cfa0 = cfa0;
		e->site = 0;
		t->victim[set] = (uint8_t)(v ^ 1);
		return 0;
	}
	if (same_key < 0) {
		/* libunwind, first sight of this caller at this depth: most
		 * such stacks (start-up, one-off paths) never come back, and
		 * unw_step's walk, which the cache needs for the stack
		 * pointers, is dearer than the fast trace once libunwind's
		 * per-thread caches are outgrown.  Remember the key; walk when
		 * it comes back. */
		e->pc0 = caller;
		e->cfa0 = cfa0;
		e->n = 0;
		e->site = 0;
		t->victim[set] = (uint8_t)(v ^ 1);
		libunwind_trace(s, caller, want);
		return 0;
	}
	if (walk(s, caller, cfa0, want, e)) {
		e->pc0 = caller;
		e->cfa0 = cfa0;
		e->site = 0;
		t->victim[set] = (uint8_t)(v ^ 1);
	}
	return 0;
}

struct hwt_pymemo *hwt_pymemo_table(void)
{
	struct nc_thread *t = nc_get();
	return t ? t->py : NULL;
}

void hwt_native_remember(uint64_t caller, uint64_t cfa0, const struct hwt_stack *s, uint32_t site)
{
	struct nc_thread *t = nc;
	if (!cfa0 || s->n_native < 2 || s->n_python || t <= NC_DEAD)
		return;
	struct nc_entry *w = t->e[set_of(caller, cfa0)];
	for (int i = 0; i < NC_WAYS; i++) {
		if (w[i].pc0 == caller && w[i].cfa0 == cfa0 && w[i].n == s->n_native &&
		    memcmp(w[i].ip, s->native, s->n_native * sizeof(uint64_t)) == 0)
			w[i].site = site;
	}
}

static inline unsigned pm_index(uint64_t native0, uint64_t code0, uint64_t off0)
{
	uint64_t h = (native0 * 0x9e3779b97f4a7c15ull) ^ (code0 * 0xbf58476d1ce4e5b9ull) ^
	             (off0 * 0x94d049bb133111ebull);
	return (unsigned)(h >> 40) & (PM_SETS - 1);
}

static inline struct hwt_memo *pm_of(struct nc_thread *t, const struct hwt_stack *s)
{
	return &t->pm[pm_index(s->native[0], s->python[0], s->python[1])];
}

static inline int words_equal(const uint64_t *a, const uint64_t *b, uint32_t n)
{
	uint64_t d = 0;
	for (uint32_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

uint32_t hwt_memo_find(const struct hwt_stack *s)
{
	if (!s->n_python || !s->n_native || s->n_native + 2 * s->n_python > HWT_MEMO_WORDS)
		return 0;
	struct nc_thread *t = nc_get();
	if (!t)
		return 0;
	const struct hwt_memo *e = pm_of(t, s);
	if (e->site && e->n_native == s->n_native && e->n_python == s->n_python &&
	    words_equal(e->w, s->native, s->n_native) &&
	    words_equal(e->w + s->n_native, s->python, 2 * s->n_python))
		return e->site;
	return 0;
}

void hwt_memo_store(const struct hwt_stack *s, uint32_t site)
{
	struct nc_thread *t = nc;
	if (!s->n_python || !s->n_native || s->n_native + 2 * s->n_python > HWT_MEMO_WORDS ||
	    t <= NC_DEAD)
		return;
	struct hwt_memo *e = pm_of(t, s);
	e->site = site;
	e->n_native = s->n_native;
	e->n_python = s->n_python;
	memcpy(e->w, s->native, s->n_native * sizeof(uint64_t));
	memcpy(e->w + s->n_native, s->python, 2 * s->n_python * sizeof(uint64_t));
}
