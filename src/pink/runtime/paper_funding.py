"""The funding a paper run's simulator positions hold, kept in the journal at each checkpoint.

A restarted simulator gets back the funding paid out of (or into) each open position's isolated
margin, rebuilt from the journal's fills the kernel booked and its funding payments, in the
venue's time order (:func:`pink.runtime.paper.adopt_book`). Read from the whole journal at each
start, that grew with the journal's history, not with what is open: a long paper run's start
took seconds more for every few days it had traded. So the state is kept in the journal's meta
(``sim_funding``) at each checkpoint, in the snapshot's commit, with the message it was taken
at; a start (and the next checkpoint) folds in only the messages after it.

The result is the whole journal's: a message after the kept state that the venue dated before
what was folded (a fill reported late) would change the order, and a repeat of a fill folded
more than an hour of venue time before (or of one the kernel had not booked then) cannot be
told from a new one: either makes the whole journal read again, as before.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from pink.codec import decode
from pink.errors import PinkError
from pink.journal import Journal, JournaledKernel
from pink.kernel import Kernel
from pink.kernel.events import is_pinks_own
from pink.kernel.messages import ZERO, FundingPaid, OrderFilled, OrderSide, Side

__all__ = ["SIM_FUNDING", "FundingState", "funding_held", "keep_funding", "keep_funding_at_checkpoints"]

log = logging.getLogger(__name__)
SIM_FUNDING = "sim_funding"  # journal meta: the funding held as of a message (FundingState, as JSON)
SEEN_WINDOW_NS = 3_600 * 1_000_000_000  # the booked fills kept, to know their repeats: this much venue time

Key = tuple[str, Side]
Held = dict[Key, tuple[Decimal, Decimal]]


@dataclass
class FundingState:
    """{(symbol, side): (quantity, funding)} of the simulator's positions as the journal's
    messages up to ``seq`` built them; ``ts`` the latest venue time among them (-1: none),
    ``funding_at_ts`` whether a payment was made at it; ``seen`` the booked fills of the last
    :data:`SEEN_WINDOW_NS` of venue time, by (client order id, fill id), with their times;
    ``read`` how many messages were read for it (not kept)."""

    seq: int = 0
    ts: int = -1
    funding_at_ts: bool = False
    held: Held = field(default_factory=dict)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    read: int = 0

    def to_json(self) -> str:
        return json.dumps({
            "seq": self.seq, "ts": self.ts, "funding_at_ts": self.funding_at_ts,
            "held": [[s, side.value, str(q), str(f)] for (s, side), (q, f) in sorted(self.held.items())],
            "seen": [[c, f, t] for (c, f), t in sorted(self.seen.items())],
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> FundingState:
        """The state :meth:`to_json` wrote; anything else is a :class:`ValueError`."""
        try:
            data = json.loads(raw)
            held = {(str(s), Side(side)): (Decimal(q), Decimal(f)) for s, side, q, f in data["held"]}
            seen = {(str(c), str(f)): _int(t) for c, f, t in data["seen"]}
            state = cls(_int(data["seq"]), _int(data["ts"]), data["funding_at_ts"] is True, held, seen)
        except (KeyError, TypeError, InvalidOperation) as exc:
            raise ValueError(f"not a kept funding state: {exc!r}") from None
        if any(not (q.is_finite() and f.is_finite()) for q, f in held.values()):
            raise ValueError("not a kept funding state: a quantity or funding not finite")
        return state


def _int(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"{value!r} is no integer")
    return value


def funding_held(journal: Journal, kernel: Kernel) -> FundingState:
    """The funding state as of the journal's last message: the kept one and the messages after
    it, else (none kept, unreadable, or a message after it the venue dated before it) the whole
    journal's. ``kernel`` is the journal's, as of its last message (it says which fills it booked)."""
    kept = _kept(journal)
    state = _fold(kept, journal, kernel) if kept is not None else None
    if state is None:
        if kept is not None:
            log.info("journal %s: a fill or payment after message %d goes before the funding held kept there: "
                     "read from the whole journal", journal.path, kept.seq)
        state = _fold(FundingState(), journal, kernel)  # (nothing folded: nothing goes before it)
        assert state is not None
    return state


def keep_funding(jk: JournaledKernel) -> None:
    """Keep the funding state as of the journal's last message in its meta (with the current
    batch, or at once outside one). One that cannot be built (a message that cannot be read)
    is not kept, said: the next start reads the journal from the last one kept."""
    try:
        state = funding_held(jk.journal, jk.kernel)
    except (PinkError, ValueError, ArithmeticError) as exc:
        log.warning("journal %s: the funding held by the simulator's positions not kept: %s", jk.journal.path, exc)
        return
    jk.journal.set_meta(SIM_FUNDING, state.to_json())


def keep_funding_at_checkpoints(jk: JournaledKernel) -> None:
    """A paper run: keep the funding state at each checkpoint of its journal (the close too)."""
    jk.checkpoint_hooks.append(lambda: keep_funding(jk))


def _kept(journal: Journal) -> FundingState | None:
    raw = journal.meta(SIM_FUNDING)
    if raw is None:
        return None
    try:
        state = FundingState.from_json(raw)
    except ValueError as exc:
        log.warning("journal %s: the kept funding held cannot be read (%s): read from the whole journal",
                    journal.path, exc)
        return None
    if not 0 < state.seq <= journal.seq:
        log.warning("journal %s: the kept funding held is of message %d, the journal ends at %d: read from the "
                    "whole journal", journal.path, state.seq, journal.seq)
        return None
    return state


def _fold(state: FundingState, journal: Journal, kernel: Kernel) -> FundingState | None:
    """``state`` and the journal's messages after it (None: one of them goes before it)."""
    events: list[tuple[int, int, OrderFilled | FundingPaid]] = []
    seen: set[tuple[str, str]] = set()
    booked: dict[tuple[str, str], int] = {}
    read = 0
    for _seq, _ts, kind, payload in journal.messages(state.seq):
        read += 1
        if kind == "OrderFilled":
            fill = decode(payload, OrderFilled)
            key = (fill.client_order_id, fill.fill_id)
            if not _valid(fill) or key in state.seen or not _booked(fill, kernel, seen):
                continue  # (never booked; a repeat of one booked before)
            if fill.ts < state.ts or (fill.ts == state.ts and state.funding_at_ts):
                return None  # it goes before what was folded (or is a repeat of a fill that cannot be told)
            events.append((fill.ts, 0, fill))
            booked[key] = fill.ts
        elif kind == "FundingPaid":
            paid = decode(payload, FundingPaid)
            if paid.ts < state.ts:
                return None
            events.append((paid.ts, 1, paid))  # after a fill at its time
    events.sort(key=lambda e: e[:2])
    held = dict(state.held)
    for _, _, ev in events:
        _apply(held, ev)
    ts = max(state.ts, events[-1][0]) if events else state.ts
    at_ts = any(isinstance(ev, FundingPaid) and t == ts for t, _, ev in events)
    at_ts = at_ts or (state.funding_at_ts and ts == state.ts)
    window = {k: t for k, t in (state.seen | booked).items() if t >= ts - SEEN_WINDOW_NS}
    return FundingState(journal.seq, ts, at_ts, held, window, state.read + read)


def _apply(held: Held, ev: OrderFilled | FundingPaid) -> None:
    """One fill or payment on the simulator's positions (:meth:`pink.venues.sim.account.Account.fill`:
    a close releases its share of the funding, to 1e-8 as there)."""
    from pink.venues.sim.orders import Q8

    if isinstance(ev, FundingPaid):
        key = _funding_key(ev)
        if key is not None and key in held:
            qty, funding = held[key]
            held[key] = qty, funding + ev.amount
        return
    if ev.position_side is None or ev.side is None or not ev.symbol:
        return
    key = (ev.symbol, ev.position_side)
    qty, funding = held.get(key, (ZERO, ZERO))
    if (ev.side is OrderSide.BUY) == (ev.position_side is Side.LONG):  # opens
        held[key] = qty + ev.last_qty, funding
    elif ev.last_qty >= qty:  # all of it: its margin, funding and all, released
        held.pop(key, None)
    else:
        held[key] = qty - ev.last_qty, funding - (funding * ev.last_qty / qty).quantize(Q8)


def _valid(fill: OrderFilled) -> bool:
    qty, price = fill.last_qty, fill.last_price
    return qty.is_finite() and price.is_finite() and qty > 0 and price > 0


def _booked(fill: OrderFilled, kernel: Kernel, seen: set[tuple[str, str]]) -> bool:
    """Whether the kernel booked this (valid) journaled fill (a fill it quarantined is journaled
    too: a repeat, an overfill, an order it never had). An order it has forgotten (of a trade long
    finished) is taken as booked."""
    cid = fill.client_order_id
    if (cid, fill.fill_id) in seen:
        return False
    seen.add((cid, fill.fill_id))
    kept = kernel.orders.get(cid) or kernel.retired.get(cid)
    if kept is not None:
        return fill.fill_id in kept.fill_ids
    return not is_pinks_own(cid) or cid.rpartition("-")[0] in kernel.used_trade_ids


def _funding_key(ev: FundingPaid) -> Key | None:
    """The position a simulator's payment ``{symbol}-{side}-{ts}`` was charged on."""
    side, dash, ts = ev.funding_id.removeprefix(f"{ev.symbol}-").rpartition("-")
    if not dash or not ts.isdigit() or side not in (Side.LONG.value, Side.SHORT.value):
        return None
    return ev.symbol, Side(side)
