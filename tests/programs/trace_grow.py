# trace_grow.py: lists and bytearrays grown step by step, so that CPython
# reallocates their buffers (PyMem_Realloc) many times, often moving them;
# then os.abort().  Under `coretool trace --sample`, a block recorded and
# then moved by a realloc whose new block is not sampled must leave no
# entry behind: the walk would find the old block free (tracer_sampled.sh).
import os

lists = [[] for _ in range(20000)]
for l in lists:
    for i in range(60):
        l.append(i)
arrays = [bytearray() for _ in range(5000)]
for b in arrays:
    for i in range(40):
        b += b"x" * 37
os.abort()
