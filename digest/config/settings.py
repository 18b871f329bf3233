"""The one typed settings object: a frozen dataclass per table of ``config.toml``."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigError
from ..periods import parse_crontab, parse_duration
from ..render.theme import contrast_problems, font_problem
from .workers import WorkersSettings

if TYPE_CHECKING:
    from ..delivery.base import DeliveryBackend
    from ..sources.base import Source


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
    deliver: str = "list"
    """``"local"``: the schedule's hour is read in each reader's zone (waves); ``"list"``: in
    the list's ``timezone``, one send for everyone."""

    def validate(self) -> None:
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
        if self.deliver not in ("list", "local"):
            raise ValueError(f"deliver: expected 'list' or 'local', got {self.deliver!r}")
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
        for key in ("grace", "lease", "poll"):
            try:
                parse_duration(getattr(self, key))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None


@dataclass(frozen=True)
class CollectSettings:
    """``[collect]``: how long the collect phase of a run may take in all, and how it parses."""

    budget: str = "5m"
    """Sources still being read after this long are reported and skipped; the run goes on."""
    processes: int | None = None
    """Processes parsing feeds at once; default: the number of CPUs; 0 or 1: in-process."""

    def validate(self) -> None:
        if self.processes is not None and not 0 <= self.processes <= 256:
            raise ValueError(f"processes: expected 0 to 256, got {self.processes}")
        try:
            seconds = parse_duration(self.budget).total_seconds()
        except ValueError as exc:
            raise ValueError(f"budget: {exc}") from None
        if seconds <= 0:
            raise ValueError(f"budget: expected a duration above 0, got {self.budget!r}")

    @property
    def budget_seconds(self) -> float:
        return parse_duration(self.budget).total_seconds()

    @property
    def parsers(self) -> int:
        """Processes to parse feeds in: ``processes``, else the CPUs this process may use."""
        if self.processes is not None:
            return self.processes
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )


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
    metrics: bool = True
    """Serve ``/metrics`` (Prometheus); only to loopback clients unless the token is set."""
    metrics_token_env: str = "DIGEST_METRICS_TOKEN"
    """The variable holding the bearer token that lets any address scrape ``/metrics``."""

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
    test_domains: tuple[str, ...] = ()
    """Domains whose any address a test may go to, typed in at the desk (beside ``editors``)."""

    def validate(self) -> None:
        for address in self.editors:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"editors: expected email addresses, got {address!r}")
        for domain in self.test_domains:
            if not domain or "@" in domain or "." not in domain or any(c.isspace() for c in domain):
                raise ValueError(f"test_domains: expected domain names, got {domain!r}")


SourceFactory = Callable[["SourceSettings", "Settings"], "Source"]
BackendFactory = Callable[["Settings"], "DeliveryBackend"]


@dataclass(frozen=True)
class SourceSettings:
    """One configured source: its name, type and the type's own options."""

    name: str
    type: str
    options: Any
    factory: SourceFactory
    """The registered type's factory, resolved when the settings were loaded."""
    enabled: bool = True


@dataclass(frozen=True)
class DeliverySettings:
    """The chosen delivery backend and every backend's options."""

    backend: str = "outbox"
    backends: dict[str, Any] = field(default_factory=dict)
    factories: dict[str, BackendFactory] = field(default_factory=dict, compare=False, repr=False)
    """Each registered backend's factory, resolved when the settings were loaded."""

    def options(self, name: str | None = None) -> Any:
        return self.backends[name or self.backend]

    def describe(self, folder: str | None = None) -> str:
        """Where a send goes: the backend, with its outbox ``folder`` or its options' host."""
        options = self.options()
        host, port = getattr(options, "host", None), getattr(options, "port", None)
        where = folder or (f"{host}:{port}" if host and port else host)
        return f"{self.backend} {where}" if where else self.backend

    def make(self, settings: Settings, name: str | None = None) -> DeliveryBackend:
        """A backend instance: ``name``, or the configured one."""
        return self.factories[name or self.backend](settings)


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
    workers: WorkersSettings = field(default_factory=WorkersSettings)

    def list(self, name: str) -> ListSettings:
        for lst in self.lists:
            if lst.name == name:
                return lst
        known = ", ".join(lst.name for lst in self.lists) or "none"
        raise ConfigError(
            f"no list named {name!r}", subject=str(self.path), hint=f"configured lists: {known}"
        )


TABLES: dict[str, type[Any]] = {
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
    "workers": WorkersSettings,
}
"""Each top-level table of config.toml and its dataclass."""
ARRAYS = {"sources", "lists", "authors", "delivery"}
"""The arrays of tables (``[[sources]]``...) and ``[delivery]``, each read in its own way."""
