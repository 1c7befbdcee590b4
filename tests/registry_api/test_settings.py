from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from registry_api.errors import ConfigurationError
from registry_api.settings import ChainKind, Environment, Settings, get_settings

REAL_PASSPHRASE = "correct horse battery staple"


def production(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "authority": "MN",
        "environment": "production",
        "data_dir": tmp_path,
        "chain": "anvil",
        "passphrase": REAL_PASSPHRASE,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def error_text(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " | ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.value.errors())


def test_production_accepts_real_secrets(tmp_path: Path) -> None:
    settings = production(tmp_path)
    assert settings.environment is Environment.PRODUCTION
    assert settings.key_passphrase() == REAL_PASSPHRASE


def test_production_refuses_a_missing_passphrase(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as exc:
        production(tmp_path, passphrase=None)
    assert "passphrase is required in production" in error_text(exc)


@pytest.mark.parametrize("placeholder", ["changethis", "ChangeMe", "  password  ", ""])
def test_production_refuses_a_placeholder_passphrase(tmp_path: Path, placeholder: str) -> None:
    with pytest.raises(ValidationError) as exc:
        production(tmp_path, passphrase=placeholder)
    assert "passphrase" in error_text(exc)


def test_production_refuses_a_short_passphrase(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as exc:
        production(tmp_path, passphrase="Tr0ub4dor&3")
    assert "shorter than 12 characters" in error_text(exc)


@pytest.mark.parametrize("short", ["Tr0ub4dor&3", "changethis", " " * 12, "eleven char"])
def test_development_refuses_a_short_passphrase_naming_the_setting(
    tmp_path: Path, short: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        Settings(authority="MN", data_dir=tmp_path, passphrase=short)
    assert [error["loc"] for error in exc.value.errors()] == [("passphrase",)]
    assert "shorter than 12 characters" in error_text(exc)
    assert short not in error_text(exc)


def test_development_refuses_a_short_passphrase_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AEO_AUTHORITY", "MN")
    monkeypatch.setenv("AEO_PASSPHRASE", "short")
    with pytest.raises(ValidationError) as exc:
        get_settings()
    assert error_text(exc).startswith("passphrase: ")


def test_development_refuses_a_passphrase_file_with_a_short_passphrase(tmp_path: Path) -> None:
    secret_file = tmp_path / "passphrase"
    secret_file.write_text("too short\n", encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        Settings(authority="MN", data_dir=tmp_path, passphrase_file=secret_file)
    assert f"passphrase_file {str(secret_file)!r}: passphrase is" in error_text(exc)
    assert "shorter than 12 characters" in error_text(exc)


def test_development_accepts_a_twelve_character_passphrase(tmp_path: Path) -> None:
    settings = Settings(authority="MN", data_dir=tmp_path, passphrase="twelve chars")
    assert settings.key_passphrase() == "twelve chars"


def test_an_empty_passphrase_in_development_means_none_is_set(tmp_path: Path) -> None:
    settings = Settings(authority="MN", data_dir=tmp_path, passphrase="")
    with pytest.raises(ConfigurationError, match="no key-file passphrase configured"):
        settings.key_passphrase()


def test_production_refuses_a_placeholder_database_password(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as exc:
        production(tmp_path, database_url="postgresql://aeo:changethis@db.internal/aeo")
    assert "database_url carries a placeholder password" in error_text(exc)


def test_production_refuses_the_memory_chain(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as exc:
        production(tmp_path, chain="memory")
    assert "chain 'memory' keeps nothing" in error_text(exc)


def test_development_starts_without_a_passphrase_but_asking_for_it_is_an_error(
    tmp_path: Path,
) -> None:
    settings = Settings(authority="MN", data_dir=tmp_path)
    assert settings.passphrase is None
    with pytest.raises(ConfigurationError, match="AEO_PASSPHRASE or AEO_PASSPHRASE_FILE"):
        settings.key_passphrase()


def test_defaults_derive_from_the_authority_and_the_data_dir() -> None:
    settings = Settings(authority="KZ")
    assert settings.data_path == Path("data/kz")
    assert settings.db_url == "sqlite:///data/kz/registry.db"
    assert settings.operator_key_path == Path("data/kz/operator-key.json")
    assert settings.signing_key_path == Path("data/kz/signing-key.pem")
    assert settings.deployment_path == Path("data/kz/deployment.json")
    assert settings.chain is ChainKind.ANVIL


def test_passphrase_file_is_read_without_its_trailing_newline(tmp_path: Path) -> None:
    secret_file = tmp_path / "passphrase"
    secret_file.write_text(REAL_PASSPHRASE + "\n", encoding="utf-8")
    settings = production(tmp_path, passphrase=None, passphrase_file=secret_file)
    assert settings.key_passphrase() == REAL_PASSPHRASE


def test_passphrase_file_with_a_placeholder_is_refused_in_production(tmp_path: Path) -> None:
    secret_file = tmp_path / "passphrase"
    secret_file.write_text("changethis\n", encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        production(tmp_path, passphrase=None, passphrase_file=secret_file)
    assert "placeholder" in error_text(exc)


def test_a_missing_passphrase_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ValidationError) as exc:
        Settings(authority="MN", passphrase_file=missing)
    assert str(missing) in error_text(exc)


def test_passphrase_and_passphrase_file_together_are_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "passphrase"
    secret_file.write_text(REAL_PASSPHRASE, encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        Settings(authority="MN", passphrase=REAL_PASSPHRASE, passphrase_file=secret_file)
    assert "not both" in error_text(exc)


def test_a_malformed_authority_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        Settings(authority="mongolia")
    assert error_text(exc).startswith("authority: ")


def test_the_rpc_chain_needs_a_url() -> None:
    with pytest.raises(ValidationError) as exc:
        Settings(authority="MN", chain="rpc")
    assert "rpc_url is required" in error_text(exc)


def test_an_unsupported_database_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        Settings(authority="MN", database_url="mysql://aeo@localhost/aeo")
    assert "only sqlite and postgresql" in error_text(exc)


def test_the_passphrase_never_appears_in_the_settings_repr(tmp_path: Path) -> None:
    settings = production(tmp_path)
    assert REAL_PASSPHRASE not in repr(settings)
    assert REAL_PASSPHRASE not in str(settings.model_dump())


def test_get_settings_reads_aeo_variables_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEO_AUTHORITY", "KR")
    monkeypatch.setenv("AEO_RATE_LIMIT_PER_MINUTE", "30")
    monkeypatch.setenv("AEO_LOG_LEVEL", "debug")
    first = get_settings()
    monkeypatch.setenv("AEO_AUTHORITY", "KZ")
    assert get_settings() is first
    assert (first.authority, first.rate_limit_per_minute, first.log_level) == ("KR", 30, "DEBUG")


def test_production_settings_from_the_environment_refuse_a_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AEO_AUTHORITY", "MN")
    monkeypatch.setenv("AEO_ENVIRONMENT", "production")
    monkeypatch.setenv("AEO_PASSPHRASE", "changethis")
    with pytest.raises(ValidationError):
        get_settings()


def test_the_document_language_takes_a_tag_and_refuses_one_without_a_catalogue() -> None:
    assert Settings(authority="KR", document_language="ko-KR").document_language == "ko"
    assert Settings(authority="CN", document_language="zh-Hans").document_language == "zh_Hans"
    with pytest.raises(ValidationError, match="document_language") as caught:
        Settings(authority="MN", document_language="fr")
    assert "choose one of en, mn, ru, kk, ko, zh-Hans" in str(caught.value)
