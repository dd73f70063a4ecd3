from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mzt.cli import cli
from mzt.cli.errors import run_guarded
from mzt.cli.failures import json_mode


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def mzt(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run the command line in-process, through the same top-level handler as `mzt`."""

    def invoke(*args: object) -> Result:
        token = json_mode.set(False)
        try:
            code = run_guarded(cli, [str(a) for a in args])
        finally:
            json_mode.reset(token)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
