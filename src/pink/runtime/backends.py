"""The launcher's backends around the kernel: the ledger, the state plane, the control file and
the projection, each started as the configuration asks.

A backend that was asked for and cannot start is a :class:`~pink.errors.StartupError` naming
it and the cause (F22), never a silent stand-in; each says in ``backends`` what it really is
("none (not requested)" when it was not asked for).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any

from pink.errors import StartupError
from pink.journal import Journal, records_between
from pink.runtime.config import RuntimeConfig

__all__ = ["build_projection", "catch_up_ledger", "start_control", "start_ledger", "start_plane", "start_projection"]

log = logging.getLogger("pink.runtime.launcher")  # (where a trader's log filters already look)


async def start_ledger(cfg: RuntimeConfig, data: Path, journal: Journal, backends: dict[str, str]) -> Any:
    """The ledger outbox, started and reading ``journal`` for what it may not have written yet
    (:func:`catch_up_ledger`); None when no ledger was asked for."""
    if cfg.ledger == "none":
        backends["ledger"] = "none (not requested)"
        return None
    from pink.ledger.outbox import LedgerOutbox
    from pink.ledger.writer import LedgerWriter, resolve_target

    url = cfg.ledger_url if cfg.ledger == "url" or cfg.ledger_url else None
    if cfg.ledger == "url" and not url:
        raise StartupError("ledger", "ledger=url needs ledger_url")
    target = resolve_target(data_dir=data, url=url, env={})
    loop = asyncio.get_running_loop()
    try:
        writer = await loop.run_in_executor(None, lambda: LedgerWriter.open(target))
    except StartupError:
        raise
    except Exception as exc:
        raise StartupError(f"ledger ({target.describe()})", str(exc)) from exc
    ledger = LedgerOutbox(writer, account_id=cfg.account_id, runtime_id=cfg.runtime_id,
                          journal=functools.partial(records_between, journal.path))
    ledger.start()
    backends["ledger"] = target.describe()
    return ledger


async def catch_up_ledger(cfg: RuntimeConfig, ledger: Any, journal: Journal, described: str) -> None:
    """Have the ledger read from the journal every record it may not have written (crash,
    outage): in its writer thread, in batches, while the runtime starts and trades. A ledger
    ahead of the journal (``described``: which ledger) stops the start, named."""
    position = await ledger.resume_position() or 0
    if position > journal.seq:  # the ledger's rows would chain onto a journal they are not from
        raise StartupError(f"ledger ({described})", f"it holds rows of account "
                           f"{cfg.account_id!r} / runtime {cfg.runtime_id!r} up to journal position {position}, "
                           f"but the journal {journal.path} is at position {journal.seq} (deleted or replaced?); "
                           "put that journal back, or start this account on a new data dir (or with another "
                           "runtime_id)")
    if position == journal.seq:
        return
    ledger.from_journal(journal.seq)
    log.info("ledger catch-up: journal messages %d to %d", position + 1, journal.seq)


def start_plane(cfg: RuntimeConfig, data: Path, backends: dict[str, str]) -> Any:
    """The shared-memory state plane (None when not asked for)."""
    if cfg.plane == "shm":
        from pink.plane.shm import StatePlane

        plane = StatePlane.create(data, cfg.account_id, cfg.runtime_id, cfg.slots)
        backends["plane"] = f"shared memory ({data})"
        return plane
    backends["plane"] = "none (not requested)"
    return None


def start_control(cfg: RuntimeConfig, data: Path, backends: dict[str, str]) -> Any:
    """The reader of ``pink control``'s file (None when not asked for)."""
    if cfg.control == "file":
        from pink.plane.control import ControlReader

        control = ControlReader(data)
        backends["control"] = f"file {control.path}"
        return control
    backends["control"] = "none (not requested)"
    return None


def build_projection(cfg: RuntimeConfig, backends: dict[str, str]) -> tuple[Any, str]:
    """The projector to Redis and/or Hazelcast, not started yet, and what its sinks are (None:
    not asked for)."""
    wanted = cfg.projection_backends
    if not wanted:
        backends["projection"] = "none (not requested)"
        return None, ""
    from pink.projection.projector import Projector
    from pink.projection.sinks import HazelcastSink, RedisSink

    sinks: list[Any] = []
    for name in wanted:
        if name == "redis":
            sinks.append(RedisSink(cfg.redis_url))
        else:
            sinks.append(HazelcastSink(cfg.hazelcast_members, cluster_name=cfg.hazelcast_cluster))
    return Projector(cfg.account_id, cfg.runtime_id, sinks), ", ".join(s.backend for s in sinks)


async def start_projection(cfg: RuntimeConfig, projection: Any, described: str, backends: dict[str, str]) -> None:
    """Start ``projection`` (the caller holds it first: one that fails to start is still closed)."""
    try:
        await projection.start()
    except StartupError:
        raise
    except Exception as exc:
        raise StartupError(f"projection ({cfg.projection})", str(exc)) from exc
    backends["projection"] = described
