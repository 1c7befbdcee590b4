"""The console's settings (AEO_CONSOLE_*): the role mapping's two forms, and what does not
go together refused with a message naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from registry_api.settings import Settings
from tests.registry_api.support import make_settings

ISSUER = "https://login.customs.example/realms/aeo"


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", **values)


def test_the_role_mapping_reads_comma_separated_pairs_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AEO_AUTHORITY", "MN")
    monkeypatch.setenv("AEO_CONSOLE_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("AEO_CONSOLE_OIDC_CLIENT_ID", "aeo-console")
    monkeypatch.setenv(
        "AEO_CONSOLE_OIDC_ROLE_MAPPING", "aeo-issuing=issuing_officer, kr-risk = partner:KR"
    )
    settings = Settings(data_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.console_oidc_role_mapping == {
        "aeo-issuing": "issuing_officer",
        "kr-risk": "partner:KR",
    }


def test_the_client_secret_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text("s3cr3t-from-the-vault\n", encoding="utf-8")
    settings = _settings(
        tmp_path,
        console_oidc_issuer=ISSUER,
        console_oidc_client_id="aeo-console",
        console_oidc_client_secret_file=secret,
        console_oidc_role_mapping={"a": "auditor"},
    )
    assert settings.console_oidc_client_secret is not None
    assert settings.console_oidc_client_secret.get_secret_value() == "s3cr3t-from-the-vault"
    assert "s3cr3t" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"console_local_accounts": False}, "nobody could sign in"),
        ({"console_oidc_issuer": ISSUER, "console_oidc_role_mapping": {"a": "auditor"}},
         "console_oidc_client_id is required"),
        ({"console_oidc_issuer": ISSUER, "console_oidc_client_id": "c"},
         "console_oidc_role_mapping is required"),
        ({"console_oidc_issuer": "ldap://x", "console_oidc_client_id": "c",
          "console_oidc_role_mapping": {"a": "auditor"}}, "must be an http(s) URL"),
        ({"console_oidc_role_mapping": {"a": "boss"}}, "'boss' is not a role"),
        ({"console_oidc_role_mapping": "just-a-value"}, "is not value=role"),
        ({"console_oidc_client_secret": "x", "console_oidc_client_secret_file": "/nonexistent"},
         "not both"),
        ({"console_oidc_client_secret_file": "/nonexistent/secret"}, "cannot be read"),
        ({"console_session_idle_minutes": 0}, "console_session_idle_minutes"),
    ],
)  # fmt: skip
def test_settings_that_do_not_go_together_are_refused(
    tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _settings(tmp_path, **values)


def test_production_wants_an_https_issuer(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="https URL in production"):
        _settings(
            tmp_path,
            environment="production",
            chain="anvil",
            passphrase="a long passphrase nobody guesses",
            console_oidc_issuer="http://login.customs.example",
            console_oidc_client_id="c",
            console_oidc_role_mapping={"a": "auditor"},
        )
