# heapwalk tracer: put on PYTHONPATH by `coretool trace`.  Installs the
# tracer's PyMem hooks (mem and object domains) so that pymalloc blocks get
# sites with Python frames, then runs the next sitecustomize on the path,
# if any (the program's or the distribution's), and takes this directory
# off sys.path so the program sees the path it would have seen.
def _install():
    # heapwalk_trace_python_install() called with the GIL held (what
    # ctypes.PyDLL does), through _ctypes alone: importing the ctypes
    # package costs a few ms at every start, a visible share of a short
    # program's run.
    import _ctypes

    class c_int(_ctypes._SimpleCData):
        _type_ = "i"

    class PyFunc(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI
        _restype_ = c_int

    handle = _ctypes.dlopen(None, 0)
    return PyFunc(_ctypes.dlsym(handle, "heapwalk_trace_python_install"))()


def _heapwalk_trace_start():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        rc = _install()
        # -3: a CPython whose frames the tracer does not know (it reads
        # 3.8-3.15: tracer/python.c's layouts); -4: a free-threaded build.
        # The user would otherwise wonder where the Python sites went.
        # Said once: the processes it starts inherit the environment.
        why = {-3: "its frames are not known to this tracer (3.8-3.15)",
               -4: "it is a free-threaded build"}.get(rc)
        if why and not os.environ.get("HEAPWALK_TRACE_SAID_PYTHON"):
            os.environ["HEAPWALK_TRACE_SAID_PYTHON"] = "1"
            sys.stderr.write("heapwalk-trace: CPython %d.%d: %s: Python allocations get "
                             "native sites only\n" % (sys.version_info[:2] + (why,)))
        elif not why and rc != 0 and os.environ.get("HEAPWALK_TRACE_VERBOSE"):
            sys.stderr.write("heapwalk-trace: Python frames not recorded (%d)\n" % rc)
    except (ImportError, OSError, AttributeError, TypeError, ValueError):
        pass  # not preloaded, or no ctypes: native sites only

    # the import system's own modules, always loaded: importing the
    # importlib package would cost warnings, contextlib and collections
    import _frozen_importlib
    import _frozen_importlib_external

    spec = _frozen_importlib_external.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is not None and spec.loader is not None:
        module = _frozen_importlib.module_from_spec(spec)
        spec.loader.exec_module(module)


_heapwalk_trace_start()
del _heapwalk_trace_start, _install
