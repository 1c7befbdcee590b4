"""The domain core's errors: plain exceptions, so that every layer can catch them."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors the domain core raises."""


class InvalidClaim(DomainError, ValueError):
    """A claim of an AEO1 QR code is missing, of the wrong type or out of range.

    ``field`` names it, ``detail`` says what is wrong, ``message`` is the sentence shown
    ("claim 'tiers': must be ...")."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        self.message = f"claim {field!r}: {detail}"
        super().__init__(self.message)
