/*
 * synthtrace.h: a synthetic memory image of the tracer's tables
 * (libheapwalk/tracer_format.h) at a fixed address, with known contents,
 * for the reader's unit test and fuzz target; and a read callback that
 * serves it to hw_target_open_callback.
 *
 * Contents (SYNTH_BASE is the root's address):
 *  - mode all (or sampled), 3 sites: site 1 native [0x401000, 0x402000];
 *    site 2 native [0x403000]; site 3 two Python frames (one code object
 *    of the 3.11 layout, byte offsets 4 and 12) above native [0x404000];
 *  - live entries: 0x5000000+1024*i for i < SYNTH_N1 (site 1, 100 bytes),
 *    0x6000000+32*i for i < SYNTH_N2 (site 2, 7 bytes), and 0x7000000
 *    (site 3, 48 bytes) in slot 0 of the shadow of a pymalloc arena of
 *    4 KiB at SYNTH_ARENA (the only record of 16 in the registry);
 *  - the code object: file "f.py", function "fn", first line 10, and a
 *    location table giving lines 11 (bytes 0-3), 12 (4-11), 10 (12-13),
 *    none (14-15), as CPython 3.11's co_lines() reads it.
 */
#ifndef SYNTHTRACE_H
#define SYNTHTRACE_H

#include <stddef.h>
#include <stdint.h>

#define SYNTH_BASE       0x10000000ull
#define SYNTH_SIZE       0x20000u
#define SYNTH_N1         40
#define SYNTH_N2         25
#define SYNTH_ARENA      0x7000000ull
#define SYNTH_ARENA_SIZE 0x1000u

typedef struct synth_image {
	uint8_t *b;
	size_t len;
} synth_image;

/* sample_bytes 0: mode all. */
synth_image synth_trace(uint64_t sample_bytes);
/* The address of a byte of the image. */
uint64_t synth_addr(const synth_image *m, const void *p);
/* hw_read_callbacks.read over an image (ctx: the synth_image). */
int synth_read(void *ctx, uint64_t addr, void *buf, size_t len);

#endif
