/*
 * layout.c: glibc malloc structure layouts per version (x86-64), for targets
 * whose libc has no DWARF.  With DWARF, locate.c overrides these from the
 * debug info (and the tables serve as the fallback for each field).
 *
 * Sources (glibc git, malloc/malloc.c and malloc/arena.c at each tag):
 *  - struct malloc_state: 2.26 has no have_fastchunks; 2.27 added it after
 *    flags ("malloc: Use relaxed atomics for have_fastchunks", 2.27), which
 *    shifted everything after it by 8.  Unchanged text 2.27-2.41.
 *  - struct malloc_par: 2.35 inserted thp_pagesize, hp_pagesize, hp_flags
 *    after arena_max ("malloc: Add Huge Page support", 2.35): the int
 *    hp_flags packs with n_mmaps, so n_mmaps moves by 20 (to 60) and the
 *    size_t fields after the ints by 24 (gdb `ptype/o struct malloc_par`
 *    on Debian 12's libc6-dbg).
 *  - heap_info: 2.35 added `size_t pagesize` (48 bytes with padding, 32
 *    before).
 *  - tcache_perthread_struct: `char counts[64]` until 2.29, `uint16_t
 *    counts[64]` from 2.30 ("malloc: Use uint16_t for tcache counts").
 *  - safe-linking (PROTECT_PTR on fastbin fd and tcache next) from 2.32.
 *  - 2.42: tcache_perthread_struct { uint16_t num_slots[76]; entries[76]; }
 *    (TCACHE_SMALL_BINS 64 + TCACHE_LARGE_BINS 12, the large ones by
 *    large_csize2tidx(), kept in size order), num_slots the free slots
 *    (tcache_init: mp_.tcache_count each), malloc_par.tcache_bins renamed
 *    tcache_small_bins at the same offset (malloc_par otherwise as 2.35's,
 *    136 bytes), malloc_state and mmapped chunks as 2.41's; a thread's
 *    tcache pointer NULL until its first malloc.  glibc_2.42.orig.tar.xz's
 *    malloc.c; offsets checked with gdb `ptype/o` on Ubuntu 25.10's
 *    libc6-dbg 2.42-0ubuntu3.  2.43: that TLS pointer at __tcache_dummy
 *    (libc's .rodata) until then.
 *  - 2.43: malloc_state without have_fastchunks and fastbinsY (fastbins
 *    removed: top at 8, bins at 24, next at 2072, system_mem at 2096,
 *    2112 bytes); malloc_par gains `enum malloc_thp_mode_t thp_mode` after
 *    arena_max, shifting what follows by 8 (144 bytes); a mmapped chunk's
 *    size is the mapping less the offset less CHUNK_HDR_SZ, prev_size the
 *    offset | MMAP_HP (mmap_set_chunk), usable size - 8 (memsize).
 *    Offsets checked with gdb `ptype/o` on Debian forky's libc6-dbg 2.43-7.
 * Measured on Debian 12's 2.36 against its DWARF (see FACTS.md), and on
 * Debian's 2.31, 2.41, 2.43 and Ubuntu's 2.42 cores (glibc_versions.sh).
 */
#include "glibc_int.h"

struct layout_row {
	int first_minor, last_minor;
	struct gw_layout l;
};

/* malloc_state offsets */
#define MS_226                                                                                     \
	.ms_flags = 4, .ms_fastbins = 8, .ms_top = 88, .ms_last_remainder = 96, .ms_bins = 104,    \
	.ms_next = 2152, .ms_system_mem = 2176, .ms_size = 2192, .n_fastbins = GW_NFASTBINS
#define MS_227                                                                                     \
	.ms_flags = 4, .ms_fastbins = 16, .ms_top = 96, .ms_last_remainder = 104, .ms_bins = 112,  \
	.ms_next = 2160, .ms_system_mem = 2184, .ms_size = 2200, .n_fastbins = GW_NFASTBINS
#define MS_243                                                                                     \
	.ms_flags = 4, .ms_fastbins = 0, .ms_top = 8, .ms_last_remainder = 16, .ms_bins = 24,      \
	.ms_next = 2072, .ms_system_mem = 2096, .ms_size = 2112, .n_fastbins = 0
/* malloc_par offsets */
#define MP_226                                                                                     \
	.mp_mmap_threshold = 16, .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 72,       \
	.mp_tcache_bins = 80, .mp_tcache_count = 96, .mp_hp_pagesize = -1, .mp_size = 112
#define MP_235                                                                                     \
	.mp_mmap_threshold = 16, .mp_n_mmaps = 60, .mp_mmapped_mem = 80, .mp_sbrk_base = 96,       \
	.mp_tcache_bins = 104, .mp_tcache_count = 120, .mp_hp_pagesize = 48, .mp_size = 136
#define MP_243                                                                                     \
	.mp_mmap_threshold = 16, .mp_n_mmaps = 68, .mp_mmapped_mem = 88, .mp_sbrk_base = 104,      \
	.mp_tcache_bins = 112, .mp_tcache_count = 128, .mp_hp_pagesize = 56, .mp_size = 144
/* heap_info */
#define HI_226 .hi_ar_ptr = 0, .hi_prev = 8, .hi_size = 16, .hi_sizeof = 32
#define HI_235 .hi_ar_ptr = 0, .hi_prev = 8, .hi_size = 16, .hi_sizeof = 48
/* tcache_perthread_struct */
#define TC_226 .tc_counts = 0, .tc_count_width = 1, .tc_entries = 64, .tc_size = 576, .tc_bins = 64
#define TC_230 .tc_counts = 0, .tc_count_width = 2, .tc_entries = 128, .tc_size = 640, .tc_bins = 64
#define TC_242                                                                                     \
	.tc_counts = 0, .tc_count_width = 2, .tc_entries = 152, .tc_size = 760, .tc_bins = 76,     \
	.tc_slots = 1

static const struct layout_row rows[] = {
    {26, 26, {MS_226, MP_226, HI_226, TC_226, .safe_linking = 0}},
    {27, 29, {MS_227, MP_226, HI_226, TC_226, .safe_linking = 0}},
    {30, 31, {MS_227, MP_226, HI_226, TC_230, .safe_linking = 0}},
    {32, 34, {MS_227, MP_226, HI_226, TC_230, .safe_linking = 1}},
    {35, 41, {MS_227, MP_235, HI_235, TC_230, .safe_linking = 1}},
    {42, 42, {MS_227, MP_235, HI_235, TC_242, .safe_linking = 1}},
    {43, 43, {MS_243, MP_243, HI_235, TC_242, .safe_linking = 1, .mmap_243 = 1}},
};

int gw_layout_for_version(struct gw_layout *l, int major, int minor)
{
	if (major != 2)
		return hw_error_set(HW_EUNSUPPORTED, "glibc %d.%d: only 2.26-2.43 are known", major,
		                    minor);
	for (size_t i = 0; i < HW_ARRAY_SIZE(rows); i++) {
		if (minor >= rows[i].first_minor && minor <= rows[i].last_minor) {
			*l = rows[i].l;
			l->minor = minor;
			return HW_OK;
		}
	}
	return hw_error_set(HW_EUNSUPPORTED, "glibc 2.%d: only 2.26-2.43 are known", minor);
}
