"""A policy's output the kernel could not record is dropped and named, never let through.

The kernel refuses and records an intent whose values are wrong; an intent whose fields are
not of their types (None for a str, a str for a Side, a float for a Decimal, a Decision where an
Intent belongs) would stall the ledger, stop the runtime or leave a journal that cannot be
restored. These run a real kernel, journal and simulator.
"""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pink.journal import JournaledKernel
from pink.kernel import Action, KernelConfig, OrderType, PolicyMetadata, Side
from pink.kernel.messages import Intent
from pink.ledger.rows import rows_for
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.venues.sim.instruments import default_instruments
from tests.runtime.helpers import CAPITAL, Recorder, Scripted, sim_runtime

ENTER = dict(asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.01"), leverage=2)


def enter(slot: int, **fields: Any) -> Decision:
    return Decision(Action.ENTER, slot, **{**ENTER, **fields})  # type: ignore[arg-type]


class Raw:
    """An intent engine that hands the kernel what it is given (a trader's own engine)."""

    def __init__(self, intents: list[Any]) -> None:
        self.intents = intents

    def plan(self, decisions: Any, snapshot: PolicySnapshot) -> list[Any]:
        return self.intents if snapshot.cycle == 2 else []


def good_intent(slot: int = 1, **fields: Any) -> Intent:
    base = dict(trade_id="", intent_id="", asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.01"), leverage=2)
    return Intent(Action.ENTER, slot, **{**base, **fields})  # type: ignore[arg-type]


# what a trader's decision engine or intent engine might hand over by mistake
BAD_DECISIONS: dict[str, Any] = {
    "reason None": enter(1, reason=None),
    "decision_id int": enter(1, decision_id=7),
    "side str": enter(1, side="LONG"),
    "asset int": enter(1, asset=5),
    "time_in_force str": enter(1, time_in_force="GTC"),
    "order_type str": enter(1, order_type="LIMIT", limit_price=Decimal(50000)),
    "metadata None": enter(1, metadata=None),
    "feature str": enter(1, metadata=PolicyMetadata(features={"x": "y"})),  # type: ignore[dict-item]
    "bars_held huge": enter(1, metadata=PolicyMetadata(bars_held=2**70)),
    "leverage huge": enter(1, leverage=10**30),
    "action str": Decision("EXIT", 0),  # type: ignore[arg-type]
    "slot str": Decision(Action.CANCEL, "0"),  # type: ignore[arg-type]
    "slot float": Decision(Action.EXIT, 0.0),  # type: ignore[arg-type]
    "slot huge": Decision(Action.CANCEL, 10**30),
    "EXIT metadata None": Decision(Action.EXIT, 0, metadata=None),  # type: ignore[arg-type]
    "limit price float": enter(1, order_type=OrderType.LIMIT, limit_price=50000.0),
    "limit price NaN": enter(1, order_type=OrderType.LIMIT, limit_price=Decimal("NaN")),
    "margin float": enter(1, quantity=None, margin=100.0),
    "margin negative": enter(1, quantity=None, margin=Decimal(-100)),
    "margin and notional": enter(1, quantity=None, margin=Decimal(100), notional=Decimal(100)),
    "not a decision": {"action": "ENTER", "slot": 1},
    "None": None,
}
BAD_INTENTS: dict[str, Any] = {
    "a Decision": enter(1),
    "reason None": good_intent(reason=None),
    "quantity float": good_intent(quantity=0.01),
    "quantity NaN": good_intent(quantity=Decimal("NaN")),
    "exit_legs list": good_intent(exit_legs=[Decimal(1)]),
    "intent_id int": good_intent(intent_id=5),
}


async def _run(tmp_path: Path, decisions: list[Any], intents: Any = None) -> tuple[Any, Recorder, Path]:
    """Four cycles: cycle 1 opens slot 0; cycle 2 hands over ``decisions`` (or the ``intents``)."""
    journal = tmp_path / "journal.sqlite"
    rec = Recorder()

    def script(snap: PolicySnapshot) -> list[Any]:
        if snap.cycle == 1:
            return [enter(0)]
        return decisions if snap.cycle == 2 else []

    async with sim_runtime(decision=Scripted(script), intents=intents, journal=journal, ledger=rec) as (rt, _v, _k):
        await rt.run(cycles=4)
    return rt, rec, journal


def _restores(journal: Path) -> None:
    jk = JournaledKernel.open(
        journal, KernelConfig(slots=4, initial_capital=CAPITAL, account_id="acct"), default_instruments()
    )
    jk.close()


@pytest.mark.parametrize("bad", list(BAD_DECISIONS), ids=list(BAD_DECISIONS))
async def test_e11_f28_a_bad_decision_is_dropped_and_named_and_all_else_is_recorded(
    tmp_path: Path, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Flaws E11, F28: what the kernel records is recordable; the runtime goes on."""
    rt, rec, journal = await _run(tmp_path, [BAD_DECISIONS[bad]])
    assert rt.policy_errors == 0 and rt.policy_dropped == 1
    assert "decision 0" in caplog.text, caplog.text
    for record in rec.records:
        rows_for(record, account_id="acct", runtime_id="r")  # every record makes its ledger rows
    _restores(journal)


@pytest.mark.parametrize("bad", list(BAD_INTENTS), ids=list(BAD_INTENTS))
async def test_e11_f28_a_bad_intent_of_a_trader_s_engine_is_dropped_and_named(
    tmp_path: Path, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Flaws E11, F28: an intent engine's output is held to the Intent's types too."""
    rt, rec, journal = await _run(tmp_path, [Decision(Action.CANCEL, 3)], Raw([BAD_INTENTS[bad], good_intent(2)]))
    assert rt.policy_errors == 0 and rt.policy_dropped == 1
    assert "intent 0" in caplog.text, caplog.text
    assert rt.slots[2].state != "IDLE"  # the good one beside it went through
    for record in rec.records:
        rows_for(record, account_id="acct", runtime_id="r")
    _restores(journal)


async def test_one_bad_decision_does_not_cost_a_stop_its_cycle(tmp_path: Path) -> None:
    """A float limit price on one ENTER must not keep the stop of another slot from going out."""
    stop = Decision(Action.EXIT, 0, close_all=True, reason="stop")
    rt, _rec, _journal = await _run(tmp_path, [enter(1, order_type=OrderType.LIMIT, limit_price=1.5), stop])
    assert rt.policy_errors == 0 and rt.policy_dropped == 1
    assert rt.slots[0].state == "IDLE" and rt.stats.trades == 1


def test_the_message_names_the_decision_the_field_and_the_value() -> None:
    from pink.policy.check import decision_problem, intent_problem

    assert decision_problem(enter(3, margin=100.0, quantity=None)) == ("margin: must be a Decimal, got float 100.0")
    assert decision_problem(enter(3, side="LONG")) == "side: must be a Side or None, got str 'LONG'"
    assert decision_problem(enter(3, margin=Decimal(-1), quantity=None)) == "margin: must be > 0, got -1"
    assert decision_problem(enter(3)) is None
    assert intent_problem(dataclasses.replace(good_intent(), reason=None)) == (
        "reason: must be a str, got NoneType None"
    )
    assert intent_problem(enter(3)) == "expected an Intent, got Decision"
    assert intent_problem(good_intent()) is None


async def test_decide_returning_none_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class ForgetsToReturn:
        def decide(self, snapshot: PolicySnapshot) -> None:
            pass

    async with sim_runtime(decision=ForgetsToReturn()) as (rt, _v, _k):
        await rt.run(cycles=2)
    assert rt.policy_errors == 2
    assert "decide() returned None, not a list of Decisions" in caplog.text


async def test_margin_sizer_passes_an_unknown_asset_to_the_kernel_to_refuse_by_name(tmp_path: Path) -> None:
    rt, _rec, _j = await _run(tmp_path, [enter(1, asset="XRP-USDT", quantity=None, margin=Decimal(100))], MarginSizer())
    assert rt.stats.summary().refusals == {"UNKNOWN_ASSET": 1}


async def test_a_policy_slower_than_its_cycle_is_named_in_real_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Venue events and timers wait while the policy runs (one task owns the kernel): say so."""
    import time

    from pink.runtime.launcher import Launcher
    from tests.runtime.helpers import quiet_config

    class Slow:
        def decide(self, snapshot: PolicySnapshot) -> list[Decision]:
            time.sleep(0.3)  # the policy under test is slow; nothing waits on it to assert
            return []

    async with Launcher(quiet_config(tmp_path, fast=False, cycle_s=0.2), decision=Slow()) as launcher:
        await launcher.run(cycles=2)
        assert launcher.runtime is not None and launcher.runtime.policy_slow == 2
    assert "policy cycle 1 took 0.3" in caplog.text and "longer than cycle_s (0.2 s)" in caplog.text, caplog.text


async def test_a_failing_policy_is_an_alert_once_not_only_a_log_line(tmp_path: Path) -> None:
    """The live view shows alerts, not the log: a policy that keeps failing (its open slots get no
    exit or stop meanwhile) or whose output is dropped must be one of them, once per problem."""

    class Breaks:
        def decide(self, snapshot: PolicySnapshot) -> list[Decision]:
            if snapshot.cycle == 1:
                return [enter(0)]
            if snapshot.cycle <= 4:
                raise KeyError("ETH-USDT")
            return [enter(1, reason=None)]

    async with sim_runtime(decision=Breaks()) as (rt, _v, _k):
        await rt.run(cycles=7)
    assert rt.policy_errors == 3 and rt.policy_dropped == 3
    assert rt.stats.alerts == [
        "policy failed in cycle 2 (KeyError: 'ETH-USDT'): its cycles are skipped while it fails, "
        "and no exit or stop goes out for 1 open slot",
        "policy cycle 5: decision 0 (ENTER slot 1): reason: must be a str, got NoneType None; not submitted",
    ]


async def test_the_same_problems_on_many_slots_are_one_alert_each(tmp_path: Path) -> None:
    def script(snap: PolicySnapshot) -> list[Decision]:
        return [enter(s.slot, side="LONG") if s.slot % 2 else enter(s.slot, margin=1.5) for s in snap.slots]

    async with sim_runtime(decision=Scripted(script)) as (rt, _v, _k):
        await rt.run(cycles=3)
    assert rt.policy_dropped == 12
    assert [a.split(": ", 2)[2] for a in rt.stats.alerts] == [
        "margin: must be a Decimal, got float 1.5; not submitted",
        "side: must be a Side or None, got str 'LONG'; not submitted",
    ]


async def test_a_refused_intent_of_the_policy_is_named_with_the_kernel_s_detail_once_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``INVALID_FIELD=3`` in the summary does not say which field: the kernel's own words (the
    field and its value) are a warning and an alert, once per kind; a slot busy is only logged."""

    def script(snap: PolicySnapshot) -> list[Decision]:
        off_tick = enter(1, order_type=OrderType.LIMIT, limit_price=Decimal("1000.05"))  # BTC's tick: 0.1
        return [off_tick, enter(2, quantity=Decimal("0.00015")), enter(3, leverage=500), enter(0)]

    caplog.set_level(logging.INFO, logger="pink.runtime.loop")
    async with sim_runtime(decision=Scripted(script)) as (rt, _v, _k):
        await rt.run(cycles=3)
    assert rt.stats.summary().refusals == {"INVALID_FIELD": 6, "LEVERAGE_ABOVE_MAX": 3, "SLOT_BUSY": 2}
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == rt.stats.alerts == [
        "policy cycle 1: intent 0 (ENTER slot 1) refused INVALID_FIELD: limit_price: 1000.05 is not a "
        "multiple of tick 0.1; later ones of this kind are only counted in the summary",
        "policy cycle 1: intent 1 (ENTER slot 2) refused INVALID_FIELD: quantity: 0.00015 is not a "
        "multiple of step 0.0001; later ones of this kind are only counted in the summary",
        "policy cycle 1: intent 2 (ENTER slot 3) refused LEVERAGE_ABOVE_MAX: leverage: 500 is above the "
        "maximum 125; later ones of this kind are only counted in the summary",
    ]
    busy = [r.getMessage() for r in caplog.records if "refused SLOT_BUSY" in r.getMessage()]
    assert len(busy) == 1 and busy[0].startswith("policy cycle 2: intent 3 (ENTER slot 0) refused SLOT_BUSY: ")


async def test_an_enter_the_margin_sizer_sizes_to_nothing_is_named_not_dropped_in_silence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A margin too small for the instrument's minimums made no intent, no refusal and no line:
    the run said 0 / 0 intents and the trader could not tell why the policy never traded."""

    def script(snap: PolicySnapshot) -> list[Decision]:
        return [enter(0, quantity=None, margin=Decimal("0.01")), enter(1, quantity=None, notional=Decimal(1000))]

    async with sim_runtime(decision=Scripted(script)) as (rt, _v, _k):
        await rt.run(cycles=2)
    assert rt.slots[1].state != "IDLE"  # the one beside it went through
    assert rt.policy_dropped == 2
    said = [a.split(": ", 2)[2] for a in rt.stats.alerts]
    assert len(said) == 1 and said[0].startswith(
        "margin: sizes below BTC-USDT's minimum quantity 0.0001 or notional 5, "
        "got 0.01 x leverage 2 = 0.02 notional at 5"
    ), said
    assert said[0].endswith("; not submitted") and "decision 0 (ENTER slot 0)" in caplog.text


async def test_a_policy_failing_every_cycle_logs_its_traceback_once_then_one_line_a_cycle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same exception every cycle was a full traceback every cycle (5,000 terminal lines in
    300 cycles), burying every other warning: once per kind of exception, then one line."""

    class Breaks:
        def decide(self, snapshot: PolicySnapshot) -> list[Decision]:
            if snapshot.cycle == 4:
                raise ValueError("bad bar")
            if snapshot.cycle == 6:
                return []
            raise KeyError("ETH-USDT")

    async with sim_runtime(decision=Breaks()) as (rt, _v, _k):
        await rt.run(cycles=7)
    failed = [r for r in caplog.records if r.getMessage().startswith("policy failed")]
    assert [(r.levelname, r.exc_info is not None) for r in failed] == [
        ("ERROR", True), ("ERROR", False), ("ERROR", False), ("ERROR", True), ("ERROR", False), ("ERROR", True)]
    assert failed[2].getMessage() == (
        "policy failed in cycle 3 (KeyError: 'ETH-USDT'; 3 cycles in a row, its traceback at cycle 1); "
        "cycle skipped")
    assert rt.policy_errors == 6
