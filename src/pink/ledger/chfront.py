"""ClickHouse-HTTP front over chDB, for tests and chaos runs (not a ClickHouse server).

No modern ClickHouse server can be installed on the project's machines
(INFRA.md), so the ledger's server code path is exercised against this: a
small HTTP server on 127.0.0.1 that speaks enough of ClickHouse's HTTP
interface (``/ping``; ``query`` and ``database`` parameters; query in the
body or data in the body; Native inserts; errors as HTTP 500 with the
exception text) for the real clickhouse-connect HTTP client, executing
everything on a chDB session over its own directory. Run it as a separate
process (chDB allows one database path per process)::

    python -m pink.ledger.chfront DATA_DIR PORT   # prints "ready <port>" when listening

``tests/ledger/chfront.py`` and ``pink chaos`` (:mod:`pink.chaos.harness`) run it.
"""

from __future__ import annotations

import gzip
import os
import re
import sys
import tempfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import chdb

__all__ = ["serve"]

_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*$", re.IGNORECASE | re.DOTALL)
_ENGINE_LOCK = threading.Lock()


def _error_code(message: str) -> str:
    match = re.search(r"Code: (\d+)", message)
    return match.group(1) if match else "1000"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    conn: chdb.Connection  # set by serve()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self._handle(body)

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _reply(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _handle(self, body: bytes) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        query = params.get("query")
        if url.path == "/ping" or (query is None and not body):
            self._reply(200, b"Ok.\n", {"Content-Type": "text/plain"})
            return
        binds = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        try:
            with _ENGINE_LOCK:
                if params.get("database"):
                    self.conn.query(f"USE `{params['database']}`", "TabSeparated")
                payload, fmt = self._execute(query, body, binds, params)
        except Exception as exc:
            message = str(exc).encode()
            self._reply(500, message, {"X-ClickHouse-Exception-Code": _error_code(str(exc))})
            return
        self._reply(200, payload, {
            "Content-Type": "application/octet-stream",
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Summary": "{}",
            "X-ClickHouse-Query-Id": params.get("query_id", ""),
        })

    def _execute(
        self, query: str | None, body: bytes, binds: dict[str, str], params: dict[str, str]
    ) -> tuple[bytes, str]:
        if query is None and body[:6].upper() == b"INSERT":  # query line, then the data
            line, _, body = body.partition(b"\n")
            query = line.decode()
        if query is not None and body:  # INSERT ... FORMAT X with the data in the body
            match = _FORMAT.search(query)
            if not match:
                raise ValueError("Code: 62. insert with a body needs a FORMAT clause")
            fd, path = tempfile.mkstemp(suffix=".data")
            try:
                with os.fdopen(fd, "wb") as data:
                    data.write(body)
                sql = f"{query[: match.start()]} FROM INFILE '{path}' FORMAT {match.group(1)}"
                self.conn.query(sql, "TabSeparated")
            finally:
                os.unlink(path)
            return b"", match.group(1)
        sql = query if query is not None else body.decode()
        match = _FORMAT.search(sql)
        fmt = match.group(1) if match else params.get("default_format", "TabSeparated")
        result = self.conn.query(sql, fmt, params=binds)
        return (result.bytes() if result is not None else b""), fmt


def serve(directory: str, port: int) -> None:
    _Handler.conn = chdb.connect(directory)  # type: ignore[no-untyped-call]
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    print(f"ready {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        _Handler.conn.close()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
