"""``aeo recognize FILE.csv --as KR [--offline] [--out FILE]``: batch recognition from the
command line, for a partner's risk unit with a list of traders.

The input is a CSV file of certificate numbers (one column) or identifiers (``scheme,value``),
one per row, with an optional header line (``number`` or ``scheme,value``). The answers are
written as CSV, one row per input row in the same order (:data:`OUTPUT_COLUMNS`), to
``--out`` or to stdout.

Online, the rows go to a registry API's ``POST /v1/recognition/batch`` in batches of 1,000
(``--url`` / ``AEO_REGISTRY_URL``, ``--token`` / ``AEO_API_TOKEN``: the issuing
administration's registry and a key it gave the caller). ``--as`` must then be the
administration the key acts for, or, for an officer's key, any member.

Offline, the answers come from the verifier's synced cache (``aeo verifier sync``), which
holds what the chain holds: numbers of every issuer, and only the hash of each holder's
identification, so an identifier is found when it is the holder's identification
(``TIN,5012345``), not when it is only an alias of the record, which is off-chain.
"""

# No ``from __future__ import annotations``: typer evaluates the command's annotations, and
# they name ``as_option``, a parameter of register() that is not a module global.
import csv
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final, TextIO

import typer
from pydantic import ValidationError
from rich.console import Console

from aeo.errors import UsageError

#: rows one file may hold: bounded so a stray file cannot exhaust memory
MAX_ROWS: Final = 100_000
#: the API's own cap per request (registry_api.services.recognition.MAX_BATCH_ITEMS)
BATCH: Final = 1000
OUTPUT_COLUMNS: Final = (
    "row",
    "item",
    "found",
    "issuer",
    "number",
    "status",
    "recognized",
    "reason",
    "mra_id",
    "valid_from",
    "valid_until",
    "as_of",
)


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    item: dict[str, str]

    @property
    def label(self) -> str:
        if "number" in self.item:
            return self.item["number"]
        return f"{self.item['scheme']}:{self.item['value']}"


def read_items(path: Path) -> list[Row]:
    """The file's rows as validated items; UsageError (exit 2) naming the file and line."""
    from registry_api.schemas.recognition import RecognitionItem

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"FILE: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"FILE: {path} cannot be read as UTF-8 text ({exc})") from None
    rows: list[Row] = []
    try:
        for line, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if not rows and [c.lower() for c in cells] in (["number"], ["scheme", "value"]):
                continue  # the header line
            if len(cells) == 1:
                raw = {"number": cells[0]}
            elif len(cells) == 2:
                raw = {"scheme": cells[0], "value": cells[1]}
            else:
                raise UsageError(
                    f"FILE: {path} line {line} has {len(cells)} values; write a certificate "
                    "number, or scheme,value"
                )
            try:
                item = RecognitionItem.model_validate(raw)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(part) for part in error["loc"]) or "row"
                message = str(error["msg"]).removeprefix("Value error, ")
                raise UsageError(f"FILE: {path} line {line}, {where}: {message}") from None
            rows.append(Row(line, item.model_dump(exclude_none=True)))
            if len(rows) > MAX_ROWS:
                raise UsageError(f"FILE: {path} has more than {MAX_ROWS:,} rows; split it")
    except csv.Error as exc:
        raise UsageError(f"FILE: {path} is not valid CSV: {exc}") from None
    if not rows:
        raise UsageError(f"FILE: {path} has no rows")
    return rows


def _chunks(rows: Sequence[Row]) -> Iterator[Sequence[Row]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def answers_online(
    rows: Sequence[Row], as_authority: str, url: str, token: str
) -> Iterator[dict[str, Any]]:
    """Each row's answer from the registry API, in order."""
    from aeo.api_client import RegistryClient

    with RegistryClient(url, token) as client:
        for chunk in _chunks(rows):
            body = {"items": [row.item for row in chunk], "authority": as_authority}
            answer = client.request("POST", "/v1/recognition/batch", json=body).json()
            as_of = answer["as_of"]
            when = f"block {as_of['block']} ({as_of['indexed_at']})"
            for row, data in zip(chunk, answer["data"], strict=True):
                yield {"row": row.line, "item": row.label, **data, "as_of": when}


def answers_offline(
    rows: Sequence[Row], as_authority: str, cache_path: Path, today: int
) -> Iterator[dict[str, Any]]:
    """Each row's answer from the offline cache, with the rules the border page uses."""
    from contracts.domain import days, ids, rules
    from contracts.domain.enums import EffectiveStatus
    from verifier.offline import OfflineCache

    with OfflineCache(cache_path) as cache:
        info = cache.info()
        when = f"block {info.block_number} (synced {info.as_of.isoformat()})"
        refs = {
            ids.holder_ref(row.item["scheme"], row.item["value"]): row.item
            for row in rows
            if "scheme" in row.item
        }
        numbers = {row.item["number"] for row in rows if "number" in row.item}
        by_number: dict[str, list[bytes]] = {}
        by_ref: dict[bytes, list[bytes]] = {}
        for certificate_id, number, holder_ref in cache.find_certificates(numbers, refs):
            by_number.setdefault(number, []).append(certificate_id)
            by_ref.setdefault(holder_ref, []).append(certificate_id)
        for row in rows:
            if "number" in row.item:
                found = by_number.get(row.item["number"], [])
            else:
                found = by_ref.get(ids.holder_ref(row.item["scheme"], row.item["value"]), [])
            best: dict[str, Any] | None = None
            for certificate_id in found:
                slot = cache.certificate(certificate_id)
                if slot is None:
                    continue
                status = rules.effective_status(
                    slot.status, slot.valid_from, slot.valid_until, days.Day(today)
                )
                verdict = cache.recognition(as_authority, slot, days.Day(today))
                answer = {
                    "found": True,
                    "issuer": slot.issuer,
                    "number": slot.number,
                    "status": status.name.lower(),
                    "recognized": verdict.recognized,
                    "reason": verdict.reason.code,
                    "mra_id": verdict.mra_id or None,
                    "valid_from": days.from_day(slot.valid_from).isoformat(),
                    "valid_until": days.iso_or_none(slot.valid_until),
                    "_rank": (
                        verdict.recognized,
                        status is EffectiveStatus.ACTIVE,
                        slot.valid_from,
                    ),
                }
                if best is None or answer["_rank"] > best["_rank"]:
                    best = answer
            if best is None:
                best = {"found": False, "recognized": False, "reason": "unknown_certificate"}
            best.pop("_rank", None)
            yield {"row": row.line, "item": row.label, **best, "as_of": when}


def write_answers(answers: Iterator[dict[str, Any]], out: TextIO) -> tuple[int, int]:
    """The answers as CSV; how many rows, and how many were recognized."""
    writer = csv.DictWriter(out, fieldnames=OUTPUT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    total = recognized = 0
    for answer in answers:
        writer.writerow({key: _cell(answer.get(key)) for key in OUTPUT_COLUMNS})
        total += 1
        recognized += bool(answer.get("recognized"))
    return total, recognized


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def register(
    app: typer.Typer,
    guard: Callable[[Callable[..., None]], Callable[..., None]],
    as_option: Callable[[str], str],
    default_data_dir: Path,
    err: Console,
) -> None:
    """Add ``aeo recognize`` to ``app``."""

    @app.command("recognize")
    @guard
    def recognize(
        file: Annotated[
            Path,
            typer.Argument(
                metavar="FILE.csv",
                help="Certificate numbers, or scheme,value identifiers, one per row.",
                dir_okay=False,
            ),
        ],
        as_authority: Annotated[
            str,
            typer.Option(
                "--as", help="The recognizing administration (e.g. KR).", callback=as_option
            ),
        ],
        offline: Annotated[
            bool, typer.Option("--offline", help="Answer from the synced offline cache.")
        ] = False,
        out_file: Annotated[
            Path | None,
            typer.Option(
                "--out", help="Write the answers here (CSV); default stdout.", dir_okay=False
            ),
        ] = None,
        url: Annotated[
            str | None,
            typer.Option(
                "--url",
                envvar="AEO_REGISTRY_URL",
                help="The issuing administration's registry API (online).",
                show_default=False,
            ),
        ] = None,
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                envvar="AEO_API_TOKEN",
                help="An API key of that registry (online).",
                show_default=False,
                show_envvar=True,
            ),
        ] = None,
        data_dir: Annotated[
            Path, typer.Option("--data-dir", help="The data directory.", file_okay=False)
        ] = default_data_dir,
        cache: Annotated[
            Path | None,
            typer.Option(
                "--cache",
                help="Offline cache file; default DATA_DIR/verifier-cache.sqlite.",
                dir_okay=False,
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Answer, for every row of FILE.csv, whether an administration recognizes the
        certificate: a CSV of answers in the same order. Exit 2 for bad arguments."""
        from contracts.domain import days

        rows = read_items(file)
        answers: Iterator[dict[str, Any]]
        if offline:
            from aeo.workspace import Workspace

            path = cache or Workspace(data_dir).verifier_cache
            if not path.is_file():
                raise UsageError(
                    f"--cache: {path} does not exist (fill it first: aeo verifier sync)"
                )
            answers = answers_offline(
                rows, as_authority, path, days.to_day(datetime.now(UTC).date())
            )
        else:
            if not url or not url.startswith(("http://", "https://")):
                raise UsageError("--url: give the registry API's http(s) URL (or AEO_REGISTRY_URL)")
            if not token:
                raise UsageError("--token: give an API key of that registry (or AEO_API_TOKEN)")
            answers = answers_online(rows, as_authority, url.rstrip("/"), token)
        if out_file is None:
            total, recognized = write_answers(answers, sys.stdout)
        else:
            try:
                with out_file.open("w", encoding="utf-8", newline="") as handle:
                    total, recognized = write_answers(answers, handle)
            except OSError as exc:
                raise UsageError(f"--out: cannot write {out_file} ({exc.strerror})") from None
        err.print(f"{total} rows answered, {recognized} recognized by {as_authority}")
