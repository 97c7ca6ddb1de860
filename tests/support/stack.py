"""Real API and worker processes for end-to-end tests.

Each process is started with ``python -m services.scimctl api|worker`` and the environment of the test run, logs
to a file under the test's temporary directory, and can be stopped, killed with SIGKILL, and started again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

__all__ = ["ServiceProcess", "eventually", "free_port", "wait_until"]

_START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(
    condition: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> None:
    """Poll ``condition`` until it is true; fail the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.05, what: str = "condition"
) -> None:
    """Await ``condition`` until it is true; fail the test with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within} s waiting for {what}")


class ServiceProcess:
    """One ``scimctl`` subcommand running as a child process."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path, *, port: int | None = None) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        env = dict(self.env)
        if self.port is not None:
            env.update(HOST="127.0.0.1", PORT=str(self.port))
        log = self.log_path.open("ab")
        self._log_start = log.tell()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.scimctl", self.command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        if self.command == "api":
            wait_until(self._api_answers, timeout=_START_TIMEOUT, interval=0.1, what=f"the API on port {self.port}")
        elif self.command == "worker":
            wait_until(self._worker_started, timeout=_START_TIMEOUT, interval=0.1, what="the worker")

    def _worker_started(self) -> bool:
        # Only this start counts: a restarted worker appends to the log of the one before.
        self._check_alive()
        return b"worker_started" in self.log()[self._log_start :]

    def _api_answers(self) -> bool:
        self._check_alive()
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = self.log()[-4000:].decode(errors="replace")
            raise AssertionError(f"scimctl {self.command} exited with {self.process.returncode}:\n{tail}")

    def alive(self) -> bool:
        """The process was started and has not exited."""
        return self.process is not None and self.process.poll() is None

    def log(self) -> bytes:
        try:
            return self.log_path.read_bytes()
        except FileNotFoundError:
            return b""

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the whole process group and wait; SIGKILL it if it does not stop."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
