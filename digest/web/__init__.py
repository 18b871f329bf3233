"""The web endpoints of ``digest serve``: unsubscribe, preferences, provider webhooks."""

from .app import create_app

__all__ = ["create_app"]
