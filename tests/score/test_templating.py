from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mzt.score import bounds
from mzt.score.bounds import RenderStopped
from mzt.score.fields import (
    TemplateError,
    command_fields,
    display_command,
    format_fields,
    substitute_command,
)
from mzt.score.loader import load_score
from mzt.score.plan import build_plan
from mzt.score.templating import (
    compile_template,
    default_prompt,
    prompt_variables,
    render,
    undeclared_variables,
    validation_context,
)
from tests.helpers import minimal, write_score


def prepared(tmp_path: Path, **overrides):
    loaded = load_score(write_score(tmp_path, minimal(**overrides)))
    return loaded, build_plan(loaded)


def test_builtins_win_over_user_variables(tmp_path: Path) -> None:
    loaded, plan = prepared(
        tmp_path,
        sheet={"size": 1, "total_items": 3, "fan_out": {2: 2}},
        prompt={"template": "x", "variables": {"sheet_num": 99, "topic": "cats"}, "stakes": "high"},
    )
    v = prompt_variables(plan, plan.sheet(3), loaded.score, "/ws")
    assert v["sheet_num"] == 3 and v["topic"] == "cats"
    assert (v["stage"], v["instance"], v["voice"], v["fan_count"], v["voice_count"]) == (
        2,
        2,
        2,
        2,
        2,
    )
    assert (v["total_stages"], v["total_movements"], v["total_sheets"]) == (3, 3, 4)
    assert v["stakes"] == "high" and v["thinking_method"] == ""
    assert v["previous_outputs"] == {} and v["skipped_upstream"] == []
    assert v["instrument_name"] == "claude_cli"


def test_render_with_macros_filters_and_loops(tmp_path: Path) -> None:
    text = (
        "{% macro item(n) %}- item {{ n }}{% endmacro %}"
        "{% for n in range(start_item, end_item + 1) %}{{ item(n) }}\n{% endfor %}"
        "{{ missing | default('none') }} {{ workspace }}\n"
    )
    loaded, plan = prepared(
        tmp_path, sheet={"size": 2, "total_items": 4}, prompt={"template": text}
    )
    out = render(compile_template(text), prompt_variables(plan, plan.sheet(2), loaded.score, "/ws"))
    assert out == "- item 3\n- item 4\nnone /ws\n"


def test_undefined_variable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="'nope' is undefined"):
        render(compile_template("{{ nope }}"), {})


def test_sandbox_blocks_python_internals() -> None:
    template = compile_template("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError):
        render(template, {})


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(TemplateError, match="line 2"):
        compile_template("ok\n{% if %}\n")
    with pytest.raises(TemplateError):
        undeclared_variables("{{ a ")


def test_undeclared_variables() -> None:
    names = undeclared_variables(
        "{% set x = 1 %}{{ x }}{{ y }}{% for i in items %}{{ i }}{% endfor %}"
    )
    assert names == {"y", "items"}


def test_default_prompt(tmp_path: Path) -> None:
    loaded, plan = prepared(
        tmp_path, sheet={"size": 5, "total_items": 12}, prompt={"stakes": "Be careful."}
    )
    assert (
        default_prompt(plan, plan.sheet(3), loaded.score)
        == "Processing sheet 3 of 3 (items 11-12)\n\nBe careful."
    )


def test_validation_context_includes_items_and_instance_one(tmp_path: Path) -> None:
    loaded, plan = prepared(
        tmp_path, prompt={"template": "x", "variables": {"workspace": "nope", "n": 1}}
    )
    ctx = validation_context(plan, plan.sheet(2), loaded.score, "/ws", "cli")
    assert ctx["workspace"] == "/ws" and ctx["instance"] == 1 and ctx["start_item"] == 2
    assert ctx["instrument_name"] == "cli" and ctx["n"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{workspace}/out-{sheet_num}.md", "/w/out-3.md"),
        ("{workspace}/part-{sheet_num:02d}.md", "/w/part-03.md"),
        ("{{literal}}/{workspace}", "{literal}//w"),
        ("no fields", "no fields"),
    ],
)
def test_format_fields(text: str, expected: str) -> None:
    assert format_fields(text, {"workspace": "/w", "sheet_num": 3}) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{missing}",
        "{}",
        "{0}",
        "{workspace.real}",
        "{workspace[0]}",
        "{workspace!r}",
        "{open",
        "close}",
    ],
)
def test_format_fields_errors(text: str) -> None:
    with pytest.raises(TemplateError):
        format_fields(text, {"workspace": "/w"})


INJECTIONS = [
    'x"; touch MARK; echo "',
    "$(touch MARK)",
    "`touch MARK`",
    "'; touch MARK; '",
    "-rf; touch MARK",
    '\\"; touch MARK #',
    "a\nb; touch MARK",
    "${IFS}touch${IFS}MARK",
]
COMMANDS = [
    "printf %s {value}",
    'printf %s "{value}"',
    "printf %s '{value}'",
    "printf %s $'{value}'",
    'printf %s "$(printf %s {value})"',
    'printf %s "`printf %s {value}`"',
    'v=`printf %s {value}`; printf %s "$v"',
    'printf %s "pre-{value}-post"',
    "test -n {value} && printf %s {value}",
]


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("command", COMMANDS)
def test_substituted_values_never_become_shell(tmp_path: Path, command: str, value: str) -> None:
    marker = tmp_path / "MARK"
    value = value.replace("MARK", str(marker))
    text, env = substitute_command(command, {"value": value})
    result = subprocess.run(
        ["bash", "-c", text],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert not marker.exists(), (command, text)
    assert value in result.stdout, (command, text, result.stdout, result.stderr)


def test_unknown_braces_are_left_alone() -> None:
    command = "awk '{print $1}' f; echo ${HOME:?unset} {nokey} {workspace}"
    text, env = substitute_command(command, {"workspace": "/w"})
    assert text == "awk '{print $1}' f; echo ${HOME:?unset} {nokey} \"${MZT_V_workspace}\""
    assert env == {"MZT_V_workspace": "/w"}


def test_bash_parameter_expansion_with_known_name_is_not_a_field() -> None:
    text, env = substitute_command("echo ${workspace}", {"workspace": "/w"})
    assert text == "echo ${workspace}" and env == {}


def test_display_and_fields() -> None:
    assert (
        display_command("cd {workspace} && pytest {x}", {"workspace": "/w"})
        == "cd /w && pytest {x}"
    )
    assert command_fields("cd {workspace} {sheet_num} {x}", ["workspace", "sheet_num"]) == {
        "workspace",
        "sheet_num",
    }


def test_nul_bytes_are_dropped_from_values() -> None:
    _, env = substitute_command("echo {v}", {"v": "a\0b"})
    assert env["MZT_V_v"] == "ab"


# --- hostile templates and fields: every expansion is bounded --------------------------------


@pytest.mark.parametrize(
    "text",
    ["{sheet_num:>100000000}", "{workspace:.5000}", "{sheet_num:0>4097d}", "{sheet_num:_<99999}"],
)
def test_format_fields_refuse_huge_widths(text: str) -> None:
    with pytest.raises(TemplateError, match="4096"):
        format_fields(text, {"sheet_num": 1, "workspace": "/ws"})


def test_format_fields_allow_widths_up_to_the_bound() -> None:
    assert format_fields("{sheet_num:0>4096}", {"sheet_num": 1}) == "0" * 4095 + "1"
    assert format_fields("{sheet_num:03d}", {"sheet_num": 7}) == "007"


def test_commands_refuse_huge_widths_but_display_them_as_written() -> None:
    with pytest.raises(TemplateError, match="4096"):
        substitute_command("test -f {sheet_num:>100000000}", {"sheet_num": 1})
    shown = display_command("test -f {sheet_num:>100000000}", {"sheet_num": 1})
    assert shown == "test -f {sheet_num:>100000000}"


HOSTILE_TEMPLATES = {
    "nested-loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "repeat": "{{ 'x' * 10**9 }}",
    "tilde-doubling": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s | length }}"
    ),
    "plus-doubling": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}{{ ns.s | length }}"
    ),
    "block-doubling": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set b %}{{ ns.s }}{{ ns.s }}"
        "{% endset %}{% set ns.s = b %}{% endfor %}{{ ns.s | length }}"
    ),
    "join": "{{ ([('x' * 1000000)] * 100000) | join }}",
    "join-method": "{{ ''.join([('x' * 1000000)] * 100000) }}",
    "output": "{% for i in range(100000) %}{{ 'x' * 1000000 }}{% endfor %}",
    "format-method": "{{ '{:>1000000000}'.format(1) }}",
    "format-nested": "{{ '{:>{w}}'.format(1, w=1000000000) }}",
    "percent": "{{ '%1000000000d' % 1 }}",
    "percent-star": "{{ '%*d' % (1000000000, 1) }}",
    "format-filter": "{{ '%.1000000000f' | format(1.5) }}",
    "center": "{{ 'x' | center(1000000000) }}",
    "center-method": "{{ 'x'.center(1000000000) }}",
    "replace": "{{ ('x' * 1000000) | replace('x', 'y' * 1000) }}",
    "indent": "{{ ('a\n' * 1000000) | indent(1000) }}",
    "batch": "{{ [1] | batch(1000000000, 0) | list | length }}",
    "slice": "{{ [1] | slice(1000000000) | list | length }}",
    "lipsum": "{{ lipsum(1000000) }}",
    "to-bytes": "{{ (1).to_bytes(1000000000, 'big') | length }}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(1) }}",
    "branching-recursion": (
        "{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}"
        "{{ f(0) }}"
    ),
    "big-int": "{% set ns = namespace(n=2**2000) %}{% for i in range(64) %}"
    "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n > 0 }}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_TEMPLATES))
def test_hostile_templates_stop_at_a_bound_quickly(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(compile_template(HOSTILE_TEMPLATES[name]), {}, seconds=2.0)
    assert caught.value.code == "E307", caught.value
    assert time.monotonic() - started < 4
    assert len(str(caught.value)) < 300


def test_ordinary_templates_are_unaffected() -> None:
    text = (
        "{% for i in range(3) %}{{ loop.index }}{{ '%03d' % i }}{{ '{:>5}'.format(i) }}"
        "{{ 'ab' ~ i }}{% endfor %}{{ 'x' | center(9) }}{{ [1, 2] | join(',') }}"
        "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ n }}{% endif %}{% endmacro %}{{ m(20) }}"
        "{% for x in [[1, 2], [3]] recursive %}{{ loop(x) if x is iterable else x }}{% endfor %}"
    )
    out = render(compile_template(text), {})
    assert out.startswith("1000    0ab0")
    assert "1,2" in out and out.endswith("123")


def test_a_time_budget_turns_into_a_prompt_error() -> None:
    text = (
        "{% macro f(n) %}{% if n < 50 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}"
        "{{ f(0) }}"
    )
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"0\.5 s") as caught:
        render(compile_template(text), {}, seconds=0.5)
    assert caught.value.code == "E307"
    assert time.monotonic() - started < 3


def test_a_stop_request_ends_the_render_with_render_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not the loop cap but the stop request must end it, however fast the machine loops.
    monkeypatch.setattr(bounds, "MAX_ITERATIONS", 10**12)
    calls: list[float] = []

    def stop() -> bool:
        calls.append(time.monotonic())
        return len(calls) > 3

    text = HOSTILE_TEMPLATES["nested-loops"]
    started = time.monotonic()
    with pytest.raises(RenderStopped):
        render(compile_template(text), {}, seconds=60.0, stop=stop)
    assert time.monotonic() - started < 2


# Texts Jinja would leave alone, and near misses it would not: every character that takes
# part in Jinja's syntax, whitespace control and newline handling appears in some of them.
_PLAIN_ALPHABET = "ab %#}-+()[]'\"\\\n\t|=é"


def _jinja_render(text: str) -> str:
    from mzt.score.templating import environment

    return environment().from_string(text).render()


def test_a_text_without_markup_renders_to_itself_as_jinja_renders_it() -> None:
    import random

    from mzt.score.templating import PlainText

    rng = random.Random(7)
    texts = ["", "true", "echo done\n", "\n\n", "50% done # not a comment -}", "a}}b%}c#}"]
    texts += ["".join(rng.choices(_PLAIN_ALPHABET, k=rng.randint(1, 60))) for _ in range(300)]
    for text in texts:
        template = compile_template(text)
        assert isinstance(template, PlainText), text
        assert render(template, {"unused": 1}) == _jinja_render(text) == text, repr(text)
        assert undeclared_variables(text) == set()


@pytest.mark.parametrize("text", ["{{ x }}", "a {# note #} b", "{% if 1 %}y{% endif %}", "a\r\nb"])
def test_markup_and_carriage_returns_go_through_jinja(text: str) -> None:
    from mzt.score.templating import PlainText

    assert not isinstance(compile_template(text), PlainText)
    assert render(compile_template(text), {"x": "v"}) == _jinja_render(text.replace("{{ x }}", "v"))


def test_a_plain_text_over_the_output_bound_is_refused_as_a_rendered_one_is() -> None:
    text = "x" * (bounds.MAX_OUTPUT + 1)
    with pytest.raises(TemplateError) as plain:
        render(compile_template(text), {})
    with pytest.raises(TemplateError) as rendered:
        render(compile_template("{{ 'x' }}" + text[1:]), {})
    assert plain.value.code == rendered.value.code == bounds.LIMIT_CODE
    assert str(plain.value) == str(rendered.value)


def test_rendering_a_plain_text_loads_no_jinja() -> None:
    code = (
        "import sys\n"
        "from mzt.score.templating import compile_template, loop_product, render\n"
        "assert render(compile_template('true'), {}) == 'true'\n"
        "assert loop_product('true') == 1\n"
        "print(sorted(m for m in sys.modules if m.startswith('jinja2')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
