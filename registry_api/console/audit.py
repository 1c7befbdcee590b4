"""The audit log: every write this registry accepted (its outbox operations, each with the
user and role of the key that asked, and whether through the console or the API) and every
sign-in event (the sign-in log), newest first; filtered by who, what and when, paged, and
exported as CSV, streamed row by row so that a long log never sits in memory.

Administrators and auditors see it, as they see the sign-in log.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response, StreamingResponse

from ..db import AccessEvent, AccessEventKind, ApiKey, Operation, User
from ..deps import SessionDep
from ..errors import FieldError
from .csrf import ConsoleRoute
from .deps import console_of
from .i18n import N_
from .mras import form_date
from .pages import SIGN_IN_LOG_ROLES
from .principal import CONSOLE_KEY_PREFIX

router = APIRouter(route_class=ConsoleRoute)

AUDIT_ROLES = SIGN_IN_LOG_ROLES
PAGE_SIZE = 50
#: how deep the pages go (offset paging over two merged logs); narrow by date beyond it
MAX_OFFSET = 10_000
#: rows read from the database at a time while the CSV streams
CSV_BATCH = 500
SOURCES = ("all", "writes", "sign-ins")
CSV_COLUMNS = ("when_utc", "source", "who", "role", "via", "what", "subject", "state", "detail")
#: a cell a spreadsheet would take for a formula is prefixed with a quote (CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    source: str
    who: str
    role: str
    via: str
    what: str
    subject: str
    state: str
    detail: str

    def row(self) -> list[str]:
        return [
            self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            self.source,
            self.who,
            self.role,
            self.via,
            self.what,
            self.subject,
            self.state,
            self.detail,
        ]


@dataclass(frozen=True, slots=True)
class Filters:
    source: str = "all"
    who: str = ""
    what: str = ""
    since: date | None = None
    until: date | None = None

    def query_string(self) -> str:
        values = {
            "source": self.source,
            "who": self.who,
            "what": self.what,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
        }
        return urlencode({k: v for k, v in values.items() if v})


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _bounds(filters: Filters) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(filters.since, time(), UTC) if filters.since else None
    end = (
        datetime.combine(filters.until + timedelta(days=1), time(), UTC) if filters.until else None
    )
    return start, end


def _like(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _operations(filters: Filters) -> sa.Select[Operation, ApiKey, User]:
    query = (
        sa.select(Operation, ApiKey, User)
        .join(ApiKey, ApiKey.id == Operation.api_key_id)
        .join(User, User.id == ApiKey.user_id)
        .order_by(Operation.created_at.desc(), Operation.id.desc())
    )
    start, end = _bounds(filters)
    if start is not None:
        query = query.where(Operation.created_at >= start)
    if end is not None:
        query = query.where(Operation.created_at < end)
    if filters.who:
        query = query.where(sa.func.lower(User.name).like(_like(filters.who), escape="\\"))
    if filters.what:
        query = query.where(
            sa.or_(
                Operation.kind == filters.what.strip().lower(),
                Operation.certificate_number == filters.what.strip(),
            )
        )
    return query


def _sign_ins(filters: Filters) -> sa.Select[AccessEvent]:
    query = sa.select(AccessEvent).order_by(AccessEvent.at.desc(), AccessEvent.id.desc())
    start, end = _bounds(filters)
    if start is not None:
        query = query.where(AccessEvent.at >= start)
    if end is not None:
        query = query.where(AccessEvent.at < end)
    if filters.who:
        query = query.where(sa.func.lower(AccessEvent.name).like(_like(filters.who), escape="\\"))
    if filters.what:
        kinds = [kind for kind in AccessEventKind if kind.value == filters.what.strip().lower()]
        query = query.where(AccessEvent.kind.in_(kinds)) if kinds else query.where(sa.false())
    return query


def _operation_entry(operation: Operation, key: ApiKey, user: User) -> AuditEntry:
    via = "console" if key.prefix.startswith(CONSOLE_KEY_PREFIX) else "api"
    tx = "0x" + operation.tx_hash.hex() if operation.tx_hash else ""
    return AuditEntry(
        at=_utc(operation.created_at),
        source="write",
        who=user.name,
        role=key.role.value + (f":{key.partner_authority}" if key.partner_authority else ""),
        via=via,
        what=operation.kind,
        subject=operation.certificate_number or "",
        state=operation.state.value,
        detail=" ".join(part for part in (tx, operation.error or "") if part),
    )


def _sign_in_entry(event: AccessEvent) -> AuditEntry:
    return AuditEntry(
        at=_utc(event.at),
        source="sign-in",
        who=event.name or "",
        role=event.role or "",
        via=event.method or "",
        what=event.kind.value,
        subject=event.client or "",
        state="",
        detail=event.detail or "",
    )


def entries(db: Session, filters: Filters, *, limit: int | None = None) -> Iterator[AuditEntry]:
    """Every entry matching ``filters``, newest first (the two logs merged by time); with
    ``limit``, each log is read no further than that."""
    streams: list[Iterator[AuditEntry]] = []
    if filters.source in ("all", "writes"):
        query = _operations(filters)
        if limit is not None:
            query = query.limit(limit)
        rows = db.execute(query.execution_options(yield_per=CSV_BATCH))
        streams.append(_operation_entry(*row) for row in rows)
    if filters.source in ("all", "sign-ins"):
        events = _sign_ins(filters)
        if limit is not None:
            events = events.limit(limit)
        found = db.scalars(events.execution_options(yield_per=CSV_BATCH))
        streams.append(_sign_in_entry(event) for event in found)
    return heapq.merge(*streams, key=lambda entry: entry.at, reverse=True)


# ---------------------------------------------------------------- the page


FilterText = Annotated[str, Query(max_length=256)]


def parse_filters(
    source: str, who: str, what: str, since: str, until: str
) -> tuple[Filters, list[FieldError]]:
    errors: list[FieldError] = []
    if source not in SOURCES:
        errors.append(FieldError("source", N_("Choose what to show")))
    start = form_date(since, "from", errors)
    end = form_date(until, "to", errors)
    if start and end and end < start:
        errors.append(FieldError("to", N_("The last day must not be before the first day")))
    filters = Filters(
        source=source if source in SOURCES else "all",
        who=who.strip(),
        what=what.strip(),
        since=start,
        until=end,
    )
    return filters, errors


def _page(
    request: Request,
    db: Session,
    filters: Filters,
    errors: list[FieldError],
    typed: dict[str, str],
    offset: int = 0,
) -> Response:
    page: list[AuditEntry] = []
    more = False
    if not errors:
        window = offset + PAGE_SIZE + 1
        found = list(itertools.islice(entries(db, filters, limit=window), offset, window))
        more = len(found) > PAGE_SIZE
        page = found[:PAGE_SIZE]
    context = {
        "entries": page,
        "typed": typed,
        "errors": errors,
        "sources": SOURCES,
        "query": filters.query_string(),
        "offset": offset,
        "next_offset": offset + PAGE_SIZE if more and offset + PAGE_SIZE <= MAX_OFFSET else None,
        "previous_offset": max(0, offset - PAGE_SIZE) if offset else None,
    }
    return console_of(request).page(
        request, "audit.html", context, status_code=400 if errors else 200
    )


Since = Annotated[str, Query(alias="from", max_length=32)]
Until = Annotated[str, Query(alias="to", max_length=32)]


@router.get("/audit", name="audit", dependencies=[Depends(AUDIT_ROLES)])
def audit_page(
    request: Request,
    db: SessionDep,
    source: FilterText = "all",
    who: FilterText = "",
    what: FilterText = "",
    since: Since = "",
    until: Until = "",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    filters, errors = parse_filters(source, who, what, since, until)
    typed = {"source": source, "who": who, "what": what, "from": since, "to": until}
    return _page(request, db, filters, errors, typed, offset)


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_lines(factory: Any, filters: Filters) -> Iterator[str]:
    """The log as CSV lines, read in batches from a session of its own (the response
    streams after the request's session has closed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    with factory() as db:
        found = entries(db, filters)
        while batch := list(itertools.islice(found, CSV_BATCH)):
            buffer.seek(0)
            buffer.truncate()
            for entry in batch:
                writer.writerow([_cell(value) for value in entry.row()])
            yield buffer.getvalue()


@router.get("/audit.csv", dependencies=[Depends(AUDIT_ROLES)])
def audit_csv(
    request: Request,
    db: SessionDep,
    source: FilterText = "all",
    who: FilterText = "",
    what: FilterText = "",
    since: Since = "",
    until: Until = "",
) -> Response:
    filters, errors = parse_filters(source, who, what, since, until)
    if errors:
        typed = {"source": source, "who": who, "what": what, "from": since, "to": until}
        return _page(request, db, filters, errors, typed)
    stamp = console_of(request).clock().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        csv_lines(console_of(request).session_factory(), filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
