/*
 * test_live.c: reading a live process whole (hw_target_prefetch), on a
 * child that fills a mapping with a pattern it and the test compute alike.
 * What is read, viewed (hw_view_cheap) and refused must match the pattern
 * and the child's memory map; after the target is closed the child runs on,
 * checks that its memory is unchanged and exits 0.
 */
#include "heapwalk.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>

#define PAGE  4096u
#define BULK  (40u << 20) /* prefetched: read by two threads */
#define EXTRA PAGE        /* readable after it */
/* then one PROT_NONE page */

static uint8_t pattern(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static uint64_t checksum(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* The child: the mapping, its address to the parent, then wait for the go
 * to check its memory and exit. */
static void child(int to_parent, int from_parent)
{
	uint8_t *m = mmap(NULL, BULK + EXTRA + PAGE, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(2);
	for (size_t i = 0; i < BULK + EXTRA; i++)
		m[i] = pattern(i);
	if (mprotect(m + BULK + EXTRA, PAGE, PROT_NONE))
		_exit(3);
	uint64_t sum = checksum(m, BULK + EXTRA);
	uint64_t a = (uint64_t)(uintptr_t)m;
	if (write(to_parent, &a, sizeof a) != sizeof a)
		_exit(4);
	char go;
	if (read(from_parent, &go, 1) != 1)
		_exit(5);
	_exit(checksum(m, BULK + EXTRA) == sum ? 0 : 6);
}

/* A stopped-at-will child: its mapping's address in *a, the pipe that lets
 * it go in *go. */
typedef struct kid {
	pid_t pid;
	uint64_t a;
	int up, go;
} kid;

static kid spawn(void)
{
	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	kid k = {.pid = fork()};
	ck_assert_int_ge(k.pid, 0);
	if (k.pid == 0) {
		close(up[0]);
		close(down[1]);
		child(up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	k.up = up[0];
	k.go = down[1];
	ck_assert_int_eq(read(k.up, &k.a, sizeof k.a), sizeof k.a);
	return k;
}

/* The child runs on and finds its memory as it was. */
static void finish(kid *k)
{
	ck_assert_int_eq(write(k->go, "g", 1), 1);
	int status;
	ck_assert_int_eq(waitpid(k->pid, &status, 0), k->pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	close(k->up);
	close(k->go);
}

START_TEST(test_ended)
{
	/* The process killed while its target is open (a cgroup's OOM kill
	 * while coretool trace --snapshot-at walks it): reads then fail at
	 * once, saying so, and the snapshot is refused rather than made of a
	 * heap read in part.  It stays a zombie, as under a parent that has
	 * not reaped it yet. */
	kid k = spawn();
	hw_target *t;
	ck_assert_int_eq(hw_target_open_pid(&t, k.pid, NULL), HW_OK);
	uint8_t b[16];
	ck_assert_int_eq(hw_read(t, k.a, b, sizeof b), HW_OK);
	ck_assert_uint_eq(b[3], pattern(3));
	ck_assert_int_eq(kill(k.pid, SIGKILL), 0);
	siginfo_t si;
	ck_assert_int_eq(waitid(P_PID, (id_t)k.pid, &si, WEXITED | WNOWAIT), 0);
	/* far from what was read (and cached) before */
	ck_assert_int_ne(hw_read(t, k.a + (16u << 20), b, sizeof b), HW_OK);
	ck_assert_int_eq(hw_read(t, k.a + (24u << 20), b, sizeof b), HW_EIO);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "ended"));
	hw_snapshot *s = NULL;
	ck_assert_int_eq(hw_snapshot_take(&s, t), HW_EIO);
	ck_assert_ptr_null(s);
	/* whole: the message quotes the one before it (hw_error_setv copies) */
	char want[96];
	snprintf(want, sizeof want, "taking the snapshot: pid %d ended while it was walked",
	         (int)k.pid);
	ck_assert_int_eq(strncmp(hw_error_last(), want, strlen(want)), 0);
	hw_target_close(t);
	int status;
	ck_assert_int_eq(waitpid(k.pid, &status, 0), k.pid);
	ck_assert(WIFSIGNALED(status));
	close(k.up);
	close(k.go);
}
END_TEST

START_TEST(test_prefetch)
{
	kid k = spawn();
	pid_t pid = k.pid;
	uint64_t a = k.a;

	hw_target *t;
	ck_assert_int_eq(hw_target_open_pid(&t, pid, NULL), HW_OK);
	/* nothing prefetched: no cheap view (a plain one is a copy) */
	ck_assert_ptr_null(hw_view_cheap(t, a, 64));
	ck_assert_int_eq(hw_target_prefetch(t, a, BULK), HW_OK);
	ck_assert_int_eq(hw_target_prefetch(t, a + PAGE, 64), HW_OK); /* inside: nothing to do */
	const uint8_t *v = hw_view_cheap(t, a, BULK);
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_eq(hw_view(t, a + 100, 50), v + 100);
	uint8_t *want = malloc(BULK + EXTRA);
	ck_assert_ptr_nonnull(want);
	for (size_t i = 0; i < BULK + EXTRA; i++)
		want[i] = pattern(i);
	ck_assert_int_eq(memcmp(v, want, BULK), 0);
	uint8_t b[64];
	ck_assert_int_eq(hw_read(t, a + BULK - 64, b, 64), HW_OK);
	ck_assert_int_eq(memcmp(b, want + BULK - 64, 64), 0);
	/* past the end of what was read whole: no cheap view, reads still work */
	ck_assert_ptr_null(hw_view_cheap(t, a + BULK - 8, 16));
	ck_assert_int_eq(hw_read(t, a + BULK - 8, b, 16), HW_OK);
	ck_assert_int_eq(memcmp(b, want + BULK - 8, 16), 0);
	/* refused: overlapping, not readable, unmapped, empty, wrapping */
	ck_assert_int_eq(hw_target_prefetch(t, a + BULK - PAGE, 2 * PAGE), HW_EINVAL);
	ck_assert_int_eq(hw_target_prefetch(t, a + BULK, EXTRA + PAGE), HW_EFAULT);
	ck_assert_int_eq(hw_target_prefetch(t, PAGE, PAGE), HW_EFAULT);
	ck_assert_int_eq(hw_target_prefetch(t, a, 0), HW_EINVAL);
	ck_assert_int_eq(hw_target_prefetch(t, UINT64_MAX - 10, 100), HW_EINVAL);
	/* a second range, after the first: both are served */
	ck_assert_int_eq(hw_target_prefetch(t, a + BULK, EXTRA), HW_OK);
	const uint8_t *v2 = hw_view_cheap(t, a + BULK, EXTRA);
	ck_assert_ptr_nonnull(v2);
	ck_assert_int_eq(memcmp(v2, want + BULK, EXTRA), 0);
	ck_assert_ptr_eq(hw_view_cheap(t, a + 8, 8), v + 8);
	/* across the two: a read, not a view */
	ck_assert_ptr_null(hw_view_cheap(t, a + BULK - 8, 16));
	ck_assert_int_eq(hw_read(t, a + BULK - 8, b, 16), HW_OK);
	ck_assert_int_eq(memcmp(b, want + BULK - 8, 16), 0);
	hw_target_close(t);
	free(want);

	finish(&k);
}
END_TEST

/* A range read whole by a closed target is kept for the next one (the
 * mapping is reused, its pages not faulted in again) and read afresh. */
START_TEST(test_spare)
{
	kid k = spawn();
	uint8_t *want = malloc(BULK);
	ck_assert_ptr_nonnull(want);
	for (size_t i = 0; i < BULK; i++)
		want[i] = pattern(i);
	hw_target *t;
	ck_assert_int_eq(hw_target_open_pid(&t, k.pid, NULL), HW_OK);
	ck_assert_int_eq(hw_target_prefetch(t, k.a, BULK), HW_OK);
	const uint8_t *v1 = hw_view_cheap(t, k.a, BULK);
	ck_assert_ptr_nonnull(v1);
	ck_assert_int_eq(memcmp(v1, want, BULK), 0);
	hw_target_close(t);
	/* still mapped (mincore fails with ENOMEM on an unmapped range) */
	unsigned char *vec = malloc(BULK / PAGE);
	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(mincore((void *)v1, BULK, vec), 0);
	free(vec);
	/* one page further on: the same mapping, the bytes of the new range */
	ck_assert_int_eq(hw_target_open_pid(&t, k.pid, NULL), HW_OK);
	ck_assert_int_eq(hw_target_prefetch(t, k.a + PAGE, BULK - PAGE), HW_OK);
	const uint8_t *v2 = hw_view_cheap(t, k.a + PAGE, BULK - PAGE);
	ck_assert_ptr_eq(v2, v1);
	ck_assert_int_eq(memcmp(v2, want + PAGE, BULK - PAGE), 0);
	hw_target_close(t);
	free(want);
	finish(&k);
}
END_TEST

/* A range streamed (hw_target_stream) and read window by window in place
 * (hw_stream_window), with reads in between, a skip ahead and a restart. */
#define WIN (256u << 10)
START_TEST(test_stream)
{
	kid k = spawn();
	uint8_t *want = malloc(BULK + EXTRA);
	ck_assert_ptr_nonnull(want);
	for (size_t i = 0; i < BULK + EXTRA; i++)
		want[i] = pattern(i);
	hw_target *t;
	ck_assert_int_eq(hw_target_open_pid(&t, k.pid, NULL), HW_OK);
	/* nothing streamed: no window */
	ck_assert_ptr_null(hw_stream_window(t, k.a, WIN));
	/* the mapping is not aligned to a window: the first is short */
	uint64_t lo = k.a + 3 * PAGE, hi = k.a + BULK;
	ck_assert_int_eq(hw_target_stream(t, lo, hi - lo), HW_OK);
	uint64_t next = (lo & ~(uint64_t)(WIN - 1)) + WIN;
	const uint8_t *w = hw_stream_window(t, lo, next - lo);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(memcmp(w, want + (lo - k.a), next - lo), 0);
	/* across two windows: not in place (then hw_read) */
	ck_assert_ptr_null(hw_stream_window(t, next - 8, 16));
	uint8_t b[64];
	ck_assert_int_eq(hw_read(t, next - 8, b, 16), HW_OK);
	ck_assert_int_eq(memcmp(b, want + (next - 8 - k.a), 16), 0);
	size_t n = 1;
	for (uint64_t a = next; a + WIN <= hi && n < 20; a += WIN, n++) {
		w = hw_stream_window(t, a, WIN);
		ck_assert_ptr_nonnull(w);
		ck_assert_int_eq(memcmp(w, want + (a - k.a), WIN), 0);
		/* a small read in the window just given, and one far ahead */
		ck_assert_int_eq(hw_read(t, a + 100, b, 8), HW_OK);
		ck_assert_int_eq(memcmp(b, want + (a + 100 - k.a), 8), 0);
		ck_assert_int_eq(hw_read(t, hi - 64, b, 64), HW_OK);
		ck_assert_int_eq(memcmp(b, want + (hi - 64 - k.a), 64), 0);
	}
	/* behind: gone */
	ck_assert_ptr_null(hw_stream_window(t, next, WIN));
	/* far ahead: the reader skips there */
	uint64_t far = next + 100 * (uint64_t)WIN;
	w = hw_stream_window(t, far, WIN);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(memcmp(w, want + (far - k.a), WIN), 0);
	w = hw_stream_window(t, far + WIN, WIN);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(memcmp(w, want + (far + WIN - k.a), WIN), 0);
	/* the last window, cut at the end of the range */
	uint64_t last = (hi - 1) & ~(uint64_t)(WIN - 1);
	w = hw_stream_window(t, last, hi - last);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(memcmp(w, want + (last - k.a), hi - last), 0);
	/* outside the range: not in place */
	ck_assert_ptr_null(hw_stream_window(t, hi, 16));
	/* a second stream, left half read: the target closes it */
	ck_assert_int_eq(hw_target_stream(t, k.a, BULK), HW_OK);
	uint64_t a2 = (k.a & ~(uint64_t)(WIN - 1)) + 2 * WIN;
	w = hw_stream_window(t, a2, WIN);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(memcmp(w, want + (a2 - k.a), WIN), 0);
	ck_assert_int_eq(hw_target_stream(t, k.a, 0), HW_EINVAL);
	hw_target_close(t);
	free(want);
	finish(&k);
}
END_TEST

/* HEAPWALK_READ_WHOLE_MAX_MIB bounds what a target reads whole. */
START_TEST(test_read_whole_max)
{
	kid k = spawn();
	hw_target *t;
	setenv("HEAPWALK_READ_WHOLE_MAX_MIB", "1", 1);
	ck_assert_int_eq(hw_target_open_pid(&t, k.pid, NULL), HW_OK);
	ck_assert_int_eq(hw_target_prefetch(t, k.a, 2u << 20), HW_ENOMEM);
	ck_assert_ptr_null(hw_view_cheap(t, k.a, 64));
	ck_assert_int_eq(hw_target_prefetch(t, k.a, 1u << 20), HW_OK);
	ck_assert_ptr_nonnull(hw_view_cheap(t, k.a, 64));
	hw_target_close(t);
	unsetenv("HEAPWALK_READ_WHOLE_MAX_MIB");
	finish(&k);
}
END_TEST

START_TEST(test_many_ranges)
{
	/* 64 ranges of 16 KiB, 64 KiB apart, read whole in a scrambled order:
	 * each is served from its own copy, none overlaps another */
	kid k = spawn();
	hw_target *t;
	ck_assert_int_eq(hw_target_open_pid(&t, k.pid, NULL), HW_OK);
	enum { N = 64, STRIDE = 64 * 1024, LEN = 16 * 1024 };
	for (unsigned j = 0; j < N; j++) {
		unsigned i = (j * 37) % N; /* 37 is prime to 64: a permutation */
		ck_assert_int_eq(hw_target_prefetch(t, k.a + (uint64_t)i * STRIDE, LEN), HW_OK);
	}
	for (unsigned i = 0; i < N; i++) {
		uint64_t at = k.a + (uint64_t)i * STRIDE;
		const uint8_t *v = hw_view_cheap(t, at, LEN);
		ck_assert_ptr_nonnull(v);
		for (size_t o = 0; o < LEN; o += 997)
			ck_assert_uint_eq(v[o], pattern((size_t)(at - k.a) + o));
		/* not across a range's end, nor between ranges */
		ck_assert_ptr_null(hw_view_cheap(t, at + LEN - 8, 16));
		ck_assert_ptr_null(hw_view_cheap(t, at + LEN, 8));
		/* overlapping either end: refused */
		ck_assert_int_eq(hw_target_prefetch(t, at + LEN - 8, 64), HW_EINVAL);
		if (i)
			ck_assert_int_eq(hw_target_prefetch(t, at - 8, 64), HW_EINVAL);
	}
	/* a gap between two ranges can still be read whole */
	ck_assert_int_eq(hw_target_prefetch(t, k.a + LEN, STRIDE - LEN), HW_OK);
	ck_assert_ptr_nonnull(hw_view_cheap(t, k.a + LEN, STRIDE - LEN));
	hw_target_close(t);
	finish(&k);
}
END_TEST

static int n_reads;

static int mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	n_reads++;
	if (addr < 0x10000 || addr + len > 0x10000 + 256)
		return -1;
	memcpy(buf, (uint8_t *)ctx + (addr - 0x10000), len);
	return 0;
}

START_TEST(test_callback)
{
	/* a read-callback target is read whole too, within its mappings */
	uint8_t mem[256];
	for (int i = 0; i < 256; i++)
		mem[i] = (uint8_t)i;
	hw_read_callbacks cb = {.read = mem_read, .ctx = mem};
	hw_target *t;
	ck_assert_int_eq(hw_target_open_callback(&t, &cb, 0, NULL), HW_OK);
	ck_assert_int_eq(hw_target_prefetch(t, 0x10000, 256), HW_EFAULT); /* no mapping yet */
	ck_assert_ptr_null(hw_view_cheap(t, 0x10000, 16));
	hw_mapping m = {.start = 0x10000, .end = 0x10000 + 256, .perms = HW_PERM_R};
	ck_assert_int_eq(hw_target_add_mapping(t, &m), HW_OK);
	n_reads = 0;
	ck_assert_int_eq(hw_target_prefetch(t, 0x10000, 256), HW_OK);
	ck_assert_int_eq(n_reads, 1);
	const uint8_t *v = hw_view_cheap(t, 0x10000 + 16, 16);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v[5], 21);
	uint8_t b[4];
	ck_assert_int_eq(hw_read(t, 0x10000 + 7, b, 4), HW_OK);
	ck_assert_uint_eq(b[3], 10);
	ck_assert_int_eq(n_reads, 1); /* served from what was read whole */
	hw_target_close(t);
}
END_TEST

/* A file mapping of 48 MiB whose file was cut to 36 MiB: its perms say
 * readable, yet the upper part faults.  The read of it whole (two threads,
 * the second one stopped part-way) fails cleanly; smaller reads below the
 * cut still work; the child runs on. */
#define CUT_MAP (48u << 20)
#define CUT_AT  (36u << 20)

START_TEST(test_cut_file)
{
	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		FILE *f = tmpfile();
		if (!f || ftruncate(fileno(f), CUT_MAP))
			_exit(2);
		uint8_t *m = mmap(NULL, CUT_MAP, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(f), 0);
		if (m == MAP_FAILED)
			_exit(3);
		m[0] = 7;
		m[CUT_AT - 1] = 9;
		if (ftruncate(fileno(f), CUT_AT))
			_exit(4);
		uint64_t a = (uint64_t)(uintptr_t)m;
		char go;
		if (write(up[1], &a, sizeof a) != sizeof a || read(down[0], &go, 1) != 1)
			_exit(5);
		_exit(m[0] == 7 && m[CUT_AT - 1] == 9 ? 0 : 6);
	}
	close(up[1]);
	close(down[0]);
	uint64_t a;
	ck_assert_int_eq(read(up[0], &a, sizeof a), sizeof a);
	hw_target *t;
	ck_assert_int_eq(hw_target_open_pid(&t, pid, NULL), HW_OK);
	ck_assert_int_eq(hw_target_prefetch(t, a, CUT_MAP), HW_EFAULT);
	ck_assert_ptr_null(hw_view_cheap(t, a, 64));
	uint8_t b[8];
	ck_assert_int_eq(hw_read(t, a, b, 1), HW_OK);
	ck_assert_uint_eq(b[0], 7);
	ck_assert_int_eq(hw_read(t, a + CUT_AT - 1, b, 1), HW_OK);
	ck_assert_uint_eq(b[0], 9);
	ck_assert_int_ne(hw_read(t, a + CUT_AT, b, 8), HW_OK);
	/* below the cut, read whole by two threads */
	ck_assert_int_eq(hw_target_prefetch(t, a, CUT_AT), HW_OK);
	const uint8_t *v = hw_view_cheap(t, a, CUT_AT);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v[0], 7);
	ck_assert_uint_eq(v[CUT_AT - 1], 9);
	hw_target_close(t);
	ck_assert_int_eq(write(down[1], "g", 1), 1);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	close(up[0]);
	close(down[1]);
}
END_TEST

/* A child's anonymous mapping of 16 pages, pages 3 and 10 written, and a
 * file mapping: hw_target_data_extent gives the two touched pages of the
 * first and all of the second; reads of the whole anonymous mapping give
 * its bytes (zeros elsewhere) without giving the child a single page more
 * (its pagemap is read before and after). */
static int present_pages(pid_t pid, uint64_t a, unsigned n)
{
	char name[64];
	snprintf(name, sizeof name, "/proc/%d/pagemap", (int)pid);
	int fd = open(name, O_RDONLY);
	uint64_t w[16];
	int c = 0;
	if (fd >= 0 && n <= 16 && pread(fd, w, n * 8, (off_t)(a / 4096 * 8)) == (ssize_t)(n * 8))
		for (unsigned i = 0; i < n; i++)
			c += (w[i] >> 62) != 0;
	if (fd >= 0)
		close(fd);
	return c;
}

START_TEST(test_data_extent)
{
	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint8_t *m = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE,
		                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		FILE *f = tmpfile();
		if (m == MAP_FAILED || !f || ftruncate(fileno(f), 4 * 4096))
			_exit(2);
		uint8_t *fm = mmap(NULL, 4 * 4096, PROT_READ, MAP_PRIVATE, fileno(f), 0);
		if (fm == MAP_FAILED)
			_exit(3);
		m[3 * 4096 + 5] = 42;
		m[10 * 4096] = 43;
		uint64_t a[2] = {(uint64_t)(uintptr_t)m, (uint64_t)(uintptr_t)fm};
		char go;
		if (write(up[1], a, sizeof a) != sizeof a || read(down[0], &go, 1) != 1)
			_exit(5);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	uint64_t a[2];
	ck_assert_int_eq(read(up[0], a, sizeof a), sizeof a);
	hw_target *t;
	ck_assert_int_eq(hw_target_open_pid(&t, pid, NULL), HW_OK);
	uint64_t lo, hi, end = a[0] + 16 * 4096;
	ck_assert_int_eq(hw_target_data_extent(t, a[0], end, &lo, &hi), HW_OK);
	ck_assert_uint_eq(lo, a[0] + 3 * 4096);
	ck_assert_uint_eq(hi, a[0] + 4 * 4096);
	ck_assert_int_eq(hw_target_data_extent(t, hi, end, &lo, &hi), HW_OK);
	ck_assert_uint_eq(lo, a[0] + 10 * 4096);
	ck_assert_uint_eq(hi, a[0] + 11 * 4096);
	ck_assert_int_eq(hw_target_data_extent(t, hi, end, &lo, &hi), HW_OK);
	ck_assert_uint_eq(lo, end);
	/* a file mapping's absent pages hold the file's bytes: all data */
	ck_assert_int_eq(hw_target_data_extent(t, a[1], a[1] + 4 * 4096, &lo, &hi), HW_OK);
	ck_assert_uint_eq(lo, a[1]);
	ck_assert_uint_eq(hi, a[1] + 4 * 4096);
	ck_assert_int_eq(hw_target_data_extent(t, a[0], a[0], &lo, &hi), HW_EINVAL);
	/* reading it all: its bytes, and no page more in the child */
	ck_assert_int_eq(present_pages(pid, a[0], 16), 2);
	static uint8_t buf[16 * 4096];
	ck_assert_int_eq(hw_read(t, a[0], buf, sizeof buf), HW_OK);
	ck_assert_uint_eq(buf[3 * 4096 + 5], 42);
	ck_assert_uint_eq(buf[10 * 4096], 43);
	ck_assert_uint_eq(buf[7 * 4096], 0);
	ck_assert_int_eq(hw_target_prefetch(t, a[0], sizeof buf), HW_OK);
	ck_assert_int_eq(present_pages(pid, a[0], 16), 2);
	hw_target_close(t);
	ck_assert_int_eq(write(down[1], "g", 1), 1);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("live");
	TCase *tc = tcase_create("prefetch");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_prefetch);
	tcase_add_test(tc, test_ended);
	tcase_add_test(tc, test_spare);
	tcase_add_test(tc, test_stream);
	tcase_add_test(tc, test_read_whole_max);
	tcase_add_test(tc, test_many_ranges);
	tcase_add_test(tc, test_callback);
	tcase_add_test(tc, test_cut_file);
	tcase_add_test(tc, test_data_extent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
