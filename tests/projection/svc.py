"""Helpers for tests against the real Redis and Hazelcast of scripts/services.sh.

With PINK_SERVICES=1 (the project's test command sets it) a missing service is
a test FAILURE; without it the services tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services.sh"
REDIS_URL = os.environ.get("PINK_REDIS_URL", "redis://127.0.0.1:6390/0")
HAZELCAST_ADDR = os.environ.get("PINK_HAZELCAST_ADDR", "127.0.0.1:5710")


def _host_port(addr: str) -> tuple[str, int]:
    hostport = addr.split("://", 1)[-1].split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def answers(addr: str) -> bool:
    try:
        with socket.create_connection(_host_port(addr), timeout=0.5):
            return True
    except OSError:
        return False


def need(addr: str, what: str) -> None:
    if answers(addr):
        return
    msg = f"{what} is not answering at {addr}: run scripts/services.sh start"
    if os.environ.get("PINK_SERVICES") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def services(action: str, which: str) -> None:
    """Run scripts/services.sh ACTION WHICH without blocking the event loop."""
    proc = await asyncio.create_subprocess_exec(
        str(SERVICES), action, which,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, f"services.sh {action} {which}: {out.decode()}"


def managed_by_script(which: str) -> bool:
    """Whether the service answering is the one services.sh started (it can stop it)."""
    return (ROOT / ".services" / f"{which}.pid").exists()
