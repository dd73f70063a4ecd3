"""Upgrades of older checkpoint documents to the current format, one named step per version.

A document carries ``schema_version`` (absent means 0: a checkpoint written by the older
standalone Marianne runner, which mzt can continue). :func:`upgrade` applies, in order,
every step from the document's version to :data:`CURRENT_SCHEMA_VERSION`; each step takes
the raw JSON object of version *n* and returns one of version *n + 1*. A document from a
newer mzt is refused rather than guessed at, so nothing is silently dropped on the next save.
Upgrading happens in memory only: the file on disk changes when the owner next saves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from mzt.state.checkpoint import CURRENT_SCHEMA_VERSION, CheckpointState
from mzt.state.models import SheetState
from mzt.support.errors import FutureSchemaError

Document = dict[str, Any]

# Statuses only the older runner (or its daemon) wrote, and what they mean here.
_LEGACY_JOB_STATUS = {"paused_at_chain": "paused", "queued": "pending"}
_KNOWN_ERROR_CATEGORIES = frozenset(
    {
        "rate_limit",
        "transient",
        "validation",
        "auth",
        "network",
        "timeout",
        "signal",
        "fatal",
        "configuration",
        "preflight",
        "escalation",
    }
)


_JOB_FIELDS = frozenset(CheckpointState.__struct_fields__)
_SHEET_FIELDS = frozenset(SheetState.__struct_fields__)


# A struct, not a dataclass: see mzt.state.liveness.ProcessIdentity.
class Migration(msgspec.Struct, frozen=True):
    """One upgrade step: a document of ``from_version`` becomes ``from_version + 1``."""

    from_version: int
    name: str
    apply: Callable[[Document], Document]


def _legacy_to_v1(doc: Document) -> Document:
    """Older runner → v1: store bookkeeping added, statuses mapped, its extra keys dropped.

    The older runner kept keys mzt has no field for (learned patterns and the like); the
    current format refuses unknown keys, so they go here, where they are known to be its.
    """
    doc = {k: v for k, v in doc.items() if k in _JOB_FIELDS}
    status = doc.get("status")
    if isinstance(status, str):
        doc["status"] = _LEGACY_JOB_STATUS.get(status, status)
    sheets = doc.get("sheets")
    if isinstance(sheets, dict):
        upgraded: dict[str, Any] = {}
        for key, sheet in sheets.items():
            if isinstance(sheet, dict):
                sheet = {k: v for k, v in sheet.items() if k in _SHEET_FIELDS}
                category = sheet.get("error_category")
                if category is not None and category not in _KNOWN_ERROR_CATEGORIES:
                    sheet["error_category"] = None
            upgraded[key] = sheet
        doc["sheets"] = upgraded
    doc.setdefault("seq", 0)
    doc.setdefault("journal_offset", 0)
    doc["writer"] = None  # the older runner kept only a pid
    doc["schema_version"] = 1
    return doc


def _v1_to_v2(doc: Document) -> Document:
    """v1 → v2: the same fields; v2 files leave default values out and journal lines
    carry only the changed fields, which is why a v1 reader must not take them."""
    doc = dict(doc)
    doc["schema_version"] = 2
    return doc


MIGRATIONS: tuple[Migration, ...] = (
    Migration(0, "legacy_to_v1", _legacy_to_v1),
    Migration(1, "slim_v2", _v1_to_v2),
)


def schema_version_of(doc: Document) -> int:
    """The document's declared version (0 when absent); ``ValueError`` if it is not one."""
    version = doc.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError(f"schema_version must be a non-negative integer, not {version!r}")
    return version


def upgrade(doc: Document, *, job_id: str, path: str) -> Document:
    """Bring ``doc`` to the current version, or raise :class:`FutureSchemaError`."""
    version = schema_version_of(doc)
    if version > CURRENT_SCHEMA_VERSION:
        raise FutureSchemaError(job_id, path, version, CURRENT_SCHEMA_VERSION)
    for step in MIGRATIONS:
        if step.from_version >= version:
            doc = step.apply(doc)
    return doc
