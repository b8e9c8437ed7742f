/*
 * python.c: CPython support: PyMem hooks on the mem and object domains,
 * and reading the interpreter's own frames at allocation time.
 *
 * The hooks are installed by the preload's constructor when the program's
 * CPython has not started yet (hwt_python_early), and again checked by
 * heapwalk_trace_python_install(), called from the sitecustomize that
 * `coretool trace` puts on PYTHONPATH (through ctypes.PyDLL, so with the
 * GIL held): install().  They wrap what PyMem_GetAllocator returns for
 * PYMEM_DOMAIN_MEM and PYMEM_DOMAIN_OBJ, so pymalloc blocks get sites.  A
 * wrapper marks the thread busy around the real allocator: when that falls
 * through to malloc (blocks over 512 bytes), the malloc hook sees busy and
 * does not record the block a second time.
 *
 * Frames are read directly from the thread state: a code object pointer
 * and an instruction offset per frame (a few ns each); no frame objects
 * are made (PyEval_GetFrame would, from 3.11) and no line numbers are
 * computed (the reader does that from the core, decoding co_linetable).
 * Each code object a site names is referenced once (hwt_python_keep).
 *
 * The malloc family's hooks ask hwt_python_gil_held() too: a C extension
 * calling malloc directly under the GIL (numpy's array data) gets the
 * Python frames above it, and its full native stack.
 *
 * Only the C API is used, looked up with dlsym: Debian's python3.11 links
 * libpython statically and is stripped, but exports the API.
 */
#include "tracer.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* PyMemAllocatorEx, unchanged from 3.5 to 3.13 (Include/cpython/pymem.h). */
typedef struct {
	void *ctx;
	void *(*malloc)(void *ctx, size_t size);
	void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
	void *(*realloc)(void *ctx, void *ptr, size_t new_size);
	void (*free)(void *ctx, void *ptr);
} py_allocator;

enum { PYMEM_DOMAIN_RAW = 0, PYMEM_DOMAIN_MEM = 1, PYMEM_DOMAIN_OBJ = 2 };

/* PyObjectArenaAllocator, unchanged from 3.4 to 3.13 (Include/cpython/objimpl.h). */
typedef struct {
	void *ctx;
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr, size_t size);
} py_arena_allocator;

/*
 * Frame layouts per version (offsets in bytes), from the structs in
 * CPython's Include/cpython/pystate.h (PyThreadState: frame / cframe /
 * current_frame), Include/cpython/frameobject.h (3.8-3.10 PyFrameObject),
 * Include/internal/pycore_frame.h (3.11+ _PyInterpreterFrame) and
 * Include/cpython/code.h (co_code_adaptive, _co_firsttraceable), checked
 * with gdb `ptype/o` on the pyenv debug builds 3.8.18 ... 3.13.0, and on
 * the debug files of Debian's release interpreters 3.14.8 and 3.15.0
 * (python3.X-dbg): from 3.14 the frame's f_executable is a _PyStackRef, the
 * code object's address with tag bits in its low bits
 * (Include/internal/pycore_stackref.h), and `owner` moved to 0x4a.
 */
struct frame_layout {
	unsigned minor;       /* 3.minor */
	unsigned kind;        /* enum hwt_python_layout */
	unsigned ts_frame;    /* tstate: frame (3.8-3.10, 3.13) or cframe (3.11, 3.12) */
	int via_cframe;       /* 1: *(tstate + ts_frame) is a _PyCFrame */
	unsigned cf_current;  /* _PyCFrame.current_frame */
	unsigned f_code;      /* frame -> code object */
	unsigned f_back;      /* frame -> previous frame */
	unsigned f_instr;     /* f_lasti (int, 3.8-3.10) or prev_instr/instr_ptr */
	int lasti_units;      /* f_lasti counts 2-byte units (3.10) */
	int owner;            /* offset of `owner`, -1 when absent */
	unsigned co_adaptive; /* 3.11+: first code unit inside the code object */
	unsigned co_firsttraceable;
};

static const struct frame_layout layouts[] = {
    {8, HWT_PY_38, 0x18, 0, 0, 0x20, 0x18, 0x68, 0, -1, 0, 0},
    {9, HWT_PY_38, 0x18, 0, 0, 0x20, 0x18, 0x68, 0, -1, 0, 0},
    {10, HWT_PY_310, 0x18, 0, 0, 0x20, 0x18, 0x60, 1, -1, 0, 0},
    {11, HWT_PY_311, 0x38, 1, 0x08, 0x20, 0x30, 0x38, 0, 0x45, 0xb8, 0xa8},
    {12, HWT_PY_312, 0x38, 1, 0x00, 0x00, 0x08, 0x38, 0, 0x46, 0xc0, 0xb0},
    {13, HWT_PY_313, 0x48, 0, 0, 0x00, 0x08, 0x38, 0, 0x46, 0xc8, 0xb8},
    {14, HWT_PY_314, 0x48, 0, 0, 0x00, 0x08, 0x38, 0, 0x4a, 0xd0, 0xc0},
    {15, HWT_PY_314, 0x48, 0, 0, 0x00, 0x08, 0x38, 0, 0x4a, 0xd0, 0xc0},
};

/* _PyFrameOwner (pycore_frame.h): generator frames are never incomplete;
 * from 3 on the owners are not Python frames: the C-stack shims (3.12,
 * 3.13: 3; 3.14: 4) and the interpreter's own entry frames (3.14, 3.15:
 * 3). */
#define OWNED_BY_GENERATOR 1
#define OWNED_BY_SHIM      3

static const struct frame_layout *layout;
static void *(*get_tstate)(void);

/*
 * The current thread state without a call per allocation.  The getter
 * (_PyThreadState_UncheckedGet, PyThreadState_GetUnchecked) is one load,
 * but a call, and from 3.12 in a shared libpython a call to
 * __tls_get_addr as well (its variable is a thread-local): a tenth of the
 * tracer's cost on 3.12.  Where the getter's x86-64 code is one of the
 * forms compilers emit for it, the variable's address is taken from it
 * (tstate_how), once per thread for a thread-local, and read directly:
 *  - a global (up to 3.11: _PyRuntime's current thread state):
 *    `mov X(%rip),%rax; ret` (Debian's static python3.11), or through
 *    the GOT, `mov G(%rip),%rax; mov off(%rax),%rax; ret` (libpython);
 *  - a thread-local in a shared libpython (3.12, 3.13): the general
 *    dynamic sequence `lea T(%rip),%rdi; call __tls_get_addr` with the
 *    prefixes the ABI fixes (data16 lea, data16 data16 rex.W call), T the
 *    variable's tls_index: this thread's address is __tls_get_addr(T);
 *  - a thread-local in the executable: `mov %fs:off,%rax; ret`.
 * Anything else (other forms, other architectures) calls the getter.  The
 * address found is checked against the getter: at install, or, when the
 * hooks were installed before the interpreter had a thread state (from
 * the preload's constructor: TSTATE_PENDING, the getter called until
 * then), at the first allocation that finds one (tstate_settle).
 */
enum { TSTATE_CALL, TSTATE_GLOBAL, TSTATE_TLS_DYNAMIC, TSTATE_TLS_STATIC, TSTATE_PENDING };
/* The way found (exported for the tests, tracer_python.sh, to ask). */
HWT_EXPORT int heapwalk_trace_tstate_read;
#define tstate_how heapwalk_trace_tstate_read
static uintptr_t tstate_arg; /* the global's address, T, or the %fs offset */
static HWT_TLS void *const *tstate_at;
extern void *__tls_get_addr(void *);

static int32_t rel32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Recognise the getter's code at c: the way to read (and *arg for it). */
static int tstate_decode(const uint8_t *c, uintptr_t *arg)
{
	static const uint8_t endbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
	static const uint8_t mov_rip_rax[] = {0x48, 0x8b, 0x05};
	static const uint8_t gd_lea[] = {0x66, 0x48, 0x8d, 0x3d};
	static const uint8_t gd_call[] = {0x66, 0x66, 0x48, 0xe8};
	static const uint8_t gd_tail[] = {0x48, 0x8b, 0x00, 0x48, 0x83, 0xc4, 0x08, 0xc3};
	static const uint8_t fs_mov[] = {0x64, 0x48, 0x8b, 0x04, 0x25};
#if defined(__x86_64__)
	/* at most 32 bytes are read: only within the getter's page (the
	 * next one may not be mapped) */
	if (4096 - ((uintptr_t)c & 4095) < 32)
		return TSTATE_CALL;
	if (!memcmp(c, endbr64, 4))
		c += 4;
	if (!memcmp(c, mov_rip_rax, 3)) {
		uintptr_t at = (uintptr_t)(c + 7) + (intptr_t)rel32(c + 3);
		if (c[7] == 0xc3) { /* mov X(%rip),%rax; ret */
			*arg = at;
			return TSTATE_GLOBAL;
		}
		if (c[7] == 0x48 && c[8] == 0x8b && c[9] == 0x80 && c[14] == 0xc3) {
			/* mov G(%rip),%rax; mov off32(%rax),%rax; ret */
			*arg = *(const uintptr_t *)at + (uintptr_t)(intptr_t)rel32(c + 10);
			return TSTATE_GLOBAL;
		}
		if (c[7] == 0x48 && c[8] == 0x8b && c[9] == 0x40 && c[11] == 0xc3) {
			/* mov G(%rip),%rax; mov off8(%rax),%rax; ret */
			*arg = *(const uintptr_t *)at + (uintptr_t)(intptr_t)(int8_t)c[10];
			return TSTATE_GLOBAL;
		}
		return TSTATE_CALL;
	}
	if (c[0] == 0x48 && c[1] == 0x83 && c[2] == 0xec && c[3] == 0x08 &&
	    !memcmp(c + 4, gd_lea, 4) && !memcmp(c + 12, gd_call, 4) &&
	    !memcmp(c + 20, gd_tail, 8)) {
		*arg = (uintptr_t)(c + 12) + (intptr_t)rel32(c + 8);
		return TSTATE_TLS_DYNAMIC;
	}
	if (!memcmp(c, fs_mov, 5) && c[9] == 0xc3) {
		*arg = (uintptr_t)(intptr_t)rel32(c + 5);
		return TSTATE_TLS_STATIC;
	}
#else
	(void)c;
	(void)arg;
#endif
	return TSTATE_CALL;
}

/* Where this thread's current thread state is when read the way how says
 * (with arg), or NULL: call the getter. */
static void *const *tstate_where_by(int how, uintptr_t arg)
{
	switch (how) {
	case TSTATE_GLOBAL:
		return (void *const *)arg;
	case TSTATE_TLS_DYNAMIC:
		return __tls_get_addr((void *)arg);
#if defined(__x86_64__)
	case TSTATE_TLS_STATIC: {
		uintptr_t tp;
		__asm__("mov %%fs:0, %0" : "=r"(tp));
		return (void *const *)(tp + arg);
	}
#endif
	default:
		return NULL;
	}
}

static void *const *tstate_where(void)
{
	int how = __atomic_load_n(&tstate_how, __ATOMIC_ACQUIRE);
	return tstate_where_by(how, tstate_arg);
}

/* Choose the way to read the thread state, given ts, what the getter just
 * returned in this thread (not NULL): the direct read only where it finds
 * ts.  One thread decides (the others call the getter meanwhile). */
static void tstate_settle(void *ts)
{
	int pending = TSTATE_PENDING;
	if (!__atomic_compare_exchange_n(&tstate_how, &pending, TSTATE_CALL, 0, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_RELAXED))
		return;
	uintptr_t arg = 0;
	int how = tstate_decode((const uint8_t *)(uintptr_t)get_tstate, &arg);
	void *const *at = tstate_where_by(how, arg);
	if (!at || *at != ts)
		how = TSTATE_CALL;
	tstate_arg = arg;
	__atomic_store_n(&tstate_how, how, __ATOMIC_RELEASE);
}

static __attribute__((noinline)) void *tstate_slow(void)
{
	void *const *at = tstate_where();
	if (!at) {
		void *ts = get_tstate();
		if (ts &&
		    unlikely(__atomic_load_n(&tstate_how, __ATOMIC_RELAXED) == TSTATE_PENDING))
			tstate_settle(ts);
		return ts;
	}
	tstate_at = at;
	return __atomic_load_n(at, __ATOMIC_RELAXED);
}

/* The interpreter's current thread state (NULL: none, or detached). */
static inline void *tstate_now(void)
{
	void *const *at = tstate_at;
	if (likely(at))
		return __atomic_load_n(at, __ATOMIC_RELAXED);
	return tstate_slow();
}
static void *(*this_thread_tstate)(void); /* PyGILState_GetThisThreadState */
static void (*py_incref)(void *);
static uint64_t code_type; /* &PyCode_Type */
int hwt_python_installed;

#define AT(p, off, T) (*(T *)((char *)(p) + (off)))

/* The innermost frame of the thread state ts. */
static inline __attribute__((always_inline)) char *first_frame(const struct frame_layout *L,
                                                               char *ts)
{
	char *f = AT(ts, L->ts_frame, char *);
	if (L->via_cframe && f)
		f = AT(f, L->cf_current, char *);
	return f;
}

/* A frame's instruction as stored (f_lasti, or the instruction pointer):
 * equal values in the same code object are the same instruction. */
static inline __attribute__((always_inline)) uint64_t raw_instr(const struct frame_layout *L,
                                                                const char *f)
{
	if (L->kind <= HWT_PY_310)
		return (uint32_t)AT(f, L->f_instr, int);
	return (uint64_t)(uintptr_t)AT(f, L->f_instr, char *);
}

/* Frame f's (code object, byte offset) into *c, *o: 1 when it is a Python
 * frame to record, 0 when it is skipped (a C-stack shim, not a code
 * object, or not started yet); -1 when it is one that makes the stack
 * unfit for the memo (not started yet: the same raw words may later be a
 * started frame). */
static inline __attribute__((always_inline)) int frame_of(const struct frame_layout *L,
                                                          const char *f, uint64_t *c, uint64_t *o)
{
	const char *code = AT(f, L->f_code, const char *);
	if (L->kind >= HWT_PY_314) /* a _PyStackRef: the tag bits off */
		code = (const char *)((uintptr_t)code & ~(uintptr_t)7);
	if (L->owner >= 0 && AT(f, L->owner, char) >= OWNED_BY_SHIM)
		return 0;
	if (!code || AT(code, 8, uint64_t) != code_type)
		return 0;
	int64_t off;
	if (L->kind <= HWT_PY_310) {
		int lasti = AT(f, L->f_instr, int);
		off = L->lasti_units ? (int64_t)lasti * 2 : lasti;
	} else {
		off = AT(f, L->f_instr, const char *) - (code + L->co_adaptive);
		/* incomplete frame (_PyFrame_IsIncomplete): not started */
		if (AT(f, L->owner, char) != OWNED_BY_GENERATOR &&
		    off < 2 * (int64_t)AT(code, L->co_firsttraceable, int))
			return -1;
	}
	*c = (uint64_t)(uintptr_t)code;
	*o = (uint64_t)off;
	return 1;
}

/* Fill s->python from the frames from f outwards. */
static inline __attribute__((always_inline)) void walk(const struct frame_layout *L,
                                                       struct hwt_stack *s, const char *f)
{
	uint32_t max = hwt_root->python_frames, n = 0;
	for (unsigned steps = 0; f && steps < 4096 && n < max; steps++) {
		uint64_t c, o;
		if (frame_of(L, f, &c, &o) > 0) {
			s->python[2 * n] = c;
			s->python[2 * n + 1] = o;
			n++;
		}
		f = AT(f, L->f_back, const char *);
	}
	s->n_python = n;
}

/*
 * The memo of a PyMem hook's stacks (the caller alone, then Python frames):
 * a per-thread table (native.c maps it) of stacks as their frames' raw
 * words read them (code object, instruction as stored; skipped frames
 * too), with their site.  Equal raw words mean an equal stack (the code
 * objects a site names are kept alive, so an address is not reused while
 * the site can match), so a hit compares, per frame, the instruction (from
 * 3.11 a pointer into the code object, which names it) or up to 3.10 the
 * code object and the instruction offset, without validating anything.
 * The slot: the caller and the innermost frame's instruction (and code
 * object, up to 3.10).
 */
static inline __attribute__((always_inline)) struct hwt_pymemo *
memo_slot(const struct frame_layout *L, struct hwt_pymemo *tab, uint64_t caller, const char *f)
{
	/* one multiply: the words differ in their low bits (code addresses,
	 * object addresses, instruction offsets).  From 3.11 the instruction
	 * is a pointer into the code object: the code object adds nothing. */
	uint64_t x = caller ^ (raw_instr(L, f) << 7);
	if (L->kind <= HWT_PY_310)
		x ^= AT(f, L->f_code, uint64_t) >> 4;
	uint64_t h = x * 0x9e3779b97f4a7c15ull;
	return &tab[(h >> 40) & (HWT_PYMEMO_SETS - 1)];
}

static inline __attribute__((always_inline)) uint32_t memo_hit(const struct frame_layout *L,
                                                               const char *f, uint64_t caller)
{
	struct hwt_pymemo *tab = hwt_pymemo;
	if (unlikely(!tab))
		return 0;
	const struct hwt_pymemo *m = memo_slot(L, tab, caller, f);
	if (m->caller != caller)
		return 0;
	uint64_t diff = 0;
	unsigned k = 0, n = m->n;
	for (; k < n && f; k++) {
		/* From 3.11 the instruction is stored as a pointer into its
		 * code object's bytecode, so an equal pointer is the same code
		 * object: the memo's site keeps the code objects it names alive
		 * (the registry's reference), so their bytes are never another
		 * code object's; the frames a site skips are C-stack shims,
		 * whose code object is static.  Up to 3.10 it is an offset:
		 * the code object is compared too. */
		if (L->kind <= HWT_PY_310)
			diff |= AT(f, L->f_code, uint64_t) ^ m->w[2 * k];
		diff |= raw_instr(L, f) ^ m->w[2 * k + 1];
		f = AT(f, L->f_back, const char *);
	}
	if (k == n && !diff && (!m->ended || !f))
		return m->site;
	return 0;
}

/* Store the stack from f (whose site is site) in the memo, when its raw
 * frames fit and none is unfit (frame_of). */
static inline __attribute__((always_inline)) void
memo_store(const struct frame_layout *L, const char *f, uint64_t caller, uint32_t site)
{
	struct hwt_pymemo *tab = hwt_pymemo_table();
	if (!tab || !f)
		return;
	struct hwt_pymemo *m = memo_slot(L, tab, caller, f);
	uint32_t max = hwt_root->python_frames, n = 0, k = 0;
	m->caller = 0;
	for (; f && n < max; k++) {
		uint64_t c, o;
		int r = frame_of(L, f, &c, &o);
		if (r < 0 || k == HWT_PYMEMO_FRAMES)
			return;
		n += r;
		if (L->kind <= HWT_PY_310)
			m->w[2 * k] = AT(f, L->f_code, uint64_t);
		m->w[2 * k + 1] = raw_instr(L, f);
		f = AT(f, L->f_back, const char *);
	}
	m->n = (uint16_t)k;
	m->ended = !f;
	m->site = site;
	m->caller = caller;
}

/* One capture compiled per layout, so the offsets are constants: with a
 * caller (a PyMem hook), the memo's site when it has the stack, else 0
 * and s->python filled; site: store the stack with that site instead. */
static inline __attribute__((always_inline)) uint32_t
capture(const struct frame_layout *L, struct hwt_stack *s, uint64_t caller, uint32_t site)
{
	char *ts = tstate_now();
	const char *f = ts ? first_frame(L, ts) : NULL;
	if (site) {
		memo_store(L, f, caller, site);
		return 0;
	}
	if (f && caller) {
		uint32_t known = memo_hit(L, f, caller);
		if (known)
			return known;
	}
	walk(L, s, f);
	return 0;
}

static uint32_t capture_as(struct hwt_stack *s, uint64_t caller, uint32_t site)
{
	const struct frame_layout *L = layout;
	if (!L || !hwt_root->python_frames)
		return 0;
	switch (L->minor) {
	case 8:
	case 9:
		return capture(&layouts[0], s, caller, site);
	case 10:
		return capture(&layouts[2], s, caller, site);
	case 11:
		return capture(&layouts[3], s, caller, site);
	case 12:
		return capture(&layouts[4], s, caller, site);
	case 13:
		return capture(&layouts[5], s, caller, site);
	default: /* 14, 15: the same layout */
		return capture(&layouts[6], s, caller, site);
	}
}

uint32_t hwt_python_capture(struct hwt_stack *s, uint64_t caller)
{
	return capture_as(s, caller, 0);
}

void hwt_python_remember(uint64_t caller, uint32_t site)
{
	if (caller && site)
		capture_as(NULL, caller, site);
}

/* Does this thread hold the GIL (so its frames are stable and Py_IncRef
 * is allowed)?  Up to 3.11 the "current" thread state is the GIL
 * holder's, whichever thread asks: compare it with this thread's own.
 * From 3.12 it is a thread-local, NULL while this thread is detached. */
int hwt_python_gil_held(void)
{
	const struct frame_layout *L = __atomic_load_n(&layout, __ATOMIC_ACQUIRE);
	if (!L)
		return 0;
	void *ts = tstate_now();
	if (!ts)
		return 0;
	return L->minor >= 12 || ts == this_thread_tstate();
}

void hwt_python_keep(uint64_t code)
{
	if (py_incref)
		py_incref((void *)(uintptr_t)code);
}

/* ---- the wrappers ---- */

/* A wrapped domain: what was installed before, and the largest request it
 * serves without calling malloc (pymalloc's 512; 0 when it calls malloc
 * for everything: PYTHONMALLOC=malloc, the debug hooks), which
 * probe_direct() finds out at install.  Such a request, in sampled mode
 * and not sampled, costs the wrapper a countdown and a tail call; any
 * other is counted with the thread busy around the real allocator, so that
 * its own malloc is not counted a second time. */
struct domain {
	py_allocator orig;
	size_t direct_max;
};
static struct domain dom_mem, dom_obj;

/* Whether the block the wrapped allocator just returned for n bytes was
 * made by pymalloc: served without a call to the malloc family (nested:
 * the thread's count of hook calls found busy before the call), for a
 * request pymalloc serves.  Such a block lies in a pymalloc pool (shadow.c
 * covers pools only once hwt_shadow_pools() was told pymalloc is the
 * allocator; otherwise hwt_shadow_cover_pool() declines). */
static inline int from_of(const struct domain *d, size_t n, uint32_t nested)
{
	return n <= d->direct_max && hwt_self.nested == nested ? HWT_FROM_POOL : HWT_FROM_PYMEM;
}

static __attribute__((noinline)) void *malloc_slow(struct domain *d, size_t n, uint64_t caller,
                                                   uint64_t cfa0)
{
	py_allocator *o = &d->orig;
	if (hwt_fast_skip(n)) {
		hwt_busy_on();
		void *p = o->malloc(o->ctx, n);
		hwt_busy_off();
		return p;
	}
	if (!hwt_enter())
		return o->malloc(o->ctx, n);
	uint32_t nested = hwt_self.nested;
	void *p = o->malloc(o->ctx, n);
	if (p && hwt_sample(n))
		hwt_record(p, n, caller, cfa0, from_of(d, n, nested));
	hwt_leave();
	return p;
}

static void *w_malloc(void *ctx, size_t n)
{
	struct domain *d = ctx;
	if (likely(n <= d->direct_max) && hwt_fast_skip(n))
		return d->orig.malloc(d->orig.ctx, n);
	return malloc_slow(d, n, CALLER(), HOOK_CFA());
}

static __attribute__((noinline)) void *calloc_slow(struct domain *d, size_t n, size_t m,
                                                   uint64_t caller, uint64_t cfa0)
{
	py_allocator *o = &d->orig;
	size_t bytes;
	if (!__builtin_mul_overflow(n, m, &bytes) && hwt_fast_skip(bytes)) {
		hwt_busy_on();
		void *p = o->calloc(o->ctx, n, m);
		hwt_busy_off();
		return p;
	}
	if (!hwt_enter())
		return o->calloc(o->ctx, n, m);
	uint32_t nested = hwt_self.nested;
	void *p = o->calloc(o->ctx, n, m);
	if (p && hwt_sample(n * m))
		hwt_record(p, n * m, caller, cfa0, from_of(d, n * m, nested));
	hwt_leave();
	return p;
}

static void *w_calloc(void *ctx, size_t n, size_t m)
{
	struct domain *d = ctx;
	size_t bytes;
	if (!__builtin_mul_overflow(n, m, &bytes) && likely(bytes <= d->direct_max) &&
	    hwt_fast_skip(bytes))
		return d->orig.calloc(d->orig.ctx, n, m);
	return calloc_slow(d, n, m, CALLER(), HOOK_CFA());
}

static void *w_realloc(void *ctx, void *p, size_t n)
{
	struct domain *d = ctx;
	py_allocator *o = &d->orig;
	/* sampled mode: p was never recorded and the new block is not
	 * to be (busy: pymalloc hands a block it did not make to realloc) */
	if (hwt_fast_unrecorded(p) && hwt_fast_skip(n)) {
		hwt_busy_on();
		void *q = o->realloc(o->ctx, p, n);
		hwt_busy_off();
		return q;
	}
	if (!hwt_enter())
		return o->realloc(o->ctx, p, n);
	struct hwt_live_entry old;
	int had = p ? hwt_forget(p, &old) : 0;
	uint32_t nested = hwt_self.nested;
	void *q = o->realloc(o->ctx, p, n);
	q = hwt_realloc_done(q, n, had, &old, CALLER(), HOOK_CFA(), from_of(d, n, nested), 0);
	hwt_leave();
	return q;
}

/* table_only: p's shadow slot, if it has one, was just seen empty. */
static __attribute__((noinline)) void free_slow(py_allocator *o, void *p, int table_only)
{
	if (!p)
		return;
	struct hwt_live_entry old;
	if (!hwt_enter()) {
		hwt_forget_nested(p, &old);
		o->free(o->ctx, p);
		return;
	}
	if (table_only)
		hwt_live_remove((uint64_t)(uintptr_t)p, &old);
	else
		hwt_forget(p, &old);
	o->free(o->ctx, p);
	hwt_leave();
}

static void w_free(void *ctx, void *p)
{
	py_allocator *o = &((struct domain *)ctx)->orig;
	/* sampled mode, p not recorded: a filter bit and a tail call */
	if (likely(hwt_fast_unrecorded(p))) {
		o->free(o->ctx, p);
		return;
	}
	free_slow(o, p, 0);
}

/*
 * Mode all's wrappers: most of a Python program's allocations are pymalloc
 * blocks of covered arenas (shadow.c) made from stacks the memo knows.
 * For those, malloc, calloc and realloc read the stack against the memo
 * and write the block's slot (or, for a block too large for one, its
 * live-table entry), and free clears the slot and tail-calls the
 * allocator: no call out of the wrapper but the allocator (and the table).
 * Anything else takes the general path (hwt_record, free_slow).  One
 * malloc, calloc and realloc per frame layout, so the offsets are
 * constants.
 */

/* Record p (n bytes, from caller) on the fast path: 1 when done.  What
 * hwt_record() would do for a stack the memo knows: a block it keeps in a
 * shadow needs its slot there (else the general path, which covers a
 * pool made before the hooks), any other goes in the table. */
static inline __attribute__((always_inline)) int record_fast(const struct frame_layout *L, void *p,
                                                             size_t n, uint64_t caller)
{
	uint64_t a = (uint64_t)(uintptr_t)p;
	uint32_t *slot = NULL;
	int shadowed = hwt_shadow_keeps(n);
	if (!shadowed)
		hwt_live_prefetch(a); /* the table's lines, while the frames are read */
	else if (!(slot = hwt_shadow_slot(a)))
		return 0;
	char *ts = tstate_now();
	const char *f = ts ? first_frame(L, ts) : NULL;
	uint32_t site = f ? memo_hit(L, f, caller) : 0;
	if (!site)
		return 0;
	if (!shadowed) {
		hwt_live_insert(a, site, n);
		return 1;
	}
	if (site > HWT_SHADOW_SITE_MAX)
		return 0;
	__atomic_store_n(slot, hwt_shadow_pack(site, (uint32_t)n), __ATOMIC_RELAXED);
	return 1;
}

/* The allocation of n bytes: the wrapped allocator with the thread busy
 * (its own malloc calls are not recorded, and counted), then the record. */
static inline __attribute__((always_inline)) void *alloc_all(const struct frame_layout *L,
                                                             struct domain *d, size_t n, size_t m,
                                                             int zeroed, uint64_t caller,
                                                             uint64_t cfa0)
{
	struct hwt_thread *t = &hwt_self;
	py_allocator *o = &d->orig;
	if (unlikely(t->busy)) {
		t->nested++;
		return zeroed ? o->calloc(o->ctx, n, m) : o->malloc(o->ctx, n);
	}
	size_t bytes = n;
	if (zeroed && __builtin_mul_overflow(n, m, &bytes))
		return o->calloc(o->ctx, n, m);
	/* mode all: no countdown to hold aside (hwt_busy_on); a request
	 * pymalloc serves from a pool: what it allocates meanwhile is its own */
	t->busy = bytes <= d->direct_max ? HWT_BUSY_POOL : 1;
	uint32_t nested = t->nested;
	void *p = zeroed ? o->calloc(o->ctx, n, m) : o->malloc(o->ctx, n);
	t->busy = 1; /* (the record's own work is never recorded) */
	if (likely(p) && !record_fast(L, p, bytes, caller))
		hwt_record(p, bytes, caller, cfa0, from_of(d, bytes, nested));
	t->busy = 0;
	return p;
}

/* A realloc: p's entry forgotten, the wrapped realloc with the thread
 * busy, then q recorded (a failed realloc gives p its entry back:
 * hwt_realloc_done). */
static inline __attribute__((always_inline)) void *realloc_all(const struct frame_layout *L,
                                                               struct domain *d, void *p, size_t n,
                                                               uint64_t caller, uint64_t cfa0)
{
	struct hwt_thread *t = &hwt_self;
	py_allocator *o = &d->orig;
	if (unlikely(t->busy)) {
		t->nested++;
		return o->realloc(o->ctx, p, n);
	}
	/* a pool block (or none) to a size pymalloc serves from a pool: what
	 * it allocates meanwhile is its own, as in alloc_all (another block
	 * pymalloc hands to realloc, not being its own) */
	t->busy = n <= d->direct_max && (!p || hwt_shadow_slot((uint64_t)(uintptr_t)p))
	              ? HWT_BUSY_POOL
	              : 1;
	struct hwt_live_entry old;
	int had = p ? hwt_forget(p, &old) : 0;
	uint32_t nested = t->nested;
	void *q = o->realloc(o->ctx, p, n);
	t->busy = 1;
	if (unlikely(!q) || !record_fast(L, q, n, caller))
		hwt_realloc_done(q, n, had, &old, caller, cfa0, from_of(d, n, nested), 0);
	t->busy = 0;
	return q;
}

#define ALL_WRAPPERS(NAME, L)                                                                      \
	static void *w_malloc_##NAME(void *ctx, size_t n)                                          \
	{                                                                                          \
		return alloc_all(L, ctx, n, 0, 0, CALLER(), HOOK_CFA());                           \
	}                                                                                          \
	static void *w_calloc_##NAME(void *ctx, size_t n, size_t m)                                \
	{                                                                                          \
		return alloc_all(L, ctx, n, m, 1, CALLER(), HOOK_CFA());                           \
	}                                                                                          \
	static void *w_realloc_##NAME(void *ctx, void *p, size_t n)                                \
	{                                                                                          \
		return realloc_all(L, ctx, p, n, CALLER(), HOOK_CFA());                            \
	}
ALL_WRAPPERS(38, &layouts[0])
ALL_WRAPPERS(310, &layouts[2])
ALL_WRAPPERS(311, &layouts[3])
ALL_WRAPPERS(312, &layouts[4])
ALL_WRAPPERS(313, &layouts[5])
ALL_WRAPPERS(314, &layouts[6])

static void w_free_all(void *ctx, void *p)
{
	py_allocator *o = &((struct domain *)ctx)->orig;
	uint32_t *slot = NULL;
	/* a recorded block of a covered arena: its slot cleared, and the
	 * allocator frees it without a call to the malloc family */
	if (likely(!hwt_self.busy) && (slot = hwt_shadow_slot((uint64_t)(uintptr_t)p)) &&
	    likely(*slot)) {
		__atomic_store_n(slot, 0, __ATOMIC_RELAXED);
		o->free(o->ctx, p);
		return;
	}
	free_slow(o, p, slot != NULL);
}

/* Mode all's malloc, calloc and realloc, by index in layouts[] (3.9 runs
 * 3.8's, 3.15 3.14's). */
static const struct {
	void *(*malloc)(void *, size_t);
	void *(*calloc)(void *, size_t, size_t);
	void *(*realloc)(void *, void *, size_t);
} all_fns[] = {
    {w_malloc_38, w_calloc_38, w_realloc_38},    {w_malloc_38, w_calloc_38, w_realloc_38},
    {w_malloc_310, w_calloc_310, w_realloc_310}, {w_malloc_311, w_calloc_311, w_realloc_311},
    {w_malloc_312, w_calloc_312, w_realloc_312}, {w_malloc_313, w_calloc_313, w_realloc_313},
    {w_malloc_314, w_calloc_314, w_realloc_314}, {w_malloc_314, w_calloc_314, w_realloc_314},
};
_Static_assert(sizeof(all_fns) / sizeof(all_fns[0]) == sizeof(layouts) / sizeof(layouts[0]),
               "wrappers for each layout");

static void all_wrappers(const struct frame_layout *L, py_allocator *a)
{
	a->malloc = all_fns[L - layouts].malloc;
	a->calloc = all_fns[L - layouts].calloc;
	a->realloc = all_fns[L - layouts].realloc;
	a->free = w_free_all;
}

/* The arena allocator's wrappers (mode all): every arena pymalloc makes
 * from now on gets a shadow (shadow.c), uncovered just before it goes. */
static py_arena_allocator arena_orig;

static void *w_arena_alloc(void *ctx, size_t size)
{
	void *p = arena_orig.alloc(arena_orig.ctx, size);
	if (p)
		hwt_shadow_cover(p, size);
	return p;
}

static void w_arena_free(void *ctx, void *p, size_t size)
{
	hwt_shadow_uncover(p, size);
	arena_orig.free(arena_orig.ctx, p, size);
}

/* The largest request o serves without calling malloc: 512 when a 16-
 * and a 512-byte block come without a call to the malloc hooks (pymalloc's
 * small requests; its arenas come from mmap), else 0. */
static size_t probe_direct(py_allocator *o)
{
	/* busy (the countdown held aside: a malloc must reach the hook's full
	 * path, which counts it as nested) */
	int busy = hwt_busy_save();
	uint32_t nested = hwt_self.nested;
	void *a = o->malloc(o->ctx, 16), *b = o->malloc(o->ctx, 512);
	int direct = a && b && hwt_self.nested == nested;
	if (a)
		o->free(o->ctx, a);
	if (b)
		o->free(o->ctx, b);
	hwt_busy_restore(busy);
	return direct ? 512 : 0;
}

static unsigned parse_version(const char *v, uint64_t *hex)
{
	char *end;
	unsigned long major = strtoul(v, &end, 10), minor = 0, micro = 0;
	if (*end == '.')
		minor = strtoul(end + 1, &end, 10);
	if (*end == '.')
		micro = strtoul(end + 1, &end, 10);
	*hex = (major << 24) | (minor << 16) | (micro << 8);
	return major == 3 ? (unsigned)minor : 0;
}

/* What probe_direct() would find, without an allocation: before the
 * interpreter exists pymalloc cannot be called (from 3.12 it finds its
 * state through the thread state).  The allocator a CPython starts with
 * (obmalloc.c's static tables): pymalloc, context NULL (512); the debug
 * hooks of a Py_DEBUG build, a context (0); malloc itself, the raw
 * domain's functions (0, --without-pymalloc). */
static size_t guess_direct(const py_allocator *o, const py_allocator *raw)
{
	return !o->ctx && o->malloc != raw->malloc ? 512 : 0;
}

/* The C API the hooks are installed through (resolve()). */
static void (*get_alloc)(int, py_allocator *);
static void (*set_alloc)(int, py_allocator *);

/* Wrap what domain `which` has now, d recording for it. */
static void wrap_domain(int which, struct domain *d, int early)
{
	get_alloc(which, &d->orig);
	if (early) {
		py_allocator raw;
		get_alloc(PYMEM_DOMAIN_RAW, &raw);
		d->direct_max = guess_direct(&d->orig, &raw);
	} else {
		d->direct_max = probe_direct(&d->orig);
	}
	py_allocator w = {d, w_malloc, w_calloc, w_realloc, w_free};
	if (hwt_root->mode == HWT_MODE_ALL)
		all_wrappers(layout, &w);
	set_alloc(which, &w);
}

/* Does an allocation in domain `which` still pass through d's wrapper
 * (d's wrapper on top, or under another's, tracemalloc's say)?  CPython
 * replaces the allocators of a domain when PYTHONMALLOC or -X dev asks
 * for others (_PyPreConfig_Write), before its first allocation there.  Asked
 * with the GIL held, so no other thread allocates in the domain while
 * d->orig.malloc is the probe. */
static int probe_hit;
static void *(*probe_next)(void *, size_t);
static void *probe_malloc(void *ctx, size_t n)
{
	probe_hit = 1;
	return probe_next(ctx, n);
}

static int still_wrapped(int which, struct domain *d)
{
	py_allocator cur;
	get_alloc(which, &cur);
	if (cur.ctx == d)
		return 1;
	/* (not busy: what pymalloc allocates for itself meanwhile, a new
	 * arena's, is recorded; the probe's block is, and is forgotten) */
	probe_hit = 0;
	probe_next = d->orig.malloc;
	d->orig.malloc = probe_malloc;
	void *p = cur.malloc(cur.ctx, 16);
	d->orig.malloc = probe_next;
	if (p)
		cur.free(cur.ctx, p);
	return probe_hit;
}

/* A symbol of the program's CPython, or NULL.  A miss leaves an error
 * state that glibc keeps in the program's heap (since 2.34 a struct and
 * the message, with malloc): the second dlerror() frees them (the first
 * marks the message as read), so that a program without CPython, where
 * the constructor asks, ends with the heap it would have had. */
static void *py_sym(const char *name)
{
	void *p = dlsym(RTLD_DEFAULT, name);
	if (!p) {
		dlerror();
		dlerror();
	}
	return p;
}

/* Find the C API and the frame layout, and set the hooks' state: 0, or
 * negative when this is not a CPython we know (then nothing changes).
 * early: before the interpreter started (the preload's constructor). */
static int resolve(int early)
{
	if (!hwt_root) {
		int was = hwt_busy_save();
		hwt_init();
		hwt_busy_restore(was);
		if (!hwt_root)
			return -1;
	}
	int busy = hwt_busy_save(); /* dlsym may allocate */
	set_alloc = (void (*)(int, py_allocator *))py_sym("PyMem_SetAllocator");
	const char *(*get_version)(void) =
	    set_alloc ? (const char *(*)(void))py_sym("Py_GetVersion") : NULL;
	int (*is_initialized)(void) = set_alloc ? (int (*)(void))py_sym("Py_IsInitialized") : NULL;
	get_alloc = (void (*)(int, py_allocator *))py_sym("PyMem_GetAllocator");
	void *tsget = py_sym("PyThreadState_GetUnchecked");
	if (!tsget)
		tsget = py_sym("_PyThreadState_UncheckedGet");
	void *incref = py_sym("Py_IncRef");
	void *this_ts = py_sym("PyGILState_GetThisThreadState");
	void *ctype = py_sym("PyCode_Type");
	const char *rt = py_sym("_PyRuntime");
	hwt_busy_restore(busy);
	if (!get_version || !get_alloc || !set_alloc || !tsget || !incref || !ctype || !this_ts)
		return -2;
	/* a program that started its interpreter already is not "early" */
	if (early && (!is_initialized || is_initialized()))
		return -5;
	uint64_t hex;
	unsigned minor = parse_version(get_version(), &hex);
	const struct frame_layout *L = NULL;
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (layouts[i].minor == minor)
			L = &layouts[i];
	}
	if (!L)
		return -3;
	/* A free-threaded build (3.13t, 3.14t): other thread-state, frame and
	 * object layouts, mimalloc under the object domain; read as the
	 * default build's, its frames would be garbage to follow.  Known by
	 * _Py_DebugOffsets.free_threaded at the start of _PyRuntime (cookie,
	 * version, free_threaded; 3.13+, set statically).  Native sites only. */
	uint64_t ft = 0;
	if (rt && memcmp(rt, "xdebugpy", 8) == 0)
		memcpy(&ft, rt + 16, 8);
	if (ft)
		return -4;
	get_tstate = (void *(*)(void))tsget;
	/* the direct read, if the getter's code allows one, once it can be
	 * checked against what the getter returns: at the first allocation
	 * that finds a thread state (tstate_slow) */
	tstate_how = TSTATE_PENDING;
	this_thread_tstate = (void *(*)(void))this_ts;
	py_incref = (void (*)(void *))incref;
	code_type = (uint64_t)(uintptr_t)ctype;
	hwt_root->python_version = hex;
	hwt_root->python_layout = L->kind;
	__atomic_store_n(&layout, L, __ATOMIC_RELEASE);
	__atomic_store_n(&hwt_python_installed, 1, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Install the hooks: 0 on success, negative when this is not a CPython we
 * know (then nothing changes).  Twice, usually: from the preload's
 * constructor, before the interpreter starts (early: what it allocates
 * while it starts, and what runs before sitecustomize, -S and -I too, get
 * their sites; the thread state is not there yet), then from the
 * sitecustomize (GIL held), which wraps again a domain the interpreter has
 * since replaced (PYTHONMALLOC, -X dev), and installs the hooks where the
 * constructor did not (an interpreter loaded later, with dlopen).
 */
static int install(int early)
{
	static int installed;
	if (installed) {
		if (early)
			return 0;
		if (!still_wrapped(PYMEM_DOMAIN_MEM, &dom_mem))
			wrap_domain(PYMEM_DOMAIN_MEM, &dom_mem, 0);
		if (!still_wrapped(PYMEM_DOMAIN_OBJ, &dom_obj))
			wrap_domain(PYMEM_DOMAIN_OBJ, &dom_obj, 0);
		return 0;
	}
	int rc = resolve(early);
	if (rc)
		return rc;
	int busy = hwt_busy_save(); /* dlsym may allocate */
	void (*get_arena)(py_arena_allocator *) =
	    (void (*)(py_arena_allocator *))py_sym("PyObject_GetArenaAllocator");
	void (*set_arena)(py_arena_allocator *) =
	    (void (*)(py_arena_allocator *))py_sym("PyObject_SetArenaAllocator");
	hwt_busy_restore(busy);
	/* The arena allocator is wrapped once: CPython itself never sets it. */
	if (hwt_root->mode == HWT_MODE_ALL && get_arena && set_arena) {
		get_arena(&arena_orig);
		py_arena_allocator arena = {NULL, w_arena_alloc, w_arena_free};
		set_arena(&arena);
		/* pools of the arenas made before now are covered at their
		 * first block, when the allocator is pymalloc (PYTHONMALLOC
		 * unset, default or pymalloc, with or without the debug hooks):
		 * POOL_SIZE 4 KiB up to 3.9, 16 KiB from 3.10 (obmalloc.c) */
		const char *pm = getenv("PYTHONMALLOC");
		if (!pm || !*pm || strcmp(pm, "default") == 0 || strcmp(pm, "debug") == 0 ||
		    strncmp(pm, "pymalloc", 8) == 0)
			hwt_shadow_pools(layout->minor >= 10 ? 16384 : 4096);
	}
	wrap_domain(PYMEM_DOMAIN_MEM, &dom_mem, early);
	wrap_domain(PYMEM_DOMAIN_OBJ, &dom_obj, early);
	installed = 1;
	return 0;
}

HWT_EXPORT int heapwalk_trace_python_install(void)
{
	return install(0);
}

void hwt_python_early(void)
{
	install(1);
}
