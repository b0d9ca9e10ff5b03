"""A run quotes the symbols it is given (config ``symbols``), not every contract the venue lists.

On BingX (hundreds of contracts) the launcher quoted every one each cycle: a market-stream
subscription and a funding read for each, past BingX's limits before the first cycle, and the
sample policy picked among all of them."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from pink.errors import ConfigError, StartupError
from pink.runtime.config import load_config
from pink.runtime.launcher import Launcher
from pink.venues.bingx.server import BingxSimServer
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.instruments import default_instruments
from tests.runtime.helpers import bingx_venue, quiet_config


def _many_contracts_server() -> BingxSimServer:
    """A BingX simulator listing 30 contracts, as BingX lists hundreds."""
    base = default_instruments()
    inst = dict(base) | {f"X{i:02d}-USDT": dataclasses.replace(base["DOGE-USDT"], symbol=f"X{i:02d}-USDT")
                         for i in range(27)}
    engine = MatchingEngine(inst, seed=1, start_ts=time.time_ns())
    return BingxSimServer(engine, rate_limits=False, hedge=True)


async def test_a_venue_listing_many_contracts_is_refused_unless_the_run_says_its_symbols(tmp_path: Path) -> None:
    server = await _many_contracts_server().start()
    try:
        venue = bingx_venue(server)
        launcher = Launcher(quiet_config(tmp_path, venue="bingx", fast=False, cycle_s=0.05), venue=venue)
        with pytest.raises(StartupError, match=r"it lists 30 symbols: quoting them all would overrun.*"
                                               r"PINK_SYMBOLS=BTC-USDT,ETH-USDT"):
            await launcher.start()
        await launcher.close()
        await venue.close()
        assert not (tmp_path / "journal.sqlite").exists()  # nothing made: the next start is a new data dir

        venue = bingx_venue(server)
        launcher = Launcher(quiet_config(tmp_path, venue="bingx", fast=False, cycle_s=0.05,
                                         symbols=("ETH-USDT", "X03-USDT")), venue=venue)
        try:
            await launcher.start()
            deadline = time.monotonic() + 60
            while len(venue.market._ready) < 2 and time.monotonic() < deadline:  # quoted one after the other
                await launcher.run(cycles=5)
            assert launcher.runtime is not None
            assert sorted(launcher.runtime.instruments) == ["ETH-USDT", "X03-USDT"]  # the policy's to see
            assert sorted(venue.market._ready) == ["ETH-USDT", "X03-USDT"]  # subscribed: these, no others
        finally:
            await launcher.close()
            await venue.close()
    finally:
        await server.close()


async def test_a_symbol_the_venue_does_not_list_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match=r"config symbols: the venue lists no SOL-USDT, XRP-USDT \(it lists "
                                           r"BTC-USDT, DOGE-USDT, ETH-USDT\)"):
        async with Launcher(quiet_config(tmp_path, symbols=("BTC-USDT", "SOL-USDT", "XRP-USDT"))):
            pass
    assert not (tmp_path / "journal.sqlite").exists()


async def test_a_symbol_an_open_trade_holds_is_quoted_whatever_the_setting(tmp_path: Path) -> None:
    async with Launcher(quiet_config(tmp_path, slots=6, seed=5)) as first:  # all three symbols
        assert first.symbols == ("BTC-USDT", "DOGE-USDT", "ETH-USDT")
        rt = first.runtime
        assert rt is not None
        for _ in range(100):
            await first.run(cycles=20)
            held = {v.symbol for v in rt.slots if v.symbol and v.symbol != "BTC-USDT"}
            if held:
                break
        assert held, "no trade opened off BTC-USDT"
    async with Launcher(quiet_config(tmp_path, slots=6, seed=5, symbols=("BTC-USDT",))) as again:
        assert again.runtime is not None
        kept = {v.symbol for v in again.runtime.slots if v.symbol}
        assert set(again.symbols) == {"BTC-USDT"} | kept and held <= kept, (again.symbols, held)
        assert set(again.runtime.instruments) == set(again.symbols)


def test_symbols_are_read_from_a_list_or_text_and_bad_ones_named(tmp_path: Path) -> None:
    f = tmp_path / "pink.toml"
    f.write_text('symbols = ["BTC-USDT", "ETH-USDT"]\n')
    assert load_config(f).symbols == ("BTC-USDT", "ETH-USDT")
    assert load_config(env={"PINK_SYMBOLS": " BTC-USDT , DOGE-USDT"}).symbols == ("BTC-USDT", "DOGE-USDT")
    assert load_config(env={"PINK_SYMBOLS": ""}).symbols == ()
    for raw, why in (("BTC-USDT,BTC-USDT", "BTC-USDT is given twice"), ("BTC-USDT,,ETH-USDT", "symbol 2 is not"),
                     (",".join(f"S{i}" for i in range(101)), "at most 100 symbols")):
        with pytest.raises(ConfigError, match=rf"config symbols \(from environment PINK_SYMBOLS\): bad value .*{why}"):
            load_config(env={"PINK_SYMBOLS": raw})
    f.write_text("symbols = 5\n")
    with pytest.raises(ConfigError, match=r"config symbols \(from config file .*\): bad value 5: give a list"):
        load_config(f)
    with pytest.raises(ConfigError, match=r"config symbols: BTC-USDT is given twice"):
        quiet_config(tmp_path, symbols=("BTC-USDT", "BTC-USDT"))
