"""API fuzzing: schemathesis over the service's whole OpenAPI document.

One administration's service (MN) is bound to a consortium deployed on the memory chain, with a
SQLite database, its document-signing key registered, certificates issued (among them the
number the OpenAPI examples use), an MRA in force with KZ and a KZ partner key. For every
operation of ``/openapi.json`` schemathesis generates requests from the documented examples,
from the schema (positive) and against it (negative). Each request carries a valid key of a
role the operation admits (admin wherever admin is admitted, else the operation's first role;
partner keys name KZ) and a fresh ``Idempotency-Key``, and each answer is checked:

- ``not_a_server_error``: no 5xx;
- ``status_code_conformance``: the status is one the operation documents;
- ``content_type_conformance``: the Content-Type is one documented for that status;
- ``response_schema_conformance``: the body validates against the documented schema;
- ``response_headers_conformance``: documented headers are present and valid.

Writes are accepted into the outbox (202) and not waited for.

The long run (docs/reliability.md, "API fuzzing")::

    .venv/bin/python -m tests.registry_api.fuzz_api --cases 2000

The suite runs a bounded, derandomized subset (tests/registry_api/test_schemathesis.py).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from contracts.bootstrap import Consortium, bootstrap_consortium, new_account
from contracts.chain import ChainSettings, connect
from contracts.deploy import deploy
from registry_api.db import Role
from registry_api.services.feed import FeedStreamSettings

from .conftest import ChainApp
from .feed_support import S, propose_mra
from .registry_support import issue, open_registry, record, register_key_on_chain

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)
#: the partner administration whose MRA with MN is in force
PARTNER = "KZ"
#: the certificate numbers the OpenAPI examples use, issued so that examples find something
EXAMPLE_NUMBERS = ("MN-AEO-2025-0001", "MN-AEO-1")
BASE_URL = f"http://{asgi.HOST}"
SOURCES = ("examples", GenerationMode.POSITIVE.value, GenerationMode.NEGATIVE.value)


@dataclass(frozen=True)
class Finding:
    """A check that failed: on which request, with which answer."""

    operation: str
    source: str
    check: str
    status: int
    detail: str
    curl: str


@dataclass
class FuzzReport:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    per_operation: Counter[str] = field(default_factory=Counter)
    per_source: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def server_errors(self) -> list[Finding]:
        return [f for f in self.findings if f.check == not_a_server_error.__name__]

    @property
    def violations(self) -> list[Finding]:
        """Answers that break the schema (status, media type, body or headers)."""
        return [f for f in self.findings if f.check != not_a_server_error.__name__]

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        sources = ", ".join(f"{name}: {n}" for name, n in sorted(self.per_source.items()))
        lines = [
            f"cases: {self.cases} over {len(self.per_operation)} operations "
            f"in {self.seconds:.0f} s ({sources})",
            f"statuses: {statuses}",
            f"5xx answers: {sum(n for code, n in self.statuses.items() if code >= 500)}",
            f"schema violations: {len(self.violations)}",
        ]
        kinds: dict[tuple[str, str, int], list[Finding]] = {}
        for finding in self.findings:
            kinds.setdefault((finding.operation, finding.check, finding.status), []).append(finding)
        for (operation, check, status), found in sorted(kinds.items()):
            first = found[0]
            lines.append(
                f"- {operation}: {check}, {status}, {len(found)}x ({first.source}): "
                f"{first.detail.splitlines()[0]}\n    {first.curl}"
            )
        return "\n".join(lines)


@dataclass
class FuzzTarget:
    """The service under test: its registry and a token for each role a route may admit."""

    registry: ChainApp
    tokens: dict[Role, str]

    def token_for(self, roles: Sequence[str]) -> str:
        admitted = [Role(role) for role in roles]
        role = Role.ADMIN if Role.ADMIN in admitted else admitted[0]
        return self.tokens[role]


def prepare_target(registry: ChainApp) -> FuzzTarget:
    """Give ``registry`` something to find: a registered signing key, certificates (the
    examples' numbers among them), an MRA in force with the partner; keys of every role."""
    consortium = registry.consortium
    register_key_on_chain(registry)
    issue(registry, *(record(number) for number in EXAMPLE_NUMBERS))
    propose_mra(consortium, PARTNER, {PARTNER: S, registry.authority: S})
    registry.settle()
    # A stream that ends on its own: the fuzzer reads whole answers.
    registry.app.state.feed_stream = FeedStreamSettings(
        stream_poll_interval=0.05, stream_heartbeat=0.1, stream_max_seconds=0.2
    )
    tokens = {role: registry.token(role) for role in Role if role is not Role.PARTNER}
    tokens[Role.PARTNER] = registry.token(Role.PARTNER, partner_authority=PARTNER)
    return FuzzTarget(registry=registry, tokens=tokens)


def _strategies(operation: Any, source: str) -> list[st.SearchStrategy[Any]]:
    if source == "examples":
        return list(operation.schema.get_strategies_from_examples(operation))
    return [operation.as_strategy(generation_mode=GenerationMode(source))]


def operation_count(document: dict[str, Any]) -> int:
    return sum(len(item) for item in document["paths"].values())


def fuzz(
    target: FuzzTarget,
    *,
    examples_per_operation: int,
    seed: int | None = None,
    sources: Sequence[str] = SOURCES,
    paths: Collection[str] | None = None,
    report: FuzzReport | None = None,
) -> FuzzReport:
    """Send up to ``examples_per_operation`` generated requests per operation and source
    (examples, positive, negative), to every operation or to those of ``paths``; record
    every answer and every failed check in ``report`` (a new one by default).

    ``seed`` None: derandomized (the same requests every run)."""
    report = report or FuzzReport()
    app = target.registry.app
    document = app.openapi()
    schema = schemathesis.openapi.from_dict(document)
    started = time.monotonic()
    # Not entered: the app's lifespan (migrations, workers) is the registry's own.
    session = asgi.get_client(app)
    for result in schema.get_all_operations():
        operation = result.ok()
        if paths is not None and operation.path not in paths:
            continue
        spec = document["paths"][operation.path][operation.method.lower()]
        token = target.token_for(spec["x-roles"]) if "x-roles" in spec else None
        for source in sources:
            for strategy in _strategies(operation, source):
                _run(
                    report,
                    session,
                    operation,
                    strategy,
                    source,
                    token,
                    examples_per_operation,
                    seed,
                )
    report.seconds += time.monotonic() - started
    return report


def _run(
    report: FuzzReport,
    session: Any,
    operation: Any,
    strategy: st.SearchStrategy[Any],
    source: str,
    token: str | None,
    max_examples: int,
    seed: int | None,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @hypothesis.settings(
        max_examples=max_examples,
        derandomize=seed is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def send(case: Any) -> None:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = case.call(base_url=BASE_URL, session=session, headers=headers)
        report.cases += 1
        report.statuses[response.status_code] += 1
        report.per_operation[label] += 1
        report.per_source[source] += 1
        for check in CHECKS:
            # One check at a time, so that each finding names the check that failed.
            try:
                case.validate_response(response, checks=[check], headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    report.findings.append(
                        _finding(label, source, check.__name__, failure, response, case, headers)
                    )

    if seed is not None:
        send = hypothesis.seed(seed)(send)
    # Unsatisfiable: nothing to generate, as for a negative case of an operation that takes
    # no input to break (GET /healthz).
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        send()


def _finding(
    label: str,
    source: str,
    check: str,
    failure: Failure,
    response: Any,
    case: Any,
    headers: dict[str, str],
) -> Finding:
    sent = {k: v for k, v in headers.items() if k != "Authorization"}
    return Finding(
        operation=label,
        source=source,
        check=check,
        status=response.status_code,
        detail=f"{failure.title}: {failure.message}"[:2000],
        curl=case.as_curl_command(headers=sent, base_url=BASE_URL),
    )


# ---------------------------------------------------------------- the long run


@contextmanager
def deployed_registry(data_dir: Path) -> Iterator[ChainApp]:
    """MN's service on a fresh memory chain with MN, KZ and KR bootstrapped."""
    chain = connect(ChainSettings(kind="memory"))
    deployer = new_account(chain)
    deployment = deploy(chain, deployer)
    consortium: Consortium = bootstrap_consortium(chain, deployment, deployer)
    with ExitStack() as stack:
        yield open_registry(
            stack,
            data_dir,
            consortium,
            "MN",
            rate_limit_per_minute=1_000_000,
            rate_limit_burst=100_000,
        )


def run(cases: int, seed: int | None) -> FuzzReport:
    """At least ``cases`` requests: rounds over every operation, the first with the
    documented examples too, each later one with the next seed, until enough were sent."""
    with (
        tempfile.TemporaryDirectory(prefix="aeo-fuzz-") as tmp,
        deployed_registry(Path(tmp)) as registry,
    ):
        target = prepare_target(registry)
        generated = [s for s in SOURCES if s != "examples"]
        per_round = math.ceil(cases / (operation_count(registry.app.openapi()) * len(generated)))
        report = FuzzReport()
        round_seed, sources = seed, SOURCES
        while report.cases < cases:
            fuzz(
                target,
                examples_per_operation=per_round,
                seed=round_seed,
                sources=sources,
                report=report,
            )
            round_seed, sources = (round_seed or 0) + 1, generated
            print(f"... {report.cases} cases", file=sys.stderr)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.registry_api.fuzz_api", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cases", type=int, default=2000, help="requests to send at least")
    parser.add_argument("--seed", type=int, default=None, help="default: derandomized")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    report = run(args.cases, args.seed)
    print(report.summary())
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
