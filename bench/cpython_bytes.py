#!/usr/bin/env python3
"""Bytes per object in CPython for permafrost-bench's `bytes` suite.

Builds one shape (a Table 1 shape through cpython_bench.py, next to this
file, or one of verona-rt's immutablescc shapes, built iteratively exactly
as bench/src/verona.rs builds them) and prints one line:

  bytes,<shape>,<n>,<objects>,<getsizeof bytes>,<tracemalloc bytes>

* getsizeof: the sum of sys.getsizeof over every object reachable from the
  root (classes excluded; each object once), found through
  gc.get_referents. CPython's sys.getsizeof already adds the GC header
  (16 bytes) for GC-tracked objects; the script checks that
  (getsizeof([]) - [].__sizeof__()) and adds it where it was not.
  An instance's attribute values array (3.11 inline values) is not seen
  by getsizeof, so this is a lower bound.
* tracemalloc: bytes allocated through CPython's allocators while the
  shape was built, still held afterwards (includes GC headers and
  instance values).
"""

import gc
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpython_bench  # noqa: E402

GC_HEAD = 16
GC_ADDED = sys.getsizeof([]) - [].__sizeof__()


class C1:
    def __init__(self, f1, f2):
        self.f1 = f1
        self.f2 = f2


def v_list(n):
    head = None
    for _ in range(n):
        head = C1(head, None)
    return head


def v_dlist(n):
    head = C1(None, None)
    for _ in range(1, n):
        prev = C1(head, None)
        head.f2 = prev
        head = prev
    return head


def v_binary(n, leaf):
    tasks = [n]
    done = []
    while tasks:
        t = tasks.pop()
        if t is None:
            right = done.pop()
            left = done.pop()
            done.append(C1(left, right))
        elif t == 0:
            done.append(leaf)
        else:
            left = (t - 1) >> 1
            tasks.append(None)
            tasks.append(t - 1 - left)
            tasks.append(left)
    return done.pop()


def v_parent_tree(n):
    root = C1(None, None)
    tasks = [(root, n, root)]
    while tasks:
        holder, size, out = tasks.pop()
        if size == 0:
            holder.f1 = out
        elif size == 1:
            holder.f1 = C1(None, out)
        else:
            rest = size - 2
            node2 = C1(None, out)
            node1 = C1(None, node2)
            holder.f1 = node1
            right = rest >> 1
            tasks.append((node2, rest - right, node1))
            tasks.append((node1, right, node1))
    return root


def v_wide(n, cyclic):
    tasks = [("enter", n)]
    done = []
    while tasks:
        kind, s = tasks.pop()
        if kind == "exit":
            subs = done[len(done) - s:]
            del done[len(done) - s:]
            nxt = None
            last = None
            for sub in reversed(subs):
                nxt = C1(nxt, sub)
                if last is None:
                    last = nxt
            if cyclic:
                last.f1 = nxt
            done.append(nxt)
        elif s == 0:
            done.append(None)
        else:
            width = min(s, 4)
            rest = s - width
            sub = rest // 4
            sub_last = rest - sub * 3
            tasks.append(("exit", width))
            tasks.append(("enter", sub_last))
            for _ in range(1, width):
                tasks.append(("enter", sub))
    return done.pop()


def v_horrible(n):
    tasks = [("enter", n, None)]
    done = []
    while tasks:
        t = tasks.pop()
        if t[0] == "enter":
            _, s, last = t
            if s == 0:
                done.append((last, last))
            else:
                new_last = C1(None, last)
                right = (s - 1) >> 1
                tasks.append(("right", new_last, s - 1 - right))
                tasks.append(("enter", right, new_last))
        elif t[0] == "right":
            _, new_last, left = t
            mid, mid2 = done.pop()
            tasks.append(("left", new_last, mid2))
            tasks.append(("enter", left, mid))
        else:
            _, new_last, mid2 = t
            start, start_mid = done.pop()
            new_last.f1 = start_mid
            done.append((start, mid2))
    return done.pop()[0]


def build(shape, n):
    if shape == "list":
        return v_list(n)
    if shape == "dlist":
        return v_dlist(n)
    if shape == "btree":
        return C1(v_binary(n, None), None)
    if shape == "btree-cycle":
        root = C1(None, None)
        root.f1 = v_binary(n, root)
        return root
    if shape == "parent-tree":
        return v_parent_tree(n)
    if shape == "4tree":
        return v_wide(n, False)
    if shape == "4tree-cycle":
        return v_wide(n, True)
    if shape == "horrible2":
        return v_horrible(n)
    return cpython_bench.build(shape, n)


def getsizeof_walk(root):
    seen = set()
    stack = [root]
    total = 0
    count = 0
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, type):
            continue
        seen.add(id(o))
        size = sys.getsizeof(o)
        if gc.is_tracked(o) and GC_ADDED == 0:
            size += GC_HEAD
        total += size
        count += 1
        stack.extend(gc.get_referents(o))
    return total, count


def main():
    shape, n = sys.argv[1], int(sys.argv[2])
    gc.disable()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    root = build(shape, n)
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    sized, objects = getsizeof_walk(root)
    print(f"bytes,{shape},{n},{objects},{sized},{traced}", flush=True)


if __name__ == "__main__":
    main()
