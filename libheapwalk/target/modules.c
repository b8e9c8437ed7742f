/*
 * modules.c: modules, symbols, DWARF types and symbolization, all through
 * elfutils libdwfl.  Modules are reported lazily, on the first question:
 * opening a target costs nothing here.
 *
 * Cores: dwfl_core_file_report() (modules from the link map / NT_FILE, files
 * found by build-id or path, under --sysroot); live processes:
 * dwfl_linux_proc_report(); callback targets: one module per mapped ELF file
 * the caller described.  Separate debug info: dwfl_standard_find_debuginfo
 * over ":.debug:DIR..." (--debug-dir, default /usr/lib/debug).
 */
#include "target_internal.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The target whose modules libdwfl is working on: the find_elf callback has
 * no other way back to the options (--sysroot).  Set around every call
 * into libdwfl that may load files. */
static _Thread_local hw_target *dwfl_target;

static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
	hw_target *t = dwfl_target;
	if (t && t->sysroot && modname && modname[0] == '/') {
		char *p = hw_target_sysroot_path(t, modname);
		int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
		if (fd >= 0) {
			*file_name = p;
			return fd;
		}
		free(p);
	}
	if (t && !t->sysroot && t->kind == HW_TARGET_LIVE && modname && modname[0] == '/') {
		/* The file the process sees at that path: under its own root, which
		 * is not ours for a process in a container or a chroot (there the
		 * same path may hold another file, or none). */
		size_t n = strlen(modname) + 32;
		char *p = malloc(n);
		if (p) {
			snprintf(p, n, "/proc/%d/root%s", (int)t->io_pid, modname);
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				*file_name = p;
				return fd;
			}
			free(p);
		}
	}
	if (t && t->kind == HW_TARGET_LIVE)
		return dwfl_linux_proc_find_elf(mod, userdata, modname, base, file_name, elfp);
	return dwfl_build_id_find_elf(mod, userdata, modname, base, file_name, elfp);
}

static int collect(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
	hw_target *t = arg;
	hw_module_priv *n = realloc(t->modules, (t->nmodules + 1) * sizeof *n);
	if (!n)
		return DWARF_CB_ABORT;
	t->modules = n;
	hw_module_priv *m = &t->modules[t->nmodules++];
	memset(m, 0, sizeof *m);
	Dwarf_Addr lo, hi;
	dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
	m->pub.name = name;
	m->pub.start = lo;
	m->pub.end = hi;
	m->pub.dwfl_module = mod;
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &bits, &vaddr);
	for (int i = 0; i < len && i < 20; i++)
		snprintf(m->pub.build_id + 2 * i, 3, "%02x", bits[i]);
	return DWARF_CB_OK;
}

int hw_modules_report(hw_target *t)
{
	if (t->modules_state)
		return t->modules_state > 0 ? HW_OK : HW_ENOTFOUND;
	t->modules_state = -1;
	t->dwfl_cb.find_elf = find_elf;
	t->dwfl_cb.find_debuginfo = dwfl_standard_find_debuginfo;
	t->dwfl_cb.section_address = dwfl_offline_section_address;
	t->dwfl_cb.debuginfo_path = &t->debuginfo_path;
	t->dwfl = dwfl_begin(&t->dwfl_cb);
	if (!t->dwfl)
		return hw_error_set(HW_ENOTFOUND, "libdwfl: %s", dwfl_errmsg(-1));
	dwfl_target = t;
	dwfl_report_begin(t->dwfl);
	int rc = 0;
	if (t->kind == HW_TARGET_CORE) {
		char *exe = t->exe ? hw_target_sysroot_path(t, t->exe) : NULL;
		rc = dwfl_core_file_report(t->dwfl, t->core_elf, exe);
		free(exe);
		rc = rc < 0 ? -1 : 0;
	} else if (t->kind == HW_TARGET_LIVE) {
		rc = dwfl_linux_proc_report(t->dwfl, t->io_pid);
	} else {
		/* Callback: an ELF module per file mapped from offset 0. */
		for (size_t i = 0; i < t->nmaps; i++) {
			const hw_mapping *m = &t->maps[i];
			if (!m->path || m->path[0] != '/' || m->file_offset != 0)
				continue;
			char *p = hw_target_sysroot_path(t, m->path);
			if (p && access(p, R_OK) == 0)
				dwfl_report_elf(t->dwfl, m->path, p, -1, m->start, false);
			free(p);
		}
	}
	dwfl_report_end(t->dwfl, NULL, NULL);
	if (rc != 0) {
		dwfl_target = NULL;
		return hw_error_set(HW_ENOTFOUND, "cannot list modules: %s", dwfl_errmsg(-1));
	}
	dwfl_getmodules(t->dwfl, collect, t, 0);
	for (size_t i = 0; i < t->nmodules; i++) {
		Dwarf_Addr bias = 0;
		/* Bias from the module's ELF when it can be found (cheap: mmapped). */
		if (dwfl_module_getelf(t->modules[i].pub.dwfl_module, &bias)) {
			t->modules[i].pub.bias = bias;
			/* Live reports learn the build-id only once the file is read. */
			const unsigned char *bits;
			GElf_Addr vaddr;
			int len =
			    dwfl_module_build_id(t->modules[i].pub.dwfl_module, &bits, &vaddr);
			for (int k = 0; k < len && k < 20; k++)
				snprintf(t->modules[i].pub.build_id + 2 * k, 3, "%02x", bits[k]);
		}
		const char *mainfile = NULL;
		dwfl_module_info(t->modules[i].pub.dwfl_module, NULL, NULL, NULL, NULL, NULL,
		                 &mainfile, NULL);
		if (mainfile) {
			t->modules[i].file_path = strdup(mainfile);
			/* Name modules by the file they come from where known. */
			if (t->modules[i].file_path)
				t->modules[i].pub.name = t->modules[i].file_path;
		}
	}
	dwfl_target = NULL;
	t->modules_state = 1;
	return HW_OK;
}

void hw_modules_free(hw_target *t)
{
	for (size_t i = 0; i < t->nmodules; i++) {
		free(t->modules[i].debug_path);
		free(t->modules[i].file_path);
	}
	free(t->modules);
	t->modules = NULL;
	free(t->modules_packed);
	t->modules_packed = NULL;
	t->nmodules = 0;
	/* (the cached strings are libdwfl's) */
	hw_map64_free(&t->sym_memo);
	free(t->sym_cache);
	t->sym_cache = NULL;
	t->sym_n = t->sym_cap = 0;
	if (t->dwfl)
		dwfl_end(t->dwfl);
	t->dwfl = NULL;
}

size_t hw_target_modules(hw_target *t, const hw_module **out)
{
	*out = NULL;
	if (hw_modules_report(t) != HW_OK || !t->nmodules)
		return 0;
	/* The private records are larger than hw_module: hand out a packed copy. */
	if (!t->modules_packed) {
		t->modules_packed = calloc(t->nmodules, sizeof *t->modules_packed);
		if (!t->modules_packed)
			return 0;
		for (size_t i = 0; i < t->nmodules; i++)
			t->modules_packed[i] = t->modules[i].pub;
	}
	*out = t->modules_packed;
	return t->nmodules;
}

static hw_module_priv *priv_of(hw_target *t, const hw_module *m)
{
	for (size_t i = 0; i < t->nmodules; i++)
		if (t->modules[i].pub.dwfl_module == m->dwfl_module)
			return &t->modules[i];
	return NULL;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

const hw_module *hw_target_module_find(hw_target *t, const char *prefix)
{
	if (hw_modules_report(t) != HW_OK)
		return NULL;
	size_t n = strlen(prefix);
	for (size_t i = 0; i < t->nmodules; i++)
		if (t->modules[i].pub.name &&
		    !strncmp(base_name(t->modules[i].pub.name), prefix, n))
			return &t->modules[i].pub;
	return NULL;
}

const hw_module *hw_target_module_at(hw_target *t, uint64_t addr)
{
	if (hw_modules_report(t) != HW_OK)
		return NULL;
	for (size_t i = 0; i < t->nmodules; i++)
		if (addr >= t->modules[i].pub.start && addr < t->modules[i].pub.end)
			return &t->modules[i].pub;
	return NULL;
}

const hw_module *hw_target_main_module(hw_target *t)
{
	if (hw_modules_report(t) != HW_OK)
		return NULL;
	uint64_t entry;
	if (hw_target_auxv(t, 9 /* AT_ENTRY */, &entry) == HW_OK) {
		const hw_module *m = hw_target_module_at(t, entry);
		if (m)
			return m;
	}
	if (t->exe)
		for (size_t i = 0; i < t->nmodules; i++)
			if (t->modules[i].pub.name && !strcmp(t->modules[i].pub.name, t->exe))
				return &t->modules[i].pub;
	return NULL;
}

/* ---- ELF and debug info ------------------------------------------------------ */

Elf *hw_module_elf(hw_target *t, const hw_module *m, uint64_t *bias)
{
	Dwarf_Addr b = 0;
	dwfl_target = t;
	Elf *e = dwfl_module_getelf(m->dwfl_module, &b);
	dwfl_target = NULL;
	if (bias)
		*bias = b;
	return e;
}

Elf *hw_module_debug_elf(hw_target *t, const hw_module *m, uint64_t *bias)
{
	Dwarf_Addr b = 0;
	dwfl_target = t;
	Dwarf *dw = dwfl_module_getdwarf(m->dwfl_module, &b);
	dwfl_target = NULL;
	if (bias)
		*bias = b;
	return dw ? dwarf_getelf(dw) : NULL;
}

Elf *hw_module_symtab_elf(hw_target *t, const hw_module *m, uint64_t *bias, const char **path)
{
	/* libdwfl's symbol table is the module's .symtab, else the separate
	 * debug file's (found by build-id or debuglink: its ELF only, no
	 * DWARF read), else .dynsym; each symbol says which ELF it is from. */
	Elf *e = NULL;
	GElf_Addr addr;
	GElf_Sym sym;
	GElf_Word shndx;
	Dwarf_Addr b = 0;
	dwfl_target = t;
	int n = dwfl_module_getsymtab(m->dwfl_module);
	if (n > 1 && !dwfl_module_getsym_info(m->dwfl_module, 1, &sym, &addr, &shndx, &e, &b))
		e = NULL;
	const char *mainfile = NULL, *debugfile = NULL;
	dwfl_module_info(m->dwfl_module, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
	dwfl_target = NULL;
	if (bias)
		*bias = b;
	if (path)
		*path = debugfile ? debugfile : mainfile;
	return e;
}

const char *hw_module_file(hw_target *t, const hw_module *m)
{
	hw_module_priv *p = priv_of(t, m);
	return p ? p->file_path : NULL;
}

static Dwarf *module_dwarf(hw_target *t, const hw_module *m)
{
	hw_module_priv *p = priv_of(t, m);
	if (!p || p->debug_state < 0)
		return NULL;
	Dwarf_Addr b;
	dwfl_target = t;
	Dwarf *dw = dwfl_module_getdwarf(m->dwfl_module, &b);
	dwfl_target = NULL;
	if (!dw) {
		p->debug_state = -1;
		return NULL;
	}
	if (!p->debug_state) {
		p->debug_state = 1;
		const char *debugfile = NULL;
		dwfl_module_info(m->dwfl_module, NULL, NULL, NULL, NULL, NULL, NULL, &debugfile);
		if (debugfile)
			p->debug_path = strdup(debugfile);
	}
	return dw;
}

int hw_module_has_debuginfo(hw_target *t, const hw_module *m)
{
	return module_dwarf(t, m) != NULL;
}

const char *hw_module_debuginfo_path(hw_target *t, const hw_module *m)
{
	hw_module_priv *p = priv_of(t, m);
	if (!module_dwarf(t, m))
		return NULL;
	return p->debug_path ? p->debug_path : p->file_path;
}

/* ---- symbols ------------------------------------------------------------------ */

int hw_module_symbol(hw_target *t, const hw_module *m, const char *name, uint64_t *addr,
                     uint64_t *size)
{
	dwfl_target = t;
	int n = dwfl_module_getsymtab(m->dwfl_module);
	int found = 0;
	for (int i = 1; i < n && !found; i++) {
		GElf_Sym sym;
		GElf_Addr a;
		const char *s =
		    dwfl_module_getsym_info(m->dwfl_module, i, &sym, &a, NULL, NULL, NULL);
		if (s && sym.st_shndx != SHN_UNDEF && !strcmp(s, name)) {
			if (addr)
				*addr = a;
			if (size)
				*size = sym.st_size;
			found = 1;
		}
	}
	dwfl_target = NULL;
	if (found)
		return HW_OK;
	return hw_error_set(HW_ENOTFOUND, "symbol %s not found in %s", name,
	                    m->name ? m->name : "?");
}

int hw_target_symbol(hw_target *t, const char *name, uint64_t *addr, uint64_t *size)
{
	if (hw_modules_report(t) != HW_OK)
		return HW_ENOTFOUND;
	for (size_t i = 0; i < t->nmodules; i++)
		if (hw_module_symbol(t, &t->modules[i].pub, name, addr, size) == HW_OK)
			return HW_OK;
	return hw_error_set(HW_ENOTFOUND, "symbol %s not found in any module", name);
}

struct hw_sym_cached {
	hw_symbolization s;
	int rc;
};

static int symbolize(hw_target *t, uint64_t addr, hw_symbolization *out);

/* What symbolize() said of addr, asked once (an answer that cannot be
 * kept, for want of memory, is given all the same). */
int hw_target_symbolize(hw_target *t, uint64_t addr, hw_symbolization *out)
{
	int64_t at = hw_map64_get(&t->sym_memo, addr);
	if (at >= 0) {
		*out = t->sym_cache[at].s;
		return t->sym_cache[at].rc == HW_OK
		           ? HW_OK
		           : hw_error_set(t->sym_cache[at].rc, "0x%" PRIx64 ": in no module", addr);
	}
	int rc = symbolize(t, addr, out);
	if (rc != HW_OK && rc != HW_ENOTFOUND)
		return rc;
	if (hw_grow((void **)&t->sym_cache, sizeof *t->sym_cache, &t->sym_cap, t->sym_n + 1))
		return rc;
	if (t->sym_n < UINT32_MAX - 1 &&
	    hw_map64_put(&t->sym_memo, addr, (uint32_t)t->sym_n) == HW_OK)
		t->sym_cache[t->sym_n++] = (struct hw_sym_cached){*out, rc};
	return rc;
}

static int symbolize(hw_target *t, uint64_t addr, hw_symbolization *out)
{
	memset(out, 0, sizeof *out);
	if (hw_modules_report(t) != HW_OK)
		return HW_ENOTFOUND;
	dwfl_target = t;
	Dwfl_Module *mod = dwfl_addrmodule(t->dwfl, addr);
	if (!mod) {
		dwfl_target = NULL;
		return hw_error_set(HW_ENOTFOUND, "0x%" PRIx64 ": in no module", addr);
	}
	Dwarf_Addr lo;
	out->module = dwfl_module_info(mod, NULL, &lo, NULL, NULL, NULL, NULL, NULL);
	out->module_offset = addr - lo;
	GElf_Off off;
	GElf_Sym sym;
	out->function = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
	if (line) {
		int lineno = 0;
		out->file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
		out->line = lineno;
	}
	dwfl_target = NULL;
	return HW_OK;
}

/* ---- DWARF types ------------------------------------------------------------------ */

/* A structure (or typedef to one) named name, defined (not declared), in
 * any unit of dw or its alternate (dwz) file.  Only top-level DIEs are
 * searched: that is where C puts them. */
static int find_struct_in(Dwarf *dw, const char *name, Dwarf_Die *out)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, child;
		if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &child) == 0) {
			do {
				int tag = dwarf_tag(&child);
				if (tag != DW_TAG_structure_type && tag != DW_TAG_typedef &&
				    tag != DW_TAG_union_type)
					continue;
				const char *n = dwarf_diename(&child);
				if (!n || strcmp(n, name) ||
				    dwarf_hasattr(&child, DW_AT_declaration))
					continue;
				Dwarf_Die d = child;
				if (tag == DW_TAG_typedef) {
					Dwarf_Die peeled;
					if (dwarf_peel_type(&child, &peeled) != 0 ||
					    dwarf_hasattr(&peeled, DW_AT_declaration))
						continue;
					d = peeled;
				}
				*out = d;
				return 1;
			} while (dwarf_siblingof(&child, &child) == 0);
		}
		off = next;
	}
	return 0;
}

static int find_struct(hw_target *t, const hw_module *m, const char *name, Dwarf_Die *out)
{
	Dwarf *dw = module_dwarf(t, m);
	if (!dw)
		return hw_error_set(HW_ENOTFOUND, "no debug info for %s", m->name ? m->name : "?");
	if (find_struct_in(dw, name, out))
		return HW_OK;
	Dwarf *alt = dwarf_getalt(dw);
	if (alt && find_struct_in(alt, name, out))
		return HW_OK;
	return hw_error_set(HW_ENOTFOUND, "struct %s not in the debug info of %s", name,
	                    m->name ? m->name : "?");
}

int hw_module_type_size(hw_target *t, const hw_module *m, const char *name, uint64_t *size)
{
	Dwarf_Die d;
	int rc = find_struct(t, m, name, &d);
	if (rc)
		return rc;
	Dwarf_Word sz;
	if (dwarf_aggregate_size(&d, &sz) != 0)
		return hw_error_set(HW_ENOTFOUND, "struct %s has no size", name);
	*size = sz;
	return HW_OK;
}

/* Find member `name` in struct die, descending into anonymous members. */
static int member_in(Dwarf_Die *st, const char *name, size_t len, uint64_t *off, Dwarf_Die *type)
{
	Dwarf_Die c;
	if (dwarf_child(st, &c) != 0)
		return 0;
	do {
		if (dwarf_tag(&c) != DW_TAG_member)
			continue;
		Dwarf_Word here = 0;
		Dwarf_Attribute a;
		if (dwarf_attr(&c, DW_AT_data_member_location, &a))
			dwarf_formudata(&a, &here);
		const char *n = dwarf_diename(&c);
		Dwarf_Die ty;
		int has_type = dwarf_attr(&c, DW_AT_type, &a) && dwarf_formref_die(&a, &ty);
		if (n && strlen(n) == len && !strncmp(n, name, len)) {
			*off = here;
			if (has_type)
				dwarf_peel_type(&ty, type);
			return 1;
		}
		if (!n && has_type) {
			Dwarf_Die peeled;
			uint64_t inner;
			if (dwarf_peel_type(&ty, &peeled) == 0 &&
			    member_in(&peeled, name, len, &inner, type)) {
				*off = here + inner;
				return 1;
			}
		}
	} while (dwarf_siblingof(&c, &c) == 0);
	return 0;
}

int hw_module_member_offset(hw_target *t, const hw_module *m, const char *name, const char *member,
                            uint64_t *offset)
{
	Dwarf_Die d;
	int rc = find_struct(t, m, name, &d);
	if (rc)
		return rc;
	uint64_t total = 0;
	const char *p = member;
	while (*p) {
		size_t len = strcspn(p, ".");
		uint64_t off;
		Dwarf_Die ty;
		if (!member_in(&d, p, len, &off, &ty))
			return hw_error_set(HW_ENOTFOUND, "struct %s has no member %s", name,
			                    member);
		total += off;
		d = ty;
		p += len;
		if (*p == '.')
			p++;
	}
	*offset = total;
	return HW_OK;
}
