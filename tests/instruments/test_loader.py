from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mzt.instruments import BUILTIN, Registry, load_instruments, loader, read_profile
from mzt.instruments.loader import ProfileInvalid
from mzt.score.catalog import load_catalog

BUILTIN_NAMES = {
    "aider",
    "anthropic_api",
    "claude-code",
    "cli",
    "cline-cli",
    "codex-cli",
    "crush",
    "gemini-cli",
    "goose",
    "llm",
    "ollama",
    "openai_api",
    "opencode",
}


def write_profile(
    folder: Path, filename: str, name: str, executable: str = "agent", **extra: str
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"name: {name}",
        f"display_name: {name.title()}",
        "kind: cli",
        *(f"{k}: {v}" for k, v in extra.items()),
        "cli:",
        "  command:",
        f"    executable: {executable}",
    ]
    path = folder / filename
    path.write_text("\n".join(lines) + "\n")
    return path


def test_builtins_load_without_problems(registry: Registry) -> None:
    assert registry.problems == ()
    assert {i.name for i in registry} == BUILTIN_NAMES
    assert set(registry.names()) == BUILTIN_NAMES | {"claude_cli", "recursive_light"}
    assert all(registry.source(n) == BUILTIN for n in registry.names())


def test_default_timeouts(registry: Registry) -> None:
    assert registry.default_timeout("cli") == 300
    others = registry.names()
    others.remove("cli")
    assert {registry.default_timeout(n) for n in others} == {1800}
    assert registry.default_timeout("nosuch") is None


def test_aliases_and_native_names(registry: Registry) -> None:
    claude = registry.get("claude_cli")
    assert claude is not None and claude is registry.get("claude-code")
    assert registry.canonical("claude_cli") == "claude-code"
    # Known so that Marianne scores naming it still validate; it has no profile.
    assert "recursive_light" in registry and registry.get("recursive_light") is None
    for name in ("anthropic_api", "ollama", "openai_api"):
        instrument = registry.get(name)
        assert instrument is not None and instrument.runnable
        assert instrument.profile.kind == "http"
    assert "nosuch" not in registry and registry.get("nosuch") is None
    assert 42 not in registry


def test_user_then_local_profiles_override_by_name(tmp_path: Path, _isolated_home: Path) -> None:
    user = _isolated_home / "instruments"
    local = tmp_path / ".marianne" / "instruments"
    write_profile(user, "a.yaml", "mine", executable="from-home", default_timeout_seconds="60")
    write_profile(user, "b.yml", "claude-code", executable="my-claude")
    write_profile(local, "c.yaml", "mine", executable="from-cwd")
    write_profile(local / "nested", "d.yaml", "deep")  # not recursive
    write_profile(local, "notes.txt", "ignored")  # wrong suffix
    write_profile(local, ".hidden.yaml", "hidden")

    registry = load_instruments(cwd=tmp_path)  # MZT_HOME comes from the environment
    assert registry.problems == ()
    mine = registry.get("mine")
    assert mine is not None and mine.executable == "from-cwd"
    assert registry.source("mine") == local / "c.yaml"
    assert mine.default_timeout == 1800  # the local file replaced the user file entirely
    claude = registry.get("claude_cli")  # the alias follows the overriding profile
    assert claude is not None and claude.executable == "my-claude"
    assert registry.source("claude-code") == user / "b.yml"
    assert {"deep", "ignored", "hidden"}.isdisjoint(registry.names())


def test_later_file_in_a_folder_wins(tmp_path: Path, _isolated_home: Path) -> None:
    folder = _isolated_home / "instruments"
    write_profile(folder, "b.yaml", "same", executable="second")
    write_profile(folder, "a.yaml", "same", executable="first")
    instrument = load_instruments(cwd=tmp_path).get("same")
    assert instrument is not None and instrument.executable == "second"


def test_broken_profile_is_reported_with_its_path_and_skipped(
    tmp_path: Path, _isolated_home: Path
) -> None:
    folder = _isolated_home / "instruments"
    write_profile(folder, "good.yaml", "good")
    (folder / "syntax.yaml").write_text("name: broken\ndisplay_name: [unclosed\n")
    (folder / "schema.yaml").write_text(
        "name: half\ndisplay_name: Half\nkind: cli\ncli:\n  command:\n    executable: x\n"
        "    prompt_flg: -p\n  output:\n    format: xml\n"
    )
    (folder / "empty.yaml").write_text("")
    (folder / "list.yaml").write_text("- 1\n")
    (folder / "binary.yaml").write_bytes(b"name: \xff\n")
    (folder / "alias.yaml").write_text("a: &x 1\nb: *x\n")
    write_profile(folder, "override.yaml", "cli", executable="x", default_timeout_seconds="-5")

    registry = load_instruments(cwd=tmp_path)
    assert registry.get("good") is not None
    by_file = {p.path.name: p for p in registry.problems}
    assert set(by_file) == {
        "syntax.yaml",
        "schema.yaml",
        "empty.yaml",
        "list.yaml",
        "binary.yaml",
        "alias.yaml",
        "override.yaml",
    }
    assert all(p.path.parent == folder for p in registry.problems)

    syntax = by_file["syntax.yaml"]
    assert syntax.line == 3 and "line 3" in syntax.message and "YAML syntax error" in syntax.message
    schema = by_file["schema.yaml"]
    assert schema.line == 7 and schema.name == "half"
    assert "line 7 (cli.command.prompt_flg): unknown key" in schema.message
    assert "line 9 (cli.output.format)" in schema.message
    assert "\n" not in schema.message
    assert str(schema).startswith(f"{folder / 'schema.yaml'}: not a valid instrument profile")
    assert "empty" in by_file["empty.yaml"].message
    assert "not a mapping" in by_file["list.yaml"].message
    assert "not UTF-8" in by_file["binary.yaml"].message
    assert "anchors (&x) are not allowed" in by_file["alias.yaml"].message
    # A broken override leaves the built-in in place.
    cli = registry.get("cli")
    assert cli is not None and cli.executable == "bash" and registry.source("cli") == BUILTIN


def test_missing_key_points_at_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    raw = b"name: a\ndisplay_name: A\nkind: cli\ncli:\n  output:\n    format: text\n"
    with pytest.raises(ProfileInvalid) as info:
        read_profile(raw)
    assert info.value.message == "line 4 (cli.command): required key is missing"


def test_unreadable_oversized_and_odd_files(tmp_path: Path, _isolated_home: Path) -> None:
    folder = _isolated_home / "instruments"
    write_profile(folder, "ok.yaml", "ok")
    (folder / "big.yaml").write_text("# " + "x" * 300_000 + "\n")
    (folder / "dir.yaml").mkdir()
    os.mkfifo(folder / "pipe.yaml")  # must neither hang nor count as a profile
    (folder / "dangling.yaml").symlink_to(folder / "nowhere.yaml")
    started = time.monotonic()
    registry = load_instruments(cwd=tmp_path)
    assert time.monotonic() - started < 10  # opening the FIFO would block for ever
    assert [p.path.name for p in registry.problems] == ["big.yaml"]
    assert "larger than 256 KiB" in registry.problems[0].message
    assert registry.get("ok") is not None


def test_unreadable_file(
    tmp_path: Path, _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_profile(_isolated_home / "instruments", "secret.yaml", "secret")
    write_profile(_isolated_home / "instruments", "fine.yaml", "fine")
    real = loader._read_bounded

    def read(candidate: Path) -> bytes:
        # chmod 000 does not stop root, so the refusal is simulated where the file is opened
        if candidate == path:
            raise PermissionError(13, "Permission denied")
        return real(candidate)

    monkeypatch.setattr(loader, "_read_bounded", read)
    registry = load_instruments(cwd=tmp_path)
    (problem,) = registry.problems
    assert problem.path == path and problem.message == "cannot read the file: Permission denied"
    assert registry.get("fine") is not None and registry.get("secret") is None


def test_catalog_is_a_view_of_the_registry(tmp_path: Path, _isolated_home: Path) -> None:
    folder = _isolated_home / "instruments"
    write_profile(folder, "mine.yaml", "mine", default_timeout_seconds="42")
    (folder / "broken.yaml").write_text("name: half-done\ndefault_timeout_seconds: 120\n")
    catalog = load_catalog(cwd=tmp_path)
    assert catalog.default_timeout("cli") == 300
    assert catalog.default_timeout("claude_cli") == 1800
    assert catalog.default_timeout("mine") == 42
    # A broken profile still makes its name known (so a score naming it is not told
    # the instrument does not exist) and says what is wrong with the file.
    assert "half-done" in catalog and catalog.default_timeout("half-done") == 120
    problem = catalog.problem("half-done")
    assert problem is not None and problem.path == folder / "broken.yaml"
    assert catalog.registry.get("half-done") is None
    assert "nosuch" not in catalog and catalog.default_timeout("nosuch") is None
    assert {"cli", "llm", "mine", "half-done", "claude_cli"} <= set(catalog.names())
    assert catalog.names() == sorted(catalog.names())
