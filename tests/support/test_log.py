from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from mzt.support.log import get_logger


def test_messages_reach_logging_with_the_name(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mzt"):
        get_logger("mzt.state.registry").warning("skipping %s", "x.json")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("mzt.state.registry", "skipping x.json")
    ]
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("mzt").handlers)


def test_getting_a_logger_does_not_import_logging() -> None:
    code = (
        "import sys; from mzt.support.log import get_logger; get_logger('mzt.x'); "
        "print('logging' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
