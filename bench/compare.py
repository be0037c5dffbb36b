#!/usr/bin/env python3
"""tinysup against its peers, side by side, in one run, on the same work.

Measures binary size, peak memory as PID 1 (1 and 10 programs), start-up overhead, signal
forwarding latency, reaping 10,000 orphans, shutdown time (1 and 10 programs), idle
wake-ups over 10 s, and log throughput. Peers run interleaved, round by round; each figure
is a median over rounds, and each ratio is the median of the per-round ratios. Writes
bench/RESULTS.md and bench/ratios.svg. Run it with bench/run (which installs the peers).
"""

import datetime
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import common
import peers as peer_module

HELPERS = os.path.join(common.ROOT, "target", "bench-peers", "helpers")
# The release build's row name (peers.release_tinysup), in the size and memory tables only.
RELEASE = "tinysup release"
SIGECHO = os.path.join(HELPERS, "sigecho")
ORPHANS = os.path.join(HELPERS, "orphans")
SLEEP = ["sleep", "1000"]


# ---- processes --------------------------------------------------------------------------------

def children(pid):
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    found.extend(int(p) for p in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return found


def descendants(pid):
    found, queue = [], [pid]
    while queue:
        for child in children(queue.pop()):
            found.append(child)
            queue.append(child)
    return found


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def status_field(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


class Pid1Run:
    """A peer running `commands` as PID 1 of a fresh PID namespace."""

    def __init__(self, peer, commands, stdout=subprocess.DEVNULL):
        self.peer = peer
        self.workdir = tempfile.mkdtemp(prefix=f"tinysup-bench-{peer.name}-")
        argv = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--"] + peer.argv(commands, self.workdir)
        env = dict(os.environ)
        env.update(peer.env(self.workdir))
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                        stderr=subprocess.DEVNULL)
        self.pid1 = wait_for(lambda: (children(self.process.pid) or [None])[0], 10, f"{peer.name} to start")

    def processes(self):
        return [self.pid1] + descendants(self.pid1)

    def count(self, name):
        return sum(1 for pid in self.processes() if comm(pid) == name)

    def supervisor_processes(self, program):
        """Every process of the run but the programs (and shells that started them)."""
        return [pid for pid in self.processes() if comm(pid) not in (program, "sh")]

    def stop(self):
        for pid in [self.pid1, self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(self.workdir, ignore_errors=True)


def wait_for(probe, seconds, what):
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def started(run, program, count):
    wait_for(lambda: run.count(program) >= count, 20, f"{run.peer.name} to start {count} {program}")


# ---- measurements -------------------------------------------------------------------------------

def measure_memory(all_peers, rounds, programs):
    """Peak resident memory (VmHWM, KiB) of the supervisor's processes, summed."""
    results = {p.name: [] for p in all_peers}
    for _ in range(rounds):
        runs = [Pid1Run(p, [SLEEP] * programs) for p in all_peers]
        try:
            for run in runs:
                started(run, "sleep", programs)
            time.sleep(1)
            for run in runs:
                results[run.peer.name].append(sum(status_field(pid, "VmHWM") for pid in run.supervisor_processes("sleep")))
        finally:
            for run in runs:
                run.stop()
    return results


def measure_idle_wakeups(all_peers, rounds, seconds=10):
    """Context switches of the supervisor's processes over `seconds` with nothing happening."""
    results = {p.name: [] for p in all_peers}
    for _ in range(rounds):
        runs = [Pid1Run(p, [SLEEP]) for p in all_peers]
        try:
            for run in runs:
                started(run, "sleep", 1)
            time.sleep(1)

            def switches(pids):
                return sum(status_field(pid, "voluntary_ctxt_switches") + status_field(pid, "nonvoluntary_ctxt_switches")
                           for pid in pids)

            watched = {run.peer.name: run.supervisor_processes("sleep") for run in runs}
            before = {name: switches(pids) for name, pids in watched.items()}
            time.sleep(seconds)
            for name, pids in watched.items():
                results[name].append(switches(pids) - before[name])
        finally:
            for run in runs:
                run.stop()
    return results


def measure_startup(all_peers, rounds):
    """Wall time of `PEER true` minus that of bare `true`, in milliseconds."""
    eligible = [p for p in all_peers if p.exits_with_program]
    times = {p.name: [] for p in eligible}
    times["true"] = []
    workdir = tempfile.mkdtemp(prefix="tinysup-bench-startup-")
    try:
        argvs = {p.name: (p.argv([["true"]], workdir), {**os.environ, **p.env(workdir)}) for p in eligible}
        argvs["true"] = (["true"], dict(os.environ))
        for _ in range(rounds):
            for name, (argv, env) in argvs.items():
                start = time.perf_counter()
                subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[name].append((time.perf_counter() - start) * 1000)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base = statistics.median(times.pop("true"))
    return {name: [t - base for t in values] for name, values in times.items()}, base


def measure_signal_latency(all_peers, rounds, signals=50):
    """Microseconds from a SIGUSR1 sent to PID 1 until the program has it."""
    eligible = [p for p in all_peers if p.forwards_signals]
    results = {p.name: [] for p in eligible}
    for _ in range(rounds):
        for peer in eligible:
            run = Pid1Run(peer, [[SIGECHO]], stdout=subprocess.PIPE)
            try:
                out = run.process.stdout.fileno()
                read_until(out, b"ready\n", 10)
                samples = []
                for _ in range(signals):
                    start = time.perf_counter()
                    os.kill(run.pid1, signal.SIGUSR1)
                    read_until(out, b"s", 5)
                    samples.append((time.perf_counter() - start) * 1e6)
                results[peer.name].append(statistics.median(samples))
            finally:
                run.stop()
    return results


def read_until(fd, marker, seconds):
    deadline = time.monotonic() + seconds
    seen = b""
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise RuntimeError(f"no {marker!r} within {seconds} s")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError("end of output")
        seen = seen[-len(marker):] + chunk
    return seen


def measure_reaping(all_peers, rounds, orphans=10_000, grace=5.0):
    """(seconds from the first orphan until the last is reaped, zombies left `grace` seconds
    after the last was made)."""
    took = {p.name: [] for p in all_peers}
    left = {p.name: [] for p in all_peers}
    for _ in range(rounds):
        for peer in all_peers:
            run = Pid1Run(peer, [[ORPHANS, str(orphans)]], stdout=subprocess.PIPE)
            try:
                out = run.process.stdout.fileno()
                read_until(out, b"start", 30)
                start = time.monotonic()
                read_until(out, b"done", 120)
                made = time.monotonic()

                def zombies():
                    return sum(1 for pid in run.processes() if state(pid) == "Z")

                remaining = zombies()
                while remaining and time.monotonic() - made < grace:
                    time.sleep(0.02)
                    remaining = zombies()
                took[peer.name].append(time.monotonic() - start if not remaining else float("inf"))
                left[peer.name].append(remaining)
            finally:
                run.stop()
    return took, left


def measure_shutdown(all_peers, rounds, programs):
    """Milliseconds from SIGTERM to PID 1 until it has exited (programs: `sleep`, which stops at once)."""
    results = {p.name: [] for p in all_peers}
    for _ in range(rounds):
        for peer in all_peers:
            run = Pid1Run(peer, [SLEEP] * programs)
            try:
                started(run, "sleep", programs)
                time.sleep(0.3)
                start = time.perf_counter()
                os.kill(run.pid1, signal.SIGTERM)
                try:
                    run.process.wait(timeout=30)
                    results[peer.name].append((time.perf_counter() - start) * 1000)
                except subprocess.TimeoutExpired:
                    results[peer.name].append(float("inf"))
            finally:
                run.stop()
    return results


def make_lines(path, mib, line_size=100):
    body = "x" * (line_size - 8)
    count = mib * 1024 * 1024 // line_size
    with open(path, "w") as f:
        block = "".join(f"{i:07d}{body}\n" for i in range(10_000))
        for _ in range(count // 10_000):
            f.write(block)
        f.write("THE-END-OF-THE-DATA\n")
    return os.path.getsize(path)


def measure_throughput(all_peers, rounds, mib):
    """MB/s of program output relayed to stdout: each supervisor's usual way, and cat."""
    names = ["tinysup", "honcho", "supervisord", "pm2-runtime"]
    eligible = [p for p in all_peers if p.name in names]
    results = {name: [] for name in ["cat"] + names}
    workdir = tempfile.mkdtemp(prefix="tinysup-bench-throughput-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        data = os.path.join(workdir, "lines")
        size = make_lines(data, mib)
        program = [["cat", data]]
        for _ in range(rounds):
            for name in ["cat"] + [p.name for p in eligible]:
                peer = next((p for p in eligible if p.name == name), None)
                run_dir = tempfile.mkdtemp(dir=workdir)
                if peer is None:
                    argv, env = ["sh", "-c", f"cat {data} | cat"], dict(os.environ)
                else:
                    # tinysup as a supervisor: a configuration, so its output is prefixed.
                    make = peer.config_argv if peer.name == "tinysup" else peer.argv
                    argv = make(program, run_dir)
                    env = {**os.environ, **peer.env(run_dir)}
                start = time.perf_counter()
                process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL, start_new_session=True)
                try:
                    read_until(process.stdout.fileno(), b"THE-END-OF-THE-DATA", 300)
                    results[name].append(size / (time.perf_counter() - start) / 1e6)
                finally:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


# ---- report ---------------------------------------------------------------------------------------

def median(values):
    finite = [v for v in values if v != float("inf")]
    if not values:
        return None
    if len(finite) < len(values) / 2:
        return float("inf")
    return statistics.median(finite) if finite else float("inf")


def advantage(values, peer, lower_is_better=True, me="tinysup"):
    """Median over rounds of how many times better `me` (tinysup) did than `peer` in that round."""
    ratios = []
    for mine, theirs in zip(values[me], values[peer]):
        if lower_is_better:
            if mine == 0 and theirs == 0:
                ratios.append(1.0)
            elif mine == 0:
                ratios.append(float("inf"))
            else:
                ratios.append(theirs / mine)
        else:
            ratios.append(mine / theirs if theirs else float("inf"))
    return median(ratios) if ratios else None


def show(value, digits=1):
    if value is None:
        return "—"
    if value == float("inf"):
        return "∞"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def table(title, unit, values, lower_is_better=True, note="", digits=1):
    """With a "tinysup release" row, a second column gives the release build's advantage."""
    lines = [f"### {title}", ""]
    if note:
        lines += [note, ""]
    builds = [b for b in ("tinysup", RELEASE) if b in values]
    heads = {"tinysup": "tinysup's advantage", RELEASE: "the release build's advantage"}
    lines += [f"| | {unit} (median) | " + " | ".join(f"{heads[b]} (median of rounds)" for b in builds) + " |",
              "| --- | --- | " + " | ".join("---" for _ in builds) + " |"]
    for name, samples in values.items():
        ratios = ["—" if name in builds else show(advantage(values, name, lower_is_better, b), 2) + "×"
                  for b in builds]
        lines.append(f"| {name} | {show(median(samples), digits)} | " + " | ".join(ratios) + " |")
    return "\n".join(lines) + "\n"


def chart(path, series):
    """A horizontal bar chart of tinysup's advantage (log scale), one group per figure."""
    bar, gap, left, width = 14, 10, 230, 520
    rows = sum(len(v) + 1 for _, v in series)
    height = rows * (bar + 4) + len(series) * gap + 60
    import math

    def x(ratio):
        ratio = min(max(ratio, 0.1), 1000)
        return left + (math.log10(ratio) + 1) / 4 * width

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="4" y="16" font-size="13" font-weight="bold">tinysup\'s advantage over each peer: '
           'right of 1×, tinysup does better (log scale, bars cut at 0.1× and 1000×)</text>']
    y = 30
    for tick in [0.1, 1, 10, 100, 1000]:
        out.append(f'<line x1="{x(tick):.1f}" y1="{y}" x2="{x(tick):.1f}" y2="{height - 20}" '
                   f'stroke="{"#333" if tick == 1 else "#ddd"}"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{height - 6}" text-anchor="middle">{tick:g}×</text>')
    for title, values in series:
        y += gap
        out.append(f'<text x="4" y="{y + bar - 2}" font-weight="bold">{title}</text>')
        y += bar + 4
        for name, ratio in values:
            if ratio is None:
                continue
            end = x(ratio if ratio != float("inf") else 1000)
            start = x(1)
            colour = "#2a9d8f" if ratio >= 1 else "#e76f51"
            out.append(f'<text x="{left - 6}" y="{y + bar - 3}" text-anchor="end">{name}</text>')
            out.append(f'<rect x="{min(start, end):.1f}" y="{y}" width="{abs(end - start):.1f}" height="{bar}" fill="{colour}"/>')
            out.append(f'<text x="{max(start, end) + 4:.1f}" y="{y + bar - 3}">{show(ratio, 2)}×</text>')
            y += bar + 4
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def git_commit():
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def main():
    quick = "--quick" in sys.argv
    rounds = 2 if quick else 5
    tinysup = common.TINYSUP
    all_peers = peer_module.all_peers(tinysup)
    # Size and memory also measure the release build (release/build.sh), next to the plain one.
    with_release = all_peers[:1] + [peer_module.release_tinysup()] + all_peers[1:]
    builds = ["tinysup", RELEASE]
    report = []
    series = []

    common.log("size")
    sizes = {}
    for peer in with_release:
        size, static, what = peer_module.footprint(peer)
        sizes[peer.name] = (size, static, what)
    lines = ["### Binary size", "",
             "`tinysup` is the plain `cargo build --release`; `tinysup release` is the release build "
             "(release/build.sh: the standard library rebuilt, panic messages kept).", "",
             "| | bytes | static | what is counted | tinysup's advantage | the release build's advantage |",
             "| --- | --- | --- | --- | --- | --- |"]
    size_ratios = {b: [] for b in builds}
    for name, (size, static, what) in sizes.items():
        ratios = []
        for build in builds:
            ratio = size / sizes[build][0]
            if name not in builds:
                size_ratios[build].append((name, ratio))
            ratios.append("—" if name in builds else show(ratio, 2) + "×")
        lines.append(f"| {name} | {size:,} | {'yes' if static else 'no'} | {what} | " + " | ".join(ratios) + " |")
    report.append("\n".join(lines) + "\n")
    series.append(("size", size_ratios["tinysup"]))
    series.append(("size, release build", size_ratios[RELEASE]))

    def add(title, unit, values, lower_is_better=True, note="", chart_title=None, digits=1):
        report.append(table(title, unit, values, lower_is_better, note, digits))
        if chart_title:
            for build in [b for b in builds if b in values]:
                series.append((chart_title + (", release build" if build == RELEASE else ""),
                               [(n, advantage(values, n, lower_is_better, build)) for n in values if n not in builds]))

    for programs in (1, 10):
        common.log(f"memory with {programs} program(s)")
        add(f"Peak memory as PID 1, {programs} program{'s' if programs > 1 else ''}", "KiB",
            measure_memory(with_release, rounds, programs),
            note="VmHWM of every process of the init or supervisor, summed (the programs, `sleep`, "
                 "and shells that start them are not counted). An init runs ten programs through a shell. "
                 "`tinysup release` is the release build (release/build.sh).",
            chart_title=f"memory, {programs} program{'s' if programs > 1 else ''}", digits=0)

    common.log("start-up overhead")
    startup, base = measure_startup(all_peers, 20 if quick else 100)
    add("Start-up overhead", "ms", startup,
        note=f"`PEER true` minus bare `true` ({base:.2f} ms), {20 if quick else 100} runs each, interleaved, not as PID 1. "
             "Supervisors that do not exit when their program does are left out.",
        chart_title="start-up overhead", digits=2)

    common.log("signal forwarding latency")
    add("Signal forwarding latency", "µs", measure_signal_latency(all_peers, rounds),
        note="From a SIGUSR1 sent to PID 1 until the program (`sigwaitinfo`) has it: the median of 50 "
             "signals per round. The supervisors do not forward USR1 to their programs and are left out.",
        chart_title="signal latency", digits=0)

    common.log("reaping 10,000 orphans")
    took, left = measure_reaping(all_peers, 1 if quick else 3)
    add("Reaping 10,000 orphans: time", "s", took,
        note="A helper under PID 1 makes 10,000 orphans, one after the other; each exits at once. The time "
             "runs from the first until the last is reaped (making them takes most of it); ∞: some were "
             "still zombies 5 s after the last was made.", chart_title="reaping 10,000 orphans", digits=2)
    add("Reaping 10,000 orphans: zombies left after 5 s", "zombies", left, digits=0)

    for programs in (1, 10):
        common.log(f"shutdown with {programs} program(s)")
        add(f"Shutdown, {programs} program{'s' if programs > 1 else ''}", "ms",
            measure_shutdown(all_peers, rounds, programs),
            note="From SIGTERM to PID 1 until it has exited; the programs (`sleep`) stop at once.",
            chart_title=f"shutdown, {programs} program{'s' if programs > 1 else ''}")

    common.log("idle wake-ups")
    add("Idle wake-ups over 10 s", "context switches", measure_idle_wakeups(all_peers, 1 if quick else 3),
        note="Voluntary and involuntary context switches of the init or supervisor over 10 s with one "
             "program (`sleep`) and nothing happening. Target: 0.", digits=0)

    common.log("log throughput")
    throughput = measure_throughput(all_peers, 2 if quick else 3, 16 if quick else 64)
    add("Log throughput", "MB/s", throughput, lower_is_better=False,
        note="A program (`cat`) writes 64 MiB of 100-byte lines; each supervisor relays them to its stdout "
             "its usual way (tinysup: `prefix`; honcho: prefixed with a timestamp; supervisord: "
             "`stdout_logfile=/dev/stdout`; pm2-runtime: its default), read by the benchmark. `cat` is "
             "`cat | cat`. The advantage is tinysup's throughput over the peer's.",
        chart_title="log throughput", digits=0)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        "# tinysup against its peers",
        "",
        f"Generated by `bench/run` on {now}, tinysup commit {git_commit()}, {rounds} rounds"
        f"{' (quick)' if quick else ''}.",
        "",
        f"Machine: {common.machine()}. Shared and noisy: peers run interleaved, round by round; each "
        "figure is a median, and each ratio is the median of the ratios taken in the same round.",
        "",
        "tinysup's advantage is how many times better it did than the peer: the peer's figure over "
        "tinysup's for costs (size, memory, time, latency), tinysup's over the peer's for "
        "throughput. Above 1, tinysup does better. ![chart](ratios.svg)",
        "",
    ]
    with open(os.path.join(common.ROOT, "bench", "RESULTS.md"), "w") as f:
        f.write("\n".join(header) + "\n" + "\n".join(report))
    chart(os.path.join(common.ROOT, "bench", "ratios.svg"), series)
    common.log("wrote bench/RESULTS.md and bench/ratios.svg")


if __name__ == "__main__":
    main()
