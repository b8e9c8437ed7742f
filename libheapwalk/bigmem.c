/*
 * bigmem.c: memory for the library's large arrays (a snapshot's columns
 * and its sort scratch, the glibc walker's bitmaps, the typer's owned
 * pointers, the tracer reader's live table, .hsnap buffers, a live heap's
 * copies and read blocks): tens to hundreds of MiB for a large heap,
 * written once from front to back.
 *
 * From HW_BIG_FROM bytes on, an array is a mapping of its own, 2 MiB
 * aligned, whole 2 MiB units, and advised for transparent huge pages
 * (madvise MADV_HUGEPAGE: Debian's kernels run THP in "madvise" mode), so
 * the kernel fills it in one fault per 2 MiB instead of one per 4 KiB
 * page.  Where a page fault is dear, as in a virtual machine whose page
 * tables the hypervisor shadows, that is most of the cost of building a
 * large snapshot: 22 million allocations, ~400 MiB of columns, were
 * ~100000 faults.  An array grows by moving its pages into a larger such
 * mapping (mremap MREMAP_FIXED: page tables moved, whole huge pages
 * included, nothing copied), and shrinks by unmapping its tail.  Smaller
 * arrays are malloc's.  A 64-byte header before the array says which.
 *
 * Whether huge pages pay depends on the host: on this machine kind on
 * 2026-12-08 a first touch of 40 MiB took 0.06-0.075 s in huge pages
 * fresh to the host (0.003 s when it had backed them before) against
 * 0.117 s in 4 KiB pages; on 2026-11-25 another host of the kind took
 * 0.26-0.37 s for 200 MiB in fresh huge pages against 0.13-0.17 s in
 * 4 KiB pages.  HEAPWALK_HUGE_PAGES=0 leaves the advice out.
 */
#include "config.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define UNIT ((size_t)2 << 20) /* a huge page on x86-64 */
#define HEAD ((size_t)64)      /* a cache line: a mapped array starts on one */

typedef struct big_head {
	size_t map;   /* the mapping's length; 0: a malloc'd block */
	size_t bytes; /* what was asked for */
} big_head;

static size_t big_from = HW_BIG_FROM;

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
/* Under ASan the rest of a mapped array's units is poisoned, so a read or
 * write past its end is reported as past a malloc'd block's; the whole
 * mapping is unpoisoned before its pages are unmapped or moved (ASan's
 * shadow stays with the addresses, not the pages). */
static void fence(big_head *h)
{
	ASAN_POISON_MEMORY_REGION((char *)h + HEAD + h->bytes, h->map - HEAD - h->bytes);
}
static void unfence(big_head *h)
{
	ASAN_UNPOISON_MEMORY_REGION(h, h->map);
}
#else
static void fence(big_head *h)
{
	(void)h;
}
static void unfence(big_head *h)
{
	(void)h;
}
#endif

size_t hw_big_threshold(size_t from)
{
	size_t was = big_from;
	big_from = from;
	return was;
}

static big_head *head_of(void *p)
{
	return (big_head *)((char *)p - HEAD);
}

void *hw_big_map(size_t len, int flags)
{
	if (len > SIZE_MAX - UNIT || len % 4096)
		return NULL;
	char *m = mmap(NULL, len + UNIT, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)m + UNIT - 1) & ~(uintptr_t)(UNIT - 1);
	if (a > (uintptr_t)m)
		munmap(m, a - (uintptr_t)m);
	size_t tail = (uintptr_t)m + len + UNIT - (a + len);
	if (tail)
		munmap((char *)a + len, tail);
#ifdef MADV_HUGEPAGE
	/* advice only: without THP the mapping works the same */
	const char *env = getenv("HEAPWALK_HUGE_PAGES");
	if (!env || strcmp(env, "0") != 0)
		madvise((void *)a, len, MADV_HUGEPAGE);
#endif
	return (char *)a;
}

/* Bytes of mapping for an array of bytes: whole units, header included. */
static size_t map_len(size_t bytes)
{
	return (bytes + HEAD + UNIT - 1) & ~(UNIT - 1);
}

void *hw_big_resize(void *p, size_t bytes)
{
	if (bytes > SIZE_MAX / 2)
		return NULL;
	big_head *h = p ? head_of(p) : NULL;
	if (!h || !h->map) {
		if (bytes + HEAD < big_from) {
			/* malloc's: new blocks zeroed, as a fresh mapping is */
			big_head *n = h ? realloc(h, bytes + HEAD) : calloc(1, bytes + HEAD);
			if (!n)
				return NULL;
			n->map = 0;
			n->bytes = bytes;
			return (char *)n + HEAD;
		}
		big_head *n = (big_head *)hw_big_map(map_len(bytes), 0);
		if (!n)
			return NULL;
		if (h) {
			memcpy((char *)n + HEAD, (char *)h + HEAD,
			       h->bytes < bytes ? h->bytes : bytes);
			free(h);
		}
		n->map = map_len(bytes);
		n->bytes = bytes;
		fence(n);
		return (char *)n + HEAD;
	}
	size_t len = map_len(bytes);
	if (len <= h->map) {
		/* shrinking (or within the last unit): unmap the tail */
		unfence(h);
		if (len < h->map)
			munmap((char *)h + len, h->map - len);
		h->map = len;
		h->bytes = bytes;
		fence(h);
		return p;
	}
	char *n = hw_big_map(len, 0);
	if (!n)
		return NULL;
	size_t old = h->map;
	unfence(h);
	if (mremap(h, old, old, MREMAP_MAYMOVE | MREMAP_FIXED, n) == MAP_FAILED) {
		memcpy(n, h, HEAD + h->bytes);
		munmap(h, old);
	}
	h = (big_head *)n;
	h->map = len;
	h->bytes = bytes;
	fence(h);
	return n + HEAD;
}

int hw_grow_capacity(size_t cap, size_t el, size_t need, size_t *out)
{
	size_t c = cap ? cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2 / el)
			return -1;
		c = c + c / 2 + 16;
	}
	*out = c;
	return 0;
}

/* *p grown by resize (realloc or hw_big_resize) to hold need elements. */
static int grow(void *(*resize)(void *, size_t), void **p, size_t el, size_t *cap, size_t need)
{
	size_t c;
	if (need <= *cap)
		return 0;
	if (hw_grow_capacity(*cap, el, need, &c))
		return -1;
	void *q = resize(*p, c * el);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

int hw_grow(void **p, size_t el, size_t *cap, size_t need)
{
	return grow(realloc, p, el, cap, need);
}

int hw_big_grow(void **p, size_t el, size_t *cap, size_t need)
{
	return grow(hw_big_resize, p, el, cap, need);
}

void hw_big_free(void *p)
{
	if (!p)
		return;
	big_head *h = head_of(p);
	if (h->map) {
		unfence(h);
		munmap(h, h->map);
	} else {
		free(h);
	}
}
