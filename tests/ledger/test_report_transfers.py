"""The ledger report's drawdown leaves deposits and withdrawals out."""

from __future__ import annotations

from decimal import Decimal as D

from pink.ledger.report import headline


def _entry(seq: int, kind: str, amount: str, fee: str, after: str) -> dict[str, object]:
    return {"seq": seq, "kind": kind, "amount": D(amount), "fee": D(fee), "capital_after": D(after)}


def test_a_withdrawal_is_not_a_drawdown_and_a_deposit_not_a_peak() -> None:
    settlements = [
        _entry(1, "FILL", "100", "0", "10100"),
        _entry(2, "TRANSFER", "-5000", "0", "5100"),  # the trader took money out
        _entry(3, "FILL", "-50", "0", "5050"),  # a real loss of 50
        _entry(4, "TRANSFER", "20000", "0", "25050"),  # and put more in
        _entry(5, "FILL", "-30", "0", "25020"),  # 80 below the peak of trading
    ]
    h = headline(settlements, [])
    assert h.max_drawdown == D(80)
    assert h.transfers == D(15000) and h.final_capital == D(25020)
