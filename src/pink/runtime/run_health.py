"""What a run's ``health.json`` says of it (``pink health``, ``pink status``): its backends, its
queues, the venue's stream, the policy's failures (:class:`~pink.plane.health.HealthReport`)."""

from __future__ import annotations

import os
import time
from typing import Any

from pink.plane.health import ControlHeld, HealthReport
from pink.ports import Venue
from pink.runtime.config import RuntimeConfig
from pink.runtime.loop import Runtime

__all__ = ["health_report"]


def health_report(cfg: RuntimeConfig, rt: Runtime | None, ledger: Any, projection: Any, venue: Venue | None,
                  backends: dict[str, str]) -> HealthReport:
    """The health of the run now (``rt`` None: not started)."""
    pol = rt.policy if rt is not None else None
    lh = ledger.health() if ledger is not None else None
    return HealthReport(
        ts=time.time_ns(),
        account_id=cfg.account_id,
        runtime_id=cfg.runtime_id,
        pid=os.getpid(),
        ledger_backend=lh.backend if lh else "",
        ledger_requested=ledger is not None,
        ledger_ok=bool(lh is None or not lh.last_error),
        ledger_backlog=lh.backlog + lh.from_journal if lh else 0,
        ledger_error=lh.last_error if lh else "",
        ledger_rejected=lh.rejected if lh else 0,
        ledger_refusals_dropped=lh.refusals_dropped if lh else 0,
        sinks=tuple(projection.health()) if projection is not None else (),
        control=cfg.control,
        control_held=_control_held(cfg, rt) if rt is not None else None,
        venue=backends.get("venue", ""),
        venue_connected=venue is not None and getattr(venue, "rest_reachable", True),
        stream_connected=venue is not None and venue.stream_connected,
        last_venue_event_age_ms=(time.time_ns() - rt.last_event_wall_ns) // 1_000_000
        if rt is not None and rt.last_event_wall_ns else None,
        awaiting_venue=rt.executor.in_flight
        + sum(1 for s in rt.slots if s.state.endswith(("_PENDING", "_CANCELING"))) if rt is not None else 0,
        queue_depths={"kernel": rt.queued, "in_flight": rt.executor.in_flight}
        if rt is not None else {},
        drops={"events_after_close": rt.events_dropped} if rt is not None else {},
        desync_slots=tuple(s.slot for s in rt.slots if s.state == "DESYNC") if rt else (),
        policy_errors=pol.errors if pol is not None else 0,
        policy_failing_cycles=pol.failing if pol is not None else 0,
        policy_failing_since=pol.failing_since_ns if pol is not None and pol.failing else 0,
        policy_failing_open_slots=pol.failing_held if pol is not None and pol.failing else 0,
        policy_last_error=pol.last_error if pol is not None else "",
    )


def _control_held(cfg: RuntimeConfig, rt: Runtime) -> ControlHeld:
    """The switches ``rt``'s kernel holds, and the control file's version and flatten it last read."""
    snap = rt.control
    cap = snap.max_position_notional
    file_version, mark, flattening = rt.control_read()
    return ControlHeld(
        version=snap.version,
        file_version=file_version if cfg.control == "file" else -1,
        pause_entries=snap.pause_entries,
        kill=snap.kill,
        max_leverage=snap.max_leverage,
        max_position_notional="none" if cap is None else f"{cap:f}",
        flatten_seq=mark.seq,
        flatten_ns=mark.ns,
        flattening=flattening,
    )
