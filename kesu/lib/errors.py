"""Errors a user can cause. The CLI and views show their message in one line."""


class UserError(Exception):
    """Bad input or a refused action; the message is safe to show (no personal data)."""


class NotFound(UserError):
    """The object does not exist, or this user may not know that it does."""
