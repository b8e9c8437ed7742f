"""A small service with a leak, for heapwalk's demo.

It handles fake requests forever: each request is parsed, processed and
answered; everything it allocates is freed again, except what
remember_request() keeps in an unbounded history: that line is the leak the
demo's `coretool diff` must name.
"""
import json
import sys
import time

_history = []  # grows forever: nobody ever trims it


class Request:
    __slots__ = ("path", "headers", "body")

    def __init__(self, path, headers, body):
        self.path = path
        self.headers = headers
        self.body = body


def parse(raw):
    doc = json.loads(raw)
    return Request(doc["path"], dict(doc["headers"]), doc["body"].encode())


def remember_request(req):
    _history.append((req, bytearray(req.body) * 4))  # the leak


def handle(i):
    raw = json.dumps({"path": "/item/%d" % i,
                      "headers": {"x-request-id": str(i), "accept": "*/*"},
                      "body": "payload-%d " % i * 20})
    req = parse(raw)
    reply = {"status": 200, "length": len(req.body), "path": req.path}
    if i % 3 == 0:
        remember_request(req)
    return json.dumps(reply)


def main():
    ready = sys.argv[1] if len(sys.argv) > 1 else None
    i = 0
    while True:
        for _ in range(200):
            handle(i)
            i += 1
        if ready and i >= 2000:
            open(ready, "w").write("ready\n")
            ready = None
        time.sleep(0.01)


if __name__ == "__main__":
    main()
