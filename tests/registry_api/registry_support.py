"""What the document, import and consortium-administration tests share: a registry bound
to the test consortium whose account may also act as an admin on-chain, certificates
issued through the outbox, and the import runner driven by hand."""

from __future__ import annotations

import secrets
import time
import uuid
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from contracts import calls
from contracts.bootstrap import Consortium, new_account
from contracts.calls import Issuance
from contracts.domain.days import OPEN_ENDED
from contracts.domain.enums import AccountRole, KeyAlgorithm
from contracts.domain.record import CertificateRecord
from registry_api.app import create_app
from registry_api.auth import AuthenticatedKey
from registry_api.db import Certificate, ImportJob, ImportState, Role as ApiRole
from registry_api.keystore import create_signing_key, load_signing_key
from registry_api.outbox import enqueue, request_fingerprint
from registry_api.services.api_keys import create_api_key
from registry_api.services.imports import ImportWorker
from registry_api.workers import ChainAccess

from .conftest import ChainApp, new_database_url
from .support import make_settings


def admin_operator(consortium: Consortium, authority: str) -> LocalAccount:
    """A fresh account acting for ``authority`` as ADMIN and OPERATOR, so one registry can
    send both certificate writes and administration writes."""
    account = new_account(consortium.chain)
    consortium.admin(authority).add_account(
        account.address, AccountRole.ADMIN | AccountRole.OPERATOR
    )
    return account


def open_registry(
    stack: ExitStack,
    tmp_path: Path,
    consortium: Consortium,
    authority: str = "MN",
    *,
    as_admin: bool = True,
    signing_key: KeyAlgorithm | None = KeyAlgorithm.ES256,
    run_workers: bool = False,
    **overrides: Any,
) -> ChainApp:
    """A started registry of ``authority`` on the consortium's chain; its workers are driven
    by hand unless ``run_workers``.

    ``as_admin``: it sends from an account with the ADMIN role too (else the member's plain
    operator). ``signing_key``: create its document-signing key file (not registered)."""
    data_dir = tmp_path / f"{authority.lower()}-{uuid.uuid4().hex[:6]}"
    settings = make_settings(
        data_dir,
        new_database_url(data_dir),
        authority=authority,
        run_workers=run_workers,
        sender_poll_interval=0.05,
        indexer_poll_interval=0.1,
        # Generated per test: no passphrase lives in the code.
        passphrase=secrets.token_urlsafe(18),
        **overrides,
    )
    if signing_key is not None:
        # Real scrypt at a throwaway cost: the production one (2**18) costs a second or two
        # per key, for every registry every test opens (tests/registry_api/test_keystore.py
        # checks the production default).
        create_signing_key(
            settings.signing_key_path, settings.key_passphrase(), signing_key, scrypt_n=2**12
        )
    operator = (
        admin_operator(consortium, authority) if as_admin else consortium.member(authority).operator
    )
    access = ChainAccess(
        chain=consortium.chain, deployment=consortium.deployment, operator=operator
    )
    app = create_app(settings, chain_access=access)
    client = stack.enter_context(TestClient(app))
    return ChainApp(authority=authority, app=app, client=client, consortium=consortium)


def register_key_on_chain(registry: ChainApp) -> bytes:
    """Publish the registry's key file on-chain with its member's admin account (not through
    the API under test), trusted from a minute ago; index it. Returns the kid."""
    settings = registry.app.state.settings
    key = load_signing_key(settings.signing_key_path, settings.key_passphrase())
    registry.consortium.admin(registry.authority).register_signing_key(
        key.public.public_key, key.algorithm, int(time.time()) - 60
    )
    registry.settle()
    return key.kid


def record(number: str, authority: str = "MN", **overrides: Any) -> CertificateRecord:
    values: dict[str, Any] = {
        "issuer": authority,
        "number": number,
        "holder": {
            "legal_name": "Tavan Bogd Trade LLC",
            "address": {
                "street": "Peace Avenue 17",
                "city": "Ulaanbaatar",
                "postal_code": "14200",
                "country": "MN",
            },
            "identification": {"scheme": "TIN", "number": "5012345"},
        },
        "business_roles": ["IM", "EX"],
        "sites": [],
        "tiers": 3,
        "validated_criteria": ["C1", "C2"],
        "issuing_office": "Ulaanbaatar Customs House",
        "officer": "B. Bat-Erdene",
        "valid_from": date(2025, 1, 15),
        "valid_until": date(2030, 1, 14),
    }
    values.update(overrides)
    return CertificateRecord.model_validate(values)


def officer_key(registry: ChainApp) -> AuthenticatedKey:
    with registry.session() as session:
        key, _token = create_api_key(
            session,
            user=f"officer {uuid.uuid4().hex[:6]}",
            role=ApiRole.ISSUING_OFFICER,
            own_authority=registry.authority,
        )
        return AuthenticatedKey(
            id=key.id,
            prefix=key.prefix,
            user=key.user.name,
            role=key.role,
            partner_authority=None,
            authority=registry.authority,
        )


def issue(registry: ChainApp, *records: CertificateRecord) -> None:
    """Issue ``records`` the way the service does (rows pending, an outbox operation), then
    send and index, independently of the certificate routes."""
    caller = officer_key(registry)
    with registry.session() as session:
        items = []
        for item in records:
            session.add(Certificate.from_record(item))
            hashes = item.hashes()
            items.append(
                Issuance(
                    item.number,
                    item.tiers,
                    item.valid_from,
                    item.valid_until or OPEN_ENDED,
                    hashes.holder_ref,
                    hashes.commitment,
                )
            )
        numbers = [item.number for item in records]
        enqueue(
            session,
            key=caller,
            idempotency_key=uuid.uuid4().hex,
            kind="issue_batch",
            operation=calls.issue_batch(items),
            subject=None,
            request_fingerprint=request_fingerprint("issue_batch", None, numbers),
            details={"creates": numbers},
        )
        session.commit()
    registry.settle()


def import_worker(registry: ChainApp) -> ImportWorker:
    worker: ImportWorker = registry.app.state.import_worker
    return worker


def run_imports(registry: ChainApp, max_rounds: int = 20) -> None:
    """Drive the import runner, the sender and the indexer until no import is unfinished."""
    runner = import_worker(registry).runner
    for _ in range(max_rounds):
        runner.run_once()
        registry.settle()
        with registry.session() as session:
            unfinished = session.scalar(
                sa.select(sa.func.count())
                .select_from(ImportJob)
                .where(ImportJob.state.in_((ImportState.QUEUED, ImportState.RUNNING)))
            )
        if not unfinished:
            return
    raise AssertionError(f"imports still unfinished after {max_rounds} rounds")
