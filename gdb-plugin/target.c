/*
 * target.c: open the debugger's target from its description.
 *
 * The Python glue describes what only the debugger knows, as a dict:
 *
 *   {"kind": "core", "core": PATH, "exe": PATH|None}
 *       a core file: opened directly (mmapped), never read through the
 *       debugger;
 *   {"kind": "live", "pid": N, "exe": ..., "threads": [(tid, pc, sp, fs_base), ...]}
 *       a local process the debugger holds stopped: /proc/PID/mem read
 *       directly; the registers come from the debugger (fs_base is how the
 *       glibc walker finds each thread's tcache);
 *   {"kind": "callback", "pid": N, "exe": ..., "threads": [...],
 *    "read": read(addr, len) -> bytes, "mappings": [(start, end, offset, "r-xp", path|None), ...]}
 *       anything else (gdbserver, lldb-server elsewhere), or any process
 *       with --through-debugger: reads go through the debugger, in
 *       libheapwalk's block cache.
 *
 * Nothing here trusts the description: wrong types are one-line errors.
 */
#include "config.h"

#include "plugin.h"

#include <stdlib.h>
#include <string.h>

/* ---- reads through the debugger ------------------------------------------ */

/* hw_read_callbacks.read: call run->read(addr, len).  A debugger error
 * (unreadable memory) is a failed read; a KeyboardInterrupt (raised by the
 * read or seen before it) is stashed, every read after it fails, the walk
 * stops at its next progress report and the command raises it. */
static int py_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	hwp_run *run = ctx;
	if (hwp_poll_interrupt(run))
		return -1;
	PyObject *r = PyObject_CallFunction(run->read, "KK", (unsigned long long)addr,
	                                    (unsigned long long)len);
	if (!r) {
		if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
			PyErr_Fetch(&run->exc_type, &run->exc_value, &run->exc_tb);
			run->interrupted = 1;
		} else
			PyErr_Clear();
		return -1;
	}
	Py_buffer view;
	int rc = -1;
	if (PyObject_GetBuffer(r, &view, PyBUF_SIMPLE) == 0) {
		if ((size_t)view.len == len) {
			memcpy(buf, view.buf, len);
			rc = 0;
		}
		PyBuffer_Release(&view);
	} else
		PyErr_Clear();
	Py_DECREF(r);
	return rc;
}

/* ---- description fields ----------------------------------------------------- */

/* A string item of the dict, NULL when absent or None; -1 on a bad type. */
static int get_str(PyObject *d, const char *key, const char **out)
{
	*out = NULL;
	PyObject *v = PyDict_GetItemString(d, key); /* borrowed */
	if (!v || v == Py_None)
		return 0;
	if (!PyUnicode_Check(v)) {
		hwp_fail("target", "description: '%s' is not a string", key);
		return -1;
	}
	*out = PyUnicode_AsUTF8(v);
	return *out ? 0 : -1;
}

static int get_u64(PyObject *v, uint64_t *out)
{
	if (!PyLong_Check(v))
		return -1;
	unsigned long long u = PyLong_AsUnsignedLongLongMask(v);
	if (u == (unsigned long long)-1 && PyErr_Occurred())
		return -1;
	*out = u;
	return 0;
}

static int add_threads(hw_target *t, PyObject *d)
{
	PyObject *list = PyDict_GetItemString(d, "threads");
	if (!list || list == Py_None)
		return 0;
	PyObject *seq = PySequence_Fast(list, "threads must be a list");
	if (!seq)
		return -1;
	int rc = 0;
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && !rc; i++) {
		PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
		uint64_t v[4];
		if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 4) {
			rc = -1;
			break;
		}
		for (int k = 0; k < 4 && !rc; k++)
			rc = get_u64(PyTuple_GET_ITEM(it, k), &v[k]);
		if (rc)
			break;
		hw_thread th = {.tid = (pid_t)v[0], .pc = v[1], .sp = v[2], .fs_base = v[3]};
		if (hw_target_add_thread(t, &th) != HW_OK) {
			hwp_fail("target", "%s", hw_error_last());
			Py_DECREF(seq);
			return -1;
		}
	}
	Py_DECREF(seq);
	if (rc) {
		PyErr_Clear();
		hwp_fail("target", "description: threads are (tid, pc, sp, fs_base) tuples");
	}
	return rc;
}

static unsigned parse_perms(const char *p)
{
	unsigned perms = 0;
	if (p[0] == 'r')
		perms |= HW_PERM_R;
	if (p[0] && p[1] == 'w')
		perms |= HW_PERM_W;
	if (p[0] && p[1] && p[2] == 'x')
		perms |= HW_PERM_X;
	if (p[0] && p[1] && p[2] && p[3] == 's')
		perms |= HW_PERM_SHARED;
	return perms;
}

static int add_mappings(hw_target *t, PyObject *d)
{
	PyObject *list = PyDict_GetItemString(d, "mappings");
	if (!list || list == Py_None) {
		hwp_fail("target", "the debugger gave no memory map of the target");
		return -1;
	}
	PyObject *seq = PySequence_Fast(list, "mappings must be a list");
	if (!seq)
		return -1;
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
		PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
		uint64_t start, end, off;
		if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 5 ||
		    get_u64(PyTuple_GET_ITEM(it, 0), &start) ||
		    get_u64(PyTuple_GET_ITEM(it, 1), &end) ||
		    get_u64(PyTuple_GET_ITEM(it, 2), &off) ||
		    !PyUnicode_Check(PyTuple_GET_ITEM(it, 3))) {
			PyErr_Clear();
			Py_DECREF(seq);
			hwp_fail("target", "description: mappings are (start, end, offset, "
			                   "perms, path) tuples");
			return -1;
		}
		const char *perms = PyUnicode_AsUTF8(PyTuple_GET_ITEM(it, 3));
		PyObject *po = PyTuple_GET_ITEM(it, 4);
		const char *path = PyUnicode_Check(po) ? PyUnicode_AsUTF8(po) : NULL;
		if (!perms) {
			Py_DECREF(seq);
			return -1;
		}
		if (end <= start)
			continue;
		hw_mapping m = {
		    .start = start,
		    .end = end,
		    .file_offset = off,
		    .perms = parse_perms(perms),
		    .path = path && *path ? path : NULL,
		    .core_bytes = end - start,
		};
		if (hw_target_add_mapping(t, &m) != HW_OK) {
			Py_DECREF(seq);
			hwp_fail("target", "%s", hw_error_last());
			return -1;
		}
	}
	Py_DECREF(seq);
	return 0;
}

/* ---- opening -------------------------------------------------------------- */

int hwp_target_open(hwp_run *run, const hwp_target_args *ta, hw_target **out, char **label)
{
	*out = NULL;
	*label = NULL;
	PyObject *d = PyObject_CallFunctionObjArgs(run->describe,
	                                           ta->through_debugger ? Py_True : Py_False, NULL);
	if (!d)
		return -1; /* the glue raised its own one-line error */
	if (!PyDict_Check(d)) {
		Py_DECREF(d);
		hwp_fail(run->sub, "the debugger glue gave no target description");
		return -1;
	}
	const char *kind, *exe, *core, *dd;
	hw_target *t = NULL;
	int rc = -1;
	char dd_buf[4096];
	const char *dd_dirs[HWP_MAX_DEBUG_DIRS + 1] = {NULL};
	if (get_str(d, "kind", &kind) || get_str(d, "exe", &exe) || get_str(d, "core", &core) ||
	    get_str(d, "debug_dirs", &dd))
		goto out;
	/* the debugger's own debug directories (gdb's debug-file-directory,
	 * colon-separated) where no --debug-dir was given */
	if (dd && *dd && !ta->n_debug_dirs && strlen(dd) < sizeof dd_buf) {
		strcpy(dd_buf, dd);
		size_t n = 0;
		for (char *s = dd_buf, *tok; n < HWP_MAX_DEBUG_DIRS && (tok = strsep(&s, ":"));)
			if (*tok)
				dd_dirs[n++] = tok;
	}
	if (!kind) {
		hwp_fail(run->sub, "the debugger glue gave no target kind");
		goto out;
	}
	hw_target_options o = {
	    .exe = ta->exe ? ta->exe : exe,
	    .sysroot = ta->sysroot,
	    .debug_dirs = ta->n_debug_dirs ? (const char **)ta->debug_dirs
	                  : dd_dirs[0]     ? dd_dirs
	                                   : NULL,
	};
	uint64_t pid = 0;
	PyObject *pv = PyDict_GetItemString(d, "pid");
	if (pv && pv != Py_None && get_u64(pv, &pid)) {
		PyErr_Clear();
		hwp_fail(run->sub, "description: pid is not a number");
		goto out;
	}
	char buf[4200];
	if (!strcmp(kind, "core")) {
		if (!core) {
			hwp_fail(run->sub, "the debugger did not say which core file it has "
			                   "loaded (give it with --core PATH)");
			goto out;
		}
		if (hw_target_open_core(&t, core, &o) != HW_OK) {
			hwp_fail(run->sub, "%s: %s", core, hw_error_last());
			goto out;
		}
		snprintf(buf, sizeof buf, "core %s", core);
	} else if (!strcmp(kind, "live")) {
		if (!pid) {
			hwp_fail(run->sub, "the inferior has no process (run or attach first)");
			goto out;
		}
		if (hw_target_open_pid_stopped(&t, (pid_t)pid, &o) != HW_OK) {
			hwp_fail(run->sub, "pid %d: %s", (int)pid, hw_error_last());
			goto out;
		}
		if (add_threads(t, d))
			goto out;
		hwp_find_thread_pointers(t); /* best effort: lldb gives no fs_base */
		snprintf(buf, sizeof buf, "pid %d", (int)pid);
	} else if (!strcmp(kind, "callback")) {
		PyObject *rd = PyDict_GetItemString(d, "read");
		if (!rd || !PyCallable_Check(rd)) {
			hwp_fail(run->sub, "description: no read function");
			goto out;
		}
		Py_XDECREF(run->read);
		Py_INCREF(rd);
		run->read = rd;
		hw_read_callbacks cb = {.read = py_read, .ctx = run};
		if (hw_target_open_callback(&t, &cb, (pid_t)pid, &o) != HW_OK) {
			hwp_fail(run->sub, "%s", hw_error_last());
			goto out;
		}
		if (add_mappings(t, d) || add_threads(t, d))
			goto out;
		hwp_find_thread_pointers(t);
		snprintf(buf, sizeof buf, "pid %d through the debugger", (int)pid);
	} else {
		hwp_fail(run->sub, "description: unknown target kind '%s'", kind);
		goto out;
	}
	if (!(*label = strdup(buf))) {
		PyErr_NoMemory();
		goto out;
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	hw_target_close(t);
	Py_DECREF(d);
	return rc;
}
