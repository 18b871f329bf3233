"""The one typed settings object (``settings``), read from ``config.toml`` by ``load``."""

from .settings import (
    ArchiveSettings,
    AreaSettings,
    AuthorSettings,
    CollectSettings,
    DatabaseSettings,
    DeliverySettings,
    DeskSettings,
    ListSettings,
    NewsletterSettings,
    SchedulerSettings,
    Settings,
    SourceSettings,
    SummarySettings,
    TaxonomySettings,
    TemplateSettings,
    ThemeSettings,
    WebSettings,
)
from .workers import WorkersSettings

__all__ = [
    "ArchiveSettings",
    "AreaSettings",
    "AuthorSettings",
    "CollectSettings",
    "DatabaseSettings",
    "DeliverySettings",
    "DeskSettings",
    "ListSettings",
    "NewsletterSettings",
    "SchedulerSettings",
    "Settings",
    "SourceSettings",
    "SummarySettings",
    "TaxonomySettings",
    "TemplateSettings",
    "ThemeSettings",
    "WebSettings",
    "WorkersSettings",
]
