"""A consortium on a real anvil for the benchmarks that need the chain: anvil started by the
benchmark in a temporary data directory, the contracts deployed and the members founded as
``aeo demo`` does it (``aeo.consortium``, generated passphrases), and each member's
registry API in its own process with its workers (``aeo.bench.servers member``).
Everything is stopped when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from aeo import consortium as founding
from aeo.bench.common import ChildProcess, start_python, stepper, wait_http
from aeo.workspace import ConsortiumRecord, Workspace
from contracts.anvil import AnvilProcess, free_port, start_anvil
from contracts.bootstrap import DEFAULT_MEMBERS
from contracts.chain import Chain, ChainSettings, connect
from contracts.deploy import Deployment
from registry_api.first_run import create_admin_key

_NAMES = dict(DEFAULT_MEMBERS)
#: The benchmarks poll far faster than a real client (every 20 ms, to time a change
#: precisely): the per-key rate limit, which would answer 429, is raised for them.
RATE_LIMIT_ENV = {"AEO_RATE_LIMIT_PER_MINUTE": "6000000", "AEO_RATE_LIMIT_BURST": "100000"}


@dataclass
class BenchConsortium:
    workspace: Workspace
    anvil: AnvilProcess
    deployment: Deployment
    record: ConsortiumRecord
    #: an admin API token per member
    tokens: dict[str, str] = field(default_factory=dict)
    children: list[ChildProcess] = field(default_factory=list)

    def url(self, code: str) -> str:
        return f"http://127.0.0.1:{self.record.member(code).port}"

    def connect(self) -> Chain:
        """A connection to the benchmark's anvil (closing it leaves anvil running)."""
        return connect(ChainSettings(kind="anvil", data_dir=self.workspace.data_dir))


@contextlib.contextmanager
def running_consortium(
    folder: Path,
    codes: Sequence[str] = ("MN", "KR"),
    *,
    block_time: float | None = None,
    service_env: Mapping[str, str] | None = None,
    import_chunk: int | None = None,
    console: Console | None = None,
) -> Iterator[BenchConsortium]:
    """Start anvil (``block_time`` None: a block per transaction), found ``codes`` and run
    their registry APIs with ``service_env`` (``AEO_*`` overrides) added to
    ``RATE_LIMIT_ENV``."""
    workspace = Workspace(folder)
    anvil = start_anvil(workspace.data_dir, block_time=block_time)
    bench: BenchConsortium | None = None
    try:
        with stepper(console, "deploying and founding", None):
            with connect(ChainSettings(kind="anvil", data_dir=workspace.data_dir)) as chain:
                deployment = founding.deploy_registry(
                    workspace, chain, generate_passphrase=True
                ).deployment
                # A consortium has at least two members (one alone could never carry a
                # membership vote): a benchmark of one administration founds a second one
                # whose registry it does not start.
                founders = (
                    [*codes] if len(codes) > 1 else [*codes, "KZ" if "KZ" not in codes else "MN"]
                )
                ports = {code: free_port() for code in founders}
                record = founding.bootstrap(
                    workspace,
                    chain,
                    deployment,
                    [(code, _NAMES.get(code, f"{code} customs")) for code in founders],
                    ports=ports,
                    generate_passphrases=True,
                    rpc_url=anvil.url,
                ).record
            bench = BenchConsortium(workspace, anvil, deployment, record)
            for code in codes:
                settings = founding.registry_settings(workspace, code)
                bench.tokens[code] = create_admin_key(settings, "benchmark admin", force=True)
        with stepper(console, "starting the registry APIs", None):
            for code in codes:
                args = [
                    "-m", "aeo.bench.servers", "member", "--data-dir",
                    str(workspace.data_dir), "--authority", code, "--port", str(ports[code]),
                ]  # fmt: skip
                if import_chunk is not None:
                    args += ["--import-chunk", str(import_chunk)]
                bench.children.append(
                    start_python(
                        f"{code} registry API",
                        args,
                        workspace.data_dir / "logs" / f"{code}.log",
                        env={**RATE_LIMIT_ENV, **(service_env or {})},
                    )
                )
            for code, child in zip(codes, bench.children, strict=True):
                wait_http(child, bench.url(code) + "/healthz", timeout=120)
        yield bench
    finally:
        if bench is not None:
            for child in bench.children:
                child.stop()
        anvil.stop()
