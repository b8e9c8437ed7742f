/*
 * fuzz_core.c: the core-file reader under fuzzing: any bytes given as a core
 * file must open to an error with a one-line message, or to a target whose
 * every accessor answers without crashing, and whose views and reads of the
 * same bytes agree.
 */
#include "heapwalk.h"

#include "../unit/synthcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seeds(uint8_t ***bufs, size_t **lens);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz-core", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		/* zstd inputs are decompressed: a few KiB can say GiB */
		setenv("HEAPWALK_ZSTD_MAX_MIB", "8", 1);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	hw_target *t = NULL;
	hw_target_options o = {.no_file_fallback = 0};
	int rc = hw_target_open_core(&t, path, &o);
	if (rc != HW_OK) {
		if (t || strchr(hw_error_last(), '\n') || !*hw_error_last())
			abort();
		return 0;
	}
	const hw_mapping *m;
	size_t n = hw_target_mappings(t, &m);
	uint8_t buf[256];
	for (size_t i = 0; i < n && i < 64; i++) {
		hw_read(t, m[i].start, buf, sizeof buf);
		hw_read(t, m[i].end - 8, buf, 16);
		hw_view(t, m[i].start, (size_t)(m[i].end - m[i].start));
		/* a view and a read of the same bytes agree: where a view is
		 * given, the read succeeds with the same bytes */
		uint64_t span = m[i].end - m[i].start;
		size_t len = span < sizeof buf ? (size_t)span : sizeof buf;
		const uint64_t at[2] = {m[i].start, m[i].end - len};
		for (int k = 0; k < 2 && len; k++) {
			const void *v = hw_view(t, at[k], len);
			if (v && (hw_read(t, at[k], buf, len) != HW_OK || memcmp(v, buf, len)))
				abort();
		}
		/* data extents: inside the range, in order, and what they leave
		 * out reads as zeros (the scans skip it as such) */
		uint64_t a = m[i].start;
		for (int steps = 0; a < m[i].end && steps < 64; steps++) {
			uint64_t lo, hi;
			if (hw_target_data_extent(t, a, m[i].end, &lo, &hi) != HW_OK || lo < a ||
			    lo > m[i].end || hi > m[i].end || (lo < m[i].end && hi <= lo))
				abort();
			size_t gap = lo - a < sizeof buf ? (size_t)(lo - a) : sizeof buf;
			if (gap && hw_read(t, a, buf, gap) == HW_OK)
				for (size_t b = 0; b < gap; b++)
					if (buf[b])
						abort();
			if (lo >= m[i].end)
				break;
			a = hi;
		}
	}
	const hw_thread *th;
	n = hw_target_threads(t, &th);
	for (size_t i = 0; i < n && i < 64; i++)
		hw_read(t, th[i].sp, buf, sizeof buf);
	char s[64];
	hw_read_string(t, 0x700000, s, sizeof s);
	hw_target_close(t);
	return 0;
}

size_t fuzz_seeds(uint8_t ***bufs, size_t **lens)
{
	/* the synthetic core; the same with its file-backed segment dumped
	 * and cut off (a truncated core); and the core in zstd frames of
	 * 1 KiB (systemd-coredump's .zst), for the decompressor */
	*bufs = malloc(3 * sizeof **bufs);
	*lens = malloc(3 * sizeof **lens);
	img m = synth_core("/proc/self/exe");
	(*bufs)[0] = m.b;
	(*lens)[0] = m.len;

	img cut = {malloc(m.len), m.len, m.len};
	if (!cut.b)
		abort();
	memcpy(cut.b, m.b, m.len);
	synth_cut_fileseg(&cut);
	(*bufs)[1] = cut.b;
	(*lens)[1] = cut.len;

	img z = synth_zstd_frames(&m);
	(*bufs)[2] = z.b;
	(*lens)[2] = z.len;
	return 3;
}
