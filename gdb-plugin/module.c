/*
 * module.c: the _heapwalk Python extension module, loaded by gdb's and
 * lldb's embedded Python (built against its headers, not linked to
 * libpython: the symbols come from the debugger's process).
 *
 *   _heapwalk.run(argv, describe[, interrupted]) -> (out, err, status)
 *       argv[0] is the subcommand ("take", "list", "top", ...), the rest its
 *       arguments as the debugger split them; describe() is called only when
 *       the command needs the debugger's target and returns a dict
 *       (target.c says which keys).  interrupted() -> bool, when given, is
 *       asked now and then during a walk whether the user pressed Ctrl-C
 *       (a debugger that keeps SIGINT from Python: lldb); either way Ctrl-C
 *       raises KeyboardInterrupt.  status: 0, or 1 when `check` found
 *       problems or `diff --max-growth` was exceeded.
 *   _heapwalk.help(sub) -> str     the help text of a subcommand
 *   _heapwalk.subcommands          tuple of the subcommands' names
 *   _heapwalk.Error                every failure, one line of text
 */
#include "config.h"

#include "plugin.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

PyObject *hwp_error;

PyObject *hwp_fail(const char *sub, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* one line, always */
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	if (sub && strcmp(sub, "take"))
		PyErr_Format(hwp_error, "heapsnap %s: %s", sub, msg);
	else
		PyErr_Format(hwp_error, "heapsnap: %s", msg);
	return NULL;
}

int hwp_run_restore(hwp_run *run)
{
	if (!run->interrupted)
		return 0;
	PyErr_Restore(run->exc_type, run->exc_value, run->exc_tb);
	run->exc_type = run->exc_value = run->exc_tb = NULL;
	run->interrupted = 0;
	return 1;
}

int hwp_poll_interrupt(hwp_run *run)
{
	if (run->interrupted)
		return 1;
	if (PyErr_CheckSignals() < 0) {
		/* a KeyboardInterrupt, or whatever a Python handler raised */
		PyErr_Fetch(&run->exc_type, &run->exc_value, &run->exc_tb);
		run->interrupted = 1;
		return 1;
	}
	if (!run->poll)
		return 0;
	PyObject *r = PyObject_CallNoArgs(run->poll);
	int yes = r ? PyObject_IsTrue(r) : -1;
	Py_XDECREF(r);
	if (yes < 0) {
		if (!PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
			PyErr_Clear(); /* the debugger cannot tell: go on */
			return 0;
		}
	} else if (yes)
		PyErr_SetNone(PyExc_KeyboardInterrupt);
	else
		return 0;
	PyErr_Fetch(&run->exc_type, &run->exc_value, &run->exc_tb);
	run->interrupted = 1;
	return 1;
}

static PyObject *mod_run(PyObject *self, PyObject *args)
{
	PyObject *list, *describe, *poll = Py_None;
	if (!PyArg_ParseTuple(args, "O!O|O:run", &PyList_Type, &list, &describe, &poll))
		return NULL;
	if (poll != Py_None && !PyCallable_Check(poll))
		return hwp_fail(NULL, "interrupted must be callable");
	Py_ssize_t n = PyList_GET_SIZE(list);
	if (n < 1 || n > 4096)
		return hwp_fail(NULL, "bad argument list");
	/* a private, writable copy: the option parser reorders argv and the
	 * parsed options point into it until the command is done */
	char **argv = calloc((size_t)n + 1, sizeof *argv);
	/* own: the strings to free (the parser drops pointers from argv) */
	char **own = calloc((size_t)n + 1, sizeof *own);
	if (!argv || !own) {
		free(argv);
		free(own);
		return PyErr_NoMemory();
	}
	PyObject *ret = NULL;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *o = PyList_GET_ITEM(list, i);
		const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
		if (!s) {
			if (!PyErr_Occurred())
				hwp_fail(NULL, "arguments must be strings");
			goto out;
		}
		if (!(own[i] = argv[i] = strdup(s))) {
			PyErr_NoMemory();
			goto out;
		}
	}
	hwp_run run = {.sub = argv[0], .describe = describe, .poll = poll == Py_None ? NULL : poll};
	ret = hwp_command(&run, (int)n, argv);
	if (hwp_run_restore(&run)) {
		/* Ctrl-C: the KeyboardInterrupt wins over any result */
		Py_CLEAR(ret);
	}
out:
	for (Py_ssize_t i = 0; i < n; i++)
		free(own[i]);
	free(own);
	free(argv);
	return ret;
}

static PyObject *mod_help(PyObject *self, PyObject *args)
{
	const char *sub;
	if (!PyArg_ParseTuple(args, "s:help", &sub))
		return NULL;
	char *text = hwp_help(sub);
	if (!text)
		return hwp_fail(NULL, "no subcommand '%s'", sub);
	PyObject *r = PyUnicode_FromString(text);
	free(text);
	return r;
}

static PyMethodDef methods[] = {
    {"run", mod_run, METH_VARARGS, "run(argv, describe[, interrupted]) -> (out, err, status)"},
    {"help", mod_help, METH_VARARGS, "help(subcommand) -> str"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_heapwalk",
    .m_doc = "heapwalk's heap snapshots for gdb and lldb (the work is done in libheapwalk)",
    .m_size = -1,
    .m_methods = methods,
};

/* The one symbol the module exports (the build hides everything else). */
__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__heapwalk(void);

PyMODINIT_FUNC PyInit__heapwalk(void)
{
	PyObject *m = PyModule_Create(&module);
	if (!m)
		return NULL;
	hwp_error = PyErr_NewExceptionWithDoc(
	    "_heapwalk.Error", "a heapsnap command failed (one line of text)", NULL, NULL);
	if (!hwp_error || PyModule_AddObjectRef(m, "Error", hwp_error) < 0)
		goto fail;
	size_t n = 0;
	while (hwp_subcommands[n])
		n++;
	PyObject *subs = PyTuple_New((Py_ssize_t)n);
	if (!subs)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		PyObject *s = PyUnicode_FromString(hwp_subcommands[i]);
		if (!s) {
			Py_DECREF(subs);
			goto fail;
		}
		PyTuple_SET_ITEM(subs, (Py_ssize_t)i, s);
	}
	if (PyModule_AddObject(m, "subcommands", subs) < 0) {
		Py_DECREF(subs);
		goto fail;
	}
	if (PyModule_AddStringConstant(m, "version", PACKAGE_VERSION) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
