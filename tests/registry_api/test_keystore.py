from __future__ import annotations

import base64
import json
import logging
import pickle
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from eth_account import Account

from contracts import ids
from registry_api.errors import KeystoreError, RegistryError
from registry_api.keystore import (
    SigningAlgorithm,
    create_operator_key,
    create_signing_key,
    load_operator_key,
    load_signing_key,
    operator_address,
    signing_public_key,
)

PASSPHRASE = "a long test passphrase, made at test time"
# Real scrypt, at a cost that keeps the test quick (production keys use 2**18).
FAST_SCRYPT = 2**12


def test_operator_key_round_trips_through_its_encrypted_file(tmp_path: Path) -> None:
    path = tmp_path / "operator-key.json"
    created = create_operator_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    loaded = load_operator_key(path, PASSPHRASE)
    assert loaded.address == created.address
    assert loaded.account().key == created.account().key
    keystore = json.loads(path.read_text())
    assert keystore["crypto"]["kdf"] == "scrypt"
    assert keystore["crypto"]["kdfparams"]["n"] == FAST_SCRYPT


def test_operator_key_file_holds_no_key_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "operator-key.json"
    key = create_operator_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    raw = path.read_bytes()
    private = bytes(key.account().key)
    assert private not in raw
    assert private.hex().encode() not in raw.lower()
    assert PASSPHRASE.encode() not in raw


def test_operator_key_with_a_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "operator-key.json"
    create_operator_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    with pytest.raises(KeystoreError, match="wrong passphrase for operator key file"):
        load_operator_key(path, "not the passphrase")


def test_an_existing_account_can_be_imported(tmp_path: Path) -> None:
    account = Account.create()
    path = tmp_path / "operator-key.json"
    create_operator_key(path, PASSPHRASE, private_key=bytes(account.key), scrypt_n=FAST_SCRYPT)
    assert load_operator_key(path, PASSPHRASE).address == account.address


def test_operator_address_is_readable_without_the_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "operator-key.json"
    key = create_operator_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    assert operator_address(path) == key.address


def test_key_files_are_private_to_their_owner(tmp_path: Path) -> None:
    operator = tmp_path / "keys" / "operator-key.json"
    signing = tmp_path / "keys" / "signing-key.pem"
    create_operator_key(operator, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    create_signing_key(signing, PASSPHRASE)
    for path in (operator, signing):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    create_signing_key(path, PASSPHRASE)
    before = path.read_bytes()
    with pytest.raises(KeystoreError, match="already exists; refusing to overwrite"):
        create_signing_key(path, PASSPHRASE)
    with pytest.raises(KeystoreError, match="already exists"):
        create_operator_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("algorithm", "public_length"), [(SigningAlgorithm.ES256, 33), (SigningAlgorithm.EDDSA, 32)]
)
def test_signing_key_round_trips_through_its_encrypted_file(
    tmp_path: Path, algorithm: SigningAlgorithm, public_length: int
) -> None:
    path = tmp_path / "signing-key.pem"
    created = create_signing_key(path, PASSPHRASE, algorithm)
    loaded = load_signing_key(path, PASSPHRASE)
    assert loaded.algorithm is algorithm
    assert loaded.public == created.public
    assert len(loaded.public.public_key) == public_length
    assert loaded.kid == ids.key_id(loaded.public.public_key)
    assert signing_public_key(path, PASSPHRASE) == created.public
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


@pytest.mark.parametrize("algorithm", list(SigningAlgorithm))
def test_signing_key_file_holds_no_key_in_clear(
    tmp_path: Path, algorithm: SigningAlgorithm
) -> None:
    path = tmp_path / "signing-key.pem"
    key = create_signing_key(path, PASSPHRASE, algorithm)
    clear = key.private_key().private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private = key.private_key()
    if isinstance(private, ec.EllipticCurvePrivateKey):
        secret = private.private_numbers().private_value.to_bytes(32, "big")
    else:
        assert isinstance(private, ed25519.Ed25519PrivateKey)
        secret = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    raw = path.read_bytes()
    der = base64.b64decode(b"".join(ln for ln in raw.splitlines() if not ln.startswith(b"-----")))
    assert clear not in der
    assert secret not in der
    with pytest.raises(TypeError):  # cryptography: "Password was not given but key is encrypted"
        serialization.load_pem_private_key(raw, password=None)


def test_signing_key_with_a_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    create_signing_key(path, PASSPHRASE)
    with pytest.raises(KeystoreError, match="wrong passphrase for signing key file"):
        load_signing_key(path, "not the passphrase")


def test_an_encrypted_signing_key_that_decrypts_to_garbage_reads_as_a_wrong_passphrase(
    tmp_path: Path,
) -> None:
    # About one wrong passphrase in 256 passes the padding check and yields bytes that are
    # not a key; a damaged ciphertext does the same with the right passphrase, every time.
    path = tmp_path / "signing-key.pem"
    create_signing_key(path, PASSPHRASE)
    lines = path.read_bytes().splitlines()
    body = bytearray(base64.b64decode(b"".join(lines[1:-1])))
    body[len(body) // 2] ^= 0xFF
    encoded = base64.encodebytes(bytes(body)).replace(b"\n", b"")
    wrapped = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    path.write_bytes(b"\n".join([lines[0], *wrapped, lines[-1]]) + b"\n")
    with pytest.raises(KeystoreError, match="wrong passphrase for signing key file"):
        load_signing_key(path, PASSPHRASE)


def test_a_signing_key_stored_in_clear_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clear.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeystoreError, match="not encrypted; refusing a key stored in clear"):
        load_signing_key(path, PASSPHRASE)


def test_a_signing_key_on_another_curve_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p384.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        )
    )
    with pytest.raises(KeystoreError, match="is not P-256"):
        load_signing_key(path, PASSPHRASE)


def test_missing_and_malformed_key_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(KeystoreError, match=r"operator key file .*missing\.json' does not exist"):
        load_operator_key(missing, PASSPHRASE)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(KeystoreError, match="is not keystore JSON"):
        load_operator_key(garbage, PASSPHRASE)
    garbage.write_text('{"crypto": {}}')
    with pytest.raises(KeystoreError, match="is not a valid keystore"):
        load_operator_key(garbage, PASSPHRASE)
    pem = tmp_path / "garbage.pem"
    pem.write_text(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    with pytest.raises(KeystoreError, match=r"garbage\.pem"):
        load_signing_key(pem, PASSPHRASE)


def test_an_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="must not be empty"):
        create_signing_key(tmp_path / "k.pem", "")
    assert not (tmp_path / "k.pem").exists()


def test_keystore_errors_are_registry_errors() -> None:
    assert issubclass(KeystoreError, RegistryError)


def test_key_objects_show_public_data_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    operator = create_operator_key(tmp_path / "o.json", PASSPHRASE, scrypt_n=FAST_SCRYPT)
    signing = create_signing_key(tmp_path / "s.pem", PASSPHRASE, SigningAlgorithm.EDDSA)
    operator_secret = bytes(operator.account().key).hex()
    signing_secret = (
        signing.private_key()
        .private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        .hex()
    )
    with caplog.at_level(logging.INFO):
        logging.getLogger("registry_api.test").info(
            "keys: %r %s %r %s", operator, operator, signing, signing
        )
    text = caplog.text + repr(operator) + str(signing)
    assert operator.address in text
    assert signing.kid.hex() in text
    assert operator_secret not in text.lower()
    assert signing_secret not in text.lower()
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(operator)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signing)
