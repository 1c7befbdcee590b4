"""The snapshot's exceptions: one base under the verifier's, one type per kind of refusal.

Each carries a stable ``code`` (what a sync command or a test matches on) and a message for the
officer or operator reading it. The format errors also inherit ``ValueError``: a snapshot that
does not parse is bad input, like a QR payload that does not.
"""

from __future__ import annotations

from verifier.errors import VerificationError


class SnapshotError(VerificationError):
    """Base of every error of :mod:`verifier.snapshot`."""

    stage = "snapshot"
    default_code = "snapshot_refused"


class SnapshotFormatError(SnapshotError, ValueError):
    """The bytes are not a snapshot or delta of this format; ``field`` names where."""

    default_code = "snapshot_malformed"

    def __init__(self, field: str, message: str, *, code: str | None = None) -> None:
        super().__init__(f"{field}: {message}", code=code)
        self.field = field


class SnapshotSignatureError(SnapshotError):
    """Not signed by a pinned trust anchor, or the signature does not verify."""

    default_code = "snapshot_bad_signature"


class SnapshotOrderError(SnapshotError):
    """A snapshot older than the cache, or a delta whose base is not the cache's state."""

    default_code = "snapshot_out_of_order"


class SnapshotBuildError(SnapshotError, ValueError):
    """The consortium state handed to the builder is not valid; ``field`` names what."""

    default_code = "snapshot_bad_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class FullSnapshotNeeded(SnapshotError):
    """No delta can carry this change (the two states do not share their table parameters, or
    something was removed that a delta cannot remove): publish a full snapshot."""

    default_code = "full_snapshot_needed"


class SnapshotCacheError(SnapshotError):
    """The cache file is missing, truncated, corrupted or of another format version."""

    default_code = "snapshot_cache_error"
