"""`huiqi serve --workers N` on Linux: a listening socket per worker (SO_REUSEPORT), so the
kernel spreads connections over the workers; the parent replaces a worker that dies and stops
them all on SIGTERM. Run here with a tiny app that answers with its process id (the real app
takes seconds to start per worker)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from huiqi.web.workers import STARTUP_FAILURE, port_free, reuse_port_supported

pytestmark = pytest.mark.skipif(not reuse_port_supported(), reason="Linux's SO_REUSEPORT")

PID_APP = """
import os

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = str(os.getpid()).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _supervisor(tmp_path: Path, app: str, port: int) -> subprocess.Popen:
    (tmp_path / "pidapp.py").write_text(textwrap.dedent(PID_APP), encoding="utf-8")
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from huiqi.web.workers import run_workers\n"
        f"sys.exit(run_workers({app!r}, '127.0.0.1', {port}, 2, {{'log_level': 'warning'}}))\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)


def _pid_over_new_connection(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return int(data.split(b"\r\n\r\n", 1)[1])


def _pids(port: int, connections: int = 40, wait: float = 30) -> set[int]:
    deadline = time.monotonic() + wait
    while True:
        try:
            return {_pid_over_new_connection(port) for _ in range(connections)}
        except (OSError, ValueError, IndexError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _listening_sockets(port: int) -> int:
    """Sockets listening on the port (/proc/net/tcp: state 0A), one per worker with
    SO_REUSEPORT, one in all with a shared socket."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for x in lines if x.split()[1].endswith(f":{port:04X}") and x.split()[3] == "0A")


def _both_serving(port: int, wait: float = 60) -> set[int]:
    """The pids that answer once both workers listen (they start one after the other)."""
    deadline = time.monotonic() + wait
    while _listening_sockets(port) < 2:
        assert time.monotonic() < deadline, "the second worker did not start"
        time.sleep(0.2)
    return _pids(port)


def test_workers_share_the_port_and_a_dead_worker_is_replaced(tmp_path: Path) -> None:
    port = _free_port()
    parent = _supervisor(tmp_path, "pidapp:app", port)
    try:
        first = _both_serving(port)
        assert _listening_sockets(port) == 2  # a socket per worker
        # 40 connections over two sockets by a hash: both workers get some (all on one: 2^-39)
        assert len(first) == 2
        assert not port_free("127.0.0.1", port)
        os.kill(min(first), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # the parent starts a new worker in its place
            now = _both_serving(port)
            if len(now) == 2 and min(first) not in now:
                break
            assert time.monotonic() < deadline, now
            time.sleep(0.3)
        assert max(first) in now
    finally:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 0
    assert port_free("127.0.0.1", port)  # every worker is gone


def test_a_worker_that_cannot_start_stops_the_server(tmp_path: Path) -> None:
    """An app that does not import would fail again on every restart: the parent gives up."""
    parent = _supervisor(tmp_path, "no_such_module:app", _free_port())
    assert parent.wait(timeout=60) == STARTUP_FAILURE
