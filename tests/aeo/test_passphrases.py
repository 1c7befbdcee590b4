"""Where key-file passphrases come from (``aeo.passphrases``), and how long they must be."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aeo.errors import UsageError
from aeo.passphrases import (
    from_environment,
    generate_secrets_file,
    passphrase_for,
    secrets_file,
)


@pytest.fixture(autouse=True)
def no_passphrase_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AEO_PASSPHRASE", raising=False)
    monkeypatch.delenv("AEO_PASSPHRASE_FILE", raising=False)


def test_a_generated_secrets_file_is_private_and_long_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        path = generate_secrets_file(tmp_path / "MN")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(passphrase_for(tmp_path / "MN", generated=True)) == 43


def test_a_short_passphrase_in_the_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AEO_PASSPHRASE", "elevenchars")
    with pytest.raises(UsageError, match=r"^AEO_PASSPHRASE: the passphrase is shorter than 12"):
        from_environment()
    # Only ``aeo keys migrate`` reads one, to re-encrypt an old file under a new passphrase.
    assert from_environment(minimum=False) == "elevenchars"


def test_a_short_handwritten_secrets_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "KZ"
    folder.mkdir()
    secrets_file(folder).write_text("short\n", encoding="utf-8")
    with pytest.raises(UsageError) as refused:
        passphrase_for(folder)
    assert refused.value.message == (
        f"secrets file {secrets_file(folder)}: the passphrase is shorter than 12 characters; "
        "choose a longer one"
    )


def test_twelve_characters_are_enough(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AEO_PASSPHRASE", "twelve chars")
    assert passphrase_for(tmp_path) == "twelve chars"
