from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pink.plane.shm import StatePlane


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[StatePlane]:
    p = StatePlane.create(tmp_path / "data", "acc-1", f"run-{tmp_path.name}", 8)
    try:
        yield p
    finally:
        p.close()
