"""``pink run --closed-outside TRADE_ID=PRICE[:FEE]``: a position closed by hand (or liquidated)
while PINK was down is booked at start, before the first cycle, and frees its slot (E8)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pink.errors import ConfigError, StartupError
from pink.kernel import OrderFilled, OrderSide, OrderType, Side, TimeInForce
from pink.policy.base import MarginSizer
from pink.runtime.config import load_config
from pink.runtime.launcher import Launcher
from pink.venues.sim import NewOrder
from tests.runtime.helpers import quiet_config
from tests.runtime.test_filled_outside import held_then_down
from tests.runtime.test_flatten_while_down import OpenSlotZero


async def test_e08_a_position_closed_by_hand_while_down_is_booked_at_start_and_frees_its_slot(
    tmp_path: Path,
) -> None:
    venue, view = await held_then_down(tmp_path, deaf=False)
    by_hand = NewOrder("byhand", "BTC-USDT", OrderSide.SELL, Side.LONG, view.entry_qty, OrderType.MARKET, None,
                       TimeInForce.GTC, False)  # fmt: skip
    (hand,) = [e for e in venue.engine.submit(by_hand, venue.engine.now) if isinstance(e, OrderFilled)]
    idle = OpenSlotZero()
    idle.sent = True
    with pytest.raises(StartupError, match="trade 'tnope' is not open on any slot"):
        await Launcher(quiet_config(tmp_path, closed_outside="tnope=1"), venue=venue, decision=idle,
                       intents=MarginSizer()).start()  # fmt: skip
    said = f"{view.trade_id}={hand.last_price}:{hand.commission}"
    async with Launcher(quiet_config(tmp_path, closed_outside=said), venue=venue, decision=idle,
                        intents=MarginSizer()) as second:  # fmt: skip
        assert second.kernel is not None
        k = second.kernel.kernel
        assert k.slot_view(0).state == "IDLE"  # before any cycle
        assert second.closed_outside == [
            f"slot 0 trade {view.trade_id}: {view.entry_qty} BTC-USDT LONG booked closed outside PINK at "
            f"{hand.last_price}, fee {hand.commission}"
        ]
        await second.run(cycles=5)
        assert k.account_view().capital == (await venue.balance()).balance  # to the last digit
    await venue.close()


def test_closed_outside_comes_from_the_flag_and_a_malformed_entry_is_named(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pink.cli.main import app

    cfg = load_config(None, {"PINK_DATA_DIR": str(tmp_path)}, {"closed_outside": "t1=90:0.05, t2=0.5"})
    assert cfg.closed_outside_entries == (("t1", Decimal("90"), Decimal("0.05")), ("t2", Decimal("0.5"), Decimal(0)))
    with pytest.raises(ConfigError, match=r"closed_outside: 't1:90' is not TRADE_ID=PRICE"):
        load_config(None, {"PINK_DATA_DIR": str(tmp_path)}, {"closed_outside": "t1:90"})
    shown = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "--closed-outside" in shown.output


async def test_e08_a_trade_the_venue_still_holds_is_not_booked_closed_outside(tmp_path: Path) -> None:
    """--closed-outside with the wrong trade id (or for a close that never went through) booked
    the trade closed while the venue still held its position: PINK then had nothing to exit it
    with, and the position stayed at the venue, unmanaged. Refused, naming what the venue holds."""
    venue, view = await held_then_down(tmp_path, deaf=False)
    idle = OpenSlotZero()
    idle.sent = True
    refused = Launcher(quiet_config(tmp_path, closed_outside=f"{view.trade_id}=1"), venue=venue, decision=idle,
                       intents=MarginSizer())  # fmt: skip
    with pytest.raises(StartupError, match=rf"trade '{view.trade_id}': the venue still holds BTC-USDT LONG "
                                           rf"{view.entry_qty}"):
        await refused.start()
    await refused.close()
    async with Launcher(quiet_config(tmp_path), venue=venue, decision=idle, intents=MarginSizer()) as again:
        assert again.kernel is not None
        assert again.kernel.kernel.slot_view(0).state == "POSITION_OPEN"  # not booked: its exits still go out
    await venue.close()
