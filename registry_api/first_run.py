"""First-run chores, callable from the ``aeo`` CLI or ``python -m registry_api``: create the
first admin API key, and this administration's encrypted key files."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.domain.enums import KeyAlgorithm

from .db import Role, make_engine, make_session_factory, upgrade_database
from .errors import ConfigurationError, ConflictError
from .hsm import KeyBackend
from .keystore import (
    create_operator_key,
    create_signing_key,
    load_operator_key,
    load_signing_key,
)
from .services.api_keys import active_admin_count, create_api_key
from .settings import Settings


def create_admin_key(
    settings: Settings, user: str = "administrator", *, force: bool = False
) -> str:
    """Create an admin API key and return its token (print it once; it is not stored).

    Refuses when an active admin key exists, unless ``force`` (a lost token: whoever can
    run this has the database anyway).
    """
    engine = make_engine(settings.db_url)
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            if active_admin_count(session) and not force:
                raise ConflictError(
                    "an active admin key exists; create further keys through the API "
                    "(or pass force=True / --force to recover a lost one)"
                )
            _key, token = create_api_key(
                session, user=user, role=Role.ADMIN, own_authority=settings.authority
            )
        return token
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class KeyFiles:
    operator_address: str
    signing_algorithm: str
    signing_kid: str
    signing_public_key: str
    created: tuple[str, ...]


def ensure_key_files(settings: Settings, algorithm: KeyAlgorithm = KeyAlgorithm.ES256) -> KeyFiles:
    """Create the operator and signing key files the settings name if they are missing,
    and describe both (public data only). Refused with ``AEO_KEY_BACKEND=pkcs11``: those
    keys are made inside the token, never as files."""
    if settings.key_backend is KeyBackend.PKCS11:
        raise ConfigurationError(
            "this registry keeps its keys in a hardware security module "
            "(AEO_KEY_BACKEND=pkcs11), so it uses no key files: create the keys in the token "
            "with aeo keys new --pkcs11 (docs/deployment.md, Keys in an HSM)"
        )
    passphrase = settings.key_passphrase()
    created: list[str] = []
    if settings.operator_key_path.exists():
        operator = load_operator_key(settings.operator_key_path, passphrase)
    else:
        operator = create_operator_key(settings.operator_key_path, passphrase)
        created.append(str(settings.operator_key_path))
    if settings.signing_key_path.exists():
        signing = load_signing_key(settings.signing_key_path, passphrase)
    else:
        signing = create_signing_key(settings.signing_key_path, passphrase, algorithm)
        created.append(str(settings.signing_key_path))
    return KeyFiles(
        operator_address=operator.address,
        signing_algorithm=signing.algorithm.label,
        signing_kid=signing.kid.hex(),
        signing_public_key=signing.public.public_key.hex(),
        created=tuple(created),
    )
