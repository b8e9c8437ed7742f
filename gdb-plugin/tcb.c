/*
 * tcb.c: the threads' thread pointers (fs_base) when the debugger cannot
 * give them.  lldb-14 shows no fs_base register on Linux x86-64, and glibc's
 * walker finds each thread's tcache through it: without it, tcache chunks
 * would be reported as used.
 *
 * On x86-64 (TLS variant II) fs_base is the address of the thread's
 * struct pthread, which begins with tcbhead_t { void *tcb; dtv_t *dtv;
 * void *self; ... } where tcb == self == the struct's own address
 * (glibc sysdeps/x86_64/nptl/tls.h, TLS_INIT_TP).  The struct holds the
 * kernel's thread id (nptl/descr.h: pid_t tid).  So a 16-byte-aligned A
 * with *(A) == A, *(A + 16) == A and *(A + tid offset) == a thread's tid is
 * that thread's fs_base.
 *
 * Where to look: a thread's struct pthread sits at the top of its stack
 * mapping (nptl/allocatestack.c); the main thread's was allocated by ld.so
 * at start-up in a small anonymous mapping (or ld.so's data).  So: every
 * writable mapping but [heap] and [stack], whole when at most SCAN_WHOLE
 * bytes, else its last SCAN_TAIL bytes.  Only threads without an fs_base
 * are given one; a candidate whose tid matches no such thread is ignored.
 */
#include "config.h"

#include "plugin.h"

#include <stdlib.h>
#include <string.h>

#define SCAN_WHOLE (1u << 20)
#define SCAN_TAIL  (256u << 10)

/* offsetof(struct pthread, tid) when libc's DWARF does not say: measured
 * on Debian 12's glibc 2.36 x86-64 with libc6-dbg,
 *   (gdb) p &((struct pthread *)0)->tid   -> 0x2d0
 * (tcbhead_t is 0x2c0 bytes, then list_t list, then tid).  A wrong value
 * only finds nothing: a candidate must name a thread's tid. */
#define PTHREAD_TID_OFFSET_GLIBC_2_36 0x2d0

static uint64_t tid_offset(hw_target *t)
{
	const hw_module *libc = hw_target_module_find(t, "libc.so");
	uint64_t off;
	if (libc && hw_module_member_offset(t, libc, "pthread", "tid", &off) == HW_OK && off < 4096)
		return off;
	return PTHREAD_TID_OFFSET_GLIBC_2_36;
}

static int skip_mapping(const hw_mapping *m)
{
	if ((m->perms & (HW_PERM_R | HW_PERM_W)) != (HW_PERM_R | HW_PERM_W))
		return 1;
	return m->path && (!strcmp(m->path, "[heap]") || !strcmp(m->path, "[stack]"));
}

int hwp_find_thread_pointers(hw_target *t)
{
	const hw_thread *th;
	size_t nth = hw_target_threads(t, &th);
	size_t missing = 0;
	for (size_t i = 0; i < nth; i++)
		missing += th[i].fs_base == 0;
	if (!missing)
		return 0;
	uint64_t toff = tid_offset(t);
	const hw_mapping *maps;
	size_t nmaps = hw_target_mappings(t, &maps);
	/* a copy: hw_target_add_thread may move the threads array */
	hw_thread *threads = malloc(nth * sizeof *threads);
	if (!threads)
		return -1;
	memcpy(threads, th, nth * sizeof *threads);
	uint8_t *buf = malloc(SCAN_TAIL > SCAN_WHOLE ? SCAN_TAIL : SCAN_WHOLE);
	for (size_t k = 0; buf && k < nmaps && missing; k++) {
		const hw_mapping *m = &maps[k];
		if (skip_mapping(m))
			continue;
		uint64_t lo = m->start, hi = m->end;
		if (hi - lo > SCAN_WHOLE)
			lo = hi - SCAN_TAIL;
		size_t len = (size_t)(hi - lo);
		const uint8_t *p = hw_view(t, lo, len);
		if (!p) {
			if (hw_read(t, lo, buf, len) != HW_OK)
				continue;
			p = buf;
		}
		for (size_t off = 0; off + 24 <= len && missing; off += 16) {
			uint64_t a = lo + off, w0, w2;
			memcpy(&w0, p + off, 8);
			memcpy(&w2, p + off + 16, 8);
			if (w0 != a || w2 != a)
				continue;
			uint32_t tid;
			if (hw_read_u32(t, a + toff, &tid) != HW_OK)
				continue;
			for (size_t i = 0; i < nth; i++)
				if (!threads[i].fs_base && (uint32_t)threads[i].tid == tid) {
					threads[i].fs_base = a;
					hw_target_add_thread(t, &threads[i]);
					missing--;
				}
		}
	}
	free(buf);
	free(threads);
	return 0;
}
