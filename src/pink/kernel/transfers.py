"""Money moved outside trading: funding payments, deposits, withdrawals and transfers.

A :class:`FundingPaid` books ``amount`` into the account once per ``funding_id`` as a
``FUNDING`` account entry (it is PnL's, in net figures). A :class:`FundsTransferred` books
``amount`` into the account once per ``transfer_id`` as a ``TRANSFER`` account entry. Capital is then
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
    FundingPaid,
    FundsTransferred,
    Outcome,
    ProtocolErrorRecorded,
    Settlement,
    SettlementKind,
)
from pink.kernel.validation import check_money

if TYPE_CHECKING:
    from pink.kernel.core import Kernel

__all__ = ["on_funding", "on_transfer"]


def on_funding(k: Kernel, ev: FundingPaid, now: int) -> Outcome:
    acct = k.account
    fid = ev.funding_id
    screened = _screen(acct.funding_ids, "funding", fid, ev.alt_id, ev.amount, now)
    if screened is not None:
        return screened
    before = acct.capital
    acct.seq += 1
    acct.capital = before + ev.amount
    acct.funding += ev.amount
    k.version += 1
    rec = Settlement(acct.seq, SettlementKind.FUNDING, -1, "", fid, ev.amount, ZERO, before, acct.capital, now)
    return Outcome(O_CONFIRMED, R_OK, "", -1, (), (rec,))


def on_transfer(k: Kernel, ev: FundsTransferred, now: int) -> Outcome:
    acct = k.account
    tid = ev.transfer_id
    if isinstance(tid, str) and tid and not isinstance(ev.asset, str):
        return _refused("transfer", tid, f"transfer {tid}: asset must be a string", now)
    screened = _screen(acct.transfer_ids, "transfer", tid, ev.alt_id, ev.amount, now)
    if screened is not None:
        return screened
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


def _screen(ids: set[str], kind: str, ident: object, alt_id: object, amount: object, now: int) -> Outcome | None:
    """A movement that cannot be booked (refused, said), one already booked (a duplicate), or
    None: then it is remembered as booked under its id (and its ``alt_id``)."""
    if not isinstance(ident, str) or not ident:
        return _refused(kind, repr(ident), f"{kind}_id: must be a non-empty string", now)
    if not isinstance(alt_id, str):
        return _refused(kind, ident, f"{kind} {ident}: alt_id must be a string", now)
    # under its id, as another's alt_id, or under its own alt_id (see FundsTransferred)
    if ident in ids or _ALT + ident in ids or (alt_id and alt_id in ids):
        return Outcome(O_DUPLICATE, R_OK, f"{kind} {ident} already booked")
    why = check_money(amount, "amount")
    if why:
        return _refused(kind, ident, f"{kind} {ident}: {why}", now)
    ids.add(ident)
    if alt_id:
        ids.add(_ALT + alt_id)
    return None


def _refused(kind: str, ident: str, detail: str, now: int) -> Outcome:
    """Money moved the kernel cannot book: quarantined, and said (an alert naming it, for the
    ledger and the operator); its id is not kept, so a corrected report of it still books."""
    return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, detail, -1, (),
                   (ProtocolErrorRecorded(-1, "", f"{kind}:{ident}", detail, now),))


_ALT = "alt:"  # (an ``alt_id`` kept in the same set as the ids: never a venue's id form)
