"""End to end: tokens and cost are recorded, and cost limits pause the job."""

from __future__ import annotations

import yaml

from tests.e2e.conftest import Project

JSON_OUTPUT = {
    "format": "json",
    "result_path": "result",
    "input_tokens_path": "usage.input_tokens",
    "output_tokens_path": "usage.output_tokens",
}


def priced_fake(project: Project) -> None:
    project.fake_profile(output=JSON_OUTPUT)
    path = project.home / "instruments" / "fake.yaml"
    profile = yaml.safe_load(path.read_text())
    profile["models"] = [
        {
            "name": "fake-1",
            "context_window": 1000,
            "cost_per_1k_input": 1.0,
            "cost_per_1k_output": 2.0,
        }
    ]
    profile["default_model"] = "fake-1"
    path.write_text(yaml.safe_dump(profile))


def score(project: Project, **extra: object) -> dict[str, object]:
    ws = "{{ workspace }}"
    return {
        "name": "job",
        "instrument": "fake",
        "sheet": {"size": 1, "total_items": 3},
        "prompt": {
            "template": f"FAKE: write {ws}/s{{{{ sheet_num }}}} x\nFAKE: json answer {{{{ sheet_num }}}}\n"
        },
        "validations": [{"type": "file_exists", "path": "{workspace}/s{sheet_num}"}],
        **extra,
    }


def test_tokens_and_cost_are_recorded(project: Project) -> None:
    priced_fake(project)
    result = project.mzt("run", project.score(score(project)))
    assert result.returncode == 0, result.stderr
    state = project.state("job")
    # 12 input and 34 output tokens per attempt at $1 and $2 per 1,000
    assert state["total_input_tokens"] == 36 and state["total_output_tokens"] == 102
    assert abs(state["total_estimated_cost"] - 3 * 0.080) < 1e-9
    sheet = project.sheets("job")[1]
    assert (sheet["input_tokens"], sheet["output_tokens"], sheet["cost_confidence"]) == (
        12,
        34,
        1.0,
    )
    output = project.workspace / ".marianne" / "outputs" / "job" / "sheet-2.md"
    assert output.read_text() == "answer 2"  # the parsed result, not the raw JSON


def test_a_job_cost_limit_pauses_with_exit_3(project: Project) -> None:
    priced_fake(project)
    data = score(project, cost_limits={"max_cost_per_job": 0.1, "warn_at_percent": 50})
    result = project.mzt("run", project.score(data))
    assert result.returncode == 3, result.stderr
    state = project.state("job")
    assert state["status"] == "paused" and state["cost_limit_reached"] is True
    assert "Cost limit" in state["error_message"]
    assert "80% of its $0.1000 limit" in result.stdout  # the warning, once past 50%
    done = [n for n, s in project.sheets("job").items() if s["status"] == "completed"]
    assert done == [1, 2]


def test_a_sheet_cost_limit(project: Project) -> None:
    priced_fake(project)
    data = score(project, cost_limits={"max_cost_per_sheet": 0.05})
    result = project.mzt("run", project.score(data))
    assert result.returncode == 3
    assert "sheet 1" in project.state("job")["error_message"]
