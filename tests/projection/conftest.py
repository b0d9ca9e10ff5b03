"""Fixtures for the real services; see svc.py for the PINK_SERVICES rule."""

from __future__ import annotations

import pytest

from .svc import HAZELCAST_ADDR, REDIS_URL, need


@pytest.fixture
def redis_url() -> str:
    need(REDIS_URL, "Redis")
    return REDIS_URL


@pytest.fixture
def hazelcast_addr() -> str:
    need(HAZELCAST_ADDR, "Hazelcast")
    return HAZELCAST_ADDR
