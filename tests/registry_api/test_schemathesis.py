"""API fuzzing, the fast subset: schemathesis over every operation of the OpenAPI document
of a service bound to a deployed consortium (memory chain, SQLite), with valid keys and a
fresh Idempotency-Key per request; a few derandomized requests per operation and source.
The long run is ``python -m tests.registry_api.fuzz_api --cases 2000`` (``make fuzz-api``);
its figures are in docs/reliability.md."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.responses import JSONResponse

from contracts.bootstrap import Consortium

from .conftest import ChainApp
from .fuzz_api import FuzzTarget, fuzz, operation_count, prepare_target
from .registry_support import open_registry

# Slow, so not in `make test-fast` (`make test` runs it): API fuzzing.
pytestmark = pytest.mark.slow


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[ChainApp]:
    with ExitStack() as stack:
        yield open_registry(
            stack,
            tmp_path,
            consortium,
            "MN",
            # The fuzzer is one caller sending fast; its answers must not turn into 429s.
            rate_limit_per_minute=1_000_000,
            rate_limit_burst=100_000,
        )


def test_fuzzing_every_operation_finds_no_server_error_and_no_schema_violation(
    registry: ChainApp,
) -> None:
    target = prepare_target(registry)
    report = fuzz(target, examples_per_operation=3)

    # The snapshot routes answer 503 until the registry first publishes one (its signing key
    # is not registered here): the registry's state, not the fuzzer's input.
    findings = [
        finding
        for finding in report.findings
        if not (finding.status == 503 and finding.operation.startswith("GET /v1/snapshot"))
    ]
    assert not findings, report.summary()
    assert len(report.per_operation) == operation_count(registry.app.openapi())
    assert report.cases >= 300, report.summary()
    assert set(report.per_source) == {"examples", "positive", "negative"}
    # Valid requests got through: reads answered, writes accepted into the outbox.
    assert report.statuses[200], report.summary()
    assert report.statuses[202], report.summary()


def test_the_fuzzer_reports_a_server_error_and_an_answer_that_breaks_its_schema(
    registry: ChainApp,
) -> None:
    app = registry.app

    @app.get("/broken/fails", summary="Fails")
    def fails() -> None:
        raise RuntimeError("a bug the fuzzer must find")

    @app.get(
        "/broken/lies",
        summary="Answers what it does not document",
        responses={200: {"content": {"application/json": {"schema": {"type": "integer"}}}}},
    )
    def lies() -> JSONResponse:
        return JSONResponse({"not": "an integer"})

    report = fuzz(
        FuzzTarget(registry, tokens={}),
        examples_per_operation=2,
        sources=["positive"],
        paths={"/broken/fails", "/broken/lies"},
    )

    found = {(f.operation, f.check, f.status) for f in report.findings}
    assert ("GET /broken/fails", "not_a_server_error", 500) in found
    assert ("GET /broken/fails", "status_code_conformance", 500) in found
    assert ("GET /broken/lies", "response_schema_conformance", 200) in found
    assert report.server_errors
    assert report.violations
    assert "5xx answers: 1" in report.summary()
