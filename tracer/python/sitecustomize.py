# heapwalk tracer: put on PYTHONPATH by `coretool trace`.  Installs the
# tracer's PyMem hooks (mem and object domains) so that pymalloc blocks get
# sites with Python frames, then hands over to the next sitecustomize on
# the path, if any, so that a program's own sitecustomize still runs.
def _heapwalk_trace_start():
    import os
    import sys
    try:
        import ctypes
        # PyDLL: the call keeps the GIL, which PyMem_SetAllocator needs.
        install = ctypes.PyDLL(None).heapwalk_trace_python_install
    except (ImportError, OSError, AttributeError):
        return  # not preloaded, or no ctypes: native sites only
    install.restype = ctypes.c_int
    rc = install()
    if rc != 0 and os.environ.get("HEAPWALK_TRACE_VERBOSE"):
        sys.stderr.write("heapwalk-trace: Python frames not recorded (%d)\n" % rc)

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    del sys.modules["sitecustomize"]
    try:
        import sitecustomize  # noqa: F401  the program's own, if any
    except ImportError:
        pass


_heapwalk_trace_start()
del _heapwalk_trace_start
