/*
 * live.c: the live-allocation table, address -> (site, requested size).
 *
 * HWT_SHARDS shards, chosen by a hash of the address's block, each an
 * open-addressing array of 16-byte entries with linear probing and
 * backward-shift deletion (no tombstones, so lookups of absent addresses
 * stay short and a core never shows a deleted entry).  Each shard has its
 * own spinlock: threads contend only when they touch the same shard at the
 * same moment.  A shard grows by a quarter (a fresh mmap, rehash, publish,
 * unmap the old one) when 80% full, so the table tracks the live count: a
 * shard's load lies between 64% and 80%, 72% on average over the growth
 * cycle, which is 16 / 0.72 = 22 bytes per live allocation (growing by half
 * gave 24.5; the extra rehashing, four moves per entry instead of two, is
 * paid once while the table grows).
 *
 * In mode all, pymalloc blocks of up to HWT_SHADOW_KEEP_MAX bytes are
 * not here: the shadows of their arenas or pools hold them (shadow.c).
 *
 * A key is the address with its probe distance in the low 4 bits
 * (tracer_format.h): a deletion's backward shift decides whether an entry
 * may move back from the hint alone, without rehashing its address.
 * Entries are written site/requested first and key last, so a core taken
 * in the middle of an insert shows either nothing or a whole entry.
 */
#include "tracer.h"

#include <sys/single_threaded.h>

/* The shard's lock, skipped while the process has one thread: glibc's
 * __libc_single_threaded turns false before the first pthread_create
 * starts a thread, and stays false.  With one thread nobody else can be
 * in a shard: a signal handler that allocates inside a hook finds the
 * thread busy and records nothing.  (The fork handlers lock every shard
 * regardless.)  Returns whether it locked, for shard_unlock. */
static inline int shard_lock(struct hwt_shard *s)
{
	if (__libc_single_threaded)
		return 0;
	hwt_lock(&s->lock);
	return 1;
}

static inline void shard_unlock(struct hwt_shard *s, int locked)
{
	if (locked)
		hwt_unlock(&s->lock);
}

#define INITIAL_CAPACITY HWT_MIN_CAPACITY

/* Sampled mode: most frees are of blocks the table never saw: the filter
 * (tracer.h) says "not here" without the shard's lock or a probe.  Its
 * bit for a block is set while the block's counter is nonzero; counters
 * and bits change together under filter_lock (only when a sampled block
 * is recorded or forgotten), so a bit is never cleared while another
 * thread's count for it is nonzero.  A counter that reached its maximum
 * sticks (its bit then only costs a probe).  filter_lock is only taken
 * inside a shard's critical section, so the fork handlers, which hold
 * every shard, never fork while another thread holds it. */
uint64_t hwt_filter[(1u << HWT_FILTER_BITS) / 64];
static uint16_t filter_count[1u << HWT_FILTER_BITS];
static uint32_t filter_lock;

/* Add d (+1 or -1) to the address's counter. */
static void filter_add(uint64_t address, int d)
{
	uint32_t i = hwt_filter_index(address);
	hwt_lock(&filter_lock);
	uint16_t c = filter_count[i];
	if (c != UINT16_MAX && !(d < 0 && c == 0)) {
		c = (uint16_t)(c + d);
		filter_count[i] = c;
		uint64_t bit = 1ull << (i % 64);
		if (c)
			__atomic_fetch_or(&hwt_filter[i / 64], bit, __ATOMIC_RELEASE);
		else
			__atomic_fetch_and(&hwt_filter[i / 64], ~bit, __ATOMIC_RELEASE);
	}
	hwt_unlock(&filter_lock);
}

static inline struct hwt_live_entry *table_of(struct hwt_shard *s)
{
	return (struct hwt_live_entry *)(uintptr_t)s->table;
}

/* Whether address can be a key: nonzero, with its low 4 bits free for the
 * probe distance (always so for glibc's and pymalloc's blocks). */
static inline int keyable(uint64_t address)
{
	return address && !(address & HWT_KEY_HINT);
}

/* The requested size as an entry keeps it. */
static inline uint32_t saturate(uint64_t requested)
{
	return requested >= HWT_SIZE_SATURATED ? HWT_SIZE_SATURATED : (uint32_t)requested;
}

/* The key of address at probe distance d from its home slot. */
static inline uint64_t key_of(uint64_t address, uint64_t d)
{
	return address | (d < HWT_KEY_HINT ? d : HWT_KEY_HINT);
}

/* Slots from a to b going forward (b may have wrapped past the end). */
static inline uint64_t span(uint64_t a, uint64_t b, uint64_t cap)
{
	return b >= a ? b - a : b + cap - a;
}

/* The probe distance of the entry with key k at slot j: its hint, or,
 * when that saturated, from its home slot. */
static inline uint64_t distance(uint64_t k, uint64_t j, uint64_t cap)
{
	uint64_t d = k & HWT_KEY_HINT;
	if (likely(d < HWT_KEY_HINT))
		return d;
	return span(hwt_home_slot(hwt_key_address(k), cap), j, cap);
}

/* Write an entry into slot i.  A core may be taken between any two
 * stores: the slot's key is cleared first, so it never shows a key with
 * another entry's site; the entry being moved is still in its old slot
 * until the caller reuses that one. */
static inline void set_slot(struct hwt_live_entry *e, uint64_t key, uint32_t site,
                            uint32_t requested)
{
	if (e->key)
		__atomic_store_n(&e->key, 0, __ATOMIC_RELEASE);
	e->site = site;
	e->requested = requested;
	__atomic_store_n(&e->key, key, __ATOMIC_RELEASE);
}

/* Insert into a table known to have room; the address is not present. */
static void put(struct hwt_live_entry *tab, uint64_t cap, uint64_t address, uint32_t site,
                uint32_t requested)
{
	uint64_t i = hwt_home_slot(address, cap), d = 0;
	while (tab[i].key) {
		if (++i == cap)
			i = 0;
		d++;
	}
	set_slot(&tab[i], key_of(address, d), site, requested);
}

/* Grow the shard (lock held); 0 on success. */
static int grow(struct hwt_shard *s)
{
	uint64_t ncap = s->capacity ? s->capacity + s->capacity / 4 : INITIAL_CAPACITY;
	struct hwt_live_entry *nt = hwt_map(ncap * sizeof(*nt));
	if (!nt)
		return -1;
	struct hwt_live_entry *old = table_of(s);
	for (uint64_t i = 0; i < s->capacity; i++) {
		if (old[i].key)
			put(nt, ncap, hwt_key_address(old[i].key), old[i].site, old[i].requested);
	}
	uint64_t ocap = s->capacity;
	__atomic_store_n(&s->table, (uint64_t)(uintptr_t)nt, __ATOMIC_RELEASE);
	s->capacity = ncap;
	if (old)
		hwt_unmap(old, ocap * sizeof(*old));
	return 0;
}

void hwt_live_prefetch(uint64_t address)
{
	/* racy reads: a stale table or capacity only prefetches a useless
	 * line (prefetches never fault).  Sampled mode: the table is nearly
	 * empty and most frees miss it, so a prefetch only costs. */
	if (hwt_root->mode != HWT_MODE_ALL)
		return;
	struct hwt_shard *s = &hwt_root->shards[hwt_shard_of(address)];
	struct hwt_live_entry *tab = table_of(s);
	uint64_t cap = s->capacity;
	if (tab && cap)
		__builtin_prefetch(&tab[hwt_home_slot(address, cap)], 1, 3);
}

void hwt_live_insert(uint64_t address, uint32_t site, uint64_t requested)
{
	if (unlikely(!keyable(address))) {
		/* no room for the hint: never the case for glibc or pymalloc */
		__atomic_fetch_add(&hwt_root->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	struct hwt_shard *s = &hwt_root->shards[hwt_shard_of(address)];
	uint32_t req = saturate(requested);
	int locked = shard_lock(s);
	if ((s->count + 1) * 5 > s->capacity * 4 && grow(s) != 0) {
		shard_unlock(s, locked);
		__atomic_fetch_add(&hwt_root->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	/* One pass: the first empty slot of the cluster is where the entry
	 * goes, unless the address is already there, freed behind our back
	 * (a free from a signal handler inside a hook): then overwrite it. */
	struct hwt_live_entry *tab = table_of(s);
	uint64_t cap = s->capacity, i = hwt_home_slot(address, cap), d = 0, k;
	while ((k = tab[i].key) != 0) {
		if ((k ^ address) <= HWT_KEY_HINT) {
			tab[i].site = site;
			tab[i].requested = req;
			shard_unlock(s, locked);
			return;
		}
		if (++i == cap)
			i = 0;
		d++;
	}
	set_slot(&tab[i], key_of(address, d), site, req);
	s->count++;
	if (hwt_root->mode != HWT_MODE_ALL)
		filter_add(address, 1);
	shard_unlock(s, locked);
}

int hwt_live_remove(uint64_t address, struct hwt_live_entry *old)
{
	struct hwt_shard *s = &hwt_root->shards[hwt_shard_of(address)];
	/* Most frees in sampled mode are of blocks never recorded: skip the
	 * lock.  (Racy reads are fine: this address's own insert happened
	 * before the program could free it.) */
	if (__atomic_load_n(&s->count, __ATOMIC_RELAXED) == 0)
		return 0;
	if (hwt_root->mode != HWT_MODE_ALL && !hwt_filter_maybe(address))
		return 0;
	if (unlikely(!keyable(address)))
		return 0;
	int locked = shard_lock(s);
	struct hwt_live_entry *tab = table_of(s);
	uint64_t cap = s->capacity;
	if (!tab) {
		shard_unlock(s, locked);
		return 0;
	}
	uint64_t i = hwt_home_slot(address, cap), k;
	while (((k = tab[i].key) ^ address) > HWT_KEY_HINT) {
		if (!k) {
			shard_unlock(s, locked);
			return 0;
		}
		if (++i == cap)
			i = 0;
	}
	old->key = address;
	old->site = tab[i].site;
	old->requested = tab[i].requested;
	/* Backward-shift deletion: an entry later in the cluster moves into
	 * the hole when its home slot is not after the hole, i.e. when its
	 * probe distance reaches back to the hole; it is then that much
	 * nearer home. */
	__atomic_store_n(&tab[i].key, 0, __ATOMIC_RELEASE);
	uint64_t hole = i, j = i, back = 0; /* back: slots from the hole to j */
	for (;;) {
		if (++j == cap)
			j = 0;
		back++;
		if (!(k = tab[j].key))
			break;
		uint64_t d = distance(k, j, cap);
		if (d < back)
			continue;
		set_slot(&tab[hole], key_of(hwt_key_address(k), d - back), tab[j].site,
		         tab[j].requested);
		hole = j;
		back = 0;
	}
	if (hole != i)
		__atomic_store_n(&tab[hole].key, 0, __ATOMIC_RELEASE);
	s->count--;
	if (hwt_root->mode != HWT_MODE_ALL)
		filter_add(address, -1);
	shard_unlock(s, locked);
	return 1;
}

/* The fork handlers: every shard. */
void hwt_live_lock_all(void)
{
	if (!hwt_root)
		return;
	for (unsigned i = 0; i < HWT_SHARDS; i++)
		hwt_lock(&hwt_root->shards[i].lock);
}

void hwt_live_unlock_all(void)
{
	if (!hwt_root)
		return;
	for (unsigned i = 0; i < HWT_SHARDS; i++)
		hwt_unlock(&hwt_root->shards[i].lock);
}
