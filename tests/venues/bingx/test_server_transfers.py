"""The simulator's ``POST /_sim/transfer``: the push, the ``TRANSFER`` income row, the balance, refusals."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.venues.bingx.conftest_server import SimClient, gunzip, running

D = Decimal
INCOME = "/openApi/swap/v2/user/income"
LISTEN = "/openApi/user/auth/userDataStream"


async def _transfer(client: SimClient, body: Any) -> tuple[int, Any]:
    async with client.session.post(f"{client.server.base_url}/_sim/transfer", json=body) as resp:
        return resp.status, await resp.json()


async def _next_frame(ws: aiohttp.ClientWebSocketResponse) -> Any:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 3)
        frame = gunzip(msg.data)
        if frame != "Ping":
            return frame


async def _balance(client: SimClient, path: str = "/openApi/swap/v3/user/balance") -> dict[str, Any]:
    _, body = await client.call("GET", path)
    data = body["data"]
    return dict(data[0] if isinstance(data, list) else data["balance"])


async def test_deposit_and_withdrawal_push_account_updates_and_move_the_wallet() -> None:
    async with running() as (server, client):
        _, key = await client.call("POST", LISTEN, signed=False)
        ws = await client.session.ws_connect(f"{server.ws_url}?listenKey={key['listenKey']}")
        wallet = D((await _balance(client))["balance"])
        status, body = await _transfer(client, {"amount": "125.5"})
        assert status == 200 and body["tranId"] == server.engine.transfers_since(0)[0].transfer_id
        deposit = await _next_frame(ws)
        assert deposit["e"] == "ACCOUNT_UPDATE" and deposit["a"]["m"] == "DEPOSIT" and "P" not in deposit["a"]
        (row,) = deposit["a"]["B"]
        assert row["a"] == "USDT" and D(row["bc"]) == D("125.5")
        assert D(row["wb"]) == D(row["cw"]) == wallet + D("125.5")
        assert (await _transfer(client, {"amount": "-25.5"}))[0] == 200
        withdrawal = await _next_frame(ws)
        assert withdrawal["a"]["m"] == "WITHDRAW" and D(withdrawal["a"]["B"][0]["bc"]) == D("-25.5")
        for path in ("/openApi/swap/v3/user/balance", "/openApi/swap/v2/user/balance"):
            bal = await _balance(client, path)
            assert D(bal["balance"]) == D(bal["availableMargin"]) == D(bal["equity"]) == wallet + 100
        await ws.close()


async def test_income_lists_transfer_rows_newest_first_with_their_tran_id() -> None:
    async with running() as (server, client):
        await client.place(type="MARKET", side="BUY", quantity="0.01", clientOrderId="i1")  # a fee row
        ids = [(await _transfer(client, {"amount": a}))[1]["tranId"] for a in ("10", "-4", "3")]
        _, body = await client.call("GET", INCOME, {"incomeType": "TRANSFER"})
        rows = body["data"]
        assert [r["tranId"] for r in rows] == ids[::-1]  # newest first, even within one instant
        assert [D(r["income"]) for r in rows] == [D(3), D(-4), D(10)]
        engine_ts = server.engine.transfers_since(0)[0].ts
        assert rows[-1] == {"symbol": "", "incomeType": "TRANSFER", "income": "10", "asset": "USDT",
                            "info": "TRANSFER", "time": engine_ts // 1_000_000, "tranId": ids[0],
                            "tradeId": ""}  # fmt: skip
        _, every = await client.call("GET", INCOME)
        assert {r["incomeType"] for r in every["data"]} == {"TRANSFER", "TRADING_FEE"}
        _, funding = await client.call("GET", INCOME, {"incomeType": "FUNDING_FEE"})
        assert funding["data"] == []
        ms = engine_ts // 1_000_000
        _, upto = await client.call("GET", INCOME, {"incomeType": "TRANSFER", "startTime": ms, "endTime": ms})
        assert len(upto["data"]) == 3  # endTime includes its whole millisecond (the clock is frozen)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "amount is missing"),
        ({"amount": ""}, "amount is missing"),
        ({"amount": "ten"}, "not a decimal"),
        ({"amount": 1.5}, "decimal string"),
        ({"amount": True}, "decimal string"),
        ({"amount": "0"}, "non-zero"),
        ({"amount": "NaN"}, "finite"),
        ({"amount": "-1000000"}, "withdrawal of 1000000 USDT"),
        (["amount", "5"], "JSON object"),
    ],
)
async def test_bad_transfers_are_refused_with_400_naming_the_problem(body: Any, words: str) -> None:
    async with running() as (server, client):
        wallet = (await _balance(client))["balance"]
        status, answer = await _transfer(client, body)
        assert status == 400 and words in answer["error"]
        assert server.engine.transfers_since(0) == [] and (await _balance(client))["balance"] == wallet


async def test_income_of_another_type_moves_the_wallet_and_is_listed_under_its_type() -> None:
    async with running() as (server, client):
        wallet = D((await _balance(client))["balance"])
        url = f"{server.base_url}/_sim/income"
        async with client.session.post(url, json={"incomeType": "INSURANCE_CLEAR", "amount": "-2.5",
                                                  "symbol": "BTC-USDT"}) as resp:  # fmt: skip
            assert resp.status == 200
            made = await resp.json()
        async with client.session.post(url, json={"incomeType": "FUNDING_FEE", "amount": "1"}) as resp:
            assert resp.status == 400  # funding has its own source
        assert D((await _balance(client))["balance"]) == wallet - D("2.5")
        _, every = await client.call("GET", INCOME, {"startTime": 0})
        assert [r for r in every["data"] if r["incomeType"] == "INSURANCE_CLEAR"] == [made]
        _, clear = await client.call("GET", INCOME, {"incomeType": "INSURANCE_CLEAR"})
        _, funding = await client.call("GET", INCOME, {"incomeType": "FUNDING_FEE"})
        assert clear["data"] == [made] and funding["data"] == []
        assert made["symbol"] == "BTC-USDT" and D(made["income"]) == D("-2.5") and made["tranId"]
