"""Fees the venue charges the account outside any fill (a liquidation's clearance fee).

A :class:`FeeCharged` books ``amount`` once per ``charge_id`` as an ``ADJUSTMENT``
account entry with cause ``charge:<id>``: capital falls by it and ``fees`` rise by
it (a negative amount, a refund, does the reverse). It is the account's, not a
trade's: the entry names no slot and no trade, so a closed trade's net PnL stays
what its fills made. A charge in an asset the account does not settle in is not
booked but never dropped silently: it leaves an alert record, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pink.kernel.consts import O_CONFIRMED, O_DUPLICATE, O_QUARANTINED, R_OK, R_PROTOCOL_ERROR
from pink.kernel.messages import (
    ZERO,
    FeeCharged,
    Outcome,
    ProtocolErrorRecorded,
    Settlement,
    SettlementKind,
)
from pink.kernel.validation import check_signed

if TYPE_CHECKING:
    from pink.kernel.core import Kernel

__all__ = ["CHARGE_CAUSE", "on_charge"]

CHARGE_CAUSE = "charge:"
"""The prefix of a charge's account entry's cause (``charge:<id>``), as against a commission
true-up's (``commission:<order>``), both ``ADJUSTMENT`` entries."""


def on_charge(k: Kernel, ev: FeeCharged, now: int) -> Outcome:
    acct = k.account
    cid = ev.charge_id
    if not isinstance(cid, str) or not cid:
        return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, "charge_id: must be a non-empty string")
    if cid in acct.charge_ids:
        return Outcome(O_DUPLICATE, R_OK, f"charge {cid} already booked")
    for name in ("asset", "symbol", "note"):
        if not isinstance(getattr(ev, name), str):
            return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, f"charge {cid}: {name} must be a string")
    why = check_signed(ev.amount, "amount", zero=False)
    if why:
        return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, f"charge {cid}: {why}")
    acct.charge_ids.add(cid)
    k.version += 1
    cause = f"{CHARGE_CAUSE}{cid}"
    if ev.asset != k.config.settle_asset:
        detail = (f"charge {cid} ({ev.note or 'venue fee'}): {ev.amount} {ev.asset or '(no asset)'} not booked "
                  f"(the account settles in {k.config.settle_asset})")  # fmt: skip
        return Outcome(O_CONFIRMED, R_OK, detail, -1, (), (ProtocolErrorRecorded(-1, "", cause, detail, now),))
    before = acct.capital
    acct.seq += 1
    acct.capital = before - ev.amount
    acct.fees += ev.amount
    rec = Settlement(acct.seq, SettlementKind.ADJUSTMENT, -1, "", cause, ZERO, ev.amount, before, acct.capital, now)
    return Outcome(O_CONFIRMED, R_OK, "", -1, (), (rec,))
