/*
 * py_standin.c: a stand-in for a CPython 3.14 library, for
 * python_freethreaded.sh: what the pymalloc detection reads (PyType_Type,
 * Py_Version, the head of _PyRuntime: _Py_DebugOffsets' cookie, version and
 * free_threaded flag, FT at compile time) and the C API the tracer's install
 * calls (Py_GetVersion, PyMem_GetAllocator and PyMem_SetAllocator, which
 * counts its calls in set_calls, the thread-state getters, Py_IncRef,
 * PyCode_Type).  With -DMAIN: a program that calls the tracer's install,
 * preloaded by `coretool trace`, and prints what it returned and how many
 * hooks were set; without a tracer, it dumps core (abort).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef MAIN
#ifndef FT
#define FT 0
#endif
typedef struct {
	void *ctx;
	void *(*malloc)(void *, size_t);
	void *(*calloc)(void *, size_t, size_t);
	void *(*realloc)(void *, void *, size_t);
	void (*free)(void *, void *);
} py_alloc;

static void *a_malloc(void *c, size_t n)
{
	(void)c;
	return malloc(n);
}
static void *a_calloc(void *c, size_t k, size_t n)
{
	(void)c;
	return calloc(k, n);
}
static void *a_realloc(void *c, void *p, size_t n)
{
	(void)c;
	return realloc(p, n);
}
static void a_free(void *c, void *p)
{
	(void)c;
	free(p);
}

struct {
	char cookie[8];
	uint64_t version, free_threaded;
	char rest[4096];
} _PyRuntime = {"xdebugpy", 0x030e00f0, FT, {0}};
const unsigned long Py_Version = 0x030e00f0;
struct {
	uint64_t w[64];
} PyType_Type = {{1, (uint64_t)(uintptr_t)&PyType_Type}}, PyCode_Type;
int set_calls;

const char *Py_GetVersion(void);
void PyMem_GetAllocator(int domain, py_alloc *a);
void PyMem_SetAllocator(int domain, py_alloc *a);
void *PyThreadState_GetUnchecked(void);
void *PyGILState_GetThisThreadState(void);
void Py_IncRef(void *o);

const char *Py_GetVersion(void)
{
	return "3.14.0 (stand-in)";
}
void PyMem_GetAllocator(int domain, py_alloc *a)
{
	(void)domain;
	*a = (py_alloc){0, a_malloc, a_calloc, a_realloc, a_free};
}
void PyMem_SetAllocator(int domain, py_alloc *a)
{
	(void)domain;
	(void)a;
	set_calls++;
}
void *PyThreadState_GetUnchecked(void)
{
	return NULL;
}
void *PyGILState_GetThisThreadState(void)
{
	return NULL;
}
void Py_IncRef(void *o)
{
	(void)o;
}
#else
extern int set_calls;
extern const unsigned long Py_Version;

int main(void)
{
	volatile unsigned long v = Py_Version; /* the library is linked in */
	(void)v;
	int (*install)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "heapwalk_trace_python_install");
	if (!install)
		abort();
	int rc = install();
	printf("install %d set %d\n", rc, set_calls);
	return 0;
}
#endif
