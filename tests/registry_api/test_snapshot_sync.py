"""End to end over real HTTP: MN's registry (uvicorn on a free 127.0.0.1 port) publishes its
snapshot, a border post pins MN's key and syncs with ``aeo verifier sync --from URL``, and
``aeo verify --offline`` answers from that cache; after a suspension the delta makes it
answer "suspended". The CLI's refusals are one line naming the argument or the code."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aeo.cli import app as aeo
from contracts.bootstrap import Consortium
from contracts.domain.enums import KeyAlgorithm, ReasonCode
from registry_api.keystore import load_signing_key
from verifier import keys

from .conftest import ChainApp
from .feed_support import ApiServer
from .registry_support import issue, open_registry, record, register_key_on_chain

# Slow, so not in `make test-fast` (`make test` runs it): a registry served by uvicorn.
pytestmark = pytest.mark.slow

NUMBER = "MN-AEO-2025-0001"


@pytest.fixture
def mn(tmp_path: Path, consortium: Consortium) -> Iterator[ChainApp]:
    with ExitStack() as stack:
        registry = open_registry(stack, tmp_path, consortium, "MN")
        register_key_on_chain(registry)
        # Enough certificates for a delta of one change to be less than half the snapshot.
        issue(registry, record(NUMBER), *(record(f"MN-AEO-2024-{n:04d}") for n in range(120)))
        yield registry


def publish(registry: ChainApp) -> None:
    snapshots = registry.workers.snapshots
    assert snapshots is not None
    assert snapshots.run_once() is not None


def public_key_hex(registry: ChainApp) -> str:
    settings = registry.app.state.settings
    key = load_signing_key(settings.signing_key_path, settings.key_passphrase())
    return key.public.public_key.hex()


Run = Callable[..., "Result"]


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr


@pytest.fixture
def run(tmp_path: Path) -> Run:
    post = tmp_path / "border-post"

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(aeo, [*args, "--data-dir", str(post)])
        return Result(result.exit_code, result.stdout, result.stderr)

    return invoke


def verdict(run: Run, text: str) -> tuple[int, dict[str, object]]:
    result = run("verify", text, "--as", "MN", "--offline", "--json")
    return result.exit_code, json.loads(result.stdout)


def test_a_border_post_syncs_from_the_registry_and_verifies_offline_then_sees_a_suspension(
    mn: ChainApp, run: Run
) -> None:
    publish(mn)
    text = mn.client.get(f"/v1/certificates/{NUMBER}/payload", headers=mn.headers()).text
    pinned = run(
        "verifier", "trust", "add", "--authority", "MN", "--public-key", public_key_hex(mn)
    )
    assert pinned.exit_code == 0, pinned.stderr
    assert pinned.stdout.startswith("pinned: MN key ")
    with ApiServer(mn.app) as server:
        first = run("verifier", "sync", "--from", server.url)
        assert first.exit_code == 0, first.stderr
        assert "(the full snapshot;" in first.stdout
        code, answer = verdict(run, text)
        assert (code, answer["outcome"]) == (0, "recognized")
        reasons = [r["code"] for r in answer["reasons"]]  # type: ignore[union-attr]
        assert reasons == ["own_certificate", "status_from_filter"]
        assert answer["source"]["kind"] == "snapshot"  # type: ignore[index]

        response = mn.client.post(
            f"/v1/certificates/{NUMBER}/suspend",
            json={"reason_code": int(ReasonCode.NON_COMPLIANCE)},
            headers=mn.headers(**{"Idempotency-Key": "suspend-1"}),
        )
        assert response.status_code == 202, response.text
        mn.settle()
        publish(mn)
        second = run("verifier", "sync", "--from", server.url)
        assert second.exit_code == 0, second.stderr
        assert "(a delta from block " in second.stdout
        code, answer = verdict(run, text)
        assert (code, answer["outcome"]) == (3, "suspended")
        assert "status_from_filter" not in [r["code"] for r in answer["reasons"]]  # type: ignore[union-attr]

        current = run("verifier", "sync", "--from", server.url)
        assert "(already current;" in current.stdout


def test_a_snapshot_of_an_unpinned_key_is_refused_with_its_code(mn: ChainApp, run: Run) -> None:
    publish(mn)
    stranger = keys.public_key_bytes(keys.generate_private_key(KeyAlgorithm.ES256)).hex()
    assert (
        run("verifier", "trust", "add", "--authority", "MN", "--public-key", stranger).exit_code
        == 0
    )
    with ApiServer(mn.app) as server:
        refused = run("verifier", "sync", "--from", server.url)
    assert refused.exit_code == 1
    # The registry serves in this process: its JSON log lines share the captured stderr.
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("error: snapshot_untrusted_key: signed with key ")
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("verifier", "sync", "--from", "ftp://x"), "--from"),
        (("verifier", "sync", "--from", "http://127.0.0.1:9"), "--anchor"),
        (("verifier", "sync", "--anchor", "a.json"), "--anchor"),
        (("verifier", "trust", "add", "--authority", "MN", "--public-key", "zz"), "--public-key"),
        (("verifier", "trust", "add", "--authority", "MN", "--public-key", "04aa"), "--public-key"),
        (("verifier", "trust", "add", "--authority", "mn", "--public-key", "04"), "--authority"),
    ],
)
def test_bad_sync_and_trust_arguments_exit_2_naming_the_argument(
    run: Run, args: tuple[str, ...], named: str
) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert named in result.stderr


def test_an_unreachable_registry_is_one_line_with_its_code(run: Run, tmp_path: Path) -> None:
    key = keys.generate_private_key(KeyAlgorithm.ES256)
    run("verifier", "trust", "add", "--authority", "MN", "--public-key",
        keys.public_key_bytes(key).hex())  # fmt: skip
    result = run("verifier", "sync", "--from", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: snapshot_unavailable: cannot reach ")
    assert len(result.stderr.strip().splitlines()) == 1
