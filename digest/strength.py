"""Whether a secret from the environment (signing key, desk token) is strong enough to use.

The rule is checked at startup and names the variable, never the value: at least 32
characters, no whitespace, not one short piece repeated, and at least 8 distinct characters.
"""

from __future__ import annotations

from .errors import ConfigError

MIN_LENGTH = 32
MIN_DISTINCT = 8
SUGGESTION = "openssl rand -hex 24"


def weakness(value: str) -> str | None:
    """Why ``value`` is too weak to be a secret, or None when it will do."""
    if len(value) < MIN_LENGTH:
        return f"it has {len(value)} characters; use at least {MIN_LENGTH}"
    if any(c.isspace() for c in value):
        return "it contains whitespace"
    if len(set(value)) < MIN_DISTINCT:
        return f"it uses only {len(set(value))} distinct characters"
    if value in (value + value)[1:-1]:
        return "it is one short piece repeated"
    return None


def require_strong(value: str, variable: str, purpose: str) -> None:
    """ConfigError (naming ``$variable``, not its value) when ``value`` is too weak."""
    reason = weakness(value)
    if reason is not None:
        raise ConfigError(
            f"${variable} is too weak for {purpose}: {reason}",
            subject=variable,
            hint=f"set it to random characters, e.g. `export {variable}=$({SUGGESTION})`",
        )
