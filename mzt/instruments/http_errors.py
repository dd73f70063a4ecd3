"""What a failed HTTP API exchange means: connection failures, error bodies, waits."""

from __future__ import annotations

import email.utils
import http.client
import math
import socket
import ssl
import urllib.error
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mzt.instruments.classify import ErrorInfo


def _connection_error(failure: BaseException | None) -> ErrorInfo:
    reason: object = failure
    if isinstance(failure, urllib.error.URLError) and not isinstance(
        failure, urllib.error.HTTPError
    ):
        reason = failure.reason
    if isinstance(reason, socket.gaierror):
        return ErrorInfo("E902", "network", True, "the API host name could not be resolved", 30)
    if isinstance(reason, ssl.SSLError | ssl.CertificateError):
        return ErrorInfo("E903", "network", True, "a TLS/SSL error occurred", 30)
    if isinstance(reason, TimeoutError):
        return ErrorInfo("E504", "timeout", True, "the API did not answer in time", 60)
    if isinstance(reason, OSError | http.client.HTTPException):
        return ErrorInfo("E901", "network", True, "the connection to the API failed", 30)
    if isinstance(reason, ValueError | str):
        return ErrorInfo("E301", "configuration", False, "the API request could not be made")
    return ErrorInfo("E901", "network", True, "the connection to the API failed", 30)


def _describe(failure: BaseException | None) -> str:
    if failure is None:
        return "no answer"
    if isinstance(failure, urllib.error.URLError) and not isinstance(
        failure, urllib.error.HTTPError
    ):
        inner = failure.reason
        return (
            f"{type(inner).__name__}: {inner}" if isinstance(inner, BaseException) else str(inner)
        )
    return f"{type(failure).__name__}: {failure}"


def _error_document(doc: Any) -> bool:
    """Whether a body is an error, whatever its status says (all three families)."""
    return isinstance(doc, dict) and (doc.get("type") == "error" or bool(doc.get("error")))


def _error_message(doc: Any) -> str | None:
    """The message of an error body: ``error.type: error.message`` (Anthropic, OpenAI)
    or ``error`` as a plain string (Ollama)."""
    if not isinstance(doc, dict):
        return None
    error = doc.get("error")
    if isinstance(error, str):
        return error.strip() or None
    if not isinstance(error, dict):
        return None
    parts = [v for v in (error.get("type"), error.get("message")) if isinstance(v, str) and v]
    return ": ".join(parts) or None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``retry-after`` header: a number, or an HTTP date."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None
