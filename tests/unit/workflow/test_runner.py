"""The runner without a registry: steps, file commands, conditions, needs, matrices, actions,
and the job token's life (minted with the computed permissions, masked, always revoked).

Job tokens come from an in-memory issuer that records what it was asked; steps run in real
shells in a temporary work directory.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cargohold.workflow.events import EventSpec, github_context, make_event
from cargohold.workflow.log import Log
from cargohold.workflow.model import parse
from cargohold.workflow.runner import RunEnv, expand_matrix, run_workflow
from cargohold.workflow.source import WorkflowError
from support.workflow_run import FakeIssuer, run_text


def test_file_commands_outputs_env_path_and_summary(tmp_path: Path) -> None:
    text = """
on: push
env: {GREETING: hello}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: first
        run: |
          echo "FROM_STEP=set by step 1" >> "$GITHUB_ENV"
          {
            echo "multi<<EOF"
            echo "line one"
            echo "line two"
            echo "EOF"
          } >> "$GITHUB_OUTPUT"
          echo "single=${{ env.GREETING }} world" >> "$GITHUB_OUTPUT"
          mkdir -p "$RUNNER_TEMP/bin"
          printf '#!/bin/sh\\necho tool ran\\n' > "$RUNNER_TEMP/bin/mytool"
          chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
          echo "### Summary from a step" >> "$GITHUB_STEP_SUMMARY"
      - run: |
          echo "env: $FROM_STEP"
          echo "out: ${{ steps.first.outputs.single }}"
          echo "multi: ${{ steps.first.outputs.multi }}" | head -1
          mytool
          echo "repo=$GITHUB_REPOSITORY ref=$GITHUB_REF sha=$GITHUB_SHA ci=$CI"
"""
    result, log, _ = run_text(text, tmp_path)
    assert result.ok, log
    assert "env: set by step 1" in log
    assert "out: hello world" in log
    assert "multi: line one" in log
    assert "tool ran" in log
    assert "repo=acme/shop ref=refs/tags/v1.2.3" in log
    assert "### Summary from a step" in log
    assert result.jobs[0].steps[0].outputs == {
        "multi": "line one\nline two",
        "single": "hello world",
    }


def test_conditions_continue_on_error_and_failure(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  a:
    steps:
      - id: soft
        run: exit 3
        continue-on-error: true
      - run: >-
          echo "after soft failure outcome=${{ steps.soft.outcome }}
          conclusion=${{ steps.soft.conclusion }}"
      - run: exit 1
      - run: echo "must not run"
      - if: failure()
        run: echo "cleanup on failure"
      - if: always()
        run: echo "always runs"
      - if: github.ref == 'refs/heads/nope'
        run: echo "never"
"""
    result, log, issuer = run_text(text, tmp_path)
    assert not result.ok
    assert "after soft failure outcome=failure conclusion=success" in log
    assert "\nmust not run\n" not in log
    assert "cleanup on failure" in log and "always runs" in log
    assert "Process completed with exit code 1." in log
    outcomes = [(s.outcome, s.conclusion) for s in result.jobs[0].steps]
    assert outcomes == [
        ("failure", "success"),
        ("success", "success"),
        ("failure", "failure"),
        ("skipped", "skipped"),
        ("success", "success"),
        ("success", "success"),
        ("skipped", "skipped"),
    ]
    # The token was revoked although the job failed.
    assert issuer.revoked == [issuer.secrets[0][:10]]


def test_token_minted_with_exact_permissions_masked_and_revoked(tmp_path: Path) -> None:
    text = """
on: push
permissions: write-all
jobs:
  narrowed:
    permissions: {contents: read, packages: write}
    steps:
      - run: echo "token=${{ secrets.GITHUB_TOKEN }} also=$T"
        env: {T: "${{ github.token }}"}
  inherits:
    steps:
      - run: echo ok
  nothing:
    permissions: {}
    steps:
      - run: echo ok
"""
    result, log, issuer = run_text(text, tmp_path)
    assert result.ok, log
    assert [m[1] for m in issuer.minted] == [
        {"packages": "write", "contents": "read", "metadata": "read"},
        {"packages": "write", "contents": "write", "metadata": "read"},
        {"packages": "none", "contents": "none", "metadata": "read"},
    ]
    assert len(issuer.revoked) == 3
    for secret in issuer.secrets:
        assert secret not in log
    assert "token=*** also=***" in log
    assert "GITHUB_TOKEN Permissions\n  Contents: read\n  Metadata: read\n  Packages: write" in log


def test_owner_default_without_any_block(tmp_path: Path) -> None:
    text = "on: push\njobs:\n  a:\n    steps: [{run: echo ok}]\n"
    _, log, issuer = run_text(text, tmp_path, issuer=FakeIssuer("permissive"))
    # No block: the server applies the owner's default; the runner prints what GitHub would.
    assert issuer.minted[0][1] is None
    assert "  Packages: write\n" in log and "  PullRequests: write\n" in log


def test_fork_pull_request_gets_at_most_read(tmp_path: Path) -> None:
    text = (
        "on: pull_request\njobs:\n  a:\n    permissions: {packages: write}\n"
        "    steps: [{run: echo ok}]\n"
    )
    workflow = parse(text, "wf.yml")
    spec = EventSpec(
        name="pull_request",
        repository="acme/shop",
        actor="eve",
        payload={"pull_request": {"head": {"repo": {"full_name": "eve/shop", "fork": True}}}},
    )
    ev = make_event(spec)
    issuer = FakeIssuer()
    out = io.StringIO()
    env = RunEnv(
        event=ev, context_dir=tmp_path, work_root=tmp_path, issuer=issuer, log=Log(out=out)
    )
    env.github = github_context(ev, workspace=str(tmp_path), run_id="1")
    run_workflow(workflow, env)
    assert issuer.minted == [
        ("acme/shop", {"packages": "read", "contents": "none", "metadata": "read"}, True)
    ]


def test_mint_failure_fails_the_job_without_running_steps(tmp_path: Path) -> None:
    text = "on: push\njobs:\n  a:\n    steps: [{run: echo should-not-run}]\n"
    result, log, _ = run_text(text, tmp_path, issuer=FakeIssuer(fail=True))
    assert not result.ok
    assert "should-not-run" not in log.split("=== Summary ===")[0].replace("Run echo", "")
    assert "unauthenticated: bad runner" in log


def test_needs_outputs_and_skips(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  build:
    outputs: {version: "${{ steps.v.outputs.version }}"}
    steps:
      - id: v
        run: echo "version=1.2.3" >> "$GITHUB_OUTPUT"
  release:
    needs: build
    steps:
      - run: echo "releasing ${{ needs.build.outputs.version }} (${{ needs.build.result }})"
  broken:
    steps: [{run: exit 1}]
  after-broken:
    needs: broken
    steps: [{run: echo never}]
  report:
    needs: [broken]
    if: always()
    steps:
      - run: echo "broken was ${{ needs.broken.result }}"
"""
    result, log, _ = run_text(text, tmp_path)
    assert "releasing 1.2.3 (success)" in log
    assert "broken was failure" in log
    outcomes = {j.job_id: j.outcome for j in result.jobs}
    assert outcomes == {
        "build": "success",
        "release": "success",
        "broken": "failure",
        "after-broken": "skipped",
        "report": "success",
    }


def test_only_job_runs_it_and_what_it_needs(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  a: {steps: [{run: echo A-ran}]}
  b: {needs: a, steps: [{run: echo B-ran}]}
  c: {steps: [{run: echo C-ran}]}
"""
    result, log, _ = run_text(text, tmp_path, only_job="b")
    assert [j.job_id for j in result.jobs] == ["a", "b"]
    assert "C-ran" not in log


def test_matrix_runs_each_combination(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  t:
    strategy:
      matrix:
        os: [linux, mac]
        py: ['3.11', '3.12']
        exclude: [{os: mac, py: '3.11'}]
        include: [{os: linux, extra: yes}]
    steps: [{run: "echo combo ${{ matrix.os }}-${{ matrix.py }}-${{ matrix.extra }}"}]
"""
    result, log, issuer = run_text(text, tmp_path)
    assert [j.title for j in result.jobs] == [
        "t (linux, 3.11, yes)",
        "t (linux, 3.12, yes)",
        "t (mac, 3.12)",
    ]
    assert "combo mac-3.12-" in log
    assert len(issuer.minted) == len(issuer.revoked) == 3


@pytest.mark.parametrize(
    ("matrix", "expected"),
    [
        (None, [{}]),
        ({"a": [1, 2]}, [{"a": 1}, {"a": 2}]),
        ({"a": [1, 2], "exclude": [{"a": 1}]}, [{"a": 2}]),
        # include extends combos whose original values it does not overwrite ...
        ({"a": [1, 2], "include": [{"a": 1, "b": "x"}]}, [{"a": 1, "b": "x"}, {"a": 2}]),
        # ... and becomes its own combination when it fits none.
        ({"a": [1], "include": [{"a": 3}]}, [{"a": 1}, {"a": 3}]),
        ({"include": [{"x": 1}, {"x": 2}]}, [{"x": 1}, {"x": 2}]),
        # GitHub's documented example: include may overwrite values added by an earlier one.
        (
            {
                "fruit": ["apple", "pear"],
                "animal": ["cat", "dog"],
                "include": [
                    {"color": "green"},
                    {"color": "pink", "animal": "cat"},
                    {"fruit": "apple", "shape": "circle"},
                    {"fruit": "banana"},
                    {"fruit": "banana", "animal": "cat"},
                ],
            },
            [
                {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
                {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
                {"fruit": "pear", "animal": "cat", "color": "pink"},
                {"fruit": "pear", "animal": "dog", "color": "green"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"},
            ],
        ),
    ],
)
def test_expand_matrix(matrix: Any, expected: list[dict[str, Any]]) -> None:
    assert expand_matrix(matrix) == expected


def test_composite_local_action(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    action = checkout / ".github" / "actions" / "greet"
    action.mkdir(parents=True)
    (action / "action.yml").write_text(
        """
name: greet
inputs:
  who: {required: true}
  punctuation: {default: "!"}
outputs:
  greeting: {value: "${{ steps.say.outputs.text }}"}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      run: echo "text=hello ${{ inputs.who }}${{ inputs.punctuation }}" >> "$GITHUB_OUTPUT"
"""
    )
    text = """
on: push
jobs:
  a:
    steps:
      - uses: actions/checkout@v4
      - id: g
        uses: ./.github/actions/greet
        with: {who: world}
      - run: echo "got ${{ steps.g.outputs.greeting }}"
"""
    result, log, _ = run_text(text, tmp_path, context=checkout)
    assert result.ok, log
    assert "got hello world!" in log


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_action_from_an_actions_source(tmp_path: Path) -> None:
    # A bare git repository stands in for github.com/acme/hello-action.
    src = tmp_path / "src"
    src.mkdir()
    (src / "action.yml").write_text(
        "name: hello\ninputs: {name: {default: you}}\nruns: {using: node20, main: index.js}\n"
    )
    (src / "index.js").write_text(
        "const fs = require('fs');\n"
        "const name = process.env.INPUT_NAME;\n"
        "console.log('hello from node, ' + name);\n"
        "fs.appendFileSync(process.env.GITHUB_OUTPUT, 'said=hi ' + name + '\\n');\n"
    )
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(src)], check=True)
    subprocess.run([*git, "-C", str(src), "add", "."], check=True)
    subprocess.run([*git, "-C", str(src), "commit", "-qm", "action"], check=True)
    subprocess.run([*git, "-C", str(src), "tag", "v1"], check=True)
    bare = tmp_path / "actions" / "acme" / "hello-action"
    bare.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)
    text = """
on: push
jobs:
  a:
    steps:
      - id: h
        uses: acme/hello-action@v1
        with: {name: cargohold}
      - run: echo "output ${{ steps.h.outputs.said }}"
      - uses: acme/missing-action@v1
"""
    result, log, _ = run_text(text, tmp_path, actions_source=f"file://{tmp_path / 'actions'}")
    assert "hello from node, cargohold" in log
    assert "output hi cargohold" in log
    assert "uses: acme/missing-action@v1: cannot fetch it" in log
    assert "built in: actions/checkout, docker/setup-buildx-action" in log
    assert not result.ok


def test_unrunnable_actions_fail_saying_why(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  a:
    steps:
      - uses: docker://alpine:3
        continue-on-error: true
      - uses: ./nowhere
        continue-on-error: true
      - uses: actions/checkout
        continue-on-error: true
      - uses: docker/setup-buildx-action@v3
      - uses: docker/setup-qemu-action@v3
"""
    result, log, _ = run_text(text, tmp_path)
    assert result.ok, log
    assert "container actions need a container runtime" in log
    assert "uses: ./nowhere: no such directory in the workspace" in log
    assert "needs a version (owner/repo@ref)" in log
    assert "Nothing to set up: cargohold builds images itself" in log


def test_expression_errors_name_file_and_line(tmp_path: Path) -> None:
    text = 'on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ github.ref == "x" }}\n'
    result, log, issuer = run_text(text, tmp_path)
    assert not result.ok
    assert "wf.yml:5:" in log
    assert issuer.revoked, "the token is revoked after an expression error too"


def test_workflow_commands_from_steps(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  a:
    steps:
      - run: |
          echo "::add-mask::hunter2-password"
          echo "the password is hunter2-password"
          echo "::group::Details"
          echo "inside"
          echo "::endgroup::"
          echo "::error file=app.py,line=7::it broke"
"""
    _, log, _ = run_text(text, tmp_path)
    # The script itself is shown before it runs (as GitHub does); what it prints is masked.
    assert "\nthe password is ***\n" in log
    assert "\nthe password is hunter2-password\n" not in log
    assert "##[group]Details" in log
    assert "##[error]app.py:7: it broke" in log
    assert "Error: app.py:7: it broke" in log.split("=== Summary ===")[1]


def test_shells_and_working_directory(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "sub").mkdir(parents=True)
    text = """
on: push
defaults:
  run: {shell: sh}
jobs:
  a:
    steps:
      - uses: actions/checkout@v4
      - run: echo "sh in $(basename "$PWD")"
        working-directory: sub
      - shell: python
        run: |
          import os
          print("python says", os.environ["GITHUB_JOB"])
      - run: exit 0
        shell: bash
        timeout-minutes: 1
"""
    result, log, _ = run_text(text, tmp_path, context=checkout)
    assert result.ok, log
    assert "sh in sub" in log
    assert "python says a" in log


def test_hash_files_sees_the_workspace(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "a.txt").write_text("a\n")
    text = """
on: push
jobs:
  a:
    steps:
      - uses: actions/checkout@v4
      - run: echo "hash=${{ hashFiles('**/*.txt') }} none=[${{ hashFiles('*.nope') }}]"
"""
    result, log, _ = run_text(text, tmp_path, context=checkout)
    assert result.ok, log
    line = next(x for x in log.splitlines() if x.startswith("hash="))
    assert len(line.split()[0]) == len("hash=") + 64
    assert line.endswith("none=[]")


FAIL_FAST = """
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    strategy:
      FAST
      matrix:
        v: [1, 2, 3]
    steps:
      - env: {IDX: "${{ strategy.job-index }}/${{ strategy.job-total }}"}
        run: |
          echo "ran-$((${{ matrix.v }} * 10)) index=$IDX"
          test ${{ matrix.v }} != 1
  after:
    needs: t
    if: always()
    runs-on: ubuntu-latest
    steps: [{run: "echo t was ${{ needs.t.result }}"}]
"""


def test_fail_fast_cancels_the_queued_matrix_jobs(tmp_path: Path) -> None:
    result, log, issuer = run_text(FAIL_FAST.replace("FAST", ""), tmp_path)
    assert [(j.title, j.outcome) for j in result.jobs] == [
        ("t (1)", "failure"),
        ("t (2)", "cancelled"),
        ("t (3)", "cancelled"),
        ("after", "success"),
    ]
    assert "ran-10 index=0/3" in log
    assert "ran-20" not in log and "ran-30" not in log
    assert (
        "Cancelled: t (2) before it started: "
        "The strategy configuration was canceled because 't (1)' failed (fail-fast)"
    ) in log
    assert "t was failure" in log
    # The cancelled jobs never started: no token was minted for them.
    assert len(issuer.minted) == len(issuer.revoked) == 2
    assert "job t (3): CANCELLED" in log


@pytest.mark.parametrize(
    "fast", ["fail-fast: false", "fail-fast: ${{ github.event_name != 'push' }}"]
)
def test_without_fail_fast_every_matrix_job_runs(tmp_path: Path, fast: str) -> None:
    result, log, _ = run_text(FAIL_FAST.replace("FAST", fast), tmp_path)
    assert [j.outcome for j in result.jobs] == ["failure", "success", "success", "success"]
    assert "ran-20 index=1/3" in log and "ran-30 index=2/3" in log
    assert not result.ok


def test_a_continue_on_error_job_neither_fails_fast_nor_fails_the_run(tmp_path: Path) -> None:
    text = FAIL_FAST.replace("FAST", "").replace(
        "    strategy:", "    continue-on-error: ${{ matrix.v == 1 }}\n    strategy:"
    )
    result, log, _ = run_text(text, tmp_path)
    assert [j.outcome for j in result.jobs] == ["failure", "success", "success", "success"]
    assert "ran-30" in log
    assert result.ok, log
    assert "job t (1): FAILED (continue-on-error)" in log
    assert "outcome: success" in log


def test_max_parallel_is_in_the_strategy_context(tmp_path: Path) -> None:
    text = """
on: workflow_dispatch
jobs:
  t:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: ${{ inputs.width }}
      fail-fast: false
      matrix: {v: [1, 2, 3]}
    steps: [{run: "echo width=$((${{ strategy.max-parallel }} + 0)) ff=${{ strategy.fail-fast }}"}]
"""
    result, log, _ = run_text(text, tmp_path, event="workflow_dispatch", inputs={"width": "2"})
    assert result.ok, log
    assert log.count("width=2 ff=false") == 3
    assert "strategy: max-parallel 2; 1 at a time here (--parallel 1)" in log


@pytest.mark.parametrize("width", ["0", "two", "1.5", "-3"])
def test_max_parallel_expression_must_give_a_positive_whole_number(
    tmp_path: Path, width: str
) -> None:
    text = """
on: workflow_dispatch
jobs:
  t:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: ${{ inputs.width }}
      matrix: {v: [1, 2]}
    steps: [{run: echo hi}]
"""
    with pytest.raises(WorkflowError, match=r"max-parallel .* is not a positive whole number"):
        run_text(text, tmp_path, event="workflow_dispatch", inputs={"width": width})


def test_parallel_matrix_jobs_run_side_by_side_within_max_parallel(tmp_path: Path) -> None:
    # Each job waits until two have started: it passes only when two run at once.
    seen = tmp_path / "seen"
    seen.mkdir()
    text = """
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 2
      matrix: {v: [1, 2, 3]}
    steps:
      - run: |
          touch "${{ vars.DIR }}/started-${{ matrix.v }}"
          for _ in $(seq 300); do
            [ "$(ls "${{ vars.DIR }}" | wc -l)" -ge 2 ] && break
            sleep 0.1
          done
          echo "job-${{ matrix.v }} saw $(ls "${{ vars.DIR }}" | wc -l)"
"""
    result, log, issuer = run_text(text, tmp_path, parallel=3, vars={"DIR": str(seen)})
    assert result.ok, log
    assert "strategy: max-parallel 2; 2 at a time here (--parallel 3)" in log
    assert "job-1 saw 2" in log or "job-1 saw 3" in log
    assert "job-1 saw 1" not in log and "job-2 saw 1" not in log
    assert "job-3 saw 3" in log
    assert len(issuer.minted) == len(issuer.revoked) == 3
    # Each job's log is whole: its set-up, steps and end are not interleaved with another's.
    for v in (1, 2, 3):
        chunk = log[log.index(f"job-{v} saw") :]
        next_setup = chunk.find("##[group]Set up job")
        assert chunk.index(f"Job t ({v}): success") < (len(chunk) if next_setup < 0 else next_setup)


def test_fail_fast_cancels_a_matrix_job_in_progress(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    text = """
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    strategy:
      matrix: {v: [1, 2]}
    steps:
      - run: |
          if [ ${{ matrix.v }} = 1 ]; then
            # fail once job 2 is running
            for _ in $(seq 300); do [ -e "${{ vars.DIR }}/two" ] && exit 1; sleep 0.1; done
            exit 1
          fi
          touch "${{ vars.DIR }}/two"
          sleep 60
          echo "slept-$((1 + 1))"
      - if: always()
        run: echo "always-${{ matrix.v }}-$((1 + 1)) ${{ job.status }}"
"""
    result, log, issuer = run_text(text, tmp_path, parallel=2, vars={"DIR": str(marks)})
    assert [j.outcome for j in result.jobs] == ["failure", "cancelled"], log
    assert "slept-2" not in log
    assert "always-2-2 cancelled" in log
    assert "always-1-2 failure" in log
    assert "The strategy configuration was canceled because 't (1)' failed (fail-fast)" in log
    assert len(issuer.revoked) == 2
