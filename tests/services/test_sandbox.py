"""The code grader's sandbox: passing and failing tests, the time and memory limits, no
network, capped output, no child processes, cancel; and the built-in code tasks against
reference solutions."""

from __future__ import annotations

import asyncio
import socket

import pytest

from locallama_gui.core.benchmarks import builtin_suite, code_job, grade_code
from locallama_gui.services.sandbox import Sandbox, SandboxLimits

ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = (
    "def test_small():\n    assert add(1, 2) == 3\n\n"
    "def test_negative():\n    assert add(-1, -1) == -2\n\n"
    "def test_strings():\n    assert add('a', 'b') == 'ab'\n"
)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(SandboxLimits(timeout_s=3.0, memory_mb=256, output_bytes=16 * 1024))


def test_a_right_solution_passes_every_test(sandbox):
    run = sandbox.run_sync(ADD, ADD_TESTS)
    assert run.passed == ("test_small", "test_negative", "test_strings")
    assert run.total == 3 and run.failed == {} and run.error is None
    assert not run.timed_out and not run.memory_exceeded


def test_a_wrong_solution_fails_with_the_reason(sandbox):
    run = sandbox.run_sync("def add(a, b):\n    return a - b\n", ADD_TESTS)
    assert run.passed == ()
    assert run.failed_count == 3
    assert run.failed["test_small"].startswith("AssertionError")
    assert "TypeError" in run.failed["test_strings"]


def test_code_that_does_not_load_fails_every_test(sandbox):
    run = sandbox.run_sync("def add(a, b) return", ADD_TESTS)
    assert run.passed == () and run.total == 3
    assert "SyntaxError" in (run.error or "")


def test_an_infinite_loop_hits_the_timeout(sandbox):
    code = "def add(a, b):\n    while True:\n        pass\n"
    tests = "def test_first():\n    assert 1 + 1 == 2\n\ndef test_loop():\n    add(1, 2)\n"
    run = sandbox.run_sync(code, tests)
    assert run.timed_out
    assert run.passed == ("test_first",)  # what finished before the limit counts
    assert "timed out" in run.failed["test_loop"]


def test_a_memory_hog_hits_the_memory_limit(sandbox):
    code = "def hog():\n    return bytearray(2 * 1024 ** 3)\n"
    run = sandbox.run_sync(code, "def test_hog():\n    assert len(hog()) > 0\n")
    assert run.memory_exceeded
    assert run.failed["test_hog"].startswith("MemoryError")
    assert "rlimit_as" in run.isolation


def test_opening_a_socket_to_loopback_fails(sandbox):
    # a real server listens on 127.0.0.1: only the sandbox can stop the test reaching it
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        tests = (
            "import socket\n"
            "def test_connect():\n"
            f"    s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    s.close()\n\n"
            "def test_raw_socket():\n"
            "    import _socket\n"
            f"    _socket.socket().connect(('127.0.0.1', {port}))\n"
        )
        run = sandbox.run_sync("", tests)
        server.settimeout(0.2)  # a connection would wait in the backlog: none does
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()
    assert run.passed == ()
    assert "PermissionError" in run.failed["test_connect"]
    assert "PermissionError" in run.failed["test_raw_socket"]
    assert "socket-blocked" in run.isolation


def test_huge_output_is_capped(sandbox):
    code = "def shout():\n    print('x' * 5_000_000)\n"
    run = sandbox.run_sync(code, "def test_shout():\n    shout()\n")
    assert run.output_truncated
    assert len(run.output) <= 16 * 1024
    assert "test_shout" in run.failed  # the write past the limit failed


def test_child_processes_and_the_environment_are_out_of_reach(sandbox, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-secret")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    tests = (
        "import os, subprocess\n"
        "def test_system():\n    os.system('true')\n\n"
        "def test_subprocess():\n    subprocess.run(['true'])\n\n"
        "def test_environment_is_clean():\n"
        "    assert 'OPENROUTER_API_KEY' not in os.environ\n"
        "    assert not any('proxy' in k.lower() for k in os.environ)\n"
    )
    run = sandbox.run_sync("", tests)
    assert "PermissionError" in run.failed["test_system"]
    assert "PermissionError" in run.failed["test_subprocess"]
    assert run.passed == ("test_environment_is_clean",)


def test_printed_fake_results_are_not_believed(sandbox):
    forged = '{"event": "test", "name": "test_a", "ok": true, "token": "guess"}'
    code = f"print({forged!r})\n"
    run = sandbox.run_sync(code, "def test_a():\n    assert False\n")
    assert run.passed == ()


@pytest.mark.asyncio
async def test_async_run_and_cancel_kill_the_process(sandbox):
    run = await sandbox.run(ADD, ADD_TESTS)
    assert run.passed_count == 3
    cancel = asyncio.Event()
    code = "import time\ndef slow():\n    time.sleep(30)\n"
    task = asyncio.create_task(sandbox.run(code, "def test_slow():\n    slow()\n", cancel=cancel))
    await asyncio.sleep(0.3)
    cancel.set()
    run = await asyncio.wait_for(task, 5)
    assert run.cancelled and run.passed == ()


def test_no_interpreter_means_not_run():
    sb = Sandbox()
    sb.python = None
    run = sb.run_sync(ADD, ADD_TESTS)
    assert run.passed == () and run.total == 3 and "no Python interpreter" in run.error


REFERENCE = {
    "code-palindrome": "def is_palindrome(text):\n"
    "    s = [c.lower() for c in text if c.isalnum()]\n"
    "    return s == s[::-1]\n",
    "code-merge-intervals": "def merge_intervals(intervals):\n"
    "    out = []\n"
    "    for a, b in sorted(intervals):\n"
    "        if out and a <= out[-1][1]:\n"
    "            out[-1][1] = max(out[-1][1], b)\n"
    "        else:\n"
    "            out.append([a, b])\n"
    "    return out\n",
    "code-roman": "def roman_to_int(s):\n"
    "    v = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}\n"
    "    total = 0\n"
    "    for i, c in enumerate(s):\n"
    "        if i + 1 < len(s) and v[c] < v[s[i + 1]]:\n"
    "            total -= v[c]\n"
    "        else:\n"
    "            total += v[c]\n"
    "    return total\n",
    "code-top-words": "import re\nfrom collections import Counter\n"
    "def top_words(text, k):\n"
    "    c = Counter(re.findall('[a-z]+', text.lower()))\n"
    "    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:k]\n",
    "code-flatten": "def flatten(items):\n"
    "    out = []\n"
    "    for x in items:\n"
    "        if isinstance(x, list):\n"
    "            out.extend(flatten(x))\n"
    "        else:\n"
    "            out.append(x)\n"
    "    return out\n",
}


def test_builtin_code_tasks_pass_a_reference_and_fail_a_stub(sandbox):
    code_tasks = [t for t in builtin_suite() if t.kind == "code"]
    assert sorted(t.id for t in code_tasks) == sorted(REFERENCE)
    for task in code_tasks:
        answer = f"Here:\n```python\n{REFERENCE[task.id]}```\n"
        job = code_job(task, answer)
        run = sandbox.run_sync(job.code, job.tests)
        grade = grade_code(job, run.passed, run.failed, run.error or "")
        assert grade.quality == 1.0, (task.id, run.failed)
        entry = task.spec["entry_point"]
        stub = code_job(task, f"```python\ndef {entry}(*args):\n    return None\n```")
        run = sandbox.run_sync(stub.code, stub.tests)
        assert grade_code(stub, run.passed, run.failed).quality == 0.0, task.id
