"""digest: a weekly newsletter digest generator and mailer."""

__version__ = "0.1.0"
