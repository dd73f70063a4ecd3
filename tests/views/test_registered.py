"""`mzt status` with nothing registered: one look at the registry folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mzt.views.registered import empty_overview
from mzt.views.status import overview_document


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MZT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_no_registry_folder_is_the_empty_overview(home: Path) -> None:
    assert empty_overview() == overview_document()
    assert not home.exists()  # nothing is created by looking


def test_a_registry_without_records_is_the_empty_overview(home: Path) -> None:
    (home / "registry").mkdir(parents=True)
    (home / "registry" / "notes.txt").write_text("")
    assert empty_overview() == overview_document()


def test_any_record_leaves_the_answer_to_the_full_overview(home: Path) -> None:
    (home / "registry").mkdir(parents=True)
    (home / "registry" / "gone--12345678.json").write_text("{}")
    assert empty_overview() is None
    assert overview_document()["total"] == 0  # the full one reads and skips it


def test_a_registry_that_cannot_be_listed_is_left_to_the_full_overview(home: Path) -> None:
    home.mkdir()
    (home / "registry").write_text("")  # a file where the folder should be
    assert empty_overview() is None
