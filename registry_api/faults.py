"""A test hook: crash this process at an exact step of the outbox sender or the indexer.

``AEO_FAULT_CRASH_AT=<point>:<n>`` makes the process kill itself with SIGKILL (what
``kill -9`` does: no clean-up, no pending commit) the ``n``-th time it reaches ``point``
(see :class:`CrashPoint`). The fault tests (tests/faults/) use it to stop a real service
process between signing and broadcasting a transaction, for example, which no outside
``kill -9`` can hit on purpose. It is read from the process environment only, at start-up,
and refused in production (:class:`~registry_api.settings.Settings` and
:func:`crash_hook_from_environment` both say why). docs/operations.md describes it.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .settings import Settings

logger = logging.getLogger("registry_api.faults")

CRASH_AT_ENV = "AEO_FAULT_CRASH_AT"
_SPEC = re.compile(r"^([a-z_]+):([1-9][0-9]{0,5})$")


class CrashPoint(StrEnum):
    """The steps a process can be stopped at (in the order one operation meets them)."""

    BEFORE_SIGN = "before_sign"  # gas estimated, nothing signed or stored yet
    AFTER_SIGN = "after_sign"  # signed bytes committed, nothing broadcast
    AFTER_BROADCAST = "after_broadcast"  # broadcast, not yet recorded as submitted
    BEFORE_RECEIPT = "before_receipt"  # the receipt exists, not yet recorded
    AFTER_INDEX_PAGE = "after_index_page"  # the indexer committed a page and its cursor


@dataclass
class CrashAt:
    """Crash the ``occurrence``-th time ``point`` is reached (counted in this process)."""

    point: CrashPoint
    occurrence: int
    _seen: int = field(default=0, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @classmethod
    def parse(cls, text: str) -> CrashAt:
        match = _SPEC.match(text.strip())
        points = ", ".join(point.value for point in CrashPoint)
        if match is None or match[1] not in set(CrashPoint):
            raise ConfigurationError(
                f"{CRASH_AT_ENV} must be <point>:<n> with a point among {points} and n from 1; "
                f"got {text!r}"
            )
        return cls(CrashPoint(match[1]), int(match[2]))

    def reached(self, point: CrashPoint) -> None:
        if point is not self.point:
            return
        with self._lock:
            self._seen += 1
            if self._seen != self.occurrence:
                return
            logger.warning(
                "%s: crashing at %s (occurrence %s), as kill -9 would",
                CRASH_AT_ENV,
                point.value,
                self.occurrence,
            )
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def crash_hook_from_environment(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> CrashAt | None:
    """The hook ``AEO_FAULT_CRASH_AT`` asks for, or None. ConfigurationError in production
    (a crash on purpose has no place there) and for a value it cannot read."""
    from .settings import Environment

    raw = (os.environ if environ is None else environ).get(CRASH_AT_ENV, "").strip()
    if not raw:
        return None
    if settings.environment is Environment.PRODUCTION:
        raise ConfigurationError(refusal_in_production())
    hook = CrashAt.parse(raw)
    logger.warning(
        "%s is set: this process will crash at %s (occurrence %s); a test hook, never for real use",
        CRASH_AT_ENV,
        hook.point.value,
        hook.occurrence,
    )
    return hook


def refusal_in_production() -> str:
    return (
        f"{CRASH_AT_ENV} is a test hook that crashes the service on purpose; "
        "it is refused in production"
    )
