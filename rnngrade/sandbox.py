"""Run a student's notebook kernel in a sandbox: limits, no network, a private file view.

The batch grader (``rnngrade.batch``) never runs student code in its own process:
nbgrader executes each notebook through a Jupyter kernel, and the kernelspec that the
grader installs for that run starts the kernel through this file::

    python -I -S rnngrade/sandbox.py launch POLICY.json -- python -m ipykernel_launcher -f CONN

``launch`` (still outside the sandbox) sets the resource limits, hands the kernel's
working folder to a throw-away user id, and replaces itself with bubblewrap:

* ``RLIMIT_AS`` (memory), ``RLIMIT_CPU`` (CPU seconds), ``RLIMIT_NPROC`` (processes
  and threads: bounds fork bombs), ``RLIMIT_FSIZE`` (largest file), no core dumps;
* with bubblewrap (``bwrap``): a new mount, PID, network, IPC and UTS namespace. The
  sandbox sees the system folders, the Python installation and the course packages
  read-only, a private ``/tmp``, a loopback-only network, and a working folder
  ``/home/student`` holding read-only copies of the submission's files. Every writable
  place (``/tmp``, ``/dev/shm``, ``/home/student``, ``/run``) is a size-limited tmpfs. The course folder
  (``solutions/``, ``grading/``, the gradebook, other students' work) is not mounted at
  all, so it cannot be read, let alone written;
* run as root, the kernel drops to a user id of its own (``100000 + pid`` of the
  grading process), so ``RLIMIT_NPROC`` counts only this sandbox's processes and the
  kernel holds no privileges. Run as an ordinary user, bubblewrap uses a user namespace;
* without bubblewrap only the limits apply (and the uid switch when root): the
  grader prints a warning that files and network are NOT isolated.

This file uses only the standard library and runs as a script, so starting a kernel
does not import the course packages twice.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

try:
    from .course import GRADER_CELL_S, GRADER_TEST_S, GRADER_WALL_S
except ImportError:  # run as a plain script (the launcher, `python -I -S sandbox.py launch`): its
    GRADER_CELL_S = GRADER_TEST_S = GRADER_WALL_S = None  # limits all come from the policy file

HOME_IN_SANDBOX = "/home/student"
UID_BASE = 100_000  # sandbox uid = UID_BASE + pid of the grading process (unique while it lives)
SYSTEM_RO = ("/usr", "/etc", "/opt")
MERGED = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass
class Limits:
    """Per-submission limits. ``wall_s`` bounds the whole notebook (each of its two runs),
    ``cell_s`` each cell of the feedback run, ``test_s`` each test case of the scoring run."""

    wall_s: float = GRADER_WALL_S
    cell_s: float = GRADER_CELL_S
    test_s: float = GRADER_TEST_S
    mem_mb: int = 8192
    nproc: int = 64
    fsize_mb: int = 128

    @property
    def cpu_s(self) -> int:
        return int(self.wall_s) + 5


@dataclass
class Policy:
    """Everything ``launch`` needs; written as JSON by the trusted grading process."""

    mode: str  # "bwrap" or "rlimit"
    workdir: str  # the kernel's writable working folder (a copy of the submission)
    ipc_dir: str  # connection file and IPC sockets: bound writable at the same path
    limits: Limits
    ro_paths: list[str] = field(default_factory=list)  # Python installation, course packages
    pythonpath: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    uid: int | None = None  # drop to this uid (only when started as root)

    def dump(self, path: Path) -> None:
        d = asdict(self)
        Path(path).write_text(json.dumps(d, indent=1))

    @classmethod
    def load(cls, path: str) -> Policy:
        d = json.loads(Path(path).read_text())
        d["limits"] = Limits(**d["limits"])
        return cls(**d)


# --------------------------------------------------------------------------- detection

_PROBE: tuple[str, str] | None = None


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def probe(force: bool = False) -> tuple[str, str]:
    """("bwrap", details) if bubblewrap can build this sandbox here, else ("rlimit", reason).

    It really starts a sandbox: bwrap may be installed yet unusable (no user namespaces
    in a container, a seccomp profile), and then only the limits are available.
    """
    global _PROBE
    if _PROBE is not None and not force:
        return _PROBE
    exe = bwrap_path()
    if exe is None:
        _PROBE = ("rlimit", "bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        return _PROBE
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rg-probe-") as tmp:
        pol = Policy(mode="bwrap", workdir=tmp, ipc_dir=tmp, limits=Limits(wall_s=20, mem_mb=1024),
                     ro_paths=python_ro_paths(), uid=sandbox_uid())
        os.chmod(tmp, 0o755)
        code = ("import os, socket, sys\n"
                "open('/home/student/ok', 'w').write('1')\n"
                "try:\n    open('/usr/rg-probe', 'w')\n    sys.exit(3)\nexcept OSError:\n    pass\n"
                "s = socket.socket()\ns.settimeout(2)\n"
                "try:\n    s.connect(('1.1.1.1', 53))\n    sys.exit(4)\nexcept OSError:\n    pass\n")
        argv = bwrap_argv(pol, [sys.executable, "-I", "-S", "-c", code])
        try:
            _prepare_owner(pol)
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            _PROBE = ("rlimit", f"bubblewrap is installed but failed to start: {e}")
            return _PROBE
        if proc.returncode != 0:
            why = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            _PROBE = ("rlimit", f"bubblewrap is installed but cannot build the sandbox here: {why[0]}")
            return _PROBE
    ver = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    who = f"uid {sandbox_uid()} per sandbox" if os.geteuid() == 0 else "user namespace"
    _PROBE = ("bwrap", f"{ver or 'bwrap'}; read-only system, private /tmp, no network, {who}")
    return _PROBE


def sandbox_uid() -> int | None:
    """A user id for this process's sandbox when we are root (else None: keep ours)."""
    return UID_BASE + os.getpid() if os.geteuid() == 0 else None


def python_ro_paths() -> list[str]:
    """The Python installation the kernel needs: the venv and the interpreter it points to."""
    paths = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix),
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    return sorted(p for p in paths if not any(p == s or p.startswith(s + "/") for s in SYSTEM_RO))


# --------------------------------------------------------------------------- the command

def bwrap_argv(pol: Policy, command: list[str]) -> list[str]:
    argv = [bwrap_path() or "bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if os.geteuid() != 0:
        argv.append("--unshare-user")
    for p in SYSTEM_RO:
        if os.path.isdir(p):
            argv += ["--ro-bind", p, p]
    for p in MERGED:
        if os.path.islink(p):
            argv += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            argv += ["--ro-bind", p, p]
    # every writable place is a tmpfs with a size: they live in memory, outside RLIMIT_AS
    tmp_size = str(min(pol.limits.fsize_mb * 4, 1024) * 2**20)
    small = str(pol.limits.fsize_mb * 2**20)
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", tmp_size,
             "--tmpfs", "/tmp", "--perms", "1777", "--size", small, "--tmpfs", "/dev/shm",
             "--perms", "0755", "--size", str(2**20), "--tmpfs", "/home",
             "--perms", "0755", "--size", str(2**20), "--tmpfs", "/run"]
    made = {"/", "/tmp", "/home", "/run", *SYSTEM_RO}
    ro = list(pol.ro_paths)
    if pol.uid is not None:  # the `drop` step below runs this file inside the sandbox
        ro.append(os.path.dirname(os.path.abspath(__file__)))
    for p in ro:
        if os.path.exists(p):
            argv += _parents(p, made) + ["--ro-bind", p, p]
    # the working folder: a tmpfs of its own size, holding read-only copies of the given files
    argv += ["--perms", "0777", "--size", small, "--tmpfs", HOME_IN_SANDBOX]
    for entry in sorted(os.listdir(pol.workdir)):
        argv += ["--ro-bind", os.path.join(pol.workdir, entry), f"{HOME_IN_SANDBOX}/{entry}"]
    if os.path.realpath(pol.ipc_dir) != os.path.realpath(pol.workdir):
        argv += _parents(pol.ipc_dir, made) + ["--bind", pol.ipc_dir, pol.ipc_dir]
    argv += ["--chdir", HOME_IN_SANDBOX, "--clearenv"]
    for k, v in sandbox_env(pol, HOME_IN_SANDBOX, "/tmp").items():
        argv += ["--setenv", k, v]
    if pol.uid is not None:  # root: drop to the sandbox's own uid inside, after the mounts
        argv += ["--", sys.executable, "-I", "-S", os.path.abspath(__file__), "drop", str(pol.uid), "--"]
    else:
        argv.append("--")
    return argv + command


def _parents(path: str, made: set[str]) -> list[str]:
    """bwrap arguments creating the missing parent folders of ``path`` world-readable (0755):
    bwrap would copy the host's mode, and /root is 0700."""
    out, parts = [], Path(path).parts
    for i in range(2, len(parts)):
        d = str(Path(*parts[:i]))
        if d not in made and not any(d.startswith(m + "/") for m in SYSTEM_RO):
            out += ["--perms", "0755", "--dir", d]
            made.add(d)
    return out


# How every grading kernel computes: one thread (the grader runs one kernel per core; fewer
# threads also keep RLIMIT_NPROC and RLIMIT_AS meaningful), in nbgrader's grading mode.
# scripts/bench_grader.py runs its bare-notebook baseline with the same settings.
# glibc's malloc returns every block over 32 MiB to the system on free and page-faults it back
# in on the next allocation: tests that allocate large arrays in a loop spent most of their time
# in the kernel (exercise 1's trained-model cell: 7.0 s, 6.4 s of it system time; 4.6 s with
# these settings). Keeping freed memory for reuse is cheap beside RLIMIT_AS.
KERNEL_COMPUTE_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                      "NBGRADER_EXECUTION": "autograde", "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
                      "MALLOC_TRIM_THRESHOLD_": str(2**30), "MALLOC_TOP_PAD_": str(256 * 2**20)}


def sandbox_env(pol: Policy, home: str, tmp: str) -> dict[str, str]:
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "MPLCONFIGDIR": f"{tmp}/mpl", "IPYTHONDIR": f"{tmp}/ipython", "XDG_CACHE_HOME": f"{tmp}/cache",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "MPLBACKEND": "agg",
        "MALLOC_ARENA_MAX": "2", **KERNEL_COMPUTE_ENV,
    }
    if pol.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(pol.pythonpath)
    env.update(pol.env)
    return env


def set_limits(lim: Limits, nproc_extra_for_user: bool) -> None:
    mem = lim.mem_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_s, lim.cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim.fsize_mb * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = lim.nproc
    if nproc_extra_for_user:  # RLIMIT_NPROC counts all processes of our uid: allow those
        nproc += _count_user_tasks(os.getuid())
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _count_user_tasks(uid: int) -> int:
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat(f"/proc/{d}").st_uid == uid:
                    n += len(os.listdir(f"/proc/{d}/task"))
            except OSError:
                pass
    return n


def _prepare_owner(pol: Policy) -> None:
    """Give the sandbox uid its working folder and the connection/IPC folder."""
    if pol.uid is None:
        return
    for top in {pol.workdir, pol.ipc_dir}:
        for dirpath, dirnames, filenames in os.walk(top):
            for name in [dirpath, *(os.path.join(dirpath, f) for f in filenames + dirnames)]:
                os.lchown(name, pol.uid, pol.uid)


def _set_parent_death_signal() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except Exception:  # not Linux, or no libc: the grader kills the process group instead
        pass


def launch(policy_path: str, command: list[str]) -> None:
    pol = Policy.load(policy_path)
    _prepare_owner(pol)
    if pol.mode == "bwrap":
        argv = bwrap_argv(pol, command)
        set_limits(pol.limits, nproc_extra_for_user=pol.uid is None)
        # jupyter_client interrupts a cell with SIGINT to the kernel's process group: the
        # kernel handles it (KeyboardInterrupt), but bwrap itself would die of it and take
        # the sandbox along. Ignored here, inherited by bwrap; ipykernel sets its own handler.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.execv(argv[0], argv)
    # rlimit mode: same limits and uid, no namespaces
    env = sandbox_env(pol, pol.workdir, os.path.join(pol.workdir, ".tmp"))
    os.makedirs(env["TMPDIR"], exist_ok=True)
    if pol.uid is not None:
        os.lchown(env["TMPDIR"], pol.uid, pol.uid)
    os.chdir(pol.workdir)
    _set_parent_death_signal()
    uid = pol.uid if pol.uid is not None and others_can_run(command[0]) else None
    set_limits(pol.limits, nproc_extra_for_user=uid is None)
    if uid is not None:
        _drop(uid)
    os.execve(command[0], command, env)


def kill_group(proc: subprocess.Popen) -> None:
    """Kill a process started with ``start_new_session=True`` and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def others_can_run(exe: str) -> bool:
    """Can a user other than the owner reach and run ``exe``? (Python under /root: no.)

    Without bubblewrap's fresh root the sandbox uid sees the host's folders; when it cannot
    run Python the kernel stays root, where RLIMIT_NPROC does not bind: the rlimit mode's
    warning says so.
    """
    for p in [exe, os.path.realpath(exe)]:
        d = os.path.dirname(p)
        while d not in ("/", ""):
            if not os.stat(d).st_mode & 0o001:
                return False
            d = os.path.dirname(d)
    return bool(os.stat(os.path.realpath(exe)).st_mode & 0o001)


def _drop(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def main(argv: list[str]) -> None:
    if len(argv) >= 3 and argv[0] == "launch" and "--" in argv:
        i = argv.index("--")
        launch(argv[1], argv[i + 1:])
    elif len(argv) >= 3 and argv[0] == "drop" and argv[2] == "--":
        _drop(int(argv[1]))
        os.execv(argv[3], argv[3:])
    else:
        sys.exit("usage: sandbox.py launch POLICY.json -- COMMAND... | drop UID -- COMMAND...")


if __name__ == "__main__":
    main(sys.argv[1:])
