#!/usr/bin/env python3
"""How `tinysup config` scales with the size of the configuration.

Validation is the one part of tinysup whose cost grows with what users write, and it runs
before anything starts, as PID 1. Each case below is a configuration generated at size N and
given to `tinysup config` (validate and print); the figure is the median wall time of a few
runs, start-up included. The cases:

  forward   N programs, each depending on the one written before it (a chain, in start order)
  reverse   N programs, each depending on the one written after it (the chain reversed)
  dag       N programs written in random order, each depending on up to 3 random programs
            that come before it in a hidden start order (seeded: every run is the same)
  vars      N programs from N TINYSUP_PROGRAM_<NAME> variables, none from a file
  longkey   one program and an unknown top-level key of N KB (an error: exit 2, with the
            did-you-mean search on the key)

Usage:

  python3 bench/config_scale.py [--bin LABEL=PATH]... [--sizes 2000,10000] [--runs 3]
                                [--timeout 60]

Without --bin it builds and measures the static release binary (as the other benchmarks
do). With several --bin options the binaries are measured side by side, each case
interleaved, so an old build can be compared with a new one. A run that takes longer than
--timeout seconds is stopped and shown as "> T s".
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

import common

CASES = ["forward", "reverse", "dag", "vars", "longkey"]


def program(command, depends_on=None):
    spec = {"command": command}
    if depends_on:
        spec["depends_on"] = depends_on
    return spec


def make_case(case, n, directory):
    """(path of a config file or None, extra environment, expected exit code)."""
    names = [f"p{i}" for i in range(n)]
    programs = {}
    env = {}
    expected = 0
    if case == "forward":
        for i, name in enumerate(names):
            programs[name] = program("sleep 1", [names[i - 1]] if i else None)
    elif case == "reverse":
        for i, name in enumerate(names):
            programs[name] = program("sleep 1", [names[i + 1]] if i + 1 < n else None)
    elif case == "dag":
        rng = random.Random(n)
        # names[i] comes at position i of the hidden start order; depend only on earlier ones.
        written = list(range(n))
        rng.shuffle(written)
        for i in written:
            count = min(i, rng.randint(0, 3))
            deps = sorted({names[rng.randrange(i)] for _ in range(count)})
            programs[names[i]] = program("sleep 1", deps)
    elif case == "vars":
        for name in names:
            env[f"TINYSUP_PROGRAM_{name.upper()}"] = "sleep 1"
        return None, env, expected
    elif case == "longkey":
        programs["web"] = program("sleep 1")
        expected = 2
        document = {"programs": programs, "x" * (n * 1024): 1}
        return write(directory, case, n, document), env, expected
    return write(directory, case, n, {"programs": programs}), env, expected


def write(directory, case, n, document):
    path = os.path.join(directory, f"{case}-{n}.json")
    with open(path, "w") as f:
        json.dump(document, f)
    return path


def run_once(binary, path, env, expected, timeout):
    """Wall time in seconds, or None after `timeout`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TINYSUP_", "TINI_"))}
    full_env.update(env)
    args = [binary, "config"] + (["-c", path] if path else [])
    start = time.perf_counter()
    try:
        done = subprocess.run(args, env=full_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    elapsed = time.perf_counter() - start
    if done.returncode != expected:
        stderr = done.stderr.decode(errors="replace")[:500]
        sys.exit(f"{binary} config exited {done.returncode}, expected {expected}: {stderr}")
    return elapsed


def shown(seconds, timeout):
    if seconds is None:
        return f"> {timeout:g} s"
    if seconds < 1:
        return f"{seconds * 1000:,.0f} ms"
    return f"{seconds:,.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", action="append", default=[],
                        help="LABEL=PATH of a tinysup binary (repeatable)")
    parser.add_argument("--sizes", default="2000,10000",
                        help="comma-separated sizes N (longkey: N KB)")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60)
    options = parser.parse_args()

    binaries = []
    for item in options.bin:
        label, _, path = item.partition("=")
        binaries.append((label, path) if path else (os.path.basename(label), label))
    if not binaries:
        common.log("building the static release binary")
        binaries = [("tinysup", common.build_tinysup())]
    sizes = [int(s) for s in options.sizes.split(",")]
    cases = options.cases.split(",")

    directory = common.scratch_dir()
    rows = []
    try:
        for case in cases:
            for n in sizes:
                path, env, expected = make_case(case, n, directory)
                times = {label: [] for label, _ in binaries}
                for _ in range(options.runs):
                    for label, binary in binaries:
                        if times[label] and times[label][-1] is None:
                            continue  # timed out once: do not wait again
                        times[label].append(
                            run_once(binary, path, env, expected, options.timeout))
                medians = []
                for label, _ in binaries:
                    values = times[label]
                    medians.append(None if None in values else common.median(values))
                size = f"{n} KB" if case == "longkey" else f"{n:,}"
                rows.append((case, size, medians))
                common.log(f"{case} {size}: " + ", ".join(
                    shown(m, options.timeout) for m in medians))
                if path:
                    os.remove(path)
    finally:
        common.remove(directory)

    labels = [label for label, _ in binaries]
    print(f"`tinysup config`, median of {options.runs} runs:\n")
    print("| case | N | " + " | ".join(labels) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in labels) + " |")
    for case, size, medians in rows:
        cells = " | ".join(shown(m, options.timeout) for m in medians)
        print(f"| {case} | {size} | {cells} |")


if __name__ == "__main__":
    main()
