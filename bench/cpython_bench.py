#!/usr/bin/env python3
"""CPython side of permafrost's Table 1: builds the shapes of WORKLOADS.md
exactly as bench/src/shapes.rs does (same sizes, seed, generator, attribute
order) and times pickle.dumps, pickle.loads and copy.deepcopy.

Output on stdout, one line each:
  table1,<shape>,<op>,cpython,<n>,,<runs>,<median_ns>,<min_ns>,<max_ns>,<bytes>
  #first <the first random string>       (cross-check with the Rust side)
  #progress <op> <k>/<runs>
  #error <op> <message>                  (e.g. RecursionError)
  #info <text>

Generator (see bench/src/prng.rs): splitmix64 seeded with 795; a string is
one draw, its 8 little-endian bytes each mapped to ALPHABET[b % 52].

pickle uses pickle.HIGHEST_PROTOCOL. The cyclic garbage collector runs
before each timed run, outside the clock, and is disabled inside it (the
conservative choice: with it enabled, pickle.loads of 100,000 Node objects
took 6x longer on the reference machine); --gc keeps it enabled.
Deep shapes (graph, chain) recurse in pickle and deepcopy, so the work runs
in a thread with a large stack and a raised recursion limit.
"""

import argparse
import copy
import gc
import pickle
import statistics
import sys
import threading
import time

SEED = 795
MASK = (1 << 64) - 1
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# bytes.translate table: byte b -> ALPHABET[b % 52]
TABLE = bytes(ALPHABET[b % 52] for b in range(256))


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next_string(self):
        return self.next().to_bytes(8, "little").translate(TABLE).decode("ascii")

    def next_float(self):
        return ((self.next() >> 11) * (1.0 / 9007199254740992.0)) * 2.0 - 1.0


def strings(n):
    g = SplitMix64(SEED)
    return [g.next_string() for _ in range(n)]


class Student:
    def __init__(self, name, age):
        self.name = name
        self.age = age


class Node:
    def __init__(self, key, left, right):
        self.key = key
        self.left = left
        self.right = right


class Vertex:
    def __init__(self, id, edges):
        self.id = id
        self.edges = edges


class Link:
    def __init__(self, value, next):
        self.value = value
        self.next = next


def build_dict_int(strs):
    d = {}
    for i, s in enumerate(strs):
        d[s] = i
    return d


def build_dict_student(strs):
    d = {}
    for i, s in enumerate(strs):
        d[s] = Student(s, i % 100)
    return d


def build_tree(keys):
    def sub(lo, hi):
        if lo >= hi:
            return None
        mid = (lo + hi) // 2
        left = sub(lo, mid)
        right = sub(mid + 1, hi)
        return Node(keys[mid], left, right)

    return sub(0, len(keys))


def build_graph(n):
    nodes = [Vertex(i, []) for i in range(n)]
    for i, v in enumerate(nodes):
        v.edges.extend(
            [nodes[(i * 7 + 1) % n], nodes[(i * 13 + 5) % n], nodes[(i * 31 + 11) % n]]
        )
    return nodes


def build_chain(n):
    head = None
    for i in range(n - 1, -1, -1):
        head = Link(i, head)
    return head


def build(shape, n):
    if shape in ("dict-int", "dict-student", "tuple", "binary-tree"):
        strs = strings(n)
        print("#first", strs[0] if strs else "", flush=True)
        if shape == "dict-int":
            return build_dict_int(strs)
        if shape == "dict-student":
            return build_dict_student(strs)
        if shape == "tuple":
            return tuple(strs)
        return build_tree(sorted(set(strs)))
    if shape == "ints":
        return list(range(n))
    if shape == "graph":
        return build_graph(n)
    if shape == "chain":
        return build_chain(n)
    raise SystemExit("unknown shape " + shape)


def emit(shape, op, n, samples, nbytes):
    print(
        "table1,%s,%s,cpython,%d,,%d,%d,%d,%d,%s"
        % (
            shape,
            op,
            n,
            len(samples),
            statistics.median(samples),
            min(samples),
            max(samples),
            "" if nbytes is None else nbytes,
        ),
        flush=True,
    )


KEEP_GC = False


def timed(op, runs, fn):
    samples = []
    for k in range(runs):
        gc.collect()
        if not KEEP_GC:
            gc.disable()
        try:
            t0 = time.perf_counter_ns()
            out = fn()
            t1 = time.perf_counter_ns()
        finally:
            gc.enable()
        del out
        samples.append(t1 - t0)
        print("#progress %s %d/%d" % (op, k + 1, runs), flush=True)
    return samples


def run(args):
    t0 = time.perf_counter()
    root = build(args.shape, args.n)
    print("#info built %s n=%d in %.2fs" % (args.shape, args.n, time.perf_counter() - t0), flush=True)
    ops = args.ops.split(",")
    data = None
    try:
        data = pickle.dumps(root, protocol=pickle.HIGHEST_PROTOCOL)
    except (RecursionError, MemoryError) as e:
        print("#error pickle %s: %s" % (type(e).__name__, e), flush=True)
    if "pickle" in ops and data is not None:
        s = timed("pickle", args.runs, lambda: pickle.dumps(root, protocol=pickle.HIGHEST_PROTOCOL))
        emit(args.shape, "pickle", args.n, s, len(data))
    if "unpickle" in ops and data is not None:
        try:
            s = timed("unpickle", args.runs, lambda: pickle.loads(data))
            emit(args.shape, "unpickle", args.n, s, len(data))
        except (RecursionError, MemoryError) as e:
            print("#error unpickle %s: %s" % (type(e).__name__, e), flush=True)
    if "deepcopy" in ops:
        try:
            s = timed("deepcopy", args.runs, lambda: copy.deepcopy(root))
            emit(args.shape, "deepcopy", args.n, s, None)
        except (RecursionError, MemoryError) as e:
            print("#error deepcopy %s: %s" % (type(e).__name__, e), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", help="dict-int, dict-student, tuple, binary-tree, ints, graph, chain")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--ops", default="pickle,unpickle,deepcopy")
    p.add_argument("--gc", action="store_true", help="keep the cyclic GC enabled while timing")
    p.add_argument("--print-strings", type=int, metavar="K", help="print the first K strings and exit")
    args = p.parse_args()
    if args.print_strings is not None:
        for s in strings(args.print_strings):
            print(s)
        return
    if not args.shape:
        p.error("--shape is required")
    global KEEP_GC
    KEEP_GC = args.gc
    print("#info python %s gc-in-timed-region=%s" % (sys.version.split()[0], "on" if KEEP_GC else "off"), flush=True)
    deep = args.shape in ("graph", "chain")
    if deep:
        # pickle and deepcopy recurse once per level: give them room.
        sys.setrecursionlimit(max(100_000, 20 * args.n + 10_000))
        threading.stack_size(min(4 * 1024**3 - 4096, max(64 * 1024**2, args.n * 16384)))
    failure = []

    def body():
        try:
            run(args)
        except BaseException as e:  # reported, then a non-zero exit
            failure.append(e)
            print("#error run %s: %s" % (type(e).__name__, e), flush=True)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if failure:
        sys.exit(1)


if __name__ == "__main__":
    main()
