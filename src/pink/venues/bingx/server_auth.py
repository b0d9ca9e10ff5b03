"""Request authentication and rate limiting of the BingX simulator server.

BingX signs ``k1=v1&k2=v2...`` (every parameter sent except ``signature``)
with HMAC-SHA256 under the secret key, lowercase hex. Clients differ in
what exactly they sign (REFERENCE.md §1.2, §10), so the server accepts a
signature that matches any of the strings a real client may have signed:

* the raw query string (and/or the raw form body) with ``signature``
  removed, in received order; query and body joined with no ``&`` (vector 2)
  or with one;
* the same pairs URL-decoded, in received order and sorted a–z;
* for a JSON body, the a–z sorted ``k=v`` of its non-signature fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

__all__ = [
    "AuthFailure",
    "RateLimiter",
    "SignedRequest",
    "candidate_strings",
    "check_timestamp",
    "parse_pairs",
    "sign",
    "verify_signature",
]


def sign(secret_key: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` under ``secret_key``."""
    return hmac.new(secret_key.encode(), payload.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a request was refused: a BingX code and message, and the HTTP status."""

    code: int
    msg: str
    http_status: int = 200


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` (``a=1&signature=x&b=2``) without its signature part, and the signature."""
    kept: list[str] = []
    sig: str | None = None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            sig = unquote_plus(part[len("signature=") :])
        elif part:
            kept.append(part)
    return "&".join(kept), sig


def parse_pairs(raw: str) -> list[tuple[str, str]]:
    """URL-decoded ``(key, value)`` pairs of a query string or form body, in order."""
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&") if raw else []:
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def _json_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


@dataclass(slots=True)
class SignedRequest:
    """What the server received: raw query, raw form body, parsed JSON body."""

    raw_query: str = ""
    raw_form: str = ""
    json_body: Mapping[str, object] | None = None
    params: dict[str, str] = field(default_factory=dict)
    signature: str | None = None

    @classmethod
    def build(
        cls, raw_query: str, raw_form: str, json_body: Mapping[str, object] | None
    ) -> SignedRequest:
        """Gather params (query wins over body, S2) and find the signature."""
        params: dict[str, str] = {}
        signature: str | None = None
        if json_body is not None:
            for key, value in json_body.items():
                if key == "signature":
                    signature = _json_scalar(value)
                else:
                    params[key] = _json_scalar(value)
        for source in (raw_form, raw_query):
            for key, value in parse_pairs(source):
                if key == "signature":
                    signature = value
                else:
                    params[key] = value
        return cls(raw_query, raw_form, json_body, params, signature)


def candidate_strings(req: SignedRequest) -> list[str]:
    """Every string a legitimate client may have signed for this request."""
    query, _ = _strip_signature(req.raw_query)
    form, _ = _strip_signature(req.raw_form)
    out: list[str] = []
    if query and form:
        out += [query + form, query + "&" + form, form + query, form + "&" + query]
    elif query or form:
        out.append(query or form)
    decoded = parse_pairs(query) + parse_pairs(form)
    if decoded:
        out.append("&".join(f"{k}={v}" for k, v in decoded))
        out.append("&".join(f"{k}={v}" for k, v in sorted(decoded)))
    if req.json_body is not None:
        items = sorted(
            (k, _json_scalar(v)) for k, v in req.json_body.items() if k != "signature"
        )
        items += sorted(decoded)
        out.append("&".join(f"{k}={v}" for k, v in sorted(items)))
    if not out:
        out.append("")
    return list(dict.fromkeys(out))


def verify_signature(secret_key: str, req: SignedRequest) -> AuthFailure | None:
    """None when the signature matches one candidate string, else BingX's refusal."""
    if not req.signature:
        return AuthFailure(100412, "Null signature")
    given = req.signature.lower()
    for candidate in candidate_strings(req):
        if hmac.compare_digest(sign(secret_key, candidate), given):
            return None
    return AuthFailure(
        100001,
        "Signature verification failed due to signature mismatch,please verify our "
        "authentication signature and try to  run our sample code  from the link "
        "https://bingx-api.github.io/docs/#/en-us/spot/account-api.html#Query%20Assets",
    )


def check_timestamp(params: Mapping[str, str], now_ms: int) -> AuthFailure | None:
    """``timestamp`` must be within ``recvWindow`` (default 5000 ms) of the server clock."""
    raw_ts = params.get("timestamp", "")
    try:
        ts = int(raw_ts)
        window = int(params.get("recvWindow") or 5000)
    except ValueError:
        return AuthFailure(100421, "timestamp mismatch")
    if window <= 0:
        window = 5000
    if abs(now_ms - ts) > window:
        return AuthFailure(
            100421,
            f"timestamp mismatch, server time {now_ms}, request timestamp {ts}, "
            f"recvWindow {window}",
        )
    return None


# -------------------------------------------------------------- rate limits

#: Per-UID limits per (method, path) in requests per second (REFERENCE §7).
_TWO_PER_S = frozenset(
    {
        "/openApi/swap/v1/positionSide/dual",
        "/openApi/swap/v2/trade/marginType",
        "/openApi/swap/v2/trade/cancelAllAfter",
    }
)
#: Public market-data paths: IP group 1, 500 requests / 10 s for the group.
_GROUP1_LIMIT = (500, 10.0)


class RateLimiter:
    """Sliding-window counters: 5/s (2/s for a few) per private endpoint, group 1 for public."""

    def __init__(
        self, *, enabled: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.enabled = enabled
        self._windows: dict[str, deque[float]] = {}
        self._clock = clock

    def _hit(self, key: str, limit: int, period: float) -> bool:
        now = self._clock()
        window = self._windows.setdefault(key, deque())
        while window and now - window[0] >= period:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True

    def allow(self, method: str, path: str, *, public: bool) -> bool:
        """True when the request may proceed (and is counted)."""
        if not self.enabled:
            return True
        if public:
            return self._hit("group1", _GROUP1_LIMIT[0], _GROUP1_LIMIT[1])
        limit = 2 if path in _TWO_PER_S else 5
        return self._hit(f"{method} {path}", limit, 1.0)
