"""The verifier's status sources for a data directory: live chain, offline cache, or none.

``aeo verify`` and ``aeo verifier serve`` ask the chain by default (``ChainStatusSource``) and
the synced cache with ``--offline``: the snapshot cache that ``aeo verifier sync --from URL``
fills from a registry, or the SQLite cache that ``aeo verifier sync`` fills from a chain node,
whichever was synced last (``--cache FILE`` names one; its first bytes tell which kind).
When the chain or the cache cannot be reached, they verify against :class:`UnavailableSource`,
so the verdict says which check could not be made (``check_unavailable``, exit code 3)
instead of the command failing without a verdict.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aeo.errors import ScriptError, UsageError
from aeo.workspace import Workspace
from contracts.chain import Chain
from contracts.domain.enums import KeyAlgorithm
from contracts.domain.rules import RecognitionAnswer
from contracts.domain.state import AuthorityRecord, CertificateSlot, SigningKeyRecord
from contracts.errors import ChainError
from contracts.reader import RegistryReader
from verifier.chain_source import ChainStatusSource
from verifier.errors import SourceUnavailable
from verifier.offline import OfflineCache
from verifier.snapshot.cache import MAGIC as SNAPSHOT_CACHE_MAGIC
from verifier.snapshot.document import TrustAnchor
from verifier.snapshot.errors import SnapshotError
from verifier.snapshot.remote import ProgressCallback, RemoteSyncReport, sync_from_registry
from verifier.snapshot.source import SnapshotCacheSource
from verifier.source import SourceInfo, StatusSource
from verifier.sync import SyncProgress, SyncReport, sync

#: the snapshot cache ``aeo verifier sync --from URL`` fills, in the data directory
SNAPSHOT_CACHE_NAME = "verifier-snapshot.cache"
#: the trust anchors pinned at the border post (``aeo verifier trust add``)
ANCHORS_NAME = "verifier-anchors.json"
ANCHORS_FORMAT = 1


@dataclass(frozen=True)
class UnavailableSource:
    """A status source that cannot answer anything, and says why."""

    reason: str

    def _fail(self) -> SourceUnavailable:
        return SourceUnavailable(self.reason)

    def info(self) -> SourceInfo:
        raise self._fail()

    def signing_key(self, kid: bytes) -> SigningKeyRecord | None:
        raise self._fail()

    def certificate(self, certificate_id: bytes) -> CertificateSlot | None:
        raise self._fail()

    def authority(self, code: str) -> AuthorityRecord | None:
        raise self._fail()

    def recognition(
        self, authority: str, certificate: CertificateSlot, day: int
    ) -> RecognitionAnswer:
        raise self._fail()


class OnlineSource:
    """The live chain of a data directory, connected on first use and again after a failure
    to connect, so a page started before its chain works once the chain is up."""

    def __init__(self, workspace: Workspace, rpc_url: str | None = None) -> None:
        self.workspace = workspace
        self.rpc_url = rpc_url
        self._lock = threading.Lock()
        self._chain: Chain | None = None
        self._source: ChainStatusSource | None = None

    def get(self) -> StatusSource:
        with self._lock:
            if self._source is None:
                try:
                    chain = self.workspace.connect(self.rpc_url)
                except ScriptError as exc:
                    return UnavailableSource(f"the chain cannot be read: {exc.message}")
                try:
                    deployment = self.workspace.deployment(chain)
                except (ScriptError, ChainError) as exc:
                    chain.close()
                    message = exc.message if isinstance(exc, ScriptError) else str(exc)
                    return UnavailableSource(f"the registry cannot be found: {message}")
                self._chain = chain
                self._source = ChainStatusSource(RegistryReader(chain, deployment))
            return self._source

    def close(self) -> None:
        with self._lock:
            if self._chain is not None:
                self._chain.close()
            self._chain = None
            self._source = None


def offline_source(cache_path: Path) -> StatusSource:
    """The synced cache at ``cache_path`` (a snapshot cache or the SQLite cache, told apart by
    their first bytes); an unavailable source when it was never synced (opening a SQLite
    file that does not exist would create an empty one)."""
    if not cache_path.is_file():
        return UnavailableSource(
            f"the offline cache {cache_path} does not exist (fill it first: aeo verifier sync)"
        )
    if is_snapshot_cache(cache_path):
        return SnapshotCacheSource(cache_path)
    return OfflineCache(cache_path)


def is_snapshot_cache(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SNAPSHOT_CACHE_MAGIC)) == SNAPSHOT_CACHE_MAGIC
    except OSError:
        return False


def snapshot_cache_path(workspace: Workspace) -> Path:
    return workspace.data_dir / SNAPSHOT_CACHE_NAME


def default_offline_cache(workspace: Workspace) -> Path:
    """The offline cache ``--offline`` reads when no ``--cache`` is given: whichever of the
    snapshot cache and the chain-synced SQLite cache was written last (the SQLite one when
    neither exists, so the message names the command that fills it)."""
    candidates = [snapshot_cache_path(workspace), workspace.verifier_cache]
    present = [path for path in candidates if path.is_file()]
    if not present:
        return workspace.verifier_cache
    return max(present, key=lambda path: path.stat().st_mtime_ns)


# ---------------------------------------------------------------- trust anchors


def anchors_path(workspace: Workspace) -> Path:
    return workspace.data_dir / ANCHORS_NAME


def load_anchors(path: Path, option: str = "--anchor") -> list[TrustAnchor]:
    """The trust anchors a border post pinned (``aeo verifier trust add`` writes the file).
    Raises :class:`UsageError` naming ``option`` and the file when it cannot be used."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{option}: {path} does not exist (pin the registry's key first: "
            "aeo verifier trust add --authority CODE --public-key HEX)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{option}: {path} is not a trust-anchor file: {exc}") from None
    entries = document.get("anchors") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise UsageError(f'{option}: {path} lists no trust anchor ({{"anchors": [...]}})')
    return [
        _anchor_from(entry, f"{option}: {path}: anchors[{i}]") for i, entry in enumerate(entries)
    ]


def _anchor_from(entry: Any, where: str) -> TrustAnchor:
    if not isinstance(entry, dict):
        raise UsageError(f"{where} must be an object")
    try:
        anchor = make_anchor(entry["authority"], entry["algorithm"], entry["public_key"])
    except KeyError as exc:
        raise UsageError(f"{where} has no {exc.args[0]!r}") from None
    except (TypeError, ValueError, SnapshotError) as exc:
        raise UsageError(f"{where}: {exc}") from None
    kid = entry.get("kid")
    if kid is not None and kid != anchor.kid.hex():
        raise UsageError(f"{where}: kid {kid} is not the public key's ({anchor.kid.hex()})")
    return anchor


def make_anchor(authority: str, algorithm: str, public_key_hex: str) -> TrustAnchor:
    """A trust anchor from what an administration announces: its code, the algorithm and
    the public key in hex. Raises ValueError (or a SnapshotError) naming what is wrong."""
    try:
        chosen = KeyAlgorithm[str(algorithm).upper()]
    except KeyError:
        raise ValueError(f"algorithm {algorithm!r} is not ES256 or EDDSA") from None
    text = str(public_key_hex).strip().removeprefix("0x")
    try:
        public_key = bytes.fromhex(text)
    except ValueError:
        raise ValueError("public key is not hex") from None
    return TrustAnchor(str(authority), chosen, public_key)


def anchor_json(anchor: TrustAnchor) -> dict[str, str]:
    return {
        "authority": anchor.authority,
        "algorithm": anchor.algorithm.name,
        "public_key": anchor.public_key.hex(),
        "kid": anchor.kid.hex(),
    }


def pin_anchor(path: Path, anchor: TrustAnchor) -> bool:
    """Adds ``anchor`` to the file (created when missing); False when it was pinned already."""
    anchors = load_anchors(path, "--anchors") if path.exists() else []
    if any(a.kid == anchor.kid for a in anchors):
        return False
    document = {"format": ANCHORS_FORMAT, "anchors": [anchor_json(a) for a in [*anchors, anchor]]}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return True


def sync_snapshot(
    url: str,
    cache_path: Path,
    anchors: Sequence[TrustAnchor],
    progress: ProgressCallback | None = None,
) -> RemoteSyncReport:
    """Bring the snapshot cache at ``cache_path`` to the registry's latest snapshot. A
    refusal becomes a :class:`ScriptError` that starts with its code."""
    try:
        return sync_from_registry(url, cache_path, anchors, progress=progress)
    except SnapshotError as exc:
        raise ScriptError(f"{exc.code}: {exc.message}") from None


def closing(source: StatusSource) -> AbstractContextManager[object]:
    """Close ``source`` after use when it holds a file."""
    if isinstance(source, OfflineCache):
        return source
    return nullcontext()


def sync_cache(
    workspace: Workspace,
    cache_path: Path,
    progress: Callable[[SyncProgress], None] | None = None,
    rpc_url: str | None = None,
) -> SyncReport:
    """Bring the offline cache at ``cache_path`` up to this data directory's chain."""
    with workspace.connect(rpc_url) as chain:
        deployment = workspace.deployment(chain)
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        with OfflineCache(cache_path) as cache:
            return sync(chain, deployment, cache, progress)
