/*
 * hooks.c: the interposed malloc family and the tracer's start-up.
 *
 * Every hook does the real work through glibc's exported __libc_malloc
 * family (no dlsym on the hot path, so no bootstrap recursion: dlsym may
 * itself call calloc).  posix_memalign, aligned_alloc and reallocarray are
 * forwarded to glibc's own definitions, looked up once with
 * dlsym(RTLD_NEXT) while the thread is marked busy, so the program sees
 * exactly glibc's argument checks and errno.  malloc_usable_size is left
 * alone.
 *
 * Order of operations that keeps the table right under concurrency:
 *  - allocate, then record: nobody else can hold the pointer before the
 *    allocator returned it;
 *  - forget, then free: once freed, another thread may get the same
 *    address and record it.
 */
#include "tracer.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <malloc.h>
#include <unistd.h>

/* Called through their GOT entries, not the PLT: a hook's tail call to
 * glibc is then one indirect jump, not two (sampled mode's fast paths are
 * little more than that). */
#if defined(__has_attribute) && __has_attribute(noplt)
#define NOPLT __attribute__((noplt))
#else
#define NOPLT
#endif
extern void *__libc_malloc(size_t) NOPLT;
extern void *__libc_calloc(size_t, size_t) NOPLT;
extern void *__libc_realloc(void *, size_t) NOPLT;
extern void __libc_free(void *) NOPLT;
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

HWT_TLS struct hwt_thread hwt_self;
uint64_t hwt_free_mask;
struct hwt_root *hwt_root;
int hwt_state;

/* The root of the tables, for a reader that has symbols. */
HWT_EXPORT struct hwt_root *heapwalk_trace_root;

static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_reallocarray)(void *, size_t, size_t);

static void after_fork_parent(void)
{
	hwt_live_unlock_all();
	hwt_shadow_unlock();
	hwt_sites_unlock();
}

/* Forks made so far (counted in the parent, before each). */
static uint64_t forks;

static void after_fork_child(void)
{
	/* The child has one thread, ours: the tables are consistent because
	 * every lock was held across the fork. */
	hwt_live_unlock_all();
	hwt_shadow_unlock();
	hwt_sites_unlock();
	if (hwt_root)
		hwt_root->pid = (uint64_t)getpid();
	hwt_sampler_forked(forks);
}

static void before_fork(void)
{
	__atomic_fetch_add(&forks, 1, __ATOMIC_RELAXED);
	hwt_sites_lock();
	hwt_shadow_lock();
	hwt_live_lock_all();
}

/* Parse the environment and map the root.  Runs once, on the first hook
 * call of any thread (malloc is called before constructors run); the
 * caller is busy, so what dlsym/pthread_atfork allocate is unrecorded. */
/* The start signal (tracer_format.h): a dormant tracer switches to sampled
 * mode.  Two atomic stores: threads pick the mode up at their next slow
 * path, within DORMANT_COUNTDOWN bytes of allocation (record.c). */
static void start_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	struct hwt_root *r = hwt_root;
	if (!r || __atomic_load_n(&r->mode, __ATOMIC_ACQUIRE) != HWT_MODE_DORMANT)
		return;
	if (si && si->si_code == SI_QUEUE && si->si_value.sival_ptr)
		__atomic_store_n(&r->sample_bytes, (uint64_t)(uintptr_t)si->si_value.sival_ptr,
		                 __ATOMIC_RELAXED);
	__atomic_store_n(&r->mode, (uint32_t)HWT_MODE_SAMPLED, __ATOMIC_RELEASE);
}

/* Dormant: the start signal's handler, unless the program has one there. */
static void start_signal_install(void)
{
	int sig = SIGRTMIN + HWT_START_SIGNAL_RT;
	struct sigaction old, sa;
	if (sig > SIGRTMAX || sigaction(sig, NULL, &old) != 0 || old.sa_handler != SIG_DFL)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = start_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static int init_once(void)
{
	const char *off = getenv("HEAPWALK_TRACE");
	int dormant = off && strcmp(off, "off") == 0;
	struct hwt_root *r = hwt_map(sizeof(*r));
	if (!r)
		return -1;
	memcpy(r->magic, HWT_MAGIC, HWT_MAGIC_LEN);
	r->version = HWT_FORMAT_VERSION;
	r->size = sizeof(*r);
	r->self = (uint64_t)(uintptr_t)r;
	r->pid = (uint64_t)getpid();
	r->sample_bytes = hwt_env_u64("HEAPWALK_TRACE_SAMPLE", 0);
	r->mode = r->sample_bytes ? HWT_MODE_SAMPLED : HWT_MODE_ALL;
	if (dormant) {
		/* sampled mode's paths, none taken until started (512 KiB
		 * unless HEAPWALK_TRACE_SAMPLE or the signal says otherwise) */
		r->mode = HWT_MODE_DORMANT;
		if (!r->sample_bytes)
			r->sample_bytes = 512u << 10;
	}
	uint64_t nf = hwt_env_u64("HEAPWALK_TRACE_NATIVE_FRAMES", 8);
	r->native_frames = nf < 1 ? 1 : nf > HWT_MAX_NATIVE ? HWT_MAX_NATIVE : (uint32_t)nf;
	uint64_t pf = hwt_env_u64("HEAPWALK_TRACE_PYTHON_FRAMES", 32);
	r->python_frames = pf > HWT_MAX_PYTHON ? HWT_MAX_PYTHON : (uint32_t)pf;
	hwt_root = r;
	if (hwt_sites_init() != 0)
		return -1;

	real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
	real_reallocarray = (void *(*)(void *, size_t, size_t))dlsym(RTLD_NEXT, "reallocarray");
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	if (dormant)
		start_signal_install();
	__atomic_store_n(&heapwalk_trace_root, r, __ATOMIC_RELEASE);
	return 0;
}

int hwt_init(void)
{
	int s = __atomic_load_n(&hwt_state, __ATOMIC_ACQUIRE);
	if (likely(s == 2))
		return 1;
	if (s != 0)
		return 0; /* failed, or another thread is initialising: pass through */
	int expected = 0;
	if (!__atomic_compare_exchange_n(&hwt_state, &expected, 1, 0, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE))
		return 0;
	int ok = init_once() == 0;
	if (ok)
		hwt_filter_start();
	/* (free's fast path, hwt_fast_unmarked: only sampled mode's blocks
	 * are where it can tell them; off, no block is recorded) */
	hwt_free_mask = !ok ? ~(uint64_t)0 : hwt_root->mode != HWT_MODE_ALL ? HWT_MARK_MASK : 0;
	__atomic_store_n(&hwt_state, ok ? 2 : -1, __ATOMIC_RELEASE);
	return ok;
}

/* Sampled mode moves a heap block it records to a page boundary
 * (hwt_free_mask says why), with glibc's memalign asked for the same
 * bytes: a block as large as malloc's, but when the free space it came
 * from was a near fit (_int_memalign keeps a spare end of up to MINSIZE,
 * 32 bytes, rather than split it off; malloc itself keeps up to 16 from a
 * near-fitting free chunk: a program never knew its usable sizes in
 * advance).  About one allocation in a thousand of a program of small
 * blocks is sampled (512 KiB apart), so the memalign, and for realloc and
 * calloc the copy, are paid rarely.  The room memalign leaves before the
 * block goes back to glibc's bins.  Only hwt_place calls it, for a p it
 * found out of place (the mask is not 0 only in sampled mode). */
void *hwt_place_sampled(void *p, size_t n, size_t keep)
{
	int saved = errno;
	void *q = __libc_memalign(4096, n);
	if (q) {
		memcpy(q, p, keep);
		__libc_free(p);
	}
	errno = saved;
	return q;
}

#define enter hwt_enter
#define leave hwt_leave
/* Python frames too when this thread runs CPython code (holds the GIL). */
#define PY()                                                                                       \
	(__atomic_load_n(&hwt_python_installed, __ATOMIC_RELAXED) && hwt_python_gil_held() ? 2 : 0)

/* malloc, free, calloc and realloc are split: the exported function is
 * sampled mode's fast path (a countdown or a filter bit, then a tail call
 * to glibc, no stack frame) and hands everything else to a slow function,
 * passing it the caller and the hook's CFA it saw. */

static __attribute__((noinline)) void *malloc_slow(size_t n, uint64_t caller, uint64_t cfa0)
{
	if (!enter())
		return __libc_malloc(n);
	void *p = __libc_malloc(n);
	if (p && hwt_sample(n))
		p = hwt_record_placed(p, n, 0, caller, cfa0, PY());
	leave();
	return p;
}

HWT_EXPORT void *malloc(size_t n)
{
	if (hwt_fast_skip(n))
		return __libc_malloc(n);
	return malloc_slow(n, CALLER(), HOOK_CFA());
}

/* (p is not NULL: free returns first) */
static __attribute__((noinline)) void free_slow(void *p)
{
	/* sampled mode: p is where a recorded block could be; the filter
	 * decides (in mode all, a mask of 0, it would always say maybe) */
	if (hwt_free_mask && hwt_fast_unrecorded(p)) {
		__libc_free(p);
		return;
	}
	struct hwt_live_entry old;
	if (!enter()) {
		hwt_forget_nested(p, &old);
		__libc_free(p);
		return;
	}
	/* two independent cache misses, overlapped: glibc's on the chunk
	 * header (the program's own memory, read-only here), started now, and
	 * ours on the live-table slot, which the removal waits for.
	 * (Forgetting makes no system call: errno, which free never changes,
	 * stays as it was.) */
	__builtin_prefetch((char *)p - 16, 0, 3);
	hwt_forget(p, &old);
	__libc_free(p);
	leave();
}

HWT_EXPORT void free(void *p)
{
	if (hwt_fast_unmarked(p)) {
		__libc_free(p);
		return;
	}
	if (!p) /* (common enough to spare it the call) */
		return;
	free_slow(p);
}

static __attribute__((noinline)) void *calloc_slow(size_t n, size_t m, uint64_t caller,
                                                   uint64_t cfa0)
{
	if (!enter())
		return __libc_calloc(n, m);
	void *p = __libc_calloc(n, m);
	if (p && hwt_sample(n * m))
		p = hwt_record_placed(p, n * m, n * m, caller, cfa0, PY());
	leave();
	return p;
}

HWT_EXPORT void *calloc(size_t n, size_t m)
{
	size_t bytes;
	if (!__builtin_mul_overflow(n, m, &bytes) && hwt_fast_skip(bytes))
		return __libc_calloc(n, m);
	return calloc_slow(n, m, CALLER(), HOOK_CFA());
}

/* realloc and reallocarray: the new block gets the site of this call, as
 * tracemalloc does. */
static void *realloc_common(void *p, size_t n, uint64_t caller, uint64_t cfa0, int python,
                            void *(*real)(void *, size_t, size_t), size_t m)
{
	struct hwt_live_entry old;
	int had = p ? hwt_forget(p, &old) : 0;
	void *q = real ? real(p, n, m) : __libc_realloc(p, n);
	return hwt_realloc_done(q, real ? n * m : n, had, &old, caller, cfa0, python, 1);
}

/* A realloc nested in another hook: p's entry goes (hwt_forget_nested) and
 * comes back when the realloc fails; the new block is not recorded. */
static void *realloc_nested(void *p, size_t n)
{
	struct hwt_live_entry old;
	int had = hwt_forget_nested(p, &old);
	void *q = __libc_realloc(p, n);
	return q ? q : hwt_realloc_done(NULL, n, had, &old, 0, 0, 0, 0);
}

static __attribute__((noinline)) void *realloc_slow(void *p, size_t n, uint64_t caller,
                                                    uint64_t cfa0)
{
	if (!enter())
		return realloc_nested(p, n);
	void *q = realloc_common(p, n, caller, cfa0, PY(), NULL, 0);
	leave();
	return q;
}

HWT_EXPORT void *realloc(void *p, size_t n)
{
	/* sampled mode: p was never recorded and the new block is not to be */
	if (hwt_fast_unmarked(p) && hwt_fast_skip(n))
		return __libc_realloc(p, n);
	return realloc_slow(p, n, CALLER(), HOOK_CFA());
}

HWT_EXPORT void *reallocarray(void *p, size_t n, size_t m)
{
	if (!enter()) {
		size_t b;
		if (__builtin_mul_overflow(n, m, &b)) {
			errno = ENOMEM;
			return NULL;
		}
		return realloc_nested(p, b);
	}
	void *q;
	if (real_reallocarray) {
		q = realloc_common(p, n, CALLER(), HOOK_CFA(), PY(), real_reallocarray, m);
	} else {
		size_t b;
		if (__builtin_mul_overflow(n, m, &b)) {
			errno = ENOMEM;
			q = NULL;
		} else {
			q = realloc_common(p, b, CALLER(), HOOK_CFA(), PY(), NULL, 0);
		}
	}
	leave();
	return q;
}

HWT_EXPORT void *memalign(size_t align, size_t n)
{
	if (!enter())
		return __libc_memalign(align, n);
	void *p = __libc_memalign(align, n);
	if (p && hwt_sample(n))
		p = hwt_record_placed(p, n, 0, CALLER(), HOOK_CFA(), PY());
	leave();
	return p;
}

HWT_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	int rc;
	if (!enter()) {
		/* glibc's checks, done here because we may not have its
		 * definition yet (called during our own start-up) */
		if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0 || align == 0)
			return EINVAL;
		void *p = __libc_memalign(align, n);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	if (real_posix_memalign) {
		rc = real_posix_memalign(out, align, n);
	} else if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0 || align == 0) {
		rc = EINVAL;
	} else {
		void *p = __libc_memalign(align, n);
		rc = p ? 0 : ENOMEM;
		if (p)
			*out = p;
	}
	if (rc == 0 && hwt_sample(n))
		*out = hwt_record_placed(*out, n, 0, CALLER(), HOOK_CFA(), PY());
	leave();
	return rc;
}

HWT_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (!enter())
		return __libc_memalign(align, n);
	void *p = real_aligned_alloc ? real_aligned_alloc(align, n) : __libc_memalign(align, n);
	if (p && hwt_sample(n))
		p = hwt_record_placed(p, n, 0, CALLER(), HOOK_CFA(), PY());
	leave();
	return p;
}

HWT_EXPORT void *valloc(size_t n)
{
	if (!enter())
		return __libc_valloc(n);
	void *p = __libc_valloc(n);
	if (p && hwt_sample(n))
		p = hwt_record_placed(p, n, 0, CALLER(), HOOK_CFA(), PY());
	leave();
	return p;
}

HWT_EXPORT void *pvalloc(size_t n)
{
	if (!enter())
		return __libc_pvalloc(n);
	void *p = __libc_pvalloc(n);
	if (p && hwt_sample(n))
		p = hwt_record_placed(p, n, 0, CALLER(), HOOK_CFA(), PY());
	leave();
	return p;
}

/* Start recording as early as possible even in a program that allocates
 * nothing before main. */
__attribute__((constructor)) static void hwt_constructor(void)
{
	if (hwt_self.busy)
		return;
	hwt_busy_on();
	if (hwt_init()) {
		hwt_python_early();
		hwt_watch_start();
	}
	hwt_busy_off();
}

/* ---- pthread_create: the new thread notes its stack first ---- */

/* The own unwinder needs each thread's stack bounds, and the only safe
 * moment to ask glibc for them is before the thread runs anything of the
 * program's (native.c, hwt_stack_bounds_here).  The start routine and its
 * argument travel in a page of the tracer's own (no malloc: the program's
 * heap stays as it would be). */
struct hwt_start {
	void *(*start)(void *);
	void *arg;
};

static void *hwt_start_thread(void *p)
{
	struct hwt_start s = *(struct hwt_start *)p;
	hwt_unmap(p, sizeof(s));
	hwt_stack_bounds_here();
	return s.start(s.arg);
}

HWT_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                              void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	if (!real) {
		int busy = hwt_busy_save(); /* what dlsym allocates is not recorded */
		real = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
		                void *))dlsym(RTLD_NEXT, "pthread_create");
		hwt_busy_restore(busy);
		if (!real)
			return EAGAIN;
	}
	struct hwt_start *s = hwt_map(sizeof(*s));
	if (!s)
		return real(thread, attr, start, arg);
	s->start = start;
	s->arg = arg;
	int rc = real(thread, attr, hwt_start_thread, s);
	if (rc != 0)
		hwt_unmap(s, sizeof(*s));
	return rc;
}
