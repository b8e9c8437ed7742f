# tracer_churn.py: the tracer benchmark's Python workload: object churn in
# nested functions (small objects through pymalloc, a few hundred live).
#   python tracer_churn.py [ROUNDS]
import sys


class Node:
    def __init__(self, k, nxt):
        self.k = k
        self.nxt = nxt


def level3(k):
    return [Node(k, None), (k, k + 1), {"k": k}, str(k)]


def level2(k):
    out = []
    for j in range(8):
        out.append(level3(k + j))
    return out


def level1(rounds):
    keep = []
    total = 0
    for i in range(rounds):
        batch = level2(i)
        total += len(batch)
        keep.append(batch)
        if len(keep) > 50:
            keep.pop(0)
    return total


print(level1(int(sys.argv[1]) if len(sys.argv) > 1 else 100000))
