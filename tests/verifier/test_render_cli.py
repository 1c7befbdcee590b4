"""The terminal verdict and the CLI function: exit codes, JSON, and safe display of QR text."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
import segno
from rich.console import Console

from tests.verifier.world import NOW, World, build_world, record_for
from verifier.cli import run_verify
from verifier.pipeline import verify
from verifier.render import AMBER, GREEN, RED, outcome_style, print_verdict
from verifier.rules import CertificateStatus
from verifier.verdict import Outcome


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
