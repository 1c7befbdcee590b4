"""Verification of AEO certificate QR codes (format AEO1, docs/qr-format.md).

The public API:

- :func:`verify` -> :class:`Verdict`: check a scanned QR (text, bytes, image or path) for a
  verifying administration, against a :class:`StatusSource`, with an explicit clock;
- :class:`Claims`, :func:`encode`: what a QR states, and the issuer-side encoder;
- :class:`StatusSource`, :class:`SourceUnavailable`: where the registry's state comes from;
- :class:`OfflineCache`: that state in a local SQLite file, filled from chain events.

This package must not import FastAPI or the registry API.
"""

from contracts.domain.claims import Claims
from verifier.errors import SourceUnavailable, VerificationError
from verifier.offline import OfflineCache, SyncPoint
from verifier.payload import encode
from verifier.pipeline import verify
from verifier.source import StatusSource
from verifier.verdict import Outcome, Verdict

__all__ = [
    "Claims",
    "OfflineCache",
    "Outcome",
    "SourceUnavailable",
    "StatusSource",
    "SyncPoint",
    "Verdict",
    "VerificationError",
    "encode",
    "verify",
]
