"""Alembic's environment and revisions for the store (``digest db upgrade`` runs them)."""
