"""``pink run --policy MODULE:NAME``: find a trader's policy and make its engines.

``MODULE`` is a dotted module importable from the current directory (``mypolicies.dip``) or
the path of a ``.py`` file (``./dip.py``, whose directory is put on the import path, as
``python dip.py`` would). ``NAME`` is a decision engine class, or a zero-argument factory
returning a decision engine or a ``(decision engine, intent engine)`` pair; the intent
engine is a :class:`~pink.policy.base.MarginSizer` unless given. What does not fit is a
:class:`~pink.errors.ConfigError` naming it, before anything starts.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType

from pink.errors import ConfigError
from pink.policy.base import DecisionEngine, IntentEngine, MarginSizer

__all__ = ["load_policy"]


def load_policy(spec: str) -> tuple[DecisionEngine, IntentEngine]:
    """The engines ``spec`` (``MODULE:NAME``) names; see the module docstring."""
    where, colon, name = spec.strip().rpartition(":")
    if not colon or not where or not name.isidentifier():
        raise ConfigError(f"policy {spec!r}: give MODULE:NAME, e.g. dip.py:DipBuyer or mypolicies.dip:DipBuyer")
    module = _module(spec, where)
    if not hasattr(module, name):
        near = difflib.get_close_matches(name, [n for n in vars(module) if not n.startswith("_")], n=1)
        raise ConfigError(f"policy {spec}: {where} has no {name}" + (f" ({near[0]}?)" if near else ""))
    factory = getattr(module, name)
    if not callable(factory):
        kind = "a decision engine object" if _decides(factory) else f"of type {type(factory).__name__}"
        raise ConfigError(f"policy {spec}: {name} is {kind}, not a class or a zero-argument factory")
    if inspect.iscoroutinefunction(factory):
        raise ConfigError(f"policy {spec}: {name} is async (async def): give a class or a plain function")
    try:
        made = factory()
    except Exception as exc:
        raise ConfigError(f"policy {spec}: {name}() failed: {type(exc).__name__}: {exc}") from None
    decision, intents = made if isinstance(made, tuple) and len(made) == 2 else (made, MarginSizer())
    if not _decides(decision):
        raise ConfigError(f"policy {spec}: {name}() gave a {type(decision).__name__}, not a decision engine "
                          f"(an object with a decide(snapshot) method) or a (decision, intents) pair")
    if not callable(getattr(intents, "plan", None)):
        raise ConfigError(f"policy {spec}: {name}() gave a {type(intents).__name__} as its intent engine: "
                          f"it has no plan(decisions, snapshot) method")
    for engine, method, returns in ((decision, "decide", "decide(snapshot)"), (intents, "plan", "plan(...)")):
        if inspect.iscoroutinefunction(getattr(engine, method)):
            raise ConfigError(f"policy {spec}: {name}().{method} is async (async def): the runtime calls "
                              f"{returns} and uses the list it returns")
    return decision, intents


def _decides(obj: object) -> bool:
    return not isinstance(obj, type) and callable(getattr(obj, "decide", None))


def _module(spec: str, where: str) -> ModuleType:
    if where.endswith(".py") or os.sep in where or "/" in where:
        return _from_file(spec, Path(where))
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would (the `pink` script does not)
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (where == exc.name or where.startswith(f"{exc.name}.")):
            raise ConfigError(f"policy {spec}: no module {where} (from the current directory "
                              f"{os.getcwd()}; a file is given by its path, e.g. ./{where}.py)") from None
        raise ConfigError(f"policy {spec}: importing {where} failed: {type(exc).__name__}: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"policy {spec}: importing {where} failed: {type(exc).__name__}: {exc}") from None


def _from_file(spec: str, path: Path) -> ModuleType:
    if not path.is_file():
        raise ConfigError(f"policy {spec}: no file {path}")
    name = f"pink_policy_{path.stem}" if path.stem.isidentifier() else "pink_policy"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ConfigError(f"policy {spec}: {path} cannot be imported (a .py file is)")
    module = importlib.util.module_from_spec(loader_spec)
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # its own helper modules import as they would from `python FILE`
    sys.modules[name] = module  # (dataclasses and pickling look a class's module up there)
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(f"policy {spec}: importing {path} failed: {type(exc).__name__}: {exc}") from None
    return module
