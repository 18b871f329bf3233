"""docs/architecture.md matches the code: its modules, its layout picture, its tables, its plugin.

The plugin example is installed as a real distribution (a ``.dist-info`` with an
``entry_points.txt``) on a temporary ``sys.path`` entry, found through ``importlib.metadata``
like any installed plugin, and used to collect from a JSON file into a real store.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.collect import collect, make_sources
from digest.config.load import load_settings
from digest.errors import ConfigError
from digest.plugins.load import GROUP, installed, load_registry
from digest.store import Store
from digest.store.schema import metadata

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "digest"


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def section(title: str) -> str:
    text = page()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```\w*\n(.*?)```", text, flags=re.S)


def resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a digest module, or an attribute of one."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


DOCS = [PAGE, ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FILES = {"digest.db", "digest.mjml.j2", "digest.txt.j2"}  # the SQLite file and templates


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_module_path_named_exists(doc: Path) -> None:
    paths = set(re.findall(r"`(digest/[\w/.]*)`", doc.read_text(encoding="utf-8")))
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_dotted_name_resolves(doc: Path) -> None:
    names = set(re.findall(r"`(digest(?:\.\w+)+)`", doc.read_text(encoding="utf-8")))
    names -= {GROUP, *FILES}
    assert sorted(n for n in names if not resolves(n)) == []


def test_the_architecture_page_names_modules() -> None:
    assert len(re.findall(r"`digest/[\w/.]*`", page())) > 20


def picture() -> set[str]:
    """The modules the layout picture shows, as paths below ``digest/`` without ``.py``."""
    (tree,) = [b for b in code_blocks(section("Layout")) if b.startswith("digest/")]
    found: set[str] = set()
    folders: list[str] = []
    for line in tree.splitlines()[1:]:
        match = re.match(r"^([│ ]*)[├└]── (.*)$", line)
        if not match:
            continue
        depth = len(match.group(1)) // 4
        words = match.group(2).partition("#")[0].split()  # after "#": a comment
        folders = folders[:depth]
        if words[0].endswith("/"):
            folders.append(words[0].rstrip("/"))
            words = words[1:]
        prefix = "/".join(folders[: depth + 1])
        for word in words:
            found.add(f"{prefix}/{word}" if prefix else word)
    return found


def code_modules() -> set[str]:
    return {
        str(p.relative_to(PACKAGE).with_suffix(""))
        for p in PACKAGE.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
        and "versions" not in p.relative_to(PACKAGE).parts  # Alembic revisions, not modules
    }


def test_the_layout_picture_shows_every_module_and_no_other() -> None:
    shown = picture()
    assert {"render/renderer", "web/desk/auth", "sources/feed/parse", "pipeline"} <= shown
    assert sorted(shown - code_modules()) == [], "the picture names modules that do not exist"
    assert sorted(code_modules() - shown) == [], "modules missing from the picture"


def test_the_storage_section_lists_every_table_and_no_other() -> None:
    named = set(re.findall(r"^\| `(\w+)` \|", section("Storage"), flags=re.M))
    assert named == set(metadata.tables)


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The page's plugin installed as a real distribution on a temporary sys.path entry."""
    blocks = code_blocks(section("Plugging in a source or a backend"))
    (code,) = [b for b in blocks if b.startswith("# mypackage/plugin.py")]
    (meta,) = [b for b in blocks if b.startswith("# mypackage's pyproject.toml")]
    site = tmp_path / "site"
    (site / "mypackage").mkdir(parents=True)
    (site / "mypackage" / "__init__.py").write_text("", encoding="utf-8")
    (site / "mypackage" / "plugin.py").write_text(code, encoding="utf-8")
    info = site / "mypackage-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mypackage\nVersion: 1.0\n", encoding="utf-8"
    )
    points = tomllib.loads(meta)["project"]["entry-points"][GROUP]
    lines = "".join(f"{name} = {target}\n" for name, target in points.items())
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{lines}", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [m for m in sys.modules if m == "mypackage" or m.startswith("mypackage.")]:
        del sys.modules[name]


def test_the_plugin_example_is_found_and_collects(plugin_dist: Path, project: Path) -> None:
    registry = load_registry()
    assert {"jsonfile", "feed", "directory"} <= set(registry.source_types())

    (toml,) = [
        b for b in code_blocks(section("Plugging in a source or a backend"))
        if b.startswith("# config.toml")
    ]  # fmt: skip
    config = project / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n" + toml, encoding="utf-8")
    items = [
        {"id": "p-1", "title": "Water treaty signed", "text": "Both sides signed at dawn."},
        {"title": "No text"},
        {"title": "Grid upgrade funded", "text": "The loan covers three regions."},
    ]
    (project / "partners.json").write_text(json.dumps(items), encoding="utf-8")

    settings = load_settings(config, registry)
    (source,) = [s for s in settings.sources if s.name == "partners"]
    assert source.options.path == project / "partners.json"  # relative to the config file
    store = Store(f"sqlite:///{project / 'digest.db'}")
    try:
        chosen = [s for s in make_sources(settings) if s.name == "partners"]
        report = collect(settings, store, datetime.now(UTC), chosen)
        (outcome,) = report.outcomes
        assert (outcome.source, outcome.new, outcome.error) == ("partners", 2, None)
        assert [str(p) for p in outcome.problems] == ["item 1: needs a title and a text"]
    finally:
        store.close()


def test_a_config_naming_an_unregistered_type_names_the_known_ones(project: Path) -> None:
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text + '\n[[sources]]\nname = "x"\ntype = "jsonfile"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown source type 'jsonfile'"):
        load_settings(config, load_registry())  # mypackage is not installed here


def test_plugins_load_once_per_process() -> None:
    assert installed() is installed()
