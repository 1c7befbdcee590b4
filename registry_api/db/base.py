"""The declarative base and the column types every table shares."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so that migrations can name what they alter and
# SQLite and PostgreSQL end up with the same schema.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    SQLite has no time zones and drops them silently; PostgreSQL returns values in the
    session's zone. Values are stored as UTC and always come back as aware UTC datetimes.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware (UTC) datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: PostgreSQL refuses U+0000 in text and JSON (SQLite keeps it); it is stored as U+FFFD.
NUL = "\x00"
NUL_REPLACEMENT = "\ufffd"


def without_nul(value: Any) -> Any:
    """``value`` (a string, or JSON data) with every U+0000 replaced, keys included."""
    if isinstance(value, str):
        return value.replace(NUL, NUL_REPLACEMENT) if NUL in value else value
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(item) for item in value]
    return value


class NulSafeString(TypeDecorator[str]):
    """A string column that stores the same thing on SQLite and PostgreSQL.

    Validated fields never contain U+0000, but some text comes from outside unchecked: a
    file name, a rejected import row's number and errors, a name read from the chain, a
    search term. PostgreSQL refuses U+0000 in text (the write, or a query comparing with
    it, fails); here it is stored and compared as U+FFFD on both backends instead.
    """

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else without_nul(value)


class NulSafeText(NulSafeString):
    impl = sa.Text
    cache_ok = True


class NulSafeJSON(TypeDecorator[Any]):
    """Portable JSON (JSONB on PostgreSQL, so it can be indexed later) whose strings, keys
    included, store U+0000 as U+FFFD (see :class:`NulSafeString`)."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(sa.JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return without_nul(value)


def enum_column(enum_cls: type[StrEnum], length: int = 16) -> sa.Enum:
    """A string column holding ``enum_cls`` values (no native enum: adding a value must not
    need a PostgreSQL ``ALTER TYPE``)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


#: Autoincrementing 64-bit keys; SQLite only autoincrements a column declared INTEGER.
BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: Portable JSON (JSONB on PostgreSQL, so it can be indexed later).
JSONType = NulSafeJSON()


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }
