/*
 * compressed.c: compressed cores.  systemd-coredump keeps its cores as
 * /var/lib/systemd/coredump/core.PROG.UID.BOOT.PID.TIME.zst (zstd by
 * default; xz or lz4 in some builds).  A zstd core is decompressed once,
 * streaming, into an unlinked file in $TMPDIR (else /var/tmp, where
 * coredumpctl puts its own), which is then read as the core: memory stays
 * the two stream buffers, and the file goes away with its descriptor even
 * when the process is killed.  Other compressions get a one-line error
 * saying how to decompress.  The zstd frame format is RFC 8878; the magic
 * numbers are those of each format's specification.
 */
#include "target_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

static const struct {
	const char *name, *how;
	uint8_t magic[6];
	size_t len;
} other[] = {
    {"xz", "xz -dk FILE", {0xfd, '7', 'z', 'X', 'Z', 0}, 6},
    {"lz4", "lz4 -d FILE", {0x04, 0x22, 0x4d, 0x18}, 4},
    {"gzip", "gunzip -k FILE", {0x1f, 0x8b}, 2},
    {"bzip2", "bunzip2 -k FILE", {'B', 'Z', 'h'}, 3},
};

/* Write n bytes at file offset off (the file's position) leaving the 4 KiB
 * blocks of zeros unwritten (seeked over): a core's untouched pages stay
 * holes in the copy, as in the kernel's core (SEEK_DATA finds them; a
 * 500-thread process's 4 GiB of stacks take no room).  The caller sizes
 * the file at the end (ftruncate).  0, or -1 with errno. */
static int write_sparse(int fd, const uint8_t *buf, size_t n, uint64_t off)
{
	static const uint8_t zero[4096];
	while (n) {
		size_t k = 4096 - (size_t)(off % 4096);
		if (k > n)
			k = n;
		if (!memcmp(buf, zero, k)) {
			if (lseek(fd, (off_t)k, SEEK_CUR) < 0)
				return -1;
		} else if (hw_write_all(fd, buf, k) < 0) {
			return -1;
		}
		buf += k;
		n -= k;
		off += k;
	}
	return 0;
}

/* An unlinked file to decompress into: O_TMPFILE where the file system
 * has it, else a named one removed at once. */
static int temp_file(const char **dir_out)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/var/tmp";
	*dir_out = dir;
	int fd = -1;
#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
#endif
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/heapwalk-core-XXXXXX", dir) >= sizeof path)
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

int hw_core_decompress(int fd, int *out_fd, uint64_t *out_size, char *note, size_t note_n)
{
	uint8_t magic[6] = {0};
	*out_fd = -1;
	if (note_n)
		note[0] = 0;
	if (pread(fd, magic, sizeof magic, 0) < 4)
		return 0;
	for (size_t i = 0; i < HW_ARRAY_SIZE(other); i++)
		if (!memcmp(magic, other[i].magic, other[i].len))
			return hw_error_set(HW_EUNSUPPORTED,
			                    "compressed with %s: decompress it first (%s, or "
			                    "coredumpctl dump PID -o core)",
			                    other[i].name, other[i].how);
	static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	if (memcmp(magic, zstd_magic, 4))
		return 0;

	/* a bound, for tests and fuzzing (a few KiB of zstd can say GiB) */
	uint64_t max = UINT64_MAX;
	const char *env = getenv("HEAPWALK_ZSTD_MAX_MIB");
	if (env && *env)
		max = strtoull(env, NULL, 10) << 20;
	const char *dir;
	int tfd = temp_file(&dir);
	if (tfd < 0)
		return hw_error_set(HW_EIO,
		                    "a zstd-compressed core: cannot make a file in %s to "
		                    "decompress it into: %s (set TMPDIR)",
		                    dir, strerror(errno));
	ZSTD_DStream *ds = ZSTD_createDStream();
	size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
	uint8_t *in = malloc(in_cap), *outb = malloc(out_cap);
	int rc = 0;
	uint64_t total = 0;
	size_t last = 1; /* ZSTD_decompressStream's: 0 at a frame's end */
	const char *bad = NULL;
	if (!ds || !in || !outb) {
		rc = hw_error_set(HW_ENOMEM, "out of memory");
		goto done;
	}
	ZSTD_initDStream(ds);
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = hw_error_set(HW_EIO, "a zstd-compressed core: cannot read it: %s",
		                  strerror(errno));
		goto done;
	}
	for (;;) {
		ssize_t got = read(fd, in, in_cap);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = hw_error_set(HW_EIO, "a zstd-compressed core: cannot read it: %s",
			                  strerror(errno));
			goto done;
		}
		if (got == 0)
			break;
		ZSTD_inBuffer ib = {in, (size_t)got, 0};
		while (ib.pos < ib.size && !bad) {
			ZSTD_outBuffer ob = {outb, out_cap, 0};
			last = ZSTD_decompressStream(ds, &ob, &ib);
			if (ZSTD_isError(last))
				bad = ZSTD_getErrorName(last);
			if (ob.pos && write_sparse(tfd, outb, ob.pos, total) < 0) {
				rc = hw_error_set(
				    HW_EIO,
				    "a zstd-compressed core: writing its %" PRIu64
				    " bytes and more to %s failed: %s (set TMPDIR to a "
				    "file system with room)",
				    total + ob.pos, dir, strerror(errno));
				goto done;
			}
			total += ob.pos;
			if (total > max) {
				rc = hw_error_set(HW_EUNSUPPORTED,
				                  "a zstd-compressed core of more than %s MiB "
				                  "(HEAPWALK_ZSTD_MAX_MIB)",
				                  env);
				goto done;
			}
		}
		if (bad)
			break;
	}
	/* the holes at the end, which were skipped, not written */
	if (total && ftruncate(tfd, (off_t)total) < 0) {
		rc = hw_error_set(HW_EIO, "a zstd-compressed core: sizing its copy in %s: %s", dir,
		                  strerror(errno));
		goto done;
	}
	/* what a stream cut short or damaged gave is read as a truncated core */
	if (!total) {
		rc = hw_error_set(HW_ECORRUPT,
		                  "a zstd-compressed file that decompresses to nothing%s%s",
		                  bad ? ": " : "", bad ? bad : "");
		goto done;
	}
	if (bad)
		snprintf(note, note_n,
		         "the zstd stream is damaged (%s) after %" PRIu64
		         " bytes: read as a core cut there",
		         bad, total);
	else if (last)
		snprintf(note, note_n,
		         "the zstd stream ends early, after %" PRIu64
		         " bytes: read as a core cut there",
		         total);
done:
	ZSTD_freeDStream(ds);
	free(in);
	free(outb);
	if (rc) {
		close(tfd);
		return rc;
	}
	*out_fd = tfd;
	*out_size = total;
	return 1;
}
