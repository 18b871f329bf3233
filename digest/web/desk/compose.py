"""Desk edits beyond a single post's fields: subject and preheader, post order, test addresses.

Everything here reads untrusted form values: sizes are bounded, text is tidied to one printable
line, and addresses are checked against ``[desk] editors`` and ``[desk] test_domains``.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from starlette.exceptions import HTTPException

from ...config import Settings
from ...errors import DigestError
from ...models import Headline
from ...pipeline import Pipeline
from ...store.headlines import ISSUE
from ...text import printable

MAX_SUMMARY = 2000
MAX_SUBJECT = 200
MAX_PREHEADER = 300
MAX_TEST_ADDRESSES = 10


def one_line(value: str, what: str, limit: int) -> str | None:
    """``value`` as one printable line; None when empty; 400 past ``limit`` characters."""
    if len(value) > 4 * limit:
        raise HTTPException(400, f"Keep the {what} under {limit} characters.")
    line = " ".join(printable(value).split())
    if len(line) > limit:
        raise HTTPException(400, f"Keep the {what} under {limit} characters.")
    return line or None


def set_headline(
    pipeline: Pipeline, list_name: str, segment: str, headline: Headline, actor: str
) -> int:
    """Store the editors' subject and preheader of the coming issue (or one segment of it).

    Returns the issue's number; 404 for an unknown segment, 409 once the issue is frozen.
    """
    built = pipeline.build(list_name)
    if segment != ISSUE and pipeline.builder.segment(built, segment) is None:
        raise HTTPException(404, f"No segment {segment!r}.")
    try:
        pipeline.store.headlines.set(
            built.list_name, built.window.start, segment, headline, actor, pipeline.clock()
        )
    except DigestError as exc:
        raise HTTPException(409, str(exc)) from None
    return built.digest.number


def move(pipeline: Pipeline, list_name: str, post_id: int, step: int, actor: str) -> str:
    """Move a post one place up (``step`` -1) or down (+1) in its section; a message.

    The section's order as the email shows it is stored as each post's rank. Pinned posts
    stay ahead of the others: a post moves only among posts pinned like itself.
    """
    digest = pipeline.build(list_name).digest
    section = next((s for s in digest.sections if any(p.id == post_id for p in s.posts)), None)
    if section is None:
        raise HTTPException(409, "The post is not in the issue: include it before moving it.")
    order = list(section.posts)
    index = next(i for i, p in enumerate(order) if p.id == post_id)
    target = index + step
    if not 0 <= target < len(order):
        edge = "first" if step < 0 else "last"
        raise HTTPException(409, f"“{order[index].title}” is already {edge} in {section.area}.")
    if order[target].pinned != order[index].pinned:
        raise HTTPException(
            409, "Pinned posts come first in their section: pin or unpin the post to pass them."
        )
    order[index], order[target] = order[target], order[index]
    action = "move-up" if step < 0 else "move-down"
    try:
        pipeline.store.posts.reorder(
            [p.id for p in order], post_id, action, actor, pipeline.clock()
        )
    except DigestError as exc:
        raise HTTPException(409, str(exc)) from None
    return f"“{order[target].title}” is now {target + 1} of {len(order)} in {section.area}."


def test_addresses(settings: Settings, chosen: list[str], typed: str) -> list[str]:
    """The test's recipients: ticked ``[desk] editors``, and a typed address whose domain
    ``[desk] test_domains`` allows. 400 with the reason for anything else."""
    editors = settings.desk.editors
    addresses = [a for a in editors if a in set(chosen)]
    typed = typed.strip()
    if typed:
        if len(typed) > 320:
            raise HTTPException(400, "That address is too long.")
        try:
            valid = validate_email(typed, check_deliverability=False)
        except EmailNotValidError as exc:
            raise HTTPException(400, f"{typed!r} is not an email address: {exc}") from None
        domain = valid.ascii_domain.lower()
        allowed = {d.lower() for d in settings.desk.test_domains}
        if domain not in allowed:
            hint = (
                f"allowed: {', '.join(sorted(allowed))}"
                if allowed
                else "no domain is allowed; add it to [desk] test_domains in config.toml"
            )
            raise HTTPException(
                400, f"Tests may not go to {domain}: it is not in [desk] test_domains ({hint})."
            )
        if valid.normalized not in addresses:
            addresses.append(valid.normalized)
    if not addresses:
        raise HTTPException(400, "Choose an editor address, or type one in an allowed domain.")
    return addresses[:MAX_TEST_ADDRESSES]
