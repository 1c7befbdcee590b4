"""How many certificates one import transaction issues is a setting
(``AEO_IMPORT_BATCH_SIZE``): networks with a small block gas limit need smaller batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from registry_api.app import create_app
from registry_api.services.imports import DEFAULT_CHUNK_SIZE

from .support import make_settings


def test_the_import_runner_issues_batches_of_the_configured_size(
    tmp_path: Path, database_url: str
) -> None:
    app = create_app(make_settings(tmp_path, database_url, import_batch_size=40))
    with TestClient(app):
        assert app.state.import_worker.runner.chunk_size == 40


def test_the_default_batch_is_250_certificates(tmp_path: Path, database_url: str) -> None:
    assert make_settings(tmp_path, database_url).import_batch_size == DEFAULT_CHUNK_SIZE == 250


@pytest.mark.parametrize("size", [0, 501])
def test_a_batch_size_outside_1_to_500_is_refused_naming_the_setting(
    tmp_path: Path, database_url: str, size: int
) -> None:
    with pytest.raises(ValidationError, match="import_batch_size"):
        make_settings(tmp_path, database_url, import_batch_size=size)
