"""Where a run's log goes: ``<data dir>/pink.log`` (PINK at INFO, everything else at WARNING, with
times; rotated at 10 MB, five kept) and, from WARNING up, the terminal, through the same rich
console as the live view so that neither garbles the other."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from logging.handlers import RotatingFileHandler
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

__all__ = ["LOG_FILE", "RunConsole", "run_logging"]

log = logging.getLogger(__name__)

LOG_FILE = "pink.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RunConsole(Console):
    """The run's terminal, which a closed pipe (``pink run | head``, a ``tee`` that ended) does not
    stop: rich's own ends the process at the next write (SystemExit from inside the kernel's task:
    no close, no final snapshot). What would have been written is dropped; the log file keeps it."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # (Python's own flush at exit must not fail either)
        os.close(devnull)
        log.warning("terminal output closed (its reader ended): the run goes on, its output dropped; "
                    "this log file keeps what it logs")


@contextmanager
def run_logging(data_dir: Path, console: Console) -> Iterator[Path]:
    """Log to the data dir (created if need be) and the terminal while the block runs."""
    from pink.runtime.datadir import make_data_dir

    path = make_data_dir(data_dir) / LOG_FILE
    to_file = RotatingFileHandler(path, maxBytes=10 * 2**20, backupCount=5, encoding="utf-8")
    to_file.setFormatter(logging.Formatter(_FORMAT))
    to_term = RichHandler(console=console, level=logging.WARNING, show_path=False, markup=False)
    root, pink = logging.getLogger(), logging.getLogger("pink")
    levels = root.level, pink.level
    root.setLevel(logging.WARNING)
    pink.setLevel(logging.INFO)
    root.addHandler(to_file)
    root.addHandler(to_term)
    try:
        yield path
    finally:
        root.removeHandler(to_file)
        root.removeHandler(to_term)
        to_file.close()
        root.setLevel(levels[0])
        pink.setLevel(levels[1])
