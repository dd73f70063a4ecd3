"""Assemble the text an instrument receives for one attempt.

Order: preamble, injected skills and tools, injected context, the rendered template,
the success requirements, then prompt extensions. A completion-mode attempt wraps
that prompt in a note of what already passes and what is still missing. Instruments
that take raw prompts (the `cli` instrument runs the text with bash) get the rendered
template and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

from mzt.support import records

ORIGINAL_PROMPT_CHARS = 3000


@records.record(frozen=True, slots=True)
class Completion:
    """What a completion-mode attempt is told."""

    attempt: int  # 1-based completion attempt
    max_attempts: int
    satisfied: Sequence[str]
    missing: Sequence[str]


@records.record(frozen=True, slots=True)
class PromptParts:
    """The pieces of one attempt's prompt, before assembly."""

    body: str  # the rendered template (or the default prompt)
    sheet_num: int
    total_sheets: int
    job_name: str
    workspace: str
    parallel: bool = False
    retry_number: int = 0  # 0 for the first full attempt
    skills: Sequence[str] = ()
    tools: Sequence[str] = ()
    context: Sequence[str] = ()
    requirements: Sequence[str] = ()
    extensions: Sequence[str] = ()
    completion: Completion | None = None


def assemble(parts: PromptParts, *, raw: bool) -> str:
    """The prompt text for one attempt."""
    if raw:
        return parts.body
    sections = [_preamble(parts)]
    if parts.skills:
        sections.append("## Injected Skills\n\n" + "\n\n".join(parts.skills))
    if parts.tools:
        sections.append("## Injected Tools\n\n" + "\n\n".join(parts.tools))
    if parts.context:
        sections.append("## Injected Context\n\n" + "\n\n".join(parts.context))
    sections.append(parts.body.strip("\n"))
    if parts.requirements:
        numbered = "\n".join(f"{i}. {line}" for i, line in enumerate(parts.requirements, 1))
        sections.append("---\n## Success Requirements (Validated Automatically)\n\n" + numbered)
    if parts.extensions:
        sections.append("\n".join(parts.extensions))
    prompt = "\n\n".join(sections) + "\n"
    if parts.completion is not None:
        prompt = _completion(parts, prompt)
    return prompt


def _preamble(parts: PromptParts) -> str:
    lines = []
    if parts.retry_number > 0:
        lines.append(
            f"RETRY #{parts.retry_number}: an earlier attempt at this sheet did not meet its "
            "requirements. Look at the workspace to see what is already there and what went "
            "wrong before you continue."
        )
    lines += [
        f"You are working on sheet {parts.sheet_num} of {parts.total_sheets} of the job "
        f'"{parts.job_name}".',
        f"Your workspace is {parts.workspace}: write your outputs there.",
    ]
    if parts.parallel:
        lines.append(
            "Other sheets of this job may be running at the same time; leave their files alone."
        )
    lines += [
        "The task below says what is needed; how to get there is your call.",
        "The success requirements at the end are checked automatically when you finish.",
        "Leave no background processes running when you are done.",
    ]
    return "<mzt-preamble>\n" + "\n".join(lines) + "\n</mzt-preamble>"


def _completion(parts: PromptParts, prompt: str) -> str:
    done = parts.completion
    assert done is not None
    total = len(done.satisfied) + len(done.missing)
    lines = [
        f"COMPLETION MODE — sheet {parts.sheet_num} "
        f"(completion attempt {done.attempt} of {done.max_attempts})",
        "",
        f"An earlier attempt did most of the work: {len(done.satisfied)} of {total} "
        "requirements are met. Finish only what is missing; do not redo the rest.",
    ]
    if done.satisfied:
        lines += ["", "Already satisfied (do not redo):", *(f"- {s}" for s in done.satisfied)]
    if done.missing:
        lines += ["", "Still missing:", *(f"{i}. {m}" for i, m in enumerate(done.missing, 1))]
    original = prompt
    if len(original) > ORIGINAL_PROMPT_CHARS:
        original = original[:ORIGINAL_PROMPT_CHARS] + "\n... [truncated]"
    lines += ["", "The original task, for reference:", "", original]
    return "\n".join(lines).rstrip("\n") + "\n"
