/*
 * layout_cache.c: the malloc structure layout read from a libc's DWARF,
 * kept on disk so the next run does not read the DWARF again.
 *
 * Reading the layout means loading the debug file's DWARF, which
 * distributions ship compressed: libdw inflates every debug section when it
 * opens the file (libc6-dbg on Debian 12: about 40 ms and 12 MiB), for a
 * few dozen numbers.  Those numbers depend only on the debug file, so they
 * are written to $XDG_CACHE_HOME/heapwalk (else ~/.cache/heapwalk), one
 * small text file per libc build-id.
 *
 * Invariants: an entry is used only when its format version, build-id,
 * glibc minor version, debug file path, size and modification time all
 * match, every field is there once with an offset in the range the DWARF
 * reader accepts, and the closing "end" line is there (a cut file lacks it);
 * anything else (missing, damaged, stale, unwritable) means reading the
 * DWARF as before, then rewriting the entry (a whole new file renamed into
 * place).  Deleting the directory is always safe.  HEAPWALK_NO_CACHE set
 * in the environment turns the cache off.
 */
#include "glibc_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "heapwalk-glibc-layout 2" /* 2: tc_bins ... mmap_243 */

/* Every field of struct gw_layout is a 4-byte int. */
/* clang-format off */
#define F(name) {#name, offsetof(struct gw_layout, name)}
/* clang-format on */
static const struct {
	const char *name;
	size_t off;
} fields[] = {
    F(minor),
    F(ms_flags),
    F(ms_fastbins),
    F(ms_top),
    F(ms_last_remainder),
    F(ms_bins),
    F(ms_next),
    F(ms_system_mem),
    F(ms_size),
    F(mp_mmap_threshold),
    F(mp_n_mmaps),
    F(mp_mmapped_mem),
    F(mp_sbrk_base),
    F(mp_tcache_bins),
    F(mp_tcache_count),
    F(mp_hp_pagesize),
    F(mp_size),
    F(hi_ar_ptr),
    F(hi_prev),
    F(hi_size),
    F(hi_sizeof),
    F(tc_counts),
    F(tc_count_width),
    F(tc_entries),
    F(tc_size),
    F(tc_bins),
    F(tc_slots),
    F(safe_linking),
    F(n_fastbins),
    F(mmap_243),
};
#undef F

_Static_assert(sizeof(struct gw_layout) == HW_ARRAY_SIZE(fields) * 4,
               "every gw_layout field is in the cache table");

/* The entry's path for build_id, or NULL (no cache, no HOME, no id). */
static char *entry_path(const char *build_id)
{
	if (!build_id || !*build_id || strspn(build_id, "0123456789abcdef") != strlen(build_id) ||
	    getenv("HEAPWALK_NO_CACHE"))
		return NULL;
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = NULL;
	int n;
	if (xdg && *xdg == '/')
		n = asprintf(&p, "%s/heapwalk/glibc-%s.layout", xdg, build_id);
	else if (home && *home == '/')
		n = asprintf(&p, "%s/.cache/heapwalk/glibc-%s.layout", home, build_id);
	else
		return NULL;
	return n < 0 ? NULL : p;
}

/* The identity of the debug file: path, size, modification time. */
static int file_id(const char *path, char *out, size_t cap)
{
	struct stat st;
	if (!path || strchr(path, '\n') || stat(path, &st) != 0)
		return -1;
	int n = snprintf(out, cap, "%s\t%jd\t%jd.%09ld", path, (intmax_t)st.st_size,
	                 (intmax_t)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int gw_layout_cache_get(const char *build_id, const char *debug_path, struct gw_layout *L)
{
	char *path = entry_path(build_id);
	char id[4200], line[4400];
	if (!path || file_id(debug_path, id, sizeof id) < 0) {
		free(path);
		return -1;
	}
	FILE *f = fopen(path, "r");
	free(path);
	if (!f)
		return -1;
	struct gw_layout got = {0};
	unsigned seen = 0;
	int end = 0;
	int ok = fgets(line, sizeof line, f) && !strcmp(line, CACHE_MAGIC "\n") &&
	         fgets(line, sizeof line, f) && !strncmp(line, "debug ", 6) &&
	         strlen(line) == 6 + strlen(id) + 1 && !strncmp(line + 6, id, strlen(id));
	while (ok && !end && fgets(line, sizeof line, f)) {
		char name[32];
		if (!strcmp(line, "end\n")) {
			end = 1;
			break;
		}
		long long v;
		if (sscanf(line, "%31s %lld", name, &v) != 2 || v < -1 || v >= 65536) {
			ok = 0;
			break;
		}
		size_t k;
		for (k = 0; k < HW_ARRAY_SIZE(fields) && strcmp(fields[k].name, name); k++)
			;
		if (k == HW_ARRAY_SIZE(fields) || seen >> k & 1) {
			ok = 0;
			break;
		}
		int32_t v32 = (int32_t)v;
		memcpy((char *)&got + fields[k].off, &v32, 4);
		seen |= 1u << k;
	}
	fclose(f);
	if (!ok || !end || seen != (1u << HW_ARRAY_SIZE(fields)) - 1 || got.minor != L->minor)
		return -1;
	*L = got;
	return 0;
}

void gw_layout_cache_put(const char *build_id, const char *debug_path, const struct gw_layout *L)
{
	char *path = entry_path(build_id);
	char id[4200];
	if (!path || file_id(debug_path, id, sizeof id) < 0) {
		free(path);
		return;
	}
	/* mkdir -p of the entry's directory (0700: it is the user's) */
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		int rc = mkdir(path, 0700);
		*s = '/';
		if (rc != 0 && errno != EEXIST)
			break;
	}
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.%d.tmp", path, (int)getpid()) < 0) {
		free(path);
		return;
	}
	FILE *f = fopen(tmp, "w");
	if (f) {
		fprintf(f, CACHE_MAGIC "\ndebug %s\n", id);
		for (size_t k = 0; k < HW_ARRAY_SIZE(fields); k++) {
			int32_t v;
			memcpy(&v, (const char *)L + fields[k].off, 4);
			fprintf(f, "%s %d\n", fields[k].name, (int)v);
		}
		fputs("end\n", f); /* a cut file lacks it */
		if (fclose(f) == 0 && rename(tmp, path) == 0) {
			free(tmp);
			free(path);
			return;
		}
	}
	unlink(tmp);
	free(tmp);
	free(path);
}
