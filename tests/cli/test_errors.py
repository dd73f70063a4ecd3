from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from mzt import api
from tests.helpers import minimal, run_mzt, write_score


def test_unexpected_error_writes_a_crash_report(
    tmp_path: Path, mzt, monkeypatch, _isolated_home: Path
) -> None:
    secret = "ghp_" + "a1B2c3D4e5" * 4

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"kaput {secret}")

    monkeypatch.setattr(api, "validate_score", boom)
    result = mzt("validate", write_score(tmp_path, minimal()))
    assert result.code == 70
    assert "unexpected error: RuntimeError: kaput" in result.err
    assert "Traceback" not in result.err
    [report] = (_isolated_home / "crash").iterdir()
    assert "Traceback" in report.read_text() and "kaput" in report.read_text()
    assert secret not in report.read_text() + result.err
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert stat.S_IMODE((_isolated_home / "crash").stat().st_mode) == 0o700


def test_version_and_help() -> None:
    version = run_mzt("--version")
    assert version.returncode == 0 and version.stdout.startswith("mzt ")
    for args in (["--help"], ["validate", "--help"], ["run", "-h"], ["init", "--help"]):
        result = run_mzt(*args)
        assert result.returncode == 0 and "Usage:" in result.stdout


@pytest.mark.parametrize(
    "args", [["validate", "-j", "/nonexistent/x.yaml"], ["run", "-n", "-j", "/nonexistent/x.yaml"]]
)
def test_json_errors_are_single_documents(args: list[str]) -> None:
    result = run_mzt(*args)
    assert result.returncode == 2
    json.loads(result.stdout)


def test_python_dash_m_works() -> None:
    assert run_mzt("--version").returncode == 0


@pytest.mark.parametrize("as_json", [False, True])
def test_a_foreign_host_refusal_names_the_very_command_with_the_override(
    tmp_path: Path, mzt, monkeypatch, as_json: bool
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise api.ForeignHostError(
            "job", "/ws/.marianne/job.json", {"pid": 7, "host": "far"}, last_written="T"
        )

    monkeypatch.setattr(api, "resume_job", refuse)
    args = ["resume", "--force", "job", "-w", str(tmp_path / "a b"), *(["-j"] if as_json else [])]
    result = mzt(*args)
    assert result.code == 75
    expected = (
        f"`mzt resume --force job -w '{tmp_path / 'a b'}'{' -j' if as_json else ''} --take-over`"
    )
    if as_json:
        error = json.loads(result.out)["error"]
        assert error["code"] == "FOREIGN_HOST" and expected in error["hint"]
    else:
        assert expected in result.err and "pid 7 on host far" in result.err
