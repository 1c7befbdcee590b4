"""``aeo verify``: a real QR payload against an offline cache synced from a real (in-process)
chain, and the verdicts it prints when a check cannot be made."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import segno
from typer.testing import CliRunner
from web3 import Web3

from aeo.cli import app
from contracts.bootstrap import Consortium
from contracts.chain import latest_timestamp
from contracts.domain import days
from contracts.domain.claims import Claims
from contracts.domain.enums import KeyAlgorithm, ReasonCode, Tier
from verifier import keys
from verifier.offline import OfflineCache
from verifier.payload import encode
from verifier.sync import sync

# Slow, so not in `make test-fast` (`make test` runs it): runs aeo verify as a process against a
# deployed world.
pytestmark = pytest.mark.slow

TIER_S = int(Tier.SECURITY_SAFETY)


@dataclass(frozen=True)
class Issued:
    claims: Claims
    text: str


def _issue(
    consortium: Consortium, key: keys.PrivateKey, number: str, offsets: tuple[int, int]
) -> Issued:
    chain = consortium.chain
    today = days.day_of(latest_timestamp(chain))
    valid_from, valid_until = today + offsets[0], today + offsets[1]
    commitment = bytes(Web3.keccak(text=f"record {number}"))
    claims = Claims.from_record(
        issuer="MN",
        number=number,
        holder_name="Khangai Cashmere Processing LLC",
        holder_id_scheme="TIN",
        holder_id="6123471",
        tiers=TIER_S,
        valid_from=days.from_day(valid_from),
        valid_until=days.from_day(valid_until),
        issued_at=latest_timestamp(chain),
        version=1,
        commitment=commitment,
    )
    consortium.operator("MN").issue(
        number, TIER_S, valid_from, valid_until, claims.holder_ref, commitment
    )
    return Issued(claims, encode(claims, key))


@dataclass(frozen=True)
class Synced:
    data_dir: Path
    active: Issued
    revoked: Issued
    expired: Issued


@pytest.fixture
def synced(consortium: Consortium, tmp_path: Path) -> Synced:
    """MN publishes a key, MN and KR sign an MRA, MN issues three certificates (one then
    revoked, one already expired); the data directory's offline cache is synced."""
    key = keys.generate_private_key(KeyAlgorithm.ES256)
    consortium.admin("MN").register_signing_key(keys.public_key_bytes(key), KeyAlgorithm.ES256)
    today = days.day_of(latest_timestamp(consortium.chain))
    consortium.operator("MN").propose_mra(
        ["MN", "KR"], [TIER_S, TIER_S], today - 30, 0, Web3.keccak(text="MN-KR MRA")
    )
    consortium.operator("KR").sign_mra(1)
    active = _issue(consortium, key, "MN-AEO-2024-0147", (-1, 3 * 365))
    revoked = _issue(consortium, key, "MN-AEO-2024-0152", (-1, 3 * 365))
    consortium.operator("MN").revoke(revoked.claims.certificate_id, ReasonCode.FRAUD)
    expired = _issue(consortium, key, "MN-AEO-2019-0007", (-6 * 365, -40))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with OfflineCache(data_dir / "verifier-cache.sqlite") as cache:
        sync(consortium.chain, consortium.deployment, cache)
    return Synced(data_dir, active, revoked, expired)


def _verify(cli: CliRunner, target: str, *options: str) -> tuple[int, dict[str, object]]:
    result = cli.invoke(app, ["verify", target, *options, "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("which", "as_authority", "exit_code", "outcome"),
    [
        ("active", "KR", 0, "recognized"),
        ("active", "KZ", 1, "not_recognized"),
        ("revoked", "KR", 3, "revoked"),
        ("expired", "KR", 3, "expired"),
    ],
)
def test_offline_verdict_and_exit_code(
    cli: CliRunner, synced: Synced, which: str, as_authority: str, exit_code: int, outcome: str
) -> None:
    issued: Issued = getattr(synced, which)
    code, verdict = _verify(
        cli, issued.text, "--as", as_authority, "--offline", "--data-dir", str(synced.data_dir)
    )
    assert (code, verdict["outcome"]) == (exit_code, outcome)
    assert {"outcome", "reasons", "as_of", "stages", "claims"} <= set(verdict)
    claims = verdict["claims"]
    assert isinstance(claims, dict)
    assert issued.claims.number in json.dumps(claims)


def test_a_photo_of_the_qr_code_verifies_like_its_text(
    cli: CliRunner, synced: Synced, tmp_path: Path
) -> None:
    image = tmp_path / "certificate.png"
    segno.make(synced.active.text, error="m").save(str(image), scale=6)
    code, verdict = _verify(
        cli, str(image), "--as", "KR", "--offline", "--data-dir", str(synced.data_dir)
    )
    assert (code, verdict["outcome"]) == (0, "recognized")


def test_human_verdict_names_the_holder(cli: CliRunner, synced: Synced) -> None:
    result = cli.invoke(
        app,
        [
            "verify",
            synced.active.text,
            "--as",
            "KR",
            "--offline",
            "--data-dir",
            str(synced.data_dir),
        ],
    )
    assert result.exit_code == 0
    assert "VALID AND RECOGNIZED" in result.stdout
    assert "Khangai Cashmere" in result.stdout  # the QR may carry a shortened name
    assert "MN-AEO-2024-0147" in result.stdout
    assert "status as of" in result.stdout


def test_offline_without_a_synced_cache_is_a_check_that_could_not_be_made(
    cli: CliRunner, synced: Synced, tmp_path: Path
) -> None:
    empty = tmp_path / "elsewhere"
    code, verdict = _verify(
        cli, synced.active.text, "--as", "KR", "--offline", "--data-dir", str(empty)
    )
    assert (code, verdict["outcome"]) == (3, "check_unavailable")
    assert "aeo verifier sync" in json.dumps(verdict["reasons"])
    assert not (empty / "verifier-cache.sqlite").exists()


def test_online_without_a_chain_is_a_check_that_could_not_be_made(
    cli: CliRunner, synced: Synced, tmp_path: Path
) -> None:
    code, verdict = _verify(cli, synced.active.text, "--as", "KR", "--data-dir", str(tmp_path))
    assert (code, verdict["outcome"]) == (3, "check_unavailable")
    assert "no chain is running" in json.dumps(verdict["reasons"])


def test_unreadable_text_is_a_malformed_verdict_not_a_usage_error(
    cli: CliRunner, synced: Synced
) -> None:
    code, verdict = _verify(
        cli, "AEO1:NOT BASE45 $$$", "--as", "KR", "--offline", "--data-dir", str(synced.data_dir)
    )
    assert (code, verdict["outcome"]) == (3, "malformed")


def test_lang_ru_prints_the_verdict_in_russian(cli: CliRunner, synced: Synced) -> None:
    result = cli.invoke(
        app,
        ["verify", synced.active.text, "--as", "KR", "--offline", "--lang", "ru",
         "--data-dir", str(synced.data_dir)],
    )  # fmt: skip
    assert result.exit_code == 0
    assert "ДЕЙСТВИТЕЛЕН И ПРИЗНАН" in result.stdout
    assert "Проверка сертификата УЭО для KR" in result.stdout


def test_an_unknown_lang_is_a_usage_error_naming_the_argument(
    cli: CliRunner, synced: Synced
) -> None:
    result = cli.invoke(
        app,
        ["verify", synced.active.text, "--as", "KR", "--offline", "--lang", "fr",
         "--data-dir", str(synced.data_dir)],
    )  # fmt: skip
    assert result.exit_code == 2
    flat = " ".join(result.output.replace("│", " ").split())
    assert "Invalid value for '--lang': unknown language 'fr'" in flat
    assert "choose one of en, mn, ru, kk, ko, zh-Hans" in flat
