"""Built-in profiles: known by file name, read only when used, with the C YAML loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mzt.instruments import BUILTIN, load_instruments, loader, shipped
from mzt.support.yamlsafe import decode, parse


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The shipped files read from now on (the per-process caches start empty)."""
    seen: list[str] = []
    real = shipped.read

    def counting(path: Path) -> object:
        seen.append(path.stem)
        return real(path)

    loader._shipped_instrument.cache_clear()
    loader.shipped_timeout.cache_clear()
    monkeypatch.setattr(shipped, "read", counting)
    yield seen
    loader._shipped_instrument.cache_clear()
    loader.shipped_timeout.cache_clear()


@pytest.mark.parametrize("name", sorted(shipped.files()))
def test_each_shipped_file_is_named_after_its_instrument(name: str) -> None:
    path = shipped.files()[name]
    fast = shipped.read(path)
    assert fast == parse(decode(path.read_bytes())).data  # the hardened reader agrees
    assert fast["name"] == name


def test_the_c_loader_reads_shipped_profiles_when_pyyaml_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    used: list[type] = []
    real = yaml.load

    def spying(stream: bytes, Loader: type) -> object:
        used.append(Loader)
        return real(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "load", spying)
    shipped.read(shipped.files()["cli"])
    assert used == [yaml.CSafeLoader]


def test_names_and_membership_read_no_profile(
    reads: list[str], tmp_path: Path, _isolated_home: Path
) -> None:
    registry = load_instruments(cwd=tmp_path)
    assert "cli" in registry and "claude_cli" in registry and "nosuch" not in registry
    assert "gemini-cli" in registry.names() and registry.source("codex-cli") == BUILTIN
    assert registry.file_problems == ()
    assert reads == []


def test_an_instrument_is_read_when_used_and_only_it(
    reads: list[str], tmp_path: Path, _isolated_home: Path
) -> None:
    registry = load_instruments(cwd=tmp_path)
    assert registry.default_timeout("cli") == 300
    instrument = registry.get("cli")
    assert instrument is not None and instrument.source == BUILTIN
    assert sorted(set(reads)) == ["cli"]
    assert len(list(registry)) == len(shipped.files())  # listing reads the rest
    assert sorted(set(reads)) == sorted(shipped.files())


def test_default_timeouts_from_data_match_the_checked_profiles(
    tmp_path: Path, _isolated_home: Path
) -> None:
    registry = load_instruments(cwd=tmp_path)
    for name, path in shipped.files().items():
        instrument = registry.get(name)
        assert instrument is not None
        assert loader.shipped_timeout(path) == instrument.default_timeout


def test_a_user_profile_replaces_a_builtin_without_reading_it(
    reads: list[str], tmp_path: Path, _isolated_home: Path
) -> None:
    folder = _isolated_home / "instruments"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text(
        "name: cli\ndisplay_name: Mine\nkind: cli\ncli:\n  command:\n    executable: mine\n"
    )
    registry = load_instruments(cwd=tmp_path)
    instrument = registry.get("cli")
    assert instrument is not None and instrument.executable == "mine"
    assert "cli" not in reads


def test_user_profiles_keep_the_hardened_reader(tmp_path: Path, _isolated_home: Path) -> None:
    folder = _isolated_home / "instruments"
    folder.mkdir(parents=True)
    (folder / "alias.yaml").write_text("name: &n x\ndisplay_name: *n\nkind: cli\n")
    registry = load_instruments(cwd=tmp_path)
    (problem,) = registry.problems
    assert problem.path.name == "alias.yaml" and "anchors" in problem.message
