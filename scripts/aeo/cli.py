"""``aeo``: run the AEO registry from one command line.

Every command works on a data directory (``--data-dir``, default ./data; see
``aeo.workspace``). Errors are one ``error: ...`` line on stderr, never a traceback;
exit code 2 means a bad argument, 1 a command that could not do its work. ``aeo verify``
exits 0 (recognized), 1 (valid, not recognized), 3 (any other verdict) or 2.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aeo import consortium as founding
from aeo.bench.cli import register as register_benchmarks
from aeo.cli_join import register as register_join
from aeo.cli_kpis import register as register_kpis
from aeo.cli_pkcs11 import register as register_pkcs11
from aeo.cli_recognize import register as register_recognize
from aeo.cli_users import register as register_users
from aeo.errors import ScriptError, UsageError
from aeo.services import require_free_ports
from aeo.workspace import DEFAULT_CHAIN_PORT, DEFAULT_DATA_DIR, Workspace
from contracts.anvil import DEFAULT_CHAIN_ID, anvil_status, running_anvil, start_anvil, stop_anvil
from contracts.domain import ids
from contracts.domain.enums import KeyAlgorithm
from contracts.errors import ChainError
from contracts.recursion import restore_recursion_limit
from registry_api.errors import RegistryError
from verifier.errors import VerificationError
from verifier.payload import PREFIX

P = ParamSpec("P")
R = TypeVar("R")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="aeo",
    help="The AEO certificate and MRA registry: chain, consortium, services, verifier, demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
chain_app = typer.Typer(help="The local development chain (anvil), state kept in the data dir.")
consortium_app = typer.Typer(help="Found the consortium of customs administrations.")
verifier_app = typer.Typer(help="The border officer's verifier: web page and offline cache.")
keys_app = typer.Typer(help="Encrypted key files (document-signing and operator keys).")
bench_app = typer.Typer(help="Benchmarks (print figures; assert nothing).")
for sub, name in (
    (chain_app, "chain"),
    (consortium_app, "consortium"),
    (verifier_app, "verifier"),
    (keys_app, "keys"),
    (bench_app, "bench"),
):
    sub.info.no_args_is_help = True
    app.add_typer(sub, name=name)


def _authority(value: str, option: str) -> str:
    try:
        ids.authority_code(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
    return value


def _as_option(value: str) -> str:
    return _authority(value, "'--as'")


def _lang_option(value: str | None) -> str | None:
    """A language of the verifier's catalogues (refused before any chain is reached)."""
    from verifier.i18n import LanguageError, locale_of

    if value is None:
        return None
    try:
        return locale_of(value)
    except LanguageError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--lang'") from exc


def _authority_option(value: str) -> str:
    return _authority(value, "'--authority'")


def _port(value: int | None) -> int | None:
    if value is not None and not 0 < value < 65536:
        raise typer.BadParameter(f"must be 1..65535, got {value}")
    return value


def _rpc(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"must be an http(s) URL, got {value!r}")
    return value


DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        help="The data directory (chain state, deployment, keys, databases).",
        file_okay=False,
    ),
]
RpcUrl = Annotated[
    str | None,
    typer.Option(
        "--rpc-url",
        help="A JSON-RPC node to use instead of the data directory's chain.",
        show_default=False,
        callback=_rpc,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn every error into one line and an exit code: users never see a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except ScriptError as exc:
            raise _fail(exc.message, exc.exit_code) from None
        except ValidationError as exc:
            messages = []
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"]) or "settings"
                messages.append(f"AEO_{field.upper()}: {error['msg']}")
            raise _fail("; ".join(messages), 2) from None
        except RegistryError as exc:
            raise _fail(exc.detail, 1) from None
        except (ChainError, VerificationError) as exc:
            raise _fail(str(exc), 1) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", 130) from None
        except Exception as exc:
            if os.environ.get("AEO_DEBUG"):
                raise
            raise _fail(
                f"unexpected {type(exc).__name__}: {exc} (set AEO_DEBUG=1 for the traceback)", 1
            ) from None

    return run


# ---------------------------------------------------------------- aeo chain


@chain_app.command("up")
@friendly_errors
def chain_up(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1.", callback=_port)
    ] = DEFAULT_CHAIN_PORT,
    block_time: Annotated[
        float | None,
        typer.Option(help="Seconds per block; default: one block per transaction.", min=0.01),
    ] = None,
    chain_id: Annotated[int, typer.Option(help="Chain id of a new chain.", min=1)] = (
        DEFAULT_CHAIN_ID
    ),
) -> None:
    """Start anvil in the background, its state persisted under DATA_DIR/anvil."""
    workspace = Workspace(data_dir)
    existing = running_anvil(workspace.data_dir)
    if existing is not None:
        out.print(f"the chain already runs at {existing.url} (pid {existing.pid})")
        return
    require_free_ports([("--port", port)])
    process = start_anvil(
        workspace.data_dir, port=port, block_time=block_time, chain_id=chain_id, detach=True
    )
    out.print(f"chain {process.chain_id} runs at {process.url} (pid {process.pid})")
    out.print(f"state: {process.state_file}  log: {process.log_file}")


@chain_app.command("down")
@friendly_errors
def chain_down(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Stop the background anvil cleanly (it writes its state before exiting)."""
    workspace = Workspace(data_dir)
    if stop_anvil(workspace.data_dir):
        out.print("the chain is stopped; its state is kept")
    else:
        out.print("no chain is running for this data directory")


@chain_app.command("status")
@friendly_errors
def chain_status(data_dir: DataDir = DEFAULT_DATA_DIR, json_output: JsonFlag = False) -> None:
    """Say whether the chain runs (exit code 0 when it runs and answers, 1 otherwise)."""
    status = anvil_status(Workspace(data_dir).data_dir)
    report = {
        "running": status.running,
        "answering": status.answering,
        "pid": status.pid,
        "url": status.url,
        "chain_id": status.chain_id,
        "block_number": status.block_number,
        "state_file": str(status.state_file),
        "state_saved": status.state_file.exists(),
    }
    if json_output:
        out.print_json(data=report)
    elif not status.running:
        saved = "a saved state" if status.state_file.exists() else "no saved state"
        out.print(f"not running ({saved} at {status.state_file})")
    else:
        answer = f"block {status.block_number}" if status.answering else "not answering"
        out.print(f"running at {status.url} (pid {status.pid}, chain {status.chain_id}, {answer})")
    if not (status.running and status.answering):
        raise typer.Exit(1)


# ---------------------------------------------------------------- aeo deploy / consortium


@app.command("deploy")
@friendly_errors
def deploy_command(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    rpc_url: RpcUrl = None,
    generate_passphrase: Annotated[
        bool,
        typer.Option(
            help="Encrypt the deployer key with a random passphrase kept in "
            "DATA_DIR/deployer/secrets (0600) instead of AEO_PASSPHRASE(_FILE)."
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Deploy the registry contracts, once: a second run finds and checks the first."""
    workspace = Workspace(data_dir)
    with workspace.connect(rpc_url) as chain:
        result = founding.deploy_registry(workspace, chain, generate_passphrase=generate_passphrase)
    deployment = result.deployment
    if json_output:
        out.print_json(data={"created": result.created, **deployment.to_json()})
        return
    verb = "deployed" if result.created else "already deployed (checked)"
    out.print(f"registry {verb} on chain {deployment.chain_id}")
    out.print(f"  AeoRegistry  {deployment.registry}")
    out.print(f"  MraRegistry  {deployment.mras}")
    out.print(f"  from block   {deployment.start_block}")
    out.print(f"  recorded in  {result.path}")


@consortium_app.command("bootstrap")
@friendly_errors
def consortium_bootstrap(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    member: Annotated[
        list[str] | None,
        typer.Option(
            "--member",
            help="A founding member: CODE or CODE=Name (repeat). Default: MN, KZ, KR.",
            show_default=False,
        ),
    ] = None,
    rpc_url: RpcUrl = None,
    generate_passphrases: Annotated[
        bool,
        typer.Option(
            "--generate-passphrase",
            help="Give each administration (and the deployer) a random passphrase in "
            "DATA_DIR/<CODE>/secrets (0600) instead of AEO_PASSPHRASE(_FILE).",
        ),
    ] = False,
) -> None:
    """Found the consortium: admit its members and write their keys and settings.

    Each administration gets encrypted keys and its registry.env under DATA_DIR/<CODE>/, and
    its document-signing key is published on chain. For development and demonstration
    networks: every member's keys are generated on this machine (see docs/deployment.md)."""
    members = founding.parse_members(member or list(founding.DEFAULT_CODES))
    workspace = Workspace(data_dir)
    with workspace.connect(rpc_url) as chain:
        deployment = workspace.deployment(chain)
        result = founding.bootstrap(
            workspace,
            chain,
            deployment,
            members,
            generate_passphrases=generate_passphrases,
            say=lambda message: err.print(message),
        )
    verb = "founded" if result.created else "already founded (settings rewritten)"
    out.print(f"consortium {verb}: {', '.join(result.record.codes)}")
    for rec in result.record.members:
        out.print(
            f"  {rec.code}  {rec.name}: operator {rec.operator}, signing key {rec.signing_kid}, "
            f"settings {workspace.registry_env(rec.code)}"
        )


# ---------------------------------------------------------------- aeo serve


@app.command("serve")
@friendly_errors
def serve(
    authority: Annotated[
        str,
        typer.Option(
            help="The administration whose registry API to run (MN, KZ, KR...).",
            callback=_authority_option,
        ),
    ],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port; default: the one consortium.json records.",
            callback=_port,
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="HTTP processes sharing the port. Above 1 they do no background work: run "
            "aeo worker beside them.",
        ),
    ] = 1,
    background: Annotated[
        bool | None,
        typer.Option(
            "--background/--no-background",
            help="Run the background work (outbox sender, indexer, imports, webhooks) in the "
            "HTTP processes; default: as AEO_RUN_WORKERS says (on) with one process, off "
            "with --workers above 1.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run one administration's registry API (uvicorn) with its database and keys."""
    from aeo import serving  # the app and web3: loaded only by the commands that run them

    workspace = Workspace(data_dir)
    if port is None:
        port = workspace.consortium().member(authority).port
    run_background_here = (
        background
        if background is not None
        else serving.default_background(founding.registry_settings(workspace, authority), workers)
    )
    where = "with" if run_background_here else "without"
    err.print(
        f"{authority} registry API on http://{host}:{port} (OpenAPI at /docs), "
        f"{workers} process{'es' if workers > 1 else ''} {where} the background work"
    )
    serving.serve(
        workspace, authority, host=host, port=port, workers=workers, background=run_background_here
    )


@app.command("worker")
@friendly_errors
def worker(
    authority: Annotated[
        str,
        typer.Option(
            help="The administration whose background work to run (MN, KZ, KR...).",
            callback=_authority_option,
        ),
    ],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Run one administration's background work (outbox sender, indexer, imports, webhooks)
    without HTTP, beside aeo serve --workers N. With PostgreSQL several may run (on several
    machines): each job runs in one of them at a time and moves within seconds when that one
    dies. With SQLite one process may do it."""
    from aeo import serving

    err.print(f"{authority} background work (Ctrl-C or SIGTERM stops it)")
    serving.work(Workspace(data_dir), authority)


# ---------------------------------------------------------------- aeo verify / verifier


def _target(value: str) -> str:
    if value.startswith(PREFIX):
        return value
    path = Path(value)
    looks_like_path = os.sep in value or path.suffix.lower() in {
        ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".txt", ".pdf",
    }  # fmt: skip
    if looks_like_path and not path.is_file():
        raise typer.BadParameter(f"{value} is not a file", param_hint="'PATH_OR_TEXT'")
    return value


CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        help="Offline cache file; default: DATA_DIR/verifier-snapshot.cache (synced from a "
        "registry) or DATA_DIR/verifier-cache.sqlite (from the chain), the newer one.",
        dir_okay=False,
        show_default=False,
    ),
]
MaxAge = Annotated[
    float, typer.Option("--max-age-hours", help="Flag offline status data older than this.", min=0)
]


@app.command("verify")
@friendly_errors
def verify_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_TEXT",
            help="A photo or scan of the QR code (PNG, JPEG...), or its AEO1: text.",
            callback=_target,
        ),
    ],
    as_authority: Annotated[
        str,
        typer.Option("--as", help="The verifying administration (e.g. KR).", callback=_as_option),
    ],
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the synced offline cache, not the chain.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the verdict as one JSON object.")
    ] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    rpc_url: RpcUrl = None,
    cache: CacheOption = None,
    max_age_hours: MaxAge = 24.0,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="The verdict's language: en, mn, ru, kk, ko or zh-Hans "
            "(default: the environment's LC_ALL/LANG, else English).",
            callback=_lang_option,
        ),
    ] = None,
) -> None:
    """Verify a certificate's QR code (a photo, a scan or its text).

    Exit code 0: valid and recognized; 1: valid, not recognized; 3: any other verdict
    (suspended, revoked, expired, forged, unreadable, a check that could not be made);
    2: bad arguments."""
    from aeo.verifying import OnlineSource, closing, default_offline_cache, offline_source
    from verifier.checks import CheckCounter, checks_path_beside
    from verifier.cli import run_verify

    workspace = Workspace(data_dir)
    online: OnlineSource | None = None
    if offline:
        source = offline_source(cache or default_offline_cache(workspace))
    else:
        online = OnlineSource(workspace, rpc_url)
        source = online.get()
    try:
        with closing(source):
            code = run_verify(
                target,
                as_authority,
                source,
                _now,
                json_output,
                max_age=timedelta(hours=max_age_hours),
                # Counted per day and verdict beside the cache (a border KPI, no holder data).
                checks=CheckCounter(checks_path_beside(cache or workspace.verifier_cache)),
                lang=lang,
            )
    finally:
        if online is not None:
            online.close()
    raise typer.Exit(code)


def _now() -> datetime:
    return datetime.now(UTC)


def _registry_url(value: str | None) -> str | None:
    from verifier.snapshot.remote import base_url

    if value is None:
        return None
    try:
        base_url(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


@verifier_app.command("sync")
@friendly_errors
def verifier_sync(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    rpc_url: RpcUrl = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            help="Cache file; default DATA_DIR/verifier-snapshot.cache with --from, "
            "DATA_DIR/verifier-cache.sqlite without.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    from_url: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Sync from this registry's signed snapshot (its base URL, e.g. "
            "https://registry.customs.example) instead of a chain node.",
            show_default=False,
            callback=_registry_url,
        ),
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            help="With --from: the trust-anchor file (the registry's pinned key); default "
            "DATA_DIR/verifier-anchors.json (aeo verifier trust add).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Fill the offline cache: from the chain's events, or (--from URL) from a registry's
    signed snapshot.

    Keys, certificate statuses and MRAs, for verifying without a network. From a chain node
    a sync resumes where the last one stopped; from a registry it fetches the delta from the
    cache's block when that is cheaper than the full snapshot, checks the signature against
    the pinned key, and resumes a download the link cut."""
    workspace = Workspace(data_dir)
    if from_url is None:
        if anchor is not None:
            raise UsageError("--anchor: only with --from URL (a chain sync trusts the chain)")
        _sync_from_chain(workspace, cache or workspace.verifier_cache, rpc_url)
        return
    if rpc_url is not None:
        raise UsageError("--rpc-url: not with --from (the snapshot comes from the registry)")
    _sync_from_registry(workspace, from_url, cache, anchor)


def _sync_from_chain(workspace: Workspace, path: Path, rpc_url: str | None) -> None:
    from aeo.verifying import sync_cache

    with Progress(
        TextColumn("syncing blocks"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("sync", total=None)

        def advance(step: Any) -> None:
            progress.update(task, total=step.total, completed=step.done)

        report = sync_cache(workspace, path, advance, rpc_url)
    how = "from scratch" if report.from_scratch else f"from block {report.from_block}"
    if report.rewound:
        how = "from scratch (the chain no longer had the cached block)"
    out.print(
        f"offline cache {path} reflects block {report.to_block} "
        f"({report.events_applied} events applied, synced {how}); "
        f"status as of {report.synced_at:%Y-%m-%d %H:%M:%S} UTC"
    )


def _sync_from_registry(
    workspace: Workspace, url: str, cache: Path | None, anchor: Path | None
) -> None:
    from rich.progress import DownloadColumn, TransferSpeedColumn

    from aeo.verifying import anchors_path, load_anchors, snapshot_cache_path, sync_snapshot

    path = cache or snapshot_cache_path(workspace)
    anchors = load_anchors(anchor or anchors_path(workspace))
    with Progress(
        TextColumn("fetching the snapshot"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        # A post syncs from a scheduled task too: its log gets the result line, not a bar.
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("fetch", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, total=total, completed=done)

        report = sync_snapshot(url, path, anchors, advance)
    header = report.cache.header
    how = {
        "none": "already current",
        "delta": f"a delta from block {report.from_block}",
        "full": "the full snapshot",
    }[report.fetched]
    if report.resumed_at:
        how += f", resumed at byte {report.resumed_at}"
    out.print(
        f"snapshot cache {path} reflects block {header.block.number} of {header.issuer}'s "
        f"registry ({how}; {report.bytes_downloaded} bytes fetched, signed by key "
        f"{header.kid.hex()}); status as of "
        f"{datetime.fromtimestamp(header.made_at, UTC):%Y-%m-%d %H:%M:%S} UTC"
    )


trust_app = typer.Typer(help="The registry keys this border post trusts for snapshots.")
trust_app.info.no_args_is_help = True
verifier_app.add_typer(trust_app, name="trust")


class AnchorAlgorithm(StrEnum):
    ES256 = "ES256"
    EDDSA = "EDDSA"


@trust_app.command("add")
@friendly_errors
def trust_add(
    authority: Annotated[
        str,
        typer.Option(
            "--authority",
            help="The administration whose registry signs (e.g. MN).",
            callback=_authority_option,
        ),
    ],
    public_key: Annotated[
        str,
        typer.Option(
            "--public-key",
            help="Its document-signing public key in hex, as the administration announced "
            "it (aeo keys show-public prints it).",
        ),
    ],
    algorithm: Annotated[
        AnchorAlgorithm, typer.Option("--algorithm", help="The key's algorithm.")
    ] = AnchorAlgorithm.ES256,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    anchors: Annotated[
        Path | None,
        typer.Option(
            "--anchors",
            help="The trust-anchor file; default DATA_DIR/verifier-anchors.json.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Pin a registry's document-signing key: snapshots signed by any other key are refused.

    Compare the key id it prints with the one the administration gave you out of band."""
    from aeo.verifying import anchors_path, make_anchor, pin_anchor

    try:
        anchor = make_anchor(authority, algorithm.value, public_key)
    except (ValueError, VerificationError) as exc:
        raise UsageError(f"--public-key: {exc}") from None
    path = anchors or anchors_path(Workspace(data_dir))
    added = pin_anchor(path, anchor)
    state = "pinned" if added else "already pinned"
    out.print(f"{state}: {authority} key {anchor.kid.hex()} ({anchor.algorithm.name}) in {path}")


@trust_app.command("list")
@friendly_errors
def trust_list(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    anchors: Annotated[
        Path | None,
        typer.Option(
            "--anchors",
            help="The trust-anchor file; default DATA_DIR/verifier-anchors.json.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """The pinned registry keys."""
    from aeo.verifying import anchors_path, load_anchors

    path = anchors or anchors_path(Workspace(data_dir))
    for anchor in load_anchors(path, "--anchors"):
        out.print(f"{anchor.authority}  {anchor.kid.hex()}  {anchor.algorithm.name}")


@verifier_app.command("serve")
@friendly_errors
def verifier_serve(
    as_authority: Annotated[
        str,
        typer.Option("--as", help="The verifying administration (e.g. KR).", callback=_as_option),
    ],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port; default: the one consortium.json records (8100).",
            callback=_port,
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    offline: Annotated[
        bool, typer.Option("--offline", help="Verify against the synced cache only.")
    ] = False,
    rpc_url: RpcUrl = None,
    cache: CacheOption = None,
    max_age_hours: MaxAge = 24.0,
    report_to: Annotated[
        str | None,
        typer.Option(
            "--report-to",
            help="The address of this administration's registry API, to report the page's "
            "counts of checks to (with --post and --report-key-file).",
            show_default=False,
        ),
    ] = None,
    post: Annotated[
        str | None,
        typer.Option("--post", help="This border post's name in the reports.", show_default=False),
    ] = None,
    report_key_file: Annotated[
        Path | None,
        typer.Option(
            "--report-key-file",
            help="A file holding a border_officer API key of that registry (one line).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the border officer's scan page (camera, photo upload, paste). It counts its
    verdicts per day (verifier-checks.sqlite beside the cache) and, with --report-to, reports
    the counts to its registry."""
    import uvicorn

    from aeo.verifying import OnlineSource, default_offline_cache, offline_source
    from verifier.checks import CheckCounter, Reporter, checks_path_beside
    from verifier.source import StatusSource
    from verifier.web.app import create_app

    workspace = Workspace(data_dir)
    if port is None:
        port = workspace.consortium().verifier_port if workspace.has_consortium() else 8100
    online: OnlineSource | None = None
    factory: Callable[[], StatusSource]
    if offline:
        path = cache or default_offline_cache(workspace)
        if not path.is_file():
            raise ScriptError(f"the offline cache {path} does not exist (aeo verifier sync)")
        fixed = offline_source(path)
        factory = lambda: fixed  # noqa: E731 - the page asks per request
    else:
        online = OnlineSource(workspace, rpc_url)
        factory = online.get
    checks = CheckCounter(checks_path_beside(cache or workspace.verifier_cache))
    reporter: Reporter | None = None
    given = [name for name, value in (("--post", post), ("--report-key-file", report_key_file))
             if value is None]  # fmt: skip
    if report_to is not None:
        if given:
            raise typer.BadParameter(f"needs {' and '.join(given)}", param_hint="'--report-to'")
        assert post is not None
        assert report_key_file is not None
        reporter = Reporter(checks, report_to, _report_key(report_key_file), post)
    page = create_app(
        factory,
        as_authority,
        max_age=timedelta(hours=max_age_hours),
        checks=checks,
        reporter=reporter,
    )
    err.print(f"border officer page for {as_authority} on http://{host}:{port}/")
    try:
        uvicorn.run(page, host=host, port=port, log_level="warning")
    finally:
        if online is not None:
            online.close()


def _report_key(path: Path) -> str:
    """The border officer key in ``path`` (its first line), never echoed."""
    try:
        text = path.read_text(encoding="utf-8")[:1024]
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise typer.BadParameter(
            f"{path} cannot be read: {reason}", param_hint="'--report-key-file'"
        ) from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not token.startswith("aeo_"):
        raise typer.BadParameter(
            f"{path} does not hold an API key (aeo_...)", param_hint="'--report-key-file'"
        )
    return token


# ---------------------------------------------------------------- aeo keys


class KeyKind(StrEnum):
    SIGNING = "signing"
    OPERATOR = "operator"


def _key_description(kind: KeyKind, path: Path, passphrase: str | None) -> dict[str, str]:
    from registry_api.keystore import load_signing_key, operator_address

    if kind is KeyKind.OPERATOR:
        return {"kind": "operator", "path": str(path), "address": operator_address(path)}
    assert passphrase is not None
    key = load_signing_key(path, passphrase)
    return {
        "kind": "signing",
        "path": str(path),
        "algorithm": key.algorithm.label,
        "kid": key.kid.hex(),
        "public_key": key.public.public_key.hex(),
    }


def _print_key(description: dict[str, Any], json_output: bool) -> None:
    if json_output:
        out.print_json(data=description)
        return
    for name, value in description.items():
        shown = ("yes" if value else "no") if isinstance(value, bool) else value
        out.print(f"{name:<11} {shown}")


@keys_app.command("new")
@friendly_errors
def keys_new(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH", help="Where to write the encrypted key file (must not exist)."
        ),
    ],
    kind: Annotated[KeyKind, typer.Option(help="signing (QR payloads) or operator (txs).")] = (
        KeyKind.SIGNING
    ),
    # The labels of contracts.domain.enums.SIGNING_ALGORITHMS, spelled out because typer reads
    # the choices from the annotation (KeyAlgorithm.from_label below refuses any other).
    algorithm: Annotated[
        Literal["ES256", "EdDSA"], typer.Option(help="Signing algorithm.")
    ] = "ES256",
    json_output: JsonFlag = False,
) -> None:
    """Create an encrypted key file and print its public data.

    The passphrase comes from AEO_PASSPHRASE or AEO_PASSPHRASE_FILE."""
    from aeo.passphrases import ENV_PASSPHRASE, ENV_PASSPHRASE_FILE, from_environment
    from registry_api.keystore import create_operator_key, create_signing_key

    if path.exists():
        raise UsageError(f"PATH: {path} exists; key files are never overwritten")
    passphrase = from_environment()
    if passphrase is None:
        raise UsageError(f"set {ENV_PASSPHRASE} or {ENV_PASSPHRASE_FILE} to encrypt the key")
    if kind is KeyKind.OPERATOR:
        create_operator_key(path, passphrase)
    else:
        create_signing_key(path, passphrase, KeyAlgorithm.from_label(algorithm))
    _print_key(_key_description(kind, path, passphrase), json_output)


@keys_app.command("show-public")
@friendly_errors
def keys_show_public(
    path: Annotated[
        Path,
        typer.Argument(metavar="PATH", help="An encrypted key file.", exists=True, dir_okay=False),
    ],
    json_output: JsonFlag = False,
) -> None:
    """Print a key file's public data.

    The address of an operator keystore (.json), or the algorithm, key id and public key of
    a signing key (.pem; needs its passphrase)."""
    from aeo.passphrases import passphrase_for

    kind = KeyKind.OPERATOR if path.suffix.lower() == ".json" else KeyKind.SIGNING
    passphrase = passphrase_for(path.parent) if kind is KeyKind.SIGNING else None
    _print_key(_key_description(kind, path, passphrase), json_output)


@keys_app.command("migrate")
@friendly_errors
def keys_migrate(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH", help="A key file to re-encrypt in place.", exists=True, dir_okay=False
        ),
    ],
    new_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--new-passphrase-file",
            metavar="FILE",
            help="Re-encrypt under the passphrase this file holds (12+ characters).",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Re-encrypt a key file in the current format (scrypt, N = 2^18), in place.

    For a signing key in the old PBKDF2 form (which the service refuses) or a key file at a
    lower scrypt cost. The passphrase comes from AEO_PASSPHRASE, AEO_PASSPHRASE_FILE or the
    file's folder's secrets file; a wrong one changes nothing. The file is replaced
    atomically, mode 0600. A current file is left as it is."""
    from aeo.passphrases import passphrase_for, read_passphrase_file
    from registry_api.keystore import MIN_PASSPHRASE_LENGTH, migrate_key_file

    # An old file may have been written under a passphrase shorter than today's minimum:
    # it is read with it, and must then be re-encrypted under a new one.
    passphrase = passphrase_for(path.parent, minimum=False)
    new_passphrase = (
        read_passphrase_file(new_passphrase_file, "--new-passphrase-file")
        if new_passphrase_file is not None
        else None
    )
    if new_passphrase is None and len(passphrase.strip()) < MIN_PASSPHRASE_LENGTH:
        raise UsageError(
            f"the passphrase of {path} is shorter than {MIN_PASSPHRASE_LENGTH} characters: "
            "re-encrypt it under a longer one with --new-passphrase-file FILE"
        )
    result = migrate_key_file(path, passphrase, new_passphrase=new_passphrase)
    _print_key(
        {
            "kind": result.kind,
            "path": str(path),
            "migrated": result.changed,
            "before": result.before,
            "after": result.after,
        },
        json_output,
    )


# `aeo keys new --pkcs11`: the key made inside an HSM token (scripts/aeo/cli_pkcs11.py).
register_pkcs11(keys_app, keys_new, friendly_errors, _print_key)

# ---------------------------------------------------------------- aeo bench

# The benchmark commands live with the benchmarks (scripts/aeo/bench/cli.py).
register_benchmarks(bench_app, friendly_errors, out, err)
register_users(app, friendly_errors, out, err)
register_kpis(app, friendly_errors, out, err)
register_recognize(app, friendly_errors, _as_option, DEFAULT_DATA_DIR, err)
register_join(consortium_app, friendly_errors, DEFAULT_DATA_DIR, out, err)


# ---------------------------------------------------------------- aeo demo


@app.command("demo")
@friendly_errors
def demo_command(
    reset: Annotated[
        bool, typer.Option("--reset", help="Wipe the data directory first and start afresh.")
    ] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    chain_port: Annotated[
        int, typer.Option(help="anvil's port.", callback=_port)
    ] = DEFAULT_CHAIN_PORT,
    base_port: Annotated[
        int,
        typer.Option(
            help="The verifier page's port; the registry APIs take the next ones (MN, KZ, KR).",
            callback=_port,
        ),
    ] = 8100,
) -> None:
    """Run the whole system on this machine, with example data.

    anvil, three administrations (MN, KZ, KR) with their registry APIs, an MRA, example
    certificates with QR codes and PDFs, and the border officer page. Ctrl-C stops
    everything; a second run resumes from the data directory."""
    from aeo.demo import DemoOptions, run_demo

    raise typer.Exit(
        run_demo(
            DemoOptions(data_dir=data_dir, reset=reset, chain_port=chain_port, base_port=base_port),
            out,
        )
    )


def main() -> None:
    """The ``aeo`` console entry point."""
    # The imports above (web3) raised it; what the commands read (JSON, QR payloads, images)
    # must not be able to overflow the C stack (contracts.recursion).
    restore_recursion_limit()
    app()


if __name__ == "__main__":
    main()
