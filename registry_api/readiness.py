"""Readiness checks behind ``/readyz``: the database now; the chain and the indexer's lag
are added by whoever builds those parts (``create_app(readiness_checks=...)`` or
:func:`register_readiness_check`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import Engine

logger = logging.getLogger("registry_api.readiness")


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    detail: str = "ok"


#: A check answers quickly (it runs on every probe) and may raise: that counts as not ready.
ReadinessCheck = Callable[[], CheckResult]


def database_check(engine: Engine) -> ReadinessCheck:
    def check() -> CheckResult:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return CheckResult(True)

    return check


def run_checks(checks: Mapping[str, ReadinessCheck]) -> dict[str, CheckResult]:
    results: dict[str, CheckResult] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # any failure means "not ready", never a 500
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = CheckResult(False, f"{type(exc).__name__}: {exc}"[:300])
    return results


def register_readiness_check(app: FastAPI, name: str, check: ReadinessCheck) -> None:
    checks: dict[str, ReadinessCheck] = app.state.readiness_checks
    if name in checks:
        raise ValueError(f"a readiness check named {name!r} is already registered")
    checks[name] = check
