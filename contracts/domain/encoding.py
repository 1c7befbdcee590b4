"""The JSON forms every part writes the domain's values in: bytes as 0x hex, enums and flags
as their numbers, times in UTC with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum, IntFlag
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` as JSON: bytes as 0x hex, enums and flags as integers, tuples as lists."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, IntEnum | IntFlag):
        return int(value)
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    return value


def hex0x(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def unhex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def iso(value: datetime) -> str:
    """UTC, second precision, with a ``Z``: how every time in the JSON output reads."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
