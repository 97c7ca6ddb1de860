"""``scimctl dev`` (what ``make run`` runs) on a machine without PostgreSQL and Redis: embedded servers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.scimctl.embedded import EmbeddedPostgres
from tests.support.stack import free_port, wait_until

pytestmark = pytest.mark.e2e

DEV_KEYS = {"scim_base_url", "scim_token", "org_id", "admin_token", "api_base_url", "database_url", "redis_url"}


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(entry.name)
            found |= {child} | _children(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def _launch_dev(
    tmp_path: Path, port: int, *, output: int = subprocess.DEVNULL, sigint_ignored: bool = False
) -> subprocess.Popen[str]:
    """``scimctl dev`` with embedded servers, its data under ``tmp_path``, its output to ``output``."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SCIM_DATA_DIR=str(tmp_path / "data"), PORT=str(port))
    return subprocess.Popen(
        [sys.executable, "-m", "services.scimctl", "dev"],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint if sigint_ignored else None,  # noqa: PLW1509 - a signal disposition, no threads
    )


def _dev_info(tmp_path: Path) -> dict[str, str]:
    """What the dev stack wrote to ``dev.json``, once it has."""
    info_path = tmp_path / "data" / "dev.json"
    wait_until(info_path.exists, timeout=120, interval=0.2, what="dev.json")
    info: dict[str, str] = json.loads(info_path.read_text())
    return info


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _kill_all(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "sigint_ignored",
    [
        pytest.param(False, id="from-a-terminal"),
        pytest.param(True, id="started-with-sigint-ignored"),
    ],
)
def test_dev_serves_with_embedded_servers_and_ctrl_c_stops_everything(tmp_path: Path, sigint_ignored: bool) -> None:
    port = free_port()
    dev = _launch_dev(tmp_path, port, output=subprocess.PIPE, sigint_ignored=sigint_ignored)
    started: set[int] = set()
    try:
        info = _dev_info(tmp_path)
        headers = {"Authorization": f"Bearer {info['scim_token']}"}
        created = httpx.post(
            f"{info['scim_base_url']}/Users", json={"userName": "dev.user@example.com"}, headers=headers
        )
        members = httpx.get(
            f"{info['api_base_url']}/orgs/{info['org_id']}/members",
            headers={"Authorization": f"Bearer {info['admin_token']}"},
        )
    finally:
        started = _children(dev.pid)
        dev.send_signal(signal.SIGINT)
        try:
            output, _ = dev.communicate(timeout=60)
        finally:
            # Whatever the outcome, nothing this test started outlives it.
            time.sleep(0.5)
            leftover = {pid for pid in started if _alive(pid)}
            _kill_all(leftover | ({dev.pid} if dev.poll() is None else set()))

    assert set(info) == DEV_KEYS
    assert info["scim_base_url"] == f"http://127.0.0.1:{port}/scim/v2"
    assert created.status_code == 201, created.text
    assert members.status_code == 200
    assert info["scim_token"] in output
    assert dev.returncode == 0, output[-3000:]
    assert len(started) >= 3  # API, worker and Valkey (PostgreSQL detaches; its pid file tells)
    assert leftover == set()
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()


def _start_dev(tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    dev = _launch_dev(tmp_path, free_port())
    return dev, _dev_info(tmp_path)


def _service_pids(pids: set[int]) -> set[int]:
    """The API and worker processes among ``pids``."""
    found = set()
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"services.scimctl" in command and (b"api" in command or b"worker" in command):
            found.add(pid)
    return found


def test_sighup_stops_everything_dev_started(tmp_path: Path) -> None:
    dev, _ = _start_dev(tmp_path)
    started = _children(dev.pid)
    try:
        dev.send_signal(signal.SIGHUP)
        dev.wait(timeout=60)
    finally:
        time.sleep(0.5)
        leftover = {pid for pid in started if _alive(pid)}
        _kill_all(leftover | ({dev.pid} if dev.poll() is None else set()))

    assert dev.returncode == 0
    assert leftover == set()
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()


def test_the_api_and_worker_stop_when_dev_is_killed(tmp_path: Path) -> None:
    dev, info = _start_dev(tmp_path)
    started = _children(dev.pid)
    services = _service_pids(started)
    try:
        dev.kill()
        dev.wait(timeout=10)
        wait_until(
            lambda: not any(_alive(pid) for pid in services),
            timeout=30,
            interval=0.2,
            what="the API and worker to stop after their parent was killed",
        )
    finally:
        # A killed parent cannot stop the embedded servers: the test does, whatever happened above.
        _kill_all({pid for pid in started if _alive(pid)})
        postgres = EmbeddedPostgres(tmp_path / "data" / "postgres")
        postgres.start()
        postgres.stop()

    assert len(services) >= 2  # the API (and its server worker processes) and the worker
    with pytest.raises(httpx.HTTPError):
        httpx.get(info["api_base_url"].removesuffix("/api/v1") + "/healthz", timeout=2)
