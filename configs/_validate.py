"""Typed construction of frozen dataclasses from YAML mappings.

Every settings section in :mod:`configs` is a frozen dataclass. :func:`build` turns a parsed YAML
mapping into one, checking unknown keys, required keys, types, ``Literal`` enums and nested sections,
and raises :class:`ConfigError` naming the file, the key path and the reason. Cross-field rules live in
each dataclass's ``__post_init__`` and raise ``ValueError``; :func:`build` wraps those too, so every
requirement is declared once, next to the field it concerns.

Values are converted once, here: a field typed ``timedelta`` takes a duration (``30s``, ``30m``, ``6h``,
``14d``, ``2w``; :func:`parse_duration`) and holds a ``timedelta`` from then on. A dataclass whose
allowed keys depend on another key (a rule's ``kind``) declares ``config_key_error(data)``, returning
``(key, reason)`` for the first key it does not use, or None.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from configs.times import format_duration, parse_duration

__all__ = ["ConfigError", "build", "check_minimums", "key_path", "parse_duration", "format_duration"]

T = TypeVar("T")


def check_minimums(section: object, minimums: Mapping[str, tuple[float, str]], *, prefix: str = "") -> None:
    """``__post_init__``'s lower bounds as one table: ``{field: (lowest allowed, how the message says it)}``.
    The first field below its bound raises ``ValueError("<prefix><field> must be <words>, got <value>")``."""
    for name, (lowest, words) in minimums.items():
        value = getattr(section, name)
        if value < lowest:
            raise ValueError(f"{prefix}{name} must be {words}, got {value}")


class ConfigError(ValueError):
    """A configuration file is invalid. Carries the file, the key path and the reason."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        self.file = file
        self.key = key
        self.reason = reason
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {reason}")


def key_path(parent: str, child: str | int) -> str:
    if isinstance(child, int):
        return f"{parent}[{child}]"
    return f"{parent}.{child}" if parent else str(child)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if origin in (dict, Mapping):
        return "a mapping"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            timedelta: "a duration like 30m, 6h or 14d"}.get(tp, getattr(tp, "__name__", str(tp)))


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) else type(value).__name__


def _convert(tp: Any, value: Any, file: str, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, file, path)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(file, path, f"expected {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(file, path, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(file, path, f"expected {_type_name(tp)}, got {_describe(value)}")
        (item_tp, *_rest) = get_args(tp) or (Any,)
        items = [_convert(item_tp, v, file, key_path(path, i)) for i, v in enumerate(value)]
        return tuple(items)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(file, path, f"expected a mapping, got {_describe(value)}")
        args = get_args(tp)
        val_tp = args[1] if len(args) == 2 else Any
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(file, path, f"keys must be strings, got {k!r}")
            out[k] = _convert(val_tp, v, file, key_path(path, k))
        return types.MappingProxyType(out)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build(tp, value, file=file, path=path)
    if tp is timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ConfigError(file, path, str(exc)) from None
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, path, f"expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, path, f"expected an integer, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, path, f"expected a number, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(file, path, f"expected a string, got {_describe(value)}")
        return value
    raise TypeError(f"unsupported settings type {tp!r} at {path}")


def build(cls: type[T], data: Any, *, file: str, path: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; raise :class:`ConfigError` naming ``file`` and the key."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(file, path, f"expected a mapping, got {_describe(data)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    aliases = {f.metadata.get("yaml", f.name): f.name for f in fields.values()}
    unknown = [k for k in data if k not in aliases]
    if unknown:
        known = ", ".join(sorted(aliases))
        raise ConfigError(file, key_path(path, str(unknown[0])), f"unknown key (known keys: {known})")
    key_error = getattr(cls, "config_key_error", None)
    problem = key_error(data) if callable(key_error) else None
    if problem is not None:
        raise ConfigError(file, key_path(path, problem[0]), problem[1])
    kwargs: dict[str, Any] = {}
    for yaml_key, name in aliases.items():
        field = fields[name]
        if yaml_key not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(file, key_path(path, yaml_key), "required key is missing")
            continue
        kwargs[name] = _convert(hints[name], data[yaml_key], file, key_path(path, yaml_key))
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(file, path or "(top level)", str(exc)) from exc
