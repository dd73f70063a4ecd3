"""End to end with the real Claude Code CLI (npm package @anthropic-ai/claude-code).

No credentials and no network: HOME is an empty folder, every Anthropic, Bedrock and
Vertex variable is unset, and the proxy variables (which the claude-code profile passes
through) point at a closed local port so that nothing can leave the machine. The CLI
must be invoked with the documented flags and its failure classified as an auth or
network error: the job fails (exit 1), mzt does not crash (exit 70), and the sheet does
not fail as a validation or an unknown error.

A small wrapper placed first on PATH records the arguments mzt passes and then runs the
real CLI, because argv is not part of an attempt's record.

Claude Code refuses ``--dangerously-skip-permissions`` as root unless ``IS_SANDBOX=1``
says the machine is a sandbox; the claude-code profile passes only its own variables,
so as root the credential test installs a copy of the built-in profile that adds that
one variable (the command line is unchanged), and a second test checks that without it
the refusal is classified as a configuration error that is not retried.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

import mzt.instruments
from tests.e2e.conftest import Project

CLAUDE = shutil.which("claude")
pytestmark = pytest.mark.skipif(CLAUDE is None, reason="the claude CLI is not installed")

TIMEOUT = 60  # seconds per attempt: bounds the test even if the CLI hangs without network
DOCUMENTED_ARGS = [
    "--dangerously-skip-permissions",
    "--output-format",
    "json",
    "-p",
    "-",
    "--strict-mcp-config",
    "--mcp-config",
    '{"mcpServers":{}}',
]
CREDENTIAL_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "IS_SANDBOX",
)
AUTH_OR_NETWORK = {"E502", "E901", "E902", "E903", "E904", "E501", "E504"}
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def offline(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials, no network, and a recording wrapper first on PATH; returns the
    file the wrapper writes its arguments to (NUL-separated)."""
    assert CLAUDE is not None
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, closed)
    for name in ("NO_PROXY", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    recorded = tmp_path / "argv"
    wrapper_dir = tmp_path / "bin"
    wrapper_dir.mkdir()
    wrapper = wrapper_dir / "claude"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\0" "$@" > {shlex.quote(str(recorded))}\n'
        f'exec {shlex.quote(CLAUDE)} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return recorded


def sandbox_profile(project: Project) -> None:
    """The built-in claude-code profile plus IS_SANDBOX=1 (root only; same argv)."""
    builtin = Path(mzt.instruments.__file__).parent / "builtin" / "claude-code.yaml"
    profile: dict[str, Any] = yaml.safe_load(builtin.read_text())
    profile["cli"]["command"]["env"] = {"IS_SANDBOX": "1"}
    folder = project.home / "instruments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "claude-code.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))


def claude_score(project: Project) -> Path:
    return project.score(
        {
            "name": "claude",
            "instrument": "claude-code",
            "instrument_config": {"timeout_seconds": TIMEOUT},
            "retry": {"max_retries": 2, "base_delay_seconds": 0.1, "jitter": False},
            "sheet": {"size": 1, "total_items": 1},
            "prompt": {"template": "Reply with the single word: ready"},
        }
    )


def test_claude_without_credentials_fails_as_auth_or_network(
    project: Project, offline: Path
) -> None:
    if AS_ROOT:
        sandbox_profile(project)
    run = project.mzt("run", claude_score(project), timeout=4 * TIMEOUT)

    assert offline.read_bytes().split(b"\0")[:-1] == [a.encode() for a in DOCUMENTED_ARGS]
    assert run.returncode == 1, run.stdout + run.stderr  # the job failed; mzt did not crash
    sheet = project.sheets("claude")[1]
    assert sheet["status"] == "failed"
    assert sheet["error_code"] in AUTH_OR_NETWORK, sheet
    assert sheet["error_category"] in ("auth", "network", "timeout"), sheet
    assert sheet["error_category"] not in ("validation", "transient")
    if sheet["error_code"] == "E502":
        assert sheet["attempt_count"] == 1  # an auth failure is final at once


@pytest.mark.skipif(not AS_ROOT, reason="Claude Code refuses its permission flag only as root")
def test_claude_as_root_outside_a_sandbox_is_a_configuration_error(
    project: Project, offline: Path
) -> None:
    run = project.mzt("run", claude_score(project), timeout=4 * TIMEOUT)

    assert offline.read_bytes().split(b"\0")[:-1] == [a.encode() for a in DOCUMENTED_ARGS]
    assert run.returncode == 1, run.stdout + run.stderr
    sheet = project.sheets("claude")[1]
    assert (sheet["error_code"], sheet["error_category"]) == ("E301", "configuration"), sheet
    assert sheet["attempt_count"] == 1  # retrying cannot help
