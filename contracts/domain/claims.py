"""What an AEO1 QR code states about one certificate: the claims, their validation and the
holder-name rules (docs/qr-format.md, "Claims" and "Names").

The issuer builds claims from its off-chain record (:meth:`Claims.from_record`); the verifier
reads them from the QR's CBOR map (:meth:`Claims.from_cbor_map`). Both validate every field
and raise :class:`~contracts.domain.errors.InvalidClaim` naming it; the verifier reports it as
its ``bad_claims`` stage error (``verifier.payload.claims_from_cbor``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Final

from contracts.domain import days, ids
from contracts.domain.errors import InvalidClaim

NAME_MAX_BYTES: Final = 80
NAME_MIN_BYTES: Final = 16
ELLIPSIS: Final = "…"
DIGEST_LENGTH: Final = 20

_SCHEME_RE = re.compile(r"^[A-Z][A-Z0-9-]{1,9}$")
_HOLDER_ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9\-/.]{0,34}$")
_MAX_ISSUED_AT = 2**40
_MAX_U16 = 2**16 - 1
# Characters that would let a name rewrite the officer's screen: C0/C1 controls and the
# bidirectional overrides/isolates that can make one name display as another.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
# One search finds the first of them: Unicode category Cc is exactly U+0000-001F and
# U+007F-009F, Cs exactly the surrogates U+D800-DFFF (tests check every code point).
_NAME_CONTROL_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(_BIDI_CONTROLS)) + "]"
)


class ClaimKey:
    """The integer keys of the claims map (docs/qr-format.md, "Claims")."""

    ISSUER: Final = 1
    NUMBER: Final = 2
    HOLDER_NAME: Final = 3
    HOLDER_ID_SCHEME: Final = 4
    HOLDER_ID: Final = 5
    TIERS: Final = 6
    VALID_FROM: Final = 7
    VALID_UNTIL: Final = 8
    ISSUED_AT: Final = 9
    VERSION: Final = 10
    DIGEST: Final = 11


_FIELD_OF_KEY: Final[dict[int, str]] = {
    ClaimKey.ISSUER: "issuer",
    ClaimKey.NUMBER: "number",
    ClaimKey.HOLDER_NAME: "holder_name",
    ClaimKey.HOLDER_ID_SCHEME: "holder_id_scheme",
    ClaimKey.HOLDER_ID: "holder_id",
    ClaimKey.TIERS: "tiers",
    ClaimKey.VALID_FROM: "valid_from",
    ClaimKey.VALID_UNTIL: "valid_until",
    ClaimKey.ISSUED_AT: "issued_at",
    ClaimKey.VERSION: "version",
    ClaimKey.DIGEST: "digest",
}
_KEY_OF_FIELD: Final = {name: key for key, name in _FIELD_OF_KEY.items()}


@dataclass(frozen=True)
class Claims:
    """What an AEO1 QR code states about one certificate.

    Dates are whole UTC days since 1970-01-01 (the contracts' ``uint16``), ``issued_at`` is
    the signing time in unix seconds, ``digest`` is ``contracts.domain.ids.record_digest(holderRef,
    commitment)``. The certificate id is not carried: :attr:`certificate_id` derives it.
    Construction validates every field and raises :class:`InvalidClaim` naming the field.
    """

    issuer: str
    number: str
    holder_name: str
    holder_id_scheme: str
    holder_id: str
    tiers: int
    valid_from: int
    valid_until: int
    issued_at: int
    version: int
    digest: bytes

    def __post_init__(self) -> None:
        for name in ("issuer", "number", "holder_name", "holder_id_scheme", "holder_id"):
            if type(getattr(self, name)) is not str:
                raise InvalidClaim(name, "must be a text string")
        for name in ("tiers", "valid_from", "valid_until", "issued_at", "version"):
            # bool is an int subclass; a CBOR true must not pass for the number 1.
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidClaim(name, "must be an unsigned integer")
        if type(self.digest) is not bytes:
            raise InvalidClaim("digest", "must be a byte string")
        _check(self.issuer, ids.authority_code, "issuer")
        _check(self.number, ids.certificate_number, "number")
        _check_name(self.holder_name)
        if not _SCHEME_RE.match(self.holder_id_scheme):
            raise InvalidClaim(
                "holder_id_scheme", "must be 2 to 10 of A-Z, 0-9, '-' starting with a letter"
            )
        if not _HOLDER_ID_RE.match(self.holder_id):
            raise InvalidClaim(
                "holder_id", "must be 1 to 35 of A-Z, 0-9, '-', '/', '.' (upper case, no spaces)"
            )
        if not 1 <= self.tiers <= 255:
            raise InvalidClaim(
                "tiers", f"must be a non-empty tier bit set 1..255, got {self.tiers}"
            )
        for name in ("valid_from", "valid_until"):
            if not 0 <= getattr(self, name) <= _MAX_U16:
                raise InvalidClaim(name, f"must be a day number 0..{_MAX_U16}")
        if self.valid_until < self.valid_from:
            raise InvalidClaim("valid_until", "is before valid_from")
        if not 0 <= self.issued_at < _MAX_ISSUED_AT:
            raise InvalidClaim("issued_at", "must be unix seconds 0..2^40")
        if not 1 <= self.version <= _MAX_U16:
            raise InvalidClaim("version", f"must be 1..{_MAX_U16}, got {self.version}")
        if len(self.digest) != DIGEST_LENGTH:
            raise InvalidClaim("digest", f"must be {DIGEST_LENGTH} bytes, got {len(self.digest)}")

    @classmethod
    def from_record(
        cls,
        *,
        issuer: str,
        number: str,
        holder_name: str,
        holder_id_scheme: str,
        holder_id: str,
        tiers: int,
        valid_from: date,
        valid_until: date,
        issued_at: datetime | int,
        version: int,
        commitment: bytes,
    ) -> Claims:
        """Claims for an off-chain record, as the issuer builds them.

        Normalizes the holder identification exactly as ``contracts.domain.ids.holder_ref`` does,
        shortens the name to ``NAME_MAX_BYTES`` (:func:`shorten_name`; :func:`build` may cut
        it further to fit the QR) and computes the record digest.
        """
        scheme = holder_id_scheme.strip().upper()
        identifier = "".join(holder_id.split()).upper()
        try:
            digest = ids.record_digest(ids.holder_ref(scheme, identifier), commitment)
        except ValueError as exc:
            raise InvalidClaim("commitment", str(exc)) from exc
        try:
            valid_from_day, valid_until_day = days.to_day(valid_from), days.to_day(valid_until)
        except ValueError as exc:
            raise InvalidClaim("valid_from/valid_until", str(exc)) from exc
        return cls(
            issuer=issuer,
            number=number,
            holder_name=shorten_name(holder_name, NAME_MAX_BYTES),
            holder_id_scheme=scheme,
            holder_id=identifier,
            tiers=int(tiers),
            valid_from=valid_from_day,
            valid_until=valid_until_day,
            issued_at=int(issued_at.timestamp() if isinstance(issued_at, datetime) else issued_at),
            version=int(version),
            digest=digest,
        )

    @property
    def certificate_id(self) -> bytes:
        """The on-chain id, derived: ``contracts.domain.ids.certificate_id(issuer, number)``."""
        return ids.certificate_id(self.issuer, self.number)

    @property
    def holder_ref(self) -> bytes:
        return ids.holder_ref(self.holder_id_scheme, self.holder_id)

    @property
    def name_truncated(self) -> bool:
        return self.holder_name.endswith(ELLIPSIS)

    def to_cbor_map(self) -> dict[int, object]:
        return {key: getattr(self, field) for key, field in _FIELD_OF_KEY.items()}

    @classmethod
    def from_cbor_map(cls, claims: Mapping[object, object]) -> Claims:
        """The claims stage: a decoded CBOR map to validated claims."""
        if claims.keys() == _FIELD_OF_KEY.keys():  # every key, no other: nothing to name
            fields: dict[str, Any] = {field: claims[key] for key, field in _FIELD_OF_KEY.items()}
            return cls(**fields)
        unknown = sorted(repr(key) for key in claims if key not in _FIELD_OF_KEY)
        if unknown:
            raise InvalidClaim(unknown[0], "is not an AEO1 claim key (AEO1 has keys 1 to 11)")
        values: dict[str, Any] = {}
        for key, field in _FIELD_OF_KEY.items():
            if key not in claims:
                raise InvalidClaim(field, f"is missing (key {key})")
            values[field] = claims[key]
        return cls(**values)

    def to_json_dict(self) -> dict[str, object]:
        """JSON-ready claims: the fields as carried, plus the derived id and ISO dates."""
        data: dict[str, object] = asdict(self)
        data["digest"] = "0x" + self.digest.hex()
        data["certificate_id"] = "0x" + self.certificate_id.hex()
        data["valid_from_date"] = days.from_day(self.valid_from).isoformat()
        data["valid_until_date"] = days.from_day(self.valid_until).isoformat()
        return data

    @classmethod
    def from_json_dict(cls, data: Mapping[str, object]) -> Claims:
        """Inverse of :meth:`to_json_dict` (derived fields are ignored)."""
        values = {field: data[field] for field in _KEY_OF_FIELD}
        digest = values["digest"]
        if not isinstance(digest, str) or not digest.startswith("0x"):
            raise InvalidClaim("digest", "must be 0x-prefixed hex in JSON")
        values["digest"] = bytes.fromhex(digest[2:])
        return cls(**values)  # type: ignore[arg-type]


def _check(value: str, validator: Any, field: str) -> None:
    try:
        validator(value)
    except ValueError as exc:
        raise InvalidClaim(field, str(exc)) from exc


def _check_name(name: str) -> None:
    encoded = name.encode("utf-8", errors="surrogatepass")
    if not name.strip():
        raise InvalidClaim("holder_name", "is empty")
    if len(encoded) > NAME_MAX_BYTES:
        raise InvalidClaim("holder_name", f"is longer than {NAME_MAX_BYTES} UTF-8 bytes")
    control = _NAME_CONTROL_RE.search(name)
    if control:
        raise InvalidClaim(
            "holder_name", f"contains the control character U+{ord(control.group()):04X}"
        )


# ---------------------------------------------------------------- holder name rules

# Legal forms abbreviated before any cut, longest first, so a long name loses its legal-form
# words (which an officer recognizes abbreviated) before it loses distinctive words.
LEGAL_FORM_ABBREVIATIONS: Final[tuple[tuple[str, str], ...]] = (
    ("Хязгаарлагдмал хариуцлагатай компани", "ХХК"),
    ("Товарищество с ограниченной ответственностью", "ТОО"),
    ("Общество с ограниченной ответственностью", "ООО"),
    ("Публичное акционерное общество", "ПАО"),
    ("Акционерное общество", "АО"),
    ("Gesellschaft mit beschränkter Haftung", "GmbH"),
    ("Limited Liability Partnership", "LLP"),
    ("Limited Liability Company", "LLC"),
    ("Public Limited Company", "PLC"),
    ("Joint Stock Company", "JSC"),
    ("Aktiengesellschaft", "AG"),
    ("Company Limited", "Co., Ltd."),
    ("Corporation", "Corp."),
    ("Incorporated", "Inc."),
    ("Limited", "Ltd."),
)
_LEGAL_FORM_RES = tuple(
    (re.compile(rf"(?<!\w){re.escape(long)}(?!\w)", re.IGNORECASE), short)
    for long, short in LEGAL_FORM_ABBREVIATIONS
)


def normalize_name(name: str) -> str:
    """NFC, and every run of whitespace as one space: the form the QR carries."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def shorten_name(name: str, max_bytes: int) -> str:
    """The holder name in at most ``max_bytes`` UTF-8 bytes (docs/qr-format.md, "Names").

    1. normalize (NFC, single spaces); 2. if too long, abbreviate legal forms;
    3. if still too long, cut at a character boundary, at the last word boundary when that
    keeps at least two thirds of the room, and end with "…" so the officer sees the cut.
    """
    text = normalize_name(name)
    if len(text.encode()) <= max_bytes:
        return text
    for pattern, short in _LEGAL_FORM_RES:
        text = pattern.sub(short, text)
    if len(text.encode()) <= max_bytes:
        return text
    room = max_bytes - len(ELLIPSIS.encode())
    cut = ""
    for char in text:
        if len((cut + char).encode()) > room:
            break
        cut += char
    if unicodedata.combining(text[len(cut) : len(cut) + 1] or "a"):
        # The next mark belongs to the last base character kept: drop that character (and
        # the marks kept with it) rather than show it with half its accents.
        while cut and unicodedata.combining(cut[-1]):
            cut = cut[:-1]
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space > 0 and len(cut[:space].encode()) >= room * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:-/.") + ELLIPSIS
