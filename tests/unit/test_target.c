/*
 * test_target.c: the target layer on synthetic core images the test builds
 * itself: headers, notes (threads, pid, signal, auxv, mapped files), reads
 * inside and across segments, bytes read from a mapped file, and every kind
 * of bad input (empty, not ELF, foreign architecture, not a core, truncated
 * anywhere).  Bad input must give an error code and a one-line message,
 * never a crash.
 */
#include "heapwalk.h"

#include <check.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synthcore.h"

static char file_path[256];
static char core_path[256];

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void setup(void)
{
	snprintf(file_path, sizeof file_path, "/tmp/hw-test-file-%d", (int)getpid());
	snprintf(core_path, sizeof core_path, "/tmp/hw-test-core-%d", (int)getpid());
	uint8_t page[8192];
	for (size_t i = 0; i < sizeof page; i++)
		page[i] = (uint8_t)(i ^ 0x5a);
	write_file(file_path, page, sizeof page);
	img m = synth_core(file_path);
	write_file(core_path, m.b, m.len);
	free(m.b);
}

static void teardown(void)
{
	unlink(file_path);
	unlink(core_path);
}

/* ---- good cores ------------------------------------------------------------------- */

START_TEST(test_notes)
{
	hw_target *t;
	ck_assert_int_eq(hw_target_open_core(&t, core_path, NULL), HW_OK);
	ck_assert_int_eq(hw_target_get_kind(t), HW_TARGET_CORE);
	ck_assert_int_eq(hw_target_pid(t), 1000);
	ck_assert_int_eq(hw_target_signal(t), 6);
	const hw_thread *th;
	ck_assert_uint_eq(hw_target_threads(t, &th), 2);
	ck_assert_int_eq(th[0].tid, 1000);
	ck_assert_int_eq(th[1].tid, 1001);
	ck_assert_uint_eq(th[0].pc, 0x401000);
	ck_assert_uint_eq(th[1].sp, 0x7ff001);
	ck_assert_uint_eq(th[1].fs_base, 0x500001);
	uint64_t v;
	ck_assert_int_eq(hw_target_auxv(t, AT_PAGESZ, &v), HW_OK);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(hw_target_auxv(t, 12345, &v), HW_ENOTFOUND);
	const hw_mapping *maps;
	ck_assert_uint_eq(hw_target_mappings(t, &maps), 4);
	ck_assert_uint_eq(maps[0].start, SEG1);
	ck_assert_uint_eq(maps[1].core_bytes, 0x800);
	ck_assert_str_eq(maps[3].path, file_path);
	ck_assert_int_eq(maps[3].file_ok, 1);
	ck_assert_uint_eq(maps[3].file_offset, 4096);
	ck_assert_ptr_eq(hw_target_mapping_at(t, SEG1 + 0x1fff), &maps[0]);
	ck_assert_ptr_null(hw_target_mapping_at(t, SEG1 + 0x2000));
	hw_target_close(t);
}
END_TEST

#define expect synth_expect

START_TEST(test_reads)
{
	hw_target *t;
	ck_assert_int_eq(hw_target_open_core(&t, core_path, NULL), HW_OK);
	uint8_t buf[0x1000];
	ck_assert_int_eq(hw_read(t, SEG1 + 0x123, buf, 100), HW_OK);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(buf[i], expect(1, SEG1 + 0x123 + i));
	/* across SEG2 (core-held part ends at 0x800) into the unheld part: fails */
	ck_assert_int_eq(hw_read(t, SEG2 + 0x7f0, buf, 0x20), HW_EFAULT);
	ck_assert_str_ne(hw_error_last(), "");
	ck_assert_ptr_null(strchr(hw_error_last(), '\n'));
	/* inside SEG2's held part */
	ck_assert_int_eq(hw_read(t, SEG2 + 0x7f0, buf, 0x10), HW_OK);
	ck_assert_uint_eq(buf[0], expect(2, SEG2 + 0x7f0));
	/* a view is zero-copy and equals a read */
	const uint8_t *v = hw_view(t, SEG3 + 0x10, 0x100);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v[5], expect(3, SEG3 + 0x15));
	ck_assert_ptr_null(hw_view(t, SEG3 + 0xff0, 0x20)); /* past the end */
	/* unmapped, wrapping, below everything */
	ck_assert_int_eq(hw_read(t, 0x10, buf, 8), HW_EFAULT);
	ck_assert_int_eq(hw_read(t, UINT64_MAX - 3, buf, 8), HW_EFAULT);
	ck_assert_int_eq(hw_read(t, SEG1, buf, 0), HW_OK);
	/* strings */
	char s[8];
	ck_assert_int_eq(hw_read_string(t, FILESEG + 0x3, s, sizeof s), HW_ECORRUPT); /* no NUL */
	hw_target_close(t);
}
END_TEST

START_TEST(test_file_fallback)
{
	hw_target *t;
	ck_assert_int_eq(hw_target_open_core(&t, core_path, NULL), HW_OK);
	uint8_t buf[16];
	/* FILESEG maps file page 1: byte i of the mapping is file byte 4096+i */
	ck_assert_int_eq(hw_read(t, FILESEG + 0x10, buf, sizeof buf), HW_OK);
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(buf[i], (uint8_t)((4096 + 0x10 + i) ^ 0x5a));
	hw_target_close(t);

	hw_target_options o = {.no_file_fallback = 1};
	ck_assert_int_eq(hw_target_open_core(&t, core_path, &o), HW_OK);
	ck_assert_int_eq(hw_read(t, FILESEG + 0x10, buf, sizeof buf), HW_EFAULT);
	hw_target_close(t);

	/* the file gone: said once in the warnings, reads fail cleanly */
	unlink(file_path);
	ck_assert_int_eq(hw_target_open_core(&t, core_path, NULL), HW_OK);
	const char *const *w;
	ck_assert_uint_ge(hw_target_warnings(t, &w), 1);
	ck_assert_ptr_nonnull(strstr(w[0], "not found"));
	ck_assert_int_eq(hw_read(t, FILESEG + 0x10, buf, sizeof buf), HW_EFAULT);
	hw_target_close(t);
}
END_TEST

START_TEST(test_truncated_not_from_file)
{
	/* FILESEG's segment as a dump that held its bytes (a written private
	 * file mapping) and a core file cut before them: the file's bytes
	 * (what the page held before the process wrote it) must not stand in
	 * for them. */
	img m = synth_core(file_path);
	ck_assert(synth_cut_fileseg(&m));
	write_file(core_path, m.b, m.len);
	hw_target *t;
	ck_assert_int_eq(hw_target_open_core(&t, core_path, NULL), HW_OK);
	uint64_t have = 0, need = 0;
	ck_assert_int_eq(hw_target_truncated(t, &have, &need), 1);
	ck_assert_uint_eq(have, m.len);
	ck_assert_uint_eq(need, m.len + 0x1000);
	const hw_mapping *mp = hw_target_mapping_at(t, FILESEG);
	ck_assert_ptr_nonnull(mp);
	ck_assert_uint_eq(mp->core_bytes, 0);
	ck_assert_uint_eq(mp->lost_bytes, 0x1000);
	ck_assert_int_eq(mp->file_ok, 1); /* the file is there: it must not be used */
	uint8_t buf[16];
	ck_assert_int_eq(hw_read(t, FILESEG + 0x10, buf, sizeof buf), HW_EFAULT);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "truncated"));
	ck_assert_ptr_null(hw_view(t, FILESEG, 16));
	const char *const *w;
	size_t nw = hw_target_warnings(t, &w), said = 0;
	for (size_t i = 0; i < nw; i++)
		said += strstr(w[i], "core truncated") != NULL;
	ck_assert_uint_eq(said, 1);
	/* the rest reads as before */
	ck_assert_int_eq(hw_read(t, SEG1 + 0x10, buf, sizeof buf), HW_OK);
	ck_assert_uint_eq(buf[0], synth_expect(1, SEG1 + 0x10));
	hw_target_close(t);
	free(m.b);

	/* the whole core is not truncated; its FILESEG reads from the file */
	m = synth_core(file_path);
	write_file(core_path, m.b, m.len);
	ck_assert_int_eq(hw_target_open_core(&t, core_path, NULL), HW_OK);
	ck_assert_int_eq(hw_target_truncated(t, NULL, NULL), 0);
	ck_assert_uint_eq(hw_target_mapping_at(t, FILESEG)->lost_bytes, 0);
	ck_assert_int_eq(hw_read(t, FILESEG + 0x10, buf, sizeof buf), HW_OK);
	hw_target_close(t);
	free(m.b);
}
END_TEST

/* Every mapping of a and b reads the same (the first 64 KiB of each). */
static void same_reads(hw_target *a, hw_target *b)
{
	const hw_mapping *ma, *mb;
	size_t n = hw_target_mappings(a, &ma);
	ck_assert_uint_eq(hw_target_mappings(b, &mb), n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(ma[i].start, mb[i].start);
		ck_assert_uint_eq(ma[i].core_bytes, mb[i].core_bytes);
		ck_assert_uint_eq(ma[i].lost_bytes, mb[i].lost_bytes);
		uint64_t len = ma[i].end - ma[i].start;
		uint8_t x[65536], y[65536];
		if (len > sizeof x)
			len = sizeof x;
		int ra = hw_read(a, ma[i].start, x, len), rb = hw_read(b, mb[i].start, y, len);
		ck_assert_int_eq(ra, rb);
		if (ra == HW_OK)
			ck_assert_int_eq(memcmp(x, y, len), 0);
	}
}

START_TEST(test_compressed)
{
	/* A zstd core (systemd-coredump's .zst) reads as the core itself;
	 * one cut short reads as a truncated core; other compressions and
	 * damaged streams are one-line errors. */
	img m = synth_core(file_path);
	img z = synth_zstd_frames(&m);
	char zpath[300];
	snprintf(zpath, sizeof zpath, "%s.zst", core_path);
	write_file(core_path, m.b, m.len);
	write_file(zpath, z.b, z.len);
	hw_target *t, *tz;
	ck_assert_int_eq(hw_target_open_core(&t, core_path, NULL), HW_OK);
	ck_assert_int_eq(hw_target_open_core(&tz, zpath, NULL), HW_OK);
	ck_assert_str_eq(hw_target_path(tz), zpath);
	ck_assert_int_eq(hw_target_pid(tz), 1000);
	same_reads(t, tz);
	ck_assert_int_eq(hw_target_truncated(tz, NULL, NULL), 0);
	const char *const *w;
	size_t nw = hw_target_warnings(tz, &w), said = 0;
	for (size_t i = 0; i < nw; i++)
		said += strstr(w[i], "zstd-compressed") != NULL;
	ck_assert_uint_eq(said, 1);
	hw_target_close(tz);
	hw_target_close(t);

	/* cut short: the part it holds, read as a core cut there */
	write_file(zpath, z.b, z.len - 8);
	ck_assert_int_eq(hw_target_open_core(&tz, zpath, NULL), HW_OK);
	uint64_t have, need;
	ck_assert_int_eq(hw_target_truncated(tz, &have, &need), 1);
	ck_assert_uint_lt(have, m.len);
	ck_assert_uint_eq(need, m.len);
	hw_target_close(tz);

	/* nowhere to decompress to: says so, and which variable to set */
	write_file(zpath, z.b, z.len);
	char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
	setenv("TMPDIR", "/nonexistent-heapwalk-dir", 1);
	ck_assert_int_eq(hw_target_open_core(&tz, zpath, NULL), HW_EIO);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "TMPDIR"));
	if (old)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);

	/* damaged after the magic: an error, on one line */
	memset(z.b + 4, 0xff, z.len - 4);
	write_file(zpath, z.b, z.len);
	ck_assert_int_eq(hw_target_open_core(&tz, zpath, NULL), HW_ECORRUPT);
	ck_assert_ptr_null(strchr(hw_error_last(), '\n'));

	/* xz: how to decompress it */
	static const uint8_t xz[12] = {0xfd, '7', 'z', 'X', 'Z', 0, 1, 2, 3, 4, 5, 6};
	write_file(zpath, xz, sizeof xz);
	ck_assert_int_eq(hw_target_open_core(&tz, zpath, NULL), HW_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "xz -dk"));

	unlink(zpath);
	free(z.b);
	free(m.b);
}
END_TEST

START_TEST(test_sysroot)
{
	/* A sysroot prefixes every path the core names. */
	char dir[256], sub[2048];
	snprintf(dir, sizeof dir, "/tmp/hw-sysroot-%d", (int)getpid());
	snprintf(sub, sizeof sub, "mkdir -p %s/tmp && cp %s %s%s", dir, file_path, dir, file_path);
	ck_assert_int_eq(system(sub), 0);
	unlink(file_path);
	hw_target *t;
	hw_target_options o = {.sysroot = dir};
	ck_assert_int_eq(hw_target_open_core(&t, core_path, &o), HW_OK);
	uint8_t b;
	ck_assert_int_eq(hw_read(t, FILESEG, &b, 1), HW_OK);
	ck_assert_uint_eq(b, (uint8_t)(4096 ^ 0x5a));
	hw_target_close(t);
	snprintf(sub, sizeof sub, "rm -rf %s", dir);
	ck_assert_int_eq(system(sub), 0);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------- */

static int open_bytes(const void *p, size_t n)
{
	write_file(core_path, p, n);
	hw_target *t = NULL;
	int rc = hw_target_open_core(&t, core_path, NULL);
	if (rc == HW_OK) {
		/* a result: it must still answer without crashing */
		const hw_mapping *m;
		size_t nm = hw_target_mappings(t, &m);
		uint8_t buf[64];
		for (size_t i = 0; i < nm; i++)
			hw_read(t, m[i].start, buf, sizeof buf);
		/* libdwfl's module report is the slow part: on one in ten */
		static unsigned every;
		const hw_module *mods;
		if (every++ % 10 == 0)
			hw_target_modules(t, &mods);
		hw_target_close(t);
	} else {
		ck_assert_ptr_null(t);
		ck_assert_str_ne(hw_error_last(), "");
		ck_assert_ptr_null(strchr(hw_error_last(), '\n'));
	}
	return rc;
}

START_TEST(test_bad_files)
{
	hw_target *t;
	ck_assert_int_eq(hw_target_open_core(&t, "/nonexistent/core", NULL), HW_EIO);
	ck_assert_int_eq(hw_target_open_core(&t, "/tmp", NULL), HW_EIO);
	ck_assert_int_eq(open_bytes("", 0), HW_EUNSUPPORTED);
	ck_assert_int_eq(open_bytes("hello world, not an ELF file at all, really not one.....", 56),
	                 HW_EUNSUPPORTED);
	img m = synth_core(file_path);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)m.b;
	eh->e_machine = EM_AARCH64;
	ck_assert_int_eq(open_bytes(m.b, m.len), HW_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "architecture"));
	eh->e_machine = EM_X86_64;
	eh->e_type = ET_EXEC;
	ck_assert_int_eq(open_bytes(m.b, m.len), HW_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(hw_error_last(), "not a core"));
	eh->e_type = ET_CORE;
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	ck_assert_int_eq(open_bytes(m.b, m.len), HW_EUNSUPPORTED);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_phoff = 1u << 30; /* program headers past the end */
	ck_assert_int_eq(open_bytes(m.b, m.len), HW_ECORRUPT);
	free(m.b);
}
END_TEST

START_TEST(test_truncated_everywhere)
{
	/* Every prefix of the core: an error or a result, never a crash. */
	img m = synth_core(file_path);
	int ok = 0, err = 0;
	for (size_t n = 0; n < m.len; n += (n < 2048 ? 1 : 509)) {
		if (open_bytes(m.b, n) == HW_OK)
			ok++;
		else
			err++;
	}
	ck_assert_int_gt(err, 0);
	ck_assert_int_gt(ok, 0); /* truncated segments still give a result */
	free(m.b);
}
END_TEST

START_TEST(test_scribbled)
{
	/* Random bytes over the notes and headers: never a crash. */
	img m = synth_core(file_path);
	unsigned seed = 12345;
	for (int round = 0; round < 300; round++) {
		img c = {malloc(m.len), m.len, m.len};
		memcpy(c.b, m.b, m.len);
		for (int k = 0; k < 8; k++) {
			seed = seed * 1103515245 + 12345;
			size_t at = (seed >> 8) % 1200; /* headers and notes live here */
			c.b[at] = (uint8_t)(seed >> 3);
		}
		open_bytes(c.b, c.len);
		free(c.b);
	}
	free(m.b);
}
END_TEST

/* ---- callback target --------------------------------------------------------------------- */

static int cb_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const uint8_t *mem = ctx;
	if (addr < 0x10000 || addr + len > 0x10000 + 0x30000)
		return -1;
	memcpy(buf, mem + (addr - 0x10000), len);
	return 0;
}

START_TEST(test_callback)
{
	uint8_t *mem = malloc(0x30000);
	for (int i = 0; i < 0x30000; i++)
		mem[i] = (uint8_t)(i * 13);
	hw_read_callbacks cb = {cb_read, mem};
	hw_target *t;
	ck_assert_int_eq(hw_target_open_callback(&t, &cb, 0, NULL), HW_OK);
	uint8_t b[64];
	ck_assert_int_eq(hw_read(t, 0x10000 + 0x1234, b, 64), HW_OK);
	ck_assert_uint_eq(b[3], (uint8_t)((0x1234 + 3) * 13));
	/* the last bytes before the end, in a block that straddles it */
	ck_assert_int_eq(hw_read(t, 0x40000 - 8, b, 8), HW_OK);
	ck_assert_int_eq(hw_read(t, 0x40000 - 4, b, 8), HW_EFAULT);
	const uint8_t *v = hw_view(t, 0x10000 + 0xfff0, 0x40); /* spans two blocks */
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v[0x20], (uint8_t)((0xfff0 + 0x20) * 13));
	hw_mapping mp = {.start = 0x10000, .end = 0x40000, .perms = HW_PERM_R | HW_PERM_W};
	ck_assert_int_eq(hw_target_add_mapping(t, &mp), HW_OK);
	ck_assert_ptr_nonnull(hw_target_mapping_at(t, 0x20000));
	hw_thread th = {.tid = 7, .fs_base = 0x1234};
	ck_assert_int_eq(hw_target_add_thread(t, &th), HW_OK);
	const hw_thread *ths;
	ck_assert_uint_eq(hw_target_threads(t, &ths), 1);
	ck_assert_uint_eq(ths[0].fs_base, 0x1234);
	hw_target_close(t);
	free(mem);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("target");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_notes);
	tcase_add_test(tc, test_reads);
	tcase_add_test(tc, test_file_fallback);
	tcase_add_test(tc, test_truncated_not_from_file);
	tcase_add_test(tc, test_compressed);
	tcase_add_test(tc, test_sysroot);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_truncated_everywhere);
	tcase_add_test(tc, test_scribbled);
	tcase_add_test(tc, test_callback);
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
