"""A border post's snapshot cache filled the way a registry fills it, for the tests that run
every verdict against both cache fillings (the SQLite cache synced from the chain, and this).

:class:`RegistrySnapshots` runs the registry's own indexer into a SQLite registry database,
builds the consortium's state with ``registry_api.services.snapshots`` at the indexed block,
signs it with a registry key generated here (pinned as the post's trust anchor), and stores
it through the border post's cache (``verifier.snapshot.cache``): what a sync from the
registry leaves on disk, without the HTTP in between (tests/registry_api/test_snapshot_sync.py
has that).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from contracts.chain import Chain
from contracts.deploy import Deployment
from contracts.domain.enums import KeyAlgorithm
from registry_api.db import make_engine, make_session_factory, upgrade_database
from registry_api.services.snapshots import consortium_state, index_position
from registry_api.workers.indexer import Indexer
from verifier import keys
from verifier.snapshot.cache import store_snapshot
from verifier.snapshot.document import TrustAnchor, make_snapshot
from verifier.snapshot.model import BlockRef
from verifier.snapshot.source import SnapshotCacheSource


class RegistrySnapshots:
    """KR's registry index of ``chain`` and the snapshots it would publish."""

    def __init__(self, chain: Chain, deployment: Deployment, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.chain = chain
        self.directory = directory
        self.engine = make_engine(f"sqlite:///{directory / 'registry.db'}")
        upgrade_database(self.engine)
        self.sessions = make_session_factory(self.engine)
        self.indexer = Indexer(self.sessions, chain, deployment, "KR")
        self.key = keys.generate_private_key(KeyAlgorithm.ES256)
        self.anchor = TrustAnchor.of("KR", self.key)
        self._count = 0

    def fill(self, made_at: datetime) -> SnapshotCacheSource:
        """Index the chain to its head, publish a snapshot made at ``made_at`` and store it in
        a new cache file; the source a border post verifies against."""
        self.indexer.run_once()
        with self.sessions() as session:
            position = index_position(session)
            assert position is not None
            state = consortium_state(session)
        number, block_hash = position
        block = self.chain.w3.eth.get_block(number)
        assert bytes(block["hash"]) == block_hash
        data = make_snapshot(
            state,
            private_key=self.key,
            issuer="KR",
            block=BlockRef(number, block_hash, int(block["timestamp"])),
            made_at=int(made_at.timestamp()),
        )
        self._count += 1
        path = self.directory / f"snapshot-{self._count}.cache"
        store_snapshot(path, data, [self.anchor], now=int(made_at.timestamp()))
        return SnapshotCacheSource(path)

    def close(self) -> None:
        self.engine.dispose()
