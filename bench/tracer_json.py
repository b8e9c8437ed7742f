# tracer_json.py: the tracer benchmark's JSON workload: json.loads of a
# few MB document, repeated.
#   python tracer_json.py [REPEAT]
import json
import sys

doc = json.dumps([{"id": i, "name": "item%d" % i, "tags": ["a", "b", str(i)],
                   "price": i * 1.5, "nested": {"x": i, "y": [i, i + 1]}}
                  for i in range(30000)])
n = 0
for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 10):
    n += len(json.loads(doc))
print(len(doc), n)
