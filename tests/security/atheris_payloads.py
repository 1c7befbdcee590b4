"""Coverage-guided fuzzing of the AEO1 decoder and verifier with atheris (libFuzzer).

Run it with::

    .venv/bin/python -m tests.security.atheris_payloads -runs=100000 [libFuzzer options] [CORPUS]
    .venv/bin/python -m tests.security.atheris_payloads --json figures.json -runs=100000

The verifier, ``base45`` and the fuzz helpers are instrumented for coverage (``cbor2`` and
``zlib`` are C and are not). The first byte of an input picks the layer the rest goes into,
so libFuzzer's mutations work directly on the layer under attack:

====  =====================================================================  =============
byte  the remaining bytes are ...                                            first stage
====  =====================================================================  =============
0     UTF-8 text (undecodable bytes replaced)                                input, prefix
1     bytes handed to ``verify`` as they are (text or an image file)          input
2     the data under ``AEO1:`` + base45                                      decompress
3     the COSE structure under valid zlib and base45 layers                  cose
4     a claims payload, signed with a registered key                        cbor, claims
5     a protected header over the genuine claims, signed                     cose, signature
====  =====================================================================  =============

Every verdict goes through the same oracle as ``tests.security.fuzz_payloads``
(:func:`~tests.security.fuzz_payloads.check`); a problem raises, so libFuzzer stops and
writes the input to ``crash-*``. Without a corpus directory the harness seeds a temporary
one with the genuine payloads' layers. The tally (outcomes, refusing stages) is printed every
10,000 inputs and when ``-runs`` is reached.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zlib
from pathlib import Path

import atheris  # type: ignore[import-untyped]  # ships no type hints

with atheris.instrument_imports(include=["verifier", "base45", "tests.security"]):
    import cbor2

    from tests.security.forge import cose_array, wrap_compressed, wrap_cose
    from tests.security.fuzz_payloads import FuzzInput, Seeds, Tally, make_seeds
    from verifier import keys
    from verifier.payload import sig_structure

MODES = 6
REPORT_EVERY = 10_000


class Harness:
    def __init__(self, seeds: Seeds, runs: int | None, json_path: Path | None) -> None:
        self.seeds = seeds
        self.runs = runs
        self.json_path = json_path
        self.tally = Tally()
        self.started = time.perf_counter()
        self.key = seeds.world.es256
        self.protected = bytes(
            cbor2.dumps({1: keys.algorithm_of(self.key).cose, 4: keys.key_id_of(self.key)})
        )
        self.claims = bytes(cbor2.loads(seeds.payloads[0].cose)[2])

    def input_of(self, data: bytes) -> FuzzInput:
        mode, body = (data[0] % MODES, data[1:]) if data else (0, b"")
        if mode == 0:
            return FuzzInput("atheris: text", body.decode("utf-8", "replace"))
        if mode == 1:
            return FuzzInput("atheris: bytes", body)
        if mode == 2:
            return FuzzInput("atheris: compressed", wrap_compressed(body))
        if mode == 3:
            return FuzzInput("atheris: cose", wrap_cose(body))
        if mode == 4:
            return FuzzInput("atheris: claims, signed", self.signed(self.protected, body), True)
        return FuzzInput("atheris: protected header, signed", self.signed(body, self.claims), True)

    def signed(self, protected: bytes, claims: bytes) -> str:
        signature = keys.sign(self.key, sig_structure(protected, claims))
        return wrap_cose(cose_array(protected, claims, signature))

    def __call__(self, data: bytes) -> None:
        item = self.input_of(data)
        before = len(self.tally.problems)
        self.tally.record(self.seeds, item)
        if self.tally.inputs % REPORT_EVERY == 0 or self.tally.inputs == self.runs:
            self.report()
        if len(self.tally.problems) > before:
            family, shown, problems = self.tally.problems[-1]
            raise AssertionError(f"{family}: {shown}: {problems}")

    def report(self) -> None:
        self.tally.seconds = time.perf_counter() - self.started
        print(self.tally.report(), file=sys.stderr, flush=True)
        if self.json_path is not None:
            figures = self.tally.to_dict()
            self.json_path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def seed_corpus(seeds: Seeds, directory: Path) -> None:
    """Each genuine payload's layers, behind the mode byte that puts them in place."""
    for index, payload in enumerate(seeds.payloads):
        cose = cbor2.loads(payload.cose)
        layers = {
            0: payload.text.encode(),
            2: payload.compressed,
            3: payload.cose,
            4: bytes(cose[2]),
            5: bytes(cose[0]),
        }
        for mode, body in layers.items():
            (directory / f"seed-{index}-{mode}").write_bytes(bytes([mode]) + body)
    (directory / "seed-zlib").write_bytes(b"\x02" + zlib.compress(b"\x84" + b"\x40" * 4))


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--json", type=Path)
    ours, libfuzzer_args = parser.parse_known_args(sys.argv[1:])
    runs = next((int(a.split("=", 1)[1]) for a in libfuzzer_args if a.startswith("-runs=")), None)
    with tempfile.TemporaryDirectory(prefix="aeo-atheris-") as workdir:
        seeds = make_seeds(Path(workdir))
        if not any(not a.startswith("-") for a in libfuzzer_args):
            corpus = Path(workdir) / "corpus"
            corpus.mkdir()
            seed_corpus(seeds, corpus)
            libfuzzer_args.append(str(corpus))
        harness = Harness(seeds, runs, ours.json)
        atheris.Setup([sys.argv[0], *libfuzzer_args], harness)
        atheris.Fuzz()


if __name__ == "__main__":
    main()
