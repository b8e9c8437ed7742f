/*
 * detect.c: finds CPython in a target, its exact version and every
 * pymalloc state (arena_object array and its length).
 *
 * Order of trust: symbols and DWARF of the module that holds CPython (a
 * libpython3.X.so or an executable that links it statically), then the
 * layout table (layout.c), then the symbol-free heuristic (heuristic.c).
 * Every state found is validated (maxarenas is 0 or 16 << k, the array is
 * readable) before it is kept; states are deduplicated by array address,
 * so a state shared by several interpreters is walked once.
 */
#include "cpython.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The interpreter list is short; a longer one is corrupt. */
#define MAX_INTERPRETERS 4096

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : (path ? path : "");
}

/* The defined symbol `name` of module m (at or above its start: .bss may
 * lie past the file-backed end). */
static int module_sym(hw_target *t, const hw_module *m, const char *name, uint64_t *addr)
{
	uint64_t a, size;
	if (hw_module_symbol(t, m, name, &a, &size) != HW_OK)
		return 0;
	if (a < m->start)
		return 0;
	*addr = a;
	return 1;
}

static int minor_from_name(const char *name, unsigned *minor, int *ft);

/* libpython3.X.so first, else the module that defines PyType_Type (an
 * executable with CPython linked in, like Debian's python3.11); without
 * symbols (the file is missing: a core from a container or another
 * machine), the module named libpython3.X or python3.X, *type_type 0. */
static const hw_module *find_module(hw_target *t, uint64_t *type_type)
{
	const hw_module *mods;
	size_t n = hw_target_modules(t, &mods);
	unsigned minor;
	*type_type = 0;
	for (int pass = 0; pass < 4; pass++) {
		for (size_t i = 0; i < n; i++) {
			const char *b = base_name(mods[i].name);
			if (pass % 2 == 0 && strncmp(b, "libpython3", 10) != 0)
				continue;
			if (pass < 2 && module_sym(t, &mods[i], "PyType_Type", type_type))
				return &mods[i];
			if (pass >= 2 && minor_from_name(b, &minor, NULL))
				return &mods[i];
		}
	}
	return NULL;
}

/* Without symbols, &PyType_Type by its shape: in the module's writable
 * data, the static type (no Py_TPFLAGS_HEAPTYPE) that is its own type and
 * a subclass of type (Py_TPFLAGS_TYPE_SUBCLASS), of a PyHeapTypeObject's
 * size (tp_basicsize).  0 when none. */
static int type_type_fits(void *ctx, const uint8_t *p, uint64_t a)
{
	const struct hw_py_layout *L = ctx;
	uint64_t flags = hw_py_u64(p, L->tp_flags), basicsize = hw_py_u64(p, L->tp_basicsize);
	return hw_py_u64(p, L->ob_type) == a && (flags & HW_PY_TPFLAGS_TYPE_SUBCLASS) &&
	       !(flags & HW_PY_TPFLAGS_HEAPTYPE) && basicsize >= 256 && basicsize <= 4096;
}

static uint64_t type_type_by_shape(hw_target *t, const hw_module *m, const struct hw_py_layout *L)
{
	return hw_module_data_find(t, m, L->tp_flags + 8, type_type_fits, (void *)L);
}

/* "3.X" from "libpython3.X.so..." or "python3.X"; *ft (when ft is not
 * NULL) set for "3.Xt", a free-threaded build's name (python3.13t,
 * libpython3.13t.so). */
static int minor_from_name(const char *name, unsigned *minor, int *ft)
{
	const char *b = base_name(name);
	const char *s = strstr(b, "python3.");
	if (!s)
		return 0;
	char *end;
	unsigned long v = strtoul(s + 8, &end, 10);
	if (end == s + 8 || v > 99)
		return 0;
	*minor = (unsigned)v;
	if (ft && *end == 't')
		*ft = 1;
	return 1;
}

/* A free-threaded build's name: python3.Xt, libpython3.Xt.so. */
static int name_free_threaded(const char *name)
{
	unsigned mi;
	int ft = 0;
	return name && minor_from_name(name, &mi, &ft) && ft;
}

static void set_from_hex(struct hw_pymalloc *p, uint64_t hex)
{
	p->major = (hex >> 24) & 0xff;
	p->minor = (hex >> 16) & 0xff;
	p->micro = (hex >> 8) & 0xff;
}

/* PY_VERSION_HEX from Py_Version (3.11+), or from _Py_DebugOffsets at the
 * start of _PyRuntime (3.13+: cookie "xdebugpy", then the version), or the
 * "3.X.Y (...)" string that Py_GetVersion() builds at start-up in its static
 * buffer (local symbol version.0, 3.8-3.10 with .symtab), or the minor
 * version alone from the module's name. */
static int find_version(struct hw_pymalloc *p)
{
	hw_target *t = p->target;
	uint64_t a, v;
	uint32_t v32;
	char buf[64];

	int have = 0;
	if (module_sym(t, p->module, "Py_Version", &a) && hw_read_u32(t, a, &v32) == HW_OK &&
	    (v32 >> 24) == 3) {
		set_from_hex(p, v32);
		have = 1;
	}
	/* _Py_DebugOffsets (Include/internal/pycore_debug_offsets.h): cookie,
	 * version, free_threaded (3.13+; checked with gdb on 3.13-3.15) */
	if (module_sym(t, p->module, "_PyRuntime", &a) && hw_read(t, a, buf, 24) == HW_OK &&
	    memcmp(buf, "xdebugpy", 8) == 0) {
		uint64_t ft;
		memcpy(&ft, buf + 16, 8);
		p->free_threaded |= ft == 1;
		memcpy(&v, buf + 8, 8);
		if (!have && (v >> 24) == 3) {
			set_from_hex(p, v);
			return 1;
		}
	}
	if (have)
		return 1;
	if ((module_sym(t, p->module, "version.0", &a) ||
	     module_sym(t, p->module, "version", &a)) &&
	    hw_read(t, a, buf, 24) == HW_OK) {
		/* "3.X.Y (main, date) [compiler]": the head is enough */
		buf[24] = 0;
		unsigned ma, mi, mc;
		if (sscanf(buf, "%u.%u.%u", &ma, &mi, &mc) == 3 && ma == 3) {
			p->major = ma, p->minor = mi, p->micro = mc;
			return 1;
		}
	}
	unsigned mi;
	if (minor_from_name(p->module->name, &mi, NULL) ||
	    minor_from_name(hw_target_executable(t), &mi, NULL)) {
		p->major = 3, p->minor = mi, p->micro = 0;
		return 2; /* micro unknown */
	}
	return 0;
}

static int maxarenas_ok(uint64_t m)
{
	/* new_arena(): 16 objects first, then doubling. */
	if (m == 0)
		return 1;
	if (m < 16 || m > HW_PY_MAX_ARENA_OBJECTS || m % 16)
		return 0;
	return ((m / 16) & (m / 16 - 1)) == 0;
}

static void add_state(struct hw_pymalloc *p, uint64_t arenas, uint64_t maxarenas)
{
	if (!arenas || !maxarenas || !maxarenas_ok(maxarenas))
		return;
	for (size_t i = 0; i < p->n_states; i++)
		if (p->states[i].arenas == arenas)
			return;
	if (p->n_states < HW_PY_MAX_STATES) {
		p->states[p->n_states].arenas = arenas;
		p->states[p->n_states].maxarenas = (uint32_t)maxarenas;
		p->n_states++;
	}
}

/* 3.8-3.11: static `arenas` and `maxarenas` in obmalloc.c (.symtab). */
static int states_from_statics(struct hw_pymalloc *p)
{
	hw_target *t = p->target;
	uint64_t a_arenas, a_max, arenas;
	uint32_t maxarenas;
	if (!module_sym(t, p->module, "arenas", &a_arenas) ||
	    !module_sym(t, p->module, "maxarenas", &a_max))
		return 0;
	if (hw_read_u64(t, a_arenas, &arenas) != HW_OK ||
	    hw_read_u32(t, a_max, &maxarenas) != HW_OK || !maxarenas_ok(maxarenas))
		return 0;
	add_state(p, arenas, maxarenas);
	return 1;
}

/* DWARF offset of member in struct sname, or the table's value. */
static int dwarf_or(struct hw_pymalloc *p, const char *sname, const char *member, uint64_t *off,
                    int *used_dwarf)
{
	uint64_t o;
	if (hw_module_member_offset(p->target, p->module, sname, member, &o) == HW_OK) {
		*off = o;
		*used_dwarf = 1;
		return 1;
	}
	return 0;
}

/* 3.12+: walk _PyRuntime.interpreters.head -> next and take each
 * interpreter's obmalloc state (inline in 3.12, a pointer from 3.13). */
static int states_from_interpreters(struct hw_pymalloc *p)
{
	hw_target *t = p->target;
	struct hw_py_layout *L = &p->layout;
	uint64_t runtime;
	int dwarf = 0;
	if (!module_sym(t, p->module, "_PyRuntime", &runtime))
		return 0;
	dwarf_or(p, "_PyRuntimeState", "interpreters.head", &L->rt_interp_head, &dwarf);
	dwarf_or(p, "PyInterpreterState", "next", &L->interp_next, &dwarf);
	dwarf_or(p, "PyInterpreterState", "obmalloc", &L->interp_obmalloc, &dwarf);
	dwarf_or(p, "_obmalloc_state", "mgmt.arenas", &L->st_arenas, &dwarf);
	dwarf_or(p, "_obmalloc_state", "mgmt.maxarenas", &L->st_maxarenas, &dwarf);

	uint64_t interp, seen[64];
	size_t nseen = 0;
	if (hw_read_u64(t, runtime + L->rt_interp_head, &interp) != HW_OK)
		return 0;
	for (int steps = 0; interp && steps < MAX_INTERPRETERS; steps++) {
		/* cycle check on the first interpreters; the step limit does the rest */
		for (size_t i = 0; i < nseen; i++)
			if (seen[i] == interp)
				goto done;
		if (nseen < HW_ARRAY_SIZE(seen))
			seen[nseen++] = interp;
		uint64_t state = interp + L->interp_obmalloc, arenas;
		uint32_t maxarenas;
		if (L->state_kind == HW_PY_STATE_INTERP_PTR &&
		    hw_read_u64(t, interp + L->interp_obmalloc, &state) != HW_OK)
			break;
		if (state && hw_read_u64(t, state + L->st_arenas, &arenas) == HW_OK &&
		    hw_read_u32(t, state + L->st_maxarenas, &maxarenas) == HW_OK)
			add_state(p, arenas, maxarenas);
		if (hw_read_u64(t, interp + L->interp_next, &interp) != HW_OK)
			break;
	}
done:
	if (!p->n_states)
		return 0;
	p->symbols = dwarf ? "debuginfo" : "symtab";
	return 1;
}

int hw_py_detect(struct hw_pymalloc *p)
{
	hw_target *t = p->target;
	p->module = find_module(t, &p->type_type);
	if (!p->module)
		return hw_error_set(HW_ENOTFOUND,
		                    "no CPython in the target (no module defines PyType_Type)");
	int vr = find_version(p);
	if (!vr)
		return hw_error_set(HW_EUNSUPPORTED, "%s: CPython version not recognised",
		                    p->module->name);
	/* the module's name says it too when the symbols are gone */
	p->free_threaded |=
	    name_free_threaded(p->module->name) || name_free_threaded(hw_target_executable(t));
	if (p->free_threaded)
		return hw_error_set(HW_EUNSUPPORTED,
		                    "CPython %u.%u is a free-threaded build (mimalloc, no pymalloc "
		                    "pools): not supported",
		                    p->major, p->minor);
	const struct hw_py_layout *L = hw_py_layout_find(p->minor);
	if (!L)
		return hw_error_set(HW_EUNSUPPORTED,
		                    "CPython %u.%u is not supported (3.6-3.15 are)", p->major,
		                    p->minor);
	p->layout = *L;
	if (!p->type_type)
		p->type_type = type_type_by_shape(t, p->module, L);
	if (vr == 2)
		snprintf(p->summary.python_version, sizeof p->summary.python_version, "%u.%u",
		         p->major, p->minor);
	else
		snprintf(p->summary.python_version, sizeof p->summary.python_version, "%u.%u.%u",
		         p->major, p->minor, p->micro);

	int ok = 0;
	if (L->state_kind == HW_PY_STATE_STATICS) {
		ok = states_from_statics(p);
		if (ok)
			p->symbols = hw_module_has_debuginfo(t, p->module) ? "debuginfo" : "symtab";
	} else {
		ok = states_from_interpreters(p);
	}
	if (!ok) {
		p->n_states = 0;
		int rc = hw_py_find_states_heuristic(p);
		if (rc != HW_OK)
			return rc;
		p->symbols = "heuristic";
	}
	p->summary.symbols = p->symbols;
	return HW_OK;
}
