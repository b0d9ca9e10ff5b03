"""The books against the venue's wallet, on the slow reconcile: does every movement of money reach the kernel?

The kernel's capital (initial + realized PnL - fees + funding + transfers)
and the venue's wallet balance (which leaves unrealized PnL out, as the
kernel does) move together when every fill, fee, funding payment and
transfer is booked. Their difference, the *offset*, is therefore constant;
it need not be zero, since the wallet may hold more than the configured
initial capital.

A fill, fee or payment in flight moves one side before the other, for
moments or, when a push is lost, until the next reconcile books it. So an
offset counts only once it has held, unchanged, over readings spanning at
least ``settle_ns``; a reading taken while the kernel itself knows the two
need not agree (an order sent or being canceled, a DESYNC slot, a fee the
venue must confirm: ``Kernel.money_in_doubt``) counts as a change.

A position the venue has partly closed is corrected for, not doubted. The
venue prices a symbol and side at one average entry over every slot holding
it, so once an exit closed part of it, the profit the venue realized differs
from the kernel's, which prices each trade at its own entry. Cost is
conserved on both sides, so the difference is exactly the position's
remaining cost at the venue (its quantity times its average entry, from the
position report of the same reconcile) less the kernel's (``Kernel.
partly_closed``), with the sign of the side (:func:`venue_cost_gap`). The
venue shows its average entry rounded (BingX: to a few decimals), so that
reading is uncertain by the quantity times that rounding, added to the
band below. A reading whose venue position is not the kernel's quantity
(a fill on its way, an order placed by hand) is in doubt. (A position
nothing has closed yet has realized nothing on either side: no correction.)

The baseline is the start-up reading when the kernel doubts nothing then
and the wallet did not move while the start-up reconcile ran (it has just
booked what the venue lists, and nothing trades yet: a busy account may
have no later moment quiet for that long), else the first offset that
holds. A later offset that holds and differs from the baseline is a
mismatch; a reading of the baseline again clears it.
A venue that shows its wallet only to some resolution (BingX: 4 decimals,
while fees carry 8) makes each reading's offset uncertain by that much, so
offsets within twice the resolution of each other count as the same: a
missed amount shows once it exceeds that band.
Something the kernel never hears of (a trade made by hand on the same
account, a liquidation fee) moves the offset for good and is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from pink.kernel.messages import PositionReport, Side

__all__ = ["BooksCheck", "BooksSighting", "venue_cost_gap"]


@dataclass(frozen=True, slots=True)
class BooksSighting:
    """One reading of both sides, in the account's asset, at ``ts`` (ns)."""

    kernel_capital: Decimal
    venue_wallet: Decimal
    ts: int
    in_doubt: bool = False  # the kernel knows the two need not agree now (Kernel.money_in_doubt)
    resolution: Decimal = Decimal(0)  # the venue shows its wallet only to this (BalanceReport.resolution)

    @property
    def offset(self) -> Decimal:
        return self.venue_wallet - self.kernel_capital


def venue_cost_gap(
    held: Mapping[tuple[str, Side], tuple[Decimal, Decimal]], positions: Iterable[PositionReport]
) -> tuple[Decimal, Decimal] | None:
    """What the venue realized beyond the kernel on the positions it has partly closed, and how
    uncertain that is: ``held`` maps (symbol, side) to the kernel's (quantity, cost at entry)
    there. None when a venue position is not the kernel's quantity (the two cannot be paired)."""
    venue: dict[tuple[str, Side], PositionReport] = {}
    for p in positions:
        if p.quantity:
            if (p.symbol, p.side) in venue:
                return None  # (one position per symbol and side is what can be paired)
            venue[(p.symbol, p.side)] = p
    gap = fuzz = Decimal(0)
    for key, (qty, cost) in held.items():
        pos = venue.get(key)
        if pos is None or abs(pos.quantity) != qty:
            return None
        sign = 1 if key[1] is Side.LONG else -1
        gap += sign * (qty * pos.entry_price - cost)
        exponent = pos.entry_price.as_tuple().exponent
        fuzz += qty * Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    return gap, fuzz


def _plain(x: Decimal) -> str:
    return f"{x.normalize():f}"


class BooksCheck:
    """Baseline and mismatch from successive :class:`BooksSighting` readings."""

    def __init__(self, settle_ns: int) -> None:
        if settle_ns <= 0:
            raise ValueError(f"books settle time: must be > 0 ns, got {settle_ns}")
        self.settle_ns = settle_ns
        self.baseline: Decimal | None = None
        self.mismatch = ""  # the confirmed mismatch, "" while the books agree
        self.moved: Decimal | None = None  # how far the offset moved from the baseline, if it did
        self.sightings = 0
        self._held: Decimal | None = None  # the offset of the current run of equal readings
        self._since = 0  # when that run began

    def see(self, s: BooksSighting, *, at_start: bool = False) -> str:
        """Take one reading (``at_start``: the start-up reconcile's); return the mismatch it
        confirms ("" if none)."""
        self.sightings += 1
        offset = s.offset
        band = 2 * s.resolution  # two readings of one offset differ by up to this
        if s.in_doubt:
            self._held = None
            return ""
        if at_start and self.baseline is None:
            self.baseline = offset
        if self.baseline is not None and abs(offset - self.baseline) <= band:
            self._held, self._since = offset, s.ts
            self.mismatch, self.moved = "", None
            return ""
        if self._held is None or abs(offset - self._held) > band:
            self._held, self._since = offset, s.ts
            return ""
        if s.ts - self._since < self.settle_ns:
            return ""  # not held long enough: it may be in flight
        if self.baseline is None:
            self.baseline = offset
            return ""
        self.moved = offset - self.baseline
        self.mismatch = (
            f"kernel capital {_plain(s.kernel_capital)} and venue wallet {_plain(s.venue_wallet)} "
            f"differ by {_plain(offset)}, not {_plain(self.baseline)} as before: {_plain(self.moved)} "
            f"moved without being booked (or was booked without moving)"
            + (f"; the venue shows its wallet to {_plain(s.resolution)}" if s.resolution else "")
        )
        return self.mismatch
