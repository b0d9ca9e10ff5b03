"""Which journal a run may go on with: the journaled kernel opened and held to what made it.

A journal's trades were made on one venue account, under one account and runtime id, in one
position mode, with one number of slots, starting capital and settlement asset: a run that
differs in any of them is refused before anything is booked, naming both values and what to do
(:class:`~pink.errors.StartupError`), and the journal is left as it was. A journal that passes
keeps this run's identity (one from before a key was recorded takes it) and adopts the venue's
instrument rules as listed now.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from pink.errors import StartupError
from pink.journal import Journal, JournaledKernel
from pink.kernel import Instrument, KernelConfig
from pink.ports import Venue
from pink.runtime.config import RuntimeConfig

__all__ = ["book_since", "default_account_id", "open_journal", "venue_identity"]

log = logging.getLogger("pink.runtime.launcher")  # (where a trader's log filters already look)

_VENUE = "venue"  # journal meta: the venue the journal's trades were made on (venue_identity)
_VENUE_ACCOUNT = "venue_account"  # journal meta: the venue's id of the account (keys may rotate, it stays)
_BOOK_SINCE = "book_since_ns"  # journal meta: when its book began (book_since)


def venue_identity(venue: Venue) -> str:
    """What tells one venue account from another: ``sim``, or ``bingx <REST host>`` (the host tells
    the VST demo from live trading, and both from a simulator server)."""
    base = getattr(getattr(venue, "config", None), "base_url", "")
    host = urlsplit(base).hostname if isinstance(base, str) and base else None
    return f"{venue.name} {host}" if host else venue.name


def default_account_id(venue: Venue) -> str:
    """The account's name for a new journal when ``account_id`` is not set: ``paper`` on the
    simulator; on BingX ``bingx-vst`` or ``bingx-live`` (``bingx-HOST`` on another host, a
    simulator server's say): a real account's journal and ledger rows are not labelled paper."""
    if venue.name == "sim":
        return "paper"
    base = getattr(getattr(venue, "config", None), "base_url", "")
    host = urlsplit(base).hostname if isinstance(base, str) and base else None
    if host is None:
        return venue.name
    from pink.venues.bingx.config import PRESETS  # (the only venue with hosts, loaded when it runs)

    return f"{venue.name}-{next((n for n, urls in PRESETS.items() if urlsplit(urls[0]).hostname == host), host)}"


def _refuse(jk: JournaledKernel, why: str) -> NoReturn:
    """Refuse a journal this run must not continue, leaving it as it was (no snapshot written)."""
    jk.journal.close()
    raise StartupError(f"journal ({jk.journal.path})", why)


def open_journal(cfg: RuntimeConfig, venue: Venue, venue_account: str, data: Path,
                 instruments: dict[str, Instrument], backends: dict[str, str],
                 ack_timeout_ns: int | None = None) -> JournaledKernel:
    """The journaled kernel of ``data``'s journal (a new one: from ``cfg``; ``ack_timeout_ns``: the
    kernel's deadlines, shortened by chaos trials), once it has been found to be this run's
    (``venue_account``: the venue's id of the account its keys open, "" if none)."""
    account = cfg.account_id or default_account_id(venue)  # (a new journal's; unset, a kept one's stays)
    kcfg = KernelConfig(slots=cfg.slots, initial_capital=cfg.initial_capital, account_id=account,
                        settle_asset=cfg.settle_asset, hedge_mode=venue.hedge_mode is not False)
    if ack_timeout_ns is not None:
        kcfg = replace(kcfg, ack_timeout_ns=ack_timeout_ns, max_query_backoff_ns=4 * ack_timeout_ns)
    path = data / "journal.sqlite"
    try:
        jk = JournaledKernel.open(path, kcfg, instruments, durability=cfg.journal_sync, adopt=False)
    except Exception as exc:
        raise StartupError(f"journal ({path})", f"{type(exc).__name__}: {exc}") from exc
    backends["journal"] = f"sqlite {path}"
    made = jk.kernel.config  # what the journal was created with: its trades depend on it
    if not cfg.account_id:  # unset: the name the journal's trades were booked under, whatever the default
        account = jk.journal.meta("account_id") or made.account_id
    ours = {_VENUE: venue_identity(venue), "account_id": account, "runtime_id": cfg.runtime_id}
    if (known := jk.journal.meta(_VENUE)) not in (None, ours[_VENUE]):  # (a simulator would adopt a live book)
        _refuse(jk, f"it was made on venue {known!r}, but this run is on {ours[_VENUE]!r}; run on {known!r} "
                    "or use a new data dir")
    for key in ("account_id", "runtime_id"):
        if (known := jk.journal.meta(key)) not in (None, ours[key]):
            _refuse(jk, f"it belongs to {key} {known!r}, not {ours[key]!r}; run with {key} = \"{known}\" "
                        f"(PINK_{key.upper()}) or use a new data dir")
    if venue_account:  # the venue's own id of the account the keys open (BingX: the user id)
        ours[_VENUE_ACCOUNT] = venue_account
        if (known := jk.journal.meta(_VENUE_ACCOUNT)) not in (None, venue_account):
            _refuse(jk, f"its trades were made on the venue's account {known}, but this run's API keys open "
                        f"account {venue_account}; use the keys of account {known}, or a new data dir "
                        "for the other account")
    if made.hedge_mode != kcfg.hedge_mode:
        mode = "hedge" if kcfg.hedge_mode else "one-way"
        _refuse(jk, f"the venue account is now in {mode} position mode, but the journal's trades were made in "
                    "the other mode; switch the account back or use a new data dir")
    for name, theirs, mine in (("slots", made.slots, kcfg.slots),
                               ("initial_capital", made.initial_capital, kcfg.initial_capital),
                               ("settle_asset", made.settle_asset, kcfg.settle_asset)):
        if theirs != mine:
            _refuse(jk, f"it was created with {name} = {theirs}, but this run asks for {mine}; run with "
                        f"{name} = {theirs} or use a new data dir")
    for key, value in ours.items():  # a journal from before a key was recorded takes this run's
        jk.journal.set_meta(key, value)
    if adopted := jk.adopt_instruments(instruments):
        log.info("journal: the venue's rules adopted for %s", ", ".join(adopted))
    return jk


def book_since(journal: Journal, last: int, now: int) -> int:
    """When this journal's book began (kept in it from its first start): the money the venue
    moved before is in ``initial_capital`` already, never booked again. 0: a journal that booked
    before this was kept (it is looked for as it always was). ``last``: the time of its last
    message (0: a new journal, whose book begins ``now``)."""
    if (kept := journal.meta(_BOOK_SINCE)) is not None:
        return int(kept)
    since = 0 if last else now
    journal.set_meta(_BOOK_SINCE, str(since))
    return since
