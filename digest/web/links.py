"""Check a link's token against the store: genuine, of this list, not expired."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from ..store.subscribers import SubscriberRow
from .context import Web

log = logging.getLogger(__name__)
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{4,800}\.[A-Za-z0-9_-]{4,100}")


@dataclass(frozen=True, slots=True)
class Link:
    """A verified link: whose subscription it is, and from which issue."""

    list_name: str
    list_id: int
    issue_id: int
    subscriber: SubscriberRow


class LinkError(Exception):
    """A link that must not be acted on, with the HTTP status and what to tell the reader."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


INVALID = "This link is not valid. Please use the link from the most recent email you received."


def check_link(web: Web, token: str) -> Link:
    """The subscription a token vouches for; LinkError (400/403) for anything else."""
    if not TOKEN_SHAPE.fullmatch(token):
        raise LinkError(400, "Invalid link", INVALID)
    claims = web.signer.verify(token)
    if claims is None:
        log.warning("rejected a link token with a bad signature")
        raise LinkError(403, "Invalid link", INVALID)
    configured = {lst.name for lst in web.settings.lists}
    list_id = web.store.subscribers.find_list(claims.list_name)
    sub = web.store.subscribers.get(claims.subscriber_id)
    origin = web.events.issue_origin(claims.issue_id)
    if (
        claims.list_name not in configured
        or list_id is None
        or sub is None
        or origin is None
        or sub.list_id != list_id
        or origin[0] != list_id
    ):
        log.warning("rejected a link token for another list or an unknown subscriber")
        raise LinkError(403, "Invalid link", INVALID)
    max_age = timedelta(days=web.settings.web.token_max_age_days)
    if web.clock() - origin[1] > max_age:
        raise LinkError(
            403,
            "Link expired",
            "This link has expired. Please use the link from a more recent email.",
        )
    return Link(claims.list_name, list_id, claims.issue_id, sub)
