"""Read ``config.toml`` into the one typed, frozen ``Settings`` object, naming any bad key."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..plugins.load import installed
from ..plugins.registry import Registry
from .schema import Ctx, build
from .settings import (
    ARRAYS,
    TABLES,
    AuthorSettings,
    DatabaseSettings,
    DeliverySettings,
    ListSettings,
    Settings,
    SourceSettings,
)

DEFAULT_CONFIG = Path("config.toml")
CONFIG_ENV = "DIGEST_CONFIG"


def resolve_config_path(path: str | Path | None = None) -> Path:
    """The config file to use: ``path``, else ``$DIGEST_CONFIG``, else ``./config.toml``."""
    chosen = path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG
    return Path(chosen).expanduser().resolve()


def load_settings(path: str | Path | None = None, registry: Registry | None = None) -> Settings:
    """Read, validate and return the settings in ``path``.

    Source types and backends come from ``registry``, by default the process's installed plugins
    (loaded on this first call, see ``digest.plugins.load.installed``).
    """
    file = resolve_config_path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            "config file not found",
            subject=str(file),
            hint=f"pass --config PATH or set {CONFIG_ENV}",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", subject=str(file)) from None
    return settings_from_dict(raw, file, registry or installed())


def settings_from_dict(
    raw: dict[str, Any], file: Path, registry: Registry | None = None
) -> Settings:
    """Validate an already-parsed TOML document that was read from ``file``."""
    registry = registry or installed()
    root = Ctx(file=file, key="", base=file.parent)
    unknown = sorted(set(raw) - set(TABLES) - ARRAYS)
    if unknown:
        known = ", ".join(sorted(set(TABLES) | ARRAYS))
        raise root.sub(unknown[0]).error("unknown section", hint=f"known sections: {known}")
    parts: dict[str, Any] = {
        name: build(cls, _table(raw, name, root), root.sub(name)) for name, cls in TABLES.items()
    }
    lists = tuple(
        build(ListSettings, t, root.sub("lists").sub(i))
        for i, t in enumerate(_array(raw, "lists", root))
    )
    _unique([lst.name for lst in lists], root.sub("lists"), "list")
    authors = tuple(
        build(AuthorSettings, t, root.sub("authors").sub(i))
        for i, t in enumerate(_array(raw, "authors", root))
    )
    sources = tuple(
        _source(t, root.sub("sources").sub(i), registry)
        for i, t in enumerate(_array(raw, "sources", root))
    )
    _unique([s.name for s in sources], root.sub("sources"), "source")
    return Settings(
        path=file,
        sources=sources,
        lists=lists,
        authors=authors,
        delivery=_delivery(_table(raw, "delivery", root), root.sub("delivery"), registry),
        database=_database(parts["database"], file.parent),
        **{k: v for k, v in parts.items() if k != "database"},
    )


def _table(raw: dict[str, Any], name: str, ctx: Ctx) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ctx.sub(name).error(f"expected a table [{name}], got {type(value).__name__}")
    return value


def _array(raw: dict[str, Any], name: str, ctx: Ctx) -> list[dict[str, Any]]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ctx.sub(name).error(f"expected an array of tables [[{name}]]")
    return value


def _unique(names: list[str], ctx: Ctx, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ctx.error(f"two {what}s are named {name!r}", hint=f"{what} names must be unique")
        seen.add(name)


def _source(table: dict[str, Any], ctx: Ctx, registry: Registry) -> SourceSettings:
    rest = dict(table)
    name = rest.pop("name", None)
    kind = rest.pop("type", None)
    enabled = rest.pop("enabled", True)
    if not isinstance(name, str) or not name:
        raise ctx.sub("name").error("missing required key (expected a string)")
    if not isinstance(enabled, bool):
        raise ctx.sub("enabled").error(f"expected true or false, got {enabled!r}")
    types_ = registry.source_types()
    if kind not in types_:
        known = ", ".join(sorted(types_))
        raise ctx.sub("type").error(f"unknown source type {kind!r}", hint=f"known types: {known}")
    options = build(types_[kind].options, rest, ctx)
    return SourceSettings(
        name=name, type=kind, options=options, factory=types_[kind].factory, enabled=enabled
    )


def _delivery(table: dict[str, Any], ctx: Ctx, registry: Registry) -> DeliverySettings:
    rest = dict(table)
    backend = rest.pop("backend", "outbox")
    kinds = registry.delivery_backends()
    if backend not in kinds:
        known = ", ".join(sorted(kinds))
        raise ctx.sub("backend").error(f"unknown backend {backend!r}", hint=f"known: {known}")
    unknown = sorted(set(rest) - set(kinds))
    if unknown:
        raise ctx.sub(unknown[0]).error(
            "unknown key", hint=f"expected 'backend' or a backend table: {', '.join(sorted(kinds))}"
        )
    backends = {
        name: build(kind.options, _table(rest, name, ctx), ctx.sub(name))
        for name, kind in kinds.items()
    }
    factories = {name: kind.factory for name, kind in kinds.items()}
    return DeliverySettings(backend=backend, backends=backends, factories=factories)


def _database(db: DatabaseSettings, base: Path) -> DatabaseSettings:
    prefix = "sqlite:///"
    if db.url.startswith(prefix) and db.url != "sqlite:///:memory:":
        path = Path(db.url[len(prefix) :]).expanduser()
        if not path.is_absolute():
            return DatabaseSettings(url=f"{prefix}{(base / path).resolve()}")
    return db
