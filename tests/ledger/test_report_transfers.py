"""The ledger report's drawdown leaves deposits and withdrawals out."""

from __future__ import annotations

from decimal import Decimal as D

from pink.ledger.report import _shown, headline


def _entry(seq: int, kind: str, amount: str, fee: str, after: str) -> dict[str, object]:
    before = D(after) - D(amount) + D(fee)
    return {"seq": seq, "kind": kind, "amount": D(amount), "fee": D(fee), "capital_before": before,
            "capital_after": D(after)}


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
    assert h.initial_capital == D(10000) and h.funding == 0


def test_report_figures_are_shown_for_a_person() -> None:
    """The page printed 'net PnL -95.770370410000000000' and 38-decimal VWAPs."""
    assert _shown(D("-95.770370410000000000")) == "-95.77037041"
    assert _shown(D("2990.66157051282051282051282100000000000000"), "exit_vwap") == "2990.66157051"
    assert _shown(D("1E+2")) == "100" and _shown(D("0E-18")) == "0" and _shown(None) == "-"
