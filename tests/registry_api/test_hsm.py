"""registry_api/hsm.py against a real SoftHSM2: keys made in the token never leave it, ES256
QR payloads and secp256k1 transactions signed in it verify and are mined, the settings
select the backend, and every misconfiguration gets a clear error."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from hexbytes import HexBytes
from pkcs11 import Attribute, KeyType, ObjectClass, exceptions as p11
from pydantic import SecretStr, ValidationError

from contracts.bootstrap import Consortium
from contracts.chain import Chain, fund
from contracts.domain.enums import AccountRole, KeyAlgorithm
from contracts.reader import RegistryReader
from contracts.transactions import Fees, TxClient, TxRequest, recover_sender, sign
from registry_api import hsm
from registry_api.app import create_app
from registry_api.db import Operation, OperationState, Role as ApiRole
from registry_api.errors import ConfigurationError, UnavailableError
from registry_api.first_run import ensure_key_files
from registry_api.keystore import create_operator_key, create_signing_key
from registry_api.settings import Settings
from registry_api.workers import ChainAccess, chain_access_from_settings
from tests.verifier.world import NOW, build_world
from verifier import Outcome, keys, payload as aeo1, verify
from verifier.chain_source import ChainStatusSource
from verifier.offline import OfflineCache
from verifier.sync import sync

from .certificate_data import record_body
from .conftest import ChainApp, new_database_url
from .softhsm import SoftHsm, start_softhsm
from .support import assert_problem, make_settings

P256_HALF = hsm.P256_ORDER // 2
SECP256K1_HALF = hsm.SECP256K1_ORDER // 2
#: Signatures per low-S check: a token that did not normalise would pass all of them by
#: chance once in 2^64.
SAMPLES = 64


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    started = start_softhsm(tmp_path_factory)
    yield started
    hsm.close_tokens()


@pytest.fixture(scope="session")
def token(softhsm: SoftHsm) -> hsm.HsmToken:
    return hsm.open_token(softhsm.config())


@pytest.fixture(scope="session")
def signing_key(token: hsm.HsmToken) -> hsm.HsmSigningKey:
    """The token's document-signing key under the default label."""
    key = token.create_key(hsm.DEFAULT_SIGNING_KEY_LABEL, hsm.KeyKind.SIGNING)
    assert isinstance(key, hsm.HsmSigningKey)
    return key


@pytest.fixture(scope="session")
def operator(token: hsm.HsmToken) -> hsm.HsmAccount:
    """The token's operator account under the default label."""
    account = token.create_key(hsm.DEFAULT_OPERATOR_KEY_LABEL, hsm.KeyKind.OPERATOR)
    assert isinstance(account, hsm.HsmAccount)
    return account


def new_label(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def hsm_settings(
    tmp_path: Path, softhsm: SoftHsm, database_url: str | None = None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "key_backend": "pkcs11",
        "hsm_module": softhsm.module,
        "hsm_token_label": softhsm.token,
        "hsm_pin": softhsm.pin,
    }
    values.update(overrides)
    url = database_url or f"sqlite:///{tmp_path / 'registry.db'}"
    return make_settings(tmp_path, url, **values)


# ---------------------------------------------------------------- keys stay in the token


@pytest.mark.parametrize("kind", list(hsm.KeyKind))
def test_a_key_made_in_the_token_is_sensitive_and_never_extractable(
    token: hsm.HsmToken, kind: hsm.KeyKind
) -> None:
    label = new_label(kind.value)
    token.create_key(label, kind)

    assert token.key_attributes(label, kind) == {
        "token": True,
        "private": True,
        "sensitive": True,
        "extractable": False,
        "always_sensitive": True,
        "never_extractable": True,
    }
    token.check_not_exportable(label, kind)  # returns only when the token refuses
    # The same question asked of the token directly, past this module: C_GetAttributeValue
    # on CKA_VALUE answers CKR_ATTRIBUTE_SENSITIVE.
    with token._token.open() as session:
        private = session.get_key(
            object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, label=label
        )
        with pytest.raises(p11.AttributeSensitive):
            private[Attribute.VALUE]
        assert private[Attribute.DERIVE] is False


def test_a_key_the_token_would_give_out_is_reported_without_its_value(
    token: hsm.HsmToken, caplog: pytest.LogCaptureFixture
) -> None:
    # Made past this module, as a careless vendor tool could: not sensitive, extractable.
    label = new_label("exportable")
    with token._token.open(rw=True) as session:
        parameters = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: hsm.KeyKind.SIGNING.ec_params}, local=True
        )
        _public, private = parameters.generate_keypair(
            label=label,
            store=True,
            private_template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
        )
        value = bytes(private[Attribute.VALUE])

    with pytest.raises(hsm.HsmError, match="gives out the private value") as reported:
        token.check_not_exportable(label, hsm.KeyKind.SIGNING)
    assert value.hex() not in str(reported.value)
    assert "can leave the token" in caplog.text


def test_the_token_backed_key_object_refuses_to_give_its_private_value(
    signing_key: hsm.HsmSigningKey,
) -> None:
    private = signing_key.private_key()
    with pytest.raises(hsm.HsmError, match="stays inside the PKCS#11 token"):
        private.private_numbers()
    with pytest.raises(hsm.HsmError, match="stays inside the PKCS#11 token"):
        private.private_bytes(None, None, None)
    with pytest.raises(TypeError, match="cannot be pickled"):
        private.__reduce__()
    assert "kid=" in repr(signing_key)


def test_a_label_already_in_the_token_is_never_replaced(token: hsm.HsmToken) -> None:
    label = new_label("taken")
    first = token.create_key(label, hsm.KeyKind.SIGNING)
    assert isinstance(first, hsm.HsmSigningKey)

    with pytest.raises(hsm.HsmError, match=f"already holds an object labelled '{label}'"):
        token.create_key(label, hsm.KeyKind.OPERATOR)
    assert token.signing_key(label).kid == first.kid


# ---------------------------------------------------------------- ES256 documents


def test_es256_signatures_from_the_token_verify_and_are_low_s(
    signing_key: hsm.HsmSigningKey,
) -> None:
    public = signing_key.private_key().public_key()
    for index in range(SAMPLES):
        message = f"payload {index}".encode()
        der = signing_key.private_key().sign(message, ec.ECDSA(hashes.SHA256()))
        public.verify(der, message, ec.ECDSA(hashes.SHA256()))
        _r, s = decode_dss_signature(der)
        assert s <= P256_HALF


def test_the_token_key_signs_a_prehashed_sha256_digest_and_refuses_other_hashes(
    signing_key: hsm.HsmSigningKey,
) -> None:
    private = signing_key.private_key()
    digest = hashlib.sha256(b"claims").digest()
    der = private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    private.public_key().verify(der, b"claims", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(hsm.HsmError, match="ES256 hashes with SHA-256, not sha384"):
        private.sign(b"claims", ec.ECDSA(hashes.SHA384()))
    with pytest.raises(hsm.HsmError, match="ES256 signs SHA-256 digests only"):
        private.sign(bytes(48), ec.ECDSA(Prehashed(hashes.SHA384())))


def test_the_cose_signature_from_the_token_has_the_form_the_file_backend_writes(
    signing_key: hsm.HsmSigningKey,
) -> None:
    signature = keys.sign(signing_key.private_key(), b"the Sig_structure")
    assert len(signature) == keys.SIGNATURE_LENGTH
    assert aeo1.non_canonical_signature(KeyAlgorithm.ES256, signature) is None
    assert keys.verify_signature(
        signing_key.private_key().public_key(), b"the Sig_structure", signature
    )
    assert keys.key_id_of(signing_key.private_key()) == signing_key.kid
    assert signing_key.algorithm is KeyAlgorithm.ES256


def test_a_qr_payload_signed_in_the_token_is_recognized_by_the_verifier(
    signing_key: hsm.HsmSigningKey,
) -> None:
    world = build_world(es256=signing_key.private_key())
    text = world.text()

    verdict = verify(text, as_authority="KR", clock=NOW, source=world.source)
    assert verdict.outcome is Outcome.RECOGNIZED
    cose = aeo1.decode(text).cose
    assert cose.kid == signing_key.kid
    assert aeo1.non_canonical_signature(KeyAlgorithm.ES256, cose.signature) is None


def test_a_low_s_signature_is_kept_and_a_high_s_one_is_mirrored() -> None:
    r = (12345).to_bytes(32, "big")
    low = r + (P256_HALF).to_bytes(32, "big")
    high = r + (P256_HALF + 1).to_bytes(32, "big")
    assert hsm.low_s(low, hsm.P256_ORDER) == low
    assert hsm.low_s(high, hsm.P256_ORDER) == r + (hsm.P256_ORDER - P256_HALF - 1).to_bytes(
        32, "big"
    )


# ---------------------------------------------------------------- secp256k1 transactions


def test_transaction_signatures_from_the_token_recover_its_address_and_are_low_s(
    operator: hsm.HsmAccount,
) -> None:
    for nonce in range(SAMPLES):
        signed = operator.sign_transaction(
            {
                "nonce": nonce,
                "gas": 21_000,
                "value": 1,
                "data": b"",
                "to": "0x" + "11" * 20,
                "chainId": 1337,
                "maxFeePerGas": 2 * 10**9,
                "maxPriorityFeePerGas": 1,
                "type": 2,
            }
        )
        assert signed.s <= SECP256K1_HALF
        assert signed.v in (0, 1)
        assert recover_sender(signed.raw_transaction) == operator.address


def test_a_signed_message_recovers_to_the_token_address(operator: hsm.HsmAccount) -> None:
    message = encode_defunct(text="AEO registry")
    signed = operator.sign_message(message)
    assert Account.recover_message(message, signature=signed.signature) == operator.address
    assert signed.s <= SECP256K1_HALF


def test_a_from_field_naming_another_account_is_refused(operator: hsm.HsmAccount) -> None:
    with pytest.raises(TypeError, match="from field must match"):
        operator.sign_transaction({"from": "0x" + "22" * 20, "nonce": 0, "gas": 21_000})


@pytest.mark.parametrize(
    "fees",
    [
        pytest.param(None, id="eip1559"),
        pytest.param(Fees(gas_price=10**9), id="legacy"),
    ],
)
def test_a_transaction_signed_in_the_token_is_mined_from_the_token_address(
    memory_chain: Chain, operator: hsm.HsmAccount, fees: Fees | None
) -> None:
    fund(memory_chain, operator.address, 10**18)
    client = TxClient(memory_chain)
    recipient = Account.create().address
    request = TxRequest(to=recipient, data=HexBytes(b""), value=12345)
    signed = sign(
        request,
        operator,  # an eth_account BaseAccount: the surface sign() uses of a LocalAccount
        nonce=client.nonce(operator.address),
        gas=21_000,
        fees=fees or client.fees(),
        chain_id=client.chain_id,
    )
    client.broadcast(signed)
    receipt = client.check(client.wait_receipt(signed.hash, timeout=10))

    assert receipt["from"] == operator.address == signed.sender
    assert recover_sender(signed.raw) == operator.address
    assert memory_chain.w3.eth.get_balance(recipient) == 12345
    mined = memory_chain.w3.eth.get_transaction(signed.hash)
    assert int(mined["s"].hex(), 16) <= SECP256K1_HALF


# ---------------------------------------------------------------- errors say what to fix


def test_a_wrong_pin_is_refused_without_showing_it(softhsm: SoftHsm) -> None:
    wrong = secrets.token_hex(8)
    with pytest.raises(hsm.HsmError) as refused:
        hsm.open_token(softhsm.config(softhsm.spare_token, wrong))
    assert refused.value.detail == (
        f"wrong PIN for PKCS#11 token '{softhsm.spare_token}' (AEO_HSM_PIN or AEO_HSM_PIN_FILE)"
    )
    assert wrong not in str(refused.value)


def test_a_second_configuration_with_another_pin_is_refused(
    softhsm: SoftHsm, token: hsm.HsmToken
) -> None:
    with pytest.raises(hsm.HsmError, match="already open in this process with another PIN"):
        hsm.open_token(softhsm.config(pin=secrets.token_hex(8)))
    assert hsm.open_token(softhsm.config()) is token


def test_a_missing_key_names_the_command_that_creates_it(token: hsm.HsmToken) -> None:
    with pytest.raises(hsm.HsmError) as missing:
        token.signing_key("no-such-key")
    assert missing.value.detail == (
        "PKCS#11 token 'aeo-test' holds no signing key labelled 'no-such-key': create one "
        "with: aeo keys new --pkcs11 --token aeo-test --label no-such-key --kind signing"
    )


def test_a_key_on_the_wrong_curve_is_refused(token: hsm.HsmToken, operator: hsm.HsmAccount) -> None:
    with pytest.raises(hsm.HsmError, match="is not on P-256, the curve of a signing key"):
        token.signing_key(operator.label)


def test_a_missing_token_lists_the_tokens_present(softhsm: SoftHsm) -> None:
    with pytest.raises(hsm.HsmError) as missing:
        hsm.open_token(softhsm.config("no-such-token"))
    assert "no PKCS#11 token labelled 'no-such-token'" in missing.value.detail
    assert "'aeo-spare', 'aeo-test'" in missing.value.detail


def test_a_missing_module_is_named(tmp_path: Path) -> None:
    config = hsm.TokenConfig(tmp_path / "libnothing.so", "aeo-test", SecretStr("1234"))
    with pytest.raises(hsm.HsmError, match=r"libnothing\.so' does not exist"):
        hsm.open_token(config)


def test_a_token_label_longer_than_pkcs11_allows_is_refused(softhsm: SoftHsm) -> None:
    with pytest.raises(hsm.HsmError, match="longer than 32 bytes"):
        softhsm.config("x" * 33)


def test_a_session_the_token_dropped_is_reopened(
    token: hsm.HsmToken, signing_key: hsm.HsmSigningKey
) -> None:
    # Closing it behind the module's back logs the process out, as an HSM restart would.
    token._session.close()

    der = signing_key.private_key().sign(b"after a restart", ec.ECDSA(hashes.SHA256()))
    signing_key.private_key().public_key().verify(
        der, b"after a restart", ec.ECDSA(hashes.SHA256())
    )


# ---------------------------------------------------------------- settings and selection


def test_the_file_backend_is_the_default(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    assert settings.key_backend is hsm.KeyBackend.FILE
    assert settings.hsm_module == hsm.DEFAULT_PKCS11_MODULE


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hsm_pin": "1234"}, "needs AEO_HSM_TOKEN_LABEL"),
        ({"hsm_token_label": "aeo-test"}, "needs the token's PIN"),
        ({"hsm_token_label": "x" * 33, "hsm_pin": "1234"}, "longer than 32 bytes"),
    ],
)
def test_the_pkcs11_backend_without_token_or_pin_is_refused(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", key_backend="pkcs11", **overrides)


def test_the_pin_comes_from_a_file_and_never_shows(tmp_path: Path) -> None:
    pin = secrets.token_hex(8)
    pin_file = tmp_path / "pin"
    pin_file.write_text(pin + "\n", encoding="utf-8")
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'r.db'}",
        key_backend="pkcs11",
        hsm_token_label="aeo-test",
        hsm_pin_file=pin_file,
    )
    assert settings.hsm_pin is not None
    assert settings.hsm_pin.get_secret_value() == pin
    assert pin not in repr(settings)
    assert pin not in str(settings.model_dump())


def test_a_pin_and_a_pin_file_together_are_refused(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("1234", encoding="utf-8")
    with pytest.raises(ValidationError, match="not both"):
        make_settings(
            tmp_path, f"sqlite:///{tmp_path / 'r.db'}", hsm_pin="1234", hsm_pin_file=pin_file
        )


def test_an_unreadable_pin_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"hsm_pin_file '.*missing' cannot be read"):
        make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", hsm_pin_file=tmp_path / "missing")


def test_the_pkcs11_backend_gives_the_token_keys(
    tmp_path: Path,
    softhsm: SoftHsm,
    signing_key: hsm.HsmSigningKey,
    operator: hsm.HsmAccount,
) -> None:
    settings = hsm_settings(tmp_path, softhsm)

    found = hsm.document_signing_keys(settings)
    assert list(found) == [signing_key.kid]
    assert found[signing_key.kid].public == signing_key.public
    signer = hsm.transaction_signer(settings)
    assert isinstance(signer, hsm.HsmAccount)
    assert signer.address == operator.address


def test_the_file_backend_gives_the_key_files(tmp_path: Path) -> None:
    passphrase = secrets.token_urlsafe(18)
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", passphrase=passphrase)
    assert hsm.transaction_signer(settings) is None  # no key file: writes wait unsent
    key = create_signing_key(settings.signing_key_path, passphrase, scrypt_n=2**4)
    operator = create_operator_key(settings.operator_key_path, passphrase, scrypt_n=2**4)

    assert list(hsm.document_signing_keys(settings)) == [key.kid]
    signer = hsm.transaction_signer(settings)
    assert signer is not None
    assert signer.address == operator.address


def test_a_missing_token_key_makes_documents_unavailable(
    tmp_path: Path, softhsm: SoftHsm, token: hsm.HsmToken
) -> None:
    settings = hsm_settings(tmp_path, softhsm, hsm_signing_key_label="not-made-yet")
    with pytest.raises(UnavailableError, match="holds no signing key labelled 'not-made-yet'"):
        hsm.document_signing_keys(settings)


# ---------------------------------------------------------------- the registry, end to end


@contextmanager
def hsm_registry(
    tmp_path: Path,
    softhsm: SoftHsm,
    consortium: Consortium,
    signing_key: hsm.HsmSigningKey,
    operator: hsm.HsmAccount,
) -> Iterator[ChainApp]:
    """MN's registry with both keys in the token (AEO_KEY_BACKEND=pkcs11, no passphrase, no
    key file), its workers driven by hand.

    MN's admin makes the token's account an operator of MN and publishes the token's
    document-signing key, as an administration moving its keys into an HSM would. The
    registry selects its keys itself: the sender's account through ``ChainAccess.selected``
    (what start-up runs on a chain it connects to; the memory chain is handed over), the
    documents' key through the documents service."""
    chain = consortium.chain
    fund(chain, operator.address, 10**18)
    consortium.admin("MN").add_account(operator.address, AccountRole.OPERATOR)
    consortium.admin("MN").register_signing_key(
        signing_key.public.public_key, signing_key.algorithm, int(time.time()) - 60
    )
    settings = hsm_settings(tmp_path, softhsm, new_database_url(tmp_path), run_workers=False)
    assert settings.passphrase is None
    access = ChainAccess.selected(chain, consortium.deployment, settings)
    app = create_app(settings, chain_access=access)
    with TestClient(app) as client:
        yield ChainApp(authority="MN", app=app, client=client, consortium=consortium)


def issue_through_the_api(mn: ChainApp, number: str) -> None:
    headers = mn.headers(ApiRole.ISSUING_OFFICER, **{"Idempotency-Key": uuid.uuid4().hex})
    accepted = mn.client.post("/v1/certificates", json=record_body(number), headers=headers)
    assert accepted.status_code == 202, accepted.text


def the_operation(mn: ChainApp) -> Operation:
    with mn.session() as session:
        operation: Operation = session.scalars(sa.select(Operation)).one()
        return operation


def payload_of(mn: ChainApp, number: str) -> httpx.Response:
    return mn.client.get(
        f"/v1/certificates/{number}/payload", headers=mn.headers(ApiRole.ISSUING_OFFICER)
    )


def test_a_registry_with_its_keys_in_the_token_issues_a_certificate_that_verifies(
    tmp_path: Path,
    softhsm: SoftHsm,
    consortium: Consortium,
    signing_key: hsm.HsmSigningKey,
    operator: hsm.HsmAccount,
) -> None:
    chain = consortium.chain
    with hsm_registry(tmp_path, softhsm, consortium, signing_key, operator) as mn:
        issue_through_the_api(mn, "MN-AEO-2025-0042")
        mn.settle()  # the sender signs in the token; the indexer sees key and certificate

        operation = the_operation(mn)
        assert operation.state is OperationState.CONFIRMED
        assert operation.sender == operator.address
        assert operation.tx_hash is not None
        assert chain.w3.eth.get_transaction(HexBytes(operation.tx_hash))["from"] == (
            operator.address
        )
        assert recover_sender(operation.signed_raw_tx or b"") == operator.address
        answer = payload_of(mn, "MN-AEO-2025-0042")
        assert answer.status_code == 200, answer.text

    text = answer.text
    assert aeo1.decode(text).cose.kid == signing_key.kid
    source = ChainStatusSource(RegistryReader(chain, consortium.deployment))
    verdict = verify(text, as_authority="MN", clock=datetime.now(UTC), source=source)
    assert verdict.outcome is Outcome.RECOGNIZED
    # Offline too: the border post's cache, synced from the chain, and no network at the scan.
    with OfflineCache(tmp_path / "border.sqlite") as cache:
        sync(chain, consortium.deployment, cache)
        offline = verify(text, as_authority="MN", clock=datetime.now(UTC), source=cache)
    assert offline.outcome is Outcome.RECOGNIZED
    # Both keys did their work inside the token, which still refuses to give either out.
    for label, kind in (
        (signing_key.label, hsm.KeyKind.SIGNING),
        (operator.label, hsm.KeyKind.OPERATOR),
    ):
        with signing_key.token._token.open() as session:
            private = session.get_key(
                object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, label=label
            )
            with pytest.raises(p11.AttributeSensitive):
                private[Attribute.VALUE]
        signing_key.token.check_not_exportable(label, kind)


def test_a_token_failing_while_the_registry_signs_loses_nothing_and_answers_503(
    tmp_path: Path,
    softhsm: SoftHsm,
    consortium: Consortium,
    signing_key: hsm.HsmSigningKey,
    operator: hsm.HsmAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unplugged(*_args: object) -> bytes:
        raise hsm.HsmError("PKCS#11 token 'aeo-test' failed to sign: DeviceRemoved")

    with hsm_registry(tmp_path, softhsm, consortium, signing_key, operator) as mn:
        issue_through_the_api(mn, "MN-AEO-2025-0043")
        with monkeypatch.context() as patched:
            patched.setattr(operator.token, "sign_digest", unplugged)
            with pytest.raises(hsm.HsmError, match="DeviceRemoved"):
                mn.settle()
        waiting = the_operation(mn)
        assert waiting.state is OperationState.PENDING
        assert waiting.signed_raw_tx is None

        mn.settle()  # the token is back: the operation is sent once
        operation = the_operation(mn)
        assert operation.state is OperationState.CONFIRMED
        assert consortium.chain.w3.eth.get_transaction_count(operator.address) == 1

        with monkeypatch.context() as patched:
            patched.setattr(operator.token, "sign_digest", unplugged)
            refused = payload_of(mn, "MN-AEO-2025-0043")
        body = assert_problem(refused, 503, "unavailable")
        assert "DeviceRemoved" in body["detail"]
        assert payload_of(mn, "MN-AEO-2025-0043").status_code == 200


def test_with_keys_in_the_token_the_admin_api_finds_the_token_key_and_refuses_to_rotate(
    tmp_path: Path,
    softhsm: SoftHsm,
    consortium: Consortium,
    signing_key: hsm.HsmSigningKey,
    operator: hsm.HsmAccount,
) -> None:
    with hsm_registry(tmp_path, softhsm, consortium, signing_key, operator) as mn:
        mn.settle()  # the index sees the token key MN's admin registered
        admin = mn.headers(ApiRole.ADMIN, **{"Idempotency-Key": uuid.uuid4().hex})

        again = mn.client.post("/v1/admin/signing-keys", json={}, headers=admin)
        body = assert_problem(again, 409, "conflict")
        assert body["kid"] == signing_key.kid.hex()
        assert body["reason"] == "already_registered"

        rotate = mn.client.post("/v1/admin/signing-keys/rotate", json={}, headers=admin)
        body = assert_problem(rotate, 409, "conflict")
        assert body["reason"] == "keys_in_hsm"
        assert "aeo keys new --pkcs11" in body["detail"]

        listed = mn.client.get("/v1/admin/signing-keys", headers=mn.headers(ApiRole.ADMIN))
        assert listed.status_code == 200, listed.text
        ours = [key for key in listed.json()["data"] if key["kid"] == signing_key.kid.hex()]
        assert [(key["held_here"], key["signs_documents"]) for key in ours] == [(True, True)]
    assert not list(tmp_path.glob("*.pem"))  # no key file was made beside the database


def test_start_up_with_the_pkcs11_backend_signs_with_the_token_account_without_a_passphrase(
    tmp_path: Path, softhsm: SoftHsm, consortium: Consortium, operator: hsm.HsmAccount
) -> None:
    # A node that does not answer yet: the service still starts, with its signer chosen.
    settings = hsm_settings(tmp_path, softhsm, chain="rpc", rpc_url="http://127.0.0.1:9/")
    consortium.deployment.save(settings.deployment_path)
    assert settings.passphrase is None
    assert not settings.operator_key_path.exists()

    access = chain_access_from_settings(settings)

    assert access is not None
    assert isinstance(access.operator, hsm.HsmAccount)
    assert access.operator.address == operator.address
    access.chain.close()


def test_init_keys_is_refused_with_the_pkcs11_backend(tmp_path: Path, softhsm: SoftHsm) -> None:
    settings = hsm_settings(tmp_path, softhsm)
    with pytest.raises(ConfigurationError, match="aeo keys new --pkcs11"):
        ensure_key_files(settings)
    assert not settings.signing_key_path.exists()
    assert not settings.operator_key_path.exists()
