"""Which (account_id, runtime_id) stream a per-stream view of the ledger shows.

One ledger can hold several streams: several accounts, or runs of one account
restarted under a new runtime_id. Their sequences, capitals and trades are
separate, so figures are only ever computed within one stream. Left to
choose, the stream written last is shown: the latest wall-clock time the
runtime wrote its watermark for it, or for a stream without one its latest
event time, whichever is later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pink.errors import ConfigError
from pink.ledger.rows import Row

__all__ = ["Stream", "StreamChoice", "choose_stream", "last_written"]

Stream = tuple[str, str]  # (account_id, runtime_id)


@dataclass(frozen=True, slots=True)
class StreamChoice:
    stream: Stream | None  # None: the ledger holds no stream to show
    others: tuple[Stream, ...]  # every other stream of the ledger, in a stable order
    among: int  # how many streams matched the request (more than one: the last written won)


def last_written(rows: Iterable[Row], watermarks: Mapping[Stream, int]) -> dict[Stream, int]:
    """Per stream having ``rows``: the later of its latest row ``ts`` and its watermark time."""
    out: dict[Stream, int] = {}
    for row in rows:
        key = (row["account_id"], row["runtime_id"])
        out[key] = max(out.get(key, row["ts"]), row["ts"])
    return {key: max(ts, watermarks.get(key, ts)) for key, ts in out.items()}


def choose_stream(
    written: Mapping[Stream, int], account: str | None = None, runtime: str | None = None
) -> StreamChoice:
    """The stream written last among those matching ``account`` / ``runtime`` (None: any)."""
    matching = [s for s in written
                if (account is None or s[0] == account) and (runtime is None or s[1] == runtime)]
    if not matching:
        if not written:
            return StreamChoice(None, (), 0)
        asked = f"{account or '*'}/{runtime or '*'}"
        held = ", ".join(f"{a}/{r}" for a, r in sorted(written))
        raise ConfigError(f"the ledger holds no stream {asked} (account/runtime); it holds: {held}")
    stream = max(matching, key=lambda s: (written[s], s))
    return StreamChoice(stream, tuple(sorted(s for s in written if s != stream)), len(matching))
