"""Text the two databases would otherwise store differently: U+0000, which PostgreSQL
refuses in text and JSON (stored as U+FFFD on both), and a holder name that case folding
makes longer than its column."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts.bootstrap import Consortium
from registry_api.db import (
    NUL_REPLACEMENT,
    Authority,
    Certificate,
    FeedEntry,
    Role,
    make_engine,
    make_session_factory,
    upgrade_database,
)

from .certificate_data import issue, record_body
from .conftest import ChainApp, ChainAppFactory
from .registry_support import open_registry, run_imports
from .test_imports_api import csv_file, progress, row, upload

# Slow, so not in `make test-fast` (`make test` runs it): nUL and case-folding edge cases through
# imports and search.
pytestmark = pytest.mark.slow


def test_a_nul_in_text_or_json_is_stored_as_the_replacement_character(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            session.add(Authority(code="TJ", name="Cus\x00toms", status="active", updated_block=1))
            session.add(
                FeedEntry(kind="mra.proposed", payload={"na\x00me": ["a\x00"]}, block_number=1)
            )
            session.commit()
        with make_session_factory(engine)() as session:
            authority = session.scalars(
                sa.select(Authority).where(Authority.name == "Cus\x00toms")
            ).one()
            assert authority.name == f"Cus{NUL_REPLACEMENT}toms"
            entry = session.scalars(sa.select(FeedEntry)).one()
            assert entry.payload == {f"na{NUL_REPLACEMENT}me": [f"a{NUL_REPLACEMENT}"]}
    finally:
        engine.dispose()


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:
        yield partial(open_registry, stack, tmp_path, consortium)


def test_an_import_row_with_a_nul_is_reported_and_the_job_completes(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    in_number = upload(mn, csv_file(row("MN-IMP-00\x0001"), row("MN-IMP-0002")), key="csv")
    in_key = upload(
        mn,
        json.dumps([{"number": "MN-IMP-0003", "hol\x00der": {}}]).encode(),
        key="json",
        filename="list.json",
    )
    assert (in_number.status_code, in_key.status_code) == (202, 202)

    run_imports(mn)

    csv_job = progress(mn, in_number.json()["id"])
    assert csv_job["state"] == "completed"
    assert (csv_job["counts"]["invalid"], csv_job["counts"]["confirmed"]) == (1, 1)
    [bad_number] = csv_job["errors"]["data"]
    assert bad_number["certificate_number"] == f"MN-IMP-00{NUL_REPLACEMENT}01"
    json_job = progress(mn, in_key.json()["id"])
    assert json_job["state"] == "completed"
    [bad_key] = json_job["errors"]["data"]
    assert any(NUL_REPLACEMENT in error["field"] for error in bad_key["errors"])


def test_a_search_term_with_a_nul_finds_nothing(chain_app: ChainAppFactory) -> None:
    mn = chain_app("MN")
    headers = mn.headers(Role.AUDITOR)
    issue(mn, mn.headers(), "MN-AEO-2025-0001")
    mn.settle()
    for query in ("holder_name=Tavan%00", "number=MN-AEO-2025-0001%00", "holder_id=TIN:50%00"):
        answer = mn.client.get(f"/v1/certificates?{query}", headers=headers)
        assert answer.status_code == 200, (query, answer.text)
        assert answer.json()["count"] == 0
    assert mn.client.get("/v1/certificates", headers=headers).json()["count"] == 1


def test_a_holder_name_that_case_folding_lengthens_is_stored_and_found(
    chain_app: ChainAppFactory,
) -> None:
    mn = chain_app("MN")
    name = "Straße " + "ß" * 505  # 512 characters; 1,019 once folded (ß -> ss)
    holder = record_body()["holder"] | {"legal_name": name}
    issue(mn, mn.headers(), "MN-AEO-2025-0001", holder=holder)
    mn.settle()

    headers = mn.headers(Role.AUDITOR)
    found = mn.client.get("/v1/certificates", params={"holder_name": "STRASSE SS"}, headers=headers)
    assert found.status_code == 200, found.text
    [certificate] = found.json()["data"]
    assert certificate["holder_legal_name"] == name
    with mn.session() as session:
        folded = session.scalars(sa.select(Certificate.holder_name_folded)).one()
    assert folded == name.casefold()[:512]
