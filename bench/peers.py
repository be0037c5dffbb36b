"""The peers tinysup is measured against, and how each one runs programs.

An *init* (tini, tini-static, dumb-init, catatonit) runs one program; "ten programs" for it
is a shell that starts ten and waits. A *supervisor* (supervisord, s6, honcho, pm2-runtime,
and tinysup itself) runs a list of programs from its own configuration. Each peer says how
to run a list of commands, and which of its processes are "the supervisor" (for memory and
wake-up counts): every process of the run that is not a program.
"""

import json
import os
import shlex
import shutil
import subprocess

import common

# Where bench/run installs the peers that do not come from Debian.
CACHE = os.path.join(common.ROOT, "target", "bench-peers")
HONCHO = os.path.join(CACHE, "venv", "bin", "honcho")
PM2_RUNTIME = os.path.join(CACHE, "npm", "node_modules", ".bin", "pm2-runtime")


class Peer:
    """One init or supervisor."""

    name = ""
    kind = "init"  # or "supervisor"
    # Does it forward a signal such as SIGUSR1 to its program(s)?
    forwards_signals = True
    # Can it run a command and exit when it ends (for the start-up overhead)?
    exits_with_program = True

    def argv(self, commands, workdir):
        """The command line that runs `commands` (a list of argv lists) under this peer.
        `workdir` is a fresh folder for configuration files."""
        raise NotImplementedError

    def env(self, workdir):
        return {}



def shell_running(commands):
    """An argv running every command in the background and waiting for them all."""
    script = " ".join(f"{shlex.join(c)} &" for c in commands) + " wait"
    return ["sh", "-c", script]


class Init(Peer):
    kind = "init"

    def __init__(self, name, path, before_command):
        self.name = name
        self.path = path
        self.before_command = before_command

    def argv(self, commands, workdir):
        command = commands[0] if len(commands) == 1 else shell_running(commands)
        return [self.path] + self.before_command + command



class Tinysup(Peer):
    name = "tinysup"
    kind = "supervisor"

    def __init__(self, path):
        self.path = path

    def argv(self, commands, workdir):
        """One command: the tini-style mode, as an init is used. Several: a configuration."""
        if len(commands) == 1:
            return [self.path, "--"] + commands[0]
        return self.config_argv(commands, workdir)

    def config_argv(self, commands, workdir):
        """The commands as configured programs (output `prefix`, as a supervisor is used)."""
        config = {"programs": {f"p{i}": {"command": c} for i, c in enumerate(commands)}}
        path = os.path.join(workdir, "tinysup.json")
        with open(path, "w") as f:
            json.dump(config, f)
        return [self.path, "-c", path]

    def env(self, workdir):
        return {"TINYSUP_LOG": "off"}



class Supervisord(Peer):
    name = "supervisord"
    kind = "supervisor"
    forwards_signals = False  # its signals mean things to itself (USR1: reopen logs)
    exits_with_program = False

    def argv(self, commands, workdir):
        sections = [
            "[supervisord]\nnodaemon=true\nuser=root\nlogfile=/dev/null\nlogfile_maxbytes=0\n"
            f"pidfile={workdir}/supervisord.pid\n"
        ]
        for i, command in enumerate(commands):
            sections.append(
                f"[program:p{i}]\ncommand={shlex.join(command)}\nstartsecs=0\nautorestart=false\n"
                "stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n"
                "stderr_logfile=/dev/stderr\nstderr_logfile_maxbytes=0\n"
            )
        path = os.path.join(workdir, "supervisord.conf")
        with open(path, "w") as f:
            f.write("\n".join(sections))
        return ["supervisord", "-c", path]



class S6(Peer):
    name = "s6"
    kind = "supervisor"
    forwards_signals = False  # s6-svscan's signals are commands to itself
    exits_with_program = False

    def argv(self, commands, workdir):
        scan = os.path.join(workdir, "scan")
        for i, command in enumerate(commands):
            service = os.path.join(scan, f"p{i}")
            os.makedirs(service)
            run = os.path.join(service, "run")
            with open(run, "w") as f:
                f.write(f"#!/bin/sh\nexec {shlex.join(command)}\n")
            os.chmod(run, 0o755)
        return ["s6-svscan", scan]



class Honcho(Peer):
    name = "honcho"
    kind = "supervisor"
    forwards_signals = False  # only INT and TERM, to stop

    def argv(self, commands, workdir):
        path = os.path.join(workdir, "Procfile")
        with open(path, "w") as f:
            for i, command in enumerate(commands):
                f.write(f"p{i}: {shlex.join(command)}\n")
        return [HONCHO, "-f", path, "-d", workdir, "start"]



class Pm2Runtime(Peer):
    name = "pm2-runtime"
    kind = "supervisor"
    forwards_signals = False
    exits_with_program = False

    def argv(self, commands, workdir):
        apps = [
            {"name": f"p{i}", "script": c[0], "args": c[1:], "interpreter": "none", "autorestart": False}
            for i, c in enumerate(commands)
        ]
        path = os.path.join(workdir, "ecosystem.config.js")
        with open(path, "w") as f:
            f.write("module.exports = " + json.dumps({"apps": apps}) + ";\n")
        return [PM2_RUNTIME, "start", path]

    def env(self, workdir):
        return {"PM2_HOME": os.path.join(workdir, "pm2")}



# The release build (release/build.sh: std rebuilt, panic messages kept), which bench/run
# builds into CACHE: measured beside the plain one for size and memory only.
RELEASE = os.path.join(CACHE, "release", "tinysup-amd64")


def release_tinysup(path=RELEASE):
    peer = Tinysup(path)
    peer.name = "tinysup release"
    return peer


def all_peers(tinysup_path):
    """tinysup first, then the inits, then the supervisors."""
    return [
        Tinysup(tinysup_path),
        Init("tini", "/usr/bin/tini", ["--"]),
        Init("tini-static", "/usr/bin/tini-static", ["--"]),
        Init("dumb-init", "/usr/bin/dumb-init", []),
        Init("catatonit", "/usr/bin/catatonit", ["--"]),
        Supervisord(),
        S6(),
        Honcho(),
        Pm2Runtime(),
    ]


def du(path):
    """Bytes under `path` (a file or a folder)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total


def is_static(path):
    """True if the ELF file at `path` needs no dynamic loader."""
    out = subprocess.run(["readelf", "-l", path], capture_output=True, text=True)
    return out.returncode == 0 and "INTERP" not in out.stdout


def footprint(peer):
    """(bytes, static, what is counted) for the size table."""
    if isinstance(peer, (Init, Tinysup)):
        path = peer.path
        return os.path.getsize(path), is_static(path), os.path.basename(path)
    if isinstance(peer, S6):
        paths = [shutil.which("s6-svscan"), shutil.which("s6-supervise")]
        skarnet = subprocess.run(["sh", "-c", "ldd $(command -v s6-supervise) | awk '/skarnet/ {print $3}'"],
                                 capture_output=True, text=True).stdout.strip()
        if skarnet:
            paths.append(os.path.realpath(skarnet))
        return sum(os.path.getsize(p) for p in paths), False, "s6-svscan, s6-supervise, libskarnet"
    if isinstance(peer, Supervisord):
        package = subprocess.run(["python3", "-c", "import supervisor, os; print(os.path.dirname(supervisor.__file__))"],
                                 capture_output=True, text=True, env={**os.environ, "PATH": "/usr/bin:/bin"}).stdout.strip()
        python = os.path.realpath("/usr/bin/python3")
        return du(package) + os.path.getsize(python), False, "python3 + supervisor package (not the stdlib)"
    if isinstance(peer, Honcho):
        site = os.path.join(CACHE, "venv", "lib")
        python = os.path.realpath(os.path.join(CACHE, "venv", "bin", "python3"))
        return du(site) + os.path.getsize(python), False, "python3 + honcho venv (not the stdlib)"
    if isinstance(peer, Pm2Runtime):
        node = os.path.realpath(shutil.which("node"))
        return du(os.path.join(CACHE, "npm", "node_modules")) + os.path.getsize(node), False, "node + pm2 node_modules"
    return 0, False, "?"
