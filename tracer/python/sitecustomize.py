# heapwalk tracer: put on PYTHONPATH by `coretool trace`.  Installs the
# tracer's PyMem hooks (mem and object domains) so that pymalloc blocks get
# sites with Python frames, then runs the next sitecustomize on the path,
# if any (the program's or the distribution's), and takes this directory
# off sys.path so the program sees the path it would have seen.
def _heapwalk_trace_start():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        import ctypes

        # PyDLL: the call keeps the GIL, which PyMem_SetAllocator needs.
        install = ctypes.PyDLL(None).heapwalk_trace_python_install
        install.restype = ctypes.c_int
        rc = install()
        if rc != 0 and os.environ.get("HEAPWALK_TRACE_VERBOSE"):
            sys.stderr.write("heapwalk-trace: Python frames not recorded (%d)\n" % rc)
    except (ImportError, OSError, AttributeError):
        pass  # not preloaded, or no ctypes: native sites only

    import importlib.machinery
    import importlib.util

    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_heapwalk_trace_start()
del _heapwalk_trace_start
