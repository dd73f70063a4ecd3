"""Log set-up: nothing unless asked, redacted records, refused values."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from mzt.support.errors import UsageError
from mzt.support.logsetup import configure_logging


@pytest.fixture(autouse=True)
def clean_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("mzt")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    for handler in logger.handlers:
        if handler not in handlers:
            handler.close()
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_nothing_is_configured_without_options(clean_logger: logging.Logger) -> None:
    before = list(clean_logger.handlers)
    configure_logging()
    assert clean_logger.handlers == before


def test_json_records_in_the_file_are_redacted(tmp_path: Path) -> None:
    log = tmp_path / "mzt.log"
    configure_logging("info", log, "json")
    secret = "sk-ant-api03-" + "a" * 40
    logging.getLogger("mzt.test").info("token %s here", secret)
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["level"] == "info" and record["logger"] == "mzt.test"
    assert secret not in record["message"] and "REDACTED" in record["message"]
    assert log.stat().st_mode & 0o777 == 0o600


def test_both_writes_console_lines_to_stderr_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "mzt.log"
    configure_logging(None, log, "both")
    logging.getLogger("mzt.test").warning("careful")
    assert json.loads(log.read_text())["message"] == "careful"
    assert "warning mzt.test: careful" in capsys.readouterr().err


def test_a_symlinked_log_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "mzt.log"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="cannot open the log file"):
        configure_logging("info", link, None)
    assert not target.exists()


def test_unknown_values_are_refused() -> None:
    with pytest.raises(UsageError, match="log level"):
        configure_logging("loud")
    with pytest.raises(UsageError, match="log format"):
        configure_logging(None, None, "xml")
