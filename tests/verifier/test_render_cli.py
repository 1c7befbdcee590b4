"""The terminal verdict and the CLI function: exit codes, JSON, and safe display of QR text."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
import segno
from rich.console import Console

from contracts.domain.enums import CertificateStatus, KeyAlgorithm
from contracts.domain.state import MraParty
from tests.verifier.world import (
    NOW,
    S_TIER,
    World,
    base_claims,
    build_world,
    key_record,
    record_for,
    standard_mra,
)
from verifier import keys
from verifier.cli import run_verify
from verifier.pipeline import verify
from verifier.render import AMBER, GREEN, RED, outcome_style, print_verdict
from verifier.verdict import Outcome, StageState, Verdict


@pytest.fixture
def world() -> World:
    return build_world()


def run(
    world: World, target: str, as_authority: str = "KR", json_output: bool = False
) -> tuple[int, str]:
    out = io.StringIO()
    code = run_verify(target, as_authority, world.source, NOW, json_output, out=out)
    return code, out.getvalue()


def test_recognized_certificate_exits_0_and_shows_the_holder(world: World) -> None:
    code, output = run(world, world.text())
    assert code == 0
    assert "VALID AND RECOGNIZED" in output
    assert "Gobi Trans LLC" in output
    assert "MN-AEO-2025-000731" in output
    assert "Mongolian Customs General Administration" in output
    assert "status as of 2025-06-01 06:00 UTC (offline cache, block 1234)" in output


def test_not_recognized_exits_1(world: World) -> None:
    code, output = run(world, world.text(), as_authority="KZ")
    assert code == 1
    assert "VALID, NOT RECOGNIZED" in output
    assert "no MRA between KZ and MN" in output


def test_suspended_exits_3(world: World) -> None:
    world.set_record(replace(world.record(), status=CertificateStatus.SUSPENDED))
    code, output = run(world, world.text())
    assert code == 3
    assert "SUSPENDED" in output


def test_malformed_text_exits_3_and_names_the_stage(world: World) -> None:
    code, output = run(world, "AEO1:###", json_output=True)
    assert code == 3
    data = json.loads(output)
    assert data["outcome"] == "malformed"
    assert [s["stage"] for s in data["stages"] if s["state"] == "failed"] == ["base45"]


def test_bad_authority_argument_is_a_usage_error(world: World) -> None:
    code, output = run(world, world.text(), as_authority="Korea")
    assert code == 2
    assert "--as" in output


def test_json_output_is_one_object_with_the_contract_fields(world: World) -> None:
    code, output = run(world, world.text(), json_output=True)
    data = json.loads(output)
    assert code == 0
    assert {"outcome", "reasons", "as_of", "stages", "claims"} <= set(data)
    assert data["outcome"] == "recognized"


def test_photo_path_is_decoded(world: World, tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    segno.make(world.text(), error="m", micro=False).save(path, scale=4)
    code, _ = run(world, str(path))
    assert code == 0


def test_markup_in_a_holder_name_is_shown_literally(world: World) -> None:
    claims = replace(world.claims, holder_name="[red]FAKE[/] LLC")
    world.claims = claims
    world.set_record(record_for(claims))
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    print_verdict(verify(world.text(), as_authority="KR", clock=NOW, source=world.source), console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[red]FAKE[/] LLC" in output


@pytest.mark.parametrize(
    ("outcome", "style"),
    [(Outcome.RECOGNIZED, GREEN), (Outcome.NOT_RECOGNIZED, AMBER)]
    + [(o, RED) for o in Outcome if o not in (Outcome.RECOGNIZED, Outcome.NOT_RECOGNIZED)],
)
def test_colors_are_green_amber_red(outcome: Outcome, style: str) -> None:
    assert outcome_style(outcome) == style


# ---------------------------------------------------------------- the issuer comes first


def kz_world_numbering_like_mn(world: World) -> World:
    """KZ issued a certificate numbered like MN's, and KR recognizes KZ's S tier."""
    kz_key = keys.generate_private_key(KeyAlgorithm.ES256)
    world.add_key(key_record(kz_key, authority="KZ"))
    world.es256 = kz_key
    world.claims = base_claims(issuer="KZ", number="MN-AEO-0001")
    world.set_record(record_for(world.claims))
    world.source.mras.append(
        standard_mra(
            mra_id=2, parties=(MraParty("KZ", S_TIER, True), MraParty("KR", 0b11000, True))
        )
    )
    return world


def first_line(verdict: Verdict) -> str:
    console = Console(file=io.StringIO(), width=100)
    print_verdict(verdict, console)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    return lines[1].strip("│ ")  # lines[0] is the panel's top border


def test_the_first_line_names_the_issuer_not_the_administration_the_number_suggests(
    world: World,
) -> None:
    world = kz_world_numbering_like_mn(world)

    verdict = verify(world.text(), as_authority="KR", clock=NOW, source=world.source)

    assert verdict.outcome is Outcome.RECOGNIZED, verdict.reasons
    assert first_line(verdict) == "Issued by KZ – State Revenue Committee of Kazakhstan"
    assert verdict.summary().startswith("Issued by KZ – State Revenue Committee of Kazakhstan: ")


def test_the_json_verdict_carries_the_issuer_first(world: World) -> None:
    world = kz_world_numbering_like_mn(world)

    code, output = run(world, world.text(), json_output=True)

    data = json.loads(output)
    assert code == 0
    assert list(data)[:3] == ["format", "issuer", "outcome"]
    assert data["issuer"] == {
        "code": "KZ",
        "name": "State Revenue Committee of Kazakhstan",
        "confirmed": True,
        "line": "Issued by KZ – State Revenue Committee of Kazakhstan",
    }


def test_an_issuer_its_signature_does_not_prove_is_shown_as_a_claim(world: World) -> None:
    stranger = keys.generate_private_key(KeyAlgorithm.ES256)

    verdict = verify(world.text(key=stranger), as_authority="KR", clock=NOW, source=world.source)

    assert verdict.outcome is Outcome.UNTRUSTED_KEY
    assert not verdict.issuer_confirmed
    assert first_line(verdict) == "Claims to be issued by MN: not confirmed by its signature"


def test_a_key_of_another_administration_does_not_confirm_the_issuer(world: World) -> None:
    """KZ's own key signing a code that says MN: the signature verifies, the issuer is not
    proven."""
    kz_key = keys.generate_private_key(KeyAlgorithm.ES256)
    world.add_key(key_record(kz_key, authority="KZ"))

    verdict = verify(world.text(key=kz_key), as_authority="KR", clock=NOW, source=world.source)

    assert verdict.stage("signature").state is StageState.OK
    assert verdict.outcome is Outcome.UNTRUSTED_KEY
    assert first_line(verdict).startswith("Claims to be issued by MN")


def test_an_unreadable_code_says_its_issuer_is_unknown(world: World) -> None:
    code, output = run(world, "AEO1:###")

    assert code == 3
    assert output.splitlines()[1].strip("│ ") == "Issuer unknown: the code could not be read"


def _run_lang(world: World, lang: str | None, as_authority: str = "KR") -> tuple[int, str]:
    out = io.StringIO()
    code = run_verify(world.text(), as_authority, world.source, NOW, False, out=out, lang=lang)
    return code, out.getvalue()


@pytest.mark.parametrize(
    ("lang", "headline", "reason"),
    [
        ("ru", "ДЕЙСТВИТЕЛЕН, НЕ ПРИЗНАН", "С выдавшим органом нет соглашения"),
        ("kk", "ЖАРАМДЫ, ТАНЫЛМАҒАН", "Берген органмен өзара тану туралы келісім жоқ"),
        ("mn", "ХҮЧИНТЭЙ, ХҮЛЭЭН ЗӨВШӨӨРӨӨГҮЙ", "харилцан хүлээн зөвшөөрөх хэлэлцээр байхгүй"),
        ("ko", "유효, 인정 안 됨", "상호인정약정(MRA)이 없습니다"),
        ("zh-Hans", "有效，不予认可", "没有互认安排"),
    ],
)
def test_lang_prints_the_headline_and_reason_in_that_language(
    world: World, lang: str, headline: str, reason: str
) -> None:
    code, output = _run_lang(world, lang, as_authority="KZ")
    assert code == 1
    flat = " ".join(output.replace("│", " ").split())
    assert headline in flat
    assert reason in " ".join(flat.split())
    assert "[no_mra]" in flat  # the code stays, for whoever reads the logs
    assert "VALID" not in flat


def test_russian_dates_are_written_the_russian_way(world: World) -> None:
    _, output = _run_lang(world, "ru")
    # Babel (CLDR) puts a no-break space before the year abbreviation; read it as a space.
    flat = " ".join(output.replace("\u00a0", " ").replace("\u202f", " ").split())
    assert "с 1 мар. 2025 г. по 28 февр. 2030 г." in flat


def test_an_unknown_lang_is_a_usage_error_naming_lang(world: World) -> None:
    code, output = _run_lang(world, "fr")
    assert code == 2
    assert output.startswith("error: --lang: unknown language 'fr'")


def test_the_language_defaults_to_the_environments(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    _, output = _run_lang(world, None)
    assert "ДЕЙСТВИТЕЛЕН И ПРИЗНАН" in output
    monkeypatch.setenv("LANG", "C.UTF-8")
    _, output = _run_lang(world, None)
    assert "VALID AND RECOGNIZED" in output
