from __future__ import annotations

from pathlib import Path

from mzt.api import validate_score


def test_init_writes_a_valid_starter(tmp_path: Path, mzt) -> None:
    result = mzt("init", "nightly", "--path", tmp_path)
    path = tmp_path / "nightly.yaml"
    assert result.code == 0 and str(path) in result.out
    validation = validate_score(path)
    assert validation.valid, validation.errors
    assert validation.loaded is not None and validation.loaded.score.name == "nightly"
    assert validation.plan is not None and validation.plan.total_sheets == 3
    assert not [w for w in validation.warnings if w.severity == "warning"]


def test_init_refuses_to_overwrite(tmp_path: Path, mzt) -> None:
    assert mzt("init", "a", "-p", tmp_path).code == 0
    (tmp_path / "a.yaml").write_text("mine")
    result = mzt("init", "a", "-p", tmp_path)
    assert result.code == 2 and "--force" in result.err
    assert (tmp_path / "a.yaml").read_text() == "mine"
    assert mzt("init", "a", "-p", tmp_path, "--force").code == 0


def test_init_rejects_unsafe_names(tmp_path: Path, mzt) -> None:
    for name in ["../x", "a b", "x: y", ""]:
        result = mzt("init", name, "-p", tmp_path)
        assert result.code == 2, name
    assert list(tmp_path.iterdir()) == []


def test_init_json(tmp_path: Path, mzt) -> None:
    doc = mzt("init", "j", "-p", tmp_path, "--json").json()
    path = tmp_path / "j.yaml"
    assert doc == {
        "schema": "mzt.init/1",
        "path": str(path),
        "name": "j",
        "next_step": f"mzt run {path}",
    }


def test_init_default_name_in_current_folder(tmp_path: Path, mzt, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert mzt("init").code == 0
    assert (tmp_path / "my-score.yaml").exists()
