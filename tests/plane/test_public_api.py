from __future__ import annotations

import importlib

import pytest

MODULES = [
    "pink.plane.codec",
    "pink.plane.region",
    "pink.plane.shm",
    "pink.plane.control",
    "pink.plane.health",
    "pink.projection.queue",
    "pink.projection.sinks",
    "pink.projection.projector",
    "pink.cli.plane_cmd",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, name
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr}"
