"""Fees the BingX stream may state wrongly are trued up from the venue's own order total.

BingX does not document whether ``n`` in ``ORDER_TRADE_UPDATE`` is this fill's
fee or the order's running total. The server can send the running total
(``fee_cumulative``) or no fee at all (``fee_missing``). Once such an order has
ended, the kernel's tick asks the venue about it, and the account's fees must
then equal what the venue charged, exactly. An order filled by one push with
its fee costs no request at all.
"""

from __future__ import annotations

from decimal import Decimal

from pink.kernel.messages import CommissionReported, QueryOrder, Settlement
from tests.venues.bingx.e2e_kit import ORDER, Stack, fill_part, stack, until

D = Decimal
GET_ORDER = f"GET {ORDER}"


def _charged(st: Stack) -> Decimal:
    """What the venue charged, from its own fills."""
    return sum((f.commission for f in st.engine.fills_since(0)), D(0))


def _adjustments(st: Stack) -> list[Settlement]:
    return [r for o in st.pump.outcomes for r in o.records
            if isinstance(r, Settlement) and r.kind.value == "ADJUSTMENT"]  # fmt: skip


async def test_cumulative_stream_fees_are_trued_up_to_what_the_venue_charged() -> None:
    async with stack(faults="fee_cumulative=1") as st:
        p = st.pump
        price = await st.far_bid()
        await p.submit(st.enter("t1", "0.010", price=price))
        await until(lambda: p.slot() == "ENTRY_WORKING", "entry resting")
        (cid,) = [o.client_order_id for o in p.kernel.working_orders()]
        for qty in ("0.004", "0.003", "0.003"):
            fill_part(st.server, cid, D(qty))
        await until(lambda: p.slot() == "POSITION_OPEN", "entry filled in three pushes")
        stream_booked = sum((f.commission for f in p.booked()), D(0))
        assert stream_booked > _charged(st)  # the running totals, added up, overstate the fee
        assert p.kernel.account_view().fees == stream_booked and st.venue.calls[GET_ORDER] == 0
        # the order has ended: the kernel's next tick asks the venue for its total
        tick = await p.tick()
        assert [type(e) for e in tick.effects] == [QueryOrder] and st.venue.calls[GET_ORDER] == 1
        (adj,) = _adjustments(st)
        assert adj.fee == _charged(st) - stream_booked and adj.amount == 0
        assert p.kernel.account_view().fees == _charged(st)
        p.check_account()
        assert not p.kernel.fee_checks
        assert not (await p.tick(3600)).effects  # answered: never asked again
        assert len(_adjustments(st)) == 1 and st.venue.calls[GET_ORDER] == 1


async def test_a_fill_without_a_fee_is_trued_up_after_the_trade_closed() -> None:
    async with stack(faults="fee_missing=1") as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.010"))
        await until(lambda: p.slot() == "POSITION_OPEN", "market entry filled")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "trade closed")
        assert [f.commission for f in p.booked()] == [D(0), D(0)]
        assert sorted(p.kernel.fee_checks) == ["t1-e1", "t1-x0a1"]  # both orders retired, checks kept
        await p.tick()
        reported = [e for e in p.events if isinstance(e, CommissionReported)]
        assert sorted(e.client_order_id for e in reported) == ["t1-e1", "t1-x0a1"]
        assert p.kernel.account_view().fees == _charged(st) > 0
        assert all(a.slot == -1 and a.trade_id == "t1" for a in _adjustments(st))
        p.check_account()


async def test_an_order_filled_by_one_push_with_its_fee_costs_no_request() -> None:
    async with stack() as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.010"))
        await until(lambda: p.slot() == "POSITION_OPEN", "market entry filled")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "trade closed")
        assert not p.kernel.fee_checks and not (await p.tick(3600)).effects
        assert st.venue.calls[GET_ORDER] == 0 and not _adjustments(st)
        assert p.kernel.account_view().fees == _charged(st) > 0
        st.check_against_venue()
