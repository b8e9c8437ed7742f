# pymalloc_subinterp.py: CPython 3.12+ with isolated subinterpreters, each
# with its own pymalloc state, and a legacy one sharing the main state.
#
#   python3.1x pymalloc_subinterp.py
#
# Each isolated interpreter runs in a thread of its own: it makes instances
# of a class of its own, prints sys._debugmallocstats() of its state, tells
# the main thread, then sleeps (so nothing it owns is freed after its
# report, as the end of run_string() would).  The main interpreter does the
# same last, then os.abort().  The walker must report the sum of the
# printed states (the legacy interpreter's objects are in the main state's
# numbers) and count every instance once.
import os
import sys
import threading

try:
    import _interpreters as interp  # 3.13

    def create(isolated):
        return interp.create("isolated" if isolated else "legacy")
except ImportError:
    import _xxsubinterpreters as interp  # 3.12

    def create(isolated):
        return interp.create(isolated=isolated)

CODE = """
import os, sys, time
class HwSub:
    __slots__ = ("i",)
    def __init__(self, i):
        self.i = i
keep = [HwSub(i) for i in range(%d)]
keep2 = [str(i) * 3 for i in range(%d)]
sys.stdout.write("expect %%s.%%s %%d\\n" %% (HwSub.__module__, HwSub.__qualname__, len(keep)))
sys.stdout.flush()
if %d:
    write, sleep = os.write, time.sleep  # (bound before the report: see below)
    sys._debugmallocstats()
    write(%d, b"x")
    while True:
        sleep(1000)
"""

r, w = os.pipe()
ids = []  # an interpreter lives as long as its ID object (3.12)
for n, isolated in ((1201, True), (777, False), (503, True)):
    ids.append(create(isolated))
    code = CODE % (n, n, isolated, w)
    if isolated:
        threading.Thread(target=interp.run_string, args=(ids[-1], code), daemon=True).start()
        os.read(r, 1)  # its report is out; it sleeps now
    else:
        interp.run_string(ids[-1], code)


class HwSub:
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


keep = [HwSub(i) for i in range(2222)]
sys.stdout.write("expect %s.%s %d\n" % (HwSub.__module__, HwSub.__qualname__, len(keep)))
sys.stdout.flush()
# Bound before the report: a method lookup after it could evict an entry
# of the type attribute cache holding the last reference to a temporary
# name (pymalloc_population.py says more).
abort = os.abort
sys._debugmallocstats()
abort()
