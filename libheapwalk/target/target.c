/*
 * target.c: what every kind of target shares: creation and options,
 * accessors, the read API (dispatching to core.c or the block cache of
 * live.c), mappings, threads and warnings.
 *
 * Invariant: hw_read never touches memory outside what the core file, a
 * mapped file or the process provides: every failure is HW_EFAULT with a
 * message naming the address.
 */
#include "target_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int hw_target_new(hw_target **out, hw_target_kind kind, const hw_target_options *opts)
{
	hw_target *t = calloc(1, sizeof *t);
	if (!t)
		return hw_error_set(HW_ENOMEM, "out of memory");
	t->kind = kind;
	t->fd = -1;
	t->mem_fd = -1;
	if (opts) {
		if (opts->exe && !(t->exe = strdup(opts->exe)))
			goto nomem;
		if (opts->sysroot && *opts->sysroot && !(t->sysroot = strdup(opts->sysroot)))
			goto nomem;
		t->no_file_fallback = opts->no_file_fallback;
	}
	/* libdwfl's debuginfo path: ":.debug:DIR..." (the leading ':' keeps
	 * CRC checks; ".debug" is the module's own folder convention). */
	size_t n = 0, len = 16;
	const char *def[] = {"/usr/lib/debug", NULL};
	const char **dirs = opts && opts->debug_dirs ? opts->debug_dirs : def;
	for (n = 0; dirs[n]; n++)
		len += strlen(dirs[n]) + 1;
	t->debug_dirs = calloc(n + 1, sizeof *t->debug_dirs);
	t->debuginfo_path = malloc(len);
	if (!t->debug_dirs || !t->debuginfo_path)
		goto nomem;
	strcpy(t->debuginfo_path, ":.debug");
	for (size_t i = 0; i < n; i++) {
		if (!(t->debug_dirs[i] = strdup(dirs[i])))
			goto nomem;
		strcat(t->debuginfo_path, ":");
		strcat(t->debuginfo_path, dirs[i]);
	}
	*out = t;
	return HW_OK;
nomem:
	hw_target_close(t);
	return hw_error_set(HW_ENOMEM, "out of memory");
}

void hw_target_close(hw_target *t)
{
	if (!t)
		return;
	/* Detach first: whatever else fails below, the process runs again. */
	hw_live_close(t);
	hw_modules_free(t);
	hw_core_close(t);
	hw_cache_free(t);
	for (size_t i = 0; i < t->nmaps; i++)
		free((char *)t->maps[i].path);
	free(t->maps);
	free(t->threads);
	free(t->auxv);
	for (size_t i = 0; i < t->nwarnings; i++)
		free(t->warnings[i]);
	free(t->warnings);
	for (size_t i = 0; t->debug_dirs && t->debug_dirs[i]; i++)
		free(t->debug_dirs[i]);
	free(t->debug_dirs);
	free(t->debuginfo_path);
	free(t->sysroot);
	free(t->exe);
	free(t->path);
	free(t);
}

hw_target_kind hw_target_get_kind(const hw_target *t)
{
	return t->kind;
}

const char *hw_target_path(const hw_target *t)
{
	return t->path;
}

pid_t hw_target_pid(const hw_target *t)
{
	return t->pid;
}

const char *hw_target_executable(const hw_target *t)
{
	return t->exe;
}

int hw_target_signal(const hw_target *t)
{
	return t->signal;
}

int hw_target_warn(hw_target *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < t->nwarnings; i++)
		if (!strcmp(t->warnings[i], buf))
			return 0;
	char **w = realloc(t->warnings, (t->nwarnings + 1) * sizeof *w);
	if (!w)
		return -1;
	t->warnings = w;
	if (!(w[t->nwarnings] = strdup(buf)))
		return -1;
	t->nwarnings++;
	return 0;
}

size_t hw_target_warnings(const hw_target *t, const char *const **out)
{
	*out = (const char *const *)t->warnings;
	return t->nwarnings;
}

char *hw_target_sysroot_path(const hw_target *t, const char *path)
{
	if (!path)
		return NULL;
	if (!t->sysroot || path[0] != '/')
		return strdup(path);
	size_t a = strlen(t->sysroot), b = strlen(path);
	char *s = malloc(a + b + 1);
	if (s) {
		memcpy(s, t->sysroot, a);
		memcpy(s + a, path, b + 1);
	}
	return s;
}

/* ---- mappings and threads ------------------------------------------------ */

int hw_target_push_mapping(hw_target *t, const hw_mapping *m)
{
	if (hw_grow((void **)&t->maps, sizeof *t->maps, &t->maps_cap, t->nmaps + 1))
		return hw_error_set(HW_ENOMEM, "out of memory");
	hw_mapping *d = &t->maps[t->nmaps];
	*d = *m;
	d->path = NULL;
	if (m->path && !(d->path = strdup(m->path)))
		return hw_error_set(HW_ENOMEM, "out of memory");
	t->nmaps++;
	return HW_OK;
}

static int cmp_mapping(const void *a, const void *b)
{
	const hw_mapping *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

void hw_target_sort_mappings(hw_target *t)
{
	if (t->nmaps > 1)
		qsort(t->maps, t->nmaps, sizeof *t->maps, cmp_mapping);
}

int hw_target_add_mapping(hw_target *t, const hw_mapping *m)
{
	if (!m || m->end <= m->start)
		return hw_error_set(HW_EINVAL, "empty mapping");
	for (size_t i = 0; i < t->nmaps; i++)
		if (t->maps[i].start < m->end && m->start < t->maps[i].end) {
			/* Replace an overlapping one: the caller knows better. */
			free((char *)t->maps[i].path);
			t->maps[i] = t->maps[--t->nmaps];
			i--;
		}
	int rc = hw_target_push_mapping(t, m);
	hw_target_sort_mappings(t);
	return rc;
}

size_t hw_target_mappings(const hw_target *t, const hw_mapping **out)
{
	*out = t->maps;
	return t->nmaps;
}

const hw_mapping *hw_target_mapping_at(const hw_target *t, uint64_t addr)
{
	size_t lo = 0, hi = t->nmaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < t->maps[mid].start)
			hi = mid;
		else if (addr >= t->maps[mid].end)
			lo = mid + 1;
		else
			return &t->maps[mid];
	}
	return NULL;
}

int hw_target_push_thread(hw_target *t, const hw_thread *th)
{
	if (hw_grow((void **)&t->threads, sizeof *t->threads, &t->threads_cap, t->nthreads + 1))
		return hw_error_set(HW_ENOMEM, "out of memory");
	t->threads[t->nthreads++] = *th;
	return HW_OK;
}

int hw_target_add_thread(hw_target *t, const hw_thread *th)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == th->tid) {
			t->threads[i] = *th;
			return HW_OK;
		}
	return hw_target_push_thread(t, th);
}

size_t hw_target_threads(const hw_target *t, const hw_thread **out)
{
	*out = t->threads;
	return t->nthreads;
}

int hw_target_auxv(hw_target *t, uint64_t type, uint64_t *value)
{
	for (size_t i = 0; i < t->nauxv; i++)
		if (t->auxv[2 * i] == type) {
			*value = t->auxv[2 * i + 1];
			return HW_OK;
		}
	return hw_error_set(HW_ENOTFOUND, "auxv entry %" PRIu64 " not present", type);
}

/* Parse /proc/PID/maps into t->maps (live and callback targets). */
int hw_target_read_proc_maps(hw_target *t, pid_t pid)
{
	char name[64], line[4096 + 256];
	snprintf(name, sizeof name, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(name, "re");
	if (!f)
		return hw_error_set(HW_EIO, "cannot read %s: %s", name, strerror(errno));
	while (fgets(line, sizeof line, f)) {
		uint64_t start, end, off;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s%n", &start, &end,
		           perms, &off, &pos) < 4)
			continue;
		char *path = line + pos;
		while (*path == ' ' || *path == '\t')
			path++;
		path[strcspn(path, "\n")] = 0;
		hw_mapping m = {.start = start, .end = end, .file_offset = off};
		m.perms = (perms[0] == 'r' ? HW_PERM_R : 0) | (perms[1] == 'w' ? HW_PERM_W : 0) |
		          (perms[2] == 'x' ? HW_PERM_X : 0) |
		          (perms[3] == 's' ? HW_PERM_SHARED : 0);
		m.path = *path ? path : NULL;
		m.core_bytes = end - start;
		m.file_ok = m.path && m.path[0] == '/';
		if (hw_target_push_mapping(t, &m)) {
			fclose(f);
			return HW_ENOMEM;
		}
	}
	fclose(f);
	hw_target_sort_mappings(t);
	return HW_OK;
}

/* ---- the read API -------------------------------------------------------- */

int hw_read(hw_target *t, uint64_t addr, void *buf, size_t len)
{
	if (len == 0)
		return HW_OK;
	if (addr + len < addr)
		return hw_error_set(HW_EFAULT, "0x%" PRIx64 ": read of %zu bytes wraps", addr, len);
	if (t->kind == HW_TARGET_CORE)
		return hw_core_read(t, addr, buf, len);
	if (t->gone)
		return hw_error_set(HW_EIO, "pid %d ended while it was read", (int)t->pid);
	return hw_cached_read(t, addr, buf, len);
}

int hw_target_gone(const hw_target *t)
{
	return t && t->gone;
}

int hw_read_u64(hw_target *t, uint64_t addr, uint64_t *out)
{
	return hw_read(t, addr, out, sizeof *out);
}

int hw_read_u32(hw_target *t, uint64_t addr, uint32_t *out)
{
	return hw_read(t, addr, out, sizeof *out);
}

int hw_read_string(hw_target *t, uint64_t addr, char *buf, size_t cap)
{
	if (cap == 0)
		return hw_error_set(HW_EINVAL, "no room");
	size_t n = 0;
	/* Read in small pieces so a string near the end of a mapping works. */
	while (n + 1 < cap) {
		size_t want = 64 - ((addr + n) & 63);
		if (want > cap - 1 - n)
			want = cap - 1 - n;
		if (hw_read(t, addr + n, buf + n, want) != HW_OK) {
			buf[n] = 0;
			return HW_EFAULT;
		}
		for (size_t i = 0; i < want; i++)
			if (buf[n + i] == 0)
				return HW_OK;
		n += want;
	}
	buf[n] = 0;
	return hw_error_set(HW_ECORRUPT, "0x%" PRIx64 ": string longer than %zu bytes", addr,
	                    cap - 1);
}

const void *hw_view(hw_target *t, uint64_t addr, size_t len)
{
	if (len == 0 || addr + len < addr)
		return NULL;
	if (t->kind == HW_TARGET_CORE)
		return hw_core_view(t, addr, len);
	return hw_cached_view(t, addr, len);
}

int hw_target_prefetch(hw_target *t, uint64_t addr, uint64_t len)
{
	if (len == 0 || addr + len < addr)
		return hw_error_set(HW_EINVAL, "0x%" PRIx64 ": bad range of %" PRIu64 " bytes",
		                    addr, len);
	if (t->kind == HW_TARGET_CORE)
		return hw_core_prefetch(t, addr, len);
	return hw_live_prefetch(t, addr, len);
}

int hw_target_data_extent(hw_target *t, uint64_t addr, uint64_t end, uint64_t *lo, uint64_t *hi)
{
	if (!t || !lo || !hi || end <= addr)
		return hw_error_set(HW_EINVAL, "empty range");
	*lo = addr;
	*hi = end;
	if (t->kind == HW_TARGET_CORE)
		hw_core_data_extent(t, addr, end, lo, hi);
	else if (t->kind == HW_TARGET_LIVE)
		hw_live_data_extent(t, addr, end, lo, hi);
	return HW_OK;
}

uint64_t hw_target_heap_floor(hw_target *t, uint64_t start, uint64_t end)
{
	const hw_thread *th;
	size_t n = t ? hw_target_threads(t, &th) : 0;
	uint64_t floor = start;
	for (size_t i = 0; i < n; i++) {
		uint64_t sp = th[i].sp & ~(uint64_t)4095;
		if (th[i].sp >= start && th[i].sp < end && th[i].fs_base > th[i].sp &&
		    th[i].fs_base < end && sp > floor)
			floor = sp;
	}
	return floor;
}

uint64_t hw_module_data_find(hw_target *t, const hw_module *m, size_t size,
                             int (*fits)(void *ctx, const uint8_t *p, uint64_t addr), void *ctx)
{
	const hw_mapping *maps;
	size_t n = hw_target_mappings(t, &maps);
	int prev_own = 0;
	for (size_t i = 0; i < n && m && m->name; i++) {
		const hw_mapping *x = &maps[i];
		int own = x->path && !strcmp(x->path, m->name);
		int bss = !x->path && prev_own && maps[i - 1].end == x->start;
		prev_own = own && (x->perms & HW_PERM_W);
		if (!(x->perms & HW_PERM_W) || !(own || bss))
			continue;
		size_t len = x->end - x->start;
		uint8_t *w = len <= (64u << 20) ? malloc(len) : NULL;
		if (!w || hw_read(t, x->start, w, len) != HW_OK) {
			free(w);
			continue;
		}
		for (size_t o = 0; o + size <= len; o += 8)
			if (fits(ctx, w + o, x->start + o)) {
				free(w);
				return x->start + o;
			}
		free(w);
	}
	return 0;
}

void hw_target_advise_walk(hw_target *t, uint64_t addr, uint64_t len)
{
	if (t && t->kind == HW_TARGET_CORE && len && addr + len > addr)
		hw_core_advise_walk(t, addr, len);
}

int hw_target_stream(hw_target *t, uint64_t addr, uint64_t len)
{
	if (len == 0 || addr + len < addr)
		return hw_error_set(HW_EINVAL, "0x%" PRIx64 ": bad range of %" PRIu64 " bytes",
		                    addr, len);
	if (t->kind != HW_TARGET_LIVE)
		return HW_OK;
	return hw_live_stream(t, addr, len);
}

const void *hw_view_cheap(hw_target *t, uint64_t addr, size_t len)
{
	if (len == 0 || addr + len < addr)
		return NULL;
	if (t->kind == HW_TARGET_CORE)
		return hw_core_view(t, addr, len);
	return hw_bulk_view(t, addr, len);
}
