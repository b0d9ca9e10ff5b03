"""Hypothesis over intent validation and the control-plane decoder.

Intents: random field values, wrong types included. The kernel never raises;
a refusal names the field and changes no state (F3). Control file: malformed
bytes are refused with a clear error and the previous snapshot stays in force.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pink.kernel import Kernel, KernelConfig
from pink.kernel.messages import Action, Intent, OrderType, OutcomeStatus, Reason, Side, TimeInForce
from pink.plane.control import ControlReader, ControlWriter
from pink.venues.sim.instruments import default_instruments

FIELDS = ("action", "slot", "trade_id", "intent_id", "asset", "side", "quantity", "leverage", "order_type",
          "limit_price", "reference_price", "time_in_force", "exit_legs", "close_all")
weird = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**65), 2**65), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6), st.sampled_from([Decimal("NaN"), Decimal("-1"), Decimal("Infinity"), Decimal("1e-30"),
                                          Decimal("0"), Decimal("1e30"), Decimal("0.00011")]),
    st.tuples(st.decimals(allow_nan=True, allow_infinity=True)), st.lists(st.integers(), max_size=2),
)
good: dict[str, st.SearchStrategy[Any]] = {
    "action": st.sampled_from(list(Action)), "slot": st.integers(-1, 3), "trade_id": st.sampled_from(["t1", "t2", ""]),
    "intent_id": st.just("i1"), "asset": st.sampled_from(["BTC-USDT", "DOGE-USDT", "NOPE"]),
    "side": st.sampled_from([Side.LONG, Side.SHORT, None]),
    "quantity": st.decimals(min_value=-1, max_value=100, places=4, allow_nan=False),
    "leverage": st.integers(-2, 200), "order_type": st.sampled_from(list(OrderType)),
    "limit_price": st.one_of(st.none(), st.decimals(min_value=-1, max_value=10**6, places=1, allow_nan=False)),
    "reference_price": st.one_of(st.none(), st.decimals(min_value=1, max_value=10**5, places=1, allow_nan=False)),
    "time_in_force": st.sampled_from(list(TimeInForce)),
    "exit_legs": st.lists(st.decimals(min_value=-1, max_value=2, places=2, allow_nan=False), max_size=4).map(tuple),
    "close_all": st.booleans(),
}


@st.composite
def intents(draw: st.DrawFn) -> tuple[Intent, str | None]:
    values = {f: draw(good[f]) for f in FIELDS}
    broken = draw(st.one_of(st.none(), st.sampled_from(FIELDS)))
    if broken is not None:
        values[broken] = draw(weird)
    return Intent(**values), broken


def _kernel() -> Kernel:
    k = Kernel(KernelConfig(slots=2), default_instruments())
    k.submit(Intent(Action.ENTER, 1, "t2", "i0", asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.01")), 1)
    return k


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=intents())
def test_fuzz_intent_validation_refusal_names_the_field_and_changes_nothing(case: tuple[Intent, str | None]) -> None:
    intent, broken = case
    k = _kernel()
    before = k.snapshot()
    outcome = k.submit(intent, 2)  # never raises
    if outcome.status is OutcomeStatus.REFUSED:
        assert k.snapshot() == before
        assert outcome.detail
        if outcome.reason is Reason.INVALID_FIELD:
            named = [f for f in FIELDS if f in outcome.detail]
            assert named, outcome.detail
    else:
        assert broken is None or outcome.status is OutcomeStatus.PENDING


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                         st.sampled_from([b"{}", b"[]", b"null", b'{"version": -1}', b'{"version": "x"}',
                                          b'{"kill": 1}', b'{"max_leverage": 0}', b'{"unknown": true}'])))
def test_fuzz_control_file_malformed_keeps_previous_snapshot(tmp_path_factory: Any, garbage: bytes) -> None:
    data: Path = tmp_path_factory.mktemp("ctl")
    writer = ControlWriter(data)
    writer.apply("pause-entries", None, by="fuzz", note="")
    reader = ControlReader(data)
    good_state = reader.current()
    assert good_state.snapshot.pause_entries
    path = reader.path
    path.write_bytes(garbage)
    st_ = path.stat()
    os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000))  # a new version of the file
    state = reader.current()  # never raises
    if reader.last_error:
        assert state == good_state  # the previous snapshot stays in force
        assert "stays in force" in reader.last_error
