"""The issues `mzt validate` finds in a score, collected by severity."""

from __future__ import annotations

from mzt.score.loader import LoadedScore
from mzt.support import records
from mzt.support.errors import Issue

Path_ = tuple[str | int, ...]


@records.record
class Findings:
    """Issues found so far, split by severity."""

    loaded: LoadedScore
    errors: list[Issue] = records.field(default_factory=list)
    warnings: list[Issue] = records.field(default_factory=list)

    def add(
        self,
        code: str,
        message: str,
        path: Path_ = (),
        *,
        severity: str = "warning",
        hint: str | None = None,
    ) -> None:
        issue = Issue(
            code,
            message,
            ".".join(map(str, path)),
            self.loaded.locate(path) if path else None,
            hint=hint,
            severity=severity,
        )
        (self.errors if severity == "error" else self.warnings).append(issue)
