"""``GET /v1/kpis``: each KPI of a seeded history equals its hand-computed value (SQLite, and
PostgreSQL in ``make test``); roles, periods, CSV, targets and the border posts' reports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.db import KpiTarget, Role, utc_now
from registry_api.schemas.kpis import Period
from registry_api.services import kpis as service
from verifier.checks import CheckCounter, Reporter
from verifier.verdict import Outcome

from .conftest import KeyFactory
from .kpi_history import EXPECTED, INDEXER_HEAD, NOW, PERIOD, seed
from .support import assert_problem, bearer

READERS = (Role.ADMIN, Role.AUDITOR, Role.ISSUING_OFFICER)
OTHERS = (Role.MRA_OFFICER, Role.PARTNER, Role.BORDER_OFFICER)


@pytest.fixture
def seeded(app: FastAPI, client: TestClient) -> FastAPI:
    with app.state.session_factory() as session:
        seed(session)
    return app


def computed(app: FastAPI) -> dict[str, Any]:
    with app.state.session_factory() as session:
        answer = service.compute(
            session,
            authority="MN",
            period=Period.of(*PERIOD),
            now=NOW,
            indexer=service.IndexerView(head=INDEXER_HEAD),
        )
    return answer.model_dump(mode="json", by_alias=True)


def check_every_kpi(app: FastAPI) -> None:
    answer = computed(app)
    for section, expected in EXPECTED.items():
        assert answer[section] == expected, section
    assert answer["period"] == {"from": "2026-01-01", "to": "2026-05-31"}
    assert answer["today"] == "2026-06-15"


def test_every_kpi_of_the_seeded_history_is_the_hand_computed_value(seeded: FastAPI) -> None:
    check_every_kpi(seeded)


@pytest.mark.postgresql_only
def test_every_kpi_of_the_seeded_history_is_the_same_on_postgresql(
    seeded: FastAPI, database_kind: str
) -> None:
    assert database_kind == "postgresql"
    check_every_kpi(seeded)


def test_the_flat_values_name_each_kpi_once(seeded: FastAPI) -> None:
    values = computed(seeded)["values"]
    names = [value["kpi"] for value in values]
    assert len(names) == len(set(names))
    by_name = {value["kpi"]: value["value"] for value in values}
    assert by_name["certificates.status.active"] == 4
    assert by_name["transitions.2026-03.amended"] == 1
    assert by_name["reason_codes.suspended.FAILED_AUDIT"] == 2
    assert by_name["suspensions.median_days"] == 10.0
    assert by_name["suspensions.overdue.MN-3"] == 10
    assert by_name["expiries.due.MN-9"] == 87
    assert by_name["mra_coverage.KR.share"] == 0.5
    assert by_name["propagation.KZ.p99_seconds"] == 30.0
    assert by_name["border_checks.day.2026-05-30.recognized"] == 5
    assert by_name["operational.indexer_lag_blocks"] == 5


def test_without_an_indexer_the_lag_is_unknown_not_zero(seeded: FastAPI) -> None:
    with seeded.state.session_factory() as session:
        answer = service.compute(session, authority="MN", period=Period.of(*PERIOD), now=NOW)
    assert answer.operational.indexer_lag_blocks is None
    assert answer.operational.indexer_lag_seconds is None
    assert answer.operational.indexer_block == 100


def test_an_empty_registry_answers_zeros_and_no_percentiles(
    app: FastAPI, client: TestClient
) -> None:
    answer = computed(app)
    assert answer["certificates"] == {"by_status": {}, "by_tier": {}, "by_business_role": {}}
    assert answer["suspensions"]["median_days"] is None
    assert answer["suspensions"]["open"] == 0
    assert answer["propagation"] == []
    assert answer["border_checks"]["total"] == 0
    assert answer["operational"]["indexer_block"] is None


# ---------------------------------------------------------------- the route


@pytest.mark.parametrize("role", READERS)
def test_the_aeo_unit_its_managers_and_auditors_read_the_kpis(
    seeded: FastAPI, client: TestClient, make_key: KeyFactory, role: Role
) -> None:
    answer = client.get(
        "/v1/kpis", params={"from": "2026-01-01", "to": "2026-05-31"},
        headers=bearer(make_key(role)),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["period"] == {"from": "2026-01-01", "to": "2026-05-31"}
    # The route answers as of the real clock: figures that do not depend on it are exact.
    assert body["transitions"] == EXPECTED["transitions"]
    assert body["reason_codes"] == EXPECTED["reason_codes"]
    assert body["propagation"] == EXPECTED["propagation"]
    assert body["border_checks"] == EXPECTED["border_checks"]


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_are_refused_the_kpis(
    client: TestClient, make_key: KeyFactory, role: Role
) -> None:
    partner = "KR" if role in {Role.PARTNER, Role.BORDER_OFFICER} else None
    answer = client.get("/v1/kpis", headers=bearer(make_key(role, partner_authority=partner)))
    assert_problem(answer, 403, "forbidden")


def test_the_kpis_need_a_key(client: TestClient) -> None:
    assert_problem(client.get("/v1/kpis"), 401, "unauthorized")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "query.from"),
        ({"to": "yesterday"}, "query.to"),
        ({"from": "2026-05-01", "to": "2026-04-30"}, "query.to"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "query.from"),
    ],
)
def test_a_bad_period_is_a_422_naming_the_parameter(
    client: TestClient, admin_token: str, params: dict[str, str], field: str
) -> None:
    answer = client.get("/v1/kpis", params=params, headers=bearer(admin_token))
    body = assert_problem(answer, 422)
    assert [error["field"] for error in body["errors"]] == [field]


def test_the_default_period_is_the_last_twelve_months(client: TestClient, admin_token: str) -> None:
    today = utc_now().date()
    body = client.get("/v1/kpis", headers=bearer(admin_token)).json()
    start = date.fromisoformat(body["period"]["from"])
    assert body["period"]["to"] == today.isoformat()
    assert start > today.replace(year=today.year - 1) - timedelta(days=1)
    assert start <= today.replace(year=today.year - 1) + timedelta(days=1)


def test_csv_has_one_row_per_kpi_value_with_its_target(
    seeded: FastAPI, client: TestClient, admin_token: str
) -> None:
    put = client.put(
        "/v1/kpis/targets/border_checks.total",
        json={"baseline": 5, "target": 50.5, "target_date": "2027-12-31"},
        headers=bearer(admin_token),
    )
    assert put.status_code == 200, put.text
    answer = client.get(
        "/v1/kpis",
        params={"from": "2026-01-01", "to": "2026-05-31"},
        headers={**bearer(admin_token), "Accept": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["kpi", "value", "baseline", "target", "target_date"]
    by_name = {row[0]: row[1:] for row in rows[1:]}
    assert len(by_name) == len(rows) - 1
    assert by_name["border_checks.total"] == ["9", "5", "50.5", "2027-12-31"]
    assert by_name["transitions.2026-02.revoked"] == ["1", "", "", ""]
    assert by_name["propagation.KR.p50_seconds"] == ["4", "", "", ""]
    json_values = client.get(
        "/v1/kpis", params={"from": "2026-01-01", "to": "2026-05-31"},
        headers=bearer(admin_token),
    ).json()["values"]  # fmt: skip
    assert len(json_values) == len(rows) - 1


# ---------------------------------------------------------------- targets


def test_an_admin_sets_a_target_and_the_answer_shows_the_kpi_against_it(
    seeded: FastAPI, client: TestClient, admin_token: str
) -> None:
    body = {"baseline": 35, "target": 10, "target_date": "2027-12-31"}
    put = client.put(
        "/v1/kpis/targets/suspensions.median_days", json=body, headers=bearer(admin_token)
    )
    assert put.status_code == 200, put.text
    assert put.json()["set_by"] == "first admin"
    answer = client.get(
        "/v1/kpis", params={"from": "2026-01-01", "to": "2026-05-31"},
        headers=bearer(admin_token),
    ).json()  # fmt: skip
    [value] = [v for v in answer["values"] if v["kpi"] == "suspensions.median_days"]
    assert (value["baseline"], value["target"], value["target_date"]) == (35, 10, "2027-12-31")
    assert [t["kpi"] for t in answer["targets"]] == ["suspensions.median_days"]


def test_setting_a_target_again_replaces_it_and_keeps_the_history(
    app: FastAPI, client: TestClient, admin_token: str
) -> None:
    url = "/v1/kpis/targets/mra_coverage.KR.share"
    for target in (0.6, 0.9):
        answer = client.put(
            url,
            json={"baseline": 0.5, "target": target, "target_date": "2027-06-30"},
            headers={**bearer(admin_token), "X-Request-ID": f"target-{target}"},
        )
        assert answer.status_code == 200, answer.text
    body = client.get("/v1/kpis", headers=bearer(admin_token)).json()
    assert [(t["kpi"], t["target"]) for t in body["targets"]] == [("mra_coverage.KR.share", 0.9)]
    with app.state.session_factory() as session:
        history = service.target_history(session, "mra_coverage.KR.share")
    assert [(row.target, row.request_id) for row in history] == [
        (0.6, "target-0.6"),
        (0.9, "target-0.9"),
    ]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ISSUING_OFFICER])
def test_only_an_admin_sets_targets(client: TestClient, make_key: KeyFactory, role: Role) -> None:
    answer = client.put(
        "/v1/kpis/targets/suspensions.open",
        json={"baseline": 3, "target": 1, "target_date": "2027-01-01"},
        headers=bearer(make_key(role)),
    )
    assert_problem(answer, 403, "forbidden")


@pytest.mark.parametrize(
    ("kpi", "body", "field"),
    [
        ("no.such.kpi", {"baseline": 1, "target": 2, "target_date": "2027-01-01"}, "path.kpi"),
        ("suspensions.open", {"baseline": 1, "target": 2}, "body.target_date"),
        ("suspensions.open", {"baseline": "many", "target": 2, "target_date": "2027-01-01"},
         "body.baseline"),
        ("suspensions.open", {"baseline": 1, "target": 2, "target_date": "2027-01-01",
                              "owner": "me"}, "body.owner"),
    ],
)  # fmt: skip
def test_a_bad_target_is_a_422_naming_the_field(
    app: FastAPI, client: TestClient, admin_token: str, kpi: str, body: dict[str, Any], field: str
) -> None:
    answer = client.put(f"/v1/kpis/targets/{kpi}", json=body, headers=bearer(admin_token))
    problem = assert_problem(answer, 422)
    assert [error["field"] for error in problem["errors"]] == [field]
    with app.state.session_factory() as session:
        assert session.query(KpiTarget).count() == 0


# ---------------------------------------------------------------- border checks


def border_officer(make_key: KeyFactory) -> dict[str, str]:
    return bearer(make_key(Role.BORDER_OFFICER, user="Zamyn-Uud post"))


def report(day: str, **counts: int) -> dict[str, Any]:
    return {
        "post": "Zamyn-Uud road",
        "counts": [{"day": day, "verdict": v, "count": n} for v, n in counts.items()],
    }


def border_total(client: TestClient, token: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(
        "/v1/kpis", params={"from": "2026-05-01", "to": "2026-05-31"}, headers=bearer(token)
    ).json()["border_checks"]
    return body


def test_a_repeated_border_check_report_replaces_and_never_doubles(
    client: TestClient, make_key: KeyFactory, admin_token: str
) -> None:
    officer = border_officer(make_key)
    first = report("2026-05-20", recognized=7, suspended=1)
    for _ in range(2):
        answer = client.post("/v1/kpis/border-checks", json=first, headers=officer)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"post": "Zamyn-Uud road", "stored": 2}
    assert border_total(client, admin_token)["verdict_mix"] == {"recognized": 7, "suspended": 1}
    # The running total grows during the day: the later report replaces the earlier count.
    later = report("2026-05-20", recognized=9)
    assert client.post("/v1/kpis/border-checks", json=later, headers=officer).status_code == 200
    totals = border_total(client, admin_token)
    assert totals["verdict_mix"] == {"recognized": 9, "suspended": 1}
    assert totals["total"] == 10


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.ISSUING_OFFICER])
def test_only_border_officers_report_checks(
    client: TestClient, make_key: KeyFactory, role: Role
) -> None:
    answer = client.post(
        "/v1/kpis/border-checks", json=report("2026-05-20", recognized=1),
        headers=bearer(make_key(role)),
    )  # fmt: skip
    assert_problem(answer, 403, "forbidden")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (report("2026-05-20", approved=1), "body.counts[0].verdict"),
        (report("2026-05-20", recognized=-1), "body.counts[0].count"),
        (report("2026-02-30", recognized=1), "body.counts[0].day"),
        ({"post": "", "counts": []}, "body.post"),
        ({"post": "A", "counts": [{"day": "2026-05-20", "verdict": "recognized", "count": 1}] * 2},
         "body.counts"),
        ({"post": "A", "counts": [], "holder": "Tavan Bogd"}, "body.holder"),
    ],
)  # fmt: skip
def test_a_bad_border_check_report_is_a_422_naming_the_field(
    client: TestClient, make_key: KeyFactory, admin_token: str, body: dict[str, Any], field: str
) -> None:
    answer = client.post("/v1/kpis/border-checks", json=body, headers=border_officer(make_key))
    problem = assert_problem(answer, 422)
    assert field in [error["field"] for error in problem["errors"]]
    assert border_total(client, admin_token)["total"] == 0


def test_a_border_pages_reports_reach_the_kpis_once_however_often_they_are_sent(
    client: TestClient, make_key: KeyFactory, admin_token: str, tmp_path: Path
) -> None:
    counter = CheckCounter(tmp_path / "verifier-checks.sqlite")
    for outcome in (Outcome.RECOGNIZED, Outcome.RECOGNIZED, Outcome.EXPIRED):
        counter.count(outcome, datetime(2026, 5, 20, 8, 0, tzinfo=UTC))
    token = make_key(Role.BORDER_OFFICER, user="Altanbulag post")
    reporter = Reporter(counter, "http://testserver", token, "Altanbulag")
    today = date(2026, 5, 31)
    for _ in range(3):
        assert reporter.report(today, client=client) is True
    assert border_total(client, admin_token)["verdict_mix"] == {"expired": 1, "recognized": 2}
    refused = Reporter(counter, "http://testserver", admin_token, "Altanbulag")
    assert refused.report(today, client=client) is False
