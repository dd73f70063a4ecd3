"""`mzt status` when no job is registered: answered from one look at the registry folder.

The full overview (:func:`mzt.views.status.overview_document`) reads every registered
job's checkpoint and imports the store's models to do it. With nothing registered there
is nothing to read, and a monitoring script that asks every minute should not pay for
those imports.
"""

from __future__ import annotations

import os

from mzt.support import paths

# Not `typing`: importing it is a visible share of `mzt status`'s whole answer.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

SCHEMA_OVERVIEW = "mzt.overview/1"


def empty_overview() -> dict[str, Any] | None:
    """The ``mzt.overview/1`` document when the registry holds no record at all.

    ``None`` whenever there may be a job to show (any ``*.json`` entry, or a registry
    that cannot be listed): the full overview then decides, record by record.
    """
    try:
        with os.scandir(paths.registry_dir()) as entries:
            if any(entry.name.endswith(".json") for entry in entries):
                return None
    except FileNotFoundError:
        pass
    except OSError:
        return None
    return {
        "schema": SCHEMA_OVERVIEW,
        "counts": {},
        "total": 0,
        "active": [],
        "attention": [],
        "recent": [],
        "jobs": [],
    }
