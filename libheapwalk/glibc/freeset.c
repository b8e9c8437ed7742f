/*
 * freeset.c: open-addressing hash set of listed free chunks (freeset.h).
 * Invariant: n < cap / 2 after every insertion, so probes stay short and a
 * find always reaches an empty slot.
 */
#include "freeset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t slot_of(uint64_t chunk, size_t cap)
{
	return (size_t)gw_chunk_hash(chunk) & (cap - 1);
}

struct gw_free *gw_freeset_find(const struct gw_freeset *s, uint64_t chunk)
{
	if (!s->cap || !chunk)
		return NULL;
	for (size_t i = slot_of(chunk, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i].chunk == chunk)
			return &s->slots[i];
		if (!s->slots[i].chunk)
			return NULL;
	}
}

static int grow_to(struct gw_freeset *s, size_t ncap)
{
	struct gw_free *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		if (!s->slots[i].chunk)
			continue;
		size_t j = slot_of(s->slots[i].chunk, ncap);
		while (ns[j].chunk)
			j = (j + 1) & (ncap - 1);
		ns[j] = s->slots[i];
	}
	free(s->slots);
	s->slots = ns;
	s->cap = ncap;
	return 0;
}

static int grow(struct gw_freeset *s)
{
	return grow_to(s, s->cap ? s->cap * 2 : 1024);
}

int gw_freeset_reserve(struct gw_freeset *s, size_t n)
{
	size_t ncap = s->cap ? s->cap : 1024;
	while ((s->n + n + 1) * 2 > ncap) {
		if (ncap > SIZE_MAX / 4)
			return -1;
		ncap *= 2;
	}
	return ncap == s->cap ? 0 : grow_to(s, ncap);
}

struct gw_free *gw_freeset_add(struct gw_freeset *s, uint64_t chunk, int *existed)
{
	*existed = 0;
	if ((s->n + 1) * 2 > s->cap && grow(s) < 0)
		return NULL;
	size_t i = slot_of(chunk, s->cap);
	while (s->slots[i].chunk) {
		if (s->slots[i].chunk == chunk) {
			*existed = 1;
			return &s->slots[i];
		}
		i = (i + 1) & (s->cap - 1);
	}
	memset(&s->slots[i], 0, sizeof s->slots[i]);
	s->slots[i].chunk = chunk;
	s->n++;
	return &s->slots[i];
}

void gw_freeset_clear(struct gw_freeset *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
}
