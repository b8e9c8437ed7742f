/*
 * sites.c: the site table (each distinct stack stored once), the frame pool
 * and the code-object registry.
 *
 * Sites and frames are insert-only and live in reserved regions that never
 * move, so a lookup needs no lock: it reads the index (a private
 * open-addressing array of site ids keyed by the stack's hash), then the
 * site and its frames.  A new site is written completely (frames, then the
 * site record, then sites_count) before its id is published in the index
 * with a release store; writers serialise on one lock, taken only when a
 * stack was not found, which is rare once a program is warm.
 *
 * The index doubles when half full; the old one is kept (a reader may
 * still be probing it and would then simply miss and take the lock).
 *
 * Every code object that a site names is referenced once (registry): it
 * stays alive, so its address is never reused by another code object, and
 * the core can resolve file, function and line from it.
 */
#include "tracer.h"

#include <string.h>

#define SITES_RESERVE  ((size_t)4 << 20)  /* site ids */
#define FRAMES_RESERVE ((size_t)32 << 20) /* 64-bit words: 256 MiB */
#define COMMIT_STEP    ((size_t)1 << 20)

static struct hwt_region sites_region, frames_region;
static uint32_t sites_lock_word;
/* The index: published as one pointer so capacity and slots agree. */
struct site_index {
	uint64_t capacity; /* power of two */
	uint32_t slots[];  /* site ids, 0 = empty */
};
static struct site_index *index_now;
static uint64_t index_used;

int hwt_sites_init(void)
{
	struct hwt_root *r = hwt_root;
	if (hwt_region_reserve(&sites_region, SITES_RESERVE * sizeof(struct hwt_site)) != 0 ||
	    hwt_region_reserve(&frames_region, FRAMES_RESERVE * sizeof(uint64_t)) != 0)
		return -1;
	if (hwt_region_commit(&sites_region, COMMIT_STEP) != 0 ||
	    hwt_region_commit(&frames_region, COMMIT_STEP) != 0)
		return -1;
	index_now = hwt_map(sizeof(struct site_index) + 4096 * sizeof(uint32_t));
	if (!index_now)
		return -1;
	index_now->capacity = 4096;
	r->sites = (uint64_t)(uintptr_t)sites_region.base;
	r->sites_capacity = sites_region.committed / sizeof(struct hwt_site);
	r->sites_count = 0;
	r->frames = (uint64_t)(uintptr_t)frames_region.base;
	r->frames_capacity = frames_region.committed / sizeof(uint64_t);
	r->frames_used = 0;
	return 0;
}

void hwt_sites_lock(void)
{
	hwt_lock(&sites_lock_word);
}

void hwt_sites_unlock(void)
{
	hwt_unlock(&sites_lock_word);
}

/* The stack's hash: four independent multiply chains (lanes) over the
 * words, folded at the end, so the multiplies overlap instead of waiting
 * on each other (a serial chain was most of the hook's time in the
 * prototype). */
static inline uint64_t lane(uint64_t h, uint64_t w)
{
	return (h ^ w) * 0x9e3779b97f4a7c15ull;
}

static uint64_t hash_words(const uint64_t *w, uint32_t n, uint64_t seed)
{
	uint64_t a = seed, b = seed ^ 0x6a09e667f3bcc909ull, c = seed ^ 0xbb67ae8584caa73bull,
	         d = seed ^ 0x3c6ef372fe94f82bull;
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		a = lane(a, w[i]);
		b = lane(b, w[i + 1]);
		c = lane(c, w[i + 2]);
		d = lane(d, w[i + 3]);
	}
	for (; i < n; i++)
		a = lane(a, w[i]);
	uint64_t h = a ^ (b >> 17 | b << 47) ^ (c >> 31 | c << 33) ^ (d >> 45 | d << 19);
	return h ^ (h >> 29);
}

static uint64_t stack_hash(const struct hwt_stack *s)
{
	uint64_t h = hash_words(s->native, s->n_native, 0xcbf29ce484222325ull ^ s->n_native);
	h = hash_words(s->python, 2 * s->n_python, h ^ ((uint64_t)s->n_python << 32));
	return h ? h : 1;
}

static int same(const struct hwt_site *site, const struct hwt_stack *s, uint32_t h32)
{
	if (site->hash != h32 || site->n_native != s->n_native || site->n_python != s->n_python)
		return 0;
	const uint64_t *w = (const uint64_t *)(uintptr_t)hwt_root->frames + site->frames_at;
	if (memcmp(w, s->native, s->n_native * sizeof(uint64_t)) != 0)
		return 0;
	return memcmp(w + s->n_native, s->python, 2 * s->n_python * sizeof(uint64_t)) == 0;
}

static uint32_t find(const struct site_index *x, const struct hwt_stack *s, uint64_t h)
{
	const struct hwt_site *sites = (const struct hwt_site *)(uintptr_t)hwt_root->sites;
	uint64_t mask = x->capacity - 1, i = (uint32_t)h & mask;
	for (;;) {
		uint32_t id = __atomic_load_n(&x->slots[i], __ATOMIC_ACQUIRE);
		if (!id)
			return 0;
		if (same(&sites[id], s, (uint32_t)h))
			return id;
		i = (i + 1) & mask;
	}
}

static void index_put(struct site_index *x, uint32_t h32, uint32_t id)
{
	uint64_t mask = x->capacity - 1, i = h32 & mask;
	while (x->slots[i])
		i = (i + 1) & mask;
	__atomic_store_n(&x->slots[i], id, __ATOMIC_RELEASE);
}

static int grow_index(void)
{
	struct site_index *old = index_now;
	uint64_t ncap = old->capacity * 2;
	struct site_index *nx = hwt_map(sizeof(*nx) + ncap * sizeof(uint32_t));
	if (!nx)
		return -1;
	nx->capacity = ncap;
	const struct hwt_site *sites = (const struct hwt_site *)(uintptr_t)hwt_root->sites;
	for (uint64_t i = 0; i < old->capacity; i++) {
		if (old->slots[i])
			index_put(nx, sites[old->slots[i]].hash, old->slots[i]);
	}
	/* the old index stays mapped: lock-free readers may be probing it,
	 * and a miss there only sends them to the locked path */
	__atomic_store_n(&index_now, nx, __ATOMIC_RELEASE);
	return 0;
}

/* ---- the code registry: a set of code object addresses (lock held) ---- */

static int code_known(uint64_t code)
{
	struct hwt_root *r = hwt_root;
	uint64_t *set = (uint64_t *)(uintptr_t)r->codes;
	if (!set)
		return 0;
	uint64_t mask = r->codes_capacity - 1, i = hwt_hash_address(code) & mask;
	while (set[i]) {
		if (set[i] == code)
			return 1;
		i = (i + 1) & mask;
	}
	return 0;
}

static void code_put(uint64_t *set, uint64_t cap, uint64_t code)
{
	uint64_t mask = cap - 1, i = hwt_hash_address(code) & mask;
	while (set[i])
		i = (i + 1) & mask;
	__atomic_store_n(&set[i], code, __ATOMIC_RELEASE);
}

static int code_register(uint64_t code)
{
	struct hwt_root *r = hwt_root;
	if (code_known(code))
		return 0;
	if (!r->codes || (r->codes_count + 1) * 2 > r->codes_capacity) {
		uint64_t ncap = r->codes_capacity ? r->codes_capacity * 2 : 4096;
		uint64_t *ns = hwt_map(ncap * sizeof(uint64_t));
		if (!ns)
			return -1;
		uint64_t *old = (uint64_t *)(uintptr_t)r->codes;
		for (uint64_t i = 0; i < r->codes_capacity; i++) {
			if (old[i])
				code_put(ns, ncap, old[i]);
		}
		uint64_t ocap = r->codes_capacity;
		r->codes = (uint64_t)(uintptr_t)ns;
		r->codes_capacity = ncap;
		if (old)
			hwt_unmap(old, ocap * sizeof(uint64_t));
	}
	hwt_python_keep(code);
	code_put((uint64_t *)(uintptr_t)r->codes, r->codes_capacity, code);
	r->codes_count++;
	return 0;
}

uint32_t hwt_site_intern(const struct hwt_stack *s)
{
	uint64_t h = stack_hash(s);
	uint32_t id = find(__atomic_load_n(&index_now, __ATOMIC_ACQUIRE), s, h);
	if (likely(id))
		return id;

	struct hwt_root *r = hwt_root;
	hwt_sites_lock();
	id = find(index_now, s, h);
	if (id)
		goto out;
	uint64_t words = s->n_native + 2 * (uint64_t)s->n_python;
	uint64_t new_id = r->sites_count + 1;
	if (new_id >= r->sites_capacity) {
		if (hwt_region_commit(&sites_region, sites_region.committed + COMMIT_STEP) != 0 ||
		    new_id >= SITES_RESERVE)
			goto out;
		r->sites_capacity = sites_region.committed / sizeof(struct hwt_site);
	}
	if (r->frames_used + words > r->frames_capacity) {
		size_t need = (r->frames_used + words) * sizeof(uint64_t) + COMMIT_STEP;
		if (hwt_region_commit(&frames_region, need) != 0)
			goto out;
		r->frames_capacity = frames_region.committed / sizeof(uint64_t);
	}
	/* under the lock: one scratch copy for everybody, off the stack */
	static struct hwt_stack kept_buf;
	struct hwt_stack *k = &kept_buf;
	memcpy(k, s, sizeof(*k));
	for (uint32_t i = 0; i < s->n_python; i++) {
		if (code_register(s->python[2 * i]) != 0) {
			k->n_python = i; /* cannot keep the code alive: cut here */
			break;
		}
	}
	if (k->n_python != s->n_python) {
		/* a different stack now: it may exist already */
		h = stack_hash(k);
		id = find(index_now, k, h);
		if (id)
			goto out;
		words = k->n_native + 2 * (uint64_t)k->n_python;
	}
	uint64_t *pool = (uint64_t *)(uintptr_t)r->frames;
	memcpy(pool + r->frames_used, k->native, k->n_native * sizeof(uint64_t));
	memcpy(pool + r->frames_used + k->n_native, k->python, 2 * k->n_python * sizeof(uint64_t));
	struct hwt_site *site = (struct hwt_site *)(uintptr_t)r->sites + new_id;
	site->frames_at = r->frames_used;
	site->n_native = (uint16_t)k->n_native;
	site->n_python = (uint16_t)k->n_python;
	site->hash = (uint32_t)h;
	r->frames_used += words;
	__atomic_store_n(&r->sites_count, new_id, __ATOMIC_RELEASE);
	id = (uint32_t)new_id;
	/* a full index only costs dedup: the site itself is recorded */
	if ((index_used + 1) * 2 <= index_now->capacity || grow_index() == 0) {
		index_put(index_now, (uint32_t)h, id);
		index_used++;
	}
out:
	hwt_sites_unlock();
	return id;
}
