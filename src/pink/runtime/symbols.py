"""Which symbols a run quotes and shows its policy (config ``symbols``).

Each quoted symbol costs a market-stream subscription and, on BingX, a funding read as it is
first quoted: a run quoting every contract BingX lists (hundreds) would overrun the venue's
limits on subscriptions per connection and per second before its first cycle. So a run quotes
the symbols it is given; left unset, every symbol of a venue listing a few (the simulator's
three), and on a venue listing more it is refused, naming the setting. The kernel still knows
every instrument the venue lists (a fill on any of them is booked), and a symbol an open trade
holds is quoted whatever the setting (its exits need prices).
"""

from __future__ import annotations

from collections.abc import Mapping

from pink.errors import StartupError
from pink.kernel import Instrument
from pink.runtime.config import RuntimeConfig

__all__ = ["MAX_DEFAULT_SYMBOLS", "quoted_symbols"]

MAX_DEFAULT_SYMBOLS = 20  # the most symbols an unset ``symbols`` quotes: all a venue lists, up to this


def quoted_symbols(cfg: RuntimeConfig, instruments: Mapping[str, Instrument], venue: str) -> tuple[str, ...]:
    """The symbols ``cfg`` asks for, each listed by the venue; unset, all the venue lists when
    they are few. Refused (naming the symbols or the count) before anything is made."""
    if cfg.symbols:
        unknown = [s for s in cfg.symbols if s not in instruments]
        if unknown:
            shown = ", ".join(sorted(instruments)[:MAX_DEFAULT_SYMBOLS])
            more = f", ... ({len(instruments)} in all)" if len(instruments) > MAX_DEFAULT_SYMBOLS else ""
            raise StartupError(f"venue ({venue})", f"config symbols: the venue lists no {', '.join(unknown)} "
                               f"(it lists {shown}{more})")
        return cfg.symbols
    if len(instruments) > MAX_DEFAULT_SYMBOLS:
        raise StartupError(f"venue ({venue})", f"it lists {len(instruments)} symbols: quoting them all would overrun "
                           f"its market-stream limits; set the ones this run trades: symbols = [\"BTC-USDT\", "
                           f"\"ETH-USDT\"] in the config file, or PINK_SYMBOLS=BTC-USDT,ETH-USDT")
    return tuple(sorted(instruments))
