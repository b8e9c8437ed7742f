/*
 * table.c: the small tables a snapshot is made of: an id set found by hash
 * (interning of strings, frames and sites), a uint64 -> uint32 map (sizes,
 * arenas, tracer site ids) and the string table.
 *
 * Invariants: capacities are powers of two and tables are at most half
 * full, so every probe sequence ends at an empty slot.  Interned strings
 * live in blocks that are never moved or freed before the table.
 */
#include "snapshot_internal.h"

#include <stdlib.h>
#include <string.h>

uint64_t hw_hash_bytes(const void *p, size_t n, uint64_t seed)
{
	/* FNV-1a over bytes, then a full mix: good enough for interning. */
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return hw_mix64(h);
}

int hw_grow32(void **p, size_t el, uint32_t *cap, size_t need)
{
	if (need > UINT32_MAX)
		return -1;
	size_t c = *cap;
	if (hw_grow(p, el, &c, need))
		return -1;
	*cap = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
	return 0;
}

/* One LSD radix pass over records of rec bytes: src to dst by the digit
 * of the key at shift (inlined with rec a constant). */
static inline __attribute__((always_inline)) void radix_pass(const uint8_t *src, uint8_t *dst,
                                                             size_t n, size_t rec, unsigned shift,
                                                             size_t *count, size_t radix)
{
	uint64_t k;
	memset(count, 0, radix * sizeof *count);
	for (size_t i = 0; i < n; i++) {
		memcpy(&k, src + i * rec, 8);
		count[(k >> shift) & (radix - 1)]++;
	}
	size_t sum = 0;
	for (size_t d = 0; d < radix; d++) {
		size_t c = count[d];
		count[d] = sum;
		sum += c;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(&k, src + i * rec, 8);
		memcpy(dst + count[(k >> shift) & (radix - 1)]++ * rec, src + i * rec, rec);
	}
}

int hw_sort_records(void *v, size_t n, size_t rec, unsigned lo_bit)
{
	enum { MAX_DIGIT = 16 };
	uint8_t *src = v;
	uint64_t first, k, diff = 0;
	if (n < 2 || (rec != 8 && rec != 16) || lo_bit >= 64)
		return n < 2 ? 0 : -1;
	memcpy(&first, src, 8);
	for (size_t i = 1; i < n; i++) {
		memcpy(&k, src + i * rec, 8);
		diff |= (k ^ first) >> lo_bit;
	}
	if (!diff)
		return 0;
	unsigned lo = lo_bit + (unsigned)__builtin_ctzll(diff);
	unsigned hi = lo_bit + 64 - (unsigned)__builtin_clzll(diff);
	/* as few passes as 16-bit digits need, the digits as even as can be
	 * (fewer buckets are faster to scatter to) */
	unsigned passes = (hi - lo + MAX_DIGIT - 1) / MAX_DIGIT;
	unsigned digit = (hi - lo + passes - 1) / passes;
	size_t radix = (size_t)1 << digit;
	uint8_t *dst = hw_big_resize(NULL, n * rec);
	size_t *count = malloc(radix * sizeof *count);
	if (!dst || !count) {
		hw_big_free(dst);
		free(count);
		return -1;
	}
	for (unsigned shift = lo; shift < hi; shift += digit) {
		if (rec == 8)
			radix_pass(src, dst, n, 8, shift, count, radix);
		else
			radix_pass(src, dst, n, 16, shift, count, radix);
		uint8_t *t = src;
		src = dst;
		dst = t;
	}
	/* after an odd number of passes the sorted records are in the copy */
	if (src != v) {
		memcpy(v, src, n * rec);
		dst = src;
	}
	hw_big_free(dst);
	free(count);
	return 0;
}

/* ---- idset ---- */

uint32_t hw_idset_find(const hw_idset *s, uint64_t h, hw_id_eq eq, const void *ctx, const void *key)
{
	if (!s->slots)
		return 0;
	/* Slots keep only the high half of the hash; the probe starts from a
	 * mix of it so that growing the table can re-place every slot. */
	uint32_t h32 = (uint32_t)(h >> 32);
	for (size_t i = hw_mix64(h32) & s->mask;; i = (i + 1) & s->mask) {
		uint64_t v = s->slots[i];
		if (!v)
			return 0;
		if ((uint32_t)(v >> 32) == h32 && eq(ctx, (uint32_t)v, key))
			return (uint32_t)v;
	}
}

static void idset_put(uint64_t *slots, size_t mask, uint64_t h, uint64_t v)
{
	size_t i = h & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = v;
}

int hw_idset_insert(hw_idset *s, uint64_t h, uint32_t id)
{
	if (!s->slots || (s->n + 1) * 2 > s->mask + 1) {
		size_t cap = s->slots ? (s->mask + 1) * 2 : 64;
		uint64_t *n = calloc(cap, sizeof *n);
		if (!n)
			return -1;
		for (size_t i = 0; s->slots && i <= s->mask; i++)
			if (s->slots[i])
				idset_put(n, cap - 1, hw_mix64(s->slots[i] >> 32), s->slots[i]);
		free(s->slots);
		s->slots = n;
		s->mask = cap - 1;
	}
	uint32_t h32 = (uint32_t)(h >> 32);
	idset_put(s->slots, s->mask, hw_mix64(h32), ((uint64_t)h32 << 32) | id);
	s->n++;
	return 0;
}

void hw_idset_free(hw_idset *s)
{
	free(s->slots);
	memset(s, 0, sizeof *s);
}

/* ---- map64 ---- */

int64_t hw_map64_get(const hw_map64 *m, uint64_t key)
{
	if (!m->keys)
		return -1;
	for (size_t i = hw_mix64(key) & m->mask;; i = (i + 1) & m->mask) {
		if (!m->vals[i])
			return -1;
		if (m->keys[i] == key)
			return (int64_t)m->vals[i] - 1;
	}
}

static void map64_place(uint64_t *keys, uint32_t *vals, size_t mask, uint64_t key, uint32_t v1)
{
	size_t i = hw_mix64(key) & mask;
	while (vals[i] && keys[i] != key)
		i = (i + 1) & mask;
	keys[i] = key;
	vals[i] = v1;
}

int hw_map64_put(hw_map64 *m, uint64_t key, uint32_t val)
{
	if (val == UINT32_MAX)
		return -1;
	if (!m->keys || (m->n + 1) * 2 > m->mask + 1) {
		size_t cap = m->keys ? (m->mask + 1) * 2 : 64;
		uint64_t *k = malloc(cap * sizeof *k);
		uint32_t *v = calloc(cap, sizeof *v);
		if (!k || !v) {
			free(k);
			free(v);
			return -1;
		}
		for (size_t i = 0; m->keys && i <= m->mask; i++)
			if (m->vals[i])
				map64_place(k, v, cap - 1, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		m->keys = k;
		m->vals = v;
		m->mask = cap - 1;
	}
	size_t i = hw_mix64(key) & m->mask;
	while (m->vals[i] && m->keys[i] != key)
		i = (i + 1) & m->mask;
	if (!m->vals[i])
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val + 1;
	return 0;
}

void hw_map64_free(hw_map64 *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

/* ---- string table ---- */

struct hw_strblock {
	hw_strblock *next;
	char data[];
};

#define STRBLOCK_SIZE 65536

int hw_strtab_init(hw_strtab *t)
{
	memset(t, 0, sizeof *t);
	t->cap = 64;
	t->ptr = calloc(t->cap, sizeof *t->ptr);
	t->len = calloc(t->cap, sizeof *t->len);
	if (!t->ptr || !t->len)
		return -1;
	t->n = 1; /* id 0: NULL */
	return 0;
}

struct strkey {
	const char *s;
	size_t n;
};

static bool str_eq(const void *ctx, uint32_t id, const void *key)
{
	const hw_strtab *t = ctx;
	const struct strkey *k = key;
	return t->len[id] == k->n && !memcmp(t->ptr[id], k->s, k->n);
}

static char *strtab_alloc(hw_strtab *t, size_t n)
{
	if (n > STRBLOCK_SIZE / 4) {
		/* a big string gets a block of its own, linked after the head so
		 * the head's free room stays usable */
		hw_strblock *b = malloc(sizeof *b + n);
		if (!b)
			return NULL;
		t->bytes += sizeof *b + n;
		if (t->blocks) {
			b->next = t->blocks->next;
			t->blocks->next = b;
		} else {
			b->next = NULL;
			t->blocks = b;
			t->block_used = t->block_cap = 0;
		}
		return b->data;
	}
	if (!t->blocks || t->block_used + n > t->block_cap) {
		hw_strblock *b = malloc(sizeof *b + STRBLOCK_SIZE);
		if (!b)
			return NULL;
		t->bytes += sizeof *b + STRBLOCK_SIZE;
		b->next = t->blocks;
		t->blocks = b;
		t->block_used = 0;
		t->block_cap = STRBLOCK_SIZE;
	}
	char *p = t->blocks->data + t->block_used;
	t->block_used += n;
	return p;
}

int hw_strtab_intern_n(hw_strtab *t, const char *s, size_t n, uint32_t *id)
{
	if (!s) {
		*id = 0;
		return 0;
	}
	if (n > HW_STR_MAX)
		n = HW_STR_MAX;
	struct strkey k = {s, n};
	uint64_t h = hw_hash_bytes(s, n, 0);
	uint32_t found = hw_idset_find(&t->index, h, str_eq, t, &k);
	if (found) {
		*id = found;
		return 0;
	}
	if (t->n == UINT32_MAX)
		return -1;
	if (t->n == t->cap) {
		/* ptr and len always share one capacity */
		uint32_t cap = t->cap;
		if (hw_grow32((void **)&t->ptr, sizeof *t->ptr, &cap, (size_t)t->n + 1))
			return -1;
		uint32_t *nl = realloc(t->len, (size_t)cap * sizeof *nl);
		if (!nl)
			return -1;
		t->len = nl;
		t->cap = cap;
	}
	char *p = strtab_alloc(t, n + 1);
	if (!p)
		return -1;
	memcpy(p, s, n);
	p[n] = 0;
	uint32_t nid = t->n;
	if (hw_idset_insert(&t->index, h, nid))
		return -1;
	t->ptr[nid] = p;
	t->len[nid] = (uint32_t)n;
	t->n++;
	*id = nid;
	return 0;
}

int hw_strtab_intern(hw_strtab *t, const char *s, uint32_t *id)
{
	return hw_strtab_intern_n(t, s, s ? strlen(s) : 0, id);
}

void hw_strtab_free(hw_strtab *t)
{
	for (hw_strblock *b = t->blocks, *nb; b; b = nb) {
		nb = b->next;
		free(b);
	}
	free(t->ptr);
	free(t->len);
	hw_idset_free(&t->index);
	memset(t, 0, sizeof *t);
}
