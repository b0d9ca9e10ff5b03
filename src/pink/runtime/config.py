"""Runtime configuration: defaults < TOML file < environment (PINK_*) < flags.

Every key has one name everywhere: ``cycle_s`` in the file, ``PINK_CYCLE_S``
in the environment, ``cycle_s=`` in the flags mapping. Unknown keys (in the
file or ``PINK_*`` variables) are refused with a :class:`ConfigError` that
names them; a value that does not parse names its key and source.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pink.errors import ConfigError

__all__ = ["ENV_IGNORED", "ENV_IGNORED_PREFIXES", "RuntimeConfig", "load_config"]

# PINK_* variables that belong to other components or test scripts, not to this file's keys
ENV_IGNORED = frozenset(
    {"PINK_LEDGER_URL_TEST", "PINK_LIVE", "PINK_PYTHON", "PINK_REDIS_PORT", "PINK_HAZELCAST_PORT",
     "PINK_SERVICES", "PINK_HAZELCAST_ADDR"}  # the test scripts' (PINK_REDIS_URL is redis_url's)
)
ENV_IGNORED_PREFIXES = ("PINK_BINGX_",)  # read by the BingX adapter's own configuration


MAX_SLOTS = 1000
MAX_SYMBOLS = 100  # each quoted symbol is a market-stream subscription (BingX allows 200 per connection)
MAX_LEVERAGE = 125  # the highest leverage a venue (BingX) lists
MAX_SECONDS = 7 * 86_400.0  # the longest duration setting: a week
MAX_CAPITAL = Decimal(10) ** 15  # money is exact to 8 places within 28 digits: room for PnL above it
_SIM_RATES = ("sim_maintenance_rate", "sim_liquidation_fee_rate")
_SIM_FEES = ("sim_maker_fee", "sim_taker_fee")
MAX_SIM_FEE = Decimal("0.01")  # 1 %: 0.05 written for 0.05 % is refused, not charged 100 times over
MAX_SIM_VOLATILITY = Decimal("0.01")  # relative, per second: ~ 300 % a day
MAX_SIM_FUNDING = Decimal("0.01")  # a settlement's rate, either way
# (key, low, high) of the simulated market's whole-number settings
_SIM_COUNTS = (("sim_spread_ticks", 1, 1000), ("sim_depth_levels", 1, 100), ("sim_level_gap_ticks", 1, 1000))
_SIM_KEYS = (*_SIM_RATES, "sim_max_leverage", *_SIM_FEES, "sim_volatility_per_s", *(k for k, _, _ in _SIM_COUNTS),
             "sim_level_notional", "sim_resting_fill_fraction", "sim_funding_rate", "sim_replay",
             "sim_maintenance_rates")
_DURATIONS = ("cycle_s", "call_timeout_s", "close_timeout_s", "reconcile_interval_s", "books_settle_s",
              "health_interval_s")


class _BadValue(ConfigError):
    """A value out of its range; :func:`load_config` adds where it came from."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _duration(value: float) -> bool:
    return math.isfinite(value) and 0 < value <= MAX_SECONDS


def _rate(value: Decimal) -> bool:
    return value.is_finite() and 0 <= value < 1


def _within(value: Decimal, low: Decimal | int, high: Decimal) -> bool:
    return value.is_finite() and low <= value <= high


def _fee(value: Decimal) -> bool:
    return _within(value, 0, MAX_SIM_FEE)


def _check_replay(replay: tuple[tuple[str, str], ...], fast: bool) -> None:
    """Each replayed symbol is listed and its file is there (its rows are read as the
    simulator is built, before the journal opens: :func:`pink.runtime.paper.build_sim`)."""
    from pink.venues.sim.instruments import default_instruments

    if not fast:
        raise _BadValue("sim_replay", "config sim_replay: needs fast = true (a replay runs on the simulated clock, "
                        "from the file's first time)")
    listed = default_instruments()
    for symbol, path in replay:
        if symbol not in listed:
            raise _BadValue("sim_replay", f"config sim_replay: the simulator lists no {symbol} (it lists "
                            f"{', '.join(sorted(listed))})")
        if not Path(path).is_file():
            raise _BadValue("sim_replay", f"config sim_replay: {symbol}: no file {path} (a relative path is from "
                            f"the directory pink runs in: {Path.cwd()})")


def _check_maintenance_rates(rates: tuple[tuple[str, Decimal], ...], max_leverage: int) -> None:
    """Each symbol is listed, each rate a fraction below 1/its max leverage (a position at that
    leverage would be liquidated as it opened)."""
    from pink.venues.sim.instruments import default_instruments

    key = "sim_maintenance_rates"
    listed = default_instruments()
    for symbol, rate in rates:
        inst = listed.get(symbol)
        if inst is None:
            raise _BadValue(key, f"config {key}: the simulator lists no {symbol} (it lists "
                            f"{', '.join(sorted(listed))})")
        if not _rate(rate):
            raise _BadValue(key, f"config {key}: {symbol}: must be a fraction: >= 0 and < 1 (got {rate})")
        most = min(inst.max_leverage, max_leverage)
        if rate * most >= 1:
            raise _BadValue(key, f"config {key}: {symbol}: must be below 1/{most} (its max leverage): a position "
                            f"at that leverage would be liquidated as it opened (got {rate})")


def _pairs(raw: Any, shape: str) -> list[tuple[str, Any]]:
    """(symbol, value) pairs from a TOML table, ``SYMBOL=VALUE,...`` text (``shape``: how to
    write it), or pairs; a symbol given twice is refused."""
    pairs: list[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, str):
        pairs = [(sym, v) for sym, _, v in (p.strip().partition("=") for p in raw.split(",") if p.strip())]
        if any(not sym.strip() or not v.strip() for sym, v in pairs):
            raise ValueError(f"give {shape}, comma-separated")
    elif isinstance(raw, list | tuple) and all(isinstance(p, list | tuple) and len(p) == 2 for p in raw):
        pairs = [(sym, v) for sym, v in raw]
    else:
        raise ValueError(f"give a table of {shape.replace('=', ' = ')} (or {shape},... as text)")
    out: dict[str, Any] = {}
    for sym, v in pairs:
        if not isinstance(sym, str):
            raise ValueError(f"give {shape}")
        if sym.strip() in out:
            raise ValueError(f"{sym.strip()} is given twice")
        out[sym.strip()] = v.strip() if isinstance(v, str) else v
    return list(out.items())


def _replay_pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    """``sim_replay`` from a TOML table, ``SYMBOL=PATH,...`` text, or (symbol, path) pairs."""
    pairs = _pairs(raw, "SYMBOL=CSV_PATH")
    if any(not isinstance(path, str) for _, path in pairs):
        raise ValueError("give each symbol's CSV path as text")
    return tuple(pairs)


def _rate_pairs(raw: Any) -> tuple[tuple[str, Decimal], ...]:
    """``sim_maintenance_rates`` from a TOML table (rates as strings or numbers), ``SYMBOL=RATE,...``
    text, or (symbol, rate) pairs."""
    out = []
    for sym, rate in _pairs(raw, "SYMBOL=RATE"):
        try:
            if isinstance(rate, bool) or not isinstance(rate, str | int | float | Decimal):
                raise InvalidOperation
            value = Decimal(repr(rate) if isinstance(rate, float) else str(rate))  # 0.004 as written
        except InvalidOperation:
            raise ValueError(f"{sym}: {rate!r} is not a decimal number") from None
        if not value.is_finite():
            raise ValueError(f"{sym}: {rate!r} is not a finite number")
        out.append((sym, value))
    return tuple(out)


def _symbol_list(raw: Any) -> tuple[str, ...]:
    """``symbols`` from a TOML list of strings or ``SYMBOL,...`` text; none empty, none twice."""
    if isinstance(raw, str):
        items = [p.strip() for p in raw.split(",")] if raw.strip() else []
    elif isinstance(raw, list | tuple) and all(isinstance(p, str) for p in raw):
        items = [p.strip() for p in raw]
    else:
        raise ValueError('give a list of symbols, such as ["BTC-USDT", "ETH-USDT"] (or BTC-USDT,ETH-USDT as text)')
    for i, sym in enumerate(items):
        if not sym or not sym.isprintable() or " " in sym:
            raise ValueError(f"symbol {i + 1} is not a symbol name: {sym!r}")
        if sym in items[:i]:
            raise ValueError(f"{sym} is given twice")
    if len(items) > MAX_SYMBOLS:
        raise ValueError(f"at most {MAX_SYMBOLS} symbols (each is a market-stream subscription), got {len(items)}")
    return tuple(items)


def _is_id(value: str) -> bool:
    return bool(value) and value == value.strip() and value.isprintable()


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    venue: str = "sim"  # sim | bingx
    cycles: int = 0  # 0: run until stopped
    fast: bool = False  # simulated clock that jumps to the next due time (sim only)
    seed: int = 0
    policy: str = ""  # MODULE:NAME of the policy to run (pink.policy.loader); empty: the SAMPLE policy
    data_dir: Path = Path("./data")
    slots: int = 8
    # the symbols the run quotes and its policy sees (and may trade): a list in the file,
    # SYMBOL,... in the environment; empty: every one the venue lists, refused on a venue listing
    # more than pink.runtime.launcher.MAX_DEFAULT_SYMBOLS (BingX lists hundreds). A symbol an open
    # trade holds is always quoted
    symbols: tuple[str, ...] = ()
    faults: str = ""  # simulator fault spec, e.g. "reject=0.05,no_response=0.02"
    view: bool = True
    # the account's name in the journal, ledger, planes and projection; "": the journal's, and for a
    # new one the venue's (pink.runtime.journal_guard.default_account_id: paper, bingx-vst, bingx-live)
    account_id: str = ""
    runtime_id: str = "rt1"
    initial_capital: Decimal = Decimal(10_000)
    settle_asset: str = "USDT"  # the venue account's margin asset; fees in another are not booked
    cycle_s: float = 5.0
    ledger: str = "chdb"  # chdb | url | none
    ledger_url: str = ""
    plane: str = "shm"  # shm | none
    control: str = "file"  # file | none
    projection: str = "none"  # none | redis | hazelcast | redis,hazelcast
    redis_url: str = "redis://127.0.0.1:6379/0"
    hazelcast_members: str = "127.0.0.1:5701"  # host:port, comma-separated
    hazelcast_cluster: str = "dev"  # the cluster's name (Hazelcast's own default: dev)
    max_in_flight: int = 8
    call_timeout_s: float = 5.0
    close_timeout_s: float = 5.0
    reconcile_interval_s: float = 300.0
    books_settle_s: float = 600.0  # see pink.runtime.books
    books_rebase: bool = False  # drop the books baseline the last run kept (a known difference accepted)
    # positions closed outside PINK (by hand, or by a liquidation) to book at this start, before
    # any cycle: "TRADE_ID=PRICE" or "TRADE_ID=PRICE:FEE", comma-separated (pink.kernel.outside)
    closed_outside: str = ""
    health_interval_s: float = 5.0
    # "full" also survives power loss or an OS crash (an fsync per batch commit, ~0.2 ms): an
    # order sent whose record a power cut took back is unknown to the next start. "auto": full
    # on a real venue (bingx), normal (survives a killed process) on the simulator
    journal_durability: str = "auto"
    # the simulator's liquidation rules (venue=sim only; pink.venues.sim.margin): the maintenance
    # margin and the liquidation fee as fractions of the notional, and the highest leverage it
    # lists on any symbol (a symbol listing less of its own keeps it). Defaults: LiquidationRules'
    sim_maintenance_rate: Decimal = Decimal("0.005")
    # (symbol, rate) of the symbols whose maintenance rate is not sim_maintenance_rate (BingX's
    # differ by symbol): a table in the file, SYMBOL=RATE,... in the environment
    sim_maintenance_rates: tuple[tuple[str, Decimal], ...] = ()
    sim_liquidation_fee_rate: Decimal = Decimal("0.005")
    sim_max_leverage: int = MAX_LEVERAGE
    # the simulated market (venue=sim only; pink.venues.sim.prices.MarketConfig, orders.FeeSchedule):
    # fees as fractions of a fill's notional (BingX's published defaults), the random walk's
    # relative volatility per second, the book's spread, depth, level gap (in ticks) and level
    # size, the part of the crossed levels a resting LIMIT fills per price update, and a fixed
    # funding rate per settlement (None: derived from the price process)
    sim_maker_fee: Decimal = Decimal("0.0002")
    sim_taker_fee: Decimal = Decimal("0.0005")
    sim_volatility_per_s: Decimal = Decimal("0.0002")
    sim_spread_ticks: int = 1
    sim_depth_levels: int = 5
    sim_level_gap_ticks: int = 1
    sim_level_notional: Decimal = Decimal(20_000)
    sim_resting_fill_fraction: Decimal = Decimal("0.5")
    sim_funding_rate: Decimal | None = None
    # (symbol, CSV path) of the symbols whose prices replay a file of trades or candles
    # (pink.venues.sim.prices.load_price_csv) instead of the random walk; fast runs only
    sim_replay: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        checks = [
            (self.venue in ("sim", "bingx"), "venue", "must be sim or bingx"),
            (0 < self.slots <= MAX_SLOTS, "slots", f"must be between 1 and {MAX_SLOTS}"),
            (self.cycles >= 0, "cycles", "must be >= 0"),
            *((_duration(getattr(self, key)), key, f"must be > 0 and at most {MAX_SECONDS:g} (seconds)")
              for key in _DURATIONS),
            (self.initial_capital.is_finite() and 0 < self.initial_capital <= MAX_CAPITAL, "initial_capital",
             f"must be > 0 and at most {MAX_CAPITAL:,}"),
            *((_is_id(getattr(self, key)) or (key == "account_id" and not self.account_id), key, "must be a "
               "name: not empty, no surrounding spaces, no control characters")
              for key in ("account_id", "runtime_id", "hazelcast_cluster")),
            (self.journal_durability in ("auto", "normal", "full"), "journal_durability",
             "must be auto, normal or full"),
            (self.settle_asset.isalnum(), "settle_asset", "must be an asset name such as USDT"),
            (self.ledger in ("chdb", "url", "none"), "ledger", "must be chdb, url or none"),
            (self.plane in ("shm", "none"), "plane", "must be shm or none"),
            (self.control in ("file", "none"), "control", "must be file or none"),
            (self.max_in_flight > 0, "max_in_flight", "must be > 0"),
            (not (self.fast and self.venue != "sim"), "fast", "needs venue=sim"),
            (not (self.faults and self.venue != "sim"), "faults", "are the simulator's: they need venue=sim"),
            (not (self.ledger_url and self.ledger == "none"), "ledger_url", "is given while ledger=none"),
            *((_rate(getattr(self, key)), key, "must be a fraction: >= 0 and < 1") for key in _SIM_RATES),
            (1 <= self.sim_max_leverage <= MAX_LEVERAGE, "sim_max_leverage", f"must be between 1 and {MAX_LEVERAGE}"),
            (not _rate(self.sim_maintenance_rate) or self.sim_maintenance_rate * self.sim_max_leverage < 1,
             "sim_maintenance_rate",
             f"must be below 1/sim_max_leverage (1/{self.sim_max_leverage}): a position at that leverage would "
             f"be liquidated as it opened"),
            *((_fee(getattr(self, key)), key, f"must be a fraction of the notional, >= 0 and at most "
               f"{MAX_SIM_FEE} (1 %): 0.0005 is 0.05 %") for key in _SIM_FEES),
            (_within(self.sim_volatility_per_s, 0, MAX_SIM_VOLATILITY), "sim_volatility_per_s",
             f"must be a fraction of the price per second, >= 0 and at most {MAX_SIM_VOLATILITY}"),
            *((low <= getattr(self, key) <= high, key, f"must be between {low} and {high}")
              for key, low, high in _SIM_COUNTS),
            (self.sim_level_notional.is_finite() and 0 < self.sim_level_notional <= MAX_CAPITAL,
             "sim_level_notional", f"must be > 0 and at most {MAX_CAPITAL:,}"),
            (self.sim_resting_fill_fraction.is_finite() and 0 < self.sim_resting_fill_fraction <= 1,
             "sim_resting_fill_fraction", "must be a fraction: > 0 and at most 1"),
            (self.sim_funding_rate is None or _within(self.sim_funding_rate, -MAX_SIM_FUNDING, MAX_SIM_FUNDING),
             "sim_funding_rate", f"must be between -{MAX_SIM_FUNDING} and {MAX_SIM_FUNDING} (a fraction of the "
             f"position's notional per settlement), or unset"),
            *((self.venue == "sim" or getattr(self, f.name) == f.default, f.name, "is the simulator's: it needs "
               "venue=sim") for f in fields(self) if f.name in _SIM_KEYS),
        ]
        for ok, key, why in checks:
            if not ok:
                value = getattr(self, key)  # a Decimal as written (0.05), not as Python shows it
                shown = value if isinstance(value, Decimal) else repr(value)
                raise _BadValue(key, f"config {key}: {why} (got {shown})")
        for p in self.projection_backends:
            if p not in ("redis", "hazelcast"):
                raise ConfigError(f"config projection: unknown backend {p!r}")
        _ = self.closed_outside_entries  # a malformed entry is a start-up error, named
        try:
            _symbol_list(list(self.symbols))
        except ValueError as exc:
            raise _BadValue("symbols", f"config symbols: {exc}") from None
        if self.sim_replay:
            _check_replay(self.sim_replay, self.fast)
        _check_maintenance_rates(self.sim_maintenance_rates, self.sim_max_leverage)

    @property
    def journal_sync(self) -> str:
        """The journal's durability in force: ``journal_durability`` with "auto" resolved."""
        if self.journal_durability != "auto":
            return self.journal_durability
        return "normal" if self.venue == "sim" else "full"

    @property
    def closed_outside_entries(self) -> tuple[tuple[str, Decimal, Decimal], ...]:
        """``closed_outside`` as (trade id, price, fee) entries."""
        out = []
        for part in (p.strip() for p in self.closed_outside.split(",")):
            if not part:
                continue
            trade_id, eq, rest = part.partition("=")
            price, _, fee = rest.partition(":")
            try:
                values = Decimal(price), Decimal(fee or "0")
            except InvalidOperation:
                values = Decimal(-1), Decimal(-1)
            if not eq or not trade_id.strip() or not all(v.is_finite() and v >= 0 for v in values) or values[0] == 0:
                raise ConfigError(f"config closed_outside: {part!r} is not TRADE_ID=PRICE or TRADE_ID=PRICE:FEE "
                                  f"(a price > 0, a fee >= 0)")
            out.append((trade_id.strip(), *values))
        return tuple(out)

    @property
    def projection_backends(self) -> tuple[str, ...]:
        if self.projection in ("", "none"):
            return ()
        return tuple(p.strip() for p in self.projection.split(",") if p.strip())


_FIELDS = {f.name: f for f in fields(RuntimeConfig)}
_TYPES: dict[str, type] = {name: type(getattr(RuntimeConfig(), name)) for name in _FIELDS} | {
    "sim_funding_rate": Decimal}
_TABLES = ("sim_replay", "sim_maintenance_rates")  # the keys a TOML file gives as a table


def _coerce(key: str, raw: Any, source: str) -> Any:
    kind = _TYPES[key]
    try:
        if key == "sim_replay":
            return _replay_pairs(raw)
        if key == "sim_maintenance_rates":
            return _rate_pairs(raw)
        if key == "symbols":
            return _symbol_list(raw)
        if key == "sim_funding_rate" and raw == "":
            return None  # unset: from the price process
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("must be true or false")
        if kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError("must be a whole number")
            try:
                return int(raw)
            except ValueError:
                raise ValueError("must be a whole number") from None
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError("must be a number")
            try:
                return float(raw)
            except ValueError:
                raise ValueError("must be a number") from None
        if kind is Decimal:
            if isinstance(raw, float) and key.startswith("sim_"):
                raw = repr(raw)  # a rate as TOML writes it (0.01): the decimal it was written as
            if isinstance(raw, float):
                raise ValueError("give money as a string or integer, not a float")
            value = Decimal(str(raw))
            if not value.is_finite():
                raise ValueError(raw)
            return value
        if key == "policy" and not str(raw).strip() and not source.startswith("config file"):
            # (a script's unset variable: the SAMPLE policy, not a strategy, would trade in its place)
            raise ValueError("give MODULE:NAME; leave it unset for the SAMPLE policy")
        if issubclass(kind, Path):
            if not str(raw).strip():  # (Path("") is the current directory; the other commands take it as unset)
                raise ValueError("must be a directory, not empty (the current directory is '.')")
            return Path(str(raw))
        return str(raw)
    except InvalidOperation:  # its text is the class list of the signal: say what was expected
        raise ConfigError(f"config {key} (from {source}): bad value {raw!r}: not a decimal number") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"config {key} (from {source}): bad value {raw!r}: {exc}") from None


def _check_known(keys: list[str], source: str, shown: Mapping[str, str] | None = None) -> None:
    unknown = sorted(k for k in keys if k not in _FIELDS)
    if unknown:
        names = ", ".join((shown or {}).get(k, k) for k in unknown)
        raise ConfigError(
            f"unknown configuration key(s) in {source}: {names} "
            f"(known: {', '.join(sorted(_FIELDS))})"
        )


def load_config(
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> RuntimeConfig:
    """Merge defaults < ``file`` (TOML) < ``env`` (PINK_*) < ``flags`` (None = not given)."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}  # key -> where its value came from, for the error naming it
    if file is not None:
        try:
            data = tomllib.loads(Path(file).read_text())
        except OSError as exc:
            raise ConfigError(f"config file {file}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {file}: not UTF-8 text (TOML must be): {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file}: not valid TOML: {exc}") from None
        nested = [k for k, v in data.items() if isinstance(v, dict) and k not in _TABLES]
        if nested:
            raise ConfigError(f"config file {file}: tables are not supported: {', '.join(nested)}")
        _check_known(list(data), f"config file {file}")
        for k, v in data.items():
            values[k] = _coerce(k, v, f"config file {file}")
            sources[k] = f"config file {file}"
    if env:
        env_keys = {
            k[5:].lower(): k
            for k in env
            if k.startswith("PINK_")
            and k not in ENV_IGNORED
            and not k.startswith(ENV_IGNORED_PREFIXES)
        }
        _check_known(list(env_keys), "environment", env_keys)
        for k, name in env_keys.items():
            values[k] = _coerce(k, env[name], f"environment {name}")
            sources[k] = f"environment {name}"
    if flags:
        given = {k: v for k, v in flags.items() if v is not None}
        _check_known(list(given), "flags")
        for k, v in given.items():
            values[k] = _coerce(k, v, f"flag --{k.replace('_', '-')}")
            sources[k] = f"flag --{k.replace('_', '-')}"
    try:
        return replace(RuntimeConfig(), **values)
    except _BadValue as exc:
        source = sources.get(exc.key)
        raise ConfigError(f"{exc} (from {source})" if source else str(exc)) from None
