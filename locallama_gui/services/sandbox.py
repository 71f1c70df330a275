"""Run model-written Python and its unit tests in a separate, limited interpreter.

What the sandbox does (on Linux and macOS; see the limits below):

* a fresh interpreter, ``python -I -S -B`` (isolated: no environment variables, no user or
  site packages, no ``.pyc`` files), in a new temporary folder that is deleted afterwards,
  started in its own session so the whole process group can be killed;
* a minimal environment: ``PATH``, ``HOME`` and ``TMPDIR`` (the temporary folder), no proxy
  variables and nothing else of the app's environment (so no API key);
* a wall-clock timeout (the process group is killed), and ``RLIMIT_CPU`` for CPU time;
* ``RLIMIT_AS`` for memory (an allocation past it raises ``MemoryError``), ``RLIMIT_FSIZE``
  for written files (which also caps the captured output), ``RLIMIT_NOFILE``, no core files;
* no network: ``socket.socket`` and friends raise ``PermissionError``, and on Linux the
  interpreter first moves itself into a new, empty network namespace when the kernel allows
  it (root, or unprivileged user namespaces), so even raw system calls reach no network;
* process creation (``os.system``, ``fork``, ``exec*``, ``spawn*``, ``subprocess``) raises
  ``PermissionError``, and ``ctypes`` cannot be imported by the tested code.

What it does not do: it is not a security boundary against code written to escape. The
Python-level blocks run in the same interpreter as the tested code, which could undo them by
introspection; only the resource limits and the network namespace are enforced by the
kernel. The file system is not hidden: the code runs as the app's user and may read what that
user can read (it cannot write more than the size limit per file). On Windows there is no
``resource`` module: only the timeout, the socket and process blocks apply. A frozen app needs
a Python interpreter on ``PATH`` (``python3``) to run code tasks; without one they are
reported as not run.

Results come back through a separate file descriptor, tagged with a random token given on
standard input, so ordinary output of the tested code cannot be mistaken for a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_FAILURE_CHARS = 300

_HARNESS = r"""
import sys, os, json, signal, time

TOKEN = sys.stdin.readline().strip()
LIMITS = json.loads(sys.argv[1])
RESULT = os.fdopen(int(sys.argv[2]), "w", buffering=1)
ISOLATION = []

def emit(**event):
    event["token"] = TOKEN
    try:
        RESULT.write(json.dumps(event) + "\n")
        RESULT.flush()
    except Exception:
        pass

try:
    import resource
except ImportError:
    resource = None
if resource is not None:
    def _limit(name, soft, hard=None):
        what = getattr(resource, name, None)
        if what is None:
            return
        try:
            resource.setrlimit(what, (soft, soft if hard is None else hard))
            ISOLATION.append(name.lower())
        except (ValueError, OSError):
            pass
    mem = LIMITS["memory_bytes"]
    _limit("RLIMIT_AS", mem)
    _limit("RLIMIT_CPU", LIMITS["cpu_s"], LIMITS["cpu_s"] + 1)
    _limit("RLIMIT_FSIZE", LIMITS["file_bytes"])
    _limit("RLIMIT_NOFILE", 64)
    _limit("RLIMIT_CORE", 0)
if hasattr(signal, "SIGXFSZ"):
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the size limit fails instead

if sys.platform.startswith("linux"):
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
        if libc.unshare(CLONE_NEWNET) == 0 or libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
            ISOLATION.append("network-namespace")
    except Exception:
        pass

import socket, _socket

class _Blocked:
    def __init__(self, *args, **kwargs):
        raise PermissionError("network access is blocked in the sandbox")

def _blocked(*args, **kwargs):
    raise PermissionError("network access is blocked in the sandbox")

for _mod in (socket, _socket):
    for _name in ("socket", "SocketType"):
        if hasattr(_mod, _name):
            setattr(_mod, _name, _Blocked)
    for _name in ("socketpair", "fromfd", "create_connection", "create_server", "getaddrinfo",
                  "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        if hasattr(_mod, _name):
            setattr(_mod, _name, _blocked)
ISOLATION.append("socket-blocked")

def _no_process(*args, **kwargs):
    raise PermissionError("starting processes is blocked in the sandbox")

for _name in ("system", "popen", "fork", "forkpty", "execv", "execve", "execl", "execle",
              "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl",
              "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe", "posix_spawn",
              "posix_spawnp", "kill", "killpg"):
    if hasattr(os, _name):
        setattr(os, _name, _no_process)
import subprocess
subprocess.Popen = _Blocked
for _name in ("_posixsubprocess", "_winapi", "ctypes", "_ctypes"):
    sys.modules[_name] = None
ISOLATION.append("process-blocked")

emit(event="ready", isolation=ISOLATION)

import types, traceback

def _short(exc):
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[-300:]

solution = types.ModuleType("solution")
solution.__file__ = "solution.py"
sys.modules["solution"] = solution
try:
    with open("solution.py", encoding="utf-8") as f:
        exec(compile(f.read(), "solution.py", "exec"), solution.__dict__)
except BaseException as exc:
    emit(event="load_error", error=_short(exc), memory=isinstance(exc, MemoryError))
    sys.exit(3)

namespace = {"__name__": "tests"}
namespace.update({k: v for k, v in solution.__dict__.items() if not k.startswith("__")})
try:
    with open("tests.py", encoding="utf-8") as f:
        exec(compile(f.read(), "tests.py", "exec"), namespace)
except BaseException as exc:
    emit(event="load_error", error="tests: " + _short(exc), memory=isinstance(exc, MemoryError))
    sys.exit(3)

for name, fn in list(namespace.items()):
    if not (name.startswith("test") and callable(fn) and getattr(fn, "__module__", "") == "tests"):
        continue
    try:
        fn()
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        emit(event="test", name=name, ok=False, error=_short(exc),
             memory=isinstance(exc, MemoryError))
    else:
        emit(event="test", name=name, ok=True)
emit(event="done")
sys.stdout.flush()
os._exit(0)
"""


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Limits of one run. ``cpu_s`` defaults to the timeout (rounded up)."""

    timeout_s: float = 10.0
    memory_mb: int = 512
    cpu_s: int | None = None
    output_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.memory_mb < 32 or self.output_bytes < 1024:
            raise ValueError("sandbox limits too small")


@dataclass(frozen=True, slots=True)
class TestRun:
    """What one sandboxed run of a solution and its tests gave."""

    passed: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)  # test name -> short error
    total: int = 0
    timed_out: bool = False
    memory_exceeded: bool = False
    output: str = ""
    output_truncated: bool = False
    error: str | None = None  # the run as a whole: load error, no interpreter, killed...
    exit_code: int | None = None
    isolation: tuple[str, ...] = ()
    cancelled: bool = False

    @property
    def passed_count(self) -> int:
        return len(self.passed)

    @property
    def failed_count(self) -> int:
        return self.total - len(self.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed_count,
            "total": self.total,
            "failed": dict(self.failed),
            "timed_out": self.timed_out,
            "memory_exceeded": self.memory_exceeded,
            "output_truncated": self.output_truncated,
            "error": self.error,
            "isolation": list(self.isolation),
        }


def find_python() -> str | None:
    """The interpreter for sandboxed code: this one, unless the app is frozen."""
    if not getattr(sys, "frozen", False) and sys.executable:
        return sys.executable
    return shutil.which("python3") or shutil.which("python")


class Sandbox:
    """Runs ``code`` with its ``tests`` (top-level ``test_*`` functions) within limits."""

    def __init__(self, limits: SandboxLimits | None = None, python: str | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.python = python or find_python()

    def _start(
        self, workdir: Path, code: str, tests: str, limits: SandboxLimits
    ) -> tuple[subprocess.Popen[bytes], Any, Any, str]:
        assert self.python is not None
        (workdir / "solution.py").write_text(code, encoding="utf-8")
        (workdir / "tests.py").write_text(tests, encoding="utf-8")
        harness = workdir.parent / "harness.py"
        harness.write_text(_HARNESS, encoding="utf-8")
        out = open(workdir.parent / "output", "w+b")  # noqa: SIM115 (closed by _collect)
        res = open(workdir.parent / "result", "w+b")  # noqa: SIM115
        token = secrets.token_hex(16)
        cpu = limits.cpu_s if limits.cpu_s is not None else int(limits.timeout_s + 0.999)
        spec = json.dumps(
            {
                "memory_bytes": limits.memory_mb * 1024 * 1024,
                "cpu_s": max(1, cpu),
                "file_bytes": limits.output_bytes,
            }
        )
        env = {"PATH": os.defpath, "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8"}
        if os.name == "nt":
            env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", "")
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True
            kwargs["pass_fds"] = (res.fileno(),)
        proc = subprocess.Popen(
            [self.python, "-I", "-S", "-B", str(harness), spec, str(res.fileno())],
            cwd=workdir,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            close_fds=True,
            **kwargs,
        )
        try:
            assert proc.stdin is not None
            proc.stdin.write((token + "\n").encode())
            proc.stdin.close()
        except OSError:
            pass
        return proc, out, res, token

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            return
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except (ProcessLookupError, PermissionError, OSError):
            with contextlib.suppress(OSError):
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def _collect(
        self,
        proc: subprocess.Popen[bytes],
        out: Any,
        res: Any,
        token: str,
        names: Sequence[str],
        limits: SandboxLimits,
        *,
        timed_out: bool,
        cancelled: bool = False,
    ) -> TestRun:
        with out, res:
            out.seek(0)
            raw = out.read(limits.output_bytes + 1)
            res.seek(0)
            lines = res.read(4 * 1024 * 1024).decode("utf-8", "replace").splitlines()
        truncated = len(raw) >= limits.output_bytes
        output = raw[: limits.output_bytes].decode("utf-8", "replace")
        passed: list[str] = []
        failed: dict[str, str] = {}
        isolation: tuple[str, ...] = ()
        error: str | None = None
        memory = False
        for line in lines:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if not isinstance(ev, dict) or ev.get("token") != token:
                continue
            kind = ev.get("event")
            if kind == "ready":
                isolation = tuple(str(x) for x in ev.get("isolation", ()))
            elif kind == "load_error":
                error = str(ev.get("error", "could not load the code"))[:MAX_FAILURE_CHARS]
                memory = memory or bool(ev.get("memory"))
            elif kind == "test":
                name = str(ev.get("name"))
                if name not in names:
                    continue
                if ev.get("ok") and name not in failed:
                    if name not in passed:
                        passed.append(name)
                else:
                    failed[name] = str(ev.get("error", "failed"))[:MAX_FAILURE_CHARS]
                    if name in passed:
                        passed.remove(name)
                    memory = memory or bool(ev.get("memory"))
        code = proc.returncode
        if timed_out:
            error = error or f"timed out after {limits.timeout_s:g} s"
        elif cancelled:
            error = "cancelled"
        elif code is not None and code < 0:
            sig = -code
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"signal {sig}"
            if name == "SIGXCPU":
                error = error or f"CPU time limit ({limits.cpu_s or int(limits.timeout_s)} s) hit"
            else:
                error = error or f"killed by {name}"
        if "MemoryError" in output:
            memory = True
        for name in names:
            if name not in passed and name not in failed:
                failed[name] = error or "not run"
        return TestRun(
            passed=tuple(passed),
            failed=failed,
            total=len(names),
            timed_out=timed_out,
            memory_exceeded=memory,
            output=output,
            output_truncated=truncated,
            error=error,
            exit_code=code,
            isolation=isolation,
            cancelled=cancelled,
        )

    def _prepare(
        self, code: str, tests: str, timeout_s: float | None
    ) -> tuple[SandboxLimits, list[str]]:
        from locallama_gui.core.benchmarks import unit_test_names

        limits = self.limits
        if timeout_s is not None:
            limits = SandboxLimits(timeout_s, limits.memory_mb, limits.cpu_s, limits.output_bytes)
        return limits, unit_test_names(tests)

    def _no_python(self, names: Sequence[str]) -> TestRun:
        why = "no Python interpreter found to run the code (install python3)"
        return TestRun(failed=dict.fromkeys(names, why), total=len(names), error=why)

    def run_sync(self, code: str, tests: str, *, timeout_s: float | None = None) -> TestRun:
        """Run in this thread; blocks for at most about the timeout."""
        limits, names = self._prepare(code, tests, timeout_s)
        if self.python is None:
            return self._no_python(names)
        with tempfile.TemporaryDirectory(prefix="locallama-sandbox-") as tmp:
            workdir = Path(tmp) / "work"
            workdir.mkdir()
            proc, out, res, token = self._start(workdir, code, tests, limits)
            timed_out = False
            try:
                proc.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                self._kill(proc)
            return self._collect(proc, out, res, token, names, limits, timed_out=timed_out)

    async def run(
        self,
        code: str,
        tests: str,
        *,
        timeout_s: float | None = None,
        cancel: asyncio.Event | None = None,
    ) -> TestRun:
        """Run without blocking the event loop (the wait happens in a worker thread).

        Setting ``cancel`` (or cancelling the caller) kills the process at once.
        """
        limits, names = self._prepare(code, tests, timeout_s)
        if self.python is None:
            return self._no_python(names)
        tmp = tempfile.mkdtemp(prefix="locallama-sandbox-")
        try:
            workdir = Path(tmp) / "work"
            workdir.mkdir()
            proc, out, res, token = self._start(workdir, code, tests, limits)

            def wait() -> bool:
                try:
                    proc.wait(timeout=limits.timeout_s)
                except subprocess.TimeoutExpired:
                    return True
                return False

            waiter = asyncio.ensure_future(asyncio.to_thread(wait))
            stopper = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
            try:
                pending = {waiter} if stopper is None else {waiter, stopper}
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                self._kill(proc)
                await asyncio.shield(waiter)
                out.close()
                res.close()
                raise
            finally:
                if stopper is not None:
                    stopper.cancel()
            if waiter in done:
                timed_out = waiter.result()
                self._kill(proc)
                return self._collect(proc, out, res, token, names, limits, timed_out=timed_out)
            self._kill(proc)
            await waiter
            return self._collect(
                proc, out, res, token, names, limits, timed_out=False, cancelled=True
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["Sandbox", "SandboxLimits", "TestRun", "find_python"]
