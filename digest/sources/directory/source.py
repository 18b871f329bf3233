"""The ``directory`` source: a folder of post files (plain-text blog pages and Markdown)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...errors import PostParseError
from ...models import Post
from ...text import safe_url
from ..base import Problem, SourceReport
from .blogpage import parse_blog_page
from .frontmatter import parse_markdown_post

if TYPE_CHECKING:
    from ...config import Settings, SourceSettings

TEXT_SUFFIXES = {".txt"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}


@dataclass(frozen=True)
class DirectoryOptions:
    """Options of a ``type = "directory"`` source."""

    path: Path
    timezone: str = "UTC"
    """Zone for dates written without an offset."""
    recursive: bool = True
    optional: bool = False
    """When true, a missing folder is reported and skipped instead of failing the source."""

    def validate(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None


class DirectorySource:
    """Reads every ``.txt`` blog page and ``.md`` post under a folder."""

    def __init__(self, name: str, options: DirectoryOptions):
        self.name = name
        self.options = options

    def files(self) -> list[Path]:
        pattern = "**/*" if self.options.recursive else "*"
        suffixes = TEXT_SUFFIXES | MARKDOWN_SUFFIXES
        return sorted(
            p
            for p in self.options.path.glob(pattern)
            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
        )

    def collect(self, state: Mapping[str, str]) -> SourceReport:
        root = self.options.path
        if not root.is_dir():
            why = "does not exist" if not root.exists() else "is not a folder"
            if self.options.optional:
                return SourceReport(self.name, problems=(Problem(self.name, str(root), why),))
            return SourceReport(self.name, error=f"{root} {why}")
        posts: list[Post] = []
        problems: list[Problem] = []
        for file in self.files():
            try:
                posts.append(self.read(file))
            except PostParseError as exc:
                problems.append(Problem(self.name, exc.subject or str(file), exc.message))
            except OSError as exc:
                problems.append(Problem(self.name, str(file), f"cannot read: {exc.strerror}"))
        return SourceReport(self.name, posts=tuple(posts), problems=tuple(problems))

    def read(self, file: Path) -> Post:
        """Parse one file into a Post."""
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PostParseError(
                f"not UTF-8 (byte {exc.start})", subject=str(file), hint="save the file as UTF-8"
            ) from None
        rel = file.relative_to(self.options.path).as_posix()
        if file.suffix.lower() in MARKDOWN_SUFFIXES:
            md = parse_markdown_post(text, str(file), ZoneInfo(self.options.timezone))
            return Post(
                source=self.name,
                guid=md.guid or md.url or f"{self.name}:{rel}",
                title=md.title,
                text=md.text,
                url=safe_url(md.url),
                author=md.author,
                author_bio=md.bio,
                areas=md.areas,
                published=md.published,
                html=md.html,
                origin=str(file),
            )
        page = parse_blog_page(text, str(file))
        return Post(
            source=self.name,
            guid=f"{self.name}:{rel}",
            title=page.title,
            text="\n\n".join(page.paragraphs),
            author=page.author,
            author_bio=page.bio,
            areas=page.areas,
            caption=page.caption,
            origin=str(file),
        )


def make_directory_source(settings: SourceSettings, _: Settings) -> DirectorySource:
    """Factory registered for ``type = "directory"``."""
    return DirectorySource(settings.name, settings.options)
