"""The domain's events built from plain mappings: every event class comes back equal from its
fields as Python values and from its JSON form, and a mapping that does not fit is refused
naming the event and the field."""

from __future__ import annotations

import json
from dataclasses import fields
from enum import Enum
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from contracts.domain.enums import CertificateStatus, ReasonCode
from contracts.domain.events import (
    EVENT_CLASSES,
    CertificateStatusChanged,
    ChainEvent,
    InvalidEvent,
    MraSigned,
    event_from_mapping,
)

EVENTS = sorted(EVENT_CLASSES.values(), key=lambda cls: cls.event_name)


def as_mapping(event: ChainEvent) -> dict[str, Any]:
    return {"event": event.event_name, **{f.name: getattr(event, f.name) for f in fields(event)}}


def as_json(value: Any, *, enum_names: bool) -> Any:
    """The JSON form a fixture would hold: bytes as 0x hex, enums by name or number."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Enum) and enum_names and value.name is not None:
        return value.name
    if isinstance(value, Enum):
        return int(value)
    if isinstance(value, tuple):
        return [as_json(v, enum_names=enum_names) for v in value]
    return value


def a_mapping() -> dict[str, Any]:
    return as_mapping(
        MraSigned(
            block_number=7,
            block_hash=bytes(32),
            block_timestamp=1_700_000_000,
            tx_hash=bytes(32),
            log_index=0,
            address="0x" + "5E" * 20,
            mra_id=1,
            party="KR",
            operator="0x" + "0B" * 20,
        )
    )


@pytest.mark.parametrize("cls", EVENTS, ids=lambda cls: cls.event_name)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_every_event_class_comes_back_equal_from_its_mapping_and_its_json(
    cls: type[ChainEvent], data: st.DataObject
) -> None:
    event = data.draw(st.builds(cls))
    enum_names = data.draw(st.booleans())

    assert event_from_mapping(as_mapping(event)) == event
    text = json.dumps({k: as_json(v, enum_names=enum_names) for k, v in as_mapping(event).items()})
    assert event_from_mapping(json.loads(text)) == event


def test_enum_fields_take_the_members_name_or_number() -> None:
    base = as_mapping(
        CertificateStatusChanged(
            block_number=7,
            block_hash=bytes(32),
            block_timestamp=1_700_000_000,
            tx_hash=bytes(32),
            log_index=0,
            address="0x" + "5E" * 20,
            certificate_id=bytes(32),
            issuer="MN",
            status=CertificateStatus.SUSPENDED,
            reason=ReasonCode.FAILED_AUDIT,
            operator="0x" + "0B" * 20,
        )
    )
    by_name = event_from_mapping({**base, "status": "REVOKED", "reason": "FRAUD"})
    by_number = event_from_mapping({**base, "status": 3, "reason": 5})
    assert isinstance(by_name, CertificateStatusChanged)
    assert by_name.status is CertificateStatus.REVOKED
    assert by_name.reason is ReasonCode.FRAUD
    assert by_number == by_name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event": "Nope"}, "unknown event 'Nope'"),
        ({"event": 7}, "unknown event 7"),
        ({"party": None}, "MraSigned: field 'party': expected text, got NoneType"),
        ({"mra_id": True}, "MraSigned: field 'mra_id': expected an integer, got bool"),
        ({"mra_id": "1"}, "MraSigned: field 'mra_id': expected an integer, got str"),
        ({"block_hash": "0xzz"}, "MraSigned: field 'block_hash': non-hexadecimal"),
        ({"block_hash": 5}, "MraSigned: field 'block_hash': expected bytes or hex, got int"),
    ],
)
def test_a_mapping_that_does_not_fit_is_refused_naming_the_field(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidEvent, match=message):
        event_from_mapping({**a_mapping(), **changes})


def test_a_missing_field_is_named() -> None:
    mapping = a_mapping()
    del mapping["operator"]
    with pytest.raises(InvalidEvent, match="MraSigned: field 'operator' is missing"):
        event_from_mapping(mapping)


def test_a_tuple_field_refuses_text() -> None:
    mapping = {**a_mapping(), "event": "MraProposed", "parties": "MNKR"}
    with pytest.raises(InvalidEvent, match="field 'parties': expected a list, got str"):
        event_from_mapping(mapping)
