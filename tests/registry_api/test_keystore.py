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

from contracts.domain import ids
from contracts.domain.enums import SIGNING_ALGORITHMS, KeyAlgorithm
from registry_api import keystore
from registry_api.errors import KeystoreError, RegistryError
from registry_api.keystore import (
    DEFAULT_SCRYPT_N,
    LegacyKeyFileError,
    create_operator_key,
    create_signing_key,
    load_operator_key,
    load_signing_key,
    migrate_key_file,
    operator_address,
    signing_key_encryption,
    signing_public_key,
)

PASSPHRASE = "a long test passphrase, made at test time"
# Real scrypt, at a cost that keeps the test quick (production keys use 2**18).
FAST_SCRYPT = 2**12
# The tests at the production cost (seconds each) are left out of `make test-fast`.
SLOW = pytest.mark.slow


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
    create_signing_key(signing, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    for path in (operator, signing):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    create_signing_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    before = path.read_bytes()
    with pytest.raises(KeystoreError, match="already exists; refusing to overwrite"):
        create_signing_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    with pytest.raises(KeystoreError, match="already exists"):
        create_operator_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("algorithm", "public_length"), [(KeyAlgorithm.ES256, 33), (KeyAlgorithm.EDDSA, 32)]
)
def test_signing_key_round_trips_through_its_encrypted_file(
    tmp_path: Path, algorithm: KeyAlgorithm, public_length: int
) -> None:
    path = tmp_path / "signing-key.pem"
    created = create_signing_key(path, PASSPHRASE, algorithm, scrypt_n=FAST_SCRYPT)
    loaded = load_signing_key(path, PASSPHRASE)
    assert loaded.algorithm is algorithm
    assert loaded.public == created.public
    assert len(loaded.public.public_key) == public_length
    assert loaded.kid == ids.key_id(loaded.public.public_key)
    assert signing_public_key(path, PASSPHRASE) == created.public
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


@pytest.mark.parametrize("algorithm", list(SIGNING_ALGORITHMS))
def test_signing_key_file_holds_no_key_in_clear(tmp_path: Path, algorithm: KeyAlgorithm) -> None:
    path = tmp_path / "signing-key.pem"
    key = create_signing_key(path, PASSPHRASE, algorithm, scrypt_n=FAST_SCRYPT)
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
    create_signing_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    with pytest.raises(KeystoreError, match="wrong passphrase for signing key file"):
        load_signing_key(path, "not the passphrase")


def test_an_encrypted_signing_key_that_decrypts_to_garbage_reads_as_a_wrong_passphrase(
    tmp_path: Path,
) -> None:
    # About one wrong passphrase in 256 passes the padding check and yields bytes that are
    # not a key; a damaged ciphertext does the same with the right passphrase, every time.
    path = tmp_path / "signing-key.pem"
    create_signing_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
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
        keystore._encrypt_signing_key(
            ec.generate_private_key(ec.SECP384R1()), PASSPHRASE.encode(), FAST_SCRYPT
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
    signing = create_signing_key(
        tmp_path / "s.pem", PASSPHRASE, KeyAlgorithm.EDDSA, scrypt_n=FAST_SCRYPT
    )
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


# ---------------------------------------------------------------- issue 10: the scheme


def legacy_pem(private_key: ec.EllipticCurvePrivateKey, passphrase: str) -> bytes:
    """A signing key as this project wrote them before: PKCS#8, PBKDF2 at 2,048 iterations."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )


def with_scrypt_cost(pem: bytes, n: int) -> bytes:
    """``pem`` with its scrypt cost parameter replaced (a crafted file)."""
    from pyasn1.codec.der import decoder, encoder  # type: ignore[import-untyped]
    from pyasn1.type import univ  # type: ignore[import-untyped]
    from pyasn1_modules import rfc5208, rfc7914, rfc8018  # type: ignore[import-untyped]

    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    info, _ = decoder.decode(der, asn1Spec=rfc5208.EncryptedPrivateKeyInfo())
    pbes2, _ = decoder.decode(
        bytes(info["encryptionAlgorithm"]["parameters"]), asn1Spec=rfc8018.PBES2_params()
    )
    kdf = pbes2["keyDerivationFunc"]
    params, _ = decoder.decode(bytes(kdf["parameters"]), asn1Spec=rfc7914.Scrypt_params())
    params["costParameter"] = n
    kdf["parameters"] = univ.Any(encoder.encode(params))
    info["encryptionAlgorithm"]["parameters"] = univ.Any(encoder.encode(pbes2))
    body = base64.b64encode(encoder.encode(info))
    return (
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        + body
        + b"\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The scrypt cost of every derivation the keystore runs (the real one, observed)."""
    seen: list[int] = []
    real = keystore._scrypt

    def counting(secret: bytes, params: keystore.ScryptParameters) -> bytes:
        seen.append(params.n)
        return real(secret, params)

    monkeypatch.setattr(keystore, "_scrypt", counting)
    return seen


@SLOW
def test_a_new_signing_key_file_is_pkcs8_with_scrypt_at_the_operator_key_cost(
    tmp_path: Path,
) -> None:
    path = tmp_path / "signing-key.pem"
    key = create_signing_key(path, PASSPHRASE)
    scheme = signing_key_encryption(path)
    assert (scheme.n, scheme.r, scheme.p) == (DEFAULT_SCRYPT_N, 8, 1) == (2**18, 8, 1)
    assert len(scheme.salt) == 16
    assert scheme.describe() == "scrypt (N=2^18, r=8, p=1), AES-256-CBC"
    # A standard file: cryptography's own PKCS#8 reader decrypts it with the passphrase.
    standard = serialization.load_pem_private_key(path.read_bytes(), PASSPHRASE.encode())
    assert isinstance(standard, ec.EllipticCurvePrivateKey)
    assert standard.private_numbers() == key.private_key().private_numbers()  # type: ignore[union-attr]


def test_a_legacy_pbkdf2_signing_key_is_refused_naming_the_migrate_command(
    tmp_path: Path,
) -> None:
    path = tmp_path / "signing-key.pem"
    path.write_bytes(legacy_pem(ec.generate_private_key(ec.SECP256R1()), PASSPHRASE))
    with pytest.raises(LegacyKeyFileError) as refused:
        load_signing_key(path, PASSPHRASE)
    assert str(refused.value) == (
        f"signing key file {str(path)!r} is encrypted with PBKDF2 (2,048 iterations), which "
        f"is too weak to keep; re-encrypt it with: aeo keys migrate {path}"
    )
    assert isinstance(refused.value, KeystoreError)


def test_a_traditional_openssl_encrypted_key_is_refused_as_legacy(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        )
    )
    with pytest.raises(LegacyKeyFileError, match="aeo keys migrate"):
        load_signing_key(path, PASSPHRASE)


def test_a_file_asking_for_more_scrypt_memory_than_allowed_is_refused_before_deriving(
    tmp_path: Path, derivations: list[int]
) -> None:
    path = tmp_path / "signing-key.pem"
    create_signing_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    path.write_bytes(with_scrypt_cost(path.read_bytes(), 2**30))
    derivations.clear()
    with pytest.raises(KeystoreError, match=r"asks for scrypt N=1073741824, r=8, p=1"):
        load_signing_key(path, PASSPHRASE)
    assert derivations == []


def test_a_passphrase_under_twelve_characters_is_refused_for_a_new_key(tmp_path: Path) -> None:
    signing, operator = tmp_path / "signing-key.pem", tmp_path / "operator-key.json"
    with pytest.raises(KeystoreError, match="shorter than 12 characters"):
        create_signing_key(signing, "elevenchars", scrypt_n=FAST_SCRYPT)
    with pytest.raises(KeystoreError, match="shorter than 12 characters"):
        create_operator_key(operator, "elevenchars", scrypt_n=FAST_SCRYPT)
    assert not signing.exists()
    assert not operator.exists()


def test_a_signing_key_is_derived_once_per_process_and_a_wrong_passphrase_too(
    tmp_path: Path, derivations: list[int]
) -> None:
    path = tmp_path / "signing-key.pem"
    created = create_signing_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    derivations.clear()
    keystore._UNLOCKED.clear()
    loads = [load_signing_key(path, PASSPHRASE) for _ in range(5)]
    assert {key.public for key in loads} == {created.public}
    for _ in range(3):
        with pytest.raises(KeystoreError, match="wrong passphrase"):
            load_signing_key(path, PASSPHRASE + " but wrong")
    assert derivations == [FAST_SCRYPT, FAST_SCRYPT]
    # Another file (a rotation writes one) is another derivation.
    create_signing_key(tmp_path / "other.pem", PASSPHRASE, scrypt_n=FAST_SCRYPT)
    load_signing_key(tmp_path / "other.pem", PASSPHRASE)
    assert len(derivations) == 4


def test_concurrent_first_loads_of_one_key_derive_once(
    tmp_path: Path, derivations: list[int]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "signing-key.pem"
    create_signing_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    derivations.clear()
    keystore._UNLOCKED.clear()
    with ThreadPoolExecutor(8) as pool:
        kids = set(pool.map(lambda _: load_signing_key(path, PASSPHRASE).kid, range(16)))
    assert len(kids) == 1
    assert derivations == [FAST_SCRYPT]


# ---------------------------------------------------------------- issue 10: migration


def test_migrate_re_encrypts_a_legacy_signing_key_in_place_privately(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    private = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(legacy_pem(private, PASSPHRASE))
    path.chmod(0o644)

    result = migrate_key_file(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)

    assert result == keystore.Migration(
        "signing",
        "PBKDF2 (2,048 iterations)",
        f"scrypt (N=2^{FAST_SCRYPT.bit_length() - 1}, r=8, p=1), AES-256-CBC",
        changed=True,
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_signing_key(path, PASSPHRASE)
    assert loaded.private_key().private_numbers() == private.private_numbers()  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing-key.pem"]


@SLOW
def test_migrate_brings_a_signing_key_to_the_full_cost_by_default(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    create_signing_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    # migrate_key_file reads the new file back before it replaces the old one; the key it
    # holds is compared in the tests above, at a cost that keeps them quick.
    assert migrate_key_file(path, PASSPHRASE).changed
    assert signing_key_encryption(path).n == DEFAULT_SCRYPT_N


def test_migrate_with_a_wrong_passphrase_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    path.write_bytes(legacy_pem(ec.generate_private_key(ec.SECP256R1()), PASSPHRASE))
    before = path.read_bytes()
    with pytest.raises(KeystoreError, match="wrong passphrase for signing key file"):
        migrate_key_file(path, "not the passphrase", scrypt_n=FAST_SCRYPT)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing-key.pem"]


def test_migrate_leaves_a_current_file_alone_after_checking_its_passphrase(
    tmp_path: Path,
) -> None:
    path = tmp_path / "signing-key.pem"
    create_signing_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    before = path.read_bytes()
    result = migrate_key_file(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    assert not result.changed
    assert result.before == result.after
    assert path.read_bytes() == before
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        migrate_key_file(path, "not the passphrase", scrypt_n=FAST_SCRYPT)


def test_migrate_moves_a_short_passphrase_to_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    path.write_bytes(legacy_pem(ec.generate_private_key(ec.SECP256R1()), "short"))
    with pytest.raises(KeystoreError, match="shorter than 12 characters"):
        migrate_key_file(path, "short", scrypt_n=FAST_SCRYPT)
    migrate_key_file(path, "short", new_passphrase=PASSPHRASE, scrypt_n=FAST_SCRYPT)
    load_signing_key(path, PASSPHRASE)
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        load_signing_key(path, "short")


def test_migrate_refuses_a_signing_key_stored_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "clear.pem"
    clear = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(clear)
    with pytest.raises(KeystoreError, match="refusing a key stored in clear"):
        migrate_key_file(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    assert path.read_bytes() == clear


def test_migrate_re_encrypts_a_cheaper_operator_keystore_at_the_asked_cost(tmp_path: Path) -> None:
    path = tmp_path / "operator-key.json"
    created = create_operator_key(path, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    result = migrate_key_file(path, PASSPHRASE, scrypt_n=2 * FAST_SCRYPT)
    assert result == keystore.Migration(
        "operator", "scrypt (N=2^12)", "scrypt (N=2^13)", changed=True
    )
    assert json.loads(path.read_text())["crypto"]["kdfparams"]["n"] == 2 * FAST_SCRYPT
    assert load_operator_key(path, PASSPHRASE).address == created.address
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_key_file_readable_by_others_is_loaded_with_a_warning_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    signing = tmp_path / "signing-key.pem"
    operator = tmp_path / "operator-key.json"
    create_signing_key(signing, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    create_operator_key(operator, PASSPHRASE, scrypt_n=FAST_SCRYPT)
    signing.chmod(0o644)
    operator.chmod(0o640)
    with caplog.at_level(logging.WARNING, logger="registry_api.keystore"):
        for _ in range(3):
            load_signing_key(signing, PASSPHRASE)
        load_operator_key(operator, PASSPHRASE)
    assert [record.getMessage() for record in caplog.records] == [
        f"signing key file {signing} is readable by other users (mode 644): make it 0600 "
        "(chmod 600)",
        f"operator key file {operator} is readable by other users (mode 640): make it 0600 "
        "(chmod 600)",
    ]
    assert stat.S_IMODE(signing.stat().st_mode) == 0o644
    assert PASSPHRASE not in caplog.text
