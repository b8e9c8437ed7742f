/*
 * python.c: CPython support: PyMem hooks on the mem and object domains,
 * and reading the interpreter's own frames at allocation time.
 *
 * heapwalk_trace_python_install() is called from the sitecustomize that
 * `coretool trace` puts on PYTHONPATH (through ctypes.PyDLL, so with the
 * GIL held).  It wraps what PyMem_GetAllocator returns for
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

/*
 * Frame layouts per version (offsets in bytes), from the structs in
 * CPython's Include/cpython/pystate.h (PyThreadState: frame / cframe /
 * current_frame), Include/cpython/frameobject.h (3.8-3.10 PyFrameObject),
 * Include/internal/pycore_frame.h (3.11+ _PyInterpreterFrame) and
 * Include/cpython/code.h (co_code_adaptive, _co_firsttraceable), checked
 * with gdb `ptype/o` on the pyenv debug builds 3.8.18 ... 3.13.0.
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
};

/* _PyFrameOwner (pycore_frame.h): generator frames are never incomplete;
 * C-stack shim frames (3.12+) are not Python frames. */
#define OWNED_BY_GENERATOR 1
#define OWNED_BY_CSTACK    3

static const struct frame_layout *layout;
static void *(*get_tstate)(void);
static void *(*this_thread_tstate)(void); /* PyGILState_GetThisThreadState */
static void (*py_incref)(void *);
static uint64_t code_type; /* &PyCode_Type */
int hwt_python_installed;

#define AT(p, off, T) (*(T *)((char *)(p) + (off)))

/* Fill s->python from the interpreter's frames, laid out as L says; with
 * a caller, also compare them on the way with the thread's memo entry for
 * that caller and innermost frame, and return its site when the stack is
 * that entry's (PyMem hooks: the native stack is the caller alone).
 * Inlined once per layout, so the offsets are constants. */
static inline __attribute__((always_inline)) uint32_t walk(const struct frame_layout *L,
                                                           struct hwt_stack *s, uint64_t caller)
{
	char *ts = get_tstate();
	if (!ts)
		return 0;
	char *f = AT(ts, L->ts_frame, char *);
	if (L->via_cframe && f)
		f = AT(f, L->cf_current, char *);
	uint32_t max = hwt_root->python_frames, n = 0;
	/* the memo entry compared with: chosen at the first frame; none
	 * (no_memo, whose site 0 never matches) without a caller */
	static const struct hwt_memo no_memo;
	const struct hwt_memo *m = &no_memo;
	uint64_t diff = 0;
	for (unsigned steps = 0; f && steps < 4096; steps++) {
		char *code = AT(f, L->f_code, char *);
		char *next = AT(f, L->f_back, char *);
		int64_t off;
		if (L->owner >= 0 && AT(f, L->owner, char) == OWNED_BY_CSTACK)
			goto next;
		if (!code || AT(code, 8, uint64_t) != code_type)
			goto next;
		if (L->kind <= HWT_PY_310) {
			int lasti = AT(f, L->f_instr, int);
			off = L->lasti_units ? (int64_t)lasti * 2 : lasti;
		} else {
			char *instr = AT(f, L->f_instr, char *);
			off = instr - (code + L->co_adaptive);
			/* incomplete frame (_PyFrame_IsIncomplete): not started */
			if (AT(f, L->owner, char) != OWNED_BY_GENERATOR &&
			    off < 2 * (int64_t)AT(code, L->co_firsttraceable, int))
				goto next;
		}
		uint64_t c = (uint64_t)(uintptr_t)code, o = (uint64_t)off;
		s->python[2 * n] = c;
		s->python[2 * n + 1] = o;
		if (n == 0 && caller) {
			m = hwt_memo_candidate(caller, c, o);
			if (!m)
				m = &no_memo;
		}
		if (likely(2 * n + 2 < HWT_MEMO_WORDS))
			diff |= (m->w[2 * n + 1] ^ c) | (m->w[2 * n + 2] ^ o);
		else
			diff = 1;
		if (++n == max)
			break;
	next:
		f = next;
	}
	s->n_python = n;
	if (!diff && m->site && m->n_native == 1 && m->n_python == n && m->w[0] == caller)
		return m->site;
	return 0;
}

uint32_t hwt_python_capture(struct hwt_stack *s, uint64_t caller)
{
	const struct frame_layout *L = layout;
	if (!L || !hwt_root->python_frames)
		return 0;
	switch (L->minor) {
	case 8:
	case 9:
		return walk(&layouts[0], s, caller);
	case 10:
		return walk(&layouts[2], s, caller);
	case 11:
		return walk(&layouts[3], s, caller);
	case 12:
		return walk(&layouts[4], s, caller);
	default:
		return walk(&layouts[5], s, caller);
	}
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
	void *ts = get_tstate();
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

static __attribute__((noinline)) void *malloc_slow(struct domain *d, size_t n, uint64_t caller,
                                                   uint64_t cfa0)
{
	py_allocator *o = &d->orig;
	if (hwt_fast_skip(n)) {
		hwt_self.busy = 1;
		void *p = o->malloc(o->ctx, n);
		hwt_self.busy = 0;
		return p;
	}
	if (!hwt_enter())
		return o->malloc(o->ctx, n);
	void *p = o->malloc(o->ctx, n);
	if (p && hwt_sample(n))
		hwt_record(p, n, caller, cfa0, 1);
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
		hwt_self.busy = 1;
		void *p = o->calloc(o->ctx, n, m);
		hwt_self.busy = 0;
		return p;
	}
	if (!hwt_enter())
		return o->calloc(o->ctx, n, m);
	void *p = o->calloc(o->ctx, n, m);
	if (p && hwt_sample(n * m))
		hwt_record(p, n * m, caller, cfa0, 1);
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
	py_allocator *o = &((struct domain *)ctx)->orig;
	/* sampled mode: p was never recorded and the new block is not
	 * to be (busy: pymalloc hands a block it did not make to realloc) */
	if (hwt_fast_unrecorded(p) && hwt_fast_skip(n)) {
		hwt_self.busy = 1;
		void *q = o->realloc(o->ctx, p, n);
		hwt_self.busy = 0;
		return q;
	}
	if (!hwt_enter())
		return o->realloc(o->ctx, p, n);
	struct hwt_live_entry old;
	int had = p ? hwt_forget(p, &old) : 0;
	void *q = o->realloc(o->ctx, p, n);
	hwt_realloc_done(q, n, had, &old, CALLER(), HOOK_CFA(), 1);
	hwt_leave();
	return q;
}

static __attribute__((noinline)) void free_slow(py_allocator *o, void *p)
{
	if (!p)
		return;
	if (!hwt_enter()) {
		o->free(o->ctx, p);
		return;
	}
	struct hwt_live_entry old;
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
	free_slow(o, p);
}

/* The largest request o serves without calling malloc: 512 when a 16-
 * and a 512-byte block come without a call to the malloc hooks (pymalloc's
 * small requests; its arenas come from mmap), else 0. */
static size_t probe_direct(py_allocator *o)
{
	int busy = hwt_self.busy;
	hwt_self.busy = 1;
	uint32_t nested = hwt_self.nested;
	void *a = o->malloc(o->ctx, 16), *b = o->malloc(o->ctx, 512);
	int direct = a && b && hwt_self.nested == nested;
	if (a)
		o->free(o->ctx, a);
	if (b)
		o->free(o->ctx, b);
	hwt_self.busy = busy;
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

/* Install the hooks; 0 on success, negative when this is not a CPython we
 * know (then nothing changes). */
HWT_EXPORT int heapwalk_trace_python_install(void)
{
	static int installed;
	if (installed)
		return 0;
	if (!hwt_root) {
		hwt_self.busy = 1;
		hwt_init();
		hwt_self.busy = 0;
		if (!hwt_root)
			return -1;
	}
	int busy = hwt_self.busy;
	hwt_self.busy = 1; /* dlsym may allocate */
	const char *(*get_version)(void) =
	    (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
	void (*get_alloc)(int, py_allocator *) =
	    (void (*)(int, py_allocator *))dlsym(RTLD_DEFAULT, "PyMem_GetAllocator");
	void (*set_alloc)(int, py_allocator *) =
	    (void (*)(int, py_allocator *))dlsym(RTLD_DEFAULT, "PyMem_SetAllocator");
	void *tsget = dlsym(RTLD_DEFAULT, "PyThreadState_GetUnchecked");
	if (!tsget)
		tsget = dlsym(RTLD_DEFAULT, "_PyThreadState_UncheckedGet");
	void *incref = dlsym(RTLD_DEFAULT, "Py_IncRef");
	void *this_ts = dlsym(RTLD_DEFAULT, "PyGILState_GetThisThreadState");
	void *ctype = dlsym(RTLD_DEFAULT, "PyCode_Type");
	hwt_self.busy = busy;
	if (!get_version || !get_alloc || !set_alloc || !tsget || !incref || !ctype || !this_ts)
		return -2;
	uint64_t hex;
	unsigned minor = parse_version(get_version(), &hex);
	const struct frame_layout *L = NULL;
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (layouts[i].minor == minor)
			L = &layouts[i];
	}
	if (!L)
		return -3;
	get_tstate = (void *(*)(void))tsget;
	this_thread_tstate = (void *(*)(void))this_ts;
	py_incref = (void (*)(void *))incref;
	code_type = (uint64_t)(uintptr_t)ctype;
	hwt_root->python_version = hex;
	hwt_root->python_layout = L->kind;
	__atomic_store_n(&layout, L, __ATOMIC_RELEASE);
	__atomic_store_n(&hwt_python_installed, 1, __ATOMIC_RELEASE);

	get_alloc(PYMEM_DOMAIN_MEM, &dom_mem.orig);
	get_alloc(PYMEM_DOMAIN_OBJ, &dom_obj.orig);
	dom_mem.direct_max = probe_direct(&dom_mem.orig);
	dom_obj.direct_max = probe_direct(&dom_obj.orig);
	py_allocator mem = {&dom_mem, w_malloc, w_calloc, w_realloc, w_free};
	py_allocator obj = {&dom_obj, w_malloc, w_calloc, w_realloc, w_free};
	hwt_live_nursery_start();
	set_alloc(PYMEM_DOMAIN_MEM, &mem);
	set_alloc(PYMEM_DOMAIN_OBJ, &obj);
	installed = 1;
	return 0;
}
