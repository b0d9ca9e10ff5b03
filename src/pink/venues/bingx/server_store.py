"""The BingX simulator's account kept on disk (``pink sim-bingx --state-dir DIR``).

A venue outlives its outages: stopped (or killed) and started again on the same
directory, the server is the same account: wallet, positions and their leverage,
open orders on the book, order history (and the client ids used), fills, funding,
transfers, other income, the position mode and where the prices were. Listen keys
are new; the market goes on from the saved prices.

The account is written to ``DIR/account.json`` after every change, before the
change is answered or pushed (written to a temporary file, synced, then renamed
over the old one: a kill at any moment leaves the previous or the new account,
never half of one). A file that cannot be read is refused with an error naming
it, never overwritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar, get_args, get_type_hints

from pink.errors import ConfigError
from pink.kernel.messages import FundingPaid, FundsTransferred, Side
from pink.venues.bingx.server_income import OtherIncome
from pink.venues.bingx.server_state import SimState, _Agg
from pink.venues.bingx.server_wire import OrderMeta
from pink.venues.sim.account import Position
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.orders import LIVE, EngineFill, EngineOrder

__all__ = ["STATE_FILE", "AccountStore"]

STATE_FILE = "account.json"
_VERSION = 1
T = TypeVar("T")


def _encode(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        out[f.name] = str(value) if isinstance(value, Decimal) else value.value if isinstance(value, Enum) else value
    return out


def _decode(cls: type[T], row: dict[str, Any]) -> T:
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in row:
            kwargs[f.name] = _value(hints[f.name], row[f.name])
    return cls(**kwargs)


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    for t in get_args(hint) or (hint,):
        if t is Decimal:
            return Decimal(value)
        if isinstance(t, type) and issubclass(t, Enum):
            return t(value)
    return value


def _engine(state: SimState) -> MatchingEngine:
    engine = state.engine
    if not isinstance(engine, MatchingEngine):
        raise ConfigError(f"a state directory needs the simulator's MatchingEngine, not {type(engine).__name__}")
    return engine


def dump(state: SimState) -> dict[str, Any]:
    """The account as JSON-ready data."""
    engine = _engine(state)
    acct, records = engine.account, engine.records
    return {
        "version": _VERSION,
        "asset": acct.asset,
        "wallet": {"initial": str(acct.initial), "realized": str(acct.realized), "fees": str(acct.fees),
                   "funding": str(acct.funding), "transfers": str(acct.transfers)},
        "positions": [_encode(p) for p in acct.positions.values() if p.qty],
        "leverage": [[s, side.value, lev] for (s, side), lev in sorted(engine.margins.leverages().items())],
        "orders": [_encode(o) for o in records.orders.values()],
        "rejected": [_encode(o) for o in records.rejected.values()],
        "fills": [_encode(f) for f in records.fills],
        "funding": [_encode(f) for f in engine.funding.since(0)],
        "transfers": [_encode(t) for t in records.transfers],
        "funding_history": [[s, str(rate), ts] for s, rate, ts in engine.funding_history],
        "next_funding": engine.funding.next_ts,
        "last_vid": records.last_vid,
        "prices": {s: [p.bid, p.last] for s, p in engine._procs.items()},
        "hedge": state.hedge,
        "offset_ns": state.offset_ns,
        "meta": {k: _encode(m) for k, m in state.meta.items()},
        "aggs": {k: [str(a.cum_qty), str(a.notional), str(a.commission)] for k, a in state._aggs.items()},
        "other_income": [_encode(o) for o in state.other_income],
        "contract_state": {s: list(v) for s, v in state.contract_state.items()},
    }


def load(state: SimState, data: dict[str, Any]) -> None:
    """Make ``state`` (a fresh server's) the saved account."""
    if data.get("version") != _VERSION:
        raise ValueError(f"version {data.get('version')!r}, this server reads version {_VERSION}")
    engine = _engine(state)
    acct = engine.account
    if data["asset"] != acct.asset:
        raise ValueError(f"the account is in {data['asset']}, the server's in {acct.asset}")
    wallet = data["wallet"]
    acct.initial, acct.realized, acct.fees = (Decimal(wallet[k]) for k in ("initial", "realized", "fees"))
    acct.funding, acct.transfers = Decimal(wallet["funding"]), Decimal(wallet["transfers"])
    acct.positions = {(p.symbol, p.side): p for p in (_decode(Position, r) for r in data["positions"])}
    for symbol, side, lev in data["leverage"]:  # as it was: the checks of a change were made then
        engine.adopt_leverage(symbol, Side(side), int(lev))
    records = engine.records
    for row in data["orders"]:
        o = _decode(EngineOrder, row)
        records.orders[o.venue_order_id] = o
        if o.client_order_id:
            records.by_coid[o.client_order_id.lower()] = o
        if o.status in LIVE:
            records.open[o.symbol][o.venue_order_id] = o
    records.rejected.clear()  # (in place: the engine holds the same objects)
    records.rejected.update((o.client_order_id, o) for o in (_decode(EngineOrder, r) for r in data["rejected"]))
    records.fills[:] = [_decode(EngineFill, r) for r in data["fills"]]
    records.transfers[:] = [_decode(FundsTransferred, r) for r in data["transfers"]]
    engine.funding.restore([_decode(FundingPaid, r) for r in data["funding"]], int(data["next_funding"]))
    engine.funding_history[:] = [(s, Decimal(rate), int(ts)) for s, rate, ts in data["funding_history"]]
    records.last_vid = max(records.last_vid, int(data["last_vid"]))
    for symbol, (bid, last) in data["prices"].items():
        proc = engine._procs.get(symbol)
        if proc is not None:
            proc.bid, proc.last = int(bid), int(last)
    state.hedge = bool(data["hedge"])
    state.offset_ns = int(data["offset_ns"])
    state.meta = {k: _decode(OrderMeta, m) for k, m in data["meta"].items()}
    state._aggs = {k: _Agg(*(Decimal(x) for x in a)) for k, a in data["aggs"].items()}
    state.other_income = [_decode(OtherIncome, r) for r in data["other_income"]]
    state.contract_state = {s: (int(v[0]), str(v[1])) for s, v in data["contract_state"].items()}
    state._reported = {(p.symbol, p.side) for p in acct.positions.values() if p.qty}


class AccountStore:
    """``DIR/account.json``: the account a server restores on start and saves on each change."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE

    def restore(self, state: SimState) -> bool:
        """Load the saved account into ``state`` (False: none saved yet, a new account)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"state directory {self.directory}: cannot create it: {exc}") from exc
        if not self.path.exists():
            return False
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            load(state, data)
        except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as exc:
            raise ConfigError(f"{self.path}: not a saved simulator account ({type(exc).__name__}: {exc}); "
                              f"it is left as it is: move it away to start a new account") from exc  # fmt: skip
        return True

    def save(self, state: SimState) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as out:
            json.dump(dump(state), out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
