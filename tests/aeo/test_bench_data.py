"""The shared bench registry (scripts/aeo/bench/data.py): filled once per size and schema head,
each run on a copy, refilled on demand, an older schema's file upgraded instead of refilled.
Tiny sizes; never a timing."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from aeo.bench.data import bench_registry, schema_head

pytestmark = pytest.mark.slow


def _count(url: str, table: str) -> int:
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def test_the_registry_holds_the_history_asked_for_and_is_reused_from_the_cache(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    first = bench_registry(tmp_path / "run1", 50, 140, cache_dir=cache)
    assert (first.reused, first.seed_seconds > 0) == (False, True)
    assert _count(first.url, "certificates") == 50
    assert _count(first.url, "certificate_events") == 140
    assert _count(first.url, "certificate_aliases") == 100
    assert _count(first.url, "mra_parties") == 2
    assert first.cache_file.name == f"registry-50-140-{schema_head()}.sqlite"

    # A run writes to its copy; the cached file and the next run do not see it.
    with closing(sqlite3.connect(first.url.removeprefix("sqlite:///"))) as db:
        db.execute("DELETE FROM certificates")
        db.commit()
    second = bench_registry(tmp_path / "run2", 50, 140, cache_dir=cache)
    assert (second.reused, second.seed_seconds) == (True, 0.0)
    assert _count(second.url, "certificates") == 50


def test_fresh_fills_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    bench_registry(tmp_path / "run1", 20, 20, cache_dir=cache)
    again = bench_registry(tmp_path / "run2", 20, 20, cache_dir=cache, fresh=True)
    assert again.reused is False
    assert [p.name for p in cache.iterdir()] == [again.cache_file.name]


def test_a_file_of_an_older_schema_is_upgraded_not_refilled(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    made = bench_registry(tmp_path / "run1", 30, 30, cache_dir=cache)
    older = cache / "registry-30-30-0001old.sqlite"
    made.cache_file.rename(older)
    with closing(sqlite3.connect(older)) as db:
        db.execute("UPDATE certificates SET officer = 'kept from the older file'")
        db.commit()
    upgraded = bench_registry(tmp_path / "run2", 30, 30, cache_dir=cache)
    assert upgraded.reused is False
    with closing(sqlite3.connect(upgraded.url.removeprefix("sqlite:///"))) as db:
        officers = db.execute("SELECT DISTINCT officer FROM certificates").fetchall()
    assert officers == [("kept from the older file",)]


def test_fewer_events_than_certificates_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="events >= certificates"):
        bench_registry(tmp_path, 10, 5, cache_dir=tmp_path / "cache")
