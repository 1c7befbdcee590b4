"""Recursion, bounded: the interpreter's recursion limit, and the nesting of JSON from the network.

C code that recurses once per level of its input (the json module's parser, ``repr``,
``pickle``) is stopped by Python's recursion limit before it runs out of C stack, as long as
that limit is sane. Two things undo that, and a request of 140 KB then kills the process with
a segmentation fault, no exception, no log line:

1. **The chain libraries raise the limit when imported.** py_ecc (imported by eth_account, so
   by web3 and everything that signs) sets it to 100,000; py-evm (the in-process ``memory``
   chain) to 12,288. :func:`restore_recursion_limit` puts it back to Python's default, 1,000:
   every entry point (the registry's app factory and its ``__main__``, the border page, the
   ``aeo`` CLI) calls it after importing them. It imports py_ecc itself first, so no later
   import of web3 or eth_account can raise the limit again; py-evm is imported only when a
   ``memory`` chain is connected, and the registry calls this again once its workers have
   connected theirs.
2. **JSON nested deeper than any document of ours.** :func:`json_depth_exceeds` measures the
   nesting with a byte scan (no parser, no recursion, linear time) so that a server refuses
   such a body before a parser sees it. ``MAX_JSON_DEPTH`` (64) is ten times the deepest
   document the registry or the border page reads (a certificate record with its sites, 6).

The same scan counts a document's items (:func:`json_refusal`): parsed, each costs up to
70 bytes however short its text (``{},`` is 3 bytes, the dict 64), so 8 MiB of them would
take 200 MB; ``MAX_JSON_ITEMS`` bounds that at a few MB whatever the body's size.
"""

from __future__ import annotations

import re
import sys
from typing import Final

#: Python's own default: deep enough for every library here, shallow enough that C code
#: recursing once per level stays far inside a thread's stack (8 MiB on Linux).
SANE_RECURSION_LIMIT: Final = 1000

#: the deepest nesting of arrays and objects a JSON body may have
MAX_JSON_DEPTH: Final = 64
#: the most items (array elements, object members, containers) a JSON body may have; a
#: certificate record with 1,000 sites has about 12,000
MAX_JSON_ITEMS: Final = 100_000


def restore_recursion_limit() -> None:
    """Lower Python's recursion limit to :data:`SANE_RECURSION_LIMIT` if a library raised it.

    Call it after the chain libraries are imported (an entry point's start, an app factory).
    A limit set lower on purpose is left alone.
    """
    # Importing py_ecc is what raises the limit: do it now, so that it cannot happen later
    # (web3 imports it; the border page alone may not have).
    import py_ecc  # noqa: F401

    if sys.getrecursionlimit() > SANE_RECURSION_LIMIT:
        sys.setrecursionlimit(SANE_RECURSION_LIMIT)


# ---------------------------------------------------------------- JSON nesting, by bytes

#: ``{`` and ``}`` count as ``[`` and ``]``; everything but brackets, commas and quotes goes.
_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'[]{},"')
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b'[]{}"')
#: a string that still holds structure once the rest is gone (unterminated: to the end)
_STRING: Final = re.compile(rb'"[^"]*"?')
_RUN: Final = re.compile(rb"\[+|\]+")
_OPEN: Final = ord("[")


def json_depth_exceeds(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the UTF-8 JSON text ``data`` nests arrays and objects more than ``limit`` deep.

    Brackets inside strings do not count. Invalid JSON gets an answer too (the parser that
    reads it next reports what is wrong); so does any byte string, in linear time and
    memory, with no recursion: 20 MB of the worst shapes found take about 1.5 s of one core.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    return _depth_exceeds(_structure(data, _NOT_BRACKETS), limit)


def json_refusal(
    data: bytes, *, max_depth: int = MAX_JSON_DEPTH, max_items: int = MAX_JSON_ITEMS
) -> str | None:
    """Why the UTF-8 JSON text ``data`` must not be parsed, or None: nested more than
    ``max_depth`` deep, or more than ``max_items`` items (commas and opening brackets
    outside strings: each element or member after a container's first adds a comma, each
    container counts once)."""
    openers = data.count(b"[") + data.count(b"{")
    if openers <= max_depth and openers + data.count(b",") <= max_items:
        return None
    structure = _structure(data, _NOT_STRUCTURE)
    if structure.count(b",") + structure.count(b"[") > max_items:
        return f"has more than {max_items:,} items (array elements and object members)"
    if _depth_exceeds(structure.replace(b",", b""), max_depth):
        return f"nests arrays and objects more than {max_depth} levels deep"
    return None


def _structure(data: bytes, delete: bytes) -> bytes:
    """What of ``data`` is outside strings, less the bytes in ``delete`` (and quotes)."""
    # Escaped backslashes first, then escaped quotes: what is left of each quote delimits
    # a string. Then only the structure and quotes remain. Two adjacent quotes either
    # close and open strings with nothing of the structure between them or enclose none of
    # it: removing them keeps everything else on its side of every string.
    return _STRING.sub(
        b"",
        data.replace(b"\\\\", b"")
        .replace(b'\\"', b"")
        .translate(_BRACKETS, delete)
        .replace(b'""', b""),
    )


def _depth_exceeds(brackets: bytes, limit: int) -> bool:
    """Whether a string of ``[`` and ``]`` nests more than ``limit`` deep."""
    # Each round removes the innermost pairs, one level of every branch, at C speed; a
    # branch deeper than the limit shows as a run of openers. Rounds stop paying once a
    # round removes little (long, deep branches): then count the runs that remain.
    too_deep = b"[" * (limit + 1)
    rounds = 0
    while brackets and rounds < limit:
        if too_deep in brackets:
            return True
        reduced = brackets.replace(b"[]", b"")
        rounds += 1
        removed = len(brackets) - len(reduced)
        brackets = reduced
        if removed * 8 < len(brackets):
            break
    depth = 0
    for run in _RUN.finditer(brackets):
        length = run.end() - run.start()
        if brackets[run.start()] == _OPEN:
            depth += length
            if depth + rounds > limit:
                return True
        else:
            depth -= length
    return False
