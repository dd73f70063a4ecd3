"""What a prompt reads from disk: injected files and folders, earlier outputs and files."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from mzt.run.inputs import (
    MAX_INJECTED_BYTES,
    SKIPPED,
    TRUNCATED,
    gather_injections,
    previous_files,
    previous_outputs,
)
from mzt.score.loader import LoadedScore, load_score
from mzt.score.models import CrossSheetConfig
from mzt.score.plan import Plan, SheetPlan, build_plan
from mzt.score.templating import prompt_variables
from mzt.support import paths
from tests.helpers import minimal, write_score

# Built at run time so no credential-shaped literal sits in the repository.
API_KEY = "sk-ant-api03-" + "Qw3rTy9Zx" * 8 + "AA"


class Job:
    """A loaded score, its plan and a workspace."""

    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        self.workspace = tmp_path / "ws"
        self.workspace.mkdir(exist_ok=True)
        self.loaded: LoadedScore = load_score(write_score(tmp_path, minimal(**overrides)))
        self.plan: Plan = build_plan(self.loaded)

    def sheet(self, num: int) -> SheetPlan:
        return self.plan.sheet(num)

    def variables(self, num: int) -> dict[str, Any]:
        return prompt_variables(self.plan, self.sheet(num), self.loaded.score, str(self.workspace))

    def inject(self, num: int) -> Any:
        return gather_injections(self.sheet(num).injections, self.variables(num), self.workspace)

    @property
    def cross(self) -> CrossSheetConfig | None:
        return self.loaded.score.cross_sheet

    def outputs(self, num: int, statuses: dict[int, str]) -> dict[int, str]:
        return previous_outputs(
            self.cross, self.plan, self.sheet(num), statuses, self.workspace, self.plan.job_id
        )

    def files(self, num: int) -> dict[str, str]:
        return previous_files(self.cross, self.sheet(num), self.workspace)

    def write_output(self, num: int, text: str | bytes) -> Path:
        path = paths.sheet_output(self.workspace, self.plan.job_id, num)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def write(self, relative: str, text: str | bytes) -> Path:
        path = self.workspace / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path


def injecting(tmp_path: Path, *items: dict[str, str], **overrides: Any) -> Job:
    """A three-sheet job whose every sheet injects ``items`` (its prelude)."""
    return Job(tmp_path, sheet={"size": 1, "total_items": 3, "prelude": list(items)}, **overrides)


def crossing(tmp_path: Path, total: int = 6, **cross: Any) -> Job:
    return Job(
        tmp_path,
        sheet={"size": 1, "total_items": total},
        cross_sheet={"auto_capture_stdout": True, **cross},
    )


# --- injected files ---------------------------------------------------------------------------


def test_files_go_to_their_sections_relative_to_the_workspace(tmp_path: Path) -> None:
    job = injecting(
        tmp_path,
        {"file": "ctx/brief.md", "as": "context"},
        {"file": "skills/review.md", "as": "skill"},
        {"file": "tools/lint.md", "as": "tool"},
        {"file": "ctx/style.md"},  # context is the default
    )
    job.write("ctx/brief.md", "the brief\n")
    job.write("skills/review.md", "how to review")
    job.write("tools/lint.md", "run ruff")
    job.write("ctx/style.md", "be terse")
    found = job.inject(1)
    assert found.context == ["the brief\n", "be terse"]
    assert found.skill == ["how to review"]
    assert found.tool == ["run ruff"]
    assert found.warnings == []
    assert found.as_mapping() == {
        "skill": ["how to review"],
        "tool": ["run ruff"],
        "context": ["the brief\n", "be terse"],
    }


def test_absolute_path(tmp_path: Path) -> None:
    outside = tmp_path / "shared" / "glossary.md"
    outside.parent.mkdir()
    outside.write_text("terms")
    job = injecting(tmp_path, {"file": str(outside)})
    assert job.inject(1).context == ["terms"]


def test_prelude_then_cadenzas_of_the_sheet(tmp_path: Path) -> None:
    job = Job(
        tmp_path,
        sheet={
            "size": 1,
            "total_items": 3,
            "prelude": [{"file": "common.md"}],
            "cadenzas": {2: [{"file": "only-two.md"}]},
        },
    )
    job.write("common.md", "common")
    job.write("only-two.md", "two")
    assert job.inject(1).context == ["common"]
    assert job.inject(2).context == ["common", "two"]
    assert job.inject(3).context == ["common"]


def test_paths_are_rendered_with_the_sheet_variables(tmp_path: Path) -> None:
    job = injecting(
        tmp_path,
        {"file": "notes/sheet-{{ sheet_num }}-of-{{ total_sheets }}.md"},
        {"file": "{{ workspace }}/topics/{{ topic | upper }}.md", "as": "skill"},
        prompt={"template": "x", "variables": {"topic": "tax"}},
    )
    job.write("notes/sheet-2-of-3.md", "notes for two")
    job.write("topics/TAX.md", "tax skill")
    found = job.inject(2)
    assert found.context == ["notes for two"]
    assert found.skill == ["tax skill"]
    assert found.warnings == []


def test_undefined_names_render_empty(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"file": "ctx/{{ no_such_variable }}brief.md"})
    job.write("ctx/brief.md", "brief")
    found = job.inject(1)
    assert found.context == ["brief"]
    assert found.warnings == []


def test_path_that_cannot_be_rendered_is_a_warning(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"file": "ctx/{{ broken"}, {"file": "ok.md"})
    job.write("ok.md", "fine")
    found = job.inject(1)
    assert found.context == ["fine"]
    assert len(found.warnings) == 1
    assert "cannot be rendered" in found.warnings[0]
    assert "{{ broken" in found.warnings[0]


@pytest.mark.parametrize("kind", ["context", "skill", "tool"])
def test_missing_file_is_a_warning_not_an_error(tmp_path: Path, kind: str) -> None:
    job = injecting(tmp_path, {"file": "gone.md", "as": kind}, {"file": "here.md", "as": kind})
    job.write("here.md", "present")
    found = job.inject(1)
    assert found.as_mapping()[kind] == ["present"]
    assert len(found.warnings) == 1
    assert str(job.workspace / "gone.md") in found.warnings[0]
    assert kind in found.warnings[0]


def test_a_folder_named_as_a_file_is_a_warning(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"file": "ctx"})
    (job.workspace / "ctx").mkdir()
    found = job.inject(1)
    assert found.context == []
    assert len(found.warnings) == 1


def test_non_utf8_file_becomes_a_note(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"file": "logo.png"})
    path = job.write("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    found = job.inject(1)
    assert found.warnings == []
    assert len(found.context) == 1
    note = found.context[0]
    assert str(path) in note
    assert "not a text file" in note
    assert "PNG" not in note


def test_large_file_is_cut_with_a_marker(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"file": "big.txt"})
    job.write("big.txt", "a" * (MAX_INJECTED_BYTES + 100))
    (text,) = job.inject(1).context
    assert text == "a" * MAX_INJECTED_BYTES + TRUNCATED
    assert TRUNCATED == "\n... [truncated]"


def test_file_of_exactly_the_cap_is_whole(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"file": "big.txt"})
    job.write("big.txt", "b" * MAX_INJECTED_BYTES)
    (text,) = job.inject(1).context
    assert text == "b" * MAX_INJECTED_BYTES


def test_large_utf8_file_cut_inside_a_character_stays_text(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"file": "big.md"})
    # "€" is three bytes; the cap (a power of two) falls inside one.
    job.write("big.md", "€" * (MAX_INJECTED_BYTES // 3 + 10))
    (text,) = job.inject(1).context
    assert text.startswith("€€€")
    assert text.endswith(TRUNCATED)


def test_secrets_are_redacted(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"file": "env.md"}, {"directory": "notes"})
    job.write("env.md", f"ANTHROPIC_API_KEY={API_KEY}\nmodel: sonnet\n")
    job.write("notes/a.md", f"use {API_KEY} for the call")
    found = job.inject(1)
    joined = "\n".join(found.context)
    assert API_KEY not in joined
    assert "[REDACTED_ANTHROPIC_KEY]" in found.context[0]
    assert "model: sonnet" in found.context[0]
    assert "[REDACTED_" in found.context[1]


def test_a_fifo_does_not_hang_the_sheet(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"file": "pipe.md"})
    fifo = job.workspace / "pipe.md"
    os.mkfifo(fifo)
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(job.inject(1)), daemon=True)
    worker.start()
    worker.join(0.5)
    hung = worker.is_alive()
    while worker.is_alive():  # unblock the reader so no thread outlives the test
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            worker.join(0.01)
            continue
        os.close(fd)
        worker.join(1)
    assert not hung


# --- injected folders -------------------------------------------------------------------------


def test_folder_files_sorted_with_headers_not_recursive(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"directory": "ref", "as": "skill"})
    job.write("ref/b.md", "bee")
    job.write("ref/a.md", "ay")
    job.write("ref/c.txt", "see")
    job.write("ref/deeper/d.md", "too deep")
    found = job.inject(1)
    assert found.skill == ["### a.md\nay", "### b.md\nbee", "### c.txt\nsee"]
    assert found.warnings == []


def test_folder_with_a_binary_file(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"directory": "ref"})
    job.write("ref/a.md", "text")
    blob = job.write("ref/b.bin", b"\xff\xfe\x00binary")
    found = job.inject(1)
    assert found.context[0] == "### a.md\ntext"
    assert found.context[1].startswith("### b.bin\n[")
    assert str(blob) in found.context[1]


def test_folder_path_is_rendered(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"directory": "stage-{{ stage }}"})
    job.write("stage-3/x.md", "third")
    assert job.inject(3).context == ["### x.md\nthird"]


def test_empty_folder_adds_nothing(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"directory": "empty"})
    (job.workspace / "empty").mkdir()
    found = job.inject(1)
    assert found.context == []
    assert found.warnings == []


def test_missing_folder_is_a_warning(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"directory": "nowhere", "as": "tool"})
    found = job.inject(1)
    assert found.tool == []
    assert len(found.warnings) == 1
    assert "folder" in found.warnings[0]
    assert str(job.workspace / "nowhere") in found.warnings[0]


def test_a_file_named_as_a_folder_is_a_warning(tmp_path: Path) -> None:
    job = injecting(tmp_path, {"directory": "plain.md"})
    job.write("plain.md", "x")
    found = job.inject(1)
    assert found.context == []
    assert len(found.warnings) == 1


# --- previous_outputs -------------------------------------------------------------------------


ALL_DONE = dict.fromkeys(range(1, 7), "completed")


def test_no_cross_sheet_no_outputs(tmp_path: Path) -> None:
    job = Job(tmp_path)
    job.write_output(1, "one")
    assert job.cross is None
    assert job.outputs(2, {1: "completed"}) == {}


def test_capture_off_no_outputs(tmp_path: Path) -> None:
    job = Job(tmp_path, cross_sheet={"auto_capture_stdout": False, "capture_files": ["*.md"]})
    job.write_output(1, "one")
    assert job.outputs(2, {1: "completed"}) == {}


def test_outputs_are_read_from_the_sheet_output_files(tmp_path: Path) -> None:
    job = crossing(tmp_path)
    for num in range(1, 6):
        path = job.write_output(num, f"result of sheet {num}")
    assert path == job.workspace / ".marianne" / "outputs" / job.plan.job_id / "sheet-5.md"
    assert job.outputs(4, ALL_DONE) == {
        1: "result of sheet 1",
        2: "result of sheet 2",
        3: "result of sheet 3",
    }


@pytest.mark.parametrize(
    ("lookback", "num", "window"),
    [
        (3, 6, [3, 4, 5]),
        (1, 6, [5]),
        (2, 2, [1]),
        (10, 6, [1, 2, 3, 4, 5]),
        (0, 6, [1, 2, 3, 4, 5]),
        (0, 1, []),
        (3, 1, []),
    ],
)
def test_lookback_window(tmp_path: Path, lookback: int, num: int, window: list[int]) -> None:
    job = crossing(tmp_path, lookback_sheets=lookback)
    for n in range(1, 7):
        job.write_output(n, f"out {n}")
    assert sorted(job.outputs(num, ALL_DONE)) == window


def test_default_lookback_is_three(tmp_path: Path) -> None:
    job = crossing(tmp_path)
    for n in range(1, 7):
        job.write_output(n, f"out {n}")
    assert sorted(job.outputs(6, ALL_DONE)) == [3, 4, 5]


def test_only_completed_and_skipped_sheets(tmp_path: Path) -> None:
    job = crossing(tmp_path, lookback_sheets=0)
    for n in range(1, 6):
        job.write_output(n, f"out {n}")
    statuses = {1: "completed", 2: "skipped", 3: "failed", 4: "pending"}
    assert job.outputs(6, statuses) == {1: "out 1", 2: SKIPPED}
    assert SKIPPED == "[SKIPPED]"


def test_skipped_sheet_is_marked_even_with_an_output_file(tmp_path: Path) -> None:
    job = crossing(tmp_path)
    job.write_output(1, "stale output of an earlier run")
    assert job.outputs(2, {1: "skipped"}) == {1: "[SKIPPED]"}


def test_completed_sheet_without_an_output_file_is_left_out(tmp_path: Path) -> None:
    job = crossing(tmp_path)
    job.write_output(2, "two")
    assert job.outputs(3, {1: "completed", 2: "completed"}) == {2: "two"}


def test_outputs_are_truncated_to_max_output_chars(tmp_path: Path) -> None:
    job = crossing(tmp_path, max_output_chars=10)
    job.write_output(1, "0123456789ABCDEF")
    job.write_output(2, "0123456789")
    assert job.outputs(3, ALL_DONE) == {1: "0123456789" + TRUNCATED, 2: "0123456789"}


def test_outputs_are_redacted(tmp_path: Path) -> None:
    job = crossing(tmp_path)
    job.write_output(1, f"the key is {API_KEY}")
    (text,) = job.outputs(2, ALL_DONE).values()
    assert API_KEY not in text
    assert "[REDACTED_ANTHROPIC_KEY]" in text


def test_outputs_of_another_job_are_not_read(tmp_path: Path) -> None:
    job = crossing(tmp_path)
    other = paths.sheet_output(job.workspace, "another-job", 1)
    other.parent.mkdir(parents=True)
    other.write_text("not ours")
    assert job.outputs(2, ALL_DONE) == {}


# --- previous_files ---------------------------------------------------------------------------


def test_no_capture_files_no_files(tmp_path: Path) -> None:
    job = crossing(tmp_path)
    job.write("out/a.md", "a")
    assert job.files(2) == {}
    assert previous_files(None, job.sheet(2), job.workspace) == {}


def test_globs_relative_to_the_workspace(tmp_path: Path) -> None:
    job = crossing(tmp_path, capture_files=["out/*.md"])
    job.write("out/b.md", "bee")
    job.write("out/a.md", "ay")
    job.write("out/c.txt", "not matched")
    (job.workspace / "out" / "dir.md").mkdir()
    files = job.files(2)
    assert files == {
        str(job.workspace / "out" / "a.md"): "ay",
        str(job.workspace / "out" / "b.md"): "bee",
    }
    assert list(files) == sorted(files)


def test_recursive_glob(tmp_path: Path) -> None:
    job = crossing(tmp_path, capture_files=["reports/**/*.md"])
    job.write("reports/top.md", "top")
    job.write("reports/q1/jan.md", "jan")
    assert set(job.files(2).values()) == {"top", "jan"}


@pytest.mark.parametrize(
    "pattern",
    ["{{ workspace }}/out/*.md", "{{workspace}}/out/*.md"],
)
def test_workspace_is_substituted(tmp_path: Path, pattern: str) -> None:
    job = crossing(tmp_path, capture_files=[pattern])
    job.write("out/a.md", "ay")
    assert job.files(2) == {str(job.workspace / "out" / "a.md"): "ay"}


@pytest.mark.parametrize(
    "pattern",
    ["out/sheet-{{ sheet_num }}.md", "out/sheet-{{sheet_num}}.md", "out/sheet-{{ sheet_num }}*"],
)
def test_sheet_num_is_the_current_sheet(tmp_path: Path, pattern: str) -> None:
    job = crossing(tmp_path, capture_files=[pattern])
    for n in (1, 2, 3):
        job.write(f"out/sheet-{n}.md", f"sheet {n} notes")
    assert job.files(3) == {str(job.workspace / "out" / "sheet-3.md"): "sheet 3 notes"}


def test_only_the_two_names_are_substituted(tmp_path: Path) -> None:
    job = crossing(
        tmp_path,
        capture_files=["{{ stage }}/*.md"],
    )
    job.write("{{ stage }}/x.md", "literal")
    job.write("2/x.md", "rendered")
    assert list(job.files(2).values()) == ["literal"]


def test_plain_path_and_missing_files(tmp_path: Path) -> None:
    job = crossing(tmp_path, capture_files=["notes.md", "missing.md", "none/*.md"])
    job.write("notes.md", "notes")
    assert job.files(2) == {str(job.workspace / "notes.md"): "notes"}


def test_absolute_pattern(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "x.log").write_text("log")
    job = crossing(tmp_path, capture_files=[str(shared / "*.log")])
    assert job.files(2) == {str(shared / "x.log"): "log"}


def test_files_are_truncated_and_redacted(tmp_path: Path) -> None:
    job = crossing(tmp_path, capture_files=["*.txt"], max_output_chars=40)
    job.write("a.txt", "x" * 100)
    job.write("b.txt", f"k={API_KEY}")
    files = job.files(2)
    assert files[str(job.workspace / "a.txt")] == "x" * 40 + TRUNCATED
    assert API_KEY[:20] not in files[str(job.workspace / "b.txt")]
    assert files[str(job.workspace / "b.txt")].startswith("k=[REDACTED_")


def test_several_patterns_merge(tmp_path: Path) -> None:
    job = crossing(tmp_path, capture_files=["a/*.md", "b/*.md", "a/*.md"])
    job.write("a/1.md", "one")
    job.write("b/2.md", "two")
    assert sorted(job.files(2).values()) == ["one", "two"]


def test_workspace_with_glob_characters_in_its_name(tmp_path: Path) -> None:
    job = crossing(tmp_path, capture_files=["out/*.md"])
    job.workspace = tmp_path / "run[1]"
    job.write("out/a.md", "ay")
    assert job.files(2) == {str(job.workspace / "out" / "a.md"): "ay"}


@pytest.mark.parametrize(
    "path",
    [
        "ctx/{{ '{:>1000000000}'.format(sheet_num) }}.md",
        "ctx/{{ 'x' * 1000000000 }}.md",
        "ctx/{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}a.md",
    ],
    ids=["format-width", "repetition", "loops"],
)
def test_injection_path_past_a_bound_is_a_warning(tmp_path: Path, path: str) -> None:
    job = injecting(tmp_path, {"file": path}, {"file": "ok.md"})
    job.write("ok.md", "fine")
    found = job.inject(1)
    assert found.context == ["fine"]
    assert len(found.warnings) == 1 and "cannot be rendered" in found.warnings[0]
