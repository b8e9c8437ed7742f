/*
 * typer.c: names the type of an allocation: the CPython type of the object
 * it holds, or the C++ class whose vtable its first word points into.
 *
 * CPython (object layout: Include/object.h, Include/internal/pycore_gc.h,
 * pycore_object.h _PyType_PreHeaderSize, 3.8-3.15): an object of type T
 * starts `off` bytes into its block, off = 16 when T has Py_TPFLAGS_HAVE_GC
 * (PyGC_Head) plus the pre-header (two words) when T has the managed dict
 * (3.11) or managed dict/weakref (3.12+) flags.  For each candidate offset
 * 0, 16, 32 the word at off + ob_type must be a valid type whose own
 * flags give back that same offset and whose tp_basicsize fits the block.
 * A type T is valid when T->ob_type is &PyType_Type, or is a metaclass
 * (flag Py_TPFLAGS_TYPE_SUBCLASS) whose own type is &PyType_Type, and its
 * tp_name is a printable C string.  Verdicts, valid or not, are cached per
 * type pointer, so a walk of millions of objects reads each type once.
 *
 * Heap types (classes defined in Python) are named as type.__repr__ names
 * them, "module.QualName" from ht_qualname and the type dict's
 * __module__; static types by their tp_name ("dict", "_abc._abc_data").
 *
 * C++: the symbol tables (.symtab of the debug file or the module, then
 * .dynsym) of every module give the `_ZTV*` vtable objects; a first word
 * inside one (past its offset-to-top and typeinfo words) names the class,
 * demangled with libiberty's cplus_demangle ("vtable for ns::Foo").
 */
#include "cpython.h"

#include <inttypes.h>
#include <libiberty/demangle.h>
#include <stdlib.h>
#include <string.h>

/* Name strings are capped; longer tp_names are cut. */
#define NAME_MAX_LEN 200
/* Reference counts above this are pointers, not counts (2^40: no process
 * holds a trillion references; user-space pointers are above 2^44 here). */
#define MAX_REFCNT (1ULL << 40)
/* More distinct type pointers than this are not cached (memory bound). */
#define MAX_CACHE (1u << 22)

/* What an object of a type keeps in blocks of its own (owned_of): the
 * builtin container its type is or derives from. */
enum owns {
	OWNS_NOTHING,
	OWNS_LIST,      /* ob_item */
	OWNS_DICT,      /* ma_keys, ma_values */
	OWNS_SET,       /* table (set and frozenset) */
	OWNS_BYTEARRAY, /* ob_bytes */
	OWNS_DEQUE,     /* its chain of blocks */
	OWNS_ARRAY,     /* array.array's ob_item */
	OWNS_ODICT,     /* a dict's, and its list of nodes and their table */
	OWNS_BASE,      /* a heap type: as its tp_base (else e->fallback) */
};

struct type_entry {
	uint64_t type;      /* key; 0 = empty slot */
	const char *name;   /* NULL: not a valid type */
	uint64_t basicsize; /* the least an object takes (tp_basicsize; str less) */
	uint64_t base;      /* tp_base, while owns is OWNS_BASE */
	uint32_t offset;    /* where the object starts in its block */
	uint8_t owns;       /* enum owns */
	uint8_t fallback;   /* owns when the base owns nothing: by the flags */
	uint8_t managed;    /* 3.11/3.12 managed dict: values in the pre-header */
};

struct vtable {
	uint64_t start, end;
	const char *name;
};

struct hw_typer {
	hw_target *target;
	hw_pymalloc *py;
	/* open-addressing cache of type pointers */
	struct type_entry *cache;
	size_t cache_cap, cache_used;
	/* the last type looked up (neighbouring blocks often share it);
	 * the pointer is into cache, reset when it moves */
	const struct type_entry *last;
	/* every name string handed out, freed with the typer */
	char **names;
	size_t n_names, names_cap;
	/* C++ vtables, sorted by start; built on first use */
	struct vtable *vt;
	size_t n_vt;
	int vt_built;
	/* static types named by the interpreter's own dicts, when their
	 * tp_name is not in the core (static_names_build): sorted by type */
	struct static_name *sn;
	size_t n_sn;
	int sn_built;
	uint64_t dict_type; /* &PyDict_Type, once known */
};

struct static_name {
	uint64_t type;
	char *name;
	int rank; /* 2: from builtins' dict, 1: an alias of the types module */
};

static const char *keep_name(hw_typer *ty, char *s)
{
	if (!s)
		return NULL;
	if (hw_grow((void **)&ty->names, sizeof *ty->names, &ty->names_cap, ty->n_names + 1)) {
		free(s);
		return NULL;
	}
	ty->names[ty->n_names++] = s;
	return s;
}

int hw_typer_new(hw_typer **out, hw_target *t, hw_pymalloc *py)
{
	*out = NULL;
	hw_typer *ty = calloc(1, sizeof *ty);
	if (!ty)
		return hw_error_set(HW_ENOMEM, "out of memory");
	ty->target = t;
	ty->py = py;
	*out = ty;
	return HW_OK;
}

void hw_typer_free(hw_typer *ty)
{
	if (!ty)
		return;
	for (size_t i = 0; i < ty->n_names; i++)
		free(ty->names[i]);
	free(ty->names);
	free(ty->cache);
	free(ty->vt);
	for (size_t i = 0; i < ty->n_sn; i++)
		free(ty->sn[i].name);
	free(ty->sn);
	free(ty);
}

/* ---- CPython ---- */

static size_t hash_ptr(uint64_t p)
{
	p ^= p >> 33;
	p *= 0xff51afd7ed558ccdULL;
	p ^= p >> 33;
	return (size_t)p;
}

static struct type_entry *cache_slot(hw_typer *ty, uint64_t type)
{
	size_t mask = ty->cache_cap - 1;
	for (size_t i = hash_ptr(type) & mask;; i = (i + 1) & mask)
		if (ty->cache[i].type == type || ty->cache[i].type == 0)
			return &ty->cache[i];
}

static int cache_grow(hw_typer *ty)
{
	size_t nc = ty->cache_cap ? ty->cache_cap * 2 : 1024;
	struct type_entry *old = ty->cache;
	size_t oc = ty->cache_cap;
	ty->cache = calloc(nc, sizeof *ty->cache);
	if (!ty->cache) {
		ty->cache = old;
		return -1;
	}
	ty->cache_cap = nc;
	ty->last = NULL;
	for (size_t i = 0; i < oc; i++)
		if (old[i].type)
			*cache_slot(ty, old[i].type) = old[i];
	free(old);
	return 0;
}

static int printable_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* Is `meta` &PyType_Type or a subclass of type whose type is type? */
static int is_type_type(hw_typer *ty, uint64_t meta)
{
	const struct hw_pymalloc *p = ty->py;
	if (meta == p->type_type)
		return 1;
	uint64_t metameta, flags;
	if (hw_read_u64(ty->target, meta + p->layout.ob_type, &metameta) != HW_OK ||
	    metameta != p->type_type)
		return 0;
	if (hw_read_u64(ty->target, meta + p->layout.tp_flags, &flags) != HW_OK)
		return 0;
	return (flags & HW_PY_TPFLAGS_TYPE_SUBCLASS) != 0;
}

/* The text of a compact ASCII str object (state bits: compact 1 << 5,
 * ascii 1 << 6, the same 3.8-3.15), or 0. */
static int read_ascii(hw_typer *ty, uint64_t str, char *buf, size_t cap)
{
	const struct hw_py_layout *L = &ty->py->layout;
	uint64_t len;
	uint32_t state;
	if (!str || str % 8 || hw_read_u64(ty->target, str + L->str_length, &len) != HW_OK ||
	    hw_read_u32(ty->target, str + L->str_state, &state) != HW_OK)
		return 0;
	if (!(state & 1u << 5) || !(state & 1u << 6) || len == 0 || len >= cap)
		return 0;
	if (hw_read(ty->target, str + L->str_data, buf, len) != HW_OK)
		return 0;
	buf[len] = 0;
	return strlen(buf) == len && printable_name(buf);
}

/* Type dicts are small; a bigger one is not believed. */
#define MAX_DICT_ENTRIES 4096

/* Each entry of a dict whose key is an ASCII str: fn(ctx, key, value),
 * until fn returns nonzero. */
static void dict_foreach_ascii(hw_typer *ty, uint64_t dict,
                               int (*fn)(void *ctx, const char *key, uint64_t value), void *ctx)
{
	const struct hw_py_layout *L = &ty->py->layout;
	uint64_t keys, nentries, entries;
	uint32_t esize = 24, key_off = 8;
	if (!dict || hw_read_u64(ty->target, dict + L->ma_keys, &keys) != HW_OK || !keys ||
	    hw_read_u64(ty->target, keys + L->dk_nentries, &nentries) != HW_OK ||
	    nentries > MAX_DICT_ENTRIES)
		return;
	if (L->dk_log2) {
		unsigned char h[3];
		if (hw_read(ty->target, keys + 8, h, 3) != HW_OK || h[1] > 24 || h[2] > 2)
			return;
		entries = keys + L->dk_indices + (1ULL << h[1]);
		if (h[2] != 0)
			esize = 16, key_off = 0;
	} else {
		uint64_t size;
		if (hw_read_u64(ty->target, keys + 8, &size) != HW_OK || size > (1u << 24))
			return;
		unsigned ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
		entries = keys + L->dk_indices + size * ix;
	}
	char kbuf[64];
	for (uint64_t i = 0; i < nentries; i++) {
		uint64_t k, v;
		uint64_t ent = entries + i * esize;
		if (hw_read_u64(ty->target, ent + key_off, &k) != HW_OK ||
		    hw_read_u64(ty->target, ent + key_off + 8, &v) != HW_OK)
			return;
		if (k && v && read_ascii(ty, k, kbuf, sizeof kbuf) && fn(ctx, kbuf, v))
			return;
	}
}

struct dict_get {
	hw_typer *ty;
	const char *key;
	char *out;
	size_t cap;
	int found;
};

static int dict_get_entry(void *ctx, const char *key, uint64_t value)
{
	struct dict_get *g = ctx;
	if (strcmp(key, g->key))
		return 0;
	g->found = read_ascii(g->ty, value, g->out, g->cap);
	return 1;
}

/* dict[key] when both are ASCII strs (the dict of a heap type). */
static int dict_get_ascii(hw_typer *ty, uint64_t dict, const char *key, char *out, size_t cap)
{
	struct dict_get g = {ty, key, out, cap, 0};
	dict_foreach_ascii(ty, dict, dict_get_entry, &g);
	return g.found;
}

/* A heap type's name as type.__repr__ gives it: __module__ + "." +
 * __qualname__, the module left out when it is "builtins". */
static int heap_type_name(hw_typer *ty, uint64_t t, char *buf, size_t cap)
{
	const struct hw_py_layout *L = &ty->py->layout;
	char qual[NAME_MAX_LEN + 1], mod[NAME_MAX_LEN + 1];
	uint64_t q, dict;
	if (hw_read_u64(ty->target, t + L->ht_qualname, &q) != HW_OK ||
	    !read_ascii(ty, q, qual, sizeof qual))
		return 0;
	if (hw_read_u64(ty->target, t + L->tp_dict, &dict) != HW_OK ||
	    !dict_get_ascii(ty, dict, "__module__", mod, sizeof mod) ||
	    strcmp(mod, "builtins") == 0)
		snprintf(buf, cap, "%s", qual);
	else
		snprintf(buf, cap, "%s.%s", mod, qual);
	return 1;
}

/* The types module's names of static types whose tp_name differs (types.py,
 * the same 3.6-3.13): the name is the tp_name, as a core with the file
 * would show it. */
static const struct {
	const char *attr, *name;
} type_aliases[] = {
    {"FunctionType", "function"},
    {"LambdaType", "function"},
    {"CodeType", "code"},
    {"FrameType", "frame"},
    {"CellType", "cell"},
    {"MethodType", "method"},
    {"ModuleType", "module"},
    {"BuiltinFunctionType", "builtin_function_or_method"},
    {"GeneratorType", "generator"},
    {"CoroutineType", "coroutine"},
    {"AsyncGeneratorType", "async_generator"},
    {"MappingProxyType", "mappingproxy"},
    {"TracebackType", "traceback"},
    {"GetSetDescriptorType", "getset_descriptor"},
    {"MemberDescriptorType", "member_descriptor"},
    {"WrapperDescriptorType", "wrapper_descriptor"},
    {"MethodWrapperType", "method-wrapper"},
    {"MethodDescriptorType", "method_descriptor"},
    {"ClassMethodDescriptorType", "classmethod_descriptor"},
    {"SimpleNamespace", "types.SimpleNamespace"},
    {"NoneType", "NoneType"},
    {"EllipsisType", "ellipsis"},
    {"NotImplementedType", "NotImplementedType"},
};

/* A static type object at t: of type type (or a subclass of it), without
 * Py_TPFLAGS_HEAPTYPE. */
static int is_static_type(hw_typer *ty, uint64_t t)
{
	const struct hw_py_layout *L = &ty->py->layout;
	uint64_t meta, flags;
	return t && t % 8 == 0 && hw_read_u64(ty->target, t + L->ob_type, &meta) == HW_OK &&
	       is_type_type(ty, meta) &&
	       hw_read_u64(ty->target, t + L->tp_flags, &flags) == HW_OK &&
	       !(flags & HW_PY_TPFLAGS_HEAPTYPE);
}

struct sn_scan {
	hw_typer *ty;
	uint64_t dict_type;      /* &PyDict_Type */
	struct static_name *cur; /* this dict's static types, keys */
	size_t n_cur, cap_cur;
	size_t best_n; /* the dict with most: builtins' */
	struct static_name *best;
	struct static_name *alias; /* types-module aliases, from any dict */
	size_t n_alias, cap_alias;
};

static int sn_entry(void *ctx, const char *key, uint64_t value)
{
	struct sn_scan *sc = ctx;
	if (!is_static_type(sc->ty, value))
		return 0;
	for (size_t i = 0; i < HW_ARRAY_SIZE(type_aliases); i++)
		if (!strcmp(key, type_aliases[i].attr) &&
		    !hw_grow((void **)&sc->alias, sizeof *sc->alias, &sc->cap_alias,
		             sc->n_alias + 1))
			sc->alias[sc->n_alias++] =
			    (struct static_name){value, strdup(type_aliases[i].name), 1};
	if (!hw_grow((void **)&sc->cur, sizeof *sc->cur, &sc->cap_cur, sc->n_cur + 1))
		sc->cur[sc->n_cur++] = (struct static_name){value, strdup(key), 2};
	return 0;
}

static void sn_free(struct static_name *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
}

static int sn_alloc(void *ctx, const hw_alloc *a)
{
	struct sn_scan *sc = ctx;
	const struct hw_py_layout *L = &sc->ty->py->layout;
	uint64_t obj = a->address + L->gc_head_size, type;
	if (a->state != HW_STATE_USED || a->size < L->gc_head_size + 48 ||
	    hw_read_u64(sc->ty->target, obj + L->ob_type, &type) != HW_OK || type != sc->dict_type)
		return 0;
	sc->n_cur = 0;
	dict_foreach_ascii(sc->ty, obj, sn_entry, sc);
	if (sc->n_cur > sc->best_n) {
		sn_free(sc->best, sc->best_n);
		sc->best = sc->cur;
		sc->best_n = sc->n_cur;
		sc->cur = NULL;
		sc->cap_cur = 0;
	} else {
		for (size_t i = 0; i < sc->n_cur; i++)
			free(sc->cur[i].name);
	}
	sc->n_cur = 0;
	return 0;
}

static int cmp_sn(const void *a, const void *b)
{
	const struct static_name *x = a, *y = b;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return y->rank - x->rank; /* the better name first */
}

/* Once, without the interpreter's file: the dict of most static types
 * among the dicts pymalloc holds is builtins' ("float" -> &PyFloat_Type,
 * the key the type's own name), and any dict's types-module names
 * (FunctionType...) give the rest.  The pymalloc walk this takes leaves
 * the walk under way, if any, as it was (the summary is restored). */
static void static_names_build(hw_typer *ty, uint64_t dict_type)
{
	ty->sn_built = 1;
	struct hw_pymalloc *p = ty->py;
	struct sn_scan sc = {.ty = ty, .dict_type = dict_type};
	hw_pymalloc_summary keep = p->summary;
	int walked = p->walked;
	hw_visitor v = {.alloc = sn_alloc, .ctx = &sc};
	(void)hw_pymalloc_walk(p, &v);
	p->summary = keep;
	p->walked = walked;
	sn_free(sc.cur, sc.n_cur);
	size_t n = sc.best_n + sc.n_alias;
	struct static_name *all = n ? malloc(n * sizeof *all) : NULL;
	if (all) {
		if (sc.best_n)
			memcpy(all, sc.best, sc.best_n * sizeof *all);
		if (sc.n_alias)
			memcpy(all + sc.best_n, sc.alias, sc.n_alias * sizeof *all);
		free(sc.best);
		free(sc.alias);
		qsort(all, n, sizeof *all, cmp_sn);
		ty->sn = all;
		ty->n_sn = n;
	} else {
		sn_free(sc.best, sc.best_n);
		sn_free(sc.alias, sc.n_alias);
	}
}

static const char *static_name_of(hw_typer *ty, uint64_t t)
{
	size_t lo = 0, hi = ty->n_sn;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ty->sn[mid].type < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ty->n_sn && ty->sn[lo].type == t ? ty->sn[lo].name : NULL;
}

/* The builtin types that head a family marked in tp_flags (Include/object.h,
 * the same bits 3.6-3.15; python_versions.sh names tuple, dict and bytes by
 * them on 3.13-3.15 without the file): the root is the one whose tp_base is
 * not of it. */
static const struct {
	uint64_t flag;
	const char *name;
} families[] = {
    {1UL << 24, "int"}, {1UL << 25, "list"}, {1UL << 26, "tuple"},         {1UL << 27, "bytes"},
    {1UL << 28, "str"}, {1UL << 29, "dict"}, {1UL << 30, "BaseException"}, {1UL << 31, "type"},
};

/* PyTypeObject.tp_base: 88 bytes after tp_flags (tp_doc, tp_traverse,
 * tp_clear, tp_richcompare, tp_weaklistoffset, tp_iter, tp_iternext,
 * tp_methods, tp_members, tp_getset), 3.6-3.15. */
#define TP_BASE_FROM_FLAGS 88

/* A static type (its bytes p, at a) that heads the dict family. */
static int dict_type_fits(void *ctx, const uint8_t *p, uint64_t a)
{
	hw_typer *ty = ctx;
	const struct hw_py_layout *L = &ty->py->layout;
	uint64_t flags = hw_py_u64(p, L->tp_flags),
	         base = hw_py_u64(p, L->tp_flags + TP_BASE_FROM_FLAGS);
	uint64_t base_flags = 0;
	(void)a;
	return hw_py_u64(p, L->ob_type) == ty->py->type_type &&
	       (flags & HW_PY_TPFLAGS_DICT_SUBCLASS) && !(flags & HW_PY_TPFLAGS_HEAPTYPE) &&
	       (!base || hw_read_u64(ty->target, base + L->tp_flags, &base_flags) == HW_OK) &&
	       !(base_flags & HW_PY_TPFLAGS_DICT_SUBCLASS);
}

/* &PyDict_Type without symbols: in the interpreter module's writable data,
 * the static type that heads the dict family.  0 when none. */
static uint64_t find_dict_type(hw_typer *ty)
{
	const struct hw_py_layout *L = &ty->py->layout;
	return hw_module_data_find(ty->target, ty->py->module, L->tp_flags + TP_BASE_FROM_FLAGS + 8,
	                           dict_type_fits, ty);
}

/* A name for static type t whose tp_name cannot be read: the builtin its
 * flags make it (int, list, tuple, bytes, str, dict, BaseException, type)
 * when it heads that family, else "<C type at 0x..., N bytes>" (its
 * address and tp_basicsize tell types apart, and find them in a build of
 * the same interpreter). */
static int static_type_name(hw_typer *ty, uint64_t t, uint64_t flags, uint64_t basicsize, char *buf,
                            size_t cap)
{
	const struct hw_py_layout *L = &ty->py->layout;
	uint64_t base, base_flags = 0;
	if (hw_read_u64(ty->target, t + L->tp_flags + TP_BASE_FROM_FLAGS, &base) != HW_OK ||
	    (base && hw_read_u64(ty->target, base + L->tp_flags, &base_flags) != HW_OK))
		return 0;
	for (size_t i = 0; i < HW_ARRAY_SIZE(families); i++)
		if ((flags & families[i].flag) && !(base_flags & families[i].flag)) {
			snprintf(buf, cap, "%s", families[i].name);
			if (families[i].flag == HW_PY_TPFLAGS_DICT_SUBCLASS)
				ty->dict_type = t;
			return 1;
		}
	if (!ty->sn_built && (ty->dict_type || (ty->dict_type = find_dict_type(ty))))
		static_names_build(ty, ty->dict_type);
	const char *known = ty->n_sn ? static_name_of(ty, t) : NULL;
	if (known)
		snprintf(buf, cap, "%s", known);
	else
		snprintf(buf, cap, "<C type at 0x%" PRIx64 ", %" PRIu64 " bytes>", t, basicsize);
	return 1;
}

/* e->owns for a valid type of these flags: OrderedDict, deque and array by
 * their names; a heap type as its base (resolved by lookup_type), else as
 * its family flags say (list, dict: subclasses keep the layout); a static
 * type by its family flags, set, frozenset and bytearray by name. */
static void set_owns(hw_typer *ty, struct type_entry *e, uint64_t flags)
{
	const struct hw_py_layout *L = &ty->py->layout;
	e->owns = OWNS_NOTHING;
	e->managed = 0;
	if (!e->name)
		return;
	if ((flags & HW_PY_TPFLAGS_MANAGED_DICT) && (flags & L->preheader_flags) &&
	    ty->py->major == 3 && (ty->py->minor == 11 || ty->py->minor == 12))
		e->managed = 1;
	uint8_t by_flags = flags & HW_PY_TPFLAGS_LIST_SUBCLASS   ? OWNS_LIST
	                   : flags & HW_PY_TPFLAGS_DICT_SUBCLASS ? OWNS_DICT
	                                                         : OWNS_NOTHING;
	if (!strcmp(e->name, "collections.OrderedDict"))
		e->owns = OWNS_ODICT;
	else if (!strcmp(e->name, "collections.deque"))
		e->owns = OWNS_DEQUE; /* a heap type from 3.12 */
	else if (!strcmp(e->name, "array.array"))
		e->owns = OWNS_ARRAY; /* a heap type from 3.11 */
	else if ((flags & HW_PY_TPFLAGS_HEAPTYPE) &&
	         hw_read_u64(ty->target, e->type + L->tp_flags + TP_BASE_FROM_FLAGS, &e->base) ==
	             HW_OK &&
	         e->base && e->base % 8 == 0) {
		e->owns = OWNS_BASE;
		e->fallback = by_flags;
	} else if (by_flags != OWNS_NOTHING)
		e->owns = by_flags;
	else if (!strcmp(e->name, "set") || !strcmp(e->name, "frozenset"))
		e->owns = OWNS_SET;
	else if (!strcmp(e->name, "bytearray"))
		e->owns = OWNS_BYTEARRAY;
}

static void check_type(hw_typer *ty, struct type_entry *e)
{
	const struct hw_py_layout *L = &ty->py->layout;
	uint64_t t = e->type, meta, tp_name, basicsize, flags;
	char buf[NAME_MAX_LEN + 1];
	e->name = NULL;
	if (t % 8 || hw_read_u64(ty->target, t + L->ob_type, &meta) != HW_OK ||
	    !is_type_type(ty, meta))
		return;
	if (hw_read_u64(ty->target, t + L->tp_name, &tp_name) != HW_OK ||
	    hw_read_u64(ty->target, t + L->tp_basicsize, &basicsize) != HW_OK ||
	    hw_read_u64(ty->target, t + L->tp_flags, &flags) != HW_OK)
		return;
	if (basicsize < 16 || basicsize > (1u << 30))
		return;
	/* What an object of the type needs at least: its tp_basicsize, but a
	 * str is compact (Include/cpython/unicodeobject.h: an ASCII one is a
	 * PyASCIIObject and its characters, a one-character string 49 bytes
	 * on 3.11 where tp_basicsize, sizeof(PyUnicodeObject), is 80) */
	uint64_t fits = basicsize;
	if ((flags & HW_PY_TPFLAGS_UNICODE_SUBCLASS) && L->str_data && L->str_data + 1 < fits)
		fits = L->str_data + 1;
	/* A name longer than the buffer is cut (hw_read_string fails then). */
	buf[0] = 0;
	if (hw_read_string(ty->target, tp_name, buf, sizeof buf) != HW_OK) {
		if (hw_read(ty->target, tp_name, buf, 1) != HW_OK) {
			/* a static type's name is in the read-only data a core
			 * leaves out: without the file, named by what it is */
			if (!(flags & HW_PY_TPFLAGS_HEAPTYPE) &&
			    static_type_name(ty, t, flags, basicsize, buf, sizeof buf)) {
				e->offset = (flags & HW_PY_TPFLAGS_HAVE_GC ? L->gc_head_size : 0) +
				            (flags & L->preheader_flags ? L->preheader_size : 0);
				e->basicsize = fits;
				e->name = keep_name(ty, strdup(buf));
				set_owns(ty, e, flags);
			}
			return;
		}
		buf[NAME_MAX_LEN] = 0;
		if (strlen(buf) < NAME_MAX_LEN)
			return;
	}
	if (!printable_name(buf))
		return;
	char full[2 * NAME_MAX_LEN + 2];
	const char *name = buf;
	if (flags & HW_PY_TPFLAGS_HEAPTYPE && heap_type_name(ty, t, full, sizeof full))
		name = full;
	e->offset = (flags & HW_PY_TPFLAGS_HAVE_GC ? L->gc_head_size : 0) +
	            (flags & L->preheader_flags ? L->preheader_size : 0);
	e->basicsize = fits;
	e->name = keep_name(ty, strdup(name));
	set_owns(ty, e, flags);
}

/* A heap type's chain of bases is followed this far (cycles end sooner:
 * an entry being resolved owns nothing meanwhile). */
#define MAX_BASE_DEPTH 16

static const struct type_entry *lookup_type_at(hw_typer *ty, uint64_t type, int depth);

/* e->owns of a heap type is its base's: resolved once, the cache slot
 * found again after (the lookup of the base may grow the cache). */
static struct type_entry *resolve_owns(hw_typer *ty, struct type_entry *e, int depth)
{
	uint64_t type = e->type, base = e->base;
	e->owns = OWNS_NOTHING;
	if (depth >= MAX_BASE_DEPTH) {
		e->owns = e->fallback;
		return e;
	}
	const struct type_entry *b = lookup_type_at(ty, base, depth + 1);
	uint8_t owns = b && b->name ? b->owns : OWNS_NOTHING;
	e = cache_slot(ty, type);
	e->owns = owns != OWNS_NOTHING ? owns : e->fallback;
	return e;
}

static const struct type_entry *lookup_type(hw_typer *ty, uint64_t type)
{
	return lookup_type_at(ty, type, 0);
}

static const struct type_entry *lookup_type_at(hw_typer *ty, uint64_t type, int depth)
{
	if (!type)
		return NULL;
	if (ty->last && ty->last->type == type)
		return ty->last;
	if (ty->cache_used * 2 >= ty->cache_cap && ty->cache_cap < MAX_CACHE)
		cache_grow(ty); /* on failure the table stays as it was */
	if (!ty->cache_cap)
		return NULL;
	struct type_entry *e = cache_slot(ty, type);
	if (e->type == 0) {
		/* Full (memory bound): types not seen yet stay unnamed. */
		if (ty->cache_used * 2 >= ty->cache_cap)
			return NULL;
		e->type = type;
		ty->cache_used++;
		check_type(ty, e);
		if (e->owns == OWNS_BASE)
			e = resolve_owns(ty, e, depth);
	}
	ty->last = e;
	return e;
}

static const struct type_entry *python_type(hw_typer *ty, const hw_alloc *a, const uint8_t *bytes,
                                            size_t n)
{
	const struct hw_py_layout *L = &ty->py->layout;
	unsigned char buf[48];
	size_t len = a->size < sizeof buf ? a->size : sizeof buf;
	if (len < 16)
		return NULL;
	const unsigned char *b = bytes && n >= len ? bytes : hw_view(ty->target, a->address, len);
	if (!b) {
		if (hw_read(ty->target, a->address, buf, len) != HW_OK)
			return NULL;
		b = buf;
	}
	static const uint32_t offsets[] = {0, 16, 32};
	for (size_t i = 0; i < HW_ARRAY_SIZE(offsets); i++) {
		uint32_t off = offsets[i];
		if (off + 16 > len)
			break;
		uint64_t refcnt = hw_py_u64(b, off), type = hw_py_u64(b, off + L->ob_type);
		/* A live object has a positive reference count far below any
		 * pointer (3.12+ immortals keep 2^32-1).  This cheap test skips
		 * the PyGC_Head words (pointers) in front of GC objects, and the
		 * text or pointers of blocks that hold no object, before their
		 * second word is taken for a type and looked up. */
		if (refcnt == 0 || refcnt >= MAX_REFCNT || type % 8 || type < 4096)
			continue;
		const struct type_entry *e = lookup_type(ty, type);
		if (e && e->name && e->offset == off && e->basicsize <= a->size - off)
			return e;
	}
	return NULL;
}

/* ---- blocks an object owns ---- */

/* Field offsets from the object's start, the same 3.6-3.15
 * (Include/cpython/listobject.h PyListObject: ob_item after the
 * PyVarObject head, then allocated; setobject.h PySetObject: fill, used,
 * mask, table; bytearrayobject.h PyByteArrayObject: ob_alloc, ob_bytes;
 * PyDictObject: ma_values right after ma_keys, whose offset the layout
 * has). */
#define LIST_OB_ITEM    24
#define LIST_ALLOCATED  32
#define SET_MASK        32
#define SET_TABLE       40
#define BYTEARRAY_ALLOC 24
#define BYTEARRAY_BYTES 32
/* sizeof(setentry): key and hash */
#define SET_ENTRY 16
/* More items than this (a 2^48-byte heap) are not believed; the bytes
 * they hold then fit hw_owned.min_size. */
#define OWNED_MAX_ITEMS (1ULL << 44)

/* The word at off of the object at obj: from its bytes when they reach
 * that far, else read; 0 when unreadable. */
static uint64_t obj_word(hw_typer *ty, const hw_alloc *a, const uint8_t *bytes, size_t n,
                         uint64_t obj, uint32_t off)
{
	uint64_t at = obj - a->address + off, w;
	if (bytes && at + 8 <= n)
		return hw_py_u64(bytes, at);
	return hw_read_u64(ty->target, obj + off, &w) == HW_OK ? w : 0;
}

/* Where owned_of() sends what it finds. */
struct owner {
	const hw_alloc *a; /* the object's block */
	hw_owned_fn fn;
	void *ctx;
};

static void own(const struct owner *o, uint64_t ptr, unsigned kind, uint64_t min_size)
{
	/* in the object's own block: inline storage (a set's smalltable,
	 * 3.13's values embedded in the object), nothing owned */
	const hw_alloc *a = o->a;
	if (!ptr || ptr % 8 || ptr >> 47 || (ptr >= a->address && ptr - a->address < a->size))
		return;
	o->fn(o->ctx, hw_owned_make(ptr, kind, min_size));
}

/* collections.deque (Modules/_collectionsmodule.c, the same 3.6-3.15): the
 * items in a chain of blocks, each a left link, BLOCKLEN (64) items and a
 * right link, from leftblock to rightblock.  A deque of len items has at
 * most len / 64 + 2 of them. */
#define DEQUE_LEN        16
#define DEQUE_LEFTBLOCK  24
#define DEQUE_RIGHTBLOCK 32
#define DEQUE_BLOCKLEN   64
#define DEQUE_RIGHTLINK  (8 + DEQUE_BLOCKLEN * 8)
#define DEQUE_BLOCK      (DEQUE_RIGHTLINK + 8)

/* A linked chain of owned blocks is followed at most this far, and no
 * further than its first repeated link (Brent's cycle detection: a saved
 * link, moved to the current one after 1, 2, 4... steps): a scribbled
 * chain ends, in O(its length) steps and no memory. */
#define CHAIN_MAX (1ull << 26)

struct chain {
	uint64_t saved, power, steps;
};

static int chain_repeats(struct chain *c, uint64_t link)
{
	if (link == c->saved)
		return 1;
	if (++c->steps == c->power) {
		c->saved = link;
		c->power *= 2;
		c->steps = 0;
	}
	return 0;
}

/* The links of a chain from first, each a block of kind of at least min
 * bytes whose next link is at next_off: at most max of them, up to last
 * (0: to a null link), to a bad or repeated link, to CHAIN_MAX. */
static void own_chain(hw_typer *ty, const struct owner *o, uint64_t first, uint64_t max,
                      uint64_t last, unsigned kind, uint64_t min, uint64_t next_off)
{
	struct chain c = {0, 1, 0};
	uint64_t b = first;
	for (uint64_t k = 0; k < max && k < CHAIN_MAX && b && b % 8 == 0 && !chain_repeats(&c, b);
	     k++) {
		own(o, b, kind, min);
		if (b == last || hw_read_u64(ty->target, b + next_off, &b) != HW_OK)
			return;
	}
}

/* collections.OrderedDict (Objects/odictobject.c, the same 3.6-3.15): the
 * dict (PyDictObject, 48 bytes, ma_used at 16), then od_first, od_last,
 * od_fast_nodes and its size; a node is key, hash, next, prev, one per
 * key, linked from od_first. */
#define DICT_USED             16
#define ODICT_FIRST           48
#define ODICT_FAST_NODES      64
#define ODICT_FAST_NODES_SIZE 72
#define ODICT_NODE_NEXT       16
#define ODICT_NODE            32

/* The blocks the object e names in a holds, each sent to o. */
static void owned_of(hw_typer *ty, const struct type_entry *e, const uint8_t *bytes, size_t n,
                     const struct owner *o)
{
	const struct hw_py_layout *L = &ty->py->layout;
	const hw_alloc *a = o->a;
	uint64_t obj = a->address + e->offset;
#define W(off) obj_word(ty, a, bytes, n, obj, (off))
	switch (e->owns) {
	case OWNS_LIST: {
		/* allocated may be 0 with items still held: a list shrunk to
		 * nothing keeps the block realloc(items, 0) gave (list_resize) */
		uint64_t allocated = W(LIST_ALLOCATED);
		if (allocated < OWNED_MAX_ITEMS)
			own(o, W(LIST_OB_ITEM), HW_OWNED_LIST_ITEMS, allocated * 8);
		break;
	}
	case OWNS_ARRAY: {
		/* array.array (Modules/arraymodule.c): ob_item and allocated
		 * (items of at least a byte) where a list has them */
		uint64_t allocated = W(LIST_ALLOCATED);
		if (allocated < OWNED_MAX_ITEMS)
			own(o, W(LIST_OB_ITEM), HW_OWNED_ARRAY_DATA, allocated);
		break;
	}
	case OWNS_DICT:
		own(o, W(L->ma_keys), HW_OWNED_DICT_KEYS, 0);
		own(o, W(L->ma_keys + 8), HW_OWNED_DICT_VALUES, 0);
		break;
	case OWNS_ODICT: {
		own(o, W(L->ma_keys), HW_OWNED_DICT_KEYS, 0);
		own(o, W(L->ma_keys + 8), HW_OWNED_DICT_VALUES, 0);
		uint64_t fast = W(ODICT_FAST_NODES_SIZE);
		if (fast < OWNED_MAX_ITEMS)
			own(o, W(ODICT_FAST_NODES), HW_OWNED_ODICT_FAST_NODES, fast * 8);
		own_chain(ty, o, W(ODICT_FIRST), W(DICT_USED) + 1, 0, HW_OWNED_ODICT_NODE,
		          ODICT_NODE, ODICT_NODE_NEXT);
		break;
	}
	case OWNS_SET: {
		uint64_t mask = W(SET_MASK);
		if (mask && mask < OWNED_MAX_ITEMS)
			own(o, W(SET_TABLE), HW_OWNED_SET_TABLE, (mask + 1) * SET_ENTRY);
		break;
	}
	case OWNS_BYTEARRAY: {
		uint64_t alloc = W(BYTEARRAY_ALLOC);
		if (alloc && alloc < OWNED_MAX_ITEMS)
			own(o, W(BYTEARRAY_BYTES), HW_OWNED_BYTEARRAY_DATA, alloc);
		break;
	}
	case OWNS_DEQUE:
		own_chain(ty, o, W(DEQUE_LEFTBLOCK), W(DEQUE_LEN) / DEQUE_BLOCKLEN + 2,
		          W(DEQUE_RIGHTBLOCK), HW_OWNED_DEQUE_BLOCK, DEQUE_BLOCK, DEQUE_RIGHTLINK);
		break;
	default:
		break;
	}
	/* An instance whose __dict__ was never asked for keeps its attributes'
	 * values in a block its pre-header points to (shared keys in its
	 * type): 3.11 at obj - 32 (Include/internal/pycore_object.h,
	 * _PyObject_ValuesPointer); 3.12 at obj - 24, tagged (the pointer
	 * minus 1: _PyDictOrValues_GetValues), where an untagged word is the
	 * dict, named with it.  3.13 keeps them inline in the object. */
	if (e->managed && e->offset >= 32) {
		uint64_t w;
		if (ty->py->minor == 11)
			own(o, obj_word(ty, a, bytes, n, obj - 32, 0), HW_OWNED_DICT_VALUES, 0);
		else if ((w = obj_word(ty, a, bytes, n, obj - 24, 0)) & 1)
			own(o, w + 1, HW_OWNED_DICT_VALUES, 0);
	}
#undef W
}

const char *hw_owned_name(unsigned kind)
{
	static const char *const names[] = {
	    [HW_OWNED_LIST_ITEMS] = "list items",
	    [HW_OWNED_DICT_KEYS] = "dict keys",
	    [HW_OWNED_DICT_VALUES] = "dict values",
	    [HW_OWNED_SET_TABLE] = "set table",
	    [HW_OWNED_BYTEARRAY_DATA] = "bytearray data",
	    [HW_OWNED_DEQUE_BLOCK] = "collections.deque block",
	    [HW_OWNED_ARRAY_DATA] = "array.array data",
	    [HW_OWNED_ODICT_NODE] = "collections.OrderedDict node",
	    [HW_OWNED_ODICT_FAST_NODES] = "collections.OrderedDict fast nodes",
	};
	return kind < HW_ARRAY_SIZE(names) ? names[kind] : NULL;
}

/* ---- C++ vtables ---- */

static int cmp_vt(const void *a, const void *b)
{
	const struct vtable *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void add_vtables_of(hw_typer *ty, Elf *elf, uint64_t bias, size_t *cap)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !sh.sh_entsize)
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
			    s.st_size < 16 || GELF_ST_TYPE(s.st_info) != STT_OBJECT)
				continue;
			const char *nm = elf_strptr(elf, sh.sh_link, s.st_name);
			if (!nm || strncmp(nm, "_ZTV", 4) != 0)
				continue;
			char *dm = cplus_demangle(nm, DMGL_PARAMS | DMGL_ANSI);
			if (!dm)
				continue;
			const char *cls = strncmp(dm, "vtable for ", 11) == 0 ? dm + 11 : dm;
			if (ty->n_vt == *cap) {
				size_t nc = *cap ? *cap * 2 : 256;
				struct vtable *nv = realloc(ty->vt, nc * sizeof *nv);
				if (!nv) {
					free(dm);
					return;
				}
				ty->vt = nv, *cap = nc;
			}
			char *copy = strdup(cls);
			free(dm);
			if (!keep_name(ty, copy))
				return;
			ty->vt[ty->n_vt].start = s.st_value + bias;
			ty->vt[ty->n_vt].end = s.st_value + bias + s.st_size;
			ty->vt[ty->n_vt].name = copy;
			ty->n_vt++;
		}
	}
}

static void build_vtables(hw_typer *ty)
{
	ty->vt_built = 1;
	const hw_module *mods;
	size_t n = hw_target_modules(ty->target, &mods), cap = 0;
	for (size_t i = 0; i < n; i++) {
		/* the symbol table's ELF (the debug file's, found without
		 * reading its DWARF), then the module's own .dynsym */
		uint64_t bias;
		Elf *d = hw_module_symtab_elf(ty->target, &mods[i], &bias, NULL);
		if (d)
			add_vtables_of(ty, d, bias, &cap);
		Elf *e = hw_module_elf(ty->target, &mods[i], &bias);
		if (e && e != d)
			add_vtables_of(ty, e, bias, &cap);
	}
	if (ty->n_vt)
		qsort(ty->vt, ty->n_vt, sizeof *ty->vt, cmp_vt);
}

static const char *cxx_name(hw_typer *ty, const hw_alloc *a, const uint8_t *bytes, size_t n)
{
	uint64_t w;
	if (a->size < 8)
		return NULL;
	if (!ty->vt_built)
		build_vtables(ty);
	if (!ty->n_vt)
		return NULL; /* no C++ class in the target: nothing to read */
	if (bytes && n >= 8)
		memcpy(&w, bytes, 8);
	else if (hw_read_u64(ty->target, a->address, &w) != HW_OK)
		return NULL;
	if (w % 8 || w < ty->vt[0].start)
		return NULL;
	size_t lo = 0, hi = ty->n_vt;
	while (lo < hi) { /* first vtable starting after w */
		size_t mid = (lo + hi) / 2;
		if (ty->vt[mid].start <= w)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Overlapping duplicates (.symtab and .dynsym) sort together; any
	 * vtable starting at or before w that still holds it will do. */
	for (size_t i = lo; i-- > 0 && lo - i <= 4;)
		if (w >= ty->vt[i].start + 16 && w < ty->vt[i].end)
			return ty->vt[i].name;
	return NULL;
}

const char *hw_typer_name_owned(hw_typer *ty, const hw_alloc *a, const uint8_t *bytes, size_t n,
                                hw_owned_fn fn, void *ctx)
{
	if (!ty || !a || a->state != HW_STATE_USED)
		return NULL;
	if (ty->py && ty->py->type_type) {
		const struct type_entry *e = python_type(ty, a, bytes, n);
		if (e) {
			if (fn && (e->owns != OWNS_NOTHING || e->managed)) {
				struct owner o = {a, fn, ctx};
				owned_of(ty, e, bytes, n, &o);
			}
			return e->name;
		}
	}
	return a->allocator != HW_ALLOCATOR_PYMALLOC ? cxx_name(ty, a, bytes, n) : NULL;
}

const char *hw_typer_name_view(hw_typer *ty, const hw_alloc *a, const uint8_t *bytes, size_t n)
{
	return hw_typer_name_owned(ty, a, bytes, n, NULL, NULL);
}

int hw_typer_names_nothing(hw_typer *ty)
{
	if (!ty)
		return 1;
	if (ty->py && ty->py->type_type)
		return 0;
	if (!ty->vt_built)
		build_vtables(ty);
	return ty->n_vt == 0;
}

const char *hw_typer_name(hw_typer *ty, const hw_alloc *a)
{
	return hw_typer_name_view(ty, a, NULL, 0);
}
