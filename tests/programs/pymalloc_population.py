# pymalloc_population.py: a CPython heap of known content for the pymalloc
# walker's tests (tests/integration/pymalloc_*.sh).
#
#   python3.X pymalloc_population.py core|live
#
# Builds instances of its own classes (with __slots__, with __dict__, with a
# metaclass), builtins of many size classes, and large objects that go to
# malloc; prints "expect NAME COUNT" for its own classes on stdout; then the
# oracle, sys._debugmallocstats(), on stderr; then os.abort() (core) or
# "ready" on stdout and a pause (live: the test walks, then kills it).
# Nothing is allocated or freed between the oracle and the dump: the
# functions called after it are bound before it.  (A method lookup after
# it, as `os.abort()` is, fills a slot of the type attribute cache, which
# may hold the only reference to the name of an earlier lookup: a
# temporary str, such as the "__subclasses__" abc's subclass check makes,
# was then freed after the oracle counted it.  Which slot a name takes
# depends on the string hash's random seed: about one run in 300.)
import abc
import os
import signal
import sys

N_SLOTTED = 3001
N_DICT = 2003
N_META = 507


class HwSlotted:
    __slots__ = ("a", "b")

    def __init__(self, i):
        self.a = i
        self.b = None


class HwWithDict:
    def __init__(self, i):
        self.x = i
        self.y = "s"


class HwAbcBase(abc.ABC):
    @abc.abstractmethod
    def f(self):
        pass


class HwAbc(HwAbcBase):
    __slots__ = ("v",)

    def __init__(self, i):
        self.v = i

    def f(self):
        return self.v


class HwOuter:
    class Inner:
        __slots__ = ("w",)

        def __init__(self, i):
            self.w = i


N_INNER = 13

keep = []
keep.append([HwOuter.Inner(i) for i in range(N_INNER)])
keep.append([HwSlotted(i) for i in range(N_SLOTTED)])
keep.append([HwWithDict(i) for i in range(N_DICT)])
keep.append([HwAbc(i) for i in range(N_META)])
# builtins across the size classes
keep.append([float(i) + 0.5 for i in range(1000)])
keep.append([(i, i + 1) for i in range(700)])
keep.append([{"k": i} for i in range(300)])
keep.append(["str-%d" % i * (1 + i % 20) for i in range(2000)])
keep.append([bytes(i % 400) for i in range(900)])
# large: list and bytearray buffers, big bytes, go to malloc
keep.append(list(range(100000)))
keep.append(bytearray(300000))
keep.append([bytes(600 + i) for i in range(50)])
# churn: free some blocks so pools have free chains
del keep[4][::3]
del keep[5][1::2]

# Names as type.__repr__ gives them: the walker must name them the same.
for cls, n in ((HwSlotted, N_SLOTTED), (HwWithDict, N_DICT), (HwAbc, N_META),
               (HwOuter.Inner, N_INNER)):
    sys.stdout.write("expect %s.%s %d\n" % (cls.__module__, cls.__qualname__, n))
# Builtins: at least the ones kept here (the interpreter holds more).
for name, objs in (("float", keep[4]), ("tuple", keep[5]), ("dict", keep[6]),
                   ("str", keep[7]), ("bytes", keep[8] + keep[11])):
    assert all(type(o).__name__ == name for o in objs)
    sys.stdout.write("atleast %s %d\n" % (name, len(objs)))
sys.stdout.flush()
mode = sys.argv[1] if len(sys.argv) > 1 else "core"
abort, write, pause = os.abort, os.write, signal.pause
sys._debugmallocstats()
if mode == "core":
    abort()
write(1, b"ready\n")
while True:
    pause()
