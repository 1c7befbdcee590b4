"""The audit log: every write with the asking key's user, role and "console" or "api", and
every sign-in, newest first; filters, paging, a bad date shown at its field, the CSV export
(streamed, formulas defused); administrators and auditors only."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.console.audit import Filters, entries
from registry_api.db import Operation, OperationState, Role
from registry_api.services.api_keys import create_api_key

from .support import START, People, sign_in

PARTNER_OF = {Role.PARTNER: "KR", Role.BORDER_OFFICER: "KR"}


def signed_in_as(client: TestClient, people: People, role: Role, name: str = "") -> None:
    name = name or f"{role.value.replace('_', '')}{len(people.passwords)}"
    sign_in(client, name, people.add(name, role, partner_authority=PARTNER_OF.get(role)))


def add_operation(
    app: FastAPI,
    *,
    user: str,
    kind: str = "suspend",
    subject: str | None = "MN-AEO-1",
    at: datetime = START,
    console: bool = False,
    role: Role = Role.ISSUING_OFFICER,
    count: int = 1,
) -> None:
    """``count`` operations as the outbox records them, a minute apart from ``at`` back,
    asked for with a new key of ``user``."""
    with app.state.session_factory() as session:
        key, _token = create_api_key(session, user=user, role=role, own_authority="MN")
        if console:
            key.prefix = "console-" + uuid.uuid4().hex[:8]
        for minute in range(count):
            session.add(
                Operation(
                    api_key_id=key.id,
                    idempotency_key=uuid.uuid4().hex,
                    request_hash=bytes(32),
                    kind=kind,
                    payload={},
                    certificate_number=subject,
                    state=OperationState.CONFIRMED,
                    tx_hash=bytes.fromhex("ab" * 32),
                    created_at=at - timedelta(minutes=minute),
                )
            )
        session.commit()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_the_audit_log_shows_writes_with_who_and_how_and_sign_ins_to_auditors_and_admins(
    app: FastAPI, client: TestClient, people: People, role: Role
) -> None:
    add_operation(app, user="tsetseg", kind="revoke", console=True, at=START - timedelta(hours=2))
    add_operation(app, user="import robot", kind="issue_batch", subject=None,
                  at=START - timedelta(hours=1))  # fmt: skip
    signed_in_as(client, people, role, "checker")
    page = client.get("/console/audit")
    assert page.status_code == 200
    assert 'href="/console/audit"' in client.get("/console/").text
    rows = page.text.split('id="audit"', 1)[1].split("</table>", 1)[0].split("<tr")[2:]
    texts = [" ".join(row.split()) for row in rows]
    # the newest first: this sign-in, the account's creation, then the two writes
    assert "signed_in" in texts[0]
    assert "checker" in texts[0]
    robot = next(i for i, text in enumerate(texts) if "import robot" in text)
    officer = next(i for i, text in enumerate(texts) if "tsetseg" in text)
    assert robot < officer
    for words in (">api<", "issue_batch"):
        assert words in texts[robot]
    for words in (">console<", "revoke", "issuing_officer", "MN-AEO-1", "0x" + "ab" * 32):
        assert words in texts[officer]


@pytest.mark.parametrize(
    "role", [Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.PARTNER, Role.BORDER_OFFICER]
)
def test_the_audit_log_is_refused_to_the_other_roles(
    client: TestClient, people: People, role: Role
) -> None:
    signed_in_as(client, people, role)
    for path in ("/console/audit", "/console/audit.csv"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert "You cannot see this page" in page.text
    assert 'href="/console/audit"' not in client.get("/console/").text


def test_the_filters_narrow_by_who_what_when_and_source(
    app: FastAPI, client: TestClient, people: People
) -> None:
    add_operation(app, user="Tsetseg B.", kind="revoke", at=START - timedelta(days=3))
    add_operation(app, user="bolor", kind="suspend", subject="MN-AEO-7", at=START)
    signed_in_as(client, people, Role.AUDITOR, "checker")

    def shown(**params: str) -> str:
        answer = client.get("/console/audit", params=params)
        assert answer.status_code == 200, answer.text
        return answer.text.split('id="audit"', 1)[1].split("</table>", 1)[0]

    assert "Tsetseg B." in shown(who="tSeTs")
    assert "bolor" not in shown(who="tsets")
    only_writes = shown(source="writes")
    assert "signed_in" not in only_writes
    assert "bolor" in only_writes
    only_sign_ins = shown(source="sign-ins")
    assert "signed_in" in only_sign_ins
    assert "bolor" not in only_sign_ins
    assert "bolor" in shown(what="MN-AEO-7")
    assert "Tsetseg" not in shown(what="suspend")
    day = (START - timedelta(days=3)).date().isoformat()
    dated = shown(**{"from": day, "to": day})
    assert "Tsetseg B." in dated
    assert "bolor" not in dated
    assert "Nothing matches." in shown(who="nobody at all")


def test_a_bad_date_is_shown_at_its_field_with_what_was_typed_and_no_rows(
    client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.AUDITOR)
    answer = client.get("/console/audit", params={"from": "2026-02-30", "who": "bolor"})
    assert answer.status_code == 400
    assert 'id="from-error"' in answer.text
    assert 'value="2026-02-30"' in answer.text
    assert 'value="bolor"' in answer.text
    assert 'id="audit"' not in answer.text
    backwards = client.get("/console/audit", params={"from": "2026-03-02", "to": "2026-03-01"})
    assert backwards.status_code == 400
    assert 'id="to-error"' in backwards.text
    assert client.get("/console/audit.csv", params={"to": "tomorrow"}).status_code == 400
    assert client.get("/console/audit", params={"offset": "-1"}).status_code == 400
    assert client.get("/console/audit", params={"source": "x"}).status_code == 400


def test_the_log_pages_back_through_older_entries(
    app: FastAPI, client: TestClient, people: People
) -> None:
    for minute in range(70):
        add_operation(app, user=f"clerk {minute:02d}", at=START - timedelta(minutes=minute + 1))
    signed_in_as(client, people, Role.ADMIN)
    first = client.get("/console/audit", params={"source": "writes"}).text
    assert first.count('class="audit__write"') == 50
    assert "clerk 00" in first
    assert "clerk 49" in first
    assert "clerk 50" not in first
    assert 'offset=50">Older entries' in first
    second = client.get("/console/audit", params={"source": "writes", "offset": "50"}).text
    assert second.count('class="audit__write"') == 20
    assert "clerk 50" in second
    assert "clerk 69" in second
    assert "Older entries" not in second


def test_the_csv_export_streams_every_matching_entry_and_defuses_formulas(
    app: FastAPI, client: TestClient, people: People
) -> None:
    add_operation(app, user="=HYPERLINK(1)", kind="renew", at=START - timedelta(minutes=5))
    # more than one batch of the stream
    add_operation(app, user="batch clerk", kind="issue", at=START - timedelta(hours=1), count=600)
    signed_in_as(client, people, Role.AUDITOR, "checker")
    with client.stream("GET", "/console/audit.csv") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.headers["content-disposition"].startswith('attachment; filename="audit-')
        body = "".join(answer.iter_text())
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 2 + 1 + 600  # the account and its sign-in, the renewal, the issues
    assert rows[0]["what"] == "signed_in"
    [renewal] = [row for row in rows if row["what"] == "renew"]
    assert renewal["who"] == "'=HYPERLINK(1)"
    assert (renewal["source"], renewal["via"]) == ("write", "api")
    assert [row["when_utc"] for row in rows] == sorted((r["when_utc"] for r in rows), reverse=True)
    only = client.get("/console/audit.csv", params={"what": "renew"}).text
    assert len(list(csv.DictReader(io.StringIO(only)))) == 1


def test_times_are_utc_whether_or_not_the_database_keeps_the_zone(
    app: FastAPI, client: TestClient
) -> None:
    add_operation(app, user="bolor", at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    with app.state.session_factory() as session:
        [entry] = list(entries(session, Filters(source="writes")))
    assert entry.at == datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
