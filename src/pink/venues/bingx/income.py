"""Income rows of every type (``GET /openApi/swap/v2/user/income`` without ``incomeType``).

PINK books ``FUNDING_FEE`` and ``TRANSFER`` rows; ``REALIZED_PNL``, ``TRADING_FEE``
and ``INSURANCE_CLEAR`` are the fills' own (booked from the fills): BingX's own example
of a liquidation lists its fill's fee as ``TRADING_FEE`` "Closing Fee" (tranId
``..._COMMISSION``) and its realized loss as ``INSURANCE_CLEAR`` "Strong liquidation"
(``..._PNL``, the same trade), in place of ``REALIZED_PNL``; PINK books that loss from
the liquidating fill's price. Every other type (``TRIAL_FUND``, ``ADL``,
``SYSTEM_DEDUCTION``, ``GTD_PRICE``, or one BingX adds) moves the wallet too, but is not
booked. Such a row is named instead (:func:`name_unbooked`): one warning per ``tranId``,
counted by type, so the books check's later "unexplained difference" has a name. So is a
funding row in another margin asset than the account's (a USDC contract's on a USDT
account): the kernel's funding carries no asset and would count it as the account's.

Every row is known by its ``tranId``. A row without one is booked all the same, by a key made
from its own fields (:attr:`IncomeRow.key`: the same row read again in a later, overlapping
window has the same key, so the kernel books it once), and named once (:func:`name_keyless`).
Two rows alike in every field (time, type, asset, symbol, amount, info) and both without a
``tranId`` cannot be told apart: they are booked as one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pink.kernel.messages import FundingPaid, FundsTransferred
from pink.ports import MoneyMoved
from pink.venues.bingx.fields import BingxParseError, dec, ident, mapping, text, time_ms
from pink.venues.bingx.parse import MS
from pink.venues.bingx.recent import RecentKeys

__all__ = [
    "BOOKED_TYPES",
    "FILL_TYPES",
    "FUNDING_TYPE",
    "TRANSFER_TYPE",
    "IncomeRow",
    "booked_income",
    "name_keyless",
    "name_unbooked",
    "parse_any_income_row",
    "readable_rows",
]

log = logging.getLogger(__name__)

FUNDING_TYPE = "FUNDING_FEE"
#: deposits, withdrawals and transfers into or out of the perpetual account
TRANSFER_TYPE = "TRANSFER"
#: booked from their own rows (funding, deposits/withdrawals/transfers)
BOOKED_TYPES = frozenset({FUNDING_TYPE, TRANSFER_TYPE})
#: the fills' own money, booked from the fills (INSURANCE_CLEAR: a liquidating fill's realized loss)
FILL_TYPES = frozenset({"REALIZED_PNL", "TRADING_FEE", "INSURANCE_CLEAR"})


@dataclass(frozen=True, slots=True)
class IncomeRow:
    """One income row of any type; ``amount`` signed (> 0 credited, < 0 debited)."""

    tran_id: str
    kind: str
    symbol: str
    asset: str
    amount: Decimal
    ts: int  # ns
    info: str = ""

    @property
    def key(self) -> str:
        """What the row is known by: its ``tranId``; without one, a key made from all its own
        fields (the amount by value: ``-0.50`` and ``-0.5`` are one amount), the same at every
        read of the row, and never the form of a BingX ``tranId``."""
        return self.tran_id or self.fields_key

    @property
    def fields_key(self) -> str:
        """The key made from the row's own fields (not its ``tranId``): what a row listed
        without one is booked by, and so the ``alt_id`` of a row listed with one (the same row
        listed both ways is one movement: :class:`~pink.kernel.messages.FundsTransferred`)."""
        ms = self.ts // MS
        amount = self.amount.normalize() if self.amount else Decimal(0)
        fields = "\x1f".join((str(ms), self.kind, self.asset.upper(), self.symbol, f"{amount:f}", self.info))
        digest = hashlib.sha256(fields.encode()).hexdigest()[:24]
        return f"notranid:{self.kind or '-'}:{ms}:{digest}"

    def as_funding(self) -> FundingPaid:
        return FundingPaid(funding_id=self.key, symbol=self.symbol, amount=self.amount, ts=self.ts,
                           alt_id=self.fields_key if self.tran_id else "")

    def as_transfer(self, account_asset: str) -> FundsTransferred:
        """The transfer, in ``account_asset`` when the row names none or names it in another case
        (as funding is: the kernel compares assets exactly and would not book it)."""
        own = not self.asset or self.asset.upper() == account_asset.upper()
        asset = account_asset if own else self.asset
        return FundsTransferred(transfer_id=self.key, asset=asset, amount=self.amount, ts=self.ts,
                                alt_id=self.fields_key if self.tran_id else "")


def _other_asset(row: IncomeRow, asset: str) -> bool:
    """A funding row in another margin asset than the account's ``asset`` (a USDC contract's):
    the kernel's funding has no asset, so it would be booked as ``asset``; not booked, named."""
    return row.kind == FUNDING_TYPE and bool(row.asset) and row.asset.upper() != asset.upper()


def booked_income(rows: list[IncomeRow], asset: str) -> MoneyMoved:
    """The rows PINK books from their own (``rows`` oldest first): funding in the account's
    ``asset`` and transfers, as the kernel's events, each by its :attr:`~IncomeRow.key` (its
    ``tranId``, or one made from its fields: see :func:`name_keyless`); a transfer of another
    asset is the kernel's to name."""
    # (a payment or transfer of 0 moves nothing: the kernel would refuse it at every read, keeping no id of it)
    return MoneyMoved(funding=[r.as_funding() for r in rows
                               if r.kind == FUNDING_TYPE and r.amount and not _other_asset(r, asset)],
                      transfers=[r.as_transfer(asset) for r in rows if r.kind == TRANSFER_TYPE and r.amount])


def _raw(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _which(r: dict[str, Any]) -> str:
    """The row as its error names it: its ``tranId``, type, symbol and time as BingX sent them."""
    tran_id, kind, symbol, when = (r.get(k) for k in ("tranId", "incomeType", "symbol", "time"))
    named = [f"tranId {_raw(tran_id)}" if tran_id not in (None, "") else "no tranId",
             _raw(kind) if kind not in (None, "") else "no incomeType"]  # fmt: skip
    named += [f"on {_raw(symbol)}"] if symbol not in (None, "") else []
    named += [f"at time {_raw(when)}"] if when not in (None, "") else []
    return f"income row ({' '.join(named)})"


def parse_any_income_row(row: Any) -> IncomeRow:
    r = mapping(row, "income row", "row")
    w = _which(r)
    return IncomeRow(
        tran_id=ident(r, w, "tranId", default=""),
        kind=text(r, w, "incomeType", default="").upper(),
        symbol=text(r, w, "symbol", default=""),
        asset=text(r, w, "asset", default=""),
        amount=dec(r, w, "income"),
        ts=time_ms(r, w, "time") * MS,
        info=text(r, w, "info", default=""),
    )


def readable_rows(raw: list[Any], named: RecentKeys, counts: Counter[str]) -> list[IncomeRow]:
    """The rows of ``raw`` (one page of ``user/income``) that can be read. A row that cannot be
    read fails the read (:class:`BingxParseError`) when it may be funding or a transfer (its type
    says so, or cannot be read): skipped, it would be money lost in silence. One of another type
    (a fill's own, booked from the fill; or one PINK does not book) is skipped instead, so that
    the funding and transfers beside it are still booked: named once (``named`` holds
    ``("unreadable", key)``) and, when it moved the wallet without a fill, counted in ``counts``."""
    rows: list[IncomeRow] = []
    for item in raw:
        try:
            rows.append(parse_any_income_row(item))
        except BingxParseError as exc:
            kind = item.get("incomeType") if isinstance(item, dict) else None
            if not isinstance(kind, str) or not kind.strip() or kind.strip().upper() in BOOKED_TYPES:
                raise
            _name_unreadable(item, kind.strip().upper(), exc, named, counts)
    return rows


def _name_unreadable(
    row: dict[str, Any], kind: str, exc: BingxParseError, named: RecentKeys, counts: Counter[str]
) -> None:
    tran_id = row.get("tranId")
    if isinstance(tran_id, str | int) and not isinstance(tran_id, bool) and str(tran_id):
        key = str(tran_id)
    else:
        key = hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:24]
    if ("unreadable", key) in named:
        return
    named.add(("unreadable", key))
    fills = kind in FILL_TYPES
    if not fills:
        counts[kind] += 1
    why = ("PINK books this money from the fill, not from this row" if fills else
           "PINK does not book this type: the books check may show it as a difference")  # fmt: skip
    log.warning("%s; this row of type %s is skipped and the funding and transfers beside it are booked (%s)",
                exc, kind, why)  # fmt: skip


def name_unbooked(rows: list[IncomeRow], named: RecentKeys, counts: Counter[str], asset: str) -> None:
    """Warn once per row (``named`` holds ``("unbooked", key)``) of a type PINK does not book,
    or of funding in another margin asset than the account's ``asset``, and count it in
    ``counts`` by type (and that asset)."""
    for row in rows:
        other = _other_asset(row, asset)
        if (row.kind in BOOKED_TYPES and not other) or row.kind in FILL_TYPES or ("unbooked", row.key) in named:
            continue
        named.add(("unbooked", row.key))
        counts[f"{row.kind} ({row.asset})" if other else row.kind or "?"] += 1
        when = datetime.fromtimestamp(row.ts / 1e9, tz=UTC).isoformat(timespec="milliseconds")
        why = (f"it is in {row.asset}, not the account's {asset}: PINK does not book it" if other else
               "PINK does not book this type")  # fmt: skip
        log.warning(
            "BingX income %s of %s %s%s at %s (tranId %s, info %r) moved the wallet; %s: the books "
            "check will show it as a difference",
            row.kind or "(no type)", row.amount, row.asset, f" on {row.symbol}" if row.symbol else "", when,
            row.tran_id or "(none)", row.info, why,
        )  # fmt: skip


def name_keyless(rows: list[IncomeRow], named: RecentKeys) -> None:
    """Warn once per row (``named`` holds ``("keyless", key)``) of funding or a transfer that
    BingX listed without a ``tranId``: it is booked by the key made from its fields."""
    for row in rows:
        if row.tran_id or row.kind not in BOOKED_TYPES or ("keyless", row.key) in named:
            continue
        named.add(("keyless", row.key))
        when = datetime.fromtimestamp(row.ts / 1e9, tz=UTC).isoformat(timespec="milliseconds")
        log.warning(
            "BingX income %s of %s %s%s at %s (info %r) was listed without a tranId; it is booked by "
            "the key %s made from its fields, once however often it is read",
            row.kind, row.amount, row.asset, f" on {row.symbol}" if row.symbol else "", when, row.info, row.key,
        )  # fmt: skip
