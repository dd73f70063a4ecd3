"""Prompt assembly: preamble, injected sections, body, requirements, extensions, completion."""

from __future__ import annotations

from typing import Any

import pytest

from mzt.run.prompting import ORIGINAL_PROMPT_CHARS, Completion, PromptParts, assemble
from mzt.support import records

WS = "/srv/jobs/ws"


def parts(**overrides: Any) -> PromptParts:
    base = PromptParts(
        body="Write the report on {topic} into report.md.",
        sheet_num=2,
        total_sheets=5,
        job_name="quarterly",
        workspace=WS,
    )
    return records.replace(base, **overrides)


FULL = parts(
    skills=("SKILL-A text", "SKILL-B text"),
    tools=("TOOL-A text",),
    context=("CONTEXT-A text", "CONTEXT-B text"),
    requirements=("create file report.md", "report.md contains 'Summary'"),
    extensions=("EXTENSION-1", "EXTENSION-2"),
)


def preamble_of(prompt: str) -> str:
    assert prompt.startswith("<mzt-preamble>\n")
    return prompt[: prompt.index("</mzt-preamble>")]


# --- raw prompts ------------------------------------------------------------------------------


def test_raw_prompt_is_the_body_only() -> None:
    body = "echo hello > {ws}/out.txt\n\n"
    full = records.replace(
        FULL,
        body=body,
        retry_number=2,
        parallel=True,
        completion=Completion(1, 3, ["a"], ["b"]),
    )
    assert assemble(full, raw=True) == body


# --- order ------------------------------------------------------------------------------------


def test_section_order() -> None:
    prompt = assemble(FULL, raw=False)
    markers = [
        "<mzt-preamble>",
        "</mzt-preamble>",
        "## Injected Skills",
        "SKILL-A text",
        "SKILL-B text",
        "## Injected Tools",
        "TOOL-A text",
        "## Injected Context",
        "CONTEXT-A text",
        "CONTEXT-B text",
        "Write the report on {topic} into report.md.",
        "---\n## Success Requirements (Validated Automatically)",
        "1. create file report.md",
        "2. report.md contains 'Summary'",
        "EXTENSION-1",
        "EXTENSION-2",
    ]
    positions = [prompt.index(m) for m in markers]
    assert positions == sorted(positions)
    assert prompt.startswith("<mzt-preamble>")
    assert prompt.endswith("EXTENSION-1\nEXTENSION-2\n")


def test_exact_layout() -> None:
    prompt = assemble(FULL, raw=False)
    after = prompt[prompt.index("</mzt-preamble>") + len("</mzt-preamble>") :]
    assert after == (
        "\n\n## Injected Skills\n\nSKILL-A text\n\nSKILL-B text"
        "\n\n## Injected Tools\n\nTOOL-A text"
        "\n\n## Injected Context\n\nCONTEXT-A text\n\nCONTEXT-B text"
        "\n\nWrite the report on {topic} into report.md."
        "\n\n---\n## Success Requirements (Validated Automatically)\n\n"
        "1. create file report.md\n2. report.md contains 'Summary'"
        "\n\nEXTENSION-1\nEXTENSION-2\n"
    )


def test_empty_sections_are_left_out() -> None:
    prompt = assemble(parts(), raw=False)
    for heading in ("## Injected", "Success Requirements", "COMPLETION MODE"):
        assert heading not in prompt
    assert prompt.endswith("</mzt-preamble>\n\nWrite the report on {topic} into report.md.\n")


def test_body_newlines_are_trimmed_but_inner_ones_kept() -> None:
    prompt = assemble(parts(body="\n\nLine one.\n\n  Line two.\n\n\n"), raw=False)
    assert prompt.endswith("</mzt-preamble>\n\nLine one.\n\n  Line two.\n")


def test_only_context_without_skills_or_tools() -> None:
    prompt = assemble(parts(context=("ctx",)), raw=False)
    assert "## Injected Skills" not in prompt
    assert "## Injected Tools" not in prompt
    assert "</mzt-preamble>\n\n## Injected Context\n\nctx\n\nWrite the report" in prompt


# --- preamble ---------------------------------------------------------------------------------


def test_preamble_names_sheet_job_and_workspace() -> None:
    preamble = preamble_of(assemble(parts(), raw=False))
    assert 'You are working on sheet 2 of 5 of the job "quarterly".' in preamble
    assert f"Your workspace is {WS}: write your outputs there." in preamble
    assert "checked automatically" in preamble
    assert "Leave no background processes running" in preamble
    assert "RETRY" not in preamble
    assert "at the same time" not in preamble


def test_retry_preamble_starts_with_the_retry_number() -> None:
    prompt = assemble(parts(retry_number=3), raw=False)
    first_line = prompt.splitlines()[1]
    assert first_line.startswith("RETRY #3: ")
    assert "Look at the workspace" in first_line


@pytest.mark.parametrize("k", [1, 2, 10])
def test_retry_number_is_shown(k: int) -> None:
    assert f"RETRY #{k}:" in assemble(parts(retry_number=k), raw=False)


def test_parallel_note() -> None:
    preamble = preamble_of(assemble(parts(parallel=True), raw=False))
    assert "Other sheets of this job may be running at the same time" in preamble
    lines = preamble.splitlines()
    workspace_line = next(i for i, line in enumerate(lines) if line.startswith("Your workspace"))
    assert lines[workspace_line + 1].startswith("Other sheets of this job")


# --- completion mode --------------------------------------------------------------------------


def completion_prompt(**overrides: Any) -> tuple[str, str]:
    """The completion-mode prompt and the plain prompt it wraps."""
    base = records.replace(FULL, **overrides)
    done = Completion(
        attempt=2,
        max_attempts=5,
        satisfied=["report.md exists", "report.md mentions revenue"],
        missing=["report.md contains 'Summary'", "make test passes"],
    )
    return assemble(records.replace(base, completion=done), raw=False), assemble(base, raw=False)


def test_completion_header_and_lists() -> None:
    prompt, _ = completion_prompt()
    lines = prompt.splitlines()
    assert lines[0] == "COMPLETION MODE — sheet 2 (completion attempt 2 of 5)"
    assert "2 of 4 requirements are met" in prompt
    satisfied = lines.index("Already satisfied (do not redo):")
    assert lines[satisfied + 1 : satisfied + 3] == [
        "- report.md exists",
        "- report.md mentions revenue",
    ]
    missing = lines.index("Still missing:")
    assert lines[missing + 1 : missing + 3] == [
        "1. report.md contains 'Summary'",
        "2. make test passes",
    ]
    assert satisfied < missing < lines.index("The original task, for reference:")


def test_completion_includes_the_original_prompt() -> None:
    prompt, plain = completion_prompt()
    assert prompt.endswith("The original task, for reference:\n\n" + plain)
    assert prompt.endswith("\n") and not prompt.endswith("\n\n")


def test_completion_with_nothing_satisfied_leaves_out_that_list() -> None:
    prompt = assemble(records.replace(FULL, completion=Completion(1, 1, [], ["x"])), raw=False)
    assert "Already satisfied" not in prompt
    assert "0 of 1 requirements are met" in prompt
    assert "Still missing:\n1. x\n" in prompt


def test_completion_truncates_a_long_original_prompt() -> None:
    body = "".join(f"line {i:05d} of the task\n" for i in range(600))
    prompt, plain = completion_prompt(body=body)
    assert len(plain) > ORIGINAL_PROMPT_CHARS
    original = prompt[prompt.index("The original task, for reference:\n\n") :].split("\n\n", 1)[1]
    assert original == plain[:ORIGINAL_PROMPT_CHARS] + "\n... [truncated]\n"
    assert "line 00599" not in prompt


def test_completion_keeps_a_prompt_of_exactly_the_limit() -> None:
    _, plain = completion_prompt()
    pad = ORIGINAL_PROMPT_CHARS - len(plain)
    prompt, plain = completion_prompt(body=FULL.body + "x" * pad)
    assert len(plain) == ORIGINAL_PROMPT_CHARS
    assert "[truncated]" not in prompt
    assert prompt.endswith(plain)


def test_completion_keeps_retry_preamble_in_the_original() -> None:
    prompt, plain = completion_prompt(retry_number=1)
    assert "RETRY #1:" in plain
    assert prompt.endswith(plain)
