"""Build typed, frozen settings dataclasses from TOML tables, naming any bad key.

Hand-written rather than pydantic: the settings are a handful of flat dataclasses, and this
keeps error messages in our own ``file: key: expected ...`` form with no extra dependency.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from ..errors import ConfigError

T = TypeVar("T")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
"""What a ``*_env`` key may hold: the NAME of an environment variable, never its value."""


class Ctx(typing.NamedTuple):
    """Where a value sits: the file and the dotted key, plus the directory paths resolve from."""

    file: Path
    key: str
    base: Path

    def sub(self, name: str | int) -> Ctx:
        key = f"{self.key}[{name}]" if isinstance(name, int) else f"{self.key}.{name}"
        return self._replace(key=key.lstrip("."))

    def error(self, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{self.key}: {message}", subject=str(self.file), hint=hint)


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in get_args(tp) if a is not type(None))
    if origin is tuple:
        return f"a list of {_describe(get_args(tp)[0])}"
    if origin is dict:
        return f"a table of {_describe(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if tp is Path:
        return "a path string"
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def convert(tp: Any, value: Any, ctx: Ctx) -> Any:
    """Check ``value`` against type ``tp`` and convert it, or raise a ConfigError."""
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in get_args(tp) if a is not type(None)]
        errors: list[ConfigError] = []
        for option in options:
            try:
                return convert(option, value, ctx)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise ctx.error(f"expected {_describe(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            raise ctx.error(f"expected {_describe(tp)}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ctx.error(f"expected {_describe(tp)}, got {type(value).__name__}")
        key_t, value_t = get_args(tp)
        return {convert(key_t, k, ctx): convert(value_t, v, ctx.sub(k)) for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list):
            raise ctx.error(f"expected {_describe(tp)}, got {type(value).__name__}")
        item = get_args(tp)[0]
        return tuple(convert(item, v, ctx.sub(i)) for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ctx.error(f"expected a table, got {type(value).__name__}")
        return build(typing.cast(type[Any], tp), value, ctx)
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise ctx.error(f"expected a path string, got {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (ctx.base / path).resolve()
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, bool):
        raise ctx.error(f"expected an integer, got {value!r}")
    if tp is Any or isinstance(value, tp):
        return value
    raise ctx.error(f"expected {_describe(tp)}, got {type(value).__name__} {value!r}")


def build(cls: type[T], table: dict[str, Any], ctx: Ctx) -> T:
    """Build dataclass ``cls`` from ``table``, rejecting unknown keys by name."""
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(table) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields))
        raise ctx.sub(unknown[0]).error("unknown key", hint=f"known keys here: {known}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in table:
            if name.endswith("_env"):
                _check_env_name(table[name], ctx.sub(name))
            kwargs[name] = convert(hints[name], table[name], ctx.sub(name))
        elif isinstance(f.default, Path) and not f.default.is_absolute():
            kwargs[name] = (ctx.base / f.default).resolve()
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ctx.sub(name).error(f"missing required key (expected {_describe(hints[name])})")
    try:
        obj = cls(**kwargs)
    except ValueError as exc:
        raise ctx.error(str(exc)) from None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:
            raise ctx.error(str(exc)) from None
    return obj


def _check_env_name(value: Any, ctx: Ctx) -> None:
    """Refuse anything but an environment variable's name, without echoing it: a secret pasted
    here by mistake must not end up in a terminal, a log or a CI transcript."""
    if value is None or (isinstance(value, str) and ENV_NAME.fullmatch(value)):
        return
    raise ctx.error(
        "must be the NAME of an environment variable (A-Z, 0-9 and _, not starting with a "
        "digit), not its value; the value given is not shown",
        hint="put the secret in the environment and its variable's name here",
    )
