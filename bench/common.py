"""Helpers shared by the benchmarks: building tinysup, timing commands, medians."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = "x86_64-unknown-linux-musl"
TINYSUP = os.path.join(ROOT, "target", TARGET, "release", "tinysup")


def log(message):
    print(message, file=sys.stderr, flush=True)


def build_tinysup():
    """Builds the static release binary the benchmarks measure."""
    subprocess.run(["rustup", "target", "add", TARGET], check=True, capture_output=True)
    subprocess.run(
        ["cargo", "build", "-q", "--release", "--target", TARGET],
        cwd=ROOT,
        check=True,
    )
    return TINYSUP


def scratch_dir():
    """A temporary folder in memory when possible (/dev/shm), so disks do not skew."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    return tempfile.mkdtemp(prefix="tinysup-bench-", dir=base)


def remove(path):
    shutil.rmtree(path, ignore_errors=True)


def timed(command, env=None, shell=False):
    """Runs `command` to completion and returns its wall time in seconds."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.perf_counter()
    subprocess.run(command, env=full_env, shell=shell, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median(values):
    return statistics.median(values)


def fmt(value, digits=2):
    return f"{value:,.{digits}f}"


def machine():
    """A short description of the machine, for RESULTS.md."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = os.cpu_count()
    kernel = os.uname().release
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {cores} cores{memory}, Linux {kernel}"
