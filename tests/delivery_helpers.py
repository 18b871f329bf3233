"""Helpers for the delivery tests: big rosters, and a project pointed at a local backend."""

from __future__ import annotations

import re
from pathlib import Path

SIGNING_KEY = "test-signing-key-0123456789abcdef"
API_KEY = "SG.test-key"


def write_roster(project: Path, count: int, list_name: str = "weekly") -> list[str]:
    """Replace the list's roster with ``count`` active subscribers; returns their addresses."""
    emails = [f"reader{i:05d}@example.org" for i in range(1, count + 1)]
    lines = ["email,name,areas,status,subscribed_at,source"]
    lines += [f"{e},Reader {i},,active,2026-01-01,test" for i, e in enumerate(emails, 1)]
    path = project / "subscribers" / f"{list_name}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return emails


def use_backend(project: Path, backend: str, **options: object) -> Path:
    """Switch the project's config to ``backend`` with these ``[delivery.<backend>]`` options."""
    path = project / "config.toml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'^backend = "outbox"$', f'backend = "{backend}"', text, count=1, flags=re.M)
    text = re.sub(r"^\[delivery\.sendgrid\]\n(.*\n)*?(?=\[|\Z)", "", text, flags=re.M)
    table = [f"[delivery.{backend}]"]
    for key, value in options.items():
        rendered = str(value).lower() if isinstance(value, bool) else repr(value)
        table.append(f"{key} = {rendered}".replace("'", '"'))
    path.write_text(text.rstrip() + "\n\n" + "\n".join(table) + "\n", encoding="utf-8")
    return path
