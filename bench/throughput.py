#!/usr/bin/env python3
"""Log throughput: tinysup's prefix and json modes against `cat` on the same stream.

Every variant has the same shape, producer -> pipe -> middle -> pipe -> consumer:

  cat      cat DATA | cat | cat >/dev/null
  prefix   tinysup (program: cat DATA, output prefix) | cat >/dev/null
  json     the same with output json
  raw      tinysup -- cat DATA | cat >/dev/null   (tinysup is not in the data path)

Throughput counts the bytes of DATA (100-byte or 4 KiB lines). Variants run interleaved,
REPEATS times each, in one run; each figure is a median, and each ratio is the median of the
per-round ratios (variant time over cat time in the same round). Usage:

  python3 bench/throughput.py [MiB]    (default 256 MiB of data per line size)
"""

import json
import os
import sys

import common

REPEATS = 5
LINE_SIZES = [100, 4096]
MODES = ["cat", "prefix", "json", "raw"]


def make_data(directory, line_size, mib):
    """A file of `mib` MiB of `line_size`-byte lines (newline included)."""
    path = os.path.join(directory, f"lines-{line_size}")
    body = ("x" * (line_size - 8))
    line_count = mib * 1024 * 1024 // line_size
    with open(path, "w") as f:
        chunk = "".join(f"{i % 10_000_000:07d}{body}\n" for i in range(10_000))
        written = 0
        while written < line_count:
            take = min(10_000, line_count - written)
            f.write(chunk if take == 10_000 else "".join(chunk.splitlines(True)[:take]))
            written += take
    return path, os.path.getsize(path)


def command(mode, tinysup, data, directory):
    """The shell pipeline for `mode`."""
    if mode == "cat":
        return f"cat {data} | cat | cat >/dev/null"
    if mode == "raw":
        return f"{tinysup} -- cat {data} | cat >/dev/null"
    config = os.path.join(directory, f"{mode}.json")
    with open(config, "w") as f:
        json.dump({"output": mode, "programs": {"p": {"command": ["cat", data], "type": "oneshot"}}}, f)
    return f"{tinysup} -c {config} | cat >/dev/null"


def run(mib=256):
    """Returns {line_size: {mode: (median MB/s, median ratio to cat)}}."""
    tinysup = common.build_tinysup()
    directory = common.scratch_dir()
    results = {}
    try:
        for line_size in LINE_SIZES:
            data, size = make_data(directory, line_size, mib)
            times = {mode: [] for mode in MODES}
            for round_ in range(REPEATS):
                for mode in MODES:
                    seconds = common.timed(command(mode, tinysup, data, directory), env={"TINYSUP_LOG": "off"}, shell=True)
                    times[mode].append(seconds)
                common.log(f"throughput {line_size}-byte lines: round {round_ + 1}/{REPEATS}")
            results[line_size] = {}
            for mode in MODES:
                ratios = [cat / own for cat, own in zip(times["cat"], times[mode])]
                mb_per_s = size / common.median(times[mode]) / 1e6
                results[line_size][mode] = (mb_per_s, common.median(ratios))
            os.remove(data)
    finally:
        common.remove(directory)
    return results


def table(results):
    lines = ["| line size | mode | MB/s (median) | throughput / cat's (median of rounds) |",
             "| --- | --- | --- | --- |"]
    for line_size, modes in results.items():
        for mode, (mb_per_s, ratio) in modes.items():
            lines.append(f"| {line_size} B | {mode} | {common.fmt(mb_per_s, 0)} | {common.fmt(ratio)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    print(table(run(mib)))
