"""The workflow parser: the seed's release.yml, positions, and clear errors for bad files."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cargohold.workflow.model import job_order, parse
from cargohold.workflow.source import WorkflowError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "workflow"


def test_seed_release_yml() -> None:
    text = (FIXTURES / "release.yml").read_text()
    wf = parse(text, "release.yml")
    assert wf.name == "release"
    # `on` stays a string key (PyYAML would make it True).
    assert list(wf.triggers) == ["release"]
    assert wf.triggers["release"].types == ("published",)
    assert wf.env == {"DOCKER_BASE_NAME": "ghcr.io/${{ github.repository }}"}
    job = wf.jobs["build-and-push"]
    assert job.runs_on == "ubuntu-latest"
    assert job.permissions == {"contents": "read", "packages": "write"}
    assert job.permissions_pos is not None and (
        job.permissions_pos.line,
        job.permissions_pos.col,
    ) == (15, 5)
    assert [s.uses for s in job.steps] == [
        "actions/checkout@v2",
        "docker/login-action@v2",
        "docker/build-push-action@v3",
    ]
    login = job.steps[1]
    assert login.name == "Login to GitHub Container Registry"
    assert login.with_["password"] == "${{ secrets.GITHUB_TOKEN }}"
    assert login.with_pos["password"].line == 27
    build = job.steps[2]
    assert build.with_["push"] == "true"  # YAML true, as GitHub passes it to the action
    assert build.with_["tags"].splitlines() == [
        "${{ env.DOCKER_BASE_NAME }}:${{ github.event.release.tag_name }}",
        "${{ env.DOCKER_BASE_NAME }}:latest            ",
    ]
    assert str(build.pos) == "release.yml:29:9"


FULL = """
name: ci
on:
  push:
    branches: [main, 'releases/**']
    tags: ['v*']
  workflow_dispatch:
    inputs:
      level: {default: info}
env: {A: 1, B: true}
permissions: read-all
defaults:
  run: {shell: sh, working-directory: app}
concurrency: ci-${{ github.ref }}
jobs:
  test:
    runs-on: [self-hosted, linux]
    strategy:
      fail-fast: false
      matrix:
        py: ['3.11', '3.12']
        include: [{py: '3.13', experimental: true}]
    steps:
      - run: echo hi
        id: hi
        shell: bash
        env: {X: y}
        if: always()
        continue-on-error: true
        timeout-minutes: 5
        working-directory: sub
  release:
    needs: test
    if: github.ref_type == 'tag'
    permissions: {packages: write}
    outputs: {digest: '${{ steps.b.outputs.digest }}'}
    steps:
      - {uses: ./local, with: {x: 1}}
"""


def test_every_supported_key() -> None:
    wf = parse(FULL, "ci.yml")
    assert wf.triggers["push"].branches == ("main", "releases/**")
    assert wf.triggers["push"].tags == ("v*",)
    assert wf.triggers["workflow_dispatch"].inputs == {"level": {"default": "info"}}
    assert wf.env == {"A": "1", "B": "true"}
    assert wf.permissions == "read-all"
    assert wf.defaults_run == {"shell": "sh", "working-directory": "app"}
    assert wf.concurrency == "ci-${{ github.ref }}"
    test = wf.jobs["test"]
    assert test.fail_fast is False
    assert test.matrix["py"] == ["3.11", "3.12"]
    step = test.steps[0]
    assert (step.id, step.shell, step.if_, step.continue_on_error, step.timeout_minutes) == (
        "hi",
        "bash",
        "always()",
        "true",
        "5",
    )
    assert step.working_directory == "sub" and step.env == {"X": "y"}
    release = wf.jobs["release"]
    assert release.needs == ("test",)
    assert release.fail_fast is True and release.max_parallel is None
    assert release.outputs == {"digest": "${{ steps.b.outputs.digest }}"}
    assert job_order(wf) == ["test", "release"]


def test_strategy_values_and_expressions_are_kept() -> None:
    text = (
        "on: push\njobs:\n  a:\n    timeout-minutes: ${{ inputs.t }}\n    strategy:\n"
        "      max-parallel: 2\n      fail-fast: ${{ inputs.ff }}\n    steps: [{run: x}]\n"
        "  b:\n    strategy: {max-parallel: '${{ inputs.n }}'}\n    steps: [{run: x}]\n"
    )
    jobs = parse(text, "w.yml").jobs
    assert (jobs["a"].max_parallel, jobs["a"].fail_fast) == (2, "${{ inputs.ff }}")
    assert jobs["a"].timeout_minutes == "${{ inputs.t }}"
    assert jobs["b"].max_parallel == "${{ inputs.n }}"


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("jobs: {a: {steps: [{run: x}]}}", "has no 'on:'", "1:1"),
        ("on: push\n", "has no 'jobs:'", "1:1"),
        (
            "on: push\njobs:\n  a:\n    steps:\n      - run: x\n        uses: y@v1\n",
            "exactly one of 'uses' or 'run'",
            "5:9",
        ),
        ("on: push\njobs:\n  a:\n    stepz: []\n", "unexpected key 'stepz'", "4:5"),
        (
            "on: push\njobs:\n  a:\n    needs: b\n    steps: [{run: x}]\n",
            "needs unknown job 'b'",
            "3:3",
        ),
        (
            "on: push\njobs:\n  a: {needs: b, steps: [{run: x}]}\n"
            "  b: {needs: a, steps: [{run: x}]}\n",
            "cycle",
            "",
        ),
        (
            "on: push\njobs:\n  a:\n    steps: [{run: x, id: s}, {run: y, id: s}]\n",
            "step id 's' is used twice",
            "",
        ),
        ("on: [push\n", "invalid YAML", ""),
        ("- a\n- b\n", "must be a mapping", "1:1"),
        ("on: push\njobs:\n  a:\n    steps: [{run: x}]\n  a: {steps: []}\n", "invalid YAML", ""),
        ("on: push\njobs:\n  1a: {steps: [{run: x}]}\n", "job id '1a'", "3:3"),
        (
            "on: push\njobs:\n  a:\n    strategy: {max-parallel: 0}\n    steps: [{run: x}]\n",
            "strategy.max-parallel must be a positive whole number or an expression",
            "4:30",
        ),
        (
            "on: push\njobs:\n  a:\n    strategy: {max-parallel: two}\n    steps: [{run: x}]\n",
            "not 'two'",
            "4:30",
        ),
        (
            "on: push\njobs:\n  a:\n    strategy: {max-parallel: true}\n    steps: [{run: x}]\n",
            "strategy.max-parallel",
            "4:30",
        ),
        (
            "on: push\njobs:\n  a:\n    strategy: {fail-fast: 'no'}\n    steps: [{run: x}]\n",
            "strategy.fail-fast must be true, false or an expression",
            "4:27",
        ),
    ],
)
def test_errors_name_file_line_and_column(text: str, message: str, where: str) -> None:
    with pytest.raises(WorkflowError) as info:
        parse(text, "w.yml")
    rendered = str(info.value)
    assert message in rendered
    assert rendered.startswith(f"w.yml:{where}" if where else "w.yml:")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes_the_parser(text: str) -> None:
    with contextlib.suppress(WorkflowError):
        parse(text, "x.yml")


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(_yaml_values)
def test_arbitrary_structures_never_crash_the_parser(value: object) -> None:
    import json

    # JSON is YAML: any structure, placed where a workflow's parts go.
    for text in (
        json.dumps({"on": value, "jobs": {"a": {"steps": [{"run": "x"}]}}}),
        json.dumps({"on": "push", "jobs": {"a": value}}),
        json.dumps({"on": "push", "jobs": {"a": {"steps": [value]}}}),
        json.dumps({"on": "push", "permissions": value, "jobs": {"a": {"steps": value}}}),
    ):
        with contextlib.suppress(WorkflowError):
            parse(text, "x.yml")
