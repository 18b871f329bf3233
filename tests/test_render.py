from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.errors import TemplateError
from digest.models import Digest, DigestPost, Section, Window
from digest.render.renderer import Renderer

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def digest(*posts: DigestPost, area: str = "Security") -> Digest:
    return Digest("weekly", 7, Window(T0 - timedelta(days=7), T0), (Section(area, posts),), T0)


def dp(
    pid: int, title: str = "A title", url: str | None = "https://b.example.org/p", **kw: object
) -> DigestPost:
    values: dict[str, object] = {
        "id": pid,
        "title": title,
        "url": url,
        "author": "Jane Roe",
        "areas": ("Security", "Human Rights"),
        "summary": "A summary sentence.",
        "published": T0,
    }
    values.update(kw)
    return DigestPost(**values)  # type: ignore[arg-type]


@pytest.fixture
def renderer(project: Path) -> Renderer:
    return Renderer(load_settings(project / "config.toml"))


def test_email_has_content_footer_and_placeholders(renderer: Renderer) -> None:
    email = renderer.render(digest(dp(1), dp(2, "Second", url=None)))
    assert email.subject == "Policy Blogs Weekly #7: A title"
    assert email.preheader == "2 posts this week, led by A title"
    html = email.html
    assert '<html lang="en"' in html and 'name="color-scheme"' in html
    assert 'href="https://b.example.org/p"' in html and "Read more" in html
    assert "Jane Roe" in html and "Human Rights" in html and "A summary sentence." in html
    tokens = email.placeholders
    assert tokens.key and f'href="{tokens.unsubscribe_url}"' in html
    assert f'href="{tokens.preferences_url}"' in html
    assert "1 Example Plaza" in html
    assert email.html_bytes < 102_000


def test_hostile_content_renders_inert(renderer: Renderer) -> None:
    evil = dp(
        1,
        title='"><img src=x onerror=alert(1)><script>alert(2)</script>',
        url="javascript:alert(3)",
        summary="<iframe src=//evil></iframe> & friends",
        author='<a href="javascript:x()">me</a>',
    )
    email = renderer.render(digest(evil))
    assert "<script>alert(2)" not in email.html and "<img src=x" not in email.html
    assert "<iframe" not in email.html and 'href="javascript:' not in email.html
    assert "&lt;script&gt;" in email.html and "&amp; friends" in email.html


def test_text_part_reads_at_72_columns_with_numbered_links(renderer: Renderer) -> None:
    long = "word " * 60
    other = dp(2, "Trade & Tariffs", url="https://x.example/2")
    email = renderer.render(digest(dp(1, summary=long), other))
    text = email.text
    assert all(len(line) <= 72 for line in text.splitlines() if not line.startswith("http"))
    assert "Security\n========" in text
    assert "A title [1]" in text and "Trade & Tariffs [2]" in text and "&amp;" not in text
    assert "[1] https://b.example.org/p" in text and "[2] https://x.example/2" in text
    assert f"Unsubscribe: {email.placeholders.unsubscribe_url}" in text


@pytest.mark.parametrize(
    ("partial", "bad_line", "word"),
    [
        ("post.mjml.j2", "        <mj-text>{{ post.no_such_field }}</mj-text>", "no_such_field"),
        ("post.txt.j2", "{{ post.title | no_such_filter }}", "no_such_filter"),  # text, batched
    ],
)
def test_template_error_names_template_and_line(
    project: Path, partial: str, bad_line: str, word: str
) -> None:
    post = project / "templates" / "partials" / partial
    lines = post.read_text(encoding="utf-8").splitlines()
    lines.insert(2, bad_line)
    post.write_text("\n".join(lines), encoding="utf-8")
    renderer = Renderer(load_settings(project / "config.toml"))
    with pytest.raises(TemplateError) as exc:
        renderer.render(digest(dp(1)))
    assert exc.value.subject == f"{post}:3"
    assert word in exc.value.message


def test_template_syntax_error(project: Path) -> None:
    (project / "templates" / "digest.txt.j2").write_text("ok\n{% if %}\n", encoding="utf-8")
    renderer = Renderer(load_settings(project / "config.toml"))
    with pytest.raises(TemplateError) as exc:
        renderer.render(digest(dp(1)))
    assert (exc.value.subject or "").endswith("digest.txt.j2:2")


def test_subject_template_error_names_config_key(project: Path) -> None:
    path = project / "config.toml"
    text = path.read_text(encoding="utf-8").replace(
        'subject = "{{ newsletter.name }}', 'subject = "{{ newsletter.nmae }}'
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=r"newsletter\.subject: render failed"):
        Renderer(load_settings(path)).render(digest(dp(1)))


def test_text_part_numbers_each_link_once_in_order(project: Path) -> None:
    same = "https://b.example.org/same"
    posts = (
        dp(1, "First 100% title", same),
        dp(2, "Second", "https://b.example.org/two"),
        dp(3, "Third", same),
    )
    text = Renderer(load_settings(project / "config.toml")).render(digest(*posts)).text
    assert "First 100% title [1]" in text
    assert "Second [2]" in text and "Third [1]" in text
    links = text[text.index("Links:") :].splitlines()
    assert links[1:3] == [f"[1] {same}", "[2] https://b.example.org/two"]
    assert "[3]" not in text


def test_control_characters_in_a_post_neither_break_nor_reach_the_email(project: Path) -> None:
    """Rendering marks slots and links with control characters; feed text must not carry any."""
    from digest.group import group

    from .test_group import TAX, FirstSentence, sp

    nasty = "Bell\x07 \x01slot\x01 \x02ref\x02 \x03sep\x03 end"
    posts = [sp(i, ("Security",), author=f"Au\x01thor {i}", title=f"{nasty} {i}") for i in (1, 2)]
    sections = group(posts, FirstSentence(), TAX, {})
    email = Renderer(load_settings(project / "config.toml")).render(
        Digest("weekly", 7, Window(T0 - timedelta(days=7), T0), sections, T0)
    )
    for part in (email.subject, email.html, email.text, email.mjml):
        assert not any(ch in part for ch in "\x01\x02\x03\x07")
    assert "Bell slot ref sep end 1" in email.text and "Bell slot ref sep end 2" in email.text
    assert "Author 2" in email.html


def test_a_partial_that_writes_the_batch_separator_still_renders_each_post(project: Path) -> None:
    title = project / "templates" / "partials" / "title.mjml.j2"
    title.write_text(
        title.read_text(encoding="utf-8").replace("<li>", '<li data-x="{{ "\\x03" }}">'),
        encoding="utf-8",
    )
    renderer = Renderer(load_settings(project / "config.toml"))
    posts = [dp(i, f"Title number {i}", f"https://b.example.org/{i}") for i in (1, 2, 3)]
    out = renderer.batch(
        "partials/title.mjml.j2", "post", posts, renderer.issue(digest(*posts)).base
    )
    assert len(out) == 3
    for i, fragment in enumerate(out, 1):
        assert f"Title number {i}<" in fragment and fragment.count("<li") == 1
