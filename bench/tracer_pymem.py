# tracer_pymem.py: the tracer benchmark's Python memory workload: holds N
# items, each two pymalloc blocks (a __slots__ instance, a 64-byte block, and a
# bytes object of 33..432 bytes), made in one function, and prints how
# many blocks it holds (2N) at its peak.
#   python tracer_pymem.py N
import sys


class Item:
    __slots__ = ("a", "b", "c")


def make(n):
    held = []
    for i in range(n):
        it = Item()
        it.a = bytes(i % 400)
        held.append(it)
    return held


held = make(int(sys.argv[1]))
print(2 * len(held))
