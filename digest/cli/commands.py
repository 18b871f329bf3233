"""Pipeline commands: run, collect, build, summarize (send lives in ``delivery``)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from ..archive import Archive
from ..build import Builder
from ..config.load import load_settings, resolve_config_path
from ..errors import PostParseError
from ..issues import write_files
from ..models import BuiltIssue, SegmentEmail
from ..pipeline import Pipeline
from ..reports import CollectReport
from ..sources.directory.source import (
    MARKDOWN_SUFFIXES,
    TEXT_SUFFIXES,
    DirectoryOptions,
    DirectorySource,
)
from ..subscribers.membership import sync_list
from ..summarize import ExtractiveSummarizer
from ..text import printable
from ..waves.send import run_due
from .app import err, handled, main, out, warn_rows
from .context import hint_if_never_collected, pipeline_of
from .delivery import say, wait_option


def _collect_table(report: CollectReport) -> Table:
    table = Table(title=f"Sources (read in {report.seconds:.1f} s)")
    for col in ("source", "fetched", "new", "duplicate", "skipped", "error"):
        table.add_column(col, justify="right" if col not in ("source", "error") else "left")
    for o in report.outcomes:
        skipped = "; ".join(str(p) for p in o.problems)
        table.add_row(
            o.source, "not modified" if o.not_modified else str(o.fetched), str(o.new),
            str(o.duplicate),
            f"{len(o.problems)}" + (f" ({skipped})" if skipped else ""), o.error or "",
        )  # fmt: skip
    return table


def _collect_json(pipeline: Pipeline, report: CollectReport, since: datetime | None) -> str:
    posts = [
        {
            "id": p.id,
            "source": p.source,
            "title": p.title,
            "url": p.url,
            "author": p.author,
            "areas": list(pipeline.builder.taxonomy.normalize(p.areas)),
            "published": p.shown_published.isoformat() if p.shown_published else None,
            "collected_at": p.collected_at.isoformat(),
        }
        for p in pipeline.store.posts.since(since)
    ]
    errors = [{"source": o.source, "error": o.error} for o in report.failed]
    problems = [
        {"source": p.source, "where": p.where, "problem": p.message}
        for o in report.outcomes
        for p in o.problems
    ]
    sources = [
        {"source": o.source, "fetched": o.fetched, "new": o.new, "duplicate": o.duplicate,
         "skipped": len(o.problems), "not_modified": o.not_modified, "error": o.error}
        for o in report.outcomes
    ]  # fmt: skip
    return json.dumps(
        {
            "posts": posts,
            "errors": errors,
            "skipped": problems,
            "sources": sources,
            "seconds": round(report.seconds, 3),
        },
        indent=2,
    )


@main.command()
@click.option("--since", type=click.DateTime(), help="Only list posts published since DATE.")
@click.option("--json", "as_json", is_flag=True, help="Print the posts as JSON.")
@click.option("--strict", is_flag=True, help="Exit non-zero if any source fails or skips an item.")
@click.pass_context
@handled
def collect(ctx: click.Context, since: datetime | None, as_json: bool, strict: bool) -> None:
    """Collect every source into the store."""
    pipeline = pipeline_of(ctx)
    report = pipeline.collect()
    if since is not None and since.tzinfo is None:
        since = since.astimezone()
    if as_json:
        click.echo(_collect_json(pipeline, report, since))
    else:
        out.print(_collect_table(report))
    if report.all_failed or (strict and (report.failed or report.skipped)):
        sys.exit(1)


def _build_json(built: BuiltIssue) -> dict[str, Any]:
    d = built.digest
    return {
        "list": built.list_name,
        "issue": d.number,
        "status": built.stored.status if built.stored else "draft",
        "window": {"start": d.window.start.isoformat(), "end": d.window.end.isoformat()},
        "subject": built.email.subject,
        "preheader": built.email.preheader,
        "sections": [
            {
                "area": s.area,
                "posts": [
                    {
                        "id": p.id,
                        "title": p.title,
                        "url": p.url,
                        "author": p.author,
                        "areas": list(p.areas),
                        "summary": p.summary,
                        "area_source": p.area_source,
                        "confidence": p.confidence,
                    }
                    for p in s.posts
                ],
            }
            for s in d.sections
        ],
        "html_bytes": built.email.html_bytes,
        "collapsed": built.segments[0].collapsed if built.segments else 0,
        "segments": [_segment_json(s) for s in built.segments],
    }


def _segment_json(s: SegmentEmail) -> dict[str, Any]:
    return {
        "key": s.key,
        "areas": list(s.areas),
        "subscribers": s.subscribers,
        "posts": s.posts,
        "also": s.also,
        "html_bytes": s.html_bytes,
        "collapsed": s.collapsed,
        "collapsed_to_titles": s.lines,
        "collapsed_to_link": s.linked,
    }


@main.command()
@click.option("--list", "list_name", help="The list to build (default: every list).")
@click.option("--json", "as_json", is_flag=True, help="Print the issue as JSON.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write files here.")
@click.option("--archive", "archive", is_flag=True, help="Also write the web version to [archive].")
@click.pass_context
@handled
def build(
    ctx: click.Context, list_name: str | None, as_json: bool, out: Path | None, archive: bool
) -> None:
    """Build the current period's issue without sending it."""
    pipeline = pipeline_of(ctx)
    names = [list_name] if list_name else [lst.name for lst in pipeline.settings.lists]
    results = []
    for name in names:
        problems = sync_list(pipeline.settings, pipeline.store, name, pipeline.clock()).problems
        warn_rows(problems)  # the roster decides the segments' counts
        built = pipeline.build(name)
        if not built.digest.posts:
            hint_if_never_collected(pipeline, "build")
        results.append(_build_json(built))
        if archive:
            page = Archive(pipeline.settings, pipeline.builder.renderer).publish(built)
            results[-1]["archive"] = str(page)
        if out is not None:
            write_files(built, out / name if len(names) > 1 else out)
        if not as_json:
            d = built.digest
            out_line = (
                f"{name}: issue {d.number}, {len(d.posts)} posts in {len(d.sections)} sections"
            )
            click.echo(
                f"{out_line}, {built.email.html_bytes:,} bytes of HTML: {built.email.subject}"
            )
            for seg in built.segments:
                collapsed = f", {seg.collapsed} collapsed" if seg.collapsed else ""
                click.echo(
                    f"  segment {seg.key}: {seg.subscribers} subscriber(s), "
                    f"{seg.html_bytes:,} bytes{collapsed}"
                )
    if as_json:
        click.echo(json.dumps(results[0] if len(results) == 1 else results, indent=2))


@main.command()
@wait_option
@click.pass_context
@handled
def run(ctx: click.Context, wait: timedelta) -> None:
    """The main job: collect, build and send every list not yet sent this period."""
    pipeline = pipeline_of(ctx)
    report = pipeline.run(wait)
    waves, busy_waves = run_due(pipeline, wait)
    c = report.collected
    click.echo(
        f"collected {sum(o.fetched for o in c.outcomes)} posts from {len(c.outcomes)} sources: "
        f"{c.new} new, {sum(len(o.problems) for o in c.outcomes)} skipped, {len(c.failed)} failed"
    )
    for o in c.failed:
        err.print(
            f"[yellow]source failed[/] {escape(o.source)}: {escape(o.error or '')}", highlight=False
        )
    for s in report.sends:
        say(s)
    for w in waves:
        assert w.wave is not None
        counts = ", ".join(f"{k} {v}" for k, v in sorted(w.counts.items()))
        detail = f" ({w.detail})" if w.detail else ""
        click.echo(
            f"{w.list_name}: wave {w.wave.isoformat()}: {w.outcome}{detail} {counts}".rstrip()
        )
    busy_all = [*report.busy, *busy_waves]
    for busy in busy_all:
        err.print(f"[bold red]error:[/] {busy}", highlight=False)
    if any(s.outcome in ("incomplete", "unknown") for s in report.sends):
        sys.exit(1)
    if busy_all:
        sys.exit(busy_all[0].exit_code)


@main.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jsonl", is_flag=True, help="Read {id, text, title?} lines on stdin.")
@click.pass_context
@handled
def summarize(ctx: click.Context, files: tuple[Path, ...], jsonl: bool) -> None:
    """Summarize text files, or JSON lines on stdin, with digest's summarizer."""
    settings = load_settings(ctx.obj.get("config")) if _config_exists(ctx) else None
    summarizer = Builder(settings).summarizer if settings else _default_summarizer()
    if jsonl:
        bad = 0
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text, title, rid = record["text"], record.get("title"), record.get("id")
                if not isinstance(text, str):
                    raise TypeError("'text' must be a string")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                err.print(f"stdin:{number}: skipped: expected {{id, text, title?}}: {exc}")
                bad += 1
                continue
            summary = summarizer.summarize(text, title)
            click.echo(json.dumps({"id": rid, "summary": summary}, ensure_ascii=False))
        if bad:
            sys.exit(1)
        return
    for file in files:
        text, title = _post_text(file)
        summary = printable(summarizer.summarize(text, title))
        click.echo(f"{file}: {summary}" if len(files) > 1 else summary)


def _post_text(file: Path) -> tuple[str, str | None]:
    """A file's text and title as a directory source reads it, so the summary is the digest's.

    Markdown goes through its front matter; a ``.txt`` blog page through its header; any
    other file (or a ``.txt`` that is not a blog page) is plain text.
    """
    suffix = file.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES | TEXT_SUFFIXES:
        source = DirectorySource("summarize", DirectoryOptions(path=file.parent))
        try:
            post = source.read(file)
            return post.text, post.title
        except PostParseError:
            if suffix in MARKDOWN_SUFFIXES:
                raise
    return file.read_text(encoding="utf-8"), None


def _config_exists(ctx: click.Context) -> bool:
    return resolve_config_path(ctx.obj.get("config")).exists()


def _default_summarizer() -> Any:
    return ExtractiveSummarizer()
