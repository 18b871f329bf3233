"""The one typed settings object, loaded from ``config.toml`` and validated."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import registry
from .errors import ConfigError
from .settings_schema import Ctx, build

DEFAULT_CONFIG = Path("config.toml")
CONFIG_ENV = "DIGEST_CONFIG"


@dataclass(frozen=True)
class NewsletterSettings:
    """Who sends the digest, and how its subject, preheader and links look."""

    name: str = "Policy Blogs Weekly"
    from_address: str = "digest@example.org"
    from_name: str = ""
    reply_to: str | None = None
    postal_address: str = ""
    base_url: str = "https://digest.example.org"
    subject: str = (
        "{{ newsletter.name }} #{{ issue.number }}{% if lead %}: {{ lead.title }}{% endif %}"
    )
    preheader: str = (
        "{{ post_count }} post{{ 's' if post_count != 1 }} this week"
        "{% if lead %}, led by {{ lead.title }}{% endif %}"
    )
    signing_key_env: str = "DIGEST_SIGNING_KEY"
    unsubscribe_mailto: str | None = None
    language: str = "en"

    def validate(self) -> None:
        if "@" not in self.from_address:
            raise ValueError(f"from_address: expected an email address, got {self.from_address!r}")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError(f"base_url: expected an http(s) URL, got {self.base_url!r}")


@dataclass(frozen=True)
class DatabaseSettings:
    """Where the store lives: an SQLAlchemy URL."""

    url: str = "sqlite:///digest.db"


@dataclass(frozen=True)
class ListSettings:
    """One subscriber list: its roster file and its schedule."""

    name: str
    subscribers: Path
    schedule: str = "0 7 * * 1"
    timezone: str = "UTC"
    skip_if_empty: bool = True
    """With no new posts, send nothing and record the run as skipped."""
    approval: str = "none"
    """``"required"``: the issue is sent only once an editor has approved it."""
    build_ahead: str = "24h"
    """With approval required, the scheduler builds the issue this long before it is due."""

    def validate(self) -> None:
        from .schedule import parse_crontab

        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"name: expected letters, digits, '-' or '_', got {self.name!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone: unknown time zone {self.timezone!r} (expected e.g. 'Europe/Berlin')"
            ) from None
        parse_crontab(self.schedule, self.timezone)
        if self.approval not in ("none", "required"):
            raise ValueError(f"approval: expected 'none' or 'required', got {self.approval!r}")
        from .schedule import parse_duration

        try:
            parse_duration(self.build_ahead)
        except ValueError as exc:
            raise ValueError(f"build_ahead: {exc}") from None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SchedulerSettings:
    """How the scheduler process catches up, leases runs and watches for changes."""

    grace: str = "12h"
    """A run missed while the scheduler was down is still made this long after its time."""
    lease: str = "2m"
    """How long a run's claim lasts without renewal before another process may take over."""
    poll: str = "30s"
    """How often the scheduler checks the database for schedule changes and writes a heartbeat."""

    def validate(self) -> None:
        from .schedule import parse_duration

        for key in ("grace", "lease", "poll"):
            try:
                parse_duration(getattr(self, key))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None


@dataclass(frozen=True)
class CollectSettings:
    """``[collect]``: how long the collect phase of a run may take in all."""

    budget: str = "5m"
    """Sources still being read after this long are reported and skipped; the run goes on."""

    def validate(self) -> None:
        from .schedule import parse_duration

        try:
            seconds = parse_duration(self.budget).total_seconds()
        except ValueError as exc:
            raise ValueError(f"budget: {exc}") from None
        if seconds <= 0:
            raise ValueError(f"budget: expected a duration above 0, got {self.budget!r}")

    @property
    def budget_seconds(self) -> float:
        from .schedule import parse_duration

        return parse_duration(self.budget).total_seconds()


@dataclass(frozen=True)
class AreaSettings:
    """A canonical area of focus and the other spellings that mean it."""

    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaxonomySettings:
    """Canonical areas, their aliases, the section order and the catch-all section."""

    areas: tuple[AreaSettings, ...] = ()
    order: tuple[str, ...] = ()
    catch_all: str = "More from the network"
    classifier_threshold: float = 0.5
    """A post with no area gets the classifier's guess only at or above this confidence."""
    classifier_min_posts: int = 10
    """The classifier is trained only once the store holds this many tagged posts."""


@dataclass(frozen=True)
class AuthorSettings:
    """An author's profile: areas of focus and bio, used when a post carries none."""

    name: str
    areas: tuple[str, ...] = ()
    bio: str = ""


@dataclass(frozen=True)
class SummarySettings:
    """The summary budget."""

    max_sentences: int = 3
    max_words: int = 60

    def validate(self) -> None:
        if self.max_sentences < 1 or self.max_words < 5:
            raise ValueError("expected max_sentences >= 1 and max_words >= 5")


@dataclass(frozen=True)
class ThemeSettings:
    """Colors, fonts and logo of the email; every font stack ends in a safe fallback."""

    brand_color: str = "#1a4e8a"
    text_color: str = "#1f2933"
    background_color: str = "#f3f4f6"
    font_family: str = "Helvetica, Arial, sans-serif"
    logo_url: str | None = None
    surface_color: str = "#ffffff"
    muted_color: str = "#4b5563"
    header_text_color: str = "#ffffff"
    dark_brand_color: str = "#8fbcf2"
    """Links and section titles in dark mode (the header keeps ``brand_color``)."""
    dark_text_color: str = "#e6e8eb"
    dark_background_color: str = "#0f1115"
    dark_surface_color: str = "#1c2027"
    dark_muted_color: str = "#aeb6c2"

    def validate(self) -> None:
        import re

        from .theme import contrast_problems, font_problem

        for key in (
            "brand_color", "text_color", "background_color", "surface_color", "muted_color",
            "header_text_color", "dark_brand_color", "dark_text_color", "dark_background_color",
            "dark_surface_color", "dark_muted_color",
        ):  # fmt: skip
            value = getattr(self, key)
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
                raise ValueError(f"{key}: expected a color like '#1a4e8a', got {value!r}")
        if self.logo_url and not self.logo_url.startswith("https://"):
            raise ValueError(f"logo_url: expected an https:// URL, got {self.logo_url!r}")
        problem = font_problem(self.font_family) or next(iter(contrast_problems(self)), None)
        if problem:
            raise ValueError(problem)


@dataclass(frozen=True)
class ArchiveSettings:
    """Where the web version of each issue is written, and the public URL it is served at."""

    path: Path = Path("archive")
    url: str = "{base_url}/archive/{list}/{number}.html"
    """Placeholders: ``{base_url}`` (``[newsletter] base_url``), ``{list}``, ``{number}``."""

    def validate(self) -> None:
        if "{number}" not in self.url:
            raise ValueError(f"url: expected a pattern holding {{number}}, got {self.url!r}")
        try:
            sample = self.url.format(base_url="https://x", list="l", number=1)
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                f"url: only {{base_url}}, {{list}} and {{number}} may appear, got {self.url!r}"
            ) from None
        if not sample.startswith(("https://", "http://")):
            raise ValueError(f"url: expected an http(s) URL pattern, got {self.url!r}")


@dataclass(frozen=True)
class TemplateSettings:
    """Where the Jinja2 templates live."""

    path: Path = Path("templates")


@dataclass(frozen=True)
class WebSettings:
    """``[web]``: the ``digest serve`` app: its address, link lifetime and SendGrid webhook."""

    host: str = "127.0.0.1"
    port: int = 8025
    token_max_age_days: int = 365
    """Unsubscribe and preference links stop working this many days after their issue."""
    sendgrid_public_key: str = ""
    """The Event Webhook verification key (base64 DER, as SendGrid shows it); it is public."""
    sendgrid_public_key_env: str = "SENDGRID_WEBHOOK_PUBLIC_KEY"
    max_body_bytes: int = 5_000_000
    max_age_seconds: int = 300

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port: expected 1-65535, got {self.port}")
        if self.token_max_age_days < 30:
            raise ValueError("token_max_age_days: links must work for at least 30 days")
        if self.max_body_bytes < 1024 or self.max_age_seconds < 1:
            raise ValueError("expected max_body_bytes >= 1024 and max_age_seconds >= 1")


@dataclass(frozen=True)
class DeskSettings:
    """``[desk]``: the editors' desk of ``digest serve``: test-send addresses and login token."""

    editors: tuple[str, ...] = ()
    """Addresses "Send test to…" offers; tests go only to these."""
    token_env: str = "DIGEST_DESK_TOKEN"
    """The variable holding the editors' login token; required off 127.0.0.1."""

    def validate(self) -> None:
        for address in self.editors:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"editors: expected email addresses, got {address!r}")


@dataclass(frozen=True)
class SourceSettings:
    """One configured source: its name, type and the type's own options."""

    name: str
    type: str
    options: Any
    enabled: bool = True


@dataclass(frozen=True)
class DeliverySettings:
    """The chosen delivery backend and every backend's options."""

    backend: str = "outbox"
    backends: dict[str, Any] = field(default_factory=dict)

    def options(self, name: str | None = None) -> Any:
        return self.backends[name or self.backend]


@dataclass(frozen=True)
class Settings:
    """Everything digest is configured with."""

    path: Path
    newsletter: NewsletterSettings
    database: DatabaseSettings
    sources: tuple[SourceSettings, ...]
    lists: tuple[ListSettings, ...]
    taxonomy: TaxonomySettings
    authors: tuple[AuthorSettings, ...]
    summary: SummarySettings
    templates: TemplateSettings
    theme: ThemeSettings
    scheduler: SchedulerSettings
    delivery: DeliverySettings
    web: WebSettings = field(default_factory=WebSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    desk: DeskSettings = field(default_factory=DeskSettings)
    collect: CollectSettings = field(default_factory=CollectSettings)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def list(self, name: str) -> ListSettings:
        for lst in self.lists:
            if lst.name == name:
                return lst
        known = ", ".join(lst.name for lst in self.lists) or "none"
        raise ConfigError(
            f"no list named {name!r}", subject=str(self.path), hint=f"configured lists: {known}"
        )


_TOP_LEVEL = {
    "newsletter": NewsletterSettings,
    "database": DatabaseSettings,
    "taxonomy": TaxonomySettings,
    "summary": SummarySettings,
    "templates": TemplateSettings,
    "theme": ThemeSettings,
    "archive": ArchiveSettings,
    "web": WebSettings,
    "desk": DeskSettings,
    "scheduler": SchedulerSettings,
    "collect": CollectSettings,
}
_ARRAYS = {"sources", "lists", "authors", "delivery"}


def resolve_config_path(path: str | Path | None = None) -> Path:
    """The config file to use: ``path``, else ``$DIGEST_CONFIG``, else ``./config.toml``."""
    chosen = path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG
    return Path(chosen).expanduser().resolve()


def load_settings(path: str | Path | None = None) -> Settings:
    """Read, validate and return the settings in ``path``."""
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
    return settings_from_dict(raw, file)


def settings_from_dict(raw: dict[str, Any], file: Path) -> Settings:
    """Validate an already-parsed TOML document that was read from ``file``."""
    registry.load_plugins()
    root = Ctx(file=file, key="", base=file.parent)
    unknown = sorted(set(raw) - set(_TOP_LEVEL) - _ARRAYS)
    if unknown:
        known = ", ".join(sorted(set(_TOP_LEVEL) | _ARRAYS))
        raise root.sub(unknown[0]).error("unknown section", hint=f"known sections: {known}")
    parts: dict[str, Any] = {
        name: build(cls, _table(raw, name, root), root.sub(name))
        for name, cls in _TOP_LEVEL.items()
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
        _source(t, root.sub("sources").sub(i)) for i, t in enumerate(_array(raw, "sources", root))
    )
    _unique([s.name for s in sources], root.sub("sources"), "source")
    return Settings(
        path=file,
        sources=sources,
        lists=lists,
        authors=authors,
        delivery=_delivery(_table(raw, "delivery", root), root.sub("delivery")),
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


def _source(table: dict[str, Any], ctx: Ctx) -> SourceSettings:
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
    return SourceSettings(name=name, type=kind, options=options, enabled=enabled)


def _delivery(table: dict[str, Any], ctx: Ctx) -> DeliverySettings:
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
    return DeliverySettings(backend=backend, backends=backends)


def _database(db: DatabaseSettings, base: Path) -> DatabaseSettings:
    prefix = "sqlite:///"
    if db.url.startswith(prefix) and db.url != "sqlite:///:memory:":
        path = Path(db.url[len(prefix) :]).expanduser()
        if not path.is_absolute():
            return DatabaseSettings(url=f"{prefix}{(base / path).resolve()}")
    return db
