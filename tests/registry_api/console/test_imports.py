"""Bulk import in the console: upload, progress that stops when finished, refused rows as a
table and as CSV, bad files, refusals and CSRF."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from registry_api.db import ImportJob, Role

from ..registry_support import import_worker, run_imports
from .certificate_support import Officers, officers
from .support import csrf_of

__all__ = ["officers"]

HEADER = (
    "number,holder_legal_name,holder_street,holder_city,holder_country,holder_id_scheme,"
    "holder_id_number,business_roles,tiers,issuing_office,officer,valid_from,valid_until\n"
)


def row(number: str, country: str = "MN", tin: str = "5012345") -> str:
    return (
        f"{number},Tavan Bogd Trade LLC,Peace Avenue 17,Ulaanbaatar,{country},TIN,{tin},"
        "IM;EX,AEOF,Ulaanbaatar Customs House,B. Bat-Erdene,2019-05-01,2027-04-30\n"
    )


FILE = HEADER + row("MN-AEO-2019-0001") + row("MN-AEO-2019-0002", country="Mongolia", tin="2")


def upload(
    officers: Officers,
    content: str | bytes,
    name: str = "list.csv",
    role: Role = Role.ISSUING_OFFICER,
) -> object:
    client = officers.client(role)
    token = csrf_of(client.get("/console/imports").text)
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/console/imports",
        data={"csrf_token": token},
        files={"file": (name, data, "text/csv")},
        follow_redirects=False,
    )


def jobs(officers: Officers) -> list[ImportJob]:
    with officers.mn.session() as session:
        return list(session.scalars(sa.select(ImportJob)))


def test_an_upload_runs_shows_its_progress_and_stops_asking_when_finished(
    officers: Officers,
) -> None:
    answer = upload(officers, FILE)
    assert answer.status_code == 303, answer.text  # type: ignore[attr-defined]
    location = answer.headers["location"]  # type: ignore[attr-defined]
    client = officers.client(Role.ISSUING_OFFICER)
    page = client.get(location).text
    assert '<progress id="import-bar" class="progress" max="100" value="0">' in page
    assert 'hx-trigger="every 1s"' in page
    run_imports(officers.mn)
    fragment = client.get(f"{location}/progress").text
    assert "<html" not in fragment
    assert 'value="100"' in fragment
    assert "hx-trigger" not in fragment
    assert re.search(r'<dd id="count-confirmed">1</dd>', fragment)
    assert re.search(r'<dd id="count-refused">1</dd>', fragment)
    # the refused row, as a table and as CSV
    assert re.search(r"<td>2</td><td>MN-AEO-2019-0002</td><td>holder_country</td>", fragment)
    download = client.get(f"{location}/errors.csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["row", "certificate_number", "field", "message"]
    assert [r[:3] for r in rows[1:]] == [["2", "MN-AEO-2019-0002", "holder_country"]]
    # the import's certificate is issued and its history names the person
    certificate = client.get("/console/certificates/MN-AEO-2019-0001").text
    assert "issuing-officer (console)" in certificate


def test_the_errors_csv_quotes_cells_a_spreadsheet_would_run(officers: Officers) -> None:
    answer = upload(officers, HEADER + row("MN-AEO-2019-0001", tin="=1+2").replace(",IM;EX,", ",,"))
    location = answer.headers["location"]  # type: ignore[attr-defined]
    run_imports(officers.mn)
    text = officers.client(Role.ISSUING_OFFICER).get(f"{location}/errors.csv").text
    assert all(not cell.startswith("=") for line in csv.reader(io.StringIO(text)) for cell in line)


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", ""),
        (b"\xff\xfe not utf-8", "list.csv", ""),
        (b"number,whatever\nMN-1,x\n", "list.csv", ""),
    ],
)
def test_an_unreadable_file_is_refused_next_to_the_file_field(
    officers: Officers, content: bytes, name: str, message: str
) -> None:
    answer = upload(officers, content, name)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    html = answer.text  # type: ignore[attr-defined]
    found = re.search(r'<div id="file-slot" class="field__slot">(.*?)</div>', html, re.S)
    assert found is not None
    assert "field__error" in found.group(1)
    assert jobs(officers) == []


def test_no_file_is_refused_with_a_message(officers: Officers) -> None:
    client = officers.client(Role.ISSUING_OFFICER)
    token = csrf_of(client.get("/console/imports").text)
    answer = client.post(
        "/console/imports",
        data={"csrf_token": token},
        files={"file": ("", b"", "application/octet-stream")},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "Choose a CSV or JSON file to import" in answer.text


def test_the_same_form_sent_twice_is_one_import(officers: Officers) -> None:
    client = officers.client(Role.ISSUING_OFFICER)
    html = client.get("/console/imports").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert key is not None
    data = {"csrf_token": csrf_of(html), "idempotency_key": key.group(1)}
    for _ in range(2):
        answer = client.post(
            "/console/imports",
            data=data,
            files={"file": ("list.csv", FILE.encode(), "text/csv")},
            follow_redirects=False,
        )
        assert answer.status_code == 303
    assert len(jobs(officers)) == 1


def test_an_auditor_reads_imports_but_cannot_upload(officers: Officers) -> None:
    upload(officers, FILE)
    [job] = jobs(officers)
    client = officers.client(Role.AUDITOR)
    page = client.get("/console/imports").text
    assert 'type="file"' not in page
    assert client.get(f"/console/imports/{job.id}").status_code == 200
    answer = upload(officers, HEADER + row("MN-AEO-2019-0009"), role=Role.AUDITOR)
    assert answer.status_code == 403  # type: ignore[attr-defined]
    assert len(jobs(officers)) == 1


@pytest.mark.parametrize("role", [Role.MRA_OFFICER, Role.PARTNER, Role.BORDER_OFFICER])
def test_roles_without_imports_cannot_see_them(officers: Officers, role: Role) -> None:
    upload(officers, FILE)
    [job] = jobs(officers)
    client = officers.client(role)
    for path in (
        "/console/imports",
        f"/console/imports/{job.id}",
        f"/console/imports/{job.id}/errors.csv",
    ):
        assert client.get(path).status_code == 403, path


def test_an_upload_without_the_csrf_token_is_refused_and_imports_nothing(
    officers: Officers,
) -> None:
    client = officers.client(Role.ISSUING_OFFICER)
    answer = client.post(
        "/console/imports",
        files={"file": ("list.csv", FILE.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    assert jobs(officers) == []
    assert import_worker(officers.mn).runner.run_once() == 0


@pytest.mark.parametrize("job_id", ["not-a-uuid", "2f1c9a0e-2b7d-4e3a-9c5f-8d6b1a0e7c2f"])
def test_an_unknown_import_is_the_404_page(officers: Officers, job_id: str) -> None:
    answer = officers.client(Role.AUDITOR).get(f"/console/imports/{job_id}")
    assert answer.status_code == 404
    assert "Page not found" in answer.text
