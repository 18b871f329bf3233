"""The contracts of issue 16: the archive renders from the build's rendering, every repository
hangs off the Store, the sender reads backends only through their protocol."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from digest.archive import Archive
from digest.config.load import load_settings
from digest.delivery.outbox import OutboxBackend
from digest.models import ALL, Audience, BuiltIssue
from digest.render import issue as issue_module
from digest.render.renderer import Renderer
from digest.render.sample import sample_digest
from digest.store import Store
from digest.store.desk import DeskRepo
from digest.store.events import EventRepo
from digest.store.suppressions import SuppressionRepo

PACKAGE = Path(__file__).resolve().parents[1] / "digest"


def test_the_archive_publishes_the_rendering_build_made(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(project / "config.toml")
    renderer = Renderer(settings)
    digest = sample_digest(number=4)
    render = renderer.issue(digest)
    segments = tuple(render.segments([Audience(ALL, ())]))
    built = BuiltIssue("weekly", 1, digest, segments[0].email, None, segments, render.web_page)
    made: list[object] = []
    real = issue_module.IssueRender.__init__

    def counted(self: object, *args: object) -> None:
        made.append(args)
        real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(issue_module.IssueRender, "__init__", counted)
    page = Archive(settings, renderer).publish(built)
    assert made == []  # the build's rendering, not a second one
    html = page.read_text(encoding="utf-8")
    assert html == render.web_page() and segments[0].email.subject in html
    Archive(settings, renderer).publish(sample_digest(number=5))  # a bare digest: rendered once
    assert len(made) == 1


def test_every_repository_hangs_off_the_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        assert isinstance(store.suppressions, SuppressionRepo)
        assert isinstance(store.events, EventRepo)
        assert isinstance(store.desk, DeskRepo)
        first = store.subscribers.list_id("weekly")
        assert store.subscribers.list_id("weekly") == first
        assert store.subscribers.list_id("monthly") != first
    finally:
        store.close()


def _calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def test_no_module_builds_a_repository_from_the_engine() -> None:
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "store" / "db.py":
            continue
        for call in _calls(path):
            name = getattr(call.func, "id", getattr(call.func, "attr", ""))
            if name.endswith("Repo") and any(
                isinstance(a, ast.Attribute) and a.attr == "engine" for a in call.args
            ):
                found.append(f"{path.relative_to(PACKAGE)}:{call.lineno}")
    assert found == [], "use the Store's repository instead"


@pytest.mark.parametrize("module", ["send.py", "pipeline.py"])
def test_the_sender_reads_backends_only_through_their_protocol(module: str) -> None:
    for call in _calls(PACKAGE / module):
        if getattr(call.func, "id", "") == "getattr":
            assert "backend" not in ast.unparse(call.args[0]), ast.unparse(call)


def test_the_outbox_states_everything_the_sender_reads(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path)
    assert (backend.workers, backend.max_per_second, backend.retry_rounds) == (1, 0.0, 0)
    assert backend.retry_wait > 0 and backend.idempotent
