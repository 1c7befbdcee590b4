"""Day numbers: whole UTC days since 1970-01-01 in the contracts' uint16, with OPEN_ENDED (the
largest) for "no end date"."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.domain import days
from contracts.domain.days import MAX_DAY, OPEN_ENDED


def test_a_date_and_its_day_number_round_trip_at_both_ends_of_the_range() -> None:
    assert days.to_day(date(1970, 1, 1)) == 0
    assert days.to_day(date(2149, 6, 6)) == MAX_DAY
    assert days.from_day(MAX_DAY) == date(2149, 6, 6)
    assert days.from_day(days.to_day(date(2025, 1, 15))) == date(2025, 1, 15)


@pytest.mark.parametrize("outside", [date(1969, 12, 31), date(2149, 6, 7)])
def test_a_date_outside_the_uint16_range_is_refused(outside: date) -> None:
    with pytest.raises(ValueError, match=r"outside 1970-01-01\.\.2149-06-06"):
        days.to_day(outside)


def test_the_day_of_a_timestamp_is_its_utc_day() -> None:
    last_second = int(datetime(2025, 1, 15, 23, 59, 59, tzinfo=UTC).timestamp())
    assert days.day_of(last_second) == days.to_day(date(2025, 1, 15))
    assert days.day_of(last_second + 1) == days.to_day(date(2025, 1, 16))


def test_today_is_the_utc_day_now() -> None:
    assert days.today() == days.to_day(datetime.now(UTC).date())


@pytest.mark.parametrize(
    ("value", "day"), [(date(1970, 1, 2), 1), (0, 0), (MAX_DAY, MAX_DAY), (20000, 20000)]
)
def test_as_day_takes_a_date_or_a_day_number(value: date | int, day: int) -> None:
    assert days.as_day(value, "valid_from") == day


@pytest.mark.parametrize("bad", [-1, MAX_DAY + 1, "20000", 1.5, None])
def test_as_day_names_the_field_it_refuses(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^valid_until must be a date or a day number 0\.\.65535"):
        days.as_day(bad, "valid_until")  # type: ignore[arg-type]


def test_no_end_date_is_stored_as_open_ended_and_read_back_as_none() -> None:
    assert days.day_or_open(None) == OPEN_ENDED == MAX_DAY
    assert days.day_or_open(date(2030, 1, 14)) == days.to_day(date(2030, 1, 14))
    assert days.date_or_none(OPEN_ENDED) is None
    assert days.date_or_none(None) is None
    assert days.date_or_none(days.to_day(date(2030, 1, 14))) == date(2030, 1, 14)
    assert days.iso_or_none(days.to_day(date(2030, 1, 14))) == "2030-01-14"
    assert days.iso_or_none(OPEN_ENDED) is None
