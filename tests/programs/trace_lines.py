# trace_lines.py: a script whose allocation sites are known by
# construction, for the tracer's Python tests.  Run under `coretool trace`,
# it prints its truth, "FUNCTION@FILE:LINE<CALLER COUNT" for the line that keeps exactly
# COUNT objects alive (instances of a __slots__ class: no free list, no
# dict, one block each), and "... COUNT SIZE" for the line that keeps
# exactly COUNT blocks of SIZE bytes from libc's malloc called directly
# under the GIL (through ctypes.PyDLL), then os.abort()s for a core.  LINE-B (a nested
# function) gives the reader deeper stacks and a <listcomp> frame.  LINE-D
# grows lists by append: each list's item array (a block for the live
# table, over 128 bytes) is made by a realloc at that line.
#
#   python trace_lines.py N [thread]
import os
import sys


class Leaf:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Big:
    __slots__ = ("payload",)


def leak_py(n, kept):
    for i in range(n):
        kept[i] = Leaf(i)  # LINE-A: one Leaf per iteration, nothing else


def leak_native(n, kept):
    import ctypes

    libc = ctypes.PyDLL(None)  # PyDLL: the call keeps the GIL
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    for i in range(n):
        kept.append(libc.malloc(777))  # LINE-C: one malloc(777) per iteration


def grow(n, kept):
    for i in range(n):
        lst = []
        for j in range(40):
            lst.append(j)  # LINE-D: the item array, grown by realloc
        kept[i] = lst


def deeper(n, kept):
    def inner(k):
        return [Big() for _ in range(k)]  # LINE-B: a list and k Bigs

    kept.append(inner(n))


def line_of(marker):
    with open(__file__) as f:
        for number, text in enumerate(f, 1):
            if not text.lstrip().startswith("#") and "# " + marker + ":" in text:
                return number
    raise SystemExit("marker not found")


def main():
    n = int(sys.argv[1])
    kept = [None] * n
    leak_py(n, kept)
    if len(sys.argv) > 2 and sys.argv[2] == "thread":
        # n more from LINE-A while the process has one thread, a second
        # thread (the tracer's hooks then take their locks), then those n
        # freed: LINE-A still keeps exactly n
        import threading

        extra = [None] * n
        leak_py(n, extra)
        t = threading.Thread(target=lambda: [Big() for _ in range(100)])
        t.start()
        t.join()
        del extra
    more = []
    deeper(n // 2, more)
    grown = [None] * (n // 4)
    grow(n // 4, grown)
    native = []
    leak_native(n // 3, native)
    path = sys._getframe().f_code.co_filename  # as CPython records it
    print("leak_py@%s:%d<main %d" % (path, line_of("LINE-A"), n))
    print("leak_native@%s:%d<main %d 777" % (path, line_of("LINE-C"), n // 3))
    # each list's item array: its last realloc, at LINE-D, of 8 bytes per
    # slot allocated (the growth pattern differs between versions)
    items = sys.getsizeof(grown[0]) - sys.getsizeof([])
    print("grow@%s:%d<main %d %d" % (path, line_of("LINE-D"), n // 4, items))
    sys.stdout.flush()
    os.abort()


main()
