"""HTTP helpers shared by the simulator's route modules: app keys, envelopes, params."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pink.venues.bingx.server_wire import encode

if TYPE_CHECKING:
    from pink.venues.bingx.server_faults import ServerFaults
    from pink.venues.bingx.server_state import SimState
    from pink.venues.bingx.server_ws import UserStreams

__all__ = [
    "FAULTS",
    "PARAMS",
    "STATE",
    "USER_STREAMS",
    "BadParam",
    "fail",
    "json_response",
    "ok",
    "param",
    "param_decimal",
    "param_int",
    "param_limit",
    "params_of",
]

STATE: web.AppKey[SimState] = web.AppKey("pink_sim_state")
FAULTS: web.AppKey[ServerFaults] = web.AppKey("pink_sim_faults")
USER_STREAMS: web.AppKey[UserStreams] = web.AppKey("pink_sim_user_streams")
#: request key under which the auth middleware stores the gathered params
PARAMS: web.RequestKey[dict[str, str]] = web.RequestKey("pink_params", dict[str, str])


class BadParam(Exception):
    """A missing or malformed parameter; answered with 80014 / 109400."""

    def __init__(self, msg: str, code: int = 80014) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def json_response(obj: object, status: int = 200) -> web.Response:
    return web.Response(body=encode(obj), status=status, content_type="application/json")


def ok(data: Any, **extra: Any) -> web.Response:
    return json_response({"code": 0, "msg": "", **extra, "data": data})


def fail(request: web.Request, code: int, msg: str, status: int = 200) -> web.Response:
    now = request.app[STATE].wall_ms()
    return json_response({"code": code, "msg": msg, "timestamp": now}, status)


def params_of(request: web.Request) -> dict[str, str]:
    params = request.get(PARAMS)
    if params is None:
        return dict(request.query)
    return dict(params)


def param(request: web.Request, name: str, *alts: str, required: bool = False) -> str:
    params = params_of(request)
    for key in (name, *alts):
        value = params.get(key)
        if value not in (None, ""):
            return str(value)
    if required:
        raise BadParam(f"Invalid parameters, {name}: This field is required.")
    return ""


def param_int(request: web.Request, name: str, default: int = 0) -> int:
    """A whole number ``>= 0`` (a time in ms, an id); ``default`` when absent. Anything else is
    refused (109400, naming the field), never answered with a bare HTTP 500."""
    text = param(request, name)
    if not text:
        return default
    if not text.isascii() or not text.isdigit():
        raise BadParam(f"Invalid parameters, {name}: {text!r} is not a whole number >= 0", 109400)
    return int(text)


def param_limit(request: web.Request, default: int, maximum: int) -> int:
    """``limit``: at least 1 (a negative one used to list everything), at most ``maximum``."""
    text = param(request, "limit")
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise BadParam(f"Invalid parameters, limit: {text!r} must be a whole number from 1 to {maximum}", 109400)
    return min(int(text), maximum)


def param_decimal(request: web.Request, name: str, *, required: bool = False) -> Decimal | None:
    text = param(request, name, required=required)
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadParam(f"Invalid parameters, {name}: {text!r} is not a number") from None
    if not value.is_finite():
        raise BadParam(f"Invalid parameters, {name}: {text!r} is not a number")
    return value
