"""Income the simulator's venue books outside trading, funding and transfers.

BingX lists every wallet movement as an income row (REFERENCE.md §11.3); besides
``FUNDING_FEE``, ``TRANSFER`` and the fills' ``REALIZED_PNL``/``TRADING_FEE`` there
are ``INSURANCE_CLEAR`` (liquidation), ``TRIAL_FUND``, ``ADL``,
``SYSTEM_DEDUCTION`` and the undocumented ``GTD_PRICE``. Tests make one with
``POST /_sim/income`` and JSON ``{"incomeType", "amount", "symbol"?, "info"?}``:
the wallet moves by ``amount`` now and ``GET /openApi/swap/v2/user/income`` lists
the row; answers the row, or HTTP 400 ``{"error"}``. No ``ACCOUNT_UPDATE`` is
pushed (which ``m`` BingX sends for them is not documented).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from pink.venues.bingx.server_http import STATE, json_response
from pink.venues.bingx.server_state import SimState
from pink.venues.bingx.server_wire import dec, ms

__all__ = ["OTHER_INCOME_TYPES", "OtherIncome", "add_income_admin_route", "credit_other"]

#: the types this route makes (the rest have their own source: funding, transfers, fills)
OTHER_INCOME_TYPES = ("INSURANCE_CLEAR", "TRIAL_FUND", "ADL", "SYSTEM_DEDUCTION", "GTD_PRICE")


@dataclass(frozen=True, slots=True)
class OtherIncome:
    tran_id: str
    kind: str
    symbol: str
    amount: Decimal
    ts: int  # ns
    info: str

    def row(self, asset: str) -> dict[str, Any]:
        """The ``user/income`` row, as BingX lists it."""
        return {"symbol": self.symbol, "incomeType": self.kind, "income": dec(self.amount), "asset": asset,
                "info": self.info, "time": ms(self.ts), "tranId": self.tran_id, "tradeId": ""}  # fmt: skip


def credit_other(state: SimState, kind: str, amount: Decimal, symbol: str = "", info: str = "") -> OtherIncome:
    """Move the wallet by ``amount`` now and list it as income of type ``kind``. The sim
    account has no bucket for such money: it is counted with the realized PnL (the wallet is
    their sum; the fills' realized PnL is read from the fills)."""
    if kind not in OTHER_INCOME_TYPES:
        raise ValueError(f"incomeType {kind!r} is not one of {', '.join(OTHER_INCOME_TYPES)}")
    if not amount.is_finite() or amount == 0:
        raise ValueError(f"amount must be a non-zero finite decimal, got {amount}")
    state.tick()
    now = state.now_ns()
    state.engine.account.realized += amount
    moved = OtherIncome(f"{kind.lower()}{len(state.other_income) + 1}-{now}", kind, symbol, amount, now,
                        info or kind.replace("_", " ").title())  # fmt: skip
    state.other_income.append(moved)
    state.changed()
    return moved


async def _admin_income(request: web.Request) -> web.Response:
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return json_response({"error": 'the body must be a JSON object: {"incomeType": ..., "amount": ...}'}, 400)
    try:
        amount = Decimal(str(body.get("amount", "")))
        moved = credit_other(request.app[STATE], str(body.get("incomeType", "")), amount,
                             str(body.get("symbol", "")), str(body.get("info", "")))  # fmt: skip
    except (InvalidOperation, ValueError) as exc:
        return json_response({"error": str(exc) or "amount is not a decimal"}, 400)
    return json_response(moved.row(request.app[STATE].engine.balance().asset))


def add_income_admin_route(app: web.Application) -> None:
    app.router.add_post("/_sim/income", _admin_income)
