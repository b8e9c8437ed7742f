/*
 * synthcore.h: builds small x86-64 core images in memory for tests and
 * fuzz seeds: 2 threads (NT_PRSTATUS with pc/sp/fs_base), NT_PRPSINFO,
 * NT_AUXV, NT_FILE naming one file, and four PT_LOAD segments whose bytes
 * are a function of their address (see synth_expect).
 */
#ifndef SYNTHCORE_H
#define SYNTHCORE_H

#include <stddef.h>
#include <stdint.h>

#define SEG1    0x400000ull /* 0x2000 bytes, all in the core */
#define SEG2    0x600000ull /* 0x1000 bytes, only 0x800 in the core */
#define SEG3    0x601000ull /* adjacent to SEG2's end: reads cross */
#define FILESEG 0x700000ull /* 0x1000 bytes, none in the core, from a file */

typedef struct img {
	uint8_t *b;
	size_t len, cap;
} img;

/* A core whose NT_FILE maps file_path (from its page 1) at FILESEG. */
img synth_core(const char *file_path);
/* The byte segment seg (1..3) holds at addr. */
uint8_t synth_expect(int seg, uint64_t addr);
/* m as a dump that held FILESEG's bytes (a written private file mapping)
 * in a core file cut before them: its header says 0x1000 bytes at m's
 * end.  1 when FILESEG's header was found. */
int synth_cut_fileseg(img *m);
/* m compressed as zstd frames of 1 KiB, concatenated (one stream to zstd -d;
 * a cut in the last frame leaves the others whole); aborts on failure. */
img synth_zstd_frames(const img *m);

#endif
