"""What partners read in the feed, pinned: the ``payload`` of each entry (its keys, the type
of every value, and every value that does not depend on when or where the test runs) after
an issue, an amendment, a renewal, a suspension and an MRA proposal, beside the consortium's
own founding events. A change to the event model under the indexer must leave it equal.

Values that differ between runs (hashes, addresses, block numbers, times, dates) are
compared by their form: ``<bytes32>`` is 0x and 64 lower-case hex digits, ``<address>`` a
checksummed address, ``<int>`` and ``<day>`` integers, ``<time>`` and ``<date>`` ISO 8601.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_utils.address import is_checksum_address

from contracts.domain import days, ids
from contracts.domain.enums import ReasonCode
from registry_api.db import Role

from .conftest import ChainApp, ChainAppFactory
from .feed_support import C, S, chain_day, issue, propose_mra, record

EXPECTED = Path(__file__).with_name("feed_payload.snapshot.json")
NUMBER = "MN-SHAPE-1"

_FORMS: dict[str, Callable[[Any], bool]] = {
    "<bytes32>": lambda v: isinstance(v, str) and re.fullmatch(r"0x[0-9a-f]{64}", v) is not None,
    "<address>": lambda v: isinstance(v, str) and is_checksum_address(v),
    "<int>": lambda v: type(v) is int,
    "<day>": lambda v: type(v) is int and 0 <= v <= days.MAX_DAY,
    "<time>": lambda v: (
        isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v) is not None
    ),
    "<date>": lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", v) is not None,
}
# Which values vary between runs, by key, and the form they must have.
_VARYING: dict[str, str] = {
    "block_number": "<int>",
    "log_index": "<int>",
    "block_hash": "<bytes32>",
    "tx_hash": "<bytes32>",
    "certificate_id": "<bytes32>",
    "holder_ref": "<bytes32>",
    "commitment": "<bytes32>",
    "block_time": "<time>",
    "admin": "<address>",
    "account": "<address>",
    "by": "<address>",
    "operator": "<address>",
    "valid_from": "<day>",
    "valid_until": "<day>",
    "effective_from": "<day>",
}


def shape(value: Any, key: str | None = None, *, dates: bool = False) -> Any:
    """``value`` with each varying value replaced by its form (checked)."""
    if isinstance(value, dict):
        return {k: shape(v, k, dates=dates or k == "certificate") for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    form = _VARYING.get(key or "")
    if form == "<day>" and dates:
        form = "<date>"  # the certificate's state shows its dates as ISO dates
    if form is None:
        return value
    assert _FORMS[form](value), f"{key}: {value!r} is not of the form {form}"
    return form


def feed_payloads(chain_app: ChainAppFactory) -> list[dict[str, Any]]:
    mn: ChainApp = chain_app("MN")
    consortium = mn.consortium
    day = chain_day(consortium.chain)
    certificate_id = issue(
        consortium, NUMBER, S, valid_from=day - 30, valid_until=day + 100, service=mn
    )
    amended = record("MN", NUMBER, S | C, days.from_day(day - 30)).hashes()
    operator = consortium.operator("MN")
    operator.amend(
        certificate_id, S | C, amended.holder_ref, amended.commitment, ReasonCode.TIER_CHANGE
    )
    operator.renew(certificate_id, day + 400, ReasonCode.REASSESSED)
    operator.suspend(certificate_id, ReasonCode.FAILED_AUDIT)
    propose_mra(consortium, "MN", {"MN": S, "KR": S}, signers=())
    mn.settle()
    answer = mn.client.get("/v1/feed", params={"limit": 100}, headers=mn.headers(Role.ADMIN))
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert not page["has_more"]
    return [{"kind": entry["kind"], "payload": entry["payload"]} for entry in page["data"]]


def test_feed_payloads_keep_their_keys_types_and_values(chain_app: ChainAppFactory) -> None:
    entries = feed_payloads(chain_app)
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert [shape(entry) for entry in entries] == expected


def test_the_issued_number_is_the_abi_bytes32_and_the_status_a_number(
    chain_app: ChainAppFactory,
) -> None:
    entries = {entry["kind"]: entry["payload"] for entry in feed_payloads(chain_app)}
    issued = entries["certificate.issued"]["data"]
    assert issued["number"] == "0x" + ids.certificate_number(NUMBER).hex()
    assert entries["certificate.suspended"]["data"]["status"] == 2
    assert entries["certificate.suspended"]["certificate"]["status"] == "suspended"
