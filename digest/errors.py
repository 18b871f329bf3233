"""The one exception tree of digest.

Every error carries its *subject* (the file, key, source, list, address or template it is
about) and a *hint* saying what to do. Only the CLI turns them into messages and exit codes.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of all errors digest raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, subject: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.subject = subject
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.subject}: " if self.subject else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"

    def __reduce__(self) -> tuple[object, ...]:
        # Exception pickles as cls(*args), which drops keyword-only fields (subject, hint, a
        # subclass's own): rebuild without __init__ and restore every attribute instead
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(
    cls: type[DigestError], args: tuple[object, ...], state: dict[str, object]
) -> DigestError:
    """Unpickle a DigestError (see ``DigestError.__reduce__``), e.g. from a pool process."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigError(DigestError):
    """The configuration file is missing, malformed or has a bad key or value."""

    exit_code = 2


class SourceError(DigestError):
    """A post source could not be read."""


class PostParseError(SourceError):
    """One post file or entry could not be parsed."""


class SubscriberError(DigestError):
    """A subscriber list or row is invalid."""


class StoreError(DigestError):
    """The database is unreachable or its schema is not one this version knows."""


class SchemaOutdatedError(StoreError):
    """The database's schema is older than this digest: ``digest db upgrade`` brings it up."""

    exit_code = 2


class TemplateError(DigestError):
    """A template is missing, fails to render, or produces invalid MJML."""


class DeliveryError(DigestError):
    """A delivery backend failed in a way that stops the send."""


class ClaimHeldError(DigestError):
    """Another live process holds the (list, period) claim: this one sent nothing."""

    exit_code = 4


class FrozenError(DigestError):
    """An approved or sent issue cannot change, nor go back once its send has begun."""


class NotFoundError(DigestError):
    """A named list, issue or post does not exist."""

    exit_code = 3
