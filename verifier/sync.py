"""Fill the offline cache from the chain's events: what ``aeo verifier sync`` runs.

:func:`sync` reads the registry's events from the block after the cache's sync point (the
deploy block for an empty cache), one page of blocks at a time, and commits each page with
its own sync point, so an interrupted sync resumes where it stopped and never leaves half a
page behind. Before reading, it checks that the block the cache reflects is still on the
chain; when it is not (a development chain reverted to a snapshot, a node rebuilt from
another genesis), the cached state belongs to blocks that no longer exist, so the cache is
emptied and rebuilt from the deploy block.

Every sync point says honestly what the cache knows: the last page records the time the
chain's head was read (``synced_at``), the pages before it the time of their last block,
since the state they reach was current then and is not known to be current later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from web3.exceptions import BlockNotFound

from contracts import logs
from contracts.chain import Chain
from contracts.deploy import Deployment
from contracts.errors import ChainError, ChainUnavailableError, translate_errors
from verifier.errors import CacheError, SourceUnavailable
from verifier.offline import OfflineCache, SyncPoint

__all__ = ["ProgressCallback", "SyncProgress", "SyncReport", "sync"]


@dataclass(frozen=True)
class SyncProgress:
    """Where a running sync is, after each committed page (for a progress bar)."""

    from_block: int
    to_block: int
    """The chain's head when the sync started: the block the sync will reach."""
    reached_block: int
    events_applied: int

    @property
    def total(self) -> int:
        """Blocks this sync reads."""
        return self.to_block - self.from_block + 1

    @property
    def done(self) -> int:
        """Blocks read and committed so far."""
        return self.reached_block - self.from_block + 1


@dataclass(frozen=True)
class SyncReport:
    """What one :func:`sync` did, and the state the cache now reflects."""

    from_block: int
    """First block read (the block after the previous sync point, or the deploy block)."""
    to_block: int
    """The block the cache now reflects (the chain's head when the sync started)."""
    block_hash: bytes
    block_time: datetime
    synced_at: datetime
    """When the chain's head was read: the "status as of" time of offline verdicts."""
    pages: int
    events_read: int
    """Registry events in the blocks read, the ones a verifier does not need included."""
    events_applied: int
    """Events that changed the cache."""
    from_scratch: bool
    """The cache was filled from the deploy block: a first sync, or after a rewind."""
    rewound: bool
    """The cache's block had left the chain, so the cache was emptied and rebuilt."""


ProgressCallback = Callable[[SyncProgress], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def sync(
    chain: Chain,
    deployment: Deployment,
    cache: OfflineCache,
    progress: ProgressCallback | None = None,
    *,
    page_size: int = logs.BESU_MAX_LOG_RANGE,
    clock: Callable[[], datetime] = _utc_now,
) -> SyncReport:
    """Bring ``cache`` up to the chain's current head; returns what was done.

    ``progress`` is called after each committed page. ``page_size`` is the number of blocks
    per log query (Besu refuses more than 1,000 by default). ``clock`` gives the sync time
    recorded as ``synced_at`` (tests fix it). Raises :class:`SourceUnavailable` when the
    chain does not answer (the pages committed before stay, and the next sync resumes after
    them) and :class:`CacheError` when the chain's events do not fit the cache.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1; got {page_size}")
    try:
        return _sync(chain, deployment, cache, progress, page_size, clock)
    except ChainUnavailableError as exc:
        raise SourceUnavailable(f"cannot sync the offline cache: {exc}") from exc
    except ChainError as exc:
        raise CacheError(f"cannot sync the offline cache: {exc}") from exc


def _sync(
    chain: Chain,
    deployment: Deployment,
    cache: OfflineCache,
    progress: ProgressCallback | None,
    page_size: int,
    clock: Callable[[], datetime],
) -> SyncReport:
    point = cache.sync_point()
    rewound = point is not None and not _on_chain(chain, point)
    if rewound:
        cache.reset()
        point = None
    start = deployment.start_block if point is None else point.block_number + 1
    # The clock is read before the head: the state up to the head was current at that time.
    started_at = _aware(clock())
    head = chain.block_number()
    if head < start - 1:
        raise CacheError(
            f"the chain's head is block {head}, before the registry's deploy block "
            f"{deployment.start_block}: this is not the chain the deployment is on"
        )
    pages = events_read = events_applied = 0
    reached: SyncPoint | None = None
    for page in logs.iter_event_pages(chain, deployment, start, head, page_size):
        block_hash, block_time = _block(chain, page.to_block)
        if page.to_block == head:
            synced_at = started_at
        else:
            # Never earlier than the previous sync point: every state it vouched for is here.
            synced_at = max(block_time, point.synced_at) if point else block_time
        reached = SyncPoint(page.to_block, block_hash, block_time, synced_at)
        events_applied += cache.apply_events(page.events, reached)
        pages += 1
        events_read += len(page.events)
        if progress is not None:
            progress(SyncProgress(start, head, page.to_block, events_applied))
    if reached is None:
        # Nothing new since the last sync: the same state, now known to be current.
        reached = SyncPoint(head, *_block(chain, head), started_at)
        cache.apply_events([], reached)
    return SyncReport(
        from_block=start,
        to_block=head,
        block_hash=reached.block_hash,
        block_time=reached.block_time,
        synced_at=reached.synced_at,
        pages=pages,
        events_read=events_read,
        events_applied=events_applied,
        from_scratch=point is None,
        rewound=rewound,
    )


def _on_chain(chain: Chain, point: SyncPoint) -> bool:
    """Is the block the cache reflects still the chain's block at that height?"""
    try:
        with translate_errors("reading the cache's block"):
            block = chain.w3.eth.get_block(point.block_number)
    except BlockNotFound:
        return False
    return bytes(block["hash"]) == point.block_hash


def _block(chain: Chain, number: int) -> tuple[bytes, datetime]:
    """The hash and time of block ``number``."""
    with translate_errors(f"reading block {number}"):
        block = chain.w3.eth.get_block(number)
    return bytes(block["hash"]), datetime.fromtimestamp(int(block["timestamp"]), UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
