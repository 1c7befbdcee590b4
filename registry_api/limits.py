"""How much a request may send the registry: every size limit, in one place (docs/api.md,
"Limits").

Request bodies are capped per route by :class:`~registry_api.middleware.BodyLimitMiddleware`
before anything reads them: a ``Content-Length`` over the cap is refused unread, and a body
sent without one (chunked) is counted as it streams and refused the moment it passes the cap.
Either way the answer is 413 ``too-large``. Routes that take JSON get the whole body read
(it is small) and its shape checked before the route parses it: at most
:data:`~contracts.recursion.MAX_JSON_DEPTH` (64) levels of nesting and
:data:`~contracts.recursion.MAX_JSON_ITEMS` (100,000) items, else 422 ``invalid`` on ``body``.
The import upload is streamed to its route instead, which reads it only after the caller's
key is checked, and parses its file one row at a time (``registry_api.services.import_files``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

KIB: Final = 1024
MIB: Final = 1024 * KIB

#: A JSON request body, unless its route says otherwise. The largest ordinary body is a
#: certificate record, whose list of sites has no fixed length: 1 MiB holds a thousand sites
#: of ordinary length.
JSON_BODY_BYTES: Final = 1 * MIB
#: ``POST /v1/mras`` may carry the arrangement text (at most 1,000,000 characters), which a
#: client may send with every character escaped (``\\uXXXX``, 6 bytes).
MRA_BODY_BYTES: Final = 8 * MIB

#: The largest import file (a national AEO list is a few thousand rows, well below this).
IMPORT_FILE_BYTES: Final = 20 * MIB
#: Rows in one import file; reading stops at the first row past it.
IMPORT_MAX_ROWS: Final = 50_000
#: Lines of an import CSV file: rows whose quoted cells hold line breaks take more than one.
IMPORT_MAX_LINES: Final = 4 * IMPORT_MAX_ROWS
#: One row of an import file (a CSV record or a JSON element): a record with its sites is a
#: few KiB. Reading refuses a longer one before it parses it, so a file that is one huge
#: row costs no more memory than a file of ordinary rows.
IMPORT_ROW_BYTES: Final = 256 * KIB
#: Room for the multipart framing and the ``format`` field around the import file.
MULTIPART_FRAMING_BYTES: Final = 64 * KIB
IMPORT_BODY_BYTES: Final = IMPORT_FILE_BYTES + MULTIPART_FRAMING_BYTES
#: The public lookup's QR form: a photo as large as the border page takes (5 MiB) and the
#: pasted QR text, in a multipart form the route parses itself.
PUBLIC_QR_BODY_BYTES: Final = 5 * MIB + MULTIPART_FRAMING_BYTES


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The cap on one route's request body."""

    max_bytes: int
    #: read the whole body before the route and refuse JSON too deep or with too many
    #: items; False streams it to the route (which checks what it reads itself)
    check_json: bool = True


DEFAULT_BODY_LIMIT: Final = BodyLimit(JSON_BODY_BYTES)
#: path -> its cap, for the routes whose bodies differ from the default
ROUTE_BODY_LIMITS: Final[Mapping[str, BodyLimit]] = {
    "/v1/imports": BodyLimit(IMPORT_BODY_BYTES, check_json=False),
    # the console's upload form takes the same files
    "/console/imports": BodyLimit(IMPORT_BODY_BYTES, check_json=False),
    "/v1/mras": BodyLimit(MRA_BODY_BYTES),
    "/public/lookup": BodyLimit(PUBLIC_QR_BODY_BYTES, check_json=False),
}


def body_limit(path: str) -> BodyLimit:
    """The cap on a request body sent to ``path`` (the request's path, without a query)."""
    return ROUTE_BODY_LIMITS.get(path.rstrip("/") or "/", DEFAULT_BODY_LIMIT)


def describe_bytes(size: int) -> str:
    """``1048576`` -> ``"1 MiB"``, ``65536`` -> ``"64 KiB"``: a limit as people read it."""
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    if size % KIB == 0:
        return f"{size // KIB} KiB"
    return f"{size:,} bytes"
