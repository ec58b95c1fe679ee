"""Node actions' ``pre`` and ``post`` scripts, as GitHub runs them.

``pre`` scripts run before the job's first step, in step order, when ``pre-if`` (default
``always()``) holds; ``post`` scripts run after the last step, in reverse, each only when its
main step ran, when ``post-if`` (default ``always()``) holds for the job's status by then.
The three phases of one action share its state (``GITHUB_STATE``/``save-state`` ->
``STATE_<name>``). Actions come from bare git repositories standing in for github.com.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cargohold.workflow.runner import RunResult
from support.workflow_run import run_text

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

# A phase prints "<tag>:<phase> who=<input> state=<STATE_* seen>" and saves "<phase>=1".
PHASE_JS = """
const fs = require('fs');
const state = Object.keys(process.env).filter(k => k.startsWith('STATE_')).sort()
  .map(k => k + '=' + process.env[k]).join(',');
console.log(`${process.env.INPUT_TAG}:PHASE who=${process.env.INPUT_WHO} state=${state}`);
fs.appendFileSync(process.env.GITHUB_STATE, 'PHASE=1\\n');
if (process.env.INPUT_FAIL === 'PHASE') { process.exit(3); }
"""


def publish(tmp_path: Path, name: str, runs: str, *, legacy_state: bool = False) -> None:
    """A node action ``acme/<name>@v1`` under ``tmp_path/actions`` (the actions source)."""
    src = tmp_path / "src" / name
    src.mkdir(parents=True)
    (src / "action.yml").write_text(
        f"name: {name}\n"
        "inputs: {tag: {default: x}, who: {default: nobody}, fail: {default: ''}}\n"
        f"runs:\n  using: node20\n{runs}"
    )
    for phase in ("pre", "main", "post"):
        js = PHASE_JS.replace("PHASE", phase)
        if legacy_state and phase == "main":
            js = js.replace(
                "fs.appendFileSync(process.env.GITHUB_STATE, 'main=1\\n');",
                "console.log('::save-state name=main::legacy');",
            )
        (src / f"{phase}.js").write_text(js)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(src)], check=True)
    subprocess.run([*git, "-C", str(src), "add", "."], check=True)
    subprocess.run([*git, "-C", str(src), "commit", "-qm", "action"], check=True)
    subprocess.run([*git, "-C", str(src), "tag", "v1"], check=True)
    bare = tmp_path / "actions" / "acme" / name
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)


FULL = "  pre: pre.js\n  main: main.js\n  post: post.js\n"


def run(text: str, tmp_path: Path, **kw: Any) -> tuple[RunResult, str]:
    result, log, _ = run_text(text, tmp_path, actions_source=f"file://{tmp_path / 'actions'}", **kw)
    return result, log


def order(log: str, *markers: str) -> list[int]:
    return [log.index(m) for m in markers]


def test_pre_in_step_order_post_in_reverse_sharing_state(tmp_path: Path) -> None:
    publish(tmp_path, "first", FULL)
    publish(tmp_path, "second", FULL, legacy_state=True)
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    env: {WHO: job-env}
    steps:
      - run: echo "step-$((0 + 1)) ran"
      - uses: acme/first@v1
        with: {tag: A, who: "${{ env.WHO }}"}
      - run: echo "step-$((1 + 2)) ran"
      - uses: acme/second@v1
        with: {tag: B}
"""
    result, log = run(text, tmp_path)
    assert result.ok, log
    positions = order(
        log,
        "A:pre who=job-env state=\n",
        "B:pre who=nobody state=\n",
        "step-1 ran",
        "A:main who=job-env state=STATE_pre=1\n",
        "step-3 ran",
        "B:main who=nobody state=STATE_pre=1\n",
        "B:post who=nobody state=STATE_main=legacy,STATE_pre=1\n",
        "A:post who=job-env state=STATE_main=1,STATE_pre=1\n",
    )
    assert positions == sorted(positions), log
    titles = [s.title for s in result.jobs[0].steps]
    assert titles[:2] == ["Pre Run acme/first@v1", "Pre Run acme/second@v1"]
    assert titles[-2:] == ["Post Run acme/second@v1", "Post Run acme/first@v1"]


def test_pre_if_post_if_and_a_main_step_that_did_not_run(tmp_path: Path) -> None:
    publish(
        tmp_path,
        "guarded",
        '  pre: pre.js\n  pre-if: "false"\n  main: main.js\n'
        "  post: post.js\n  post-if: success()\n",
    )
    publish(tmp_path, "plain", FULL)
    publish(tmp_path, "unused", FULL)
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/guarded@v1
        with: {tag: G}
      - uses: acme/plain@v1
        with: {tag: P}
      - if: false
        uses: acme/unused@v1
        with: {tag: U}
      - run: exit 1
"""
    result, log = run(text, tmp_path)
    assert not result.ok
    assert "G:pre" not in log and "G:main" in log
    # post-if: success() does not hold once a step failed; the default always() does.
    assert "G:post" not in log and "P:post" in log
    # GitHub runs pre at set-up whatever the step's if says; no main, so no post.
    assert "U:pre" in log and "U:main" not in log and "U:post" not in log


def test_post_runs_after_a_job_timeout_and_a_failing_post_fails_the_job(tmp_path: Path) -> None:
    publish(tmp_path, "cleanup", FULL)
    text = """
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    # 3 s: time for the action's pre and main (node) to finish before the sleep is cut.
    timeout-minutes: 0.05
    steps:
      - uses: acme/cleanup@v1
        with: {tag: C}
      - run: sleep 60
  broken:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/cleanup@v1
        with: {tag: D, fail: post}
      - run: echo "main-$((2 + 2)) done"
"""
    result, log = run(text, tmp_path)
    slow, broken = result.jobs
    assert slow.outcome == "cancelled", log
    assert "C:post who=nobody state=STATE_main=1,STATE_pre=1" in log
    assert "main-4 done" in log
    assert broken.outcome == "failure"
    assert [(s.title, s.outcome) for s in broken.steps][-1] == (
        "Post Run acme/cleanup@v1",
        "failure",
    )


def test_local_action_gets_its_post_but_not_its_pre(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    action = checkout / "local"
    action.mkdir(parents=True)
    (action / "action.yml").write_text(
        "name: local\ninputs: {tag: {default: L}}\n"
        "runs: {using: node20, pre: pre.js, main: main.js, post: post.js}\n"
    )
    for phase in ("pre", "main", "post"):
        (action / f"{phase}.js").write_text(PHASE_JS.replace("PHASE", phase))
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./local
"""
    result, log = run(text, tmp_path, context=checkout)
    assert result.ok, log
    assert "`pre` execution is not supported for local action from './local'" in log
    assert "L:pre" not in log
    assert "L:main who=undefined state=\n" in log
    assert "L:post who=undefined state=STATE_main=1\n" in log


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("name: x\nruns: just a string\n", "the action's runs must be a mapping"),
        (
            "name: x\ninputs: [a, b]\nruns: {using: node20, pre: pre.js, main: main.js}\n",
            "the action's inputs must be a mapping",
        ),
        ("- a list\n", "must be a mapping"),
        ("name: x\nruns: {using: node20, pre: {a: 1}, post: [1]}\n", "runs.main is missing"),
    ],
)
def test_malformed_action_metadata_fails_the_step_saying_why(
    tmp_path: Path, manifest: str, message: str
) -> None:
    src = tmp_path / "src" / "bad"
    src.mkdir(parents=True)
    (src / "action.yml").write_text(manifest)
    for phase in ("pre", "main", "post"):
        (src / f"{phase}.js").write_text(PHASE_JS.replace("PHASE", phase))
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(src)], check=True)
    subprocess.run([*git, "-C", str(src), "add", "."], check=True)
    subprocess.run([*git, "-C", str(src), "commit", "-qm", "action"], check=True)
    subprocess.run([*git, "-C", str(src), "tag", "v1"], check=True)
    bare = tmp_path / "actions" / "acme" / "bad"
    bare.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/bad@v1
      - if: always()
        run: echo "after-$((1 + 1))"
"""
    result, log = run(text, tmp_path)
    assert result.jobs[0].outcome == "failure", log
    assert message in log
    assert "after-2" in log


# -- actions used by composite actions ----------------------------------------------------


def publish_files(tmp_path: Path, name: str, files: dict[str, str]) -> None:
    """An action ``acme/<name>@v1`` made of ``files`` under the actions source."""
    src = tmp_path / "src" / name
    src.mkdir(parents=True)
    for path, text in files.items():
        (src / path).write_text(text)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(src)], check=True)
    subprocess.run([*git, "-C", str(src), "add", "."], check=True)
    subprocess.run([*git, "-C", str(src), "commit", "-qm", "action"], check=True)
    subprocess.run([*git, "-C", str(src), "tag", "v1"], check=True)
    bare = tmp_path / "actions" / "acme" / name
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)


def composite(steps: str, inputs: str = "{}") -> dict[str, str]:
    return {
        "action.yml": f"name: c\ninputs: {inputs}\nruns:\n  using: composite\n  steps:\n{steps}"
    }


def test_pre_and_post_of_actions_a_composite_action_uses(tmp_path: Path) -> None:
    # GitHub (actions/runner#1222): the composite gets one "Pre" step at set-up running the
    # pre of the remote actions it uses, at any depth, in their order, each under its pre-if;
    # and one "Post" step running their posts, the last one first.
    publish(tmp_path, "first", FULL)
    publish(tmp_path, "inner", FULL)
    publish(
        tmp_path, "guarded", '  pre: pre.js\n  pre-if: "false"\n  main: main.js\n  post: post.js\n'
    )
    publish(tmp_path, "leaf", FULL)
    publish(tmp_path, "nopre", "  main: main.js\n")
    publish_files(
        tmp_path,
        "deeper",
        composite(
            '    - uses: acme/leaf@v1\n      with: {tag: L, who: "${{ inputs.who }}"}\n',
            "{who: {default: deep-default}}",
        ),
    )
    publish_files(
        tmp_path,
        "combo",
        composite(
            '    - run: echo "combo-$((1 + 1)) main $OUTER"\n      shell: bash\n'
            "    - uses: acme/inner@v1\n      env: {NESTED: n}\n"
            '      with: {tag: I, who: "${{ inputs.who }}-${{ env.OUTER }}-${{ env.NESTED }}"}\n'
            "    - uses: acme/guarded@v1\n      with: {tag: G}\n"
            "    - uses: acme/nopre@v1\n      with: {tag: N}\n"
            "    - uses: acme/deeper@v1\n",
            "{who: {default: nobody}}",
        ),
    )
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    env: {WHO: job-env}
    steps:
      - uses: acme/first@v1
        with: {tag: A}
      - uses: acme/combo@v1
        env: {OUTER: o}
        with: {who: "${{ env.WHO }}"}
      - run: echo "step-$((1 + 2)) ran"
"""
    result, log = run(text, tmp_path)
    assert result.ok, log
    positions = order(
        log,
        "A:pre who=nobody state=\n",
        "I:pre who=job-env-o-n state=\n",
        "L:pre who=deep-default state=\n",
        "A:main",
        "combo-2 main o\n",
        "I:main who=job-env-o-n state=STATE_pre=1\n",
        "G:main who=nobody state=\n",
        "N:main",
        "L:main who=deep-default state=STATE_pre=1\n",
        "step-3 ran",
        "L:post who=deep-default state=STATE_main=1,STATE_pre=1\n",
        "G:post who=nobody state=STATE_main=1\n",
        "I:post who=job-env-o-n state=STATE_main=1,STATE_pre=1\n",
        "A:post",
    )
    assert positions == sorted(positions), log
    assert "G:pre" not in log
    assert [s.title for s in result.jobs[0].steps] == [
        "Pre Run acme/first@v1",
        "Pre Run acme/combo@v1",
        "Run acme/first@v1",
        "Run acme/combo@v1",
        'Run echo "step-$((1 + 2)) ran"',
        "Post Run acme/combo@v1",
        "Post Run acme/first@v1",
    ]


def test_a_failing_nested_pre_fails_the_job_at_set_up(tmp_path: Path) -> None:
    publish(tmp_path, "inner", FULL)
    publish_files(
        tmp_path, "combo", composite("    - uses: acme/inner@v1\n      with: {tag: I, fail: pre}\n")
    )
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/combo@v1
      - if: always()
        run: echo "always-$((1 + 1)) ${{ job.status }}"
"""
    result, log = run(text, tmp_path)
    job = result.jobs[0]
    assert job.outcome == "failure", log
    assert [(s.title, s.outcome) for s in job.steps] == [
        ("Pre Run acme/combo@v1", "failure"),
        ("Run acme/combo@v1", "skipped"),
        ('Run echo "always-$((1 + 1)) failure"', "success"),
    ]
    assert "I:main" not in log and "I:post" not in log and "always-2 failure" in log


def test_a_local_composite_action_gets_no_nested_pre_but_its_posts(tmp_path: Path) -> None:
    publish(tmp_path, "inner", FULL)
    checkout = tmp_path / "checkout"
    (checkout / "local").mkdir(parents=True)
    (checkout / "local" / "action.yml").write_text(
        composite("    - uses: acme/inner@v1\n      with: {tag: I}\n")["action.yml"]
    )
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./local
"""
    result, log = run(text, tmp_path, context=checkout)
    assert result.ok, log
    assert "`pre` execution is not supported for local action from './local'" in log
    assert "I:pre" not in log
    assert "I:post who=nobody state=STATE_main=1\n" in log
    assert [s.title for s in result.jobs[0].steps][-1] == "Post Run ./local"


def test_composite_actions_nest_at_most_nine_deep(tmp_path: Path) -> None:
    # An action that uses itself: GitHub's depth limit stops it, at set-up and in main.
    publish_files(tmp_path, "loop", composite("    - uses: acme/loop@v1\n"))
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/loop@v1
"""
    result, log = run(text, tmp_path)
    assert result.jobs[0].outcome == "failure"
    assert "Composite action depth exceeded max depth 9" in log
