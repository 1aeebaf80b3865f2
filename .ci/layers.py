#!/usr/bin/env python3
"""Checks the layering of DESIGN.md section 4: a file may include files of its
own layer and of the layers listed before it, never of a layer after it, and
nothing outside the adapters includes hiredis, prometheus-cpp, gRPC or Asio.

    python3 .ci/layers.py [ROOT]        # exit 1 and one line per violation
    python3 .ci/layers.py --self-test   # plants bad includes in a copy of
                                        # the tree and checks they are caught

Every C++ file under include/circuit/ and src/ must have a layer here; a new
file without one is itself a violation, so the table stays complete.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

# (layer number, name, path patterns relative to the root). A pattern ending
# in "/" covers a folder; otherwise it is a file name without its extension
# (.h and .cc alike).
LAYERS = [
    (1, "vocabulary", [
        "include/circuit/state", "include/circuit/clock",
        "include/circuit/options", "include/circuit/errors",
        "include/circuit/listener", "include/circuit/state_store",
        "include/circuit/version", "src/vocabulary", "src/arith",
        "src/messages"]),
    (2, "runtime", [
        "src/sync", "src/huge_pages", "include/circuit/internal/hot_path",
        "src/epoch",
        "src/counters", "src/fork"]),
    (3, "breaker", ["src/breaker", "src/trip_rules"]),
    (4, "table", ["src/peer_table", "src/peer_hash"]),
    (5, "events", ["src/events"]),
    (6, "guard", ["include/circuit/context", "src/context"]),
    (7, "judgement", ["src/judge", "src/outliers", "src/set_policies"]),
    (8, "facade", [
        "include/circuit/breaker_set", "include/circuit/circuit",
        "include/circuit/internal/call_impl", "src/breaker_set",
        "src/set_core", "src/admission", "src/metrics", "src/store_bridge"]),
    (9, "adapters", [
        "include/circuit/redis_store", "include/circuit/prometheus",
        "include/circuit/asio", "include/circuit/grpc", "src/redis/",
        "src/prometheus/", "src/asio/", "src/grpc/"]),
]
ADAPTER_LAYER = 9
# Third-party headers only the adapters may include.
ADAPTER_ONLY = re.compile(
    r"^(hiredis/|prometheus/|grpc|grpcpp/|google/protobuf/|boost/asio|asio)")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def layer_of(rel):
    stem, _ = os.path.splitext(rel)
    for number, name, patterns in LAYERS:
        for p in patterns:
            if (p.endswith("/") and rel.startswith(p)) or stem == p:
                return number, name
    return None


def resolve(root, includer, target):
    """The tree-relative path an include names, or None if it is external."""
    candidates = [
        os.path.join("include", target),
        os.path.join(os.path.dirname(includer), target),
        os.path.join("src", target),
    ]
    for c in candidates:
        c = os.path.normpath(c)
        if os.path.isfile(os.path.join(root, c)):
            return c
    return None


def sources(root):
    for top in ("include/circuit", "src"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".h", ".cc", ".h.in")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def check(root):
    problems = []
    for rel in sources(root):
        own = layer_of(rel.replace(".h.in", ".h"))
        if own is None:
            problems.append(f"{rel}: has no layer in .ci/layers.py")
            continue
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                if own[0] != ADAPTER_LAYER and ADAPTER_ONLY.match(target):
                    problems.append(
                        f"{rel}:{lineno}: the {own[1]} layer includes "
                        f"<{target}>, which only adapters may use")
                    continue
                path = resolve(root, rel, target)
                if path is None:
                    continue
                theirs = layer_of(path)
                if theirs is not None and theirs[0] > own[0]:
                    problems.append(
                        f"{rel}:{lineno}: the {own[1]} layer includes "
                        f"{path} of the {theirs[1]} layer, a higher one")
    return problems


def self_test(root):
    """Plants two bad includes in a copy and expects exactly those caught."""
    with tempfile.TemporaryDirectory() as tmp:
        for top in ("include", "src"):
            shutil.copytree(os.path.join(root, top), os.path.join(tmp, top))
        if check(tmp):
            print("layers self-test: the tree itself has violations")
            return 1
        plants = {"src/breaker.h": '#include "peer_table.h"\n',
                  "src/set_core.cc": "#include <hiredis/hiredis.h>\n"}
        for rel, line in plants.items():
            with open(os.path.join(tmp, rel), "a", encoding="utf-8") as f:
                f.write(line)
        found = check(tmp)
        caught = [rel for rel in plants if any(p.startswith(rel) for p in found)]
        if len(found) != len(plants) or len(caught) != len(plants):
            print("layers self-test: expected one violation in each of",
                  sorted(plants), "got:", *found, sep="\n  ")
            return 1
        print("layers self-test: both planted includes caught:",
              *found, sep="\n  ")
        return 0


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    args = [a for a in argv if a != "--self-test"]
    root = os.path.abspath(args[0]) if args else os.path.dirname(here)
    if "--self-test" in argv:
        return self_test(root)
    problems = check(root)
    for p in problems:
        print("layers:", p)
    print(f"layers: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
