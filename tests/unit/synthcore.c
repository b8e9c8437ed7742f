/*
 * synthcore.c: the synthetic core writer of synthcore.h.
 */
#include "synthcore.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static void put(img *m, const void *p, size_t n)
{
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2 + 4096;
		m->b = realloc(m->b, m->cap);
	}
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void put_note(img *m, uint32_t type, const void *desc, uint32_t descsz)
{
	uint32_t h[3] = {5, descsz, type};
	put(m, h, sizeof h);
	put(m, "CORE\0\0\0", 8);
	put(m, desc, descsz);
	static const uint8_t pad[4];
	put(m, pad, (4 - descsz % 4) % 4);
}

#define SEG1    0x400000ull /* 0x2000 bytes, all in the core */
#define SEG2    0x600000ull /* 0x1000 bytes, only 0x800 in the core */
#define SEG3    0x601000ull /* adjacent to SEG2's end: reads cross */
#define FILESEG 0x700000ull /* 0x1000 bytes, none in the core, from a file */

/* Build a core with 2 threads, NT_PRPSINFO, NT_AUXV, NT_FILE and 4 segments. */
img synth_core(const char *file_path)
{
	img notes = {0}, m = {0};
	uint8_t prs[336];
	for (int i = 0; i < 2; i++) {
		memset(prs, 0, sizeof prs);
		int32_t pid = 1000 + i;
		int16_t sig = i == 0 ? 6 : 0;
		memcpy(prs + 12, &sig, 2);
		memcpy(prs + 32, &pid, 4);
		uint64_t rip = 0x401000 + i, rsp = 0x7ff000 + i, fs = 0x500000 + i;
		memcpy(prs + 112 + 16 * 8, &rip, 8);
		memcpy(prs + 112 + 19 * 8, &rsp, 8);
		memcpy(prs + 112 + 21 * 8, &fs, 8);
		put_note(&notes, NT_PRSTATUS, prs, sizeof prs);
	}
	uint8_t psinfo[136] = {0};
	int32_t pid = 1000;
	memcpy(psinfo + 24, &pid, 4);
	put_note(&notes, NT_PRPSINFO, psinfo, sizeof psinfo);
	uint64_t auxv[] = {AT_ENTRY, SEG1 + 0x10, AT_PAGESZ, 4096, AT_NULL, 0};
	put_note(&notes, NT_AUXV, auxv, sizeof auxv);
	/* NT_FILE: one file mapped at FILESEG from page 1 of the file */
	img nf = {0};
	uint64_t hdr[2] = {1, 4096}, ent[3] = {FILESEG, FILESEG + 0x1000, 1};
	put(&nf, hdr, sizeof hdr);
	put(&nf, ent, sizeof ent);
	put(&nf, file_path, strlen(file_path) + 1);
	put_note(&notes, NT_FILE, nf.b, (uint32_t)nf.len);
	free(nf.b);

	const int nph = 5;
	Elf64_Ehdr eh = {0};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof eh;
	eh.e_ehsize = sizeof eh;
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = nph;
	size_t off = sizeof eh + nph * sizeof(Elf64_Phdr);
	Elf64_Phdr ph[5] = {0};
	ph[0] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = off, .p_filesz = notes.len};
	off += notes.len;
	off = (off + 4095) & ~4095ul;
	ph[1] = (Elf64_Phdr){PT_LOAD, PF_R | PF_W, off, SEG1, 0, 0x2000, 0x2000, 4096};
	off += 0x2000;
	ph[2] = (Elf64_Phdr){PT_LOAD, PF_R, off, SEG2, 0, 0x800, 0x1000, 4096};
	off += 0x800;
	ph[3] = (Elf64_Phdr){PT_LOAD, PF_R | PF_W, off, SEG3, 0, 0x1000, 0x1000, 4096};
	off += 0x1000;
	ph[4] = (Elf64_Phdr){PT_LOAD, PF_R, off, FILESEG, 0, 0, 0x1000, 4096};
	put(&m, &eh, sizeof eh);
	put(&m, ph, sizeof ph);
	put(&m, notes.b, notes.len);
	free(notes.b);
	while (m.len < ph[1].p_offset)
		put(&m, "", 1);
	/* segment bytes: each byte is a function of its address */
	for (int s = 1; s <= 3; s++)
		for (uint64_t a = 0; a < ph[s].p_filesz; a++) {
			uint8_t v = (uint8_t)((ph[s].p_vaddr + a) * 7 + s);
			put(&m, &v, 1);
		}
	return m;
}

uint8_t synth_expect(int seg, uint64_t addr)
{
	return (uint8_t)(addr * 7 + seg);
}

int synth_cut_fileseg(img *m)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)m->b;
	Elf64_Phdr *ph = (Elf64_Phdr *)(m->b + eh->e_phoff);
	int found = 0;
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr == FILESEG) {
			ph[i].p_offset = m->len;
			ph[i].p_filesz = 0x1000;
			found = 1;
		}
	return found;
}

img synth_zstd_frames(const img *m)
{
	img z = {0};
	z.cap = ZSTD_compressBound(m->len) + (m->len / 1024 + 1) * 64;
	z.b = malloc(z.cap);
	if (!z.b)
		abort();
	for (size_t o = 0; o < m->len; o += 1024) {
		size_t n = m->len - o < 1024 ? m->len - o : 1024;
		size_t r = ZSTD_compress(z.b + z.len, z.cap - z.len, m->b + o, n, 3);
		if (ZSTD_isError(r))
			abort();
		z.len += r;
	}
	return z;
}
