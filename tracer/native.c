/*
 * native.c: native stacks for the site table.
 *
 * The caller of the allocation function is always recorded (it is the
 * return address the hook saw).  Deeper frames come from libunwind's
 * unw_backtrace with per-thread caching of unwind info: Debian's libraries
 * have no frame pointers, and glibc's backtrace() is an order of magnitude
 * slower (FACTS.md, tracer prototypes).
 *
 * unw_backtrace starts in this function; the frames up to and including
 * the hook are dropped by finding the caller's return address in the
 * trace, so inlining decisions do not shift the stack.
 */
#include "tracer.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

void hwt_native_capture(struct hwt_stack *s, uint64_t caller, uint32_t want)
{
	s->native[0] = caller;
	s->n_native = 1;
	if (want <= 1)
		return;
	static int caching_set;
	if (unlikely(!__atomic_load_n(&caching_set, __ATOMIC_RELAXED))) {
		unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
		__atomic_store_n(&caching_set, 1, __ATOMIC_RELAXED);
	}
	void *buf[HWT_MAX_NATIVE + 8];
	int n = unw_backtrace(buf, (int)(want + 6));
	int at = -1;
	for (int i = 0; i < n && i < 8; i++) {
		if ((uint64_t)(uintptr_t)buf[i] == caller) {
			at = i;
			break;
		}
	}
	if (at < 0)
		return; /* keep the caller alone rather than guess */
	for (int i = at + 1; i < n && s->n_native < want; i++)
		s->native[s->n_native++] = (uint64_t)(uintptr_t)buf[i];
}
