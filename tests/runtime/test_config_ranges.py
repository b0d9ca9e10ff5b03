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

REPLAY = Path(__file__).resolve().parents[1] / "fixtures" / "sim" / "btc_replay_trades.csv"

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
    ("PINK_ACCOUNT_ID", "paper\n", "account_id"),  # ("": unset, the venue's name)
    ("PINK_RUNTIME_ID", " rt1", "runtime_id"),
    ("PINK_SLOTS", "100000", "slots"),
    ("PINK_JOURNAL_DURABILITY", "fsync", "journal_durability"),
    ("PINK_SIM_MAINTENANCE_RATE", "-0.001", "sim_maintenance_rate"),
    ("PINK_SIM_MAINTENANCE_RATE", "0.01", "sim_maintenance_rate"),  # x 125 (the max leverage) >= 1
    ("PINK_SIM_LIQUIDATION_FEE_RATE", "1", "sim_liquidation_fee_rate"),
    ("PINK_SIM_MAX_LEVERAGE", "0", "sim_max_leverage"),
    ("PINK_SIM_MAX_LEVERAGE", "200", "sim_max_leverage"),
    ("PINK_SIM_MAKER_FEE", "-0.0001", "sim_maker_fee"),
    ("PINK_SIM_TAKER_FEE", "0.05", "sim_taker_fee"),  # 0.05 % written as a fraction: 5 % a fill
    ("PINK_SIM_VOLATILITY_PER_S", "-0.0001", "sim_volatility_per_s"),
    ("PINK_SIM_VOLATILITY_PER_S", "0.2", "sim_volatility_per_s"),
    ("PINK_SIM_SPREAD_TICKS", "0", "sim_spread_ticks"),
    ("PINK_SIM_SPREAD_TICKS", "100000", "sim_spread_ticks"),
    ("PINK_SIM_DEPTH_LEVELS", "0", "sim_depth_levels"),
    ("PINK_SIM_DEPTH_LEVELS", "5000", "sim_depth_levels"),
    ("PINK_SIM_LEVEL_GAP_TICKS", "0", "sim_level_gap_ticks"),
    ("PINK_SIM_LEVEL_NOTIONAL", "0", "sim_level_notional"),
    ("PINK_SIM_LEVEL_NOTIONAL", "1e30", "sim_level_notional"),
    ("PINK_SIM_RESTING_FILL_FRACTION", "0", "sim_resting_fill_fraction"),
    ("PINK_SIM_RESTING_FILL_FRACTION", "1.5", "sim_resting_fill_fraction"),
    ("PINK_SIM_FUNDING_RATE", "0.5", "sim_funding_rate"),
    ("PINK_SIM_FUNDING_RATE", "-0.02", "sim_funding_rate"),
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
        ({"PINK_VENUE": "bingx", "PINK_SIM_TAKER_FEE": "0.0004"}, "sim_taker_fee"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_MAKER_FEE": "0"}, "sim_maker_fee"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_VOLATILITY_PER_S": "0.001"}, "sim_volatility_per_s"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_SPREAD_TICKS": "3"}, "sim_spread_ticks"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_DEPTH_LEVELS": "3"}, "sim_depth_levels"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_LEVEL_GAP_TICKS": "3"}, "sim_level_gap_ticks"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_LEVEL_NOTIONAL": "500"}, "sim_level_notional"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_RESTING_FILL_FRACTION": "1"}, "sim_resting_fill_fraction"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_FUNDING_RATE": "0.0001"}, "sim_funding_rate"),
        ({"PINK_VENUE": "bingx", "PINK_SIM_REPLAY": f"BTC-USDT={REPLAY}"}, "sim_replay"),
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


def test_the_simulated_markets_settings_are_set_from_the_file_and_the_environment(tmp_path: Path) -> None:
    """The paper market's fees, volatility, spread, depth, fills of resting orders and funding
    were fixed: a trader could not paper-trade at their own fee tier nor in a calmer or wilder
    market. They are settings now, the simulator a run builds uses them."""
    from pink.runtime.paper import build_sim

    file = tmp_path / "pink.toml"
    file.write_text('sim_maker_fee = 0.0001\nsim_taker_fee = "0.0004"\nsim_volatility_per_s = 0.001\n'
                    'sim_spread_ticks = 3\nsim_depth_levels = 10\nsim_level_gap_ticks = 2\n'
                    'sim_level_notional = "50000"\nsim_resting_fill_fraction = 0.25\n')
    cfg = load_config(file, {"PINK_SIM_FUNDING_RATE": "-0.0003"})
    assert (cfg.sim_maker_fee, cfg.sim_taker_fee, cfg.sim_volatility_per_s, cfg.sim_level_notional,
            cfg.sim_resting_fill_fraction, cfg.sim_funding_rate) == (
        Decimal("0.0001"), Decimal("0.0004"), Decimal("0.001"), Decimal(50000), Decimal("0.25"), Decimal("-0.0003"))
    assert (cfg.sim_spread_ticks, cfg.sim_depth_levels, cfg.sim_level_gap_ticks) == (3, 10, 2)
    engine = build_sim(cfg, tmp_path / "journal.sqlite", 0).engine
    assert (engine.fees.maker, engine.fees.taker) == (Decimal("0.0001"), Decimal("0.0004"))
    m = engine.market
    assert (m.volatility_per_s, m.spread_ticks, m.depth_levels, m.level_gap_ticks, m.level_notional,
            m.resting_fill_fraction, m.funding_rate) == (
        Decimal("0.001"), 3, 10, 2, Decimal(50000), Decimal("0.25"), Decimal("-0.0003"))
    q = engine.quote("BTC-USDT")
    assert q.ask - q.bid == Decimal("0.3") and q.funding_rate == Decimal("-0.0003")  # 3 ticks of 0.1
    default = load_config(None, {})
    assert default.sim_funding_rate is None  # unset: from the price process
    m = build_sim(default, tmp_path / "journal.sqlite", 0).engine.market
    assert (m.funding_rate, m.volatility_per_s, m.spread_ticks, m.depth_levels) == (None, Decimal("0.0002"), 1, 5)
    assert load_config(None, {"PINK_SIM_FUNDING_RATE": ""}).sim_funding_rate is None


def test_a_replay_is_given_as_a_table_in_the_file_or_symbol_path_pairs_in_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "pink.toml"
    file.write_text(f'fast = true\n[sim_replay]\nBTC-USDT = "{REPLAY}"\n')
    assert load_config(file, {}).sim_replay == (("BTC-USDT", str(REPLAY)),)
    env = {"PINK_FAST": "1", "PINK_SIM_REPLAY": f"BTC-USDT={REPLAY}, ETH-USDT={REPLAY}"}
    assert load_config(None, env).sim_replay == (("BTC-USDT", str(REPLAY)), ("ETH-USDT", str(REPLAY)))


@pytest.mark.parametrize(
    ("toml", "env", "text"),
    [
        (f'fast = true\n[sim_replay]\nBTCUSDT = "{REPLAY}"\n', {},
         r"config sim_replay: the simulator lists no BTCUSDT \(it lists BTC-USDT, DOGE-USDT, ETH-USDT\).*"
         r"\(from config file"),
        ('fast = true\n[sim_replay]\nBTC-USDT = "nosuch.csv"\n', {},
         r"config sim_replay: BTC-USDT: no file nosuch.csv .*\(from config file"),
        ('fast = true\n[sim_replay]\nBTC-USDT = 3\n', {}, r"config sim_replay \(from config file .*\): bad value"),
        ("", {"PINK_FAST": "1", "PINK_SIM_REPLAY": "BTC-USDT"},
         r"config sim_replay \(from environment PINK_SIM_REPLAY\): bad value 'BTC-USDT': give SYMBOL=CSV_PATH"),
        ("", {"PINK_FAST": "1", "PINK_SIM_REPLAY": f"BTC-USDT={REPLAY},BTC-USDT={REPLAY}"},
         r"config sim_replay \(from environment PINK_SIM_REPLAY\): bad value .*: BTC-USDT is given twice"),
        (f'[sim_replay]\nBTC-USDT = "{REPLAY}"\n', {},
         r"config sim_replay: needs fast = true \(a replay runs on the simulated clock"),
        ('[other]\nx = 1\n', {}, r"tables are not supported: other"),
    ],
)
def test_a_bad_replay_setting_is_refused_naming_what_is_wrong(
    tmp_path: Path, toml: str, env: dict[str, str], text: str
) -> None:
    file = tmp_path / "pink.toml"
    file.write_text(toml)
    with pytest.raises(ConfigError, match=text):
        load_config(file, env)


@pytest.mark.parametrize(
    ("rows", "where"),
    [
        ("ts_ms,price\n1704067200000,42000\n1704067205000,abc\n", r"bad.csv:3: price: not a number: 'abc'"),
        ("ts_ms,price\n1704067200000,42000\n\n1704067205000,-1\n", r"bad.csv:4: price: must be > 0"),
        ("ts_ms,price\n1704067200000,42000,1,2\n", r"bad.csv:2: expected 2, 3, 5 or 6 columns, got 4"),
        ("ts_ms,price\n", r"bad.csv: no rows of trades or candles"),
    ],
)
def test_a_malformed_replay_file_stops_the_start_naming_its_file_and_line(
    tmp_path: Path, rows: str, where: str
) -> None:
    """Before the journal opens, nothing traded: the error names the setting, the file and its line."""
    from pink.runtime.paper import build_sim

    bad = tmp_path / "bad.csv"
    bad.write_text(rows)
    cfg = load_config(None, {"PINK_FAST": "1", "PINK_SIM_REPLAY": f"BTC-USDT={bad}"})
    with pytest.raises(ConfigError, match=rf"^config sim_replay: .*{where}"):
        build_sim(cfg, tmp_path / "journal.sqlite", 0)
    assert not (tmp_path / "journal.sqlite").exists()


def test_a_replay_whose_times_look_like_seconds_is_warned_of_and_its_span_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Times in seconds (a common export) are read as milliseconds: the whole file replayed in a
    few cycles of 1970, with nothing said. The start logs each replay's span and warns of that."""
    import logging

    from pink.runtime.paper import build_sim

    secs = tmp_path / "secs.csv"
    secs.write_text("ts,price\n1704067200,42000\n1704067260,42100\n")
    cfg = load_config(None, {"PINK_FAST": "1", "PINK_SIM_REPLAY": f"BTC-USDT={secs},ETH-USDT={REPLAY}"})
    with caplog.at_level(logging.INFO, logger="pink.runtime.paper"):
        build_sim(cfg, tmp_path / "journal.sqlite", 0)
    text = caplog.text
    assert f"replay of ETH-USDT: {REPLAY}: 121 prices from 2024-01-01T00:00:00Z to 2024-01-01T00:10:00Z" in text
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and f"replay of BTC-USDT: {secs}: its times end in 1970" in warned[0].getMessage()
    assert "milliseconds" in warned[0].getMessage()


def test_a_refused_decimal_is_shown_as_written_not_as_python() -> None:
    with pytest.raises(ConfigError, match=r"\(got 0\.05\) \(from environment PINK_SIM_TAKER_FEE\)$"):
        load_config(None, {"PINK_SIM_TAKER_FEE": "0.05"})


def test_a_maintenance_rate_per_symbol_is_set_from_a_table_in_the_file_or_pairs_in_the_environment(
    tmp_path: Path,
) -> None:
    """BingX's maintenance rates differ by symbol (DOGE's above BTC's); the simulator had one
    rate for all. ``sim_maintenance_rates`` overrides ``sim_maintenance_rate`` per symbol."""
    from pink.runtime.paper import build_sim

    file = tmp_path / "pink.toml"
    file.write_text('sim_maintenance_rate = "0.006"\n[sim_maintenance_rates]\nBTC-USDT = 0.004\n'
                    'DOGE-USDT = "0.01"\n')
    cfg = load_config(file, {})
    assert cfg.sim_maintenance_rates == (("BTC-USDT", Decimal("0.004")), ("DOGE-USDT", Decimal("0.01")))
    rules = build_sim(cfg, tmp_path / "journal.sqlite", 0).engine.liquidation
    assert (rules.rate("BTC-USDT"), rules.rate("DOGE-USDT"), rules.rate("ETH-USDT")) == (
        Decimal("0.004"), Decimal("0.01"), Decimal("0.006"))  # DOGE's 0.01 is below 1/75, its own max
    env = {"PINK_SIM_MAINTENANCE_RATES": "ETH-USDT=0.002, BTC-USDT=0"}
    assert load_config(None, env).sim_maintenance_rates == (("ETH-USDT", Decimal("0.002")), ("BTC-USDT", Decimal(0)))
    assert load_config(None, {}).sim_maintenance_rates == ()


@pytest.mark.parametrize(
    ("toml", "env", "text"),
    [
        ('[sim_maintenance_rates]\nBTCUSDT = "0.004"\n', {},
         r"config sim_maintenance_rates: the simulator lists no BTCUSDT \(it lists BTC-USDT, DOGE-USDT, "
         r"ETH-USDT\) \(from config file"),
        ('[sim_maintenance_rates]\nBTC-USDT = "abc"\n', {},
         r"config sim_maintenance_rates \(from config file .*\): bad value .*: BTC-USDT: 'abc' is not a decimal"),
        ('[sim_maintenance_rates]\nBTC-USDT = true\n', {},
         r"config sim_maintenance_rates \(from config file .*\): bad value .*: BTC-USDT: True is not a decimal"),
        ('[sim_maintenance_rates]\nBTC-USDT = 1.5\n', {},
         r"config sim_maintenance_rates: BTC-USDT: must be a fraction: >= 0 and < 1 \(got 1\.5\) \(from config"),
        ("", {"PINK_SIM_MAINTENANCE_RATES": "ETH-USDT=-0.001"},
         r"config sim_maintenance_rates: ETH-USDT: must be a fraction: >= 0 and < 1 \(got -0\.001\) \(from "
         r"environment PINK_SIM_MAINTENANCE_RATES\)"),
        ("", {"PINK_SIM_MAINTENANCE_RATES": "BTC-USDT=0.01"},
         r"config sim_maintenance_rates: BTC-USDT: must be below 1/125 \(its max leverage\).* \(got 0\.01\)"),
        ("", {"PINK_SIM_MAINTENANCE_RATES": "DOGE-USDT=0.014"},
         r"config sim_maintenance_rates: DOGE-USDT: must be below 1/75 \(its max leverage\)"),
        ("", {"PINK_SIM_MAINTENANCE_RATES": "BTC-USDT"},
         r"config sim_maintenance_rates \(from environment .*\): bad value 'BTC-USDT': give SYMBOL=RATE"),
        ("", {"PINK_SIM_MAINTENANCE_RATES": "BTC-USDT=0.001,BTC-USDT=0.002"},
         r"config sim_maintenance_rates \(from environment .*\): bad value .*: BTC-USDT is given twice"),
        ("", {"PINK_VENUE": "bingx", "PINK_SIM_MAINTENANCE_RATES": "BTC-USDT=0.004"},
         r"config sim_maintenance_rates: is the simulator's: it needs venue=sim"),
    ],
)
def test_a_bad_maintenance_rate_per_symbol_is_refused_naming_the_key_the_symbol_and_the_value(
    tmp_path: Path, toml: str, env: dict[str, str], text: str
) -> None:
    file = tmp_path / "pink.toml"
    file.write_text(toml)
    with pytest.raises(ConfigError, match=text):
        load_config(file, env)


@pytest.mark.parametrize(
    ("toml", "text"),
    [
        ("cycle_s = true", r"config cycle_s \(from config file .*\): bad value True: must be a number"),
        ("sim_spread_ticks = 1.5", r"config sim_spread_ticks \(from config file .*\): bad value 1\.5: must be a whole "
         r"number"),
        ('sim_max_leverage = "20x"', r"config sim_max_leverage \(from config file .*\): bad value '20x': must be a "
         r"whole number"),
        ("seed = true", r"config seed \(from config file .*\): bad value True: must be a whole number"),
        ('fast = "maybe"', r"config fast \(from config file .*\): bad value 'maybe': must be true or false"),
        ("sim_maintenance_rates = 5", r"config sim_maintenance_rates \(from config file .*\): bad value 5: give a "
         r"table of SYMBOL = RATE"),
        ("sim_replay = 5", r"config sim_replay \(from config file .*\): bad value 5: give a table of SYMBOL = "
         r"CSV_PATH"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_saying_what_was_expected(tmp_path: Path, toml: str, text: str) -> None:
    """A boolean was taken as a duration of 1 s, and the others were refused repeating the value
    (``bad value 1.5: 1.5``) or with Python's own words (``'int' object is not iterable``)."""
    file = tmp_path / "pink.toml"
    file.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=text):
        load_config(file, {})


@pytest.mark.parametrize(("source", "where"), [("env", "environment PINK_DATA_DIR"), ("file", "config file")])
def test_an_empty_data_dir_is_refused_not_taken_as_the_current_directory(
    tmp_path: Path, source: str, where: str
) -> None:
    """PINK_DATA_DIR set to nothing (a script's unset variable) made the run's journal, ledger and
    log in the current directory, while pink audit, report and status, taking it as unset, looked
    in ./data and found no run."""
    toml = tmp_path / "pink.toml"
    toml.write_text('data_dir = ""\n')
    with pytest.raises(ConfigError, match=rf"config data_dir \(from {where}.*\): bad value '': must be a directory"):
        load_config(toml if source == "file" else None, {"PINK_DATA_DIR": ""} if source == "env" else {})
    assert load_config(None, {"PINK_DATA_DIR": "."}).data_dir == Path(".")  # the current directory, said


def test_an_empty_policy_is_refused_not_taken_as_the_sample_policy(tmp_path: Path) -> None:
    """PINK_POLICY set to nothing (a script's unset variable) ran the SAMPLE policy, which is not
    a strategy, on whatever venue the run was on; the summary named it only at the end."""
    with pytest.raises(ConfigError, match=r"config policy \(from environment PINK_POLICY\): bad value '': give "
                                          r"MODULE:NAME"):
        load_config(None, {"PINK_POLICY": ""})
    with pytest.raises(ConfigError, match=r"config policy \(from flag --policy\): bad value ' '"):
        load_config(None, {}, {"policy": " "})
    assert load_config(None, {}).policy == ""  # unset: the SAMPLE policy
