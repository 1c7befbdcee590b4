"""The one exception base of the ``aeo`` package (the ``aeo`` CLI and the demo).

``aeo`` prints a ``ScriptError`` as one line, ``error: <message>``, and exits with its
``exit_code``; never a traceback.
"""

from __future__ import annotations


class ScriptError(Exception):
    """A command could not do what was asked; the message says why and what to do."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(ScriptError, ValueError):
    """An argument or option the command cannot work with; the message names it."""

    exit_code = 2


class NotFoundError(ScriptError, LookupError):
    """Something the command needs is not in the data directory (not deployed, no keys...)."""


class ChainNotRunningError(ScriptError, ConnectionError):
    """No chain answers for this data directory."""


class ServiceError(ScriptError, RuntimeError):
    """A child service (a registry API, the verifier page) failed to start or answer."""
