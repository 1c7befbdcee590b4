"""scripts/aeo/serving.py: ``aeo serve --workers N`` runs N HTTP processes that answer reads and
do no background work; ``aeo worker`` runs it beside them; on SQLite a layout with two
processes doing the background work is refused, saying why and what to do."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contracts.anvil import free_port
from registry_api.db import Role, make_engine, make_session_factory, upgrade_database
from registry_api.services.api_keys import create_api_key

from .conftest import AEO, PROJECT_DIR, RunAeo

#: a bound for processes to start on two shared cores, not a timing
START_BOUND = 240.0


@pytest.fixture
def member_dir(tmp_path: Path) -> Path:
    """A data directory with MN's settings file and a migrated SQLite database holding an
    auditor's key (no chain: the service answers reads and says why it sends nothing)."""
    data_dir = tmp_path / "data"
    (data_dir / "MN").mkdir(parents=True)
    database = data_dir / "MN" / "registry.db"
    (data_dir / "MN" / "registry.env").write_text(
        f"AEO_DATABASE_URL=sqlite:///{database}\nAEO_DATA_DIR={data_dir / 'MN'}\n",
        encoding="utf-8",
    )
    return data_dir


def auditor_token(data_dir: Path) -> str:
    engine = make_engine(f"sqlite:///{data_dir / 'MN' / 'registry.db'}")
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            _key, token = create_api_key(
                session, user="auditor", role=Role.AUDITOR, own_authority="MN"
            )
        return token
    finally:
        engine.dispose()


@contextlib.contextmanager
def aeo_process(env: dict[str, str], log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(AEO), *args],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def wait_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_BOUND
    while True:
        assert process.poll() is None, log.read_text(errors="replace")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.2)


def test_serve_with_several_workers_and_background_on_sqlite_is_refused_before_starting(
    run_aeo: RunAeo, member_dir: Path
) -> None:
    result = run_aeo(
        "serve", "--authority", "MN", "--data-dir", str(member_dir), "--port",
        str(free_port()), "--workers", "2", "--background",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert "--workers 2 with --background on SQLite" in message
    assert "aeo serve --workers 2 --no-background" in message
    assert "PostgreSQL" in message
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_number_of_workers_below_one(run_aeo: RunAeo, member_dir: Path) -> None:
    result = run_aeo("serve", "--authority", "MN", "--data-dir", str(member_dir), "--workers", "0")
    assert result.returncode == 2
    assert "--workers" in result.stderr


def test_two_http_processes_answer_reads_without_background_work_beside_one_worker(
    run_aeo: RunAeo, member_dir: Path, passphrase_env: dict[str, str], tmp_path: Path
) -> None:
    token = auditor_token(member_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = ["--authority", "MN", "--data-dir", str(member_dir)]
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    with aeo_process(passphrase_env, serve_log, "serve", *data, "--port", str(port),
                     "--workers", "2") as serve:  # fmt: skip
        wait_answering(base + "/healthz", serve, serve_log)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            for _ in range(40):
                answer = client.get("/v1/certificates")
                assert answer.status_code == 200, answer.text
                assert answer.json()["data"] == []
        deadline = time.monotonic() + START_BOUND
        while serve_log.read_text(errors="replace").count("Started server process") < 2:
            assert time.monotonic() < deadline, serve_log.read_text(errors="replace")
            time.sleep(0.2)  # uvicorn's two worker processes
        text = serve_log.read_text(errors="replace")
        assert "2 processes without the background work" in " ".join(text.split())
        # The HTTP processes hold no claim on the background work: a worker starts beside them.
        with aeo_process(passphrase_env, worker_log, "worker", *data) as worker:
            deadline = time.monotonic() + START_BOUND
            while "background work of MN" not in worker_log.read_text(errors="replace"):
                assert worker.poll() is None, worker_log.read_text(errors="replace")
                assert time.monotonic() < deadline, worker_log.read_text(errors="replace")
                time.sleep(0.2)

            # ... and a second one is refused, saying why.
            second = run_aeo("worker", *data)
            assert second.returncode == 1
            message = " ".join(second.stderr.split())
            assert "another process already runs the background work" in message
            assert "Traceback" not in second.stderr
            assert worker.poll() is None
        assert serve.poll() is None
