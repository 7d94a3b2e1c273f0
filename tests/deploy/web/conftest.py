"""Fixtures of the portal's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _sqlite_url


@pytest.fixture
def twin_url(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A second empty database of the same kind as `db_url`."""
    if db_url.startswith("postgresql"):
        yield request.getfixturevalue("pg_url")
    else:
        (tmp_path / "twin").mkdir()
        yield _sqlite_url(sqlite_template, tmp_path / "twin")
