"""Ledger test fixtures: one embedded chDB directory per test process, and a
ClickHouse-HTTP front over chDB (tests/ledger/chfront.py) in a subprocess."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper modules next to this file

from ledger_front import Front


@pytest.fixture(scope="session")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    f = Front(tmp_path_factory.mktemp("chfront")).start()
    yield f
    f.stop()


@pytest.fixture(scope="session")
def embedded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB path this test process opens (chDB allows one per process)."""
    return tmp_path_factory.mktemp("pink-data")


@pytest.fixture
def database() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"
