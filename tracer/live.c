/*
 * live.c: the live-allocation table, address -> (site, requested size).
 *
 * HWT_SHARDS shards, chosen by a hash of the address's block, each a
 * bucketized cuckoo hash table (Pagh and Rodler's cuckoo hashing with
 * buckets of several slots, as in Erlingsson, Manasse and McSherry, "A cool
 * and practical alternative to traditional hash tables", 2006): an address
 * lives in one of its two buckets of four 16-byte entries, one cache line
 * each (hwt_buckets, tracer_format.h).  A lookup reads at most two lines
 * and a removal only clears a key: no probe sequence, no shifting.  An
 * insert takes a free slot of either bucket; when both are full, a short
 * random walk moves entries to their other buckets to make room.  Each
 * shard has its own spinlock: threads contend only when they touch the
 * same shard at the same moment.  A shard grows by a quarter (a fresh
 * mmap, rehash, publish, unmap the old one) when 90% full, so its load
 * lies between 72% and 90%, 81% on average over the growth cycle: 16 /
 * 0.81 = 20 bytes per live allocation.  (The linear probing of earlier
 * versions needed 64-80% load, 22 bytes, and scanned 12 slots per removal
 * on the C benchmark.  callgrind, C loop: table work ~400 instructions per
 * malloc/free pair then, ~370 now; the gain is in cache lines and branches:
 * bench/tracer_table, 48.8 / 80.1 / 274.2 ns per removal and insert then,
 * 35.9 / 50.3 / 213.7 now, at 10k / 100k / 1M live.)
 *
 * In mode all, pymalloc blocks of up to HWT_SHADOW_KEEP_MAX bytes are
 * not here: the shadows of their arenas or pools hold them (shadow.c).
 *
 * Entries are written site/requested first and key last, so a core taken
 * in the middle of an insert shows either nothing or a whole entry; an
 * entry being moved is written at its new place before its old slot is
 * reused, so a core shows it once or twice, never not at all.
 */
#include "tracer.h"

#include <string.h>

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
 * inside a shard's critical section (or, by filter_grow, with every shard
 * held), so the fork handlers, which hold every shard, never fork while
 * another thread holds it. */
#define WORDMASK(nbits) (((nbits) / 8 - 1) & ~7ull)
struct hwt_filter_bits hwt_filter_bits = {WORDMASK(1u << HWT_FILTER_MIN_BITS), {0}};

/* Publish a filter of nbits bits. */
static void filter_publish(uint64_t nbits)
{
	__atomic_store_n(&hwt_filter_wordmask, WORDMASK(nbits), __ATOMIC_RELEASE);
}
static uint16_t filter_count[1u << HWT_FILTER_MAX_BITS];
static uint32_t filter_lock;
static uint64_t filter_live;   /* recorded blocks counted in the filter */
static int filter_grow_wanted; /* filter_crowded: grow it (filter_grow) */

/* More than one bit in 16 of a filter of nbits would be set by live
 * recorded blocks, and it can still grow. */
static int filter_crowded(uint64_t live, uint64_t nbits)
{
	return live > nbits / 16 && nbits < (1ull << HWT_FILTER_MAX_BITS);
}

void hwt_filter_start(void)
{
	/* mode all: any free may be of a recorded block, so the filter says
	 * "maybe" everywhere (and is not kept) */
	/* (only the part used so far is cleared: the rest was never
	 * touched, and stays out of the process's memory) */
	uint64_t used = hwt_filter_size();
	memset(filter_count, 0, used * sizeof filter_count[0]);
	memset(hwt_filter, 0, used / 8);
	filter_live = 0;
	filter_grow_wanted = 0;
	filter_publish(1u << HWT_FILTER_MIN_BITS);
	if (hwt_root->mode == HWT_MODE_ALL)
		memset(hwt_filter, 0xff, (1u << HWT_FILTER_MIN_BITS) / 8);
}

/* Add d (+1 or -1) to the address's counter; 1 when the filter is now to
 * grow (filter_grow, once the shard's lock is let go). */
static int filter_add(uint64_t address, int d)
{
	hwt_lock(&filter_lock);
	uint32_t i = hwt_filter_index(address);
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
	filter_live += (uint64_t)(int64_t)d;
	if (filter_crowded(filter_live, hwt_filter_size()))
		filter_grow_wanted = 1;
	int grow = filter_grow_wanted;
	hwt_unlock(&filter_lock);
	return grow;
}

static void filter_grow(void);
static inline struct hwt_live_entry *table_of(struct hwt_shard *s)
{
	return (struct hwt_live_entry *)(uintptr_t)s->table;
}

#define SLOTS    HWT_BUCKET_SLOTS
#define WALK_MAX 64 /* moves a random walk may take to make room */

/* Whether address can be a key: nonzero and 16-byte aligned (always so
 * for glibc's and pymalloc's blocks). */
static inline int keyable(uint64_t address)
{
	return address && !(address & HWT_KEY_HINT);
}

/* The requested size as an entry keeps it. */
static inline uint32_t saturate(uint64_t requested)
{
	return requested >= HWT_SIZE_SATURATED ? HWT_SIZE_SATURATED : (uint32_t)requested;
}

/* Write an entry into slot e.  A core may be taken between any two
 * stores: the slot's key is cleared first, so it never shows a key with
 * another entry's site. */
static inline void set_slot(struct hwt_live_entry *e, uint64_t key, uint32_t site,
                            uint32_t requested)
{
	if (e->key)
		__atomic_store_n(&e->key, 0, __ATOMIC_RELEASE);
	e->site = site;
	e->requested = requested;
	__atomic_store_n(&e->key, key, __ATOMIC_RELEASE);
}

/* The slot of bucket b holding address, or NULL. */
static inline struct hwt_live_entry *find_in(struct hwt_live_entry *tab, uint64_t b,
                                             uint64_t address)
{
	struct hwt_live_entry *bk = tab + b * SLOTS;
	for (unsigned j = 0; j < SLOTS; j++) {
		if (bk[j].key == address)
			return &bk[j];
	}
	return NULL;
}

/* A free slot of bucket b, or NULL. */
static inline struct hwt_live_entry *free_in(struct hwt_live_entry *tab, uint64_t b)
{
	return find_in(tab, b, 0);
}

/* The bucket other than b of the entry with key k. */
static inline uint64_t other_bucket(uint64_t k, uint64_t b, uint64_t cap)
{
	uint64_t b1, b2;
	hwt_buckets(hwt_key_address(k), cap, &b1, &b2);
	return b == b1 ? b2 : b1;
}

/* The random walk's victims: a per-thread xorshift (any sequence would
 * do; the walk only needs to avoid going round in one cycle for ever). */
static HWT_TLS uint64_t walk_state = 0x2545f4914f6cdd1dull;

static inline unsigned walk_pick(void)
{
	uint64_t x = walk_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	walk_state = x;
	return (unsigned)(x >> 32);
}

/* Both buckets (b1, b2) are full: free a slot in one of them by moving
 * entries, each to its other bucket, along a path ending at a bucket with
 * a free slot.  The moves are made from the end of the path back, each
 * entry written at its new place before its old slot is overwritten.
 * Returns the freed slot (still holding the copy of the entry moved out),
 * or NULL when no path of WALK_MAX moves was found (the caller grows). */
static struct hwt_live_entry *make_room(struct hwt_live_entry *tab, uint64_t cap, uint64_t b1,
                                        uint64_t b2)
{
	uint64_t path[WALK_MAX];
	uint64_t b = walk_pick() & 1 ? b2 : b1;
	for (unsigned n = 0; n < WALK_MAX; n++) {
		/* a victim not already on the path (moving an entry twice
		 * would lose another) */
		unsigned j0 = walk_pick() % SLOTS, j;
		uint64_t at = 0;
		for (j = 0; j < SLOTS; j++) {
			at = b * SLOTS + (j0 + j) % SLOTS;
			unsigned m = 0;
			while (m < n && path[m] != at)
				m++;
			if (m == n)
				break;
		}
		if (j == SLOTS)
			return NULL;
		path[n] = at;
		b = other_bucket(tab[at].key, b, cap);
		struct hwt_live_entry *dst = free_in(tab, b);
		if (!dst)
			continue;
		for (unsigned m = n + 1; m-- > 0;) {
			struct hwt_live_entry *src = &tab[path[m]];
			set_slot(dst, src->key, src->site, src->requested);
			dst = src;
		}
		return dst;
	}
	return NULL;
}

/* A slot for address (not present) in tab, whose buckets are b1 and b2,
 * made free if need be; NULL when the table is too full to make one. */
static inline struct hwt_live_entry *place(struct hwt_live_entry *tab, uint64_t cap, uint64_t b1,
                                           uint64_t b2)
{
	struct hwt_live_entry *e = free_in(tab, b1);
	if (!e)
		e = free_in(tab, b2);
	if (!e)
		e = make_room(tab, cap, b1, b2);
	return e;
}

/* Grow the shard (lock held); 0 on success.  The entries go into the new
 * table before it is published: the old one stays whole until then. */
static int grow(struct hwt_shard *s)
{
	struct hwt_live_entry *old = table_of(s);
	uint64_t ocap = s->capacity, ncap = ocap ? ocap + ocap / 4 : INITIAL_CAPACITY;
	for (int tries = 0; tries < 8; tries++) {
		ncap = (ncap + SLOTS - 1) / SLOTS * SLOTS;
		struct hwt_live_entry *nt = hwt_map(ncap * sizeof(*nt));
		if (!nt)
			return -1;
		uint64_t i = 0;
		for (; i < ocap; i++) {
			if (!old[i].key)
				continue;
			uint64_t a = hwt_key_address(old[i].key), b1, b2;
			hwt_buckets(a, ncap, &b1, &b2);
			struct hwt_live_entry *e = place(nt, ncap, b1, b2);
			if (!e)
				break;
			set_slot(e, a, old[i].site, old[i].requested);
		}
		if (i < ocap) {
			/* no room made at this size (not seen at 72% load):
			 * a larger one */
			hwt_unmap(nt, ncap * sizeof(*nt));
			ncap += ncap / 4;
			continue;
		}
		__atomic_store_n(&s->table, (uint64_t)(uintptr_t)nt, __ATOMIC_RELEASE);
		s->capacity = ncap;
		if (old)
			hwt_unmap(old, ocap * sizeof(*old));
		return 0;
	}
	return -1;
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
	if (tab && cap) {
		uint64_t b1, b2;
		hwt_buckets(address, cap, &b1, &b2);
		__builtin_prefetch(&tab[b1 * SLOTS], 1, 3);
		__builtin_prefetch(&tab[b2 * SLOTS], 1, 3);
	}
}

void hwt_live_insert(uint64_t address, uint32_t site, uint64_t requested)
{
	if (unlikely(!keyable(address))) {
		/* not 16-byte aligned: never the case for glibc or pymalloc */
		__atomic_fetch_add(&hwt_root->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	struct hwt_shard *s = &hwt_root->shards[hwt_shard_of(address)];
	uint32_t req = saturate(requested);
	int locked = shard_lock(s);
	if ((s->count + 1) * 10 > s->capacity * 9 && grow(s) != 0)
		goto dropped;
	struct hwt_live_entry *tab = table_of(s), *e = NULL;
	uint64_t cap = s->capacity, b1, b2;
	hwt_buckets(address, cap, &b1, &b2);
	/* One pass over both buckets: their first free slot, and whether the
	 * address is there already, freed behind our back (a free from a
	 * signal handler inside a hook): then its entry is overwritten. */
	struct hwt_live_entry *bk[2] = {tab + b1 * SLOTS, tab + b2 * SLOTS}, *fr = NULL;
	for (unsigned i = 0; i < 2; i++) {
		for (unsigned j = 0; j < SLOTS; j++) {
			uint64_t k = bk[i][j].key;
			if (unlikely(k == address)) {
				bk[i][j].site = site;
				bk[i][j].requested = req;
				shard_unlock(s, locked);
				return;
			}
			if (!k && !fr)
				fr = &bk[i][j];
		}
	}
	e = fr ? fr : make_room(tab, cap, b1, b2);
	while (!e) {
		if (grow(s) != 0)
			goto dropped;
		tab = table_of(s);
		cap = s->capacity;
		hwt_buckets(address, cap, &b1, &b2);
		e = place(tab, cap, b1, b2);
	}
	set_slot(e, address, site, req);
	s->count++;
	int grow_filter = hwt_root->mode != HWT_MODE_ALL && filter_add(address, 1);
	shard_unlock(s, locked);
	if (unlikely(grow_filter))
		filter_grow();
	return;
dropped:
	shard_unlock(s, locked);
	__atomic_fetch_add(&hwt_root->dropped, 1, __ATOMIC_RELAXED);
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
	struct hwt_live_entry *tab = table_of(s), *e = NULL;
	if (tab) {
		uint64_t b1, b2;
		hwt_buckets(address, s->capacity, &b1, &b2);
		if (!(e = find_in(tab, b1, address)))
			e = find_in(tab, b2, address);
	}
	if (!e) {
		shard_unlock(s, locked);
		return 0;
	}
	old->key = address;
	old->site = e->site;
	old->requested = e->requested;
	__atomic_store_n(&e->key, 0, __ATOMIC_RELEASE);
	s->count--;
	if (hwt_root->mode != HWT_MODE_ALL)
		filter_add(address, -1);
	shard_unlock(s, locked);
	return 1;
}

/* Grow the filter eightfold, with every shard held (so no entry comes or
 * goes) and filter_lock.  Frees read the mask and then a bit with no lock:
 * whichever mask they see, the bit must be set for every recorded block
 * that maps to it.  So:
 *  1. the new part of the bits is a copy of the old ones (bit i of the new
 *     size stands for i modulo the old size): set for every recorded
 *     block under either mask;
 *  2. the new mask is published;
 *  3. the counters are made again, exactly, from the tables for the new
 *     mask, and the new part's bits follow them (only readers of the new
 *     mask read there).  The old part keeps its set bits, as stuck
 *     counters: a free that read the old mask may still read them.  At
 *     most 1/16 of the old bits, so under 1/128 of the new ones stay set
 *     for good. */
static void filter_grow(void)
{
	hwt_live_lock_all();
	hwt_lock(&filter_lock);
	uint64_t osize = hwt_filter_size(), nsize = osize * 8;
	int wanted = filter_grow_wanted; /* (another thread may have grown it) */
	filter_grow_wanted = 0;
	if (!wanted || nsize > (1ull << HWT_FILTER_MAX_BITS))
		goto out;
	for (uint64_t w = osize / 64; w < nsize / 64; w++)
		__atomic_store_n(&hwt_filter[w], hwt_filter[w % (osize / 64)], __ATOMIC_RELAXED);
	filter_publish(nsize);
	for (uint64_t i = 0; i < nsize; i++)
		filter_count[i] =
		    i < osize && (hwt_filter[i / 64] >> (i % 64) & 1) ? UINT16_MAX : 0;
	uint64_t live = 0;
	for (unsigned sh = 0; sh < HWT_SHARDS; sh++) {
		struct hwt_shard *s = &hwt_root->shards[sh];
		struct hwt_live_entry *tab = table_of(s);
		for (uint64_t j = 0; tab && j < s->capacity; j++) {
			if (!tab[j].key)
				continue;
			uint32_t i = hwt_filter_index_in(hwt_key_address(tab[j].key), nsize);
			if (filter_count[i] != UINT16_MAX)
				filter_count[i]++;
			live++;
		}
	}
	for (uint64_t w = osize / 64; w < nsize / 64; w++) {
		uint64_t bits = 0;
		for (unsigned b = 0; b < 64; b++)
			bits |= (uint64_t)(filter_count[w * 64 + b] != 0) << b;
		__atomic_store_n(&hwt_filter[w], bits, __ATOMIC_RELEASE);
	}
	filter_live = live;
	filter_grow_wanted = filter_crowded(live, nsize);
out:
	hwt_unlock(&filter_lock);
	hwt_live_unlock_all();
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
