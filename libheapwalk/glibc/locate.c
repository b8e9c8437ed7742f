/*
 * locate.c: finds glibc malloc in a target: libc's version, the layout of
 * its structures, main_arena, mp_ and every live thread's tcache.
 *
 * Two ways, said in the summary's "symbols":
 *  - "debuginfo"/"symtab": main_arena and mp_ from libc's symbol table (the
 *    separate debug file's .symtab when found), layouts from DWARF when the
 *    debug file has it (each field falling back to layout.c's table);
 *  - "heuristic" (stripped libc, no debug file), verified on 2.36:
 *      main_arena: the R_X86_64_RELATIVE relocation (.rela.dyn or
 *        .relr.dyn) that initialises main_arena.next = &main_arena, i.e.
 *        whose target minus offsetof(next) is its addend; each candidate is
 *        validated by following the arena ring in the target;
 *      mp_: the bytes of its static initializer in .data (malloc.c:
 *        trim_threshold, top_pad, mmap_threshold, arena_test, ...,
 *        n_mmaps_max = 65536, tcache_bins = 64, tcache_count = 7).
 *  - by shape, when the libc file is missing (locate_by_shape, below):
 *    main_arena, mp_, the tcaches and the layout row from libc's data and
 *    the threads' TLS alone; "heuristic" too, the version a range.
 * The tcache TLS variable is reached either way through libc's local
 * R_X86_64_TPOFF64 relocations: the GOT slot each one fills holds a
 * thread-pointer offset (written by ld.so, so present in cores).  With the
 * debug file, the one whose addend is the st_value of the TLS symbol
 * `tcache` is it; without, the candidate whose per-thread values
 * (*(fs_base + offset)) all look like tcache_perthread_structs.
 */
#include "glibc_int.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- version ---- */

/* "... release version 2.36." in libc's banner (csu/version.c). */
static int libc_version(Elf *e, int *major, int *minor)
{
	size_t n = 0;
	const char *raw = e ? elf_rawfile(e, &n) : NULL;
	static const char key[] = "release version ";
	if (!raw)
		return -1;
	const char *p = memmem(raw, n, key, sizeof key - 1);
	if (!p)
		return -1;
	p += sizeof key - 1;
	if (sscanf(p, "%d.%d", major, minor) != 2)
		return -1;
	return 0;
}

/* ---- ELF helpers ---- */

/* The file bytes backing link-time address vaddr (len bytes), or NULL. */
static const uint8_t *file_bytes(Elf *e, uint64_t vaddr, size_t len)
{
	size_t nph, n;
	const char *raw = elf_rawfile(e, &n);
	if (!raw || elf_getphdrnum(e, &nph) != 0)
		return NULL;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr + len <= ph.p_vaddr + ph.p_filesz) {
			uint64_t off = vaddr - ph.p_vaddr + ph.p_offset;
			if (off + len <= n)
				return (const uint8_t *)raw + off;
		}
	}
	return NULL;
}

/* "2.NN" (2.26 to 2.60) and its NUL at p, within end. */
static int version_string(const char *p, const char *end, int *minor)
{
	if (end - p < 5 || p[0] != '2' || p[1] != '.' || p[2] < '0' || p[2] > '9' || p[3] < '0' ||
	    p[3] > '9' || p[4] != '\0')
		return -1;
	int n = (p[2] - '0') * 10 + (p[3] - '0');
	if (n < 26 || n > 60) /* (newer than the tables: refused by version, later) */
		return -1;
	*minor = n;
	return 0;
}

/* The glibc version linked into a static executable, which has no banner
 * (csu/version.c's is libc.so's own): nptl's __nptl_version
 * (nptl/pthread_create.c, "2.36") when the program has threads, else the
 * one string "2.NN" in .rodata (VERSION, which gnu_get_libc_version and
 * the dynamic loader's checks keep); two different ones are no answer. */
static int static_version(hw_target *t, const hw_module *m, Elf *e, uint64_t bias, int *major,
                          int *minor)
{
	uint64_t a;
	const char *p;
	*major = 2;
	if (hw_module_symbol(t, m, "__nptl_version", &a, NULL) == HW_OK &&
	    (p = (const char *)file_bytes(e, a - bias, 5)) && version_string(p, p + 5, minor) == 0)
		return 0;
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	int found = 0;
	if (elf_getshdrstrndx(e, &shstrndx) != 0)
		return -1;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *nm;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(nm = elf_strptr(e, shstrndx, sh.sh_name)) || strcmp(nm, ".rodata"))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			continue;
		const char *b = d->d_buf, *end = b + d->d_size;
		for (const char *q = b; (q = memchr(q, '2', (size_t)(end - q))); q++) {
			int n;
			if ((q == b || q[-1] == '\0') && version_string(q, end, &n) == 0) {
				if (found && n != *minor)
					return -1;
				*minor = n;
				found = 1;
			}
		}
	}
	return found ? 0 : -1;
}

typedef int (*reloc_fn)(void *ctx, uint64_t offset, uint64_t type, uint64_t sym, int64_t addend);

/* Call fn for every RELA relocation and every RELR (relative) relocation of
 * e; RELR entries carry no addend: the word in the file is the addend. */
static int for_each_reloc(Elf *e, reloc_fn fn, void *ctx)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			continue;
		if (sh.sh_type == SHT_RELA) {
			size_t nrel = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
			for (size_t i = 0; i < nrel; i++) {
				GElf_Rela r;
				if (!gelf_getrela(d, (int)i, &r))
					break;
				int rc = fn(ctx, r.r_offset, GELF_R_TYPE(r.r_info),
				            GELF_R_SYM(r.r_info), r.r_addend);
				if (rc)
					return rc;
			}
		} else if (sh.sh_type == 19 /* SHT_RELR */) {
			/* RELR: an address entry (even) relocates one word
			 * and sets the base after it; a bitmap entry (odd)
			 * relocates the words of the next 63 whose bit is set. */
			const uint64_t *w = d->d_buf;
			size_t nw = d->d_size / 8;
			uint64_t base = 0;
			for (size_t i = 0; i < nw; i++) {
				if (!(w[i] & 1)) {
					const uint8_t *b = file_bytes(e, w[i], 8);
					int64_t add = 0;
					if (b)
						memcpy(&add, b, 8);
					int rc = b ? fn(ctx, w[i], R_X86_64_RELATIVE, 0, add) : 0;
					if (rc)
						return rc;
					base = w[i] + 8;
				} else {
					uint64_t bits = w[i] >> 1;
					for (unsigned k = 0; bits; k++, bits >>= 1) {
						if (!(bits & 1))
							continue;
						uint64_t at = base + 8ull * k;
						const uint8_t *b = file_bytes(e, at, 8);
						int64_t add = 0;
						if (b)
							memcpy(&add, b, 8);
						int rc =
						    b ? fn(ctx, at, R_X86_64_RELATIVE, 0, add) : 0;
						if (rc)
							return rc;
					}
					base += 63 * 8;
				}
			}
		}
	}
	return 0;
}

/* ---- symbols ---- */

/* Does e have a section of that name? */
static int has_section(Elf *e, const char *name)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	if (elf_getshdrstrndx(e, &shstrndx) != 0)
		return 0;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *n;
		if (gelf_getshdr(scn, &sh) && (n = elf_strptr(e, shstrndx, sh.sh_name)) &&
		    !strcmp(n, name))
			return 1;
	}
	return 0;
}

/* st_value of a symbol of e's .symtab (used for TLS symbols, whose value is
 * an offset in the TLS block, not an address). */
static int symtab_value(Elf *e, const char *name, int type, uint64_t *out)
{
	Elf_Scn *scn = NULL;
	while (e && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; d && i < n; i++) {
			GElf_Sym s;
			if (!gelf_getsym(d, (int)i, &s) || GELF_ST_TYPE(s.st_info) != type)
				continue;
			const char *nm = elf_strptr(e, sh.sh_link, s.st_name);
			if (nm && !strcmp(nm, name)) {
				*out = s.st_value;
				return 0;
			}
		}
	}
	return -1;
}

/* ---- the heuristics ---- */

struct arena_search {
	hw_target *t;
	const struct gw_layout *L;
	uint64_t bias;
	uint64_t found;
};

/* Does the arena ring from a come back to a within a few thousand steps,
 * through 16-aligned tops? */
static int arena_ring_ok(hw_target *t, const struct gw_layout *L, uint64_t a)
{
	uint64_t x = a;
	for (int i = 0; i < 4096; i++) {
		uint64_t top, next;
		if (hw_read_u64(t, x + L->ms_top, &top) || hw_read_u64(t, x + L->ms_next, &next) ||
		    top % 16 || next % 8)
			return 0;
		if (next == a)
			return 1;
		x = next;
	}
	return 0;
}

static int arena_reloc(void *ctx, uint64_t off, uint64_t type, uint64_t sym, int64_t addend)
{
	struct arena_search *s = ctx;
	if (type != R_X86_64_RELATIVE || sym || off - s->L->ms_next != (uint64_t)addend)
		return 0;
	if (!arena_ring_ok(s->t, s->L, (uint64_t)addend + s->bias))
		return 0;
	s->found = (uint64_t)addend + s->bias;
	return 1;
}

/* The .data section of e, its link address in *addr; NULL when none. */
static Elf_Data *data_section(Elf *e, uint64_t *addr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	if (elf_getshdrstrndx(e, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *nm;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(nm = elf_strptr(e, shstrndx, sh.sh_name)) || strcmp(nm, ".data"))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		*addr = sh.sh_addr;
		return d && d->d_buf ? d : NULL;
	}
	return NULL;
}

/* main_arena through the relocation that sets main_arena.next to
 * &main_arena (a shared libc, a static PIE); in an executable linked at a
 * fixed address (static, not PIE) nothing is relocated: the word in .data
 * holds the address itself.  Each candidate is validated by its ring. */
static uint64_t find_main_arena(hw_target *t, Elf *e, uint64_t bias, const struct gw_layout *L)
{
	struct arena_search s = {.t = t, .L = L, .bias = bias};
	for_each_reloc(e, arena_reloc, &s);
	uint64_t at;
	Elf_Data *d;
	if (s.found || !(d = data_section(e, &at)))
		return s.found;
	for (size_t o = 0; o + 8 <= d->d_size; o += 8) {
		uint64_t v;
		memcpy(&v, (const uint8_t *)d->d_buf + o, 8);
		if (v == at + o - L->ms_next && arena_ring_ok(t, L, v + bias))
			return v + bias;
	}
	return 0;
}

static uint64_t word_at(const uint8_t *p, uint32_t off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return v;
}

/* mp_'s static initializer (malloc.c): trim_threshold, top_pad,
 * mmap_threshold, arena_test = NARENAS_FROM_NCORES (1), arena_max 0, ...,
 * n_mmaps_max = DEFAULT_MMAP_MAX, tcache_bins = TCACHE_MAX_BINS (2.42+:
 * tcache_small_bins = TCACHE_SMALL_BINS, both 64), tcache_count =
 * TCACHE_FILL_COUNT (7; 16 from 2.43). */
static uint64_t find_mp(Elf *e, uint64_t bias, const struct gw_layout *L)
{
	uint64_t at;
	Elf_Data *d = data_section(e, &at);
	if (!d || d->d_size < L->mp_size)
		return 0;
	const uint8_t *p = d->d_buf;
	for (size_t o = 0; o + L->mp_size <= d->d_size; o += 8) {
		const uint8_t *m = p + o;
		uint32_t n_mmaps_max;
		memcpy(&n_mmaps_max, m + L->mp_n_mmaps + 4, 4);
		uint64_t top_pad = word_at(m, 8);
		if (word_at(m, 0) == 128 * 1024 && word_at(m, 16) == 128 * 1024 &&
		    (top_pad == 0 || top_pad == 128 * 1024) && word_at(m, 24) == 8 &&
		    word_at(m, 32) == 0 && n_mmaps_max == 65536 &&
		    word_at(m, L->mp_tcache_bins) == GW_TCACHE_SMALL_BINS &&
		    word_at(m, L->mp_tcache_count) == (L->minor >= 43 ? 16u : 7u))
			return at + o + bias;
	}
	return 0;
}

/* ---- tcache ---- */

struct tpoff_list {
	uint64_t got[64];
	int64_t addend[64];
	size_t n;
};

static int tpoff_reloc(void *ctx, uint64_t off, uint64_t type, uint64_t sym, int64_t addend)
{
	struct tpoff_list *l = ctx;
	if (type == R_X86_64_TPOFF64 && sym == 0 && l->n < HW_ARRAY_SIZE(l->got)) {
		l->got[l->n] = off;
		l->addend[l->n] = addend;
		l->n++;
	}
	return 0;
}

/* Can v be a thread's tcache pointer: 0 (no tcache yet) or the user
 * pointer of a readable chunk; with check_header, one whose header says
 * request2size(sizeof(tcache_perthread_struct)) | PREV_INUSE (and maybe
 * NON_MAIN_ARENA; a chunk up to MINSIZE larger too).  The counts and
 * entries are not judged here: damaged ones are what the walk reports. */
static int tcache_ptr_ok(hw_target *t, const struct gw_layout *L, uint64_t v, int check_header,
                         int *nonzero)
{
	uint64_t size;
	if (!v)
		return 1;
	if (v % 16 || hw_read_u64(t, v - 8, &size))
		return 0;
	/* (or up to MINSIZE more: a free chunk whose remainder was too small
	 * to split off, as 2.43's tcache_init took with MALLOC_ARENA_MAX=1) */
	uint64_t want = (L->tc_size + GW_SIZE_SZ + GW_MALLOC_ALIGN - 1) & ~(uint64_t)15;
	uint64_t got = size & ~(uint64_t)GW_SIZE_BITS;
	if (check_header &&
	    ((size & GW_SIZE_BITS & ~(uint64_t)GW_NON_MAIN_ARENA) != GW_PREV_INUSE || got < want ||
	     got >= want + GW_MINSIZE))
		return 0;
	*nonzero = 1;
	return 1;
}

/* Every thread's tcache pointer at fs_base + tpoff, when each is one
 * (tcache_ptr_ok; the header checked when check_header) and, unless
 * check_header is 0, at least one is not NULL: the values, 0 dropped, in
 * *out (n returned), and *ok = 1.  A thread whose TLS cannot be read is
 * passed over. */
static size_t tcaches_at(hw_target *t, const struct gw_layout *L, uint64_t tpoff, int check_header,
                         uint64_t **out, int *ok)
{
	const hw_thread *th;
	size_t nth = hw_target_threads(t, &th), n = 0;
	int good = 1, nonzero = 0;
	uint64_t *v = calloc(nth ? nth : 1, sizeof *v);
	*ok = 0;
	if (!v)
		return 0;
	for (size_t i = 0; i < nth && good; i++) {
		uint64_t val = 0;
		if (!th[i].fs_base || hw_read_u64(t, th[i].fs_base + tpoff, &val))
			continue;
		/* 2.42+: a thread without a tcache yet (or with it disabled)
		 * points at __tcache_dummy, in libc's read-only data: none */
		const hw_mapping *mp = L->tc_slots && val ? hw_target_mapping_at(t, val) : NULL;
		if (mp && mp->path && !(mp->perms & HW_PERM_W))
			val = 0;
		good = tcache_ptr_ok(t, L, val, check_header, &nonzero);
		if (good && val)
			v[n++] = val;
	}
	if (good && (nonzero || !check_header)) {
		*out = v;
		*ok = 1;
		return n;
	}
	free(v);
	return 0;
}

/* The TLS variable `tcache` of a static executable, linked into its own
 * TLS block, which starts roundup(p_memsz, p_align) below the thread
 * pointer (csu/libc-tls.c: __libc_setup_tls sets l_tls_offset so): its
 * st_value in .symtab is its offset in the block.  Stripped, each word of
 * the block is tried, as the TPOFF64 candidates are. */
static size_t static_tcaches(hw_target *t, const struct gw_layout *L, Elf *e, Elf *dbg,
                             uint64_t **out, int *found_tls)
{
	size_t nph;
	uint64_t sym, memsz = 0, align = 1;
	if (elf_getphdrnum(e, &nph) != 0)
		return 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_TLS) {
			memsz = ph.p_memsz;
			align = ph.p_align ? ph.p_align : 1;
		}
	}
	if (!memsz || memsz > (1u << 20) || (align & (align - 1)))
		return 0;
	uint64_t block = (memsz + align - 1) & ~(align - 1);
	if (symtab_value(e, "tcache", STT_TLS, &sym) == 0 ||
	    (dbg && symtab_value(dbg, "tcache", STT_TLS, &sym) == 0))
		return sym + 8 <= memsz ? tcaches_at(t, L, sym - block, 0, out, found_tls) : 0;
	for (uint64_t o = 0; o + 8 <= memsz; o += 8) {
		size_t n = tcaches_at(t, L, o - block, 1, out, found_tls);
		if (*found_tls)
			return n;
	}
	return 0;
}

/* The tcache of every thread, through the GOT slot of the TLS variable
 * (libc.so's), or in the executable's own TLS block (static). */
static size_t find_tcaches(hw_target *t, const struct gw_layout *L, Elf *e, uint64_t bias, Elf *dbg,
                           int is_static, uint64_t **out, int *found_tls)
{
	struct tpoff_list l = {.n = 0};
	uint64_t sym = 0;
	int have_sym = dbg && symtab_value(dbg, "tcache", STT_TLS, &sym) == 0;
	*out = NULL;
	*found_tls = 0;
	if (is_static)
		return static_tcaches(t, L, e, dbg, out, found_tls);
	for_each_reloc(e, tpoff_reloc, &l);
	for (size_t c = 0; c < l.n; c++) {
		if (have_sym && (uint64_t)l.addend[c] != sym)
			continue;
		uint64_t tpoff;
		if (hw_read_u64(t, l.got[c] + bias, &tpoff))
			continue;
		size_t n = tcaches_at(t, L, tpoff, !have_sym, out, found_tls);
		if (*found_tls)
			return n;
	}
	return 0;
}

/* ---- without the libc file ---- */

/* A core from a container or another machine, or of a process whose libc
 * was upgraded on disk since, names a libc file that is not there or is of
 * another build: no symbols, no relocations, no version banner.  What the
 * core holds of libc is its writable data, where main_arena and mp_ live,
 * and each thread's TLS; both are recognised by their shape (as chap does,
 * vmware/chap's glibc malloc finder, without symbols), and the layout by
 * which of layout.c's rows the shapes fit:
 *  - main_arena: a ring of arenas (next) that comes back to it, whose bins
 *    (malloc.c bin_at: &bins[2(i-1)] - 16) are each either empty, fd = bk =
 *    the bin itself, or two 16-aligned chunk addresses, at least one empty,
 *    and whose top is a 16-aligned address in a mapping.  The row's
 *    malloc_state decides 2.26 (no have_fastchunks) against 2.27 on: the
 *    ring comes back only to the true start; 2.43's (no fastbins: top at
 *    8, bins at 24) fits neither.
 *  - mp_: the fields malloc.c keeps in range (tcache_bins 1..64,
 *    tcache_count and tcache_max_bytes bounded, n_mmaps <= max_n_mmaps,
 *    mmapped_mem <= max_mmapped_mem, mmap_threshold <= 32 MiB, arena_test
 *    1..1024) and sbrk_base 0 or the start of a mapping that holds
 *    main_arena's top when top is in the sbrk heap; 2.35's malloc_par
 *    (hugepage fields) against the older one.
 *  - the tcache: the word at the same offset below every thread's pointer
 *    (libc's TLS block is in the static TLS area, below fs_base) that
 *    points at a chunk of tcache_perthread_struct's size; the size tells
 *    2.30's uint16_t counts from the older uint8_t, and 2.42's 76 bins of
 *    num_slots from 2.35-2.41's 64 counts (2.43's: by its malloc_state).
 *  - safe-linking (2.32): whether the first links of the fastbins and
 *    tcache bins read as chunk addresses raw or through PROTECT_PTR.
 * The version is then the range of the row: "2.35-2.41". */

/* main_arena's shape at a (p: its ms_size bytes). */
static int arena_shape(hw_target *t, const struct gw_layout *L, const uint8_t *p, uint64_t a)
{
	uint64_t top = word_at(p, L->ms_top), next = word_at(p, L->ms_next);
	if (!top || top % 16 || !next || next % 8)
		return 0;
	int empty = 0;
	for (unsigned i = 1; i < GW_NBINS; i++) {
		uint64_t bin = a + L->ms_bins + 16 * (i - 1) - 16;
		uint64_t fd = word_at(p, L->ms_bins + 16 * (i - 1)),
		         bk = word_at(p, L->ms_bins + 16 * (i - 1) + 8);
		if (fd == bin && bk == bin)
			empty++;
		else if (!fd || !bk || fd % 16 || bk % 16)
			return 0;
	}
	return empty && hw_target_mapping_at(t, top) && arena_ring_ok(t, L, a);
}

struct shape_ctx {
	hw_target *t;
	const struct gw_layout *L;
	uint64_t arena;
};

static int arena_fits(void *ctx, const uint8_t *p, uint64_t a)
{
	struct shape_ctx *c = ctx;
	return arena_shape(c->t, c->L, p, a);
}

static uint64_t scan_main_arena(hw_target *t, const struct gw_layout *L, const hw_module *m)
{
	struct shape_ctx c = {t, L, 0};
	return hw_module_data_find(t, m, L->ms_size, arena_fits, &c);
}

static uint32_t u32_at(const uint8_t *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, 4);
	return v;
}

/* mp_'s shape at p (its bytes); arena: main_arena's address. */
static int mp_shape(hw_target *t, const struct gw_layout *L, const uint8_t *p, uint64_t arena)
{
	uint64_t tc_bins = word_at(p, L->mp_tcache_bins),
	         tc_max = word_at(p, L->mp_tcache_bins + 8),
	         tc_count = word_at(p, L->mp_tcache_count),
	         mmap_threshold = word_at(p, L->mp_mmap_threshold), arena_test = word_at(p, 24),
	         mmapped = word_at(p, L->mp_mmapped_mem),
	         max_mmapped = word_at(p, L->mp_mmapped_mem + 8),
	         sbrk = word_at(p, L->mp_sbrk_base);
	uint32_t n_mmaps = u32_at(p, L->mp_n_mmaps), max_n_mmaps = u32_at(p, L->mp_n_mmaps + 8);
	/* (tcache_max_bytes: up to 1032 before 2.35's malloc_par; 2.42's
	 * large bins, 4 MiB + 1, and 2.42 shares 2.35's malloc_par) */
	uint64_t tc_max_max = L->mp_hp_pagesize >= 0 ? (4u << 20) + 1 : 1032;
	if (tc_bins < 1 || tc_bins > GW_TCACHE_SMALL_BINS || tc_max > tc_max_max ||
	    tc_count > 65535 || mmap_threshold > (32u << 20) || arena_test < 1 ||
	    arena_test > 1024 || n_mmaps > max_n_mmaps || mmapped > max_mmapped ||
	    max_mmapped > (1ull << 47) || sbrk % 16 ||
	    u32_at(p, L->mp_n_mmaps + 12) > 1 /* no_dyn_threshold */ ||
	    word_at(p, 0) > (1ull << 47) /* trim_threshold */ ||
	    word_at(p, 8) > (1ull << 32) /* top_pad */)
		return 0;
	if (L->mp_hp_pagesize >= 0) {
		uint64_t thp = word_at(p, (uint32_t)L->mp_hp_pagesize - 8),
		         hp = word_at(p, (uint32_t)L->mp_hp_pagesize);
		if ((thp & (thp - 1)) || (hp & (hp - 1)))
			return 0;
	}
	if (!sbrk)
		return 1;
	/* the sbrk heap: main_arena's top is in it while main_arena is
	 * contiguous (not after sbrk failed and it went on in mmapped
	 * segments, nor with glibc.malloc.hugetlb=2: NONCONTIGUOUS_BIT) */
	uint64_t top, sys;
	uint32_t flags;
	if (!hw_target_mapping_at(t, sbrk) || hw_read_u64(t, arena + L->ms_top, &top) ||
	    hw_read_u64(t, arena + L->ms_system_mem, &sys) ||
	    hw_read(t, arena + L->ms_flags, &flags, 4))
		return 0;
	return (flags & GW_NONCONTIGUOUS) || (top >= sbrk && top - sbrk <= sys);
}

static int mp_fits(void *ctx, const uint8_t *p, uint64_t a)
{
	struct shape_ctx *c = ctx;
	return a != c->arena && mp_shape(c->t, c->L, p, c->arena);
}

static uint64_t scan_mp(hw_target *t, const struct gw_layout *L, const hw_module *m, uint64_t arena)
{
	struct shape_ctx c = {t, L, arena};
	return hw_module_data_find(t, m, L->mp_size, mp_fits, &c);
}

/* How far below the thread pointer libc's TLS block is looked for. */
#define TLS_SCAN (64u << 10)

static size_t scan_tcaches(hw_target *t, const struct gw_layout *L, uint64_t **out, int *found)
{
	*found = 0;
	for (uint64_t o = 8; o <= TLS_SCAN; o += 8) {
		size_t n = tcaches_at(t, L, (uint64_t)0 - o, 1, out, found);
		if (*found)
			return n;
	}
	return 0;
}

/* A link as stored (stored, at pos) read raw and through PROTECT_PTR:
 * +1 to *raw or *prot for the reading that gives a chunk address (or 0)
 * when the other does not. */
static void link_vote(hw_target *t, uint64_t pos, uint64_t stored, int *raw, int *prot)
{
	uint64_t r = (pos >> 12) ^ stored;
	int a = !stored || (stored % 16 == 0 && hw_target_mapping_at(t, stored));
	int b = !r || (r % 16 == 0 && hw_target_mapping_at(t, r));
	*raw += a && !b;
	*prot += b && !a;
}

static int scan_safe_linking(hw_target *t, const struct gw_layout *L, uint64_t arena,
                             const uint64_t *tcaches, size_t ntc, int dflt)
{
	int raw = 0, prot = 0;
	for (unsigned i = 0; i < L->n_fastbins; i++) {
		uint64_t p, fd;
		if (!hw_read_u64(t, arena + L->ms_fastbins + 8 * i, &p) && p && p % 16 == 0 &&
		    !hw_read_u64(t, p + 16, &fd))
			link_vote(t, p + 16, fd, &raw, &prot);
	}
	for (size_t k = 0; k < ntc; k++)
		for (unsigned i = 0; i < L->tc_bins; i++) {
			uint64_t e, next;
			if (!hw_read_u64(t, tcaches[k] + L->tc_entries + 8 * i, &e) && e &&
			    e % 16 == 0 && !hw_read_u64(t, e, &next))
				link_vote(t, e, next, &raw, &prot);
		}
	return prot > raw ? 1 : raw > prot ? 0 : dflt;
}

/* main_arena, mp_, the tcaches and the layout of a libc known only by its
 * memory; HW_OK, 1 when no tcache was found, else an error. */
static int locate_by_shape(hw_target *t, const hw_module *m, struct gw_located *loc, int is_static)
{
	const char *missing = is_static ? "no libc.so in the target and the executable's file "
	                                  "was not found (use --exe or --sysroot)"
	                                : "the libc file was not found (use --sysroot)";
	struct gw_layout L;
	uint64_t arena = 0, mp = 0;
	int first = 0, last = 0;
	/* malloc_state: 2.27-2.41, else 2.43 (no fastbins), else 2.26 */
	static const int ms_try[] = {27, 43, 26};
	for (size_t i = 0; i < HW_ARRAY_SIZE(ms_try) && !arena; i++) {
		gw_layout_for_version(&L, 2, ms_try[i]);
		arena = scan_main_arena(t, &L, m);
		first = last = ms_try[i];
	}
	if (!arena)
		return hw_error_set(HW_ENOTFOUND, "%s: %s, and no main_arena in its data",
		                    m->name ? m->name : "libc", missing);
	if (first == 27) {
		/* malloc_par: 2.35 on, else 2.27-2.34 */
		gw_layout_for_version(&L, 2, 35);
		if ((mp = scan_mp(t, &L, m, arena)))
			first = 35, last = 41;
		else {
			gw_layout_for_version(&L, 2, 30);
			mp = scan_mp(t, &L, m, arena);
			first = 27, last = 34;
		}
	} else {
		/* 2.26, 2.43: one malloc_par each */
		mp = scan_mp(t, &L, m, arena);
	}
	if (!mp)
		return hw_error_set(HW_ENOTFOUND, "%s: %s, and no mp_ in its data",
		                    m->name ? m->name : "libc", missing);
	int found = 0;
	size_t n = scan_tcaches(t, &L, &loc->tcaches, &found);
	if (first == 35 && !found) {
		/* 2.42: 2.35's malloc_state and malloc_par, 2.43's tcache */
		struct gw_layout l42;
		gw_layout_for_version(&l42, 2, 42);
		if ((n = scan_tcaches(t, &l42, &loc->tcaches, &found)), found) {
			L = l42;
			first = last = 42;
		} else {
			last = 42; /* no tcache to tell */
		}
	}
	if (first == 27) {
		/* tcache counts: uint16_t from 2.30 (tried first), else uint8_t */
		if (found)
			first = 30;
		else {
			struct gw_layout old;
			gw_layout_for_version(&old, 2, 27);
			L.tc_counts = old.tc_counts;
			L.tc_count_width = old.tc_count_width;
			L.tc_entries = old.tc_entries;
			L.tc_size = old.tc_size;
			if ((n = scan_tcaches(t, &L, &loc->tcaches, &found)), found)
				last = 29;
		}
		if (last == 34) {
			L.safe_linking = scan_safe_linking(t, &L, arena, loc->tcaches, n, 1);
			if (!L.safe_linking)
				last = 31;
			else
				first = 32;
		}
	}
	L.minor = first;
	loc->in.layout = L;
	loc->in.main_arena = arena;
	loc->in.mp = mp;
	loc->in.n_tcaches = n;
	loc->in.tcaches = loc->tcaches;
	if (first == last)
		snprintf(loc->version, sizeof loc->version, "2.%d", first);
	else
		snprintf(loc->version, sizeof loc->version, "2.%d-2.%d", first, last);
	loc->symbols = "heuristic";
	return found ? HW_OK : 1;
}

/* ---- DWARF ---- */

static void dwarf_u32(hw_target *t, const hw_module *m, const char *type, const char *member,
                      uint32_t *field)
{
	uint64_t off;
	if (hw_module_member_offset(t, m, type, member, &off) == HW_OK && off < 65536)
		*field = (uint32_t)off;
}

static void dwarf_size(hw_target *t, const hw_module *m, const char *type, uint32_t *field)
{
	uint64_t sz;
	if (hw_module_type_size(t, m, type, &sz) == HW_OK && sz && sz < 65536)
		*field = (uint32_t)sz;
}

/* The fast way: every struct the walker needs is defined in one unit,
 * malloc.c (arena.c is #included there): find it once and read the
 * members of its top-level structs, instead of one search of all units
 * per field.  0 when the unit and all four structs were found. */
struct dwarf_field {
	const char *st, *member;
	uint32_t *field;
};

static int layout_from_malloc_cu(const hw_module *m, struct gw_layout *L)
{
	Dwarf_Addr b;
	Dwarf *dw = m->dwfl_module ? dwfl_module_getdwarf(m->dwfl_module, &b) : NULL;
	if (!dw)
		return -1;
	const struct dwarf_field fields[] = {
	    {"malloc_state", "flags", &L->ms_flags},
	    {"malloc_state", "fastbinsY", &L->ms_fastbins},
	    {"malloc_state", "top", &L->ms_top},
	    {"malloc_state", "last_remainder", &L->ms_last_remainder},
	    {"malloc_state", "bins", &L->ms_bins},
	    {"malloc_state", "next", &L->ms_next},
	    {"malloc_state", "system_mem", &L->ms_system_mem},
	    {"malloc_par", "mmap_threshold", &L->mp_mmap_threshold},
	    {"malloc_par", "n_mmaps", &L->mp_n_mmaps},
	    {"malloc_par", "mmapped_mem", &L->mp_mmapped_mem},
	    {"malloc_par", "sbrk_base", &L->mp_sbrk_base},
	    {"malloc_par", "tcache_bins", &L->mp_tcache_bins},
	    {"malloc_par", "tcache_small_bins", &L->mp_tcache_bins}, /* 2.42+ */
	    {"malloc_par", "tcache_count", &L->mp_tcache_count},
	    {"_heap_info", "ar_ptr", &L->hi_ar_ptr},
	    {"_heap_info", "prev", &L->hi_prev},
	    {"_heap_info", "size", &L->hi_size},
	    {"tcache_perthread_struct", "counts", &L->tc_counts},
	    {"tcache_perthread_struct", "num_slots", &L->tc_counts}, /* 2.42+ */
	    {"tcache_perthread_struct", "entries", &L->tc_entries},
	};
	static const char *const structs[] = {"malloc_state", "malloc_par", "_heap_info",
	                                      "tcache_perthread_struct"};
	uint32_t *sizes[] = {&L->ms_size, &L->mp_size, &L->hi_sizeof, &L->tc_size};
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, st;
		const char *name;
		if (!dwarf_offdie(dw, off + hsize, &cu) || !(name = dwarf_diename(&cu)) ||
		    strcmp(strrchr(name, '/') ? strrchr(name, '/') + 1 : name, "malloc.c") ||
		    dwarf_child(&cu, &st) != 0) {
			off = next;
			continue;
		}
		unsigned found = 0;
		int hp = -1;
		do {
			const char *sn = dwarf_diename(&st);
			if (dwarf_tag(&st) != DW_TAG_structure_type || !sn ||
			    dwarf_hasattr(&st, DW_AT_declaration))
				continue;
			unsigned k;
			for (k = 0; k < HW_ARRAY_SIZE(structs) && strcmp(sn, structs[k]); k++)
				;
			if (k == HW_ARRAY_SIZE(structs))
				continue;
			Dwarf_Word size;
			Dwarf_Attribute a;
			if (dwarf_attr(&st, DW_AT_byte_size, &a) && dwarf_formudata(&a, &size) == 0)
				*sizes[k] = (uint32_t)size;
			found |= 1u << k;
			Dwarf_Die mem;
			if (dwarf_child(&st, &mem) != 0)
				continue;
			do {
				Dwarf_Word o;
				const char *mn = dwarf_diename(&mem);
				if (dwarf_tag(&mem) != DW_TAG_member || !mn ||
				    !dwarf_attr(&mem, DW_AT_data_member_location, &a) ||
				    dwarf_formudata(&a, &o) != 0)
					continue;
				for (size_t f = 0; f < HW_ARRAY_SIZE(fields); f++)
					if (!strcmp(fields[f].st, sn) &&
					    !strcmp(fields[f].member, mn))
						*fields[f].field = (uint32_t)o;
				if (k == 1 && !strcmp(mn, "hp_pagesize"))
					hp = (int)o;
			} while (dwarf_siblingof(&mem, &mem) == 0);
		} while (dwarf_siblingof(&st, &st) == 0);
		if (found != (1u << HW_ARRAY_SIZE(structs)) - 1)
			return -1;
		L->mp_hp_pagesize = hp;
		if (L->tc_entries > L->tc_counts)
			L->tc_count_width = (L->tc_entries - L->tc_counts) / L->tc_bins;
		return 0;
	}
	return -1;
}

/* Override the table's layout with what DWARF says, field by field. */
static void layout_from_dwarf(hw_target *t, const hw_module *m, struct gw_layout *L)
{
	struct gw_layout fast = *L;
	if (layout_from_malloc_cu(m, &fast) == 0) {
		*L = fast;
		return;
	}
	dwarf_u32(t, m, "malloc_state", "flags", &L->ms_flags);
	dwarf_u32(t, m, "malloc_state", "fastbinsY", &L->ms_fastbins);
	dwarf_u32(t, m, "malloc_state", "top", &L->ms_top);
	dwarf_u32(t, m, "malloc_state", "last_remainder", &L->ms_last_remainder);
	dwarf_u32(t, m, "malloc_state", "bins", &L->ms_bins);
	dwarf_u32(t, m, "malloc_state", "next", &L->ms_next);
	dwarf_u32(t, m, "malloc_state", "system_mem", &L->ms_system_mem);
	dwarf_size(t, m, "malloc_state", &L->ms_size);
	dwarf_u32(t, m, "malloc_par", "mmap_threshold", &L->mp_mmap_threshold);
	dwarf_u32(t, m, "malloc_par", "n_mmaps", &L->mp_n_mmaps);
	dwarf_u32(t, m, "malloc_par", "mmapped_mem", &L->mp_mmapped_mem);
	dwarf_u32(t, m, "malloc_par", "sbrk_base", &L->mp_sbrk_base);
	dwarf_u32(t, m, "malloc_par", "tcache_bins", &L->mp_tcache_bins);
	dwarf_u32(t, m, "malloc_par", "tcache_small_bins", &L->mp_tcache_bins);
	dwarf_u32(t, m, "malloc_par", "tcache_count", &L->mp_tcache_count);
	dwarf_size(t, m, "malloc_par", &L->mp_size);
	uint64_t off;
	if (hw_module_member_offset(t, m, "malloc_par", "hp_pagesize", &off) == HW_OK)
		L->mp_hp_pagesize = (int32_t)off;
	dwarf_u32(t, m, "_heap_info", "ar_ptr", &L->hi_ar_ptr);
	dwarf_u32(t, m, "_heap_info", "prev", &L->hi_prev);
	dwarf_u32(t, m, "_heap_info", "size", &L->hi_size);
	dwarf_size(t, m, "_heap_info", &L->hi_sizeof);
	dwarf_u32(t, m, "tcache_perthread_struct", "counts", &L->tc_counts);
	dwarf_u32(t, m, "tcache_perthread_struct", "num_slots", &L->tc_counts);
	dwarf_u32(t, m, "tcache_perthread_struct", "entries", &L->tc_entries);
	dwarf_size(t, m, "tcache_perthread_struct", &L->tc_size);
	if (L->tc_entries > L->tc_counts)
		L->tc_count_width = (L->tc_entries - L->tc_counts) / L->tc_bins;
}

/* ---- the public entry for glibc.c ---- */

static int target_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return hw_read(ctx, addr, buf, len) != HW_OK;
}

/* Views only where they cost no copy: a core's mmapped bytes, a process's
 * heap regions once the walker prefetched them (read whole). */
static const void *target_view(void *ctx, uint64_t addr, size_t len)
{
	return hw_view_cheap(ctx, addr, len);
}

/* A live process's region read whole (a debugger's target's in few
 * calls) when it fits in the memory the target allows itself; a region
 * that does not is streamed (target_stream) and walk.c keeps only the
 * chunks the lists may visit.  (Streaming needs a few MiB instead of a
 * copy of the heap, but here it cost more CPU: the heap is copied out of
 * the process twice, once for the lists' capture and once for the walk;
 * measured with `coretool summary --pid` on bench/many_chunks: 73 MiB
 * instead of 320 MiB peak, 0.6-1.6 s instead of 0.5-1.0 s, at load 4.)
 * A core's pages are left to fault in as the walk touches them (the
 * kernel maps the 64 KiB around each fault): MADV_POPULATE_READ
 * (hw_target_prefetch) looks every page up once more after faulting it in
 * (get_user_pages, follow_page_pte: 13% of the walk's profile).  On the
 * 2.2M-chunk bench core (201 MiB), a process walking it ten times, best of
 * ten, five interleaved pairs on a quiet machine (2026-12-06): open, walk,
 * close 38.5-40.2 ms populated, 32.8-34.8 ms not (close, the unmapping,
 * 6 ms either way).  Measured under load 1.4-1.9 (b0cae8a) populating
 * looked faster, and on 2026-11-25 (e69984d) slower by 4-5 ms: the quiet
 * machine's figures are the ones kept. */
static void target_prefault(void *ctx, uint64_t addr, size_t len)
{
	if (hw_target_get_kind(ctx) == HW_TARGET_CORE) {
		hw_target_advise_walk(ctx, addr, len);
		return;
	}
	(void)hw_target_prefetch(ctx, addr, len);
}

static uint64_t target_heap_floor(void *ctx, uint64_t start, uint64_t end)
{
	return hw_target_heap_floor(ctx, start, end);
}

static void target_extent(void *ctx, uint64_t addr, uint64_t end, uint64_t *lo, uint64_t *hi)
{
	if (hw_target_data_extent(ctx, addr, end, lo, hi) != HW_OK) {
		*lo = addr;
		*hi = end;
	}
}

/* A live process's region read ahead by a helper thread while walked. */
static void target_stream(void *ctx, uint64_t addr, size_t len)
{
	(void)hw_target_stream(ctx, addr, len);
}

static const void *target_window(void *ctx, uint64_t addr, size_t len)
{
	return hw_stream_window(ctx, addr, len);
}

static int maps_from_target(hw_target *t, struct gw_located *loc)
{
	const hw_mapping *mp;
	size_t n = hw_target_mappings(t, &mp);
	loc->maps = calloc(n ? n : 1, sizeof *loc->maps);
	if (!loc->maps)
		return HW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		loc->maps[i].start = mp[i].start;
		loc->maps[i].end = mp[i].end;
		loc->maps[i].perms = mp[i].perms;
		loc->maps[i].anonymous = !mp[i].path && !(mp[i].perms & HW_PERM_SHARED);
	}
	loc->in.maps = loc->maps;
	loc->in.n_maps = n;
	return HW_OK;
}

/* The walker's view of the target: its mappings and the ways to read it. */
static int reader(hw_target *t, struct gw_located *loc)
{
	int rc = maps_from_target(t, loc);
	if (rc != HW_OK)
		return rc;
	loc->in.read = target_read;
	loc->in.view = target_view;
	loc->in.stream = target_stream;
	loc->in.window = target_window;
	loc->in.prefault = target_prefault;
	loc->in.extent = target_extent;
	loc->in.heap_floor = target_heap_floor;
	loc->in.ctx = t;
	return HW_OK;
}

/* locate_by_shape, then the reader: HW_OK, 1 (no tcache) or an error. */
static int by_shape(hw_target *t, const hw_module *m, struct gw_located *loc, int is_static)
{
	int rc = locate_by_shape(t, m, loc, is_static);
	int rc2 = rc < 0 ? rc : reader(t, loc);
	return rc2 != HW_OK ? rc2 : rc;
}

int gw_locate(hw_target *t, struct gw_located *loc)
{
	memset(loc, 0, sizeof *loc);
	const hw_module *m = hw_target_module_find(t, "libc.so");
	if (!m)
		m = hw_target_module_find(t, "libc-2.");
	/* no libc.so: glibc may be linked into the executable (static) */
	int is_static = !m;
	if (is_static && !(m = hw_target_main_module(t)))
		return hw_error_set(HW_ENOTFOUND, "no libc in the target (not glibc?)");
	uint64_t bias = 0, dbias = 0;
	Elf *e = hw_module_elf(t, m, &bias);
	if (!e) /* no file: libc's data by its shape (libc.so's, or the executable's) */
		return by_shape(t, m, loc, is_static);
	int major, minor;
	if (is_static ? static_version(t, m, e, bias, &major, &minor) < 0
	              : libc_version(e, &major, &minor) < 0)
		return hw_error_set(is_static ? HW_ENOTFOUND : HW_EUNSUPPORTED,
		                    is_static ? "%s: no libc.so in the target and no glibc linked "
		                                "into the executable (not glibc?)"
		                              : "%s: no glibc version banner",
		                    m->name ? m->name : "libc");
	snprintf(loc->version, sizeof loc->version, "%d.%d", major, minor);
	struct gw_layout *L = &loc->in.layout;
	int rc = gw_layout_for_version(L, major, minor);
	if (rc != HW_OK)
		return rc;

	/* The debug file's ELF, without loading its DWARF (the layout
	 * cache may spare that): it has DWARF when it has .debug_info. */
	const char *dpath = NULL;
	Elf *dbg = hw_module_symtab_elf(t, m, &dbias, &dpath);
	if (dbg && !has_section(dbg, ".debug_info") && !has_section(dbg, ".zdebug_info"))
		dbg = NULL;
	/* a static executable's DWARF is the program's: libc.a has none of its
	 * own (Debian's), so the layouts come from the table, and the symbols
	 * from the executable's .symtab */
	Elf *tls_syms = dbg;
	if (is_static)
		dbg = NULL;
	uint64_t main_arena = 0, mp = 0;
	if (hw_module_symbol(t, m, "main_arena", &main_arena, NULL) == HW_OK &&
	    hw_module_symbol(t, m, "mp_", &mp, NULL) == HW_OK) {
		loc->symbols = dbg ? "debuginfo" : "symtab";
		if (dbg && gw_layout_cache_get(m->build_id, dpath, L) < 0) {
			layout_from_dwarf(t, m, L);
			gw_layout_cache_put(m->build_id, dpath, L);
		}
	} else {
		loc->symbols = "heuristic";
		main_arena = find_main_arena(t, e, bias, L);
		mp = find_mp(e, bias, L);
		/* a libc file without the relocation or initializer looked for
		 * (another build, one read back from memory): by shape */
		if ((!main_arena || !mp) && !is_static) {
			int rc2 = by_shape(t, m, loc, is_static);
			if (rc2 >= 0)
				return rc2;
		}
		if (!main_arena || !mp)
			return hw_error_set(HW_ENOTFOUND,
			                    "%s %s: %s not found (no symbols; heuristics failed)",
			                    m->name ? m->name : "libc", loc->version,
			                    !main_arena ? "main_arena" : "mp_");
	}
	loc->in.main_arena = main_arena;
	loc->in.mp = mp;

	int found_tls;
	loc->in.n_tcaches = find_tcaches(t, L, e, bias, is_static ? tls_syms : dbg, is_static,
	                                 &loc->tcaches, &found_tls);
	loc->in.tcaches = loc->tcaches;
	if ((rc = reader(t, loc)) != HW_OK)
		return rc;
	return found_tls ? HW_OK : 1; /* 1: no tcache found (reported as a problem) */
}

void gw_located_free(struct gw_located *loc)
{
	free(loc->tcaches);
	free(loc->maps);
	memset(loc, 0, sizeof *loc);
}
