"""Bulk-load files: read a CSV or JSON list of existing certificates and validate each row.

Pure functions, no database: :func:`parse_file` checks the file's structure (what a caller
must fix before any row can be read) and returns its rows; :func:`validate_row` turns one
row into a :class:`~contracts.domain.record.CertificateRecord` or into errors that name the
row's field the way the file names it (a CSV column such as ``valid_until``, or a JSON path
such as ``holder.address.country``). The job that issues the valid rows lives in
:mod:`registry_api.services.imports`; docs/api.md ("Bulk import") describes both formats.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from contracts.domain.enums import parse_tier_name
from contracts.domain.record import CertificateRecord
from contracts.recursion import MAX_JSON_DEPTH, json_depth_exceeds

from .. import limits
from ..errors import FieldError, InvalidError

#: the limits of a file (registry_api.limits says why each is what it is)
MAX_FILE_BYTES: Final = limits.IMPORT_FILE_BYTES
MAX_ROWS: Final = limits.IMPORT_MAX_ROWS
MAX_ROW_BYTES: Final = limits.IMPORT_ROW_BYTES
MAX_LINES: Final = limits.IMPORT_MAX_LINES
#: where structural problems point (the multipart field carrying the file)
FILE_FIELD: Final = "body.file"


class ImportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


# ---------------------------------------------------------------- the CSV columns

REQUIRED_COLUMNS: Final = (
    "number",
    "holder_legal_name",
    "holder_street",
    "holder_city",
    "holder_country",
    "holder_id_scheme",
    "holder_id_number",
    "business_roles",
    "tiers",
    "issuing_office",
    "officer",
    "valid_from",
)
OPTIONAL_COLUMNS: Final = (
    "issuer",
    "holder_postal_code",
    "holder_region",
    "sites",
    "validated_criteria",
    "valid_until",
    "aliases",
    "public_consent",
)
COLUMNS: Final = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

#: record path -> CSV column, for naming a field in a CSV row's errors
_CSV_COLUMN_OF: Final[dict[tuple[str, ...], str]] = {
    ("holder", "legal_name"): "holder_legal_name",
    ("holder", "address", "street"): "holder_street",
    ("holder", "address", "city"): "holder_city",
    ("holder", "address", "postal_code"): "holder_postal_code",
    ("holder", "address", "region"): "holder_region",
    ("holder", "address", "country"): "holder_country",
    ("holder", "identification", "scheme"): "holder_id_scheme",
    ("holder", "identification", "number"): "holder_id_number",
    ("holder",): "holder_legal_name",
    ("holder", "address"): "holder_street",
    ("holder", "identification"): "holder_id_number",
}

# ---------------------------------------------------------------- tiers as people write them

_LIST_SPLIT = re.compile(r"[;,+|\s]+")
#: between the aliases of an ``aliases`` cell (a value may hold spaces and commas: ``DE 12,3``)
_ALIAS_SPLIT = re.compile(r"[;|\n]+")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_tiers(value: object) -> int:
    """``3``, ``"3"``, ``"AEOF"``, ``"C+S"``, ``"S; AA"`` or ``["S", "AA"]`` -> the bit set.

    Raises ValueError with a message for the caller; the record checks the range.
    """
    if isinstance(value, bool):
        raise ValueError("must be tier names (C, S, AEOF, A, AA, AAA) or a tier bit set")
    if isinstance(value, int):
        return value
    names: list[str]
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        names = [part for part in _LIST_SPLIT.split(text) if part]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        names = [item.strip() for item in value if item.strip()]
    else:
        raise ValueError("must be tier names (C, S, AEOF, A, AA, AAA) or a tier bit set")
    if not names:
        raise ValueError("is required: name at least one tier (C, S, AEOF, A, AA, AAA)")
    bits = 0
    for name in names:
        bit = parse_tier_name(name)
        if bit is None:
            raise ValueError(f"{name!r} is not a tier; use C, S, AEOF, A, AA, AAA or a bit set")
        bits |= bit
    return bits


# ---------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row as read from the file. ``row_number`` is 1-based: the first data line after
    a CSV header is row 1, the first element of a JSON list is row 1."""

    row_number: int
    values: Mapping[str, Any]
    #: a problem found while reading the row itself (a CSV line with too many values)
    problem: FieldError | None = None


@dataclass(frozen=True, slots=True)
class ParsedFile:
    format: ImportFormat
    rows: list[RawRow]


def detect_format(
    explicit: str | None, filename: str | None, content_type: str | None
) -> ImportFormat:
    """The file's format: the ``format`` field if given, else the file name's extension,
    else its media type."""
    if explicit:
        try:
            return ImportFormat(explicit.strip().lower())
        except ValueError:
            raise InvalidError(
                f"format must be 'csv' or 'json'; got {explicit!r}",
                errors=[FieldError("body.format", "must be 'csv' or 'json'")],
            ) from None
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return ImportFormat.CSV
    if name.endswith(".json"):
        return ImportFormat.JSON
    media = (content_type or "").split(";")[0].strip().lower()
    if media in {"text/csv", "application/csv"}:
        return ImportFormat.CSV
    if media == "application/json":
        return ImportFormat.JSON
    raise InvalidError(
        "cannot tell whether the file is CSV or JSON: name it *.csv or *.json, send it as "
        "text/csv or application/json, or add a 'format' field",
        errors=[FieldError("body.format", "is required when the file name and type do not say")],
    )


def _file_error(message: str) -> InvalidError:
    return InvalidError(f"file: {message}", errors=[FieldError(FILE_FIELD, message)])


_TOO_DEEP = f"nests arrays and objects more than {MAX_JSON_DEPTH} levels deep"
_ROW_TOO_LONG = f"is longer than {MAX_ROW_BYTES // 1024} KiB"


def _decode(data: bytes, fmt: ImportFormat) -> str:
    if not data.strip():
        raise _file_error("is empty")
    if len(data) > MAX_FILE_BYTES:
        raise _file_error(f"is larger than {MAX_FILE_BYTES // 2**20} MiB; split it")
    if fmt is ImportFormat.CSV and data.count(b"\n") > MAX_LINES:
        # Checked at C speed before any line is read: a file of newlines costs nothing.
        raise _file_error(f"has more than {MAX_LINES:,} lines; at most {MAX_ROWS:,} rows per file")
    if fmt is ImportFormat.JSON and json_depth_exceeds(data):
        raise _file_error(_TOO_DEEP)
    try:
        # utf-8-sig: spreadsheet programs start their UTF-8 exports with a byte order mark.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "export it as UTF-8"
        ) from None


def read_rows(data: bytes, fmt: ImportFormat) -> Iterator[RawRow]:
    """The rows of an import file, read one at a time; InvalidError, raised while iterating,
    names what makes the file unreadable.

    Reading stops at the first row past ``MAX_ROWS`` and at the first row longer than
    ``MAX_ROW_BYTES``, before parsing it: whatever the file holds, no more than one row is
    parsed at a time (a JSON element is parsed when it is reached, not the whole document).
    """
    text = _decode(data, fmt)
    count = 0
    # The readers are lazy: refusing row MAX_ROWS + 1 stops them there.
    for row in _csv_rows(text) if fmt is ImportFormat.CSV else _json_rows(text):
        count += 1
        if count > MAX_ROWS:
            raise _file_error(f"has more than {MAX_ROWS:,} rows; at most {MAX_ROWS:,} per file")
        yield row
    if not count:
        raise _file_error("has no rows")


def count_rows(data: bytes, fmt: ImportFormat) -> int:
    """How many rows the file has, reading it as :func:`read_rows` does (keeping none)."""
    return sum(1 for _row in read_rows(data, fmt))


def parse_file(data: bytes, fmt: ImportFormat) -> ParsedFile:
    """The rows of an import file, or InvalidError naming what makes the file unreadable."""
    return ParsedFile(fmt, list(read_rows(data, fmt)))


# ---------------------------------------------------------------- CSV


class _Lines:
    """The text's lines for ``csv.reader``, without copying the text (``io.StringIO`` holds
    four bytes a character). A record (its lines since the last row the reader returned) longer
    than ``MAX_ROW_BYTES`` characters is refused before the reader splits it into cells."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._position = 0
        self.record_chars = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        start = self._position
        if start >= len(self._text):
            raise StopIteration
        end = self._text.find("\n", start, start + MAX_ROW_BYTES + 1)
        end = end + 1 if end >= 0 else min(len(self._text), start + MAX_ROW_BYTES + 1)
        self.record_chars += end - start
        if self.record_chars > MAX_ROW_BYTES:
            raise _file_error(f"a row {_ROW_TOO_LONG}")
        self._position = end
        return self._text[start:end]


def _csv_rows(text: str) -> Iterator[RawRow]:
    first_line = text[:MAX_ROW_BYTES].partition("\n")[0]
    # Spreadsheets in many locales export with semicolons; the header tells which.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise _file_error("has no header line")
        columns = [name.strip().lower() for name in header]
        _check_header(columns)
        for index, cells in enumerate(reader, start=1):
            lines.record_chars = 0
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows (they still count in the numbering)
            problem = None
            # Fewer cells than columns: hand-written files leave trailing optional cells
            # out. More cells: a value would have no column, so the row is refused.
            if len(cells) > len(columns):
                problem = FieldError(
                    "row", f"has {len(cells)} values; the header has {len(columns)} columns"
                )
            values = {
                name: cell for name, cell in zip(columns, cells, strict=False) if cell.strip()
            }
            yield RawRow(index, values, problem)
    except csv.Error as exc:
        raise _file_error(f"is not valid CSV (line {reader.line_num}): {exc}") from None


def _check_header(columns: Sequence[str]) -> None:
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        raise _file_error(
            f"unknown column(s) {', '.join(repr(n) for n in unknown)}; "
            f"the columns are: {', '.join(COLUMNS)}"
        )
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise _file_error(f"column(s) {', '.join(duplicated)} appear more than once")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise _file_error(f"the header lacks the required column(s) {', '.join(missing)}")


# ---------------------------------------------------------------- JSON

_DECODER: Final = json.JSONDecoder()
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
#: first window a JSON element is parsed in; it grows fourfold up to MAX_ROW_BYTES
_FIRST_WINDOW: Final = 4096
#: an error this close to a window's end may be the window's, not the file's
_CUT_MARGIN: Final = 8
_NOT_A_LIST: Final = 'must be a JSON list of records, or {"certificates": [...]}'
_ONE_MEMBER: Final = (
    "a JSON object must have exactly one member, 'certificates' (a list of records)"
)


def _invalid_json(text: str, position: int, message: str) -> InvalidError:
    located = json.JSONDecodeError(message, text, position)
    return _file_error(
        f"is not valid JSON (line {located.lineno}, column {located.colno}): {message}"
    )


def _skip(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _json_value(text: str, position: int, row_number: int) -> tuple[Any, int]:
    """The JSON value at ``position`` and where it ends, parsed in a window of the text: a
    value longer than ``MAX_ROW_BYTES`` is refused without being parsed whole."""
    window = _FIRST_WINDOW
    while True:
        end = position + window
        try:
            if end >= len(text):
                return _DECODER.raw_decode(text, position)
            value, used = _DECODER.raw_decode(text[position:end])
        except json.JSONDecodeError as exc:
            if end >= len(text):
                raise _invalid_json(text, exc.pos, exc.msg) from None
            cut = exc.pos >= window - _CUT_MARGIN or exc.msg.startswith("Unterminated string")
            if not cut:
                raise _invalid_json(text, position + exc.pos, exc.msg) from None
        except RecursionError:  # not reached below MAX_JSON_DEPTH; a last guard
            raise _file_error(_TOO_DEEP) from None
        else:
            # A number or literal that ends at the window's end may go on past it.
            if used < window:
                return value, position + used
        if window >= MAX_ROW_BYTES:
            raise _file_error(f"row {row_number} {_ROW_TOO_LONG}")
        window = min(window * 4, MAX_ROW_BYTES)


def _json_rows(text: str) -> Iterator[RawRow]:
    """The elements of the document's list, as rows, parsed one by one as they are reached."""
    position = _skip(text, 0)
    enveloped = text.startswith("{", position)
    if enveloped:
        position = _skip(text, position + 1)
        if not text.startswith('"', position):
            if text.startswith("}", position):
                raise _file_error(_ONE_MEMBER)
            raise _invalid_json(text, position, "Expecting property name enclosed in double quotes")
        name, position = _json_value(text, position, 0)
        if name != "certificates":
            raise _file_error(_ONE_MEMBER)
        position = _skip(text, position)
        if not text.startswith(":", position):
            raise _invalid_json(text, position, "Expecting ':' delimiter")
        position = _skip(text, position + 1)
    if not text.startswith("[", position):
        # A value of another kind, or no JSON at all: the parser says which.
        _json_value(text, position, 0)
        raise _file_error(_NOT_A_LIST)
    position = _skip(text, position + 1)
    row_number = 0
    if text.startswith("]", position):
        position += 1
    else:
        while True:
            row_number += 1
            item, position = _json_value(text, position, row_number)
            if isinstance(item, dict):
                yield RawRow(row_number, item)
            else:
                problem = FieldError("row", f"must be a JSON object, not {_kind(item)}")
                yield RawRow(row_number, {}, problem)
            position = _skip(text, position)
            if text.startswith(",", position):
                position = _skip(text, position + 1)
            elif text.startswith("]", position):
                position += 1
                break
            else:
                raise _invalid_json(text, position, "Expecting ',' delimiter")
    position = _skip(text, position)
    if enveloped:
        if text.startswith(",", position):
            raise _file_error(_ONE_MEMBER)
        if not text.startswith("}", position):
            raise _invalid_json(text, position, "Expecting ',' delimiter")
        position = _skip(text, position + 1)
    if position < len(text):
        raise _invalid_json(text, position, "Extra data")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


# ---------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class RowResult:
    row_number: int
    #: the row's certificate number as written (None when missing), for reports
    number: str | None
    record: CertificateRecord | None = None
    errors: list[FieldError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.record is not None


def validate_row(raw: RawRow, fmt: ImportFormat, issuer: str) -> RowResult:
    """One row to a record of ``issuer`` (this administration), or its errors."""
    number = raw.values.get("number")
    number_text = number.strip()[:32] if isinstance(number, str) and number.strip() else None
    if raw.problem is not None:
        return RowResult(raw.row_number, number_text, errors=[raw.problem])
    errors: list[FieldError] = []
    data = _csv_to_record_dict(raw.values, errors) if fmt is ImportFormat.CSV else dict(raw.values)

    given_issuer = data.pop("issuer", None)
    if given_issuer is not None and given_issuer != issuer:
        errors.append(FieldError("issuer", f"must be {issuer} (this administration) or left out"))
    data["issuer"] = issuer
    if "tiers" in data and not isinstance(data["tiers"], int):
        try:
            data["tiers"] = parse_tiers(data["tiers"])
        except ValueError as exc:
            errors.append(FieldError("tiers", str(exc)))
            data.pop("tiers")
    _upper_codes(data)
    dates_out_of_order = _dates_out_of_order(data)
    if dates_out_of_order:
        errors.append(FieldError("valid_until", "must be on or after valid_from"))

    try:
        record = CertificateRecord.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error.get("loc", ()))
            if not loc and dates_out_of_order:
                continue  # the date-order rule, already reported on valid_until
            if loc == ("tiers",) and any(e.field == "tiers" for e in errors):
                continue
            errors.append(FieldError(_field_name(loc, fmt), _message(error)))
        return RowResult(raw.row_number, number_text, errors=_unique(errors))
    if errors:
        return RowResult(raw.row_number, number_text, errors=_unique(errors))
    return RowResult(raw.row_number, number_text, record=record)


def _unique(errors: list[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str]] = set()
    unique: list[FieldError] = []
    for error in errors:
        if (error.field, error.message) not in seen:
            seen.add((error.field, error.message))
            unique.append(error)
    return unique


def _split_list(value: str) -> list[str]:
    return [part for part in _LIST_SPLIT.split(value.strip()) if part]


def _csv_to_record_dict(values: Mapping[str, str], errors: list[FieldError]) -> dict[str, Any]:
    """A CSV row's cells in the record's shape (absent cells stay absent)."""
    cell = values.get
    address = {
        key: cell(f"holder_{key}")
        for key in ("street", "city", "postal_code", "region", "country")
        if cell(f"holder_{key}") is not None
    }
    identification = {
        key: cell(f"holder_id_{key}")
        for key in ("scheme", "number")
        if cell(f"holder_id_{key}") is not None
    }
    holder: dict[str, Any] = {"address": address, "identification": identification}
    if cell("holder_legal_name") is not None:
        holder["legal_name"] = cell("holder_legal_name")
    data: dict[str, Any] = {"holder": holder}
    for name in ("issuer", "number", "tiers", "issuing_office", "officer"):
        if cell(name) is not None:
            data[name] = cell(name)
    for name in ("valid_from", "valid_until"):
        if cell(name) is not None:
            data[name] = str(cell(name)).strip()
    data["business_roles"] = _split_list(cell("business_roles") or "")
    data["validated_criteria"] = _split_list(cell("validated_criteria") or "")
    aliases = cell("aliases")
    if aliases is not None:
        data["aliases"] = _csv_aliases(aliases, errors)
    consent = cell("public_consent")
    if consent is not None:
        data["public_consent"] = {"date": consent.strip()}
    sites = cell("sites")
    if sites is not None:
        if json_depth_exceeds(sites.encode()):
            errors.append(FieldError("sites", f"must be a JSON list of sites; it {_TOO_DEEP}"))
        else:
            try:
                data["sites"] = json.loads(sites)
            except json.JSONDecodeError as exc:
                errors.append(FieldError("sites", f"must be a JSON list of sites: {exc.msg}"))
    return data


def _csv_aliases(cell: str, errors: list[FieldError]) -> list[dict[str, str]]:
    """``EORI=DE123456789; NAT:KZ-BIN=123456789012`` -> the record's aliases."""
    aliases = []
    for entry in _ALIAS_SPLIT.split(cell):
        if not entry.strip():
            continue
        scheme, equals, value = entry.partition("=")
        if not equals or not scheme.strip() or not value.strip():
            errors.append(
                FieldError(
                    "aliases",
                    f"{entry.strip()!r} is not SCHEME=VALUE; write aliases as "
                    "EORI=DE123456789; TIN=5012345 (separated by ';')",
                )
            )
            continue
        aliases.append({"scheme": scheme.strip(), "value": value.strip()})
    return aliases


def _upper_codes(data: dict[str, Any]) -> None:
    """Codes are case-insensitive identifiers: legacy lists write ``tin`` or ``mn``."""

    def upper(value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    for name in ("business_roles", "validated_criteria"):
        if isinstance(data.get(name), list):
            data[name] = [upper(item) for item in data[name]]
    holder = data.get("holder")
    if isinstance(holder, dict):
        if isinstance(holder.get("address"), dict):
            holder["address"] = {**holder["address"]}
            if "country" in holder["address"]:
                holder["address"]["country"] = upper(holder["address"]["country"])
        if isinstance(holder.get("identification"), dict):
            holder["identification"] = {**holder["identification"]}
            if "scheme" in holder["identification"]:
                holder["identification"]["scheme"] = upper(holder["identification"]["scheme"])
    sites = data.get("sites")
    if isinstance(sites, list):
        fixed = []
        for site in sites:
            if isinstance(site, dict) and isinstance(site.get("address"), dict):
                site = {**site, "address": {**site["address"]}}
                if "country" in site["address"]:
                    site["address"]["country"] = upper(site["address"]["country"])
            fixed.append(site)
        data["sites"] = fixed


def _as_date(value: object) -> date | None:
    if isinstance(value, str) and _DATE_RE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _dates_out_of_order(data: Mapping[str, Any]) -> bool:
    start, end = _as_date(data.get("valid_from")), _as_date(data.get("valid_until"))
    return start is not None and end is not None and end < start


def _field_name(loc: tuple[Any, ...], fmt: ImportFormat) -> str:
    """Where an error is, named as the file names it."""
    if not loc:
        return "row"
    if fmt is ImportFormat.CSV:
        if loc[0] in {"business_roles", "validated_criteria"}:
            return str(loc[0])
        if loc[0] == "sites":
            return _json_path(loc)
        if loc[0] in {"aliases", "public_consent"}:
            return str(loc[0])
        column = _CSV_COLUMN_OF.get(tuple(str(part) for part in loc))
        if column is not None:
            return column
    return _json_path(loc)


def _json_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


_CODE_RULE = "an upper-case code: a letter, then up to 15 of A-Z, 0-9, '.', '_', '-'"


def _message(error: Mapping[str, Any]) -> str:
    """A pydantic error, reworded for someone fixing a spreadsheet."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    given = error.get("input")
    loc = tuple(error.get("loc", ()))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of a certificate record"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "country":
            return f"{given!r} is not an ISO 3166-1 alpha-2 country code (two letters, e.g. MN)"
        return f"{given!r} is not {_CODE_RULE}"
    if kind.startswith("date") or kind == "datetime_from_date_parsing":
        return f"{given!r} is not a date written YYYY-MM-DD"
    if kind == "too_short" and loc and loc[0] == "business_roles":
        return "must name at least one business role (e.g. IM, EX)"
    if kind in {"greater_than_equal", "less_than_equal"} and loc == ("tiers",):
        return "must be a tier bit set 1..31 (C=1, S=2, A=4, AA=8, AAA=16)"
    if kind == "value_error":
        cause = ctx.get("error")
        return str(cause) if cause is not None else str(error.get("msg", "is invalid"))
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return "must be an object"
    if kind == "list_type":
        return "must be a list"
    if kind in {"string_type", "str_type"}:
        return "must be text"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return "must be a whole number"
    return str(error.get("msg", "is invalid"))
