"""ClickHouse-HTTP front over chDB, for tests: the code lives in :mod:`pink.ledger.chfront`.

``pink chaos`` needs it at run time too, so it moved into the package; this
file stays so that ``python chfront.py DATA_DIR PORT`` keeps working.
"""

from __future__ import annotations

import sys

from pink.ledger.chfront import serve

__all__ = ["serve"]

if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
