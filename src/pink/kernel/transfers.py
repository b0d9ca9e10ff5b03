"""Deposits, withdrawals and transfers: money that moves capital, never PnL.

A :class:`FundsTransferred` books ``amount`` into the account once per
``transfer_id`` as a ``TRANSFER`` account entry. Capital is then
``initial + transfers + gross - fees + funding``; the trade statistics
(gross, fees, net PnL) do not see it. A transfer in an asset the account does
not settle in is not booked but never dropped silently: it leaves an alert
record, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pink.kernel.consts import O_CONFIRMED, O_DUPLICATE, O_QUARANTINED, R_OK, R_PROTOCOL_ERROR
from pink.kernel.messages import (
    ZERO,
    FundsTransferred,
    Outcome,
    ProtocolErrorRecorded,
    Settlement,
    SettlementKind,
)
from pink.kernel.validation import check_money

if TYPE_CHECKING:
    from pink.kernel.core import Kernel

__all__ = ["booked_before", "on_transfer", "refused", "remember"]


def on_transfer(k: Kernel, ev: FundsTransferred, now: int) -> Outcome:
    acct = k.account
    tid = ev.transfer_id
    if not isinstance(tid, str) or not tid:
        return refused("transfer", repr(tid), "transfer_id: must be a non-empty string", now)
    if not isinstance(ev.alt_id, str):
        return refused("transfer", tid, f"transfer {tid}: alt_id must be a string", now)
    if booked_before(acct.transfer_ids, tid, ev.alt_id):
        return Outcome(O_DUPLICATE, R_OK, f"transfer {tid} already booked")
    if not isinstance(ev.asset, str):
        return refused("transfer", tid, f"transfer {tid}: asset must be a string", now)
    why = check_money(ev.amount, "amount")
    if why:
        return refused("transfer", tid, f"transfer {tid}: {why}", now)
    remember(acct.transfer_ids, tid, ev.alt_id)
    k.version += 1
    if ev.asset != k.config.settle_asset:
        detail = (f"transfer {tid}: {ev.amount} {ev.asset or '(no asset)'} not booked "
                  f"(the account settles in {k.config.settle_asset})")
        alert = ProtocolErrorRecorded(-1, "", f"transfer:{tid}", detail, now)
        return Outcome(O_CONFIRMED, R_OK, detail, -1, (), (alert,))
    before = acct.capital
    acct.seq += 1
    acct.capital = before + ev.amount
    acct.transfers += ev.amount
    rec = Settlement(
        acct.seq, SettlementKind.TRANSFER, -1, "", f"transfer:{tid}", ev.amount, ZERO, before, acct.capital, now
    )
    return Outcome(O_CONFIRMED, R_OK, "", -1, (), (rec,))


def refused(kind: str, ident: str, detail: str, now: int) -> Outcome:
    """Money moved the kernel cannot book: quarantined, and said (an alert naming it, for the
    ledger and the operator); its id is not kept, so a corrected report of it still books."""
    return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, detail, -1, (),
                   (ProtocolErrorRecorded(-1, "", f"{kind}:{ident}", detail, now),))


_ALT = "alt:"  # (an ``alt_id`` kept in the same set as the ids: never a venue's id form)


def booked_before(ids: set[str], event_id: str, alt_id: str) -> bool:
    """Whether a movement was booked under ``event_id``, as the ``alt_id`` of one, or under its
    own ``alt_id`` (see :class:`~pink.kernel.messages.FundsTransferred`)."""
    return event_id in ids or _ALT + event_id in ids or bool(alt_id and alt_id in ids)


def remember(ids: set[str], event_id: str, alt_id: str) -> None:
    ids.add(event_id)
    if alt_id:
        ids.add(_ALT + alt_id)
