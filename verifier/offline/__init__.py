"""The offline cache: the registry's state in one SQLite file, for border posts without network.

A sync (``aeo verifier sync``) reads the chain's events and hands them to
:meth:`OfflineCache.apply_events` with the block they reach; the cache stores keys,
authorities, certificate slots with their status history, and MRAs, and answers the
:class:`~verifier.source.StatusSource` questions from them, applying the contracts' rules
(:mod:`contracts.domain.rules`) itself. Its :meth:`~OfflineCache.info` says which block and sync
time the answers reflect, so every offline verdict reads "status as of <time>".

Re-applying a batch is harmless: events in blocks at or below the last synced block are
skipped, so a batch must carry every event of the blocks it covers.
"""

from verifier.offline.apply import NOT_CACHED
from verifier.offline.cache import CERTIFICATES_IN_MEMORY, OfflineCache
from verifier.offline.schema import SCHEMA_VERSION, SyncPoint

__all__ = ["CERTIFICATES_IN_MEMORY", "NOT_CACHED", "SCHEMA_VERSION", "OfflineCache", "SyncPoint"]
