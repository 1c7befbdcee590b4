"""The verifier's status sources for a data directory: live chain, offline cache, or none.

``aeo verify`` and ``aeo verifier serve`` ask the chain by default (``ChainStatusSource``) and
the synced cache with ``--offline``. When the chain or the cache cannot be reached, they verify
against :class:`UnavailableSource`, so the verdict says which check could not be made
(``check_unavailable``, exit code 3) instead of the command failing without a verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from contracts.chain import Chain
from contracts.domain.rules import RecognitionAnswer
from contracts.domain.state import AuthorityRecord, CertificateSlot, SigningKeyRecord
from contracts.errors import ChainError
from contracts.reader import RegistryReader
from scripts.errors import ScriptError
from scripts.workspace import Workspace
from verifier.chain_source import ChainStatusSource
from verifier.errors import SourceUnavailable
from verifier.offline import OfflineCache
from verifier.source import SourceInfo, StatusSource
from verifier.sync import SyncProgress, SyncReport, sync


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
    """The synced cache at ``cache_path``; an unavailable source when it was never synced
    (opening it would create an empty file)."""
    if not cache_path.is_file():
        return UnavailableSource(
            f"the offline cache {cache_path} does not exist (fill it first: aeo verifier sync)"
        )
    return OfflineCache(cache_path)


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
