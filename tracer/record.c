/*
 * record.c: the common path of every allocation hook: sampling decision,
 * stack capture, site interning, live-table insert; and forgetting.
 *
 * Sampling (mode "sampled") is Poisson by bytes, as tcmalloc and jemalloc
 * do: each thread counts down an exponentially distributed number of bytes
 * (mean sample_bytes); the allocation that crosses zero is recorded.  An
 * allocation of n bytes is then recorded with probability
 * 1 - exp(-n / sample_bytes), independently of the others, which is what
 * the reader divides by to give unbiased estimates.
 */
#include "tracer.h"

#include <errno.h>
#include <unistd.h>

/* 0 in the process the tracer started in; each fork's child mixes its
 * parent's count of forks into its parent's (hwt_sampler_forked), so
 * that threads of different processes never share a sequence. */
static uint64_t lineage;

static uint64_t seed_for_thread(void)
{
	static uint64_t counter;
	uint64_t seed = hwt_env_u64("HEAPWALK_TRACE_SEED", 0);
	uint64_t n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	if (!seed) {
		unsigned lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		seed = ((uint64_t)hi << 32 | lo) ^ ((uint64_t)getpid() << 20);
	}
	/* Thread n's state, mixed: splitmix64 walks its state by this very
	 * constant, so seed + n * constant would start thread n's sequence n
	 * draws into thread 0's, and 16 threads would sample 16 copies of one
	 * sequence (estimates then varied 4 times more than they should). */
	uint64_t s = (seed + n * 0x9e3779b97f4a7c15ull) ^ lineage;
	return hwt_rng_next(&s);
}

static int64_t next_countdown(void)
{
	struct hwt_thread *t = &hwt_self;
	uint64_t r = hwt_rng_next(&t->rng);
	double u = ((r >> 11) + 1) * (1.0 / 9007199254740992.0); /* (0, 1] */
	double d = hwt_neg_log(u) * (double)hwt_root->sample_bytes;
	if (d > 9.0e18)
		d = 9.0e18;
	return (int64_t)d + 1;
}

void hwt_sampler_forked(uint64_t forks)
{
	/* The child would go on with its parent's sequence, and children
	 * forked from one state (a pre-forking server's workers) with one
	 * another's: each fork gives the child a lineage of its own, from the
	 * parent's and the parent's count of forks (so a fixed
	 * HEAPWALK_TRACE_SEED stays reproducible), which reseeds the forking
	 * thread (with a fresh countdown: memoryless, as good as the rest of
	 * the old one) and seeds every thread the child starts. */
	uint64_t l = lineage ^ (forks * 0xd1b54a32d192ed03ull);
	lineage = hwt_rng_next(&l);
	struct hwt_thread *t = &hwt_self;
	if (!hwt_root || hwt_root->mode != HWT_MODE_SAMPLED || !t->sampler_ready)
		return; /* (mode all keeps its countdown at 0) */
	uint64_t r = t->rng ^ lineage;
	t->rng = hwt_rng_next(&r);
	if (t->busy)
		t->held = next_countdown();
	else
		t->countdown = next_countdown();
}

/* A dormant tracer's countdown: each thread looks at the mode again after
 * this many bytes of allocation (a started tracer is seen that late; one
 * slow path a MiB is what the dormant hooks cost beyond their branch). */
#define DORMANT_COUNTDOWN (1 << 20)

int hwt_sample_slow(size_t n)
{
	struct hwt_thread *t = &hwt_self;
	if (__atomic_load_n(&hwt_root->mode, __ATOMIC_ACQUIRE) == HWT_MODE_DORMANT) {
		t->held = DORMANT_COUNTDOWN;
		return 0;
	}
	if (!t->sampler_ready) {
		t->rng = seed_for_thread();
		t->held = next_countdown();
		t->sampler_ready = 1;
		t->held -= (int64_t)n;
		if (t->held > 0)
			return 0;
	}
	/* the countdown crossed zero in this allocation.  Several intervals
	 * may end inside one large allocation: it is still one sample
	 * (probability 1 - exp(-n/mean)); restart afresh. */
	t->held = next_countdown();
	return 1;
}

/* Keep p's entry: in its arena's shadow slot when it has one and the entry
 * fits (a pymalloc block from a PyMem hook), else in the live table. */
static inline void keep(uint64_t address, uint32_t site, size_t size, uint32_t *slot)
{
	if (slot && site <= HWT_SHADOW_SITE_MAX)
		__atomic_store_n(slot, hwt_shadow_pack(site, (uint32_t)size), __ATOMIC_RELAXED);
	else
		hwt_live_insert(address, site, size);
}

void hwt_record(void *p, size_t size, uint64_t caller, uint64_t cfa0, int from)
{
	uint64_t a = (uint64_t)(uintptr_t)p;
	int pymem = hwt_from_pymem(from);
	uint32_t *slot = NULL;
	if (pymem && hwt_shadow_keeps(size)) {
		slot = hwt_shadow_slot(a);
		if (!slot && from == HWT_FROM_POOL)
			slot = hwt_shadow_cover_pool(a);
	}
	if (!slot)
		hwt_live_prefetch(a);
	struct hwt_stack *st = &hwt_self.stack;
	st->n_native = 0;
	st->n_python = 0;
	if (from != HWT_FROM_NATIVE) {
		/* from a PyMem hook the native stack is the caller alone: the
		 * memo can be checked while the frames are read */
		uint32_t known = hwt_python_capture(st, pymem ? caller : 0);
		if (known) {
			keep(a, known, size, slot);
			return;
		}
	}
	/* Under a PyMem hook the Python frames say where the allocation came
	 * from; the native stack is the interpreter's loop: keep its caller
	 * (which C function made the block) and spare the unwinder. */
	uint32_t want = pymem && st->n_python ? 1 : hwt_root->native_frames;
	uint32_t site = hwt_native_capture(st, caller, cfa0, want);
	if (st->n_python && !pymem)
		site = hwt_memo_find(st);
	if (!site) {
		site = hwt_site_intern(st);
		if (!site) {
			__atomic_fetch_add(&hwt_root->dropped, 1, __ATOMIC_RELAXED);
			return;
		}
		if (st->n_python && pymem)
			hwt_python_remember(caller, site);
		else if (st->n_python)
			hwt_memo_store(st, site);
		else
			hwt_native_remember(caller, cfa0, st, site);
	}
	keep(a, site, size, slot);
}

void *hwt_realloc_done(void *q, size_t n, int had, const struct hwt_live_entry *old,
                       uint64_t caller, uint64_t cfa0, int from, int place)
{
	if (q) {
		if (hwt_sample(n)) {
			if (place)
				return hwt_record_placed(q, n, n, caller, cfa0, from);
			hwt_record(q, n, caller, cfa0, from);
		}
	} else if (had && n != 0) {
		int saved = errno;
		hwt_live_insert(old->key, old->site, old->requested);
		errno = saved;
	}
	return q;
}
