"""Helpers for the fault tests on PostgreSQL: a project on its own database, a database whose
connections are cut, and a fake SendGrid that acts on the Nth request it accepts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

from digest.config.load import load_settings

from .delivery_helpers import API_KEY
from .fake_sendgrid import FakeSendGrid


class Dropper:
    """Terminates every connection to one database; can also refuse new ones for a while."""

    def __init__(self, url: str):
        self.name = make_url(url).database
        server = make_url(url).set(database="postgres")
        self.admin = create_engine(server, isolation_level="AUTOCOMMIT")
        self.drops = 0

    def drop(self) -> int:
        with self.admin.connect() as conn:
            n = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": self.name},
            ).scalar_one()
        self.drops += 1
        return int(n)

    def refuse(self, refused: bool) -> None:
        """New connections refused (or allowed again), as while a database is down."""
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS {not refused}'))

    def close(self) -> None:
        self.refuse(False)  # the fixture drops the database afterwards
        self.admin.dispose()


class CuttingSendGrid(FakeSendGrid):
    """The fake SendGrid that runs ``on_request(n)`` for each request it accepts, before it
    answers: the sender is then waiting on SendGrid, its chunk ``submitted``."""

    def __init__(self, on_request: Callable[[int], None], **kwargs: Any):
        super().__init__(API_KEY, **kwargs)
        self.on_request = on_request

    def _record(self, number: int, body: dict[str, Any]) -> str:
        message_id = super()._record(number, body)
        self.on_request(len(self.requests))
        return message_id


def use_postgres(project: Path, url: str) -> Path:
    """Point the project's ``[database] url`` at ``url``; returns the project."""
    config = project / "config.toml"
    text_ = config.read_text(encoding="utf-8")
    head, sep, rest = text_.partition("[database]\n")
    url_line, _, tail = rest.partition("\n")
    assert url_line.startswith("url = "), url_line
    config.write_text(head + sep + f'url = "{url}"\n' + tail, encoding="utf-8")
    return project


def dropper_for(project: Path) -> Iterator[Dropper]:
    """A ``Dropper`` for the project's database, its connections allowed again afterwards."""
    made = Dropper(load_settings(project / "config.toml").database.url)
    yield made
    made.close()
