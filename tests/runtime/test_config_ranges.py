"""Every number setting is finite and in its range, every id a name: a bad one is named with its source."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pink.errors import ConfigError
from pink.runtime.config import load_config

BAD = [
    ("PINK_RECONCILE_INTERVAL_S", "0", "reconcile_interval_s"),  # hung at 100% CPU
    ("PINK_RECONCILE_INTERVAL_S", "-1", "reconcile_interval_s"),
    ("PINK_CYCLE_S", "inf", "cycle_s"),  # a traceback
    ("PINK_INITIAL_CAPITAL", "1e400", "initial_capital"),  # a traceback
    ("PINK_INITIAL_CAPITAL", "1e30", "initial_capital"),
    ("PINK_CALL_TIMEOUT_S", "-1", "call_timeout_s"),
    ("PINK_CLOSE_TIMEOUT_S", "0", "close_timeout_s"),
    ("PINK_HEALTH_INTERVAL_S", "-5", "health_interval_s"),
    ("PINK_BOOKS_SETTLE_S", "1e9", "books_settle_s"),
    ("PINK_ACCOUNT_ID", "", "account_id"),
    ("PINK_RUNTIME_ID", " rt1", "runtime_id"),
    ("PINK_SLOTS", "100000", "slots"),
    ("PINK_JOURNAL_DURABILITY", "fsync", "journal_durability"),
    ("PINK_SIM_MAINTENANCE_RATE", "-0.001", "sim_maintenance_rate"),
    ("PINK_SIM_MAINTENANCE_RATE", "0.01", "sim_maintenance_rate"),  # x 125 (the max leverage) >= 1
    ("PINK_SIM_LIQUIDATION_FEE_RATE", "1", "sim_liquidation_fee_rate"),
    ("PINK_SIM_MAX_LEVERAGE", "0", "sim_max_leverage"),
    ("PINK_SIM_MAX_LEVERAGE", "200", "sim_max_leverage"),
]


@pytest.mark.parametrize(("name", "value", "key"), BAD)
def test_a_value_out_of_range_is_refused_naming_key_and_source(name: str, value: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"config {key}: .*\(from environment {name}\)"):
        load_config(None, {name: value})


def test_the_command_refuses_it_without_a_traceback_nor_a_data_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINK_")}
    out = subprocess.run([sys.executable, "-m", "pink.cli.main", "run", "--fast", "--no-view", "--cycles", "3",
                          "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60,
                         env={**env, "COLUMNS": "200", "PINK_RECONCILE_INTERVAL_S": "0"})
    assert out.returncode == 2, out.stdout + out.stderr
    assert "config reconcile_interval_s: must be > 0 and at most 604800 (seconds)" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr and not (tmp_path / "d").exists()


def test_the_defaults_and_sensible_values_still_load() -> None:
    cfg = load_config(None, {"PINK_CYCLE_S": "0.05", "PINK_INITIAL_CAPITAL": "250000", "PINK_ACCOUNT_ID": "acc-1"})
    assert cfg.cycle_s == 0.05 and cfg.account_id == "acc-1"


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"PINK_VENUE": "bingx", "PINK_FAULTS": "reject=0.1"}, "faults"),  # ignored before, silently
        ({"PINK_LEDGER": "none", "PINK_LEDGER_URL": "http://127.0.0.1:8123"}, "ledger_url"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_MAINTENANCE_RATE": "0.004"}, "sim_maintenance_rate"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_MAX_LEVERAGE": "20"}, "sim_max_leverage"),
    ],
)
def test_settings_that_would_be_ignored_are_refused(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"config {key}: "):
        load_config(None, env)


def test_a_value_that_is_not_a_number_says_so() -> None:
    with pytest.raises(ConfigError, match=r"bad value 'abc': not a decimal number$"):
        load_config(None, {"PINK_INITIAL_CAPITAL": "abc"})


def test_the_test_scripts_variables_do_not_stop_a_run() -> None:
    """scripts/test.sh exports them, and docs/plane.md names PINK_HAZELCAST_ADDR: `pink run` in
    that shell refused to start ("unknown configuration key(s) in environment")."""
    env = {"PINK_SERVICES": "1", "PINK_REDIS_URL": "redis://127.0.0.1:6390/0", "PINK_HAZELCAST_ADDR": "127.0.0.1:5710"}
    assert load_config(None, env).redis_url == "redis://127.0.0.1:6390/0"  # that one is a setting of its own


def test_the_simulators_liquidation_rules_are_set_from_the_file_and_the_environment(tmp_path: Path) -> None:
    """Its maintenance margin and liquidation fee rates and its max leverage were fixed: a paper
    run could not be made to liquidate as the trader's venue tier does. They are settings now,
    a rate given as a string or as a TOML number, and the simulator a run builds uses them."""
    from pink.errors import LeverageError
    from pink.kernel.messages import Side
    from pink.runtime.paper import build_sim

    file = tmp_path / "pink.toml"
    file.write_text('sim_maintenance_rate = 0.02\nsim_liquidation_fee_rate = "0.0015"\n')
    cfg = load_config(file, {"PINK_SIM_MAX_LEVERAGE": "40"})
    assert (cfg.sim_maintenance_rate, cfg.sim_liquidation_fee_rate, cfg.sim_max_leverage) == (
        Decimal("0.02"), Decimal("0.0015"), 40)
    engine = build_sim(cfg, tmp_path / "journal.sqlite", 0).engine
    assert engine.liquidation.rate("BTC-USDT") == Decimal("0.02")
    assert engine.liquidation.fee_rate == Decimal("0.0015")
    assert {i.max_leverage for i in engine.instruments.values()} == {40}  # DOGE-USDT's own 75 too
    with pytest.raises(LeverageError, match="LEVERAGE_OUT_OF_RANGE"):
        engine.set_leverage("BTC-USDT", Side.LONG, 41)
    with pytest.raises(ConfigError, match=r"config sim_maintenance_rate: must be below 1/sim_max_leverage "
                                          r"\(1/60\).*\(from config file"):
        load_config(file, {"PINK_SIM_MAX_LEVERAGE": "60"})
    default = build_sim(load_config(None, {}), tmp_path / "journal.sqlite", 0).engine
    assert default.liquidation.rate("BTC-USDT") == Decimal("0.005") and default.liquidation.fee_rate == Decimal("0.005")
    assert default.instruments["DOGE-USDT"].max_leverage == 75 and default.instruments["BTC-USDT"].max_leverage == 125
