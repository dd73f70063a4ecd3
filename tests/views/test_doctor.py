"""`mzt.views.doctor`: what it checks, and that a secret never reaches its report."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from mzt.views import doctor
from tests import live_runs
from tests.e2e.conftest import Project

SECRET = "sk-ant-api03-" + "Zx9" * 30

project = live_runs.project  # a project whose MZT_HOME this process shares with its runs


def test_doctor_reports_instruments_by_name_and_never_a_secret(
    project: Project, tmp_path: Path
) -> None:
    project.fake_profile("here-agent")
    project.fake_profile("missing-agent", executable="no-such-agent-binary-xyz")
    environ = {**os.environ, "ANTHROPIC_API_KEY": SECRET}
    report = doctor.doctor(cwd=tmp_path, environ=environ)
    document = json.dumps(report.to_json())
    assert SECRET not in document and "Zx9Zx9" not in document
    by_name = {c.name: c for c in report.checks if c.area == "instrument"}
    assert by_name["here-agent"].details["binary_found"] is True
    assert by_name["here-agent"].verdict == "ok"
    assert by_name["missing-agent"].details["binary_found"] is False
    assert by_name["missing-agent"].verdict == "warning"
    api = by_name["anthropic_api"].details
    assert api["binary_found"] is None
    assert {"name": "ANTHROPIC_API_KEY", "set": True, "role": "auth"} in api["auth_env"]
    names = {v["name"] for v in by_name["claude-code"].details["auth_env"]}
    assert "ANTHROPIC_API_KEY" in names
    areas = {c.area for c in report.checks}
    assert {"python", "mzt", "package", "mzt_home", "instrument", "inotify", "flock"} <= areas
    assert {c.name for c in report.checks if c.area == "package"} == set(doctor.PACKAGES)
    flock = next(c for c in report.checks if c.area == "flock")
    assert flock.details["supported"] is True and flock.verdict in ("ok", "warning")
    assert not list(tmp_path.glob(".mzt-doctor-*"))  # the probe file is gone


def test_doctor_says_when_a_local_model_server_is_not_listening(tmp_path: Path) -> None:
    # The built-in ollama profile talks to localhost:11434.
    with socket.socket() as server:
        try:
            server.bind(("127.0.0.1", 11434))
        except OSError:
            pytest.skip("something on this machine already uses port 11434")
        server.listen()
        listening = _instrument(doctor.doctor(cwd=tmp_path, environ=dict(os.environ)), "ollama")
    down = _instrument(doctor.doctor(cwd=tmp_path, environ=dict(os.environ)), "ollama")
    assert listening.verdict == "ok" and listening.details["server_listening"] is True
    assert down.verdict == "warning" and down.details["server_listening"] is False
    assert "nothing listens at localhost:11434" in down.message
    remote = _instrument(doctor.doctor(cwd=tmp_path, environ=dict(os.environ)), "anthropic_api")
    assert remote.details["server_listening"] is None  # a remote API is never contacted


def test_doctor_probes_the_server_ollama_host_names(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        environ = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{port}"}
        check = _instrument(doctor.doctor(cwd=tmp_path, environ=environ), "ollama")
    assert check.verdict == "ok" and check.details["server_listening"] is True
    assert f"http://127.0.0.1:{port}/api/chat" in check.message
    assert "OLLAMA_HOST (set)" in check.message


def _instrument(report: doctor.Report, name: str) -> doctor.Check:
    return next(c for c in report.checks if c.area == "instrument" and c.name == name)


def test_doctor_judges_mzt_home(project: Project, tmp_path: Path) -> None:
    def home_check(home: Path) -> doctor.Check:
        report = doctor.doctor(cwd=tmp_path, home=home)
        return next(c for c in report.checks if c.area == "mzt_home")

    home = tmp_path / "h"
    assert home_check(home).verdict == "ok"  # not there yet: runs create it
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    assert home_check(home).verdict == "ok"
    home.chmod(0o755)
    check = home_check(home)
    assert check.verdict == "warning" and "0755" in check.message
    afile = tmp_path / "not-a-folder"
    afile.write_text("")
    bad = doctor.doctor(cwd=tmp_path, home=afile)
    assert bad.verdict == "problem"
