/*
 * take.c: hw_snapshot_take: run every allocator walker the target has
 * (glibc malloc, CPython pymalloc), name each used allocation's type, attach
 * the tracer's site to each allocation it saw, and collect problems.
 *
 * HW_ENOTFOUND from a walker's open means that allocator is absent; any
 * other failure becomes a problem record and the snapshot goes on with what
 * the other walkers found.  Tracer site ids are mapped to the snapshot's own
 * on first use (a site's frames are read once).
 */
#include "snapshot_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAKE_PROGRESS_EVERY 65536

typedef struct take {
	hw_snapshot *s;
	hw_typer *typer;
	hw_tracer *tracer;
	hw_map64 sites; /* tracer site id -> snapshot site id */
	hw_frame *frames;
	const hw_take_options *o;
	const char *phase;
	uint64_t seen;
	int rc;
	/* The typer gives one stable string per type (heapwalk.h): a small
	 * direct-mapped cache from that pointer to the type id spares
	 * interning the same name for every object. */
	struct {
		const char *name;
		uint32_t id;
	} type_cache[256];
	/* The arena of the last allocation: walkers emit runs of one arena. */
	uint64_t last_arena;
	uint16_t last_arena_id;
	/* blocks the named objects own (hw_owned), named after the walks */
	hw_owned *owned;
	size_t n_owned, cap_owned;
	int python; /* CPython found: its debug hooks' heads may be met */
} take;

static int type_id(take *tk, const char *name, uint32_t *id)
{
	size_t h = ((uintptr_t)name >> 4) & 255;
	if (tk->type_cache[h].name == name) {
		*id = tk->type_cache[h].id;
		return HW_OK;
	}
	int rc = hw_snapshot_add_type(tk->s, name, id);
	if (rc == HW_OK) {
		tk->type_cache[h].name = name;
		tk->type_cache[h].id = *id;
	}
	return rc;
}

static uint32_t map_site(take *tk, uint32_t tsite)
{
	int64_t v = hw_map64_get(&tk->sites, tsite);
	if (v >= 0)
		return (uint32_t)v;
	size_t n = HW_SITE_MAX_FRAMES;
	uint32_t id = 0;
	if (hw_tracer_site_frames(tk->tracer, tsite, tk->frames, &n) != HW_OK)
		n = 0;
	if (n > HW_SITE_MAX_FRAMES)
		n = HW_SITE_MAX_FRAMES;
	if (hw_snapshot_add_site(tk->s, tk->frames, n, &id) || hw_map64_put(&tk->sites, tsite, id))
		tk->rc = HW_ENOMEM;
	return id;
}

/*
 * CPython's debug hooks (-X dev, PYTHONMALLOC=debug, every allocation of a
 * Py_DEBUG build) ask the allocator under them for at least 3 words more
 * and give the program the block's address + 16: the request's size
 * (big-endian), the domain's letter ('r', 'm' or 'o'), then 7 forbidden
 * bytes 0xFD (Objects/obmalloc.c, _PyMem_DebugRawAlloc).  A request
 * pymalloc passes on to the raw domain (over 512 bytes) is hooked twice:
 * the raw domain's head, then the mem or object domain's, whose size is
 * 24 bytes less.  The object, and the address the tracer's PyMem hooks
 * saw, are 16 or 32 bytes into the block: debug_hooked() says which, 0
 * when the block has no such head.
 */
#define DEBUG_HOOKS_HEAD 16

static int debug_head(const uint8_t *b, uint64_t room, uint64_t *size)
{
	if (room < DEBUG_HOOKS_HEAD + 8 || (b[8] != 'r' && b[8] != 'm' && b[8] != 'o'))
		return 0;
	for (int i = 9; i < DEBUG_HOOKS_HEAD; i++) {
		if (b[i] != 0xfd)
			return 0;
	}
	uint64_t n = 0;
	for (int i = 0; i < 8; i++)
		n = n << 8 | b[i];
	*size = n;
	return n <= room - DEBUG_HOOKS_HEAD - 8;
}

static uint32_t debug_hooked(const hw_alloc_view *av)
{
	const uint8_t *b = av->bytes;
	uint64_t room = av->n_bytes < av->a.size ? av->n_bytes : av->a.size, outer, inner;
	if (!b || !debug_head(b, room, &outer))
		return 0;
	if (b[8] == 'r' && debug_head(b + DEBUG_HOOKS_HEAD, room - DEBUG_HOOKS_HEAD, &inner) &&
	    b[DEBUG_HOOKS_HEAD + 8] != 'r' && inner + 3 * 8 == outer)
		return 2 * DEBUG_HOOKS_HEAD;
	return DEBUG_HOOKS_HEAD;
}

static void keep_owned(void *ctx, hw_owned o)
{
	take *tk = ctx;
	if (hw_big_grow((void **)&tk->owned, sizeof *tk->owned, &tk->cap_owned, tk->n_owned + 1))
		tk->rc = HW_ENOMEM;
	else
		tk->owned[tk->n_owned++] = o;
}

static int cmp_owned(const void *a, const void *b)
{
	hw_owned x = *(const hw_owned *)a, y = *(const hw_owned *)b;
	return x < y ? -1 : x > y;
}

/* How far into its block an owned pointer may point: the block itself,
 * or 16 or 32 bytes in under CPython's debug hooks; a dict's values, since
 * 3.11, come after a prefix of at most 255 bytes (their insertion order;
 * Objects/dictobject.c new_values). */
static uint64_t owned_reach(unsigned kind)
{
	return (kind == HW_OWNED_DICT_VALUES ? 255 : 0) + 2 * DEBUG_HOOKS_HEAD;
}

/*
 * Name the blocks the typed objects own: a used block of no type of its
 * own that holds an owned pointer (at its start, or within owned_reach)
 * with room for what its owner says it holds from there.  The snapshot is
 * sorted first; the pointers, sorted too, meet the allocations in one
 * pass.
 */
static int name_owned(take *tk)
{
	hw_snapshot *s = tk->s;
	if (!tk->n_owned)
		return HW_OK;
	int rc = hw_snapshot_finish(s);
	if (rc)
		return rc;
	if (hw_sort_records(tk->owned, tk->n_owned, sizeof *tk->owned, HW_OWNED_PTR_SHIFT))
		qsort(tk->owned, tk->n_owned, sizeof *tk->owned, cmp_owned);
	uint32_t ids[1u << HW_OWNED_KIND_BITS] = {0};
	size_t j = 0;
	for (size_t i = 0; i < tk->n_owned; i++) {
		uint64_t ptr = hw_owned_ptr(tk->owned[i]);
		unsigned kind = hw_owned_kind(tk->owned[i]);
		while (j + 1 < s->n && s->addr[j + 1] <= ptr)
			j++;
		if (j >= s->n || s->addr[j] > ptr)
			continue;
		uint64_t off = ptr - s->addr[j], size = hw_s_size(s, j);
		if (off > owned_reach(kind) || off >= size ||
		    size - off < hw_owned_min(tk->owned[i]) ||
		    HW_F_STATE(s->flags[j]) != HW_STATE_USED || hw_s_type(s, j) ||
		    !hw_owned_name(kind))
			continue;
		if (!ids[kind] && type_id(tk, hw_owned_name(kind), &ids[kind]))
			return HW_ENOMEM;
		if (hw_snapshot_set_type(s, j, ids[kind]))
			return HW_ENOMEM;
	}
	return HW_OK;
}

/* The visitor of both walkers: they pass an hw_alloc_view (internal.h). */
static int on_alloc(void *ctx, const hw_alloc *a)
{
	take *tk = ctx;
	const hw_alloc_view *av = (const hw_alloc_view *)a;
	uint32_t type = 0, site = 0;
	uint64_t requested = HW_REQUESTED_UNKNOWN;
	if (a->state == HW_STATE_USED) {
		/* an allocation through the debug hooks is named by what they
		 * gave the program (its head, the hooks' bytes, is no object's:
		 * read as one, a list's items could pass for an instance), and
		 * found in the tracer's table there when the block itself is not
		 * in it (the raw domain's blocks are the tracer's malloc hooks',
		 * at the block's own address) */
		uint32_t hooked = tk->python ? debug_hooked(av) : 0;
		if (tk->typer) {
			hw_alloc inner = *a;
			inner.address += hooked;
			inner.size -= hooked;
			const char *name = hw_typer_name_owned(
			    tk->typer, &inner, hooked ? av->bytes + hooked : av->bytes,
			    av->n_bytes - hooked, keep_owned, tk);
			if (name && type_id(tk, name, &type))
				tk->rc = HW_ENOMEM;
		}
		if (tk->tracer) {
			uint32_t tsite;
			if (hw_tracer_lookup(tk->tracer, a->address, &tsite, &requested) == HW_OK ||
			    (hooked && hw_tracer_lookup(tk->tracer, a->address + hooked, &tsite,
			                                &requested) == HW_OK))
				site = map_site(tk, tsite);
			else
				requested = HW_REQUESTED_UNKNOWN;
		}
	} else if (a->state == HW_STATE_FREE && tk->tracer) {
		/* the tracer forgets a block before the allocator frees it:
		 * an entry for a free block is a free the hooks never saw */
		uint32_t tsite;
		uint64_t treq;
		if (hw_tracer_lookup(tk->tracer, a->address, &tsite, &treq) == HW_OK) {
			hw_problem p = {"tracer-entry-free", a->address,
			                "the tracer holds a live entry for this block, which the "
			                "walk finds free"};
			if (hw_snapshot_add_problem(tk->s, &p))
				tk->rc = HW_ENOMEM;
		}
	}
	if (!tk->rc && a->arena == tk->last_arena &&
	    (requested == HW_REQUESTED_UNKNOWN || requested > a->size ||
	     a->size - requested >= HW_SLACK_UNKNOWN)) {
		/* the common case: a known arena, no slack to record */
		int rc = hw_snapshot_push_inline(tk->s, a->address, a->size,
		                                 HW_F_MAKE(a->allocator, a->state, a->bin),
		                                 tk->last_arena_id, type, site);
		if (rc)
			tk->rc = rc;
	} else if (!tk->rc) {
		int rc = hw_snapshot_add_alloc_requested(tk->s, a, type, site, requested);
		if (rc == HW_OK && a->arena != tk->last_arena &&
		    hw_snapshot_arena_id(tk->s, a->arena, &tk->last_arena_id) == HW_OK)
			tk->last_arena = a->arena;
		if (rc == HW_ECORRUPT) {
			/* too many arenas: keep the allocation without one */
			hw_alloc b = *a;
			b.arena = 0;
			hw_problem p = {"too-many-arenas", a->arena, hw_error_last()};
			hw_snapshot_add_problem(tk->s, &p);
			rc = hw_snapshot_add_alloc_requested(tk->s, &b, type, site, requested);
		}
		if (rc)
			tk->rc = rc;
	}
	if (++tk->seen % TAKE_PROGRESS_EVERY == 0 && tk->o && tk->o->progress &&
	    tk->o->progress(tk->o->ctx, tk->phase, tk->seen))
		tk->rc = HW_EINTR;
	return tk->rc != HW_OK;
}

static void on_problem(void *ctx, const hw_problem *p)
{
	take *tk = ctx;
	if (hw_snapshot_add_problem(tk->s, p))
		tk->rc = HW_ENOMEM;
}

static void walker_failed(take *tk, const char *kind, const char *what)
{
	char msg[600];
	snprintf(msg, sizeof msg, "%s: %s", what, hw_error_last());
	hw_problem p = {kind, 0, msg};
	hw_snapshot_add_problem(tk->s, &p);
}

/* A process stopped while one of its threads holds an arena's lock is
 * inside malloc, free or realloc, with that arena's lists mid-update (a
 * chunk unlinked from one bin and not yet on another): walked then, the
 * heap shows problems it does not have.  Stopped by this library, it is
 * let run for 100 us (longer as tries go on, up to 2 ms) and stopped again
 * until no arena is locked, at most SETTLE_TRIES times or for SETTLE_MS
 * (three threads that do nothing but malloc and free: 0 to 80 tries, at
 * most 0.2 s on an idle machine, 0.3 s and more under load); past that (a lock never released, a
 * thread stuck in malloc) it is walked as it is, with a problem saying so.
 * A debugger's or a core's threads stay where they are.  (Letting only the
 * threads whose pc was in malloc's functions run, one at a time, settled a
 * process of three threads that do nothing but malloc and free far less
 * often: each such thread was back inside malloc 50 us later.) */
#define SETTLE_TRIES 400
#define SETTLE_MS    1000

static double monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int open_glibc_settled(take *tk, hw_target *t, hw_glibc **g)
{
	int rc = hw_glibc_open(g, t);
	if (rc || !hw_live_restoppable(t))
		return rc;
	double t0 = monotonic_ms();
	uint64_t busy;
	int tries = 0;
	while ((busy = hw_glibc_busy(*g, NULL)) && tries < SETTLE_TRIES &&
	       monotonic_ms() - t0 < SETTLE_MS) {
		/* longer runs as tries go on: on a loaded machine a thread may
		 * get no CPU in 100 us and stay where it was */
		unsigned run = 100 * (1 + (unsigned)tries / 4);
		tries++;
		if ((rc = hw_live_run(t, run < 2000 ? run : 2000)) != HW_OK)
			return rc;
	}
	if (tries) {
		/* the walker's view of the mappings is read again */
		hw_glibc_close(*g);
		*g = NULL;
		if ((rc = hw_glibc_open(g, t)) != HW_OK)
			return rc;
	}
	if (busy) {
		/* every arena still locked is named by count: what the walk
		 * finds mid-update may be in any of them */
		unsigned n_busy = 1;
		(void)hw_glibc_busy(*g, &n_busy);
		char msg[360], more[64] = "";
		if (n_busy > 1)
			snprintf(more, sizeof more, " (and %u more arena%s)", n_busy - 1,
			         n_busy > 2 ? "s" : "");
		snprintf(msg, sizeof msg,
		         "arena 0x%" PRIx64 "%s was still locked after the process was let run "
		         "%d times (a thread inside malloc or free, or a lock never released): "
		         "what the walk finds in it may be mid-update",
		         busy, more, tries);
		hw_problem p = {"heap-busy", busy, msg};
		if (hw_snapshot_add_problem(tk->s, &p))
			tk->rc = HW_ENOMEM;
	}
	return HW_OK;
}

int hw_snapshot_take(hw_snapshot **out, hw_target *t)
{
	return hw_snapshot_take_ex(out, t, NULL);
}

static int take_once(hw_snapshot **out, hw_target *t, const hw_take_options *o)
{
	*out = NULL;
	take tk = {.o = o};
	int rc = hw_snapshot_new(&tk.s);
	if (rc)
		return rc;
	hw_target_kind k = hw_target_get_kind(t);
	rc = hw_snapshot_set_target(tk.s, k == HW_TARGET_CORE ? "core" : "live", hw_target_path(t),
	                            hw_target_pid(t), hw_target_executable(t));
	tk.frames = calloc(HW_SITE_MAX_FRAMES, sizeof *tk.frames);
	if (rc || !tk.frames) {
		free(tk.frames);
		hw_snapshot_free(tk.s);
		return rc ? rc : hw_error_set(HW_ENOMEM, "out of memory");
	}

	uint64_t have, need;
	if (hw_target_truncated(t, &have, &need)) {
		/* the first byte lost, for the problem's address */
		const hw_mapping *maps;
		size_t n_maps = hw_target_mappings(t, &maps);
		uint64_t at = 0;
		for (size_t i = 0; i < n_maps && !at; i++)
			if (maps[i].lost_bytes)
				at = maps[i].start + maps[i].core_bytes;
		char msg[300];
		snprintf(msg, sizeof msg,
		         "the core file has %" PRIu64 " of its %" PRIu64 " bytes (the dump was cut "
		         "short: ulimit -c, the core dumper's size limit, or a full disk): memory "
		         "from 0x%" PRIx64 " on is missing, and what is walked of it is partial",
		         have, need, at);
		hw_problem p = {"core-truncated", at, msg};
		if (hw_snapshot_add_problem(tk.s, &p))
			tk.rc = HW_ENOMEM;
	}
	hw_glibc *g = NULL;
	hw_pymalloc *py = NULL;
	int grc = open_glibc_settled(&tk, t, &g);
	if (grc && grc != HW_ENOTFOUND)
		walker_failed(&tk, "glibc-unsupported", "glibc malloc");
	else if (grc == HW_ENOTFOUND && hw_target_module_find(t, "libc.so"))
		/* glibc is there but its malloc was not found (no file, no
		 * symbols, and a shape that does not fit: mp_ or main_arena
		 * overwritten, or malloc never ran): not a heap found sound */
		walker_failed(&tk, "glibc-not-located",
		              "libc.so is mapped but its malloc was not found");
	int prc = hw_pymalloc_open(&py, t);
	tk.python = !prc;
	if (prc && prc != HW_ENOTFOUND)
		walker_failed(&tk, "pymalloc-unsupported", "pymalloc");
	int trc = hw_tracer_open(&tk.tracer, t);
	if (trc && trc != HW_ENOTFOUND)
		walker_failed(&tk, "tracer-unreadable", "tracer tables");
	if (trc)
		tk.tracer = NULL;
	if (hw_typer_new(&tk.typer, t, prc ? NULL : py))
		tk.typer = NULL;
	if (tk.typer && hw_typer_names_nothing(tk.typer)) {
		/* no CPython, no C++ class: every type would be unknown */
		hw_typer_free(tk.typer);
		tk.typer = NULL;
	}

	hw_visitor v = {on_alloc, on_problem, &tk};
	if (!grc && g) {
		tk.phase = "glibc";
		int wrc = hw_glibc_walk(g, &v);
		if (wrc && !tk.rc)
			walker_failed(&tk, "glibc-walk", "glibc malloc walk stopped");
		const hw_glibc_summary *gs = hw_glibc_get_summary(g);
		if (gs && !tk.rc)
			tk.rc = hw_snapshot_set_glibc_summary(tk.s, gs);
	}
	if (!prc && py && !tk.rc) {
		tk.phase = "pymalloc";
		int wrc = hw_pymalloc_walk(py, &v);
		if (wrc && !tk.rc)
			walker_failed(&tk, "pymalloc-walk", "pymalloc walk stopped");
		const hw_pymalloc_summary *ps = hw_pymalloc_get_summary(py);
		if (ps && !tk.rc)
			tk.rc = hw_snapshot_set_pymalloc_summary(tk.s, ps);
	}
	if (!tk.rc)
		tk.rc = name_owned(&tk);
	hw_big_free(tk.owned);
	if (tk.tracer && !tk.rc) {
		const hw_tracer_summary *ts = hw_tracer_get_summary(tk.tracer);
		hw_tracer_summary none = {.mode = "all"};
		tk.rc = hw_snapshot_set_tracer_summary(tk.s, ts ? ts : &none);
	}
	rc = tk.rc;
	if (!rc && hw_target_gone(t))
		rc = hw_error_set(HW_EIO,
		                  "pid %d ended while it was walked (killed? out of memory?): no "
		                  "snapshot of a heap read in part",
		                  (int)hw_target_pid(t));
	hw_typer_free(tk.typer);
	hw_tracer_close(tk.tracer);
	hw_pymalloc_close(py);
	hw_glibc_close(g);
	hw_map64_free(&tk.sites);
	free(tk.frames);
	if (!rc)
		rc = hw_snapshot_finish(tk.s);
	if (rc) {
		hw_snapshot_free(tk.s);
		return rc == HW_EINTR
		           ? hw_error_set(HW_EINTR, "interrupted")
		           : hw_error_set(rc, "taking the snapshot: %s", hw_error_last());
	}
	*out = tk.s;
	return HW_OK;
}

/* The same problems (kind, address and message, in order) in a and b?  The
 * message too: one tcache's address stands for all its bins, and a thread
 * caught mid-update twice in a row, in two bins, is motion all the same. */
static int same_problems(const hw_snapshot *a, const hw_snapshot *b)
{
	uint64_t da, db;
	size_t n = hw_snapshot_problem_count(a, &da);
	if (n != hw_snapshot_problem_count(b, &db) || da != db)
		return 0;
	for (size_t i = 0; i < n; i++) {
		hw_problem pa, pb;
		if (hw_snapshot_get_problem(a, i, &pa) || hw_snapshot_get_problem(b, i, &pb) ||
		    pa.address != pb.address || strcmp(pa.kind, pb.kind) ||
		    strcmp(pa.message ? pa.message : "", pb.message ? pb.message : ""))
			return 0;
	}
	return 1;
}

/* A heap that shows problems when walked live may have been caught
 * mid-update where no lock says so (a thread between a tcache's list and
 * its count, pymalloc's pool lists under the GIL, the tracer's table): a
 * process this library stopped is let run 100 us (longer while a thread
 * stopped in user code got no CPU in that time: hw_live_run_every) and
 * walked again, until two walks in a row find the same problems (damage,
 * not motion), at most TAKE_TRIES walks; the last is kept.  (A thread
 * that got no CPU in 100 us would be found where it was, its half-made
 * change the same twice and taken for damage: a guard, not measured to
 * have happened; what was measured, 2 checks in 200 of busy_heap under
 * load, came from two bins of one tcache, told apart by the message.) */
/* (It was 3: on a loaded machine a busy Python loop was found
 * mid-allocation in all three walks in 1 check of 8, a field test.) */
#define TAKE_TRIES 6

int hw_snapshot_take_ex(hw_snapshot **out, hw_target *t, const hw_take_options *o)
{
	int rc = take_once(out, t, o);
	for (int i = 1; rc == HW_OK && i < TAKE_TRIES && hw_live_restoppable(t) &&
	                hw_snapshot_problem_count(*out, NULL);
	     i++) {
		hw_snapshot *again;
		if (hw_live_run_every(t, 100) != HW_OK || take_once(&again, t, o) != HW_OK)
			break; /* (the process ended): the walk before stands */
		int same = same_problems(*out, again);
		hw_snapshot_free(*out);
		*out = again;
		if (same)
			break;
	}
	return rc;
}
