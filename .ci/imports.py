#!/usr/bin/env python3
"""Module import graph of freeze/src: prints every import cycle (strongly
connected component of `crate::` references) and every reference that
points up the layer order core < model < freeze < transfer < evolve < diag."""
import os, re, sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "freeze", "src")
LAYERS = {"core": 0, "model": 1, "freeze": 2, "transfer": 3, "evolve": 4, "diag": 5}
# Files at the crate root beside the layers (embed.rs) sit on top of them.
TOP = 6


def layer(module):
    return LAYERS.get(module.split("::")[0], TOP)


def modules():
    mods = {}
    for d, _, fs in os.walk(ROOT):
        for f in fs:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(d, f), ROOT)[:-3]
            rel = re.sub(r"(^|/)mod$", "", rel)
            if rel in ("lib", ""):
                continue
            mods[rel.replace("/", "::")] = os.path.join(d, f)
    return mods


def deps(mods):
    out = {}
    for m, path in mods.items():
        src = re.sub(r"//.*", "", open(path).read())
        ds = set()
        for x in re.findall(r"crate::((?:[a-z_]+::)*[a-z_]+)", src):
            parts = x.split("::")
            for k in range(len(parts), 0, -1):
                cand = "::".join(parts[:k])
                if cand in mods and cand not in LAYERS:
                    ds.add(cand)
                    break
        ds.discard(m)
        out[m] = ds
    return out


def cycles(g):
    index, low, stack, on, res = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                res.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return res


def main():
    g = deps(modules())
    bad = 0
    for c in cycles(g):
        print("cycle:", " ".join(c))
        bad += not all(m.startswith("core::") for m in c) or "--strict" in sys.argv
    for m, ds in sorted(g.items()):
        for d in sorted(ds):
            if layer(d) > layer(m):
                print(f"upward: {m} -> {d}")
                bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
