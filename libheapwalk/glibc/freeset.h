/*
 * freeset.h: a set of chunks found on glibc's free lists (tcache,
 * fastbins, bins), keyed by chunk address.
 *
 * walk.c finds repeats with a bitmap and builds this set only once a chunk
 * is met twice (a cycle, a chunk on two lists), to say which list had it
 * first; or from the start when there is no memory for the bitmap.  Open
 * addressing with linear probing; it grows at half load, so memory is
 * about 32 bytes per entry, and the number of entries is bounded by the
 * walker's step limits.
 */
#ifndef HW_GLIBC_FREESET_H
#define HW_GLIBC_FREESET_H

#include <stddef.h>
#include <stdint.h>

struct gw_free {
	uint64_t chunk; /* chunk address (0: empty slot) */
	uint8_t bin;    /* hw_bin */
	uint8_t seen;   /* the linear walk met this chunk */
	uint16_t list;  /* tcache/fastbin/bin index, for messages */
	uint32_t owner; /* arena index, or thread index for tcache */
};

struct gw_freeset {
	struct gw_free *slots;
	size_t cap, n; /* cap is a power of two or 0 */
};

/* The entry for chunk, or NULL. */
struct gw_free *gw_freeset_find(const struct gw_freeset *s, uint64_t chunk);
/* Insert chunk (nonzero); *existed says whether it was there already (the
 * returned entry is then the old one, unchanged).  NULL when out of memory. */
struct gw_free *gw_freeset_add(struct gw_freeset *s, uint64_t chunk, int *existed);
/* Make room for n more entries without growing (0, or -1 out of memory:
 * the set still works, growing as it goes). */
int gw_freeset_reserve(struct gw_freeset *s, size_t n);
void gw_freeset_clear(struct gw_freeset *s);
/* The hash of a chunk address for tables indexed by chunk (this set, and
 * walk.c's capture index): 16-aligned, so those bits are dropped, then
 * mixed (Fibonacci hashing); the caller masks it to its table. */
static inline uint64_t gw_chunk_hash(uint64_t chunk)
{
	return (chunk >> 4) * 0x9e3779b97f4a7c15ull >> 20;
}

#endif /* HW_GLIBC_FREESET_H */
