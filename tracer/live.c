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
 * The nursery (mode all, once the PyMem hooks are in, while the process
 * has a single thread): a direct-mapped array where the PyMem hooks'
 * entries go first, slot (address >> 4) modulo its size, so that a
 * Python object that dies young (most do) is recorded and forgotten
 * there, one line of the first-level cache instead of a probe of a shard.
 * An entry moves to its shard when a newer one needs its slot, and all of
 * them when the process gets a second thread (glibc's
 * __libc_single_threaded turns false) or when fewer than half of the
 * entries put there die there (long-lived objects), after which the
 * nursery is never used again: one thread owns it, so it needs no lock.  A free looks there
 * first.  An entry in the nursery does not check its shard for a stale
 * duplicate (a block freed behind our back): the reader keeps one of the
 * two, as for an entry caught moving.
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

/* ---- the nursery ---- */

static struct hwt_live_entry *nursery; /* NURSERY_SLOTS entries, or NULL */
static int nursery_state;              /* NURSERY_OFF, _ON or _DEAD */
static uint32_t nursery_lock;
enum { NURSERY_OFF, NURSERY_ON, NURSERY_DEAD };
#define NURSERY_SLOTS  16384
#define NURSERY_WINDOW 65536 /* inserts per check of the hit rate */
/* Entries put in the nursery, and forgotten there, in this window: when
 * fewer than half die in it, the program's objects live long (a parse
 * building a large tree) and the nursery only adds a step to each
 * entry's way to its shard: it closes. */
static uint32_t window_inserts, window_hits;

static inline struct hwt_live_entry *nursery_slot(uint64_t address)
{
	return &nursery[(address >> 4) & (NURSERY_SLOTS - 1)];
}

void hwt_live_nursery_start(void)
{
	if (hwt_root->mode != HWT_MODE_ALL || nursery_state != NURSERY_OFF)
		return;
	struct hwt_live_entry *n = hwt_map(NURSERY_SLOTS * sizeof(*n));
	if (!n)
		return;
	nursery = n;
	hwt_root->nursery = (uint64_t)(uintptr_t)n;
	hwt_root->nursery_slots = NURSERY_SLOTS;
	__atomic_store_n(&nursery_state, NURSERY_ON, __ATOMIC_RELEASE);
}

/* A second thread exists, or the nursery does not pay: every entry moves
 * to the shards, for good. */
static __attribute__((noinline)) void nursery_close(void)
{
	hwt_lock(&nursery_lock);
	if (nursery_state == NURSERY_ON) {
		for (unsigned i = 0; i < NURSERY_SLOTS; i++) {
			struct hwt_live_entry *e = &nursery[i];
			if (e->key) {
				hwt_live_insert(e->key, e->site, e->requested);
				__atomic_store_n(&e->key, 0, __ATOMIC_RELEASE);
			}
		}
		__atomic_store_n(&nursery_state, NURSERY_DEAD, __ATOMIC_RELEASE);
	}
	hwt_unlock(&nursery_lock);
}

/* 1 when the nursery may be used: on, and the process single-threaded. */
static inline int nursery_usable(void)
{
	if (__atomic_load_n(&nursery_state, __ATOMIC_ACQUIRE) != NURSERY_ON)
		return 0;
	if (likely(__libc_single_threaded))
		return 1;
	nursery_close();
	return 0;
}

void hwt_live_prefetch(uint64_t address, int young)
{
	/* racy reads: a stale table or capacity only prefetches a useless
	 * line (prefetches never fault).  Sampled mode: the table is nearly
	 * empty and most frees miss it, so a prefetch only costs; a young
	 * entry goes to the nursery. */
	if (hwt_root->mode != HWT_MODE_ALL || (young && nursery_usable()))
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
	if (nursery_usable()) {
		struct hwt_live_entry *e = nursery_slot(address);
		if (e->key == address && address) {
			old->key = address;
			old->site = e->site;
			old->requested = e->requested;
			__atomic_store_n(&e->key, 0, __ATOMIC_RELEASE);
			window_hits++;
			return 1;
		}
	}
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

void hwt_live_insert_young(uint64_t address, uint32_t site, uint64_t requested)
{
	if (!nursery_usable() || unlikely(!keyable(address))) {
		hwt_live_insert(address, site, requested);
		return;
	}
	uint32_t req = saturate(requested);
	if (unlikely(++window_inserts == NURSERY_WINDOW)) {
		int close = window_hits < NURSERY_WINDOW / 2;
		window_inserts = window_hits = 0;
		if (close) {
			nursery_close();
			hwt_live_insert(address, site, requested);
			return;
		}
	}
	struct hwt_live_entry *e = nursery_slot(address);
	uint64_t k = e->key;
	if (k && k != address)
		hwt_live_insert(k, e->site, e->requested); /* evicted: to its shard */
	set_slot(e, address, site, req);
}

/* The fork handlers: the nursery's lock first (closing the nursery takes
 * shard locks under it), then every shard. */
void hwt_live_lock_all(void)
{
	if (!hwt_root)
		return;
	hwt_lock(&nursery_lock);
	for (unsigned i = 0; i < HWT_SHARDS; i++)
		hwt_lock(&hwt_root->shards[i].lock);
}

void hwt_live_unlock_all(void)
{
	if (!hwt_root)
		return;
	for (unsigned i = 0; i < HWT_SHARDS; i++)
		hwt_unlock(&hwt_root->shards[i].lock);
	hwt_unlock(&nursery_lock);
}
