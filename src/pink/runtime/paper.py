"""Paper trading: the in-process simulator a ``pink run --venue sim`` trades on, across restarts.

Each start builds a new simulator. A restarted one must look like the same market going on,
not a new one:

- it is handed the journal's book (wallet, open positions at their trades' leverage with the
  funding paid out of or into their margin, resting LIMIT orders with their fills so far:
  :meth:`SimVenue.adopt_book`), so the venue and the kernel agree (a position's margin and its
  liquidation too);
- its prices go on from the last ones the previous run saw, which the journal keeps (meta
  ``sim_prices``, written every few seconds and at close). A new walk from the default start
  prices jumped: a take-profit filled at once, a stop was hit that the market never reached;
- a fast run's clock goes on from the later of the journal's last message and the time those
  prices were kept (meta ``sim_time``): a replay (``sim_replay``) goes on from there in its
  file, and one restarted past its file's end is refused, named;
- its random walk is drawn from the run's seed and the journal's last time, so each restart
  goes on along a new path instead of replaying the first run's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from pink.errors import ConfigError
from pink.journal import Journal, JournaledKernel
from pink.kernel.messages import ZERO, Side
from pink.runtime.config import RuntimeConfig
from pink.runtime.paper_funding import funding_held

if TYPE_CHECKING:
    from pink.venues.sim.prices import MarketConfig, ReplayFile
    from pink.venues.sim.venue import SimVenue

__all__ = ["SIM_EPOCH_NS", "SIM_PRICES", "adopt_book", "build_sim", "keep_prices"]

log = logging.getLogger(__name__)
SIM_EPOCH_NS = 1_700_000_000 * 1_000_000_000  # where a fresh simulated clock starts
SIM_PRICES = "sim_prices"  # journal meta: {symbol: last price} of the simulator, as text
SIM_TIME = "sim_time"  # journal meta: the simulator's time as those prices were kept (ns, as text)
_SECONDS_LOOK = 10**12 * 1_000_000  # ns of 10^12 ms (2001): a file of times in seconds ends before it
PAPER_HISTORY_S = 2 * 86_400  # what the paper simulator remembers of ended orders and fills


def build_sim(cfg: RuntimeConfig, journal_path: Path, now_ns: int) -> SimVenue:
    """The simulator for a paper run on the journal at ``journal_path`` (which may not exist)."""
    from pink.venues.sim.engine import MatchingEngine
    from pink.venues.sim.faults import FaultConfig
    from pink.venues.sim.instruments import default_instruments
    from pink.venues.sim.margin import LiquidationRules
    from pink.venues.sim.orders import FeeSchedule
    from pink.venues.sim.venue import SimVenue

    # a fast run starts after the journal's last message: stepping a fresh simulator from its
    # epoch to a journal a wall-clock run wrote would take for ever. A replay starts at its
    # file's first time, and a restarted one goes on from the journal's last time in it
    last = Journal.last_ts_at(journal_path)
    replays = _load_replays(cfg)  # (read once: the simulator replays these)
    epoch = min((r.span[0] for r in replays.values()), default=SIM_EPOCH_NS)
    went_on = max(last, _kept_time(journal_path))  # a quiet run's market went on past its last message
    start = max(epoch, went_on + 1) if cfg.fast else now_ns
    market = _market(cfg, replays)
    if last:
        prices = _kept_prices(journal_path)
        market = replace(market, start_prices={**market.start_prices, **prices})
        if prices:
            log.info("simulator: prices go on from the last run's (%s)",
                     ", ".join(f"{s} {p}" for s, p in sorted(prices.items())))
        else:
            log.warning("simulator: the journal kept no last prices (a run killed before it wrote "
                        "any, or an older journal); the market starts again from its default prices")
    seed = _restart_seed(cfg.seed, last)
    # this simulator lives and dies with the run (a restart builds a new one), so its history need
    # only outlast the runtime's reconcile lookback (a day): two days of it bound a long run's memory
    instruments = {s: replace(i, max_leverage=min(i.max_leverage, cfg.sim_max_leverage))
                   for s, i in default_instruments().items()}
    rules = LiquidationRules(maintenance_rate=cfg.sim_maintenance_rate, fee_rate=cfg.sim_liquidation_fee_rate,
                             maintenance_rates=dict(cfg.sim_maintenance_rates))
    fees = FeeSchedule(maker=cfg.sim_maker_fee, taker=cfg.sim_taker_fee)
    try:
        engine = MatchingEngine(instruments, seed=seed, start_ts=start, initial_balance=cfg.initial_capital,
                                fees=fees, market=market, history_s=PAPER_HISTORY_S, liquidation=rules)
    except ConfigError as exc:
        if not cfg.sim_replay or went_on < epoch:
            raise
        raise ConfigError(f"config sim_replay: {exc}; this data dir's journal goes on from its last run (a "
                          f"restarted replay goes on where it stopped): replay it again on a new data dir") from None
    faults = FaultConfig.parse(cfg.faults, seed=cfg.seed) if cfg.faults else None
    return SimVenue(engine, faults=faults, seed=seed)


def _market(cfg: RuntimeConfig, replays: dict[str, ReplayFile]) -> MarketConfig:
    from pink.venues.sim.prices import MarketConfig

    return MarketConfig(
        volatility_per_s=cfg.sim_volatility_per_s, spread_ticks=cfg.sim_spread_ticks,
        depth_levels=cfg.sim_depth_levels, level_gap_ticks=cfg.sim_level_gap_ticks,
        level_notional=cfg.sim_level_notional, resting_fill_fraction=cfg.sim_resting_fill_fraction,
        funding_rate=cfg.sim_funding_rate, replay=dict(replays),
    )


def _load_replays(cfg: RuntimeConfig) -> dict[str, ReplayFile]:
    """{symbol: its replay file, read}; a file that cannot be read, or a malformed row, stops
    the start here, before the journal opens, naming the file and the line."""
    from pink.venues.sim.prices import load_replay, utc_text

    out = {}
    for symbol, path in cfg.sim_replay:
        try:
            replay = out[symbol] = load_replay(path)
        except ConfigError as exc:
            raise ConfigError(f"config sim_replay: {symbol}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config sim_replay: {symbol}: {path}: cannot be read: {exc}") from None
        first, end = replay.span
        log.info("replay of %s: %s: %d prices from %s to %s", symbol, path, len(replay.points), utc_text(first),
                 utc_text(end))
        if end < _SECONDS_LOOK:
            log.warning("replay of %s: %s: its times end in %s: they are read as milliseconds since 1970 (times in "
                        "seconds would replay 1000 times too fast)", symbol, path, utc_text(end)[:4])
    return out


def _restart_seed(seed: int, last_ts: int) -> int:
    """The run's seed for a new journal; mixed with the journal's last time after a restart."""
    return seed if not last_ts else (seed * 1_000_003) ^ last_ts


def _kept_prices(journal_path: Path) -> dict[str, Decimal]:
    raw = Journal.meta_at(journal_path, SIM_PRICES)
    if raw is None:
        return {}
    try:
        data = json.loads(raw)
        prices = {str(s): Decimal(str(p)) for s, p in data.items()}
    except (ValueError, AttributeError, InvalidOperation) as exc:
        log.warning("simulator: the journal's last prices cannot be read (%s); default prices", exc)
        return {}
    return {s: p for s, p in prices.items() if p.is_finite() and p > 0}


def _kept_time(journal_path: Path) -> int:
    raw = Journal.meta_at(journal_path, SIM_TIME)
    return int(raw) if raw is not None and raw.isdigit() else 0


def keep_prices(venue: SimVenue, journal: Journal) -> None:
    """Keep the simulator's last prices and its time in the journal (committed with the current
    batch, or at once outside one), for the next run to go on from."""
    engine = venue.engine
    prices = {s: str(engine.quote(s).last) for s in sorted(engine.instruments)}
    journal.set_meta(SIM_PRICES, json.dumps(prices))
    journal.set_meta(SIM_TIME, str(engine.now))


def adopt_book(venue: SimVenue, jk: JournaledKernel) -> None:
    """A restarted paper run gets a new in-process simulator: give it the journal's book."""
    from pink.venues.sim.venue import Resting

    if jk.journal.seq == 0:
        return  # a fresh run: nothing to adopt
    k = jk.kernel
    views = [k.slot_view(i) for i in range(len(k.slots))]
    # each trade's position at the cost its close must release for the venue to realize what the
    # kernel books (not its quantity times its average entry, a rounded quotient): its entry
    # notional less what its exits so far took of it (their notional less the PnL booked on them)
    positions = [(t.symbol, t.side, t.remaining, t.entry_notional - t.exit_notional + t.realized * t.direction)
                 for s in k.slots if (t := s.trade) is not None and t.remaining > 0]
    resting = [Resting(o, side, (kept := k.orders[o.client_order_id]).fill_ids, kept.commission, kept.notional)
               for o in k.working_orders()
               if o.state == "WORKING" and (side := views[o.slot].side) is not None]
    # the venue holds one leverage per symbol and side: the one the latest trade's entry set
    trades = sorted((s.trade for s in k.slots if s.trade is not None), key=lambda t: t.opened_ts)
    leverage = {(t.symbol, t.side): t.leverage for t in trades}
    held: dict[tuple[str, Side], Decimal] = {}
    for symbol, side, qty, _ in positions:
        held[(symbol, side)] = held.get((symbol, side), ZERO) + qty
    funding = {}
    state = funding_held(jk.journal, k)
    for key, (qty, paid) in state.held.items():
        if key not in held or not paid:
            continue
        if qty != held[key]:
            log.warning("simulator: the journal's fills hold %s of the %s %s position, its book %s: the funding "
                        "paid out of its margin (%s) is not restored", qty, key[0], key[1].value, held[key], paid)
            continue
        funding[key] = paid
    venue.adopt_book(k.account_view().capital, positions, resting, leverage, funding)
    log.info("simulator restarted from the journal's book: %d open positions, %d resting orders (%d journal "
             "messages read for the funding they hold)", len(positions), len(resting), state.read)
