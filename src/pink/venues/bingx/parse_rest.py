"""Pure parsers of BingX REST payloads (the envelope's ``data``).

Order objects come flat or wrapped (``{"order": {...}}``) and spell the
client id ``clientOrderId`` or ``clientOrderID``; both are accepted. An ack's
``status``/``avgPrice``/``executedQty`` are optional hints only (E12).
Commission is recorded positive = paid (the venue sends it negative).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pink.kernel.messages import (
    ZERO,
    BalanceReport,
    FundingPaid,
    FundsTransferred,
    Instrument,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderStatusReport,
    PositionReport,
    Side,
)
from pink.venues.bingx.fields import (
    BingxParseError,
    dec,
    ident,
    int_field,
    mapping,
    opt_dec,
    order_side,
    position_side,
    status_of,
    text,
    time_ms,
)
from pink.venues.bingx.parse import MS, fill_id

__all__ = [
    "Ack",
    "FillRow",
    "created_second_ms",
    "fills_from_rows",
    "list_of",
    "parse_ack",
    "parse_balance",
    "parse_contract",
    "parse_fill_row",
    "parse_income_row",
    "parse_order",
    "parse_position",
    "parse_transfer_row",
    "unwrap_order",
]


def unwrap_order(data: Any, where: str) -> dict[str, Any]:
    obj = mapping(data, where, "data")
    inner = obj.get("order")
    return mapping(inner, where, "data.order") if inner is not None else obj


def list_of(data: Any, where: str, *keys: str) -> list[Any]:
    """A list that may be ``data`` itself or ``data[key]`` (null means empty)."""
    if isinstance(data, list):
        return data
    obj = mapping(data, where, "data")
    for key in keys:
        if key in obj:
            value = obj[key]
            if value is None:
                return []
            if not isinstance(value, list):
                raise BingxParseError(where, key, "must be a list")
            return value
    raise BingxParseError(where, keys[0], "is missing")


@dataclass(frozen=True, slots=True)
class Ack:
    venue_order_id: str
    client_order_id: str
    status: OrderStatus | None
    avg_price: Decimal | None
    executed_qty: Decimal | None


def parse_ack(data: Any) -> Ack:
    w = "place-order ack"
    o = unwrap_order(data, w)
    raw_status = o.get("status")
    return Ack(
        venue_order_id=ident(o, w, "orderId", "orderID"),
        client_order_id=text(o, w, "clientOrderId", "clientOrderID", default="").lower(),
        status=status_of(raw_status, w) if isinstance(raw_status, str) and raw_status else None,
        avg_price=opt_dec(o, w, "avgPrice"),
        executed_qty=opt_dec(o, w, "executedQty"),
    )


def parse_order(data: Any, where: str = "order") -> OrderStatusReport:
    o = unwrap_order(data, where)
    commission = opt_dec(o, where, "commission")
    ts = time_ms(o, where, "updateTime", "time", default=0)
    return OrderStatusReport(
        client_order_id=text(o, where, "clientOrderId", "clientOrderID", default="").lower(),
        venue_order_id=ident(o, where, "orderId", "orderID"),
        status=status_of(text(o, where, "status"), where),
        quantity=dec(o, where, "origQty", "quantity"),
        cum_qty=opt_dec(o, where, "executedQty") or ZERO,
        avg_price=opt_dec(o, where, "avgPrice") or ZERO,
        commission=-commission if commission is not None else None,
        ts=ts * MS,
    )


#: BingX's order ids are snowflakes: ``(orderId >> 22) + SNOWFLAKE_EPOCH_MS`` is the order's
#: creation time in ms, to within a second (three documented id/time pairs)
SNOWFLAKE_EPOCH_MS = 1288834974657


def created_second_ms(order: dict[str, Any], order_id: str) -> int:
    """The start of the second the order was created in (ms): its ``time``; without one, its
    snowflake id's time, a second earlier (0 when the id is no snowflake). Fill rows are stamped
    to the second, so a window from here lists all of the order's fills."""
    created = time_ms(order, "order", "time", default=0)
    if not created and order_id.isdigit():
        created = (int(order_id) >> 22) + SNOWFLAKE_EPOCH_MS - 1000
    return max(0, created) // 1000 * 1000


@dataclass(frozen=True, slots=True)
class FillRow:
    symbol: str
    venue_order_id: str
    client_order_id: str
    trade_id: str
    qty: Decimal
    price: Decimal
    commission: Decimal  # positive = paid
    commission_asset: str
    ts_ms: int
    side: OrderSide | None = None  # ``side``/``positionSide`` when the row has them (the docs
    position_side: Side | None = None  # list them; the recorded samples lack them)


def parse_fill_row(row: Any) -> FillRow:
    """A row of ``fillHistory`` or ``allFillOrders`` (base qty in ``volume``/``qty``)."""
    w = "fill row"
    r = mapping(row, w, "row")
    commission = opt_dec(r, w, "commission")
    return FillRow(
        symbol=text(r, w, "symbol"),
        venue_order_id=ident(r, w, "orderId", "orderID"),
        client_order_id=text(r, w, "clientOrderId", "clientOrderID", default="").lower(),
        trade_id=ident(r, w, "tradeId", default=""),
        qty=dec(r, w, "volume", "qty"),
        price=dec(r, w, "price"),
        commission=-commission if commission is not None else ZERO,
        commission_asset=text(r, w, "commissionAsset", "currency", default=""),
        ts_ms=time_ms(r, w, "filledTime", "time", "filledTm"),
        side=order_side(r.get("side")),
        position_side=position_side(r.get("positionSide")),
    )


def fills_from_rows(
    rows: list[FillRow],
    known: dict[str, tuple[str, Decimal]],
    sides: dict[str, tuple[OrderSide | None, Side | None]] | None = None,
) -> list[OrderFilled]:
    """Fills in time order, cumulated per order from the order's earlier progress.

    ``known`` maps venue order id -> (client order id, cum qty before the
    first row); it is updated. ``sides``: venue order id -> (side, position side) from the
    order itself, for rows without them. Rows with no positive price or size are skipped.
    A row's commission may be cut short (recorded rows show ``-0.0025`` to 4 decimals), so its
    fill's fee is not final: the kernel asks for the order's total once it has ended.
    """
    sides = sides or {}
    out: list[OrderFilled] = []
    for row in sorted(rows, key=lambda r: (r.ts_ms, r.trade_id)):
        if row.qty <= 0 or row.price <= 0:
            continue
        client, cum = known.get(row.venue_order_id, (row.client_order_id, ZERO))
        client = client or row.client_order_id
        cum += row.qty
        known[row.venue_order_id] = (client, cum)
        out.append(OrderFilled(
            client_order_id=client,
            venue_order_id=row.venue_order_id,
            fill_id=fill_id(row.venue_order_id, cum),
            last_qty=row.qty,
            last_price=row.price,
            cum_qty=cum,
            commission=row.commission,
            commission_asset=row.commission_asset,
            ts=row.ts_ms * MS,
            fee_final=False,  # rows may cut the commission (to 4 decimals): the order's total is exact
            symbol=row.symbol,
            side=row.side or sides.get(row.venue_order_id, (None, None))[0],
            position_side=row.position_side or sides.get(row.venue_order_id, (None, None))[1],
        ))
    return out


def parse_income_row(row: Any) -> FundingPaid:
    w = "income row"
    r = mapping(row, w, "row")
    return FundingPaid(
        funding_id=ident(r, w, "tranId"),
        symbol=text(r, w, "symbol", default=""),
        amount=dec(r, w, "income"),
        ts=time_ms(r, w, "time") * MS,
    )


def parse_transfer_row(row: Any) -> FundsTransferred:
    """An income row of type ``TRANSFER``: ``income`` is signed (> 0 came in, < 0 went out)."""
    w = "transfer income row"
    r = mapping(row, w, "row")
    transfer_id = ident(r, w, "tranId")
    if not transfer_id:
        raise BingxParseError(w, "tranId", "is empty (it is the key the transfer is booked by)")
    return FundsTransferred(
        transfer_id=transfer_id,
        asset=text(r, w, "asset"),
        amount=dec(r, w, "income"),
        ts=time_ms(r, w, "time") * MS,
    )


def parse_position(row: Any, now_ms: int) -> PositionReport:
    w = "position"
    r = mapping(row, w, "row")
    amount = dec(r, w, "positionAmt")
    raw_side = text(r, w, "positionSide").upper()
    if raw_side in ("LONG", "SHORT"):
        side = Side(raw_side)
    elif raw_side == "BOTH":
        side = Side.SHORT if amount < 0 else Side.LONG
    else:
        raise BingxParseError(w, "positionSide", f"is unknown: {raw_side!r}")
    ts = time_ms(r, w, "updateTime", default=now_ms)
    return PositionReport(text(r, w, "symbol"), side, abs(amount), dec(r, w, "avgPrice"), ts * MS)


# Every recorded balance payload shows the wallet to 4 decimals ("194.8212"), while fills, fees
# and income rows carry up to 8: the wallet read here may be off by up to this from what was booked.
BALANCE_RESOLUTION = Decimal("0.0001")


def parse_balance(data: Any, asset: str, now_ms: int) -> BalanceReport:
    """The row of ``asset`` from v3 (a list) or legacy v2 (``data.balance``)."""
    w = "balance"
    rows = data if isinstance(data, list) else [mapping(data, w, "data").get("balance")]
    parsed = [mapping(r, w, "row") for r in rows]
    if not parsed:
        raise BingxParseError(w, "data", "is empty")
    row = next((r for r in parsed if r.get("asset") == asset), parsed[0])
    user = row.get("userId")
    return BalanceReport(
        asset=text(row, w, "asset"),
        balance=dec(row, w, "balance"),
        available=dec(row, w, "availableMargin"),
        ts=now_ms * MS,
        resolution=BALANCE_RESOLUTION,
        account=str(user) if isinstance(user, str | int) and not isinstance(user, bool) else "",
    )


def parse_contract(row: Any) -> Instrument:
    w = "contract"
    r = mapping(row, w, "row")
    price_prec = int_field(r, w, "pricePrecision")
    qty_prec = int_field(r, w, "quantityPrecision")
    for name, prec in (("pricePrecision", price_prec), ("quantityPrecision", qty_prec)):
        if not 0 <= prec <= 18:
            raise BingxParseError(w, name, f"is out of range (0..18): {prec}")
    step = Decimal(1).scaleb(-qty_prec)
    min_qty = opt_dec(r, w, "tradeMinQuantity") or step
    long_lev = int_field(r, w, "maxLongLeverage", default=125)
    short_lev = int_field(r, w, "maxShortLeverage", default=125)
    return Instrument(
        symbol=text(r, w, "symbol"),
        tick=Decimal(1).scaleb(-price_prec),
        step=step,
        min_qty=max(min_qty, step),
        min_notional=opt_dec(r, w, "tradeMinUSDT") or ZERO,
        max_leverage=min(long_lev, short_lev),
    )
