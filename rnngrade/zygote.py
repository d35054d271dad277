"""Grading kernels forked from a warm parent: torch imported once, not once per notebook.

Grading a class with plain ``nbgrader autograde`` starts one Python kernel per submission,
and each kernel spends about 2.5 s of CPU importing torch, numpy, matplotlib and ipykernel
before the notebook's first test runs (``docs/benchmarks/tests.md``): on two cores, a
third of the time of grading a notebook. A *zygote* imports them once and forks a fresh
kernel per notebook, as Android starts its apps and as PyTorch's own DataLoader starts its
workers (fork after import, before any parallel work).

Two processes:

* ``python -m rnngrade.zygote serve --socket S`` (the zygote): imports ``PRELOAD`` and waits
  on the Unix socket ``S``. Per request it forks; the child starts its own session, takes
  the client's stdin/stdout/stderr, folder and environment, and becomes an ipykernel with
  the client's arguments. The zygote reports the child's exit status back, then forgets it.
  It never runs a notebook's code itself, and a child is a copy of it, not of an earlier
  child: one notebook cannot leave anything behind for the next.
* ``python -m rnngrade.zygote kernel -f CONNECTION_FILE`` (the client, this module's
  kernelspec ``argv``): a 50 ms process that jupyter_client starts and watches as if it were
  the kernel. It asks the zygote named by ``$RNNGRADE_ZYGOTE`` for a kernel, passes on the
  signals it receives (interrupt, terminate) to the kernel's process group, and exits with
  the kernel's status. When it dies (SIGKILL included), the kernel sees its socket close and
  kills its own process group. Without a zygote, or with an environment that differs from
  the zygote's in what an import reads (``MUST_MATCH``), it ``exec``\\ s an ordinary
  ``ipykernel_launcher``: slower, never different.

``kernelspec_dir(folder)`` writes a ``python3`` kernelspec that runs the client; put the
folder first on ``JUPYTER_PATH`` and set ``RNNGRADE_ZYGOTE`` in nbgrader's environment
(``Zygote`` does both). The course's tests grade every exercise this way
(``tests/harness.py``); ``tests/test_zygote.py`` shows that a forked kernel grades like a
fresh one, that notebooks do not share state, and that timeouts, interrupts and kills reach
the kernel. ``rnn-grade``'s sandboxed workers start ordinary kernels.

Standard library only at import: the client must start in milliseconds.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

SOCKET_ENV = "RNNGRADE_ZYGOTE"
# Imported once by the zygote. Third-party only: the course's own packages (autograder records
# the identity of functions when a notebook imports it) are imported by each kernel itself.
# torch._dynamo: torch imports it the first time a notebook builds an optimizer (about as much CPU
# as torch itself); pytest and safetensors: what every exercise's set-up cell imports.
PRELOAD = ("numpy", "torch", "torch._dynamo", "matplotlib", "matplotlib.pyplot", "matplotlib_inline.backend_inline",
           "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "zmq", "tornado.ioloop", "pytest",
           "safetensors.torch")
# Environment variables that a preloaded module reads when it is imported (or the interpreter
# when it starts): a request whose values differ from the zygote's gets an ordinary kernel.
MUST_MATCH_PREFIXES = ("PYTHON", "OMP_", "MKL_", "OPENBLAS_", "KMP_", "TORCH", "CUDA", "MPL", "LD_",
                       "LC_", "XDG_")
MUST_MATCH = ("HOME", "LANG", "TZ", "PATH")
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
_SET_BY_PRELOAD: dict[str, str] = {}  # environment variables that importing PRELOAD set (serve)
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def _relevant(env: dict[str, str]) -> dict[str, str]:
    out = {k: v for k, v in env.items() if k in MUST_MATCH or k.startswith(MUST_MATCH_PREFIXES)}
    out["MPLBACKEND"] = out.get("MPLBACKEND") or INLINE_BACKEND  # ipykernel's default
    return out


def _send(conn: socket.socket, payload: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(payload).encode()
    header = struct.pack("!I", len(data))
    if fds:
        socket.send_fds(conn, [header + data], fds)
    else:
        conn.sendall(header + data)


def _recv(conn: socket.socket, nfds: int = 0) -> tuple[dict | None, list[int]]:
    """One message (and up to ``nfds`` file descriptors); ``(None, [])`` when the peer closed."""
    chunk, fds, _, _ = socket.recv_fds(conn, 65536, nfds) if nfds else (conn.recv(65536), [], 0, None)
    if not chunk:
        return None, list(fds)
    buf = chunk
    while len(buf) < 4 or len(buf) < 4 + struct.unpack("!I", buf[:4])[0]:
        more = conn.recv(65536)
        if not more:
            return None, list(fds)
        buf += more
    (size,) = struct.unpack("!I", buf[:4])
    return json.loads(buf[4:4 + size]), list(fds)


# --------------------------------------------------------------------------- the zygote

def serve(path: str, preload: tuple[str, ...] = PRELOAD) -> None:
    import importlib

    if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():  # as ipykernel_launcher does
        del sys.path[0]
    if not os.environ.get("MPLBACKEND"):  # what ipykernel sets before a notebook imports matplotlib
        os.environ["MPLBACKEND"] = INLINE_BACKEND
    before = dict(os.environ)
    baseline = _relevant(before)  # what the requests are compared with
    for name in preload:
        importlib.import_module(name)
    # what the imports set for themselves (torch._dynamo: TORCHINDUCTOR_CACHE_DIR): a fresh kernel
    # sets the same when it imports them, so each forked kernel gets them too
    global _SET_BY_PRELOAD
    _SET_BY_PRELOAD = {k: v for k, v in os.environ.items() if k not in before}
    gc.collect()
    gc.freeze()  # the children's collections skip (and so never copy) what the zygote imported
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    print("ready", flush=True)  # the parent waits for this line
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, client connection)
    counts = {"forked": 0, "plain": 0}  # kernels started warm / as ordinary kernels: written to PATH.json
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            ready, _, _ = select.select([listener, *children], [], [])
            for fd in ready:
                if fd is listener:
                    conn, _ = listener.accept()
                    kind = _start(conn, listener, children, baseline)
                    if kind:
                        counts[kind] += 1
                        Path(path + ".json").write_text(json.dumps(counts))
                else:
                    pid, conn = children.pop(fd)
                    os.close(fd)
                    _, status = os.waitpid(pid, 0)
                    try:
                        _send(conn, {"status": status})
                    except OSError:
                        pass
                    conn.close()
    finally:
        for pid, _conn in children.values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        listener.close()
        if os.path.exists(path):
            os.unlink(path)


def _start(conn: socket.socket, listener: socket.socket, children: dict, baseline: dict) -> str | None:
    """Fork a kernel for the request on ``conn``; return "forked", "plain" (an environment the
    preloaded modules were not imported under: the child execs an ordinary kernel) or None."""
    try:
        request, fds = _recv(conn, nfds=3)
    except (OSError, ValueError):
        conn.close()
        return None
    if request is None or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        conn.close()
        return None
    warm = _relevant(request["env"]) == baseline
    pid = os.fork()
    if pid == 0:  # the kernel
        code = 1
        try:
            listener.close()
            for pidfd, (_, other) in children.items():
                os.close(pidfd)
                other.close()
            code = _become_kernel(conn, request, fds, warm)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    for fd in fds:
        os.close(fd)
    _send(conn, {"pid": pid})
    children[os.pidfd_open(pid)] = (pid, conn)
    return "forked" if warm else "plain"


def _become_kernel(conn: socket.socket, request: dict, fds: list[int], warm: bool) -> int:
    os.setsid()  # its own process group, which the client signals and the watcher kills
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python sets it at start-up
    os.chdir(request["cwd"])
    argv = request["argv"]
    if not warm:
        # an environment the preloaded modules were not imported under: an ordinary kernel
        os.execve(sys.executable, _launcher(argv), request["env"])
    os.environ.clear()
    os.environ.update(request["env"])
    for key, value in _SET_BY_PRELOAD.items():
        os.environ.setdefault(key, value)
    # ipykernel reads these two when it is imported (in the zygote): give the kernel its own
    argv = [*argv, f"--IPKernelApp.parent_handle={int(request['env'].get('JPY_PARENT_PID') or 0)}",
            f"--IPKernelApp.interrupt={int(request['env'].get('JPY_INTERRUPT_EVENT') or 0)}"]
    import importlib.util

    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *argv]  # as `python -m` sets it

    def watch() -> None:  # the client is gone (killed, even with SIGKILL): so is the kernel
        try:
            while conn.recv(1024):
                pass
        except OSError:
            pass
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, daemon=True, name="zygote-client-watch").start()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)
    return 0


# --------------------------------------------------------------------------- the client

def _launcher(args: list[str]) -> list[str]:
    """The command of an ordinary kernel (what the default ``python3`` kernelspec runs)."""
    return [sys.executable, "-m", "ipykernel_launcher", *args]


def _plain_kernel(args: list[str]) -> None:
    os.execv(sys.executable, _launcher(args))


def client(args: list[str]) -> int:
    path = os.environ.get(SOCKET_ENV)
    if not path:
        _plain_kernel(args)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        _send(conn, {"argv": args, "env": dict(os.environ), "cwd": os.getcwd()}, [0, 1, 2])
        reply, _ = _recv(conn)
    except OSError:
        reply = None
    if not reply or "pid" not in reply:
        conn.close()
        _plain_kernel(args)
    pid = reply["pid"]

    def forward(signum, _frame):
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            pass

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    parent = os.getppid()
    done = None
    while True:  # the kernel's status, or the death of whoever started us (ipykernel's own check)
        ready, _, _ = select.select([conn], [], [], 1.0)
        if ready:
            done, _ = _recv(conn)
            break
        if os.getppid() != parent:
            break
    if done is None:  # the zygote or our parent died: take the kernel with it
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return 1
    code = os.waitstatus_to_exitcode(done["status"])
    return code if code >= 0 else 128 - code


# --------------------------------------------------------------------------- set-up helpers

def kernelspec_dir(folder: Path) -> Path:
    """Write ``folder/kernels/python3/kernel.json`` running the client; return ``folder`` (put it
    first on ``JUPYTER_PATH``)."""
    spec = Path(folder) / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "rnngrade.zygote", "kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel, forked from rnngrade.zygote)",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }, indent=1))
    return Path(folder)


class Zygote:
    """A running zygote and the environment that makes nbgrader use it::

        with Zygote(folder, env) as z:
            subprocess.run(["nbgrader", "autograde", ...], env=z.env)

    ``env`` is the environment of the zygote and of nbgrader (the kernels' environment must
    match it in ``MUST_MATCH``); ``z.env`` adds ``RNNGRADE_ZYGOTE`` and ``JUPYTER_PATH``."""

    def __init__(self, folder: Path, env: dict[str, str], timeout: float = 120):
        import subprocess

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket = str(self.folder / "zygote.sock")
        kernelspec_dir(self.folder)
        self.env = {**env, SOCKET_ENV: self.socket,
                    "JUPYTER_PATH": os.pathsep.join(p for p in (str(self.folder), env.get("JUPYTER_PATH")) if p)}
        self.process = subprocess.Popen([sys.executable, "-m", "rnngrade.zygote", "serve", "--socket", self.socket],
                                        env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and self.process.poll() is None:
            ready, _, _ = select.select([self.process.stdout], [], [], 1)
            if ready:
                line = self.process.stdout.readline().strip()
                break
        if line != "ready":
            self.close()
            raise RuntimeError(f"the zygote did not start (exit {self.process.poll()}, said {line!r})")

    def counts(self) -> dict[str, int]:
        """Kernels started so far: ``{"forked": n, "plain": m}``."""
        stats = Path(self.socket + ".json")
        return json.loads(stats.read_text()) if stats.exists() else {"forked": 0, "plain": 0}

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except Exception:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"] and len(argv) == 3 and argv[1] == "--socket":
        serve(argv[2])
        return 0
    if argv[:1] == ["kernel"]:
        return client(argv[1:])
    if argv[:1] == ["kernelspec"] and len(argv) == 2:
        print(kernelspec_dir(Path(argv[1])))
        return 0
    print("usage: python -m rnngrade.zygote serve --socket PATH | kernelspec FOLDER | kernel -f CONNECTION_FILE",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
