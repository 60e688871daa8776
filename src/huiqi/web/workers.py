"""Several server processes on one port, each with a listening socket of its own (Linux's
SO_REUSEPORT), so that the kernel spreads connections over the workers.

Uvicorn's own workers share one listening socket: whichever worker wakes first accepts every
connection waiting, and a keep-alive connection stays with the worker that accepted it. A
client or proxy that opens its few connections at once can thus land all of them on one
worker, leaving the other cores idle (measured: 8 connections, 2 workers, one worker got
them all and served 252 requests/s instead of 500). With a socket per worker the kernel
assigns each connection by a hash of its addresses.

The parent only supervises: it starts the workers, starts a new one when one dies, and stops
them all on SIGINT/SIGTERM.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import threading
from typing import Any

#: The exit status when a worker could not start (uvicorn's own for that case).
STARTUP_FAILURE = 3


def reuse_port_supported() -> bool:
    """Whether the kernel balances connections over sockets bound with SO_REUSEPORT (Linux;
    other systems accept the option without balancing)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on (host, port) yet. Sockets bound with SO_REUSEPORT share a
    port with any other such socket of the same user, so a second server started on a port
    in use would silently share its traffic: checked once before the workers start."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _worker(app: str, host: str, port: int, options: dict[str, Any], ready: Any) -> None:
    """One worker process: its own socket on the shared port, then uvicorn's server; `ready`
    is set once it serves."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                ready.set()

    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        print(f"无法监听 {host}:{port}：{exc.strerror}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
    config = uvicorn.Config(app, host=host, port=port, **options)
    Server(config).run(sockets=[sock])


def run_workers(app: str, host: str, port: int, workers: int, options: dict[str, Any]) -> int:
    """Serve `app` ("module:attribute") from `workers` processes until SIGINT/SIGTERM. A
    worker that dies after it started serving is replaced; one that dies before (the app does
    not import, the port is taken) stops them all, as a restart would fail the same way.
    Returns the exit status for the command (0: stopped by a signal)."""
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no state forked

    def start() -> tuple[Any, Any]:
        ready = spawn.Event()
        process = spawn.Process(target=_worker, args=(app, host, port, options, ready))
        process.start()
        return process, ready

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    running = [start() for _ in range(workers)]
    status = 0
    while not stop.wait(0.5):
        for k, (process, ready) in enumerate(running):
            if process.is_alive():
                continue
            if not ready.is_set():
                status = STARTUP_FAILURE
                stop.set()
                break
            running[k] = start()
    for process, _ in running:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests under way
    for process, _ in running:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
    return status
