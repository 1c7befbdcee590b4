"""Secrets: key files encrypted at rest; no private key, passphrase or API token in the logs,
the responses or the database of a full run; API keys stored only as hashes and compared in
constant time.

The full run is MN's registry as an operator brings it up: ``ensure_key_files`` writes the
encrypted operator keystore and signing key (production scrypt cost), the member's admin
admits the operator account on the memory chain, the service loads its operator key from
the file with the passphrase, ``create_admin_key`` makes the first admin token, and then
everything goes through HTTP: API keys for an officer, an auditor and a partner, the signing
key registered, a certificate issued through the outbox, its payload, QR images and PDF, a
key rotation (a second key file), a suspension, listings, and the error paths (no token, a
malformed one, a wrong secret, a revoked key, a wrong role, unknown things, invalid bodies,
a duplicate). Every log record of every logger at DEBUG, everything written to stdout and
stderr, and every response's status, headers and body are kept and searched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import sqlite3
import stat
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2 as httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from contracts.bootstrap import DEV_FUNDING_WEI, Consortium, bootstrap_consortium, new_account
from contracts.chain import ChainSettings, connect, fund
from contracts.deploy import deploy
from contracts.domain.enums import AccountRole
from registry_api import auth
from registry_api.app import create_app
from registry_api.first_run import create_admin_key, ensure_key_files
from registry_api.keystore import (
    SigningKey,
    load_operator_key,
    load_signing_key,
    signing_key_encryption,
)
from registry_api.logs import configure_logging
from registry_api.services.documents import key_file_paths
from registry_api.settings import Settings
from registry_api.workers import ChainAccess, Workers
from tests.registry_api.certificate_data import record_body
from tests.registry_api.support import bearer, make_settings

# Slow, so not in `make test-fast` (`make test` runs it): full runs of the services, searching
# every log.
pytestmark = pytest.mark.slow

NUMBER = "MN-AEO-2025-0042"
EARLY_NUMBER = "MN-AEO-2025-0041"
CLASHING_NUMBER = "MN-AEO-2025-0043"
CLEAR_PEM_MARKERS = (
    b"-----BEGIN PRIVATE KEY-----",
    b"-----BEGIN EC PRIVATE KEY-----",
    b"-----BEGIN OPENSSH PRIVATE KEY-----",
    b"-----BEGIN RSA PRIVATE KEY-----",
)


@dataclass(frozen=True)
class Exchange:
    label: str
    status: int
    headers: str
    body: bytes


@dataclass
class FullRun:
    root: Path
    """Everything the run wrote: data directory, key files, database."""
    settings: Settings
    passphrase: str
    operator_key: bytes
    signing_keys: list[SigningKey]
    tokens: dict[str, str]
    """Role label -> bearer token, for every API key the run created."""
    wrong_passphrase: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    exchanges: list[Exchange] = field(default_factory=list)
    token_answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Bodies of the key-creation answers: the one place each token may appear."""
    logs: str = ""

    def secrets(self) -> dict[str, list[bytes]]:
        """Every form in which each secret could leak, by name."""
        found = {
            "passphrase": [self.passphrase.encode()],
            "wrong passphrase": [self.wrong_passphrase.encode()],
        }
        found["operator private key"] = forms_of_scalar(self.operator_key)
        for key in self.signing_keys:
            found[f"signing key {key.kid.hex()}"] = forms_of_signing_key(key)
        for label, token in self.tokens.items():
            found[f"API token of {label}"] = [token.encode(), token.split("_", 2)[2].encode()]
        return found


def forms_of_scalar(raw: bytes) -> list[bytes]:
    text = raw.hex()
    return [
        raw,
        text.encode(),
        ("0x" + text).encode(),
        text.upper().encode(),
        base64.b64encode(raw),
        str(int.from_bytes(raw, "big")).encode(),
    ]


def forms_of_signing_key(key: SigningKey) -> list[bytes]:
    private = key.private_key()
    if isinstance(private, ec.EllipticCurvePrivateKey):
        scalar = private.private_numbers().private_value.to_bytes(32, "big")
    else:
        scalar = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    return [*forms_of_scalar(scalar), pem, der, body, base64.b64encode(der)]


class Recorder:
    """Sends requests through the TestClient and keeps every answer."""

    def __init__(self, client: TestClient, run: FullRun) -> None:
        self.client = client
        self.run = run

    def __call__(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers.update(bearer(token))
        if method in ("POST", "DELETE"):
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
        response = self.client.request(method, path, headers=headers, **kwargs)
        label = f"{method} {path} -> {response.status_code}"
        content = response.content
        if path == "/v1/admin/api-keys" and response.status_code == 201:
            # The key-creation answer carries its token by design; the rest of it must not.
            body = response.json()
            self.run.token_answers.append((label, body))
            content = json.dumps({k: v for k, v in body.items() if k != "token"}).encode()
        shown = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        self.run.exchanges.append(Exchange(label, response.status_code, shown, content))
        return response


class _KeepAll(logging.Handler):
    """Keeps every record: its message, its arguments and extras, and any traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name} {record.levelname} {record.getMessage()} {record.__dict__!r}"
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.texts.append(text)


@contextmanager
def all_logs_kept() -> Iterator[_KeepAll]:
    """Every logger at DEBUG into one handler (py-evm's opcode tracing excepted)."""
    handler = _KeepAll()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # py-evm's own DEBUG records trace the EVM; at that volume the memory chain crawls, and
    # nothing of the registry's reaches them.
    quiet = {name: logging.getLogger(name).level for name in ("eth", "eth_tester")}
    for name in quiet:
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for name, previous in quiet.items():
            logging.getLogger(name).setLevel(previous)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> FullRun:
    """The whole run once per module, on a memory chain of its own (the shared one is
    rewound between tests, and every test here reads the same run)."""
    tmp_path = tmp_path_factory.mktemp("secrets")
    passphrase = secrets.token_urlsafe(24)  # generated here: no passphrase lives in the code
    settings = make_settings(
        tmp_path / "mn",
        f"sqlite:///{tmp_path / 'mn' / 'registry.db'}",
        authority="MN",
        passphrase=passphrase,
        log_level="DEBUG",
        run_workers=False,
    )
    out, err = io.StringIO(), io.StringIO()
    with (
        connect(ChainSettings(kind="memory")) as chain,
        all_logs_kept() as kept,
        redirect_stdout(out),
        redirect_stderr(err),
    ):
        deployer = new_account(chain)
        consortium = bootstrap_consortium(chain, deploy(chain, deployer), deployer)
        ensure_key_files(settings)
        operator = load_operator_key(settings.operator_key_path, passphrase)
        fund(chain, operator.address, DEV_FUNDING_WEI)
        consortium.admin("MN").add_account(
            operator.address, AccountRole.ADMIN | AccountRole.OPERATOR
        )
        admin_token = create_admin_key(settings, "first administrator")
        run = FullRun(
            root=tmp_path,
            settings=settings,
            passphrase=passphrase,
            operator_key=bytes(operator.account().key),
            signing_keys=[],
            tokens={"first admin": admin_token},
        )
        access = ChainAccess(chain, consortium.deployment, operator.account())
        app = create_app(settings, chain_access=access)
        with TestClient(app) as client:
            _realistic_flow(Recorder(client, run), run, app.state.workers, consortium)
        # The same service restarted with a wrong passphrase: documents answer 503, and
        # the wrong passphrase is a secret like the right one.
        wrong = Settings(**{**settings.model_dump(), "passphrase": run.wrong_passphrase})
        with TestClient(create_app(wrong)) as client:
            refused = Recorder(client, run)(
                "GET", f"/v1/certificates/{NUMBER}/payload", run.tokens["officer"]
            )
            assert refused.status_code == 503, refused.text
    run.signing_keys = [load_signing_key(path, passphrase) for path in key_file_paths(settings)]
    run.logs = "\n".join([out.getvalue(), err.getvalue(), *kept.texts])
    return run


def _realistic_flow(call: Recorder, run: FullRun, workers: Workers, consortium: Consortium) -> None:
    admin = run.tokens["first admin"]
    for path in ("/healthz", "/readyz", "/metrics"):
        call("GET", path)
    call("GET", "/v1/me", admin)
    for label, body in (
        ("officer", {"user": "b.bat-erdene", "role": "issuing_officer"}),
        ("auditor", {"user": "internal audit", "role": "auditor"}),
        ("partner", {"user": "KR risk unit", "role": "partner", "partner_authority": "KR"}),
        ("leaver", {"user": "leaver", "role": "auditor"}),
    ):
        created = call("POST", "/v1/admin/api-keys", admin, json=body)
        assert created.status_code == 201, created.text
        run.tokens[label] = created.json()["token"]
    officer, auditor = run.tokens["officer"], run.tokens["auditor"]

    # Documents before the signing key is on chain: refused.
    issued = call("POST", "/v1/certificates", officer, json=record_body(EARLY_NUMBER))
    assert issued.status_code == 202, issued.text
    workers.settle()
    early = call("GET", f"/v1/certificates/{EARLY_NUMBER}/qr.png", officer)
    assert early.status_code == 409
    assert call("POST", "/v1/admin/signing-keys", admin).status_code == 202
    workers.settle()
    issued = call("POST", "/v1/certificates", officer, json=record_body(NUMBER))
    assert issued.status_code == 202, issued.text
    workers.settle()
    call("GET", f"/v1/operations/{issued.json()['id']}", officer)
    call("GET", f"/v1/certificates/{NUMBER}", auditor)
    for document in ("payload", "qr.png", "qr.svg", "certificate.pdf"):
        answer = call("GET", f"/v1/certificates/{NUMBER}/{document}", officer)
        assert answer.status_code == 200, (document, answer.text)
    assert call("POST", "/v1/admin/signing-keys/rotate", admin).status_code == 202
    workers.settle()
    assert call("GET", f"/v1/certificates/{NUMBER}/payload", officer).status_code == 200
    suspended = call("POST", f"/v1/certificates/{NUMBER}/suspend", officer, json={"reason_code": 2})
    assert suspended.status_code == 202, suspended.text
    workers.settle()
    call("GET", f"/v1/certificates/{NUMBER}/history", auditor)
    call("GET", "/v1/admin/api-keys", admin, params={"include_revoked": "true"})
    call("GET", "/v1/admin/signing-keys", auditor)
    call("GET", f"/v1/partner/certificates/{NUMBER}", run.tokens["partner"])
    call("GET", "/v1/feed", auditor)

    # Error paths: each answers a problem, and none may echo what it was sent.
    leaver = run.tokens["leaver"]
    leaver_id = call("GET", "/v1/me", leaver).json()["key_id"]
    call("DELETE", f"/v1/admin/api-keys/{leaver_id}", admin)
    wrong_secret = f"aeo_{auth.token_prefix(officer)}_{'A' * 43}"
    for token, status in (
        (None, 401),
        ("not-a-key", 401),
        (wrong_secret, 401),
        (leaver, 401),
        (officer + "x", 401),
    ):
        assert call("GET", "/v1/me", token).status_code == status
    assert call("POST", "/v1/certificates", auditor, json=record_body("MN-X-1")).status_code == 403
    assert call("GET", "/v1/certificates/MN-NO-SUCH-1", officer).status_code == 404
    assert call("POST", "/v1/certificates", officer, json={"number": 7}).status_code == 422
    bad_json = call(
        "POST",
        "/v1/certificates",
        officer,
        content=f'{{"number": "{run.passphrase}"',
        headers={"Content-Type": "application/json"},
    )
    assert bad_json.status_code == 422
    assert call("POST", "/v1/certificates", officer, json=record_body(NUMBER)).status_code == 409
    assert call("POST", "/v1/admin/signing-keys", admin).status_code == 409
    assert call("POST", "/v1/admin/signing-keys/zz/revoke", admin, json={}).status_code == 422
    call("GET", "/no/such/route", admin)
    # The number issued on chain behind the service's back: the sender signs, estimates,
    # is refused, and logs why.
    consortium.operator("MN").issue(
        CLASHING_NUMBER, 2, date(2025, 1, 15), date(2028, 1, 14), b"\x01" * 32, b"\x02" * 32
    )
    clash = call("POST", "/v1/certificates", officer, json=record_body(CLASHING_NUMBER))
    workers.settle()
    failed = call("GET", f"/v1/operations/{clash.json()['id']}", officer).json()
    assert failed["state"] == "failed", failed


def inflated_pdf_streams(pdf: bytes) -> Iterator[bytes]:
    """The PDF's compressed streams inflated: text drawn on the page is inside them."""
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.DOTALL):
        try:
            yield zlib.decompress(match.group(1))
        except zlib.error:
            yield match.group(1)


def leaks(secrets_by_name: dict[str, list[bytes]], haystack: bytes) -> list[str]:
    return [
        f"{name} (form {index})"
        for name, forms in secrets_by_name.items()
        for index, form in enumerate(forms)
        if form in haystack
    ]


# ---------------------------------------------------------------- the tests


def test_no_secret_appears_in_any_log_of_a_full_run(full_run: FullRun) -> None:
    logs = full_run.logs.encode("utf-8", "backslashreplace")
    # The capture saw the service's own logs, the failed operation's and the workers'.
    for logger in ("registry_api.access", "registry_api.outbox", "registry_api.workers"):
        assert logger in full_run.logs

    assert leaks(full_run.secrets(), logs) == []
    assert b"Authorization" not in logs


def test_no_secret_appears_in_any_response_body_or_header_of_a_full_run(
    full_run: FullRun,
) -> None:
    assert len(full_run.exchanges) >= 40
    statuses = {exchange.status for exchange in full_run.exchanges}
    assert {200, 201, 202, 401, 403, 404, 409, 422} <= statuses
    pdfs = 0
    for exchange in full_run.exchanges:
        content = exchange.body + exchange.headers.encode()
        if exchange.body.startswith(b"%PDF"):
            content += b"".join(inflated_pdf_streams(exchange.body))
            pdfs += 1
        assert leaks(full_run.secrets(), content) == [], exchange.label
    assert pdfs == 1


def test_each_token_is_answered_once_to_the_admin_who_created_it_and_never_cached(
    full_run: FullRun,
) -> None:
    created = [body["token"] for _label, body in full_run.token_answers]
    assert created == [
        full_run.tokens[label] for label in ("officer", "auditor", "partner", "leaver")
    ]
    creations = [e for e in full_run.exchanges if e.label.startswith("POST /v1/admin/api-keys")]
    assert all("cache-control: no-store" in e.headers.lower() for e in creations)


def test_api_keys_are_stored_only_as_hashes(full_run: FullRun) -> None:
    database = make_url(full_run.settings.db_url).database
    assert database is not None
    with sqlite3.connect(database) as db:
        stored = {
            prefix: bytes(secret_hash)
            for prefix, secret_hash in db.execute("SELECT prefix, secret_hash FROM api_keys")
        }
        columns = {row[1] for row in db.execute("PRAGMA table_info(api_keys)")}
        cells = [
            value
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for row in db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 -- names from the schema
            for value in row
        ]

    assert len(stored) == len(full_run.tokens)
    for token in full_run.tokens.values():
        prefix = auth.token_prefix(token)
        assert prefix is not None
        assert stored[prefix] == hashlib.sha256(token.encode()).digest()
    assert not {"token", "secret", "api_key", "key"} & columns
    stored_bytes = b"\n".join(
        value if isinstance(value, bytes) else str(value).encode() for value in cells
    )
    assert leaks(full_run.secrets(), stored_bytes) == []


def test_no_file_the_service_wrote_holds_a_secret_in_clear(full_run: FullRun) -> None:
    """The database with its journal and free pages, every other file of the run; the key
    files are checked for their own keys below."""
    key_files = {full_run.settings.operator_key_path, *key_file_paths(full_run.settings)}
    scanned = 0
    for path in sorted(full_run.root.rglob("*")):
        if path.is_file():
            content = path.read_bytes()
            secrets_by_name = full_run.secrets()
            if path in key_files:
                # Encrypted with the passphrase; the passphrase itself must not be there.
                secrets_by_name = {"passphrase": secrets_by_name["passphrase"]}
            assert leaks(secrets_by_name, content) == [], path.name
            scanned += 1
    assert scanned >= len(key_files) + 1
    assert Path(str(make_url(full_run.settings.db_url).database)) in {
        p for p in full_run.root.rglob("*") if p.is_file()
    }


def test_key_files_are_encrypted_at_rest(full_run: FullRun) -> None:
    settings = full_run.settings
    keystore_bytes = settings.operator_key_path.read_bytes()
    keystore = json.loads(keystore_bytes)
    assert keystore["crypto"]["kdf"] == "scrypt"
    assert keystore["crypto"]["kdfparams"]["n"] >= 2**18
    assert keystore["crypto"]["cipher"] == "aes-128-ctr"
    assert leaks({"operator": forms_of_scalar(full_run.operator_key)}, keystore_bytes) == []
    assert stat.S_IMODE(settings.operator_key_path.stat().st_mode) == 0o600

    signing_files = key_file_paths(settings)
    assert len(signing_files) == 2  # the configured key and the one the rotation made
    for path, key in zip(signing_files, full_run.signing_keys, strict=True):
        content = path.read_bytes()
        assert content.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
        # PKCS#8 with scrypt at the operator key's cost, not PBKDF2 at 2,048 iterations.
        scheme = signing_key_encryption(path)
        assert (scheme.n, scheme.r, scheme.p) == (2**18, 8, 1)
        assert not any(marker in content for marker in CLEAR_PEM_MARKERS)
        assert leaks({key.kid.hex(): forms_of_signing_key(key)}, content) == []
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with pytest.raises(TypeError):
            # Without the passphrase the file does not open at all.
            serialization.load_pem_private_key(content, password=None)


def test_the_database_and_key_files_of_a_full_run_are_private(full_run: FullRun) -> None:
    database = Path(str(make_url(full_run.settings.db_url).database))
    private = [
        database,
        *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm", "-journal")),
        full_run.settings.operator_key_path,
        *key_file_paths(full_run.settings),
    ]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in private if p.exists()}
    assert database.name in modes
    assert len(modes) >= 4
    assert modes == dict.fromkeys(modes, 0o600)


def test_tokens_are_compared_with_hmac_compare_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An observation, not a replacement: the recorder calls the real compare_digest."""
    calls: list[tuple[bytes, bytes]] = []

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((bytes(a), bytes(b)))
        return hmac.compare_digest(a, b)

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}")
    token = create_admin_key(settings)
    wrong_secret = f"aeo_{auth.token_prefix(token)}_{'B' * 43}"
    unknown_prefix = f"aeo_{'0' * 12}_{'C' * 43}"
    monkeypatch.setattr(auth, "hmac", SimpleNamespace(compare_digest=recording))
    with TestClient(create_app(settings)) as client:
        answers = [
            client.get("/v1/me", headers=bearer(sent)).status_code
            for sent in (token, wrong_secret, unknown_prefix)
        ]

    assert answers == [200, 401, 401]
    stored = hashlib.sha256(token.encode()).digest()
    assert calls == [
        (stored, stored),
        (stored, hashlib.sha256(wrong_secret.encode()).digest()),
        # No key has this prefix: the comparison still runs, so the answer takes as long.
        (hashlib.sha256(b"").digest(), hashlib.sha256(unknown_prefix.encode()).digest()),
    ]


def test_the_scans_find_a_secret_that_does_leak(tmp_path: Path) -> None:
    """The machinery above is not blind: a key logged through the service's JSON logger and
    a token drawn in a compressed PDF stream are both found."""
    key = secrets.token_bytes(32)
    err = io.StringIO()
    configure_logging("INFO")
    with all_logs_kept() as kept, redirect_stderr(err):
        logging.getLogger("registry_api.test").info("loaded %s", "0x" + key.hex())
    logged = "\n".join([err.getvalue(), *kept.texts]).encode()
    assert set(leaks({"key": forms_of_scalar(key)}, logged)) == {"key (form 1)", "key (form 2)"}
    assert "loaded 0x" in err.getvalue()  # through the JSON handler, not only the keeper

    token = "aeo_0123456789ab_" + "Q" * 43
    pdf = b"%PDF-1.4\nstream\n" + zlib.compress(f"BT ({token}) Tj ET".encode()) + b"endstream"
    assert leaks({"token": [token.encode()]}, b"".join(inflated_pdf_streams(pdf))) == [
        "token (form 0)"
    ]
    assert leaks({"token": [token.encode()]}, pdf) == []
