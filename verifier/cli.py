"""The verifier's command functions; scripts/aeo/cli.py parses the arguments and calls them.

``aeo verify PATH_OR_TEXT --as KR [--offline] [--json] [--lang ru]`` ends in
:func:`run_verify`.
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from rich.console import Console

from contracts.domain import ids
from verifier.checks import CheckCounter
from verifier.i18n import LanguageError, default_locale, locale_of
from verifier.pipeline import DEFAULT_MAX_AGE, Clock, verify
from verifier.render import print_verdict
from verifier.source import StatusSource
from verifier.verdict import EXIT_USAGE

# Payload text starts with its version prefix (AEO1:); anything else may be a file.
PREFIX_HINT = "AEO"


def run_verify(
    target: str,
    as_authority: str,
    source: StatusSource,
    clock: Clock,
    json_output: bool,
    *,
    max_age: timedelta = DEFAULT_MAX_AGE,
    out: TextIO | None = None,
    checks: CheckCounter | None = None,
    lang: str | None = None,
) -> int:
    """Verify ``target`` (QR text, or the path of a photo/scan), print the verdict, and
    return the exit code: 0 recognized, 1 not recognized, 3 any other outcome, 2 when
    ``as_authority`` is not an authority code or ``lang`` not a language of the catalogues
    (``None``: the environment's, from ``LC_ALL``/``LC_MESSAGES``/``LANG``). ``checks``
    counts the verdict (per day and outcome, nothing else: verifier.checks)."""
    stream = out or sys.stdout
    errors = sys.stderr if out is None else stream
    try:
        ids.authority_code(as_authority)
    except ValueError as exc:
        print(f"error: --as: {exc}", file=errors)
        return EXIT_USAGE
    try:
        locale = default_locale() if lang is None else locale_of(lang)
    except LanguageError as exc:
        print(f"error: --lang: {exc}", file=errors)
        return EXIT_USAGE
    data: str | Path = target
    if not target.lstrip().upper().startswith(PREFIX_HINT):
        candidate = Path(target)
        if candidate.is_file():
            data = candidate
    verdict = verify(data, as_authority=as_authority, clock=clock, source=source, max_age=max_age)
    if checks is not None:
        try:
            checks.count(verdict.outcome, clock() if callable(clock) else clock)
        except sqlite3.Error as exc:
            # The verdict stands; only the statistic is lost, and the officer is told.
            print(f"warning: the check was not counted: {exc}", file=sys.stderr)
    if json_output:
        stream.write(verdict.to_json() + "\n")
    else:
        print_verdict(verdict, Console(file=stream, highlight=False), locale)
    return verdict.exit_code
