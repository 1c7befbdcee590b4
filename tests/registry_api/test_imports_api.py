"""POST /v1/imports and GET /v1/imports/{id} over HTTP, on the memory chain and SQLite: per-row
errors, batches confirmed on-chain, a re-run that issues nothing twice, JSON bodies,
idempotency, and batches the chain refuses."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from contracts.bootstrap import Consortium
from contracts.domain.enums import CertificateStatus as ChainStatus
from contracts.domain.ids import certificate_id
from contracts.reader import RegistryReader
from contracts.writer import RegistryWriter
from registry_api.db import Certificate, ImportState, LocalStatus, Operation, Role
from registry_api.services.imports import import_dir

from .conftest import ChainApp
from .registry_support import import_worker, open_registry, record, run_imports
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): bulk imports onto the chain.
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HEADER = (
    "number,holder_legal_name,holder_street,holder_city,holder_country,holder_id_scheme,"
    "holder_id_number,business_roles,tiers,issuing_office,officer,valid_from,valid_until"
)


def row(number: str, *, valid_from: str = "2020-01-01", valid_until: str = "2028-12-31") -> str:
    return (
        f"{number},Holder of {number},Street 1,Ulaanbaatar,MN,TIN,{number[-4:]},IM;EX,AEOF,"
        f"Ulaanbaatar Customs House,B. Bat-Erdene,{valid_from},{valid_until}"
    )


def csv_file(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")


#: rows 1, 2, 4 and 6 are good; 3, 5 and 7 are not
MIXED = csv_file(
    row("MN-IMP-0001"),
    row("MN-IMP-0002"),
    row("MN-IMP-0003", valid_from="2024-06-01", valid_until="2024-05-31"),
    row("MN-IMP-0004"),
    row("MN-IMP-0005").replace(",MN,TIN,", ",Mongolia,TIN,"),
    row("MN-IMP-0006"),
    row("MN-IMP-0002"),
)


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:
        yield partial(open_registry, stack, tmp_path, consortium)


def upload(
    mn: ChainApp,
    data: bytes,
    *,
    key: str,
    filename: str = "aeo-list.csv",
    token: str | None = None,
) -> httpx.Response:
    return mn.client.post(
        "/v1/imports",
        files={"file": (filename, data, "text/csv")},
        headers={
            "Authorization": f"Bearer {token or mn.token(Role.ISSUING_OFFICER)}",
            "Idempotency-Key": key,
        },
    )


def progress(mn: ChainApp, job_id: str, **params: Any) -> dict[str, Any]:
    response = mn.client.get(
        f"/v1/imports/{job_id}", params=params, headers=mn.headers(Role.AUDITOR)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def on_chain(mn: ChainApp, number: str) -> ChainStatus:
    reader = RegistryReader(mn.consortium.chain, mn.consortium.deployment)
    return reader.get_certificate(certificate_id("MN", number)).status


def operation_count(mn: ChainApp) -> int:
    with mn.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Operation)) or 0


def test_an_import_reports_bad_rows_by_field_and_issues_the_good_ones_on_chain(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    accepted = upload(mn, MIXED, key="import-1")
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert accepted.headers["location"] == f"/v1/imports/{job['id']}"
    assert job["state"] == "queued"
    assert job["format"] == "csv"
    assert job["filename"] == "aeo-list.csv"
    assert job["counts"]["total"] == 7

    run_imports(mn)

    done = progress(mn, job["id"])
    assert done["state"] == "completed"
    assert done["finished_at"] is not None
    assert done["counts"] == {
        "total": 7,
        "valid": 4,
        "invalid": 3,
        "skipped": 0,
        "queued": 0,
        "confirmed": 4,
        "failed": 0,
    }
    assert done["errors"]["count"] == 3
    assert done["errors"]["data"] == [
        {
            "row": 3,
            "certificate_number": "MN-IMP-0003",
            "errors": [{"field": "valid_until", "message": "must be on or after valid_from"}],
        },
        {
            "row": 5,
            "certificate_number": "MN-IMP-0005",
            "errors": [
                {
                    "field": "holder_country",
                    "message": "'MONGOLIA' is not an ISO 3166-1 alpha-2 country code "
                    "(two letters, e.g. MN)",
                }
            ],
        },
        {
            "row": 7,
            "certificate_number": "MN-IMP-0002",
            "errors": [{"field": "number", "message": "repeats the number of row 2"}],
        },
    ]
    [batch] = done["operations"]
    assert batch["state"] == "confirmed"
    assert batch["rows"] == 4

    for number in ("MN-IMP-0001", "MN-IMP-0002", "MN-IMP-0004", "MN-IMP-0006"):
        assert on_chain(mn, number) is ChainStatus.ACTIVE
    for number in ("MN-IMP-0003", "MN-IMP-0005"):
        assert on_chain(mn, number) is ChainStatus.NONE
    with mn.session() as session:
        statuses = dict(session.execute(sa.select(Certificate.number, Certificate.status)).all())
    assert statuses == dict.fromkeys(
        ("MN-IMP-0001", "MN-IMP-0002", "MN-IMP-0004", "MN-IMP-0006"), LocalStatus.ACTIVE
    )
    # The uploaded file is not kept once its rows are in the database.
    assert list(import_dir(mn.app.state.settings).iterdir()) == []


def test_running_the_same_file_again_issues_nothing_twice(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    first = upload(mn, MIXED, key="import-1").json()
    run_imports(mn)
    operations = operation_count(mn)
    head = mn.consortium.chain.block_number()

    again = upload(mn, MIXED, key="import-2")
    assert again.status_code == 202
    assert again.json()["id"] != first["id"]
    run_imports(mn)

    rerun = progress(mn, again.json()["id"])
    assert rerun["state"] == "completed"
    assert rerun["counts"]["skipped"] == 4
    assert rerun["counts"]["confirmed"] == 0
    assert rerun["counts"]["invalid"] == 3
    assert rerun["operations"] == []
    assert operation_count(mn) == operations
    assert mn.consortium.chain.block_number() == head


def test_the_same_idempotency_key_and_file_give_the_same_job(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    token = mn.token(Role.ISSUING_OFFICER)
    first = upload(mn, MIXED, key="once", token=token)
    second = upload(mn, MIXED, key="once", token=token)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]

    other = upload(mn, csv_file(row("MN-IMP-0100")), key="once", token=token)
    body = assert_problem(other, 422, "invalid")
    assert body["errors"] == [
        {"field": "header.Idempotency-Key", "message": "already used for a different file"}
    ]
    assert body["import_id"] == first.json()["id"]


def test_a_json_body_is_an_import_too(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    response = mn.client.post(
        "/v1/imports",
        content=(EXAMPLES / "import.json").read_bytes(),
        headers={**mn.headers(Role.ADMIN), "Idempotency-Key": "json-1"},
    )
    assert response.status_code == 422  # no Content-Type: the service cannot tell
    response = mn.client.post(
        "/v1/imports",
        content=(EXAMPLES / "import.json").read_bytes(),
        headers={
            **mn.headers(Role.ADMIN),
            "Idempotency-Key": "json-1",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 202, response.text
    assert response.json()["format"] == "json"
    assert response.json()["filename"] is None
    run_imports(mn)
    done = progress(mn, response.json()["id"])
    assert done["counts"]["confirmed"] == 2
    assert on_chain(mn, "MN-AEO-2019-0002") is ChainStatus.ACTIVE
    with mn.session() as session:
        stored = session.scalars(
            sa.select(Certificate).where(Certificate.number == "MN-AEO-2019-0002")
        ).one()
        assert stored.holder_legal_name == "Монгол Тээвэр ХХК"
        assert stored.sites[0]["name"] == "Zamyn-Üüd terminal"
        assert stored.valid_until is None


def test_the_documented_csv_example_imports_as_a_raw_body(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    response = mn.client.post(
        "/v1/imports",
        content=(EXAMPLES / "import.csv").read_bytes(),
        headers={
            **mn.headers(Role.ISSUING_OFFICER),
            "Idempotency-Key": "csv-example",
            "Content-Type": "text/csv",
        },
    )
    assert response.status_code == 202, response.text
    run_imports(mn)
    assert progress(mn, response.json()["id"])["counts"]["confirmed"] == 4


def test_valid_rows_are_issued_in_batches_of_the_chunk_size(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    import_worker(mn).runner.chunk_size = 2
    numbers = [f"MN-IMP-{i:04d}" for i in range(1, 6)]
    job = upload(mn, csv_file(*(row(n) for n in numbers)), key="chunks").json()
    run_imports(mn)
    done = progress(mn, job["id"])
    assert [op["rows"] for op in done["operations"]] == [2, 2, 1]
    assert {op["state"] for op in done["operations"]} == {"confirmed"}
    for operation in done["operations"]:
        answer = mn.client.get(
            f"/v1/operations/{operation['id']}", headers=mn.headers(Role.ISSUING_OFFICER)
        )
        assert answer.json()["kind"] == "issue_batch"
    assert all(on_chain(mn, n) is ChainStatus.ACTIVE for n in numbers)


def test_a_batch_the_chain_refuses_fails_its_rows_with_the_reason(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    # Issued on-chain behind the registry's back (not in its database, not indexed yet):
    # the whole batch holding that number reverts.
    taken = record("MN-IMP-0002")
    hashes = taken.hashes()
    RegistryWriter(mn.consortium.chain, mn.consortium.deployment, mn.workers.sender.account).issue(
        taken.number, 3, taken.valid_from, 30000, hashes.holder_ref, hashes.commitment
    )
    job = upload(mn, csv_file(row("MN-IMP-0001"), row("MN-IMP-0002")), key="refused").json()
    runner = import_worker(mn).runner
    runner.run_once()  # validate
    runner.run_once()  # enqueue the batch before the indexer sees the other issuance
    run_imports(mn)

    done = progress(mn, job["id"])
    assert done["state"] == "completed"
    assert done["counts"]["failed"] == 2
    assert done["counts"]["confirmed"] == 0
    assert [entry["row"] for entry in done["errors"]["data"]] == [1, 2]
    [message] = {entry["errors"][0]["message"] for entry in done["errors"]["data"]}
    assert message.startswith("its batch transaction failed: CertificateAlreadyExists")
    assert on_chain(mn, "MN-IMP-0001") is ChainStatus.NONE
    with mn.session() as session:
        status = session.scalar(
            sa.select(Certificate.status).where(Certificate.number == "MN-IMP-0001")
        )
    assert status is LocalStatus.FAILED

    # A later import of the same number takes the failed row over and issues it.
    retry = upload(mn, csv_file(row("MN-IMP-0001")), key="retry").json()
    run_imports(mn)
    assert progress(mn, retry["id"])["counts"]["confirmed"] == 1
    assert on_chain(mn, "MN-IMP-0001") is ChainStatus.ACTIVE


def test_row_errors_are_paginated(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    bad = [
        row(f"MN-IMP-{i:04d}", valid_from="2024-06-01", valid_until="2024-01-01") for i in range(5)
    ]
    job = upload(mn, csv_file(*bad), key="errors").json()
    import_worker(mn).runner.run_once()
    page = progress(mn, job["id"], errors_limit=2, errors_offset=2)
    assert page["errors"]["count"] == 5
    assert page["errors"]["limit"] == 2
    assert [entry["row"] for entry in page["errors"]["data"]] == [3, 4]
    assert page["state"] == "running"


@pytest.mark.parametrize(
    ("data", "field", "detail"),
    [
        (b"", "body.file", "file: is empty"),
        (b"name,city\nA,B\n", "body.file", "file: unknown column(s) 'name'"),
        (HEADER.encode() + b"\n", "body.file", "file: has no rows"),
    ],
)
def test_an_unreadable_file_is_refused_at_once(
    registry: Callable[..., ChainApp], data: bytes, field: str, detail: str
) -> None:
    mn = registry("MN")
    body = assert_problem(upload(mn, data, key="bad-file"), 422, "invalid")
    assert body["detail"].startswith(detail)
    assert [e["field"] for e in body["errors"]] == [field]
    listing = mn.client.get("/v1/imports", headers=mn.headers(Role.ADMIN)).json()
    assert listing["count"] == 0


def test_an_upload_without_a_file_or_in_another_form_is_refused(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    headers = {**mn.headers(Role.ISSUING_OFFICER), "Idempotency-Key": "x"}
    no_file = mn.client.post(
        "/v1/imports", data={"format": "csv"}, files={"other": ("a", b"b")}, headers=headers
    )
    assert assert_problem(no_file, 422, "invalid")["errors"] == [
        {"field": "body.file", "message": "is required (a file)"}
    ]
    xml = mn.client.post(
        "/v1/imports", content=b"<list/>", headers={**headers, "Content-Type": "text/xml"}
    )
    assert assert_problem(xml, 422, "invalid")["errors"][0]["field"] == "header.Content-Type"
    unnamed = mn.client.post(
        "/v1/imports",
        files={"file": ("list.xlsx", b"PK...", "application/octet-stream")},
        headers=headers,
    )
    assert assert_problem(unnamed, 422, "invalid")["errors"][0]["field"] == "body.format"
    no_key = mn.client.post(
        "/v1/imports",
        files={"file": ("a.csv", MIXED, "text/csv")},
        headers=mn.headers(Role.ISSUING_OFFICER),
    )
    assert assert_problem(no_key, 422, "invalid")["errors"][0]["field"] == "header.Idempotency-Key"


def test_auditors_follow_imports_but_may_not_start_one(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    job = upload(mn, MIXED, key="by-officer").json()
    auditor = mn.token(Role.AUDITOR)
    assert_problem(upload(mn, MIXED, key="by-auditor", token=auditor), 403, "forbidden")
    listing = mn.client.get("/v1/imports", headers={"Authorization": f"Bearer {auditor}"})
    assert [item["id"] for item in listing.json()["data"]] == [job["id"]]
    partner = mn.token(Role.PARTNER, partner_authority="KZ")
    refused = mn.client.get(
        f"/v1/imports/{job['id']}", headers={"Authorization": f"Bearer {partner}"}
    )
    assert_problem(refused, 403, "forbidden")
    missing = mn.client.get(
        "/v1/imports/6a0d3c1e-8f2b-4d7a-9e5c-1b3f7a9d2c4e", headers=mn.headers(Role.AUDITOR)
    )
    assert_problem(missing, 404, "not-found")


def test_a_job_resumes_after_a_restart_from_what_the_database_holds(
    registry: Callable[..., ChainApp],
) -> None:
    """Validated but not issued when the process stopped: a new runner (no memory of the
    job) reads the stored file again and issues the pending rows once."""
    mn = registry("MN")
    job = upload(mn, MIXED, key="restart").json()
    worker = import_worker(mn)
    worker.runner.run_once()  # validate only
    from registry_api.services.imports import ImportRunner

    fresh = ImportRunner(mn.app.state.session_factory, mn.app.state.settings)
    for _ in range(5):
        fresh.run_once()
        mn.settle()
    done = progress(mn, job["id"])
    assert done["state"] == ImportState.COMPLETED.value
    assert done["counts"]["confirmed"] == 4
    assert len(done["operations"]) == 1
    assert json.dumps(done["errors"]).count('"row"') == 3


def test_with_background_workers_an_upload_completes_on_its_own(
    registry: Callable[..., ChainApp],
) -> None:
    """The app's own threads (import worker, sender, indexer) carry the job through."""
    mn = registry("MN", run_workers=True)
    job = upload(mn, MIXED, key="background").json()
    deadline = time.monotonic() + 60
    body = progress(mn, job["id"])
    while body["state"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.1)
        body = progress(mn, job["id"])
    assert body["state"] == "completed"
    assert body["counts"]["confirmed"] == 4
    assert body["counts"]["invalid"] == 3
