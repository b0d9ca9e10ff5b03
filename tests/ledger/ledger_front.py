"""Running tests/ledger/chfront.py (ClickHouse-HTTP front over chDB) as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["CHFRONT", "Front"]

CHFRONT = Path(__file__).with_name("chfront.py")


class Front:
    """A chfront subprocess over its own directory; can be stopped and restarted."""

    def __init__(self, directory: Path, port: int = 0) -> None:
        self.directory = directory
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Front:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHFRONT), str(self.directory), str(self.port)],
            stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("ready"), line
        self.port = int(line.split()[1])
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            assert self.proc.stdout is not None
            self.proc.stdout.close()
            self.proc = None
