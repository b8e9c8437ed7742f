/*
 * core.c: core files.  ELF64 x86-64 ET_CORE only, opened read-only and
 * mmapped: opening a core of any size reads its headers and notes, nothing
 * else.  Notes give the threads (NT_PRSTATUS: registers and fs_base), the
 * mapped files (NT_FILE), the auxiliary vector (NT_AUXV) and the process
 * (NT_PRPSINFO).  Bytes the kernel left out (file-backed pages under the
 * default coredump_filter, e.g. .rodata) are read from the mapped files,
 * under --sysroot.
 *
 * Layouts: struct elf_prstatus / elf_prpsinfo and the NT_FILE format are
 * the kernel's (include/uapi/linux/elfcore.h, fs/binfmt_elf.c
 * fill_files_note); user_regs_struct is x86-64's (arch/x86/include/asm/user_64.h).
 */
#include "target_internal.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* x86-64 struct elf_prstatus: pr_info (12) + pr_cursig (2) + pad; pr_pid at
 * 32; pr_reg (27 x u64 user_regs_struct) at 112; 336 bytes in all. */
enum {
	PRSTATUS_CURSIG = 12,
	PRSTATUS_PID = 32,
	PRSTATUS_REG = 112,
	PRSTATUS_SIZE = 336,
	REG_RBP = 4,
	REG_RIP = 16,
	REG_RSP = 19,
	REG_FS_BASE = 21,
	/* struct elf_prpsinfo: pr_pid at 24, pr_fname[16] at 40, pr_psargs[80] at 56 */
	PRPSINFO_PID = 24,
	PRPSINFO_SIZE = 136,
};

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static int cmp_seg(const void *a, const void *b)
{
	const hw_segment *x = a, *y = b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* NT_FILE: count, page_size, count x {start, end, pgoff}, then names. */
static int parse_nt_file(hw_target *t, const uint8_t *d, size_t n)
{
	if (n < 16)
		return hw_error_set(HW_ECORRUPT, "NT_FILE note too short");
	uint64_t count = get_u64(d), page = get_u64(d + 8);
	if (count > n / 24 || page == 0 || page > (1u << 30))
		return hw_error_set(HW_ECORRUPT, "NT_FILE note inconsistent (count %" PRIu64 ")",
		                    count);
	const uint8_t *names = d + 16 + count * 24, *end = d + n;
	t->files = calloc(count ? count : 1, sizeof *t->files);
	if (!t->files)
		return hw_error_set(HW_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *e = d + 16 + i * 24;
		const uint8_t *nul = names < end ? memchr(names, 0, end - names) : NULL;
		if (!nul)
			break;
		hw_file_map *f = &t->files[t->nfiles];
		f->start = get_u64(e);
		f->end = get_u64(e + 8);
		f->file_offset = get_u64(e + 16) * page;
		f->fd = -1;
		if (!(f->path = strdup((const char *)names)))
			return hw_error_set(HW_ENOMEM, "out of memory");
		names = nul + 1;
		t->nfiles++;
	}
	return HW_OK;
}

static int parse_notes(hw_target *t, const uint8_t *d, size_t n)
{
	size_t off = 0;
	while (off + 12 <= n) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, d + off, 4);
		memcpy(&descsz, d + off + 4, 4);
		memcpy(&type, d + off + 8, 4);
		size_t name_off = off + 12;
		size_t desc_off = name_off + ((namesz + 3u) & ~3u);
		if (desc_off > n || descsz > n - desc_off)
			return hw_target_warn(t, "core notes truncated at offset %zu", off), HW_OK;
		const uint8_t *desc = d + desc_off;
		int is_core = namesz == 5 && !memcmp(d + name_off, "CORE", 5);
		if (is_core && type == NT_PRSTATUS && descsz >= PRSTATUS_SIZE) {
			hw_thread th = {0};
			int32_t pid;
			int16_t sig;
			memcpy(&pid, desc + PRSTATUS_PID, 4);
			memcpy(&sig, desc + PRSTATUS_CURSIG, 2);
			th.tid = pid;
			th.signal = sig;
			th.pc = get_u64(desc + PRSTATUS_REG + 8 * REG_RIP);
			th.sp = get_u64(desc + PRSTATUS_REG + 8 * REG_RSP);
			th.fp = get_u64(desc + PRSTATUS_REG + 8 * REG_RBP);
			th.fs_base = get_u64(desc + PRSTATUS_REG + 8 * REG_FS_BASE);
			if (t->nthreads == 0) /* the first is the thread that got the signal */
				t->signal = sig;
			if (hw_target_push_thread(t, &th))
				return HW_ENOMEM;
		} else if (is_core && type == NT_PRPSINFO && descsz >= PRPSINFO_SIZE) {
			int32_t pid;
			memcpy(&pid, desc + PRPSINFO_PID, 4);
			t->pid = pid;
		} else if (is_core && type == NT_AUXV) {
			free(t->auxv);
			t->nauxv = descsz / 16;
			t->auxv = malloc(t->nauxv * 16 + 16);
			if (!t->auxv)
				return hw_error_set(HW_ENOMEM, "out of memory");
			memcpy(t->auxv, desc, t->nauxv * 16);
		} else if (is_core && type == NT_FILE && !t->files) {
			int rc = parse_nt_file(t, desc, descsz);
			if (rc == HW_ENOMEM)
				return rc;
			if (rc)
				hw_target_warn(t, "%s", hw_error_last());
		}
		off = desc_off + ((descsz + 3u) & ~3u);
	}
	return HW_OK;
}

static const hw_file_map *file_at(const hw_target *t, uint64_t addr)
{
	for (size_t i = 0; i < t->nfiles; i++)
		if (addr >= t->files[i].start && addr < t->files[i].end)
			return &t->files[i];
	return NULL;
}

static int file_open(hw_target *t, hw_file_map *f);
static const hw_segment *seg_at(hw_target *t, uint64_t addr);

/* Build the mapping list from PT_LOAD segments and NT_FILE entries. */
static int build_mappings(hw_target *t, const GElf_Phdr *ph, size_t nph)
{
	for (size_t i = 0; i < nph; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		hw_mapping m = {.start = ph[i].p_vaddr, .end = ph[i].p_vaddr + ph[i].p_memsz};
		m.perms = (ph[i].p_flags & PF_R ? HW_PERM_R : 0) |
		          (ph[i].p_flags & PF_W ? HW_PERM_W : 0) |
		          (ph[i].p_flags & PF_X ? HW_PERM_X : 0);
		m.core_bytes = ph[i].p_filesz;
		const hw_segment *s = seg_at(t, m.start);
		m.lost_bytes = s && s->vaddr == m.start ? s->lost : 0;
		const hw_file_map *f = file_at(t, m.start);
		if (f) {
			m.path = f->path;
			m.file_offset = f->file_offset + (m.start - f->start);
		}
		if (hw_target_push_mapping(t, &m))
			return HW_ENOMEM;
	}
	/* gcore leaves out segments of unmodified file mappings: NT_FILE still
	 * names them, and their bytes come from the file. */
	size_t nload = t->nmaps;
	for (size_t i = 0; i < t->nfiles; i++) {
		const hw_file_map *f = &t->files[i];
		int covered = 0;
		for (size_t k = 0; k < nload && !covered; k++)
			covered = t->maps[k].start < f->end && f->start < t->maps[k].end;
		if (covered || f->end <= f->start)
			continue;
		hw_mapping m = {.start = f->start,
		                .end = f->end,
		                .perms = HW_PERM_R,
		                .path = f->path,
		                .file_offset = f->file_offset};
		if (hw_target_push_mapping(t, &m))
			return HW_ENOMEM;
	}
	hw_target_sort_mappings(t);
	return HW_OK;
}

/* The first run of data [*d, *h) in the core file's bytes [at, end)
 * (SEEK_DATA, SEEK_HOLE; *h no further than end): 1; 0 when [at, end) is
 * all holes; -1 when the file system cannot tell. */
static int file_data_run(int fd, uint64_t at, uint64_t end, uint64_t *d, uint64_t *h)
{
	off_t x = lseek(fd, (off_t)at, SEEK_DATA);
	if (x < 0)
		return errno == ENXIO ? 0 : -1;
	if ((uint64_t)x >= end)
		return 0;
	off_t y = lseek(fd, x, SEEK_HOLE);
	*d = (uint64_t)x;
	*h = y < 0 || (uint64_t)y > end ? end : (uint64_t)y;
	return 1;
}

/* Kernel cores are sparse: the untouched pages of every mapping (thread
 * stacks above all) are holes.  Readahead turned each fault near one into
 * reads of the holes after it: libdwfl's look at each segment's first page
 * filled the page cache with 4 GiB of zeros for a process of 500 threads
 * (2.3 s for `info`).  A segment that is mostly holes (a stack: touched
 * at its top only) is read without readahead (MADV_RANDOM); the others
 * (heaps, pymalloc's arenas) keep it: without it, reading a 500 MiB Python
 * core from the disk took 7 s instead of 0.7 s.  A heap region the walker
 * goes through in order gets it back in any case (hw_core_advise_walk). */
static void advise_sparse(hw_target *t)
{
	for (size_t i = 0; i < t->nsegs && t->fd >= 0; i++) {
		const hw_segment *s = &t->segs[i];
		if (s->filesz < (64u << 10) || s->offset + s->filesz > t->core_size)
			continue;
		/* the bytes of data in the segment's file range, from its first
		 * 64 runs of data (more runs than that: not sparse enough) */
		uint64_t data = 0, end = s->offset + s->filesz, at = s->offset, d, h;
		int runs = 0;
		for (; runs < 64 && at < end && file_data_run(t->fd, at, end, &d, &h) > 0; runs++) {
			data += h - d;
			at = h;
		}
		if (runs == 64 || data * 4 >= s->filesz)
			continue; /* mostly data: readahead helps */
		uintptr_t lo = ((uintptr_t)t->core + s->offset) & ~(uintptr_t)4095;
		uintptr_t hi = (uintptr_t)t->core + s->offset + s->filesz;
		(void)madvise((void *)lo, hi - lo, MADV_RANDOM);
	}
}
int hw_target_open_core(hw_target **out, const char *path, const hw_target_options *opts)
{
	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return hw_error_set(HW_EUNSUPPORTED, "libelf: %s", elf_errmsg(-1));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hw_error_set(HW_EIO, "cannot open: %s (check the path)", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return hw_error_set(HW_EIO, "not a regular file (give a core file)");
	}
	/* systemd-coredump's .zst: read from a decompressed copy */
	char znote[200];
	int zfd;
	uint64_t zsize;
	int zrc = hw_core_decompress(fd, &zfd, &zsize, znote, sizeof znote);
	if (zrc < 0) {
		close(fd);
		return zrc;
	}
	if (zrc == 1) {
		close(fd);
		fd = zfd;
		st.st_size = (off_t)zsize;
	}
	if (st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return hw_error_set(
		    HW_EUNSUPPORTED,
		    st.st_size ? "not a core file: too short for an ELF header (give a core file)"
		               : "empty file (give a core file)");
	}
	hw_target *t;
	int rc = hw_target_new(&t, HW_TARGET_CORE, opts);
	if (rc) {
		close(fd);
		return rc;
	}
	t->fd = fd;
	t->path = strdup(path);
	t->core_size = (size_t)st.st_size;
	if (zrc == 1)
		hw_target_warn(t,
		               "zstd-compressed: read from a copy decompressed into an unlinked "
		               "temporary file (%" PRIu64 " bytes)%s%s",
		               zsize, znote[0] ? "; " : "", znote);
	t->core = mmap(NULL, t->core_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (t->core == MAP_FAILED) {
		t->core = NULL;
		rc = hw_error_set(HW_EIO, "cannot map: %s", strerror(errno));
		goto fail;
	}
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)t->core;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG)) {
		rc = hw_error_set(HW_EUNSUPPORTED, "not an ELF file (give a core file)");
		goto fail;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64) {
		rc =
		    hw_error_set(HW_EUNSUPPORTED,
		                 "ELF for another architecture (machine %u, class %u): only x86-64 "
		                 "cores are supported",
		                 eh->e_machine, eh->e_ident[EI_CLASS]);
		goto fail;
	}
	if (eh->e_type != ET_CORE) {
		rc = hw_error_set(HW_EUNSUPPORTED,
		                  "an ELF file but not a core (type %u; give the core, and the "
		                  "executable with --exe)",
		                  eh->e_type);
		goto fail;
	}
	t->core_elf = elf_memory((char *)t->core, t->core_size);
	size_t nph = 0;
	if (!t->core_elf || elf_getphdrnum(t->core_elf, &nph) != 0 || nph == 0 ||
	    eh->e_phoff > t->core_size || nph > (t->core_size - eh->e_phoff) / sizeof(Elf64_Phdr)) {
		rc = hw_error_set(HW_ECORRUPT,
		                  "core truncated or corrupt: program headers unreadable (the dump "
		                  "was cut short)");
		goto fail;
	}
	GElf_Phdr *ph = calloc(nph, sizeof *ph);
	t->segs = calloc(nph, sizeof *t->segs);
	if (!ph || !t->segs) {
		free(ph);
		rc = hw_error_set(HW_ENOMEM, "out of memory");
		goto fail;
	}
	int have_notes = 0;
	size_t n_cut = 0;
	uint64_t lost_bytes = 0;
	for (size_t i = 0; i < nph; i++) {
		if (!gelf_getphdr(t->core_elf, (int)i, &ph[i])) {
			free(ph);
			rc = hw_error_set(HW_ECORRUPT, "program header %zu unreadable", i);
			goto fail;
		}
		GElf_Phdr *p = &ph[i];
		if (p->p_type == PT_NOTE) {
			if (p->p_offset > t->core_size ||
			    p->p_filesz > t->core_size - p->p_offset) {
				hw_target_warn(t, "core truncated: notes past the end of the file");
				continue;
			}
			have_notes = 1;
			rc = parse_notes(t, t->core + p->p_offset, p->p_filesz);
			if (rc) {
				free(ph);
				goto fail;
			}
		} else if (p->p_type == PT_LOAD) {
			uint64_t filesz = p->p_filesz, lost = 0;
			if (filesz > p->p_memsz)
				filesz = p->p_memsz;
			if (filesz && p->p_offset + filesz > t->core_need &&
			    p->p_offset + filesz >= p->p_offset)
				t->core_need = p->p_offset + filesz;
			if (filesz && p->p_offset >= t->core_size) {
				lost = filesz;
				filesz = 0;
			} else if (filesz > t->core_size - p->p_offset) {
				lost = filesz - (t->core_size - p->p_offset);
				filesz = t->core_size - p->p_offset;
			}
			if (lost) {
				n_cut++;
				lost_bytes += lost;
			}
			if (p->p_vaddr + p->p_memsz < p->p_vaddr)
				continue;
			p->p_filesz = filesz;
			t->segs[t->nsegs++] =
			    (hw_segment){p->p_vaddr, p->p_memsz, filesz, p->p_offset, lost};
		}
	}
	if (n_cut)
		hw_target_warn(
		    t,
		    "core truncated: the file has %zu bytes, its program headers "
		    "describe %" PRIu64 ": %" PRIu64 " bytes of %zu mappings are missing "
		    "(the dump was cut short: ulimit -c, the core dumper's size limit, or "
		    "a full disk)",
		    t->core_size, t->core_need, lost_bytes, n_cut);
	if (!have_notes) {
		free(ph);
		rc = hw_error_set(HW_ECORRUPT,
		                  "core has no notes (truncated or not a process core)");
		goto fail;
	}
	if (t->nsegs > 1)
		qsort(t->segs, t->nsegs, sizeof *t->segs, cmp_seg);
	advise_sparse(t);
	rc = build_mappings(t, ph, nph);
	free(ph);
	if (rc)
		goto fail;
	/* The executable: --exe, else the file mapped at AT_ENTRY. */
	uint64_t entry;
	if (!t->exe && hw_target_auxv(t, AT_ENTRY, &entry) == HW_OK) {
		const hw_file_map *f = file_at(t, entry);
		if (f)
			t->exe = strdup(f->path);
	}
	/* Each mapped file is checked once, now: found, and the same build-id
	 * as the process loaded; what is wrong is said once in the warnings. */
	for (size_t i = 0; i < t->nmaps; i++) {
		hw_file_map *f =
		    t->maps[i].path ? (hw_file_map *)file_at(t, t->maps[i].start) : NULL;
		t->maps[i].file_ok = f && file_open(t, f);
	}
	*out = t;
	return HW_OK;
fail:
	hw_target_close(t);
	return rc;
}

void hw_core_close(hw_target *t)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		hw_file_map *f = &t->files[i];
		if (f->data)
			munmap((void *)f->data, f->size);
		if (f->fd >= 0)
			close(f->fd);
		free(f->path);
	}
	free(t->files);
	t->files = NULL;
	t->nfiles = 0;
	free(t->segs);
	t->segs = NULL;
	if (t->core_elf)
		elf_end(t->core_elf);
	t->core_elf = NULL;
	if (t->core)
		munmap((void *)t->core, t->core_size);
	t->core = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static const hw_segment *seg_at(hw_target *t, uint64_t addr)
{
	if (t->last_seg < t->nsegs) {
		const hw_segment *s = &t->segs[t->last_seg];
		if (addr >= s->vaddr && addr - s->vaddr < s->memsz)
			return s;
	}
	size_t lo = 0, hi = t->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const hw_segment *s = &t->segs[mid];
		if (addr < s->vaddr)
			hi = mid;
		else if (addr - s->vaddr >= s->memsz)
			lo = mid + 1;
		else {
			t->last_seg = mid;
			return s;
		}
	}
	return NULL;
}

/* The GNU build-id in the notes of n bytes of an ELF image: a file's bytes
 * (notes at p_offset) or, with base != 0, the image as loaded at base and
 * read from what the core holds (notes at bias + p_vaddr).  Returns its
 * length, 0 when none can be read. */
static const uint8_t *seg_bytes(hw_target *t, const hw_segment *s, uint64_t addr, size_t len);
static const hw_segment *seg_at(hw_target *t, uint64_t addr);

static const uint8_t *core_held(hw_target *t, uint64_t addr, size_t len)
{
	const hw_segment *s = seg_at(t, addr);
	if (!s || addr - s->vaddr + len > s->filesz)
		return NULL;
	return seg_bytes(t, s, addr, len);
}

static size_t notes_build_id(const uint8_t *d, size_t n, uint8_t out[64])
{
	size_t off = 0;
	while (off + 12 <= n) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, d + off, 4);
		memcpy(&descsz, d + off + 4, 4);
		memcpy(&type, d + off + 8, 4);
		size_t desc = off + 12 + ((namesz + 3u) & ~3u);
		if (desc > n || descsz > n - desc)
			return 0;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(d + off + 12, "GNU", 4) &&
		    descsz > 0 && descsz <= 64) {
			memcpy(out, d + desc, descsz);
			return descsz;
		}
		off = desc + ((descsz + 3u) & ~3u);
	}
	return 0;
}

static size_t elf_build_id(hw_target *t, const uint8_t *file, size_t size, uint64_t base,
                           uint8_t out[64])
{
	Elf64_Ehdr eh;
	const uint8_t *p = file ? (size >= sizeof eh ? file : NULL) : core_held(t, base, sizeof eh);
	if (!p)
		return 0;
	memcpy(&eh, p, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 256)
		return 0;
	size_t phlen = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
	const uint8_t *ph =
	    file ? (eh.e_phoff <= size && phlen <= size - eh.e_phoff ? file + eh.e_phoff : NULL)
	         : core_held(t, base + eh.e_phoff, phlen);
	if (!ph)
		return 0;
	uint64_t bias = 0;
	for (int i = 0; !file && i < eh.e_phnum; i++) {
		Elf64_Phdr h;
		memcpy(&h, ph + i * sizeof h, sizeof h);
		if (h.p_type == PT_LOAD) {
			bias = base - (h.p_vaddr & ~(uint64_t)4095);
			break;
		}
	}
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr h;
		memcpy(&h, ph + i * sizeof h, sizeof h);
		if (h.p_type != PT_NOTE || h.p_filesz > 4096)
			continue;
		const uint8_t *d = file ? (h.p_offset <= size && h.p_filesz <= size - h.p_offset
		                               ? file + h.p_offset
		                               : NULL)
		                        : core_held(t, bias + h.p_vaddr, h.p_filesz);
		size_t n = d ? notes_build_id(d, h.p_filesz, out) : 0;
		if (n)
			return n;
	}
	return 0;
}

/* 1 when the file's build-id and the one loaded in the process (as far as
 * the core shows it) agree or cannot be compared; 0 when they differ. */
static int file_matches(hw_target *t, const hw_file_map *f, const uint8_t *data, size_t size)
{
	uint64_t base = 0;
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].file_offset == 0 && !strcmp(t->files[i].path, f->path)) {
			base = t->files[i].start;
			break;
		}
	uint8_t a[64], b[64];
	size_t na = base ? elf_build_id(t, NULL, 0, base, a) : 0;
	size_t nb = na ? elf_build_id(t, data, size, 0, b) : 0;
	return !na || !nb || (na == nb && !memcmp(a, b, na));
}

/* Map the file behind f (lazily, once). */
static int file_open(hw_target *t, hw_file_map *f)
{
	if (f->state)
		return f->state > 0;
	f->state = -1;
	if (t->no_file_fallback)
		return 0;
	/* Several NT_FILE entries name the same file: share one mapping. */
	for (size_t i = 0; i < t->nfiles; i++) {
		hw_file_map *o = &t->files[i];
		if (o != f && o->state > 0 && !strcmp(o->path, f->path)) {
			f->data = NULL;
			f->fd = -1;
			f->size = o->size;
			f->state = 2; /* borrowed: see file_bytes */
			return 1;
		}
	}
	char *p = hw_target_sysroot_path(t, f->path);
	int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
	free(p);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		if (fd >= 0)
			close(fd);
		if (f->path[0] == '/')
			hw_target_warn(
			    t,
			    "%s%s: mapped file not found%s; bytes the core left out of it "
			    "are unavailable",
			    t->sysroot ? t->sysroot : "", f->path,
			    t->sysroot ? "" : " (use --sysroot for a core from another machine)");
		return 0;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		close(fd);
		return 0;
	}
	if (!file_matches(t, f, m, (size_t)st.st_size)) {
		hw_target_warn(
		    t,
		    "%s: build-id differs from the one the process loaded; bytes the core "
		    "left out of it are unavailable (give the right files with --sysroot)",
		    f->path);
		munmap(m, (size_t)st.st_size);
		close(fd);
		return 0;
	}
	f->fd = fd;
	f->data = m;
	f->size = (size_t)st.st_size;
	f->state = 1;
	return 1;
}

static const uint8_t *file_bytes(hw_target *t, hw_file_map *f, uint64_t addr, size_t len)
{
	if (!file_open(t, f))
		return NULL;
	const uint8_t *data = f->data;
	size_t size = f->size;
	if (f->state == 2) {
		for (size_t i = 0; i < t->nfiles; i++)
			if (t->files[i].state == 1 && !strcmp(t->files[i].path, f->path)) {
				data = t->files[i].data;
				size = t->files[i].size;
				break;
			}
	}
	uint64_t off = f->file_offset + (addr - f->start);
	if (!data || addr + len > f->end || off > size || len > size - off)
		return NULL;
	return data + off;
}

/* Bytes [addr, addr+len) inside one segment, or NULL. */
static const uint8_t *seg_bytes(hw_target *t, const hw_segment *s, uint64_t addr, size_t len)
{
	uint64_t rel = addr - s->vaddr;
	if (rel + len <= s->filesz)
		return t->core + s->offset + rel;
	if (rel < s->filesz + s->lost)
		return NULL; /* straddles the end of what the core holds, or cut off */
	for (size_t i = 0; i < t->nfiles; i++) {
		hw_file_map *f = &t->files[i];
		if (addr >= f->start && addr + len <= f->end)
			return file_bytes(t, f, addr, len);
	}
	return NULL;
}

int hw_target_truncated(const hw_target *t, uint64_t *have, uint64_t *need)
{
	if (!t || t->kind != HW_TARGET_CORE || t->core_need <= t->core_size)
		return 0;
	if (have)
		*have = t->core_size;
	if (need)
		*need = t->core_need;
	return 1;
}

const void *hw_core_view(hw_target *t, uint64_t addr, size_t len)
{
	const hw_segment *s = seg_at(t, addr);
	if (!s) {
		hw_file_map *f = (hw_file_map *)file_at(t, addr);
		return f ? file_bytes(t, f, addr, len) : NULL;
	}
	if (addr - s->vaddr + len > s->memsz)
		return NULL;
	return seg_bytes(t, s, addr, len);
}

/* A core's segments are mapped from the file: their page table entries are
 * made on first touch, one fault per 64 KiB or so, and list walks touch a
 * heap in a random order.  MADV_POPULATE_READ (Linux 5.14) makes them all
 * in one call; where it fails, the faults happen as before. */
/* madvise(advice) on the pages of the core that hold [addr, addr + len);
 * -1 when the range is not all in the core. */
static int core_advise(hw_target *t, uint64_t addr, uint64_t len, int advice)
{
	const uint8_t *p = len <= SIZE_MAX ? hw_core_view(t, addr, (size_t)len) : NULL;
	if (!p)
		return -1;
	uintptr_t lo = (uintptr_t)p & ~(uintptr_t)4095, hi = (uintptr_t)p + len;
	(void)madvise((void *)lo, hi - lo, advice);
	return 0;
}

int hw_core_prefetch(hw_target *t, uint64_t addr, uint64_t len)
{
#ifdef MADV_POPULATE_READ
	if (core_advise(t, addr, len, MADV_POPULATE_READ) < 0)
#else
	if (!hw_core_view(t, addr, len))
#endif
		return hw_error_set(HW_EFAULT, "0x%" PRIx64 ": not all in the core", addr);
	return HW_OK;
}

/* A kernel core is sparse: the pages a process never touched (most of each
 * thread's stack, of a large calloc) are holes in the file, which
 * SEEK_DATA/SEEK_HOLE find without reading them (a read of a hole fills
 * the page cache with zeros).  Bytes past a segment's file part (read from
 * the mapped file, or lost) count as data: they are not known to be zero. */
void hw_core_data_extent(hw_target *t, uint64_t addr, uint64_t end, uint64_t *lo, uint64_t *hi)
{
	for (int n = 0; addr < end && t->fd >= 0 && n < 1 << 16; n++) {
		const hw_segment *s = seg_at(t, addr);
		if (!s)
			break; /* unknown: from here on */
		uint64_t seg_end = s->vaddr + s->memsz < end ? s->vaddr + s->memsz : end;
		uint64_t file_end = s->vaddr + s->filesz;
		if (addr >= file_end)
			break; /* past the file part: not known to be zero */
		uint64_t d, h;
		int r = file_data_run(t->fd, s->offset + (addr - s->vaddr), s->offset + s->filesz,
		                      &d, &h);
		if (r < 0)
			break; /* no SEEK_DATA here */
		uint64_t dlo = r ? s->vaddr + (d - s->offset) : file_end;
		if (dlo < file_end && dlo < end) {
			uint64_t dhi = s->vaddr + (h - s->offset);
			*lo = dlo;
			*hi = dhi < seg_end ? dhi : seg_end;
			if (*hi <= *lo)
				*hi = seg_end;
			return;
		}
		if (file_end < seg_end) {
			addr = file_end; /* the rest of the segment, not in the file */
			break;
		}
		addr = seg_end; /* all holes: the next segment */
	}
	*lo = addr < end ? addr : end;
	*hi = end;
}

void hw_core_advise_walk(hw_target *t, uint64_t addr, uint64_t len)
{
	(void)core_advise(t, addr, len, MADV_NORMAL);
}

int hw_core_read(hw_target *t, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;
	while (len) {
		const hw_segment *s = seg_at(t, addr);
		if (!s) {
			/* A file mapping the core has no segment for (gcore). */
			hw_file_map *f = (hw_file_map *)file_at(t, addr);
			size_t n = f && f->end - addr < len ? (size_t)(f->end - addr) : len;
			const uint8_t *p = f ? file_bytes(t, f, addr, n) : NULL;
			if (!p)
				return hw_error_set(HW_EFAULT,
				                    "0x%" PRIx64 ": not mapped in the core", addr);
			memcpy(out, p, n);
			out += n;
			addr += n;
			len -= n;
			continue;
		}
		uint64_t rel = addr - s->vaddr;
		size_t n = s->memsz - rel < len ? (size_t)(s->memsz - rel) : len;
		/* Split at the end of the core-held part of the segment. */
		if (rel < s->filesz && rel + n > s->filesz)
			n = (size_t)(s->filesz - rel);
		const uint8_t *p = seg_bytes(t, s, addr, n);
		if (!p) {
			/* Neither held by the core nor served whole by one mapped file. */
			if (rel < s->filesz + s->lost && rel + n > s->filesz)
				return hw_error_set(
				    HW_EFAULT,
				    "0x%" PRIx64 ": cut off (the core file is truncated)", addr);
			return hw_error_set(HW_EFAULT, "0x%" PRIx64 ": not in the core%s", addr,
			                    t->nfiles ? " nor in a mapped file" : "");
		}
		memcpy(out, p, n);
		out += n;
		addr += n;
		len -= n;
	}
	return HW_OK;
}
