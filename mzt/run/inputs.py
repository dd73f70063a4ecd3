"""What a sheet's prompt reads from disk: injected files and earlier sheets' results.

Everything is read when the sheet starts (so earlier sheets' outputs can be injected),
credential-redacted and bounded. A missing context file is a warning; nothing here
ever stops a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mzt.score.bounds import LimitError
from mzt.score.models import CrossSheetConfig, InjectionItem
from mzt.score.plan import Plan, SheetPlan
from mzt.support import paths, records
from mzt.support.fsutil import read_regular_file
from mzt.support.redact import redact

MAX_INJECTED_BYTES = 256 * 1024  # per file
TRUNCATED = "\n... [truncated]"
SKIPPED = "[SKIPPED]"

if TYPE_CHECKING:
    from mzt.score.sandbox import Sandbox


@lru_cache(maxsize=1)
def _lenient() -> Sandbox:
    """The sandbox injection paths render in: an unknown name renders empty."""
    import jinja2  # only for a score with preludes or cadenzas

    from mzt.score.sandbox import Sandbox

    return Sandbox(undefined=jinja2.Undefined, autoescape=False)


@records.record
class Injected:
    """Injected texts by section, plus warnings about what could not be read."""

    skill: list[str] = records.field(default_factory=list)
    tool: list[str] = records.field(default_factory=list)
    context: list[str] = records.field(default_factory=list)
    warnings: list[str] = records.field(default_factory=list)

    def as_mapping(self) -> dict[str, list[str]]:
        return {"skill": self.skill, "tool": self.tool, "context": self.context}


def gather_injections(
    items: tuple[InjectionItem, ...], variables: Mapping[str, Any], workspace: Path
) -> Injected:
    """Read `prelude` and `cadenzas` items for one sheet."""
    found = Injected()
    if not items:
        return found
    import jinja2

    for item in items:
        raw = item.file or item.directory or ""
        try:
            rendered = _lenient().from_string(raw).render(variables)
        except (jinja2.TemplateError, LimitError, OverflowError, RecursionError) as exc:
            found.warnings.append(f"injection path {raw!r} cannot be rendered: {exc}")
            continue
        path = Path(rendered).expanduser()
        if not path.is_absolute():
            path = workspace / path
        target = getattr(found, item.as_)
        if item.file is not None:
            text = _read_text(path)
            if text is None:
                found.warnings.append(f"injected {item.as_} file {path} is missing or unreadable")
                continue
            target.append(text)
        else:
            texts = _read_directory(path)
            if texts is None:
                found.warnings.append(f"injected {item.as_} folder {path} is missing")
                continue
            target.extend(texts)
    return found


def _read_text(path: Path) -> str | None:
    try:  # missing, a folder, or a FIFO or device that would block the run: nothing
        data = read_regular_file(path, MAX_INJECTED_BYTES + 1, follow=True)
    except OSError:
        return None
    cut = len(data) > MAX_INJECTED_BYTES
    data = utf8_head(data, MAX_INJECTED_BYTES) if cut else data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"[{path} is not a text file; read it yourself if you need it]"
    return redact(text) + (TRUNCATED if cut else "")


def utf8_head(data: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes, without a character the cut went through."""
    head = data[:limit]
    for back in range(1, 4):
        if len(head) >= back and head[-back] & 0xC0 == 0xC0:  # a lead byte near the end
            needed = 2 if head[-back] < 0xE0 else 3 if head[-back] < 0xF0 else 4
            return head[:-back] if back < needed else head
        if len(head) >= back and head[-back] & 0x80 == 0:
            return head
    return head


def _read_directory(folder: Path) -> list[str] | None:
    if not folder.is_dir():
        return None
    texts = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        text = _read_text(path)
        if text is not None:
            texts.append(f"### {path.name}\n{text}")
    return texts


def previous_outputs(
    cross: CrossSheetConfig | None,
    plan: Plan,
    sheet: SheetPlan,
    statuses: Mapping[int, str],
    workspace: Path,
    job_id: str,
) -> dict[int, str]:
    """Results of earlier sheets in the look-back window (completed ones, skipped marked)."""
    if cross is None or not cross.auto_capture_stdout:
        return {}
    first = 1 if cross.lookback_sheets == 0 else max(1, sheet.num - cross.lookback_sheets)
    outputs: dict[int, str] = {}
    for num in range(first, sheet.num):
        status = statuses.get(num)
        if status == "skipped":
            outputs[num] = SKIPPED
        elif status == "completed":
            text = _read_text(paths.sheet_output(workspace, job_id, num))
            if text is not None:
                outputs[num] = _truncate(text, cross.max_output_chars)
    return outputs


def previous_files(
    cross: CrossSheetConfig | None, sheet: SheetPlan, workspace: Path
) -> dict[str, str]:
    """Files matching `cross_sheet.capture_files`, by path."""
    if cross is None or not cross.capture_files:
        return {}
    files: dict[str, str] = {}
    for pattern in cross.capture_files:
        expanded = Path(_expand_simple(pattern, workspace, sheet.num)).expanduser()
        # A relative pattern is matched under the workspace, whose own name may hold
        # glob characters ("run[1]") that must be taken literally.
        root, relative = (
            _split_glob(expanded) if expanded.is_absolute() else (workspace, str(expanded))
        )
        for path in sorted(root.glob(relative)) if relative else [root]:
            text = _read_text(path) if path.is_file() else None
            if text is not None:
                files[str(path)] = _truncate(text, cross.max_output_chars)
    return files


def _split_glob(path: Path) -> tuple[Path, str]:
    """The fixed folder in front of a pattern, and the pattern relative to it."""
    parts = path.parts
    for i, part in enumerate(parts):
        if any(c in part for c in "*?["):
            return Path(*parts[:i]), "/".join(parts[i:])
    return path, ""


def _expand_simple(pattern: str, workspace: Path, sheet_num: int) -> str:
    # Only these two names are filled in capture patterns, with or without inner spaces.
    for name, value in (("workspace", str(workspace)), ("sheet_num", str(sheet_num))):
        pattern = pattern.replace("{{ " + name + " }}", value).replace("{{" + name + "}}", value)
    return pattern


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + TRUNCATED
