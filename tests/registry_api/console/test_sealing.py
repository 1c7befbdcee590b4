"""TOTP secrets sealed under a key derived from the service's passphrase."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from registry_api.console.sealing import ConsoleKeys, SealingError
from tests.registry_api.support import make_settings


def _keys(tmp_path: Path, passphrase: str | None, authority: str = "MN") -> ConsoleKeys:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'r.db'}", authority=authority, passphrase=passphrase
    )
    return ConsoleKeys.of(settings)


def test_a_sealed_secret_opens_for_its_person_only(tmp_path: Path) -> None:
    sealer = _keys(tmp_path, secrets.token_urlsafe(24)).require_sealer()
    sealed = sealer.seal(7, "JBSWY3DPEHPK3PXP")
    assert sealed.startswith("v1:")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert sealer.open(7, sealed) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(SealingError, match="person 8"):
        sealer.open(8, sealed)


def test_another_passphrase_or_authority_cannot_open_it(tmp_path: Path) -> None:
    passphrase = secrets.token_urlsafe(24)
    sealed = _keys(tmp_path, passphrase).require_sealer().seal(1, "secret")
    with pytest.raises(SealingError, match="another one"):
        _keys(tmp_path, secrets.token_urlsafe(24)).require_sealer().open(1, sealed)
    with pytest.raises(SealingError):
        _keys(tmp_path, passphrase, authority="KR").require_sealer().open(1, sealed)


def test_every_process_with_the_passphrase_signs_the_sign_in_state_alike(tmp_path: Path) -> None:
    passphrase = secrets.token_urlsafe(24)
    assert (
        _keys(tmp_path, passphrase).login_state_key == _keys(tmp_path, passphrase).login_state_key
    )
    assert _keys(tmp_path, None).login_state_key != _keys(tmp_path, None).login_state_key


def test_without_a_passphrase_a_second_factor_is_refused_with_the_setting_to_fix(
    tmp_path: Path,
) -> None:
    with pytest.raises(SealingError, match="AEO_PASSPHRASE"):
        _keys(tmp_path, None).require_sealer()
