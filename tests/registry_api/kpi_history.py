"""A small programme history with hand-computed KPIs (tests/registry_api/test_kpis*.py).

MN is this administration; KR is a partner under an MRA in force (each side recognizes the
other's S tier), KZ a partner whose MRA is only proposed. "Now" is 2026-06-15 12:00 UTC and
the period asked for is 2026-01-01..2026-05-31. Every event happens at 12:00 UTC.

The expected values below are worked out by hand from the rows, not by running the code:

- Effective statuses today: active MN-1, MN-2, MN-9, MN-10; suspended MN-3, MN-4; revoked
  MN-5; expired MN-6 (valid until 2026-01-31); pending MN-7; not yet valid MN-8.
- Tiers of the four active ones: MN-1 C+S, MN-2 S, MN-9 AAA, MN-10 C -> C 2, S 2, AAA 1.
  Roles: MN-1 EX+IM, MN-2 IM, MN-9 CB, MN-10 IM -> IM 3, EX 1, CB 1.
- Suspensions that began in the period, in days: MN-3 from 01-20, open -> 146 (to now);
  MN-5 02-05 -> revoked 02-15: 10; MN-2 03-01 -> reinstated 03-05: 4; MN-4 05-15, open ->
  31. Sorted 4, 10, 31, 146: median (rank ⌈0.5·4⌉ = 2) 10, p90 (rank ⌈0.9·4⌉ = 4) 146.
  MN-6's suspension began in 2025 and is not one of them.
- Open suspensions: MN-3, MN-4; past the remedy deadline: MN-3 (06-05, 10 days overdue).
- Expiries (active or suspended, valid until within 90 days): MN-2 07-01 (16 days), MN-3
  08-10 (56), MN-9 09-10 (87) -> 1 within 30, 2 within 60, 3 within 90.
- MRA coverage, KR: of our 4 active, MN-1 and MN-2 have S -> 2, share 0.5; of KR's, KR-1
  and KR-4 are active with S (KR-2 is C only, KR-3 suspended) -> 2. KZ: 0, 0.0, 0.
- Propagation (block to index), KR in the period: 4, 10, 6, 2 s (KR-4's issue in 2025 is
  outside) -> p50 (rank 2 of 2, 4, 6, 10) 4, p99 (rank 4) 10. KZ: one change, 30 s.
- Border checks in the period: 05-30 recognized 5 and not recognized 1, 05-31 recognized 3
  (06-01 is outside) -> 9: recognized 8, not recognized 1.
- Outbox: pending 2 (one pending, one submitted); failed in the period 1 (one more failed
  in 2025). Indexer: cursor at block 100, updated 30 s ago; head 105 -> 5 blocks, 30 s.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from contracts.domain import days, ids
from registry_api.db import (
    Authority,
    BorderCheckCount,
    Certificate,
    CertificateEvent,
    IndexerCursor,
    LocalStatus,
    Mra,
    MraParty,
    Operation,
    OperationState,
    Role,
)
from registry_api.db.chain_index import mra_key
from registry_api.services.api_keys import create_api_key

from .registry_support import record

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PERIOD = (date(2026, 1, 1), date(2026, 5, 31))
C, S, AAA, A = 1, 2, 16, 4

EXPECTED: dict[str, Any] = {
    "certificates": {
        "by_status": {
            "active": 4,
            "expired": 1,
            "not_yet_valid": 1,
            "pending": 1,
            "revoked": 1,
            "suspended": 2,
        },
        "by_tier": {"C": 2, "S": 2, "AAA": 1},
        "by_business_role": {"IM": 3, "CB": 1, "EX": 1},
    },
    "transitions": [
        {
            "month": "2026-01",
            "issued": 1,
            "amended": 0,
            "renewed": 0,
            "suspended": 1,
            "reinstated": 1,
            "revoked": 0,
        },
        {
            "month": "2026-02",
            "issued": 0,
            "amended": 0,
            "renewed": 0,
            "suspended": 1,
            "reinstated": 0,
            "revoked": 1,
        },
        {
            "month": "2026-03",
            "issued": 0,
            "amended": 1,
            "renewed": 0,
            "suspended": 1,
            "reinstated": 1,
            "revoked": 0,
        },
        {
            "month": "2026-04",
            "issued": 0,
            "amended": 0,
            "renewed": 1,
            "suspended": 0,
            "reinstated": 0,
            "revoked": 0,
        },
        {
            "month": "2026-05",
            "issued": 0,
            "amended": 0,
            "renewed": 0,
            "suspended": 1,
            "reinstated": 0,
            "revoked": 0,
        },
    ],
    "reason_codes": [
        {"transition": "amended", "reason": "DATA_CHANGE", "code": 32, "count": 1},
        {"transition": "reinstated", "reason": "REMEDIED", "code": 16, "count": 1},
        {"transition": "reinstated", "reason": "SUSPENDED_IN_ERROR", "code": 17, "count": 1},
        {"transition": "renewed", "reason": "REASSESSED", "code": 48, "count": 1},
        {"transition": "revoked", "reason": "FRAUD", "code": 5, "count": 1},
        {"transition": "suspended", "reason": "FAILED_AUDIT", "code": 1, "count": 2},
        {"transition": "suspended", "reason": "NON_COMPLIANCE", "code": 2, "count": 1},
        {"transition": "suspended", "reason": "SECURITY_BREACH", "code": 8, "count": 1},
    ],
    "suspensions": {
        "open": 2,
        "median_days": 10.0,
        "p90_days": 146.0,
        "past_remedy_deadline": 1,
        "overdue": [{"number": "MN-3", "remedy_deadline": "2026-06-05", "days_overdue": 10}],
    },
    "expiries": {
        "within_30_days": 1,
        "within_60_days": 2,
        "within_90_days": 3,
        "due": [
            {"number": "MN-2", "valid_until": "2026-07-01", "days_left": 16, "status": "active"},
            {"number": "MN-3", "valid_until": "2026-08-10", "days_left": 56, "status": "suspended"},
            {"number": "MN-9", "valid_until": "2026-09-10", "days_left": 87, "status": "active"},
        ],
    },
    "mra_coverage": [
        {
            "partner": "KR",
            "ours_active": 4,
            "ours_recognized": 2,
            "share": 0.5,
            "theirs_recognized": 2,
        },
        {
            "partner": "KZ",
            "ours_active": 4,
            "ours_recognized": 0,
            "share": 0.0,
            "theirs_recognized": 0,
        },
    ],
    "propagation": [
        {"partner": "KR", "changes": 4, "p50_seconds": 4.0, "p99_seconds": 10.0},
        {"partner": "KZ", "changes": 1, "p50_seconds": 30.0, "p99_seconds": 30.0},
    ],
    "border_checks": {
        "total": 9,
        "verdict_mix": {"not_recognized": 1, "recognized": 8},
        "per_day": [
            {"day": "2026-05-30", "verdict": "not_recognized", "count": 1},
            {"day": "2026-05-30", "verdict": "recognized", "count": 5},
            {"day": "2026-05-31", "verdict": "recognized", "count": 3},
        ],
    },
    "operational": {
        "outbox_pending": 2,
        "outbox_failed": 1,
        "indexer_block": 100,
        "indexer_lag_blocks": 5,
        "indexer_lag_seconds": 30.0,
    },
}
#: the indexer's head in the expected operational figures
INDEXER_HEAD = 105


def _noon(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


class _Chain:
    """Hands out block numbers and transaction hashes in chain order."""

    def __init__(self) -> None:
        self.blocks = itertools.count(1)

    def position(self) -> dict[str, Any]:
        block = next(self.blocks)
        return {
            "tx_hash": os.urandom(32),
            "block_number": block,
            "block_hash": block.to_bytes(32, "big"),
            "log_index": 0,
        }


def _own(
    session: Session,
    number: str,
    status: LocalStatus,
    tiers: int,
    roles: list[str],
    valid_from: date,
    valid_until: date | None,
    remedy_deadline: date | None = None,
) -> None:
    row = Certificate.from_record(
        record(
            number,
            tiers=tiers,
            business_roles=roles,
            valid_from=valid_from,
            valid_until=valid_until,
        ),
        status=status,
    )
    row.remedy_deadline = remedy_deadline
    session.add(row)


def _event(
    session: Session,
    chain: _Chain,
    issuer: str,
    number: str,
    kind: str,
    when: str,
    *,
    status: str,
    reason: int | None = None,
    tiers: int = S,
    delay_seconds: float = 1.0,
) -> None:
    block_time = _noon(when)
    session.add(
        CertificateEvent(
            certificate_id=ids.certificate_id(issuer, number),
            issuer=issuer,
            number=number,
            kind=kind,
            status=status,
            reason_code=reason,
            operator="0x" + "00" * 20,
            version=1,
            commitment=None,
            data={
                "state": {
                    "status": status,
                    "tiers": tiers,
                    "valid_from": days.to_day(date(2025, 1, 1)),
                    "valid_until": days.to_day(date(2030, 12, 31)),
                }
            },
            block_time=block_time,
            indexed_at=block_time + timedelta(seconds=delay_seconds),
            **chain.position(),
        )
    )


def seed(session: Session, authority: str = "MN") -> None:
    """Write the history above into ``session``'s database (committed)."""
    assert authority == "MN"
    active, suspended = LocalStatus.ACTIVE, LocalStatus.SUSPENDED
    _own(session, "MN-1", active, C | S, ["EX", "IM"], date(2025, 1, 1), date(2029, 12, 31))
    _own(session, "MN-2", active, S, ["IM"], date(2025, 1, 1), date(2026, 7, 1))
    _own(
        session, "MN-3", suspended, S, ["EX"], date(2025, 1, 1), date(2026, 8, 10),
        remedy_deadline=date(2026, 6, 5),
    )  # fmt: skip
    _own(
        session, "MN-4", suspended, C, ["WH"], date(2025, 1, 1), date(2030, 1, 1),
        remedy_deadline=date(2026, 7, 1),
    )  # fmt: skip
    _own(session, "MN-5", LocalStatus.REVOKED, C | S, ["EX"], date(2025, 1, 1), None)
    _own(session, "MN-6", active, A, ["EX", "WH"], date(2020, 1, 1), date(2026, 1, 31))
    _own(session, "MN-7", LocalStatus.PENDING, S, ["IM"], date(2026, 6, 1), None)
    _own(session, "MN-8", active, S, ["IM"], date(2026, 7, 1), date(2029, 1, 1))
    _own(session, "MN-9", active, AAA, ["CB"], date(2026, 1, 1), date(2026, 9, 10))
    _own(session, "MN-10", active, C, ["IM"], date(2025, 1, 1), None)

    chain = _Chain()
    ev = _event
    # Our own history (issuer MN); the 2025 events and the June one are outside the period.
    ev(session, chain, "MN", "MN-6", "suspended", "2025-11-01", status="suspended", reason=1)
    ev(session, chain, "MN", "MN-1", "issued", "2025-12-20", status="active")
    ev(session, chain, "MN", "MN-6", "reinstated", "2026-01-05", status="active", reason=17)
    ev(session, chain, "MN", "MN-9", "issued", "2026-01-10", status="active")
    ev(session, chain, "MN", "MN-3", "suspended", "2026-01-20", status="suspended", reason=1)
    ev(session, chain, "MN", "MN-5", "suspended", "2026-02-05", status="suspended", reason=2)
    ev(session, chain, "MN", "MN-5", "revoked", "2026-02-15", status="revoked", reason=5)
    ev(session, chain, "MN", "MN-2", "suspended", "2026-03-01", status="suspended", reason=1)
    ev(session, chain, "MN", "MN-2", "reinstated", "2026-03-05", status="active", reason=16)
    ev(session, chain, "MN", "MN-1", "amended", "2026-03-10", status="active", reason=32)
    ev(session, chain, "MN", "MN-10", "renewed", "2026-04-01", status="active", reason=48)
    ev(session, chain, "MN", "MN-4", "suspended", "2026-05-15", status="suspended", reason=8)
    ev(session, chain, "MN", "MN-8", "issued", "2026-06-02", status="active")
    # Partners' certificates, with how long each took to reach this index.
    ev(session, chain, "KR", "KR-4", "issued", "2025-12-01", status="active", delay_seconds=100)
    ev(session, chain, "KR", "KR-1", "issued", "2026-02-01", status="active", delay_seconds=4)
    ev(
        session, chain, "KR", "KR-2", "issued", "2026-02-02", status="active", tiers=C,
        delay_seconds=10,
    )  # fmt: skip
    ev(session, chain, "KR", "KR-3", "issued", "2026-03-01", status="active", delay_seconds=6)
    ev(
        session, chain, "KR", "KR-3", "suspended", "2026-04-01", status="suspended", reason=1,
        delay_seconds=2,
    )  # fmt: skip
    ev(session, chain, "KZ", "KZ-1", "issued", "2026-05-01", status="active", delay_seconds=30)

    for code in ("MN", "KR", "KZ"):
        session.add(Authority(code=code, name=code, status="active", updated_block=1))
    session.add(
        Mra(
            mra_id=mra_key(1),
            status="in_force",
            proposer="MN",
            effective_from=date(2025, 6, 1),
            ends_on=None,
            text_hash=b"\x01" * 32,
            updated_block=1,
            parties=[
                MraParty(authority="MN", recognized_tiers=S, signed_at=_noon("2025-05-01")),
                MraParty(authority="KR", recognized_tiers=S, signed_at=_noon("2025-05-02")),
            ],
        )
    )
    session.add(
        Mra(
            mra_id=mra_key(2),
            status="proposed",
            proposer="MN",
            effective_from=date(2026, 1, 1),
            ends_on=None,
            text_hash=b"\x02" * 32,
            updated_block=2,
            parties=[
                MraParty(authority="MN", recognized_tiers=C | S, signed_at=_noon("2025-12-01")),
                MraParty(authority="KZ", recognized_tiers=C | S, signed_at=None),
            ],
        )
    )

    key, _token = create_api_key(
        session, user="history seeder", role=Role.BORDER_OFFICER, own_authority=authority
    )
    for day, verdict, count in (
        ("2026-05-30", "recognized", 5),
        ("2026-05-30", "not_recognized", 1),
        ("2026-05-31", "recognized", 3),
        ("2026-06-01", "recognized", 9),
    ):
        session.add(
            BorderCheckCount(
                authority=authority,
                post="Zamyn-Uud",
                day=date.fromisoformat(day),
                verdict=verdict,
                count=count,
                reported_at=NOW,
                reported_by_key_id=key.id,
            )
        )
    for index, (state, created) in enumerate(
        (
            (OperationState.PENDING, "2026-06-15"),
            (OperationState.SUBMITTED, "2026-06-15"),
            (OperationState.FAILED, "2026-03-01"),
            (OperationState.FAILED, "2025-12-01"),
            (OperationState.CONFIRMED, "2026-02-01"),
        )
    ):
        session.add(
            Operation(
                api_key_id=key.id,
                idempotency_key=f"seed-{index}",
                request_hash=bytes(32),
                kind="suspend",
                payload={},
                state=state,
                created_at=_noon(created),
            )
        )
    session.add(
        IndexerCursor(
            name="registry",
            block_number=100,
            block_hash=bytes(32),
            updated_at=NOW - timedelta(seconds=30),
        )
    )
    session.commit()
