"""Plugins: the typed registry of source types and delivery backends, and the built-ins."""
