"""Hypothesis over the BingX parsers: hostile payloads raise only BingxParseError.

REST responses and stream frames, taken from the recorded fixtures and then
truncated, retyped, stripped of fields or replaced by arbitrary JSON. The
documented failure is :class:`pink.venues.bingx.fields.BingxParseError`
(naming record and field); a KeyError, TypeError, ValueError, decimal error
or anything else escaping a parser is a bug.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pink.venues.bingx import parse, parse_rest
from pink.venues.bingx.fields import BingxParseError

FIX = Path(__file__).parents[1] / "fixtures" / "bingx"

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["NaN", "Infinity", "-1", "1e999", "0x10", "", "LONG", "SHORT", "BOTH", "FILLED", "NEW"]),
)
json_values = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=5)), max_leaves=20)


def _samples() -> list[Any]:
    out: list[Any] = []
    for path in sorted(FIX.glob("*.json")):
        data = json.loads(path.read_text())
        out.append(data)
        if isinstance(data, dict):
            out.extend(v for v in data.values() if isinstance(v, (dict, list)))
    return out


SAMPLES = _samples()


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A recorded payload with one part replaced, removed or truncated, or plain random JSON."""
    if draw(st.booleans()):
        return draw(json_values)
    value = json.loads(json.dumps(draw(st.sampled_from(SAMPLES))))
    node = value
    for _ in range(draw(st.integers(0, 4))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            action = draw(st.sampled_from(["retype", "delete", "descend"]))
            if action == "retype":
                node[key] = draw(json_values)
                break
            if action == "delete":
                del node[key]
                break
            node = node[key]
        elif isinstance(node, list) and node:
            if draw(st.booleans()):
                del node[draw(st.integers(0, len(node) - 1)):]
                break
            node = node[draw(st.integers(0, len(node) - 1))]
        else:
            break
    return value


def _only_parse_errors(fn: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(BingxParseError):
        fn(*args)


PARSERS: list[tuple[str, Callable[[Any], Any]]] = [
    ("parse_user_frame", parse.parse_user_frame),
    ("parse_market_frame", parse.parse_market_frame),
    ("parse_ack", parse_rest.parse_ack),
    ("parse_order", parse_rest.parse_order),
    ("parse_fill_row", parse_rest.parse_fill_row),
    ("parse_income_row", parse_rest.parse_income_row),
    ("parse_position", lambda d: parse_rest.parse_position(d, 1_700_000_000_000)),
    ("parse_balance", lambda d: parse_rest.parse_balance(d, "USDT", 1_700_000_000_000)),
    ("parse_contract", parse_rest.parse_contract),
    ("unwrap_order", lambda d: parse_rest.unwrap_order(d, "order")),
    ("list_of", lambda d: parse_rest.list_of(d, "fills", "fill_orders", "orders")),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=mutated(), which=st.sampled_from(PARSERS))
def test_fuzz_bingx_parsers_raise_only_their_parse_error(payload: Any, which: tuple[str, Any]) -> None:
    _only_parse_errors(which[1], payload)


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(mutated(), min_size=1, max_size=6))
def test_fuzz_fill_tracker_over_hostile_order_updates(frames: list[Any]) -> None:
    """Parsed (or rejected) updates through the FillTracker: events or a parse error, nothing else."""
    tracker = parse.FillTracker(max_orders=4)
    for frame in frames:
        try:
            msg = parse.parse_user_frame(frame)
        except BingxParseError:
            continue
        if isinstance(msg, parse.OrderUpdate):
            try:
                events, _needs_query = tracker.apply(msg)
            except BingxParseError:
                continue
            for ev in events:
                qty = getattr(ev, "last_qty", None)
                assert qty is None or qty > 0


def test_bingx_parse_error_names_the_field() -> None:
    try:
        parse_rest.parse_order({"orderId": 1})
    except BingxParseError as exc:
        assert exc.field and exc.field in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an order without its fields parsed")
