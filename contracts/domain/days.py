"""Dates as the contracts keep them: whole UTC days since 1970-01-01, in a ``uint16``.

``Day`` is a distinct type, not an alias of ``int``: signing keys' ``valid_from`` and
``revoked_at`` are unix seconds while certificate and MRA dates are days, and both used to be
bare ``int``. The boundaries that read days (the chain's logs and views, the offline cache's
rows, the indexer's JSON) wrap them once; everything inside takes ``Day``.

A ``uint16`` day is good until 2149-06-06. ``valid_until`` is inclusive: a certificate is
expired from the day after it, and :data:`OPEN_ENDED` (the largest day) means no end date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final, NewType

Day = NewType("Day", int)

EPOCH: Final = date(1970, 1, 1)
MAX_DAY: Final = 2**16 - 1
#: ``validUntil`` of a certificate with no end date
OPEN_ENDED: Final = Day(MAX_DAY)
_SECONDS_PER_DAY: Final = 86400


def to_day(value: date) -> Day:
    """A calendar date as whole days since 1970-01-01 (the contracts' uint16 date)."""
    day = (value - EPOCH).days
    if not 0 <= day <= MAX_DAY:
        raise ValueError(f"date {value.isoformat()} is outside 1970-01-01..2149-06-06")
    return Day(day)


def from_day(day: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + day)


def day_of(timestamp: int) -> Day:
    """The UTC day of a unix timestamp (what the contracts compute from block.timestamp)."""
    return Day(timestamp // _SECONDS_PER_DAY)


def today() -> Day:
    """The UTC day now."""
    return day_of(int(datetime.now(UTC).timestamp()))


def as_day(value: date | int, field: str) -> Day:
    """A date or a day number, checked to fit the contracts' ``uint16``; ValueError naming
    ``field`` otherwise."""
    if isinstance(value, date):
        return to_day(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_DAY:
        raise ValueError(f"{field} must be a date or a day number 0..{MAX_DAY}; got {value!r}")
    return Day(value)


def day_or_open(value: date | None) -> Day:
    """An end date as the contracts store it: no date is :data:`OPEN_ENDED`."""
    return to_day(value) if value is not None else OPEN_ENDED


def date_or_none(day: int | None) -> date | None:
    """A stored end day as a date; None for no day or :data:`OPEN_ENDED`."""
    if day is None or day == OPEN_ENDED:
        return None
    return from_day(day)


def iso_or_none(day: int | None) -> str | None:
    """:func:`date_or_none` in ISO 8601 (``2025-01-15``)."""
    found = date_or_none(day)
    return found.isoformat() if found is not None else None
