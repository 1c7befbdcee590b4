"""The input stage's size limit holds for files that do not say their size.

Found by the payload fuzzer: a path to a pipe or a device reports size 0, so the size check
made before reading let ``/dev/zero`` fill the memory (under a memory limit the verdict was
``unreadable_input: unexpected error: MemoryError``). The verifier now stops reading one
byte past the limit.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from tests.verifier.world import NOW, build_world
from verifier.image import MAX_IMAGE_BYTES
from verifier.pipeline import verify
from verifier.verdict import Outcome, StageState


def test_a_pipe_is_read_no_further_than_the_size_limit(tmp_path: Path) -> None:
    fifo = tmp_path / "scanner"
    os.mkfifo(fifo)
    offered = 3 * MAX_IMAGE_BYTES
    written = 0

    def scanner() -> None:
        nonlocal written
        chunk = b"\0" * 2**20
        with contextlib.suppress(BrokenPipeError), fifo.open("wb") as pipe:
            while written < offered:
                pipe.write(chunk)
                written += len(chunk)

    writer = threading.Thread(target=scanner)
    writer.start()
    verdict = verify(fifo, as_authority="KR", clock=NOW, source=build_world().source)
    writer.join(timeout=60)

    assert verdict.outcome is Outcome.MALFORMED
    refused = verdict.stage("input")
    assert (refused.state, refused.code) == (StageState.FAILED, "too_large")
    assert written < 2 * MAX_IMAGE_BYTES


def test_dev_zero_is_too_large() -> None:
    verdict = verify(Path("/dev/zero"), as_authority="KR", clock=NOW, source=build_world().source)

    assert verdict.reasons[0].code == "too_large"
    assert not verdict.reasons[0].message.startswith("unexpected error")
