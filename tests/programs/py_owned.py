# py_owned.py: Python objects whose contents live in blocks of their own (a
# list's item array, a dict's keys and values, a set's table, a bytearray's
# bytes), with the addresses of those blocks as the objects themselves hold
# them, read with ctypes, for tests/integration/pymalloc_owned.sh.
#
#   python3.X py_owned.py OUTFILE [core|live]
#
# OUTFILE gets, as text:
#   own KIND PTR MIN   a block one of this script's objects owns: the
#                      coretool type it must get (list items, dict keys,
#                      dict values, set table, bytearray data,
#                      collections.deque block, array.array data,
#                      collections.OrderedDict node / fast nodes), the
#                      object's pointer to it, the bytes it holds from there
#   count KIND N       how many "own" lines of KIND there are
#   obj TYPE PTR       one of the script's objects (id()) and its type
#                      (short strs among them: a str is smaller than
#                      its type's tp_basicsize)
# and OUTFILE.every, as pairs of 64-bit words, (1, PTR) for the item array
# of every list in the process that has one, (2, PTR) for the table of
# every set and frozenset not kept inline, (3, PTR) for every block of
# every deque, (4, PTR) for every node of every OrderedDict.  These come
# from gc.get_objects() just before the dump, and nothing that holds a
# list, a set, a deque or an OrderedDict is made after them: the core's
# list items, set tables, deque blocks and OrderedDict nodes must be
# exactly these.  Then os.abort() (core) or
# "ready" on stdout and a pause (live).
import array
import collections
import ctypes
import gc
import os
import signal
import sys

N = 1500
V = sys.version_info[:2]
P = 8  # pointer size


def word(addr):
    return ctypes.c_uint64.from_address(addr).value


class Inst:
    def __init__(self, i):
        self.a = i
        self.b = i + 1
        self.c = str(i)


class HwList(list):
    pass


class HwSet(set):
    pass


class HwDict(dict):
    pass


class HwDeque(collections.deque):
    pass


class HwOrdered(collections.OrderedDict):
    pass


lists = [[i] * (1 + i % 40) for i in range(N)]
long_lists = [list(range(100 + i)) for i in range(50)]  # items > 512 bytes: malloc
dicts = [{"k%d" % j: j for j in range(1 + i % 12)} for i in range(N)]
big_dicts = [{j: j for j in range(200 + i)} for i in range(20)]
sets = [set(range(6 + i % 30)) for i in range(N)]
fsets = [frozenset(range(10 + i % 10)) for i in range(N)]
bas = [bytearray(1 + i % 700) for i in range(N)]
hw_lists = [HwList([i, i, i]) for i in range(N)]
hw_sets = [HwSet(range(20)) for i in range(N)]
hw_dicts = [HwDict(a=i, b=i) for i in range(N)]
insts = [Inst(i) for i in range(N)]  # values through the pre-header (3.11, 3.12)
with_dict = [Inst(i) for i in range(N)]
deques = [collections.deque(range(i * 7 % 300)) for i in range(300)]
deques += [HwDeque(range(100)) for i in range(50)]
deques.append(collections.deque(range(100000)))
arrays = [array.array("d", range(i % 90)) for i in range(N)]
odicts = [collections.OrderedDict(("k%d" % j, j) for j in range(i % 40)) for i in range(400)]
odicts += [HwOrdered(a=i, b=i) for i in range(100)]
for od in odicts[::3]:  # (its list of nodes no longer in insertion order)
    if od:
        od.move_to_end(next(iter(od)))
objs = [("str", "s%d" % i * (1 + i % 7)) for i in range(N)]
objs += [("str", "\u00e9%d" % i * (1 + i % 5)) for i in range(300)]
objs += [("str", "\u4e2d%d" % i) for i in range(300)]
objs += [("int", 10**6 + i) for i in range(300)]
objs += [("float", i + 0.5) for i in range(300)]
objs += [("tuple", (i, str(i))) for i in range(300)]
objs += [("bytes", b"b%d" % i * (1 + i % 9)) for i in range(300)]
for o in with_dict:
    o.__dict__  # a dict of its own, split: keys shared, values its own

own = []


def list_items(lst):
    if word(id(lst) + 3 * P):
        own.append(("list items", word(id(lst) + 3 * P), 8 * word(id(lst) + 4 * P)))


def dict_parts(d, values=True):
    # (an empty one may point at the interpreter's static empty keys and,
    # up to 3.10, values)
    if not d:
        return
    own.append(("dict keys", word(id(d) + 4 * P), 0))
    if values and word(id(d) + 5 * P):
        own.append(("dict values", word(id(d) + 5 * P), 0))


def deque_blocks(d):
    """Its blocks, left to right (a left link, 64 items, a right link); a
    generator: it makes no list."""
    b, right = word(id(d) + 3 * P), word(id(d) + 4 * P)
    yield b
    while b != right:
        b = word(b + 65 * P)
        yield b


def odict_nodes(od):
    """Its nodes, first to last (key, hash, next, prev); no list made."""
    n = word(id(od) + 6 * P)
    while n:
        yield n
        n = word(n + 2 * P)


def set_table(s):
    t = word(id(s) + 5 * P)
    if t != id(s) + 8 * P:  # not the smalltable
        own.append(("set table", t, 16 * (word(id(s) + 4 * P) + 1)))


for lst in lists + long_lists + hw_lists:
    list_items(lst)
for d in dicts + big_dicts + hw_dicts:
    dict_parts(d)
for o in with_dict:
    # 3.13+: the values are kept inline, in the object: nothing owned
    dict_parts(o.__dict__, V < (3, 13))
for s in sets + fsets + hw_sets:
    set_table(s)
# (3.15 keeps a bytearray's bytes in a bytes object: named bytes)
for b in bas if V < (3, 15) else ():
    own.append(("bytearray data", word(id(b) + 4 * P), word(id(b) + 3 * P)))
for d in deques:
    for b in deque_blocks(d):
        own.append(("collections.deque block", b, 66 * P))
for od in odicts:
    dict_parts(od)
    if word(id(od) + 8 * P):
        own.append(("collections.OrderedDict fast nodes", word(id(od) + 8 * P),
                    8 * word(id(od) + 9 * P)))
    for n in odict_nodes(od):
        own.append(("collections.OrderedDict node", n, 4 * P))
for a in arrays:
    if word(id(a) + 3 * P):
        own.append(("array.array data", word(id(a) + 3 * P), a.itemsize * word(id(a) + 4 * P)))
if V == (3, 11):
    for o in insts:
        own.append(("dict values", word(id(o) - 4 * P), 0))
elif V == (3, 12):
    for o in insts:
        own.append(("dict values", word(id(o) - 3 * P) + 1, 0))

counts = {}
for kind, _, _ in own:
    counts[kind] = counts.get(kind, 0) + 1
out = open(sys.argv[1], "w")
for kind, ptr, size in own:
    out.write("own %s 0x%x %d\n" % (kind, ptr, size))
for name, o in objs:
    assert type(o).__name__ == name
    out.write("obj %s 0x%x\n" % (name, id(o)))
for kind in sorted(counts):
    out.write("count %s %d\n" % (kind, counts[kind]))
out.close()
every = os.open(sys.argv[1] + ".every", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
del own, counts, kind, ptr, size

# Every list and set, from here on made by nothing: the objects are read
# into an array (not a list), written as one bytes object.
everything = gc.get_objects()
ptrs = array.array("Q")
for o in everything:
    if isinstance(o, list):
        if word(id(o) + 3 * P):
            ptrs.append(1)
            ptrs.append(word(id(o) + 3 * P))
    elif isinstance(o, (set, frozenset)):
        if word(id(o) + 5 * P) != id(o) + 8 * P:
            ptrs.append(2)
            ptrs.append(word(id(o) + 5 * P))
    elif isinstance(o, collections.OrderedDict):
        for n in odict_nodes(o):
            ptrs.append(4)
            ptrs.append(n)
    elif isinstance(o, collections.deque):
        for b in deque_blocks(o):
            ptrs.append(3)
            ptrs.append(b)
o = None
ptrs.append(1)
ptrs.append(word(id(everything) + 3 * P))
os.write(every, ptrs.tobytes())
mode = sys.argv[2] if len(sys.argv) > 2 else "core"
abort, write, pause = os.abort, os.write, signal.pause
if mode == "core":
    abort()
write(1, b"ready\n")
while True:
    pause()
