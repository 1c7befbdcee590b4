"""Registry events read from the chain: raw logs decoded into the domain's event classes
(:mod:`contracts.domain.events`), and a paged, ordered log reader.

``fetch_events`` pages ``eth_getLogs`` because Besu refuses a log query spanning more than
1,000 blocks; ``iter_event_pages`` yields one page at a time so the indexer can save its cursor
after each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from functools import cache
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from eth_abi.abi import decode as abi_decode
from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.types import LogReceipt, TxReceipt

from contracts.artifacts import MRAS, REGISTRY, load_artifact
from contracts.chain import Chain
from contracts.deploy import Deployment
from contracts.domain import ids
from contracts.domain.days import Day
from contracts.domain.events import (
    EVENT_CLASSES,
    Address,
    AuthorityCode,
    CertificateNumber,
    ChainEvent,
    field_name,
)
from contracts.errors import EventDecodeError, translate_errors

BESU_MAX_LOG_RANGE = 1000

E = TypeVar("E", bound=ChainEvent)


@dataclass(frozen=True)
class _EventSpec:
    cls: type[ChainEvent]
    abi: ABIEvent
    converters: tuple[tuple[str, str, bool, Any], ...]  # (field, abi type, indexed, to python)


def _converter(hint: Any) -> Any:
    """A function turning one decoded ABI value into the field's Python type."""
    if get_origin(hint) is tuple:
        inner = _converter(get_args(hint)[0])
        return lambda values: tuple(inner(v) for v in values)
    if hint is AuthorityCode:
        return lambda raw: AuthorityCode(ids.authority_code_str(bytes(raw)))
    if hint is CertificateNumber:
        return lambda raw: CertificateNumber(ids.certificate_number_str(bytes(raw)))
    if hint is Address:
        return lambda raw: Address(to_checksum_address(raw))
    if hint is Day:
        return lambda raw: Day(int(raw))
    if hint is str:
        return str
    if isinstance(hint, type) and issubclass(hint, IntEnum | IntFlag):
        return hint
    if hint is bytes:
        return bytes
    if hint is int:
        return int
    raise TypeError(f"no converter for field type {hint!r}")


@cache
def _specs() -> dict[bytes, _EventSpec]:
    """topic0 -> event spec, over both contracts' ABIs."""
    specs: dict[bytes, _EventSpec] = {}
    for artifact_name in (REGISTRY, MRAS):
        for element in load_artifact(artifact_name).abi:
            if element["type"] != "event":
                continue
            cls = EVENT_CLASSES.get(element["name"])
            if cls is None:
                raise EventDecodeError(
                    f"{artifact_name} emits {element['name']}, which contracts.domain.events "
                    "has no dataclass for"
                )
            hints = get_type_hints(cls)
            converters = tuple(
                (
                    field_name(param["name"]),
                    param["type"],
                    bool(param.get("indexed")),
                    _converter(hints[field_name(param["name"])]),
                )
                for param in element["inputs"]
            )
            specs[bytes(event_abi_to_log_topic(element))] = _EventSpec(cls, element, converters)
    return specs


def _as_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def decode_log(log: LogReceipt, block_timestamp: int) -> ChainEvent:
    """The dataclass for one raw log of the registry contracts."""
    topics = [bytes(t) for t in log["topics"]]
    spec = _specs().get(topics[0]) if topics else None
    if spec is None:
        raise EventDecodeError(
            f"log {log['logIndex']} of block {log['blockNumber']} at {log['address']} "
            "matches no registry event"
        )
    data_types = [abi_type for _, abi_type, indexed, _ in spec.converters if not indexed]
    try:
        data_values = iter(abi_decode(data_types, bytes(log["data"])))
        values: dict[str, Any] = {}
        topic_values = iter(topics[1:])
        for name, abi_type, indexed, convert in spec.converters:
            raw = abi_decode([abi_type], next(topic_values))[0] if indexed else next(data_values)
            values[name] = convert(raw)
    except Exception as exc:  # any malformed log is one error type for the indexer
        raise EventDecodeError(
            f"cannot decode {spec.cls.event_name} in block {log['blockNumber']}: {exc}"
        ) from exc
    return spec.cls(
        block_number=int(log["blockNumber"]),
        block_hash=bytes(log["blockHash"]),
        block_timestamp=block_timestamp,
        tx_hash=bytes(log["transactionHash"]),
        log_index=int(log["logIndex"]),
        address=Address(to_checksum_address(log["address"])),
        **values,
    )


def decode_logs(chain: Chain, logs: Sequence[LogReceipt]) -> list[ChainEvent]:
    """The events of ``logs`` (removed ones skipped), in chain order; reads a block header
    for each block whose time the logs do not carry."""
    timestamps: dict[bytes, int] = {}
    events = []
    for log in logs:
        if log.get("removed"):
            continue
        block_hash = bytes(log["blockHash"])
        if block_hash not in timestamps:
            # anvil puts the block's timestamp in each log (a newer eth_getLogs field); other
            # nodes need one header read per block.
            stamped: Any = log.get("blockTimestamp")
            if stamped is not None:
                timestamps[block_hash] = _as_int(stamped)
            else:
                with translate_errors("reading a block header"):
                    block = chain.w3.eth.get_block(HexBytes(block_hash))
                timestamps[block_hash] = int(block["timestamp"])
        events.append(decode_log(log, timestamps[block_hash]))
    events.sort(key=lambda event: event.position)
    return events


@dataclass(frozen=True)
class EventPage:
    """The events of blocks ``from_block``..``to_block`` (inclusive), in chain order."""

    from_block: int
    to_block: int
    events: list[ChainEvent]


def iter_event_pages(
    chain: Chain,
    deployment: Deployment,
    from_block: int | None = None,
    to_block: int | None = None,
    page_size: int = BESU_MAX_LOG_RANGE,
) -> Iterator[EventPage]:
    """Pages of at most ``page_size`` blocks from ``from_block`` (default: the deploy block)
    to ``to_block`` (default: the latest block at the call)."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1; got {page_size}")
    start = deployment.start_block if from_block is None else from_block
    end = chain.block_number() if to_block is None else to_block
    if start < 0 or end < start - 1:
        raise ValueError(f"invalid block range {start}..{end}")
    addresses = [deployment.registry, deployment.mras]
    while start <= end:
        stop = min(start + page_size - 1, end)
        with translate_errors("reading logs"):
            logs = chain.w3.eth.get_logs(
                {"fromBlock": start, "toBlock": stop, "address": addresses}
            )
        yield EventPage(start, stop, decode_logs(chain, logs))
        start = stop + 1


def fetch_events(
    chain: Chain,
    deployment: Deployment,
    from_block: int | None = None,
    to_block: int | None = None,
    page_size: int = BESU_MAX_LOG_RANGE,
) -> list[ChainEvent]:
    """Every registry event in ``from_block``..``to_block``, in (block, log index) order."""
    return [
        event
        for page in iter_event_pages(chain, deployment, from_block, to_block, page_size)
        for event in page.events
    ]


def receipt_events(chain: Chain, deployment: Deployment, receipt: TxReceipt) -> list[ChainEvent]:
    """The registry events a transaction emitted (other contracts' logs are skipped)."""
    ours = {deployment.registry.lower(), deployment.mras.lower()}
    logs = [log for log in receipt["logs"] if str(log["address"]).lower() in ours]
    return decode_logs(chain, logs)


def first_event(events: Sequence[ChainEvent], cls: type[E]) -> E:
    """The first event of type ``cls`` (e.g. the ``MraProposed`` carrying a new MRA's id)."""
    for event in events:
        if isinstance(event, cls):
            return event
    raise EventDecodeError(f"no {cls.event_name} event among {len(events)} events")
